#include "deploy/deploy_service.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "api/http.h"
#include "app/code_release.h"
#include "app/fake_app_backend.h"
#include "deploy/ledger/ledger.h"
#include "deploy/store/release_store.h"
#include "deploy/tree/tree.h"
#include "metrics/registry.h"

namespace moor::deploy {
namespace {

using nlohmann::json;

// Forwards to one shared fake, so every backend the service makes sees the same containers.
class Proxy : public app::AppBackend {
 public:
  explicit Proxy(app::FakeBackend& f) : f_(f) {}
  Result<std::vector<app::ContainerStatus>> ListContainers(const std::string& a) override { return f_.ListContainers(a); }
  Result<app::ContainerStatus> Inspect(const std::string& id) override { return f_.Inspect(id); }
  Result<std::string> ImageId(const std::string& r) override { return f_.ImageId(r); }
  Result<std::string> Pull(const std::string& r) override { return f_.Pull(r); }
  Result<std::string> Build(const app::BuildSpec& b, const std::string& t) override { return f_.Build(b, t); }
  Result<bool> EnsureNetwork(const app::NetworkSpec& n, const std::map<std::string, std::string>& l) override {
    return f_.EnsureNetwork(n, l);
  }
  Result<bool> EnsureVolume(const app::VolumeSpec& v, const std::map<std::string, std::string>& l) override {
    return f_.EnsureVolume(v, l);
  }
  Result<std::vector<std::string>> ListNetworks(const std::string& a) override { return f_.ListNetworks(a); }
  Result<std::vector<std::string>> ListVolumes(const std::string& a) override { return f_.ListVolumes(a); }
  Result<void> RemoveNetwork(const std::string& n) override { return f_.RemoveNetwork(n); }
  Result<void> RemoveVolume(const std::string& v) override { return f_.RemoveVolume(v); }
  Result<std::string> Create(const std::string& n, const json& b) override { return f_.Create(n, b); }
  Result<void> PutFile(const std::string& id, const std::string& p, const std::string& c, int m) override {
    return f_.PutFile(id, p, c, m);
  }
  Result<void> RenderTemplates(const std::string& id) override { return f_.RenderTemplates(id); }
  Result<void> Start(const std::string& id) override { return f_.Start(id); }
  Result<void> Stop(const std::string& id, int64_t t) override { return f_.Stop(id, t); }
  std::vector<Result<void>> StopAll(const std::vector<std::string>& ids, const std::vector<int64_t>& t) override {
    return f_.StopAll(ids, t);
  }
  Result<void> Remove(const std::string& id) override { return f_.Remove(id); }
  Result<void> Signal(const std::string& id, const std::string& s) override { return f_.Signal(id, s); }
  Result<app::RegistrationStatus> Registration(const std::string& id) override { return f_.Registration(id); }
  std::string LogTail(const std::string& id, int n) override { return f_.LogTail(id, n); }
  int64_t NowNs() override { return f_.NowNs(); }
  void SleepNs(int64_t ns) override { f_.SleepNs(ns); }

 private:
  app::FakeBackend& f_;
};

class FakeGate : public ReleaseGate {
 public:
  std::vector<std::string> calls;  // "php=2", "php="
  Result<uint64_t> SetLive(const std::string& s, const std::string& r) override {
    calls.push_back(s + "=" + r);
    return ++index;
  }
  bool WaitRendered(const std::string&, uint64_t, int64_t) override { return true; }
  uint64_t index = 0;
};

// A code tree: files at the root and in one subdirectory.
struct Code {
  std::map<std::string, std::string> files;  // "index.php", "lib/a.php"
  std::string blob_pack, tree_pack;
  std::vector<image::Digest> trees, blobs;
  image::Digest root;
};

Code MakeCode(const std::map<std::string, std::string>& files) {
  Code c;
  c.files = files;
  Tree top, sub;
  for (auto& [path, content] : files) {
    auto d = image::Sha256Of(content);
    AppendPackEntry(&c.blob_pack, d, content);
    c.blobs.push_back(d);
    auto slash = path.find('/');
    TreeEntry e{EntryKind::kFile, d, static_cast<int64_t>(content.size()), path.substr(slash == std::string::npos ? 0 : slash + 1)};
    (slash == std::string::npos ? top : sub).entries.push_back(e);
  }
  if (!sub.entries.empty()) {
    std::string bytes = *EncodeTree(sub);
    auto d = TreeDigest(bytes);
    AppendPackEntry(&c.tree_pack, d, bytes);
    c.trees.push_back(d);
    top.entries.push_back({EntryKind::kDir, d, 0, "lib"});
  }
  std::string bytes = *EncodeTree(top);
  c.root = TreeDigest(bytes);
  AppendPackEntry(&c.tree_pack, c.root, bytes);
  c.trees.push_back(c.root);
  return c;
}

json DigestsJson(const std::vector<image::Digest>& ds) {
  json j = json::array();
  for (auto& d : ds) j.push_back(d.str());
  return j;
}

class DeployServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/moor-deploy-svc-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    Open();
  }
  void TearDown() override {
    svc_.reset();
    std::error_code ec;
    // Release trees are read-only: make them writable to remove them.
    for (auto it = std::filesystem::recursive_directory_iterator(dir_, ec);
         it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_symlink()) chmod(it->path().c_str(), 0755);
    }
    std::filesystem::remove_all(dir_, ec);
  }
  void Open() {
    svc_.reset();
    DeployOptions o;
    o.root = dir_ + "/deploy";
    o.ready_timeout_ns = 5'000'000'000;
    o.grace_ns = 0;
    auto s = DeployService::Open(o, [this]() -> Result<std::unique_ptr<app::AppBackend>> {
      return std::unique_ptr<app::AppBackend>(std::make_unique<Proxy>(fake_));
    }, &gate_);
    ASSERT_TRUE(s) << s.error().message();
    svc_ = std::move(*s);
  }
  void PutService(const std::string& strategy) {
    json body = {{"strategy", strategy},
                 {"reload_signal", "SIGUSR2"},
                 {"replicas", 2},
                 {"image", "img:1"},
                 {"digest", "base"},
                 {"discovery_name", "php"},
                 {"body", {{"Image", "img:1"}, {"Labels", {{app::kLabelApp, "shop"}, {app::kLabelService, "php"}}}}}};
    auto r = svc_->PutService("shop", "php", body);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ((*r)["releases_dir"], dir_ + "/deploy/releases/shop/php");
  }
  // A running container of the service, as `moor up` makes it.
  void AddContainer(const std::string& name, int replica, int64_t release) {
    json body = {{"Labels", {{app::kLabelApp, "shop"}, {app::kLabelService, "php"}, {app::kLabelReplica, std::to_string(replica)}}}};
    if (release) body["Labels"][app::kLabelRelease] = std::to_string(release);
    auto id = fake_.Create(name, body);
    ASSERT_TRUE(id);
    ASSERT_TRUE(fake_.Start(*id));
  }
  Result<json> Open(const Code& c, const std::string& image = "") {
    json body = {{"app", "shop"}, {"service", "php"}, {"root", c.root.str()}, {"trees", DigestsJson(c.trees)}};
    if (!image.empty()) body["image"] = image;
    return svc_->OpenSession(body, "tester");
  }
  // The whole protocol; returns the release made live.
  Result<int64_t> Deploy(const Code& c, std::vector<json>* lines = nullptr) {
    json s = TRY(Open(c));
    if (s.value("unchanged", false)) return s["release"].get<int64_t>();
    std::string session = s["session"];
    json have = TRY(svc_->Have(session, {{"digests", DigestsJson(c.blobs)}}));
    if (!have["missing"].empty()) TRY(svc_->PutBlobs(session, c.blob_pack));
    std::vector<image::Digest> missing;
    TRY(svc_->PutTrees(session, c.tree_pack, &missing));
    return svc_->Commit(session, [&](const json& l) {
      if (lines) lines->push_back(l);
    });
  }
  std::string Live(const std::string& path) {
    std::ifstream f(dir_ + "/deploy/releases/shop/php/current/" + path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  }
  std::string dir_;
  app::FakeBackend fake_;
  FakeGate gate_;
  std::unique_ptr<DeployService> svc_;
};

TEST_F(DeployServiceTest, ReloadDeployFlipsCurrentAndSignalsRunningContainers) {
  PutService("reload");
  AddContainer("shop-php-1", 1, 0);
  AddContainer("shop-php-2", 1, 0);
  Code v1 = MakeCode({{"index.php", "v1"}, {"lib/a.php", "a"}});
  std::vector<json> lines;
  auto r = Deploy(v1, &lines);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 1);
  EXPECT_EQ(Live("index.php"), "v1");
  EXPECT_EQ(Live("lib/a.php"), "a");
  EXPECT_NE(std::find(fake_.calls.begin(), fake_.calls.end(), "signal shop-php-1 SIGUSR2"), fake_.calls.end());
  EXPECT_NE(std::find(fake_.calls.begin(), fake_.calls.end(), "signal shop-php-2 SIGUSR2"), fake_.calls.end());
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back()["state"], "live");

  Code v2 = MakeCode({{"index.php", "v2"}, {"lib/a.php", "a"}});
  json s = *Open(v2);
  // Only the changed file's blob is missing; lib/ is there already.
  json have = *svc_->Have(s["session"], {{"digests", DigestsJson(v2.blobs)}});
  EXPECT_EQ(have["missing"], json::array({image::Sha256Of("v2").str()}));
  EXPECT_EQ(s["missing_trees"], json::array({v2.root.str()}));
  ASSERT_TRUE(Deploy(v2));
  EXPECT_EQ(Live("index.php"), "v2");
  auto rel = *svc_->Releases("shop", "php");
  ASSERT_EQ(rel.size(), 2u);
  EXPECT_EQ(rel[0]["release"], 2);
  EXPECT_EQ(rel[0]["live"], true);
  EXPECT_EQ(rel[1]["state"], "retired");
}

TEST_F(DeployServiceTest, UnchangedTreeIsOneRequestAndSendsNothing) {
  PutService("reload");
  Code v1 = MakeCode({{"index.php", "v1"}});
  ASSERT_TRUE(Deploy(v1));
  auto s = Open(v1);
  ASSERT_TRUE(s);
  EXPECT_EQ((*s)["unchanged"], true);
  EXPECT_EQ((*s)["release"], 1);
}

TEST_F(DeployServiceTest, InterruptedUploadResumesTheSameSession) {
  PutService("reload");
  Code v1 = MakeCode({{"index.php", "v1"}, {"lib/a.php", "a"}});
  json a = *Open(v1);
  ASSERT_TRUE(svc_->PutBlobs(a["session"], v1.blob_pack));
  json b = *Open(v1);
  EXPECT_EQ(b["session"], a["session"]);
  EXPECT_EQ(b["resumed"], true);
  json have = *svc_->Have(b["session"], {{"digests", DigestsJson(v1.blobs)}});
  EXPECT_TRUE(have["missing"].empty());
}

TEST_F(DeployServiceTest, CorruptBlobIsRefusedAndNothingSwitches) {
  PutService("reload");
  Code v1 = MakeCode({{"index.php", "v1"}});
  ASSERT_TRUE(Deploy(v1));
  Code v2 = MakeCode({{"index.php", "v2"}});
  json s = *Open(v2);
  std::string bad;
  AppendPackEntry(&bad, image::Sha256Of("v2"), "XX");
  auto put = svc_->PutBlobs(s["session"], bad);
  ASSERT_FALSE(put);
  EXPECT_NE(put.error().message().find("corrupt"), std::string::npos) << put.error().message();
  std::vector<image::Digest> missing;
  auto trees = svc_->PutTrees(s["session"], v2.tree_pack, &missing);
  ASSERT_FALSE(trees);
  EXPECT_EQ(missing, std::vector<image::Digest>{image::Sha256Of("v2")});
  auto c = svc_->Commit(s["session"], [](const json&) {});
  ASSERT_FALSE(c);
  EXPECT_NE(c.error().message().find("run moor deploy again"), std::string::npos) << c.error().message();
  EXPECT_EQ(Live("index.php"), "v1");
}

TEST_F(DeployServiceTest, UnknownServiceSaysWhatToDo) {
  Code v1 = MakeCode({{"index.php", "v1"}});
  auto s = Open(v1);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().errnum(), ENOENT);
  EXPECT_NE(s.error().message().find("moor up"), std::string::npos);
}

TEST_F(DeployServiceTest, RollbackFlipsBackAtOnceAndPrunedReleasesAreRefused) {
  PutService("reload");
  ASSERT_TRUE(Deploy(MakeCode({{"index.php", "v1"}})));
  ASSERT_TRUE(Deploy(MakeCode({{"index.php", "v2"}})));
  auto r = svc_->Rollback("shop", "php", std::nullopt, "tester", [](const json&) {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 1);
  EXPECT_EQ(Live("index.php"), "v1");
  // Forward again to 2, explicitly.
  ASSERT_TRUE(svc_->Rollback("shop", "php", 2, "tester", [](const json&) {}));
  EXPECT_EQ(Live("index.php"), "v2");
  auto pruned = svc_->Prune("shop", "php", 0);
  ASSERT_TRUE(pruned) << pruned.error().message();
  EXPECT_EQ((*pruned)["releases_removed"], 1);
  auto back = svc_->Rollback("shop", "php", 1, "tester", [](const json&) {});
  ASSERT_FALSE(back);
  EXPECT_NE(back.error().message().find("pruned"), std::string::npos) << back.error().message();
  EXPECT_EQ(Live("index.php"), "v2");
  // v1's blob went with it; v2's stays.
  auto s = Open(MakeCode({{"index.php", "v1"}}));
  json have = *svc_->Have((*s)["session"], {{"digests", json::array({image::Sha256Of("v1").str(), image::Sha256Of("v2").str()})}});
  EXPECT_EQ(have["missing"], json::array({image::Sha256Of("v1").str()}));
}

// The value of one rendered sample line of the default registry; 0 when absent.
double MetricValue(const std::string& series) {
  std::istringstream in(metrics::DefaultRegistry().Render());
  for (std::string line; std::getline(in, line);) {
    if (line.size() > series.size() && line.starts_with(series) && line[series.size()] == ' ')
      return std::stod(line.substr(series.size() + 1));
  }
  return 0;
}

TEST_F(DeployServiceTest, DeploysAndSwitchesAreCounted) {
  const std::string ok = R"(moor_deploys_total{app="shop",service="php",result="success"})";
  const std::string back = R"(moor_deploys_total{app="shop",service="php",result="rollback"})";
  const std::string back_failed = R"(moor_deploys_total{app="shop",service="php",result="rollback_failure"})";
  const std::string switches = R"(moor_deploy_switch_duration_seconds_count{strategy="reload"})";
  double ok0 = MetricValue(ok), back0 = MetricValue(back), failed0 = MetricValue(back_failed);
  double sw0 = MetricValue(switches);
  PutService("reload");
  ASSERT_TRUE(Deploy(MakeCode({{"index.php", "v1"}})));
  ASSERT_TRUE(Deploy(MakeCode({{"index.php", "v2"}})));
  ASSERT_TRUE(svc_->Rollback("shop", "php", std::nullopt, "tester", [](const json&) {}));
  ASSERT_FALSE(svc_->Rollback("shop", "php", 1, "tester", [](const json&) {}));  // already live
  EXPECT_EQ(MetricValue(ok), ok0 + 2);
  EXPECT_EQ(MetricValue(back), back0 + 1);
  EXPECT_EQ(MetricValue(back_failed), failed0 + 1);
  EXPECT_EQ(MetricValue(switches), sw0 + 3);  // two commits and the rollback
}

TEST_F(DeployServiceTest, RollingStartsNewReplicasThenRetiresTheOldBehindTheGate) {
  PutService("rolling");
  ASSERT_TRUE(Deploy(MakeCode({{"index.php", "v1"}})));  // nothing runs yet: commit only
  EXPECT_TRUE(fake_.calls.empty());
  gate_.calls.clear();
  AddContainer("shop-php-1", 1, 1);
  AddContainer("shop-php-2", 2, 1);
  fake_.calls.clear();
  auto r = Deploy(MakeCode({{"index.php", "v2"}}));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 2);
  EXPECT_EQ(fake_.Running(), (std::vector<std::string>{"shop-php-3", "shop-php-4"}));
  for (auto& [id, c] : fake_.ctrs) {
    EXPECT_EQ(c.st.labels[app::kLabelRelease], "2");
    EXPECT_EQ(c.st.labels[app::kLabelReleaseMeta], "2");
    EXPECT_EQ(c.st.labels[app::kLabelDigest], app::ReleaseDigest("base", 2));
    bool bound = false;
    for (auto& m : c.body["HostConfig"]["Mounts"]) {
      if (m["Target"] == "/srv/app" && m["Source"] == dir_ + "/deploy/releases/shop/php/2" && m["ReadOnly"] == true) bound = true;
    }
    EXPECT_TRUE(bound) << c.body.dump();
  }
  EXPECT_EQ(gate_.calls, (std::vector<std::string>{"php=1", "php=2", "php="}));
  // Old ones stop only after both new ones started.
  auto pos = [&](const std::string& c) { return std::find(fake_.calls.begin(), fake_.calls.end(), c) - fake_.calls.begin(); };
  EXPECT_LT(pos("start shop-php-4"), pos("stop shop-php-1"));
}

TEST_F(DeployServiceTest, RollingReplicaNeverReadyLeavesTheOldOnesServing) {
  PutService("rolling");
  ASSERT_TRUE(Deploy(MakeCode({{"index.php", "v1"}})));
  AddContainer("shop-php-1", 1, 1);
  fake_.default_polls = -1;  // new containers never pass their check
  auto r = Deploy(MakeCode({{"index.php", "v2"}}));
  ASSERT_FALSE(r);
  EXPECT_EQ(fake_.Running(), std::vector<std::string>{"shop-php-1"});
  EXPECT_EQ(fake_.ctrs.size(), 1u);
  auto rel = *svc_->Releases("shop", "php");
  EXPECT_EQ(rel[0]["state"], "failed");
  EXPECT_EQ(rel[1]["live"], true);
  EXPECT_EQ(gate_.calls.back(), "php=");
}

TEST_F(DeployServiceTest, TokensAuthenticateByHashAndScope) {
  auto t = svc_->CreateToken("ci", "shop");
  ASSERT_TRUE(t) << t.error().message();
  std::string token = (*t)["token"];
  EXPECT_EQ(*svc_->Authenticate("Bearer " + token, "shop"), "ci");
  EXPECT_FALSE(svc_->Authenticate("Bearer " + token, ""));  // an app-scoped token must name its app
  auto any = svc_->CreateToken("ops", "");
  ASSERT_TRUE(any);
  EXPECT_EQ(*svc_->Authenticate("Bearer " + (*any)["token"].get<std::string>(), ""), "ops");
  auto other = svc_->Authenticate("Bearer " + token, "blog");
  ASSERT_FALSE(other);
  EXPECT_EQ(other.error().errnum(), EACCES);
  EXPECT_FALSE(svc_->Authenticate("Bearer nope", "shop"));
  EXPECT_FALSE(svc_->Authenticate("", "shop"));
  EXPECT_EQ(svc_->CreateToken("ci", "").error().errnum(), EEXIST);
  EXPECT_TRUE(svc_->RemoveToken("ci"));
  EXPECT_FALSE(svc_->Authenticate("Bearer " + token, "shop"));
}

TEST_F(DeployServiceTest, RecoveryKeepsAnInterruptedUploadForTheNextDeploy) {
  PutService("reload");
  ASSERT_TRUE(Deploy(MakeCode({{"index.php", "v1"}})));
  // A commit interrupted after materialising (the daemon died): release 2 stays switching.
  Code v2 = MakeCode({{"index.php", "v2"}});
  json s = *Open(v2);
  ASSERT_TRUE(svc_->PutBlobs(s["session"], v2.blob_pack));
  ASSERT_TRUE(svc_->PutTrees(s["session"], v2.tree_pack, nullptr));
  setenv("MOOR_DEPLOY_TEST_PAUSE", "never", 1);
  // Simulate: reopen the service (a restart) with the release left in uploading; recovery keeps it.
  Open();
  svc_->Recover();
  auto rel = *svc_->Releases("shop", "php");
  EXPECT_EQ(rel[0]["state"], "uploading");
  EXPECT_EQ(Live("index.php"), "v1");
  // The next deploy resumes it and succeeds.
  auto r = Deploy(v2);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 2);
  EXPECT_EQ(Live("index.php"), "v2");
}

// A commit interrupted in "switching" (the daemon was killed): the ledger row
// and the `current` link as a crash would leave them.
class RecoveryTest : public DeployServiceTest {
 protected:
  // Uploads v2 fully, materialises it as release 2 and marks it switching.
  void Interrupt(bool flipped) {
    PutService("reload");
    AddContainer("shop-php-1", 1, 0);
    ASSERT_TRUE(Deploy(MakeCode({{"index.php", "v1"}})));
    Code v2 = MakeCode({{"index.php", "v2"}});
    json s = *Open(v2);
    ASSERT_TRUE(svc_->PutBlobs(s["session"], v2.blob_pack));
    ASSERT_TRUE(svc_->PutTrees(s["session"], v2.tree_pack, nullptr));
    svc_.reset();
    auto store = ReleaseStore::Open(dir_ + "/deploy");
    ASSERT_TRUE(store);
    ASSERT_TRUE((*store)->Materialise("shop", "php", 2, v2.root));
    if (flipped) {
      ASSERT_TRUE((*store)->SetCurrent("shop", "php", 2));
    }
    auto ledger = Ledger::Open(dir_ + "/deploy/deploy.db");
    ASSERT_TRUE(ledger);
    ASSERT_TRUE((*ledger)->SetState("shop", "php", 2, ReleaseState::kSwitching));
    ledger->reset();
    Open();
    fake_.calls.clear();
  }
};

TEST_F(RecoveryTest, AReloadThatFlippedIsFinished) {
  Interrupt(true);
  svc_->Recover();
  auto rel = *svc_->Releases("shop", "php");
  EXPECT_EQ(rel[0]["state"], "live");
  EXPECT_EQ(rel[0]["live"], true);
  EXPECT_EQ(Live("index.php"), "v2");
  EXPECT_NE(std::find(fake_.calls.begin(), fake_.calls.end(), "signal shop-php-1 SIGUSR2"), fake_.calls.end());
}

TEST_F(RecoveryTest, AReloadThatDidNotFlipFailsAndTheOldReleaseStays) {
  Interrupt(false);
  svc_->Recover();
  auto rel = *svc_->Releases("shop", "php");
  EXPECT_EQ(rel[0]["state"], "failed");
  EXPECT_EQ(rel[1]["live"], true);
  EXPECT_EQ(Live("index.php"), "v1");
  // The next deploy of the same tree succeeds (a new release: the failed one is not reused).
  auto r = Deploy(MakeCode({{"index.php", "v2"}}));
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(*r, 3);
  EXPECT_EQ(Live("index.php"), "v2");
}

TEST_F(DeployServiceTest, AnImageDeployRollsNewContainersWithTheLiveCode) {
  PutService("reload");
  ASSERT_TRUE(Deploy(MakeCode({{"index.php", "v1"}})));
  AddContainer("shop-php-1", 1, 0);
  auto absent = svc_->OpenSession({{"app", "shop"}, {"service", "php"}, {"image", "img:2"}}, "tester");
  ASSERT_FALSE(absent);
  EXPECT_EQ(absent.error().errnum(), ENOENT);
  EXPECT_NE(absent.error().message().find("moor pull img:2"), std::string::npos) << absent.error().message();
  fake_.images.insert("img:2");
  json s = *svc_->OpenSession({{"app", "shop"}, {"service", "php"}, {"image", "img:2"}}, "tester");
  EXPECT_TRUE(s["missing_trees"].empty());
  auto r = svc_->Commit(s["session"], [](const json&) {});
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(fake_.Running(), std::vector<std::string>{"shop-php-2"});
  for (auto& [id, c] : fake_.ctrs) {
    EXPECT_EQ(c.body["Image"], "img:2");
    // A reload service's containers are not pinned: they keep the service's digest.
    EXPECT_EQ(c.st.labels[app::kLabelDigest], "base");
  }
  EXPECT_EQ(Live("index.php"), "v1");
  auto again = svc_->OpenSession({{"app", "shop"}, {"service", "php"}, {"image", "img:2"}}, "tester");
  EXPECT_EQ((*again)["unchanged"], true);
  auto rel = *svc_->Releases("shop", "php");
  EXPECT_EQ(rel[0]["image_ref"], "img:2");
  EXPECT_EQ(rel[0]["image_id"], "sha256:img:2");
  EXPECT_EQ(rel[1]["image_id"], "sha256:img:1");
}

// Records a route's answer (the remote routes' token check).
class Writer : public api::ResponseWriter {
 public:
  void Send(api::Response r) override { sent = std::move(r); }
  void StartStream(int status, api::Headers) override { sent.status = status; }
  bool Write(std::string_view chunk) override {
    sent.body.append(chunk);
    return true;
  }
  bool ClientGone() override { return false; }
  UniqueFd Hijack(api::Headers, std::string*) override { return UniqueFd(); }
  int PeerUid() const override { return -1; }
  api::Response sent{.status = 0, .headers = {}, .body = {}};
};

TEST_F(DeployServiceTest, ARemoteTokenActsOnlyOnItsOwnApp) {
  PutService("reload");
  ASSERT_TRUE(svc_->PutService("bank", "php", {{"strategy", "reload"}, {"image", "img:1"}}));
  std::string token = (*svc_->CreateToken("ci", "shop"))["token"];
  api::Router remote;
  svc_->AddRemoteRoutes(remote);
  auto call = [&](const std::string& method, const std::string& target, const json& body) {
    api::Request req;
    req.method = method;
    req.target = target;
    auto q = target.find('?');
    req.path = target.substr(0, q);
    if (q != std::string::npos) req.query = api::ParseQuery(target.substr(q + 1));
    req.headers["authorization"] = "Bearer " + token;
    req.body = body.dump();
    Writer w;
    remote.Dispatch(req, w);
    return w.sent;
  };
  Code v1 = MakeCode({{"index.php", "v1"}});
  json open = {{"app", "bank"}, {"service", "php"}, {"root", v1.root.str()}, {"trees", DigestsJson(v1.trees)}};
  // The query names the token's app, the body another: refused.
  EXPECT_EQ(call("POST", "/v1/moor/deploy/sessions?app=shop", open).status, 400);
  EXPECT_EQ(call("POST", "/v1/moor/deploy/sessions", open).status, 401);
  open["app"] = "shop";
  auto ok = call("POST", "/v1/moor/deploy/sessions", open);
  ASSERT_EQ(ok.status, 200) << ok.body;
  // A session of another app, reached with this token and a query naming its own app: refused.
  json bank = *svc_->OpenSession({{"app", "bank"}, {"service", "php"}, {"root", v1.root.str()}, {"trees", DigestsJson(v1.trees)}}, "x");
  EXPECT_EQ(call("POST", "/v1/moor/deploy/sessions/" + bank["session"].get<std::string>() + "/commit?app=shop", json::object()).status, 401);
  EXPECT_EQ(call("POST", "/v1/moor/deploy/rollback?app=shop", {{"app", "bank"}, {"service", "php"}}).status, 400);
}

TEST_F(DeployServiceTest, ARollingReplicaThatFailsToStartLiftsTheGate) {
  PutService("rolling");
  ASSERT_TRUE(Deploy(MakeCode({{"index.php", "v1"}})));
  AddContainer("shop-php-1", 1, 1);
  gate_.calls.clear();
  fake_.fail_start_of = "shop-php-2";
  ASSERT_FALSE(Deploy(MakeCode({{"index.php", "v2"}})));
  EXPECT_EQ(fake_.Running(), std::vector<std::string>{"shop-php-1"});
  EXPECT_EQ(fake_.ctrs.size(), 1u);
  EXPECT_EQ(gate_.calls, (std::vector<std::string>{"php=1", "php="}));
}

TEST_F(DeployServiceTest, TheRecordWithoutABodyKeepsTheStoredOne) {
  PutService("rolling");
  ASSERT_TRUE(svc_->PutService("shop", "php", {{"strategy", "rolling"}, {"image", "img:1"}}));
  ASSERT_TRUE(Deploy(MakeCode({{"index.php", "v1"}})));
  AddContainer("shop-php-1", 1, 1);
  ASSERT_TRUE(Deploy(MakeCode({{"index.php", "v2"}})));
  for (auto& [id, c] : fake_.ctrs) EXPECT_EQ(c.body["Image"], "img:1") << c.body.dump();
}

TEST_F(DeployServiceTest, UploadsToAFinishedReleaseAreRefused) {
  PutService("reload");
  Code v1 = MakeCode({{"index.php", "v1"}});
  json s = *Open(v1);
  ASSERT_TRUE(svc_->PutBlobs(s["session"], v1.blob_pack));
  ASSERT_TRUE(svc_->PutTrees(s["session"], v1.tree_pack, nullptr));
  ASSERT_TRUE(svc_->Commit(s["session"], [](const json&) {}));
  auto again = svc_->PutTrees(s["session"], v1.tree_pack, nullptr);
  ASSERT_FALSE(again);
  EXPECT_EQ(again.error().errnum(), EBUSY);
  EXPECT_EQ(svc_->PutBlobs(s["session"], v1.blob_pack).error().errnum(), EBUSY);
}

}  // namespace
}  // namespace moor::deploy
