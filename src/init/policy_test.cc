#include "init/policy.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cerrno>

namespace moor::init {
namespace {

using std::chrono::milliseconds;
using Clock = Supervisor::Clock;
using Kind = Action::Kind;

TEST(InitPolicy, BlocksForwardableSignalsButNotFaults) {
  sigset_t set = SignalsToBlock();
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD, SIGALRM, SIGTTOU,
                  SIGTSTP, SIGCONT, SIGABRT, SIGRTMIN, SIGRTMAX}) {
    EXPECT_EQ(sigismember(&set, sig), 1) << sig;
  }
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGPIPE, SIGKILL, SIGSTOP}) {
    EXPECT_EQ(sigismember(&set, sig), 0) << sig;
  }
}

TEST(InitPolicy, ExitCodeFollowsTheApp) {
  EXPECT_EQ(ExitCodeForWaitStatus(W_EXITCODE(0, 0)), 0);
  EXPECT_EQ(ExitCodeForWaitStatus(W_EXITCODE(7, 0)), 7);
  EXPECT_EQ(ExitCodeForWaitStatus(W_EXITCODE(255, 0)), 255);
  EXPECT_EQ(ExitCodeForWaitStatus(W_EXITCODE(0, SIGTERM)), 143);
  EXPECT_EQ(ExitCodeForWaitStatus(W_EXITCODE(0, SIGKILL)), 137);
  EXPECT_EQ(ExitCodeForWaitStatus(W_EXITCODE(0, SIGSEGV) | WCOREFLAG), 139);
}

TEST(InitPolicy, ExecErrorsMapLikeAShell) {
  EXPECT_EQ(ExitCodeForExecErrno(ENOENT), 127);
  EXPECT_EQ(ExitCodeForExecErrno(ENOTDIR), 127);
  EXPECT_EQ(ExitCodeForExecErrno(EACCES), 126);
  EXPECT_EQ(ExitCodeForExecErrno(ENOEXEC), 126);
}

TEST(InitPolicy, ForwardsToGroupOrApp) {
  EXPECT_EQ(ForwardTarget(42, true), -42);
  EXPECT_EQ(ForwardTarget(42, false), 42);
}

TEST(InitSupervisor, ReapsOnSigchldAndForwardsEverythingElse) {
  Supervisor s(100, /*group=*/true, std::nullopt);
  auto now = Clock::now();
  EXPECT_EQ(s.OnSignal(SIGCHLD, now), (Action{Kind::kReap}));
  for (int sig : {SIGTERM, SIGINT, SIGQUIT, SIGWINCH, SIGRTMIN}) {
    EXPECT_EQ(s.OnSignal(sig, now), (Action{Kind::kSignal, -100, sig})) << sig;
  }
  // Reload signals go to the app's master process alone: a group-wide SIGUSR2
  // would kill php-fpm's workers in the middle of their requests.
  for (int sig : {SIGHUP, SIGUSR1, SIGUSR2}) {
    EXPECT_EQ(s.OnSignal(sig, now), (Action{Kind::kSignal, 100, sig})) << sig;
  }
  Supervisor only_app(100, /*group=*/false, std::nullopt);
  EXPECT_EQ(only_app.OnSignal(SIGTERM, now), (Action{Kind::kSignal, 100, SIGTERM}));
}

TEST(InitSupervisor, WithoutGraceNeverTimesOut) {
  Supervisor s(100, true, std::nullopt);
  auto now = Clock::now();
  s.OnSignal(SIGTERM, now);
  EXPECT_FALSE(s.WaitBudget(now));
  EXPECT_EQ(s.OnTimeout(now + std::chrono::hours(1)), Action{});
}

TEST(InitSupervisor, GraceStartsAtFirstSigtermAndKillsOnce) {
  Supervisor s(100, true, milliseconds(2000));
  auto t0 = Clock::now();
  s.OnSignal(SIGINT, t0);
  EXPECT_FALSE(s.WaitBudget(t0)) << "only SIGTERM starts the grace period";

  s.OnSignal(SIGTERM, t0);
  EXPECT_EQ(s.WaitBudget(t0), Clock::duration(milliseconds(2000)));
  s.OnSignal(SIGTERM, t0 + milliseconds(1500));  // a second SIGTERM does not extend it
  EXPECT_EQ(s.WaitBudget(t0 + milliseconds(1500)), Clock::duration(milliseconds(500)));
  EXPECT_EQ(s.OnTimeout(t0 + milliseconds(1999)), Action{});
  EXPECT_EQ(s.WaitBudget(t0 + milliseconds(2500)), Clock::duration::zero());

  EXPECT_EQ(s.OnTimeout(t0 + milliseconds(2000)), (Action{Kind::kSignal, -100, SIGKILL}));
  EXPECT_FALSE(s.WaitBudget(t0 + milliseconds(2000)));
  EXPECT_EQ(s.OnTimeout(t0 + milliseconds(9000)), Action{});
  s.OnSignal(SIGTERM, t0 + milliseconds(9000));
  EXPECT_FALSE(s.WaitBudget(t0 + milliseconds(9000))) << "SIGKILL is sent at most once";
}

TEST(InitSupervisor, GraceKillRespectsNoGroup) {
  Supervisor s(100, false, milliseconds(0));
  auto t0 = Clock::now();
  s.OnSignal(SIGTERM, t0);
  EXPECT_EQ(s.OnTimeout(t0), (Action{Kind::kSignal, 100, SIGKILL}));
}

}  // namespace
}  // namespace moor::init
