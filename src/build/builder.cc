#include "build/builder.h"

#include "image/gc.h"

#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "build/build_cache.h"
#include "build/stage.h"
#include "build/stage_source.h"
#include "common/file.h"
#include "common/strings.h"
#include "image/core/reference.h"
#include "image/pull.h"

namespace moor::build {
namespace {

using image::Digest;

std::string Now() {
  auto now = std::chrono::system_clock::now();
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(now.time_since_epoch()).count();
  time_t secs = static_cast<time_t>(ns / 1000000000);
  struct tm tm {};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char frac[16];
  std::snprintf(frac, sizeof frac, ".%09lldZ", static_cast<long long>(ns % 1000000000));
  return std::string(buf) + frac;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string JsonList(const std::vector<std::string>& v) {
  return nlohmann::json(v).dump();
}

// Build args Docker lets through without an ARG declaration (proxies); they
// reach RUN but not the cache key or the history.
bool IsPredefinedArg(const std::string& name) {
  static const char* names[] = {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
                                "ftp_proxy",  "NO_PROXY",   "no_proxy",    "ALL_PROXY",   "all_proxy"};
  for (const char* n : names)
    if (name == n) return true;
  return false;
}

// Automatic platform ARGs (BuildKit's), valued when declared without a default.
std::optional<std::string> PlatformArg(const std::string& name) {
  image::Platform p = image::HostPlatform();
  std::string full = image::PlatformString(p);
  if (name == "TARGETPLATFORM" || name == "BUILDPLATFORM") return full;
  if (name == "TARGETOS" || name == "BUILDOS") return p.os;
  if (name == "TARGETARCH" || name == "BUILDARCH") return p.architecture;
  if (name == "TARGETVARIANT" || name == "BUILDVARIANT") return p.variant;
  return std::nullopt;
}

struct StageSpec {
  const Instruction* from = nullptr;
  std::vector<const Instruction*> body;
  std::string name;
};

class Builder {
 public:
  Builder(image::ImageService& svc, const BuildOptions& opts, image::ProgressSink& progress,
          std::ostream& out, const Dockerfile& df, const BuildContext& ctx)
      : svc_(svc),
        opts_(opts),
        progress_(progress),
        out_(out),
        df_(df),
        ctx_(ctx),
        cache_(svc.root() + "/build-cache") {}

  Result<Digest> Run();

 private:
  Error At(const Instruction& ins, const Error& e) const {
    return InstructionError(df_.name, ins.line, e.message());
  }
  // The error of `r`, if any, with "Dockerfile:LINE: " in front.
  template <class T>
  Result<T> AtLine(const Instruction& ins, Result<T> r) const {
    if (!r) return std::unexpected(At(ins, r.error()));
    return r;
  }
  void Print(const std::string& line) { out_ << line << '\n' << std::flush; }

  Result<void> DeclareArgs(const Instruction& ins, VarMap& scope, const VarMap& expand_with, bool global);
  Result<StageState> From(const StageSpec& spec, size_t index);
  Result<void> Step(StageState& st, const Instruction& ins);
  Result<void> ConfigStep(StageState& st, const Instruction& ins);
  Result<void> WorkdirStep(StageState& st, const Instruction& ins);
  Result<void> RunStep(StageState& st, const Instruction& ins);
  Result<void> CopyStep(StageState& st, const Instruction& ins);
  // Uses a cached layer for `key` when it is still complete; true on a hit.
  bool TryCachedLayer(StageState& st, const Digest& key, const std::string& created_by);
  void AddLayer(StageState& st, const LayerResult& r, const std::string& created,
                const std::string& created_by);
  std::string CreatedFor(const Digest& key, bool* hit);
  Result<Digest> Finish(const StageState& st);
  Result<const StageState*> FindStage(const std::string& ref) const;

  image::ImageService& svc_;
  const BuildOptions& opts_;
  image::ProgressSink& progress_;
  std::ostream& out_;
  const Dockerfile& df_;
  const BuildContext& ctx_;
  BuildCache cache_;
  VarMap global_args_;
  std::set<std::string> consumed_;
  std::vector<StageState> done_;
};

Result<void> Builder::DeclareArgs(const Instruction& ins, VarMap& scope, const VarMap& expand_with,
                                  bool global) {
  WordExpander x(expand_with, df_.escape);
  for (const auto& word : SplitKeepingQuotes(ins.args, df_.escape)) {
    size_t eq = word.find('=');
    std::string name = word.substr(0, eq);
    consumed_.insert(name);
    if (auto it = opts_.build_args.find(name); it != opts_.build_args.end()) {
      scope[name] = it->second;
    } else if (eq != std::string::npos) {
      scope[name] = TRY(x.Word(word.substr(eq + 1)));
    } else if (auto g = global_args_.find(name); !global && g != global_args_.end()) {
      scope[name] = g->second;
    } else if (auto p = PlatformArg(name)) {
      scope[name] = *p;
    }
  }
  return {};
}

Result<const StageState*> Builder::FindStage(const std::string& ref) const {
  std::string want = Lower(ref);
  for (const auto& s : done_)
    if (!s.name.empty() && s.name == want) return &s;
  if (auto n = ParseUint(ref); n && *n < done_.size()) return &done_[*n];
  return nullptr;
}

std::string Builder::CreatedFor(const Digest& key, bool* hit) {
  *hit = false;
  if (!opts_.no_cache) {
    if (auto e = cache_.Get(key); e && !e->has_layer) {
      *hit = true;
      return e->created;
    }
  }
  return Now();
}

Result<StageState> Builder::From(const StageSpec& spec, size_t index) {
  const Instruction& ins = *spec.from;
  auto words = SplitKeepingQuotes(ins.args, df_.escape);
  WordExpander x(global_args_, df_.escape);
  std::string image_ref = TRY(AtLine(ins, x.Word(words[0])));
  if (const Flag* pf = ins.FindFlag("platform")) {
    std::string want = TRY(x.Word(pf->value));
    auto p = image::ParsePlatform(want);
    if (!p) return std::unexpected(At(ins, p.error()));
    image::Platform host = image::HostPlatform();
    if (p->os != host.os || p->architecture != host.architecture)
      return std::unexpected(At(ins, Error::Invalid("FROM --platform=" + want +
                                                    ": moor builds only for the host "
                                                    "platform (" +
                                                    image::PlatformString(host) + ")")));
  }
  if (image_ref.empty())
    return std::unexpected(At(ins, Error::Invalid("FROM: the base image name is empty")));
  StageState st;
  st.index = index;
  st.name = spec.name;
  if (image_ref == "scratch") {
    image::Platform host = image::HostPlatform();
    st.config.os = host.os;
    st.config.architecture = host.architecture;
    st.config.variant = host.variant;
    st.key = KeyBuilder(Digest()).Add("FROM scratch").Finish();
  } else if (auto prev = TRY(FindStage(image_ref)); prev) {
    st.config = prev->config;
    st.layers = prev->layers;
    st.lowers = prev->lowers;
    st.key = KeyBuilder(prev->key).Add("FROM stage").Finish();
  } else {
    auto resolved = svc_.Resolve(image_ref);
    if (!resolved) {
      Print("Pulling " + image_ref);
      image::PullOptions po;
      auto pulled = image::Pull(svc_, image_ref, po, progress_);
      progress_.Flush();
      if (!pulled) return std::unexpected(At(ins, pulled.error().Wrap("FROM " + image_ref)));
      resolved = svc_.Resolve(image_ref);
      if (!resolved) return std::unexpected(At(ins, resolved.error()));
    }
    st.config = resolved->config;
    st.layers = resolved->manifest.layers;
    st.lowers = TRY(AtLine(ins, svc_.Layers(*resolved)));
    st.key = KeyBuilder(Digest()).Add("FROM image").Add(resolved->record.config.str()).Finish();
  }
  Print(" ---> " + (image_ref == "scratch" ? std::string("scratch") : st.key.Short()));
  // The base's ONBUILD triggers run now, and are not inherited.
  std::vector<std::string> triggers = std::move(st.config.config.onbuild);
  st.config.config.onbuild.clear();
  if (!triggers.empty()) Print("# Executing " + std::to_string(triggers.size()) + " build trigger(s)");
  for (const auto& t : triggers) {
    Instruction trig = TRY(ParseInstruction(t, df_.escape, ins.line, df_.name));
    TRY(Step(st, trig));
  }
  return st;
}

void Builder::AddLayer(StageState& st, const LayerResult& r, const std::string& created,
                       const std::string& created_by) {
  st.layers.push_back(r.layer);
  st.config.diff_ids.push_back(r.diff_id);
  st.lowers.push_back(r.snapshot);
  image::HistoryEntry h;
  h.created = created;
  h.created_by = created_by;
  h.comment = "moor build";
  st.config.history.push_back(h);
  st.config.created = created;
}

bool Builder::TryCachedLayer(StageState& st, const Digest& key, const std::string& created_by) {
  if (opts_.no_cache) return false;
  auto e = cache_.Get(key);
  if (!e) return false;
  LayerResult r;
  if (e->has_layer) {
    if (!svc_.content().Has(e->layer.digest)) return false;
    std::vector<Digest> diff_ids = st.config.diff_ids;
    diff_ids.push_back(e->diff_id);
    Digest chain = image::ChainIds(diff_ids).back();
    if (!svc_.snapshots().Has(chain)) return false;
    r.layer = e->layer;
    r.diff_id = e->diff_id;
    r.snapshot = svc_.snapshots().Path(chain);
    AddLayer(st, r, e->created, created_by);
  } else {
    image::HistoryEntry h{e->created, created_by, "", "moor build", true};
    st.config.history.push_back(h);
    st.config.created = e->created;
  }
  st.key = key;
  Print(" ---> Using cache");
  return true;
}

Result<void> Builder::ConfigStep(StageState& st, const Instruction& ins) {
  std::string text = TRY(ApplyConfigInstruction(st, ins, df_.escape));
  Digest key = KeyBuilder(st.key).Add(text).Finish();
  bool hit = false;
  std::string created = CreatedFor(key, &hit);
  st.config.history.push_back({created, text, "", "moor build", true});
  st.config.created = created;
  st.key = key;
  if (hit) Print(" ---> Using cache");
  if (!hit) TRY(cache_.Put(key, CacheEntry{created, false, {}, {}}));
  return {};
}

Result<void> Builder::WorkdirStep(StageState& st, const Instruction& ins) {
  std::string text = TRY(ApplyConfigInstruction(st, ins, df_.escape));
  Digest key = KeyBuilder(st.key).Add(text).Finish();
  if (TryCachedLayer(st, key, text)) return {};
  auto fs = TRY(StepRootfs::Mount(svc_, st.lowers));
  bool created = TRY(EnsureDirInRoot(fs.rootfs(), st.config.config.working_dir));
  TRY(fs.Unmount());
  std::string when = Now();
  CacheEntry entry{when, false, {}, {}};
  if (created) {
    LayerResult r = TRY(CommitLayer(svc_, st, fs.upper(), {}));
    AddLayer(st, r, when, text);
    entry.has_layer = true;
    entry.layer = r.layer;
    entry.diff_id = r.diff_id;
  } else {
    st.config.history.push_back({when, text, "", "moor build", true});
    st.config.created = when;
  }
  st.key = key;
  TRY(cache_.Put(key, entry));
  return {};
}

Result<void> Builder::RunStep(StageState& st, const Instruction& ins) {
  std::vector<std::string> argv;
  if (ins.json) {
    argv = *ins.json;
  } else {
    argv =
        st.config.config.shell.empty() ? std::vector<std::string>{"/bin/sh", "-c"} : st.config.config.shell;
    argv.push_back(ins.args);
  }
  if (argv.empty()) return FailInvalid("RUN: empty command");
  if (const Flag* net = ins.FindFlag("network"); net && net->value != "default" && net->value != "host")
    return FailInvalid("RUN --network=" + net->value + " is not supported (RUN uses the host network)");
  // ARGs reach RUN's environment unless an ENV of the same name wins.
  std::vector<std::string> extra_env, keyed_env;
  VarMap env_names;
  for (const auto& e : st.config.config.env) env_names[e.substr(0, e.find('='))] = "";
  for (const auto& [k, v] : st.args) {
    if (env_names.count(k)) continue;
    extra_env.push_back(k + "=" + v);
    keyed_env.push_back(k + "=" + v);
  }
  for (const auto& [k, v] : opts_.build_args) {
    if (IsPredefinedArg(k) && !st.args.count(k)) extra_env.push_back(k + "=" + v);
  }
  std::string text = "RUN " + (ins.json ? JsonList(argv) : ins.args);
  Digest key = KeyBuilder(st.key).Add("RUN").Add(JsonList(argv)).Add(JsonList(keyed_env)).Finish();
  if (TryCachedLayer(st, key, text)) return {};

  auto fs = TRY(StepRootfs::Mount(svc_, st.lowers));
  RunStepRequest req;
  req.argv = argv;
  req.extra_env = extra_env;
  req.host_network = opts_.host_network;
  req.state_root = opts_.state_root;
  std::vector<std::string> mount_points;
  int code = TRY(RunInRootfs(st, fs, req, mount_points));
  TRY(fs.Unmount());
  if (code != 0) {
    std::string shown = ins.json ? JsonList(argv) : ins.args;
    return FailInvalid("RUN " + shown + ": exited with code " + std::to_string(code));
  }
  for (const auto& m : mount_points) TRY(RemoveAll(fs.upper() + "/" + m));
  LayerResult r = TRY(CommitLayer(svc_, st, fs.upper(), {}));
  std::string when = Now();
  AddLayer(st, r, when, text);
  st.key = key;
  TRY(cache_.Put(key, CacheEntry{when, true, r.layer, r.diff_id}));
  return {};
}

Result<void> Builder::CopyStep(StageState& st, const Instruction& ins) {
  VarMap vars = ExpansionVars(st);
  WordExpander x(vars, df_.escape);
  std::vector<std::string> words;
  if (ins.json) {
    for (const auto& w : *ins.json) words.push_back(TRY(x.Word(w)));
  } else {
    for (const auto& w : SplitKeepingQuotes(ins.args, df_.escape)) words.push_back(TRY(x.Word(w)));
  }
  CopyRequest req;
  req.keyword = ins.keyword;
  req.dest = words.back();
  words.pop_back();
  req.sources = words;
  if (const Flag* f = ins.FindFlag("chown")) req.chown = TRY(x.Word(f->value));
  if (const Flag* f = ins.FindFlag("chmod")) {
    std::string m = TRY(x.Word(f->value));
    char* end = nullptr;
    unsigned long v = std::strtoul(m.c_str(), &end, 8);
    if (m.empty() || *end != '\0' || v > 07777)
      return FailInvalid(ins.keyword + " --chmod=" + m + ": expected an octal mode such as 0755");
    req.chmod = static_cast<uint32_t>(v);
  }
  // The source: the context, or another stage's / image's rootfs.
  std::optional<SourceRootfs> from;
  std::string from_id = "context";
  if (const Flag* f = ins.FindFlag("from")) {
    std::string ref = TRY(x.Word(f->value));
    if (auto prev = TRY(FindStage(ref)); prev) {
      from.emplace(TRY(SourceRootfs::Mount(svc_, prev->lowers)));
      from_id = "stage " + prev->key.str();
    } else {
      if (!svc_.Resolve(ref)) {
        Print("Pulling " + ref);
        auto pulled = image::Pull(svc_, ref, image::PullOptions{}, progress_);
        progress_.Flush();
        if (!pulled) return std::unexpected(pulled.error().Wrap("COPY --from=" + ref));
      }
      auto img = TRY(svc_.Resolve(ref));
      auto lowers = TRY(svc_.Layers(img));
      from.emplace(TRY(SourceRootfs::Mount(svc_, lowers)));
      from_id = "image " + img.record.config.str();
    }
  }
  std::optional<BuildContext> from_ctx;
  if (from) from_ctx = TRY(BuildContext::OpenRootfs(from->path()));
  const BuildContext& src_ctx = from_ctx ? *from_ctx : ctx_;
  CopyPlan plan = TRY(PlanCopyRequest(src_ctx, req));

  std::string text = ins.keyword + " " + (req.chown ? "--chown=" + *req.chown + " " : "") +
                     (req.chmod ? "--chmod=" + std::to_string(*req.chmod) + " " : "") +
                     Join(req.sources, " ") + " " + req.dest;
  Digest key = KeyBuilder(st.key)
                   .Add(text)
                   .Add(from_id)
                   .Add(plan.digest.str())
                   .Add(st.config.config.working_dir)
                   .Finish();
  if (TryCachedLayer(st, key, text)) return {};
  auto fs = TRY(StepRootfs::Mount(svc_, st.lowers));
  TRY(ExecuteCopy(src_ctx, plan, req, st, fs.rootfs()));
  TRY(fs.Unmount());
  LayerResult r = TRY(CommitLayer(svc_, st, fs.upper(), {}));
  std::string when = Now();
  AddLayer(st, r, when, text);
  st.key = key;
  TRY(cache_.Put(key, CacheEntry{when, true, r.layer, r.diff_id}));
  return {};
}

Result<void> Builder::Step(StageState& st, const Instruction& ins) {
  const std::string& kw = ins.keyword;
  Result<void> r;
  if (kw == "ARG") {
    VarMap vars = ExpansionVars(st);
    r = DeclareArgs(ins, st.args, vars, false);
    if (r) {
      // ARG values are part of the chain: a changed --build-arg invalidates what follows.
      KeyBuilder kb(st.key);
      kb.Add("ARG");
      for (const auto& [k, v] : st.args) kb.Add(k + "=" + v);
      st.key = kb.Finish();
    }
  } else if (kw == "RUN") {
    r = RunStep(st, ins);
  } else if (kw == "COPY" || kw == "ADD") {
    r = CopyStep(st, ins);
  } else if (kw == "WORKDIR") {
    r = WorkdirStep(st, ins);
  } else {
    r = ConfigStep(st, ins);
  }
  if (!r) {
    // Messages that already name the Dockerfile keep theirs.
    if (StartsWith(r.error().message(), df_.name + ":")) return r;
    return std::unexpected(At(ins, r.error()));
  }
  return {};
}

Result<Digest> Builder::Finish(const StageState& st) {
  image::ImageConfig cfg = st.config;
  if (cfg.created.empty()) cfg.created = Now();
  std::string config_json = image::SerializeImageConfig(cfg);
  Digest config_digest = TRY(svc_.content().WriteBlob(config_json));

  image::Manifest m;
  bool all_gzip = true;
  for (const auto& l : st.layers) {
    auto c = image::LayerCompression(l.media_type);
    if (!c || *c != image::Compression::kGzip) all_gzip = false;
  }
  m.media_type = std::string(all_gzip ? image::media::kDockerManifest : image::media::kOciManifest);
  m.config.media_type = std::string(all_gzip ? image::media::kDockerConfig : image::media::kOciConfig);
  m.config.digest = config_digest;
  m.config.size = static_cast<int64_t>(config_json.size());
  for (auto l : st.layers) {
    // Docker schema2 wants Docker layer types; OCI manifests the OCI ones.
    auto c = image::LayerCompression(l.media_type);
    if (all_gzip) {
      l.media_type = std::string(image::media::kDockerLayerGzip);
    } else if (c && *c == image::Compression::kGzip) {
      l.media_type = std::string(image::media::kOciLayerGzip);
    } else if (c && *c == image::Compression::kZstd) {
      l.media_type = std::string(image::media::kOciLayerZstd);
    } else if (c && *c == image::Compression::kNone) {
      l.media_type = std::string(image::media::kOciLayer);
    }
    m.layers.push_back(l);
  }
  std::string manifest_json = image::SerializeManifest(m);
  Digest manifest_digest = TRY(svc_.content().WriteBlob(manifest_json));
  Print("Successfully built " + config_digest.Short());
  for (const auto& tag : opts_.tags) {
    TRY_CTX(svc_.Name(tag, manifest_digest, m.media_type), "tag " + tag);
    auto ref = image::Reference::Parse(tag);
    Print("Successfully tagged " + (ref ? ref->Familiar() : tag));
  }
  if (opts_.tags.empty()) TRY(svc_.RecordUnnamed(manifest_digest, m.media_type));
  return config_digest;
}

Result<Digest> Builder::Run() {
  // Stages and global ARGs.
  std::vector<const Instruction*> global;
  std::vector<StageSpec> stages;
  for (const auto& ins : df_.instructions) {
    if (ins.keyword == "FROM") {
      StageSpec s;
      s.from = &ins;
      auto words = SplitKeepingQuotes(ins.args, df_.escape);
      if (words.size() == 3) s.name = Lower(words[2]);
      stages.push_back(s);
    } else if (stages.empty()) {
      global.push_back(&ins);
    } else {
      stages.back().body.push_back(&ins);
    }
  }
  size_t last = stages.size() - 1;
  if (!opts_.target.empty()) {
    bool found = false;
    for (size_t i = 0; i < stages.size() && !found; ++i) {
      if (stages[i].name == Lower(opts_.target)) {
        last = i;
        found = true;
      }
    }
    if (!found) return FailInvalid("target stage " + opts_.target + " could not be found in " + df_.name);
  }
  size_t total = global.size();
  for (size_t i = 0; i <= last; ++i) total += 1 + stages[i].body.size();
  size_t n = 0;
  auto step_line = [&](const Instruction& ins) {
    Print("Step " + std::to_string(++n) + "/" + std::to_string(total) + " : " + ins.original);
  };

  for (const Instruction* ins : global) {
    step_line(*ins);
    VarMap with = global_args_;
    TRY(AtLine(*ins, DeclareArgs(*ins, global_args_, with, true)));
  }
  for (size_t i = 0; i <= last; ++i) {
    step_line(*stages[i].from);
    StageState st = TRY(From(stages[i], i));
    for (const Instruction* ins : stages[i].body) {
      step_line(*ins);
      TRY(Step(st, *ins));
      // Docker prints the intermediate image; moor's is the step key.
      if (ins->keyword != "ARG") Print(" ---> " + st.key.Short());
    }
    done_.push_back(std::move(st));
  }
  std::vector<std::string> unused;
  for (const auto& [k, v] : opts_.build_args)
    if (!consumed_.count(k) && !IsPredefinedArg(k)) unused.push_back(k);
  if (!unused.empty())
    Print("[Warning] One or more build-args [" + Join(unused, " ") + "] were not consumed");
  return Finish(done_.back());
}

}  // namespace

Result<Digest> Build(image::ImageService& svc, const BuildOptions& opts, image::ProgressSink& progress,
                     std::ostream& out) {
  namespace fs = std::filesystem;
  if (opts.context_dir.empty()) return FailInvalid("build: no context directory given");
  struct stat st {};
  if (::stat(opts.context_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
    return FailInvalid("build: context " + opts.context_dir + " is not a directory");
  std::string df_path = opts.dockerfile.empty() ? opts.context_dir + "/Dockerfile" : opts.dockerfile;
  auto text = ReadFile(df_path);
  if (!text) return std::unexpected(std::move(text.error()).Wrap("build: read the Dockerfile"));
  std::string df_name = fs::path(df_path).filename().string();
  Dockerfile df = TRY(ParseDockerfile(*text, df_name));

  // The Dockerfile's path inside the context (kept even when .dockerignore'd).
  std::error_code ec;
  fs::path ctx_abs = fs::weakly_canonical(opts.context_dir, ec);
  fs::path df_abs = fs::weakly_canonical(df_path, ec);
  std::string rel;
  fs::path r = df_abs.lexically_relative(ctx_abs);
  if (!r.empty() && !StartsWith(r.string(), "..")) rel = r.string();
  BuildContext ctx = TRY(BuildContext::Open(opts.context_dir, rel));
  // Layers, snapshots and cache entries made by the build are referenced by
  // nothing until the build ends: keep gc out until then.
  auto gc_lock = TRY(image::GcLock::Acquire(svc.root(), image::GcLock::Mode::kShared));
  Builder b(svc, opts, progress, out, df, ctx);
  return b.Run();
}

}  // namespace moor::build
