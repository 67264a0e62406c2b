// Test-only: runs a test body in a forked child that first moves into fresh
// network and mount namespaces of its own, so tests that create links,
// namespaces, nftables rules or traffic never touch the host's (the brief's
// safety rule). The child reports through its exit status and out_fd; the
// parent asserts. Everything the child made dies with its namespaces.
#pragma once

#include <sched.h>
#include <sys/mount.h>
#include <unistd.h>

#include <functional>
#include <string>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "common/error.h"
#include "common/testing/child.h"

namespace moor::net::testing {

inline moor::testing::ChildExit RunInPrivateNetns(const std::function<int(int out_fd)>& body) {
  return moor::testing::RunInChild([&](int out_fd) {
    if (unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) {
      moor::testing::Say(out_fd, "unshare(CLONE_NEWNET|CLONE_NEWNS) failed");
      return 100;
    }
    // Mounts made by the test (netns pins) must not propagate to the host.
    if (mount(nullptr, "/", nullptr, MS_REC | MS_SLAVE, nullptr) != 0) {
      moor::testing::Say(out_fd, "make / rslave failed");
      return 101;
    }
    int code = body(out_fd);
#if defined(__SANITIZE_ADDRESS__)
    // The child ends with _exit, which skips LeakSanitizer: check here, so
    // leaks in libnl/libnftables use are caught (a leak exits with 23).
    if (code == 0 && __lsan_do_recoverable_leak_check() != 0) return 23;
#endif
    return code;
  });
}

}  // namespace moor::net::testing

// Inside a RunInPrivateNetns body (a function returning int with out_fd in
// scope): fail the child with a message naming the line.
#define CHILD_EXPECT(cond, what)                                                                         \
  do {                                                                                                   \
    if (!(cond)) {                                                                                       \
      ::moor::testing::Say(out_fd, std::string(__FILE__ ":") + std::to_string(__LINE__) + ": " + #cond + \
                                       " — " + std::string(what) + "\n");                                \
      return 1;                                                                                          \
    }                                                                                                    \
  } while (0)
// Evaluates a Result and fails the child with its error; yields the value.
#define CHILD_OK(expr)                                                                                   \
  ({                                                                                                     \
    auto&& child_r_ = (expr);                                                                            \
    if (!child_r_) {                                                                                     \
      ::moor::testing::Say(out_fd, std::string(__FILE__ ":") + std::to_string(__LINE__) + ": " + #expr + \
                                       " failed: " + child_r_.error().message() + "\n");                 \
      return 1;                                                                                          \
    }                                                                                                    \
    ::moor::detail::TakeValue(std::move(child_r_));                                                      \
  })
