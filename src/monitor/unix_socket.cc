#include "monitor/unix_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstring>

namespace moor::monitor {
namespace {

// Fills addr for path; a too-long path goes through an O_PATH fd of its
// directory, kept open in *dir_fd until the bind/connect is done.
Result<socklen_t> MakeAddr(const std::string& path, sockaddr_un* addr, UniqueFd* dir_fd) {
  std::memset(addr, 0, sizeof *addr);
  addr->sun_family = AF_UNIX;
  std::string target = path;
  if (path.size() >= sizeof addr->sun_path) {
    size_t slash = path.rfind('/');
    if (slash == std::string::npos) return FailInvalid("socket path too long: " + path);
    std::string dir = slash == 0 ? "/" : path.substr(0, slash);
    dir_fd->Reset(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!*dir_fd) return FailErrno("open " + dir);
    target = "/proc/self/fd/" + std::to_string(dir_fd->get()) + path.substr(slash);
    if (target.size() >= sizeof addr->sun_path) return FailInvalid("socket name too long: " + path);
  }
  std::memcpy(addr->sun_path, target.data(), target.size());
  return static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + target.size() + 1);
}

}  // namespace

Result<UniqueFd> ListenUnix(const std::string& path) {
  sockaddr_un addr;
  UniqueFd dir_fd;
  socklen_t len = TRY(MakeAddr(path, &addr, &dir_fd));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return FailErrno("socket");
  ::unlink(path.c_str());
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) return FailErrno("bind " + path);
  if (::listen(fd.get(), 128) != 0) return FailErrno("listen " + path);
  return fd;
}

Result<UniqueFd> ConnectUnix(const std::string& path) {
  sockaddr_un addr;
  UniqueFd dir_fd;
  socklen_t len = TRY(MakeAddr(path, &addr, &dir_fd));
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return FailErrno("socket");
  while (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    if (errno == EINTR) continue;
    return FailErrno("connect " + path);
  }
  return fd;
}

Result<UniqueFd> ReceiveFd(int sock) {
  char data[256];
  iovec iov{data, sizeof data};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int))];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  do {
    n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n < 0) return FailErrno("receive console fd");
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c), sizeof fd);
      return UniqueFd(fd);
    }
  }
  return FailInvalid("console socket: no file descriptor received");
}

}  // namespace moor::monitor
