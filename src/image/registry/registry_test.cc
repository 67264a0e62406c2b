// Unit tests of the registry client's pure pieces: challenge parsing, docker
// config lookup, URLs and scopes, TLS material, error summaries, logout's
// config rewrite. The wire protocol is covered by
// tests/integration/registry_test.sh against a real registry.
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include "common/file.h"
#include "image/registry/challenge.h"
#include "image/registry/docker_config.h"
#include "image/registry/endpoint.h"
#include "image/registry/registry_client.h"
#include "image/registry/tls.h"
#include "image/registry/url.h"

namespace moor::image::registry {
namespace {

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/moor-registry-test.XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { (void)RemoveAll(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(Challenge, BearerWithQuotedCommas) {
  auto chs = ParseChallenges(R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",)"
                             R"(scope="repository:library/busybox:pull,push")");
  ASSERT_EQ(chs.size(), 1u);
  EXPECT_EQ(chs[0].scheme, "bearer");
  EXPECT_EQ(chs[0].Param("realm"), "https://auth.docker.io/token");
  EXPECT_EQ(chs[0].Param("service"), "registry.docker.io");
  EXPECT_EQ(chs[0].Param("scope"), "repository:library/busybox:pull,push");
}

TEST(Challenge, SeveralChallengesAndEscapes) {
  auto chs = ParseChallenges(R"(Basic realm="My \"Registry\", v2" , BEARER Realm=http://h/t, service = svc)");
  ASSERT_EQ(chs.size(), 2u);
  EXPECT_EQ(chs[0].scheme, "basic");
  EXPECT_EQ(chs[0].Param("realm"), R"(My "Registry", v2)");
  EXPECT_EQ(chs[1].scheme, "bearer");
  EXPECT_EQ(chs[1].Param("realm"), "http://h/t");
  EXPECT_EQ(chs[1].Param("service"), "svc");
}

TEST(Challenge, GarbageIsSkippedNotFatal) {
  EXPECT_TRUE(ParseChallenges("").empty());
  EXPECT_TRUE(ParseChallenges(" , ,").empty());
  auto chs = ParseChallenges(R"(Bearer realm="unterminated)");
  ASSERT_EQ(chs.size(), 1u);
  EXPECT_EQ(chs[0].Param("realm"), "unterminated");
  chs = ParseChallenges("\"\" Basic realm=x");
  ASSERT_FALSE(chs.empty());
  EXPECT_EQ(chs.back().scheme, "basic");
}

TEST(Url, AppendQueryHandlesExistingQuery) {
  EXPECT_EQ(AppendQuery("http://h/v2/a/blobs/uploads/u1", "digest", "sha256:ab"),
            "http://h/v2/a/blobs/uploads/u1?digest=sha256%3Aab");
  EXPECT_EQ(AppendQuery("http://h/u?_state=x%2By", "digest", "sha256:ab"),
            "http://h/u?_state=x%2By&digest=sha256%3Aab");
  EXPECT_EQ(AppendQuery("http://h/u?", "a", "b c"), "http://h/u?a=b%20c");
  EXPECT_EQ(AppendQuery("http://h/u#frag", "a", "1"), "http://h/u?a=1#frag");
}

TEST(Url, ResolveLocation) {
  const std::string req = "https://r.example:5000/v2/team/app/blobs/uploads/?mount=x";
  EXPECT_EQ(ResolveLocation(req, "/v2/team/app/blobs/uploads/abc?_state=s"),
            "https://r.example:5000/v2/team/app/blobs/uploads/abc?_state=s");
  EXPECT_EQ(ResolveLocation(req, "https://storage.example/up/1"), "https://storage.example/up/1");
  EXPECT_EQ(ResolveLocation(req, "abc"), "https://r.example:5000/v2/team/app/blobs/uploads/abc");
  EXPECT_EQ(ResolveLocation(req, "//other/x"), "https://other/x");
  EXPECT_EQ(UrlOrigin(req), "https://r.example:5000");
  EXPECT_EQ(UrlOrigin("no-scheme"), "");
}

TEST(Url, Scopes) {
  EXPECT_EQ(RepositoryScope("library/busybox", false), "repository:library/busybox:pull");
  EXPECT_EQ(RepositoryScope("team/app", true), "repository:team/app:pull,push");
}

TEST(Url, Base64RoundTrip) {
  EXPECT_EQ(Base64Encode("user:pass"), "dXNlcjpwYXNz");
  EXPECT_EQ(Base64Encode(""), "");
  std::string out;
  ASSERT_TRUE(Base64Decode("dXNlcjpwYXNz", out));
  EXPECT_EQ(out, "user:pass");
  ASSERT_TRUE(Base64Decode("YQ", out));  // unpadded
  EXPECT_EQ(out, "a");
  ASSERT_TRUE(Base64Decode(" YWI= \n", out));
  EXPECT_EQ(out, "ab");
  EXPECT_FALSE(Base64Decode("not base64!", out));
  EXPECT_FALSE(Base64Decode("Y", out));
}

TEST(DockerConfig, KeyNormalisation) {
  EXPECT_EQ(NormalizeConfigKey("https://index.docker.io/v1/"), "docker.io");
  EXPECT_EQ(NormalizeConfigKey("registry-1.docker.io"), "docker.io");
  EXPECT_EQ(NormalizeConfigKey("http://reg.example:5000/v2/"), "reg.example:5000");
  EXPECT_EQ(NormalizeConfigKey("reg.example"), "reg.example");
  EXPECT_EQ(ConfigKeyFor("docker.io"), "https://index.docker.io/v1/");
  EXPECT_EQ(ConfigKeyFor("127.0.0.1:5000"), "127.0.0.1:5000");
}

TEST(DockerConfig, AllKeySpellingsAndForms) {
  const std::string cfg = R"({
    "auths": {
      "https://index.docker.io/v1/": {"auth": "aHViOmh1YnB3"},
      "https://plain.example": {"auth": "cDE6cHcx"},
      "hostonly.example:5000": {"username": "u2", "password": "p:w:2"},
      "http://withpath.example/v1/": {"auth": "dTM6cHcz"},
      "empty.example": {}
    },
    "HttpHeaders": {"X": "y"}
  })";
  auto hub = LookupCredentialsIn(cfg, "docker.io");
  ASSERT_TRUE(hub) << hub.error().message();
  ASSERT_TRUE(*hub);
  EXPECT_EQ((*hub)->username, "hub");
  EXPECT_EQ((*hub)->password, "hubpw");
  auto plain = LookupCredentialsIn(cfg, "plain.example");
  ASSERT_TRUE(plain && *plain);
  EXPECT_EQ((*plain)->username, "p1");
  auto host = LookupCredentialsIn(cfg, "hostonly.example:5000");
  ASSERT_TRUE(host && *host);
  EXPECT_EQ((*host)->password, "p:w:2");
  auto path = LookupCredentialsIn(cfg, "withpath.example");
  ASSERT_TRUE(path && *path);
  EXPECT_EQ((*path)->username, "u3");
  auto none = LookupCredentialsIn(cfg, "other.example");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  auto empty = LookupCredentialsIn(cfg, "empty.example");
  ASSERT_TRUE(empty);
  EXPECT_FALSE(*empty);
  // Port matters: hostonly.example without :5000 is another registry.
  auto noport = LookupCredentialsIn(cfg, "hostonly.example");
  ASSERT_TRUE(noport);
  EXPECT_FALSE(*noport);
}

TEST(DockerConfig, BadInputIsAnError) {
  auto bad_json = LookupCredentialsIn("{not json", "x");
  ASSERT_FALSE(bad_json);
  auto bad_auth = LookupCredentialsIn(R"({"auths": {"x": {"auth": "%%%"}}})", "x");
  ASSERT_FALSE(bad_auth);
  EXPECT_NE(bad_auth.error().message().find("auths[\"x\"].auth"), std::string::npos);
  auto no_colon = LookupCredentialsIn(R"({"auths": {"x": {"auth": "dXNlcg=="}}})", "x");
  ASSERT_FALSE(no_colon);
  EXPECT_NE(no_colon.error().message().find("user:password"), std::string::npos);
}

TEST(DockerConfig, CredentialHelper) {
  TempDir dir;
  // A fake helper that answers for one server and says "not found" otherwise.
  std::string helper = dir.path() + "/docker-credential-fake";
  ASSERT_TRUE(WriteFileAtomic(helper, R"(#!/bin/sh
[ "$1" = get ] || exit 3
read server
case "$server" in
  helper.example:5000) printf '{"ServerURL":"%s","Username":"hu","Secret":"hs"}' "$server" ;;
  https://index.docker.io/v1/) printf '{"ServerURL":"x","Username":"<token>","Secret":"tok"}' ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
)"));
  ASSERT_EQ(::chmod(helper.c_str(), 0755), 0);
  std::string old_path = ::getenv("PATH");
  ::setenv("PATH", (dir.path() + ":" + old_path).c_str(), 1);
  const std::string cfg = R"({"auths": {"helper.example:5000": {"auth": "aWdub3JlZDppZ25vcmVk"}},
                              "credHelpers": {"helper.example:5000": "fake"}})";
  auto c = LookupCredentialsIn(cfg, "helper.example:5000");
  ASSERT_TRUE(c) << c.error().message();
  ASSERT_TRUE(*c);
  EXPECT_EQ((*c)->username, "hu");
  EXPECT_EQ((*c)->password, "hs");
  auto store = LookupCredentialsIn(R"({"credsStore": "fake"})", "docker.io");
  ASSERT_TRUE(store && *store);
  EXPECT_TRUE((*store)->identity_token);
  auto missing = LookupCredentialsIn(R"({"credsStore": "fake"})", "elsewhere.example");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
  auto no_helper = LookupCredentialsIn(R"({"credsStore": "does-not-exist-xyz"})", "a.example");
  ::setenv("PATH", old_path.c_str(), 1);
  ASSERT_FALSE(no_helper);
  EXPECT_NE(no_helper.error().message().find("docker-credential-does-not-exist-xyz"), std::string::npos);
}

TEST(DockerConfig, PathFromEnvironment) {
  EXPECT_EQ(DockerConfigPath("/x/c.json"), "/x/c.json");
  ::setenv("DOCKER_CONFIG", "/cfg", 1);
  EXPECT_EQ(DockerConfigPath(""), "/cfg/config.json");
  ::unsetenv("DOCKER_CONFIG");
  std::string home = ::getenv("HOME") ? ::getenv("HOME") : "";
  ::setenv("HOME", "/home/someone", 1);
  EXPECT_EQ(DockerConfigPath(""), "/home/someone/.docker/config.json");
  ::setenv("HOME", home.c_str(), 1);
}

TEST(Tls, CombinesSystemBundleWithHostCas) {
  TempDir dir;
  std::string certs = dir.path() + "/certs.d";
  ASSERT_TRUE(MkdirAll(certs + "/reg.example:5000"));
  ASSERT_TRUE(WriteFileAtomic(certs + "/reg.example:5000/ca.crt", "HOST-CA"));
  ASSERT_TRUE(WriteFileAtomic(certs + "/reg.example:5000/client.cert", "CERT"));
  ASSERT_TRUE(WriteFileAtomic(certs + "/reg.example:5000/client.key", "KEY"));
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/system.pem", "SYSTEM"));
  auto cfg = LoadTlsConfig({dir.path() + "/missing", certs}, "reg.example:5000", dir.path() + "/system.pem");
  ASSERT_TRUE(cfg) << cfg.error().message();
  EXPECT_EQ(cfg->ca_pem, "SYSTEM\nHOST-CA\n");
  EXPECT_EQ(cfg->client_cert, certs + "/reg.example:5000/client.cert");
  EXPECT_EQ(cfg->client_key, certs + "/reg.example:5000/client.key");
  EXPECT_TRUE(cfg->verify);

  auto other = LoadTlsConfig({certs}, "other.example", dir.path() + "/system.pem");
  ASSERT_TRUE(other);
  EXPECT_EQ(other->ca_pem, "");  // libcurl's default store
  EXPECT_EQ(other->client_cert, "");
}

TEST(Tls, KeyWithoutCertIsAnError) {
  TempDir dir;
  ASSERT_TRUE(MkdirAll(dir.path() + "/h"));
  ASSERT_TRUE(WriteFileAtomic(dir.path() + "/h/client.key", "KEY"));
  auto cfg = LoadTlsConfig({dir.path()}, "h");
  ASSERT_FALSE(cfg);
  EXPECT_NE(cfg.error().message().find("client.cert"), std::string::npos);
}

TEST(ResponseSummary, RegistryErrorsAndPlainBodies) {
  HttpResponse r;
  r.status = 404;
  r.body = R"({"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]})";
  EXPECT_EQ(ResponseSummary(r), "404 manifest unknown");
  r.status = 401;
  r.body = R"({"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]})";
  EXPECT_EQ(ResponseSummary(r), "401 unauthorized: authentication required");
  r.body = R"({"details":"incorrect username or password"})";
  EXPECT_EQ(ResponseSummary(r), "401 incorrect username or password");
  r.status = 502;
  r.body = "<html>\nbad gateway</html>";
  EXPECT_EQ(ResponseSummary(r), "502 <html>");
  r.body = "";
  EXPECT_EQ(ResponseSummary(r), "502");
}

TEST(Logout, RemovesEveryEntryForTheHostAndKeepsTheRest) {
  TempDir dir;
  std::string path = dir.path() + "/config.json";
  ASSERT_TRUE(WriteFileAtomic(path, R"({"auths": {"reg.example:5000": {"auth": "YTpi"},
      "https://reg.example:5000": {"auth": "YTpi"}, "keep.example": {"auth": "Yzpk"}},
      "credHelpers": {"z": "y"}, "psFormat": "table"})"));
  RegistryOptions opts;
  opts.docker_config = path;
  auto first = Logout("reg.example:5000", opts);
  ASSERT_TRUE(first && *first);
  auto text = ReadFile(path);
  ASSERT_TRUE(text);
  auto doc = nlohmann::json::parse(*text);
  EXPECT_EQ(doc["auths"].size(), 1u);
  EXPECT_TRUE(doc["auths"].contains("keep.example"));
  EXPECT_EQ(doc["psFormat"], "table");
  EXPECT_EQ(doc["credHelpers"]["z"], "y");
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto again = Logout("reg.example:5000", opts);
  ASSERT_TRUE(again) << again.error().message();
  EXPECT_FALSE(*again) << "a second logout finds nothing to remove, and that is not an error";
}

TEST(Logout, MalformedConfigIsNamed) {
  TempDir dir;
  std::string path = dir.path() + "/config.json";
  ASSERT_TRUE(WriteFileAtomic(path, "[1,2]"));
  RegistryOptions opts;
  opts.docker_config = path;
  auto r = Logout("x", opts);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find(path), std::string::npos);
}

}  // namespace
}  // namespace moor::image::registry
