// The probes: tcp connect, HTTP(S) GET through libcurl's easy interface,
// FastCGI (PHP-FPM's ping page), and exec inside the container. Each turns
// what it saw into one line an operator can act on.
#include "discovery/probes.h"

#include <curl/curl.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include "common/strings.h"
#include "discovery/dial.h"
#include "discovery/fastcgi_client.h"

namespace moor::discovery {
namespace {

// Body bytes kept for body_match and the output; more is not read.
constexpr size_t kMaxBody = 64 * 1024;
// Body bytes quoted in an output line.
constexpr size_t kSnippet = 120;

CheckResult Critical(std::string output) { return {Health::kCritical, std::move(output)}; }

// The first kSnippet bytes of a body on one line.
std::string Snippet(std::string_view body) {
  std::string out;
  for (char c : Trim(body)) {
    if (out.size() >= kSnippet) {
      out += "...";
      break;
    }
    bool space = c == '\n' || c == '\r' || c == '\t';
    if (space && !out.empty() && out.back() == ' ') continue;
    out.push_back(space ? ' ' : c);
  }
  return out;
}

// Consul's rule: the expected status (any 2xx by default) passes, 429 Too
// Many Requests warns (the service is up but shedding load), else critical.
Health StatusHealth(long status, int expect_status) {
  bool ok = expect_status != 0 ? status == expect_status : status >= 200 && status < 300;
  if (ok) return Health::kPassing;
  return status == 429 ? Health::kWarning : Health::kCritical;
}

// ---- tcp ----

CheckResult ProbeTcp(const CheckDef& def, const std::stop_token& stop) {
  auto fd = DialTcp(def.target, DeadlineAfter(def.timeout_ns), def.timeout_ns, stop);
  if (!fd) return Critical(fd.error().message());
  return {Health::kPassing, "TCP connect " + def.target + ": ok"};
}

// ---- http ----

void CurlGlobalInit() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// State of one transfer, shared with libcurl's callbacks. Curl's sockets
// are tracked so a stop request can shut them down: that wakes libcurl's
// wait at once, where its progress callback alone may lag by a second.
struct HttpTransfer {
  long status = 0;
  std::string reason;
  std::string body;
  bool body_truncated = false;
  std::stop_token stop;

  std::mutex mu;
  std::vector<curl_socket_t> sockets;  // guarded by mu
  bool stopped = false;                // guarded by mu

  void ShutdownSockets() {
    std::lock_guard lock(mu);
    stopped = true;
    for (curl_socket_t s : sockets) ::shutdown(s, SHUT_RDWR);
  }
};

size_t OnHeader(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<HttpTransfer*>(user);
  std::string_view line(data, size * n);
  if (StartsWith(line, "HTTP/")) {
    // A new response (after a redirect or 100 Continue) starts over.
    t->body.clear();
    t->body_truncated = false;
    line = Trim(line);
    size_t sp = line.find(' ');
    if (sp != std::string_view::npos) {
      std::string_view rest = line.substr(sp + 1);
      t->status = static_cast<long>(ParseInt(rest.substr(0, 3)).value_or(0));
      t->reason = rest.size() > 4 ? std::string(Trim(rest.substr(4))) : "";
    }
  }
  return size * n;
}

size_t OnBody(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<HttpTransfer*>(user);
  size_t len = size * n;
  size_t room = kMaxBody - t->body.size();
  if (len > room) {
    t->body.append(data, room);
    t->body_truncated = true;
    return 0;  // enough: ends the transfer (CURLE_WRITE_ERROR, then ignored)
  }
  t->body.append(data, len);
  return len;
}

int OnProgress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<HttpTransfer*>(user)->stop.stop_requested() ? 1 : 0;
}

curl_socket_t OnOpenSocket(void* user, curlsocktype, curl_sockaddr* addr) {
  auto* t = static_cast<HttpTransfer*>(user);
  std::lock_guard lock(t->mu);
  if (t->stopped) return CURL_SOCKET_BAD;
  int fd = ::socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
  if (fd >= 0) t->sockets.push_back(fd);
  return fd >= 0 ? fd : CURL_SOCKET_BAD;
}

int OnCloseSocket(void* user, curl_socket_t fd) {
  auto* t = static_cast<HttpTransfer*>(user);
  std::lock_guard lock(t->mu);
  std::erase(t->sockets, fd);
  return ::close(fd);
}

CheckResult ProbeHttp(const CheckDef& def, const std::stop_token& stop) {
  CurlGlobalInit();
  std::string method = def.method.empty() ? "GET" : def.method;
  std::string what = "HTTP " + method + " " + def.target;

  HttpTransfer t;
  t.stop = stop;
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return Critical(what + ": cannot initialise libcurl");
  std::unique_ptr<curl_slist, SlistDeleter> headers;
  bool has_agent = false, has_accept = false;
  for (const auto& [name, value] : def.headers) {
    has_agent |= strcasecmp(name.c_str(), "User-Agent") == 0;
    has_accept |= strcasecmp(name.c_str(), "Accept") == 0;
    headers.reset(curl_slist_append(headers.release(), (name + ": " + value).c_str()));
  }
  if (!has_agent) headers.reset(curl_slist_append(headers.release(), "User-Agent: moor health check"));
  if (!has_accept) headers.reset(curl_slist_append(headers.release(), "Accept: text/plain, text/*, */*"));

  long timeout_ms = std::max<long>(1, static_cast<long>(def.timeout_ns / 1'000'000));
  char errbuf[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, def.target.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
  // Checks target container addresses on local bridges: an environment
  // proxy would only get in the way.
  curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  if (method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  if (def.tls_skip_verify) {
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, OnHeader);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, OnBody);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, OnProgress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETFUNCTION, OnOpenSocket);
  curl_easy_setopt(c, CURLOPT_OPENSOCKETDATA, &t);
  curl_easy_setopt(c, CURLOPT_CLOSESOCKETFUNCTION, OnCloseSocket);
  curl_easy_setopt(c, CURLOPT_CLOSESOCKETDATA, &t);

  CURLcode rc;
  {
    // Declared after `curl`, so it is gone before curl closes its sockets.
    std::stop_callback on_stop(stop, [&t] { t.ShutdownSockets(); });
    rc = curl_easy_perform(c);
  }
  if (stop.stop_requested()) return Critical(what + ": canceled");
  if (rc == CURLE_WRITE_ERROR && t.body_truncated) rc = CURLE_OK;
  if (rc == CURLE_OPERATION_TIMEDOUT) return Critical(what + ": timed out after " + FormatDurationNs(def.timeout_ns));
  if (rc == CURLE_COULDNT_CONNECT) {
    // libcurl 7.88 says only "Couldn't connect to server"; the errno says why.
    long os_errno = 0;
    curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
    if (os_errno != 0) {
      std::string why = std::strerror(static_cast<int>(os_errno));
      if (!why.empty()) why[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(why[0])));
      return Critical(what + ": connect: " + why);
    }
  }
  if (rc != CURLE_OK) return Critical(what + ": " + (errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc)));

  std::string line = what + ": " + std::to_string(t.status) + (t.reason.empty() ? "" : " " + t.reason);
  Health h = StatusHealth(t.status, def.expect_status);
  if (h == Health::kPassing && !def.body_match.empty() && t.body.find(def.body_match) == std::string::npos) {
    return Critical(line + ", body does not contain \"" + def.body_match + "\"" +
                    (t.body.empty() ? "" : ": " + Snippet(t.body)));
  }
  if (h != Health::kPassing && !t.body.empty()) line += ": " + Snippet(t.body);
  return {h, line};
}

// ---- fastcgi ----

CheckResult ProbeFastCgi(const CheckDef& def, const std::stop_token& stop) {
  std::string what = "FastCGI " + def.path;
  auto resp = FastCgiGet(def.target, def.path, "", def.timeout_ns, stop);
  if (!resp) return Critical(what + ": " + resp.error().message());
  Health h = StatusHealth(resp->status, def.expect_status != 0 ? def.expect_status : 200);
  std::string line = what + ": " + std::to_string(resp->status);
  std::string body = Snippet(resp->body);
  if (!body.empty()) line += " " + body;
  if (h != Health::kPassing && !resp->stderr_text.empty()) line += " (" + Snippet(resp->stderr_text) + ")";
  if (h == Health::kPassing && !def.body_match.empty() && resp->body.find(def.body_match) == std::string::npos) {
    return Critical(line + ", body does not contain \"" + def.body_match + "\"");
  }
  return {h, line};
}

// ---- exec ----

CheckResult ProbeExec(const CheckDef& def, ContainerOps* ops) {
  std::string what = "exec " + (def.args.empty() ? std::string("") : def.args[0]);
  if (ops == nullptr) return Critical(what + ": no container engine to run it");
  auto out = ops->Exec(def.container_id, def.args, def.timeout_ns);
  if (!out) return Critical(what + ": " + out.error().message());
  if (out->timed_out) return Critical(what + ": timed out after " + FormatDurationNs(def.timeout_ns));
  // Consul's script semantics: 0 passing, 1 warning, anything else critical.
  Health h = out->exit_code == 0   ? Health::kPassing
             : out->exit_code == 1 ? Health::kWarning
                                   : Health::kCritical;
  std::string text(Trim(out->output));
  if (text.empty()) text = what + ": exit status " + std::to_string(out->exit_code);
  return {h, text};
}

}  // namespace

CheckResult RunProbe(const CheckDef& def, ContainerOps* ops, std::stop_token stop) {
  if (def.type == "tcp") return ProbeTcp(def, stop);
  if (def.type == "http") return ProbeHttp(def, stop);
  if (def.type == "fastcgi") return ProbeFastCgi(def, stop);
  if (def.type == "exec") return ProbeExec(def, ops);
  return Critical("check type \"" + def.type + "\" has no probe");
}

CheckResult RunProbe(const CheckDef& def, ContainerOps* ops) { return RunProbe(def, ops, std::stop_token{}); }

}  // namespace moor::discovery
