#include "runtime/process_io.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

namespace moor::runtime {

Result<UniqueFd> ConnectConsoleSocket(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return FailErrno("console socket");
  struct sockaddr_un addr = {};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return FailInvalid("--console-socket path is too long");
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
    return FailErrno("connect to --console-socket \"" + path + "\"");
  return fd;
}

Result<void> SendFd(int socket, int fd) {
  char byte = 0;
  struct iovec iov = {&byte, 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  std::memset(&u, 0, sizeof u);
  struct msghdr msg = {};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = u.buf;
  msg.msg_controllen = sizeof u.buf;
  struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  std::memcpy(CMSG_DATA(c), &fd, sizeof fd);
  if (::sendmsg(socket, &msg, MSG_NOSIGNAL) < 0) return FailErrno("sendmsg");
  return {};
}

Result<Pty> OpenPty(const std::string& ptmx_path, const oci::Process& process) {
  Pty pty;
  pty.master.Reset(::open(ptmx_path.c_str(), O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.master) return FailErrno("open the container's /dev/pts/ptmx (is devpts mounted at /dev/pts?)");
  int unlock = 0;
  if (::ioctl(pty.master.get(), TIOCSPTLCK, &unlock) != 0) return FailErrno("unlock pty");
  pty.slave.Reset(::ioctl(pty.master.get(), TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC));
  if (!pty.slave) return FailErrno("open pty peer");
  if (process.console_size) {
    struct winsize ws = {};
    ws.ws_row = static_cast<unsigned short>(process.console_size->height);
    ws.ws_col = static_cast<unsigned short>(process.console_size->width);
    if (::ioctl(pty.master.get(), TIOCSWINSZ, &ws) != 0) return FailErrno("set terminal size");
  }
  return pty;
}

Result<void> BecomeTerminalSession(int slave) {
  if (::setsid() < 0) return FailErrno("setsid");
  if (::ioctl(slave, TIOCSCTTY, 0) != 0) return FailErrno("set controlling terminal");
  for (int i = 0; i < 3; ++i)
    if (::dup2(slave, i) < 0) return FailErrno("dup2 terminal");
  return {};
}

Result<void> PassOnlyPreservedFds(int preserve_fds) {
  unsigned first_closed = 3u + static_cast<unsigned>(preserve_fds);
  if (::syscall(SYS_close_range, first_closed, ~0U, CLOSE_RANGE_CLOEXEC) != 0) return FailErrno("close_range");
  for (int fd = 3; fd < 3 + preserve_fds; ++fd) {
    int flags = ::fcntl(fd, F_GETFD);
    if (flags >= 0) ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC);
  }
  return {};
}

void ExecProcess(const std::string& exe, const oci::Process& process, const std::vector<std::string>& env) {
  std::vector<std::string> args = process.args, envs = env;
  std::vector<char*> argv, envp;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : envs) envp.push_back(e.data());
  envp.push_back(nullptr);
  ::execve(exe.c_str(), argv.data(), envp.data());
  int err = errno;
  std::string m = "moor-runtime: exec \"" + exe + "\": " + strerror(err) + "\n";
  (void)!::write(2, m.data(), m.size());
  _exit(err == ENOENT ? 127 : 126);
}

}  // namespace moor::runtime
