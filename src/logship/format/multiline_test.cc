#include "logship/format/multiline.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>

namespace moor::logship {
namespace {

constexpr int64_t kSec = 1'000'000'000;

struct Sink {
  std::vector<OwnedRecord> events;
  LineJoiner::Emit emit() {
    return [this](const OwnedRecord& r) { events.push_back(r); };
  }
};

std::unique_ptr<LineJoiner> Joiner(MultilineOptions o) {
  auto j = LineJoiner::Make(o);
  EXPECT_TRUE(j.has_value()) << j.error().message();
  return std::move(*j);
}

MultilineOptions DatePattern() {
  MultilineOptions o;
  o.start_pattern = "^[0-9]{4}-[0-9]{2}-[0-9]{2} ";
  return o;
}

TEST(LineJoiner, NoPatternEmitsEveryLineAtOnce) {
  auto j = Joiner(MultilineOptions{});
  Sink sink;
  auto emit = sink.emit();
  j->Add(10, Stream::kStderr, 3, "one", emit);
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_FALSE(j->pending());
  j->Add(11, Stream::kStderr, 3, "\ttwo", emit);
  ASSERT_EQ(sink.events.size(), 2u);
  EXPECT_EQ(sink.events[0].text, "one");
  EXPECT_EQ(sink.events[0].time_ns, 10);
  EXPECT_EQ(sink.events[0].stream, Stream::kStderr);
  EXPECT_EQ(sink.events[0].source, 3u);
  EXPECT_EQ(sink.events[1].text, "\ttwo");
  EXPECT_TRUE(sink.events[1].fields.empty());
}

TEST(LineJoiner, JavaStackTraceBecomesOneEvent) {
  auto j = Joiner(DatePattern());
  Sink sink;
  auto emit = sink.emit();
  const char* lines[] = {
      "2026-11-27 10:00:00 ERROR request failed",  "java.lang.IllegalStateException: boom",
      "\tat com.shop.Cart.add(Cart.java:42)",      "\tat com.shop.Api.handle(Api.java:7)",
      "Caused by: java.io.IOException: disk full", "\t... 2 more",
      "2026-11-27 10:00:01 INFO next request",
  };
  int64_t t = 100 * kSec;
  for (const char* l : lines) j->Add(t++, Stream::kStdout, 1, l, emit);
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].text,
            "2026-11-27 10:00:00 ERROR request failed\njava.lang.IllegalStateException: boom\n"
            "\tat com.shop.Cart.add(Cart.java:42)\n\tat com.shop.Api.handle(Api.java:7)\n"
            "Caused by: java.io.IOException: disk full\n\t... 2 more");
  EXPECT_EQ(sink.events[0].time_ns, 100 * kSec);  // the first line's time
  EXPECT_TRUE(j->pending());
  j->Flush(t, /*force=*/true, emit);
  ASSERT_EQ(sink.events.size(), 2u);
  EXPECT_EQ(sink.events[1].text, "2026-11-27 10:00:01 INFO next request");
  EXPECT_FALSE(j->pending());
}

TEST(LineJoiner, FirstLineNotMatchingStartsAnEventAnyway) {
  auto j = Joiner(DatePattern());
  Sink sink;
  auto emit = sink.emit();
  j->Add(1, Stream::kStdout, 1, "\tat orphan continuation", emit);
  j->Add(2, Stream::kStdout, 1, "\tat another", emit);
  j->Add(3, Stream::kStdout, 1, "2026-11-27 10:00:00 real start", emit);
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].text, "\tat orphan continuation\n\tat another");
}

TEST(LineJoiner, FlushAfterSilence) {
  auto o = DatePattern();
  o.flush_after_ns = 2 * kSec;
  auto j = Joiner(o);
  Sink sink;
  auto emit = sink.emit();
  j->Add(10 * kSec, Stream::kStdout, 1, "2026-11-27 10:00:00 start", emit);
  j->Add(11 * kSec, Stream::kStdout, 1, "  more", emit);
  j->Flush(12 * kSec, false, emit);  // 1 s since the last line
  EXPECT_TRUE(sink.events.empty());
  j->Flush(13 * kSec, false, emit);
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].text, "2026-11-27 10:00:00 start\n  more");
  j->Flush(20 * kSec, true, emit);  // nothing pending: nothing emitted
  EXPECT_EQ(sink.events.size(), 1u);

  // A continuation that comes after the silence starts its own event, even
  // when Flush did not run in between.
  j->Add(30 * kSec, Stream::kStdout, 1, "2026-11-27 10:00:30 again", emit);
  j->Add(40 * kSec, Stream::kStdout, 1, "  late", emit);
  ASSERT_EQ(sink.events.size(), 2u);
  EXPECT_EQ(sink.events[1].text, "2026-11-27 10:00:30 again");
  j->Flush(0, true, emit);
  ASSERT_EQ(sink.events.size(), 3u);
  EXPECT_EQ(sink.events[2].text, "  late");
  EXPECT_EQ(sink.events[2].time_ns, 40 * kSec);
}

TEST(LineJoiner, MaxLinesAndMaxBytes) {
  auto o = DatePattern();
  o.max_lines = 3;
  auto j = Joiner(o);
  Sink sink;
  auto emit = sink.emit();
  j->Add(1, Stream::kStdout, 1, "2026-11-27 10:00:00 s", emit);
  for (int k = 0; k < 4; ++k) j->Add(2 + k, Stream::kStdout, 1, "  c" + std::to_string(k), emit);
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].text, "2026-11-27 10:00:00 s\n  c0\n  c1");
  j->Flush(0, true, emit);
  ASSERT_EQ(sink.events.size(), 2u);
  EXPECT_EQ(sink.events[1].text, "  c2\n  c3");

  o.max_lines = 500;
  o.max_bytes = 20;
  auto b = Joiner(o);
  Sink bs;
  auto bemit = bs.emit();
  b->Add(1, Stream::kStdout, 1, "2026-11-27 10:00:00 ", bemit);  // 20 bytes: full at once
  ASSERT_EQ(bs.events.size(), 1u);
  b->Add(2, Stream::kStdout, 1, "  aaaaaaa", bemit);   // 9
  b->Add(3, Stream::kStdout, 1, "  bbbbbbbb", bemit);  // 9+1+10 = 20: full
  ASSERT_EQ(bs.events.size(), 2u);
  EXPECT_EQ(bs.events[1].text, "  aaaaaaa\n  bbbbbbbb");
  b->Add(4, Stream::kStdout, 1, "  cccccccccc", bemit);  // 12
  b->Add(5, Stream::kStdout, 1, "  dddddddddd", bemit);  // would make 25: starts anew
  ASSERT_EQ(bs.events.size(), 3u);
  EXPECT_EQ(bs.events[2].text, "  cccccccccc");
  for (const auto& e : bs.events) EXPECT_LE(e.text.size(), 20u);
}

TEST(LineJoiner, BadPatternIsOneClearError) {
  MultilineOptions o;
  o.start_pattern = "([0-9";
  auto j = LineJoiner::Make(o);
  ASSERT_FALSE(j.has_value());
  const std::string& m = j.error().message();
  EXPECT_NE(m.find("\"([0-9\""), std::string::npos) << m;
  EXPECT_NE(m.find("POSIX extended"), std::string::npos) << m;
  EXPECT_EQ(m.find('\n'), std::string::npos);
}

TEST(LineJoiner, PatternsThatCouldStallShippingAreRefused) {
  for (const char* bad : {"^(a+)\\1", "(x)(y)\\2$", "^a{1000}", "^(ab){300,}", "(a{255}){255}",
                          "((a{50}){50}){50}", "((a{40})b){40}", "[a[](x)\\1", "^[\\[](a+)+\\1$", "[[:alpha:]](x)\\1",
                          "[]a](x)\\1", "[^]](x)\\1"}) {
    MultilineOptions o;
    o.start_pattern = bad;
    auto j = LineJoiner::Make(o);
    ASSERT_FALSE(j.has_value()) << bad;
    EXPECT_NE(j.error().message().find("could stall shipping"), std::string::npos) << j.error().message();
    EXPECT_EQ(j.error().message().find('\n'), std::string::npos);
  }
  MultilineOptions longp;
  longp.start_pattern = std::string(600, 'a');
  EXPECT_FALSE(LineJoiner::Make(longp).has_value());
  // Ordinary patterns, and a backslash-digit inside brackets (a literal), pass.
  for (const char* good : {"^[0-9]{4}-[0-9]{2}-[0-9]{2}", "^\\[", "^[\\1-9]x", "^[]\\1]", "^(PHP )?(Fatal|Warning)",
                           "^a{2,255}", "^(ab){3}c{2}", "^([0-9]{2}:){2}[0-9]{2}", "^[[:digit:]]{4}-", "((a{2})b){3}"}) {
    MultilineOptions o;
    o.start_pattern = good;
    auto j = LineJoiner::Make(o);
    EXPECT_TRUE(j.has_value()) << good << ": " << (j ? "" : j.error().message());
  }
}

TEST(LineJoiner, StreamsJoinSeparately) {
  auto out = Joiner(DatePattern());
  auto err = Joiner(DatePattern());
  Sink sink;
  auto emit = sink.emit();
  out->Add(1, Stream::kStdout, 1, "2026-11-27 10:00:00 out start", emit);
  err->Add(2, Stream::kStderr, 1, "2026-11-27 10:00:00 err start", emit);
  out->Add(3, Stream::kStdout, 1, "  out more", emit);
  err->Add(4, Stream::kStderr, 1, "  err more", emit);
  EXPECT_TRUE(sink.events.empty());
  out->Flush(0, true, emit);
  err->Flush(0, true, emit);
  ASSERT_EQ(sink.events.size(), 2u);
  EXPECT_EQ(sink.events[0].text, "2026-11-27 10:00:00 out start\n  out more");
  EXPECT_EQ(sink.events[0].stream, Stream::kStdout);
  EXPECT_EQ(sink.events[1].text, "2026-11-27 10:00:00 err start\n  err more");
  EXPECT_EQ(sink.events[1].stream, Stream::kStderr);
}

TEST(LineJoiner, LinesWithNulBytesAreMatchedWhole) {
  MultilineOptions o;
  o.start_pattern = "END$";
  auto j = Joiner(o);
  Sink sink;
  auto emit = sink.emit();
  j->Add(1, Stream::kStdout, 1, "first", emit);
  j->Add(2, Stream::kStdout, 1, std::string_view("a\0bEND", 6), emit);  // matches past the NUL
  ASSERT_EQ(sink.events.size(), 1u);
  EXPECT_EQ(sink.events[0].text, "first");
  j->Flush(0, true, emit);
  EXPECT_EQ(sink.events[1].text, std::string("a\0bEND", 6));
}

TEST(ParseAppJson, ObjectsOnly) {
  EXPECT_EQ(ParseAppJson(R"(  {"b": 1, "a": [true, null], "s": "x\u00e9"}  )"),
            "{\"a\":[true,null],\"b\":1,\"s\":\"x\xc3\xa9\"}");
  EXPECT_EQ(ParseAppJson("{}\r\n"), "{}");
  EXPECT_EQ(ParseAppJson("[1,2]"), std::nullopt);
  EXPECT_EQ(ParseAppJson("\"str\""), std::nullopt);
  EXPECT_EQ(ParseAppJson("{\"a\":1"), std::nullopt);
  EXPECT_EQ(ParseAppJson("{\"a\":1} {\"b\":2}"), std::nullopt);
  EXPECT_EQ(ParseAppJson("{\"a\":\"\xff\"}"), std::nullopt);  // not UTF-8
  EXPECT_EQ(ParseAppJson("plain text line"), std::nullopt);
  EXPECT_EQ(ParseAppJson(""), std::nullopt);
}

TEST(ParseAppJson, DepthAndSizeLimits) {
  auto nested = [](int depth) {
    std::string s;
    for (int k = 1; k < depth; ++k) s += "{\"a\":";
    s += "{}";
    for (int k = 1; k < depth; ++k) s += "}";
    return s;
  };
  EXPECT_TRUE(ParseAppJson(nested(32)).has_value());
  EXPECT_FALSE(ParseAppJson(nested(33)).has_value());
  EXPECT_TRUE(ParseAppJson("{\"a\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"}").has_value());  // in a string
  std::string big = "{\"a\":\"" + std::string(64 << 10, 'x') + "\"}";
  EXPECT_FALSE(ParseAppJson(big).has_value());
  std::string fits = "{\"a\":\"" + std::string((64 << 10) - 8, 'x') + "\"}";
  ASSERT_TRUE(ParseAppJson(fits).has_value());
  EXPECT_TRUE(nlohmann::json::accept(*ParseAppJson(fits)));
}

// Run by hand in a Release build (--gtest_also_run_disabled_tests).
TEST(LineJoinerBench, DISABLED_Throughput) {
  auto cpu_now = [] {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
  };
  std::string start = "2026-11-27 10:00:00 INFO " + std::string(75, 'x');
  std::string cont = "\tat com.shop.Cart.add(Cart.java:42) " + std::string(64, 'y');
  for (const char* pattern : {"", "^[0-9]{4}-[0-9]{2}-[0-9]{2} "}) {
    MultilineOptions o;
    o.start_pattern = pattern;
    auto j = Joiner(o);
    size_t events = 0;
    LineJoiner::Emit emit = [&](const OwnedRecord&) { ++events; };
    constexpr int kN = 2'000'000;
    double t0 = cpu_now();
    for (int k = 0; k < kN; ++k) j->Add(k, Stream::kStdout, 1, k % 4 == 0 ? start : cont, emit);
    double secs = cpu_now() - t0;
    std::printf("joiner pattern=\"%s\": %.2f M lines/s (%zu events)\n", pattern, kN / secs / 1e6, events);
  }
}

}  // namespace
}  // namespace moor::logship
