#include "logship/shipper.h"

#include <gtest/gtest.h>
#include <dirent.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "common/file.h"
#include "common/testing/temp_dir.h"

namespace moor::logship {
namespace {

using nlohmann::json;

TEST(OutputSpec, ParsesEveryType) {
  auto s = ParseOutputSpec("syslog-tcp://127.0.0.1:5514?facility=local0");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->name, "syslog-tcp");
  EXPECT_EQ(s->type, OutputType::kSyslogTcp);
  EXPECT_EQ(s->address, "127.0.0.1:5514");
  EXPECT_EQ(s->syslog.facility, 16);

  auto l = ParseOutputSpec("lk=loki://127.0.0.1:3100?label.env=prod");
  ASSERT_TRUE(l) << l.error().message();
  EXPECT_EQ(l->name, "lk");
  EXPECT_EQ(l->address, "http://127.0.0.1:3100/loki/api/v1/push");
  ASSERT_EQ(l->loki_labels.size(), 1u);
  EXPECT_EQ(l->loki_labels[0].name, "env");
  EXPECT_EQ(l->loki_labels[0].value, "prod");

  auto t = ParseOutputSpec("loki://logs.internal:443/api/push?tls=1");
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ(t->address, "https://logs.internal:443/api/push");

  auto f = ParseOutputSpec("file:///var/log/moor/all.log");
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(f->address, "/var/log/moor/all.log");

  auto g = ParseOutputSpec("gelf-udp://127.0.0.1:12201?chunk=8000");
  ASSERT_TRUE(g) << g.error().message();
  EXPECT_EQ(g->gelf_chunk_size, 8000u);

  auto ls = ParseOutputSpec("logstash://127.0.0.1:5044?ack_delay=250ms&batch=100");
  ASSERT_TRUE(ls) << ls.error().message();
  EXPECT_EQ(ls->ack_delay_ns, 250'000'000);
  EXPECT_EQ(ls->batch_records, 100u);
}

TEST(OutputSpec, RefusesBadSpecsInOneLine) {
  for (const char* bad : {"127.0.0.1:514", "kafka://127.0.0.1:9092", "syslog-tcp://127.0.0.1", "syslog-tcp://:514x",
                          "file://relative/path", "Bad Name=file:///x", "syslog-tcp://127.0.0.1:514?facility=local9",
                          "loki://127.0.0.1:3100?facility=user", "gelf-udp://127.0.0.1:1?chunk=10",
                          "logstash://127.0.0.1:5044?nonsense=1", "logstash://127.0.0.1:5044?ack_delay",
                          "syslog-udp://127.0.0.1:70000"}) {
    auto r = ParseOutputSpec(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_NE(r.error().message().find("--log-output"), std::string::npos) << r.error().message();
    EXPECT_EQ(r.error().message().find('\n'), std::string::npos);
  }
}

TEST(SourceSettings, FromLabels) {
  auto s = SettingsFromLabels({{"moor.log.outputs", "a, b"}, {"moor.log.json", "true"},
                               {"moor.log.multiline.start", "^\\d"}});
  ASSERT_TRUE(s);
  EXPECT_EQ(s->outputs, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(s->json);
  EXPECT_EQ(s->multiline_start, "^\\d");
  auto n = SettingsFromLabels({{"moor.log.outputs", "none"}});
  ASSERT_TRUE(n);
  EXPECT_TRUE(n->none);
  EXPECT_FALSE(SettingsFromLabels({{"moor.log.json", "yes please"}}));
  EXPECT_FALSE(SettingsFromLabels({{"moor.log.outputs", "a,B!"}}));
}

// A json-file line as the monitor writes it.
std::string JsonFileLine(const std::string& text, const std::string& stream, int second) {
  char t[64];
  std::snprintf(t, sizeof t, "2026-11-27T10:00:%02d.000000001Z", second % 60);
  json j = {{"log", text + "\n"}, {"stream", stream}, {"time", t}};
  return j.dump() + "\n";
}

class FakeLister : public SourceLister {
 public:
  Result<std::vector<LogSource>> ListSources() override {
    std::lock_guard lock(mu);
    return sources;
  }
  std::mutex mu;
  std::vector<LogSource> sources;
};

// The complete lines of the file output (the worker may be mid-write: a last
// line without its newline is not there yet).
std::vector<json> ReadJsonLines(const std::string& path) {
  std::vector<json> out;
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  std::string all = ss.str();
  size_t start = 0;
  for (size_t nl; (nl = all.find('\n', start)) != std::string::npos; start = nl + 1) {
    if (nl > start) out.push_back(json::parse(all.substr(start, nl - start)));
  }
  return out;
}

bool WaitFor(const std::function<bool()>& cond, int ms = 10000) {
  for (int i = 0; i < ms / 20; ++i) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

class ShipperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log_ = dir_.path() + "/c1-json.log";
    out_ = dir_.path() + "/out.jsonl";
    LogSource s;
    s.container_id = std::string(64, 'a');
    s.name = "shop-php-1";
    s.image = "moor/php-fpm:8.2";
    s.log_path = log_;
    s.labels = {{"moor.app", "shop"}, {"moor.app.service", "php"}};
    s.release = "7";
    lister_.sources = {s};
  }
  ShipperConfig Config() {
    ShipperConfig c;
    c.dir = dir_.path() + "/logship";
    c.node = "web1";
    c.outputs = {*ParseOutputSpec("file://" + out_)};
    c.list_interval_ns = 100'000'000;
    c.checkpoint_interval_ns = 100'000'000;
    return c;
  }
  void Append(const std::string& s) {
    std::ofstream f(log_, std::ios::app);
    f << s;
  }
  testing::TempDir dir_;
  std::string log_, out_;
  FakeLister lister_;
};

TEST_F(ShipperTest, ShipsLinesWithLabelsAndSurvivesRestartWithoutDuplicates) {
  for (int i = 0; i < 100; ++i) Append(JsonFileLine("line " + std::to_string(i), i % 2 ? "stderr" : "stdout", i));
  {
    auto sh = Shipper::Start(Config(), lister_);
    ASSERT_TRUE(sh) << sh.error().message();
    ASSERT_TRUE(WaitFor([&] { return ReadJsonLines(out_).size() >= 100; }));
    auto st = (*sh)->Status();
    EXPECT_EQ(st["outputs"][0]["name"], "file");
    EXPECT_EQ(st["lines_read"], 100);
    (*sh)->Stop();
  }
  auto got = ReadJsonLines(out_);
  ASSERT_EQ(got.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    EXPECT_EQ(got[i]["message"], "line " + std::to_string(i));
    EXPECT_EQ(got[i]["stream"], i % 2 ? "stderr" : "stdout");
  }
  EXPECT_EQ(got[0]["service"], "php");
  EXPECT_EQ(got[0]["app"], "shop");
  EXPECT_EQ(got[0]["container"], "shop-php-1");
  EXPECT_EQ(got[0]["release"], "7");
  EXPECT_EQ(got[0]["node"], "web1");
  EXPECT_EQ(got[0]["image"], "moor/php-fpm:8.2");

  // Lines written while the shipper was down arrive after a restart; the
  // ones shipped before do not come again (clean stop: nothing repeated).
  for (int i = 100; i < 150; ++i) Append(JsonFileLine("line " + std::to_string(i), "stdout", i));
  {
    auto sh = Shipper::Start(Config(), lister_);
    ASSERT_TRUE(sh) << sh.error().message();
    ASSERT_TRUE(WaitFor([&] { return ReadJsonLines(out_).size() >= 150; }));
    (*sh)->Stop();
  }
  got = ReadJsonLines(out_);
  ASSERT_EQ(got.size(), 150u);
  for (int i = 0; i < 150; ++i) EXPECT_EQ(got[i]["message"], "line " + std::to_string(i));
}

TEST_F(ShipperTest, JoinsMultilineAndParsesJsonPerLabels) {
  lister_.sources[0].labels["moor.log.multiline.start"] = "^[0-9]";
  lister_.sources[0].labels["moor.log.json"] = "true";
  Append(JsonFileLine("1 Exception: boom", "stderr", 1));
  Append(JsonFileLine("  at a()", "stderr", 1));
  Append(JsonFileLine("  at b()", "stderr", 1));
  Append(JsonFileLine("{\"level\":\"warn\",\"user\":42}", "stdout", 2));
  Append(JsonFileLine("2 next", "stderr", 2));
  auto sh = Shipper::Start(Config(), lister_);
  ASSERT_TRUE(sh) << sh.error().message();
  // The last event is held until its idle flush (1 s).
  ASSERT_TRUE(WaitFor([&] { return ReadJsonLines(out_).size() >= 3; }));
  (*sh)->Stop();
  auto got = ReadJsonLines(out_);
  ASSERT_EQ(got.size(), 3u);
  std::vector<std::string> messages;
  for (const auto& g : got) messages.push_back(g["message"]);
  EXPECT_NE(std::find(messages.begin(), messages.end(), "1 Exception: boom\n  at a()\n  at b()"), messages.end());
  EXPECT_NE(std::find(messages.begin(), messages.end(), "2 next"), messages.end());
  for (const auto& g : got) {
    if (g["stream"] == "stdout") {
      EXPECT_EQ(g["level"], "warn");
      EXPECT_EQ(g["user"], 42);
    }
  }
}

TEST_F(ShipperTest, ContainersNotForThisOutputAreSkipped) {
  lister_.sources[0].labels["moor.log.outputs"] = "elsewhere";
  Append(JsonFileLine("secret", "stdout", 1));
  auto sh = Shipper::Start(Config(), lister_);
  ASSERT_TRUE(sh) << sh.error().message();
  ASSERT_TRUE(WaitFor([&] { return (*sh)->Status()["outputs"][0]["records_skipped"] == 1; }));
  (*sh)->Stop();
  EXPECT_TRUE(ReadJsonLines(out_).empty());
}

// Squats the names of the spool's next segments with directories, so rolling
// to a new segment fails as it would on a full disk; returns them.
std::vector<std::string> BlockNextSegments(const std::string& spool_dir, int n) {
  uint64_t last = 0;
  if (DIR* d = opendir(spool_dir.c_str())) {
    while (auto* e = readdir(d)) {
      std::string_view name = e->d_name;
      if (name.ends_with(".seg")) last = std::max<uint64_t>(last, std::stoull(std::string(name.substr(0, 16))));
    }
    closedir(d);
  }
  std::vector<std::string> out;
  for (uint64_t k = last + 1; k <= last + static_cast<uint64_t>(n); ++k) {
    char name[32];
    std::snprintf(name, sizeof name, "/%016llu.seg", static_cast<unsigned long long>(k));
    out.push_back(spool_dir + name);
    EXPECT_TRUE(MkdirAll(out.back()));
  }
  return out;
}

// The spool refusing writes (disk full) loses nothing: lines wait, the source
// is not read further, the checkpoint stays before them; when the spool takes
// them again every line arrives once, in order, also across a restart.
TEST_F(ShipperTest, SpoolWriteFailuresHoldLinesAndLoseNone) {
  auto cfg = Config();
  cfg.spool.segment_bytes = 4096;
  lister_.sources[0].labels["moor.log.multiline.start"] = "^line";
  int written = 0;
  auto write = [&](int n) {
    for (int k = 0; k < n; ++k, ++written) {
      // An event in one write: the test's stamps are old, so a start line
      // read alone at the end of the file would be flushed as quiet.
      std::string event = JsonFileLine("line " + std::to_string(written), "stdout", written);
      if (written % 7 == 0) event += JsonFileLine("  detail of " + std::to_string(written), "stdout", written);
      Append(event);
    }
  };
  auto check = [&](int n) {
    auto got = ReadJsonLines(out_);
    ASSERT_EQ(got.size(), static_cast<size_t>(n));
    for (int i = 0; i < n; ++i) {
      std::string want = "line " + std::to_string(i);
      if (i % 7 == 0) want += "\n  detail of " + std::to_string(i);
      ASSERT_EQ(got[i]["message"], want) << i;
    }
  };
  {
    auto sh = Shipper::Start(cfg, lister_);
    ASSERT_TRUE(sh) << sh.error().message();
    write(20);
    ASSERT_TRUE(WaitFor([&] { return ReadJsonLines(out_).size() >= 20; }));
    auto blocked = BlockNextSegments(cfg.dir + "/spool", 3);
    write(200);
    ASSERT_TRUE(WaitFor([&] { return (*sh)->Status()["records_held"].get<uint64_t>() > 0; }));
    auto st = (*sh)->Status();
    EXPECT_GT(st["spool_errors"].get<uint64_t>(), 0u);
    EXPECT_LT(ReadJsonLines(out_).size(), 220u);
    for (const auto& b : blocked) ASSERT_EQ(rmdir(b.c_str()), 0);
    ASSERT_TRUE(WaitFor([&] { return ReadJsonLines(out_).size() >= 220; }));
    EXPECT_EQ((*sh)->Status()["records_held"], 0);

    // Blocked again, then a stop: what was held is read again after the restart.
    blocked = BlockNextSegments(cfg.dir + "/spool", 3);
    write(200);
    ASSERT_TRUE(WaitFor([&] { return (*sh)->Status()["records_held"].get<uint64_t>() > 0; }));
    (*sh)->Stop();
    for (const auto& b : blocked) ASSERT_EQ(rmdir(b.c_str()), 0);
  }
  EXPECT_LT(ReadJsonLines(out_).size(), 420u);
  auto sh = Shipper::Start(cfg, lister_);
  ASSERT_TRUE(sh) << sh.error().message();
  ASSERT_TRUE(WaitFor([&] { return ReadJsonLines(out_).size() >= 420; }));
  (*sh)->Stop();
  check(420);
}

// A record larger than the whole spool budget can never be shipped: it is
// counted and skipped, and the lines after it ship.
TEST_F(ShipperTest, RecordLargerThanTheBudgetIsCountedAndSkipped) {
  auto cfg = Config();
  cfg.spool.budget_bytes = 64 << 10;
  Append(JsonFileLine("before", "stdout", 1));
  Append(JsonFileLine(std::string(100 << 10, 'x'), "stdout", 2));
  Append(JsonFileLine("after", "stdout", 3));
  auto sh = Shipper::Start(cfg, lister_);
  ASSERT_TRUE(sh) << sh.error().message();
  ASSERT_TRUE(WaitFor([&] { return ReadJsonLines(out_).size() >= 2; }));
  auto st = (*sh)->Status();
  (*sh)->Stop();
  EXPECT_EQ(st["records_refused"], 1);
  EXPECT_EQ(st["records_held"], 0);
  auto got = ReadJsonLines(out_);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0]["message"], "before");
  EXPECT_EQ(got[1]["message"], "after");
}

// A container removed before any listing saw it (moor run --rm of a short
// job): Adopt, called before its files are deleted, opens its log, and every
// line ships although the file is gone.
TEST_F(ShipperTest, AdoptedContainerShipsAfterItsLogIsDeleted) {
  LogSource job = lister_.sources[0];
  job.container_id = std::string(64, 'b');
  job.name = "job-1";
  job.log_path = dir_.path() + "/job-json.log";
  lister_.sources.clear();  // never listed
  {
    std::ofstream f(job.log_path);
    for (int i = 0; i < 300; ++i) f << JsonFileLine("job line " + std::to_string(i), i % 2 ? "stderr" : "stdout", i);
  }
  auto cfg = Config();
  cfg.list_interval_ns = 50'000'000;
  auto sh = Shipper::Start(cfg, lister_);
  ASSERT_TRUE(sh) << sh.error().message();
  (*sh)->Adopt(job);
  ASSERT_EQ(unlink(job.log_path.c_str()), 0);
  ASSERT_TRUE(WaitFor([&] { return ReadJsonLines(out_).size() >= 300; }));
  // Read to its end, it is forgotten (it is listed nowhere).
  ASSERT_TRUE(WaitFor([&] { return (*sh)->Status()["sources"] == 0; }));
  (*sh)->Stop();
  auto got = ReadJsonLines(out_);
  ASSERT_EQ(got.size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(got[i]["message"], "job line " + std::to_string(i));
  EXPECT_EQ(got[0]["container"], "job-1");
}

TEST_F(ShipperTest, DuplicateOutputNamesAreRefused) {
  auto c = Config();
  c.outputs.push_back(c.outputs[0]);
  auto sh = Shipper::Start(c, lister_);
  ASSERT_FALSE(sh);
  EXPECT_NE(sh.error().message().find("two log outputs are named \"file\""), std::string::npos);
}

}  // namespace
}  // namespace moor::logship
