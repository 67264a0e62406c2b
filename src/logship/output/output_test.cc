#include "logship/output/output.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/file.h"
#include "common/testing/temp_dir.h"
#include "logship/output/transport.h"

namespace moor::logship {
namespace {

using namespace std::chrono_literals;

// ---- test doubles ----

// A spool reader over records in memory. Positions are {0, index of the
// next record}. Shared state outlives the worker that owns the reader.
struct FakeState {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<OwnedRecord> recs;
  std::map<uint32_t, SourceMeta> sources;
  uint64_t read = 0, cursor = 0, committed = 0;
  int commits = 0, rewinds = 0;
  bool ack_backwards = false;
  std::vector<uint64_t> acks;
  // Synthetic mode (benchmark): `synthetic` records all with `line` as text.
  uint64_t synthetic = 0;
  std::string line;

  uint64_t size() const { return synthetic > 0 ? synthetic : recs.size(); }
  void Add(uint32_t source, std::string text) {
    std::lock_guard lock(mu);
    recs.push_back(OwnedRecord{1'790'000'000'000'000'000 + static_cast<int64_t>(recs.size()), Stream::kStdout, source,
                               std::move(text), ""});
    cv.notify_all();
  }
  uint64_t Cursor() {
    std::lock_guard lock(mu);
    return cursor;
  }
};

class FakeReader : public SpoolReader {
 public:
  explicit FakeReader(std::shared_ptr<FakeState> s) : s_(std::move(s)) {}

  Result<std::vector<SpooledRecord>> Read(size_t max_records, size_t max_bytes, int timeout_ms) override {
    std::unique_lock lock(s_->mu);
    s_->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return s_->read < s_->size(); });
    std::vector<SpooledRecord> out;
    size_t bytes = 0;
    while (s_->read < s_->size() && out.size() < max_records && bytes < max_bytes) {
      SpooledRecord r;
      if (s_->synthetic > 0) {
        r.record = Record{1'790'000'000'000'000'000, Stream::kStdout, 1, s_->line, ""};
      } else {
        r.record = s_->recs[s_->read].view();
      }
      auto it = s_->sources.find(r.record.source);
      r.source = it == s_->sources.end() ? nullptr : &it->second;
      r.next = SpoolPos{0, ++s_->read};
      bytes += r.record.text.size();
      out.push_back(r);
    }
    return out;
  }
  void Ack(SpoolPos pos) override {
    std::lock_guard lock(s_->mu);
    if (pos.offset < s_->cursor || pos.offset > s_->read) s_->ack_backwards = true;
    s_->cursor = pos.offset;
    s_->acks.push_back(pos.offset);
  }
  Result<void> Commit() override {
    std::lock_guard lock(s_->mu);
    s_->committed = s_->cursor;
    s_->commits++;
    return {};
  }
  void Rewind() override {
    std::lock_guard lock(s_->mu);
    s_->read = s_->cursor;
    s_->rewinds++;
  }
  SpoolPos Cursor() const override {
    std::lock_guard lock(s_->mu);
    return SpoolPos{0, s_->cursor};
  }
  uint64_t Dropped() const override { return 0; }
  uint64_t LagBytes() const override { return 0; }
  int64_t OldestUnackedNs() const override { return 0; }

 private:
  std::shared_ptr<FakeState> s_;
};

std::string RecText(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "rec-%06d ", i);
  return std::string(buf) + std::string(80, 'x');
}

SourceMeta Source(uint32_t id, std::string container, std::vector<std::string> outputs) {
  SourceMeta m;
  m.id = id;
  m.container = std::move(container);
  m.outputs = std::move(outputs);
  return m;
}

std::shared_ptr<FakeState> NewState(int n, uint32_t source = 1) {
  auto s = std::make_shared<FakeState>();
  SourceMeta& m = s->sources[1] = Source(1, "shop-php-1", {});
  m.container_id = std::string(64, 'a');
  m.app = "shop";
  m.service = "php";
  m.image = "php:8";
  m.release = "7";
  m.node = "web1";
  for (int i = 0; i < n; ++i) s->Add(source, RecText(i));
  return s;
}

bool WaitFor(const std::function<bool()>& cond, std::chrono::milliseconds limit = 10000ms) {
  auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (cond()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return cond();
}

// Which rec-NNNNNN appear in data, with their counts.
std::map<int, int> RecordsIn(const std::string& data) {
  std::map<int, int> seen;
  for (size_t p = data.find("rec-"); p != std::string::npos; p = data.find("rec-", p + 4)) {
    if (p + 10 <= data.size()) seen[std::atoi(data.substr(p + 4, 6).c_str())]++;
  }
  return seen;
}

UniqueFd Listen(int type, uint16_t port) {
  UniqueFd fd(::socket(AF_INET, type | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return UniqueFd();
  if (type == SOCK_STREAM && ::listen(fd.get(), 16) != 0) return UniqueFd();
  return fd;
}

uint16_t PortOf(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// A port nothing listens on (bound, then released).
uint16_t FreePort() {
  UniqueFd fd = Listen(SOCK_STREAM, 0);
  return PortOf(fd.get());
}

// Accepts connections on 127.0.0.1 and records what they send. With
// close_after, drops every connection and stops listening once that many
// bytes came in; with read=false it accepts and never reads.
class TcpSink {
 public:
  explicit TcpSink(uint16_t port = 0, size_t close_after = SIZE_MAX, bool read = true, bool keep = true)
      : close_after_(close_after), read_(read), keep_(keep) {
    listen_ = Listen(SOCK_STREAM, port);
    port_ = PortOf(listen_.get());
    int p[2];
    EXPECT_EQ(::pipe2(p, O_CLOEXEC), 0);
    wake_r_.Reset(p[0]);
    wake_w_.Reset(p[1]);
    thread_ = std::thread([this] { Loop(); });
  }
  ~TcpSink() {
    (void)!::write(wake_w_.get(), "x", 1);
    thread_.join();
  }
  // Closes the connections it has, keeps listening.
  void CloseConnections() { (void)!::write(wake_w_.get(), "c", 1); }
  uint16_t port() const { return port_; }
  std::string data() {
    std::lock_guard lock(mu_);
    return data_;
  }
  uint64_t bytes() const { return bytes_.load(); }
  int accepted() const { return accepted_.load(); }
  bool closed() const { return closed_.load(); }

 private:
  void Loop() {
    std::vector<UniqueFd> conns;
    std::vector<char> buf(256 * 1024);
    for (;;) {
      std::vector<pollfd> p{{wake_r_.get(), POLLIN, 0}, {listen_.get(), POLLIN, 0}};
      for (auto& c : conns) p.push_back({c.get(), static_cast<short>(read_ ? POLLIN : 0), 0});
      if (::poll(p.data(), p.size(), 1000) < 0) continue;
      if (p[0].revents) {
        char cmd = 'x';
        (void)!::read(wake_r_.get(), &cmd, 1);
        if (cmd != 'c') return;
        conns.clear();
        continue;
      }
      if (p[1].revents & POLLIN) {
        int c = ::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC);
        if (c >= 0) {
          conns.emplace_back(c);
          accepted_++;
        }
      }
      for (size_t i = 2; i < p.size(); ++i) {
        if (!(p[i].revents & (POLLIN | POLLHUP))) continue;
        ssize_t n = ::read(p[i].fd, buf.data(), buf.size());
        if (n <= 0) {
          conns[i - 2].Reset();
          continue;
        }
        bytes_ += static_cast<uint64_t>(n);
        if (keep_) {
          std::lock_guard lock(mu_);
          data_.append(buf.data(), static_cast<size_t>(n));
        }
        if (bytes_ >= close_after_) {
          conns.clear();
          listen_.Reset();
          closed_ = true;
          return;
        }
      }
      std::erase_if(conns, [](const UniqueFd& f) { return !f.valid(); });
    }
  }

  UniqueFd listen_, wake_r_, wake_w_;
  uint16_t port_ = 0;
  size_t close_after_;
  bool read_, keep_;
  std::mutex mu_;
  std::string data_;
  std::atomic<uint64_t> bytes_{0};
  std::atomic<int> accepted_{0};
  std::atomic<bool> closed_{false};
  std::thread thread_;
};

OutputConfig TcpConfig(uint16_t port, OutputType type = OutputType::kLogstash) {
  OutputConfig c;
  c.name = "out";
  c.type = type;
  c.address = "127.0.0.1:" + std::to_string(port);
  c.ack_delay_ns = 50'000'000;
  c.backoff_min_ns = 20'000'000;
  c.backoff_max_ns = 200'000'000;
  c.timeout_ns = 2'000'000'000;
  return c;
}

// ---- names ----

TEST(OutputType, NamesRoundTrip) {
  for (OutputType t : {OutputType::kLogstash, OutputType::kGelfUdp, OutputType::kGelfTcp, OutputType::kSyslogTcp,
                       OutputType::kSyslogUdp, OutputType::kLoki, OutputType::kFile}) {
    auto parsed = ParseOutputType(OutputTypeName(t));
    ASSERT_TRUE(parsed) << OutputTypeName(t);
    EXPECT_EQ(*parsed, t);
  }
  EXPECT_EQ(OutputTypeName(OutputType::kSyslogTcp), "syslog-tcp");
  auto bad = ParseOutputType("kafka");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("kafka"), std::string::npos);
  EXPECT_FALSE(ParseOutputType(""));
  EXPECT_FALSE(ParseOutputType("Loki"));
}

TEST(OutputAddress, SplitHostPort) {
  auto a = internal::SplitHostPort("logs.example:5514");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->first, "logs.example");
  EXPECT_EQ(a->second, "5514");
  auto v6 = internal::SplitHostPort("[::1]:12201");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->first, "::1");
  EXPECT_FALSE(internal::SplitHostPort("nocolon"));
  EXPECT_FALSE(internal::SplitHostPort(":80"));
  EXPECT_FALSE(internal::SplitHostPort("host:http"));
  EXPECT_FALSE(internal::SplitHostPort("[::1]80"));
}

// ---- tcp ----

TEST(TcpOutput, DeliversEveryRecordAndAcks) {
  TcpSink sink;
  auto st = NewState(500);
  OutputWorker w(TcpConfig(sink.port()), std::make_unique<FakeReader>(st));
  w.Start();
  ASSERT_TRUE(WaitFor([&] { return st->Cursor() == 500; }));
  w.Stop();
  // Acked once the receiver's TCP has the bytes: the sink thread may still be reading them.
  EXPECT_TRUE(WaitFor([&] { return sink.bytes() >= w.counters().bytes_sent.load(); }));
  auto seen = RecordsIn(sink.data());
  EXPECT_EQ(seen.size(), 500u);
  EXPECT_EQ(seen.begin()->first, 0);
  EXPECT_EQ(seen.rbegin()->first, 499);
  // One JSON object per line.
  std::string d = sink.data();
  EXPECT_EQ(std::count(d.begin(), d.end(), '\n'), 500);
  EXPECT_EQ(d.substr(0, 15), "{\"@timestamp\":\"");
  EXPECT_EQ(w.counters().records_sent.load(), 500u);
  EXPECT_EQ(w.counters().bytes_sent.load(), d.size());
  EXPECT_EQ(w.counters().reconnects.load(), 0u);
  EXPECT_EQ(st->committed, 500u);  // Stop commits
  EXPECT_FALSE(st->ack_backwards);
  EXPECT_EQ(w.last_error(), "");
}

TEST(TcpOutput, SyslogAndGelfFraming) {
  {
    TcpSink sink;
    auto st = NewState(3);
    OutputWorker w(TcpConfig(sink.port(), OutputType::kSyslogTcp), std::make_unique<FakeReader>(st));
    w.Start();
    ASSERT_TRUE(WaitFor([&] { return st->Cursor() == 3; }));
    w.Stop();
    EXPECT_TRUE(WaitFor([&] { return sink.bytes() >= w.counters().bytes_sent.load(); }));
    // Octet counting: "LEN SP MSG" back to back.
    std::string d = sink.data();
    int frames = 0;
    for (size_t p = 0; p < d.size(); ++frames) {
      size_t sp = d.find(' ', p);
      ASSERT_NE(sp, std::string::npos);
      size_t len = std::stoul(d.substr(p, sp - p));
      EXPECT_EQ(d.substr(sp + 1, 1), "<");
      p = sp + 1 + len;
      ASSERT_LE(p, d.size());
    }
    EXPECT_EQ(frames, 3);
  }
  {
    TcpSink sink;
    auto st = NewState(3);
    OutputWorker w(TcpConfig(sink.port(), OutputType::kGelfTcp), std::make_unique<FakeReader>(st));
    w.Start();
    ASSERT_TRUE(WaitFor([&] { return st->Cursor() == 3; }));
    w.Stop();
    EXPECT_TRUE(WaitFor([&] { return sink.bytes() >= w.counters().bytes_sent.load(); }));
    std::string d = sink.data();
    EXPECT_EQ(std::count(d.begin(), d.end(), '\0'), 3);
    EXPECT_EQ(d.back(), '\0');
    EXPECT_EQ(d.substr(0, 16), "{\"version\":\"1.1\"");
  }
}

TEST(TcpOutput, AckWaitsForAckDelay) {
  TcpSink sink;
  auto st = NewState(20);
  OutputConfig c = TcpConfig(sink.port());
  c.ack_delay_ns = 2'000'000'000;  // long: the check below must come before it even on a loaded machine
  OutputWorker w(c, std::make_unique<FakeReader>(st));
  auto t0 = std::chrono::steady_clock::now();
  w.Start();
  ASSERT_TRUE(WaitFor([&] { return RecordsIn(sink.data()).size() == 20; }));
  EXPECT_EQ(st->Cursor(), 0u) << "acked before ack_delay";
  ASSERT_TRUE(WaitFor([&] { return st->Cursor() == 20; }));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 2s);
}

TEST(TcpOutput, ReceiverClosedMidStreamGetsEverythingAgain) {
  constexpr int kN = 8000;  // ~2.5 MB of json_lines
  auto st = NewState(kN);
  uint16_t port;
  OutputConfig c;
  std::unique_ptr<OutputWorker> w;
  std::string first;
  uint64_t cursor_at_close = 0;
  {
    TcpSink sink(0, 512 << 10);
    port = sink.port();
    c = TcpConfig(port);
    // The sink must read (and so close) within ack_delay of a write; 1 s leaves room for a
    // descheduled sink thread (ASan, a loaded machine).
    c.ack_delay_ns = 1'000'000'000;
    w = std::make_unique<OutputWorker>(c, std::make_unique<FakeReader>(st));
    w->Start();
    ASSERT_TRUE(WaitFor([&] { return sink.closed(); }));
    cursor_at_close = st->Cursor();
    first = sink.data();
  }
  // What had been read by the receiver bounds the cursor: nothing unseen was acked.
  auto seen_first = RecordsIn(first);
  EXPECT_LT(cursor_at_close, static_cast<uint64_t>(kN));
  for (uint64_t i = 0; i < cursor_at_close; ++i) ASSERT_TRUE(seen_first.contains(static_cast<int>(i))) << i;
  ASSERT_TRUE(WaitFor([&] { return w->counters().reconnects.load() >= 1; }));
  TcpSink again(port);
  ASSERT_TRUE(WaitFor([&] { return st->Cursor() == kN; }, 30000ms)) << w->last_error();
  w->Stop();
  EXPECT_TRUE(WaitFor([&] { return RecordsIn(first + again.data()).size() == static_cast<size_t>(kN); }));
  auto seen = RecordsIn(first + again.data());
  EXPECT_EQ(seen.size(), static_cast<size_t>(kN));
  EXPECT_GE(w->counters().reconnects.load(), 1u);
  EXPECT_GE(st->rewinds, 1);
  EXPECT_FALSE(st->ack_backwards);
  EXPECT_EQ(w->last_error(), "");
}

TEST(TcpOutput, IdleCloseByReceiverIsNoError) {
  TcpSink sink;
  auto st = NewState(5);
  OutputWorker w(TcpConfig(sink.port()), std::make_unique<FakeReader>(st));
  w.Start();
  ASSERT_TRUE(WaitFor([&] { return st->Cursor() == 5; }));
  sink.CloseConnections();
  ASSERT_TRUE(WaitFor([&] { return !w.counters().connected.load(); }));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(sink.accepted(), 1);  // no reconnect without data
  for (int i = 5; i < 10; ++i) st->Add(1, RecText(i));
  ASSERT_TRUE(WaitFor([&] { return st->Cursor() == 10; }));
  w.Stop();
  EXPECT_TRUE(WaitFor([&] { return sink.bytes() >= w.counters().bytes_sent.load(); }));
  EXPECT_EQ(sink.accepted(), 2);
  EXPECT_EQ(w.counters().send_errors.load(), 0u);
  EXPECT_EQ(w.last_error(), "");
  auto seen = RecordsIn(sink.data());
  EXPECT_EQ(seen.size(), 10u);
  for (auto [i, n] : seen) EXPECT_EQ(n, 1) << i;
}

TEST(TcpOutput, RefusedThenBackoffThenSuccess) {
  uint16_t port = FreePort();
  auto st = NewState(10);
  OutputConfig c = TcpConfig(port, OutputType::kSyslogTcp);
  OutputWorker w(c, std::make_unique<FakeReader>(st));
  w.Start();
  ASSERT_TRUE(WaitFor([&] { return w.counters().reconnects.load() >= 2; }));
  std::string err = w.last_error();
  EXPECT_EQ(err.rfind("syslog-tcp 127.0.0.1:" + std::to_string(port) + ": connection refused; retrying in ", 0), 0u)
      << err;
  EXPECT_EQ(err.substr(err.size() - 2), " s");
  EXPECT_FALSE(w.counters().connected.load());
  EXPECT_GT(w.counters().last_error_ns.load(), 0);
  EXPECT_EQ(st->Cursor(), 0u);
  TcpSink sink(port);
  ASSERT_TRUE(WaitFor([&] { return st->Cursor() == 10; }));
  EXPECT_TRUE(w.counters().connected.load());
  EXPECT_EQ(w.last_error(), "");
  EXPECT_TRUE(WaitFor([&] { return RecordsIn(sink.data()).size() >= 10; }));
  EXPECT_EQ(RecordsIn(sink.data()).size(), 10u);
}

TEST(TcpOutput, BackoffDoublesUpToMax) {
  uint16_t port = FreePort();
  auto st = NewState(1);
  OutputConfig c = TcpConfig(port);
  // Long enough that scheduling noise (ASan, a loaded machine) stays small next to the waits.
  c.backoff_min_ns = 200'000'000;
  c.backoff_max_ns = 800'000'000;
  OutputWorker w(c, std::make_unique<FakeReader>(st));
  w.Start();
  ASSERT_TRUE(WaitFor([&] { return w.counters().reconnects.load() >= 1; }));
  auto t0 = std::chrono::steady_clock::now();
  ASSERT_TRUE(WaitFor([&] { return w.counters().reconnects.load() >= 6; }, 20000ms));
  auto took = std::chrono::steady_clock::now() - t0;
  w.Stop();
  // Waits 200, 400, 800, 800, 800 ms, each ±25 %: 2250..3750 ms (without the cap: 4650..7750).
  EXPECT_GE(took, 2250ms);
  EXPECT_LT(took, 5000ms);
}

TEST(TcpOutput, StopInterruptsABackoff) {
  uint16_t port = FreePort();
  auto st = NewState(1);
  OutputConfig c = TcpConfig(port);
  c.backoff_min_ns = 30'000'000'000;
  c.backoff_max_ns = 60'000'000'000;
  OutputWorker w(c, std::make_unique<FakeReader>(st));
  w.Start();
  ASSERT_TRUE(WaitFor([&] { return w.counters().reconnects.load() == 1; }));
  std::string err = w.last_error();
  double secs = std::atof(err.substr(err.find("retrying in ") + 12).c_str());
  EXPECT_GE(secs, 22.4) << err;  // 30 s ±25 %
  EXPECT_LE(secs, 37.6) << err;
  auto t0 = std::chrono::steady_clock::now();
  w.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);  // vs. the 22+ s backoff
  EXPECT_EQ(w.counters().reconnects.load(), 1u);
  EXPECT_GE(st->commits, 1);
}

TEST(TcpOutput, StopInterruptsABlockedSend) {
  TcpSink sink(0, SIZE_MAX, /*read=*/false);
  auto st = NewState(25000);  // more than the socket buffers hold
  OutputConfig c = TcpConfig(sink.port());
  c.timeout_ns = 60'000'000'000;  // so only Stop can end the blocked send within the bound below
  OutputWorker w(c, std::make_unique<FakeReader>(st));
  w.Start();
  ASSERT_TRUE(WaitFor([&] { return sink.accepted() == 1; }));
  std::this_thread::sleep_for(100ms);
  auto t0 = std::chrono::steady_clock::now();
  w.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);  // a blocked send never ends by itself
  EXPECT_EQ(st->Cursor(), 0u);  // the receiver processed nothing it could confirm
}

// ---- filtering (file output: simplest to read back) ----

TEST(FileOutput, SkipsRecordsForOtherOutputs) {
  testing::TempDir dir;
  auto st = NewState(0);
  st->sources[2] = Source(2, "other", {"elsewhere"});
  st->sources[3] = Source(3, "mine", {"elsewhere", "out"});
  for (int i = 0; i < 30; ++i) st->Add(i % 3 == 0 ? 1 : i % 3 == 1 ? 2 : 3, RecText(i));
  for (int i = 30; i < 40; ++i) st->Add(2, RecText(i));  // a tail with nothing to send
  OutputConfig c;
  c.name = "out";
  c.type = OutputType::kFile;
  c.address = dir.path() + "/all.log";
  c.batch_records = 7;
  OutputWorker w(c, std::make_unique<FakeReader>(st));
  w.Start();
  ASSERT_TRUE(WaitFor([&] { return st->Cursor() == 40; }));
  w.Stop();
  auto seen = RecordsIn(*ReadFile(c.address));
  EXPECT_EQ(seen.size(), 20u);
  for (auto [i, n] : seen) {
    EXPECT_NE(i % 3, 1) << i;
    EXPECT_EQ(n, 1);
  }
  EXPECT_EQ(w.counters().records_sent.load(), 20u);
  EXPECT_EQ(w.counters().records_skipped.load(), 20u);
  EXPECT_FALSE(st->ack_backwards);
}

TEST(FileOutput, AppendsAndReopensAfterRename) {
  testing::TempDir dir;
  auto st = NewState(10);
  OutputConfig c;
  c.name = "file";
  c.type = OutputType::kFile;
  c.address = dir.path() + "/sub/all.log";  // the directory is made
  OutputWorker w(c, std::make_unique<FakeReader>(st));
  w.Start();
  ASSERT_TRUE(WaitFor([&] { return st->Cursor() == 10; }));
  struct stat sb {};
  ASSERT_EQ(::stat(c.address.c_str(), &sb), 0);
  EXPECT_EQ(sb.st_mode & 0777, 0640u);
  ASSERT_EQ(::rename(c.address.c_str(), (c.address + ".1").c_str()), 0);
  for (int i = 10; i < 25; ++i) st->Add(1, RecText(i));
  ASSERT_TRUE(WaitFor([&] { return st->Cursor() == 25; }));
  w.Stop();
  auto old_file = RecordsIn(*ReadFile(c.address + ".1"));
  auto new_file = RecordsIn(*ReadFile(c.address));
  EXPECT_EQ(old_file.size(), 10u);
  EXPECT_EQ(new_file.size(), 15u);
  EXPECT_EQ(new_file.begin()->first, 10);
  EXPECT_GE(st->commits, 1);
  EXPECT_EQ(st->committed, 25u);
}

TEST(FileOutput, RelativePathIsAnError) {
  auto st = NewState(1);
  OutputConfig c;
  c.type = OutputType::kFile;
  c.address = "relative.log";
  c.backoff_min_ns = c.backoff_max_ns = 10'000'000;
  OutputWorker w(c, std::make_unique<FakeReader>(st));
  w.Start();
  ASSERT_TRUE(WaitFor([&] { return !w.last_error().empty(); }));
  w.Stop();
  EXPECT_NE(w.last_error().find("file relative.log: the file path must be absolute"), std::string::npos)
      << w.last_error();
  EXPECT_EQ(st->Cursor(), 0u);
}

// ---- udp ----

struct Datagrams {
  UniqueFd fd = Listen(SOCK_DGRAM, 0);
  std::vector<std::string> Receive(size_t want) {
    std::vector<std::string> out;
    std::vector<char> buf(70000);
    while (out.size() < want) {
      pollfd p{fd.get(), POLLIN, 0};
      if (::poll(&p, 1, 2000) <= 0) break;
      ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
      if (n >= 0) out.emplace_back(buf.data(), static_cast<size_t>(n));
    }
    return out;
  }
};

TEST(UdpOutput, GelfChunksReassemble) {
  Datagrams rx;
  auto st = NewState(0);
  st->Add(1, "rec-000000 short");
  st->Add(1, "rec-000001 " + std::string(3000, 'y'));    // 3 chunks of ≤ 1408 bytes
  st->Add(1, "rec-000002 " + std::string(3000, 'z'));    // another message id
  st->Add(1, "rec-000003 " + std::string(200000, 'q'));  // > 128 chunks: dropped, counted
  OutputConfig c;
  c.name = "g";
  c.type = OutputType::kGelfUdp;
  c.address = "127.0.0.1:" + std::to_string(PortOf(rx.fd.get()));
  OutputWorker w(c, std::make_unique<FakeReader>(st));
  w.Start();
  auto got = rx.Receive(7);
  ASSERT_TRUE(WaitFor([&] { return st->Cursor() == 4; }));
  w.Stop();
  ASSERT_EQ(got.size(), 7u);
  std::map<std::string, std::map<int, std::string>> messages;  // id → seq → payload
  std::vector<std::string> whole;
  for (const std::string& d : got) {
    if (d.size() >= 12 && d[0] == '\x1e' && d[1] == '\x0f') {
      EXPECT_LE(d.size(), 1420u);
      EXPECT_EQ(d[11], 3);  // count
      messages[d.substr(2, 8)][d[10]] = d.substr(12);
    } else {
      whole.push_back(d);
    }
  }
  ASSERT_EQ(whole.size(), 1u);
  EXPECT_NE(whole[0].find("rec-000000 short"), std::string::npos);
  ASSERT_EQ(messages.size(), 2u);  // random ids differ per message
  std::set<int> recs;
  for (auto& [id, parts] : messages) {
    ASSERT_EQ(parts.size(), 3u);
    std::string gelf = parts[0] + parts[1] + parts[2];
    EXPECT_EQ(gelf.front(), '{');
    EXPECT_EQ(gelf.back(), '}');
    for (auto [i, n] : RecordsIn(gelf)) recs.insert(i);
  }
  EXPECT_EQ(recs, (std::set<int>{1, 2}));
  EXPECT_EQ(w.counters().rejected.load(), 1u);
  EXPECT_EQ(w.counters().records_sent.load(), 3u);
  EXPECT_NE(w.last_error().find("128 chunks"), std::string::npos) << w.last_error();
}

TEST(UdpOutput, SyslogOneDatagramPerRecordTruncated) {
  Datagrams rx;
  auto st = NewState(0);
  st->Add(1, "rec-000000 hello");
  st->Add(1, "rec-000001 " + std::string(5000, 'a'));
  OutputConfig c;
  c.name = "s";
  c.type = OutputType::kSyslogUdp;
  c.syslog.facility = 16;
  c.address = "127.0.0.1:" + std::to_string(PortOf(rx.fd.get()));
  OutputWorker w(c, std::make_unique<FakeReader>(st));
  w.Start();
  auto got = rx.Receive(2);
  ASSERT_TRUE(WaitFor([&] { return st->Cursor() == 2; }));
  w.Stop();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].substr(0, 7), "<134>1 ");  // local0.info
  EXPECT_TRUE(got[0].ends_with("rec-000000 hello"));
  EXPECT_EQ(got[1].size(), 2048u);
}

// ---- loki ----

// A keep-alive HTTP/1.1 server answering each request with the next status.
class HttpSink {
 public:
  explicit HttpSink(std::vector<int> statuses) : statuses_(std::move(statuses)) {
    listen_ = Listen(SOCK_STREAM, 0);
    thread_ = std::thread([this] { Loop(); });
  }
  ~HttpSink() {
    stop_ = true;
    ::shutdown(listen_.get(), SHUT_RDWR);
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(PortOf(listen_.get())); }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  int connections() const { return connections_.load(); }

 private:
  void Loop() {
    while (!stop_) {
      pollfd p{listen_.get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      UniqueFd c(::accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (!c) continue;
      connections_++;
      Serve(c.get());
    }
  }
  void Serve(int fd) {
    std::string in;
    char buf[65536];
    while (!stop_) {
      size_t head_end = in.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        std::string head = in.substr(0, head_end);
        size_t cl = head.find("Content-Length: ");
        size_t len = cl == std::string::npos ? 0 : std::stoul(head.substr(cl + 16));
        if (in.size() >= head_end + 4 + len) {
          std::string req = in.substr(0, head_end + 4 + len);
          in.erase(0, head_end + 4 + len);
          int status;
          {
            std::lock_guard lock(mu_);
            requests_.push_back(req);
            status = next_ < statuses_.size() ? statuses_[next_++] : 204;
          }
          std::string body = status == 204 ? "" : "answer " + std::to_string(status) + "\n";
          std::string resp = "HTTP/1.1 " + std::to_string(status) +
                             " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
          if (::write(fd, resp.data(), resp.size()) < 0) return;
          continue;
        }
      }
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return;
      in.append(buf, static_cast<size_t>(n));
    }
  }

  UniqueFd listen_;
  std::vector<int> statuses_;
  size_t next_ = 0;
  std::mutex mu_;
  std::vector<std::string> requests_;
  std::atomic<int> connections_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

OutputConfig LokiConfig(const std::string& url) {
  OutputConfig c;
  c.name = "lk";
  c.type = OutputType::kLoki;
  c.address = url;
  c.backoff_min_ns = 10'000'000;
  c.backoff_max_ns = 50'000'000;
  c.timeout_ns = 2'000'000'000;
  c.batch_records = 5;
  return c;
}

TEST(LokiOutput, PushAckedOn204WithKeepAlive) {
  HttpSink http({});
  auto st = NewState(12);
  OutputConfig c = LokiConfig(http.url());
  c.loki_labels = {{"env", "prod"}};
  OutputWorker w(c, std::make_unique<FakeReader>(st));
  w.Start();
  ASSERT_TRUE(WaitFor([&] { return st->Cursor() == 12; })) << w.last_error();
  w.Stop();
  auto reqs = http.requests();
  ASSERT_EQ(reqs.size(), 3u);  // batches of 5, 5, 2
  EXPECT_EQ(reqs[0].rfind("POST /loki/api/v1/push HTTP/1.1\r\n", 0), 0u) << reqs[0];
  EXPECT_NE(reqs[0].find("Content-Type: application/json\r\n"), std::string::npos);
  EXPECT_NE(reqs[0].find("{\"streams\":["), std::string::npos);
  EXPECT_NE(reqs[0].find("\"env\":\"prod\""), std::string::npos);
  EXPECT_EQ(RecordsIn(reqs[2]).size(), 2u);
  // The reachability check, then one kept-alive connection for the 3 pushes.
  EXPECT_EQ(http.connections(), 2);
  EXPECT_EQ(w.counters().records_sent.load(), 12u);
}

TEST(LokiOutput, RetriesOn500And429) {
  HttpSink http({500, 429, 204});
  auto st = NewState(3);
  OutputWorker w(LokiConfig(http.url() + "/custom/push"), std::make_unique<FakeReader>(st));
  w.Start();
  ASSERT_TRUE(WaitFor([&] { return st->Cursor() == 3; })) << w.last_error();
  w.Stop();
  auto reqs = http.requests();
  ASSERT_EQ(reqs.size(), 3u);
  EXPECT_EQ(reqs[0].rfind("POST /custom/push ", 0), 0u);
  // The same batch every time.
  auto body = [](const std::string& r) { return r.substr(r.find("\r\n\r\n")); };
  EXPECT_EQ(body(reqs[0]), body(reqs[2]));
  EXPECT_EQ(w.counters().send_errors.load(), 2u);
  EXPECT_EQ(w.counters().rejected.load(), 0u);
  EXPECT_EQ(w.counters().records_sent.load(), 3u);
  EXPECT_EQ(w.last_error(), "");
}

TEST(LokiOutput, RejectedOn400IsDroppedAndCounted) {
  HttpSink http({400});
  auto st = NewState(3);
  OutputWorker w(LokiConfig(http.url()), std::make_unique<FakeReader>(st));
  w.Start();
  ASSERT_TRUE(WaitFor([&] { return st->Cursor() == 3; })) << w.last_error();
  w.Stop();
  EXPECT_EQ(http.requests().size(), 1u);
  EXPECT_EQ(w.counters().rejected.load(), 3u);
  EXPECT_EQ(w.counters().records_sent.load(), 0u);
  EXPECT_EQ(w.last_error().rfind("loki " + http.url() + ": push answered 400: answer 400", 0), 0u) << w.last_error();
}

TEST(LokiOutput, UnreachableRetriesWithError) {
  auto st = NewState(1);
  OutputWorker w(LokiConfig("http://127.0.0.1:" + std::to_string(FreePort())), std::make_unique<FakeReader>(st));
  w.Start();
  ASSERT_TRUE(WaitFor([&] { return w.counters().send_errors.load() >= 2; }));
  w.Stop();
  EXPECT_NE(w.last_error().find("connect: "), std::string::npos) << w.last_error();
  EXPECT_FALSE(w.counters().connected.load());
  EXPECT_EQ(st->Cursor(), 0u);
}

// Idle, with nothing to push, the output still notices Loki going away:
// `connected` is not just "not backing off".
TEST(LokiOutput, IdleOutputNoticesTheReceiverGone) {
  auto http = std::make_unique<HttpSink>(std::vector<int>{});
  std::string url = http->url();
  auto st = NewState(0);
  OutputConfig c = LokiConfig(url);
  c.idle_probe_ns = 100'000'000;
  OutputWorker w(c, std::make_unique<FakeReader>(st));
  w.Start();
  ASSERT_TRUE(WaitFor([&] { return w.counters().connected.load(); }));
  http.reset();  // Loki stops: its port refuses
  ASSERT_TRUE(WaitFor([&] { return !w.counters().connected.load(); })) << w.last_error();
  EXPECT_NE(w.last_error().find("connect: "), std::string::npos) << w.last_error();
  w.Stop();
}

// ---- throughput (by hand, Release build) ----

TEST(OutputBench, DISABLED_TcpJsonLinesThroughput) {
  TcpSink sink(0, SIZE_MAX, true, /*keep=*/false);
  auto st = NewState(0);
  st->synthetic = 2'000'000;
  st->line = std::string(100, 'l');
  OutputConfig c = TcpConfig(sink.port());
  c.ack_delay_ns = 0;
  OutputWorker w(c, std::make_unique<FakeReader>(st));
  auto t0 = std::chrono::steady_clock::now();
  w.Start();
  ASSERT_TRUE(WaitFor([&] { return st->Cursor() == st->synthetic; }, 120s));
  double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  w.Stop();
  std::printf("%llu records, %.1f MiB on the wire in %.2f s: %.0f records/s, %.1f MiB/s\n",
              static_cast<unsigned long long>(st->synthetic), static_cast<double>(sink.bytes()) / 1048576.0, s,
              static_cast<double>(st->synthetic) / s, static_cast<double>(sink.bytes()) / 1048576.0 / s);
}

}  // namespace
}  // namespace moor::logship
