// inspect (containers first, then images as before) and top.
#include <cstdio>

#include "cli/container_session.h"
#include "cli/daemon_client.h"
#include "cli/format.h"
#include "cli/table.h"

namespace moor::cli {

using nlohmann::json;

namespace {

// Prints the documents: an indented JSON array, or --format per document.
Result<int> PrintInspected(const std::vector<json>& docs, const std::string& format) {
  if (format.empty()) {
    Out(json(docs).dump(4) + "\n");
    return 0;
  }
  if (format == "json") {
    for (auto& doc : docs) Out(doc.dump() + "\n");
    return 0;
  }
  auto t = TRY(Template::Parse(format));
  std::string out;
  for (auto& doc : docs) out += TRY(t.Render(doc)) + "\n";
  Out(out);
  return 0;
}

Result<int> InspectContainers(const Globals& g, const std::vector<std::string>& args, bool images_too) {
  auto a = TRY(ParseCommand(args, {{"format", "f", true, false}, {"type", "", true, false}}));
  if (a.positional.empty()) return FailInvalid("inspect: give at least one container or image");
  std::string type = a.Get("type");
  if (type == "image") return CmdInspect(g, args);
  auto d = TRY(Daemon::Connect(g));
  std::vector<json> docs;
  std::vector<std::string> not_containers;
  int rc = 0;
  for (auto& ref : a.positional) {
    auto doc = InspectContainer(d, ref);
    if (doc) {
      docs.push_back(*doc);
      continue;
    }
    if (images_too && type.empty()) {
      not_containers.push_back(ref);
    } else {
      std::fprintf(stderr, "moor: %s\n", doc.error().message().c_str());
      rc = 1;
    }
  }
  if (!docs.empty() || not_containers.empty()) {
    int printed = TRY(PrintInspected(docs, a.Get("format")));
    rc = rc ? rc : printed;
  }
  if (!not_containers.empty()) {
    // Names that are no container: the image store answers for them.
    std::vector<std::string> image_args = not_containers;
    if (a.Has("format")) image_args.insert(image_args.begin(), {"--format", a.Get("format")});
    int image_rc = TRY(CmdInspect(g, image_args));
    rc = rc ? rc : image_rc;
  }
  return rc;
}

}  // namespace

Result<int> CmdInspectAny(const Globals& g, const std::vector<std::string>& args) {
  return InspectContainers(g, args, /*images_too=*/true);
}

Result<int> CmdContainerInspect(const Globals& g, const std::vector<std::string>& args) {
  return InspectContainers(g, args, /*images_too=*/false);
}

Result<int> CmdTop(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {}, /*stop_at_positional=*/true));
  if (a.positional.empty()) return FailInvalid("top: usage: moor top CONTAINER [ps OPTIONS]");
  std::string target = "/containers/" + Esc(a.positional[0]) + "/top";
  if (a.positional.size() > 1) {
    std::vector<std::string> ps(a.positional.begin() + 1, a.positional.end());
    std::string joined;
    for (auto& p : ps) joined += (joined.empty() ? "" : " ") + p;
    target += "?ps_args=" + Esc(joined);
  }
  auto d = TRY(Daemon::Connect(g));
  json top = TRY(d.GetJson(target));
  if (!top.is_object() || !top.contains("Titles") || !top["Titles"].is_array()) {
    return FailInvalid("top: the daemon's answer has no Titles");
  }
  Table t(top["Titles"].get<std::vector<std::string>>());
  for (auto& row : top.value("Processes", json::array())) {
    std::vector<std::string> cells;
    for (auto& c : row) cells.push_back(c.is_string() ? c.get<std::string>() : c.dump());
    t.Add(std::move(cells));
  }
  Out(t.Render());
  return 0;
}

}  // namespace moor::cli
