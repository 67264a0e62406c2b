// Test-only: a temporary directory made at construction and removed (with
// everything in it) at destruction. Header-only; used by unit tests of several
// modules.
#pragma once

#include <cstdlib>
#include <string>

#include "common/file.h"

namespace moor::testing {

class TempDir {
 public:
  // `prefix`: the directory's name before mkdtemp's random part.
  explicit TempDir(const std::string& prefix = "/tmp/moor-test-") {
    std::string tmpl = prefix + "XXXXXX";
    const char* made = ::mkdtemp(tmpl.data());
    path_ = made ? made : "";
  }
  ~TempDir() {
    if (!path_.empty()) (void)RemoveAll(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace moor::testing
