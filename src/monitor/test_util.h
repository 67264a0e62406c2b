// Test-only helpers of the monitor tests (header-only; not part of the library).
#pragma once

#include <stdlib.h>
#include <time.h>

#include <functional>
#include <string>

#include "common/file.h"

namespace moor::monitor::testing {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/moor-monitor-test-XXXXXX";
    const char* p = ::mkdtemp(tmpl);
    path_ = p ? p : "";
  }
  ~TempDir() {
    if (!path_.empty()) (void)RemoveAll(path_);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Polls cond every 5 ms until it holds or timeout_ms passes.
inline bool WaitFor(const std::function<bool()>& cond, int timeout_ms = 10000) {
  timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    if (cond()) return true;
    timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if ((now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000 > timeout_ms)
      return false;
    timespec d{0, 5'000'000};
    nanosleep(&d, nullptr);
  }
}

}  // namespace moor::monitor::testing
