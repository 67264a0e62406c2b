// UnixHttpClient: HTTP/1.1 requests over one kept-alive unix socket connection.
#include "api/http_client.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "api/wire.h"
#include "common/strings.h"

namespace moor::api {

struct UnixHttpClient::Head {
  int status = 0;
  Headers headers;
  bool http10 = false;
};

namespace {

using wire::ReadStatus;

constexpr size_t kMaxResponseHead = 1024 * 1024;

std::string BuildRequest(const std::string& method, const std::string& target, std::string_view body,
                         const Headers& extra, bool upgrade) {
  Headers h;
  h["host"] = "moor";
  h["user-agent"] = "moor-cli";
  if (!body.empty() || (method != "GET" && method != "HEAD")) {
    h["content-length"] = std::to_string(body.size());
  }
  // The API speaks JSON; callers sending something else (a tar) say so.
  if (!body.empty()) h["content-type"] = "application/json";
  if (upgrade) {
    h["connection"] = "Upgrade";
    h["upgrade"] = "tcp";
  }
  for (const auto& [k, v] : extra) {
    std::string key = k;
    for (char& c : key) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    h[key] = v;
  }
  std::string out = method + " " + target + " HTTP/1.1\r\n";
  for (const auto& [k, v] : h) out += k + ": " + v + "\r\n";
  out += "\r\n";
  out += body;
  return out;
}

bool ParseStatusLine(std::string_view line, int* status_out, bool* http10) {
  // "HTTP/1.1 200 OK" (the reason may be empty or missing).
  if (!StartsWith(line, "HTTP/1.") || line.size() < 12 || line[8] != ' ') return false;
  *http10 = line[7] == '0';
  auto status = ParseInt(line.substr(9, 3));
  if (!status || *status < 100 || *status > 999 || (line.size() > 12 && line[12] != ' ')) return false;
  *status_out = static_cast<int>(*status);
  return true;
}

std::string DescribeRead(ReadStatus st) {
  switch (st) {
    case ReadStatus::kEof: return "the moor daemon closed the connection before the response was complete";
    case ReadStatus::kTooLarge: return "the moor daemon sent an oversized response header";
    case ReadStatus::kMalformed: return "the moor daemon sent a malformed response";
    case ReadStatus::kTimeout: return "timed out waiting for the moor daemon";
    default: return std::string("read from the moor daemon: ") + std::strerror(errno);
  }
}

// The "message" of a Docker-style error body, or a line describing the status.
std::string ErrorMessage(int status, const std::string& body) {
  try {
    auto j = nlohmann::json::parse(body);
    if (j.is_object() && j.contains("message") && j["message"].is_string()) {
      return j["message"].get<std::string>();
    }
  } catch (const nlohmann::json::exception&) {
  }
  std::string text(Trim(body));
  if (!text.empty() && text.size() < 200 && text.find('\n') == std::string::npos) return text;
  return "the moor daemon answered " + std::to_string(status) + " " + ReasonPhrase(status);
}

bool IsSuccess(int status) { return status >= 200 && status < 300; }

}  // namespace

UnixHttpClient::UnixHttpClient(std::string socket_path) : socket_path_(std::move(socket_path)) {}

Result<void> UnixHttpClient::Connect() {
  conn_.Reset();
  buf_.clear();
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  auto fail = [&](int err) {
    return Fail(Error(err, "cannot connect to the moor daemon at " + socket_path_ + ": " +
                               std::strerror(err) + " (is `moor daemon` running?)"));
  };
  if (socket_path_.empty() || socket_path_.size() >= sizeof addr.sun_path) return fail(ENAMETOOLONG);
  std::memcpy(addr.sun_path, socket_path_.data(), socket_path_.size());
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return FailErrno("create socket");
  int rc;
  do {
    rc = ::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) return fail(errno);
  conn_ = std::move(fd);
  return {};
}

// Sends the request and reads the response head, reconnecting once when a
// kept-alive connection turns out to have been closed by the server before it
// answered anything (its idle timeout, a restart).
Result<void> UnixHttpClient::Exchange(const std::string& request, std::string* leftover, Head* head_out) {
  Head& head = *head_out;
  for (int attempt = 0;; ++attempt) {
    bool reused = conn_.valid();
    if (!reused) TRY(Connect());
    bool may_retry = reused && attempt == 0;
    if (!wire::SendAll(conn_.get(), request)) {
      int err = errno;
      conn_.Reset();
      if (may_retry) continue;
      return Fail(Error::FromErrno(err, "send request to the moor daemon"));
    }
    wire::Reader r(conn_.get(), -1);
    r.buffer() = std::move(buf_);
    buf_.clear();
    for (;;) {
      std::string text;
      ReadStatus st = wire::ReadHead(r, kMaxResponseHead, &text);
      if (st == ReadStatus::kEof && r.received() == 0 && may_retry) break;
      if (st != ReadStatus::kOk) {
        conn_.Reset();
        return FailInvalid(DescribeRead(st));
      }
      std::string line;
      head.headers.clear();
      bool ok = wire::ParseHead(text, &line, &head.headers) &&
                ParseStatusLine(line, &head.status, &head.http10);
      if (!ok) {
        conn_.Reset();
        return FailInvalid("the moor daemon sent a malformed response header");
      }
      // Interim responses ("100 Continue") precede the real one.
      if (head.status >= 100 && head.status < 200 && head.status != 101) continue;
      *leftover = std::move(r.buffer());
      return {};
    }
    conn_.Reset();  // closed by the server while idle: one fresh try
  }
}

Result<Response> UnixHttpClient::Run(const std::string& method, const std::string& target,
                                     std::string_view body, const Headers& headers,
                                     const std::function<bool(std::string_view)>* on_data) {
  std::string request = BuildRequest(method, target, body, headers, false);
  Head head;
  std::string leftover;
  TRY(Exchange(request, &leftover, &head));

  Response resp;
  resp.status = head.status;
  resp.headers = head.headers;
  // Error bodies are collected even when streaming: the caller shows their message.
  bool stream = on_data && IsSuccess(head.status);
  auto sink = [&](std::string_view piece) {
    if (stream) return (*on_data)(piece);
    resp.body.append(piece);
    return true;
  };
  wire::Reader r(conn_.get(), -1);
  r.buffer() = std::move(leftover);
  bool keep = !head.http10 && !wire::HasToken(head.headers, "connection", "close");
  ReadStatus st = ReadStatus::kOk;
  auto cl = head.headers.find("content-length");
  if (method == "HEAD" || head.status == 204 || head.status == 304 || head.status < 200) {
    // No body.
  } else if (wire::HasToken(head.headers, "transfer-encoding", "chunked")) {
    st = wire::ReadChunked(r, 0, sink);
  } else if (cl != head.headers.end()) {
    auto n = ParseUint(Trim(cl->second));
    if (!n) {
      conn_.Reset();
      return FailInvalid("the moor daemon sent an invalid content-length \"" + cl->second + "\"");
    }
    st = wire::ReadSized(r, *n, sink);
  } else {
    keep = false;
    st = wire::ReadUntilClose(r, sink);
  }
  if (st == ReadStatus::kStopped) {
    conn_.Reset();  // the rest of the body is unread: the connection cannot be reused
    return resp;
  }
  if (st != ReadStatus::kOk) {
    conn_.Reset();
    return FailInvalid(DescribeRead(st));
  }
  if (keep) {
    buf_ = std::move(r.buffer());
  } else {
    conn_.Reset();
    buf_.clear();
  }
  return resp;
}

Result<Response> UnixHttpClient::Do(const std::string& method, const std::string& target,
                                    std::string_view body, const Headers& headers) {
  return Run(method, target, body, headers, nullptr);
}

Result<Response> UnixHttpClient::Stream(const std::string& method, const std::string& target,
                                        std::string_view body,
                                        const std::function<bool(std::string_view)>& on_data,
                                        const Headers& headers) {
  return Run(method, target, body, headers, &on_data);
}

Result<UniqueFd> UnixHttpClient::Upgrade(const std::string& method, const std::string& target,
                                         std::string_view body, std::string* pending, int* status) {
  std::string request = BuildRequest(method, target, body, {}, true);
  Head head;
  std::string leftover;
  TRY(Exchange(request, &leftover, &head));
  if (status) *status = head.status;
  if (head.status == 101 || head.status == 200) {
    if (pending) *pending = std::move(leftover);
    buf_.clear();
    return std::move(conn_);
  }
  // A refusal: read its body for the message, then drop the connection (the
  // server may or may not keep it; a fresh one is simpler than guessing).
  std::string err_body;
  auto sink = [&](std::string_view piece) {
    err_body.append(piece);
    return err_body.size() < 1024 * 1024;
  };
  wire::Reader r(conn_.get(), -1);
  r.buffer() = std::move(leftover);
  auto cl = head.headers.find("content-length");
  if (wire::HasToken(head.headers, "transfer-encoding", "chunked")) {
    wire::ReadChunked(r, 0, sink);
  } else if (cl != head.headers.end()) {
    if (auto n = ParseUint(Trim(cl->second))) wire::ReadSized(r, *n, sink);
  } else if (head.status >= 200 && head.status != 204 && head.status != 304) {
    wire::ReadUntilClose(r, sink);
  }
  conn_.Reset();
  buf_.clear();
  return Fail(Error(0, ErrorMessage(head.status, err_body)));
}

}  // namespace moor::api
