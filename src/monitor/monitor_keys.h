// epoll keys of the monitor's file descriptors (internal).
#pragma once

#include <cstdint>

namespace moor::monitor {

enum : uint64_t {
  kKeySignal = 1,
  kKeyControl,
  kKeyInotify,
  kKeyStdout,
  kKeyStderr,
  kKeyStdin,
  kKeyPty,
  kKeyConsole,
  kKeyOom,
};
// Clients: kKeyClientBase + client id.
inline constexpr uint64_t kKeyClientBase = uint64_t{1} << 32;

}  // namespace moor::monitor
