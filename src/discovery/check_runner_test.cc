#include "discovery/check_runner.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "discovery/probe_test_servers.h"

namespace moor::discovery {
namespace {

using namespace std::chrono_literals;
using testing::Exit;
using testing::FakeOps;
using testing::HungServer;

struct Event {
  std::string id;
  Health status;
  std::string output;
};

// Collects sink calls; optionally runs a hook inside the sink.
class Recorder {
 public:
  CheckRunner::Sink sink() {
    return [this](const std::string& id, Health status, const std::string& output) {
      std::function<void(const std::string&)> hook;
      {
        std::lock_guard lk(mu_);
        events_.push_back({id, status, output});
        hook = hook_;
      }
      cv_.notify_all();
      if (hook) hook(id);
    };
  }
  void set_hook(std::function<void(const std::string&)> hook) {
    std::lock_guard lk(mu_);
    hook_ = std::move(hook);
  }
  bool WaitFor(size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lk(mu_);
    return cv_.wait_for(lk, timeout, [&] { return events_.size() >= n; });
  }
  std::vector<Event> events() {
    std::lock_guard lk(mu_);
    return events_;
  }
  size_t size() {
    std::lock_guard lk(mu_);
    return events_.size();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Event> events_;
  std::function<void(const std::string&)> hook_;
};

CheckDef ExecCheck(std::string id = "exec1") {
  CheckDef d;
  d.id = std::move(id);
  d.type = "exec";
  d.args = {"check"};
  d.container_id = "c1";
  d.start_interval_ns = 10'000'000;
  d.interval_ns = 10'000'000;
  return d;
}

template <class Pred>
bool Eventually(Pred pred, std::chrono::milliseconds timeout = 10s) {
  auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return pred();
}

TEST(CheckRunner, AddValidatesDefs) {
  CheckRunner runner(nullptr, nullptr);
  CheckDef d;
  d.id = "x";
  d.type = "tcp";
  auto r = runner.Add(d);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EINVAL);
  EXPECT_NE(r.error().message().find("target"), std::string::npos) << r.error().message();
  d.type = "http";
  d.target = "10.0.0.1:80";
  EXPECT_NE(runner.Add(d).error().message().find("http://"), std::string::npos);
  d.type = "fastcgi";
  EXPECT_NE(runner.Add(d).error().message().find("path"), std::string::npos);
  d.type = "exec";
  EXPECT_NE(runner.Add(d).error().message().find("args"), std::string::npos);
  d.args = {"true"};
  EXPECT_NE(runner.Add(d).error().message().find("container_id"), std::string::npos);
  d.type = "ttl";
  EXPECT_NE(runner.Add(d).error().message().find("ttl"), std::string::npos);
  d.type = "grpc";
  EXPECT_NE(runner.Add(d).error().message().find("unknown check type \"grpc\""), std::string::npos);
  d.id = "";
  d.type = "docker";
  EXPECT_FALSE(runner.Add(d));
  EXPECT_FALSE(runner.Has("x"));
}

TEST(CheckRunner, FirstResultIsReportedAtOnce) {
  HungServer server;  // listens: a tcp check passes
  Recorder rec;
  CheckRunner runner(nullptr, rec.sink());
  CheckDef d;
  d.id = "tcp1";
  d.type = "tcp";
  d.target = server.addr();
  d.start_interval_ns = 10'000'000'000;  // only the first probe can report in time
  ASSERT_TRUE(runner.Add(d));
  EXPECT_TRUE(runner.Has("tcp1"));
  ASSERT_TRUE(rec.WaitFor(1, 2s));
  auto ev = rec.events();
  EXPECT_EQ(ev[0].id, "tcp1");
  EXPECT_EQ(ev[0].status, Health::kPassing);
  EXPECT_EQ(ev[0].output, "TCP connect " + server.addr() + ": ok");
}

TEST(CheckRunner, SuccessThresholdNeedsConsecutivePasses) {
  FakeOps ops({Exit(0, "ok"), Exit(0, "ok"), Exit(2, "bad"), Exit(0, "ok"), Exit(0, "ok"), Exit(0, "ok")});
  Recorder rec;
  CheckRunner runner(&ops, rec.sink());
  CheckDef d = ExecCheck();
  d.success_before_passing = 3;
  d.interval_ns = 10'000'000'000;  // after the first pass: no more probes in this test
  ASSERT_TRUE(runner.Add(d));
  ASSERT_TRUE(rec.WaitFor(2));
  std::this_thread::sleep_for(100ms);
  auto ev = rec.events();
  ASSERT_EQ(ev.size(), 2u);
  // The first result is held back: reported as the initial status, saying why.
  EXPECT_EQ(ev[0].status, Health::kCritical);
  EXPECT_EQ(ev[0].output, "ok (1 of 3 consecutive passes before passing)");
  EXPECT_EQ(ev[1].status, Health::kPassing);
  EXPECT_EQ(ev[1].output, "ok");
  // Passing after the 6th probe; then the slow interval applies.
  EXPECT_EQ(ops.calls(), 6);
}

TEST(CheckRunner, FailureThresholdIgnoresFlapping) {
  FakeOps ops({Exit(0, "ok"), Exit(2, "bad"), Exit(0, "ok"), Exit(2, "bad"), Exit(0, "ok"), Exit(2, "bad"),
               Exit(2, "worse")});
  Recorder rec;
  CheckRunner runner(&ops, rec.sink());
  CheckDef d = ExecCheck();
  d.failures_before_critical = 2;
  ASSERT_TRUE(runner.Add(d));
  ASSERT_TRUE(rec.WaitFor(2));
  ASSERT_TRUE(Eventually([&] { return ops.calls() >= 10; }));
  auto ev = rec.events();
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_EQ(ev[0].status, Health::kPassing);
  EXPECT_EQ(ev[1].status, Health::kCritical);
  EXPECT_EQ(ev[1].output, "worse");
}

TEST(CheckRunner, WarningIsReportedAndCountsAsFailure) {
  FakeOps ops({Exit(0, "ok"), Exit(1, "busy"), Exit(1, "busy"), Exit(0, "ok")});
  Recorder rec;
  CheckRunner runner(&ops, rec.sink());
  CheckDef d = ExecCheck();
  d.failures_before_critical = 2;
  ASSERT_TRUE(runner.Add(d));
  ASSERT_TRUE(rec.WaitFor(3));
  auto ev = rec.events();
  EXPECT_EQ(ev[0].status, Health::kPassing);
  EXPECT_EQ(ev[1].status, Health::kWarning);  // after 2 consecutive non-passes
  EXPECT_EQ(ev[1].output, "busy");
  EXPECT_EQ(ev[2].status, Health::kPassing);
}

TEST(CheckRunner, FastCadenceOnlyUntilFirstPass) {
  FakeOps ops({Exit(2), Exit(2), Exit(0)});
  Recorder rec;
  CheckRunner runner(&ops, rec.sink());
  CheckDef d = ExecCheck();
  d.interval_ns = 10'000'000'000;
  ASSERT_TRUE(runner.Add(d));
  ASSERT_TRUE(rec.WaitFor(2));  // critical, then passing
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(ops.calls(), 3);
}

TEST(CheckRunner, TtlExpiresAndUpdatesReset) {
  Recorder rec;
  CheckRunner runner(nullptr, rec.sink());
  CheckDef d;
  d.id = "ttl1";
  d.type = "ttl";
  // 1 s: the 100 ms updates below keep it alive unless this thread stalls for 900 ms.
  d.ttl_ns = 1'000'000'000;
  auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(runner.Add(d));
  ASSERT_TRUE(rec.WaitFor(1));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 990ms);
  EXPECT_EQ(rec.events()[0].status, Health::kCritical);
  EXPECT_EQ(rec.events()[0].output, "TTL expired");

  // The update is delivered before TtlUpdate returns.
  ASSERT_TRUE(runner.TtlUpdate("ttl1", Health::kPassing, "alive"));
  ASSERT_EQ(rec.size(), 2u);
  EXPECT_EQ(rec.events()[1].status, Health::kPassing);
  EXPECT_EQ(rec.events()[1].output, "alive");

  // Updates within the TTL keep it alive; unchanged ones are not reported.
  for (int i = 0; i < 15; ++i) {  // 1.5 s in all, longer than the TTL
    std::this_thread::sleep_for(100ms);
    ASSERT_TRUE(runner.TtlUpdate("ttl1", Health::kPassing, "alive"));
  }
  EXPECT_EQ(rec.size(), 2u);
  ASSERT_TRUE(runner.TtlUpdate("ttl1", Health::kWarning, "degraded"));
  EXPECT_EQ(rec.size(), 3u);
  ASSERT_TRUE(rec.WaitFor(4));
  EXPECT_EQ(rec.events()[3].output, "TTL expired");
}

TEST(CheckRunner, TtlUpdateErrors) {
  CheckRunner runner(nullptr, nullptr);
  auto r = runner.TtlUpdate("nope", Health::kPassing, "");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), ENOENT);
  CheckDef d;
  d.id = "dock";
  d.type = "docker";
  ASSERT_TRUE(runner.Add(d));
  r = runner.TtlUpdate("dock", Health::kPassing, "");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EINVAL);
}

TEST(CheckRunner, DockerChecksAreNeverProbed) {
  FakeOps ops;
  Recorder rec;
  CheckRunner runner(&ops, rec.sink());
  CheckDef d;
  d.id = "dock";
  d.type = "docker";
  ASSERT_TRUE(runner.Add(d));
  EXPECT_TRUE(runner.Has("dock"));
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(rec.size(), 0u);
  runner.Remove("dock");
  EXPECT_FALSE(runner.Has("dock"));
}

// A probe blocked on a peer that never answers must not hold up Remove()
// or the destructor.
TEST(CheckRunner, RemoveWhileProbeHangsIsPrompt) {
  for (std::string type : {"http", "fastcgi", "fastcgi-then-destroy"}) {
    HungServer server;
    Recorder rec;
    auto runner = std::make_unique<CheckRunner>(nullptr, rec.sink());
    CheckDef d;
    d.id = "hang";
    d.timeout_ns = 30'000'000'000;
    if (type == "http") {
      d.type = "http";
      d.target = "http://" + server.addr() + "/";
    } else {
      d.type = "fastcgi";
      d.target = server.addr();
      d.path = "/ping";
    }
    ASSERT_TRUE(runner->Add(d));
    ASSERT_TRUE(Eventually([&] { return server.accepted() >= 1; })) << type;
    std::this_thread::sleep_for(50ms);  // the probe is now waiting for an answer
    auto start = std::chrono::steady_clock::now();
    if (type == "fastcgi-then-destroy") {
      runner.reset();
    } else {
      runner->Remove("hang");
      EXPECT_FALSE(runner->Has("hang"));
    }
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << type;  // vs. the 30 s timeout
    EXPECT_EQ(rec.size(), 0u) << type;
    start = std::chrono::steady_clock::now();
    runner.reset();  // joins the parked thread
    EXPECT_LT(std::chrono::steady_clock::now() - start, 5s) << type;  // vs. the 30 s timeout
  }
}

TEST(CheckRunner, NoReportAfterRemoveReturns) {
  std::vector<Result<ExecOutcome>> flapping;
  for (int i = 0; i < 2000; ++i) flapping.push_back(Exit(i % 2 == 0 ? 0 : 2));
  FakeOps ops(flapping);
  Recorder rec;
  CheckRunner runner(&ops, rec.sink());
  CheckDef d = ExecCheck();
  d.start_interval_ns = d.interval_ns = 1'000'000;
  ASSERT_TRUE(runner.Add(d));
  ASSERT_TRUE(rec.WaitFor(5));
  runner.Remove(d.id);
  size_t n = rec.size();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(rec.size(), n);
}

TEST(CheckRunner, SinkMayRemoveAndUpdate) {
  FakeOps ops({Exit(0, "ok")});
  Recorder rec;
  CheckRunner runner(&ops, rec.sink());
  CheckDef ttl;
  ttl.id = "ttl";
  ttl.type = "ttl";
  ttl.ttl_ns = 10'000'000'000;
  ASSERT_TRUE(runner.Add(ttl));
  // On the exec check's first result: update the TTL check, remove itself.
  rec.set_hook([&](const std::string& id) {
    if (id != "exec1") return;
    EXPECT_TRUE(runner.TtlUpdate("ttl", Health::kPassing, "from sink"));
    runner.Remove("exec1");
  });
  ASSERT_TRUE(runner.Add(ExecCheck()));
  ASSERT_TRUE(Eventually([&] { return !runner.Has("exec1"); }));
  ASSERT_TRUE(rec.WaitFor(2));
  auto ev = rec.events();
  EXPECT_EQ(ev[0].id, "exec1");
  EXPECT_EQ(ev[1].id, "ttl");
  EXPECT_EQ(ev[1].output, "from sink");
}

TEST(CheckRunner, AddReplacesAnExistingCheck) {
  FakeOps ops({Exit(0, "ok")});
  Recorder rec;
  CheckRunner runner(&ops, rec.sink());
  ASSERT_TRUE(runner.Add(ExecCheck()));
  ASSERT_TRUE(rec.WaitFor(1));
  CheckDef d = ExecCheck();
  d.args = {"other"};
  ASSERT_TRUE(runner.Add(d));
  ASSERT_TRUE(rec.WaitFor(2));  // a new check reports its first result again
  ASSERT_TRUE(Eventually([&] { return ops.last_argv() == std::vector<std::string>{"other"}; }));
}

}  // namespace
}  // namespace moor::discovery
