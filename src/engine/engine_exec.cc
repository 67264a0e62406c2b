// exec: a new process in a running container through the runtime's exec,
// its stdio carried over the client's hijacked connection (Docker's
// multiplexed framing without a TTY; raw bytes through a pty with one).
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/file.h"
#include "engine/engine.h"
#include "engine/engine_internal.h"
#include "engine/routes.h"
#include "image/run/user_lookup.h"
#include "monitor/unix_socket.h"

extern char** environ;

namespace moor::engine {

using nlohmann::json;

struct Engine::ExecSession {
  std::mutex mu;
  std::string id, container_id;
  std::vector<std::string> argv;  // runtime exec command line
  bool tty = false, attach_stdin = false;
  bool running = false;
  int exit_code = 0;
  pid_t pid = 0;
  int pty_master = -1;
};

namespace {

bool SendAll(int fd, std::string_view d) {
  while (!d.empty()) {
    ssize_t n = send(fd, d.data(), d.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    d.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string Framed(int stream, const char* p, size_t n) {
  std::string f(8, '\0');
  f[0] = static_cast<char>(stream);
  f[4] = static_cast<char>((n >> 24) & 255);
  f[5] = static_cast<char>((n >> 16) & 255);
  f[6] = static_cast<char>((n >> 8) & 255);
  f[7] = static_cast<char>(n & 255);
  f.append(p, n);
  return f;
}

}  // namespace

Result<std::string> Engine::ExecCreate(const std::string& key, const std::string& body) {
  auto c = TRY(Find(key));
  json j;
  try {
    j = json::parse(body);
  } catch (const json::exception&) {
    return FailInvalid("exec: request body is not valid JSON");
  }
  auto s = std::make_shared<ExecSession>();
  std::vector<std::string> cmd;
  try {
    cmd = j.value("Cmd", std::vector<std::string>{});
    s->tty = j.value("Tty", false);
    s->attach_stdin = j.value("AttachStdin", false);
    std::lock_guard lock(c->mu);
    if (c->rec.state.status != "running") {
      return Fail(Error(EBUSY, "container " + c->rec.name + " is not running"));
    }
    if (cmd.empty()) return FailInvalid("exec: no command given");
    s->container_id = c->rec.id;
    s->argv = RuntimeArgv(c->rec.runtime);
    s->argv.push_back("exec");
    for (const auto& e : j.value("Env", std::vector<std::string>{})) s->argv.insert(s->argv.end(), {"--env", e});
    if (auto u = j.value("User", ""); !u.empty()) {
      // Names are looked up in the container's own /etc/passwd and /etc/group
      // (the runtime's --user takes numbers), as Docker does.
      auto user = image::ResolveUser(cfg_.ContainerDir(c->rec.id) + "/bundle/rootfs", u);
      if (!user) return Fail(Error(EINVAL, "exec --user " + u + ": " + user.error().message()));
      std::string ids = std::to_string(user->uid) + ":" + std::to_string(user->gid);
      s->argv.insert(s->argv.end(), {"--user", ids});
      for (uint32_t g : user->additional_gids) {
        s->argv.insert(s->argv.end(), {"--additional-gids", std::to_string(g)});
      }
    }
    if (auto wd = j.value("WorkingDir", ""); !wd.empty()) s->argv.insert(s->argv.end(), {"--cwd", wd});
  } catch (const json::exception& e) {
    return FailInvalid(std::string("exec: invalid request: ") + e.what());
  }
  s->id = RandomHex(64);
  s->argv.push_back("PLACEHOLDER_TTY");  // replaced at start
  s->argv.push_back(s->container_id);
  s->argv.insert(s->argv.end(), cmd.begin(), cmd.end());
  std::lock_guard lock(exec_mu_);
  execs_[s->id] = s;
  return s->id;
}

Result<std::string> Engine::ExecInspectJson(const std::string& exec_id) {
  std::shared_ptr<ExecSession> s;
  {
    std::lock_guard lock(exec_mu_);
    auto it = execs_.find(exec_id);
    if (it == execs_.end()) return Fail(Error(ENOENT, "no such exec instance: " + exec_id));
    s = it->second;
  }
  std::lock_guard lock(s->mu);
  return json{{"ID", s->id}, {"Running", s->running}, {"ExitCode", s->running ? json(nullptr) : json(s->exit_code)},
              {"Pid", s->pid}, {"ContainerID", s->container_id}}
      .dump();
}

Result<void> Engine::ExecResize(const std::string& exec_id, int height, int width) {
  std::shared_ptr<ExecSession> s;
  {
    std::lock_guard lock(exec_mu_);
    auto it = execs_.find(exec_id);
    if (it == execs_.end()) return Fail(Error(ENOENT, "no such exec instance: " + exec_id));
    s = it->second;
  }
  std::lock_guard lock(s->mu);
  if (s->pty_master < 0) return FailInvalid("exec has no TTY to resize");
  winsize ws{};
  ws.ws_row = static_cast<unsigned short>(height);
  ws.ws_col = static_cast<unsigned short>(width);
  if (ioctl(s->pty_master, TIOCSWINSZ, &ws) != 0) return FailErrno("resize");
  return {};
}

Result<void> Engine::ExecStart(const std::string& exec_id, UniqueFd conn, std::string pending, bool detach) {
  std::shared_ptr<ExecSession> s;
  {
    std::lock_guard lock(exec_mu_);
    auto it = execs_.find(exec_id);
    if (it == execs_.end()) return Fail(Error(ENOENT, "no such exec instance: " + exec_id));
    s = it->second;
  }
  std::vector<std::string> argv;
  {
    std::lock_guard lock(s->mu);
    if (s->running || s->pid != 0) return Fail(Error(EBUSY, "exec " + exec_id + " was already started"));
    s->running = true;
    argv = s->argv;
  }
  // Console socket for a TTY: the runtime sends the pty master to it.
  std::string sock_dir, sock_path;
  UniqueFd listener;
  auto tty_it = std::find(argv.begin(), argv.end(), "PLACEHOLDER_TTY");
  if (s->tty && !detach) {
    sock_dir = cfg_.run_root + "/exec-" + exec_id.substr(0, 16);
    TRY(MkdirAll(sock_dir, 0700));
    sock_path = sock_dir + "/console.sock";
    listener.Reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    memcpy(a.sun_path, sock_path.c_str(), sock_path.size() + 1);
    if (bind(listener.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(listener.get(), 1) != 0) {
      (void)RemoveAll(sock_dir);
      return FailErrno("console socket");
    }
    *tty_it = "--tty";
    argv.insert(tty_it + 1, {"--console-socket", sock_path});
  } else {
    argv.erase(tty_it);
  }
  int in[2] = {-1, -1}, out[2] = {-1, -1}, err[2] = {-1, -1};
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) return FailErrno("pipe");
  UniqueFd in_r(in[0]), in_w(in[1]), out_r(out[0]), out_w(out[1]), err_r(err[0]), err_w(err[1]);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
  posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
  posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
  std::vector<char*> args;
  for (auto& a : argv) args.push_back(a.data());
  args.push_back(nullptr);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  in_r.Reset();
  out_w.Reset();
  err_w.Reset();
  if (rc != 0) {
    std::lock_guard lock(s->mu);
    s->running = false;
    s->exit_code = 126;
    if (!sock_dir.empty()) (void)RemoveAll(sock_dir);
    return Fail(Error::FromErrno(rc, "exec"));
  }
  {
    std::lock_guard lock(s->mu);
    s->pid = pid;
  }
  auto finish = [s, pid, sock_dir] {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (!sock_dir.empty()) (void)RemoveAll(sock_dir);
    std::lock_guard lock(s->mu);
    s->running = false;
    s->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (s->pty_master >= 0) close(s->pty_master);
    s->pty_master = -1;
  };
  if (detach) {
    std::thread([finish, o = std::move(out_r), e = std::move(err_r), i = std::move(in_w)]() mutable {
      i.Reset();
      char buf[4096];
      while (read(o.get(), buf, sizeof buf) > 0) {
      }
      finish();
    }).detach();
    return {};
  }
  if (s->tty) {
    UniqueFd console(accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    auto master = console ? monitor::ReceiveFd(console.get()) : Result<UniqueFd>(FailErrno("accept console socket"));
    if (!master) {
      kill(pid, SIGKILL);
      finish();
      return Fail(master.error());
    }
    {
      std::lock_guard lock(s->mu);
      s->pty_master = dup(master->get());
    }
    // Runtime errors (exec failed) come on its stderr; pass them on.
    std::thread errs([&] {
      char buf[4096];
      ssize_t n;
      while ((n = read(err_r.get(), buf, sizeof buf)) > 0) SendAll(conn.get(), {buf, static_cast<size_t>(n)});
    });
    // Input (first what the client sent right behind its request) goes to
    // the pty; output comes back until the pty closes. The exit status is
    // recorded before the client sees the end of the stream, so its
    // inspect right after reads it.
    int m = master->get();
    std::thread input([&, pend = std::move(pending)] {
      if (!pend.empty()) (void)!write(m, pend.data(), pend.size());
      char buf[16384];
      ssize_t n;
      while ((n = read(conn.get(), buf, sizeof buf)) > 0) {
        if (write(m, buf, static_cast<size_t>(n)) < 0) break;
      }
    });
    char buf[32768];
    ssize_t n;
    while ((n = read(m, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR)) {
      if (n > 0 && !SendAll(conn.get(), {buf, static_cast<size_t>(n)})) break;
    }
    errs.join();
    finish();
    shutdown(conn.get(), SHUT_RDWR);  // ends the input thread's read
    input.join();
    return {};
  }
  // Without a TTY: stdin from the connection, stdout/stderr framed to it.
  std::mutex send_mu;
  std::thread input([&, pend = std::move(pending)] {
    if (!s->attach_stdin) {
      in_w.Reset();
      return;
    }
    if (!pend.empty()) (void)!write(in_w.get(), pend.data(), pend.size());
    char buf[16384];
    ssize_t n;
    while ((n = read(conn.get(), buf, sizeof buf)) > 0) {
      if (write(in_w.get(), buf, static_cast<size_t>(n)) < 0) break;
    }
    in_w.Reset();
  });
  auto output = [&](int fd, int stream) {
    char buf[32768];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) {
      std::lock_guard lock(send_mu);
      SendAll(conn.get(), Framed(stream, buf, static_cast<size_t>(n)));
    }
  };
  std::thread errs([&] { output(err_r.get(), 2); });
  output(out_r.get(), 1);
  errs.join();
  finish();
  shutdown(conn.get(), SHUT_RDWR);  // ends the input thread's read
  input.join();
  return {};
}

}  // namespace moor::engine
