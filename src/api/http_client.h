// The client side of moor's API over a unix socket (the CLI → daemon).
// One connection per client object, reused between requests (keep-alive),
// reconnected when the server closed it.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "api/http.h"
#include "common/error.h"
#include "common/fd.h"

namespace moor::api {

class UnixHttpClient {
 public:
  explicit UnixHttpClient(std::string socket_path);

  // Whole response (chunked bodies are joined). A failure to connect says
  // "cannot connect to the moor daemon at PATH: … (is `moor daemon` running?)".
  Result<Response> Do(const std::string& method, const std::string& target, std::string_view body = {},
                      const Headers& headers = {});

  // Streams the body: on_data gets each piece as it arrives (chunk framing
  // removed); return false from it to stop early (the connection is closed).
  // Returns status and headers (body empty). A non-2xx response is not
  // streamed: its body (the error message) is returned in Response::body.
  Result<Response> Stream(const std::string& method, const std::string& target, std::string_view body,
                          const std::function<bool(std::string_view)>& on_data, const Headers& headers = {});

  // Sends the request with "connection: Upgrade, upgrade: tcp" and returns
  // the raw connection once the server answered 101 or 200 (status in
  // *status, bytes already read after the header in *pending). Any other
  // status is returned as an error carrying the body's "message".
  Result<UniqueFd> Upgrade(const std::string& method, const std::string& target, std::string_view body,
                           std::string* pending, int* status = nullptr);

 private:
  struct Head;  // status line + headers of a response
  Result<void> Connect();
  // Sends request, reads the response head; bytes read past it go to *leftover.
  Result<void> Exchange(const std::string& request, std::string* leftover, Head* head);
  Result<Response> Run(const std::string& method, const std::string& target, std::string_view body,
                       const Headers& headers, const std::function<bool(std::string_view)>* on_data);

  std::string socket_path_;
  UniqueFd conn_;
  std::string buf_;  // bytes received past the last response on conn_
};

}  // namespace moor::api
