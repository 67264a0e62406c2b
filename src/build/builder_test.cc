// End-to-end builds with a static busybox (needs root: overlay mounts and
// containers). Each test uses its own store root under /tmp.
#include "build/builder.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sstream>

#include "common/file.h"
#include "common/strings.h"
#include "common/fd.h"
#include "image/archive/layer_writer.h"
#include "image/progress.h"

namespace moor::build {
namespace {

bool AnyMountUnder(const std::string& dir) {
  auto info = ReadFile("/proc/self/mountinfo");
  if (!info) return true;
  for (const auto& line : Split(*info, '\n')) {
    auto f = Split(line, ' ');
    if (f.size() > 4 && StartsWith(f[4], dir)) return true;
  }
  return false;
}

size_t Count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

class BuilderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0) GTEST_SKIP() << "needs root";
    std::string busybox = PathExists("/bin/busybox") ? "/bin/busybox" : "/usr/bin/busybox";
    if (!PathExists(busybox)) GTEST_SKIP() << "needs a static busybox";
    char tmpl[] = "/tmp/moor-build-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    top_ = tmpl;
    ctx_ = top_ + "/ctx";
    ASSERT_TRUE(MkdirAll(ctx_));
    auto bytes = ReadFile(busybox);
    ASSERT_TRUE(bytes);
    Put("busybox", *bytes);
    ASSERT_EQ(::chmod((ctx_ + "/busybox").c_str(), 0755), 0);
    Put("data.txt", "data v1\n");
    auto svc = image::ImageService::Open(top_ + "/root");
    ASSERT_TRUE(svc) << svc.error().message();
    svc_.emplace(std::move(*svc));
  }
  void TearDown() override {
    if (top_.empty()) return;
    EXPECT_FALSE(AnyMountUnder(top_)) << "a mount was left behind";
    ASSERT_TRUE(RemoveAll(top_));
  }

  void Put(const std::string& rel, const std::string& text) {
    ASSERT_TRUE(WriteFileAtomic(ctx_ + "/" + rel, text));
  }

  Result<image::Digest> DoBuild(const std::string& tag, std::string& output, BuildOptions o = {}) {
    o.context_dir = ctx_;
    o.tags = {tag};
    o.state_root = top_ + "/state";
    std::ostringstream out;
    auto progress = image::NullProgress();
    auto r = Build(*svc_, o, *progress, out);
    output = out.str();
    return r;
  }

  std::string top_, ctx_;
  std::optional<image::ImageService> svc_;
};

constexpr const char* kSimple =
    "FROM scratch\n"
    "COPY busybox /bin/busybox\n"
    "RUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo hi > /x\"]\n"
    "ENV GREETING=hello\n"
    "COPY data.txt /data/\n"
    "CMD [\"/bin/busybox\", \"cat\", \"/x\"]\n";

TEST_F(BuilderTest, ScratchCopyRunCmdThenCachedRebuild) {
  Put("Dockerfile", kSimple);
  std::string out;
  auto id = DoBuild("test/simple:1", out);
  ASSERT_TRUE(id) << id.error().message() << "\n" << out;
  EXPECT_NE(out.find("Step 3/6 : RUN [\"/bin/busybox\", \"sh\", \"-c\", \"echo hi > /x\"]"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("Successfully built " + id->Short()), std::string::npos) << out;
  EXPECT_NE(out.find("Successfully tagged test/simple:1"), std::string::npos) << out;
  EXPECT_EQ(Count(out, "Using cache"), 0u) << out;

  auto img = svc_->Resolve("test/simple:1");
  ASSERT_TRUE(img) << img.error().message();
  EXPECT_EQ(img->record.config, *id);
  EXPECT_EQ(img->manifest.media_type, "application/vnd.docker.distribution.manifest.v2+json");
  ASSERT_EQ(img->manifest.layers.size(), 3u);
  EXPECT_EQ(img->manifest.layers[0].media_type, "application/vnd.docker.image.rootfs.diff.tar.gzip");
  ASSERT_TRUE(img->config.config.cmd);
  EXPECT_EQ(img->config.config.cmd->at(1), "cat");
  EXPECT_EQ(img->config.config.env, std::vector<std::string>{"GREETING=hello"});
  EXPECT_EQ(img->config.history.size(), 5u);
  EXPECT_TRUE(img->config.history[2].empty_layer);

  auto lowers = svc_->Layers(*img);
  ASSERT_TRUE(lowers) << lowers.error().message();
  ASSERT_EQ(lowers->size(), 3u);
  auto x = ReadFile((*lowers)[1] + "/x");
  ASSERT_TRUE(x) << "RUN's file is missing from its layer";
  EXPECT_EQ(*x, "hi\n");
  // Mount points the runtime created are not part of the layer.
  EXPECT_FALSE(PathExists((*lowers)[1] + "/proc"));
  EXPECT_FALSE(PathExists((*lowers)[1] + "/bin/busybox"));
  EXPECT_EQ(*ReadFile((*lowers)[2] + "/data/data.txt"), "data v1\n");

  // Unchanged Dockerfile and context: every step from the cache, same image.
  // (How fast that is, is measured by bench/build-cache, not asserted here.)
  std::string again;
  auto id2 = DoBuild("test/simple:2", again);
  ASSERT_TRUE(id2) << id2.error().message();
  EXPECT_EQ(*id2, *id);
  EXPECT_EQ(Count(again, "Using cache"), 5u) << again;
}

TEST_F(BuilderTest, ChangedContextFileRebuildsFromItsCopy) {
  Put("Dockerfile", kSimple);
  std::string out;
  auto id = DoBuild("test/change:1", out);
  ASSERT_TRUE(id) << id.error().message() << "\n" << out;
  Put("data.txt", "data v2\n");
  auto id2 = DoBuild("test/change:2", out);
  ASSERT_TRUE(id2) << id2.error().message() << "\n" << out;
  EXPECT_NE(*id2, *id);
  // COPY busybox, RUN and ENV come from the cache; COPY data.txt and CMD do not.
  EXPECT_EQ(Count(out, "Using cache"), 3u) << out;
  auto img = svc_->Resolve("test/change:2");
  ASSERT_TRUE(img);
  auto lowers = svc_->Layers(*img);
  ASSERT_TRUE(lowers);
  EXPECT_EQ(*ReadFile(lowers->back() + "/data/data.txt"), "data v2\n");

  // --no-cache runs everything again.
  BuildOptions o;
  o.no_cache = true;
  auto id3 = DoBuild("test/change:3", out, o);
  ASSERT_TRUE(id3) << id3.error().message();
  EXPECT_EQ(Count(out, "Using cache"), 0u) << out;
}

TEST_F(BuilderTest, MultiStageCopyFromAndArgs) {
  Put("Dockerfile",
      "ARG BASE=scratch\n"
      "FROM $BASE AS tools\n"
      "COPY busybox /bin/busybox\n"
      "ARG MSG=default\n"
      "RUN [\"/bin/busybox\", \"sh\", \"-c\", \"mkdir -p /out && echo $MSG > /out/msg\"]\n"
      "FROM scratch\n"
      "WORKDIR /app\n"
      "COPY --from=tools /out/msg ./\n"
      "COPY --from=0 --chown=7:8 --chmod=0600 /bin/busybox /bin/\n");
  std::string out;
  BuildOptions o;
  o.build_args = {{"MSG", "from-arg"}, {"UNUSED", "1"}};
  auto id = DoBuild("test/multi", out, o);
  ASSERT_TRUE(id) << id.error().message() << "\n" << out;
  EXPECT_NE(out.find("[Warning] One or more build-args [UNUSED] were not consumed"), std::string::npos)
      << out;
  auto img = svc_->Resolve("test/multi");
  ASSERT_TRUE(img);
  EXPECT_EQ(img->config.config.working_dir, "/app");
  auto lowers = svc_->Layers(*img);
  ASSERT_TRUE(lowers);
  ASSERT_EQ(lowers->size(), 3u);  // WORKDIR (created /app), COPY, COPY
  EXPECT_EQ(*ReadFile((*lowers)[1] + "/app/msg"), "from-arg\n");
  struct stat st {};
  ASSERT_EQ(::lstat(((*lowers)[2] + "/bin/busybox").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 7u);
  EXPECT_EQ(st.st_gid, 8u);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
}

TEST_F(BuilderTest, FromBuiltImageShellFormEnvUserAndIgnore) {
  Put("Dockerfile", kSimple);
  std::string out;
  ASSERT_TRUE(DoBuild("test/base", out)) << out;
  Put(".dockerignore", "*.secret\n");
  Put("a.secret", "s");
  Put("keep.txt", "k");
  Put("Dockerfile.app",
      "FROM test/base\n"
      "SHELL [\"/bin/busybox\", \"sh\", \"-c\"]\n"
      "ARG WHO=arg-value\n"
      "RUN echo \"$GREETING $WHO\" > /shell-form && /bin/busybox chown 5 /shell-form\n"
      "COPY . /ctx/\n"
      "USER 5\n"
      "RUN /bin/busybox id -u > /tmp-uid || true\n"
      "ENTRYPOINT [\"/bin/busybox\"]\n");
  BuildOptions o;
  o.dockerfile = ctx_ + "/Dockerfile.app";
  auto id = DoBuild("test/app", out, o);
  ASSERT_TRUE(id) << id.error().message() << "\n" << out;
  auto img = svc_->Resolve("test/app");
  ASSERT_TRUE(img);
  EXPECT_EQ(img->config.config.user, "5");
  // A new ENTRYPOINT drops the CMD inherited from the base.
  EXPECT_FALSE(img->config.config.cmd.has_value());
  auto lowers = svc_->Layers(*img);
  ASSERT_TRUE(lowers);
  // 3 from the base + RUN + COPY + the USER 5 RUN, whose layer is empty:
  // as uid 5 it cannot write to / (the shell's "Permission denied" above).
  ASSERT_EQ(lowers->size(), 6u);
  EXPECT_FALSE(PathExists((*lowers)[5] + "/tmp-uid"));
  EXPECT_EQ(*ReadFile((*lowers)[3] + "/shell-form"), "hello arg-value\n");
  EXPECT_TRUE(PathExists((*lowers)[4] + "/ctx/keep.txt"));
  EXPECT_TRUE(PathExists((*lowers)[4] + "/ctx/Dockerfile.app"));
  EXPECT_FALSE(PathExists((*lowers)[4] + "/ctx/a.secret"));
}

TEST_F(BuilderTest, AddExtractsLocalTarArchives) {
  // A plain tar made by moor's own layer writer, and a gzip one.
  ASSERT_TRUE(MkdirAll(top_ + "/tree/sub"));
  ASSERT_TRUE(WriteFileAtomic(top_ + "/tree/sub/inside.txt", "from tar\n"));
  for (auto [name, comp] : {std::pair{"files.tar", image::Compression::kNone},
                            std::pair{"files.tgz", image::Compression::kGzip}}) {
    UniqueFd dir(::open((top_ + "/tree").c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    UniqueFd tar(::open((ctx_ + "/" + name).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    image::LayerWriteOptions wo;
    wo.compression = comp;
    ASSERT_TRUE(image::WriteLayer(dir.get(), tar.get(), wo));
  }
  Put("Dockerfile",
      "FROM scratch\nADD files.tar /plain/\nADD --chown=3:4 files.tgz /gz\nADD data.txt /added.txt\n");
  std::string out;
  auto id = DoBuild("test/add", out);
  ASSERT_TRUE(id) << id.error().message() << "\n" << out;
  auto img = svc_->Resolve("test/add");
  ASSERT_TRUE(img);
  auto lowers = svc_->Layers(*img);
  ASSERT_TRUE(lowers);
  ASSERT_EQ(lowers->size(), 3u);
  EXPECT_EQ(*ReadFile((*lowers)[0] + "/plain/sub/inside.txt"), "from tar\n");
  struct stat st {};
  ASSERT_EQ(::lstat(((*lowers)[1] + "/gz/sub/inside.txt").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 3u);
  EXPECT_EQ(st.st_gid, 4u);
  EXPECT_EQ(*ReadFile((*lowers)[2] + "/added.txt"), "data v1\n");
}

TEST_F(BuilderTest, FailingRunNamesLineAndCode) {
  Put("Dockerfile",
      "FROM scratch\nCOPY busybox /bin/busybox\n\nRUN [\"/bin/busybox\", \"sh\", \"-c\", \"exit 3\"]\n");
  std::string out;
  auto id = DoBuild("test/fail", out);
  ASSERT_FALSE(id);
  EXPECT_EQ(id.error().message(),
            "Dockerfile:4: RUN [\"/bin/busybox\",\"sh\",\"-c\",\"exit 3\"]: exited with code 3");
  EXPECT_FALSE(svc_->Resolve("test/fail"));
}

TEST_F(BuilderTest, BadInputErrors) {
  std::string out;
  Put("Dockerfile", "FROM scratch\nCOPY ../etc/passwd /x\n");
  auto a = DoBuild("test/bad", out);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().message(),
            "Dockerfile:2: COPY failed: forbidden path outside the build context: ../etc/passwd");
  Put("Dockerfile", "FROM scratch\nADD https://example.com/x /x\n");
  auto b = DoBuild("test/bad", out);
  ASSERT_FALSE(b);
  EXPECT_TRUE(StartsWith(b.error().message(), "Dockerfile:2: ADD from a URL is not supported"))
      << b.error().message();
  Put("Dockerfile", "FROM scratch\nCOPY missing /x\n");
  auto c = DoBuild("test/bad", out);
  ASSERT_FALSE(c);
  EXPECT_EQ(
      c.error().message(),
      "Dockerfile:2: COPY failed: file not found in build context or excluded by .dockerignore: missing");
  BuildOptions o;
  o.target = "nope";
  auto d = DoBuild("test/bad", out, o);
  ASSERT_FALSE(d);
  EXPECT_EQ(d.error().message(), "target stage nope could not be found in Dockerfile");
}

}  // namespace
}  // namespace moor::build
