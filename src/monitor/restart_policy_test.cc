#include "monitor/restart_policy.h"

#include <gtest/gtest.h>

#include "monitor/oom.h"

namespace moor::monitor {
namespace {

RestartPolicy Policy(std::string name, int max = 0) {
  RestartPolicy p;
  p.name = std::move(name);
  p.max_retries = max;
  return p;
}

TEST(RestartPolicy, NoNeverRestarts) {
  RestartTracker t(Policy("no"));
  EXPECT_FALSE(t.OnExit(1, false, 5).restart);
  EXPECT_EQ(t.restart_count(), 0);
}

TEST(RestartPolicy, BackoffDoublesUpToOneMinute) {
  RestartTracker t(Policy("always"));
  std::vector<int64_t> delays;
  for (int i = 0; i < 12; ++i) {
    auto d = t.OnExit(0, false, 50);
    ASSERT_TRUE(d.restart);
    delays.push_back(d.delay_ms);
  }
  std::vector<int64_t> want = {100, 200, 400, 800, 1600, 3200, 6400, 12800, 25600, 51200, 60000, 60000};
  EXPECT_EQ(delays, want);
  EXPECT_EQ(t.restart_count(), 12);
}

TEST(RestartPolicy, LongRunResetsBackoff) {
  RestartTracker t(Policy("always"));
  EXPECT_EQ(t.OnExit(1, false, 10).delay_ms, 100);
  EXPECT_EQ(t.OnExit(1, false, 10).delay_ms, 200);
  EXPECT_EQ(t.OnExit(1, false, 9'999).delay_ms, 400);
  EXPECT_EQ(t.OnExit(1, false, 10'000).delay_ms, 100);
  EXPECT_EQ(t.OnExit(1, false, 10).delay_ms, 200);
}

TEST(RestartPolicy, OnFailureCountsRetries) {
  RestartTracker t(Policy("on-failure", 2));
  EXPECT_TRUE(t.OnExit(1, false, 10).restart);
  EXPECT_TRUE(t.OnExit(1, false, 10).restart);
  EXPECT_FALSE(t.OnExit(1, false, 10).restart);
  EXPECT_EQ(t.restart_count(), 2);
}

TEST(RestartPolicy, OnFailureIgnoresSuccessAndUnlimitedWithZero) {
  RestartTracker ok(Policy("on-failure"));
  EXPECT_FALSE(ok.OnExit(0, false, 10).restart);
  RestartTracker unlimited(Policy("on-failure", 0));
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(unlimited.OnExit(137, false, 10).restart);
  EXPECT_EQ(unlimited.restart_count(), 50);
}

TEST(RestartPolicy, ManualStopNeverRestarts) {
  for (const char* name : {"always", "unless-stopped", "on-failure"}) {
    RestartTracker t(Policy(name));
    EXPECT_FALSE(t.OnExit(137, true, 10).restart) << name;
    EXPECT_EQ(t.restart_count(), 0) << name;
  }
}

TEST(Oom, ParsesCounter) {
  EXPECT_EQ(ParseOomKillCount("low 0\nhigh 0\nmax 3\noom 2\noom_kill 2\noom_group_kill 0\n"), 2);
  EXPECT_EQ(ParseOomKillCount("oom_kill_disable 0\nunder_oom 0\noom_kill 7\n"), 7);
  EXPECT_EQ(ParseOomKillCount("oom_kill_disable 0\nunder_oom 0\n"), std::nullopt);
  EXPECT_EQ(ParseOomKillCount("oom_kill x\n"), std::nullopt);
  EXPECT_EQ(ReadOomKillCount(""), 0);
  EXPECT_EQ(ReadOomKillCount("/nonexistent/memory.events"), 0);
}

}  // namespace
}  // namespace moor::monitor
