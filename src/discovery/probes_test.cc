#include "discovery/probes.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "discovery/dial.h"
#include "discovery/probe_test_servers.h"

extern char** environ;

namespace moor::discovery {
namespace {

using testing::Exit;
using testing::FakeOps;
using testing::FastCgiResponder;
using testing::HttpResponder;
using testing::HungServer;

CheckDef Def(std::string type, std::string target) {
  CheckDef d;
  d.id = "c1";
  d.type = std::move(type);
  d.target = std::move(target);
  d.timeout_ns = 2'000'000'000;
  return d;
}

TEST(FormatDuration, Readable) {
  EXPECT_EQ(FormatDurationNs(5'000'000'000), "5s");
  EXPECT_EQ(FormatDurationNs(1'500'000'000), "1.5s");
  EXPECT_EQ(FormatDurationNs(250'000'000), "250ms");
  EXPECT_EQ(FormatDurationNs(10'000), "10us");
  EXPECT_EQ(FormatDurationNs(0), "0ns");
}

TEST(TcpProbe, PassesWhenSomethingListens) {
  HungServer server;
  CheckResult r = RunProbe(Def("tcp", server.addr()), nullptr);
  EXPECT_EQ(r.status, Health::kPassing);
  EXPECT_EQ(r.output, "TCP connect " + server.addr() + ": ok");
}

TEST(TcpProbe, RefusedIsCritical) {
  std::string addr = "127.0.0.1:" + std::to_string(testing::UnusedPort());
  CheckResult r = RunProbe(Def("tcp", addr), nullptr);
  EXPECT_EQ(r.status, Health::kCritical);
  EXPECT_EQ(r.output, "dial tcp " + addr + ": connection refused");
}

TEST(TcpProbe, BadAddress) {
  CheckResult r = RunProbe(Def("tcp", "no-port"), nullptr);
  EXPECT_EQ(r.status, Health::kCritical);
  EXPECT_EQ(r.output, "dial tcp no-port: address must be HOST:PORT");
}

TEST(HttpProbe, OkPasses) {
  HttpResponder server(200, "OK", "healthy");
  CheckDef d = Def("http", server.url("/health"));
  d.headers["X-Probe"] = "moor";
  CheckResult r = RunProbe(d, nullptr);
  EXPECT_EQ(r.status, Health::kPassing);
  EXPECT_EQ(r.output, "HTTP GET " + server.url("/health") + ": 200 OK");
  auto reqs = server.requests();
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_TRUE(reqs[0].starts_with("GET /health HTTP/1.1\r\n")) << reqs[0];
  EXPECT_NE(reqs[0].find("X-Probe: moor\r\n"), std::string::npos) << reqs[0];
  EXPECT_NE(reqs[0].find("User-Agent: moor health check\r\n"), std::string::npos) << reqs[0];
}

TEST(HttpProbe, ServerErrorIsCriticalWithBody) {
  HttpResponder server(503, "Service Unavailable", "db down\n");
  CheckResult r = RunProbe(Def("http", server.url("/")), nullptr);
  EXPECT_EQ(r.status, Health::kCritical);
  EXPECT_EQ(r.output, "HTTP GET " + server.url("/") + ": 503 Service Unavailable: db down");
}

TEST(HttpProbe, TooManyRequestsWarns) {
  HttpResponder server(429, "Too Many Requests", "");
  CheckResult r = RunProbe(Def("http", server.url("/")), nullptr);
  EXPECT_EQ(r.status, Health::kWarning);
  EXPECT_EQ(r.output, "HTTP GET " + server.url("/") + ": 429 Too Many Requests");
}

TEST(HttpProbe, ExpectStatus) {
  HttpResponder server(204, "No Content", "");
  CheckDef d = Def("http", server.url("/"));
  d.expect_status = 200;
  EXPECT_EQ(RunProbe(d, nullptr).status, Health::kCritical);
  d.expect_status = 204;
  EXPECT_EQ(RunProbe(d, nullptr).status, Health::kPassing);
}

TEST(HttpProbe, BodyMatch) {
  HttpResponder server(200, "OK", "{\"status\":\"ok\"}");
  CheckDef d = Def("http", server.url("/"));
  d.body_match = "\"status\":\"ok\"";
  EXPECT_EQ(RunProbe(d, nullptr).status, Health::kPassing);
  d.body_match = "ready";
  CheckResult r = RunProbe(d, nullptr);
  EXPECT_EQ(r.status, Health::kCritical);
  EXPECT_EQ(r.output, "HTTP GET " + server.url("/") + ": 200 OK, body does not contain \"ready\": {\"status\":\"ok\"}");
}

TEST(HttpProbe, RefusedIsCritical) {
  std::string url = "http://127.0.0.1:" + std::to_string(testing::UnusedPort()) + "/";
  CheckResult r = RunProbe(Def("http", url), nullptr);
  EXPECT_EQ(r.status, Health::kCritical);
  EXPECT_EQ(r.output, "HTTP GET " + url + ": connect: connection refused");
}

TEST(HttpProbe, TimesOut) {
  HungServer server;
  CheckDef d = Def("http", "http://" + server.addr() + "/");
  d.timeout_ns = 300'000'000;
  CheckResult r = RunProbe(d, nullptr);
  EXPECT_EQ(r.status, Health::kCritical);
  EXPECT_EQ(r.output, "HTTP GET " + d.target + ": timed out after 300ms");
}

TEST(HttpProbe, StopEndsAHungRequestAtOnce) {
  HungServer server;
  CheckDef d = Def("http", "http://" + server.addr() + "/");
  d.timeout_ns = 10'000'000'000;
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    stop.request_stop();
  });
  auto start = std::chrono::steady_clock::now();
  CheckResult r = RunProbe(d, nullptr, stop.get_token());
  auto took = std::chrono::steady_clock::now() - start;
  stopper.join();
  EXPECT_EQ(r.status, Health::kCritical);
  EXPECT_LT(took, std::chrono::seconds(5));  // vs. the 10 s timeout
}

TEST(FastCgiProbe, PingPasses) {
  FastCgiResponder app("Content-Type: text/plain\r\n\r\npong");
  CheckDef d = Def("fastcgi", app.addr());
  d.path = "/ping";
  CheckResult r = RunProbe(d, nullptr);
  EXPECT_EQ(r.status, Health::kPassing);
  EXPECT_EQ(r.output, "FastCGI /ping: 200 pong");
  d.body_match = "pong";
  EXPECT_EQ(RunProbe(d, nullptr).status, Health::kPassing);
  d.body_match = "ready";
  EXPECT_EQ(RunProbe(d, nullptr).status, Health::kCritical);
}

TEST(FastCgiProbe, NotFoundIsCritical) {
  FastCgiResponder app("Status: 404 Not Found\r\n\r\nFile not found.\n", "Primary script unknown");
  CheckDef d = Def("fastcgi", app.addr());
  d.path = "/missing.php";
  CheckResult r = RunProbe(d, nullptr);
  EXPECT_EQ(r.status, Health::kCritical);
  EXPECT_EQ(r.output, "FastCGI /missing.php: 404 File not found. (Primary script unknown)");
}

TEST(FastCgiProbe, RefusedIsCritical) {
  std::string addr = "127.0.0.1:" + std::to_string(testing::UnusedPort());
  CheckDef d = Def("fastcgi", addr);
  d.path = "/ping";
  CheckResult r = RunProbe(d, nullptr);
  EXPECT_EQ(r.status, Health::kCritical);
  EXPECT_EQ(r.output, "FastCGI /ping: dial tcp " + addr + ": connection refused");
}

CheckDef ExecDef() {
  CheckDef d = Def("exec", "");
  d.args = {"/bin/check", "--quick"};
  d.container_id = "abc123";
  return d;
}

TEST(ExecProbe, ExitCodesFollowConsul) {
  FakeOps ops({Exit(0, "all good\n"), Exit(1, "slow"), Exit(2, ""), Exit(137)});
  CheckDef d = ExecDef();
  CheckResult r = RunProbe(d, &ops);
  EXPECT_EQ(r.status, Health::kPassing);
  EXPECT_EQ(r.output, "all good");
  EXPECT_EQ(ops.last_argv(), d.args);
  EXPECT_EQ(ops.last_container(), "abc123");
  r = RunProbe(d, &ops);
  EXPECT_EQ(r.status, Health::kWarning);
  EXPECT_EQ(r.output, "slow");
  r = RunProbe(d, &ops);
  EXPECT_EQ(r.status, Health::kCritical);
  EXPECT_EQ(r.output, "exec /bin/check: exit status 2");
}

TEST(ExecProbe, TimeoutAndErrors) {
  ExecOutcome timed_out = Exit(137);
  timed_out.timed_out = true;
  FakeOps ops({timed_out, Result<ExecOutcome>(FailInvalid("container abc123 is not running"))});
  CheckDef d = ExecDef();
  CheckResult r = RunProbe(d, &ops);
  EXPECT_EQ(r.status, Health::kCritical);
  EXPECT_EQ(r.output, "exec /bin/check: timed out after 2s");
  r = RunProbe(d, &ops);
  EXPECT_EQ(r.status, Health::kCritical);
  EXPECT_EQ(r.output, "exec /bin/check: container abc123 is not running");
  EXPECT_EQ(RunProbe(d, nullptr).status, Health::kCritical);
}

// ---- real servers ----

struct Child {
  pid_t pid = -1;
  ~Child() { Stop(); }
  void Stop() {
    if (pid <= 0) return;
    ::kill(pid, SIGTERM);
    int st;
    ::waitpid(pid, &st, 0);
    pid = -1;
  }
};

// Starts argv with stdout/stderr to `log`.
pid_t Spawn(const std::vector<std::string>& argv, const std::string& log) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  if (posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&fa);
  return pid;
}

bool WaitListening(const std::string& addr) {
  for (int i = 0; i < 100; ++i) {
    if (DialTcp(addr, DeadlineAfter(100'000'000), 100'000'000)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

std::string TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "moor-probe-XXXXXX").string();
  return ::mkdtemp(tmpl.data()) ? tmpl : "";
}

TEST(RealPhpFpm, PingPassesAndMissingScriptIsCritical) {
  const char* fpm = "/usr/sbin/php-fpm8.2";
  if (::access(fpm, X_OK) != 0) GTEST_SKIP() << "php-fpm8.2 not installed";
  if (::geteuid() != 0) GTEST_SKIP() << "needs root (php-fpm -R runs the pool as root)";
  std::string dir = TempDir();
  ASSERT_FALSE(dir.empty());
  std::string addr = "127.0.0.1:" + std::to_string(testing::UnusedPort());
  std::ofstream(dir + "/php-fpm.conf") << "[global]\n"
                                       << "pid = " << dir << "/fpm.pid\n"
                                       << "error_log = " << dir << "/fpm.log\n"
                                       << "daemonize = no\n"
                                       << "[www]\n"
                                       << "user = root\ngroup = root\n"
                                       << "listen = " << addr << "\n"
                                       << "pm = static\npm.max_children = 1\n"
                                       << "ping.path = /ping\nping.response = pong\n";
  Child fpm_proc;
  fpm_proc.pid = Spawn({fpm, "-F", "-n", "-R", "-y", dir + "/php-fpm.conf"}, dir + "/out.log");
  ASSERT_GT(fpm_proc.pid, 0);
  ASSERT_TRUE(WaitListening(addr)) << "php-fpm did not listen on " << addr << " (see " << dir << ")";

  CheckDef d = Def("fastcgi", addr);
  d.path = "/ping";
  CheckResult r = RunProbe(d, nullptr);
  EXPECT_EQ(r.status, Health::kPassing) << r.output;
  EXPECT_EQ(r.output, "FastCGI /ping: 200 pong");

  d.path = "/nonexistent/missing.php";
  r = RunProbe(d, nullptr);
  EXPECT_EQ(r.status, Health::kCritical) << r.output;
  EXPECT_TRUE(r.output.starts_with("FastCGI /nonexistent/missing.php: 404")) << r.output;

  fpm_proc.Stop();
  std::filesystem::remove_all(dir);
}

TEST(RealTls, HttpsWithSkipVerify) {
  const char* openssl = "/usr/bin/openssl";
  if (::access(openssl, X_OK) != 0) GTEST_SKIP() << "openssl not installed";
  std::string dir = TempDir();
  ASSERT_FALSE(dir.empty());
  std::string cmd = std::string(openssl) + " req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 " +
                    "-subj /CN=localhost -keyout " + dir + "/key.pem -out " + dir + "/cert.pem >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0);
  int port = testing::UnusedPort();
  std::string addr = "127.0.0.1:" + std::to_string(port);
  Child server;
  server.pid = Spawn({openssl, "s_server", "-accept", addr, "-cert", dir + "/cert.pem", "-key", dir + "/key.pem",
                      "-www", "-quiet"},
                     dir + "/out.log");
  ASSERT_GT(server.pid, 0);
  ASSERT_TRUE(WaitListening(addr));

  CheckDef d = Def("http", "https://" + addr + "/");
  CheckResult r = RunProbe(d, nullptr);
  EXPECT_EQ(r.status, Health::kCritical) << "self-signed must fail verification: " << r.output;
  d.tls_skip_verify = true;
  r = RunProbe(d, nullptr);
  EXPECT_EQ(r.status, Health::kPassing) << r.output;
  EXPECT_TRUE(r.output.starts_with("HTTP GET https://" + addr + "/: 200")) << r.output;

  server.Stop();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace moor::discovery
