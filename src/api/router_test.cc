#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "api/http_server.h"

namespace moor::api {
namespace {

// Records what the router answered.
class FakeWriter : public ResponseWriter {
 public:
  void Send(Response r) override { sent = std::move(r); }
  void StartStream(int, Headers) override {}
  bool Write(std::string_view) override { return false; }
  bool ClientGone() override { return true; }
  UniqueFd Hijack(Headers, std::string*) override { return UniqueFd(); }
  int PeerUid() const override { return -1; }
  Response sent{.status = 0, .headers = {}, .body = {}};
};

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Add("GET", "/containers/json");
    Add("GET", "/containers/{id}/json");
    Add("POST", "/containers/{id}/start");
    Add("DELETE", "/containers/{id}");
    Add("POST", "/containers/{id}");
    Add("POST", "/containers/prune");
    Add("GET", "/v1/kv/{key*}");
    Add("GET", "/_ping");
    Add("GET", "/images/json");
    Add("GET", "/images/{name*}/json");
    Add("GET", "/images/{name*}/history");
  }
  void Add(const std::string& method, const std::string& pattern) {
    router.Handle(method, pattern, [this, method, pattern](const Request& req, ResponseWriter& w) {
      hit = method + " " + pattern;
      params = req.params;
      path = req.path;
      w.Send(Response{.status = 200, .headers = {}, .body = "ok"});
    });
  }
  int Go(const std::string& method, const std::string& target) {
    Request req;
    req.method = method;
    req.target = target;
    hit.clear();
    params.clear();
    FakeWriter w;
    router.Dispatch(req, w);
    last_body = w.sent.body;
    return w.sent.status;
  }

  Router router;
  std::string hit;
  std::string path;
  std::string last_body;
  std::map<std::string, std::string> params;
};

TEST_F(RouterTest, MatchesLiteralAndParamSegments) {
  EXPECT_EQ(Go("GET", "/containers/json?all=1"), 200);
  EXPECT_EQ(hit, "GET /containers/json");
  EXPECT_EQ(Go("GET", "/containers/abc/json"), 200);
  EXPECT_EQ(hit, "GET /containers/{id}/json");
  EXPECT_EQ(params["id"], "abc");
  EXPECT_EQ(Go("POST", "/containers/abc/start"), 200);
  EXPECT_EQ(params["id"], "abc");
}

TEST_F(RouterTest, ParamsArePercentDecodedAfterSplitting) {
  EXPECT_EQ(Go("GET", "/containers/my%2Fname%20x/json"), 200);
  EXPECT_EQ(params["id"], "my/name x");
}

TEST_F(RouterTest, LiteralBeatsParamWhateverTheOrder) {
  EXPECT_EQ(Go("POST", "/containers/prune"), 200);
  EXPECT_EQ(hit, "POST /containers/prune");
  EXPECT_EQ(Go("POST", "/containers/other"), 200);
  EXPECT_EQ(hit, "POST /containers/{id}");
}

TEST_F(RouterTest, RestParamTakesSlashes) {
  EXPECT_EQ(Go("GET", "/v1/kv/a/b%20c/d"), 200);
  EXPECT_EQ(params["key"], "a/b c/d");
  EXPECT_EQ(Go("GET", "/v1/kv/"), 200);
  EXPECT_EQ(params["key"], "");
}

TEST_F(RouterTest, RestParamFollowedByLiteralsTakesWhatLiesBetween) {
  EXPECT_EQ(Go("GET", "/images/moor/nginx:1.22/json"), 200);
  EXPECT_EQ(hit, "GET /images/{name*}/json");
  EXPECT_EQ(params["name"], "moor/nginx:1.22");
  EXPECT_EQ(Go("GET", "/images/registry.example%3A5000/a/b:1/history"), 200);
  EXPECT_EQ(hit, "GET /images/{name*}/history");
  EXPECT_EQ(params["name"], "registry.example:5000/a/b:1");
  EXPECT_EQ(Go("GET", "/images/json"), 200);  // the list, not an image called ""
  EXPECT_EQ(hit, "GET /images/json");
  EXPECT_EQ(Go("GET", "/images/x/other"), 404);
}

TEST_F(RouterTest, VersionPrefixIsStripped) {
  EXPECT_EQ(Go("GET", "/v1.41/containers/json"), 200);
  EXPECT_EQ(hit, "GET /containers/json");
  EXPECT_EQ(path, "/containers/json");
  EXPECT_EQ(Go("GET", "/v1.24/_ping"), 200);
  // Not a version: "/v1/" (Consul's prefix) and "/v1.x".
  EXPECT_EQ(Go("GET", "/v1.x/_ping"), 404);
}

TEST_F(RouterTest, UnknownPathIs404KnownPathOtherMethodIs405) {
  EXPECT_EQ(Go("GET", "/nope"), 404);
  EXPECT_NE(last_body.find("page not found"), std::string::npos);
  EXPECT_EQ(Go("GET", "/containers/abc/json/extra"), 404);
  EXPECT_EQ(Go("PUT", "/containers/json"), 405);
  EXPECT_NE(last_body.find("\"message\""), std::string::npos);
  EXPECT_EQ(hit, "");
}

TEST_F(RouterTest, HeadFallsBackToGet) {
  EXPECT_EQ(Go("HEAD", "/_ping"), 200);
  EXPECT_EQ(hit, "GET /_ping");
}

TEST(ResponseWriterTest, SendErrorIsDockerShapedJson) {
  FakeWriter w;
  w.SendError(409, "name \"x\" is in use");
  EXPECT_EQ(w.sent.status, 409);
  EXPECT_EQ(w.sent.headers["content-type"], "application/json");
  EXPECT_EQ(w.sent.body, "{\"message\":\"name \\\"x\\\" is in use\"}\n");
}

struct Observed {
  std::string method, route;
  int status;
  double seconds;
};

TEST_F(RouterTest, ObserverSeesPatternStatusAndTime) {
  std::vector<Observed> seen;
  router.SetObserver([&](std::string_view m, std::string_view r, int st, double s) {
    seen.push_back({std::string(m), std::string(r), st, s});
  });
  router.Handle("GET", "/slow", [](const Request&, ResponseWriter& w) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    w.SendError(503, "busy");
  });
  router.Handle("GET", "/silent", [](const Request&, ResponseWriter&) {});
  router.Handle("GET", "/stream", [](const Request&, ResponseWriter& w) {
    w.StartStream(200, {});
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // after the head: not counted
  });
  EXPECT_EQ(Go("POST", "/v1.41/containers/abc/start"), 200);
  EXPECT_EQ(Go("GET", "/nothing/here"), 404);
  EXPECT_EQ(Go("PUT", "/_ping"), 405);
  EXPECT_EQ(Go("BREW", "/_ping"), 405);
  EXPECT_EQ(Go("HEAD", "/containers/json"), 200);
  EXPECT_EQ(Go("GET", "/slow"), 503);
  Go("GET", "/silent");
  Go("GET", "/stream");
  ASSERT_EQ(seen.size(), 8u);
  EXPECT_EQ(seen[0].method, "POST");
  EXPECT_EQ(seen[0].route, "/containers/{id}/start");
  EXPECT_EQ(seen[0].status, 200);
  EXPECT_GE(seen[0].seconds, 0);
  EXPECT_LT(seen[0].seconds, 1);
  EXPECT_EQ(seen[1].route, "other");
  EXPECT_EQ(seen[1].status, 404);
  EXPECT_EQ(seen[2].route, "other");
  EXPECT_EQ(seen[2].status, 405);
  EXPECT_EQ(seen[3].method, "other");  // free-form methods do not become label values
  EXPECT_EQ(seen[4].method, "HEAD");
  EXPECT_EQ(seen[4].route, "/containers/json");
  EXPECT_EQ(seen[5].status, 503);
  EXPECT_GE(seen[5].seconds, 0.019);
  EXPECT_EQ(seen[6].route, "/silent");
  EXPECT_EQ(seen[6].status, 500);
  EXPECT_EQ(seen[7].status, 200);
  EXPECT_LT(seen[7].seconds, 0.5);  // not the 1 s after the head (slack for a loaded machine)
}

TEST_F(RouterTest, WithoutObserverNothingChanges) {
  EXPECT_EQ(Go("GET", "/nothing"), 404);
  EXPECT_EQ(Go("GET", "/_ping"), 200);
}

}  // namespace
}  // namespace moor::api
