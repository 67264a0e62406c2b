// A small HTTP/1.1 server for moor's API: unix sockets (the daemon's socket)
// and TCP (later: Consul-compatible API, metrics). One thread per connection;
// keep-alive; request bodies by Content-Length or chunked; responses either
// whole, streamed (chunked transfer encoding, for logs -f, events, wait) or
// hijacked after "101 Switching Protocols" / "200" for raw bidirectional
// streams (attach, exec).
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/http.h"
#include "common/error.h"
#include "common/fd.h"

namespace moor::api {

// Passed to a handler; exactly one of Send / StartStream / Hijack is used
// (a second one is ignored and logged). If the handler returns without using
// any, the server sends 500. Valid only until the handler returns; Write() and
// ClientGone() may be called from other threads meanwhile. A "connection:
// close" header from the handler closes the connection after the response.
class ResponseWriter {
 public:
  virtual ~ResponseWriter() = default;
  virtual void Send(Response r) = 0;
  // Convenience: JSON body with content-type application/json.
  void SendJson(int status, std::string json);
  // Error body in Docker's shape: {"message": "..."}.
  void SendError(int status, std::string_view message);

  // Sends status + headers with "transfer-encoding: chunked". Then Write()
  // sends one chunk per call (empty writes are skipped); returns false once
  // the client has gone or the server is stopping (the handler should stop).
  // The stream ends when the handler returns.
  virtual void StartStream(int status, Headers headers) = 0;
  virtual bool Write(std::string_view chunk) = 0;
  // True once the peer closed its side (poll without blocking) or the server
  // is stopping; lets a streaming handler that waits on something else notice
  // a gone client. Handlers that block must poll it (or Write) so Stop() can
  // finish: Stop() joins every connection thread.
  virtual bool ClientGone() = 0;

  // Sends `status` (101 with "connection: Upgrade" + "upgrade: tcp" when the
  // request asked for an upgrade, else 200) with the headers, then gives the
  // connection's fd to the handler: the server stops using it. Bytes the
  // server had read past the request are returned in `pending`. The fd is a
  // dup: the server keeps its own until the handler returns, so Stop() can
  // still shut the connection down under a handler blocked on it (its reads
  // then see EOF, writes fail). Use send(MSG_NOSIGNAL) or ignore SIGPIPE.
  virtual UniqueFd Hijack(Headers headers, std::string* pending) = 0;

  // Credentials of the peer on a unix socket (SO_PEERCRED); -1 on TCP and on
  // adopted connections (their socket's peer is the process itself).
  virtual int PeerUid() const = 0;
  // Who the peer proved to be, as given to HttpServer::Adopt (a TLS client
  // certificate's CN); "" on accepted connections and when the peer proved
  // nothing (the handler then checks a bearer token).
  virtual std::string PeerIdentity() const { return ""; }
};

using Handler = std::function<void(const Request&, ResponseWriter&)>;

// Routes "METHOD pattern" to handlers. A pattern is a path with "{name}"
// segments ("/containers/{id}/start"); a final "{name*}" segment matches the
// rest of the path including slashes ("/v1/kv/{key*}"). An optional version
// prefix "/v1.41" (any "/vN.N") is stripped before matching, as Docker does.
// Unknown path → 404 {"message":"page not found"}; known path with another
// method → 405.
class Router {
 public:
  // Told once per dispatched request: its method, the matched route's
  // pattern as registered ("/containers/{id}/start"; "other" for 404/405),
  // the status sent and the seconds until the response's head went out (for
  // streams and hijacks: until they started; 500 when the handler sent
  // nothing). For metrics; api itself does not depend on them.
  using Observer = std::function<void(std::string_view method, std::string_view route, int status, double seconds)>;
  // Set before serving (not synchronised with Dispatch).
  void SetObserver(Observer o) { observer_ = std::move(o); }

  void Handle(std::string method, std::string pattern, Handler h);
  // Fills req.params (percent-decoded) and req.path (decoded, version prefix
  // removed) and calls the handler (or answers 404/405). The most specific
  // pattern wins (literal segments over "{name}"); HEAD falls back to GET.
  void Dispatch(Request& req, ResponseWriter& w) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };
  std::vector<Route> routes_;
  Observer observer_;
};

struct ServerOptions {
  size_t max_header_bytes = 64 * 1024;
  size_t max_body_bytes = 64 * 1024 * 1024;
  int idle_timeout_ms = 120000;  // keep-alive connections idle longer are closed
};

class HttpServer {
 public:
  // Takes a listening socket (see ListenUnix / ListenTcp). An invalid fd
  // means no accept loop: the server then serves only Adopt()ed connections.
  HttpServer(UniqueFd listen_fd, const Router& router, ServerOptions opts = {});
  // A server without a listening socket, for Adopt() only (the TLS endpoint).
  explicit HttpServer(const Router& router, ServerOptions opts = {});
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Accepts on a background thread until Stop().
  void Start();
  // Stops accepting, shuts down open connections, joins every thread.
  // Idempotent; must not be called from a handler (it would join itself).
  // A stream cut by Stop() ends without its terminating chunk, so clients see
  // it was cut.
  void Stop();

  // Serves an already-accepted connection on its own thread exactly like an
  // accepted one (keep-alive, streaming, shut down and joined by Stop());
  // its handlers see `identity` as PeerIdentity(). Works with or without
  // Start(); thread-safe. After Stop() the connection is closed at once.
  void Adopt(UniqueFd conn, std::string identity);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Binds a unix stream socket at path with the given mode (0600 for the
// daemon); an existing stale socket file is replaced, a live one (something
// accepts on it) is an error "… is in use by another process".
Result<UniqueFd> ListenUnix(const std::string& path, unsigned mode);
// "127.0.0.1:8500", "[::1]:8500", ":8500" (all addresses).
Result<UniqueFd> ListenTcp(const std::string& address);

}  // namespace moor::api
