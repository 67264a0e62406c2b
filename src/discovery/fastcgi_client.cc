#include "discovery/fastcgi_client.h"

#include <cctype>

#include "common/strings.h"
#include "discovery/dial.h"

namespace moor::discovery {
namespace fastcgi {
namespace {

void PutLength(std::string* out, size_t len) {
  if (len < 128) {
    out->push_back(static_cast<char>(len));
    return;
  }
  out->push_back(static_cast<char>(((len >> 24) & 0x7f) | 0x80));
  out->push_back(static_cast<char>((len >> 16) & 0xff));
  out->push_back(static_cast<char>((len >> 8) & 0xff));
  out->push_back(static_cast<char>(len & 0xff));
}

uint8_t Byte(std::string_view s, size_t i) { return static_cast<uint8_t>(s[i]); }

// Reads one encoded length at *pos; false when the data ends inside it.
bool GetLength(std::string_view data, size_t* pos, size_t* len) {
  if (*pos >= data.size()) return false;
  uint8_t b0 = Byte(data, *pos);
  if ((b0 & 0x80) == 0) {
    *len = b0;
    *pos += 1;
    return true;
  }
  if (*pos + 4 > data.size()) return false;
  *len = (static_cast<size_t>(b0 & 0x7f) << 24) | (static_cast<size_t>(Byte(data, *pos + 1)) << 16) |
         (static_cast<size_t>(Byte(data, *pos + 2)) << 8) | Byte(data, *pos + 3);
  *pos += 4;
  return true;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

std::string EncodeRecord(RecordType type, uint16_t request_id, std::string_view content) {
  if (content.size() > kMaxContent) content = content.substr(0, kMaxContent);  // callers split; never overflow
  size_t padding = (8 - content.size() % 8) % 8;
  std::string out;
  out.reserve(kHeaderSize + content.size() + padding);
  out.push_back(static_cast<char>(kVersion));
  out.push_back(static_cast<char>(type));
  out.push_back(static_cast<char>(request_id >> 8));
  out.push_back(static_cast<char>(request_id & 0xff));
  out.push_back(static_cast<char>(content.size() >> 8));
  out.push_back(static_cast<char>(content.size() & 0xff));
  out.push_back(static_cast<char>(padding));
  out.push_back('\0');  // reserved
  out.append(content);
  out.append(padding, '\0');
  return out;
}

std::string EncodeStream(RecordType type, uint16_t request_id, std::string_view content) {
  std::string out;
  while (!content.empty()) {
    size_t n = std::min(content.size(), kMaxContent);
    out += EncodeRecord(type, request_id, content.substr(0, n));
    content.remove_prefix(n);
  }
  out += EncodeRecord(type, request_id, {});
  return out;
}

std::string EncodeBeginRequest(uint16_t request_id, uint16_t role, uint8_t flags) {
  char body[8] = {static_cast<char>(role >> 8), static_cast<char>(role & 0xff), static_cast<char>(flags)};
  return EncodeRecord(RecordType::kBeginRequest, request_id, std::string_view(body, sizeof body));
}

std::string EncodeEndRequest(uint16_t request_id, uint32_t app_status, uint8_t protocol_status) {
  char body[8] = {static_cast<char>(app_status >> 24), static_cast<char>((app_status >> 16) & 0xff),
                  static_cast<char>((app_status >> 8) & 0xff), static_cast<char>(app_status & 0xff),
                  static_cast<char>(protocol_status)};
  return EncodeRecord(RecordType::kEndRequest, request_id, std::string_view(body, sizeof body));
}

std::string EncodeNameValues(const Params& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    PutLength(&out, name.size());
    PutLength(&out, value.size());
    out += name;
    out += value;
  }
  return out;
}

Result<Params> DecodeNameValues(std::string_view data) {
  Params out;
  size_t pos = 0;
  while (pos < data.size()) {
    size_t name_len = 0, value_len = 0;
    if (!GetLength(data, &pos, &name_len) || !GetLength(data, &pos, &value_len) ||
        name_len > data.size() - pos || value_len > data.size() - pos - name_len) {
      return FailInvalid("FastCGI name-value pairs: truncated at byte " + std::to_string(pos));
    }
    std::string name(data.substr(pos, name_len));
    std::string value(data.substr(pos + name_len, value_len));
    out.emplace_back(std::move(name), std::move(value));
    pos += name_len + value_len;
  }
  return out;
}

Result<EndRequest> DecodeEndRequest(std::string_view content) {
  if (content.size() < 8) return FailInvalid("FastCGI END_REQUEST: body of " + std::to_string(content.size()) + " bytes, want 8");
  EndRequest end;
  end.app_status = (static_cast<uint32_t>(Byte(content, 0)) << 24) | (static_cast<uint32_t>(Byte(content, 1)) << 16) |
                   (static_cast<uint32_t>(Byte(content, 2)) << 8) | Byte(content, 3);
  end.protocol_status = Byte(content, 4);
  return end;
}

Params GetRequestParams(const std::string& script_path, const std::string& query) {
  std::string uri = query.empty() ? script_path : script_path + "?" + query;
  return {
      {"GATEWAY_INTERFACE", "CGI/1.1"},
      {"SERVER_SOFTWARE", "moor"},
      {"SERVER_PROTOCOL", "HTTP/1.1"},
      {"SERVER_NAME", "localhost"},
      {"REQUEST_METHOD", "GET"},
      {"SCRIPT_NAME", script_path},
      {"SCRIPT_FILENAME", script_path},
      {"DOCUMENT_URI", script_path},
      {"REQUEST_URI", uri},
      {"QUERY_STRING", query},
      {"REMOTE_ADDR", "127.0.0.1"},
      {"CONTENT_TYPE", ""},
      {"CONTENT_LENGTH", "0"},
  };
}

std::string EncodeGetRequest(uint16_t request_id, const Params& params) {
  return EncodeBeginRequest(request_id, kRoleResponder, 0) +
         EncodeStream(RecordType::kParams, request_id, EncodeNameValues(params)) +
         EncodeRecord(RecordType::kStdin, request_id, {});
}

Result<std::optional<Record>> RecordDecoder::Next() {
  std::string_view rest = std::string_view(buf_).substr(pos_);
  if (rest.size() < kHeaderSize) return std::nullopt;
  if (Byte(rest, 0) != kVersion) {
    return FailInvalid("FastCGI: record version " + std::to_string(Byte(rest, 0)) +
                       ", want 1 (is the address a FastCGI server?)");
  }
  size_t content_len = (static_cast<size_t>(Byte(rest, 4)) << 8) | Byte(rest, 5);
  size_t padding = Byte(rest, 6);
  if (rest.size() < kHeaderSize + content_len + padding) return std::nullopt;
  Record rec;
  rec.type = static_cast<RecordType>(Byte(rest, 1));
  rec.request_id = static_cast<uint16_t>((Byte(rest, 2) << 8) | Byte(rest, 3));
  rec.content.assign(rest.substr(kHeaderSize, content_len));
  pos_ += kHeaderSize + content_len + padding;
  // Drop consumed bytes now and then so a long stream does not pile up.
  if (pos_ > 65536 && pos_ * 2 > buf_.size()) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  return rec;
}

Result<FastCgiResponse> ParseCgiResponse(std::string_view data) {
  if (data.empty()) return FailInvalid("FastCGI: empty response (no CGI headers)");
  FastCgiResponse resp;
  size_t pos = 0;
  for (;;) {
    size_t eol = data.find('\n', pos);
    if (eol == std::string_view::npos) return FailInvalid("FastCGI: response headers do not end with an empty line");
    std::string_view line = data.substr(pos, eol - pos);
    pos = eol + 1;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;
    size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      return FailInvalid("FastCGI: malformed response header \"" + std::string(line) + "\"");
    }
    std::string name = Lower(Trim(line.substr(0, colon)));
    std::string value(Trim(line.substr(colon + 1)));
    if (name == "status") {
      auto code = ParseInt(value.substr(0, value.find(' ')));
      if (!code || *code < 100 || *code > 999) return FailInvalid("FastCGI: bad Status header \"" + value + "\"");
      resp.status = static_cast<int>(*code);
      continue;
    }
    // Repeated headers (Set-Cookie) are joined as HTTP allows for most.
    auto [it, inserted] = resp.headers.emplace(name, value);
    if (!inserted) it->second += ", " + value;
  }
  resp.body.assign(data.substr(pos));
  return resp;
}

}  // namespace fastcgi

namespace {
// Status pages are small; this bounds what a misbehaving peer can make us hold.
constexpr size_t kMaxResponse = 1 << 20;
constexpr uint16_t kRequestId = 1;
}  // namespace

Result<FastCgiResponse> FastCgiGet(const std::string& host_port, const std::string& script_path,
                                   const std::string& query, int64_t timeout_ns, std::stop_token stop) {
  using fastcgi::RecordType;
  Deadline deadline = DeadlineAfter(timeout_ns);
  UniqueFd fd = TRY(DialTcp(host_port, deadline, timeout_ns, stop));
  SocketIo io(fd.get(), deadline, timeout_ns, stop);
  TRY(io.WriteAll(fastcgi::EncodeGetRequest(kRequestId, fastcgi::GetRequestParams(script_path, query)),
                  "write tcp " + host_port));

  std::string what = "read tcp " + host_port;
  fastcgi::RecordDecoder decoder;
  std::string out, err;
  char buf[16384];
  for (;;) {
    size_t n = TRY(io.ReadSome(buf, sizeof buf, what));
    if (n == 0) return FailInvalid("FastCGI " + host_port + ": connection closed before the end of the response");
    decoder.Feed(std::string_view(buf, n));
    for (;;) {
      auto rec = TRY_CTX(decoder.Next(), host_port);
      if (!rec) break;
      if (rec->request_id != kRequestId) continue;  // management records (id 0) and strays
      switch (rec->type) {
        case RecordType::kStdout:
          out += rec->content;
          break;
        case RecordType::kStderr:
          err += rec->content;
          break;
        case RecordType::kEndRequest: {
          auto end = TRY_CTX(fastcgi::DecodeEndRequest(rec->content), host_port);
          if (end.protocol_status != fastcgi::kRequestComplete) {
            static constexpr const char* kWhy[] = {"complete", "cannot multiplex", "overloaded", "unknown role"};
            std::string why = end.protocol_status < 4 ? kWhy[end.protocol_status]
                                                      : "status " + std::to_string(end.protocol_status);
            return Fail(Error(EPROTO, "FastCGI " + host_port + ": request rejected (" + why + ")"));
          }
          auto parsed = fastcgi::ParseCgiResponse(out);
          if (!parsed && !err.empty()) {
            // Without headers the application's own complaint says most.
            std::string first(Trim(err.substr(0, err.find('\n'))));
            return Fail(Error(EPROTO, "FastCGI " + host_port + ": " + parsed.error().message() + "; stderr: " + first));
          }
          auto resp = TRY_CTX(std::move(parsed), host_port);
          resp.stderr_text = std::move(err);
          return resp;
        }
        default:
          break;
      }
      if (out.size() + err.size() > kMaxResponse) {
        return FailInvalid("FastCGI " + host_port + ": response larger than 1 MiB");
      }
    }
  }
}

}  // namespace moor::discovery
