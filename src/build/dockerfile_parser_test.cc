#include "build/dockerfile_parser.h"

#include <gtest/gtest.h>

namespace moor::build {
namespace {

Dockerfile Parse(std::string_view text) {
  auto r = ParseDockerfile(text);
  EXPECT_TRUE(r.has_value()) << (r ? "" : r.error().message());
  return r ? *r : Dockerfile{};
}

std::string Err(std::string_view text) {
  auto r = ParseDockerfile(text);
  EXPECT_FALSE(r.has_value()) << text;
  return r ? "" : r.error().message();
}

TEST(DockerfileParser, BasicInstructionsAndLines) {
  auto df = Parse("# a comment\nFROM busybox AS base\n\nrun echo hi\nCMD [\"sh\", \"-c\", \"x\"]\n");
  ASSERT_EQ(df.instructions.size(), 3u);
  EXPECT_EQ(df.instructions[0].keyword, "FROM");
  EXPECT_EQ(df.instructions[0].line, 2);
  EXPECT_EQ(df.instructions[0].args, "busybox AS base");
  EXPECT_EQ(df.instructions[1].keyword, "RUN");
  EXPECT_EQ(df.instructions[1].line, 4);
  EXPECT_EQ(df.instructions[1].args, "echo hi");
  EXPECT_FALSE(df.instructions[1].json.has_value());
  ASSERT_TRUE(df.instructions[2].json.has_value());
  EXPECT_EQ(*df.instructions[2].json, (std::vector<std::string>{"sh", "-c", "x"}));
}

TEST(DockerfileParser, ContinuationsCommentsAndBlankLines) {
  auto df = Parse("FROM scratch\nRUN echo a \\\n# inner comment\n\n    && echo b \\  \n  c\nUSER me\n");
  ASSERT_EQ(df.instructions.size(), 3u);
  EXPECT_EQ(df.instructions[1].args, "echo a     && echo b   c");
  EXPECT_EQ(df.instructions[1].line, 2);
  EXPECT_EQ(df.instructions[2].line, 7);
}

TEST(DockerfileParser, EscapeDirective) {
  auto df = Parse("# escape=`\n# syntax=docker/dockerfile:1\nFROM scratch\nRUN dir c:\\ `\n  x\n");
  EXPECT_EQ(df.escape, '`');
  EXPECT_EQ(df.syntax, "docker/dockerfile:1");
  EXPECT_EQ(df.instructions[1].args, "dir c:\\   x");
}

TEST(DockerfileParser, DirectiveAfterCommentIsAComment) {
  auto df = Parse("# hello\n# escape=`\nFROM scratch\nRUN a \\\n b\n");
  EXPECT_EQ(df.escape, '\\');
  EXPECT_EQ(df.instructions[1].args, "a  b");
}

TEST(DockerfileParser, BadDirectives) {
  EXPECT_EQ(Err("# escape=x\nFROM scratch\n"),
            "Dockerfile:1: invalid escape token 'x' does not match ` or \\");
  EXPECT_EQ(Err("# escape=`\n# escape=\\\nFROM scratch\n"),
            "Dockerfile:2: only one escape parser directive can be used");
}

TEST(DockerfileParser, CrlfAndBom) {
  auto df = Parse(
      "\xEF\xBB\xBF"
      "FROM scratch\r\nENV A=1 \\\r\n  B=2\r\n");
  ASSERT_EQ(df.instructions.size(), 2u);
  EXPECT_EQ(df.instructions[1].args, "A=1   B=2");
}

TEST(DockerfileParser, Flags) {
  auto df = Parse(
      "FROM --platform=linux/amd64 x\nCOPY --from=build --chown=1:2 --chmod=755 a b\n"
      "HEALTHCHECK --interval=5s --retries=3 CMD [\"true\"]\nHEALTHCHECK NONE\n");
  EXPECT_EQ(df.instructions[0].FindFlag("platform")->value, "linux/amd64");
  const auto& copy = df.instructions[1];
  EXPECT_EQ(copy.flags.size(), 3u);
  EXPECT_EQ(copy.FindFlag("from")->value, "build");
  EXPECT_EQ(copy.FindFlag("chown")->value, "1:2");
  EXPECT_EQ(copy.args, "a b");
  EXPECT_EQ(df.instructions[2].FindFlag("retries")->value, "3");
  ASSERT_TRUE(df.instructions[2].json);
  EXPECT_EQ(*df.instructions[2].json, std::vector<std::string>{"true"});
}

TEST(DockerfileParser, BadFlags) {
  EXPECT_EQ(Err("FROM scratch\nCOPY --bogus=1 a b\n"), "Dockerfile:2: COPY: unknown flag: --bogus");
  EXPECT_EQ(Err("FROM scratch\nRUN --mount=type=cache,target=/x make\n"),
            "Dockerfile:2: RUN --mount is not supported by moor build (it needs BuildKit)");
  EXPECT_EQ(Err("FROM scratch\nADD --chown a b\n"), "Dockerfile:2: ADD: flag --chown needs a value");
  EXPECT_EQ(Err("FROM scratch\nCOPY --from=a --from=b a b\n"), "Dockerfile:2: COPY: flag --from given twice");
  EXPECT_EQ(Err("FROM scratch\nCMD --help\n"), "Dockerfile:2: CMD: unknown flag: --help");
}

TEST(DockerfileParser, UnknownInstruction) {
  EXPECT_EQ(Err("FROM scratch\n\nFOO bar\n"), "Dockerfile:3: unknown instruction: FOO");
  EXPECT_EQ(Err("FROM scratch\nRUN a \\\n b\ncopyy x y\n"), "Dockerfile:4: unknown instruction: copyy");
}

TEST(DockerfileParser, Heredocs) {
  EXPECT_EQ(Err("FROM scratch\nRUN <<EOF\necho\nEOF\n"),
            "Dockerfile:2: heredocs are not supported (RUN <<…): put the content in a file in the build "
            "context and COPY it");
  EXPECT_FALSE(ParseDockerfile("FROM scratch\nCOPY <<-'EOT' /x\n"));
  // A here-string and a plain "<<" are not heredocs.
  Parse("FROM scratch\nRUN cat <<<\"hi\"\nRUN echo $((1 << 2))\n");
}

TEST(DockerfileParser, ArgumentCounts) {
  EXPECT_EQ(Err("FROM a b\n"),
            "Dockerfile:1: FROM requires either one or three arguments (FROM IMAGE [AS NAME])");
  Parse("FROM a as b\n");
  EXPECT_EQ(Err("FROM scratch\nCOPY onlyone\n"),
            "Dockerfile:2: COPY requires at least two arguments (sources and a destination), but only 1 was "
            "provided");
  EXPECT_EQ(Err("FROM scratch\nCOPY [\"a\"]\n"),
            "Dockerfile:2: COPY requires at least two arguments (sources and a destination), but only 1 was "
            "provided");
  EXPECT_EQ(Err("FROM scratch\nRUN\n"), "Dockerfile:2: RUN requires at least one argument");
  EXPECT_EQ(
      Err("FROM scratch\nSHELL /bin/bash -c\n"),
      "Dockerfile:2: SHELL requires the arguments to be in JSON form: SHELL [\"executable\", \"param\"]");
  Parse("FROM scratch\nCMD []\n");
}

TEST(DockerfileParser, EnvAndLabelForms) {
  auto df = Parse("FROM scratch\nENV A=1 B=\"x y\"\nENV LEGACY value with spaces\nLABEL a=b\n");
  auto kv = ParseKeyValues(df.instructions[1].args, '\\', "ENV");
  ASSERT_TRUE(kv);
  ASSERT_EQ(kv->size(), 2u);
  EXPECT_EQ((*kv)[1].first, "B");
  EXPECT_EQ((*kv)[1].second, "\"x y\"");
  auto legacy = ParseKeyValues(df.instructions[2].args, '\\', "ENV");
  ASSERT_TRUE(legacy);
  EXPECT_EQ(legacy->at(0).first, "LEGACY");
  EXPECT_EQ(legacy->at(0).second, "value with spaces");
  EXPECT_EQ(Err("FROM scratch\nENV ONLY\n"),
            "Dockerfile:2: ENV must have two arguments (ENV NAME=VALUE or ENV NAME VALUE)");
  EXPECT_EQ(Err("FROM scratch\nLABEL a=1 b\n"),
            "Dockerfile:2: LABEL: can't find = in \"b\"; it must be of the form name=value");
  EXPECT_EQ(Err("FROM scratch\nENV =x\n"), "Dockerfile:2: ENV names can not be blank");
}

TEST(DockerfileParser, OnbuildAndMaintainer) {
  auto df = Parse("FROM scratch\nONBUILD RUN echo hi\nMAINTAINER Jo <jo@x>\n");
  ASSERT_EQ(df.instructions[1].trigger.size(), 1u);
  EXPECT_EQ(df.instructions[1].trigger[0].keyword, "RUN");
  EXPECT_EQ(df.instructions[2].keyword, "MAINTAINER");
  EXPECT_EQ(Err("FROM scratch\nONBUILD ONBUILD RUN x\n"),
            "Dockerfile:2: chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
  EXPECT_EQ(Err("FROM scratch\nONBUILD FROM x\n"), "Dockerfile:2: FROM isn't allowed as an ONBUILD trigger");
  EXPECT_EQ(Err("FROM scratch\nONBUILD BAD x\n"), "Dockerfile:2: unknown instruction: BAD");
}

TEST(DockerfileParser, StructureErrors) {
  EXPECT_EQ(Err(""), "Dockerfile: the file has no instructions");
  EXPECT_EQ(Err("# only\n\n"), "Dockerfile: the file has no instructions");
  EXPECT_EQ(Err("ARG X=1\n"),
            "Dockerfile: no FROM instruction: a build needs a base (FROM scratch for an empty one)");
  EXPECT_EQ(Err("ARG X=1\nRUN x\nFROM scratch\n"),
            "Dockerfile:2: RUN before the first FROM: only ARG may come before FROM");
  Parse("ARG BASE=scratch\nFROM $BASE\n");
  EXPECT_EQ(Err("FROM scratch\nHEALTHCHECK NONE x\n"),
            "Dockerfile:2: HEALTHCHECK NONE takes no other arguments");
  EXPECT_EQ(Err("FROM scratch\nHEALTHCHECK WAT\n"),
            "Dockerfile:2: HEALTHCHECK: unknown type WAT (use CMD or NONE)");
}

TEST(DockerfileParser, ShellFormWhenJsonIsInvalid) {
  auto df = Parse("FROM scratch\nRUN [\"a\", 1]\nCMD [not json\nVOLUME [\"/a\", \"/b\"]\n");
  EXPECT_FALSE(df.instructions[1].json);
  EXPECT_FALSE(df.instructions[2].json);
  ASSERT_TRUE(df.instructions[3].json);
  EXPECT_EQ(df.instructions[3].json->size(), 2u);
}

}  // namespace
}  // namespace moor::build
