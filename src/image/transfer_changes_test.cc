#include "image/transfer_changes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace moor::image::transfer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ContainerConfig Apply(std::initializer_list<std::string_view> changes) {
  ContainerConfig c;
  for (auto ch : changes) {
    auto r = ApplyChange(c, ch);
    EXPECT_TRUE(r) << ch << ": " << r.error().message();
  }
  return c;
}

TEST(ImportChanges, CmdAndEntrypointTakeJsonOrShellForm) {
  auto c = Apply({R"(CMD ["echo", "hi there"])", "entrypoint exec me"});
  EXPECT_THAT(*c.cmd, ElementsAre("echo", "hi there"));
  EXPECT_THAT(*c.entrypoint, ElementsAre("/bin/sh", "-c", "exec me"));
}

TEST(ImportChanges, EnvReplacesAndAcceptsBothForms) {
  auto c = Apply({"ENV A=1 B=\"two words\"", "ENV A 3 and more", R"(ENV C=a\ b)"});
  EXPECT_THAT(c.env, ElementsAre("A=3 and more", "B=two words", "C=a b"));
}

TEST(ImportChanges, LabelsPortsVolumesWorkdirUserStopsignal) {
  auto c = Apply({"LABEL a=b \"c d\"=e", "EXPOSE 443/udp 80 8000-8001", R"(VOLUME ["/data", "/a"])",
                  "VOLUME /b", "WORKDIR /srv", "WORKDIR app", "USER 1000:1000", "STOPSIGNAL SIGINT"});
  EXPECT_EQ(c.labels["a"], "b");
  EXPECT_EQ(c.labels["c d"], "e");
  EXPECT_THAT(c.exposed_ports, ElementsAre("443/udp", "80/tcp", "8000/tcp", "8001/tcp"));
  EXPECT_THAT(c.volumes, ElementsAre("/a", "/b", "/data"));
  EXPECT_EQ(c.working_dir, "/srv/app");
  EXPECT_EQ(c.user, "1000:1000");
  EXPECT_EQ(c.stop_signal, "SIGINT");
}

TEST(ImportChanges, RejectsWhatImportCannotDo) {
  ContainerConfig c;
  for (std::string_view bad : {"RUN true", "COPY a b", "FROM x", "EXPOSE 0", "EXPOSE 80/xyz",
                               "EXPOSE 70000", "ENV =x", "CMD", "", "LABEL \"unterminated"}) {
    auto r = ApplyChange(c, bad);
    EXPECT_FALSE(r) << bad;
  }
  auto r = ApplyChange(c, "RUN true");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().message(), HasSubstr("RUN cannot be applied"));
}

TEST(ImportChanges, SplitWordsHandlesQuotes) {
  auto w = SplitWords(R"(a "b c" 'd "e"' f\ g)");
  ASSERT_TRUE(w);
  EXPECT_THAT(*w, ElementsAre("a", "b c", "d \"e\"", "f g"));
}

}  // namespace
}  // namespace moor::image::transfer
