// Test helpers shared by the snapshot tests: temp dirs and small files.
#pragma once

#include <stdlib.h>

#include <string>

#include "common/file.h"
#include "image/snapshot/layout.h"

namespace moor::image::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/moor-snap-test.XXXXXX";
    path_ = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() { (void)snapshot_internal::RemoveTree(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

inline bool WriteText(const std::string& path, const std::string& text) {
  return WriteFileAtomic(path, text).has_value();
}

inline std::string ReadText(const std::string& path) {
  auto r = ReadFile(path);
  return r ? *r : std::string("<missing>");
}

}  // namespace moor::image::testing
