#include "cli/stream_demux.h"

#include <gtest/gtest.h>

namespace moor::cli {
namespace {

struct Collected {
  std::string out, err;
  StreamDemuxer::Sink Sink() {
    return [this](int s, std::string_view d) { (s == 2 ? err : out).append(d); };
  }
};

TEST(StreamDemux, WholeFrames) {
  Collected c;
  StreamDemuxer d(c.Sink());
  ASSERT_TRUE(d.Feed(MuxFrame(1, "hello\n") + MuxFrame(2, "oops\n") + MuxFrame(1, "bye\n")));
  EXPECT_EQ(c.out, "hello\nbye\n");
  EXPECT_EQ(c.err, "oops\n");
  EXPECT_TRUE(d.AtBoundary());
}

TEST(StreamDemux, ByteByByteAndEmptyFrames) {
  std::string wire = MuxFrame(1, "") + MuxFrame(2, std::string(300, 'e')) + MuxFrame(1, "x");
  Collected c;
  StreamDemuxer d(c.Sink());
  for (char ch : wire) {
    ASSERT_TRUE(d.Feed(std::string_view(&ch, 1)));
  }
  EXPECT_EQ(c.err, std::string(300, 'e'));
  EXPECT_EQ(c.out, "x");
  EXPECT_TRUE(d.AtBoundary());
  StreamDemuxer d2(c.Sink());
  ASSERT_TRUE(d2.Feed(wire.substr(0, 5)));
  EXPECT_FALSE(d2.AtBoundary());
}

TEST(StreamDemux, LargeSizeHeader) {
  std::string f = MuxFrame(1, std::string(70000, 'a'));
  EXPECT_EQ(static_cast<unsigned char>(f[5]), 1);  // 70000 = 0x011170
  Collected c;
  StreamDemuxer d(c.Sink());
  ASSERT_TRUE(d.Feed(f));
  EXPECT_EQ(c.out.size(), 70000u);
}

TEST(StreamDemux, RejectsNonFraming) {
  Collected c;
  StreamDemuxer d(c.Sink());
  EXPECT_FALSE(d.Feed("hello world, raw tty output"));
}

TEST(Chunked, DecodesInPieces) {
  std::string wire = "5\r\nhello\r\n7;ext=1\r\n, world\r\n0\r\n\r\n";
  for (size_t step : {1u, 2u, 5u, 100u}) {
    ChunkedDecoder dec;
    std::string out;
    for (size_t i = 0; i < wire.size(); i += step) ASSERT_TRUE(dec.Feed(wire.substr(i, step), &out));
    EXPECT_EQ(out, "hello, world");
    EXPECT_TRUE(dec.Done());
  }
}

TEST(Chunked, BadInput) {
  ChunkedDecoder dec;
  std::string out;
  EXPECT_FALSE(dec.Feed("zz\r\n", &out));
  ChunkedDecoder dec2;
  EXPECT_FALSE(dec2.Feed("2\r\nabXX\r\n", &out));
  ChunkedDecoder dec3;
  ASSERT_TRUE(dec3.Feed("3\r\nab", &out));
  EXPECT_FALSE(dec3.Done());
}

}  // namespace
}  // namespace moor::cli

namespace moor::cli {
namespace {

TEST(JsonObjectSplitter, SplitsConcatenatedObjectsAcrossPieces) {
  std::string wire = R"({"a":"}{\"x"} {"b":{"c":1}})" "\n" R"({"d":2})";
  for (size_t step : {1u, 3u, 100u}) {
    JsonObjectSplitter s;
    std::vector<std::string> got;
    for (size_t i = 0; i < wire.size(); i += step) {
      ASSERT_TRUE(s.Feed(wire.substr(i, step), [&](const std::string& o) {
        got.push_back(o);
        return true;
      }));
    }
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[0], R"({"a":"}{\"x"})");
    EXPECT_EQ(got[1], R"({"b":{"c":1}})");
    EXPECT_EQ(got[2], R"({"d":2})");
  }
}

}  // namespace
}  // namespace moor::cli
