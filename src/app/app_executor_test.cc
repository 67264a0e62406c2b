#include "app/app_executor.h"

#include <gtest/gtest.h>

#include "app/app_test_fixture.h"
#include "common/strings.h"

namespace moor::app {
namespace {

// An in-memory daemon: containers, networks, volumes, a fake clock, and per
// container a number of polls before its discovery check passes.
class FakeBackend : public AppBackend {
 public:
  struct Ctr {
    ContainerStatus st;
    nlohmann::json body;
    std::map<std::string, std::string> files;
    int polls_to_pass = 0;  // Registration polls before passing; -1 never
    bool service = true;
  };
  std::map<std::string, Ctr> ctrs;  // by id
  std::set<std::string> networks, volumes, images = {"img:1"};
  std::vector<std::string> calls;  // "create NAME", "start NAME", "stop NAME", "remove NAME", …
  std::vector<size_t> stop_batches;  // sizes of StopAll calls
  int64_t now = 0;
  int next_id = 1;
  int default_polls = 0;
  std::string fail_start_of;   // container name whose start fails
  std::string exit_on_start;   // container name that exits at once (code 3)

  std::string NameOf(const std::string& id) { return ctrs.count(id) ? ctrs[id].st.name : id; }
  std::vector<std::string> Running() {
    std::vector<std::string> out;
    for (auto& [id, c] : ctrs) {
      if (c.st.state == "running") out.push_back(c.st.name);
    }
    std::sort(out.begin(), out.end());
    return out;
  }

  Result<std::vector<ContainerStatus>> ListContainers(const std::string& app) override {
    std::vector<ContainerStatus> out;
    for (auto& [id, c] : ctrs) {
      if (c.st.labels[kLabelApp] == app) out.push_back(c.st);
    }
    std::sort(out.begin(), out.end(), [](auto& a, auto& b) { return a.name < b.name; });
    return out;
  }
  Result<ContainerStatus> Inspect(const std::string& id) override {
    if (!ctrs.count(id)) return Fail(Error(ENOENT, "no such container"));
    return ctrs[id].st;
  }
  Result<std::string> ImageId(const std::string& ref) override {
    return images.count(ref) ? "sha256:" + ref : std::string();
  }
  Result<std::string> Pull(const std::string& ref) override {
    calls.push_back("pull " + ref);
    if (ref.find("missing") != std::string::npos) return FailInvalid("pull " + ref + ": not found");
    images.insert(ref);
    return "sha256:" + ref;
  }
  Result<std::string> Build(const BuildSpec&, const std::string& tag) override {
    calls.push_back("build " + tag);
    images.insert(tag);
    return "sha256:" + tag;
  }
  Result<bool> EnsureNetwork(const NetworkSpec& n, const std::map<std::string, std::string>&) override {
    return networks.insert(n.name).second;
  }
  Result<bool> EnsureVolume(const VolumeSpec& v, const std::map<std::string, std::string>&) override {
    return volumes.insert(v.name).second;
  }
  Result<std::vector<std::string>> ListNetworks(const std::string&) override {
    return std::vector<std::string>(networks.begin(), networks.end());
  }
  Result<std::vector<std::string>> ListVolumes(const std::string&) override {
    return std::vector<std::string>(volumes.begin(), volumes.end());
  }
  Result<void> RemoveNetwork(const std::string& n) override {
    if (!networks.erase(n)) return Fail(Error(ENOENT, "no such network"));
    return {};
  }
  Result<void> RemoveVolume(const std::string& v) override {
    if (!volumes.erase(v)) return Fail(Error(ENOENT, "no such volume"));
    return {};
  }
  Result<std::string> Create(const std::string& name, const nlohmann::json& body) override {
    for (auto& [id, c] : ctrs) {
      if (c.st.name == name) return FailInvalid("name " + name + " is in use");
    }
    std::string id = "c" + std::to_string(next_id++);
    Ctr c;
    c.st.id = id;
    c.st.name = name;
    c.st.state = "created";
    for (auto& [k, v] : body["Labels"].items()) c.st.labels[k] = v.get<std::string>();
    c.body = body;
    c.polls_to_pass = default_polls;
    ctrs[id] = c;
    calls.push_back("create " + name);
    return id;
  }
  Result<void> PutFile(const std::string& id, const std::string& path, const std::string& content, int) override {
    ctrs[id].files[path] = content;
    return {};
  }
  Result<void> RenderTemplates(const std::string& id) override {
    calls.push_back("render " + NameOf(id));
    return {};
  }
  Result<void> Start(const std::string& id) override {
    calls.push_back("start " + NameOf(id));
    if (NameOf(id) == fail_start_of) return FailInvalid("start failed");
    if (NameOf(id) == exit_on_start) {
      ctrs[id].st.state = "exited";
      ctrs[id].st.exit_code = 3;
      return {};
    }
    ctrs[id].st.state = "running";
    return {};
  }
  Result<void> Stop(const std::string& id, int64_t) override {
    if (!ctrs.count(id)) return Fail(Error(ENOENT, "no such container"));
    calls.push_back("stop " + NameOf(id));
    ctrs[id].st.state = "exited";
    return {};
  }
  std::vector<Result<void>> StopAll(const std::vector<std::string>& ids, const std::vector<int64_t>& t) override {
    std::vector<Result<void>> out;
    stop_batches.push_back(ids.size());
    for (size_t i = 0; i < ids.size(); ++i) out.push_back(Stop(ids[i], t[i]));
    return out;
  }
  Result<void> Remove(const std::string& id) override {
    if (!ctrs.count(id)) return Fail(Error(ENOENT, "no such container"));
    calls.push_back("remove " + NameOf(id));
    ctrs.erase(id);
    return {};
  }
  Result<RegistrationStatus> Registration(const std::string& id) override {
    RegistrationStatus r;
    auto& c = ctrs[id];
    if (!c.service) return r;
    r.instances = 1;
    if (c.polls_to_pass < 0) {
      r.detail = "connection refused";
      return r;
    }
    if (c.polls_to_pass > 0) {
      --c.polls_to_pass;
      r.detail = "pending";
      return r;
    }
    r.passing = 1;
    return r;
  }
  std::string LogTail(const std::string&, int) override { return "boom"; }
  int64_t NowNs() override { return now; }
  void SleepNs(int64_t ns) override { now += ns; }
};

class ExecutorTest : public AppDirTest {
 protected:
  AppFile Load(const std::string& yaml) {
    Write("up.ctmpl", "{{range service \"php\"}}server {{.Address}};{{end}}\n");
    return ParseOk(yaml);
  }
  Result<void> Up(const AppFile& app, UpOptions o = {}) {
    log_.clear();
    fake_.calls.clear();
    AppExecutor ex(fake_, [this](const std::string& s) { log_.push_back(s); });
    return ex.Up(app, o);
  }
  std::vector<std::string> CallsStartingWith(const std::string& p) {
    std::vector<std::string> out;
    for (auto& c : fake_.calls) {
      if (StartsWith(c, p)) out.push_back(c);
    }
    return out;
  }

  FakeBackend fake_;
  std::vector<std::string> log_;
};

const char* kStack = R"(name: shop
services:
  php:
    image: img:1
    replicas: 3
    environment: {MODE: a}
  web:
    image: img:1
    depends_on:
      php: {condition: service_healthy}
    templates:
      - {source: ./up.ctmpl, destination: /etc/nginx/conf.d/up.conf}
)";

TEST_F(ExecutorTest, UpCreatesEverythingInOrderAndASecondUpChangesNothing) {
  auto app = Load(kStack);
  ASSERT_TRUE(Up(app)) << "";
  EXPECT_EQ(fake_.Running(), (std::vector<std::string>{"shop-php-1", "shop-php-2", "shop-php-3", "shop-web-1"}));
  EXPECT_TRUE(fake_.networks.count("shop_default"));
  // The template source was copied before the start.
  bool found = false;
  for (auto& [id, c] : fake_.ctrs) {
    if (c.st.name != "shop-web-1") continue;
    ASSERT_EQ(c.files.size(), 1u);
    EXPECT_EQ(c.files.begin()->second, "{{range service \"php\"}}server {{.Address}};{{end}}\n");
    EXPECT_TRUE(StartsWith(c.files.begin()->first, std::string(kTemplateDir) + "/"));
    found = true;
  }
  EXPECT_TRUE(found);
  // web came after php was ready, its template rendered before its start.
  auto creates = CallsStartingWith("create");
  EXPECT_EQ(creates.back(), "create shop-web-1");
  EXPECT_EQ(CallsStartingWith("render"), (std::vector<std::string>{"render shop-web-1"}));
  auto n = fake_.calls.size();
  EXPECT_EQ(fake_.calls[n - 2], "render shop-web-1");
  EXPECT_EQ(fake_.calls[n - 1], "start shop-web-1");

  ASSERT_TRUE(Up(app));
  EXPECT_TRUE(CallsStartingWith("create").empty());
  EXPECT_TRUE(CallsStartingWith("stop").empty());
  EXPECT_EQ(log_, (std::vector<std::string>{"shop: up to date"}));
}

TEST_F(ExecutorTest, EnvChangeReplacesOnlyThatServiceOneAtATimeGatedOnReadiness) {
  auto app = Load(kStack);
  ASSERT_TRUE(Up(app));
  app.services["php"].environment["MODE"] = "b";
  fake_.default_polls = 3;  // the new ones pass after a few polls
  ASSERT_TRUE(Up(app));
  // Each new container is created, started, gets ready, then the old one stops and goes.
  EXPECT_EQ(fake_.calls, (std::vector<std::string>{"create shop-php-4", "start shop-php-4", "stop shop-php-1",
                                                   "remove shop-php-1", "create shop-php-5", "start shop-php-5",
                                                   "stop shop-php-2", "remove shop-php-2", "create shop-php-6",
                                                   "start shop-php-6", "stop shop-php-3", "remove shop-php-3"}));
  EXPECT_EQ(fake_.Running(), (std::vector<std::string>{"shop-php-4", "shop-php-5", "shop-php-6", "shop-web-1"}));
  for (auto& [id, c] : fake_.ctrs) {
    if (c.st.labels[kLabelService] == "php") {
      EXPECT_EQ(c.body["Env"], nlohmann::json::array({"MODE=b"}));
    }
  }
}

TEST_F(ExecutorTest, AReplacementThatNeverGetsReadyIsRemovedAndTheOldOneKept) {
  auto app = Load(kStack);
  ASSERT_TRUE(Up(app));
  app.services["php"].environment["MODE"] = "broken";
  fake_.default_polls = -1;
  UpOptions o;
  o.timeout_ns = 2'000'000'000;
  auto r = Up(app, o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("replacing shop-php-1: shop-php-4 did not get ready within 2s"), std::string::npos)
      << r.error().message();
  EXPECT_NE(r.error().message().find("shop-php-1 keeps running"), std::string::npos);
  EXPECT_EQ(fake_.Running(), (std::vector<std::string>{"shop-php-1", "shop-php-2", "shop-php-3", "shop-web-1"}));
  EXPECT_EQ(fake_.ctrs.size(), 4u);
}

TEST_F(ExecutorTest, AContainerThatExitsFailsWithItsCodeAndOutput) {
  auto app = Load(kStack);
  fake_.exit_on_start = "shop-php-2";
  auto r = Up(app);
  ASSERT_FALSE(r);
  // web depends on php being healthy: it is not created.
  EXPECT_NE(r.error().message().find("shop-php-2 exited with code 3 before it was ready; its last output: boom"),
            std::string::npos)
      << r.error().message();
  EXPECT_TRUE(CallsStartingWith("create shop-web").empty());
}

TEST_F(ExecutorTest, AFailedStartLeavesNoContainer) {
  auto app = Load(kStack);
  fake_.fail_start_of = "shop-php-1";
  auto r = Up(app);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("shop-php-1: start failed"), std::string::npos) << r.error().message();
  EXPECT_TRUE(fake_.ctrs.empty());
}

TEST_F(ExecutorTest, ScaleUpAndDownAndOrphans) {
  auto app = Load(kStack);
  ASSERT_TRUE(Up(app));
  UpOptions o;
  o.services = {"php"};
  o.scale = {{"php", 5}};
  o.remove_orphans = false;
  ASSERT_TRUE(Up(app, o));
  EXPECT_EQ(CallsStartingWith("create"), (std::vector<std::string>{"create shop-php-4", "create shop-php-5"}));
  o.scale = {{"php", 2}};
  ASSERT_TRUE(Up(app, o));
  EXPECT_EQ(CallsStartingWith("remove"),
            (std::vector<std::string>{"remove shop-php-5", "remove shop-php-4", "remove shop-php-3"}));
  // Stopped before removal (the daemon deregisters and drains first).
  EXPECT_EQ(CallsStartingWith("stop").size(), 3u);
  // web leaves the file: it is an orphan and goes.
  app.services.erase("web");
  ASSERT_TRUE(Up(app));
  EXPECT_EQ(CallsStartingWith("remove"), (std::vector<std::string>{"remove shop-web-1"}));
  EXPECT_EQ(fake_.Running(), (std::vector<std::string>{"shop-php-1", "shop-php-2", "shop-php-3"}));
}

TEST_F(ExecutorTest, UnknownServicesAndScaleAreRefusedBeforeAnythingStarts) {
  auto app = Load(kStack);
  UpOptions o;
  o.services = {"db"};
  auto r = Up(app, o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("no service \"db\""), std::string::npos);
  o.services = {};
  o.scale = {{"db", 2}};
  EXPECT_FALSE(Up(app, o));
  o.scale = {};
  o.pull = "sometimes";
  EXPECT_FALSE(Up(app, o));
  EXPECT_TRUE(fake_.ctrs.empty());
  EXPECT_TRUE(fake_.networks.empty());
}

TEST_F(ExecutorTest, MissingImagesArePulledOrRefusedWithPullNever) {
  auto app = Load("name: x\nservices:\n  a: {image: 'other:2'}\n");
  UpOptions o;
  o.pull = "never";
  auto r = Up(app, o);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("moor.yaml:3:14: services.a.image: other:2 is not present here (and --pull never)"),
            std::string::npos)
      << r.error().message();
  EXPECT_TRUE(fake_.networks.empty());  // images are checked before anything is made
  ASSERT_TRUE(Up(app));
  EXPECT_EQ(CallsStartingWith("pull"), (std::vector<std::string>{"pull other:2"}));
  auto bad = Load("name: y\nservices:\n  a: {image: 'missing:1'}\n");
  r = Up(bad);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("missing:1 is not present here and the pull failed: pull missing:1: not found — "
                                     "import or build it first"),
            std::string::npos)
      << r.error().message();
  EXPECT_FALSE(fake_.networks.count("y_default"));
  EXPECT_TRUE(fake_.ctrs.size() == 1u);  // only x's
}

TEST_F(ExecutorTest, StoppedContainersAreStartedAndSelectionBringsDependencies) {
  auto app = Load(kStack);
  ASSERT_TRUE(Up(app));
  for (auto& [id, c] : fake_.ctrs) {
    c.st.state = "exited";
    c.st.exit_code = 137;  // killed: a service that should run (restart "no" exited 0 would count as done)
  }
  UpOptions o;
  o.services = {"web"};  // brings php along
  ASSERT_TRUE(Up(app, o));
  EXPECT_TRUE(CallsStartingWith("create").empty());
  EXPECT_EQ(CallsStartingWith("start").size(), 4u);
}

TEST_F(ExecutorTest, DownRemovesContainersDependentsFirstThenNetworksAndVolumesWithV) {
  auto app = Load(R"(name: shop
services:
  php: {image: 'img:1', volumes: ['data:/data']}
  web: {image: 'img:1', depends_on: [php]}
volumes:
  data: {}
)");
  ASSERT_TRUE(Up(app));
  EXPECT_TRUE(fake_.volumes.count("shop_data"));
  AppExecutor ex(fake_, [](const std::string&) {});
  fake_.calls.clear();
  ASSERT_TRUE(ex.Down(app, {}));
  EXPECT_EQ(fake_.calls, (std::vector<std::string>{"stop shop-web-1", "remove shop-web-1", "stop shop-php-1",
                                                   "remove shop-php-1"}));
  EXPECT_TRUE(fake_.networks.empty());
  EXPECT_TRUE(fake_.volumes.count("shop_data"));  // kept without -v
  ASSERT_TRUE(ex.Down(app, {.volumes = true}));
  EXPECT_TRUE(fake_.volumes.empty());
}

TEST_F(ExecutorTest, DownStopsEachDependencyLevelTogether) {
  auto app = Load(kStack);
  ASSERT_TRUE(Up(app));
  AppExecutor ex(fake_, [](const std::string&) {});
  ASSERT_TRUE(ex.Down(app, {}));
  // web first (it depends on php), then the three php containers in one batch.
  EXPECT_EQ(fake_.stop_batches, (std::vector<size_t>{1, 3}));
  EXPECT_TRUE(fake_.ctrs.empty());
}

TEST_F(ExecutorTest, RestartGoesOneAtATimeEachReadyBeforeTheNext) {
  auto app = Load(kStack);
  ASSERT_TRUE(Up(app));
  fake_.calls.clear();
  AppExecutor ex(fake_, [](const std::string&) {});
  ASSERT_TRUE(ex.Restart(app, {"php"}, 10'000'000'000));
  EXPECT_EQ(fake_.calls, (std::vector<std::string>{"stop shop-php-1", "start shop-php-1", "stop shop-php-2",
                                                   "start shop-php-2", "stop shop-php-3", "start shop-php-3"}));
  EXPECT_FALSE(ex.Restart(app, {"nope"}, 1));
}

}  // namespace
}  // namespace moor::app
