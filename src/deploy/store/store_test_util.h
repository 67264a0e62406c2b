// Test helpers for deploy/store tests: a temporary directory, and a builder
// of release trees as the client would send them (blob pack, tree pack
// children first, root digest).
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <set>
#include <string>
#include <vector>

#include "common/file.h"
#include "common/testing/temp_dir.h"
#include "deploy/store/release_store.h"
#include "deploy/tree/tree.h"

namespace moor::deploy::testing {

// A temporary directory under /tmp, removed with its contents.
class TempDir : public moor::testing::TempDir {
 public:
  TempDir() : moor::testing::TempDir("/tmp/moor-deploy-store-test-") {}
};

class TreeMaker {
 public:
  TreeEntry File(const std::string& name, const std::string& bytes, bool exec = false) {
    return Leaf(exec ? EntryKind::kExec : EntryKind::kFile, name, bytes);
  }
  TreeEntry Link(const std::string& name, const std::string& target) { return Leaf(EntryKind::kSymlink, name, target); }
  // A directory: its tree object goes to the tree pack (after its children's).
  TreeEntry Dir(const std::string& name, std::vector<TreeEntry> entries) {
    image::Digest d = AddTree(std::move(entries));
    return TreeEntry{EntryKind::kDir, d, 0, name};
  }
  // The root tree's digest.
  image::Digest Root(std::vector<TreeEntry> entries) { return AddTree(std::move(entries)); }

  static image::Digest BlobDigest(const std::string& bytes) { return image::Sha256Of(bytes); }

  const std::string& blob_pack() const { return blob_pack_; }
  const std::string& tree_pack() const { return tree_pack_; }
  const std::vector<image::Digest>& blobs() const { return blob_list_; }
  const std::vector<image::Digest>& trees() const { return tree_list_; }
  // Blob packs of at most `max_bytes` each (an entry larger than that alone).
  std::vector<std::string> BlobPacks(size_t max_bytes) const {
    std::vector<std::string> out(1);
    for (size_t i = 0; i < blob_list_.size(); ++i) {
      if (!out.back().empty() && out.back().size() + blob_bytes_[i].size() + 80 > max_bytes) out.emplace_back();
      AppendPackEntry(&out.back(), blob_list_[i], blob_bytes_[i]);
    }
    return out;
  }

 private:
  TreeEntry Leaf(EntryKind kind, const std::string& name, const std::string& bytes) {
    image::Digest d = image::Sha256Of(bytes);
    if (blob_set_.insert(d).second) {
      AppendPackEntry(&blob_pack_, d, bytes);
      blob_list_.push_back(d);
      blob_bytes_.push_back(bytes);
    }
    return TreeEntry{kind, d, static_cast<int64_t>(bytes.size()), name};
  }
  image::Digest AddTree(std::vector<TreeEntry> entries) {
    auto bytes = EncodeTree(Tree{std::move(entries)});
    EXPECT_TRUE(bytes) << bytes.error().message();
    if (!bytes) return {};
    image::Digest d = TreeDigest(*bytes);
    if (tree_set_.insert(d).second) {
      AppendPackEntry(&tree_pack_, d, *bytes);
      tree_list_.push_back(d);
    }
    return d;
  }

  std::string blob_pack_, tree_pack_;
  std::set<image::Digest> blob_set_, tree_set_;
  std::vector<image::Digest> blob_list_, tree_list_;
  std::vector<std::string> blob_bytes_;
};

}  // namespace moor::deploy::testing
