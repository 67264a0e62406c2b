// The log shipper inside `moor daemon`: follows every container's json-file
// log (LogTailer), joins multi-line events and parses JSON lines per the
// container's labels (LineJoiner, ParseAppJson), appends to the disk spool,
// and runs one OutputWorker per configured output, each from its own cursor.
//
//   monitor ─▶ ID-json.log ─▶ tail thread: tailers → joiners → Spool.Append
//                                        └ every second: Spool.Checkpoint(tail positions)
//   Spool ─▶ SpoolReader(NAME) ─▶ OutputWorker(NAME) ─▶ receiver
//
// A container never waits for the shipper (the monitor writes the file on
// its own); a receiver never waits for containers. What the shipper has
// appended is in the spool; what it has not is still in the container's log
// from the checkpointed position, so a daemon crash loses nothing and
// repeats nothing on the reading side (see spool.h).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "logship/output/output.h"
#include "logship/spool/spool.h"

namespace moor::logship {

// A container's log as the engine describes it.
struct LogSource {
  std::string container_id;
  std::string name;
  std::string image;
  std::string log_path;  // ROOT/containers/ID/ID-json.log
  int max_files = 5;     // rotation count of that file
  std::map<std::string, std::string> labels;
  std::string release;   // moor.release, or the service's live release for reload services
};

// The role the engine plays for the shipper.
class SourceLister {
 public:
  virtual ~SourceLister() = default;
  // Every container that has (or may get) a log, running or not.
  virtual Result<std::vector<LogSource>> ListSources() = 0;
};

struct ShipperConfig {
  std::string dir;   // ROOT/logship (spool/ inside)
  std::string node;  // node label
  SpoolOptions spool;
  std::vector<OutputConfig> outputs;
  int64_t list_interval_ns = 1'000'000'000;  // re-list sources at least this often
  int64_t checkpoint_interval_ns = 1'000'000'000;
};

// "[NAME=]TYPE://ADDRESS[?opt=v&…]" (the --log-output flag, docs/logs.md).
Result<OutputConfig> ParseOutputSpec(std::string_view spec);

// Per-container settings from its labels (moor.log.*); errors name the label.
struct SourceSettings {
  std::vector<std::string> outputs;  // empty = all; {"none"} handled as "ship nowhere"
  bool none = false;
  std::string multiline_start;
  bool json = false;
};
Result<SourceSettings> SettingsFromLabels(const std::map<std::string, std::string>& labels);

class Shipper {
 public:
  // Opens the spool (cutting it back to its last checkpoint), starts the tail
  // thread and the output workers. An output name must be unique.
  static Result<std::unique_ptr<Shipper>> Start(ShipperConfig cfg, SourceLister& lister);
  ~Shipper();  // Stop()
  // Final checkpoint, outputs' cursors committed. Idempotent.
  void Stop();
  // A container started or was created: list again now (not only on the timer).
  void Refresh();
  // A container whose files are about to be deleted (moor rm, --rm): its log
  // files are opened before they go (read later by the tail thread), so a
  // container that lived less than a listing still ships every line. Called
  // from any thread; it never touches the spool.
  void Adopt(const LogSource& src);

  // GET /v1/moor/logship: outputs, spool, sources.
  nlohmann::json Status();

  struct Impl;

 private:
  explicit Shipper(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace moor::logship
