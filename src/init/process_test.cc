// Runs the real moor-init binary (with -s, as a child subreaper) against
// small /bin/sh apps. No root needed.
#include <fcntl.h>
#include <pty.h>
#include <signal.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>

#include "init/process_harness.h"

namespace moor::init {
namespace {

using namespace testing;  // NOLINT: test helpers
using std::chrono::milliseconds;

// App line that reports readiness and its pid, then runs until signalled.
constexpr const char* kReadyLoop = "echo app-ready $$; while :; do sleep 0.1; done";

class InitProcessTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (pid_t g : app_groups_) kill(-g, SIGKILL);
    if (init_.pid > 0 && !reaped_) {
      kill(init_.pid, SIGKILL);
      waitpid(init_.pid, nullptr, 0);
    }
  }

  void Start(const std::vector<std::string>& args, const std::function<void()>& setup = {}) {
    init_ = StartInit(args, setup);
    reaped_ = false;
    out_.clear();
    ASSERT_GT(init_.pid, 0);
  }

  // Reads "ready PID" from the app; returns PID (also its process group).
  pid_t WaitReady() {
    EXPECT_TRUE(ReadUntil(init_.out.get(), out_, {"app-ready "})) << "app never got ready; stdout: " << out_;
    size_t at = out_.find("app-ready ");
    if (at == std::string::npos) return -1;
    EXPECT_TRUE(ReadUntil(init_.out.get(), out_, {"\n"}));
    size_t end = out_.find('\n', at);
    auto pid = ParseInt(std::string_view(out_).substr(at + 10, end - at - 10));
    EXPECT_TRUE(pid) << out_;
    if (!pid) return -1;
    app_groups_.push_back(static_cast<pid_t>(*pid));
    return static_cast<pid_t>(*pid);
  }

  // Exit code of moor-init, or -1 (with a failure) when it hangs or dies by a signal.
  int ExitCode(Clock::duration timeout = kDeadline) {
    auto status = WaitFor(init_.pid, timeout);
    if (!status) {
      ADD_FAILURE() << "moor-init still running after the deadline";
      return -1;
    }
    reaped_ = true;
    if (!WIFEXITED(*status)) {
      ADD_FAILURE() << "moor-init died by signal " << WTERMSIG(*status);
      return -1;
    }
    return WEXITSTATUS(*status);
  }

  std::string Stderr() { return ReadAll(init_.err.get()); }

  InitProcess init_;
  bool reaped_ = false;
  std::string out_;
  std::vector<pid_t> app_groups_;
};

TEST_F(InitProcessTest, PassesTheExitCodeThrough) {
  Start({"-s", "--", "/bin/sh", "-c", "exit 7"});
  EXPECT_EQ(ExitCode(), 7);
  Start({"-s", "/bin/sh", "-c", "exit 0"});
  EXPECT_EQ(ExitCode(), 0);
}

TEST_F(InitProcessTest, DeathBySignalBecomes128PlusN) {
  Start({"-s", "/bin/sh", "-c", "kill -USR1 $$"});
  EXPECT_EQ(ExitCode(), 128 + SIGUSR1);
  Start({"-s", "/bin/busybox", "sh", "-c", "kill -KILL $$"});
  EXPECT_EQ(ExitCode(), 128 + SIGKILL);
}

class InitForwardTest : public InitProcessTest, public ::testing::WithParamInterface<int> {};

TEST_P(InitForwardTest, SignalReachesAnAppThatTrapsIt) {
  int sig = GetParam();
  std::string name = sigabbrev_np(sig);
  Start({"-s", "/bin/sh", "-c", "trap 'exit 3' " + name + "; " + kReadyLoop});
  ASSERT_GT(WaitReady(), 0);
  auto sent = Clock::now();
  ASSERT_EQ(kill(init_.pid, sig), 0);
  EXPECT_EQ(ExitCode(), 3) << "SIG" << name;
  // The app's loop sleeps 0.1 s; Docker's stop timeout is 10 s.
  EXPECT_LT(Clock::now() - sent, std::chrono::seconds(3));
}

INSTANTIATE_TEST_SUITE_P(Signals, InitForwardTest,
                         ::testing::Values(SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH),
                         [](const auto& p) { return std::string(sigabbrev_np(p.param)); });

TEST_F(InitProcessTest, ReapsOrphanedZombies) {
  char dir[] = "/tmp/moor-init-test-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  std::string go = std::string(dir) + "/go";
  // Three orphans (their parent subshell exits at once) wait for the go file, then exit.
  Start({"-s", "/bin/sh", "-c",
         "for i in 1 2 3; do (sh -c 'while [ ! -e \"$GO\" ]; do sleep 0.02; done' &); done; " +
             std::string(kReadyLoop)},
        [&] { setenv("GO", go.c_str(), 1); });
  pid_t app = WaitReady();
  ASSERT_GT(app, 0);
  auto others = [&] {
    std::vector<ProcEntry> v;
    for (auto& c : ChildrenOf(init_.pid))
      if (c.pid != app) v.push_back(c);
    return v;
  };
  ASSERT_TRUE(PollUntil([&] { return others().size() == 3; })) << "orphans were not re-parented to moor-init";
  ASSERT_TRUE(WriteFileAtomic(go, "go"));
  bool clean = PollUntil([&] { return others().empty(); });
  std::string left;
  for (auto& c : others()) left += std::to_string(c.pid) + ":" + c.state + " ";
  EXPECT_TRUE(clean) << "children of moor-init besides the app remain (pid:state): " << left;
  ASSERT_EQ(kill(init_.pid, SIGTERM), 0);
  EXPECT_EQ(ExitCode(), 128 + SIGTERM);
  (void)RemoveAll(dir);
}

// The app starts a grandchild in its process group that reports SIGTERM and,
// as a probe sent afterwards by the test, SIGWINCH (dash runs pending traps in
// signal-number order, so a pending TERM would be reported first).
constexpr const char* kGrandchild =
    "trap 'echo gc-term; exit 0' TERM; trap 'echo gc-winch; exit 0' WINCH; "
    "echo gc-ready $$; while :; do sleep 0.1; done";

TEST_F(InitProcessTest, SignalsReachTheWholeProcessGroup) {
  Start({"-s", "/bin/sh", "-c", std::string("sh -c \"$GC\" & ") + kReadyLoop},
        [] { setenv("GC", kGrandchild, 1); });
  ASSERT_TRUE(ReadUntil(init_.out.get(), out_, {"gc-ready ", "app-ready "}));
  ASSERT_GT(WaitReady(), 0);
  ASSERT_EQ(kill(init_.pid, SIGTERM), 0);
  EXPECT_EQ(ExitCode(), 128 + SIGTERM);
  EXPECT_TRUE(ReadUntil(init_.out.get(), out_, {"gc-term"})) << out_;
}

TEST_F(InitProcessTest, NoGroupSignalsTheAppOnly) {
  Start({"-s", "--no-group", "/bin/sh", "-c", std::string("sh -c \"$GC\" & ") + kReadyLoop},
        [] { setenv("GC", kGrandchild, 1); });
  ASSERT_TRUE(ReadUntil(init_.out.get(), out_, {"gc-ready ", "app-ready "}));
  ASSERT_GT(WaitReady(), 0);
  size_t at = out_.find("gc-ready ") + 9;
  auto gc = ParseInt(std::string_view(out_).substr(at, out_.find('\n', at) - at));
  ASSERT_TRUE(gc) << out_;
  ASSERT_EQ(kill(init_.pid, SIGTERM), 0);
  EXPECT_EQ(ExitCode(), 128 + SIGTERM);
  ASSERT_EQ(kill(static_cast<pid_t>(*gc), SIGWINCH), 0) << "grandchild should still be running";
  EXPECT_TRUE(ReadUntil(init_.out.get(), out_, {"gc-winch"})) << out_;
  EXPECT_EQ(out_.find("gc-term"), std::string::npos) << out_;
}

TEST_F(InitProcessTest, GraceKillsAnAppThatIgnoresSigterm) {
  Start({"-s", "--grace", "0.3", "/bin/sh", "-c", std::string("trap '' TERM; ") + kReadyLoop});
  ASSERT_GT(WaitReady(), 0);
  auto sent = Clock::now();
  ASSERT_EQ(kill(init_.pid, SIGTERM), 0);
  EXPECT_EQ(ExitCode(), 128 + SIGKILL);
  EXPECT_GE(Clock::now() - sent, milliseconds(300)) << "SIGKILL came before the grace period ended";
}

TEST_F(InitProcessTest, ExecOfAMissingProgramExits127) {
  Start({"-s", "/nonexistent/moor-app"});
  EXPECT_EQ(ExitCode(), 127);
  EXPECT_EQ(Stderr(), "moor-init: exec \"/nonexistent/moor-app\": No such file or directory\n");
  Start({"-s", "moor-no-such-program-in-path"});
  EXPECT_EQ(ExitCode(), 127);
  EXPECT_EQ(Stderr(), "moor-init: exec \"moor-no-such-program-in-path\": No such file or directory\n");
}

TEST_F(InitProcessTest, ExecOfANonExecutableFileExits126) {
  char path[] = "/tmp/moor-init-test-XXXXXX";
  int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  ASSERT_EQ(chmod(path, 0644), 0);
  Start({"-s", path});
  EXPECT_EQ(ExitCode(), 126);
  EXPECT_EQ(Stderr(), "moor-init: exec \"" + std::string(path) + "\": Permission denied\n");
  unlink(path);
}

TEST_F(InitProcessTest, AppGetsDefaultDispositionForSignalsIgnoredByInitsParent) {
  Start({"-s", "/bin/sh", "-c", kReadyLoop}, [] { signal(SIGHUP, SIG_IGN); });
  ASSERT_GT(WaitReady(), 0);
  ASSERT_EQ(kill(init_.pid, SIGHUP), 0);
  EXPECT_EQ(ExitCode(), 128 + SIGHUP);
}

TEST_F(InitProcessTest, AppStartsWithEmptyMaskAndDefaultDispositions) {
  // moor-init's parent blocks SIGTERM and ignores SIGHUP; moor-init itself
  // ignores SIGPIPE. None of it may leak into the app.
  Start({"-s", "/bin/busybox", "sleep", "60"}, [] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    signal(SIGHUP, SIG_IGN);
  });
  pid_t app = -1;
  ASSERT_TRUE(PollUntil([&] {
    for (auto& c : ChildrenOf(init_.pid)) {
      auto cmdline = ReadFile("/proc/" + std::to_string(c.pid) + "/cmdline");
      if (cmdline && StartsWith(*cmdline, std::string_view("/bin/busybox\0sleep", 18))) app = c.pid;
    }
    return app > 0;
  })) << "the app never exec'd";
  app_groups_.push_back(app);
  auto status = ReadFile("/proc/" + std::to_string(app) + "/status");
  ASSERT_TRUE(status);
  EXPECT_NE(status->find("SigBlk:\t0000000000000000\n"), std::string::npos) << *status;
  EXPECT_NE(status->find("SigIgn:\t0000000000000000\n"), std::string::npos) << *status;
  ASSERT_EQ(kill(init_.pid, SIGTERM), 0);
  EXPECT_EQ(ExitCode(), 128 + SIGTERM);
}

TEST_F(InitProcessTest, InheritedIgnoredSigchldDoesNotLoseTheExitCode) {
  Start({"-s", "/bin/sh", "-c", "sleep 0.05; exit 9"}, [] { signal(SIGCHLD, SIG_IGN); });
  EXPECT_EQ(ExitCode(), 9);
}

// The real container case: moor-init is PID 1 of a new PID namespace (no -s).
// The kernel drops signals to a namespace init that it has not blocked or
// handled, and re-parents the namespace's orphans to it. Needs CAP_SYS_ADMIN.
TEST_F(InitProcessTest, AsPid1OfAPidNamespaceItForwardsAndReaps) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to create a PID namespace";
  char dir[] = "/tmp/moor-init-test-XXXXXX";
  ASSERT_TRUE(mkdtemp(dir));
  std::string go = std::string(dir) + "/go";
  Start({"/bin/sh", "-c",
         "for i in 1 2; do (sh -c 'while [ ! -e \"$GO\" ]; do sleep 0.02; done' &); done; "
         "trap 'exit 3' TERM; echo ready $$; while :; do sleep 0.1; done"},
        [&] {
          setenv("GO", go.c_str(), 1);
          if (unshare(CLONE_NEWPID) != 0) _exit(77);
          pid_t pid1 = fork();
          if (pid1 < 0) _exit(78);
          if (pid1 > 0) {  // stays outside and relays moor-init's exit code
            int st = 0;
            waitpid(pid1, &st, 0);
            _exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
          }
          prctl(PR_SET_PDEATHSIG, SIGKILL);  // the whole namespace dies with the test
        });
  if (!ReadUntil(init_.out.get(), out_, {"ready 2\n"})) {
    auto st = WaitFor(init_.pid, std::chrono::seconds(1));
    if (st && WIFEXITED(*st) && WEXITSTATUS(*st) == 77) {
      reaped_ = true;
      GTEST_SKIP() << "cannot create a PID namespace here (unshare CLONE_NEWPID failed)";
    }
    FAIL() << "app did not start as PID 2: " << out_;
  }
  std::vector<ProcEntry> relay_children;
  ASSERT_TRUE(PollUntil([&] { return (relay_children = ChildrenOf(init_.pid)).size() == 1; }));
  pid_t init_pid = relay_children[0].pid;  // moor-init, as seen from outside
  ASSERT_TRUE(PollUntil([&] { return ChildrenOf(init_pid).size() == 3; })) << "orphans not re-parented to PID 1";
  ASSERT_TRUE(WriteFileAtomic(go, "go"));
  EXPECT_TRUE(PollUntil([&] { return ChildrenOf(init_pid).size() == 1; })) << "zombies left under PID 1";
  ASSERT_EQ(kill(init_pid, SIGTERM), 0);
  EXPECT_EQ(ExitCode(), 3) << "SIGTERM from outside the namespace did not reach the app";
  (void)RemoveAll(dir);
}

TEST_F(InitProcessTest, TerminalForegroundIsTheAppSoCtrlCReachesIt) {
  int master = -1, slave = -1;
  ASSERT_EQ(openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  UniqueFd m(master), s(slave);
  Start({"-s", "/bin/sh", "-c", kReadyLoop}, [&] {
    setsid();
    ioctl(slave, TIOCSCTTY, 0);
    dup2(slave, 0);
  });
  s.Reset();
  pid_t app = WaitReady();
  ASSERT_GT(app, 0);
  EXPECT_EQ(tcgetpgrp(m.get()), app);
  ASSERT_EQ(write(m.get(), "\x03", 1), 1);  // ^C: the terminal signals its foreground group
  EXPECT_EQ(ExitCode(), 128 + SIGINT);
}

TEST_F(InitProcessTest, UsageErrorsExit2WithOneLine) {
  Start({"--bogus", "/bin/true"});
  EXPECT_EQ(ExitCode(), 2);
  EXPECT_EQ(Stderr(), "moor-init: unknown option \"--bogus\" (run moor-init --help for usage)\n");
  Start({"-s"});
  EXPECT_EQ(ExitCode(), 2);
  std::string err = Stderr();
  EXPECT_TRUE(StartsWith(err, "moor-init: no program given")) << err;
  EXPECT_EQ(err.find('\n'), err.size() - 1) << err;
}

TEST_F(InitProcessTest, VersionAndVerbose) {
  Start({"--version"});
  EXPECT_EQ(ExitCode(), 0);
  EXPECT_TRUE(StartsWith(ReadAll(init_.out.get()), "moor-init ")) << out_;
  Start({"-s", "-v", "/bin/sh", "-c", "exit 5"});
  EXPECT_EQ(ExitCode(), 5);
  std::string err = Stderr();
  EXPECT_NE(err.find("moor-init: started app \"/bin/sh\" as pid "), std::string::npos) << err;
  EXPECT_NE(err.find("exit code 5"), std::string::npos) << err;
}

}  // namespace
}  // namespace moor::init
