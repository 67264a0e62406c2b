#include "api/http.h"

#include <gtest/gtest.h>

namespace moor::api {
namespace {

TEST(Http, PercentDecodeKeepsPlusAndBadEscapes) {
  EXPECT_EQ(PercentDecode("a%20b"), "a b");
  EXPECT_EQ(PercentDecode("a+b"), "a+b");
  EXPECT_EQ(PercentDecode("x%2Fy%2fz"), "x/y/z");
  EXPECT_EQ(PercentDecode("100%"), "100%");
  EXPECT_EQ(PercentDecode("%zz%4"), "%zz%4");
  EXPECT_EQ(PercentDecode("%00"), std::string(1, '\0'));
}

TEST(Http, PercentEncodeRoundTrips) {
  EXPECT_EQ(PercentEncode("a b/c~d-e_f.g"), "a%20b/c~d-e_f.g");
  EXPECT_EQ(PercentEncode("{\"a\":[1]}&+="), "%7B%22a%22%3A%5B1%5D%7D%26%2B%3D");
  std::string all;
  for (int c = 0; c < 256; ++c) all += static_cast<char>(c);
  EXPECT_EQ(PercentDecode(PercentEncode(all)), all);
}

TEST(Http, ParseQuerySplitsAndDecodes) {
  auto q = ParseQuery("a=1&b=%20x&a=2&flag&&c=d=e&sp=a+b");
  EXPECT_EQ(q.count("a"), 2u);
  EXPECT_EQ(q.find("b")->second, " x");
  EXPECT_EQ(q.find("flag")->second, "");
  EXPECT_EQ(q.find("c")->second, "d=e");
  EXPECT_EQ(q.find("sp")->second, "a b");
  EXPECT_TRUE(ParseQuery("").empty());
}

TEST(Http, RequestQueryHelpers) {
  Request r;
  r.query = ParseQuery("all=1&t=true&f=0&n=no&e=&filters=x&filters=y");
  EXPECT_EQ(r.Query("filters"), "x");
  EXPECT_EQ(r.QueryAll("filters"), (std::vector<std::string>{"x", "y"}));
  EXPECT_FALSE(r.Query("missing"));
  EXPECT_TRUE(r.QueryBool("all"));
  EXPECT_TRUE(r.QueryBool("t"));
  EXPECT_FALSE(r.QueryBool("f", true));
  EXPECT_FALSE(r.QueryBool("n", true));
  EXPECT_FALSE(r.QueryBool("e", true));
  EXPECT_TRUE(r.QueryBool("missing", true));
  EXPECT_FALSE(r.QueryBool("missing"));
  r.params["id"] = "abc";
  EXPECT_EQ(r.Param("id"), "abc");
  EXPECT_EQ(r.Param("nope"), "");
}

TEST(Http, ReasonPhrases) {
  EXPECT_STREQ(ReasonPhrase(200), "OK");
  EXPECT_STREQ(ReasonPhrase(404), "Not Found");
  EXPECT_STREQ(ReasonPhrase(431), "Request Header Fields Too Large");
  EXPECT_STREQ(ReasonPhrase(599), "Server Error");
}

}  // namespace
}  // namespace moor::api
