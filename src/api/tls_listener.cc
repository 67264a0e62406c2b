// TlsListener: the accept loop, the per-connection TLS handshake and the
// relay between the TLS connection and the HttpServer's end of a socketpair.
#include "api/tls_listener.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <list>
#include <mutex>
#include <thread>

#include "common/log.h"

namespace moor::api {

namespace {

constexpr size_t kReadPiece = size_t{16} * 1024;    // one TLS record's worth
constexpr size_t kMaxBuffered = size_t{64} * 1024;  // decrypted bytes waiting for the HttpServer

// The oldest error on this thread's OpenSSL error queue, as text; clears the queue.
std::string SslErrors() {
  unsigned long e = ERR_get_error();
  std::string out;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    out = buf;
  }
  ERR_clear_error();
  return out.empty() ? "unknown TLS error" : out;
}

// "1.2.3.4:5678" / "[::1]:5678" for log lines.
std::string PeerName(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "?";
  char host[INET6_ADDRSTRLEN] = "?";
  if (ss.ss_family == AF_INET) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &a->sin_addr, host, sizeof host);
    return std::string(host) + ":" + std::to_string(ntohs(a->sin_port));
  }
  if (ss.ss_family == AF_INET6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &a->sin6_addr, host, sizeof host);
    return "[" + std::string(host) + "]:" + std::to_string(ntohs(a->sin6_port));
  }
  return "?";
}

// A password callback that never asks: an encrypted key is an error, not a prompt on the daemon's terminal.
int NoPassword(char*, int, int, void*) { return -1; }

// The file must exist and be readable; says which flag to fix otherwise.
Result<void> CheckReadable(const std::string& path, const std::string& what, const std::string& flag) {
  if (path.empty()) return FailInvalid("no " + what + " given; pass " + flag + " FILE");
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    return Fail(Error(errno, what + " " + path + ": " + std::strerror(errno) + "; pass " + flag +
                                 " with a readable PEM file"));
  }
  return {};
}

struct SslCtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};
struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
struct PkeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxFree>;
using SslPtr = std::unique_ptr<SSL, SslFree>;

Result<SslCtxPtr> MakeContext(const TlsOptions& o) {
  TRY(CheckReadable(o.cert, "TLS certificate", "--deploy-tls-cert"));
  TRY(CheckReadable(o.key, "TLS key", "--deploy-tls-key"));
  if (!o.client_ca.empty()) TRY(CheckReadable(o.client_ca, "client CA", "--deploy-client-ca"));

  ERR_clear_error();
  SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return FailInvalid("cannot create a TLS context: " + SslErrors());
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                                     SSL_OP_IGNORE_UNEXPECTED_EOF);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_CTX_set_default_passwd_cb(ctx.get(), NoPassword);

  if (SSL_CTX_use_certificate_chain_file(ctx.get(), o.cert.c_str()) != 1) {
    return FailInvalid("TLS certificate " + o.cert + " holds no usable PEM certificate (" + SslErrors() +
                       "); pass --deploy-tls-cert with the node's certificate");
  }
  std::unique_ptr<EVP_PKEY, PkeyFree> key;
  if (BIO* bio = BIO_new_file(o.key.c_str(), "r")) {
    key.reset(PEM_read_bio_PrivateKey(bio, nullptr, NoPassword, nullptr));
    BIO_free(bio);
  }
  if (!key) {
    return FailInvalid("TLS key " + o.key + " is not an unencrypted PEM private key (" + SslErrors() +
                       "); pass --deploy-tls-key with the certificate's key");
  }
  ERR_clear_error();
  if (X509_check_private_key(SSL_CTX_get0_certificate(ctx.get()), key.get()) != 1) {
    ERR_clear_error();
    return FailInvalid("TLS key " + o.key + " does not match certificate " + o.cert +
                       "; pass the key the certificate was issued for");
  }
  if (SSL_CTX_use_PrivateKey(ctx.get(), key.get()) != 1)
    return FailInvalid("TLS key " + o.key + " cannot be used: " + SslErrors());

  if (!o.client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(ctx.get(), o.client_ca.c_str(), nullptr) != 1) {
      return FailInvalid("client CA " + o.client_ca + " holds no usable PEM certificate (" + SslErrors() +
                         "); pass --deploy-client-ca with the CA that issues client certificates");
    }
    // Tells clients which CA to pick a certificate for.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(o.client_ca.c_str()))
      SSL_CTX_set_client_CA_list(ctx.get(), names);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    static const unsigned char kSessionContext[] = "moor-deploy";
    SSL_CTX_set_session_id_context(ctx.get(), kSessionContext, sizeof kSessionContext - 1);
  }
  ERR_clear_error();
  return ctx;
}

// The verified client certificate's subject CN in *cn; false (and why) when there is none usable:
// missing, empty, or with control characters that would garble logs and the ledger.
bool PeerCommonName(SSL* ssl, std::string* cn, std::string* why) {
  std::unique_ptr<X509, X509Free> peer(SSL_get1_peer_certificate(ssl));
  if (!peer) {
    *why = "no client certificate";
    return false;
  }
  if (SSL_get_verify_result(ssl) != X509_V_OK) {
    *why = "client certificate not verified";
    return false;
  }
  X509_NAME* name = X509_get_subject_name(peer.get());
  int idx = name ? X509_NAME_get_index_by_NID(name, NID_commonName, -1) : -1;
  if (idx < 0) {
    *why = "client certificate has no subject CN";
    return false;
  }
  unsigned char* utf8 = nullptr;
  int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx)));
  if (n <= 0) {
    *why = "client certificate's CN is not text";
    return false;
  }
  cn->assign(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
  OPENSSL_free(utf8);
  for (unsigned char c : *cn) {
    if (c < 0x20 || c == 0x7f) {
      *why = "client certificate's CN has control characters";
      return false;
    }
  }
  if (cn->empty()) *why = "client certificate's CN is empty";
  return !cn->empty();
}

struct TlsConn {
  UniqueFd tcp;
  std::string peer;  // for log lines
  std::thread thread;
  std::atomic<bool> done{false};
};

}  // namespace

struct TlsListener::Impl {
  UniqueFd listen_fd;
  TlsOptions opts;
  HttpServer* server = nullptr;
  SslCtxPtr ctx;
  UniqueFd wake;  // eventfd written once by Stop(); never read, so it stays readable for every poller
  std::atomic<bool> stopping{false};
  std::thread accept_thread;
  std::mutex mu;
  std::list<std::unique_ptr<TlsConn>> conns;  // guarded by mu
  bool started = false;
  bool stopped = false;

  void AcceptLoop();
  void ServeConn(TlsConn* c);
  // Runs SSL_accept until done, failed, timed out or stopped.
  bool Handshake(SSL* ssl, TlsConn* c);
  // Moves bytes both ways until both sides are closed, an error or Stop().
  void Relay(SSL* ssl, int tcp, int pair, const std::string& peer);
  // Waits for fd to become ready for `events` (or the wake eventfd); false on timeout or stop.
  bool WaitFor(int fd, short events, int timeout_ms);
  // After a refused handshake: stop sending, then read what the client still sends for a moment,
  // so closing does not reset the connection before the client has read the TLS alert.
  void LingerClose(int fd);
  // Joins and drops finished connections; call with mu held.
  void ReapFinished();
};

bool TlsListener::Impl::WaitFor(int fd, short events, int timeout_ms) {
  pollfd p[2] = {{fd, events, 0}, {wake.get(), POLLIN, 0}};
  for (;;) {
    int rc = ::poll(p, 2, timeout_ms);
    if (rc < 0 && errno == EINTR) continue;
    return rc > 0 && !p[1].revents && !stopping;
  }
}

void TlsListener::Impl::LingerClose(int fd) {
  ::shutdown(fd, SHUT_WR);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(1);
  char buf[4096];
  for (size_t drained = 0; drained < kMaxBuffered;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !WaitFor(fd, POLLIN, static_cast<int>(left.count()))) return;
    ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) return;
    if (n > 0) drained += static_cast<size_t>(n);
  }
}

bool TlsListener::Impl::Handshake(SSL* ssl, TlsConn* c) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(opts.handshake_timeout_ms);
  for (;;) {
    ERR_clear_error();
    int rc = SSL_accept(ssl);
    if (rc == 1) return true;
    int err = SSL_get_error(ssl, rc);
    short ev = err == SSL_ERROR_WANT_READ ? POLLIN : err == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
    if (ev == 0) {
      log::Debug("api: TLS handshake with " + c->peer + " failed: " +
                 (err == SSL_ERROR_SYSCALL && errno != 0 ? std::string(std::strerror(errno)) : SslErrors()));
      return false;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0 || !WaitFor(c->tcp.get(), ev, static_cast<int>(left.count()))) {
      if (!stopping) log::Debug("api: TLS handshake with " + c->peer + " timed out");
      return false;
    }
  }
}

void TlsListener::Impl::Relay(SSL* ssl, int tcp, int pair, const std::string& peer) {
  std::string to_pair, to_tls;  // decrypted bytes on their way to the HttpServer / to the client
  bool tls_eof = false;         // the client sent close_notify (or closed TCP)
  bool tls_read_off = false;    // stop reading the client (it closed, or the HttpServer stopped reading)
  bool pair_wr_shut = false;    // the HttpServer has been told the client is done sending
  bool pair_eof = false;        // the HttpServer closed its end
  char buf[kReadPiece];
  for (;;) {
    bool progress = false;
    short tcp_ev = 0, pair_ev = 0;

    // Client → buffer.
    if (!tls_read_off && to_pair.size() < kMaxBuffered) {
      ERR_clear_error();
      int n = SSL_read(ssl, buf, sizeof buf);
      if (n > 0) {
        to_pair.append(buf, static_cast<size_t>(n));
        progress = true;
      } else {
        int err = SSL_get_error(ssl, n);
        if (err == SSL_ERROR_WANT_READ) {
          tcp_ev |= POLLIN;
        } else if (err == SSL_ERROR_WANT_WRITE) {
          tcp_ev |= POLLOUT;
        } else if (err == SSL_ERROR_ZERO_RETURN) {
          tls_eof = tls_read_off = true;
          progress = true;
        } else {
          log::Debug("api: TLS connection from " + peer + " broke: " + SslErrors());
          return;
        }
      }
    }
    // Buffer → HttpServer; once the client is done, tell the server so.
    if (!to_pair.empty()) {
      ssize_t n = ::send(pair, to_pair.data(), to_pair.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n > 0) {
        to_pair.erase(0, static_cast<size_t>(n));
        progress = true;
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        pair_ev |= POLLOUT;
      } else {
        // The server stopped reading (it answered and closed): drop what the client still sends,
        // but keep relaying the server's answer.
        to_pair.clear();
        tls_read_off = true;
        progress = true;
      }
    } else if (tls_eof && !pair_wr_shut) {
      ::shutdown(pair, SHUT_WR);
      pair_wr_shut = true;
      progress = true;
    }
    // HttpServer → buffer.
    if (!pair_eof && to_tls.empty()) {
      ssize_t n = ::recv(pair, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        to_tls.assign(buf, static_cast<size_t>(n));
        progress = true;
      } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
        pair_ev |= POLLIN;
      } else {
        pair_eof = true;
        progress = true;
      }
    }
    // Buffer → client; once the server is done and everything is sent, close_notify and finish.
    if (!to_tls.empty()) {
      ERR_clear_error();
      int n = SSL_write(ssl, to_tls.data(), static_cast<int>(to_tls.size()));
      if (n > 0) {
        to_tls.erase(0, static_cast<size_t>(n));
        progress = true;
      } else {
        int err = SSL_get_error(ssl, n);
        if (err == SSL_ERROR_WANT_WRITE) {
          tcp_ev |= POLLOUT;
        } else if (err == SSL_ERROR_WANT_READ) {
          tcp_ev |= POLLIN;
        } else {
          log::Debug("api: TLS connection to " + peer + " broke while sending: " + SslErrors());
          return;
        }
      }
    } else if (pair_eof) {
      ERR_clear_error();
      SSL_shutdown(ssl);  // one try: a close_notify fits any socket buffer; a gone client does not matter
      ERR_clear_error();
      return;
    }
    if (progress) continue;

    pollfd p[3] = {{tcp, tcp_ev, 0}, {pair, pair_ev, 0}, {wake.get(), POLLIN, 0}};
    int rc = ::poll(p, 3, opts.idle_timeout_ms);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0 || p[2].revents || stopping) return;
    if (rc == 0) {
      log::Debug("api: TLS connection from " + peer + " idle; closed");
      return;
    }
    // POLLHUP/POLLERR on either fd: the next SSL_read/recv/send reports it.
  }
}

void TlsListener::Impl::ServeConn(TlsConn* c) {
  // SSL_write on a socket a client reset raises SIGPIPE in this thread; the
  // daemon ignores it, but a library user may not.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);

  SslPtr ssl(SSL_new(ctx.get()));
  if (!ssl || SSL_set_fd(ssl.get(), c->tcp.get()) != 1) {
    log::Warn("api: cannot set up TLS for " + c->peer + ": " + SslErrors());
  } else if (!Handshake(ssl.get(), c)) {
    if (!stopping) LingerClose(c->tcp.get());
  } else {
    std::string identity, why;
    bool ok = true;
    if (!opts.client_ca.empty() && !PeerCommonName(ssl.get(), &identity, &why)) {
      log::Debug("api: TLS client " + c->peer + " refused: " + why);
      ok = false;
      SSL_shutdown(ssl.get());
      LingerClose(c->tcp.get());
    }
    int sv[2];
    if (ok && ::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      log::Warn(Error::FromErrno("api: socketpair for a TLS connection").message());
      ok = false;
    }
    if (ok) {
      UniqueFd mine(sv[0]);
      server->Adopt(UniqueFd(sv[1]), identity);
      Relay(ssl.get(), c->tcp.get(), mine.get(), c->peer);
    }
  }
  ssl.reset();
  {
    std::lock_guard lock(mu);
    c->tcp.Reset();
  }
  ERR_clear_error();
  c->done = true;
}

void TlsListener::Impl::ReapFinished() {
  for (auto it = conns.begin(); it != conns.end();) {
    if ((*it)->done) {
      (*it)->thread.join();
      it = conns.erase(it);
    } else {
      ++it;
    }
  }
}

void TlsListener::Impl::AcceptLoop() {
  pollfd fds[2] = {{listen_fd.get(), POLLIN, 0}, {wake.get(), POLLIN, 0}};
  while (!stopping) {
    int rc = ::poll(fds, 2, -1);
    if (rc < 0) {
      if (errno == EINTR) continue;
      log::Error(Error::FromErrno("api: poll on the TLS listening socket").message());
      return;
    }
    if (stopping || fds[1].revents) return;
    int fd = ::accept4(listen_fd.get(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED) continue;
      log::Warn(Error::FromErrno("api: accept on the TLS endpoint").message());
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        pollfd w{wake.get(), POLLIN, 0};
        ::poll(&w, 1, 100);  // out of descriptors: back off instead of spinning
        continue;
      }
      return;
    }
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // small request/response writes
    auto conn = std::make_unique<TlsConn>();
    conn->tcp = UniqueFd(fd);
    conn->peer = PeerName(fd);
    std::lock_guard lock(mu);
    ReapFinished();
    if (conns.size() >= opts.max_connections) {
      log::Debug("api: TLS connection from " + conn->peer + " refused: " + std::to_string(conns.size()) +
                 " connections open");
      continue;
    }
    TlsConn* c = conn.get();
    try {
      conn->thread = std::thread([this, c] { ServeConn(c); });
    } catch (const std::system_error& e) {
      log::Warn(std::string("api: cannot start a TLS connection thread: ") + e.what());
      continue;
    }
    conns.push_back(std::move(conn));
  }
}

Result<std::unique_ptr<TlsListener>> TlsListener::Create(UniqueFd listen_fd, const TlsOptions& opts,
                                                         HttpServer& server) {
  if (!listen_fd) return FailInvalid("TLS endpoint: no listening socket");
  auto impl = std::make_unique<Impl>();
  impl->ctx = TRY(MakeContext(opts));
  impl->listen_fd = std::move(listen_fd);
  impl->opts = opts;
  impl->server = &server;
  impl->wake = UniqueFd(::eventfd(0, EFD_CLOEXEC));
  if (!impl->wake) return FailErrno("TLS endpoint: eventfd");
  return std::unique_ptr<TlsListener>(new TlsListener(std::move(impl)));
}

TlsListener::TlsListener(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TlsListener::~TlsListener() { Stop(); }

void TlsListener::Start() {
  Impl& s = *impl_;
  if (s.started || s.stopped) return;
  s.started = true;
  int flags = ::fcntl(s.listen_fd.get(), F_GETFL);
  if (flags >= 0) ::fcntl(s.listen_fd.get(), F_SETFL, flags | O_NONBLOCK);
  s.accept_thread = std::thread([&s] { s.AcceptLoop(); });
}

void TlsListener::Stop() {
  Impl& s = *impl_;
  if (s.stopped) return;
  s.stopped = true;
  s.stopping = true;
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(s.wake.get(), &one, sizeof one);
  if (s.accept_thread.joinable()) s.accept_thread.join();
  // Every connection thread polls the wake eventfd, so each one ends soon;
  // shutting the TCP sockets down also ends a thread busy in a syscall.
  {
    std::lock_guard lock(s.mu);
    for (auto& c : s.conns)
      if (c->tcp) ::shutdown(c->tcp.get(), SHUT_RDWR);
  }
  for (auto& c : s.conns) c->thread.join();
  s.conns.clear();
  s.listen_fd.Reset();
}

}  // namespace moor::api
