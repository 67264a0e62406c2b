#include "image/store/image_names.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <thread>
#include <vector>

#include "common/file.h"
#include "image/store/store_test_util.h"

namespace moor::image {
namespace {

using testing::TempDir;

ImageRecord Record(const std::string& name, char config, char manifest = 'm') {
  ImageRecord r;
  r.name = name;
  r.manifest = Digest::FromHex(std::string(64, manifest == 'm' ? 'e' : manifest));
  r.manifest_media_type = "application/vnd.oci.image.manifest.v1+json";
  r.config = Digest::FromHex(std::string(1, config) + std::string(63, '0'));
  r.created_at = "2024-01-02T03:04:05Z";
  return r;
}

void ExpectSame(const ImageRecord& a, const ImageRecord& b) {
  EXPECT_EQ(a.name, b.name);
  EXPECT_EQ(a.manifest, b.manifest);
  EXPECT_EQ(a.manifest_media_type, b.manifest_media_type);
  EXPECT_EQ(a.index, b.index);
  EXPECT_EQ(a.config, b.config);
  EXPECT_EQ(a.created_at, b.created_at);
  EXPECT_EQ(a.repo_digests, b.repo_digests);
}

class ImageNamesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(tmp_.path().empty());
    auto n = ImageNames::Open(tmp_.path() + "/images");
    ASSERT_TRUE(n) << n.error().message();
    names_.emplace(std::move(*n));
  }
  ImageNames& names() { return *names_; }

  TempDir tmp_;
  std::optional<ImageNames> names_;
};

TEST_F(ImageNamesTest, EmptyStore) {
  auto list = names().List();
  ASSERT_TRUE(list);
  EXPECT_TRUE(list->empty());
  auto got = names().Get("docker.io/library/busybox:latest");
  ASSERT_TRUE(got);
  EXPECT_FALSE(*got);
  EXPECT_EQ(names().Remove("x"), false);
}

TEST_F(ImageNamesTest, SetGetReplaceList) {
  ImageRecord busybox = Record("docker.io/library/busybox:latest", 'a');
  busybox.index = Digest::FromHex(std::string(64, 'f'));
  busybox.repo_digests = {"docker.io/library/busybox@sha256:" + std::string(64, 'f')};
  ASSERT_TRUE(names().Set(busybox));
  ASSERT_TRUE(names().Set(Record("docker.io/library/alpine:3.19", 'b')));
  auto got = names().Get(busybox.name);
  ASSERT_TRUE(got && *got);
  ExpectSame(**got, busybox);

  ImageRecord replaced = Record(busybox.name, 'c');
  ASSERT_TRUE(names().Set(replaced));
  got = names().Get(busybox.name);
  ASSERT_TRUE(got && *got);
  ExpectSame(**got, replaced);

  auto list = names().List();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].name, "docker.io/library/alpine:3.19");  // sorted by name
  EXPECT_EQ((*list)[1].name, busybox.name);

  // Another handle on the same root sees the same data (it is on disk).
  auto other = ImageNames::Open(tmp_.path() + "/images/");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->List()->size(), 2u);
  EXPECT_FALSE(names().Set(Record("", 'd')));
}

TEST_F(ImageNamesTest, Remove) {
  ASSERT_TRUE(names().Set(Record("a:1", 'a')));
  ASSERT_TRUE(names().Set(Record("b:1", 'b')));
  EXPECT_EQ(names().Remove("a:1"), true);
  EXPECT_EQ(names().Remove("a:1"), false);
  auto list = names().List();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].name, "b:1");
}

TEST_F(ImageNamesTest, FindById) {
  ASSERT_TRUE(names().Set(Record("one:1", 'a')));
  ASSERT_TRUE(names().Set(Record("one:2", 'a')));
  ASSERT_TRUE(names().Set(Record("two:1", 'b')));
  auto found = names().FindById("a000");
  ASSERT_TRUE(found) << found.error().message();
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[0].name, "one:1");
  EXPECT_EQ((*found)[1].name, "one:2");
  EXPECT_EQ(names().FindById("sha256:b0000")->size(), 1u);
  EXPECT_EQ(names().FindById("c000")->size(), 0u);
  EXPECT_EQ(names().FindById(std::string(1, 'b') + std::string(63, '0'))->size(), 1u);

  auto too_short = names().FindById("a00");
  ASSERT_FALSE(too_short);
  EXPECT_EQ(too_short.error().message(),
            "image ID prefix \"a00\" is too short (give at least 4 hex characters)");
  EXPECT_FALSE(names().FindById(""));
  auto not_hex = names().FindById("zzzz");
  ASSERT_FALSE(not_hex);
  EXPECT_NE(not_hex.error().message().find("not a hex digest prefix"), std::string::npos);
  EXPECT_FALSE(names().FindById("A000"));
}

TEST_F(ImageNamesTest, CorruptFileIsReportedWithItsPath) {
  std::string path = tmp_.path() + "/images/names.json";
  ASSERT_TRUE(WriteFileAtomic(path, "{\"images\":[{\"name\":\"x\",\"manifest\":\"sha256:1\"}]}"));
  auto list = names().List();
  ASSERT_FALSE(list);
  EXPECT_EQ(list.error().message(),
            path + ": images[0].manifest: digest \"sha256:1\" is not sha256:<64 lowercase hex>");
  ASSERT_TRUE(WriteFileAtomic(path, "{"));
  EXPECT_FALSE(names().Set(Record("y:1", 'a')));  // never overwrites what it cannot read
  EXPECT_EQ(ReadFile(path), "{");
}

TEST_F(ImageNamesTest, ConcurrentSetsFromThreadsLoseNothing) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([this, t] {
      for (int i = 0; i < 10; ++i) {
        EXPECT_TRUE(names().Set(Record("t" + std::to_string(t) + ":" + std::to_string(i), 'a')));
      }
    });
  }
  for (auto& th : threads) th.join();
  auto list = names().List();
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 80u);
}

TEST_F(ImageNamesTest, ConcurrentSetsFromProcessesLoseNothing) {
  std::vector<pid_t> pids;
  for (int p = 0; p < 5; ++p) {
    pid_t pid = ::fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      for (int i = 0; i < 10; ++i) {
        if (!names().Set(Record("p" + std::to_string(p) + ":" + std::to_string(i), 'b'))) _exit(1);
      }
      _exit(0);
    }
    pids.push_back(pid);
  }
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(names().Set(Record("parent:" + std::to_string(i), 'c')));
  for (pid_t pid : pids) {
    int status = 0;
    ASSERT_EQ(::waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
    EXPECT_EQ(WEXITSTATUS(status), 0);
  }
  auto list = names().List();
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 60u);
}

}  // namespace
}  // namespace moor::image
