#include "monitor/log_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "common/file.h"
#include "monitor/test_util.h"

namespace moor::monitor {
namespace {

using testing::TempDir;

std::vector<LogEntry> ReadAll(const std::string& path, int max_files, LogQuery q = {}) {
  std::vector<LogEntry> out;
  auto r = ReadLogs(
      path, max_files, q,
      [&](const LogEntry& e) {
        out.push_back(e);
        return true;
      },
      [] { return true; });
  EXPECT_TRUE(r) << r.error().message();
  return out;
}

TEST(LogWriter, LinesAndPartialLines) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  LogWriter w(path, 0, 1);
  ASSERT_TRUE(w.Open());
  ASSERT_TRUE(w.Write("stdout", "a\nb"));
  ASSERT_TRUE(w.Write("stderr", "x"));
  ASSERT_TRUE(w.Write("stdout", "c\n\n"));
  ASSERT_TRUE(w.Flush());
  auto e = ReadAll(path, 1);
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].text, "a\n");
  EXPECT_EQ(e[1].text, "bc\n");
  EXPECT_EQ(e[2].text, "\n");
  EXPECT_EQ(e[3].text, "x");
  EXPECT_EQ(e[3].stream, "stderr");
  EXPECT_GT(e[0].time_ns, 1'600'000'000'000'000'000);
  EXPECT_EQ(e[0].time.size(), 30u);  // 2026-11-27T10:00:00.123456789Z
  EXPECT_EQ(FormatRfc3339Nano(e[0].time_ns), e[0].time);
}

TEST(LogWriter, RecordsAreDockerJson) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  LogWriter w(path, 0, 1);
  ASSERT_TRUE(w.Open());
  ASSERT_TRUE(w.Write("stdout", "say \"hi\"\t\xff\n"));
  auto text = ReadFile(path);
  ASSERT_TRUE(text);
  EXPECT_TRUE(text->starts_with(R"({"log":"say \"hi\"\t\ufffd\n","stream":"stdout","time":")")) << *text;
  EXPECT_TRUE(text->ends_with("Z\"}\n"));
  auto e = ReadAll(path, 1);
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].text, "say \"hi\"\t\xEF\xBF\xBD\n");
}

TEST(ReadLogs, DecodesEscapesAndOtherWritersRecords) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  LogWriter w(path, 0, 1);
  ASSERT_TRUE(w.Open());
  std::string text = "ctl\x01 bs\\ slash/ \xF0\x9F\x90\xB3 \xC3\xA9\r\n";
  ASSERT_TRUE(w.Write("stdout", text));
  {
    // As Docker may write it: other field order, extra attrs, \u escapes.
    UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
    std::string rec = R"({"stream":"stderr","attrs":{"a":"b"},"log":"\u00e9\ud83d\udc33\n",)"
                      R"("time":"2026-01-01T00:00:00Z"})"
                      "\n";
    ASSERT_EQ(::write(fd.get(), rec.data(), rec.size()), static_cast<ssize_t>(rec.size()));
  }
  auto e = ReadAll(path, 1);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].text, text);
  EXPECT_EQ(e[1].text, "\xC3\xA9\xF0\x9F\x90\xB3\n");
  EXPECT_EQ(e[1].stream, "stderr");
  EXPECT_EQ(e[1].time_ns, 1767225600'000000000);
}

TEST(LogWriter, SplitsLinesLongerThan16KiB) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  LogWriter w(path, 0, 1);
  ASSERT_TRUE(w.Open());
  std::string line(40000, 'x');
  // Arrives in odd-sized pieces, as from a pipe.
  ASSERT_TRUE(w.Write("stdout", line.substr(0, 1000)));
  ASSERT_TRUE(w.Write("stdout", line.substr(1000, 20000)));
  ASSERT_TRUE(w.Write("stdout", line.substr(21000) + "\nend\n"));
  auto e = ReadAll(path, 1);
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].text, std::string(16384, 'x'));
  EXPECT_EQ(e[1].text, std::string(16384, 'x'));
  EXPECT_EQ(e[2].text, std::string(40000 - 2 * 16384, 'x') + "\n");
  EXPECT_EQ(e[3].text, "end\n");
}

TEST(LogWriter, RotatesKeepingMaxFiles) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  LogWriter w(path, 1000, 3);
  ASSERT_TRUE(w.Open());
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(w.Write("stdout", "line " + std::to_string(i) + "\n"));
  EXPECT_TRUE(PathExists(path));
  EXPECT_TRUE(PathExists(path + ".1"));
  EXPECT_TRUE(PathExists(path + ".2"));
  EXPECT_FALSE(PathExists(path + ".3"));
  for (const auto& p : {path, path + ".1", path + ".2"}) {
    auto t = ReadFile(p);
    ASSERT_TRUE(t);
    EXPECT_LE(t->size(), 1000u) << p;
  }
  auto e = ReadAll(path, 3);
  ASSERT_GT(e.size(), 10u);
  ASSERT_LT(e.size(), 100u);
  // The newest lines survive, contiguous and in order.
  for (size_t k = 0; k < e.size(); ++k)
    EXPECT_EQ(e[k].text, "line " + std::to_string(100 - e.size() + k) + "\n");
}

TEST(LogWriter, SingleFileTruncates) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  LogWriter w(path, 500, 1);
  ASSERT_TRUE(w.Open());
  for (int i = 0; i < 50; ++i) ASSERT_TRUE(w.Write("stdout", "line " + std::to_string(i) + "\n"));
  EXPECT_FALSE(PathExists(path + ".1"));
  auto e = ReadAll(path, 1);
  ASSERT_FALSE(e.empty());
  EXPECT_EQ(e.back().text, "line 49\n");
}

TEST(LogWriter, ReopenAppends) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  {
    LogWriter w(path, 0, 1);
    ASSERT_TRUE(w.Open());
    ASSERT_TRUE(w.Write("stdout", "first\n"));
  }
  LogWriter w(path, 0, 1);
  ASSERT_TRUE(w.Open());
  ASSERT_TRUE(w.Write("stdout", "second\n"));
  auto e = ReadAll(path, 1);
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].text, "first\n");
  EXPECT_EQ(e[1].text, "second\n");
}

TEST(LogWriter, OpenFailsInMissingDir) {
  LogWriter w("/nonexistent-moor-dir/c.log", 0, 1);
  auto r = w.Open();
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("/nonexistent-moor-dir/c.log"), std::string::npos);
}

// A hand-written log with known times for the filters.
std::string FixturePath(const TempDir& dir) {
  std::string path = dir.path() + "/fixed.log";
  std::string text;
  for (int i = 0; i < 6; ++i) {
    text += R"({"log":"l)" + std::to_string(i) + R"(\n","stream":")" + (i % 2 ? "stderr" : "stdout") +
            R"(","time":"2026-01-01T00:00:0)" + std::to_string(i) + R"(.5Z"})" + "\n";
    if (i == 2) text += "not json\n";
  }
  EXPECT_TRUE(WriteFileAtomic(path, text));
  return path;
}

std::vector<std::string> Texts(const std::vector<LogEntry>& e) {
  std::vector<std::string> out;
  for (const auto& x : e) out.push_back(x.text);
  return out;
}

TEST(ReadLogs, FiltersTailSinceUntilStreams) {
  TempDir dir;
  std::string path = FixturePath(dir);
  using V = std::vector<std::string>;
  EXPECT_EQ(Texts(ReadAll(path, 1)), (V{"l0\n", "l1\n", "l2\n", "l3\n", "l4\n", "l5\n"}));
  LogQuery q;
  q.tail = 2;
  EXPECT_EQ(Texts(ReadAll(path, 1, q)), (V{"l4\n", "l5\n"}));
  q.tail = 0;
  EXPECT_TRUE(ReadAll(path, 1, q).empty());
  LogQuery s;
  s.stderr = false;
  EXPECT_EQ(Texts(ReadAll(path, 1, s)), (V{"l0\n", "l2\n", "l4\n"}));
  LogQuery t;
  t.since_ns = *ParseRfc3339("2026-01-01T00:00:02.5Z");
  t.until_ns = *ParseRfc3339("2026-01-01T00:00:04.5Z");
  EXPECT_EQ(Texts(ReadAll(path, 1, t)), (V{"l2\n", "l3\n"}));
  t.tail = 1;
  t.stdout = false;
  EXPECT_EQ(Texts(ReadAll(path, 1, t)), (V{"l3\n"}));
}

TEST(ReadLogs, MissingLogIsEmptyAndEarlyStop) {
  TempDir dir;
  EXPECT_TRUE(ReadAll(dir.path() + "/none.log", 3).empty());
  std::string path = FixturePath(dir);
  int seen = 0;
  ASSERT_TRUE(ReadLogs(
      path, 1, {}, [&](const LogEntry&) { return ++seen < 2; }, [] { return true; }));
  EXPECT_EQ(seen, 2);
}

TEST(ReadLogs, FollowSeesNewLinesAcrossRotation) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  LogWriter w(path, 2000, 3);
  ASSERT_TRUE(w.Open());
  ASSERT_TRUE(w.Write("stdout", "before\n"));
  std::vector<std::string> seen;
  std::atomic<bool> stop{false};
  std::atomic<int> count{0};
  constexpr int kLines = 300;
  std::thread reader([&] {
    LogQuery q;
    q.follow = true;
    auto r = ReadLogs(
        path, 3, q,
        [&](const LogEntry& e) {
          seen.push_back(e.text);
          ++count;
          return true;
        },
        [&] { return stop.load(); });
    EXPECT_TRUE(r) << r.error().message();
  });
  ASSERT_TRUE(testing::WaitFor([&] { return count.load() >= 1; }));
  // Slow enough that the follower keeps up with the rotations (it reads every
  // rotated file's tail before switching, but cannot skip two rotations).
  for (int i = 0; i < kLines; ++i) {
    ASSERT_TRUE(w.Write("stdout", "n" + std::to_string(i) + "\n"));
    if (i % 5 == 0) {
      int want = i + 2;
      ASSERT_TRUE(testing::WaitFor([&] { return count.load() >= want; }));
    }
  }
  ASSERT_TRUE(testing::WaitFor([&] { return count.load() >= kLines + 1; }));
  stop = true;
  reader.join();
  ASSERT_EQ(seen.size(), static_cast<size_t>(kLines + 1));
  EXPECT_EQ(seen[0], "before\n");
  for (int i = 0; i < kLines; ++i) ASSERT_EQ(seen[i + 1], "n" + std::to_string(i) + "\n");
  EXPECT_TRUE(PathExists(path + ".2"));  // it did rotate
}

TEST(ReadLogs, FollowStopsWhenAsked) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  LogQuery q;
  q.follow = true;
  int calls = 0;
  auto r = ReadLogs(
      path, 1, q, [](const LogEntry&) { return true; }, [&] { return ++calls > 3; });
  EXPECT_TRUE(r);
}

TEST(ParseLogTime, Forms) {
  int64_t now = 1'800'000'000'000'000'000;
  EXPECT_EQ(*ParseLogTime("2026-11-27T10:00:00.123456789Z", now), 1795773600'123456789);
  EXPECT_EQ(*ParseLogTime("2026-11-27T10:00:00Z", now), 1795773600'000000000);
  EXPECT_EQ(*ParseLogTime("2026-11-27T11:30:00+01:30", now), 1795773600'000000000);
  EXPECT_EQ(*ParseLogTime("2026-11-27T10:00:00.5Z", now), 1795773600'500000000);
  EXPECT_EQ(*ParseLogTime("2026-11-27", now), 1795737600'000000000);
  EXPECT_EQ(*ParseLogTime("1700000000", now), 1700000000'000000000);
  EXPECT_EQ(*ParseLogTime("1700000000.5", now), 1700000000'500000000);
  EXPECT_EQ(*ParseLogTime("10m", now), now - 600'000'000'000);
  EXPECT_EQ(*ParseLogTime("1h30m", now), now - 5400'000'000'000);
  EXPECT_EQ(*ParseLogTime("1.5h", now), now - 5400'000'000'000);
  EXPECT_EQ(*ParseLogTime("250ms", now), now - 250'000'000);
  for (const char* bad : {"", "yesterday", "10x", "2026-13-01", "2026-11-27T25:00:00Z", "1700000000.x", "-5",
                          "2026-11-27T10:00:00Q"}) {
    auto r = ParseLogTime(bad, now);
    EXPECT_FALSE(r) << bad;
    if (!r) {
      EXPECT_NE(r.error().message().find("invalid time"), std::string::npos);
    }
  }
}

TEST(FormatRfc3339Nano, PadsNanos) {
  EXPECT_EQ(FormatRfc3339Nano(1795773600'000000042), "2026-11-27T10:00:00.000000042Z");
  EXPECT_EQ(*ParseRfc3339(FormatRfc3339Nano(1795773600'000000042)), 1795773600'000000042);
}

}  // namespace
}  // namespace moor::monitor
