// The deploy endpoint's TLS front (--deploy-addr): accepts TCP connections,
// runs the TLS handshake, and relays the decrypted bytes through a unix
// socketpair to an HttpServer (HttpServer::Adopt), so the fd-based HTTP code
// serves TLS clients unchanged. One thread per connection.
#pragma once

#include <memory>
#include <string>

#include "api/http_server.h"
#include "common/error.h"
#include "common/fd.h"

namespace moor::api {

struct TlsOptions {
  std::string cert{};     // server certificate chain (PEM file)
  std::string key{};      // its private key (PEM file)
  // CA (PEM file) that issues client certificates. Set: every client must
  // present a certificate it signed, and the certificate's subject CN is the
  // connection's PeerIdentity(). "": no client certificates; identity "" (the
  // handler checks a bearer token).
  std::string client_ca{};
  int handshake_timeout_ms = 10000;  // a client that has not finished the handshake by then is dropped
  int idle_timeout_ms = 15 * 60 * 1000;  // a relay with no traffic either way for this long is closed
  size_t max_connections = 256;      // connections beyond this are closed at once
};

class TlsListener {
 public:
  // Loads the certificate, key and client CA. Errors are one line naming the
  // file and what to do ("… does not match certificate …"). `server` must
  // outlive the listener (or at least its Stop()).
  static Result<std::unique_ptr<TlsListener>> Create(UniqueFd listen_fd, const TlsOptions& opts,
                                                     HttpServer& server);
  ~TlsListener();  // Stop()s
  TlsListener(const TlsListener&) = delete;
  TlsListener& operator=(const TlsListener&) = delete;

  // Accepts on a background thread until Stop().
  void Start();
  // Stops accepting, closes every connection (TLS and the HttpServer's end of
  // its pair) and joins every thread. Idempotent. The HttpServer may be
  // stopped before or after.
  void Stop();

 private:
  struct Impl;
  explicit TlsListener(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace moor::api
