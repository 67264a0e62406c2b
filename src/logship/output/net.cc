// Helpers the transports share: the stop signal every poll also waits on,
// address splitting, error text.
#include <poll.h>
#include <sys/eventfd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <ctime>

#include "logship/output/transport.h"

namespace moor::logship::internal {

StopSignal::StopSignal() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

void StopSignal::Raise() {
  raised_.store(true, std::memory_order_release);
  uint64_t one = 1;
  // The counter only has to become non-zero; a failed write leaves the flag,
  // which every loop checks between waits.
  (void)!::write(fd_.get(), &one, sizeof one);
}

bool StopSignal::Sleep(int64_t ns) const {
  int64_t deadline = MonotonicNs() + ns;
  for (;;) {
    if (raised()) return false;
    int64_t left = deadline - MonotonicNs();
    if (left <= 0) return true;
    pollfd p{fd_.get(), POLLIN, 0};
    int ms = static_cast<int>((left + 999'999) / 1'000'000);
    if (::poll(&p, 1, ms) > 0) return false;
  }
}

Result<std::pair<std::string, std::string>> SplitHostPort(std::string_view address) {
  std::string_view host, port;
  if (!address.empty() && address[0] == '[') {
    size_t close = address.find(']');
    if (close == std::string_view::npos || close + 1 >= address.size() || address[close + 1] != ':') {
      return FailInvalid("address \"" + std::string(address) + "\" must be HOST:PORT or [IPV6]:PORT");
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    size_t colon = address.rfind(':');
    if (colon == std::string_view::npos) {
      return FailInvalid("address \"" + std::string(address) + "\" must be HOST:PORT");
    }
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  bool digits = !port.empty() && port.size() <= 5;
  for (char c : port) digits = digits && std::isdigit(static_cast<unsigned char>(c));
  if (host.empty() || !digits) {
    return FailInvalid("address \"" + std::string(address) + "\" must be HOST:PORT with a numeric port");
  }
  return std::pair{std::string(host), std::string(port)};
}

std::string ErrnoText(int err) {
  std::string s = std::strerror(err);
  if (!s.empty()) s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
  return s;
}

int64_t MonotonicNs() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace moor::logship::internal
