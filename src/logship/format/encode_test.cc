#include "logship/format/encode.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <nlohmann/json.hpp>
#include <random>

namespace moor::logship {
namespace {

using nlohmann::json;

constexpr int64_t kTime = 1795773600'123456789;  // 2026-11-27T10:00:00.123456789Z

SourceMeta Meta() {
  SourceMeta s;
  s.id = 7;
  s.container_id = "c0ffee";
  s.container = "shop-php-1";
  s.app = "shop";
  s.service = "php";
  s.image = "registry.local/shop/php:7";
  s.release = "7";
  s.node = "web1";
  return s;
}

Record Rec(std::string_view text, Stream stream = Stream::kStdout, std::string_view fields = {}) {
  return Record{kTime, stream, 7, text, fields};
}

std::string JsonLine(const Record& r, const SourceMeta& s) {
  std::string out;
  EncodeJsonLine(r, s, &out);
  return out;
}

std::string Gelf(const Record& r, const SourceMeta& s) {
  std::string out;
  EncodeGelf(r, s, &out);
  return out;
}

std::string Syslog(const Record& r, const SourceMeta& s, int facility = 1) {
  std::string out;
  EncodeSyslog5424(r, s, SyslogOptions{facility}, &out);
  return out;
}

std::string Quoted(std::string_view s) {
  std::string out;
  AppendJsonString(s, &out);
  return out;
}

TEST(EncodeJsonLine, ExactBytes) {
  EXPECT_EQ(JsonLine(Rec("hello \"world\""), Meta()),
            "{\"@timestamp\":\"2026-11-27T10:00:00.123456789Z\",\"message\":\"hello \\\"world\\\"\","
            "\"stream\":\"stdout\",\"service\":\"php\",\"container\":\"shop-php-1\",\"container_id\":\"c0ffee\","
            "\"image\":\"registry.local/shop/php:7\",\"release\":\"7\",\"node\":\"web1\",\"app\":\"shop\"}\n");
}

TEST(EncodeJsonLine, EmptyLabelsLeftOutAndOutputParses) {
  SourceMeta s;
  s.container = "solo";
  std::string line = JsonLine(Rec("x", Stream::kStderr), s);
  EXPECT_EQ(line,
            "{\"@timestamp\":\"2026-11-27T10:00:00.123456789Z\",\"message\":\"x\",\"stream\":\"stderr\","
            "\"container\":\"solo\"}\n");
  auto j = json::parse(line);
  EXPECT_EQ(j.size(), 4u);
}

TEST(EncodeJsonLine, AppFieldsMergedClashesPrefixed) {
  std::string fields = R"({"app":"x","level":"warn","message":"m","n":-1.5e3,"obj":{"a":[1,true,null]},"stream":"s"})";
  std::string line = JsonLine(Rec("raw", Stream::kStdout, fields), Meta());
  EXPECT_NE(line.find(R"("app":"shop","app_app":"x","level":"warn","app_message":"m","n":-1.5e3,)"
                      R"("obj":{"a":[1,true,null]},"app_stream":"s"})"),
            std::string::npos)
      << line;
  auto j = json::parse(line);
  EXPECT_EQ(j["message"], "raw");
  EXPECT_EQ(j["app"], "shop");
  EXPECT_EQ(j["app_app"], "x");
  EXPECT_EQ(j["obj"]["a"][1], true);
}

TEST(EncodeJsonLine, MalformedFieldsNeverBreakTheOutput) {
  // The spool could hand back damaged bytes: members are merged only up to
  // the first malformed one.
  const std::string cases[] = {
      R"({"a":1,"b":)",
      R"({"a":1,"b":tru})",
      R"({"a":"\x"})",
      "{\"a\":\"\xff\"}",
      "{\"a\":\"x\ny\"}",
      R"([1,2])",
      R"(not json)",
      R"({"a":01})",
      R"({"a":1 "b":2})",
      R"({"a":{"b":[1,}]}})",
      R"({)",
      R"({"a":"\u12"})",
      R"({"a":1}garbage)",
      R"({"a":1.})",
      R"({"a":-})",
      R"({"a":1e+})",
      R"({"a":-92233e54775808})",
      R"({"a":1e309})",
      R"({"a":0.5e309})",
  };
  for (const auto& f : cases) {
    std::string line = JsonLine(Rec("m", Stream::kStdout, f), Meta());
    ASSERT_TRUE(json::accept(line)) << f << " -> " << line;
  }
  auto j = json::parse(JsonLine(Rec("m", Stream::kStdout, R"({"a":1,"b":)"), Meta()));
  EXPECT_EQ(j["a"], 1);
  EXPECT_FALSE(j.contains("b"));
  // Doubles that do fit pass through as written.
  j = json::parse(JsonLine(Rec("m", Stream::kStdout, R"({"big":1e307,"tiny":1e-400,"x":1})"), Meta()));
  EXPECT_EQ(j["big"], 1e307);
  EXPECT_EQ(j["x"], 1);
}

TEST(AppendJsonString, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(Quoted(std::string_view("a\x01"
                                    "b\tc\n\r\b\f\"\\/\x7f\x1f",
                                    14)),
            "\"a\\u0001b\\tc\\n\\r\\b\\f\\\"\\\\/\x7f\\u001f\"");
  EXPECT_EQ(Quoted(std::string_view("\0", 1)), "\"\\u0000\"");
  EXPECT_EQ(Quoted(""), "\"\"");
}

TEST(AppendJsonString, RepairsInvalidUtf8ByteByByte) {
  const std::string r = "\xEF\xBF\xBD";
  EXPECT_EQ(Quoted("ok \xff."), "\"ok " + r + ".\"");
  EXPECT_EQ(Quoted("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"), "\"\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  EXPECT_EQ(Quoted("\xe2\x82 x"), "\"" + r + r + " x\"");              // truncated sequence
  EXPECT_EQ(Quoted("\xc0\x80"), "\"" + r + r + "\"");                  // overlong NUL
  EXPECT_EQ(Quoted("\xed\xa0\x80"), "\"" + r + r + r + "\"");          // surrogate
  EXPECT_EQ(Quoted("\xf4\x90\x80\x80"), "\"" + r + r + r + r + "\"");  // > U+10FFFF
  EXPECT_EQ(Quoted("end\xc3"), "\"end" + r + "\"");
  EXPECT_TRUE(json::accept(Quoted("\xff\xfe\x80\xbf\xc3\x28\xe0\x80\xaf")));
}

TEST(AppendJsonString, MatchesReferenceAtEveryOffset) {
  // The word-at-a-time scan must find a special byte wherever it sits.
  const std::string specials[] = {"\"", "\\", "\n", std::string(1, '\0'), "\x1f", "\xc3\xa9", "\xe2\x82\xac"};
  for (const auto& sp : specials) {
    for (size_t pos = 0; pos < 40; ++pos) {
      std::string s(40, 'a');
      s.insert(pos, sp);
      EXPECT_EQ(Quoted(s), json(s).dump()) << "offset " << pos;
    }
  }
}

TEST(AppendRfc3339Nano, FormatsAndCachesPerSecond) {
  auto fmt = [](int64_t ns) {
    std::string out;
    AppendRfc3339Nano(ns, &out);
    return out;
  };
  EXPECT_EQ(fmt(kTime), "2026-11-27T10:00:00.123456789Z");
  EXPECT_EQ(fmt(kTime + 1), "2026-11-27T10:00:00.123456790Z");
  EXPECT_EQ(fmt(kTime + 1'000'000'000), "2026-11-27T10:00:01.123456789Z");
  EXPECT_EQ(fmt(kTime), "2026-11-27T10:00:00.123456789Z");  // back to a cached second
  EXPECT_EQ(fmt(0), "1970-01-01T00:00:00.000000000Z");
  EXPECT_EQ(fmt(-1), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(fmt(951782400'000000005), "2000-02-29T00:00:00.000000005Z");
}

TEST(EncodeGelf, ExactBytesSingleLine) {
  EXPECT_EQ(Gelf(Rec("hello"), Meta()),
            "{\"version\":\"1.1\",\"host\":\"web1\",\"short_message\":\"hello\",\"timestamp\":1795773600.123456,"
            "\"level\":6,\"_service\":\"php\",\"_container\":\"shop-php-1\",\"_container_id\":\"c0ffee\","
            "\"_image\":\"registry.local/shop/php:7\",\"_release\":\"7\",\"_app\":\"shop\",\"_stream\":\"stdout\"}");
}

TEST(EncodeGelf, MultiLineCarriesFullMessageAndStderrIsError) {
  std::string g = Gelf(Rec("boom\n\tat A.b(A.java:1)", Stream::kStderr), SourceMeta{});
  auto j = json::parse(g);
  EXPECT_EQ(j["short_message"], "boom");
  EXPECT_EQ(j["full_message"], "boom\n\tat A.b(A.java:1)");
  EXPECT_EQ(j["level"], 3);
  EXPECT_EQ(j["host"], "-");
  EXPECT_EQ(j["_stream"], "stderr");
  EXPECT_FALSE(j.contains("_service"));
  EXPECT_EQ(json::parse(Gelf(Rec(""), Meta()))["short_message"], "-");
  EXPECT_FALSE(json::parse(Gelf(Rec("one line"), Meta())).contains("full_message"));
}

TEST(EncodeGelf, AppFieldsAsAdditionalFields) {
  std::string fields = R"({"id":5,"ok":true,"nothing":null,"obj":{"a":1},"odd key!":"v","service":"x","msg":"hi"})";
  std::string g = Gelf(Rec("m", Stream::kStdout, fields), Meta());
  auto j = json::parse(g);
  EXPECT_EQ(j["_app_id"], 5);
  EXPECT_FALSE(j.contains("_id"));
  EXPECT_EQ(j["_ok"], "true");
  EXPECT_FALSE(j.contains("_nothing"));
  EXPECT_EQ(j["_obj"], "{\"a\":1}");
  EXPECT_EQ(j["_odd_key_"], "v");
  EXPECT_EQ(j["_service"], "php");
  EXPECT_EQ(j["_app_service"], "x");
  EXPECT_EQ(j["_msg"], "hi");
}

TEST(GelfTcpFrame, AppendsNul) {
  std::string out = "x";
  GelfTcpFrame("{}", &out);
  EXPECT_EQ(out, std::string("x{}\0", 4));
}

std::string Reassemble(std::vector<std::string> chunks, uint64_t id) {
  std::vector<std::string> parts(chunks.size());
  for (const auto& c : chunks) {
    EXPECT_GE(c.size(), 12u);
    EXPECT_EQ(c[0], '\x1e');
    EXPECT_EQ(c[1], '\x0f');
    uint64_t got = 0;
    for (int k = 0; k < 8; ++k) got = (got << 8) | static_cast<unsigned char>(c[2 + k]);
    EXPECT_EQ(got, id);
    auto seq = static_cast<unsigned char>(c[10]);
    auto count = static_cast<unsigned char>(c[11]);
    EXPECT_EQ(count, chunks.size());
    EXPECT_LT(seq, count);
    parts.at(seq) = c.substr(12);
  }
  std::string whole;
  for (const auto& p : parts) whole += p;
  return whole;
}

TEST(GelfChunks, SmallMessageIsOneDatagram) {
  auto c = GelfChunks("{\"a\":1}", 1, 1420);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0], "{\"a\":1}");
}

TEST(GelfChunks, ReassemblesInAnyOrder) {
  std::string big;
  for (int k = 0; big.size() < 5000; ++k) big += std::to_string(k) + ",";
  auto chunks = GelfChunks(big, 0x0102030405060708ULL, 1420);
  ASSERT_EQ(chunks.size(), (big.size() + 1407) / 1408);
  for (const auto& c : chunks) EXPECT_LE(c.size(), 1420u);
  std::mt19937 rng(3);
  std::shuffle(chunks.begin(), chunks.end(), rng);
  EXPECT_EQ(Reassemble(chunks, 0x0102030405060708ULL), big);
}

TEST(GelfChunks, MoreThan128ChunksRefused) {
  constexpr size_t kChunk = 112;  // 100 bytes of payload each
  std::string exact(128 * 100, 'x');
  auto ok = GelfChunks(exact, 9, kChunk);
  ASSERT_EQ(ok.size(), 128u);
  EXPECT_EQ(Reassemble(ok, 9), exact);
  EXPECT_TRUE(GelfChunks(exact + "y", 9, kChunk).empty());
  EXPECT_TRUE(GelfChunks(std::string(100, 'x'), 9, 12).empty());  // no room for payload
}

TEST(EncodeSyslog5424, ExactBytes) {
  EXPECT_EQ(Syslog(Rec("hello \"world\""), Meta()),
            "<14>1 2026-11-27T10:00:00.123456Z web1 php shop-php-1 stdout [moor@32473 container_id=\"c0ffee\" "
            "image=\"registry.local/shop/php:7\" release=\"7\" app=\"shop\"] hello \"world\"");
  EXPECT_EQ(Syslog(Rec("err", Stream::kStderr), Meta(), 16).substr(0, 7), "<131>1 ");
  EXPECT_EQ(Syslog(Rec("x"), Meta(), 99).substr(0, 7), "<190>1 ");  // clamped to local7
}

TEST(EncodeSyslog5424, NilValuesAndRawMessage) {
  SourceMeta s;
  std::string msg = "bytes \xff as they are";
  EXPECT_EQ(Syslog(Rec(msg), s), "<14>1 2026-11-27T10:00:00.123456Z - - - stdout - " + msg);
}

TEST(EncodeSyslog5424, SdEscapingAndHeaderFieldRules) {
  SourceMeta s = Meta();
  s.release = "a\"b\\c]d";
  s.container_id.clear();
  s.image.clear();
  s.app.clear();
  s.service = "my service\x01" + std::string(60, 'x');  // space and control, too long
  s.node = "web 1";
  std::string m = Syslog(Rec("m"), s);
  std::string app = "my_service_" + std::string(37, 'x');  // 48 bytes
  EXPECT_EQ(m, "<14>1 2026-11-27T10:00:00.123456Z web_1 " + app +
                   " shop-php-1 stdout [moor@32473 release=\"a\\\"b\\\\c\\]d\"] m");
  // No service: APP-NAME is the container name.
  s.service.clear();
  EXPECT_NE(Syslog(Rec("m"), s).find(" web_1 shop-php-1 shop-php-1 stdout "), std::string::npos);
  s.container = std::string(200, 'c');
  std::string long_procid = Syslog(Rec("m"), s);
  EXPECT_NE(long_procid.find(" " + std::string(48, 'c') + " " + std::string(128, 'c') + " stdout "), std::string::npos);
}

TEST(OctetCountFrame, LengthInBytes) {
  std::string out;
  OctetCountFrame("hello", &out);
  OctetCountFrame("\xc3\xa9", &out);
  OctetCountFrame("", &out);
  EXPECT_EQ(out,
            "5 hello2 \xc3\xa9"
            "0 ");
}

TEST(EncodeLokiPush, ExactBytes) {
  SourceMeta s = Meta();
  std::vector<std::pair<Record, const SourceMeta*>> batch = {{Rec("a\"1"), &s}};
  std::string out;
  EncodeLokiPush(batch, {{"env", "prod"}}, &out);
  EXPECT_EQ(out,
            "{\"streams\":[{\"stream\":{\"service\":\"php\",\"container\":\"shop-php-1\",\"release\":\"7\","
            "\"node\":\"web1\",\"app\":\"shop\",\"stream\":\"stdout\",\"env\":\"prod\"},\"values\":[["
            "\"1795773600123456789\",\"a\\\"1\",{\"container_id\":\"c0ffee\",\"image\":\"registry.local/shop/php:7\"}]"
            "]}]}");
}

TEST(EncodeLokiPush, GroupsByLabelSetPreservingOrder) {
  SourceMeta php = Meta();
  SourceMeta php_again = Meta();  // restarted container: same labels, other id
  php_again.id = 8;
  php_again.container_id = "beef";
  SourceMeta worker = Meta();
  worker.service = "worker";
  worker.container = "shop-worker-1";
  worker.container_id.clear();
  worker.image.clear();
  std::vector<std::pair<Record, const SourceMeta*>> batch;
  auto add = [&](std::string_view text, Stream st, const SourceMeta* m, int64_t t) {
    Record r = Rec(text, st);
    r.time_ns = t;
    batch.emplace_back(r, m);
  };
  add("p1", Stream::kStdout, &php, 1);
  add("w1", Stream::kStdout, &worker, 2);
  add("e1", Stream::kStderr, &php, 3);
  add("p2", Stream::kStdout, &php_again, 4);
  add("p3", Stream::kStdout, &php, 5);
  add("w2", Stream::kStdout, &worker, 6);
  std::string out;
  EncodeLokiPush(batch, {{"node", "ignored"}, {"env", "prod"}}, &out);
  auto j = json::parse(out);
  ASSERT_EQ(j["streams"].size(), 3u);
  auto& s0 = j["streams"][0];
  EXPECT_EQ(s0["stream"]["service"], "php");
  EXPECT_EQ(s0["stream"]["stream"], "stdout");
  EXPECT_EQ(s0["stream"]["node"], "web1");
  EXPECT_EQ(s0["stream"]["env"], "prod");
  ASSERT_EQ(s0["values"].size(), 3u);
  EXPECT_EQ(s0["values"][0][0], "1");
  EXPECT_EQ(s0["values"][0][1], "p1");
  EXPECT_EQ(s0["values"][1][1], "p2");
  EXPECT_EQ(s0["values"][1][2]["container_id"], "beef");
  EXPECT_EQ(s0["values"][2][1], "p3");
  auto& s1 = j["streams"][1];
  EXPECT_EQ(s1["stream"]["service"], "worker");
  ASSERT_EQ(s1["values"].size(), 2u);
  EXPECT_EQ(s1["values"][0].size(), 2u);  // no structured metadata to send
  EXPECT_EQ(s1["values"][1][1], "w2");
  auto& s2 = j["streams"][2];
  EXPECT_EQ(s2["stream"]["stream"], "stderr");
  EXPECT_EQ(s2["values"][0][1], "e1");
}

TEST(EncodeLokiPush, EmptyBatchAndInvalidUtf8) {
  std::string out;
  EncodeLokiPush({}, {}, &out);
  EXPECT_EQ(out, "{\"streams\":[]}");
  SourceMeta s;
  s.container = "bad\xff";
  out.clear();
  EncodeLokiPush({{Rec("line \xfe"), &s}, {Rec("null meta"), nullptr}}, {}, &out);
  auto j = json::parse(out);
  EXPECT_EQ(j["streams"][0]["stream"]["container"], "bad\xEF\xBF\xBD");
  EXPECT_EQ(j["streams"][0]["values"][0][1], "line \xEF\xBF\xBD");
  EXPECT_EQ(j["streams"][1]["values"][0][1], "null meta");
}

// Throughput, run by hand in a Release build:
//   logship_format_test --gtest_also_run_disabled_tests --gtest_filter='*Throughput*'
TEST(EncodeBench, DISABLED_Throughput) {
  SourceMeta s = Meta();
  s.container_id = std::string(64, 'a');
  std::string text(100, 'x');
  for (size_t k = 0; k < text.size(); k += 9) text[k] = ' ';
  constexpr int kN = 3'000'000;
  std::string out;
  auto run = [&](const char* name, auto&& encode) {
    out.clear();
    // Thread CPU time: the build machine is shared, wall time would measure
    // the neighbours.
    auto cpu_now = [] {
      timespec ts{};
      clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
      return ts.tv_sec + ts.tv_nsec / 1e9;
    };
    double start = cpu_now();
    size_t bytes = 0;
    for (int k = 0; k < kN; ++k) {
      Record r{kTime + int64_t{k} * 1000, Stream::kStdout, 7, text, {}};
      out.clear();
      encode(r, &out);
      bytes += out.size();
    }
    double secs = cpu_now() - start;
    std::printf("%-18s %.2f M records/s  (%zu bytes/record)\n", name, kN / secs / 1e6, bytes / kN);
  };
  run("EncodeJsonLine", [&](const Record& r, std::string* o) { EncodeJsonLine(r, s, o); });
  run("EncodeSyslog5424", [&](const Record& r, std::string* o) { EncodeSyslog5424(r, s, SyslogOptions{}, o); });
  run("EncodeGelf", [&](const Record& r, std::string* o) { EncodeGelf(r, s, o); });
  std::string utf8;
  while (utf8.size() < 100) utf8 += "h\xc3\xa9llo w\xc3\xb6rld ";
  run("JsonLine (UTF-8)", [&](const Record& r, std::string* o) {
    Record u = r;
    u.text = utf8;
    EncodeJsonLine(u, s, o);
  });
}

}  // namespace
}  // namespace moor::logship
