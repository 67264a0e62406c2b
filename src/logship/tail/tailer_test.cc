#include "logship/tail/tailer.h"

#include <fcntl.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "common/file.h"
#include "common/testing/temp_dir.h"
#include "monitor/log_file.h"

namespace moor::logship {
namespace {

using moor::monitor::LogWriter;
using moor::testing::TempDir;

struct Got {
  std::string text;
  Stream stream;
  int64_t time_ns;
  TailPos next;
};

// Polls until nothing more comes.
std::vector<Got> Drain(LogTailer& t, size_t max_bytes = 4 << 20) {
  std::vector<Got> out;
  for (;;) {
    auto n = t.Poll(
        [&](const TailLine& l) {
          out.push_back({std::string(l.text), l.stream, l.time_ns, l.next});
        },
        max_bytes);
    EXPECT_TRUE(n) << n.error().message();
    if (!n || *n == 0) return out;
  }
}

std::vector<std::string> Texts(const std::vector<Got>& g) {
  std::vector<std::string> out;
  for (const auto& x : g) out.push_back(x.text);
  return out;
}

void Append(const std::string& path, std::string_view bytes) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640));
  ASSERT_TRUE(fd);
  ASSERT_EQ(::write(fd.get(), bytes.data(), bytes.size()), static_cast<ssize_t>(bytes.size()));
}

uint64_t InodeOf(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 ? st.st_ino : 0;
}

TEST(DecodeJsonFileRecord, OwnLayout) {
  std::string text;
  Stream s;
  int64_t t;
  ASSERT_TRUE(DecodeJsonFileRecord(
      R"({"log":"hello world\n","stream":"stderr","time":"2026-11-27T10:00:00.000000042Z"})", &text, &s, &t));
  EXPECT_EQ(text, "hello world\n");
  EXPECT_EQ(s, Stream::kStderr);
  EXPECT_EQ(t, 1795773600'000000042);
  ASSERT_TRUE(DecodeJsonFileRecord(
      R"({"log":"q\"b\\s\/\t\u0001\u00e9\ud83d\udc33\ud800x","stream":"stdout","time":"1970-01-01T00:00:01.500000000Z"})",
      &text, &s, &t));
  EXPECT_EQ(text, "q\"b\\s/\t\x01\xC3\xA9\xF0\x9F\x90\xB3\xEF\xBF\xBDx");
  EXPECT_EQ(s, Stream::kStdout);
  EXPECT_EQ(t, 1'500'000'000);
}

TEST(DecodeJsonFileRecord, OtherWritersAndBadRecords) {
  std::string text;
  Stream s;
  int64_t t;
  // Docker's order may differ, with extra attrs and a zone offset.
  ASSERT_TRUE(DecodeJsonFileRecord(
      R"({"stream":"stderr","attrs":{"a":"b"},"log":"x\n","time":"2026-01-01T01:00:00+01:00"})", &text, &s, &t));
  EXPECT_EQ(text, "x\n");
  EXPECT_EQ(s, Stream::kStderr);
  EXPECT_EQ(t, 1767225600'000000000);
  // The fast path's shape with an unescaped quote inside is another record.
  ASSERT_TRUE(DecodeJsonFileRecord(R"({"log":"a","x":"b","stream":"stdout","time":"2026-11-27T10:00:00.000000042Z"})",
                                   &text, &s, &t));
  EXPECT_EQ(text, "a");
  for (std::string_view bad :
       {"", "not json", "{\"log\":\"a\"", "[1,2]", R"({"stream":"stdout","time":"2026-01-01T00:00:00Z"})",
        R"({"log":"a","stream":"stdin","time":"2026-01-01T00:00:00Z"})",
        R"({"log":"a\q","stream":"stdout","time":"2026-11-27T10:00:00.000000042Z"})",
        R"({"log":1,"stream":"stdout","time":"2026-01-01T00:00:00Z"})"})
    EXPECT_FALSE(DecodeJsonFileRecord(bad, &text, &s, &t)) << bad;
}

TEST(LogTailer, MissingFileIsNoLinesUntilItAppears) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  LogTailer t(path, 3, {});
  EXPECT_TRUE(Drain(t).empty());
  EXPECT_EQ(t.stats().lines, 0u);
  LogWriter w(path, 0, 3);
  ASSERT_TRUE(w.Open());
  ASSERT_TRUE(w.Write("stdout", "one\n"));
  ASSERT_TRUE(w.Write("stderr", "two\n"));
  auto got = Drain(t);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].text, "one");
  EXPECT_EQ(got[0].stream, Stream::kStdout);
  EXPECT_EQ(got[1].text, "two");
  EXPECT_EQ(got[1].stream, Stream::kStderr);
  timespec now;
  clock_gettime(CLOCK_REALTIME, &now);
  EXPECT_NEAR(static_cast<double>(got[0].time_ns) / 1e9, static_cast<double>(now.tv_sec), 5.0);
  EXPECT_EQ(got[1].next.offset, static_cast<uint64_t>(ReadFile(path)->size()));
  EXPECT_EQ(got[1].next.ino, InodeOf(path));
  EXPECT_EQ(t.pos(), got[1].next);
  EXPECT_EQ(t.stats().bytes, 6u);
}

TEST(LogTailer, PartialRecordWaitsUntilComplete) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  std::string rec = R"({"log":"abc\n","stream":"stdout","time":"2026-11-27T10:00:00.000000000Z"})"
                    "\n";
  Append(path, rec.substr(0, 20));
  LogTailer t(path, 1, {});
  EXPECT_TRUE(Drain(t).empty());
  EXPECT_EQ(t.pos().offset, 0u);
  Append(path, rec.substr(20));
  auto got = Drain(t);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].text, "abc");
  EXPECT_EQ(t.stats().bad_records, 0u);
}

TEST(LogTailer, JoinsPiecesOfLongLines) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  LogWriter w(path, 0, 1);
  ASSERT_TRUE(w.Open());
  std::string line(40000, 'x');
  line[0] = 'a';
  line[39999] = 'z';
  LogTailer t(path, 1, {});
  ASSERT_TRUE(w.Write("stdout", line.substr(0, 20000)));  // two 16 KiB pieces are out, the line is not
  EXPECT_TRUE(Drain(t).empty());
  EXPECT_EQ(t.pos().offset, 0u);  // a checkpoint now must re-read the pieces
  ASSERT_TRUE(w.Write("stdout", line.substr(20000) + "\nshort\n"));
  auto got = Drain(t);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].text, line);
  EXPECT_EQ(got[1].text, "short");
  EXPECT_EQ(t.stats().truncated_lines, 0u);

  // Cut to max_line_bytes, counted.
  LogTailer small(path, 1, {}, 1000);
  got = Drain(small);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].text, line.substr(0, 1000));
  EXPECT_EQ(got[1].text, "short");
  EXPECT_EQ(small.stats().truncated_lines, 1u);
}

TEST(LogTailer, OtherStreamEndsPendingPieces) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  LogWriter w(path, 0, 1);
  ASSERT_TRUE(w.Open());
  ASSERT_TRUE(w.Write("stdout", std::string(20000, 'o')));  // one 16 KiB piece out
  ASSERT_TRUE(w.Write("stderr", "err\n"));
  ASSERT_TRUE(w.Write("stdout", "tail\n"));
  LogTailer t(path, 1, {});
  auto got = Drain(t);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].text, std::string(16384, 'o'));
  EXPECT_EQ(got[0].stream, Stream::kStdout);
  EXPECT_EQ(got[1].text, "err");
  EXPECT_EQ(got[2].text, std::string(20000 - 16384, 'o') + "tail");
  // Each next resumes exactly after its line.
  LogTailer resumed(path, 1, got[0].next);
  EXPECT_EQ(Texts(Drain(resumed)), (std::vector<std::string>{got[1].text, got[2].text}));
}

TEST(LogTailer, BadRecordsAreSkippedAndCounted) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  LogWriter w(path, 0, 1);
  ASSERT_TRUE(w.Open());
  ASSERT_TRUE(w.Write("stdout", "a\n"));
  Append(path, "garbage\n{\"log\":\"x\"}\n\n");
  ASSERT_TRUE(w.Write("stdout", "b\n"));
  LogTailer t(path, 1, {});
  EXPECT_EQ(Texts(Drain(t)), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(t.stats().bad_records, 3u);
  EXPECT_EQ(t.pos().offset, static_cast<uint64_t>(ReadFile(path)->size()));
}

// Writes lines "line N" with rotation while a tailer polls between writes.
TEST(LogTailer, FollowsRotationsWhileReading) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  LogWriter w(path, 1500, 3);
  ASSERT_TRUE(w.Open());
  LogTailer t(path, 3, {});
  std::vector<std::string> got;
  int next = 0;
  for (int round = 0; round < 200; ++round) {
    std::string chunk;
    for (int k = 0; k < 1 + round % 7; ++k) chunk += "line " + std::to_string(next++) + "\n";
    ASSERT_TRUE(w.Write("stdout", chunk));
    if (round % 3 == 0) {
      auto g = Texts(Drain(t, round % 2 ? 100 : 4 << 20));  // small max_bytes: stops mid-file
      got.insert(got.end(), g.begin(), g.end());
    }
  }
  auto g = Texts(Drain(t));
  got.insert(got.end(), g.begin(), g.end());
  ASSERT_EQ(got.size(), static_cast<size_t>(next));
  for (int i = 0; i < next; ++i) ASSERT_EQ(got[static_cast<size_t>(i)], "line " + std::to_string(i));
  EXPECT_EQ(t.stats().missed_files, 0u);
  EXPECT_EQ(t.stats().bad_records, 0u);
  EXPECT_EQ(t.pos().ino, InodeOf(path));
}

// A writer that rotates faster than the tailer reads: every Poll opens the
// files newer than the one it reads, so a file the writer deletes before the
// tailer got to it is still read through its descriptor.
TEST(LogTailer, HoldsNewerFilesSoFastRotationLosesNothing) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  LogWriter w(path, 2000, 3);  // only PATH, PATH.1, PATH.2 exist at a time
  ASSERT_TRUE(w.Open());
  LogTailer t(path, 3, {});
  std::vector<std::string> got;
  auto take = [&](size_t max_bytes) {
    auto n = t.Poll([&](const TailLine& l) { got.emplace_back(l.text); }, max_bytes);
    ASSERT_TRUE(n) << n.error().message();
  };
  int next = 0;
  for (int round = 0; round < 40; ++round) {
    std::string chunk;
    for (int k = 0; k < 25; ++k) chunk += "line " + std::to_string(next++) + "\n";
    ASSERT_TRUE(w.Write("stdout", chunk));  // about one file a round
    take(100);                              // reads less than the writer writes
  }
  for (int i = 0; i < 100; ++i) take(4 << 20);
  ASSERT_EQ(got.size(), static_cast<size_t>(next));
  for (int i = 0; i < next; ++i) ASSERT_EQ(got[static_cast<size_t>(i)], "line " + std::to_string(i));
  EXPECT_EQ(t.stats().missed_files, 0u);
  EXPECT_EQ(t.stats().lost_lines, 0u);
}

// Held files are bounded (their space stays in use): beyond 2 × max_files + 2
// the oldest is given up, and its lines are counted, not silently lost.
TEST(LogTailer, GivesUpHeldFilesBeyondTheBoundAndCountsTheirLines) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  LogWriter w(path, 1100 << 10, 2);  // files of about 1.1 MiB; a Poll reads at least 1 MiB
  ASSERT_TRUE(w.Open());
  LogTailer t(path, 2, {}, 1 << 20, /*max_held_bytes=*/1);  // only the floor of 2 × 2 + 2 files
  size_t got = 0;
  auto take = [&](size_t max_bytes) {
    auto n = t.Poll([&](const TailLine&) { ++got; }, max_bytes);
    ASSERT_TRUE(n) << n.error().message();
  };
  int next = 0;
  std::string pad(60, 'x');
  for (int round = 0; round < 40; ++round) {
    std::string chunk;
    for (int k = 0; k < 12000; ++k) chunk += pad + std::to_string(next++) + "\n";  // ~1.2 MiB as records
    ASSERT_TRUE(w.Write("stdout", chunk));
    take(1);  // one 1 MiB read a round: falls behind a file every few rounds
  }
  for (int i = 0; i < 400; ++i) take(4 << 20);
  EXPECT_GT(t.stats().missed_files, 0u);
  EXPECT_GT(t.stats().lost_lines, 0u);
  EXPECT_EQ(got + t.stats().lost_lines, static_cast<size_t>(next));
}

TEST(LogTailer, ResumesFromEveryPositionWithoutGapOrDuplicate) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  LogWriter w(path, 1200, 40);  // keeps every file of this test
  ASSERT_TRUE(w.Open());
  for (int i = 0; i < 60; ++i) {
    std::string line = "entry " + std::to_string(i);
    if (i % 17 == 5) line += std::string(17000, 'L');  // two pieces
    ASSERT_TRUE(w.Write(i % 5 == 3 ? "stderr" : "stdout", line + "\n"));
  }
  ASSERT_TRUE(PathExists(path + ".3"));
  ASSERT_FALSE(PathExists(path + ".39"));
  LogTailer all(path, 40, {});
  auto lines = Drain(all, 5000);
  ASSERT_EQ(lines.size(), 60u);
  for (size_t k = 0; k < lines.size(); ++k) {
    LogTailer t(path, 40, lines[k].next);
    auto rest = Drain(t);
    ASSERT_EQ(rest.size(), lines.size() - k - 1) << k;
    for (size_t j = 0; j < rest.size(); ++j) {
      ASSERT_EQ(rest[j].text, lines[k + 1 + j].text);
      ASSERT_EQ(rest[j].next, lines[k + 1 + j].next);
    }
    EXPECT_EQ(t.stats().missed_files, 0u);
  }
}

TEST(LogTailer, SavedPositionRotatedAwayStartsAtOldest) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  LogWriter w(path, 300, 2);
  ASSERT_TRUE(w.Open());
  ASSERT_TRUE(w.Write("stdout", "first\n"));
  TailPos saved{0, InodeOf(path), 0};
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  saved.dev = st.st_dev;
  // Held open so that its inode is not reused by a newer file once it is rotated away.
  UniqueFd hold(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  for (int i = 0; i < 40; ++i) ASSERT_TRUE(w.Write("stdout", "line " + std::to_string(i) + "\n"));
  ASSERT_TRUE(PathExists(path + ".1"));
  LogTailer t(path, 2, saved);
  auto got = Texts(Drain(t));
  EXPECT_EQ(t.stats().missed_files, 1u);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back(), "line 39");
  // Oldest first, contiguous.
  int first = std::stoi(got[0].substr(5));
  for (size_t k = 0; k < got.size(); ++k) EXPECT_EQ(got[k], "line " + std::to_string(first + static_cast<int>(k)));
}

TEST(LogTailer, TruncatedFileStartsOver) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  LogWriter w(path, 300, 1);  // max_files 1: truncated in place
  ASSERT_TRUE(w.Open());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(w.Write("stdout", "line " + std::to_string(i) + "\n"));
  LogTailer t(path, 1, {});
  EXPECT_EQ(Drain(t).size(), 3u);
  uint64_t ino = InodeOf(path);
  ASSERT_TRUE(w.Write("stdout", "after\n"));  // over 300 bytes: truncates first
  ASSERT_EQ(InodeOf(path), ino);
  ASSERT_LT(ReadFile(path)->size(), 100u);
  EXPECT_EQ(Texts(Drain(t)), (std::vector<std::string>{"after"}));

  // A saved offset past the end of a shorter file: from its start.
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  LogTailer saved(path, 1, TailPos{static_cast<uint64_t>(st.st_dev), ino, 100000});
  EXPECT_EQ(Texts(Drain(saved)), (std::vector<std::string>{"after"}));
}

TEST(LogTailer, PathRemovedKeepsWhatWasRead) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  LogWriter w(path, 0, 2);
  ASSERT_TRUE(w.Open());
  ASSERT_TRUE(w.Write("stdout", "a\n"));
  LogTailer t(path, 2, {});
  EXPECT_EQ(Drain(t).size(), 1u);
  ASSERT_EQ(::unlink(path.c_str()), 0);
  EXPECT_TRUE(Drain(t).empty());
  EXPECT_EQ(t.stats().lines, 1u);
}

double Seconds() {
  timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) / 1e9;
}

// By hand, in a Release build: 100-byte lines in 64 KiB chunks (as a pipe
// delivers them) through LogWriter::Write, then LogTailer::Poll over them.
TEST(LogTailerBench, DISABLED_WriteAndPoll) {
  TempDir dir;
  std::string path = dir.path() + "/c.log";
  std::string line;
  for (size_t i = 0; i < 99; ++i) line += "abcdefghijklmnopqrstuvwxyz0123456789 =:"[i % 39];
  line += '\n';
  std::string all;
  while (all.size() < (4u << 20)) all += line;
  constexpr size_t kTotal = 256u << 20;
  LogWriter w(path, 1 << 30, 2);
  ASSERT_TRUE(w.Open());
  double t0 = Seconds();
  size_t bytes = 0;
  while (bytes < kTotal)
    for (size_t off = 0; off + 65536 <= all.size() && bytes < kTotal; off += 65536, bytes += 65536)
      ASSERT_TRUE(w.Write("stdout", std::string_view(all).substr(off, 65536)));
  double dt = Seconds() - t0;
  std::printf("LogWriter::Write: %.1f MiB/s of input, %.0f lines/s\n", bytes / dt / 1048576, bytes / 100.0 / dt);
  LogTailer t(path, 2, {});
  size_t lines = 0, text = 0;
  t0 = Seconds();
  for (;;) {
    auto n = t.Poll([&](const TailLine& l) { text += l.text.size(); });
    ASSERT_TRUE(n);
    if (*n == 0) break;
    lines += *n;
  }
  dt = Seconds() - t0;
  std::printf("LogTailer::Poll: %.0f lines/s, %.1f MiB/s of text\n", lines / dt, text / dt / 1048576);
  EXPECT_GT(lines, kTotal / 101);
}

}  // namespace
}  // namespace moor::logship

namespace moor::logship {
namespace {

// The writer in another thread (as the monitor is another process), rotating
// many times while the tailer polls: every line once, in order.
class LogTailerRace : public ::testing::TestWithParam<int64_t> {};

TEST_P(LogTailerRace, ConcurrentFastRotationNoGapNoDuplicate) {
  moor::testing::TempDir dir;
  std::string path = dir.path() + "/c.log";
  moor::monitor::LogWriter w(path, GetParam(), 5);
  ASSERT_TRUE(w.Open());
  constexpr int kLines = 400000;
  LogTailer t(path, 5, {});
  std::vector<int> got;
  got.reserve(kLines);
  auto on = [&](const TailLine& l) { got.push_back(std::atoi(std::string(l.text.substr(5)).c_str())); };
  ASSERT_TRUE(t.Poll(on, 1 << 20));  // open before the writer starts (the shipper sees a container created)
  std::atomic<bool> done{false};
  std::thread writer([&] {
    std::string chunk;
    int next = 0;
    while (next < kLines) {
      chunk.clear();
      for (int k = 0; k < 500 && next < kLines; ++k) chunk += "line " + std::to_string(next++) + "\n";
      if (!w.Write("stdout", chunk)) break;
    }
    done = true;
  });
  while (!done) ASSERT_TRUE(t.Poll(on, 1 << 20));
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(t.Poll(on, 64 << 20));
  writer.join();
  size_t dups = 0, gaps = 0;
  for (size_t i = 1; i < got.size(); ++i) {
    if (got[i] <= got[i - 1]) ++dups;
    if (got[i] > got[i - 1] + 1) ++gaps;
  }
  EXPECT_EQ(dups, 0u);
  // What is not read is counted: given up held files exactly, files that went
  // while the tailer was not looking at least as files.
  if (t.stats().missed_files == 0) {
    EXPECT_EQ(gaps, 0u);
    EXPECT_EQ(got.size() + t.stats().lost_lines, static_cast<size_t>(kLines));
  }
  std::printf("got %zu lines, %zu dups, %zu gaps, missed files %lu, lost lines %lu\n", got.size(), dups, gaps,
              static_cast<unsigned long>(t.stats().missed_files), static_cast<unsigned long>(t.stats().lost_lines));
}

// Files of 256 KiB: the writer can go through all five names while the
// tailer consumes one 1 MiB read; of 1 MiB: as in life, far slower than that.
INSTANTIATE_TEST_SUITE_P(FileSizes, LogTailerRace, ::testing::Values(int64_t{256} << 10, int64_t{1} << 20));

}  // namespace
}  // namespace moor::logship
