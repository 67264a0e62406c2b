// A client connection to a daemon's API: the local daemon's unix socket, or a
// remote daemon's TLS endpoint (--deploy-addr) with a bearer token or a client
// certificate (libcurl). One interface, so `moor deploy` does not care which.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "api/http.h"
#include "common/error.h"

namespace moor::api {

class Transport {
 public:
  virtual ~Transport() = default;
  // One request. Any HTTP status is a success here (the caller reads it);
  // an error means no answer (connection refused, TLS failure, …) and says
  // what to check.
  virtual Result<Response> Do(const std::string& method, const std::string& target, std::string_view body,
                                   const Headers& headers = {}) = 0;
  // A streamed answer: on_data gets the body's bytes as they come (return
  // false to stop). Returns the status.
  virtual Result<int> Stream(const std::string& method, const std::string& target, std::string_view body,
                             const Headers& headers,
                             const std::function<bool(std::string_view)>& on_data) = 0;
  // "unix:///run/moor/moor.sock" or "https://node:8443".
  virtual std::string Describe() const = 0;
};

struct RemoteOptions {
  std::string url;      // https://HOST:PORT
  std::string token;    // bearer token ("" = none)
  std::string cert;     // client certificate (PEM file), with key
  std::string key;
  std::string cacert;   // CA (PEM file) to verify the server ("" = the system's)
};

std::unique_ptr<Transport> MakeUnixTransport(const std::string& socket_path);
Result<std::unique_ptr<Transport>> MakeHttpsTransport(const RemoteOptions& o);

}  // namespace moor::api
