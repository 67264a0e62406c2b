// Image configs (OCI image-spec config / Docker image JSON) with Docker's
// field names. Entrypoint and Cmd keep the difference between "not set"
// (absent or null) and "set to []": a container's command depends on it.
#include "image/core/json_fields.h"
#include "image/core/manifest.h"

namespace moor::image {
namespace {

using detail::DumpCanonical;
using detail::Fields;
using detail::json;
using detail::ParseJsonText;

Result<void> ParseHealth(const Fields& f, HealthConfig& h) {
  TRY(f.Strings("Test", h.test));
  TRY(f.Int64("Interval", h.interval_ns));
  TRY(f.Int64("Timeout", h.timeout_ns));
  TRY(f.Int64("StartPeriod", h.start_period_ns));
  TRY(f.Int("Retries", h.retries));
  return {};
}

Result<void> ParseContainerConfig(const Fields& f, ContainerConfig& c) {
  TRY(f.Str("User", c.user));
  TRY(f.KeySet("ExposedPorts", c.exposed_ports));
  TRY(f.Strings("Env", c.env));
  TRY(f.OptStrSlice("Entrypoint", c.entrypoint));
  TRY(f.OptStrSlice("Cmd", c.cmd));
  TRY(f.KeySet("Volumes", c.volumes));
  TRY(f.Str("WorkingDir", c.working_dir));
  TRY(f.StringMap("Labels", c.labels));
  TRY(f.Str("StopSignal", c.stop_signal));
  TRY(f.Child("Healthcheck", false, [&](const Fields& hf) -> Result<void> {
    HealthConfig h;
    TRY(ParseHealth(hf, h));
    c.healthcheck = std::move(h);
    return {};
  }));
  TRY(f.Strings("Shell", c.shell));
  TRY(f.Strings("OnBuild", c.onbuild));
  return {};
}

Result<void> ParseRootfs(const Fields& f, std::vector<Digest>& diff_ids) {
  std::string type;
  TRY(f.RequiredStr("type", type));
  if (type != "layers") return f.Bad("type", "\"" + type + "\" is not supported (want \"layers\")");
  const json* ids = f.Get("diff_ids");
  if (!ids) return f.Missing("diff_ids");
  if (!ids->is_array()) return f.Bad("diff_ids", "expected an array of digests");
  for (size_t i = 0; i < ids->size(); ++i) {
    std::string p = f.Field("diff_ids") + "[" + std::to_string(i) + "]";
    if (!(*ids)[i].is_string()) return FailInvalid(p + ": expected a digest string");
    auto d = Digest::Parse((*ids)[i].get<std::string>());
    if (!d) return Fail(std::move(d.error()).Wrap(p));
    diff_ids.push_back(*d);
  }
  return {};
}

Result<void> ParseHistory(const Fields& f, HistoryEntry& h) {
  TRY(f.Str("created", h.created));
  TRY(f.Str("created_by", h.created_by));
  TRY(f.Str("author", h.author));
  TRY(f.Str("comment", h.comment));
  TRY(f.Bool("empty_layer", h.empty_layer));
  return {};
}

// Go's omitempty for the value types used here.
void PutStr(json& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}
void PutList(json& j, const char* key, const std::vector<std::string>& v) {
  if (!v.empty()) j[key] = v;
}
// {"80/tcp": {}, …}: Docker's set encoding.
void PutSet(json& j, const char* key, const std::vector<std::string>& v) {
  if (v.empty()) return;
  json set = json::object();
  for (const auto& k : v) set[k] = json::object();
  j[key] = std::move(set);
}

json ContainerConfigJson(const ContainerConfig& c) {
  json j = json::object();
  PutStr(j, "User", c.user);
  PutSet(j, "ExposedPorts", c.exposed_ports);
  PutList(j, "Env", c.env);
  if (c.entrypoint) j["Entrypoint"] = *c.entrypoint;  // [] stays: it differs from "not set"
  if (c.cmd) j["Cmd"] = *c.cmd;
  PutSet(j, "Volumes", c.volumes);
  PutStr(j, "WorkingDir", c.working_dir);
  if (!c.labels.empty()) j["Labels"] = c.labels;
  PutStr(j, "StopSignal", c.stop_signal);
  if (c.healthcheck) {
    const HealthConfig& h = *c.healthcheck;
    json hj = json::object();
    PutList(hj, "Test", h.test);
    if (h.interval_ns != 0) hj["Interval"] = h.interval_ns;
    if (h.timeout_ns != 0) hj["Timeout"] = h.timeout_ns;
    if (h.start_period_ns != 0) hj["StartPeriod"] = h.start_period_ns;
    if (h.retries != 0) hj["Retries"] = h.retries;
    j["Healthcheck"] = std::move(hj);
  }
  PutList(j, "Shell", c.shell);
  PutList(j, "OnBuild", c.onbuild);
  return j;
}

}  // namespace

Result<ImageConfig> ParseImageConfig(std::string_view text) {
  json j = TRY(ParseJsonText(text, "image config"));
  if (!j.is_object()) return FailInvalid("image config: expected a JSON object");
  Fields f(j, "");
  ImageConfig c;
  auto parse = [&]() -> Result<void> {
    TRY(f.Str("created", c.created));
    TRY(f.Str("author", c.author));
    TRY(f.Str("architecture", c.architecture));
    TRY(f.Str("os", c.os));
    TRY(f.Str("variant", c.variant));
    TRY(f.Child("config", false, [&](const Fields& cf) { return ParseContainerConfig(cf, c.config); }));
    TRY(f.Child("rootfs", true, [&](const Fields& rf) { return ParseRootfs(rf, c.diff_ids); }));
    TRY(f.Each("history", false, [&](const Fields& hf) -> Result<void> {
      HistoryEntry h;
      TRY(ParseHistory(hf, h));
      c.history.push_back(std::move(h));
      return {};
    }));
    return {};
  };
  TRY_CTX(parse(), "image config");
  return c;
}

std::string SerializeImageConfig(const ImageConfig& c) {
  json j = json::object();
  PutStr(j, "created", c.created);
  PutStr(j, "author", c.author);
  PutStr(j, "architecture", c.architecture);
  PutStr(j, "os", c.os);
  PutStr(j, "variant", c.variant);
  j["config"] = ContainerConfigJson(c.config);
  json ids = json::array();
  for (const auto& d : c.diff_ids) ids.push_back(d.str());
  j["rootfs"] = json{{"type", "layers"}, {"diff_ids", std::move(ids)}};
  if (!c.history.empty()) {
    json hist = json::array();
    for (const auto& h : c.history) {
      json e = json::object();
      PutStr(e, "created", h.created);
      PutStr(e, "created_by", h.created_by);
      PutStr(e, "author", h.author);
      PutStr(e, "comment", h.comment);
      if (h.empty_layer) e["empty_layer"] = true;
      hist.push_back(std::move(e));
    }
    j["history"] = std::move(hist);
  }
  return DumpCanonical(j);
}

}  // namespace moor::image
