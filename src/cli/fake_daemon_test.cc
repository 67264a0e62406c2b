// The commands against a fake daemon (api::HttpServer on a unix socket in a
// private temp dir): the requests they send and what they print.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/socket.h>

#include <condition_variable>
#include <ctime>
#include <mutex>
#include <nlohmann/json.hpp>

#include "api/http_server.h"
#include "cli/fake_daemon_fixture.h"
#include "cli/context.h"
#include "cli/stream_demux.h"
#include "cli/table.h"
#include "common/clock.h"
#include "common/file.h"

namespace moor::cli {
namespace {

using nlohmann::json;

using Seen = testing::Seen;
class FakeDaemonTest : public testing::FakeDaemonFixture {};

const std::string kId = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

TEST_F(FakeDaemonTest, PsListsContainersAsATable) {
  int64_t created = static_cast<int64_t>(time(nullptr)) - 180;
  Handle("GET", "/containers/json", [&](const api::Request&, api::ResponseWriter& w) {
    json list =
        json::array({{{"Id", kId},
                      {"Names", {"/web"}},
                      {"Image", "busybox"},
                      {"Command", "sh -c 'sleep 1000; echo'"},
                      {"Created", created},
                      {"Ports",
                       {{{"IP", "0.0.0.0"}, {"PrivatePort", 80}, {"PublicPort", 8080}, {"Type", "tcp"}},
                        {{"PrivatePort", 443}, {"Type", "tcp"}}}},
                      {"State", "running"},
                      {"Status", "Up 3 minutes"}}});
    w.SendJson(200, list.dump());
  });
  Start();
  std::string out;
  auto rc = Run(CmdPs, {"-a", "--filter", "status=running"}, &out);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(*rc, 0);
  auto seen = Seen_();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(api::PercentDecode(seen[0].target), R"(/containers/json?all=1&filters={"status":["running"]})");
  Table t({"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"});
  t.Add({"0123456789ab", "busybox", "\"sh -c 'sleep 1000;…", "3 minutes ago", "Up 3 minutes",
         "0.0.0.0:8080->80/tcp, 443/tcp", "web"});
  EXPECT_EQ(out, t.Render());

  rc = Run(CmdPs, {"-q", "--no-trunc"}, &out);
  ASSERT_TRUE(rc);
  EXPECT_EQ(out, kId + "\n");
  EXPECT_EQ(Seen_().back().target, "/containers/json");
  rc = Run(CmdPs, {"--format", "{{.Names}} {{.State}} {{.Ports}}"}, &out);
  ASSERT_TRUE(rc);
  EXPECT_EQ(out, "web running 0.0.0.0:8080->80/tcp, 443/tcp\n");
  rc = Run(CmdPs, {"--format", "{{.Nope}}"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_NE(rc.error().message().find("Nope"), std::string::npos);
}

TEST_F(FakeDaemonTest, RunDetachedCreatesStartsAndPrintsTheId) {
  Handle("POST", "/containers/create", [&](const api::Request& r, api::ResponseWriter& w) {
    if (r.Query("name") == "taken") return w.SendError(409, "the name \"taken\" is in use by container 4f2a");
    w.SendJson(201, json{{"Id", kId}, {"Warnings", {"memory limit ignored"}}}.dump());
  });
  Handle("POST", "/containers/{id}/start", [&](const api::Request& r, api::ResponseWriter& w) {
    if (r.Param("id") != kId) return w.SendError(404, "No such container: " + r.Param("id"));
    w.Send(api::Response{204, {}, ""});
  });
  Start();
  std::string out, err;
  auto rc =
      Run(CmdRun, {"-d", "--name", "web", "-p", "8080:80", "-e", "A=1", "--rm", "busybox", "sleep", "9"},
          &out, &err);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(*rc, 0);
  EXPECT_EQ(out, kId + "\n");
  EXPECT_EQ(err, "WARNING: memory limit ignored\n");
  auto seen = Seen_();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].target, "/containers/create?name=web");
  EXPECT_EQ(json::parse(seen[0].body), json::parse(R"({"Image":"busybox","Cmd":["sleep","9"],"Env":["A=1"],
    "ExposedPorts":{"80/tcp":{}},
    "HostConfig":{"PortBindings":{"80/tcp":[{"HostIp":"","HostPort":"8080"}]},"AutoRemove":true}})"));
  EXPECT_EQ(seen[1].target, "/containers/" + kId + "/start");

  // A daemon error is one line and exit status 125; bad flags too.
  rc = Run(CmdRun, {"-d", "--name", "taken", "busybox"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(), "the name \"taken\" is in use by container 4f2a");
  EXPECT_EQ(rc.error().exit_code(), 125);
  rc = Run(CmdRun, {"-d", "--memory", "lots", "busybox"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().exit_code(), 125);
}

TEST_F(FakeDaemonTest, RunMapsStartFailuresToDockerExitCodes) {
  Handle("POST", "/containers/create", [&](const api::Request&, api::ResponseWriter& w) {
    w.SendJson(201, json{{"Id", kId}}.dump());
  });
  Handle("POST", "/containers/{id}/start", [&](const api::Request&, api::ResponseWriter& w) {
    w.SendError(400, "exec: \"nope\": executable file not found in $PATH");
  });
  Start();
  std::string out;
  auto rc = Run(CmdRun, {"-d", "busybox", "nope"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().exit_code(), 127);
}

TEST_F(FakeDaemonTest, RunForegroundAttachesStartsAndExitsWithTheStatus) {
  std::mutex mu;
  std::condition_variable cv;
  bool started = false;
  auto wait_started = [&] {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return started; });
  };
  Handle("POST", "/containers/create", [&](const api::Request&, api::ResponseWriter& w) {
    w.SendJson(201, json{{"Id", kId}}.dump());
  });
  Handle("POST", "/containers/{id}/wait", [&](const api::Request&, api::ResponseWriter& w) {
    w.StartStream(200, {{"content-type", "application/json"}});
    if (!wait_started()) return;
    w.Write(R"({"StatusCode":3,"Error":null})"
            "\n");
  });
  Handle("POST", "/containers/{id}/attach", [&](const api::Request&, api::ResponseWriter& w) {
    std::string pending;
    UniqueFd fd = w.Hijack({{"content-type", "application/vnd.docker.multiplexed-stream"}}, &pending);
    if (!wait_started()) return;
    std::string frames = MuxFrame(1, "hello\n") + MuxFrame(2, "warn\n");
    (void)!::send(fd.get(), frames.data(), frames.size(), MSG_NOSIGNAL);
  });
  Handle("POST", "/containers/{id}/start", [&](const api::Request&, api::ResponseWriter& w) {
    {
      std::lock_guard lock(mu);
      started = true;
    }
    cv.notify_all();
    w.Send(api::Response{204, {}, ""});
  });
  Start();
  std::string out, err;
  auto rc = Run(CmdRun, {"busybox", "sh", "-c", "exit 3"}, &out, &err);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(*rc, 3);
  EXPECT_EQ(out, "hello\n");
  EXPECT_EQ(err, "warn\n");
  auto seen = Seen_();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[1].target, "/containers/" + kId + "/wait?condition=next-exit");
  EXPECT_EQ(seen[2].target, "/containers/" + kId + "/attach?stream=1&stdout=1&stderr=1&stdin=0");
  EXPECT_EQ(seen[3].target, "/containers/" + kId + "/start");
}

TEST_F(FakeDaemonTest, RmRemovesEachAndReportsFailures) {
  Handle("DELETE", "/containers/{id}", [&](const api::Request& r, api::ResponseWriter& w) {
    if (r.Param("id") == "ghost") return w.SendError(404, "No such container: ghost");
    w.Send(api::Response{204, {}, ""});
  });
  Start();
  std::string out, err;
  auto rc = Run(CmdRm, {"-f", "web", "ghost", "db"}, &out, &err);
  ASSERT_TRUE(rc);
  EXPECT_EQ(*rc, 1);
  EXPECT_EQ(out, "web\ndb\n");
  EXPECT_EQ(err, "moor: No such container: ghost\n");
  auto seen = Seen_();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].method, "DELETE");
  EXPECT_EQ(seen[0].target, "/containers/web?force=1&v=0");
}

TEST_F(FakeDaemonTest, LogsDemultiplexesToStdoutAndStderr) {
  Handle("GET", "/containers/{id}/json", [&](const api::Request& r, api::ResponseWriter& w) {
    if (r.Param("id") != "web") return w.SendError(404, "No such container: " + r.Param("id"));
    w.SendJson(200, json{{"Id", kId}, {"Config", {{"Tty", false}}}}.dump());
  });
  Handle("GET", "/containers/{id}/logs", [&](const api::Request&, api::ResponseWriter& w) {
    w.StartStream(200, {{"content-type", "application/vnd.docker.multiplexed-stream"}});
    std::string wire = MuxFrame(1, "line one\n") + MuxFrame(2, "an error\n") + MuxFrame(1, "line two\n");
    // Pieces that split headers and payloads.
    w.Write(wire.substr(0, 3));
    w.Write(wire.substr(3, 14));
    w.Write(wire.substr(17));
  });
  Start();
  std::string out, err;
  auto rc = Run(CmdLogs, {"-n", "5", "-t", "--since", "1700000000", "web"}, &out, &err);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(out, "line one\nline two\n");
  EXPECT_EQ(err, "an error\n");
  auto seen = Seen_();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].target, "/containers/web/json");
  EXPECT_EQ(seen[1].target,
            "/containers/" + kId + "/logs?stdout=1&stderr=1&timestamps=1&since=1700000000&tail=5");

  rc = Run(CmdLogs, {"ghost"}, &out, &err);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(), "No such container: ghost");
}

TEST_F(FakeDaemonTest, NoDaemonIsOneLineError) {
  // Nothing listens on the socket.
  std::string out;
  auto rc = Run(CmdPs, {}, &out);
  ASSERT_FALSE(rc);
  EXPECT_NE(rc.error().message().find("moor daemon"), std::string::npos);
  EXPECT_EQ(rc.error().message().find('\n'), std::string::npos);
}

}  // namespace
}  // namespace moor::cli
