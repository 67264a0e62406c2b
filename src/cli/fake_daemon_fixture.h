// Test fixture: a fake daemon (api::HttpServer on a unix socket in a private
// temp dir) that records the requests a command sends, and Run() to call a
// command capturing what it prints. Shared by the CLI tests.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/http_server.h"
#include "cli/context.h"
#include "common/file.h"

namespace moor::cli::testing {

struct Seen {
  std::string method, target, body;
};

class FakeDaemonFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/moor-cli-test.XXXXXX";
    ASSERT_TRUE(mkdtemp(tmpl));
    dir_ = tmpl;
    g_.host = "unix://" + dir_ + "/moor.sock";
  }
  void TearDown() override {
    if (server_) server_->Stop();
    (void)RemoveAll(dir_);
  }
  // Routes "METHOD pattern" to h, recording every request.
  void Handle(const std::string& method, const std::string& pattern, api::Handler h) {
    router_.Handle(method, pattern, [this, h](const api::Request& r, api::ResponseWriter& w) {
      {
        std::lock_guard lock(mu_);
        seen_.push_back({r.method, r.target, r.body});
      }
      h(r, w);
    });
  }
  void Start() {
    auto fd = api::ListenUnix(dir_ + "/moor.sock", 0600);
    ASSERT_TRUE(fd) << fd.error().message();
    server_ = std::make_unique<api::HttpServer>(std::move(*fd), router_);
    server_->Start();
  }
  std::vector<Seen> Seen_() {
    std::lock_guard lock(mu_);
    return seen_;
  }
  // Runs a command, capturing what it prints.
  Result<int> Run(Command cmd, std::vector<std::string> args, std::string* out, std::string* err = nullptr) {
    ::testing::internal::CaptureStdout();
    ::testing::internal::CaptureStderr();
    auto rc = cmd(g_, args);
    fflush(stdout);
    *out = ::testing::internal::GetCapturedStdout();
    std::string e = ::testing::internal::GetCapturedStderr();
    if (err) *err = e;
    return rc;
  }

  std::string dir_;
  Globals g_;
  api::Router router_;
  std::unique_ptr<api::HttpServer> server_;
  std::mutex mu_;
  std::vector<Seen> seen_;
};

}  // namespace moor::cli::testing
