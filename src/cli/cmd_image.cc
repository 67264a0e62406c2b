// images, image inspect, rmi, tag, history, prune.
#include <cstdio>

#include <nlohmann/json.hpp>

#include "cli/context.h"
#include "image/gc.h"
#include "cli/table.h"

namespace moor::cli {

Result<int> CmdImages(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"quiet", "q", false, false},
                                   {"digests", "", false, false},
                                   {"format", "", true, false},
                                   {"no-trunc", "", false, false}}));
  auto svc = TRY(OpenImages(g));
  auto list = TRY(svc.List());
  std::string filter = a.positional.empty() ? "" : a.positional[0];
  std::vector<image::ImageService::Summary> shown;
  for (auto& s : list) {
    std::string repo = s.name.substr(0, s.name.rfind(':'));
    if (!filter.empty() && (s.name.empty() || (s.name != filter && repo != filter))) continue;
    shown.push_back(s);
  }
  if (a.Get("format") == "json") {
    nlohmann::json out = nlohmann::json::array();
    for (auto& s : shown) {
      out.push_back({{"Name", s.name}, {"Id", s.id.str()}, {"Digest", s.manifest.str()},
                     {"Size", s.size}, {"Created", s.created}});
    }
    Out(out.dump(2) + "\n");
    return 0;
  }
  if (!a.Get("format").empty()) return FailInvalid("--format: only \"json\" is supported");
  bool full = a.Bool("no-trunc");
  if (a.Bool("quiet")) {
    for (auto& s : shown) Out((full ? s.id.str() : s.id.Short()) + "\n");
    return 0;
  }
  Table t(a.Bool("digests") ? std::vector<std::string>{"REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"}
                            : std::vector<std::string>{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"});
  for (auto& s : shown) {
    auto colon = s.name.rfind(':');
    std::vector<std::string> row = {"<none>", "<none>"};
    if (!s.name.empty()) row = {s.name.substr(0, colon), s.name.substr(colon + 1)};
    if (a.Bool("digests")) row.push_back(s.manifest.str());
    row.push_back(full ? s.id.str() : s.id.Short());
    row.push_back(s.created.empty() ? "N/A" : Ago(s.created));
    row.push_back(HumanSize(s.size));
    t.Add(std::move(row));
  }
  Out(t.Render());
  return 0;
}

Result<int> CmdInspect(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"format", "f", true, false}}));
  if (a.positional.empty()) return FailInvalid("image inspect: give at least one image");
  auto svc = TRY(OpenImages(g));
  nlohmann::json all = nlohmann::json::array();
  int rc = 0;
  for (auto& ref : a.positional) {
    auto doc = svc.InspectJson(ref);
    if (!doc) {
      std::fprintf(stderr, "moor: %s\n", doc.error().message().c_str());
      rc = 1;
      continue;
    }
    all.push_back(nlohmann::json::parse(*doc));
  }
  Out(all.dump(4) + "\n");
  return rc;
}

Result<int> CmdRmi(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"force", "f", false, false}}));
  if (a.positional.empty()) return FailInvalid("image rm: give at least one image");
  auto svc = TRY(OpenImages(g));
  int rc = 0;
  for (auto& ref : a.positional) {
    auto removed = svc.Remove(ref, a.Bool("force"));
    if (!removed) {
      std::fprintf(stderr, "moor: %s\n", removed.error().message().c_str());
      rc = 1;
      continue;
    }
    for (auto& n : *removed) Out((image::IsUnnamedRecord(n) ? "Deleted: " : "Untagged: ") + n + "\n");
  }
  return rc;
}

Result<int> CmdTag(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {}));
  if (a.positional.size() != 2) return FailInvalid("tag: usage: moor tag SOURCE TARGET");
  auto svc = TRY(OpenImages(g));
  TRY(svc.Tag(a.positional[0], a.positional[1]));
  return 0;
}

Result<int> CmdHistory(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"no-trunc", "", false, false}, {"quiet", "q", false, false}}));
  if (a.positional.size() != 1) return FailInvalid("image history: usage: moor image history IMAGE");
  auto svc = TRY(OpenImages(g));
  auto img = TRY(svc.Resolve(a.positional[0]));
  Table t({"CREATED", "CREATED BY", "SIZE", "COMMENT"});
  // History entries with a layer map, in order, onto the manifest's layers.
  size_t layer = 0;
  std::vector<std::vector<std::string>> rows;
  for (auto& h : img.config.history) {
    int64_t size = 0;
    if (!h.empty_layer && layer < img.manifest.layers.size()) size = img.manifest.layers[layer++].size;
    std::string by = h.created_by;
    if (!a.Bool("no-trunc") && by.size() > 45) by = by.substr(0, 44) + "…";
    rows.push_back({h.created.empty() ? "N/A" : Ago(h.created), by, HumanSize(size), h.comment});
  }
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) t.Add(*it);  // newest first, as docker
  Out(t.Render());
  return 0;
}

Result<int> CmdPrune(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"all", "a", false, false}, {"force", "f", false, false}}));
  auto svc = TRY(OpenImages(g));
  auto report = TRY(image::CollectGarbage(svc));
  Out("Deleted " + std::to_string(report.blobs_removed) + " blobs and " + std::to_string(report.snapshots_removed) +
      " unpacked layers\nTotal reclaimed space: " + HumanSize(static_cast<int64_t>(report.bytes_freed)) + "\n");
  return 0;
}

}  // namespace moor::cli
