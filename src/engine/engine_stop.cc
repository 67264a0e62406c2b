// Stopping, killing, restarting, pausing and waiting for containers.
#include <signal.h>

#include <cerrno>
#include <algorithm>
#include <chrono>

#include <nlohmann/json.hpp>

#include "common/log.h"
#include "engine/container_spec.h"
#include "engine/engine.h"
#include "engine/engine_internal.h"
#include "engine/process_runner.h"
#include "runtime/ops.h"

namespace moor::engine {

using nlohmann::json;

namespace {
constexpr int kDefaultStopTimeout = 10;
}

Result<void> Engine::Stop(const std::string& key, std::optional<int> timeout_s, const std::string& signal) {
  auto c = TRY(Find(key));
  std::unique_lock lock(c->mu);
  if (!c->rec.Running()) return Fail(Error(EALREADY, "container " + c->rec.name + " is not running"));
  return StopLocked(*c, lock, timeout_s, signal);
}

Result<void> Engine::StopLocked(Live& c, std::unique_lock<std::mutex>& lock, std::optional<int> timeout_s,
                                const std::string& signal) {
  ContainerRecord& r = c.rec;
  int timeout = timeout_s.value_or(r.config.stop_timeout.value_or(kDefaultStopTimeout));
  if (timeout < 0) timeout = 365 * 24 * 3600;  // Docker's -1: wait for the process however long
  int signo = 0;
  if (!signal.empty()) {
    signo = TRY_CTX(runtime::ParseSignal(signal), "--signal");
  } else {
    std::lock_guard ilock(images_mu_);
    auto img = images_->Resolve(r.image_id);
    signo = img ? TRY(StopSignal(r.config, img->config)) : SIGTERM;
  }
  // Out of discovery before the signal: the drain happens without the lock.
  {
    std::string id = r.id;
    lock.unlock();
    BeforeDown(id, signo != SIGKILL);
    lock.lock();
    if (!r.Running()) return {};
  }
  if (r.state.status == "paused") {
    (void)RunTool({RuntimePath(r.runtime), "--root", cfg_.RuntimeRoot() + "/" + r.runtime, "resume", r.id});
    r.state.status = "running";
  }
  c.health_stop = true;
  c.cv.notify_all();
  if (c.monitor_alive) {
    json req = {{"op", "stop"}, {"signal", signo}, {"timeout", timeout}};
    std::string dir = cfg_.MonitorDir(r.id);
    lock.unlock();
    std::string answer;
    auto conn = monitor::MonitorOpenStream(dir, req.dump(), std::min(timeout, 1'000'000) * 1000 + 30000, &answer);
    lock.lock();
    if (!conn && c.monitor_alive) {
      log::Warn("container " + r.name + ": stop: " + conn.error().message());
    }
  }
  // The monitor ends after the final exit; wait until its end is processed.
  if (!c.cv.wait_for(lock, std::chrono::seconds(30), [&] { return !c.monitor_alive || c.removed; })) {
    return Fail(Error(ETIMEDOUT, "container " + r.name + " did not stop: its monitor still runs"));
  }
  Publish(r, "stop");
  return {};
}

Result<void> Engine::Restart(const std::string& key, std::optional<int> timeout_s) {
  auto c = TRY(Find(key));
  std::unique_lock lock(c->mu);
  if (c->rec.Running()) TRY(StopLocked(*c, lock, timeout_s, ""));
  TRY(StartLocked(*c, lock));
  Publish(c->rec, "restart");
  return {};
}

Result<void> Engine::Kill(const std::string& key, const std::string& signal) { return KillImpl(key, signal, true); }

Result<void> Engine::Signal(const std::string& key, const std::string& signal) {
  return KillImpl(key, signal, false);
}

Result<void> Engine::KillImpl(const std::string& key, const std::string& signal, bool leave_discovery) {
  auto c = TRY(Find(key));
  std::unique_lock lock(c->mu);
  int signo = TRY_CTX(runtime::ParseSignal(signal.empty() ? "KILL" : signal), "--signal");
  if (leave_discovery && (signo == SIGKILL || signo == SIGTERM || signo == SIGINT || signo == SIGQUIT)) {
    lock.unlock();
    BeforeDown(c->rec.id, false);
    lock.lock();
  }
  if (!c->rec.Running() || !c->monitor_alive) {
    return Fail(Error(EBUSY, "container " + c->rec.name + " is not running"));
  }
  json req = {{"op", "kill"}, {"signal", signo}};
  std::string answer;
  std::string dir = cfg_.MonitorDir(c->rec.id);
  lock.unlock();
  TRY_CTX(monitor::MonitorOpenStream(dir, req.dump(), 5000, &answer), "kill container");
  lock.lock();
  Publish(c->rec, "kill", {{"signal", std::to_string(signo)}});
  return {};
}

Result<void> Engine::Pause(const std::string& key) {
  auto c = TRY(Find(key));
  BeforeDown(c->rec.id, true);  // id is immutable: no lock needed to read it
  std::lock_guard lock(c->mu);
  auto& r = c->rec;
  if (r.state.status != "running") return Fail(Error(EBUSY, "container " + r.name + " is not running"));
  TRY_CTX(RunToolChecked({RuntimePath(r.runtime), "--root", cfg_.RuntimeRoot() + "/" + r.runtime, "pause", r.id}),
          "pause container " + r.name);
  r.state.status = "paused";
  TRY(Save(*c));
  Publish(r, "pause");
  return {};
}

Result<void> Engine::Unpause(const std::string& key) {
  auto c = TRY(Find(key));
  std::lock_guard lock(c->mu);
  auto& r = c->rec;
  if (r.state.status != "paused") return Fail(Error(EBUSY, "container " + r.name + " is not paused"));
  TRY_CTX(RunToolChecked({RuntimePath(r.runtime), "--root", cfg_.RuntimeRoot() + "/" + r.runtime, "resume", r.id}),
          "unpause container " + r.name);
  r.state.status = "running";
  TRY(Save(*c));
  Publish(r, "unpause");
  return {};
}

Result<WaitResult> Engine::Wait(const std::string& key, const std::string& condition,
                                const std::function<bool()>& client_gone,
                                const std::function<void()>& on_registered) {
  auto c = TRY(Find(key));
  std::unique_lock lock(c->mu);
  std::string cond = condition.empty() ? "not-running" : condition;
  if (cond != "not-running" && cond != "next-exit" && cond != "removed") {
    return FailInvalid("invalid wait condition \"" + condition + "\": use not-running, next-exit or removed");
  }
  uint64_t dies = c->die_count;
  if (on_registered) {
    lock.unlock();
    on_registered();
    lock.lock();
  }
  auto done = [&] {
    if (cond == "removed") return c->removed;
    if (cond == "next-exit") return c->die_count != dies || c->removed;
    return !c->rec.Running() || c->removed;
  };
  while (!done()) {
    c->cv.wait_for(lock, std::chrono::milliseconds(500));
    if (client_gone && client_gone()) return Fail(Error(ECANCELED, "client went away"));
  }
  // A container that exits and is removed (--rm) still reports its status.
  if (!c->removed || cond != "not-running") {
    // With --rm, wait until the removal is done, so `moor run --rm` leaves nothing.
    if (c->rec.config.auto_remove && cond == "not-running") {
      c->cv.wait_for(lock, std::chrono::seconds(30), [&] { return c->removed; });
    }
  }
  WaitResult w;
  w.exit_code = c->rec.state.exit_code;
  w.error = c->rec.state.error;
  return w;
}

void Engine::SetBeforeDownHook(std::function<void(const std::string& id, bool drain)> hook) {
  std::lock_guard lock(hook_mu_);
  before_down_ = std::move(hook);
}

void Engine::SetBeforeRemoveHook(std::function<void(const ContainerRecord&)> hook) {
  std::lock_guard lock(hook_mu_);
  before_remove_ = std::move(hook);
}

void Engine::BeforeDown(const std::string& id, bool drain) {
  std::function<void(const std::string&, bool)> hook;
  {
    std::lock_guard lock(hook_mu_);
    hook = before_down_;
  }
  if (hook) hook(id, drain);
}

}  // namespace moor::engine
