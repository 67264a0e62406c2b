// Router and the ResponseWriter conveniences.
#include <cctype>
#include <chrono>
#include <optional>

#include "api/http_server.h"
#include "common/strings.h"

namespace moor::api {

void ResponseWriter::SendJson(int status, std::string json) {
  Response r;
  r.status = status;
  r.headers["content-type"] = "application/json";
  r.body = std::move(json);
  Send(std::move(r));
}

void ResponseWriter::SendError(int status, std::string_view message) {
  SendJson(status, "{\"message\":" + JsonQuote(message) + "}\n");
}

namespace {

// Raw (still percent-encoded) path segments with their offsets in the path,
// empty segments dropped so "/a//b/" matches "/a/b".
struct Segment {
  std::string_view text;
  size_t offset;
};

std::vector<Segment> SplitPath(std::string_view path) {
  std::vector<Segment> out;
  size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    size_t end = path.find('/', i);
    if (end == std::string_view::npos) end = path.size();
    out.push_back({path.substr(i, end - i), i});
    i = end;
  }
  return out;
}

// Docker clients prefix every path with the API version ("/v1.41/containers/json").
std::string_view StripVersion(std::string_view path) {
  if (path.size() < 5 || path[0] != '/' || path[1] != 'v') return path;
  size_t i = 2;
  auto digits = [&] {
    size_t start = i;
    while (i < path.size() && std::isdigit(static_cast<unsigned char>(path[i]))) ++i;
    return i > start;
  };
  if (!digits() || i >= path.size() || path[i] != '.') return path;
  ++i;
  if (!digits()) return path;
  if (i < path.size() && path[i] != '/') return path;
  return path.substr(i);
}

bool IsParam(const std::string& seg) { return seg.size() >= 2 && seg.front() == '{' && seg.back() == '}'; }
bool IsRest(const std::string& seg) { return IsParam(seg) && seg.size() >= 3 && seg[seg.size() - 2] == '*'; }

bool Match(const std::vector<std::string>& pattern, std::string_view raw_path,
           const std::vector<Segment>& segs, std::map<std::string, std::string>* params) {
  std::map<std::string, std::string> got;
  for (size_t i = 0; i < pattern.size(); ++i) {
    const std::string& p = pattern[i];
    if (IsRest(p)) {
      // Literal segments after the rest parameter ("/images/{name*}/json")
      // match the path's last segments; the rest is what lies between them
      // (slashes kept) and is then at least one segment. Without a tail the
      // rest is the remainder of the path, possibly empty.
      const size_t tail = pattern.size() - i - 1;
      std::string_view rest;
      if (tail > 0) {
        if (segs.size() < i + 1 + tail) return false;
        const size_t first_tail = segs.size() - tail;
        for (size_t k = 0; k < tail; ++k) {
          if (IsParam(pattern[i + 1 + k]) || PercentDecode(segs[first_tail + k].text) != pattern[i + 1 + k])
            return false;
        }
        // Up to the '/' before the first tail segment.
        rest = raw_path.substr(segs[i].offset, segs[first_tail].offset - 1 - segs[i].offset);
      } else if (i < segs.size()) {
        rest = raw_path.substr(segs[i].offset);
      }
      got[p.substr(1, p.size() - 3)] = PercentDecode(rest);
      *params = std::move(got);
      return true;
    }
    if (i >= segs.size()) return false;
    if (IsParam(p)) {
      got[p.substr(1, p.size() - 2)] = PercentDecode(segs[i].text);
    } else if (PercentDecode(segs[i].text) != p) {
      return false;
    }
  }
  if (pattern.size() != segs.size()) return false;
  *params = std::move(got);
  return true;
}

// Passes everything through to the real writer and notes when and with which
// status the response's head went out, for the router's observer.
class ObservingWriter : public ResponseWriter {
 public:
  explicit ObservingWriter(ResponseWriter& w) : w_(w), start_(std::chrono::steady_clock::now()) {}

  void Send(Response r) override {
    Note(r.status);
    w_.Send(std::move(r));
  }
  void StartStream(int code, Headers headers) override {
    Note(code);
    w_.StartStream(code, std::move(headers));
  }
  bool Write(std::string_view chunk) override { return w_.Write(chunk); }
  bool ClientGone() override { return w_.ClientGone(); }
  UniqueFd Hijack(Headers headers, std::string* pending) override {
    Note(200);  // 101 or 200; the client got its upgrade either way
    return w_.Hijack(std::move(headers), pending);
  }
  int PeerUid() const override { return w_.PeerUid(); }
  std::string PeerIdentity() const override { return w_.PeerIdentity(); }

  int status = 0;  // 0: nothing sent yet
  double seconds = 0;

  // The first call wins: when the response's head went out.
  void Note(int s) {
    if (status != 0) return;
    status = s;
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  ResponseWriter& w_;
  std::chrono::steady_clock::time_point start_;
};

// Methods outside this set are reported as "other" (a client chooses them freely).
std::string_view KnownMethod(std::string_view m) {
  for (std::string_view k : {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"}) {
    if (m == k) return k;
  }
  return "other";
}

}  // namespace

void Router::Handle(std::string method, std::string pattern, Handler h) {
  Route r;
  r.method = std::move(method);
  for (const Segment& s : SplitPath(pattern)) r.segments.emplace_back(s.text);
  r.pattern = std::move(pattern);
  r.handler = std::move(h);
  routes_.push_back(std::move(r));
}

void Router::Dispatch(Request& req, ResponseWriter& real) const {
  std::optional<ObservingWriter> observing;
  if (observer_) observing.emplace(real);
  ResponseWriter& w = observing ? static_cast<ResponseWriter&>(*observing) : real;
  // Match on the raw path so an encoded '/' ("%2F") inside an id stays in its segment.
  std::string_view raw = req.target;
  raw = raw.substr(0, raw.find('?'));
  raw = StripVersion(raw);
  req.path = PercentDecode(raw);
  std::vector<Segment> segs = SplitPath(raw);
  // The most specific match wins ("/containers/prune" over "/containers/{id}"),
  // then the first registered; HEAD falls back to GET.
  const Route* best = nullptr;
  int best_score = -1;
  std::map<std::string, std::string> best_params;
  bool path_known = false;
  for (const Route& route : routes_) {
    std::map<std::string, std::string> params;
    if (!Match(route.segments, raw, segs, &params)) continue;
    path_known = true;
    int score = 0;
    for (const std::string& seg : route.segments) score = score * 2 + (IsParam(seg) ? 0 : 1);
    score = score * 2 + (route.method == req.method ? 1 : 0);
    if (route.method != req.method && !(req.method == "HEAD" && route.method == "GET")) continue;
    if (score > best_score) {
      best = &route;
      best_score = score;
      best_params = std::move(params);
    }
  }
  if (best) {
    req.params = std::move(best_params);
    best->handler(req, w);
  } else if (path_known) {
    w.SendError(405, "method " + req.method + " is not allowed on " + req.path);
  } else {
    w.SendError(404, "page not found");
  }
  if (observing) {
    observing->Note(500);  // no-op when sent; else the server answers 500 for a handler that sent nothing
    observer_(KnownMethod(req.method), best ? std::string_view(best->pattern) : "other", observing->status,
              observing->seconds);
  }
}

}  // namespace moor::api
