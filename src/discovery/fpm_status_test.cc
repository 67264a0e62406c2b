#include "discovery/fpm_status.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>

#include "discovery/probe_test_servers.h"

namespace moor::discovery {
namespace {

using testing::FastCgiResponder;
using testing::HungServer;

// What PHP-FPM 8.2 prints for GET /status?json (one line, no newline).
constexpr const char* kPage =
    R"({"pool":"www","process manager":"dynamic","start time":1764246000,"start since":3600,)"
    R"("accepted conn":12345,"listen queue":2,"max listen queue":7,"listen queue len":511,)"
    R"("idle processes":3,"active processes":5,"total processes":8,"max active processes":9,)"
    R"("max children reached":4,"slow requests":11})";

TEST(FpmStatus, ParsesEveryField) {
  auto s = ParseFpmStatus(kPage);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->pool, "www");
  EXPECT_EQ(s->process_manager, "dynamic");
  EXPECT_EQ(s->start_since, 3600);
  EXPECT_EQ(s->accepted_conn, 12345);
  EXPECT_EQ(s->listen_queue, 2);
  EXPECT_EQ(s->max_listen_queue, 7);
  EXPECT_EQ(s->listen_queue_len, 511);
  EXPECT_EQ(s->idle_processes, 3);
  EXPECT_EQ(s->active_processes, 5);
  EXPECT_EQ(s->total_processes, 8);
  EXPECT_EQ(s->max_active_processes, 9);
  EXPECT_EQ(s->max_children_reached, 4);
  EXPECT_EQ(s->slow_requests, 11);
}

TEST(FpmStatus, MissingAndMistypedFieldsStayUnknown) {
  auto s = ParseFpmStatus(R"({"pool":"api","accepted conn":"many","active processes":-3,"idle processes":2.0,)"
                          R"("slow requests":null,"extra":{"x":1}})");
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->pool, "api");
  EXPECT_EQ(s->accepted_conn, -1);     // a string
  EXPECT_EQ(s->active_processes, -1);  // negative
  EXPECT_EQ(s->idle_processes, 2);     // a float with a whole value is fine
  EXPECT_EQ(s->slow_requests, -1);     // null
  EXPECT_EQ(s->total_processes, -1);   // absent
  EXPECT_EQ(s->process_manager, "");
  // Counters without a pool name are still a status page.
  auto n = ParseFpmStatus(R"({"active processes":1})");
  ASSERT_TRUE(n);
  EXPECT_EQ(n->pool, "");
  EXPECT_EQ(n->active_processes, 1);
}

TEST(FpmStatus, GarbageIsAnError) {
  for (const char* bad : {"", "pool: www\nactive processes: 1\n", "<html>File not found.</html>", "[1,2]",
                          "\"www\"", "{\"pool\":", "{}", "{\"pool\":7,\"x\":1}", "null"}) {
    auto s = ParseFpmStatus(bad);
    ASSERT_FALSE(s) << "accepted: " << bad;
    EXPECT_EQ(s.error().errnum(), EINVAL);
    EXPECT_NE(s.error().message().find("status page"), std::string::npos) << s.error().message();
    EXPECT_EQ(s.error().message().find('\n'), std::string::npos);
  }
  // Binary garbage is quoted printable and short.
  auto s = ParseFpmStatus(std::string(200, '\x01'));
  ASSERT_FALSE(s);
  EXPECT_LT(s.error().message().size(), 160u);
}

TEST(FpmStatus, FetchOverFastCgi) {
  FastCgiResponder fpm(std::string("Content-Type: application/json\r\n\r\n") + kPage);
  auto s = FetchFpmStatus(fpm.addr(), "/fpm-status", 2'000'000'000);
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->accepted_conn, 12345);
  auto req = fpm.last();
  std::map<std::string, std::string> params(req.params.begin(), req.params.end());
  EXPECT_EQ(params["SCRIPT_NAME"], "/fpm-status");
  EXPECT_EQ(params["QUERY_STRING"], "json");
}

TEST(FpmStatus, FetchErrorsSayWhy) {
  {
    FastCgiResponder fpm("Status: 404 Not Found\r\nContent-Type: text/html\r\n\r\nFile not found.\n");
    auto s = FetchFpmStatus(fpm.addr(), "/status", 2'000'000'000);
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message().find("404"), std::string::npos) << s.error().message();
    EXPECT_NE(s.error().message().find("pm.status_path"), std::string::npos) << s.error().message();
  }
  {
    FastCgiResponder fpm("Content-Type: text/plain\r\n\r\npool: www\n");
    auto s = FetchFpmStatus(fpm.addr(), "/status", 2'000'000'000);
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().message().find(fpm.addr()), std::string::npos) << s.error().message();
  }
  {
    auto s = FetchFpmStatus("127.0.0.1:" + std::to_string(testing::UnusedPort()), "/status", 1'000'000'000);
    ASSERT_FALSE(s);
  }
  {
    HungServer hung;
    auto t0 = std::chrono::steady_clock::now();
    auto s = FetchFpmStatus(hung.addr(), "/status", 200'000'000);
    ASSERT_FALSE(s);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  }
}

// ---- against a real PHP-FPM (Debian's php-fpm8.2), when installed ----------

class RealFpm : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* bin = "/usr/sbin/php-fpm8.2";
    if (access(bin, X_OK) != 0) GTEST_SKIP() << "php-fpm8.2 is not installed";
    char tmpl[] = "/tmp/moor-fpm-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    port_ = testing::UnusedPort();
    addr_ = "127.0.0.1:" + std::to_string(port_);
    std::ofstream(dir_ + "/fpm.conf") << "[global]\nerror_log = " << dir_ << "/error.log\npid = " << dir_
                                      << "/fpm.pid\ndaemonize = no\n[moortest]\nlisten = " << addr_
                                      << "\npm = static\npm.max_children = 2\npm.status_path = /status\n"
                                         "ping.path = /ping\n";
    pid_ = fork();
    ASSERT_GE(pid_, 0);
    if (pid_ == 0) {
      int null = open("/dev/null", O_RDWR);
      dup2(null, 1);
      dup2(null, 2);
      std::string conf = dir_ + "/fpm.conf";
      // -R: tests may run as root; -n: no php.ini, nothing from the host's setup.
      execl(bin, bin, "-n", "-F", "-R", "-p", dir_.c_str(), "-y", conf.c_str(), static_cast<char*>(nullptr));
      _exit(127);
    }
  }
  void TearDown() override {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      int st = 0;
      waitpid(pid_, &st, 0);
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }
  // Polls until the pool answers (it binds a moment after the start).
  Result<FpmStatus> WaitStatus() {
    Result<FpmStatus> s = FailInvalid("not tried");
    for (int i = 0; i < 100; ++i) {
      s = FetchFpmStatus(addr_, "/status", 1'000'000'000);
      if (s) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(30));
    }
    return s;
  }
  std::string dir_, addr_;
  int port_ = 0;
  pid_t pid_ = -1;
};

TEST_F(RealFpm, StatusPageParses) {
  auto s = WaitStatus();
  ASSERT_TRUE(s) << s.error().message();
  EXPECT_EQ(s->pool, "moortest");
  EXPECT_EQ(s->process_manager, "static");
  EXPECT_EQ(s->total_processes, 2);
  // This request is being served by one of the two workers.
  EXPECT_EQ(s->active_processes, 1);
  EXPECT_EQ(s->idle_processes, 1);
  EXPECT_GE(s->accepted_conn, 1);
  EXPECT_EQ(s->listen_queue, 0);
  EXPECT_GE(s->max_listen_queue, 0);
  EXPECT_GT(s->listen_queue_len, 0);
  EXPECT_GE(s->start_since, 0);
  EXPECT_EQ(s->max_children_reached, 0);
  EXPECT_EQ(s->slow_requests, 0);
  // The accepted counter moves with every request.
  auto again = FetchFpmStatus(addr_, "/status", 1'000'000'000);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_EQ(again->accepted_conn, s->accepted_conn + 1);
  // A wrong status path is a 404 from PHP-FPM (no such script): an error, not a crash.
  auto wrong = FetchFpmStatus(addr_, "/nope", 1'000'000'000);
  ASSERT_FALSE(wrong);
  EXPECT_NE(wrong.error().message().find("pm.status_path"), std::string::npos) << wrong.error().message();
}

}  // namespace
}  // namespace moor::discovery
