#include "engine/daemon_config_file.h"

#include <gtest/gtest.h>

namespace moor::engine {
namespace {

using runtime_cli::FlagSpec;
using Strings = std::vector<std::string>;

const std::vector<FlagSpec> kSpecs = {{"mtu", "", true},        {"debug", "D", false},
                                      {"log-output", "", true, true}, {"log-disk-budget", "", true},
                                      {"no-masquerade", "", false}, {"add-runtime", "", true, true},
                                      {"config-file", "", true},   {"metrics-addr", "", true},
                                      {"root", "", true},          {"data-root", "", true}};

runtime_cli::ParsedArgs Cli(const Strings& args) { return *runtime_cli::ParseArgs(args, 0, kSpecs, false); }

Result<Strings> Flags(std::string_view text, const Strings& cli = {}) {
  return ConfigFileFlags("/etc/moor/daemon.json", text, kSpecs, Cli(cli));
}

TEST(DaemonConfigFile, KeysAreFlagsWithoutDashes) {
  auto f = Flags(R"({"mtu": 1450, "debug": true, "log-disk-budget": "2g",
                     "log-output": ["logstash://10.0.0.5:5044", "file:///var/log/all.log"],
                     "metrics-addr": "10.0.0.2:9323"})");
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(*f, (Strings{"--debug", "--log-disk-budget", "2g", "--log-output", "logstash://10.0.0.5:5044",
                         "--log-output", "file:///var/log/all.log", "--metrics-addr", "10.0.0.2:9323", "--mtu",
                         "1450"}));
  // One value for a repeatable flag, false for a switch.
  f = Flags(R"({"log-output": "loki://10.0.0.6:3100", "debug": false})");
  ASSERT_TRUE(f);
  EXPECT_EQ(*f, (Strings{"--log-output", "loki://10.0.0.6:3100"}));
}

TEST(DaemonConfigFile, DockerSpellings) {
  auto f = Flags(R"({"masquerade": false, "runtimes": {"runc": "/usr/bin/runc", "crun": {"path": "/usr/bin/crun"}}})");
  ASSERT_TRUE(f) << f.error().message();
  EXPECT_EQ(*f, (Strings{"--no-masquerade", "--add-runtime", "crun=/usr/bin/crun", "--add-runtime", "runc=/usr/bin/runc"}));
  f = Flags(R"({"masquerade": true})");
  ASSERT_TRUE(f);
  EXPECT_TRUE(f->empty());
}

TEST(DaemonConfigFile, BadFilesFailInOneLineNamingFileAndKey) {
  struct Case {
    const char* text;
    const char* want;
  } cases[] = {
      {R"({"mtu": 1450,)", "not valid JSON"},
      {R"(["mtu"])", "must be a JSON object"},
      {R"({"log-outputs": []})", "unknown setting \"log-outputs\""},
      {R"({"config-file": "/x"})", "unknown setting \"config-file\""},
      {R"({"mtu": [1, 2]})", "takes one value, not a list"},
      {R"({"mtu": 14.5})", "must be a string or a whole number"},
      {R"({"log-output": [{"type": "loki"}]})", "must be a string or a whole number"},
      {R"({"debug": "yes"})", "must be true or false"},
      {R"({"masquerade": "no"})", "must be true or false"},
      {R"({"runtimes": {"x": 3}})", "runtime \"x\" needs a path"},
  };
  for (const auto& c : cases) {
    auto f = Flags(c.text);
    ASSERT_FALSE(f) << c.text;
    const std::string& m = f.error().message();
    EXPECT_NE(m.find(c.want), std::string::npos) << m;
    EXPECT_EQ(m.rfind("/etc/moor/daemon.json: ", 0), 0u) << m;
    EXPECT_EQ(m.find('\n'), std::string::npos) << m;
  }
}

TEST(DaemonConfigFile, ASettingInBothPlacesIsRefused) {
  auto f = Flags(R"({"log-disk-budget": "2g"})", {"--log-disk-budget", "1g"});
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().message().find("\"log-disk-budget\" is also given as --log-disk-budget"), std::string::npos);
  f = Flags(R"({"masquerade": false})", {"--no-masquerade"});
  ASSERT_FALSE(f);
  // Docker's "data-root" and moor's --root are one setting.
  f = Flags(R"({"data-root": "/srv/moor"})", {"--root", "/var/lib/moor"});
  ASSERT_FALSE(f);
  EXPECT_NE(f.error().message().find("\"data-root\" is also given as --root"), std::string::npos);
  // Different settings in each place are fine.
  f = Flags(R"({"mtu": 1400})", {"--log-disk-budget", "1g"});
  ASSERT_TRUE(f);
}

}  // namespace
}  // namespace moor::engine
