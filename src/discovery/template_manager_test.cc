#include "discovery/template_manager.h"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

#include "discovery/agent.h"
#include "discovery/catalog.h"
#include "discovery/registrar.h"

namespace moor::discovery {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// In-memory container filesystems; records writes and signals.
class FakeOps : public ContainerOps {
 public:
  Result<ExecOutcome> Exec(const std::string&, const std::vector<std::string>&, int64_t) override {
    return FailInvalid("not used");
  }
  Result<std::string> ReadFile(const std::string& c, const std::string& path) override {
    std::lock_guard lk(mu);
    auto it = files.find(c + ":" + path);
    if (it == files.end()) return Fail(Error(ENOENT, path + ": No such file or directory"));
    return it->second;
  }
  Result<void> WriteFile(const std::string& c, const std::string& path, const std::string& content,
                         unsigned) override {
    std::lock_guard lk(mu);
    files[c + ":" + path] = content;
    write_times.push_back(Clock::now());
    return {};
  }
  Result<void> Signal(const std::string& c, const std::string& sig) override {
    std::lock_guard lk(mu);
    if (fail_signal) return Fail(Error(ESRCH, "no such process"));
    signals.push_back(c + ":" + sig);
    return {};
  }
  std::string File(const std::string& key) {
    std::lock_guard lk(mu);
    return files.contains(key) ? files[key] : "<missing>";
  }
  size_t Writes() {
    std::lock_guard lk(mu);
    return write_times.size();
  }
  size_t Signals() {
    std::lock_guard lk(mu);
    return signals.size();
  }

  std::mutex mu;
  std::map<std::string, std::string> files;
  std::vector<Clock::time_point> write_times;
  std::vector<std::string> signals;
  bool fail_signal = false;
};

bool WaitFor(const std::function<bool()>& pred, std::chrono::milliseconds timeout = 10000ms) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

constexpr const char* kUpstream =
    "upstream php { {{range service \"php\"}}server {{.Address}}:{{.Port}};{{else}}server 127.0.0.1:65535 down;{{end}} }";

class TemplateManagerTest : public ::testing::Test {
 protected:
  TemplateManagerTest() : catalog_(MakeNode()) {}
  static Node MakeNode() {
    Node n;
    n.id = "node-1";
    n.name = "host1";
    n.address = "10.89.0.1";
    return n;
  }
  void AddPhp(const std::string& id, const std::string& ip, const std::string& release = "") {
    ServiceInstance s;
    s.id = id;
    s.name = "php";
    s.address = ip;
    s.port = 9000;
    if (!release.empty()) s.meta[Catalog::kReleaseMeta] = release;
    CheckDef c;
    c.id = "service:" + id;
    c.name = "php check";
    c.type = "ttl";
    c.ttl_ns = 3'600'000'000'000;
    c.initial = Health::kPassing;
    ASSERT_TRUE(catalog_.Register(s, {c}));
  }
  static TemplateSpec Spec(const std::string& id, const std::string& container, std::string text) {
    TemplateSpec s;
    s.id = id;
    s.container_id = container;
    s.source_text = std::move(text);
    s.dest_path = "/etc/nginx/conf.d/upstream.conf";
    s.reload_signal = "HUP";
    s.wait_min_ns = 100'000'000;
    s.wait_max_ns = 1'000'000'000;
    return s;
  }

  Catalog catalog_;
  FakeOps ops_;
};

TEST_F(TemplateManagerTest, RendersAtOnceAndWritesOnlyWhatDiffers) {
  AddPhp("web1:9000", "10.89.0.2");
  TemplateManager m(catalog_, &ops_);
  ASSERT_TRUE(m.Add(Spec("c1:up", "c1", kUpstream)));
  EXPECT_EQ(ops_.File("c1:/etc/nginx/conf.d/upstream.conf"), "upstream php { server 10.89.0.2:9000; }");
  EXPECT_EQ(ops_.signals, std::vector<std::string>{"c1:HUP"});
  auto st = m.stats("c1:up");
  ASSERT_TRUE(st);
  EXPECT_EQ(st->renders, 1u);
  EXPECT_EQ(st->writes, 1u);
  EXPECT_EQ(st->signals, 1u);

  // Another template whose destination already holds its output: no write.
  ASSERT_TRUE(m.Add(Spec("c1:again", "c1", kUpstream)));
  EXPECT_EQ(ops_.Writes(), 1u);
  EXPECT_EQ(m.stats("c1:again")->writes, 0u);

  // A change that does not alter the output renders but writes nothing.
  ASSERT_TRUE(catalog_.KvPut("unrelated", "x", 0));
  ASSERT_TRUE(WaitFor([&] { return m.stats("c1:up")->renders == 2; }));
  EXPECT_EQ(ops_.Writes(), 1u);
  EXPECT_EQ(ops_.Signals(), 1u);
}

TEST_F(TemplateManagerTest, RenderIntoWritesOnceWithoutSignalAndTheLaterAddWritesNothing) {
  AddPhp("web1:9000", "10.89.0.2");
  TemplateManager m(catalog_, &ops_);
  ASSERT_TRUE(m.RenderInto(Spec("c1:up", "c1", kUpstream)));
  EXPECT_EQ(ops_.File("c1:/etc/nginx/conf.d/upstream.conf"), "upstream php { server 10.89.0.2:9000; }");
  EXPECT_EQ(ops_.Signals(), 0u);
  EXPECT_FALSE(m.stats("c1:up"));  // nothing added
  // The container starts: the same content is there, so no write and no signal.
  ASSERT_TRUE(m.Add(Spec("c1:up", "c1", kUpstream)));
  EXPECT_EQ(ops_.Writes(), 1u);
  EXPECT_EQ(ops_.Signals(), 0u);
  // Errors: a missing source, a syntax error.
  auto missing = Spec("c2:up", "c2", "");
  missing.source_path = "/etc/moor/templates/1-up.ctmpl";
  EXPECT_FALSE(m.RenderInto(missing));
  EXPECT_FALSE(m.RenderInto(Spec("c3:up", "c3", "{{range service}")));
}

// Lists one running container with a template label.
class OneContainer : public ContainerLister {
 public:
  std::vector<ContainerInfo> List() override { return {c}; }
  std::optional<ContainerInfo> Get(const std::string&) override { return c; }
  ContainerInfo c;
};

TEST_F(TemplateManagerTest, RegistrarRetriesATemplateWhoseSourceCouldNotBeReadYet) {
  AddPhp("web1:9000", "10.89.0.2");
  TemplateManager m(catalog_, &ops_);
  Agent agent(catalog_, &ops_);
  OneContainer lister;
  lister.c.id = "c9";
  lister.c.name = "lb";
  lister.c.status = "running";
  lister.c.labels = {{"moor.template.up", "/up.ctmpl:/etc/up.conf"}, {"moor.reload.signal", "none"}};
  Registrar reg(agent, &m, lister, "10.89.0.1");
  reg.Up(lister.c);  // the source is not there yet
  EXPECT_EQ(ops_.File("c9:/etc/up.conf"), "<missing>");
  {
    std::lock_guard lk(ops_.mu);
    ops_.files["c9:/up.ctmpl"] = kUpstream;
  }
  reg.Reconcile();  // same container, same labels: the failed template is tried again
  EXPECT_EQ(ops_.File("c9:/etc/up.conf"), "upstream php { server 10.89.0.2:9000; }");
}

TEST_F(TemplateManagerTest, SourceFromContainerAndSyntaxErrors) {
  TemplateManager m(catalog_, &ops_);
  ops_.files["c1:/tpl/ok.tmpl"] = "{{ keyOrDefault \"a\" \"none\" }}";
  ops_.files["c1:/tpl/bad.tmpl"] = "line1\n  {{ range service \"php\" }}";
  TemplateSpec s = Spec("c1:ok", "c1", "");
  s.source_path = "/tpl/ok.tmpl";
  s.dest_path = "/out";
  s.reload_signal = "";
  ASSERT_TRUE(m.Add(s));
  EXPECT_EQ(ops_.File("c1:/out"), "none");
  EXPECT_EQ(ops_.Signals(), 0u);

  s.id = "c1:bad";
  s.source_path = "/tpl/bad.tmpl";
  auto r = m.Add(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EINVAL);
  EXPECT_EQ(r.error().message(), "/tpl/bad.tmpl:2:6: unexpected end of template: {{range}} without {{end}}");
  EXPECT_FALSE(m.stats("c1:bad"));

  s.id = "c1:missing";
  s.source_path = "/tpl/nope.tmpl";
  r = m.Add(s);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), ENOENT);
  EXPECT_FALSE(m.stats("c1:missing"));
}

TEST_F(TemplateManagerTest, FlappingWithinTheWaitWindowCausesNoReload) {
  AddPhp("web1:9000", "10.89.0.2");
  AddPhp("web2:9000", "10.89.0.3");
  TemplateManager m(catalog_, &ops_);
  TemplateSpec s = Spec("c1:up", "c1", kUpstream);
  // 1 s of quiet: this thread would have to stall that long mid-flap for a render to slip in.
  s.wait_min_ns = 1'000'000'000;
  s.wait_max_ns = 20'000'000'000;
  ASSERT_TRUE(m.Add(s));
  ASSERT_EQ(ops_.Writes(), 1u);

  // web2 flaps 20 times and ends passing, as it started.
  for (int k = 0; k < 20; ++k) {
    ASSERT_TRUE(catalog_.UpdateCheck("service:web2:9000", k % 2 == 0 ? Health::kCritical : Health::kPassing,
                                     "flap " + std::to_string(k)));
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(WaitFor([&] { return m.stats("c1:up")->renders >= 2; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(ops_.Writes(), 1u);
  EXPECT_EQ(ops_.Signals(), 1u);

  // A real change: exactly one write and one signal.
  ASSERT_TRUE(catalog_.UpdateCheck("service:web2:9000", Health::kCritical, "down"));
  ASSERT_TRUE(WaitFor([&] { return ops_.Writes() == 2; }));
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(ops_.Writes(), 2u);
  EXPECT_TRUE(WaitFor([&] { return ops_.Signals() >= 2; }));  // the signal follows the write
  EXPECT_EQ(ops_.Signals(), 2u);
  EXPECT_EQ(ops_.File("c1:/etc/nginx/conf.d/upstream.conf"), "upstream php { server 10.89.0.2:9000; }");
}

TEST_F(TemplateManagerTest, WaitMaxBoundsTheDelayUnderContinuousChurn) {
  TemplateManager m(catalog_, &ops_);
  TemplateSpec s = Spec("c1:n", "c1", "{{ keyOrDefault \"n\" \"\" }}");
  // wait_min leaves room for this thread to be descheduled between changes
  // (ASan, a loaded machine) without a quiet render slipping through.
  s.wait_min_ns = 600'000'000;
  s.wait_max_ns = 1'000'000'000;
  ASSERT_TRUE(m.Add(s));
  ASSERT_EQ(ops_.Writes(), 1u);
  // A change every 20 ms never leaves wait_min of quiet: only wait_max lets renders through.
  auto start = Clock::now();
  for (int k = 0; Clock::now() - start < 4000ms; ++k) {
    ASSERT_TRUE(catalog_.KvPut("n", std::to_string(k), 0));
    std::this_thread::sleep_for(20ms);
  }
  std::vector<Clock::time_point> writes;
  {
    std::lock_guard lk(ops_.mu);
    writes = ops_.write_times;
  }
  ASSERT_GE(writes.size(), 3u) << "renders were held back by the churn";
  EXPECT_LT(writes[1] - start, 2500ms);  // 1 s bound plus scheduling slack
  for (size_t k = 2; k < writes.size(); ++k) EXPECT_LT(writes[k] - writes[k - 1], 2500ms);
  EXPECT_LE(writes.size(), 7u);  // debounced: far fewer than the ~200 changes
}

TEST_F(TemplateManagerTest, NotReadyHoldsRendersBack) {
  TemplateManager m(catalog_, &ops_);
  m.SetReady(false);
  ASSERT_TRUE(m.Add(Spec("c1:up", "c1", kUpstream)));
  AddPhp("web1:9000", "10.89.0.2");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(ops_.Writes(), 0u);
  EXPECT_EQ(m.stats("c1:up")->renders, 0u);
  m.SetReady(true);
  ASSERT_TRUE(WaitFor([&] { return ops_.Writes() == 1; }));
  EXPECT_EQ(ops_.File("c1:/etc/nginx/conf.d/upstream.conf"), "upstream php { server 10.89.0.2:9000; }");
  EXPECT_TRUE(WaitFor([&] { return ops_.Signals() >= 1; }));  // the signal follows the write
  EXPECT_EQ(ops_.Signals(), 1u);
}

TEST_F(TemplateManagerTest, RemoveContainerStopsRenders) {
  TemplateManager m(catalog_, &ops_);
  ASSERT_TRUE(m.Add(Spec("c1:up", "c1", kUpstream)));
  ASSERT_TRUE(m.Add(Spec("c2:up", "c2", kUpstream)));
  ASSERT_EQ(ops_.Writes(), 2u);
  m.RemoveContainer("c1");
  EXPECT_FALSE(m.stats("c1:up"));
  AddPhp("web1:9000", "10.89.0.2");
  ASSERT_TRUE(WaitFor([&] { return ops_.Writes() == 3; }));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(ops_.Writes(), 3u);
  EXPECT_TRUE(WaitFor([&] { return ops_.Signals() >= 3; }));  // the signal follows the write
  EXPECT_EQ(ops_.File("c1:/etc/nginx/conf.d/upstream.conf"), "upstream php { server 127.0.0.1:65535 down; }");
  EXPECT_EQ(ops_.File("c2:/etc/nginx/conf.d/upstream.conf"), "upstream php { server 10.89.0.2:9000; }");
  EXPECT_EQ(ops_.signals, (std::vector<std::string>{"c1:HUP", "c2:HUP", "c2:HUP"}));
}

TEST_F(TemplateManagerTest, RenderErrorKeepsTheFileAndRetries) {
  ASSERT_TRUE(catalog_.KvPut("cfg/port", "80", 0));
  TemplateManager m(catalog_, &ops_);
  TemplateSpec s = Spec("c1:cfg", "c1", "listen {{ key \"cfg/port\" }};");
  s.dest_path = "/cfg";
  ASSERT_TRUE(m.Add(s));
  EXPECT_EQ(ops_.File("c1:/cfg"), "listen 80;");

  ASSERT_TRUE(catalog_.KvDelete("cfg/port", false));
  ASSERT_TRUE(WaitFor([&] { return m.stats("c1:cfg")->errors == 1; }));
  EXPECT_EQ(ops_.File("c1:/cfg"), "listen 80;");
  EXPECT_EQ(m.stats("c1:cfg")->last_error,
            "c1:cfg:1:11: error calling key: key \"cfg/port\" does not exist (use keyOrDefault for optional keys)");

  ASSERT_TRUE(catalog_.KvPut("cfg/port", "8080", 0));
  ASSERT_TRUE(WaitFor([&] { return ops_.File("c1:/cfg") == "listen 8080;"; }));
  // The signal (and its count) follows the write.
  EXPECT_TRUE(WaitFor([&] { return m.stats("c1:cfg")->signals >= 2; }));
  EXPECT_EQ(m.stats("c1:cfg")->signals, 2u);
}

TEST_F(TemplateManagerTest, FailedSignalIsRetriedOnTheNextChange) {
  {
    std::lock_guard lk(ops_.mu);
    ops_.fail_signal = true;
  }
  TemplateManager m(catalog_, &ops_);
  ASSERT_TRUE(m.Add(Spec("c1:up", "c1", kUpstream)));
  EXPECT_EQ(ops_.Writes(), 1u);
  EXPECT_EQ(m.stats("c1:up")->errors, 1u);
  EXPECT_EQ(m.stats("c1:up")->last_error, "signal HUP: no such process");
  {
    std::lock_guard lk(ops_.mu);
    ops_.fail_signal = false;
  }
  ASSERT_TRUE(catalog_.KvPut("unrelated", "x", 0));
  ASSERT_TRUE(WaitFor([&] { return ops_.Signals() == 1; }));
  EXPECT_EQ(ops_.Writes(), 1u);
  EXPECT_TRUE(WaitFor([&] { return m.stats("c1:up")->signals >= 1; }));  // counted after the call
  EXPECT_EQ(m.stats("c1:up")->signals, 1u);
}

TEST_F(TemplateManagerTest, EnvComesFromTheSpec) {
  TemplateManager m(catalog_, &ops_);
  TemplateSpec s = Spec("c1:env", "c1", "{{ env \"ROLE\" }}|{{ env \"HOME\" }}");
  s.dest_path = "/env";
  s.env = {{"ROLE", "edge"}};
  ASSERT_TRUE(m.Add(s));
  EXPECT_EQ(ops_.File("c1:/env"), "edge|");
}

// WaitRendered: the gate of rolling deploys waits on it before stopping the
// old release's instances.
TEST_F(TemplateManagerTest, WaitRenderedReturnsOnceTheGateChangeIsRenderedAndSignalled) {
  AddPhp("web1:9000", "10.89.0.2", "1");
  AddPhp("web2:9000", "10.89.0.3", "2");
  TemplateManager m(catalog_, &ops_);
  TemplateSpec up = Spec("c1:up", "c1", kUpstream);
  up.wait_min_ns = 2'000'000'000;  // so the render is certainly still waiting below
  ASSERT_TRUE(m.Add(up));
  // A template that reads no service does not hold anything up.
  TemplateSpec kv = Spec("c2:kv", "c2", "{{ keyOrDefault \"x\" \"none\" }}");
  kv.reload_signal = "";
  ASSERT_TRUE(m.Add(kv));
  EXPECT_EQ(ops_.File("c1:/etc/nginx/conf.d/upstream.conf"),
            "upstream php { server 10.89.0.2:9000;server 10.89.0.3:9000; }");
  // Already rendered from the current index.
  EXPECT_TRUE(m.WaitRendered("php", catalog_.Index(), 0));

  auto idx = catalog_.SetReleaseGate("php", "2");
  ASSERT_TRUE(idx);
  // Not yet: the render waits out wait_min.
  EXPECT_FALSE(m.WaitRendered("php", *idx, 0));
  const auto start = Clock::now();
  ASSERT_TRUE(m.WaitRendered("php", *idx, 30'000'000'000));
  EXPECT_LT(Clock::now() - start, 10s);  // returned when rendered, not at the 30 s timeout
  // On return the file is in place and the signal sent.
  EXPECT_EQ(ops_.File("c1:/etc/nginx/conf.d/upstream.conf"), "upstream php { server 10.89.0.3:9000; }");
  EXPECT_EQ(ops_.signals, (std::vector<std::string>{"c1:HUP", "c1:HUP"}));
  // Services no template reads are rendered at once, whatever the index.
  EXPECT_TRUE(m.WaitRendered("mysql", *idx + 1000, 0));
}

TEST_F(TemplateManagerTest, WaitRenderedCountsARenderThatChangedNothing) {
  AddPhp("web1:9000", "10.89.0.2", "2");
  TemplateManager m(catalog_, &ops_);
  ASSERT_TRUE(m.Add(Spec("c1:up", "c1", kUpstream)));
  // Every instance is already of release 2: the gate changes no output.
  auto idx = catalog_.SetReleaseGate("php", "2");
  ASSERT_TRUE(idx);
  ASSERT_TRUE(m.WaitRendered("php", *idx, 10'000'000'000));
  EXPECT_EQ(ops_.Writes(), 1u);
  EXPECT_EQ(ops_.Signals(), 1u);
}

TEST_F(TemplateManagerTest, WaitRenderedTimesOutWhileTheSignalFails) {
  AddPhp("web1:9000", "10.89.0.2", "1");
  AddPhp("web2:9000", "10.89.0.3", "2");
  TemplateManager m(catalog_, &ops_);
  ASSERT_TRUE(m.Add(Spec("c1:up", "c1", kUpstream)));
  {
    std::lock_guard lk(ops_.mu);
    ops_.fail_signal = true;
  }
  auto idx = catalog_.SetReleaseGate("php", "2");
  ASSERT_TRUE(idx);
  const auto start = Clock::now();
  EXPECT_FALSE(m.WaitRendered("php", *idx, 400'000'000));
  EXPECT_GE(Clock::now() - start, 400ms);
  // Written, but nginx was not told: not done. (The render itself may lag on a loaded machine.)
  EXPECT_TRUE(WaitFor([&] { return m.stats("c1:up")->last_error == "signal HUP: no such process"; }))
      << m.stats("c1:up")->last_error;
  EXPECT_EQ(ops_.File("c1:/etc/nginx/conf.d/upstream.conf"), "upstream php { server 10.89.0.3:9000; }");
  // The signal goes through on the next change: done.
  {
    std::lock_guard lk(ops_.mu);
    ops_.fail_signal = false;
  }
  ASSERT_TRUE(catalog_.KvPut("unrelated", "x", 0));
  EXPECT_TRUE(m.WaitRendered("php", *idx, 10'000'000'000));
}

TEST_F(TemplateManagerTest, WaitRenderedTimesOutWhileRendersAreHeldBack) {
  TemplateManager m(catalog_, &ops_);
  m.SetReady(false);
  ASSERT_TRUE(m.Add(Spec("c1:up", "c1", kUpstream)));
  // Never rendered: it counts as reading every service.
  EXPECT_FALSE(m.WaitRendered("php", 1, 200'000'000));
  EXPECT_FALSE(m.WaitRendered("other", 1, 0));
  m.SetReady(true);
  EXPECT_TRUE(m.WaitRendered("php", catalog_.Index(), 10'000'000'000));
  // Removing the last template that reads it ends a wait.
  auto waiting =
      std::async(std::launch::async, [&] { return m.WaitRendered("php", catalog_.Index() + 100, 30'000'000'000); });
  ASSERT_EQ(waiting.wait_for(200ms), std::future_status::timeout);
  m.Remove("c1:up");
  ASSERT_EQ(waiting.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(waiting.get());
}

}  // namespace
}  // namespace moor::discovery
