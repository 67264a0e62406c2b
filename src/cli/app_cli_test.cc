// The app commands' daemon side (DaemonAppBackend) and CLI (moor up, scale,
// app ps) against the shared fake daemon: requests sent, answers parsed,
// what is printed, and argument and file errors.
#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>

#include "api/http.h"
#include "cli/daemon_app_backend.h"
#include "cli/fake_daemon_fixture.h"
#include "cli/stream_demux.h"
#include "common/file.h"

namespace moor::cli {
namespace {

using nlohmann::json;

class AppCliTest : public testing::FakeDaemonFixture {
 protected:
  // Two containers of app "wiki": web-1 running, healthy, published port;
  // php-1 exited 137.
  void ServeContainers() {
    Handle("GET", "/containers/json", [](const api::Request&, api::ResponseWriter& w) {
      w.SendJson(200, R"([{"Id":"bbb","Names":["/wiki-php-1"],"Labels":{"moor.app":"wiki"}},
                          {"Id":"aaa","Names":["/wiki-web-1"],"Labels":{"moor.app":"wiki"}},
                          {"Id":"zzz","Names":["/other"],"Labels":{"moor.app":"other"}}])");
    });
    Handle("GET", "/containers/{id}/json", [](const api::Request& r, api::ResponseWriter& w) {
      if (r.Param("id") == "aaa") {
        return w.SendJson(200, R"({"Id":"aaa","Name":"/wiki-web-1",
            "Config":{"Labels":{"moor.app":"wiki","moor.app.service":"web","moor.app.replica":"1"}},
            "State":{"Status":"running","ExitCode":0,"Health":{"Status":"healthy"}},"RestartCount":2,
            "HostConfig":{"NetworkMode":"wiki_default"},
            "NetworkSettings":{"IPAddress":"10.89.0.5","Ports":{"80/tcp":[{"HostIp":"","HostPort":"8080"}],
                                                                 "443/tcp":null}}})");
      }
      if (r.Param("id") == "bbb") {
        return w.SendJson(200, R"({"Id":"bbb","Name":"/wiki-php-1",
            "Config":{"Labels":{"moor.app":"wiki","moor.app.service":"php","moor.app.replica":"1"}},
            "State":{"Status":"exited","ExitCode":137},"RestartCount":0,"NetworkSettings":{}})");
      }
      w.SendError(404, "no such container: " + r.Param("id"));
    });
    Handle("GET", "/v1/moor/registration/{id}", [](const api::Request& r, api::ResponseWriter& w) {
      if (r.Param("id") != "aaa") return w.SendError(404, "no such container");
      w.SendJson(200, R"({"Instances":[{"ID":"wiki-web-1:80","Service":"web","Status":"passing"},
                                      {"ID":"wiki-web-1:443","Service":"web","Status":"critical",
                                       "Output":"dial tcp: refused"}]})");
    });
  }
  Result<Daemon> Connect() { return Daemon::Connect(g_); }
};

TEST_F(AppCliTest, ListContainersByLabelAndInspectParsing) {
  ServeContainers();
  Start();
  auto d = Connect();
  ASSERT_TRUE(d);
  DaemonAppBackend b(*d, g_);
  auto list = b.ListContainers("wiki");
  ASSERT_TRUE(list) << list.error().message();
  ASSERT_EQ(list->size(), 2u);  // "other" skipped; sorted by name
  EXPECT_EQ((*list)[0].name, "wiki-php-1");
  EXPECT_EQ((*list)[0].state, "exited");
  EXPECT_EQ((*list)[0].exit_code, 137);
  const auto& web = (*list)[1];
  EXPECT_EQ(web.id, "aaa");
  EXPECT_EQ(web.name, "wiki-web-1");
  EXPECT_EQ(web.state, "running");
  EXPECT_EQ(web.health, "healthy");
  EXPECT_EQ(web.restart_count, 2);
  EXPECT_EQ(web.ip, "10.89.0.5");
  EXPECT_EQ(web.ports, "0.0.0.0:8080->80/tcp");
  EXPECT_EQ(web.labels.at("moor.app.service"), "web");

  auto seen = Seen_();
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen[0].method, "GET");
  auto q = seen[0].target.find('?');
  ASSERT_NE(q, std::string::npos);
  EXPECT_EQ(seen[0].target.substr(0, q), "/containers/json");
  std::string query = api::PercentDecode(seen[0].target.substr(q + 1));
  EXPECT_NE(query.find("all=1"), std::string::npos);
  EXPECT_NE(query.find(R"(filters={"label":["moor.app=wiki"]})"), std::string::npos) << query;

  auto gone = b.Inspect("nope");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().errnum(), ENOENT);
}

TEST_F(AppCliTest, ImageIdIsEmptyWhenMissing) {
  Handle("GET", "/images/{name*}/json", [](const api::Request& r, api::ResponseWriter& w) {
    if (r.Param("name") == "moor/nginx:1.22") return w.SendJson(200, R"({"Id":"sha256:abc"})");
    w.SendError(404, "no such image: " + r.Param("name"));
  });
  Start();
  auto d = Connect();
  ASSERT_TRUE(d);
  DaemonAppBackend b(*d, g_);
  auto id = b.ImageId("moor/nginx:1.22");
  ASSERT_TRUE(id) << id.error().message();
  EXPECT_EQ(*id, "sha256:abc") << Seen_().back().target;
  id = b.ImageId("moor/nope:1");
  ASSERT_TRUE(id) << id.error().message();
  EXPECT_EQ(*id, "");
}

TEST_F(AppCliTest, RegistrationCountsPassingInstances) {
  ServeContainers();
  Start();
  auto d = Connect();
  ASSERT_TRUE(d);
  DaemonAppBackend b(*d, g_);
  auto r = b.Registration("aaa");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->instances, 2);
  EXPECT_EQ(r->passing, 1);
  EXPECT_EQ(r->detail, "wiki-web-1:443 critical: dial tcp: refused");
  r = b.Registration("bbb");  // 404: not registered
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->instances, 0);

  auto p = RegistrationFromJson(json::parse(R"({"Instances":[{"ID":"a","Status":"warning"},{"ID":"b"}]})"));
  EXPECT_EQ(p.instances, 2);
  EXPECT_EQ(p.passing, 1);
  EXPECT_EQ(p.detail, "b pending");
}

TEST_F(AppCliTest, PutFileSendsATarWithTheMissingDirectories) {
  // /etc exists in the container; /etc/moor and /etc/moor/templates do not.
  Handle("HEAD", "/containers/{id}/archive", [](const api::Request& r, api::ResponseWriter& w) {
    if (r.Query("path") == "/etc") return w.Send(api::Response{200, {}, ""});
    w.Send(api::Response{404, {}, ""});
  });
  std::string tar, put_path;
  Handle("PUT", "/containers/{id}/archive", [&](const api::Request& r, api::ResponseWriter& w) {
    tar = r.body;
    put_path = r.Query("path").value_or("");
    w.Send(api::Response{200, {}, ""});
  });
  Start();
  auto d = Connect();
  ASSERT_TRUE(d);
  DaemonAppBackend b(*d, g_);
  auto r = b.PutFile("c1", "/etc/moor/templates/nginx-0.conf", "upstream php {}\n", 0640);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(put_path, "/etc");

  struct Entry {
    bool dir;
    int perm;
    std::string data;
  };
  std::map<std::string, Entry> entries;
  std::vector<std::string> order;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  ASSERT_EQ(archive_read_open_memory(a, tar.data(), tar.size()), ARCHIVE_OK);
  archive_entry* e;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string name = archive_entry_pathname(e);
    Entry en{archive_entry_filetype(e) == AE_IFDIR, static_cast<int>(archive_entry_perm(e)), ""};
    EXPECT_EQ(archive_entry_uid(e), 0);
    char buf[4096];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) en.data.append(buf, static_cast<size_t>(n));
    order.push_back(name);
    entries[name] = en;
  }
  archive_read_free(a);
  ASSERT_EQ(order, (std::vector<std::string>{"moor/", "moor/templates/", "moor/templates/nginx-0.conf"}));
  EXPECT_TRUE(entries["moor/"].dir);
  EXPECT_EQ(entries["moor/templates/"].perm, 0755);
  EXPECT_FALSE(entries["moor/templates/nginx-0.conf"].dir);
  EXPECT_EQ(entries["moor/templates/nginx-0.conf"].perm, 0640);
  EXPECT_EQ(entries["moor/templates/nginx-0.conf"].data, "upstream php {}\n");

  EXPECT_FALSE(b.PutFile("c1", "relative/file", "", 0644));
}

TEST_F(AppCliTest, StopRemoveAndLogTailRequests) {
  Handle("POST", "/containers/{id}/stop", [](const api::Request&, api::ResponseWriter& w) {
    w.Send(api::Response{304, {}, ""});  // already stopped: fine
  });
  Handle("DELETE", "/containers/{id}", [](const api::Request& r, api::ResponseWriter& w) {
    if (r.Param("id") == "gone") return w.SendError(404, "no such container: gone");
    w.Send(api::Response{204, {}, ""});
  });
  Handle("GET", "/containers/{id}/logs", [](const api::Request&, api::ResponseWriter& w) {
    w.Send(api::Response{200, {}, MuxFrame(1, "one\n") + MuxFrame(2, "two\n")});
  });
  Start();
  auto d = Connect();
  ASSERT_TRUE(d);
  DaemonAppBackend b(*d, g_);
  ASSERT_TRUE(b.Stop("c1", 1'500'000'000));
  ASSERT_TRUE(b.Remove("c1"));
  auto gone = b.Remove("gone");
  ASSERT_FALSE(gone);
  EXPECT_EQ(gone.error().errnum(), ENOENT);
  EXPECT_EQ(b.LogTail("c1", 5), "one\ntwo");
  auto seen = Seen_();
  ASSERT_EQ(seen.size(), 4u);
  EXPECT_EQ(seen[0].target, "/containers/c1/stop?t=2");  // rounded up to whole seconds
  EXPECT_EQ(seen[1].target, "/containers/c1?force=1&v=1");
  EXPECT_EQ(seen[3].target, "/containers/c1/logs?stdout=1&stderr=1&tail=5");
}

TEST_F(AppCliTest, AppPsShowsStatusAndRegistration) {
  ServeContainers();
  Start();
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/moor.yaml", "name: wiki\nservices:\n  web:\n    image: moor/nginx:1.22\n"
                                                   "  php:\n    image: moor/php-fpm:8.2\n"));
  std::string out, err;
  auto rc = Run(CmdAppPs, {"-a", "-f", dir_ + "/moor.yaml"}, &out, &err);
  ASSERT_TRUE(rc) << rc.error().message() << err;
  EXPECT_EQ(*rc, 0);
  EXPECT_EQ(out,
            "NAME         SERVICE   STATUS              REGISTERED    PORTS\n"
            "wiki-php-1   php       exited (137)        -\n"
            "wiki-web-1   web       running (healthy)   1/2 passing   0.0.0.0:8080->80/tcp\n");
  // Without -a: running ones only; -q: IDs.
  rc = Run(CmdAppPs, {"-q", "-f", dir_ + "/moor.yaml"}, &out, &err);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(out, "aaa\n");
  // -p alone (no file): found by label.
  rc = Run(CmdAppPs, {"-a", "-p", "wiki", "--format", "json"}, &out, &err);
  ASSERT_TRUE(rc) << rc.error().message();
  auto j = json::parse(out);
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[1]["Name"], "wiki-web-1");
  EXPECT_EQ(j[1]["Registered"], "1/2 passing");
}

TEST_F(AppCliTest, BadArgumentsAreOneLineErrors) {
  std::string out;
  auto rc = Run(CmdScale, {"php"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(), "scale: \"php\": want SERVICE=REPLICAS, e.g. php=3");
  rc = Run(CmdScale, {"php=-1"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(), "scale: \"php=-1\": want SERVICE=REPLICAS, e.g. php=3");
  rc = Run(CmdUp, {"--timeout", "soon"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(), "up: --timeout \"soon\": want a duration like 2m or 90s");
  rc = Run(CmdUp, {"--pull", "sometimes"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(), "up: --pull \"sometimes\": use missing, always or never");
  rc = Run(CmdUp, {"--scale", "web"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(), "up: --scale: \"web\": want SERVICE=REPLICAS, e.g. php=3");
  rc = Run(CmdDown, {"-t", "x", "-p", "wiki"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(), "down: -t \"x\": want a number of seconds, e.g. -t 10");
  rc = Run(CmdAppLogs, {"--tail", "many", "-p", "wiki"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(), "logs: --tail \"many\": want a number of lines or \"all\"");
  EXPECT_TRUE(Seen_().empty());
}

TEST_F(AppCliTest, InvalidFileExitsOneWithEveryDiagnostic) {
  Start();
  std::string path = dir_ + "/moor.yaml";
  ASSERT_TRUE(WriteFileAtomic(path, "services:\n  web:\n    imag: x\n  php:\n    image: y\n    replicas: lots\n"));
  for (Command cmd : {CmdUp, CmdScale}) {
    std::string out, err;
    std::vector<std::string> args = {"-f", path};
    if (cmd == CmdScale) args.push_back("php=2");
    auto rc = Run(cmd, args, &out, &err);
    ASSERT_FALSE(rc);
    EXPECT_EQ(rc.error().exit_code(), 1);
    EXPECT_EQ(rc.error().message(), path + ": 3 errors, nothing done") << err;
    EXPECT_NE(err.find(path + ":3:5: "), std::string::npos) << err;
    EXPECT_NE(err.find(path + ":6:15: "), std::string::npos) << err;
  }
  EXPECT_TRUE(Seen_().empty());  // nothing sent to the daemon
}

}  // namespace
}  // namespace moor::cli
