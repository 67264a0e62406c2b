#include "app/app_executor.h"

#include <gtest/gtest.h>

#include "app/app_test_fixture.h"
#include "app/fake_app_backend.h"
#include "common/strings.h"

namespace moor::app {
namespace {

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
