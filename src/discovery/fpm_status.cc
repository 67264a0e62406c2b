#include "discovery/fpm_status.h"

#include <cmath>
#include <limits>

#include <nlohmann/json.hpp>

#include "discovery/fastcgi_client.h"

namespace moor::discovery {

namespace {

// A short, printable excerpt of a page for an error message.
std::string Excerpt(std::string_view text) {
  std::string out;
  for (char ch : text.substr(0, 40)) out += (ch >= 0x20 && ch < 0x7f) ? ch : '.';
  if (text.size() > 40) out += "...";
  return out;
}

// A non-negative whole number, or -1 (absent, wrong type, negative, NaN).
int64_t Count(const nlohmann::json& obj, const char* key, int* found) {
  auto it = obj.find(key);
  if (it == obj.end()) return -1;
  int64_t v = -1;
  if (it->is_number_unsigned()) {
    auto u = it->get<uint64_t>();
    v = u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? std::numeric_limits<int64_t>::max()
                                                                         : static_cast<int64_t>(u);
  } else if (it->is_number_integer()) {
    v = it->get<int64_t>();
  } else if (it->is_number_float()) {
    double d = it->get<double>();
    if (std::isfinite(d) && d >= 0 && d < 9.2e18) v = static_cast<int64_t>(d);
  }
  if (v < 0) return -1;
  ++*found;
  return v;
}

std::string Text(const nlohmann::json& obj, const char* key) {
  auto it = obj.find(key);
  return it != obj.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Result<FpmStatus> ParseFpmStatus(std::string_view json_text) {
  auto j = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return FailInvalid("not PHP-FPM's JSON status page (got \"" + Excerpt(json_text) + "\")");
  }
  FpmStatus s;
  int found = 0;
  s.pool = Text(j, "pool");
  s.process_manager = Text(j, "process manager");
  s.start_since = Count(j, "start since", &found);
  s.accepted_conn = Count(j, "accepted conn", &found);
  s.listen_queue = Count(j, "listen queue", &found);
  s.max_listen_queue = Count(j, "max listen queue", &found);
  s.listen_queue_len = Count(j, "listen queue len", &found);
  s.idle_processes = Count(j, "idle processes", &found);
  s.active_processes = Count(j, "active processes", &found);
  s.total_processes = Count(j, "total processes", &found);
  s.max_active_processes = Count(j, "max active processes", &found);
  s.max_children_reached = Count(j, "max children reached", &found);
  s.slow_requests = Count(j, "slow requests", &found);
  if (s.pool.empty() && found == 0) {
    return FailInvalid("not PHP-FPM's JSON status page: no pool name and no counters (got \"" +
                       Excerpt(json_text) + "\")");
  }
  return s;
}

Result<FpmStatus> FetchFpmStatus(const std::string& host_port, const std::string& path, int64_t timeout_ns,
                                 std::stop_token stop) {
  auto resp = FastCgiGet(host_port, path, "json", timeout_ns, std::move(stop));
  if (!resp) return Fail(std::move(resp.error()).Wrap("php-fpm status " + host_port + path));
  if (resp->status != 200) {
    return Fail(Error(EPROTO, "php-fpm status " + host_port + path + ": status " + std::to_string(resp->status) +
                                  " (is pm.status_path set to " + path + " in the pool?)"));
  }
  auto s = ParseFpmStatus(resp->body);
  if (!s) return Fail(std::move(s.error()).Wrap("php-fpm status " + host_port + path));
  return s;
}

}  // namespace moor::discovery
