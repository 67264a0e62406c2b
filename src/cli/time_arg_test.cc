#include "cli/time_arg.h"

#include <gtest/gtest.h>

namespace moor::cli {
namespace {

TEST(UnixTimeArg, AcceptsDockerForms) {
  EXPECT_EQ(*UnixTimeArg("1700000000", 0), "1700000000");
  EXPECT_EQ(*UnixTimeArg("1700000000.5", 0), "1700000000.5");
  EXPECT_EQ(*UnixTimeArg("10m", 1000), "400");
  EXPECT_EQ(*UnixTimeArg("1h30m", 10000), "4600");
  EXPECT_EQ(*UnixTimeArg("2023-11-14T22:13:20Z", 0), "1700000000");
  EXPECT_EQ(*UnixTimeArg("2023-11-14T22:13:20.123456789Z", 0), "1700000000");
  EXPECT_EQ(*UnixTimeArg("2023-11-14T23:13:20+01:00", 0), "1700000000");
  EXPECT_EQ(*UnixTimeArg("2023-11-14", 0), "1699920000");
}

TEST(UnixTimeArg, RejectsGarbage) {
  for (auto* bad : {"", "yesterday", "2023-11-14T22:13:20 junk", "2023-13-45x", "10x"}) {
    EXPECT_FALSE(UnixTimeArg(bad, 0)) << bad;
  }
}

}  // namespace
}  // namespace moor::cli
