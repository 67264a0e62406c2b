// Test helpers for image/store tests: a temporary directory that cleans up,
// and a wait for a process or thread to block on an flock.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "common/file.h"
#include "common/testing/temp_dir.h"

namespace moor::image::testing {

// A temporary directory under /tmp, removed with its contents.
class TempDir : public moor::testing::TempDir {
 public:
  TempDir() : moor::testing::TempDir("/tmp/moor-store-test-") {}
};

// Polls /proc/locks until some task waits ("->") for an flock on the file at
// `path`. Returns false after `limit` (the waiter never blocked).
inline bool WaitForFlockWaiter(const std::string& path,
                               std::chrono::milliseconds limit = std::chrono::milliseconds(20000)) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return false;
  const std::string ino = ":" + std::to_string(st.st_ino) + " ";
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < deadline) {
    auto locks = ReadFile("/proc/locks");
    if (locks) {
      size_t pos = 0;
      while (pos < locks->size()) {
        size_t end = locks->find('\n', pos);
        if (end == std::string::npos) end = locks->size();
        std::string line = locks->substr(pos, end - pos);
        if (line.find("->") != std::string::npos && line.find("FLOCK") != std::string::npos &&
            line.find(ino) != std::string::npos) {
          return true;
        }
        pos = end + 1;
      }
    }
    std::this_thread::yield();
  }
  return false;
}

}  // namespace moor::image::testing
