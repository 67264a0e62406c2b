// Test-only: a fixture with a fresh temporary directory holding the app file,
// helpers to write files beside it and to parse YAML as that file.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "app/app_file.h"

namespace moor::app {

class AppDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/moor-app-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Writes `text` at dir_/rel, making its directories.
  void Write(const std::string& rel, const std::string& text) {
    auto p = std::filesystem::path(dir_) / rel;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
  }
  // Parses `yaml` as dir_/moor.yaml; errors_ holds what was found.
  AppFile Parse(const std::string& yaml, std::vector<std::string> profiles = {}) {
    errors_.clear();
    return ParseAppFile(yaml, dir_ + "/moor.yaml", profiles, &errors_);
  }
  // As Parse; every error fails the test.
  AppFile ParseOk(const std::string& yaml, std::vector<std::string> profiles = {}) {
    AppFile app = Parse(yaml, profiles);
    for (auto& e : errors_) ADD_FAILURE() << e.ToString();
    return app;
  }

  std::string dir_;
  std::vector<Diagnostic> errors_;
};

}  // namespace moor::app
