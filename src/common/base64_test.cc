#include "common/base64.h"

#include <gtest/gtest.h>

namespace moor {
namespace {

TEST(Base64, RoundTripsAndRejectsBadInput) {
  EXPECT_EQ(Base64Encode(""), "");
  EXPECT_EQ(Base64Encode("f"), "Zg==");
  EXPECT_EQ(Base64Encode("fo"), "Zm8=");
  EXPECT_EQ(Base64Encode("foo"), "Zm9v");
  EXPECT_EQ(Base64Encode("hello"), "aGVsbG8=");
  std::string bin("\0\xff\x10 a", 5);
  std::string out;
  ASSERT_TRUE(Base64Decode(Base64Encode(bin), &out));
  EXPECT_EQ(out, bin);
  ASSERT_TRUE(Base64Decode("aGVsbG8=", &out));
  EXPECT_EQ(out, "hello");
  EXPECT_FALSE(Base64Decode("aGVsbG8", &out));
  EXPECT_FALSE(Base64Decode("a=VsbG8=", &out));
  EXPECT_FALSE(Base64Decode("aGV*bG8=", &out));
}

}  // namespace
}  // namespace moor
