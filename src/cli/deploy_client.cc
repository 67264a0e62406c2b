// RunDeploy and FollowSwitch (deploy_client.h): the client side of the deploy
// protocol in docs/api.md "Deploys".
#include "cli/deploy_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <set>
#include <unordered_map>

#include "cli/daemon_client.h"
#include "common/fd.h"
#include "common/strings.h"
#include "deploy/tree/scanner.h"
#include "deploy/tree/tree.h"

namespace moor::cli {

using nlohmann::json;

namespace {

constexpr int64_t kMaxPackBytes = 16 << 20;   // one POST …/blobs or …/trees body
constexpr int64_t kBlobPackBytes = 4 << 20;   // blob packs: smaller, so reading and sending overlap
constexpr int64_t kLargeBlobBytes = 8 << 20;  // above: PUT …/blobs/{digest} in pieces
constexpr int64_t kPieceBytes = 16 << 20;     // one PUT's piece
constexpr int kMaxConflicts = 3;              // 409 answers tolerated per large blob

using Clock = std::chrono::steady_clock;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

Error Changed(const std::string& path) {
  return Error(0, path + " changed during the deploy; run moor deploy again");
}

// A digest the daemon sent ("sha256:…") → its hex.
Result<std::string> HexOf(const json& v) {
  if (!v.is_string()) return FailInvalid("deploy: the daemon sent a digest that is not a string: " + v.dump());
  auto d = TRY(image::Digest::Parse(v.get<std::string>()));
  return d.hex();
}

// "HEX64 SP SIZE \n BYTES".
void AppendPack(std::string* pack, const std::string& hex, std::string_view bytes) {
  *pack += hex;
  *pack += ' ';
  *pack += std::to_string(bytes.size());
  *pack += '\n';
  pack->append(bytes);
}

// Reads exactly n bytes at offset; fewer (the file shrank) → Changed.
Result<std::string> ReadAt(int fd, int64_t offset, int64_t n, const std::string& path) {
  std::string data(static_cast<size_t>(n), '\0');
  int64_t done = 0;
  while (done < n) {
    ssize_t got = pread(fd, data.data() + done, static_cast<size_t>(n - done), offset + done);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return FailErrno("read " + path);
    if (got == 0) return Fail(Changed(path));
    done += got;
  }
  return data;
}

// Opens a file the scan saw, refusing a symlink put in its place and a size
// that is not the scanned one.
Result<UniqueFd> OpenScanned(const deploy::BlobSource& src) {
  UniqueFd fd(open(src.path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT || errno == ELOOP || errno == ENOTDIR) return Fail(Changed(src.path));
    return FailErrno("open " + src.path);
  }
  struct stat st {};
  if (fstat(fd.get(), &st) != 0) return FailErrno("stat " + src.path);
  if (!S_ISREG(st.st_mode) || st.st_size != src.size) return Fail(Changed(src.path));
  return fd;
}

// A small blob's bytes, checked against its digest.
Result<std::string> ReadBlob(const image::Digest& d, const deploy::BlobSource& src) {
  if (src.path.empty()) return src.inline_;  // a symlink's target, read by the scan
  auto fd = TRY(OpenScanned(src));
  auto data = TRY(ReadAt(fd.get(), 0, src.size, src.path));
  char extra;
  ssize_t more = pread(fd.get(), &extra, 1, src.size);
  if (more > 0 || image::Sha256Of(data) != d) return Fail(Changed(src.path));
  return data;
}

class Deployer {
 public:
  Deployer(api::Transport& t, const DeployRequest& r, const std::function<void(const std::string&)>& progress)
      : t_(t), r_(r), progress_(progress) {}

  Result<DeployOutcome> Run() {
    auto start = Clock::now();
    deploy::ScanResult scan;
    if (!r_.dir.empty()) {
      scan = TRY(deploy::Scan(deploy::ScanOptions{r_.dir, r_.cache_path, 2}));
      out_.scan_s = Since(start);
      out_.root = scan.root.str();
      out_.files_scanned = scan.files;
      out_.files_hashed = scan.hashed;
      Say("scan: " + std::to_string(scan.files) + " files, " + std::to_string(scan.hashed) + " hashed in " +
          std::to_string(static_cast<int64_t>(out_.scan_s * 1000)) + " ms");
      for (auto& w : scan.warnings) Say("warning: " + w);
    } else if (r_.image.empty()) {
      return FailInvalid("deploy: give a code directory or --image REF");
    }
    if (r_.dry_run) return out_;

    auto transfer = Clock::now();
    json open = {{"app", r_.app}, {"service", r_.service}};
    if (!r_.dir.empty()) {
      open["root"] = scan.root.str();
      json trees = json::array();
      for (auto& tr : scan.trees) trees.push_back(tr.digest.str());
      open["trees"] = std::move(trees);
    }
    if (!r_.image.empty()) open["image"] = r_.image;
    json s = TRY(CallJson("POST", "/v1/moor/deploy/sessions", open.dump()));
    if (!s.is_object()) return FailInvalid("deploy: the daemon's session answer is not an object");
    out_.release = s.value("release", int64_t{0});
    if (s.value("unchanged", false)) {
      out_.unchanged = true;
      out_.transfer_s = Since(transfer);
      return out_;
    }
    session_ = s.value("session", "");
    if (session_.empty()) return FailInvalid("deploy: the daemon opened no session");
    out_.resumed = s.value("resumed", false);
    if (out_.resumed) Say("resuming the interrupted upload of release " + std::to_string(out_.release));

    std::vector<const deploy::ScannedTree*> missing_trees;
    std::set<std::string> want;  // blob hex
    if (s.contains("missing_trees") && s["missing_trees"].is_array()) {
      std::set<std::string> missing;
      for (auto& m : s["missing_trees"]) missing.insert(TRY(HexOf(m)));
      for (auto& tr : scan.trees) {  // children before parents, as the scan gives them
        if (!missing.erase(tr.digest.hex())) continue;
        missing_trees.push_back(&tr);
        auto parsed = TRY_CTX(deploy::ParseTree(tr.bytes), "deploy: tree of \"" + tr.path + "\"");
        for (auto& e : parsed.entries) {
          if (e.kind != deploy::EntryKind::kDir) want.insert(e.digest.hex());
        }
      }
      if (!missing.empty())
        return FailInvalid("deploy: the daemon asked for tree sha256:" + *missing.begin() +
                           ", which is not in this scan");
    }
    blobs_ = &scan.blobs;
    if (!want.empty()) {
      json have = {{"digests", json::array()}};
      for (auto& hex : want) have["digests"].push_back("sha256:" + hex);
      json h = TRY(CallJson("POST", Base() + "/have", have.dump()));
      std::vector<std::string> send;
      if (h.contains("missing") && h["missing"].is_array()) {
        for (auto& m : h["missing"]) send.push_back(TRY(HexOf(m)));
      }
      std::map<std::string, int64_t> partial;
      if (h.contains("partial") && h["partial"].is_object()) {
        for (auto& [k, v] : h["partial"].items()) {
          if (v.is_number_integer()) partial[TRY(image::Digest::Parse(k)).hex()] = v.get<int64_t>();
        }
      }
      TRY(SendBlobs(send, partial));
    }
    TRY(SendTrees(missing_trees));
    out_.transfer_s = Since(transfer);
    Say("sent: " + std::to_string(out_.blobs_sent) + " blobs, " + HumanBytes(out_.bytes_sent) + ", " +
        std::to_string(out_.trees_sent) + " trees");

    auto sw = Clock::now();
    json live = TRY(FollowSwitch(t_, Base() + "/commit", "", r_.who, progress_));
    out_.switch_s = Since(sw);
    if (live.contains("release") && live["release"].is_number_integer()) out_.release = live["release"];
    return out_;
  }

 private:
  void Say(const std::string& line) {
    if (progress_) progress_(line);
  }
  std::string Base() const { return "/v1/moor/deploy/sessions/" + Esc(session_); }
  api::Headers Headers(const char* type) const {
    api::Headers h{{"x-moor-who", r_.who}};
    if (type) h["content-type"] = type;
    return h;
  }
  Result<api::Response> Call(const std::string& method, const std::string& target, std::string_view body,
                             const char* type) {
    return t_.Do(method, target, body, Headers(type));
  }
  Result<json> CallJson(const std::string& method, const std::string& target, const std::string& body) {
    auto resp = TRY(Call(method, target, body, "application/json"));
    if (resp.status < 200 || resp.status >= 300) return Fail(ResponseError(resp));
    return ParseJson(resp.body, method + " " + target);
  }

  const deploy::BlobSource* Source(const std::string& hex) const {
    auto it = blobs_->find(hex);
    return it == blobs_->end() ? nullptr : &it->second;
  }

  // Small blobs in packs, then large ones in resumable pieces. A pack is
  // sent on a second thread while the next one is read (one request in
  // flight: the transport is used by one thread at a time).
  Result<void> SendBlobs(const std::vector<std::string>& hexes, const std::map<std::string, int64_t>& partial) {
    std::vector<std::string> large;
    std::string pack;
    int64_t in_pack = 0, pack_bytes = 0;
    std::future<Result<json>> inflight;
    auto send = [&]() -> Result<void> {
      if (inflight.valid()) TRY(inflight.get());
      inflight = std::async(std::launch::async, [this, p = std::move(pack)] { return PostPack("/blobs", p); });
      out_.blobs_sent += in_pack;
      out_.bytes_sent += pack_bytes;
      pack.clear();
      in_pack = pack_bytes = 0;
      return {};
    };
    for (auto& hex : hexes) {
      const auto* src = Source(hex);
      if (!src) return FailInvalid("deploy: the daemon asked for blob sha256:" + hex + ", which is not in this scan");
      if (src->size > kLargeBlobBytes) {
        large.push_back(hex);
        continue;
      }
      auto data = TRY(ReadBlob(image::Digest::FromHex(hex), *src));
      if (!pack.empty() && static_cast<int64_t>(pack.size() + data.size()) + 96 > kBlobPackBytes) TRY(send());
      AppendPack(&pack, hex, data);
      ++in_pack;
      pack_bytes += static_cast<int64_t>(data.size());
    }
    if (!pack.empty()) TRY(send());
    if (inflight.valid()) TRY(inflight.get());
    for (auto& hex : large) {
      auto it = partial.find(hex);
      TRY(SendLarge(hex, *Source(hex), it == partial.end() ? 0 : it->second));
    }
    return {};
  }

  Result<json> PostPack(const std::string& what, const std::string& pack) {
    auto resp = TRY(Call("POST", Base() + what, pack, "application/octet-stream"));
    if (resp.status < 200 || resp.status >= 300) return Fail(ResponseError(resp));
    return ParseJson(resp.body, "POST " + Base() + what);
  }

  // One blob > 8 MiB from `offset` (the daemon's partial ingest) in pieces.
  // The bytes already sent are hashed too, and the last piece goes only when
  // the whole file still hashes to the scanned digest.
  Result<void> SendLarge(const std::string& hex, const deploy::BlobSource& src, int64_t offset) {
    auto fd = TRY(OpenScanned(src));
    if (offset < 0 || offset > src.size) offset = 0;
    image::Sha256 h;
    int64_t hashed = 0;
    int conflicts = 0;
    std::string target = Base() + "/blobs/sha256:" + hex + "?size=" + std::to_string(src.size) + "&offset=";
    if (offset > 0) Say("resuming " + src.path + " at " + HumanBytes(offset));
    do {
      while (hashed < offset) {  // the part the daemon has: hash it only
        int64_t n = std::min<int64_t>(1 << 20, offset - hashed);
        h.Update(TRY(ReadAt(fd.get(), hashed, n, src.path)));
        hashed += n;
      }
      int64_t n = std::min(kPieceBytes, src.size - offset);
      auto piece = TRY(ReadAt(fd.get(), offset, n, src.path));
      h.Update(piece);
      hashed += n;
      if (offset + n == src.size && h.Finish().hex() != hex) return Fail(Changed(src.path));
      auto resp = TRY(Call("PUT", target + std::to_string(offset), piece, "application/octet-stream"));
      json j = json::parse(resp.body, nullptr, false);
      if (resp.status == 409 && j.is_object() && j.contains("offset") && j["offset"].is_number_integer() &&
          ++conflicts <= kMaxConflicts) {
        offset = std::clamp<int64_t>(j["offset"].get<int64_t>(), 0, src.size);
        h = image::Sha256();  // hash again from the start up to the daemon's offset
        hashed = 0;
        continue;
      }
      if (resp.status < 200 || resp.status >= 300) return Fail(ResponseError(resp));
      out_.bytes_sent += n;
      offset += n;
      if (j.is_object() && j.contains("offset") && j["offset"].is_number_integer()) {
        int64_t at = j["offset"].get<int64_t>();
        if (at != offset) {
          if (at < 0 || at > src.size) return FailInvalid("deploy: the daemon answered a bad offset for " + src.path);
          offset = at;
          h = image::Sha256();
          hashed = 0;
        }
      }
    } while (offset < src.size);
    ++out_.blobs_sent;
    return {};
  }

  // Missing tree objects, children before parents, in packs. A tree refused
  // for a missing blob (GC raced this deploy) gets its blobs sent once more.
  Result<void> SendTrees(const std::vector<const deploy::ScannedTree*>& trees) {
    std::string pack;
    int64_t in_pack = 0;
    auto flush = [&]() -> Result<void> {
      for (int attempt = 0;; ++attempt) {
        auto resp = TRY(Call("POST", Base() + "/trees", pack, "application/octet-stream"));
        if (resp.status >= 200 && resp.status < 300) break;
        json j = json::parse(resp.body, nullptr, false);
        std::vector<std::string> again;
        if (attempt == 0 && resp.status == 400 && j.is_object() && j.contains("missing") && j["missing"].is_array()) {
          for (auto& m : j["missing"]) {
            auto d = image::Digest::Parse(m.is_string() ? m.get<std::string>() : "");
            if (!d || !Source(d->hex())) {
              again.clear();
              break;
            }
            again.push_back(d->hex());
          }
        }
        if (again.empty()) return Fail(ResponseError(resp));
        TRY(SendBlobs(again, {}));
      }
      out_.trees_sent += in_pack;
      pack.clear();
      in_pack = 0;
      return {};
    };
    for (const auto* tr : trees) {
      if (!pack.empty() && static_cast<int64_t>(pack.size() + tr->bytes.size()) + 96 > kMaxPackBytes) TRY(flush());
      AppendPack(&pack, tr->digest.hex(), tr->bytes);
      ++in_pack;
    }
    if (!pack.empty()) TRY(flush());
    return {};
  }

  api::Transport& t_;
  const DeployRequest& r_;
  const std::function<void(const std::string&)>& progress_;
  DeployOutcome out_;
  std::string session_;
  const std::unordered_map<std::string, deploy::BlobSource>* blobs_ = nullptr;
};

}  // namespace

Result<DeployOutcome> RunDeploy(api::Transport& t, const DeployRequest& r,
                                const std::function<void(const std::string&)>& progress) {
  return Deployer(t, r, progress).Run();
}

Result<json> FollowSwitch(api::Transport& t, const std::string& target, const std::string& body, const std::string& who,
                          const std::function<void(const std::string&)>& progress) {
  std::string buf, head;
  json live;
  std::string failed;
  auto line = [&](std::string_view text) {
    text = Trim(text);
    if (text.empty()) return true;
    json j = json::parse(text, nullptr, false);
    if (!j.is_object()) return true;
    if (j.contains("error")) {
      failed = j["error"].is_string() ? j["error"].get<std::string>() : j["error"].dump();
      return false;
    }
    if (!j.contains("state") || !j["state"].is_string()) return true;
    std::string state = j["state"];
    if (state == "live") {
      live = j;
      if (progress && j.contains("warnings") && j["warnings"].is_array()) {
        for (auto& w : j["warnings"]) progress("warning: " + (w.is_string() ? w.get<std::string>() : w.dump()));
      }
    } else if (progress) {
      std::string say = state + "…";  // "switching…", "started… shop-php-3"
      for (const char* key : {"container", "detail"}) {
        if (j.contains(key) && j[key].is_string()) say += " " + j[key].get<std::string>();
      }
      progress(say);
    }
    return true;
  };
  api::Headers h{{"x-moor-who", who}};
  if (!body.empty()) h["content-type"] = "application/json";
  auto status = TRY(t.Stream("POST", target, body, h, [&](std::string_view piece) {
    if (head.size() < 65536) head.append(piece.substr(0, 65536 - head.size()));
    buf.append(piece);
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::string one = buf.substr(0, nl);
      buf.erase(0, nl + 1);
      if (!line(one)) return false;
    }
    return true;
  }));
  if (status < 200 || status >= 300) return Fail(ResponseError(api::Response{status, {}, head}));
  if (failed.empty() && live.is_null()) line(buf);
  if (!failed.empty()) return Fail(Error(0, failed));
  if (live.is_null()) {
    return Fail(Error(0, "the daemon ended the switch without an outcome; see moor releases, then deploy again"));
  }
  return live;
}

std::string HumanBytes(int64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes) / 1024;
  int u = 0;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  char out[32];
  std::snprintf(out, sizeof out, "%.1f %s", v, units[u]);
  return out;
}

}  // namespace moor::cli
