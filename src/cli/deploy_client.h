// The deploy protocol's client side (docs/api.md "Deploys"): scan the tree,
// open a session, send the trees' missing blobs (packs; large blobs in
// resumable pieces) and tree objects, commit, follow the switch. Used by
// `moor deploy` and by `moor up` for a `code:` service's first release.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "api/transport.h"
#include "common/error.h"

namespace moor::cli {

struct DeployRequest {
  std::string app, service;
  std::string dir;          // code directory ("" with image set: an image-only deploy)
  std::string image;        // --image REF ("" = keep the live image)
  std::string who;          // X-Moor-Who
  std::string cache_path;   // ScanOptions::cache_path
  bool dry_run = false;     // scan and print, send nothing
};

struct DeployOutcome {
  int64_t release = 0;
  bool unchanged = false;   // nothing to do: the tree and image are live already
  bool resumed = false;     // an interrupted upload of the same tree was continued
  std::string root;         // code digest
  int64_t files_scanned = 0, files_hashed = 0;
  int64_t blobs_sent = 0, bytes_sent = 0, trees_sent = 0;
  double scan_s = 0, transfer_s = 0, switch_s = 0;
};

// progress: one human line per step (scan, transfer, each switch state) for stderr.
Result<DeployOutcome> RunDeploy(api::Transport& t, const DeployRequest& r,
                                const std::function<void(const std::string&)>& progress);

// POSTs `body` to a route answering with a switch's JSON lines (…/commit,
// /v1/moor/deploy/rollback): each {"state"} but the last goes to progress
// ("switching…"); returns the final {"release": N, "state": "live", …} line.
// An {"error"} line, a non-2xx status or a stream ending without an outcome
// is a one-line error.
Result<nlohmann::json> FollowSwitch(api::Transport& t, const std::string& target, const std::string& body,
                                    const std::string& who, const std::function<void(const std::string&)>& progress);

// 1024-based sizes for deploy output: "512 B", "12.3 KiB", "1.5 MiB".
std::string HumanBytes(int64_t bytes);

}  // namespace moor::cli
