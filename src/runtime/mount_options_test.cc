#include "runtime/mount_options.h"

#include <gtest/gtest.h>
#include <sys/mount.h>

namespace moor::runtime {
namespace {

TEST(MountOptions, FlagsPropagationAndData) {
  auto r = ParseMountOptions({"nosuid", "noexec", "nodev", "mode=755", "size=65536k", "rslave", "ro"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->flags, static_cast<unsigned long>(MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY));
  EXPECT_EQ(r->propagation, static_cast<unsigned long>(MS_SLAVE | MS_REC));
  EXPECT_EQ(r->data, "mode=755,size=65536k");
  EXPECT_TRUE(r->readonly());
  EXPECT_FALSE(r->bind);
}

TEST(MountOptions, LaterOptionWins) {
  auto r = ParseMountOptions({"ro", "rw", "noexec", "exec"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->flags, 0u);
}

TEST(MountOptions, BindAndRbind) {
  auto b = ParseMountOptions({"bind"});
  EXPECT_TRUE(b->bind);
  EXPECT_FALSE(b->recursive);
  auto rb = ParseMountOptions({"rbind", "ro"});
  EXPECT_TRUE(rb->bind);
  EXPECT_TRUE(rb->recursive);
}

TEST(MountOptions, RejectsWhatItCannotHonour) {
  auto r = ParseMountOptions({"idmap"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("idmap"), std::string::npos);
  EXPECT_FALSE(ParseMountOptions({""}));
}

TEST(MountOptions, AttrTranslation) {
  EXPECT_EQ(MountAttrFromFlags(MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC),
            static_cast<unsigned long long>(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
  EXPECT_EQ(PropagationFromString("rprivate"), static_cast<unsigned long>(MS_PRIVATE | MS_REC));
  EXPECT_EQ(PropagationFromString(""), 0u);
}

}  // namespace
}  // namespace moor::runtime
