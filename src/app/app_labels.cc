// The discovery block as container labels (docs/discovery.md).
#include <filesystem>

#include "app/app_file.h"
#include "common/strings.h"

namespace moor::app {

std::string TemplatePath(const std::string& template_dir, const ServiceSpec& s, size_t i) {
  return template_dir + "/" + std::to_string(i + 1) + "-" +
         std::filesystem::path(s.templates.at(i).source).filename().string();
}

std::map<std::string, std::string> DiscoveryLabels(const ServiceSpec& s, const std::string& template_dir) {
  std::map<std::string, std::string> l;
  if (s.service) {
    const auto& d = *s.service;
    l["moor.service"] = d.name;
    if (d.ignore) l["moor.service.ignore"] = "true";
    if (d.port) l["moor.service.port"] = std::to_string(d.port);
    if (!d.tags.empty()) l["moor.service.tags"] = Join(d.tags, ",");
    for (auto& [k, v] : d.meta) l["moor.service.meta." + k] = v;
    if (d.drain_ns) l["moor.service.drain"] = FormatDuration(d.drain_ns);
    if (d.check) {
      const auto& c = *d.check;
      l["moor.check"] = c.path.empty() ? c.type : c.type + ":" + c.path;
      if (c.port) l["moor.check.port"] = std::to_string(c.port);
      if (c.interval_ns) l["moor.check.interval"] = FormatDuration(c.interval_ns);
      if (c.timeout_ns) l["moor.check.timeout"] = FormatDuration(c.timeout_ns);
      if (c.status) l["moor.check.status"] = std::to_string(c.status);
      if (!c.body.empty()) l["moor.check.body"] = c.body;
      if (c.success_before_passing) l["moor.check.success_before_passing"] = std::to_string(c.success_before_passing);
      if (c.failures_before_critical)
        l["moor.check.failures_before_critical"] = std::to_string(c.failures_before_critical);
      if (c.deregister_critical_after_ns)
        l["moor.check.deregister_critical_after"] = FormatDuration(c.deregister_critical_after_ns);
      if (c.ttl_ns) l["moor.check.ttl"] = FormatDuration(c.ttl_ns);
      if (c.tls_skip_verify) l["moor.check.tls_skip_verify"] = "true";
    }
  }
  for (size_t i = 0; i < s.templates.size(); ++i) {
    const auto& t = s.templates[i];
    std::string key = "moor.template.t" + std::to_string(i + 1);
    l[key] = TemplatePath(template_dir, s, i) + ":" + t.destination;
    l[key + ".wait"] = FormatDuration(t.wait_min_ns) + ":" + FormatDuration(t.wait_max_ns);
  }
  if (!s.templates.empty() || s.reload_signal != "SIGHUP") {
    l["moor.reload.signal"] =
        s.reload_signal == "none" ? "none" : s.reload_signal.substr(StartsWith(s.reload_signal, "SIG") ? 3 : 0);
  }
  return l;
}

}  // namespace moor::app
