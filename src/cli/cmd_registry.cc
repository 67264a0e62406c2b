// pull, push, login, logout.
#include <termios.h>
#include <unistd.h>

#include <iostream>

#include "cli/context.h"
#include "image/pull.h"

namespace moor::cli {

Result<int> CmdPull(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"platform", "", true, false}, {"quiet", "q", false, false}}));
  if (a.positional.size() != 1) return FailInvalid("pull: usage: moor pull [--platform P] NAME[:TAG|@DIGEST]");
  image::PullOptions opts;
  if (a.Has("platform")) opts.platform = TRY(image::ParsePlatform(a.Get("platform")));
  auto svc = TRY(OpenImages(g));
  auto progress = image::MakeProgress(STDOUT_FILENO, a.Bool("quiet"));
  auto rec = TRY(image::Pull(svc, a.positional[0], opts, *progress));
  progress->Flush();
  Out(rec.name + "\n");
  return 0;
}

Result<int> CmdPush(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"quiet", "q", false, false}}));
  if (a.positional.size() != 1) return FailInvalid("push: usage: moor push NAME[:TAG]");
  auto svc = TRY(OpenImages(g));
  auto progress = image::MakeProgress(STDOUT_FILENO, a.Bool("quiet"));
  TRY(image::Push(svc, a.positional[0], image::PushOptions{}, *progress));
  progress->Flush();
  return 0;
}

namespace {
// Reads a line from stdin; with `hide`, without echo when stdin is a terminal.
std::string ReadLine(bool hide) {
  termios old {};
  bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &old) == 0;
  if (hide && tty) {
    termios quiet = old;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    tcsetattr(STDIN_FILENO, TCSANOW, &quiet);
  }
  std::string line;
  std::getline(std::cin, line);
  if (hide && tty) {
    tcsetattr(STDIN_FILENO, TCSANOW, &old);
    std::fputs("\n", stderr);
  }
  if (!line.empty() && line.back() == '\r') line.pop_back();
  return line;
}
}  // namespace

Result<int> CmdLogin(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {{"username", "u", true, false},
                                   {"password", "p", true, false},
                                   {"password-stdin", "", false, false}}));
  if (a.positional.size() > 1) return FailInvalid("login: usage: moor login [-u USER] [--password-stdin] [REGISTRY]");
  std::string registry = a.positional.empty() ? "docker.io" : a.positional[0];
  std::string user = a.Get("username");
  std::string pass = a.Get("password");
  if (a.Has("password") && a.Bool("password-stdin")) {
    return FailInvalid("login: --password and --password-stdin are mutually exclusive");
  }
  if (a.Has("password")) std::fputs("WARNING! Using --password via the CLI is insecure. Use --password-stdin.\n", stderr);
  bool interactive = isatty(STDIN_FILENO);
  if (user.empty()) {
    if (!interactive) return FailInvalid("login: no username: give -u USER");
    std::fputs("Username: ", stderr);
    user = ReadLine(false);
  }
  if (a.Bool("password-stdin")) {
    pass = ReadLine(false);
  } else if (pass.empty()) {
    if (!interactive) return FailInvalid("login: no password: give --password-stdin and pipe it");
    std::fputs("Password: ", stderr);
    pass = ReadLine(true);
  }
  if (user.empty() || pass.empty()) return FailInvalid("login: username and password must not be empty");
  TRY(image::Login(registry, user, pass, g.registry));
  Out("Login Succeeded\n");
  return 0;
}

Result<int> CmdLogout(const Globals& g, const std::vector<std::string>& args) {
  auto a = TRY(ParseCommand(args, {}));
  std::string registry = a.positional.empty() ? "docker.io" : a.positional[0];
  if (!TRY(image::Logout(registry, g.registry))) {
    Out("Not logged in to " + registry + "\n");
    return 0;
  }
  Out("Removing login credentials for " + registry + "\n");
  return 0;
}

}  // namespace moor::cli
