// Test-only helpers: run a function in a forked child (so credential changes
// never reach the test runner) and read fields of /proc/self/status.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <string_view>

#include "common/testing/child.h"

namespace moor::runtime::process::testing {

using moor::testing::ChildExit;
using moor::testing::RunInChild;
using moor::testing::Say;

// Copies /proc/self/status to fd.
inline bool SendStatus(int fd) {
  int in = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (in < 0) return false;
  char buf[4096];
  ssize_t n;
  while ((n = read(in, buf, sizeof buf)) > 0)
    Say(fd, std::string_view(buf, static_cast<size_t>(n)));
  close(in);
  return true;
}

// The value of a "Name:\tvalue" line of a /proc/PID/status text, or "<missing>".
inline std::string StatusField(const std::string& status, std::string_view name) {
  std::string key = "\n" + std::string(name) + ":";
  size_t at = ("\n" + status).find(key);
  if (at == std::string::npos) return "<missing>";
  size_t begin = at + key.size() - 1;  // index in `status` (the added "\n" shifts by one)
  size_t end = status.find('\n', begin);
  std::string value =
      status.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
  size_t first = value.find_first_not_of(" \t");
  size_t last = value.find_last_not_of(" \t");
  return first == std::string::npos ? "" : value.substr(first, last - first + 1);
}

}  // namespace moor::runtime::process::testing
