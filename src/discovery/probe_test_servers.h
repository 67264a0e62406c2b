// Test-only: tiny servers on 127.0.0.1 ephemeral ports for the probe, FastCGI
// client and check runner tests — an HTTP responder, a FastCGI responder
// that records the request it got, and a peer that accepts and never
// answers — plus a scripted fake ContainerOps.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/fd.h"
#include "discovery/container_ops.h"
#include "discovery/fastcgi_client.h"

namespace moor::discovery::testing {

// Accepts connections on 127.0.0.1 and hands each to `handler` on the
// server's thread, one at a time.
class LoopbackServer {
 public:
  using Handler = std::function<void(UniqueFd conn)>;

  explicit LoopbackServer(Handler handler) : handler_(std::move(handler)) {
    listen_.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(listen_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    ::listen(listen_.get(), 16);
    socklen_t len = sizeof addr;
    ::getsockname(listen_.get(), reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    int p[2];
    if (::pipe2(p, O_CLOEXEC) == 0) {
      stop_r_.Reset(p[0]);
      stop_w_.Reset(p[1]);
    }
    thread_ = std::thread([this] { Loop(); });
  }
  ~LoopbackServer() {
    (void)!::write(stop_w_.get(), "x", 1);
    thread_.join();
  }

  int port() const { return port_; }
  std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }
  int accepted() const { return accepted_.load(); }

 private:
  void Loop() {
    for (;;) {
      pollfd p[2] = {{listen_.get(), POLLIN, 0}, {stop_r_.get(), POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) continue;
      if (p[1].revents != 0) return;
      UniqueFd conn(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!conn) continue;
      ++accepted_;
      handler_(std::move(conn));
    }
  }

  Handler handler_;
  UniqueFd listen_, stop_r_, stop_w_;
  int port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// Reads until `done(bytes so far)` or EOF / 2 s of silence.
inline std::string ReadUntil(int fd, const std::function<bool(const std::string&)>& done) {
  std::string got;
  char buf[4096];
  while (!done(got)) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 2000) <= 0) break;
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<size_t>(n));
  }
  return got;
}

inline void WriteAll(int fd, const std::string& data) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
}

// Answers every HTTP request with a fixed response; remembers the requests.
class HttpResponder {
 public:
  HttpResponder(int status, std::string reason, std::string body)
      : status_(status), reason_(std::move(reason)), body_(std::move(body)) {}

  std::string url(const std::string& path) const { return "http://" + server_.addr() + path; }
  std::vector<std::string> requests() {
    std::lock_guard lk(mu_);
    return requests_;
  }

 private:
  void Serve(UniqueFd c) {
    std::string req = ReadUntil(c.get(), [](const std::string& s) { return s.find("\r\n\r\n") != std::string::npos; });
    {
      std::lock_guard lk(mu_);
      requests_.push_back(req);
    }
    WriteAll(c.get(), "HTTP/1.1 " + std::to_string(status_) + " " + reason_ + "\r\nContent-Length: " +
                          std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" + body_);
  }

  int status_;
  std::string reason_, body_;
  std::mutex mu_;
  std::vector<std::string> requests_;
  LoopbackServer server_{[this](UniqueFd c) { Serve(std::move(c)); }};  // last: stops first
};

// Accepts and never answers; connections stay open until it is destroyed.
class HungServer {
 public:
  HungServer() = default;
  std::string addr() const { return server_.addr(); }
  int accepted() const { return server_.accepted(); }

 private:
  std::mutex mu_;
  std::vector<UniqueFd> held_;
  LoopbackServer server_{[this](UniqueFd c) {  // last: stops before held_ goes
    std::lock_guard lk(mu_);
    held_.push_back(std::move(c));
  }};
};

// A FastCGI application: reads one request, records its records, answers
// with `stdout_data` (split into records of `chunk` bytes), `stderr_data`
// and END_REQUEST.
class FastCgiResponder {
 public:
  struct Request {
    std::vector<fastcgi::Record> records;
    fastcgi::Params params;
    bool complete = false;  // the empty STDIN arrived
  };

  FastCgiResponder(std::string stdout_data, std::string stderr_data = "", size_t chunk = 7)
      : stdout_(std::move(stdout_data)),
        stderr_(std::move(stderr_data)),
        chunk_(chunk) {}

  std::string addr() const { return server_.addr(); }
  Request last() {
    std::lock_guard lk(mu_);
    return last_;
  }

 private:
  void Serve(UniqueFd c) {
    using fastcgi::RecordType;
    Request req;
    fastcgi::RecordDecoder dec;
    std::string params_stream;
    char buf[4096];
    while (!req.complete) {
      pollfd p{c.get(), POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) break;
      ssize_t n = ::read(c.get(), buf, sizeof buf);
      if (n <= 0) break;
      dec.Feed(std::string_view(buf, static_cast<size_t>(n)));
      for (;;) {
        auto rec = dec.Next();
        if (!rec || !*rec) break;
        if ((*rec)->type == RecordType::kParams) params_stream += (*rec)->content;
        if ((*rec)->type == RecordType::kStdin && (*rec)->content.empty()) req.complete = true;
        req.records.push_back(std::move(**rec));
      }
    }
    if (auto p = fastcgi::DecodeNameValues(params_stream)) req.params = *p;
    uint16_t id = req.records.empty() ? 1 : req.records[0].request_id;
    {
      std::lock_guard lk(mu_);
      last_ = req;
    }
    std::string out;
    for (size_t off = 0; off < stdout_.size(); off += chunk_) {
      out += fastcgi::EncodeRecord(RecordType::kStdout, id, std::string_view(stdout_).substr(off, chunk_));
    }
    if (!stderr_.empty()) out += fastcgi::EncodeRecord(RecordType::kStderr, id, stderr_);
    out += fastcgi::EncodeRecord(RecordType::kStdout, id, {});
    out += fastcgi::EncodeEndRequest(id, 0, fastcgi::kRequestComplete);
    WriteAll(c.get(), out);
  }

  std::string stdout_, stderr_;
  size_t chunk_;
  std::mutex mu_;
  Request last_;
  LoopbackServer server_{[this](UniqueFd c) { Serve(std::move(c)); }};  // last: stops first
};

// A loopback port nothing listens on (bound, then closed).
inline int UnusedPort() {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(s.get(), reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

// Exec answers from a script (the last entry repeats); other calls fail.
class FakeOps : public ContainerOps {
 public:
  explicit FakeOps(std::vector<Result<ExecOutcome>> script = {}) : script_(std::move(script)) {}

  void SetScript(std::vector<Result<ExecOutcome>> script) {
    std::lock_guard lk(mu_);
    script_ = std::move(script);
    next_ = 0;
  }
  int calls() const { return calls_.load(); }
  std::vector<std::string> last_argv() {
    std::lock_guard lk(mu_);
    return last_argv_;
  }
  std::string last_container() {
    std::lock_guard lk(mu_);
    return last_container_;
  }

  Result<ExecOutcome> Exec(const std::string& container_id, const std::vector<std::string>& argv,
                           int64_t) override {
    std::lock_guard lk(mu_);
    ++calls_;
    last_argv_ = argv;
    last_container_ = container_id;
    if (script_.empty()) return FailInvalid("no script");
    size_t i = std::min(next_, script_.size() - 1);
    ++next_;
    return script_[i];
  }
  Result<std::string> ReadFile(const std::string&, const std::string&) override { return FailInvalid("fake"); }
  Result<void> WriteFile(const std::string&, const std::string&, const std::string&, unsigned) override {
    return FailInvalid("fake");
  }
  Result<void> Signal(const std::string&, const std::string&) override { return FailInvalid("fake"); }

 private:
  std::mutex mu_;
  std::vector<Result<ExecOutcome>> script_;
  size_t next_ = 0;
  std::atomic<int> calls_{0};
  std::vector<std::string> last_argv_;
  std::string last_container_;
};

inline ExecOutcome Exit(int code, std::string output = "") {
  ExecOutcome o;
  o.exit_code = code;
  o.output = std::move(output);
  return o;
}

}  // namespace moor::discovery::testing
