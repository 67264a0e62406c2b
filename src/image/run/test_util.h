// Temp dirs and files for the run tests.
#pragma once

#include <stdlib.h>

#include <string>

#include "common/file.h"

namespace moor::image::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/moor-run-test.XXXXXX";
    path_ = ::mkdtemp(tmpl) ? tmpl : "";
  }
  ~TempDir() { (void)RemoveAll(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

 private:
  std::string path_;
};

inline bool Put(const std::string& path, const std::string& text) {
  auto slash = path.rfind('/');
  if (slash != std::string::npos && !MkdirAll(path.substr(0, slash))) return false;
  return WriteFileAtomic(path, text).has_value();
}

}  // namespace moor::image::testing
