// PHP-FPM pool metrics (moor_phpfpm_*): at every scrape, the status page of
// each running php-fpm container is fetched over FastCGI at the container's
// address — no exporter sidecar, no web server in between.
//
// Which containers: the label moor.metrics.fpm says where the status page
// is; without it, every container whose discovery check is fastcgi
// (moor.check=fastcgi:/ping, the php-fpm image's default) is scraped at
// /status on the check's port. Label values:
//   /status        pm.status_path on the service's FastCGI port (the
//                  fastcgi check's port, else moor.service.port or the one
//                  exposed port, else 9000)
//   9001:/status   an explicit port
//   off            never scraped (also: false, none)
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "discovery/fpm_status.h"
#include "discovery/registrar.h"
#include "metrics/registry.h"

namespace moor::engine {

// moor.metrics.fpm parsed: off, or a path with an optional port (0 = the
// service's port).
struct FpmLabel {
  bool off = false;
  int port = 0;
  std::string path;
};
// EINVAL with a one-line message naming the label and the accepted forms.
Result<FpmLabel> ParseFpmLabel(std::string_view value);

// One pool to scrape, with the label values of its series.
struct FpmTarget {
  std::string container, id, app, service, release;
  std::string address;  // "IP:PORT"
  std::string path;     // e.g. "/status"
};
// What a container's labels ask for; nullopt when it is not a pool to
// scrape (not running, no fastcgi check and no label, off, no address). A
// malformed label sets *warning (and the container is skipped). Pure.
std::optional<FpmTarget> FpmTargetFor(const discovery::ContainerInfo& c, std::string* warning = nullptr);

struct FpmScrapeOptions {
  int64_t pool_timeout_ns = 1'000'000'000;  // one pool's FastCGI exchange
  int64_t budget_ns = 2'000'000'000;        // the whole scrape; pools not reached in time are down
  size_t parallel = 16;                     // pools fetched at once
};

struct FpmResult {
  FpmTarget target;
  Result<discovery::FpmStatus> status;
};
// Fetches every target's status page, in parallel; results in target order.
std::vector<FpmResult> ScrapeFpm(const std::vector<FpmTarget>& targets, const FpmScrapeOptions& opts = {});

// The moor_phpfpm_* families (each once; up for every pool, the rest for the
// pools that answered, counters the page lacked left out). Pure.
void WriteFpmMetrics(metrics::SampleWriter& w, const std::vector<FpmResult>& results);

// The collector on metrics::DefaultRegistry(), listing containers through
// `lister` at each scrape; removed (waiting for a scrape under way) when
// destroyed.
class FpmMetrics {
 public:
  explicit FpmMetrics(discovery::ContainerLister& lister, FpmScrapeOptions opts = {});
  ~FpmMetrics();
  FpmMetrics(const FpmMetrics&) = delete;
  FpmMetrics& operator=(const FpmMetrics&) = delete;

  // One scrape (what the collector runs); public for tests.
  void Collect(metrics::SampleWriter& w);

 private:
  struct State;
  std::unique_ptr<State> state_;
  int collector_ = 0;
};

}  // namespace moor::engine
