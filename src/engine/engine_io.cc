// Logs, attach and resize: the container's output as the monitor recorded it.
#include <chrono>

#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "engine/engine_internal.h"

namespace moor::engine {

using nlohmann::json;

Result<void> Engine::Logs(const std::string& key, const monitor::LogQuery& q,
                          const std::function<bool(const monitor::LogEntry&)>& on_entry,
                          const std::function<bool()>& stop) {
  auto c = TRY(Find(key));
  std::string path;
  {
    std::lock_guard lock(c->mu);
    path = cfg_.ContainerDir(c->rec.id) + "/" + c->rec.id + "-json.log";
  }
  // Following ends when the container stops for good (or is removed).
  auto done = [&] {
    if (stop && stop()) return true;
    if (!q.follow) return false;
    std::lock_guard lock(c->mu);
    return c->removed || (!c->rec.Running() && !c->monitor_alive);
  };
  return monitor::ReadLogs(path, cfg_.log_max_files, q, on_entry, done);
}

Result<UniqueFd> Engine::Attach(const std::string& key, bool in, bool out, bool err,
                                const std::function<bool()>& client_gone) {
  auto c = TRY(Find(key));
  std::string dir;
  bool replay = false;
  {
    std::unique_lock lock(c->mu);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!c->monitor_alive && !c->removed) {
      replay = true;
      if (std::chrono::steady_clock::now() > deadline || (client_gone && client_gone())) {
        return Fail(Error(EBUSY, "container " + c->rec.name + " is not running: start it first"));
      }
      c->cv.wait_for(lock, std::chrono::milliseconds(200));
    }
    if (c->removed) return Fail(Error(ENOENT, "no such container: " + key));
    dir = cfg_.MonitorDir(c->rec.id);
  }
  json req = {{"op", "attach"}, {"stdin", in}, {"stdout", out}, {"stderr", err}, {"replay", replay}};
  std::string answer;
  auto fd = TRY_CTX(monitor::MonitorOpenStream(dir, req.dump(), 5000, &answer), "attach");
  try {
    auto a = json::parse(answer);
    if (!a.value("ok", false)) return FailInvalid("attach: " + a.value("error", answer));
  } catch (const json::exception&) {
    return FailInvalid("attach: bad answer from the monitor: " + answer);
  }
  return fd;
}

Result<void> Engine::Resize(const std::string& key, int height, int width) {
  auto c = TRY(Find(key));
  std::string dir;
  {
    std::lock_guard lock(c->mu);
    if (!c->rec.config.tty) return FailInvalid("container " + c->rec.name + " has no TTY to resize");
    dir = cfg_.MonitorDir(c->rec.id);
  }
  json req = {{"op", "resize"}, {"height", height}, {"width", width}};
  std::string answer;
  TRY_CTX(monitor::MonitorOpenStream(dir, req.dump(), 5000, &answer), "resize");
  return {};
}

}  // namespace moor::engine
