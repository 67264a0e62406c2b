// moor deploy, releases and rollback against a fake deploy daemon (the shared
// FakeDaemonFixture): what is sent (only the missing blobs and trees, large
// blobs resumed at the daemon's offset), what is printed, and errors.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "api/transport.h"
#include "cli/deploy_client.h"
#include "cli/fake_daemon_fixture.h"
#include "common/file.h"
#include "common/strings.h"
#include "deploy/tree/scanner.h"
#include "deploy/tree/tree.h"
#include "image/core/digest.h"

namespace moor::cli {
namespace {

using nlohmann::json;

// "HEX64 SP SIZE \n BYTES" entries of a pack body.
std::vector<std::pair<std::string, std::string>> ParsePack(std::string_view p) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!p.empty()) {
    size_t nl = p.find('\n');
    if (nl == std::string_view::npos) break;
    std::string head(p.substr(0, nl));
    size_t sp = head.find(' ');
    size_t n = std::stoul(head.substr(sp + 1));
    out.emplace_back(head.substr(0, sp), std::string(p.substr(nl + 1, n)));
    p.remove_prefix(nl + 1 + n);
  }
  return out;
}

std::string Hex(const std::string& bytes) {
  return image::Sha256Of(bytes).hex();
}

class DeployCliTest : public testing::FakeDaemonFixture {
 protected:
  void SetUp() override {
    FakeDaemonFixture::SetUp();
    code_ = dir_ + "/code";
    ASSERT_TRUE(MkdirAll(code_ + "/sub"));
    ASSERT_TRUE(MkdirAll(code_ + "/keep"));
    ASSERT_TRUE(WriteFileAtomic(code_ + "/a.txt", "alpha\n"));
    ASSERT_TRUE(WriteFileAtomic(code_ + "/b.txt", "bravo\n"));
    ASSERT_TRUE(WriteFileAtomic(code_ + "/sub/c.php", "<?php echo 1;\n"));
    ASSERT_TRUE(WriteFileAtomic(code_ + "/keep/k.txt", "kept\n"));
    ASSERT_EQ(symlink("sub/c.php", (code_ + "/link").c_str()), 0);
    setenv("MOOR_DEPLOYER", "tester@example", 1);
    setenv("XDG_CACHE_HOME", (dir_ + "/cache").c_str(), 1);
    unsetenv("MOOR_DEPLOY_REMOTE");
    unsetenv("MOOR_DEPLOY_TOKEN");
  }
  void TearDown() override {
    unsetenv("MOOR_DEPLOYER");
    unsetenv("XDG_CACHE_HOME");
    FakeDaemonFixture::TearDown();
  }

  deploy::ScanResult ScanCode() {
    auto s = deploy::Scan(deploy::ScanOptions{code_, "-", 1});
    EXPECT_TRUE(s) << s.error().message();
    return s ? *s : deploy::ScanResult{};
  }
  const deploy::ScannedTree& TreeAt(const deploy::ScanResult& s, const std::string& path) {
    for (auto& t : s.trees) {
      if (t.path == path) return t;
    }
    ADD_FAILURE() << "no tree " << path;
    return s.trees.back();
  }

  // A deploy daemon for app "shop", service "php": blobs and trees in
  // present_, release live_ with code live_root_.
  void ServeDeploy() {
    auto route = [this](const std::string& method, const std::string& pattern, api::Handler h) {
      Handle(method, pattern, [this, h](const api::Request& r, api::ResponseWriter& w) {
        {
          std::lock_guard lock(mu_);
          auto it = r.headers.find("x-moor-who");
          who_.push_back(it == r.headers.end() ? "" : it->second);
        }
        h(r, w);
      });
    };
    route("POST", "/v1/moor/deploy/sessions", [this](const api::Request& r, api::ResponseWriter& w) {
      json b = json::parse(r.body);
      if (b["service"] != "php") {
        return w.SendError(404, "no service \"" + b["service"].get<std::string>() +
                                    "\" deploys in app \"shop\"; add code: to it and run moor up");
      }
      if (b.value("root", "") == live_root_)
        return w.SendJson(200, json{{"unchanged", true}, {"release", live_}}.dump());
      json missing = json::array();
      for (auto& t : b["trees"]) {
        if (!present_.count(t.get<std::string>().substr(7))) missing.push_back(t);
      }
      w.SendJson(
          200, json{{"session", "s1"}, {"release", live_ + 1}, {"missing_trees", missing}, {"resumed", false}}.dump());
    });
    route("POST", "/v1/moor/deploy/sessions/{id}/have", [this](const api::Request& r, api::ResponseWriter& w) {
      if (on_have_) on_have_();
      json b = json::parse(r.body);
      json missing = json::array(), partial = json::object();
      for (auto& d : b["digests"]) {
        std::string hex = d.get<std::string>().substr(7);
        asked_.insert(hex);
        if (present_.count(hex)) continue;
        missing.push_back(d);
        if (partial_.count(hex)) partial[d.get<std::string>()] = partial_[hex];
      }
      w.SendJson(200, json{{"missing", missing}, {"partial", partial}}.dump());
    });
    route("POST", "/v1/moor/deploy/sessions/{id}/blobs", [this](const api::Request& r, api::ResponseWriter& w) {
      for (auto& [hex, bytes] : ParsePack(r.body)) {
        if (Hex(bytes) != hex) return w.SendError(400, "blob sha256:" + hex + ": corrupt upload");
        blobs_sent_.push_back(hex);
        present_.insert(hex);
      }
      w.SendJson(200, "{}");
    });
    route("PUT", "/v1/moor/deploy/sessions/{id}/blobs/{digest}", [this](const api::Request& r, api::ResponseWriter& w) {
      std::string hex = r.Param("digest").substr(7);
      int64_t offset = std::stoll(r.Query("offset").value_or("-1"));
      int64_t size = std::stoll(r.Query("size").value_or("-1"));
      std::string& ingest = ingest_[hex];
      puts_.push_back({offset, static_cast<int64_t>(r.body.size())});
      if (offset != static_cast<int64_t>(ingest.size())) {
        return w.SendJson(409, json{{"message", "wrong offset"}, {"offset", ingest.size()}}.dump());
      }
      ingest += r.body;
      if (static_cast<int64_t>(ingest.size()) == size) {
        if (Hex(ingest) != hex) return w.SendError(400, "blob sha256:" + hex + ": corrupt upload");
        present_.insert(hex);
      }
      w.SendJson(200, json{{"offset", ingest.size()}}.dump());
    });
    route("POST", "/v1/moor/deploy/sessions/{id}/trees", [this](const api::Request& r, api::ResponseWriter& w) {
      for (auto& [hex, bytes] : ParsePack(r.body)) {
        auto t = deploy::ParseTree(bytes);
        if (!t || Hex(bytes) != hex) return w.SendError(400, "tree sha256:" + hex + ": bad tree");
        json missing = json::array();
        for (auto& e : t->entries) {
          if (!present_.count(e.digest.hex())) missing.push_back(e.digest.str());
        }
        if (!missing.empty()) {
          return w.SendJson(400, json{{"message", "tree sha256:" + hex + ": missing " + missing[0].get<std::string>()},
                                      {"missing", missing}}
                                     .dump());
        }
        trees_sent_.push_back(hex);
        present_.insert(hex);
      }
      w.SendJson(200, "{}");
    });
    auto stream = [this](api::ResponseWriter& w, int64_t release) {
      w.StartStream(200, {{"content-type", "application/x-ndjson"}});
      w.Write("{\"state\":\"materialised\"}\n{\"state\":\"switching\"}\n");
      if (!switch_error_.empty()) {
        w.Write(json{{"error", switch_error_}}.dump() + "\n");
        return;
      }
      w.Write(json{{"state", "started"}, {"container", "shop-php-2"}}.dump() + "\n");
      w.Write(
          json{{"release", release}, {"state", "live"}, {"warnings", {"shop-php-1: reload signal: no such process"}}}
              .dump() +
          "\n");
    };
    route("POST", "/v1/moor/deploy/sessions/{id}/commit",
          [this, stream](const api::Request&, api::ResponseWriter& w) { stream(w, live_ + 1); });
    route("POST", "/v1/moor/deploy/rollback", [stream](const api::Request& r, api::ResponseWriter& w) {
      json b = json::parse(r.body);
      stream(w, b.value("release", int64_t{40}));
    });
    route("GET", "/v1/moor/deploy/releases", [](const api::Request& r, api::ResponseWriter& w) {
      if (r.Query("app") != "shop") return w.SendJson(200, "[]");
      w.SendJson(200, R"([
        {"app":"shop","service":"php","release":41,"state":"live","live":true,
         "code_digest":"sha256:1111111111112222222222222222222222222222222222222222222222222222",
         "image_ref":"moor/php-fpm:8.2","image_id":"sha256:abc","who":"ci@example",
         "created":"2020-01-01T00:00:00Z","live_at":"2020-01-01T00:00:01Z","instances":["shop-php-1","shop-php-2"],
         "files_sent":3,"bytes_sent":12595},
        {"app":"shop","service":"php","release":40,"state":"retired","live":false,
         "code_digest":"sha256:3333333333334444444444444444444444444444444444444444444444444444",
         "image_ref":"","image_id":"sha256:5555555555556666666666666666666666666666666666666666666666666666",
         "who":"dev@example","created":"2020-01-01T00:00:00Z","live_at":"","instances":[],
         "files_sent":0,"bytes_sent":0}])");
    });
  }

  std::vector<std::string> Paths() {
    std::vector<std::string> out;
    for (auto& s : Seen_()) {
      std::string m = s.method + " " + s.target.substr(0, s.target.find('?'));
      auto at = m.find("/sessions/s1/");
      if (at != std::string::npos) m = m.substr(0, at) + "/S/" + m.substr(at + 13);
      out.push_back(m);
    }
    return out;
  }

  std::string code_;
  std::set<std::string> present_, asked_;
  std::map<std::string, int64_t> partial_;
  std::map<std::string, std::string> ingest_;
  std::vector<std::string> blobs_sent_, trees_sent_, who_;
  std::vector<std::pair<int64_t, int64_t>> puts_;  // offset, bytes
  std::string live_root_ = "sha256:none", switch_error_;
  int64_t live_ = 7;
  std::function<void()> on_have_;
};

TEST_F(DeployCliTest, FullDeploySendsOnlyMissingBlobsAndTrees) {
  auto scan = ScanCode();
  // The daemon has a.txt and the whole keep/ subtree from an earlier release.
  present_.insert(Hex("alpha\n"));
  present_.insert(Hex("kept\n"));
  present_.insert(TreeAt(scan, "keep").digest.hex());
  ServeDeploy();
  Start();
  std::string out, err;
  auto rc = Run(CmdDeploy, {"php", code_, "-p", "shop"}, &out, &err);
  ASSERT_TRUE(rc) << rc.error().message() << "\n" << err;
  EXPECT_EQ(*rc, 0);
  EXPECT_EQ(Paths(), (std::vector<std::string>{"POST /v1/moor/deploy/sessions", "POST /v1/moor/deploy/S/have",
                                               "POST /v1/moor/deploy/S/blobs", "POST /v1/moor/deploy/S/trees",
                                               "POST /v1/moor/deploy/S/commit"}));
  // The session listed every tree; have asked only for blobs under missing trees.
  json open = json::parse(Seen_()[0].body);
  EXPECT_EQ(open["app"], "shop");
  EXPECT_EQ(open["root"], scan.root.str());
  EXPECT_EQ(open["trees"].size(), scan.trees.size());
  EXPECT_FALSE(asked_.count(Hex("kept\n")));
  EXPECT_TRUE(asked_.count(Hex("alpha\n")));
  std::set<std::string> sent(blobs_sent_.begin(), blobs_sent_.end());
  EXPECT_EQ(sent, (std::set<std::string>{Hex("bravo\n"), Hex("<?php echo 1;\n"), Hex("sub/c.php")}));
  EXPECT_EQ(blobs_sent_.size(), 3u);
  // Trees: sub and the root (children first), not keep.
  EXPECT_EQ(trees_sent_, (std::vector<std::string>{TreeAt(scan, "sub").digest.hex(), scan.root.hex()}));
  for (auto& w : who_) EXPECT_EQ(w, "tester@example");
  EXPECT_EQ(out.substr(0, 26), "php: release 8 live (3 fil") << out;
  EXPECT_NE(out.find(" B sent, "), std::string::npos) << out;
  EXPECT_NE(err.find("scan: " + std::to_string(scan.files) + " files, " + std::to_string(scan.hashed) + " hashed in "),
            std::string::npos)
      << err;
  EXPECT_NE(err.find("switching…"), std::string::npos) << err;
  EXPECT_NE(err.find("sent: 3 blobs"), std::string::npos) << err;
}

TEST_F(DeployCliTest, UnchangedTreeSendsNothing) {
  live_root_ = ScanCode().root.str();
  ServeDeploy();
  Start();
  std::string out, err;
  auto rc = Run(CmdDeploy, {"php", code_, "-p", "shop", "-q"}, &out, &err);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(out, "php: up to date (release 7)\n");
  EXPECT_EQ(err, "");  // -q
  EXPECT_EQ(Paths(), std::vector<std::string>{"POST /v1/moor/deploy/sessions"});
}

TEST_F(DeployCliTest, LargeBlobResumesAtTheDaemonsOffset) {
  std::string big(9 * 1024 * 1024 + 123, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>((i * 7919) >> 5);
  ASSERT_TRUE(WriteFileAtomic(code_ + "/big.bin", big));
  std::string hex = Hex(big);
  // have says 4 MiB arrived; the ingest actually holds 6 MiB (409, then resume there).
  partial_[hex] = 4 << 20;
  ingest_[hex] = big.substr(0, 6 << 20);
  ServeDeploy();
  Start();
  std::string out, err;
  auto rc = Run(CmdDeploy, {"php", code_, "-p", "shop"}, &out, &err);
  ASSERT_TRUE(rc) << rc.error().message() << "\n" << err;
  ASSERT_EQ(puts_.size(), 2u);
  EXPECT_EQ(puts_[0].first, 4 << 20);
  EXPECT_EQ(puts_[1].first, 6 << 20);
  EXPECT_EQ(puts_[1].second, static_cast<int64_t>(big.size()) - (6 << 20));
  EXPECT_TRUE(present_.count(hex));
  // The big blob never travelled in a pack.
  for (auto& b : blobs_sent_) EXPECT_NE(b, hex);
  EXPECT_NE(err.find("resuming " + code_ + "/big.bin at 4.0 MiB"), std::string::npos) << err;
  EXPECT_NE(out.find("release 8 live (6 files, 3.0 MiB sent"), std::string::npos) << out;
}

TEST_F(DeployCliTest, FileChangedDuringTheDeployIsAClearError) {
  ServeDeploy();
  on_have_ = [this] { (void)WriteFileAtomic(code_ + "/b.txt", "BRAVO\n"); };  // same size, other bytes
  Start();
  std::string out;
  auto rc = Run(CmdDeploy, {"php", code_, "-p", "shop"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(), code_ + "/b.txt changed during the deploy; run moor deploy again");
  EXPECT_TRUE(blobs_sent_.empty());
  EXPECT_EQ(out, "");
}

TEST_F(DeployCliTest, ErrorLineOfTheSwitchFailsTheDeploy) {
  switch_error_ = "materialise release 8: No space left on device; free space on the node and deploy again";
  ServeDeploy();
  Start();
  std::string out;
  auto rc = Run(CmdDeploy, {"php", code_, "-p", "shop"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(), switch_error_);
  EXPECT_EQ(out, "");
}

TEST_F(DeployCliTest, UnknownServiceGetsTheDaemonsMessage) {
  ServeDeploy();
  Start();
  std::string out;
  auto rc = Run(CmdDeploy, {"nginx", code_, "-p", "shop"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(), "no service \"nginx\" deploys in app \"shop\"; add code: to it and run moor up");
  EXPECT_EQ(Paths().size(), 1u);
}

TEST_F(DeployCliTest, DryRunSendsNothing) {
  ServeDeploy();
  Start();
  auto scan = ScanCode();
  std::string out, err;
  auto rc = Run(CmdDeploy, {"php", code_, "-p", "shop", "--dry-run"}, &out, &err);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(out, "php: " + scan.root.str() + " (" + std::to_string(scan.files) + " files, " +
                     std::to_string(scan.hashed) + " hashed; dry run, nothing sent)\n");
  EXPECT_TRUE(Seen_().empty());
  // Even with no daemon at all.
  g_.host = "unix://" + dir_ + "/nothing.sock";
  rc = Run(CmdDeploy, {"php", code_, "-p", "shop", "--dry-run", "-q"}, &out, &err);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(err, "");
}

TEST_F(DeployCliTest, ArgumentErrors) {
  std::string out;
  auto rc = Run(CmdDeploy, {"php", dir_ + "/missing", "-p", "shop"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(),
            "deploy: code directory " + dir_ + "/missing does not exist; check code.source or give DIR");
  rc = Run(CmdDeploy, {"php", "-p", "shop"}, &out);  // no app file: no code.source
  ASSERT_FALSE(rc);
  EXPECT_NE(rc.error().message().find("give the directory: moor deploy php DIR"), std::string::npos);
  rc = Run(CmdDeploy, {"php", code_, "-p", "shop", "--token-file", "/x"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(), "deploy: --token-file needs --remote https://HOST:PORT");
  rc = Run(CmdDeploy, {"php", code_, "-p", "shop", "--remote", "http://node:8443"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_NE(rc.error().message().find("want https://HOST:PORT"), std::string::npos);
  rc = Run(CmdRollback, {"php", "zero", "-p", "shop"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_NE(rc.error().message().find("want a release number"), std::string::npos);
  rc = Run(CmdDeploy, {"token", "frobnicate"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_NE(rc.error().message().find("usage: moor deploy token create NAME"), std::string::npos);
}

TEST_F(DeployCliTest, ServiceAndDirectoryComeFromTheAppFile) {
  live_root_ = ScanCode().root.str();
  ASSERT_TRUE(WriteFileAtomic(dir_ + "/moor.yaml",
                              "name: shop\nservices:\n"
                              "  php: {image: moor/php-fpm:8.2, code: {source: ./code}}\n"
                              "  web: {image: moor/nginx:1.22, code: {from: php}}\n"));
  ServeDeploy();
  Start();
  std::string out;
  auto rc = Run(CmdDeploy, {"-f", dir_ + "/moor.yaml", "-q"}, &out);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(out, "php: up to date (release 7)\n");
  EXPECT_EQ(json::parse(Seen_().back().body)["root"], live_root_);
  rc = Run(CmdDeploy, {"-f", dir_ + "/moor.yaml", "db"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(), "deploy: no service \"db\" in " + dir_ + "/moor.yaml; services with code: php");

  ASSERT_TRUE(WriteFileAtomic(dir_ + "/two.yaml",
                              "name: shop\nservices:\n"
                              "  php: {image: moor/php-fpm:8.2, code: {source: ./code}}\n"
                              "  api: {image: moor/php-fpm:8.2, code: {source: ./code/sub}}\n"));
  rc = Run(CmdDeploy, {"-f", dir_ + "/two.yaml"}, &out);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(), "deploy: " + dir_ +
                                      "/two.yaml has several services with code (api, php); give one: "
                                      "moor deploy SERVICE");
}

TEST_F(DeployCliTest, ReleasesTableMarksTheLiveOne) {
  ServeDeploy();
  Start();
  std::string out;
  auto rc = Run(CmdReleases, {"php", "-p", "shop"}, &out);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(Seen_().back().target, "/v1/moor/deploy/releases?app=shop&service=php");
  auto lines = Split(out, '\n');
  ASSERT_GE(lines.size(), 3u) << out;
  EXPECT_EQ(lines[0].substr(0, 7), "RELEASE");
  for (const char* col : {"STATE", "CODE", "IMAGE", "WHO", "CREATED", "LIVE", "INSTANCES", "SENT"})
    EXPECT_NE(lines[0].find(col), std::string::npos) << col;
  EXPECT_EQ(lines[1].substr(0, 4), "* 41") << out;
  EXPECT_NE(lines[1].find("111111111111"), std::string::npos);
  EXPECT_EQ(lines[1].find("1111111111112"), std::string::npos);  // short digests
  EXPECT_NE(lines[1].find("moor/php-fpm:8.2"), std::string::npos);
  EXPECT_NE(lines[1].find("years ago"), std::string::npos);
  EXPECT_NE(lines[1].find("12.3 KiB (3 files)"), std::string::npos) << lines[1];
  EXPECT_EQ(lines[2].substr(0, 4), "  40");
  EXPECT_NE(lines[2].find("555555555555"), std::string::npos);  // no ref: the image ID
  rc = Run(CmdReleases, {"php", "-p", "shop", "--format", "json"}, &out);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(json::parse(out).size(), 2u);
}

TEST_F(DeployCliTest, RollbackFollowsTheSwitch) {
  ServeDeploy();
  Start();
  std::string out, err;
  auto rc = Run(CmdRollback, {"php", "-p", "shop"}, &out, &err);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(out, "php: release 40 live (rollback from 41)\n");
  EXPECT_NE(err.find("switching…\nstarted… shop-php-2\nwarning: shop-php-1: reload signal: no such process\n"),
            std::string::npos)
      << err;
  auto seen = Seen_();
  EXPECT_EQ(json::parse(seen.back().body), (json{{"app", "shop"}, {"service", "php"}}));
  rc = Run(CmdRollback, {"php", "39", "-p", "shop", "-q"}, &out, &err);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(out, "php: release 39 live (rollback from 41)\n");
  EXPECT_EQ(json::parse(Seen_().back().body)["release"], 39);
  switch_error_ = "release 37 was pruned; deploy its code again";
  rc = Run(CmdRollback, {"php", "37", "-p", "shop"}, &out, &err);
  ASSERT_FALSE(rc);
  EXPECT_EQ(rc.error().message(), switch_error_);
}

TEST_F(DeployCliTest, CommitConflictIsOneLine) {
  Handle("POST", "/v1/moor/deploy/rollback", [](const api::Request&, api::ResponseWriter& w) {
    w.SendError(409, "a deploy of php is in progress (release 43 by ci@example); wait for it");
  });
  Start();
  auto t = api::MakeUnixTransport(dir_ + "/moor.sock");
  auto r = FollowSwitch(*t, "/v1/moor/deploy/rollback", "{}", "me", nullptr);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "a deploy of php is in progress (release 43 by ci@example); wait for it");
}

TEST_F(DeployCliTest, TokenCreatePrintsItOnce) {
  Handle("POST", "/v1/moor/deploy/tokens", [](const api::Request& r, api::ResponseWriter& w) {
    json b = json::parse(r.body);
    w.SendJson(200, json{{"name", b["name"]}, {"token", "tok-" + b.value("app", std::string("all"))}}.dump());
  });
  Start();
  std::string out, err;
  auto rc = Run(CmdDeploy, {"token", "create", "ci", "--app", "shop"}, &out, &err);
  ASSERT_TRUE(rc) << rc.error().message();
  EXPECT_EQ(out, "tok-shop\n");
  EXPECT_NE(err.find("not shown again"), std::string::npos);
  EXPECT_EQ(json::parse(Seen_().back().body), (json{{"name", "ci"}, {"app", "shop"}}));
}

TEST(HumanBytesTest, BinaryUnits) {
  EXPECT_EQ(HumanBytes(0), "0 B");
  EXPECT_EQ(HumanBytes(1023), "1023 B");
  EXPECT_EQ(HumanBytes(12595), "12.3 KiB");
  EXPECT_EQ(HumanBytes(3 << 20), "3.0 MiB");
}

}  // namespace
}  // namespace moor::cli
