// Parent <-> container-child protocol over a SOCK_SEQPACKET socketpair.
//
// Each message is one packet: a fixed header (type, errno, value) and an
// optional text (error message). Both ends are single-threaded.
#pragma once

#include <cstdint>
#include <string>

#include "common/error.h"
#include "common/fd.h"

namespace moor::runtime {

enum class SyncMsg : uint32_t {
  kGo = 1,          // parent -> child: in the container's cgroup; continue
  kMaps = 8,        // parent -> child: uid/gid maps of the new user namespace written
  kRunHooks = 2,    // child -> parent: mounts done, run prestart/createRuntime
  kHooksDone = 3,   // parent -> child
  kReady = 4,       // child -> parent: waiting for start; value = pid (exec: grandchild)
  kStart = 5,       // parent -> child (run): start without the exec fifo
  kError = 6,       // child -> parent: errnum + message, child exits after
  kPid = 7,         // intermediate -> parent: pid of the real process
};

struct SyncPacket {
  SyncMsg type{};
  int32_t errnum = 0;
  int64_t value = 0;
  std::string text;
};

class SyncChannel {
 public:
  SyncChannel() = default;
  explicit SyncChannel(UniqueFd fd) : fd_(std::move(fd)) {}
  // Creates a connected pair (CLOEXEC).
  static Result<std::pair<SyncChannel, SyncChannel>> Pair();

  Result<void> Send(SyncMsg type, int64_t value = 0) const;
  Result<void> SendError(const Error& e) const;
  // Blocks for the next packet. EOF (peer gone) is an error.
  Result<SyncPacket> Receive() const;
  // Receives and checks the type; a kError packet becomes the returned error.
  Result<SyncPacket> Expect(SyncMsg type) const;
  // Blocks until the peer's end is closed (its process exec'd — the fd is
  // close-on-exec — or exited). Packets received meanwhile are discarded.
  void WaitClosed() const;

  int fd() const { return fd_.get(); }
  void Close() { fd_.Reset(); }

 private:
  UniqueFd fd_;
};

}  // namespace moor::runtime
