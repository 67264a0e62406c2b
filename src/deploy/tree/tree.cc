#include "deploy/tree/tree.h"

#include <algorithm>
#include <charconv>

namespace moor::deploy {

namespace {

constexpr std::string_view kHeader = "moor-tree 1\n";

bool ValidKind(char c) {
  return c == 'f' || c == 'x' || c == 'd' || c == 'l';
}

// The name quoted for a message; bytes that are not printable ASCII become \xNN.
std::string Printable(std::string_view name) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  for (unsigned char c : name.substr(0, 64)) {
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  if (name.size() > 64) out += "...";
  return out + "\"";
}

// Decimal digits at the front of `s` as a non-negative int64; `used` = digits read.
bool ReadDecimal(std::string_view s, int64_t max, int64_t& value, size_t& used) {
  size_t n = 0;
  while (n < s.size() && s[n] >= '0' && s[n] <= '9') ++n;
  if (n == 0 || n > 19) return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + n, value);
  if (ec != std::errc() || ptr != s.data() + n || value > max) return false;
  used = n;
  return true;
}

bool IsLowerHex(std::string_view s) {
  bool ok = true;
  for (char c : s) ok &= (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');  // no early exit: vectorises
  return ok;
}

Result<void> CheckEntry(const TreeEntry& e) {
  TRY(CheckEntryName(e.name));
  if (!ValidKind(static_cast<char>(e.kind))) return FailInvalid("tree entry " + Printable(e.name) + ": bad kind");
  if (e.digest.hex().size() != 64 || !IsLowerHex(e.digest.hex())) {
    return FailInvalid("tree entry " + Printable(e.name) + ": missing or bad sha256 digest");
  }
  if (e.size < 0) return FailInvalid("tree entry " + Printable(e.name) + ": negative size");
  if (e.kind == EntryKind::kDir && e.size != 0) {
    return FailInvalid("tree entry " + Printable(e.name) + ": a directory's size must be 0");
  }
  return {};
}

}  // namespace

Result<void> CheckEntryName(std::string_view name) {
  if (name.empty()) return FailInvalid("tree entry name is empty");
  if (name == "." || name == "..") return FailInvalid("tree entry name " + Printable(name) + " is not allowed");
  if (name.size() > kMaxNameBytes) {
    return FailInvalid("tree entry name " + Printable(name) + " is longer than 255 bytes");
  }
  if (name.find('/') != std::string_view::npos) {
    return FailInvalid("tree entry name " + Printable(name) + " contains '/'");
  }
  if (name.find('\0') != std::string_view::npos) {
    return FailInvalid("tree entry name " + Printable(name) + " contains a NUL byte");
  }
  return {};
}

Result<std::string> EncodeTree(const Tree& t) {
  std::vector<const TreeEntry*> sorted;
  sorted.reserve(t.entries.size());
  for (const auto& e : t.entries) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](const TreeEntry* a, const TreeEntry* b) { return a->name < b->name; });
  std::string out(kHeader);
  out.reserve(kHeader.size() + t.entries.size() * 96);
  char num[24];
  for (size_t i = 0; i < sorted.size(); ++i) {
    const TreeEntry& e = *sorted[i];
    TRY(CheckEntry(e));
    if (i > 0 && sorted[i - 1]->name == e.name)
      return FailInvalid("tree entry " + Printable(e.name) + " is duplicated");
    out += static_cast<char>(e.kind);
    out += ' ';
    out += e.digest.hex();
    out += ' ';
    out.append(num, std::to_chars(num, num + sizeof num, e.size).ptr);
    out += ' ';
    out.append(num, std::to_chars(num, num + sizeof num, e.name.size()).ptr);
    out += ':';
    out += e.name;
    out += '\n';
    if (static_cast<int64_t>(out.size()) > kMaxTreeBytes) {
      return FailInvalid("tree object is larger than 16 MiB (too many entries in one directory)");
    }
  }
  return out;
}

Result<Tree> ParseTree(std::string_view bytes) {
  if (static_cast<int64_t>(bytes.size()) > kMaxTreeBytes) return FailInvalid("tree object is larger than 16 MiB");
  if (!bytes.starts_with(kHeader)) return FailInvalid("not a tree object (no \"moor-tree 1\" header)");
  Tree t;
  std::string_view s = bytes.substr(kHeader.size());
  while (!s.empty()) {
    std::string where = "tree entry " + std::to_string(t.entries.size() + 1);
    // KIND SP HEX64 SP
    if (s.size() < 67 || !ValidKind(s[0]) || s[1] != ' ' || s[66] != ' ') return FailInvalid(where + ": malformed");
    TreeEntry e;
    e.kind = static_cast<EntryKind>(s[0]);
    std::string_view hex = s.substr(2, 64);
    if (!IsLowerHex(hex)) return FailInvalid(where + ": bad sha256 digest");
    e.digest = image::Digest::FromHex(std::string(hex));
    s.remove_prefix(67);
    // SIZE SP NAMELEN ":" NAME "\n"
    size_t used = 0;
    if (!ReadDecimal(s, INT64_MAX, e.size, used) || used >= s.size() || s[used] != ' ') {
      return FailInvalid(where + ": bad size");
    }
    s.remove_prefix(used + 1);
    int64_t len = 0;
    if (!ReadDecimal(s, static_cast<int64_t>(kMaxNameBytes), len, used) || used >= s.size() || s[used] != ':') {
      return FailInvalid(where + ": bad name length");
    }
    s.remove_prefix(used + 1);
    if (s.size() < static_cast<size_t>(len) + 1 || s[static_cast<size_t>(len)] != '\n') {
      return FailInvalid(where + ": name is cut short or not followed by a newline");
    }
    e.name = std::string(s.substr(0, static_cast<size_t>(len)));
    s.remove_prefix(static_cast<size_t>(len) + 1);
    if (auto ok = CheckEntry(e); !ok) return Fail(std::move(ok.error()));
    if (!t.entries.empty() && !(t.entries.back().name < e.name)) {
      return FailInvalid("tree entry " + Printable(e.name) +
                         (t.entries.back().name == e.name ? " is duplicated" : " is out of order"));
    }
    t.entries.push_back(std::move(e));
  }
  // Canonical form: leading zeros and the like differ from the encoding.
  std::string again = TRY(EncodeTree(t));
  if (again != bytes) return FailInvalid("tree object is not in canonical form");
  return t;
}

image::Digest TreeDigest(std::string_view encoded) {
  return image::Sha256Of(encoded);
}

}  // namespace moor::deploy
