// Router and the ResponseWriter conveniences.
#include <cctype>

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

}  // namespace

void Router::Handle(std::string method, std::string pattern, Handler h) {
  Route r;
  r.method = std::move(method);
  for (const Segment& s : SplitPath(pattern)) r.segments.emplace_back(s.text);
  r.handler = std::move(h);
  routes_.push_back(std::move(r));
}

void Router::Dispatch(Request& req, ResponseWriter& w) const {
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
}

}  // namespace moor::api
