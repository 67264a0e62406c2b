// Health checks run by the daemon: the image's HEALTHCHECK or --health-cmd
// (executed inside the container through the runtime's exec), and moor's
// built-in TCP and HTTP probes that need no tools in the image.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/fd.h"
#include "common/log.h"
#include "engine/engine.h"
#include "engine/engine_internal.h"
#include "engine/process_runner.h"

namespace moor::engine {

namespace {

struct ProbeResult {
  int exit_code = 0;  // 0 healthy, 1 unhealthy
  std::string output;
};

Result<UniqueFd> ConnectWithTimeout(const std::string& ip, int port, int timeout_ms) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return FailErrno("socket");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, ip.c_str(), &a.sin_addr) != 1) return FailInvalid("bad address " + ip);
  if (connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 && errno != EINPROGRESS) {
    return FailErrno("connect " + ip + ":" + std::to_string(port));
  }
  pollfd p{fd.get(), POLLOUT, 0};
  if (poll(&p, 1, timeout_ms) <= 0) return Fail(Error(ETIMEDOUT, "connect timed out"));
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  if (err != 0) return Fail(Error::FromErrno(err, "connect " + ip + ":" + std::to_string(port)));
  return fd;
}

ProbeResult TcpProbe(const std::string& ip, int port, int timeout_ms) {
  auto fd = ConnectWithTimeout(ip, port, timeout_ms);
  if (!fd) return {1, fd.error().message()};
  return {0, "connected to " + ip + ":" + std::to_string(port)};
}

ProbeResult HttpProbe(const std::string& ip, int port, const std::string& path, const std::string& want,
                      int timeout_ms) {
  auto fd = ConnectWithTimeout(ip, port, timeout_ms);
  if (!fd) return {1, fd.error().message()};
  std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + ip + "\r\nUser-Agent: moor-health\r\n\r\n";
  if (send(fd->get(), req.data(), req.size(), MSG_NOSIGNAL) < 0) return {1, "send failed"};
  std::string resp;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (resp.find("\r\n") == std::string::npos && resp.size() < 4096) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now()).count());
    pollfd p{fd->get(), POLLIN, 0};
    if (left <= 0 || poll(&p, 1, left) <= 0) return {1, "no HTTP response within the timeout"};
    char buf[1024];
    ssize_t n = read(fd->get(), buf, sizeof buf);
    if (n <= 0) break;
    resp.append(buf, static_cast<size_t>(n));
  }
  auto line = resp.substr(0, resp.find("\r\n"));
  // "HTTP/1.1 200 OK"
  auto sp = line.find(' ');
  if (sp == std::string::npos || line.size() < sp + 4) return {1, "not an HTTP response: " + line};
  std::string code = line.substr(sp + 1, 3);
  bool ok = want.empty() ? (code[0] == '2' || code[0] == '3') : code == want;
  return {ok ? 0 : 1, line};
}

}  // namespace

void Engine::StartHealth(const std::shared_ptr<Live>& c) {
  // REQUIRES: c->mu held.
  HealthSpec spec;
  if (c->rec.config.healthcheck) {
    spec = *c->rec.config.healthcheck;
  } else {
    std::lock_guard ilock(images_mu_);
    auto img = images_->Resolve(c->rec.image_id);
    if (!img || !img->config.config.healthcheck) return;
    const auto& h = *img->config.config.healthcheck;
    spec.test = h.test;
    if (h.interval_ns) spec.interval_ns = h.interval_ns;
    if (h.timeout_ns) spec.timeout_ns = h.timeout_ns;
    spec.start_period_ns = h.start_period_ns;
    if (h.retries) spec.retries = h.retries;
  }
  if (spec.test.empty() || spec.test[0] == "NONE") return;
  if (c->health_running) return;
  c->health_stop = false;
  c->health_running = true;
  c->rec.state.health.status = "starting";
  std::string ip = c->rec.config.network_mode == "host" ? "127.0.0.1" : c->rec.endpoint.ip;
  std::vector<std::string> exec = {RuntimePath(c->rec.runtime), "--root", cfg_.RuntimeRoot() + "/" + c->rec.runtime,
                                   "exec", c->rec.id};
  std::thread([this, c, spec, ip, exec] {
    auto started = std::chrono::steady_clock::now();
    int timeout_ms = static_cast<int>(spec.timeout_ns / 1'000'000);
    for (;;) {
      {
        std::unique_lock lock(c->mu);
        c->cv.wait_for(lock, std::chrono::nanoseconds(spec.interval_ns), [&] { return c->health_stop.load(); });
        if (c->health_stop || c->removed || c->rec.state.status != "running") break;
      }
      std::string start = NowRfc3339Nano();
      ProbeResult res;
      const auto& t = spec.test;
      if (t[0] == "TCP" && t.size() >= 2) {
        res = ip.empty() ? ProbeResult{1, "container has no address"} : TcpProbe(ip, std::stoi(t[1]), timeout_ms);
      } else if (t[0] == "HTTP" && t.size() >= 2) {
        res = ip.empty() ? ProbeResult{1, "container has no address"}
                         : HttpProbe(ip, std::stoi(t[1]), t.size() > 2 ? t[2] : "/", t.size() > 3 ? t[3] : "",
                                     timeout_ms);
      } else {
        std::vector<std::string> argv = {"/usr/bin/timeout", "-s", "KILL",
                                         std::to_string(std::max(1, timeout_ms / 1000)) + "s"};
        argv.insert(argv.end(), exec.begin(), exec.end());
        if (t[0] == "CMD-SHELL") {
          argv.insert(argv.end(), {"/bin/sh", "-c", t.size() > 1 ? t[1] : "true"});
        } else {
          argv.insert(argv.end(), t.begin() + (t[0] == "CMD" ? 1 : 0), t.end());
        }
        auto r = RunTool(argv);
        if (!r) res = {1, r.error().message()};
        else res = {r->exit_code == 0 ? 0 : 1, (r->out + r->err).substr(0, 4096)};
        if (r && r->exit_code == 137) res.output = "health check timed out";
      }
      std::unique_lock lock(c->mu);
      if (c->health_stop || c->removed) break;
      auto& h = c->rec.state.health;
      h.log.push_back({start, NowRfc3339Nano(), res.exit_code, res.output});
      if (h.log.size() > 5) h.log.erase(h.log.begin());
      std::string before = h.status;
      bool in_start_period = std::chrono::steady_clock::now() - started < std::chrono::nanoseconds(spec.start_period_ns);
      if (res.exit_code == 0) {
        h.failing_streak = 0;
        h.status = "healthy";
      } else if (!in_start_period) {
        ++h.failing_streak;
        if (h.failing_streak >= spec.retries) h.status = "unhealthy";
      }
      if (h.status != before) Publish(c->rec, "health_status: " + h.status);
      (void)Save(*c);
    }
    std::lock_guard lock(c->mu);
    c->health_running = false;
    c->cv.notify_all();
  }).detach();
}

}  // namespace moor::engine
