#include "engine/events.h"

#include <chrono>

#include <nlohmann/json.hpp>

namespace moor::engine {

namespace {
constexpr size_t kRing = 4096;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}
}  // namespace

std::string EventToJson(const Event& e) {
  nlohmann::json attrs = nlohmann::json::object();
  for (const auto& [k, v] : e.attributes) attrs[k] = v;
  nlohmann::json j = {{"Type", e.type},
                      {"Action", e.action},
                      {"Actor", {{"ID", e.id}, {"Attributes", attrs}}},
                      {"scope", "local"},
                      {"time", e.time_ns / 1'000'000'000},
                      {"timeNano", e.time_ns}};
  // Docker's older fields, which some tools still read.
  if (e.type == "container") {
    j["status"] = e.action;
    j["id"] = e.id;
    if (auto it = e.attributes.find("image"); it != e.attributes.end()) j["from"] = it->second;
  }
  return j.dump();
}

bool EventFilter::Matches(const Event& e) const {
  std::map<std::string, bool> seen;  // key → any value matched
  for (const auto& [key, value] : terms) {
    bool ok = false;
    auto attr = [&](const char* k) {
      auto it = e.attributes.find(k);
      return it == e.attributes.end() ? std::string() : it->second;
    };
    if (key == "type") {
      ok = e.type == value;
    } else if (key == "event" || key == "action") {
      // "health_status" matches "health_status: healthy" as in Docker.
      ok = e.action == value || e.action.rfind(value + ":", 0) == 0;
    } else if (key == "container") {
      ok = e.type == "container" && (e.id == value || e.id.rfind(value, 0) == 0 || attr("name") == value);
    } else if (key == "image") {
      ok = attr("image") == value;
    } else if (key == "network") {
      ok = e.type == "network" && (e.id == value || attr("name") == value);
    } else if (key == "volume") {
      ok = e.type == "volume" && e.id == value;
    } else if (key == "label") {
      auto eq = value.find('=');
      if (eq == std::string::npos) {
        ok = e.attributes.contains(value);
      } else {
        ok = attr(value.substr(0, eq).c_str()) == value.substr(eq + 1);
      }
    }
    seen[key] = seen[key] || ok;
  }
  for (const auto& [k, ok] : seen) {
    if (!ok) return false;
  }
  return true;
}

void EventBus::Publish(Event e) {
  {
    std::lock_guard lock(mu_);
    if (e.time_ns == 0) e.time_ns = NowNs();
    e.seq = ++seq_;
    ring_.push_back(std::move(e));
    if (ring_.size() > kRing) ring_.pop_front();
  }
  cv_.notify_all();
}

std::vector<Event> EventBus::WaitAfter(uint64_t after_seq, int timeout_ms, uint64_t* next_seq) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return seq_ > after_seq; });
  std::vector<Event> out;
  for (const auto& e : ring_) {
    if (e.seq > after_seq) out.push_back(e);
  }
  *next_seq = seq_;
  return out;
}

uint64_t EventBus::LastSeq() {
  std::lock_guard lock(mu_);
  return seq_;
}

}  // namespace moor::engine
