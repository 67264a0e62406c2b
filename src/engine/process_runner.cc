#include "engine/process_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "common/fd.h"

extern char** environ;

namespace moor::engine {

Result<ToolResult> RunTool(const std::vector<std::string>& argv, const std::string& input) {
  if (argv.empty()) return FailInvalid("no program to run");
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0) return FailErrno("pipe");
  UniqueFd in_r(in[0]), in_w(in[1]);
  if (pipe2(out, O_CLOEXEC) != 0) return FailErrno("pipe");
  UniqueFd out_r(out[0]), out_w(out[1]);
  if (pipe2(err, O_CLOEXEC) != 0) return FailErrno("pipe");
  UniqueFd err_r(err[0]), err_w(err[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawnp(&pid, args[0], &fa, &attr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Fail(Error::FromErrno(rc, "run " + argv[0]));
  in_r.Reset();
  out_w.Reset();
  err_w.Reset();
  ToolResult res;
  size_t written = 0;
  if (input.empty()) in_w.Reset();
  else fcntl(in_w.get(), F_SETFL, O_NONBLOCK);
  while (out_r || err_r) {
    pollfd p[3] = {{out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}, {in_w.get(), POLLOUT, 0}};
    if (poll(p, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (in_w && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
      ssize_t n = write(in_w.get(), input.data() + written, input.size() - written);
      if (n > 0) written += static_cast<size_t>(n);
      if (n < 0 || written == input.size()) in_w.Reset();
    }
    for (int i = 0; i < 2; ++i) {
      UniqueFd& fd = i == 0 ? out_r : err_r;
      if (!fd || !(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buf[8192];
      ssize_t n = read(fd.get(), buf, sizeof buf);
      if (n > 0) (i == 0 ? res.out : res.err).append(buf, static_cast<size_t>(n));
      else if (n == 0 || errno != EINTR) fd.Reset();
    }
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  res.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return res;
}

Result<std::string> RunToolChecked(const std::vector<std::string>& argv, const std::string& input) {
  auto r = TRY(RunTool(argv, input));
  if (r.exit_code != 0) {
    std::string msg = r.err;
    while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
    auto nl = msg.rfind('\n');
    if (nl != std::string::npos) msg = msg.substr(nl + 1);
    if (msg.empty()) msg = "exit status " + std::to_string(r.exit_code);
    return Fail(Error(EIO, msg));
  }
  return r.out;
}

}  // namespace moor::engine
