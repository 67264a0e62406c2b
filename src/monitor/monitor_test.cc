// The monitor process end to end, with a fake OCI runtime: a shell script
// that records its argv, writes its own pid to --pid-file and execs
// BUNDLE/cmd, so each test decides what the "container" does.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "common/file.h"
#include "common/strings.h"
#include "common/testing/child.h"
#include "monitor/log_file.h"
#include "monitor/monitor_config.h"
#include "monitor/test_util.h"

namespace moor::monitor {
namespace {

using nlohmann::json;
using testing::TempDir;
using testing::WaitFor;

constexpr char kFakeRuntime[] = R"(#!/bin/sh
echo "$@" > "$(dirname "$0")/argv"
while [ $# -gt 0 ]; do
  case "$1" in
    run) shift ;;
    --bundle) bundle=$2; shift 2 ;;
    --pid-file) pidfile=$2; shift 2 ;;
    --console-socket) shift 2 ;;
    *) id=$1; shift ;;
  esac
done
if [ -e "$bundle/fail" ]; then echo "creating container: bad bundle $id" >&2; exit 1; fi
echo $$ > "$pidfile"
exec /bin/sh "$bundle/cmd"
)";

class MonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // The detached monitor becomes our child, so the test can wait for it.
    ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
    ASSERT_FALSE(tmp_.path().empty());
    dir_ = tmp_.path() + "/run";
    bundle_ = tmp_.path() + "/bundle";
    ASSERT_TRUE(MkdirAll(dir_));
    ASSERT_TRUE(MkdirAll(bundle_));
    ASSERT_TRUE(WriteFileAtomic(tmp_.path() + "/runtime.sh", kFakeRuntime));
  }

  void TearDown() override {
    if (monitor_pid_ > 0 && !exited_) {
      ::kill(monitor_pid_, SIGKILL);
      ::waitpid(monitor_pid_, nullptr, 0);
    }
    // Orphans of the fake containers were reparented to us: reap them.
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
  }

  MonitorConfig Config(const std::string& cmd) {
    EXPECT_TRUE(WriteFileAtomic(bundle_ + "/cmd", cmd));
    MonitorConfig c;
    c.id = "c1";
    c.dir = dir_;
    c.runtime = {"/bin/sh", tmp_.path() + "/runtime.sh"};
    c.bundle = bundle_;
    c.log_path = dir_ + "/c1-json.log";
    return c;
  }

  void Start(const MonitorConfig& c) {
    std::string path = tmp_.path() + "/monitor.json";
    ASSERT_TRUE(WriteFileAtomic(path, *MonitorConfigToJson(c)));
    auto r = moor::testing::RunInChild([&](int) { return MonitorMain(path); });
    ASSERT_EQ(r.code, 0) << r.out;
    // Ready means: pid file written and the socket listening.
    // (state.json rather than monitor.pid: a monitor whose container failed at
    // once may already be gone and have removed its pid file.)
    monitor_pid_ = State().monitor_pid;
    ASSERT_GT(monitor_pid_, 0);
  }

  // Waits for the monitor process to end; its exit code.
  int WaitExit(int timeout_ms = 20000) {
    int status = -1;
    bool done =
        WaitFor([&] { return ::waitpid(monitor_pid_, &status, WNOHANG) == monitor_pid_; }, timeout_ms);
    if (!done) return -1;
    exited_ = true;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  MonitorState State() {
    auto s = ReadMonitorState(dir_);
    return s ? *s : MonitorState{};
  }

  bool WaitStatus(const std::string& status, int timeout_ms = 10000) {
    return WaitFor([&] { return State().status == status; }, timeout_ms);
  }

  std::vector<LogEntry> Logs() {
    std::vector<LogEntry> out;
    (void)ReadLogs(
        dir_ + "/c1-json.log", 1, {},
        [&](const LogEntry& e) {
          out.push_back(e);
          return true;
        },
        [] { return true; });
    return out;
  }

  TempDir tmp_;
  std::string dir_, bundle_;
  pid_t monitor_pid_ = -1;
  bool exited_ = false;
};

// Reads from fd until EOF or timeout.
std::string ReadUntilEof(int fd, int timeout_ms = 10000) {
  std::string out;
  char buf[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return out + "<timeout>";
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

std::string Frame(char stream, std::string_view payload) {
  std::string f(8, '\0');
  f[0] = stream;
  f[7] = static_cast<char>(payload.size());
  return f + std::string(payload);
}

TEST_F(MonitorTest, RunsLogsAndStopKillsAfterTimeout) {
  Start(Config("trap '' TERM\necho one\necho two >&2\necho three\nwhile :; do sleep 0.05; done\n"));
  ASSERT_TRUE(WaitStatus("running"));
  MonitorState s = State();
  EXPECT_GT(s.pid, 0);
  EXPECT_EQ(s.monitor_pid, monitor_pid_);
  EXPECT_EQ(s.started_at.size(), 30u);
  ASSERT_TRUE(WaitFor([&] { return Logs().size() == 3; }));
  // Order holds per stream (two pipes: no order between them, as in Docker).
  std::string out, err;
  for (const auto& e : Logs()) (e.stream == "stdout" ? out : err) += e.text;
  EXPECT_EQ(out, "one\nthree\n");
  EXPECT_EQ(err, "two\n");
  auto argv = ReadFile(tmp_.path() + "/argv");
  ASSERT_TRUE(argv);
  EXPECT_EQ(*argv, "run --bundle " + bundle_ + " --pid-file " + dir_ + "/pid c1\n");

  auto state = MonitorRequest(dir_, R"({"op":"state"})", 10000);
  ASSERT_TRUE(state) << state.error().message();
  EXPECT_EQ(json::parse(*state)["status"], "running");

  timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  auto answer = MonitorRequest(dir_, R"({"op":"stop","signal":15,"timeout":1})", 10000);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  ASSERT_TRUE(answer) << answer.error().message();
  auto j = json::parse(*answer);
  EXPECT_EQ(j["status"], "exited");
  EXPECT_EQ(j["exit_code"], 137);  // TERM ignored: killed after the timeout
  EXPECT_EQ(j["manually_stopped"], true);
  EXPECT_GE((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000, 900);
  EXPECT_EQ(WaitExit(), 0);
  s = State();
  EXPECT_EQ(s.status, "exited");
  EXPECT_EQ(s.exit_code, 137);
  EXPECT_EQ(s.pid, 0);
  EXPECT_FALSE(s.finished_at.empty());
  EXPECT_FALSE(PathExists(dir_ + "/monitor.sock"));
}

TEST_F(MonitorTest, OnFailureRestartsUpToMaxRetries) {
  MonitorConfig c = Config("echo run >> " + bundle_ + "/count\nexit 3\n");
  c.restart.name = "on-failure";
  c.restart.max_retries = 2;
  Start(c);
  EXPECT_EQ(WaitExit(), 0);
  auto count = ReadFile(bundle_ + "/count");
  ASSERT_TRUE(count);
  EXPECT_EQ(*count, "run\nrun\nrun\n");
  MonitorState s = State();
  EXPECT_EQ(s.status, "exited");
  EXPECT_EQ(s.restart_count, 2);
  EXPECT_EQ(s.exit_code, 3);
  EXPECT_FALSE(s.manually_stopped);
  EXPECT_EQ(Logs().size(), 0u);
}

TEST_F(MonitorTest, SubscribeReceivesEvents) {
  // First run waits for "go", then fails; the one restart fails at once.
  MonitorConfig c = Config("while [ ! -e " + bundle_ + "/go ]; do sleep 0.01; done\nexit 1\n");
  c.restart.name = "on-failure";
  c.restart.max_retries = 1;
  Start(c);
  ASSERT_TRUE(WaitStatus("running"));
  std::string first;
  auto sock = MonitorOpenStream(dir_, R"({"op":"subscribe"})", 10000, &first);
  ASSERT_TRUE(sock) << sock.error().message();
  EXPECT_EQ(first, R"({"ok":true})");
  ASSERT_TRUE(WriteFileAtomic(bundle_ + "/go", ""));
  std::string events = ReadUntilEof(sock->get());
  std::vector<std::string> names;
  for (const auto& line : Split(Trim(events), '\n')) {
    auto j = json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    names.push_back(j["event"]);
    if (j["event"] == "die") {
      EXPECT_EQ(j["exit_code"], 1);
    }
    if (j["event"] == "restart") {
      EXPECT_EQ(j["restart_count"], 1);
      EXPECT_EQ(j["delay_ms"], 100);
    }
    if (j["event"] == "start") {
      EXPECT_GT(j["pid"].get<int>(), 0);
    }
  }
  EXPECT_EQ(names, (std::vector<std::string>{"die", "restart", "start", "die", "exit"}));
  EXPECT_EQ(WaitExit(), 0);
}

TEST_F(MonitorTest, AttachMultiplexesOutputAndFeedsStdin) {
  MonitorConfig c = Config("cat\necho bye >&2\nexit 4\n");
  c.open_stdin = true;
  Start(c);
  ASSERT_TRUE(WaitStatus("running"));
  std::string first;
  auto sock =
      MonitorOpenStream(dir_, R"({"op":"attach","stdin":true,"stdout":true,"stderr":true})", 10000, &first);
  ASSERT_TRUE(sock) << sock.error().message();
  EXPECT_EQ(first, R"({"ok":true})");
  ASSERT_EQ(::write(sock->get(), "hello\n", 6), 6);
  // Closing our write side closes the container's stdin: cat ends.
  ASSERT_EQ(::shutdown(sock->get(), SHUT_WR), 0);
  std::string got = ReadUntilEof(sock->get());
  EXPECT_EQ(got, Frame(1, "hello\n") + Frame(2, "bye\n"));
  EXPECT_EQ(WaitExit(), 0);
  EXPECT_EQ(State().exit_code, 4);
  auto logs = Logs();
  ASSERT_EQ(logs.size(), 2u);
  EXPECT_EQ(logs[0].text, "hello\n");
}

TEST_F(MonitorTest, SlowAndVanishingClientsNeverStallTheContainer) {
  MonitorConfig c = Config("while [ ! -e " + bundle_ + "/go ]; do sleep 0.01; done\nseq 1 200000\n");
  Start(c);
  ASSERT_TRUE(WaitStatus("running"));
  std::string first;
  // One attach client never reads; another (the daemon) goes away at once.
  auto stuck = MonitorOpenStream(dir_, R"({"op":"attach","stdout":true})", 10000, &first);
  ASSERT_TRUE(stuck);
  int small = 4096;
  ::setsockopt(stuck->get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  {
    auto gone = MonitorOpenStream(dir_, R"({"op":"attach","stdout":true})", 10000, &first);
    ASSERT_TRUE(gone);
    auto sub = MonitorOpenStream(dir_, R"({"op":"subscribe"})", 10000, &first);
    ASSERT_TRUE(sub);
  }
  ASSERT_TRUE(WriteFileAtomic(bundle_ + "/go", ""));
  EXPECT_EQ(WaitExit(30000), 0);
  EXPECT_EQ(State().exit_code, 0);
  auto logs = Logs();
  ASSERT_EQ(logs.size(), 200000u);
  for (size_t i = 0; i < logs.size(); ++i) ASSERT_EQ(logs[i].text, std::to_string(i + 1) + "\n") << i;
}

TEST_F(MonitorTest, KillCountsAsManualStopEvenWithAlways) {
  MonitorConfig c = Config("while :; do sleep 0.05; done\n");
  c.restart.name = "always";
  Start(c);
  ASSERT_TRUE(WaitStatus("running"));
  auto ok = MonitorRequest(dir_, R"({"op":"kill","signal":9})", 10000);
  ASSERT_TRUE(ok) << ok.error().message();
  EXPECT_EQ(*ok, R"({"ok":true})");
  EXPECT_EQ(WaitExit(), 0);
  MonitorState s = State();
  EXPECT_EQ(s.exit_code, 137);
  EXPECT_TRUE(s.manually_stopped);
  EXPECT_EQ(s.restart_count, 0);
  EXPECT_FALSE(s.oom_killed);
}

TEST_F(MonitorTest, OomKillIsDetected) {
  std::string events = bundle_ + "/memory.events";
  ASSERT_TRUE(WriteFileAtomic(events, "oom 0\noom_kill 0\n"));
  MonitorConfig c = Config("printf 'oom 1\\noom_kill 1\\n' > " + events + "\nkill -9 $$\n");
  c.oom_file = events;
  Start(c);
  EXPECT_EQ(WaitExit(), 0);
  MonitorState s = State();
  EXPECT_EQ(s.exit_code, 137);
  EXPECT_TRUE(s.oom_killed);
  EXPECT_FALSE(s.manually_stopped);
}

TEST_F(MonitorTest, RuntimeFailureIsReported) {
  ASSERT_TRUE(WriteFileAtomic(bundle_ + "/fail", ""));
  Start(Config("exit 0\n"));
  EXPECT_EQ(WaitExit(), 0);
  MonitorState s = State();
  EXPECT_EQ(s.status, "exited");
  EXPECT_EQ(s.exit_code, 1);
  EXPECT_EQ(s.error, "creating container: bad bundle c1");
}

TEST_F(MonitorTest, BadRequestsGetOneLineErrors) {
  Start(Config("while :; do sleep 0.05; done\n"));
  ASSERT_TRUE(WaitStatus("running"));
  auto r = MonitorRequest(dir_, R"({"op":"dance"})", 10000);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "unknown op \"dance\"");
  r = MonitorRequest(dir_, "not json", 10000);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("bad request"), std::string::npos);
  r = MonitorRequest(dir_, R"({"op":"resize","height":10,"width":10})", 10000);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("no TTY"), std::string::npos);
  auto stopped = MonitorRequest(dir_, R"({"op":"stop","timeout":5})", 10000);
  ASSERT_TRUE(stopped);
  EXPECT_EQ(json::parse(*stopped)["exit_code"], 143);  // sh dies of TERM
  EXPECT_EQ(WaitExit(), 0);
  auto gone = MonitorRequest(dir_, R"({"op":"state"})", 2000);
  EXPECT_FALSE(gone);
}

TEST(MonitorMain, BadConfigFailsWithOneLine) {
  TempDir tmp;
  std::string path = tmp.path() + "/monitor.json";
  ASSERT_TRUE(WriteFileAtomic(path, R"({"id":"x","dir":"relative","runtime":["r"],"bundle":"/b"})"));
  auto r = moor::testing::RunInChild([&](int out) {
    ::dup2(out, 2);
    return MonitorMain(path);
  });
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.out, "moor monitor: monitor config: dir must be an absolute path\n");
}

TEST(MonitorConfig, JsonRoundTripAndValidation) {
  MonitorConfig c;
  c.id = "abc";
  c.dir = "/run/moor/abc";
  c.runtime = {"/usr/bin/moor-runtime", "--root", "/run/moor/runtime"};
  c.bundle = "/var/lib/moor/abc";
  c.log_path = "/var/lib/moor/abc/abc-json.log";
  c.log_max_size = 1 << 20;
  c.log_max_files = 3;
  c.tty = true;
  c.open_stdin = true;
  c.restart = {"on-failure", 5};
  c.ports.push_back({7, false, "10.88.0.2", 80});
  c.oom_file = "/sys/fs/cgroup/x/memory.events";
  c.stop_signal = 2;
  auto back = MonitorConfigFromJson(*MonitorConfigToJson(c));
  ASSERT_TRUE(back) << back.error().message();
  EXPECT_EQ(back->runtime, c.runtime);
  EXPECT_EQ(back->restart.max_retries, 5);
  ASSERT_EQ(back->ports.size(), 1u);
  EXPECT_EQ(back->ports[0].backend_ip, "10.88.0.2");
  EXPECT_EQ(back->ports[0].fd, 7);
  EXPECT_TRUE(back->tty);
  EXPECT_EQ(back->log_max_files, 3);
  EXPECT_EQ(back->stop_signal, 2);

  auto bad = MonitorConfigFromJson(R"({"id":"x","dir":"/d","runtime":["r"],"bundle":"/b",
                                       "restart":{"name":"sometimes"}})");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("restart.name"), std::string::npos);
  EXPECT_FALSE(MonitorConfigFromJson("{"));
  EXPECT_FALSE(MonitorConfigFromJson(R"({"id":"x"})"));
}

TEST(MonitorState, JsonRoundTrip) {
  MonitorState s;
  s.status = "running";
  s.pid = 42;
  s.monitor_pid = 41;
  s.restart_count = 3;
  s.started_at = "2026-11-27T10:00:00.000000001Z";
  s.error = "bad \xff byte";
  auto back = MonitorStateFromJson(*MonitorStateToJson(s));
  ASSERT_TRUE(back);
  EXPECT_EQ(back->pid, 42);
  EXPECT_EQ(back->restart_count, 3);
  EXPECT_EQ(back->started_at, s.started_at);
  EXPECT_FALSE(MonitorStateFromJson("{}"));
  EXPECT_FALSE(ReadMonitorState("/nonexistent-moor"));
}

}  // namespace
}  // namespace moor::monitor
