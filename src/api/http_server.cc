// HttpServer: accept loop, one thread per connection, request parsing and the
// ResponseWriter that frames whole, streamed and hijacked responses.
#include "api/http_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <cctype>
#include <cerrno>
#include <list>
#include <mutex>

#include "api/wire.h"
#include "common/log.h"
#include "common/strings.h"

namespace moor::api {

namespace {

using wire::ReadStatus;

struct Conn {
  int fd = -1;  // guarded by Impl::mu; -1 once the connection thread closed it
  int peer_uid = -1;
  std::string identity;  // PeerIdentity() of an adopted connection
  std::thread thread;
  std::atomic<bool> done{false};
};

bool NoBody(int status) { return status < 200 || status == 204 || status == 304; }

std::string StatusHead(int status, const Headers& headers) {
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + ReasonPhrase(status) + "\r\n";
  for (const auto& [k, v] : headers) out += k + ": " + v + "\r\n";
  out += "\r\n";
  return out;
}

// Error reply for requests the server refuses before any handler ran; the
// connection is closed after it.
void SendProtocolError(int fd, int status, std::string_view message) {
  std::string body = "{\"message\":" + JsonQuote(message) + "}\n";
  Headers h{{"content-type", "application/json"},
            {"content-length", std::to_string(body.size())},
            {"connection", "close"}};
  wire::SendAll(fd, StatusHead(status, h) + body);
}

int PeerUidOf(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || addr.ss_family != AF_UNIX)
    return -1;
  ucred cred{};
  socklen_t clen = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) != 0) return -1;
  return static_cast<int>(cred.uid);
}

bool IsTokenChar(unsigned char c) {
  return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) !=
                                std::string_view::npos;
}

// "GET /path?q HTTP/1.1" → req; returns 0 or the status to refuse with.
int ParseRequestLine(std::string_view line, Request* req, bool* http10) {
  size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos || sp1 == 0) return 400;
  size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos) return 400;
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  for (unsigned char c : method)
    if (!IsTokenChar(c)) return 400;
  if (target.empty() || target[0] != '/') return 400;
  for (unsigned char c : target)
    if (c <= 0x20 || c >= 0x7f) return 400;
  if (version == "HTTP/1.0") {
    *http10 = true;
  } else if (version == "HTTP/1.1") {
    *http10 = false;
  } else {
    return StartsWith(version, "HTTP/") ? 505 : 400;
  }
  req->method = method;
  req->target = target;
  size_t q = target.find('?');
  req->path = PercentDecode(target.substr(0, q));
  if (q != std::string_view::npos) req->query = ParseQuery(target.substr(q + 1));
  return 0;
}

}  // namespace

struct HttpServer::Impl {
  UniqueFd listen_fd;
  Router router;
  ServerOptions opts;
  UniqueFd wake;  // eventfd that interrupts the accept loop's poll
  std::atomic<bool> stopping{false};
  std::thread accept_thread;
  std::mutex mu;
  std::list<std::unique_ptr<Conn>> conns;  // guarded by mu (the accept thread, Adopt() and Stop())
  bool started = false;
  bool stopped = false;

  void AcceptLoop();
  void Serve(Conn* c);
  // Reads one request; 0 when *req is ready, -1 to close quietly, else the status to refuse with.
  int ReadRequest(wire::Reader& r, int fd, Request* req, bool* keep_alive, std::string* why);
  // Joins and drops finished connections; call with mu held.
  void ReapFinished();
  // Starts a connection's thread and keeps it in conns; call with mu held.
  // Closes the fd when the thread cannot start.
  void StartConn(std::unique_ptr<Conn> conn);
};

namespace {

class ConnWriter final : public ResponseWriter {
 public:
  ConnWriter(const std::atomic<bool>& stopping, int fd, wire::Reader& reader, const Request& req,
             bool keep_alive, int peer_uid, const std::string& identity)
      : stopping_(stopping),
        fd_(fd),
        reader_(reader),
        req_(req),
        keep_alive_(keep_alive),
        head_(req.method == "HEAD"),
        peer_uid_(peer_uid),
        identity_(identity) {}

  void Send(Response r) override {
    std::lock_guard lock(mu_);
    if (!Claim(State::kSent)) return;
    r.headers.erase("transfer-encoding");
    if (wire::HasToken(r.headers, "connection", "close")) keep_alive_ = false;
    if (NoBody(r.status)) {
      r.headers.erase("content-length");
      r.body.clear();
    } else {
      r.headers["content-length"] = std::to_string(r.body.size());
    }
    if (!keep_alive_) r.headers["connection"] = "close";
    std::string out = StatusHead(r.status, r.headers);
    if (!head_) out += r.body;
    if (!wire::SendAll(fd_, out)) broken_ = true;
  }

  void StartStream(int status, Headers headers) override {
    std::lock_guard lock(mu_);
    if (!Claim(State::kStreaming)) return;
    headers.erase("content-length");
    headers["transfer-encoding"] = "chunked";
    if (wire::HasToken(headers, "connection", "close")) keep_alive_ = false;
    if (!keep_alive_) headers["connection"] = "close";
    if (!wire::SendAll(fd_, StatusHead(status, headers))) broken_ = true;
  }

  bool Write(std::string_view chunk) override {
    std::lock_guard lock(mu_);
    if (state_ != State::kStreaming || broken_ || stopping_) return false;
    if (chunk.empty() || head_) return true;  // an empty chunk would end the stream
    if (!wire::SendAll(fd_, wire::ChunkFrame(chunk))) broken_ = true;
    return !broken_;
  }

  bool ClientGone() override {
    if (stopping_ || broken_) return true;
    pollfd p{fd_, POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLHUP | POLLERR | POLLRDHUP)) return true;
    if (p.revents & POLLIN) {
      char c;
      ssize_t n = ::recv(fd_, &c, 1, MSG_PEEK | MSG_DONTWAIT);
      return n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR);
    }
    return false;
  }

  UniqueFd Hijack(Headers headers, std::string* pending) override {
    std::lock_guard lock(mu_);
    if (!Claim(State::kHijacked)) return UniqueFd();
    int status = 200;
    if (wire::HasToken(req_.headers, "connection", "upgrade") && req_.headers.contains("upgrade")) {
      status = 101;
      headers["connection"] = "Upgrade";
      headers["upgrade"] = "tcp";
    }
    headers.erase("content-length");
    headers.erase("transfer-encoding");
    if (!wire::SendAll(fd_, StatusHead(status, headers))) broken_ = true;
    if (pending) *pending = std::move(reader_.buffer());
    reader_.buffer().clear();
    // The handler gets its own descriptor of the socket: the server keeps the
    // original until the handler returns so Stop() can still shut it down.
    return UniqueFd(::fcntl(fd_, F_DUPFD_CLOEXEC, 0));
  }

  int PeerUid() const override { return peer_uid_; }
  std::string PeerIdentity() const override { return identity_; }

  bool ResponseStarted() {
    std::lock_guard lock(mu_);
    return state_ != State::kNone;
  }
  bool KeepConnection() {
    std::lock_guard lock(mu_);
    return keep_alive_ && !broken_ && state_ != State::kHijacked;
  }
  void EndStream() {
    std::lock_guard lock(mu_);
    // A stream cut by Stop() must look cut to the client (no terminating
    // chunk), not like a stream that ended normally.
    if (stopping_) broken_ = true;
    if (state_ == State::kStreaming && !broken_ && !head_ && !wire::SendAll(fd_, "0\r\n\r\n")) broken_ = true;
  }

 private:
  enum class State { kNone, kSent, kStreaming, kHijacked };

  bool Claim(State next) {
    if (state_ != State::kNone) {
      log::Warn("api: handler for " + req_.method + " " + req_.path + " responded twice; ignored");
      return false;
    }
    state_ = next;
    return true;
  }

  std::mutex mu_;
  const std::atomic<bool>& stopping_;
  int fd_;
  wire::Reader& reader_;
  const Request& req_;
  bool keep_alive_;
  bool head_;
  int peer_uid_;
  const std::string& identity_;
  State state_ = State::kNone;
  std::atomic<bool> broken_{false};  // a send failed; read by ClientGone() without the lock
};

}  // namespace

int HttpServer::Impl::ReadRequest(wire::Reader& r, int fd, Request* req, bool* keep_alive, std::string* why) {
  std::string head;
  ReadStatus st = wire::ReadHead(r, opts.max_header_bytes, &head);
  if (st == ReadStatus::kTooLarge) {
    *why = "request header is larger than " + std::to_string(opts.max_header_bytes) + " bytes";
    return 431;
  }
  if (st != ReadStatus::kOk) return -1;
  std::string line;
  if (!wire::ParseHead(head, &line, &req->headers)) {
    *why = "malformed request header";
    return 400;
  }
  bool http10 = false;
  if (int status = ParseRequestLine(line, req, &http10); status != 0) {
    *why = status == 505 ? "only HTTP/1.0 and HTTP/1.1 are supported" : "malformed request line";
    return status;
  }
  *keep_alive = http10 ? wire::HasToken(req->headers, "connection", "keep-alive")
                       : !wire::HasToken(req->headers, "connection", "close");

  auto te = req->headers.find("transfer-encoding");
  auto cl = req->headers.find("content-length");
  bool chunked = false;
  uint64_t length = 0;
  if (te != req->headers.end()) {
    // Both framings at once is how requests get smuggled; refuse (RFC 9112 6.3).
    if (cl != req->headers.end()) {
      *why = "request has both transfer-encoding and content-length";
      return 400;
    }
    std::string v(Trim(te->second));
    for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (v != "chunked") {
      *why = "transfer-encoding \"" + te->second + "\" is not supported (only chunked)";
      return 501;
    }
    chunked = true;
  } else if (cl != req->headers.end()) {
    auto n = ParseUint(Trim(cl->second));
    if (!n || Trim(cl->second).empty() || !std::isdigit(static_cast<unsigned char>(Trim(cl->second)[0]))) {
      *why = "invalid content-length \"" + cl->second + "\"";
      return 400;
    }
    length = *n;
  }
  if (length > opts.max_body_bytes) {
    *why = "request body is larger than " + std::to_string(opts.max_body_bytes) + " bytes";
    return 413;
  }
  if ((chunked || length > 0) && !http10 && wire::HasToken(req->headers, "expect", "100-continue") &&
      !wire::SendAll(fd, "HTTP/1.1 100 Continue\r\n\r\n")) {
    return -1;
  }
  auto append = [req](std::string_view piece) {
    req->body.append(piece);
    return true;
  };
  if (chunked) {
    st = wire::ReadChunked(r, opts.max_body_bytes, append);
  } else {
    req->body.reserve(static_cast<size_t>(length));
    st = wire::ReadSized(r, length, append);
  }
  switch (st) {
    case ReadStatus::kOk: return 0;
    case ReadStatus::kTooLarge:
      *why = "request body is larger than " + std::to_string(opts.max_body_bytes) + " bytes";
      return 413;
    case ReadStatus::kMalformed: *why = "malformed chunked request body"; return 400;
    default: return -1;
  }
}

void HttpServer::Impl::Serve(Conn* c) {
  int fd = c->fd;  // stable: only this thread closes it
  wire::Reader reader(fd, opts.idle_timeout_ms);
  while (!stopping) {
    Request req;
    bool keep_alive = true;
    std::string why;
    int refuse = ReadRequest(reader, fd, &req, &keep_alive, &why);
    if (refuse < 0) break;
    if (refuse > 0) {
      SendProtocolError(fd, refuse, why);
      break;
    }
    ConnWriter w(stopping, fd, reader, req, keep_alive, c->peer_uid, c->identity);
    try {
      router.Dispatch(req, w);
    } catch (const std::exception& e) {
      log::Error("api: handler for " + req.method + " " + req.path + " threw: " + e.what());
      if (w.ResponseStarted()) break;  // the response is cut short; the client sees the close
      w.SendError(500, std::string("internal error: ") + e.what());
    }
    if (!w.ResponseStarted()) w.SendError(500, "the handler for " + req.method + " " + req.path +
                                                   " sent no response");
    w.EndStream();
    if (!w.KeepConnection()) break;
  }
  {
    std::lock_guard lock(mu);
    ::close(c->fd);
    c->fd = -1;
  }
  c->done = true;
}

void HttpServer::Impl::ReapFinished() {
  for (auto it = conns.begin(); it != conns.end();) {
    // A done thread no longer needs mu, so joining it here cannot deadlock.
    if ((*it)->done) {
      (*it)->thread.join();
      it = conns.erase(it);
    } else {
      ++it;
    }
  }
}

void HttpServer::Impl::AcceptLoop() {
  pollfd fds[2] = {{listen_fd.get(), POLLIN, 0}, {wake.get(), POLLIN, 0}};
  while (!stopping) {
    // Without the eventfd (creation failed) Stop() is noticed by polling the flag.
    int rc = ::poll(fds, 2, wake ? -1 : 200);
    if (rc < 0) {
      if (errno == EINTR) continue;
      log::Error(Error::FromErrno("api: poll on the listening socket").message());
      return;
    }
    if (stopping || fds[1].revents) return;
    {
      std::lock_guard lock(mu);
      ReapFinished();
    }
    int fd = ::accept4(listen_fd.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
      log::Warn(Error::FromErrno("api: accept").message());
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: back off instead of spinning on a readable listener.
        pollfd w{wake.get(), POLLIN, 0};
        ::poll(&w, 1, 100);
        continue;
      }
      return;
    }
    auto conn = std::make_unique<Conn>();
    conn->fd = fd;
    conn->peer_uid = PeerUidOf(fd);
    std::lock_guard lock(mu);
    StartConn(std::move(conn));
  }
}

void HttpServer::Impl::StartConn(std::unique_ptr<Conn> conn) {
  Conn* c = conn.get();
  try {
    conn->thread = std::thread([this, c] { Serve(c); });
  } catch (const std::system_error& e) {
    log::Warn(std::string("api: cannot start a connection thread: ") + e.what());
    ::close(conn->fd);
    return;
  }
  conns.push_back(std::move(conn));
}

HttpServer::HttpServer(UniqueFd listen_fd, const Router& router, ServerOptions opts)
    : impl_(std::make_unique<Impl>()) {
  impl_->listen_fd = std::move(listen_fd);
  impl_->router = router;
  impl_->opts = opts;
}

HttpServer::HttpServer(const Router& router, ServerOptions opts) : HttpServer(UniqueFd(), router, opts) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Adopt(UniqueFd conn, std::string identity) {
  Impl& s = *impl_;
  if (!conn) return;
  std::lock_guard lock(s.mu);
  // Stop() sets stopping before it takes mu to shut connections down, so a
  // connection adopted after that point would never be joined: refuse it.
  if (s.stopping) return;
  s.ReapFinished();
  auto c = std::make_unique<Conn>();
  c->fd = conn.Release();
  c->identity = std::move(identity);
  s.StartConn(std::move(c));
}

void HttpServer::Start() {
  Impl& s = *impl_;
  if (s.started) return;
  s.started = true;
  if (!s.listen_fd) return;  // Adopt() only
  // Non-blocking so a connection that vanished between poll and accept cannot block the loop.
  int flags = ::fcntl(s.listen_fd.get(), F_GETFL);
  if (flags >= 0) ::fcntl(s.listen_fd.get(), F_SETFL, flags | O_NONBLOCK);
  s.wake = UniqueFd(::eventfd(0, EFD_CLOEXEC));
  s.accept_thread = std::thread([&s] { s.AcceptLoop(); });
}

void HttpServer::Stop() {
  Impl& s = *impl_;
  if (s.stopped) return;
  s.stopped = true;
  s.stopping = true;
  if (s.wake) {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(s.wake.get(), &one, sizeof one);
  }
  if (s.accept_thread.joinable()) s.accept_thread.join();
  {
    // Wakes every connection thread: blocked reads see EOF, writes fail.
    std::lock_guard lock(s.mu);
    for (auto& c : s.conns)
      if (c->fd >= 0) ::shutdown(c->fd, SHUT_RDWR);
  }
  // No Adopt() adds to conns any more (it sees stopping under mu).
  for (auto& c : s.conns) c->thread.join();
  {
    std::lock_guard lock(s.mu);
    s.conns.clear();
  }
  s.listen_fd.Reset();
}

}  // namespace moor::api
