#include "deploy/tree/tree.h"

#include <gtest/gtest.h>

#include <string>

namespace moor::deploy {
namespace {

image::Digest D(std::string_view content) {
  return image::Sha256Of(content);
}

TreeEntry Entry(EntryKind kind, std::string name, int64_t size = 3) {
  return TreeEntry{
      .kind = kind, .digest = D(name), .size = kind == EntryKind::kDir ? 0 : size, .name = std::move(name)};
}

std::string Line(char kind, const image::Digest& d, std::string_view size, std::string_view name) {
  return std::string(1, kind) + " " + d.hex() + " " + std::string(size) + " " + std::to_string(name.size()) + ":" +
         std::string(name) + "\n";
}

std::string Header() {
  return "moor-tree 1\n";
}

// Expects ParseTree to refuse `bytes` with a message containing `part`.
void ExpectRefused(const std::string& bytes, std::string_view part) {
  auto t = ParseTree(bytes);
  ASSERT_FALSE(t) << "accepted: " << bytes;
  EXPECT_NE(t.error().message().find(part), std::string::npos) << t.error().message();
}

TEST(TreeTest, EncodesSortedCanonicalBytes) {
  Tree t;
  t.entries = {Entry(EntryKind::kSymlink, "link", 7), Entry(EntryKind::kFile, "b.php", 10), Entry(EntryKind::kDir, "a"),
               Entry(EntryKind::kExec, "run.sh", 0)};
  auto bytes = EncodeTree(t);
  ASSERT_TRUE(bytes) << bytes.error().message();
  EXPECT_EQ(*bytes, Header() + Line('d', D("a"), "0", "a") + Line('f', D("b.php"), "10", "b.php") +
                        Line('l', D("link"), "7", "link") + Line('x', D("run.sh"), "0", "run.sh"));
  EXPECT_EQ(TreeDigest(*bytes), image::Sha256Of(*bytes));
}

TEST(TreeTest, RoundTrip) {
  Tree t;
  t.entries = {Entry(EntryKind::kFile, "index.php", 123456789012),
               Entry(EntryKind::kExec, "bin", 1),
               Entry(EntryKind::kDir, "vendor"),
               Entry(EntryKind::kSymlink, "current", 2),
               Entry(EntryKind::kFile, "name with\nnewline: and spaces", 0),
               Entry(EntryKind::kFile, std::string("\xc3\xa9t\xc3\xa9\xff", 5), 1),
               Entry(EntryKind::kFile, std::string(255, 'n'), 1)};
  auto bytes = EncodeTree(t);
  ASSERT_TRUE(bytes) << bytes.error().message();
  auto parsed = ParseTree(*bytes);
  ASSERT_TRUE(parsed) << parsed.error().message();
  ASSERT_EQ(parsed->entries.size(), t.entries.size());
  // Parsed entries come sorted by name bytes; each equals its original.
  for (size_t i = 1; i < parsed->entries.size(); ++i) {
    EXPECT_LT(parsed->entries[i - 1].name, parsed->entries[i].name);
  }
  for (const auto& e : t.entries) {
    EXPECT_NE(std::find(parsed->entries.begin(), parsed->entries.end(), e), parsed->entries.end()) << e.name;
  }
  EXPECT_EQ(*EncodeTree(*parsed), *bytes);
}

TEST(TreeTest, EmptyTree) {
  auto bytes = EncodeTree(Tree{});
  ASSERT_TRUE(bytes);
  EXPECT_EQ(*bytes, Header());
  auto parsed = ParseTree(*bytes);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(parsed->entries.empty());
}

TEST(TreeTest, NamesAreSortedAsUnsignedBytes) {
  Tree t;
  t.entries = {Entry(EntryKind::kFile, "\xff"), Entry(EntryKind::kFile, "a"), Entry(EntryKind::kFile, "A"),
               Entry(EntryKind::kFile, "a.txt"), Entry(EntryKind::kDir, "a-")};
  auto parsed = ParseTree(*EncodeTree(t));
  ASSERT_TRUE(parsed) << parsed.error().message();
  std::vector<std::string> names;
  for (const auto& e : parsed->entries) names.push_back(e.name);
  EXPECT_EQ(names, (std::vector<std::string>{"A", "a", "a-", "a.txt", "\xff"}));
}

TEST(TreeTest, EncodeRefusesBadEntries) {
  for (const std::string& bad : {std::string(), std::string("."), std::string(".."), std::string("a/b"),
                                 std::string("a\0b", 3), std::string(256, 'x')}) {
    Tree t;
    t.entries = {Entry(EntryKind::kFile, bad)};
    EXPECT_FALSE(EncodeTree(t)) << "name " << bad;
    EXPECT_FALSE(CheckEntryName(bad)) << bad;
  }
  Tree dup;
  dup.entries = {Entry(EntryKind::kFile, "a"), Entry(EntryKind::kDir, "a")};
  auto r = EncodeTree(dup);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("duplicated"), std::string::npos);

  Tree neg;
  neg.entries = {Entry(EntryKind::kFile, "a", -1)};
  EXPECT_FALSE(EncodeTree(neg));
  Tree dir_size;
  dir_size.entries = {Entry(EntryKind::kDir, "d")};
  dir_size.entries[0].size = 5;
  EXPECT_FALSE(EncodeTree(dir_size));
  Tree no_digest;
  no_digest.entries = {TreeEntry{.kind = EntryKind::kFile, .digest = {}, .size = 1, .name = "a"}};
  EXPECT_FALSE(EncodeTree(no_digest));
  Tree bad_kind;
  bad_kind.entries = {Entry(static_cast<EntryKind>('z'), "a")};
  EXPECT_FALSE(EncodeTree(bad_kind));
}

TEST(TreeTest, EncodeRefusesOversizedTrees) {
  Tree t;
  // 200-byte names: ~280 bytes a line, so 70,000 entries exceed 16 MiB.
  for (int i = 0; i < 70000; ++i) {
    std::string name = std::to_string(i);
    name.resize(200, 'n');
    t.entries.push_back(TreeEntry{.kind = EntryKind::kFile, .digest = D("x"), .size = 1, .name = std::move(name)});
  }
  auto r = EncodeTree(t);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("16 MiB"), std::string::npos) << r.error().message();
}

TEST(TreeTest, ParseRefusesBadHeaders) {
  ExpectRefused("", "header");
  ExpectRefused("moor-tree 2\n", "header");
  ExpectRefused("moor-tree 1", "header");
  ExpectRefused(" moor-tree 1\n", "header");
}

TEST(TreeTest, ParseRefusesUnsortedAndDuplicates) {
  ExpectRefused(Header() + Line('f', D("b"), "1", "b") + Line('f', D("a"), "1", "a"), "out of order");
  ExpectRefused(Header() + Line('f', D("a"), "1", "a") + Line('d', D("a"), "0", "a"), "duplicated");
}

TEST(TreeTest, ParseRefusesBadNames) {
  ExpectRefused(Header() + Line('f', D("a"), "1", ""), "empty");
  ExpectRefused(Header() + Line('f', D("a"), "1", "."), "not allowed");
  ExpectRefused(Header() + Line('f', D("a"), "1", ".."), "not allowed");
  ExpectRefused(Header() + Line('f', D("a"), "1", "a/b"), "'/'");
  ExpectRefused(Header() + Line('f', D("a"), "1", std::string("a\0b", 3)), "NUL");
  ExpectRefused(Header() + Line('f', D("a"), "1", std::string(256, 'x')), "name length");
  // The length prefix must match the name.
  ExpectRefused(Header() + "f " + D("a").hex() + " 1 2:a\n", "newline");
  ExpectRefused(Header() + "f " + D("a").hex() + " 1 1:ab\n", "newline");
  ExpectRefused(Header() + "f " + D("a").hex() + " 1 01:a\n", "canonical");
  ExpectRefused(Header() + "f " + D("a").hex() + " 1 :a\n", "name length");
  ExpectRefused(Header() + "f " + D("a").hex() + " 1 1a\n", "name length");
}

TEST(TreeTest, ParseRefusesBadKindsDigestsAndSizes) {
  ExpectRefused(Header() + Line('z', D("a"), "1", "a"), "malformed");
  ExpectRefused(Header() + Line('F', D("a"), "1", "a"), "malformed");
  std::string upper = D("a").hex();
  upper[0] = 'A';
  upper[1] = 'B';
  ExpectRefused(Header() + "f " + upper + " 1 1:a\n", "digest");
  ExpectRefused(Header() + "f " + D("a").hex().substr(0, 63) + " 1 1:a\n", "malformed");
  ExpectRefused(Header() + "f " + std::string(64, 'g') + " 1 1:a\n", "digest");
  ExpectRefused(Header() + Line('f', D("a"), "-1", "a"), "bad size");
  ExpectRefused(Header() + Line('f', D("a"), "+1", "a"), "bad size");
  ExpectRefused(Header() + Line('f', D("a"), "", "a"), "bad size");
  ExpectRefused(Header() + Line('f', D("a"), "007", "a"), "canonical");
  ExpectRefused(Header() + Line('f', D("a"), "00", "a"), "canonical");
  ExpectRefused(Header() + Line('f', D("a"), "99999999999999999999", "a"), "bad size");
  ExpectRefused(Header() + Line('f', D("a"), "9223372036854775808", "a"), "bad size");
  ExpectRefused(Header() + Line('f', D("a"), "1 ", "a"), "name length");
  ExpectRefused(Header() + Line('d', D("a"), "1", "a"), "size must be 0");
  // The largest size is fine.
  EXPECT_TRUE(ParseTree(Header() + Line('f', D("a"), "9223372036854775807", "a")));
}

TEST(TreeTest, ParseRefusesExtraOrMissingBytes) {
  std::string good = Header() + Line('f', D("a"), "1", "a");
  ASSERT_TRUE(ParseTree(good));
  ExpectRefused(good + "\n", "malformed");
  ExpectRefused(good + "x", "malformed");
  ExpectRefused(good.substr(0, good.size() - 1), "newline");
  ExpectRefused("moor-tree 1\r\n" + Line('f', D("a"), "1", "a"), "header");
  std::string two_spaces = Header() + "f  " + D("a").hex() + " 1 1:a\n";
  ExpectRefused(two_spaces, "malformed");
}

TEST(TreeTest, ParseRefusesOversizedInput) {
  std::string big = Header();
  big.resize(static_cast<size_t>(kMaxTreeBytes) + 1, 'x');
  ExpectRefused(big, "16 MiB");
}

TEST(TreeTest, DigestsDifferWithAnyChange) {
  Tree a;
  a.entries = {Entry(EntryKind::kFile, "a", 1)};
  Tree exec = a;
  exec.entries[0].kind = EntryKind::kExec;
  Tree renamed = a;
  renamed.entries[0].name = "b";
  std::string ea = *EncodeTree(a), ex = *EncodeTree(exec), er = *EncodeTree(renamed);
  EXPECT_NE(TreeDigest(ea), TreeDigest(ex));
  EXPECT_NE(TreeDigest(ea), TreeDigest(er));
  EXPECT_EQ(TreeDigest(ea), TreeDigest(*EncodeTree(a)));
}

}  // namespace
}  // namespace moor::deploy
