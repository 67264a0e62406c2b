#include "logship/spool/spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <thread>

#include <gtest/gtest.h>

#include "common/file.h"
#include "common/testing/temp_dir.h"

namespace moor::logship {
namespace {

SourceMeta Src(uint32_t id, std::string name) {
  SourceMeta m;
  m.id = id;
  m.container_id = std::string(64, static_cast<char>('a' + id % 6));
  m.container = std::move(name);
  m.app = "shop";
  m.service = "php";
  m.image = "shop:1";
  m.release = "r" + std::to_string(id);
  m.node = "node1";
  m.outputs = {"lk", "file"};
  return m;
}

std::string Line(uint64_t i) {
  char b[32];
  std::snprintf(b, sizeof b, "line %08llu ", static_cast<unsigned long long>(i));
  return b + std::string(80, 'x');
}

// Appends records [from, to) alternately from a and b; time_ns = i.
void AppendRange(Spool& s, const SourceMeta& a, const SourceMeta& b, uint64_t from, uint64_t to) {
  for (uint64_t i = from; i < to; ++i) {
    std::string text = Line(i);
    const SourceMeta& src = i % 2 ? b : a;
    Record r{static_cast<int64_t>(i), i % 3 ? Stream::kStdout : Stream::kStderr, src.id, text,
             i % 5 ? "" : R"({"k":1})"};
    ASSERT_TRUE(s.Append(src, r)) << i;
  }
}

uint64_t SeqOf(std::string_view text) { return std::stoull(std::string(text.substr(5, 8))); }

// Reads everything available; returns the sequence numbers; acks as it goes.
std::vector<uint64_t> Drain(SpoolReader& r, size_t batch = 1000, bool ack = true) {
  std::vector<uint64_t> seen;
  for (;;) {
    auto got = r.Read(batch, 1 << 20, 0);
    EXPECT_TRUE(got) << got.error().message();
    if (!got || got->empty()) break;
    for (const auto& sr : *got) seen.push_back(SeqOf(sr.record.text));
    if (ack) r.Ack(got->back().next);
  }
  return seen;
}

std::vector<std::string> Segments(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = opendir(dir.c_str());
  while (struct dirent* e = d ? readdir(d) : nullptr)
    if (std::string_view(e->d_name).ends_with(".seg")) out.push_back(dir + "/" + e->d_name);
  if (d) closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

uint64_t FileSize(const std::string& p) {
  struct stat st {};
  return stat(p.c_str(), &st) == 0 ? static_cast<uint64_t>(st.st_size) : 0;
}

std::vector<uint64_t> Iota(uint64_t from, uint64_t to) {
  std::vector<uint64_t> v;
  for (uint64_t i = from; i < to; ++i) v.push_back(i);
  return v;
}

class SpoolTest : public ::testing::Test {
 protected:
  std::unique_ptr<Spool> OpenSpool(SpoolOptions o = {}, std::string* blob = nullptr) {
    std::string sink;
    auto s = Spool::Open(dir(), o, blob ? blob : &sink);
    EXPECT_TRUE(s) << s.error().message();
    return s ? std::move(*s) : nullptr;
  }
  std::unique_ptr<SpoolReader> Reader(Spool& s, const std::string& name) {
    auto r = s.OpenReader(name);
    EXPECT_TRUE(r) << r.error().message();
    return r ? std::move(*r) : nullptr;
  }
  std::string dir() const { return tmp_.path() + "/spool"; }

  // tmpfs when there is one: checkpoints and commits fsync, and on a disk
  // that is most of a test's time.
  testing::TempDir tmp_{PathExists("/dev/shm") ? "/dev/shm/moor-spool-test-" : "/tmp/moor-spool-test-"};
  SourceMeta a_ = Src(1, "shop-php-1");
  SourceMeta b_ = Src(2, "shop-php-2");
};

TEST_F(SpoolTest, RoundTripWithSources) {
  auto s = OpenSpool();
  auto r = Reader(*s, "lk");
  AppendRange(*s, a_, b_, 0, 10);
  // Not visible before Publish.
  auto none = r->Read(100, 1 << 20, 0);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  ASSERT_TRUE(s->Publish());
  auto got = r->Read(100, 1 << 20, 0);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 10u);
  SpoolPos prev;
  for (uint64_t i = 0; i < 10; ++i) {
    const SpooledRecord& sr = (*got)[i];
    EXPECT_EQ(sr.record.text, Line(i));
    EXPECT_EQ(sr.record.time_ns, static_cast<int64_t>(i));
    EXPECT_EQ(sr.record.stream, i % 3 ? Stream::kStdout : Stream::kStderr);
    EXPECT_EQ(sr.record.fields, i % 5 ? "" : R"({"k":1})");
    const SourceMeta& want = i % 2 ? b_ : a_;
    ASSERT_NE(sr.source, nullptr);
    EXPECT_EQ(sr.record.source, want.id);
    EXPECT_EQ(sr.source->id, want.id);
    EXPECT_EQ(sr.source->container, want.container);
    EXPECT_EQ(sr.source->container_id, want.container_id);
    EXPECT_EQ(sr.source->release, want.release);
    EXPECT_EQ(sr.source->outputs, want.outputs);
    EXPECT_LT(prev, sr.next);
    prev = sr.next;
  }
  EXPECT_EQ(prev, s->End());
  EXPECT_EQ(r->LagBytes(), s->End().offset - 8);
  EXPECT_EQ(r->OldestUnackedNs(), 0);  // time_ns of record 0 is 0 as well: ack half and check
  r->Ack((*got)[4].next);
  EXPECT_EQ(r->OldestUnackedNs(), 5);
  EXPECT_EQ(r->LagBytes(), s->End().offset - (*got)[4].next.offset);
  r->Ack(got->back().next);
  EXPECT_EQ(r->LagBytes(), 0u);
  EXPECT_EQ(r->OldestUnackedNs(), 0);
  SpoolStats st = s->Stats();
  EXPECT_EQ(st.records_appended, 10u);
  EXPECT_EQ(st.segments, 1u);
  EXPECT_EQ(st.bytes, FileSize(Segments(dir()).at(0)));
}

TEST_F(SpoolTest, SourcesAcrossSegmentsAndMidSegmentStart) {
  SpoolOptions o;
  o.segment_bytes = 4096;
  auto s = OpenSpool(o);
  AppendRange(*s, a_, b_, 0, 200);
  ASSERT_TRUE(s->Publish());
  EXPECT_GT(s->Stats().segments, 3u);
  // Every segment is readable alone: it names its sources.
  for (const auto& seg : Segments(dir())) {
    std::string data = *ReadFile(seg);
    EXPECT_NE(data.find(a_.container), std::string::npos) << seg;
    EXPECT_NE(data.find(b_.container), std::string::npos) << seg;
  }
  // A reader starting mid-segment (after a restart) still learns the sources.
  auto r = Reader(*s, "x");
  auto got = r->Read(7, 1 << 20, 0);
  ASSERT_TRUE(got);
  r->Ack(got->back().next);
  ASSERT_TRUE(r->Commit());
  r.reset();
  ASSERT_TRUE(s->Checkpoint("b"));
  s.reset();
  s = OpenSpool(o);
  r = Reader(*s, "x");
  got = r->Read(1, 1 << 20, 0);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(SeqOf((*got)[0].record.text), 7u);
  ASSERT_NE((*got)[0].source, nullptr);
  EXPECT_EQ((*got)[0].source->container, b_.container);
}

TEST_F(SpoolTest, ReadersAtDifferentSpeeds) {
  auto s = OpenSpool();
  auto fast = Reader(*s, "fast");
  auto slow = Reader(*s, "slow");
  AppendRange(*s, a_, b_, 0, 500);
  ASSERT_TRUE(s->Publish());
  EXPECT_EQ(Drain(*fast, 1000), Iota(0, 500));
  auto some = slow->Read(3, 1 << 20, 0);
  ASSERT_TRUE(some);
  ASSERT_EQ(some->size(), 3u);
  AppendRange(*s, a_, b_, 500, 600);
  ASSERT_TRUE(s->Publish());
  EXPECT_EQ(Drain(*fast, 1000), Iota(500, 600));
  EXPECT_EQ(Drain(*slow, 1), Iota(3, 600));
  // max_bytes limits a batch (at least one record always comes).
  auto r = Reader(*s, "bytes");
  auto got = r->Read(1000, 1, 0);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->size(), 1u);
}

// Many short-lived containers: a reader keeps only the label sets of the
// segment it reads, and every record still gets its own.
TEST_F(SpoolTest, ReaderForgetsSourcesOfSegmentsItLeft) {
  SpoolOptions o;
  o.segment_bytes = 4096;
  auto s = OpenSpool(o);
  auto r = Reader(*s, "lk");
  std::vector<SourceMeta> metas;
  for (uint32_t id = 1; id <= 400; ++id) metas.push_back(Src(id, "c-" + std::to_string(id)));
  for (uint64_t i = 0; i < 400; ++i)
    ASSERT_TRUE(s->Append(metas[i], Record{static_cast<int64_t>(i), Stream::kStdout, 0, Line(i), ""}));
  ASSERT_TRUE(s->Publish());
  size_t most = 0, n = 0;
  for (;;) {
    auto got = r->Read(7, 1 << 20, 0);
    ASSERT_TRUE(got) << got.error().message();
    if (got->empty()) break;
    for (const auto& sr : *got) {
      ASSERT_NE(sr.source, nullptr);
      EXPECT_EQ(sr.source->container, "c-" + std::to_string(SeqOf(sr.record.text) + 1));
      EXPECT_EQ(sr.source->release, "r" + std::to_string(SeqOf(sr.record.text) + 1));
      ++n;
    }
    most = std::max(most, r->SourcesKnown());
    r->Ack(got->back().next);
  }
  EXPECT_EQ(n, 400u);
  // A 4 KiB segment holds a few dozen of these records.
  EXPECT_LT(most, 60u);
  EXPECT_GT(most, 0u);

  // Started mid-segment (a cursor from before a restart): the sources
  // declared earlier in that segment are found.
  auto r2 = Reader(*s, "late");
  r2->Ack(SpoolPos{});  // (at the oldest record)
  auto first = r2->Read(3, 1 << 20, 0);
  ASSERT_TRUE(first);
  ASSERT_FALSE(first->empty());
  r2->Ack(first->back().next);
  r2.reset();
  auto r3 = Reader(*s, "late");
  auto rest = r3->Read(3, 1 << 20, 0);
  ASSERT_TRUE(rest);
  ASSERT_FALSE(rest->empty());
  EXPECT_EQ(rest->front().source->container, "c-" + std::to_string(SeqOf(rest->front().record.text) + 1));
}

TEST_F(SpoolTest, RewindGoesBackToTheCursor) {
  auto s = OpenSpool();
  auto r = Reader(*s, "lk");
  AppendRange(*s, a_, b_, 0, 20);
  ASSERT_TRUE(s->Publish());
  auto got = r->Read(10, 1 << 20, 0);
  ASSERT_TRUE(got);
  ASSERT_EQ(got->size(), 10u);
  r->Ack((*got)[4].next);
  EXPECT_EQ(r->Cursor(), (*got)[4].next);
  r->Rewind();
  EXPECT_EQ(Drain(*r, 3), Iota(5, 20));
}

TEST_F(SpoolTest, CommitPersistsTheCursorAcrossReopen) {
  auto s = OpenSpool();
  auto committed = Reader(*s, "committed");
  auto acked = Reader(*s, "acked");
  AppendRange(*s, a_, b_, 0, 100);
  ASSERT_TRUE(s->Publish());
  auto got = committed->Read(30, 1 << 20, 0);
  ASSERT_TRUE(got);
  committed->Ack(got->back().next);
  ASSERT_TRUE(committed->Commit());
  got = acked->Read(30, 1 << 20, 0);
  acked->Ack(got->back().next);  // never committed
  // A second open of the same name while it lives is refused.
  EXPECT_FALSE(s->OpenReader("committed"));
  EXPECT_FALSE(s->OpenReader("../evil"));
  ASSERT_TRUE(s->Checkpoint("pos"));
  committed.reset();
  acked.reset();
  s.reset();

  s = OpenSpool();
  committed = Reader(*s, "committed");
  acked = Reader(*s, "acked");
  EXPECT_EQ(Drain(*committed), Iota(30, 100));
  EXPECT_EQ(Drain(*acked), Iota(0, 100));
}

TEST_F(SpoolTest, CrashCutsBackToTheCheckpoint) {
  SpoolOptions o;
  o.segment_bytes = 4096;
  std::string blob = "never";
  auto s = OpenSpool(o, &blob);
  EXPECT_EQ(blob, "");
  auto r = Reader(*s, "lk");
  auto hold = Reader(*s, "hold");  // keeps every segment
  AppendRange(*s, a_, b_, 0, 50);
  ASSERT_TRUE(s->Checkpoint("tailers@50"));
  size_t segs_at_checkpoint = Segments(dir()).size();
  AppendRange(*s, a_, b_, 50, 150);  // rolls into later segments
  ASSERT_TRUE(s->Publish());
  EXPECT_EQ(Drain(*r), Iota(0, 150));
  ASSERT_TRUE(r->Commit());  // cursor beyond the checkpoint: must come back to its end
  r.reset();
  hold.reset();
  ASSERT_GT(Segments(dir()).size(), segs_at_checkpoint);
  s.reset();  // no checkpoint: as a crash (the data is in the files)

  s = OpenSpool(o, &blob);
  EXPECT_EQ(blob, "tailers@50");
  EXPECT_EQ(Segments(dir()).size(), segs_at_checkpoint);
  r = Reader(*s, "fresh");
  EXPECT_EQ(Drain(*r), Iota(0, 50));
  auto old = Reader(*s, "lk");
  EXPECT_EQ(old->Cursor(), s->End());
  // The tailers re-append what was cut: readers see it once.
  AppendRange(*s, a_, b_, 50, 60);
  ASSERT_TRUE(s->Publish());
  EXPECT_EQ(Drain(*r), Iota(50, 60));
  EXPECT_EQ(Drain(*old), Iota(50, 60));
}

TEST_F(SpoolTest, NoCheckpointStartsEmpty) {
  auto s = OpenSpool();
  AppendRange(*s, a_, b_, 0, 10);
  ASSERT_TRUE(s->Publish());
  s.reset();
  std::string blob = "x";
  s = OpenSpool({}, &blob);
  EXPECT_EQ(blob, "");
  auto r = Reader(*s, "lk");
  EXPECT_TRUE(Drain(*r).empty());
  EXPECT_EQ(s->Stats().bytes, 8u);
}

TEST_F(SpoolTest, TornTailFrameEndsTheLog) {
  auto s = OpenSpool();
  AppendRange(*s, a_, b_, 0, 20);
  ASSERT_TRUE(s->Checkpoint("c"));
  s.reset();
  std::string seg = Segments(dir()).at(0);
  uint64_t size = FileSize(seg);
  ASSERT_EQ(truncate(seg.c_str(), static_cast<off_t>(size - 5)), 0);  // lose the tail of record 19

  s = OpenSpool();
  auto r = Reader(*s, "lk");
  EXPECT_EQ(Drain(*r), Iota(0, 19));
  EXPECT_LT(FileSize(seg), size - 5);  // cut at the last whole frame
  AppendRange(*s, a_, b_, 19, 25);
  ASSERT_TRUE(s->Publish());
  EXPECT_EQ(Drain(*r), Iota(19, 25));
}

TEST_F(SpoolTest, CorruptCrcEndsTheLog) {
  auto s = OpenSpool();
  AppendRange(*s, a_, b_, 0, 20);
  ASSERT_TRUE(s->Checkpoint("c"));
  s.reset();
  std::string seg = Segments(dir()).at(0);
  std::string data = *ReadFile(seg);
  size_t at = data.find(Line(15));
  ASSERT_NE(at, std::string::npos);
  data[at + 20] ^= 0x01;
  ASSERT_TRUE(WriteExisting(seg, data));

  s = OpenSpool();
  auto r = Reader(*s, "lk");
  EXPECT_EQ(Drain(*r), Iota(0, 15));
  EXPECT_EQ(s->Stats().records_appended, 0u);
  EXPECT_EQ(s->Stats().bytes, FileSize(seg));
  EXPECT_LT(FileSize(seg), at);
}

TEST_F(SpoolTest, BudgetDropsAreCountedExactly) {
  SpoolOptions o;
  o.budget_bytes = 256 << 10;
  o.segment_bytes = 32 << 10;
  const uint64_t total = 20000;
  {
    auto s = OpenSpool(o);
    auto idle = Reader(*s, "idle");  // never reads
    auto busy = Reader(*s, "busy");
    auto half = Reader(*s, "half");  // read some, acked part of it
    std::vector<uint64_t> busy_seen;
    for (uint64_t i = 0; i < total; i += 100) {
      AppendRange(*s, a_, b_, i, i + 100);
      ASSERT_TRUE(s->Publish());
      auto got = Drain(*busy);
      busy_seen.insert(busy_seen.end(), got.begin(), got.end());
      if (i == 1000) {
        auto h = half->Read(50, 1 << 20, 0);
        ASSERT_TRUE(h);
        half->Ack((*h)[9].next);
      }
      SpoolStats st = s->Stats();
      ASSERT_LE(st.bytes, o.budget_bytes);
    }
    EXPECT_EQ(busy_seen, Iota(0, total));
    EXPECT_EQ(busy->Dropped(), 0u);

    SpoolStats st = s->Stats();
    uint64_t on_disk = 0;
    auto segs = Segments(dir());
    for (const auto& p : segs) on_disk += FileSize(p);
    EXPECT_EQ(st.bytes, on_disk);
    EXPECT_EQ(st.segments, segs.size());
    EXPECT_EQ(st.records_appended, total);
    EXPECT_GT(st.segments_dropped, 0u);
    EXPECT_GT(st.bytes, o.budget_bytes - 2 * o.segment_bytes);

    // What the idle reader can still read is exactly the newest records.
    std::vector<uint64_t> idle_seen = Drain(*idle);
    ASSERT_FALSE(idle_seen.empty());
    EXPECT_GT(idle->Dropped(), 0u);
    EXPECT_EQ(idle->Dropped() + idle_seen.size(), total);
    EXPECT_EQ(idle_seen, Iota(idle->Dropped(), total));
    std::vector<uint64_t> half_seen = Drain(*half);
    EXPECT_EQ(half->Dropped() + 50 + half_seen.size(), total);
    EXPECT_EQ(half_seen.front(), half->Dropped() + 50);

    ASSERT_TRUE(s->Checkpoint("c"));
    idle.reset();
    busy.reset();
    half.reset();
    s.reset();
  }
  // Drop counts persist (the budget rewrote the cursor files).
  auto s = OpenSpool(o);
  auto idle = Reader(*s, "idle");
  EXPECT_GT(idle->Dropped(), 0u);
  std::vector<uint64_t> left = Drain(*idle);
  EXPECT_EQ(idle->Dropped() + left.size(), total);
}

TEST_F(SpoolTest, SmallBudgetShrinksSegments) {
  SpoolOptions o;
  o.budget_bytes = 64 << 10;  // default segments are 16 MiB: they shrink to 32 KiB
  auto s = OpenSpool(o);
  auto r = Reader(*s, "lk");
  AppendRange(*s, a_, b_, 0, 2000);
  ASSERT_TRUE(s->Publish());
  EXPECT_LE(s->Stats().bytes, o.budget_bytes);
  for (const auto& p : Segments(dir())) EXPECT_LE(FileSize(p), 32u << 10);
  auto seen = Drain(*r);
  EXPECT_EQ(r->Dropped() + seen.size(), 2000u);
  EXPECT_GT(r->Dropped(), 0u);
  // A record bigger than the whole budget is refused, in one line, and
  // nothing is dropped for it.
  AppendRange(*s, a_, b_, 2000, 2100);
  ASSERT_TRUE(s->Publish());
  uint64_t segs_before = s->Stats().segments_dropped, bytes_before = s->Stats().bytes;
  std::string huge(70 << 10, 'x');
  auto err = s->Append(a_, Record{0, Stream::kStdout, 1, huge, ""});
  ASSERT_FALSE(err);
  EXPECT_EQ(s->Stats().segments_dropped, segs_before);
  EXPECT_EQ(s->Stats().bytes, bytes_before);
  EXPECT_EQ(Drain(*r), Iota(2000, 2100));
  EXPECT_EQ(err.error().message().find('\n'), std::string::npos);
  EXPECT_NE(err.error().message().find("--log-disk-budget"), std::string::npos);
  EXPECT_EQ(err.error().errnum(), E2BIG);  // the shipper tells "never fits" from "retry"
}

// A segment that cannot be created (here a directory squats its name; in
// life ENOSPC or EMFILE) fails the Append without appending: the same record
// appended again once the cause is gone is there exactly once, in order.
TEST_F(SpoolTest, FailedAppendAppendsNothingAndARetryWorks) {
  SpoolOptions o;
  o.segment_bytes = 4096;
  auto s = OpenSpool(o);
  auto r = Reader(*s, "lk");
  AppendRange(*s, a_, b_, 0, 10);
  ASSERT_TRUE(s->Publish());
  std::vector<std::string> blocked;
  auto last = Segments(dir()).back();
  uint64_t seq = std::stoull(last.substr(last.rfind('/') + 1, 16));
  for (uint64_t k = seq + 1; k <= seq + 3; ++k) {
    char name[32];
    std::snprintf(name, sizeof name, "/%016llu.seg", static_cast<unsigned long long>(k));
    blocked.push_back(dir() + name);
    ASSERT_TRUE(MkdirAll(blocked.back()));
  }
  uint64_t i = 10, failures = 0;
  for (; i < 200; ++i) {
    auto a = s->Append(i % 2 ? b_ : a_, Record{static_cast<int64_t>(i), Stream::kStdout, 0, Line(i), ""});
    if (!a) {
      EXPECT_NE(a.error().errnum(), E2BIG);
      EXPECT_NE(a.error().message().find(blocked[0]), std::string::npos) << a.error().message();
      ++failures;
      break;
    }
  }
  ASSERT_EQ(failures, 1u) << "the segment never rolled";
  auto again = s->Append(i % 2 ? b_ : a_, Record{static_cast<int64_t>(i), Stream::kStdout, 0, Line(i), ""});
  EXPECT_FALSE(again);  // still blocked: still not appended
  ASSERT_TRUE(s->Publish());
  EXPECT_EQ(Drain(*r), Iota(0, i));
  for (const auto& b : blocked) ASSERT_EQ(rmdir(b.c_str()), 0);
  AppendRange(*s, a_, b_, i, 300);
  ASSERT_TRUE(s->Publish());
  EXPECT_EQ(Drain(*r), Iota(i, 300));
  EXPECT_EQ(s->Stats().records_appended, 300u);
}

TEST_F(SpoolTest, RemoveReaderFreesSegments) {
  SpoolOptions o;
  o.segment_bytes = 8 << 10;
  auto s = OpenSpool(o);
  auto done = Reader(*s, "done");
  auto stuck = Reader(*s, "stuck");
  AppendRange(*s, a_, b_, 0, 1000);
  ASSERT_TRUE(s->Publish());
  EXPECT_EQ(Drain(*done).size(), 1000u);
  ASSERT_TRUE(done->Commit());
  uint64_t before = s->Stats().segments;
  EXPECT_GT(before, 5u);
  EXPECT_EQ(Segments(dir()).size(), before);  // "stuck" holds them
  stuck.reset();
  ASSERT_TRUE(s->RemoveReader("stuck"));
  EXPECT_FALSE(PathExists(dir() + "/cursors/stuck"));
  EXPECT_EQ(s->Stats().segments, 1u);
  EXPECT_EQ(Segments(dir()).size(), 1u);
  EXPECT_EQ(s->Stats().bytes, FileSize(Segments(dir()).at(0)));
  EXPECT_TRUE(s->RemoveReader("never-existed"));
  // A new reader starts at the oldest kept record: the current segment's first.
  auto late = Reader(*s, "late");
  auto kept = Drain(*late);
  ASSERT_FALSE(kept.empty());
  EXPECT_GT(kept.front(), 900u);
  EXPECT_EQ(kept, Iota(kept.front(), 1000));
  AppendRange(*s, a_, b_, 1000, 1010);
  ASSERT_TRUE(s->Publish());
  EXPECT_EQ(Drain(*late), Iota(1000, 1010));
}

TEST_F(SpoolTest, ReaderWaitsForPublish) {
  auto s = OpenSpool();
  auto r = Reader(*s, "lk");
  auto t0 = std::chrono::steady_clock::now();
  auto none = r->Read(10, 1 << 20, 50);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(45));
  std::thread w([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    AppendRange(*s, a_, b_, 0, 3);
    ASSERT_TRUE(s->Publish());
  });
  t0 = std::chrono::steady_clock::now();
  auto got = r->Read(10, 1 << 20, 5000);
  w.join();
  ASSERT_TRUE(got);
  EXPECT_EQ(got->size(), 3u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(2000));
}

// One writer, two readers (one slow), the budget dropping under them: each
// reader sees strictly increasing records, and what it read plus what it was
// told it lost is everything.
void ConcurrentRun(SpoolTest* t, Spool& s, SpoolReader& r1, SpoolReader& r2, const SourceMeta& a,
                   const SourceMeta& b, uint64_t total, bool expect_no_drops) {
  std::atomic<bool> writer_done{false};
  std::atomic<uint64_t> published{0};
  std::thread writer([&] {
    for (uint64_t i = 0; i < total; i += 50) {
      AppendRange(s, a, b, i, i + 50);
      ASSERT_TRUE(s.Publish());
      published = i + 50;
    }
    writer_done = true;
  });
  auto consume = [&](SpoolReader& r, bool slow, uint64_t* count, bool* ordered) {
    int64_t last = -1;
    uint64_t reads = 0;
    // Drops must not depend on the scheduler (a loaded machine can run the
    // writer slower than the slow reader): with a budget, the slow reader
    // starts only once half the records, several budgets' worth, are written.
    if (slow && !expect_no_drops)
      while (published.load() < total / 2 && !writer_done.load())
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    for (;;) {
      bool finished = writer_done.load();
      auto got = r.Read(slow ? 7 : 500, 1 << 20, 10);
      ++reads;
      ASSERT_TRUE(got) << got.error().message();
      for (const auto& sr : *got) {
        auto seq = static_cast<int64_t>(SeqOf(sr.record.text));
        if (seq <= last || sr.record.time_ns != seq || !sr.source ||
            sr.source->id != (seq % 2 ? 2u : 1u))
          *ordered = false;
        last = seq;
        ++*count;
      }
      if (!got->empty()) {
        r.Ack(got->back().next);
        if (reads % 100 == 0) {
          ASSERT_TRUE(r.Commit());
        }
      }
      if (slow && reads % 20 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
      if (finished && got->empty()) break;
    }
  };
  uint64_t c1 = 0, c2 = 0;
  bool o1 = true, o2 = true;
  std::thread t1([&] { consume(r1, false, &c1, &o1); });
  std::thread t2([&] { consume(r2, true, &c2, &o2); });
  writer.join();
  t1.join();
  t2.join();
  (void)t;
  EXPECT_TRUE(o1);
  EXPECT_TRUE(o2);
  EXPECT_EQ(c1 + r1.Dropped(), total);
  EXPECT_EQ(c2 + r2.Dropped(), total);
  if (expect_no_drops) {
    EXPECT_EQ(r1.Dropped(), 0u);
    EXPECT_EQ(r2.Dropped(), 0u);
  }
  EXPECT_EQ(s.Stats().records_appended, total);
}

TEST_F(SpoolTest, ConcurrentWriterAndTwoReaders) {
  SpoolOptions o;
  o.segment_bytes = 64 << 10;
  auto s = OpenSpool(o);
  auto r1 = Reader(*s, "r1");
  auto r2 = Reader(*s, "r2");
  ConcurrentRun(this, *s, *r1, *r2, a_, b_, 20000, true);
}

TEST_F(SpoolTest, ConcurrentWithBudgetDrops) {
  SpoolOptions o;
  o.budget_bytes = 128 << 10;
  o.segment_bytes = 16 << 10;
  auto s = OpenSpool(o);
  auto r1 = Reader(*s, "r1");
  auto r2 = Reader(*s, "r2");
  ConcurrentRun(this, *s, *r1, *r2, a_, b_, 20000, false);
  EXPECT_GT(r2->Dropped(), 0u);
}

TEST_F(SpoolTest, BadDirectoryFailsInOneLine) {
  ASSERT_TRUE(WriteFileAtomic(tmp_.path() + "/file", "x"));
  std::string blob;
  auto s = Spool::Open(tmp_.path() + "/file/spool", {}, &blob);
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find(tmp_.path() + "/file/spool"), std::string::npos) << s.error().message();
  EXPECT_EQ(s.error().message().find('\n'), std::string::npos);

  if (geteuid() != 0) {  // root writes anywhere
    ASSERT_TRUE(MkdirAll(tmp_.path() + "/ro"));
    ASSERT_EQ(chmod((tmp_.path() + "/ro").c_str(), 0500), 0);
    auto ro = Spool::Open(tmp_.path() + "/ro/spool", {}, &blob);
    EXPECT_FALSE(ro);
    EXPECT_NE(ro.error().message().find("Permission denied"), std::string::npos) << ro.error().message();
  }

  SpoolOptions tiny;
  tiny.budget_bytes = 1000;
  auto t = Spool::Open(dir(), tiny, &blob);
  ASSERT_FALSE(t);
  EXPECT_NE(t.error().message().find("too small"), std::string::npos);
}

TEST_F(SpoolTest, DamagedCursorStartsAtTheOldest) {
  {
    auto s = OpenSpool();
    auto r = Reader(*s, "lk");
    AppendRange(*s, a_, b_, 0, 10);
    ASSERT_TRUE(s->Checkpoint("c"));
  }
  ASSERT_TRUE(WriteFileAtomic(dir() + "/cursors/lk", "garbage"));
  auto s = OpenSpool();
  auto r = Reader(*s, "lk");
  EXPECT_EQ(Drain(*r), Iota(0, 10));
}

// By hand, on a Release build:
//   logship_spool_test --gtest_also_run_disabled_tests --gtest_filter='*Bench*'
// CPU seconds of this thread (user + system): the machine may be shared, and
// the target is per core.
double ThreadCpu() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

TEST_F(SpoolTest, DISABLED_Bench) {
  const uint64_t n = 2'000'000;
  std::string text(100, 'x');
  auto s = OpenSpool();
  auto r = Reader(*s, "bench");
  auto t0 = std::chrono::steady_clock::now();
  double c0 = ThreadCpu();
  for (uint64_t i = 0; i < n; ++i) {
    std::memcpy(text.data(), &i, sizeof i);
    auto ok = s->Append(i % 2 ? b_ : a_, Record{static_cast<int64_t>(i), Stream::kStdout, 0, text, ""});
    if (!ok) FAIL() << ok.error().message();
    if (i % 1000 == 999) {
      ASSERT_TRUE(s->Publish());
    }
  }
  ASSERT_TRUE(s->Publish());
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double cpu = ThreadCpu() - c0;
  std::printf("append+publish: %.0f records/s wall, %.0f records/s per CPU second (%.1f MiB/s of text)\n",
              n / secs, n / cpu, n * 100.0 / cpu / (1 << 20));

  t0 = std::chrono::steady_clock::now();
  c0 = ThreadCpu();
  uint64_t got = 0, sum = 0;
  for (;;) {
    auto batch = r->Read(4096, 4 << 20, 0);
    ASSERT_TRUE(batch);
    if (batch->empty()) break;
    for (const auto& sr : *batch) sum += sr.record.text.size();
    got += batch->size();
    r->Ack(batch->back().next);
  }
  secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  cpu = ThreadCpu() - c0;
  std::printf("read: %.0f records/s wall, %.0f records/s per CPU second (%.1f MiB/s of text)\n", got / secs,
              got / cpu, sum / cpu / (1 << 20));
  EXPECT_EQ(got, n);
}

}  // namespace
}  // namespace moor::logship
