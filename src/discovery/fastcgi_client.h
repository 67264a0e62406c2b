// A minimal FastCGI client (the "web server" side of the protocol): enough
// to GET a script from PHP-FPM — its ping.path for health checks and its
// status.path for metrics. One request per connection (keep_conn off).
//
// The record encoding and decoding (namespace fastcgi) is pure and tested
// without sockets; FastCgiGet() adds the socket exchange.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/error.h"

namespace moor::discovery {

struct FastCgiResponse {
  int status = 200;  // from the CGI "Status:" header; 200 when absent
  std::map<std::string, std::string> headers;  // names lower-cased; "status" removed
  std::string body;
  std::string stderr_text;  // what the application logged (FCGI_STDERR)
};

// GETs `script_path` (SCRIPT_NAME and SCRIPT_FILENAME) with `query` (no
// leading '?') from the FastCGI server at "IP:PORT". The whole exchange is
// bounded by timeout_ns; a stop request aborts it (ECANCELED).
Result<FastCgiResponse> FastCgiGet(const std::string& host_port, const std::string& script_path,
                                   const std::string& query, int64_t timeout_ns, std::stop_token stop = {});

namespace fastcgi {

inline constexpr uint8_t kVersion = 1;
inline constexpr size_t kHeaderSize = 8;
inline constexpr size_t kMaxContent = 65535;

enum class RecordType : uint8_t {
  kBeginRequest = 1,
  kAbortRequest = 2,
  kEndRequest = 3,
  kParams = 4,
  kStdin = 5,
  kStdout = 6,
  kStderr = 7,
  kData = 8,
  kGetValues = 9,
  kGetValuesResult = 10,
  kUnknownType = 11,
};

inline constexpr uint16_t kRoleResponder = 1;
inline constexpr uint8_t kFlagKeepConn = 1;

// FCGI_END_REQUEST protocolStatus values.
inline constexpr uint8_t kRequestComplete = 0;
inline constexpr uint8_t kCantMpxConn = 1;
inline constexpr uint8_t kOverloaded = 2;
inline constexpr uint8_t kUnknownRole = 3;

struct Record {
  RecordType type = RecordType::kUnknownType;
  uint16_t request_id = 0;
  std::string content;
};

using Params = std::vector<std::pair<std::string, std::string>>;

// One record: header, content (at most kMaxContent bytes), and padding to a
// multiple of 8 bytes as the specification recommends.
std::string EncodeRecord(RecordType type, uint16_t request_id, std::string_view content);
// A stream's records: `content` split into kMaxContent chunks, then the
// empty record that ends the stream.
std::string EncodeStream(RecordType type, uint16_t request_id, std::string_view content);

std::string EncodeBeginRequest(uint16_t request_id, uint16_t role, uint8_t flags);
std::string EncodeEndRequest(uint16_t request_id, uint32_t app_status, uint8_t protocol_status);

// Name-value pairs; lengths below 128 take one byte, longer ones four (with
// the high bit set).
std::string EncodeNameValues(const Params& params);
Result<Params> DecodeNameValues(std::string_view data);

struct EndRequest {
  uint32_t app_status = 0;
  uint8_t protocol_status = kRequestComplete;
};
Result<EndRequest> DecodeEndRequest(std::string_view content);

// The CGI environment of a GET for `script_path`.
Params GetRequestParams(const std::string& script_path, const std::string& query);
// Everything a client sends for a GET: BEGIN_REQUEST (responder, no
// keep_conn), PARAMS, the empty PARAMS, the empty STDIN.
std::string EncodeGetRequest(uint16_t request_id, const Params& params);

// Splits a byte stream into records. Feed() what arrives, then call Next()
// until it yields nothing; an error means the stream is not FastCGI.
class RecordDecoder {
 public:
  void Feed(std::string_view data) { buf_.append(data); }
  Result<std::optional<Record>> Next();
  size_t buffered() const { return buf_.size() - pos_; }

 private:
  std::string buf_;
  size_t pos_ = 0;
};

// A CGI response (the FCGI_STDOUT stream): header lines up to an empty line,
// then the body. "Status: 404 Not Found" sets the status; lines may end in
// CRLF or LF.
Result<FastCgiResponse> ParseCgiResponse(std::string_view stdout_data);

}  // namespace fastcgi
}  // namespace moor::discovery
