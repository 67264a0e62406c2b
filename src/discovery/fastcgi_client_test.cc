#include "discovery/fastcgi_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "discovery/probe_test_servers.h"

namespace moor::discovery {
namespace {

using fastcgi::RecordType;
using testing::FastCgiResponder;
using testing::HungServer;

std::string Bytes(std::initializer_list<int> b) {
  std::string s;
  for (int c : b) s.push_back(static_cast<char>(c));
  return s;
}

TEST(FastCgiRecord, HeaderAndPadding) {
  std::string rec = fastcgi::EncodeRecord(RecordType::kStdout, 0x0102, "hello");
  ASSERT_EQ(rec.size(), 16u);  // 8 header + 5 content + 3 padding
  EXPECT_EQ(rec.substr(0, 8), Bytes({1, 6, 0x01, 0x02, 0, 5, 3, 0}));
  EXPECT_EQ(rec.substr(8, 5), "hello");
  EXPECT_EQ(rec.substr(13), std::string(3, '\0'));
  EXPECT_EQ(fastcgi::EncodeRecord(RecordType::kStdin, 1, "").size(), 8u);
  EXPECT_EQ(fastcgi::EncodeRecord(RecordType::kStdin, 1, "12345678").size(), 16u);
}

TEST(FastCgiRecord, BeginAndEndRequest) {
  std::string begin = fastcgi::EncodeBeginRequest(1, fastcgi::kRoleResponder, 0);
  EXPECT_EQ(begin, Bytes({1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0}));
  std::string end = fastcgi::EncodeEndRequest(3, 0x01020304, fastcgi::kOverloaded);
  fastcgi::RecordDecoder dec;
  dec.Feed(end);
  auto rec = dec.Next();
  ASSERT_TRUE(rec && *rec);
  EXPECT_EQ((*rec)->type, RecordType::kEndRequest);
  EXPECT_EQ((*rec)->request_id, 3);
  auto body = fastcgi::DecodeEndRequest((*rec)->content);
  ASSERT_TRUE(body);
  EXPECT_EQ(body->app_status, 0x01020304u);
  EXPECT_EQ(body->protocol_status, fastcgi::kOverloaded);
  EXPECT_FALSE(fastcgi::DecodeEndRequest("abc"));
}

TEST(FastCgiNameValues, ShortAndLongLengths) {
  std::string long_value(200, 'v');
  fastcgi::Params in = {{"A", "b"}, {"EMPTY", ""}, {"LONG", long_value}};
  std::string enc = fastcgi::EncodeNameValues(in);
  // "A"/"b": one-byte lengths.
  EXPECT_EQ(enc.substr(0, 4), Bytes({1, 1, 'A', 'b'}));
  // "LONG": name length 4 in one byte, value length 200 in four with the high bit.
  size_t at = enc.find("LONG") - 5;
  EXPECT_EQ(enc.substr(at, 5), Bytes({4, 0x80, 0, 0, 200}));
  auto out = fastcgi::DecodeNameValues(enc);
  ASSERT_TRUE(out) << out.error().message();
  EXPECT_EQ(*out, in);
}

TEST(FastCgiNameValues, TruncatedIsAnError) {
  std::string enc = fastcgi::EncodeNameValues({{"NAME", "value"}});
  EXPECT_FALSE(fastcgi::DecodeNameValues(enc.substr(0, enc.size() - 1)));
  EXPECT_FALSE(fastcgi::DecodeNameValues(Bytes({0x80, 0})));
}

TEST(FastCgiDecoder, ByteByByte) {
  std::string stream = fastcgi::EncodeRecord(RecordType::kStdout, 1, "abc") +
                       fastcgi::EncodeRecord(RecordType::kStderr, 1, "oops") +
                       fastcgi::EncodeRecord(RecordType::kStdout, 1, "");
  fastcgi::RecordDecoder dec;
  std::vector<fastcgi::Record> got;
  for (char c : stream) {
    dec.Feed(std::string_view(&c, 1));
    auto rec = dec.Next();
    ASSERT_TRUE(rec);
    if (*rec) got.push_back(**rec);
  }
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].content, "abc");
  EXPECT_EQ(got[1].type, RecordType::kStderr);
  EXPECT_EQ(got[1].content, "oops");
  EXPECT_TRUE(got[2].content.empty());
  EXPECT_EQ(dec.buffered(), 0u);
}

TEST(FastCgiDecoder, NotFastCgi) {
  fastcgi::RecordDecoder dec;
  dec.Feed("HTTP/1.1 400 Bad Request\r\n");
  auto rec = dec.Next();
  ASSERT_FALSE(rec);
  EXPECT_NE(rec.error().message().find("is the address a FastCGI server?"), std::string::npos);
}

TEST(FastCgiStream, SplitsLongContent) {
  std::string big(70000, 'x');
  std::string stream = fastcgi::EncodeStream(RecordType::kParams, 1, big);
  fastcgi::RecordDecoder dec;
  dec.Feed(stream);
  std::vector<size_t> sizes;
  while (auto rec = dec.Next()) {
    if (!*rec) break;
    sizes.push_back((*rec)->content.size());
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{65535, 70000 - 65535, 0}));
}

TEST(FastCgiRequest, GetRequestLayout) {
  std::string req = fastcgi::EncodeGetRequest(1, fastcgi::GetRequestParams("/status", "json&full"));
  fastcgi::RecordDecoder dec;
  dec.Feed(req);
  std::vector<fastcgi::Record> recs;
  while (auto rec = dec.Next()) {
    if (!*rec) break;
    recs.push_back(**rec);
  }
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0].type, RecordType::kBeginRequest);
  EXPECT_EQ(recs[1].type, RecordType::kParams);
  EXPECT_EQ(recs[2].type, RecordType::kParams);
  EXPECT_TRUE(recs[2].content.empty());
  EXPECT_EQ(recs[3].type, RecordType::kStdin);
  EXPECT_TRUE(recs[3].content.empty());
  auto params = fastcgi::DecodeNameValues(recs[1].content);
  ASSERT_TRUE(params);
  std::map<std::string, std::string> env(params->begin(), params->end());
  EXPECT_EQ(env["SCRIPT_NAME"], "/status");
  EXPECT_EQ(env["SCRIPT_FILENAME"], "/status");
  EXPECT_EQ(env["REQUEST_URI"], "/status?json&full");
  EXPECT_EQ(env["QUERY_STRING"], "json&full");
  EXPECT_EQ(env["REQUEST_METHOD"], "GET");
  EXPECT_EQ(env["SERVER_SOFTWARE"], "moor");
  EXPECT_EQ(env["CONTENT_LENGTH"], "0");
}

TEST(CgiResponse, StatusHeadersBody) {
  auto r = fastcgi::ParseCgiResponse("Status: 404 Not Found\r\nContent-type: text/html\r\n\r\nFile not found.\n");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->headers.at("content-type"), "text/html");
  EXPECT_FALSE(r->headers.contains("status"));
  EXPECT_EQ(r->body, "File not found.\n");
}

TEST(CgiResponse, NoStatusMeans200AndLfLinesWork) {
  auto r = fastcgi::ParseCgiResponse("Content-Type: text/plain\nX-A: 1\n\npong");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->headers.at("x-a"), "1");
  EXPECT_EQ(r->body, "pong");
}

TEST(CgiResponse, Malformed) {
  EXPECT_FALSE(fastcgi::ParseCgiResponse(""));
  EXPECT_FALSE(fastcgi::ParseCgiResponse("Content-Type: text/plain\r\n"));
  EXPECT_FALSE(fastcgi::ParseCgiResponse("no colon here\r\n\r\n"));
  EXPECT_FALSE(fastcgi::ParseCgiResponse("Status: abc\r\n\r\n"));
}

TEST(FastCgiGet, ExchangesWithAResponder) {
  FastCgiResponder app("Content-Type: text/plain\r\nExpires: 0\r\n\r\npong", "a warning");
  auto r = FastCgiGet(app.addr(), "/ping", "", 2'000'000'000);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "pong");
  EXPECT_EQ(r->stderr_text, "a warning");
  EXPECT_EQ(r->headers.at("expires"), "0");

  auto req = app.last();
  ASSERT_TRUE(req.complete);
  ASSERT_GE(req.records.size(), 4u);
  EXPECT_EQ(req.records[0].type, RecordType::kBeginRequest);
  // Role responder, keep_conn off.
  EXPECT_EQ(req.records[0].content.substr(0, 3), Bytes({0, 1, 0}));
  std::map<std::string, std::string> env(req.params.begin(), req.params.end());
  EXPECT_EQ(env["SCRIPT_NAME"], "/ping");
  EXPECT_EQ(env["REQUEST_METHOD"], "GET");
  EXPECT_EQ(env["GATEWAY_INTERFACE"], "CGI/1.1");
}

TEST(FastCgiGet, NotFound) {
  FastCgiResponder app("Status: 404 Not Found\r\nContent-type: text/html\r\n\r\nFile not found.\n",
                       "Primary script unknown");
  auto r = FastCgiGet(app.addr(), "/missing.php", "", 2'000'000'000);
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->stderr_text, "Primary script unknown");
}

TEST(FastCgiGet, ConnectionRefused) {
  std::string addr = "127.0.0.1:" + std::to_string(testing::UnusedPort());
  auto r = FastCgiGet(addr, "/ping", "", 2'000'000'000);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "dial tcp " + addr + ": connection refused");
}

TEST(FastCgiGet, TimesOut) {
  HungServer hung;
  auto start = std::chrono::steady_clock::now();
  auto r = FastCgiGet(hung.addr(), "/ping", "", 200'000'000);
  auto took = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), ETIMEDOUT);
  EXPECT_NE(r.error().message().find("timed out after 200ms"), std::string::npos) << r.error().message();
  EXPECT_LT(took, std::chrono::seconds(2));
}

TEST(FastCgiGet, StopAbortsAtOnce) {
  HungServer hung;
  std::stop_source stop;
  std::thread stopper([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    stop.request_stop();
  });
  auto start = std::chrono::steady_clock::now();
  auto r = FastCgiGet(hung.addr(), "/ping", "", 10'000'000'000, stop.get_token());
  auto took = std::chrono::steady_clock::now() - start;
  stopper.join();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), ECANCELED);
  EXPECT_LT(took, std::chrono::seconds(5));  // vs. the 10 s timeout
}

}  // namespace
}  // namespace moor::discovery
