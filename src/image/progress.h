// Progress of multi-item transfers (pull, push, load): one line per item.
// On a terminal the lines are redrawn in place as bars; otherwise only state
// changes are printed, one plain line each ("a1b2c3d4e5f6: Downloading",
// "…: Pull complete"), so CI logs stay readable.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

namespace moor::image {

class ProgressSink {
 public:
  virtual ~ProgressSink() = default;
  // Thread-safe. `id` is short and stable (e.g. a digest's first 12 hex).
  virtual void Status(const std::string& id, const std::string& status) = 0;
  virtual void Bytes(const std::string& id, int64_t done, int64_t total) = 0;
  // A line not tied to an item ("Digest: sha256:…").
  virtual void Message(const std::string& line) = 0;
  // Redraws the final state (terminal mode) before other output follows.
  virtual void Flush() = 0;
};

// Chooses terminal bars when fd is a tty, plain lines otherwise; quiet
// prints nothing.
std::unique_ptr<ProgressSink> MakeProgress(int fd, bool quiet);
// Discards everything (library callers, tests).
std::unique_ptr<ProgressSink> NullProgress();

}  // namespace moor::image
