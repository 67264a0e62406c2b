// The daemon's event stream (`moor events`, GET /events): lifecycle and
// health events in Docker's shape, kept in a ring of the last 4096 for
// --since, delivered live to subscribers. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace moor::engine {

struct Event {
  std::string type;    // container | network | volume | image
  std::string action;  // create start die stop kill restart destroy pause unpause oom
                       // health_status: healthy …
  std::string id;
  std::map<std::string, std::string> attributes;  // name, image, exitCode, signal …
  int64_t time_ns = 0;
  uint64_t seq = 0;
};

std::string EventToJson(const Event& e);

// Docker's --filter forms: type=, event=/action=, container=ID|NAME, image=,
// label=k[=v], network=, volume=. Same key ORs, different keys AND.
struct EventFilter {
  std::multimap<std::string, std::string> terms;
  bool Matches(const Event& e) const;
};

class EventBus {
 public:
  void Publish(Event e);
  // Events with seq > after_seq (0 = from the start of the ring); blocks up to
  // timeout_ms for new ones. Returns the events and the seq to pass next.
  std::vector<Event> WaitAfter(uint64_t after_seq, int timeout_ms, uint64_t* next_seq);
  uint64_t LastSeq();

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> ring_;
  uint64_t seq_ = 0;
};

}  // namespace moor::engine
