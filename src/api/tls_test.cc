// TlsListener → HttpServer::Adopt, driven by the https transport (libcurl)
// and by a raw OpenSSL client, with a throwaway CA and certificates made here.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "api/http_server.h"
#include "api/test_util.h"
#include "api/tls_listener.h"
#include "api/transport.h"

namespace moor::api {
namespace {

using namespace std::chrono_literals;

// ---- a throwaway PKI ----

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* x) const { X509_free(x); }
};
using KeyPtr = std::unique_ptr<EVP_PKEY, KeyFree>;
using CertPtr = std::unique_ptr<X509, CertFree>;

struct Issued {
  KeyPtr key;
  CertPtr cert;
};

bool AddExt(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (!ext) return false;
  bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// A certificate for `cn` signed by `issuer` (self-signed when null); kind: "ca", "server" or "client".
Issued Issue(const std::string& cn, const std::string& kind, const Issued* issuer) {
  static int serial = 1;
  Issued out;
  out.key.reset(EVP_EC_gen("P-256"));
  out.cert.reset(X509_new());
  X509* x = out.cert.get();
  if (!out.key || !x) return {};
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 24 * 3600);
  X509_set_pubkey(x, out.key.get());
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* issuer_cert = issuer ? issuer->cert.get() : x;
  X509_set_issuer_name(x, X509_get_subject_name(issuer_cert));
  bool ok = true;
  if (kind == "ca") {
    ok = AddExt(x, issuer_cert, NID_basic_constraints, "critical,CA:TRUE") &&
         AddExt(x, issuer_cert, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    ok = AddExt(x, issuer_cert, NID_basic_constraints, "critical,CA:FALSE") &&
         AddExt(x, issuer_cert, NID_ext_key_usage, kind == "server" ? "serverAuth" : "clientAuth");
    if (ok && kind == "server") ok = AddExt(x, issuer_cert, NID_subject_alt_name, "IP:127.0.0.1,DNS:localhost");
  }
  EVP_PKEY* sign_key = issuer ? issuer->key.get() : out.key.get();
  if (!ok || X509_sign(x, sign_key, EVP_sha256()) <= 0) return {};
  return out;
}

bool WritePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  BIO* bio = BIO_new_file(path.c_str(), "w");
  if (!bio) return false;
  bool ok = cert ? PEM_write_bio_X509(bio, cert) == 1
                 : PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr) == 1;
  BIO_free(bio);
  return ok;
}

// Files in dir: ca.pem; server.{crt,key} (CN node, for 127.0.0.1); client.{crt,key} (CN
// ci@example); other-ca.pem and stranger.{crt,key} (a client of another CA); wrong.key.
bool MakePki(const std::string& dir) {
  Issued ca = Issue("moor test CA", "ca", nullptr);
  Issued server = Issue("node", "server", &ca);
  Issued client = Issue("ci@example", "client", &ca);
  Issued other = Issue("other CA", "ca", nullptr);
  Issued stranger = Issue("stranger", "client", &other);
  KeyPtr wrong(EVP_EC_gen("P-256"));
  for (const Issued* i : {&ca, &server, &client, &other, &stranger})
    if (!i->cert) return false;
  return WritePem(dir + "/ca.pem", ca.cert.get(), nullptr) &&
         WritePem(dir + "/server.crt", server.cert.get(), nullptr) &&
         WritePem(dir + "/server.key", nullptr, server.key.get()) &&
         WritePem(dir + "/client.crt", client.cert.get(), nullptr) &&
         WritePem(dir + "/client.key", nullptr, client.key.get()) &&
         WritePem(dir + "/other-ca.pem", other.cert.get(), nullptr) &&
         WritePem(dir + "/stranger.crt", stranger.cert.get(), nullptr) &&
         WritePem(dir + "/stranger.key", nullptr, stranger.key.get()) && wrong &&
         WritePem(dir + "/wrong.key", nullptr, wrong.get());
}

// RemoteOptions by field (its members have no default initializers, so designated ones warn).
RemoteOptions Remote(std::string url, std::string cacert = "", std::string cert = "", std::string key = "",
                     std::string token = "") {
  RemoteOptions o;
  o.url = std::move(url);
  o.cacert = std::move(cacert);
  o.cert = std::move(cert);
  o.key = std::move(key);
  o.token = std::move(token);
  return o;
}

int PortOf(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) return -1;
  return ntohs(a.sin_port);
}

UniqueFd ConnectTcp(int port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return UniqueFd();
  timeval tv{.tv_sec = 10, .tv_usec = 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

// A blocking OpenSSL client, to see the connection itself (keep-alive, refusals, open connections).
class RawTlsClient {
 public:
  // Connects and handshakes; false (and why in *err) when either fails.
  bool Connect(int port, const std::string& dir, bool with_cert, std::string* err) {
    fd_ = ConnectTcp(port);
    ctx_.reset(SSL_CTX_new(TLS_client_method()));
    if (!fd_ || !ctx_) return *err = "connect", false;
    SSL_CTX_load_verify_locations(ctx_.get(), (dir + "/ca.pem").c_str(), nullptr);
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    if (with_cert) {
      SSL_CTX_use_certificate_file(ctx_.get(), (dir + "/client.crt").c_str(), SSL_FILETYPE_PEM);
      SSL_CTX_use_PrivateKey_file(ctx_.get(), (dir + "/client.key").c_str(), SSL_FILETYPE_PEM);
    }
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), fd_.get());
    if (SSL_connect(ssl_.get()) != 1) {
      *err = ERR_error_string(ERR_get_error(), nullptr);
      return false;
    }
    return true;
  }
  bool Send(std::string_view data) {
    return SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size())) == static_cast<int>(data.size());
  }
  // One response with a content-length body; "<eof>" / "<error>" when the connection ends first.
  std::string ReadResponse() {
    for (;;) {
      size_t head_end = buf_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        size_t cl = buf_.find("content-length: ");
        size_t len = cl < head_end ? std::stoul(buf_.substr(cl + 16)) : 0;
        if (buf_.size() >= head_end + 4 + len) {
          std::string out = buf_.substr(0, head_end + 4 + len);
          buf_.erase(0, out.size());
          return out;
        }
      }
      char tmp[4096];
      int n = SSL_read(ssl_.get(), tmp, sizeof tmp);
      if (n <= 0) return buf_ + (SSL_get_error(ssl_.get(), n) == SSL_ERROR_ZERO_RETURN ? "<eof>" : "<error>");
      buf_.append(tmp, static_cast<size_t>(n));
    }
  }

 private:
  struct CtxFree {
    void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
  };
  struct SslFree {
    void operator()(SSL* s) const { SSL_free(s); }
  };
  UniqueFd fd_;
  std::unique_ptr<SSL_CTX, CtxFree> ctx_;
  std::unique_ptr<SSL, SslFree> ssl_;
  std::string buf_;
};

// ---- fixture: Router → HttpServer (adopt only) ← TlsListener on 127.0.0.1:0 ----

class TlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(dir_.path().empty());
    d_ = dir_.path();
    ASSERT_TRUE(MakePki(d_));
    router_.Handle("GET", "/who", [this](const Request& req, ResponseWriter& w) {
      ++calls_;
      auto auth = req.headers.find("authorization");
      w.SendJson(200, "id=" + w.PeerIdentity() + " uid=" + std::to_string(w.PeerUid()) +
                          " auth=" + (auth == req.headers.end() ? "-" : auth->second));
    });
    router_.Handle("GET", "/count", [](const Request&, ResponseWriter& w) {
      thread_local int served = 0;  // one thread per connection: requests on this connection
      w.SendJson(200, std::to_string(++served));
    });
    router_.Handle("GET", "/stream", [](const Request&, ResponseWriter& w) {
      w.StartStream(200, {{"content-type", "application/x-ndjson"}});
      for (int i = 0; i < 3; ++i) {
        w.Write("{\"n\":" + std::to_string(i) + "}\n");
        std::this_thread::sleep_for(10ms);
      }
    });
    router_.Handle("POST", "/upload", [](const Request& req, ResponseWriter& w) {
      size_t sum = 0;
      for (unsigned char c : req.body) sum = sum * 31 + c;
      w.SendJson(200, std::to_string(req.body.size()) + " " + std::to_string(sum));
    });
    router_.Handle("GET", "/big", [](const Request&, ResponseWriter& w) {
      w.Send(Response{.status = 200, .headers = {}, .body = std::string(2 << 20, 'x')});
    });
    router_.Handle("GET", "/block", [this](const Request&, ResponseWriter& w) {
      blocked_ = true;
      while (!w.ClientGone()) std::this_thread::sleep_for(5ms);
      w.SendJson(200, "gone");
    });
  }
  void TearDown() override {
    listener_.reset();
    server_.reset();
  }

  Result<void> StartTls(bool client_certs, int handshake_timeout_ms = 10000) {
    server_ = std::make_unique<HttpServer>(router_);
    auto fd = ListenTcp("127.0.0.1:0");
    if (!fd) return std::unexpected(fd.error());
    port_ = PortOf(fd->get());
    TlsOptions o{.cert = d_ + "/server.crt", .key = d_ + "/server.key",
                 .client_ca = client_certs ? d_ + "/ca.pem" : "", .handshake_timeout_ms = handshake_timeout_ms};
    listener_ = TRY(TlsListener::Create(std::move(*fd), o, *server_));
    server_->Start();
    listener_->Start();
    return {};
  }

  RemoteOptions Remote() const {
    return api::Remote("https://127.0.0.1:" + std::to_string(port_), d_ + "/ca.pem");
  }

  testing::TempDir dir_;
  std::string d_;
  Router router_;
  std::unique_ptr<HttpServer> server_;
  std::unique_ptr<TlsListener> listener_;
  int port_ = 0;
  std::atomic<int> calls_{0};
  std::atomic<bool> blocked_{false};
};

TEST_F(TlsTest, KeepAliveTwoRequestsStreamAndLargeUpload) {
  ASSERT_TRUE(StartTls(false));
  auto t = MakeHttpsTransport(Remote());
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ((*t)->Describe(), Remote().url);
  // Both requests on one connection (its thread counts them), through curl's reuse and the relay.
  for (int i = 1; i <= 2; ++i) {
    auto r = (*t)->Do("GET", "/count", "");
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, std::to_string(i));
    EXPECT_EQ(r->headers["content-type"], "application/json");
  }
  std::vector<std::string> pieces;
  auto st = (*t)->Stream("GET", "/stream", "", {}, [&](std::string_view d) {
    pieces.emplace_back(d);
    return true;
  });
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(*st, 200);
  std::string all;
  for (auto& p : pieces) all += p;
  EXPECT_EQ(all, "{\"n\":0}\n{\"n\":1}\n{\"n\":2}\n");

  std::string big(1 << 20, '\0');
  size_t sum = 0;
  for (size_t i = 0; i < big.size(); ++i) {
    big[i] = static_cast<char>(i * 7 + i / 4096);
    sum = sum * 31 + static_cast<unsigned char>(big[i]);
  }
  auto up = (*t)->Do("POST", "/upload", big, {{"Content-Type", "application/octet-stream"}});
  ASSERT_TRUE(up) << up.error().message();
  EXPECT_EQ(up->body, std::to_string(big.size()) + " " + std::to_string(sum));
  // Still the same connection after the stream and the upload.
  auto r = (*t)->Do("GET", "/count", "");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "3");
}

TEST_F(TlsTest, RawClientKeepsOneConnectionAndSeesCleanClose) {
  ASSERT_TRUE(StartTls(false));
  RawTlsClient c;
  std::string err;
  ASSERT_TRUE(c.Connect(port_, d_, false, &err)) << err;
  ASSERT_TRUE(c.Send("GET /count HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(c.ReadResponse().find("\r\n\r\n1"), std::string::npos);
  ASSERT_TRUE(c.Send("GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  std::string r = c.ReadResponse();
  // Adopted connections have no SO_PEERCRED user (their socket's peer is the daemon itself).
  EXPECT_NE(r.find("id= uid=-1 auth=-"), std::string::npos) << r;
  EXPECT_EQ(c.ReadResponse(), "<eof>");  // the server's close arrives as close_notify
}

TEST_F(TlsTest, StreamCanStopEarly) {
  ASSERT_TRUE(StartTls(false));
  auto t = MakeHttpsTransport(Remote());
  ASSERT_TRUE(t);
  int calls = 0;
  auto st = (*t)->Stream("GET", "/stream", "", {}, [&](std::string_view) { return ++calls < 1; });
  ASSERT_TRUE(st) << st.error().message();
  EXPECT_EQ(*st, 200);
  EXPECT_EQ(calls, 1);
  auto r = (*t)->Do("GET", "/who", "");  // the transport is still usable
  ASSERT_TRUE(r) << r.error().message();
}

TEST_F(TlsTest, BearerTokenIsSent) {
  ASSERT_TRUE(StartTls(false));
  RemoteOptions o = Remote();
  o.token = "s3cret\n";  // as read from a token file
  auto t = MakeHttpsTransport(o);
  ASSERT_TRUE(t) << t.error().message();
  auto r = (*t)->Do("GET", "/who", "");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "id= uid=-1 auth=Bearer s3cret");
}

TEST_F(TlsTest, WithoutTheCaVerificationFails) {
  ASSERT_TRUE(StartTls(false));
  RemoteOptions o = Remote();
  o.cacert = d_ + "/other-ca.pem";
  auto t = MakeHttpsTransport(o);
  ASSERT_TRUE(t);
  auto r = (*t)->Do("GET", "/who", "");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("TLS: certificate verify failed"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("pass --cacert with the node's CA"), std::string::npos);
  EXPECT_EQ(calls_, 0);
}

TEST_F(TlsTest, ConnectionRefusedSaysWhatToCheck) {
  int port;
  {
    auto fd = ListenTcp("127.0.0.1:0");
    ASSERT_TRUE(fd);
    port = PortOf(fd->get());
  }  // closed: nothing listens there now
  auto t = MakeHttpsTransport(api::Remote("https://127.0.0.1:" + std::to_string(port) + "/"));
  ASSERT_TRUE(t) << t.error().message();
  EXPECT_EQ((*t)->Describe(), "https://127.0.0.1:" + std::to_string(port));  // trailing slash dropped
  auto r = (*t)->Do("GET", "/who", "");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "cannot reach https://127.0.0.1:" + std::to_string(port) +
                                     ": connection refused — is the daemon started with --deploy-addr?");
}

TEST_F(TlsTest, ClientCertIdentityIsTheCn) {
  ASSERT_TRUE(StartTls(true));
  RemoteOptions o = Remote();
  o.cert = d_ + "/client.crt";
  o.key = d_ + "/client.key";
  auto t = MakeHttpsTransport(o);
  ASSERT_TRUE(t);
  auto r = (*t)->Do("GET", "/who", "");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "id=ci@example uid=-1 auth=-");
}

TEST_F(TlsTest, ClientCertModeRefusesMissingOrForeignCertificates) {
  ASSERT_TRUE(StartTls(true));
  auto none = MakeHttpsTransport(Remote());
  ASSERT_TRUE(none);
  auto r = (*none)->Do("GET", "/who", "");
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("--cert"), std::string::npos) << r.error().message();

  RemoteOptions o = Remote();
  o.cert = d_ + "/stranger.crt";
  o.key = d_ + "/stranger.key";
  auto stranger = MakeHttpsTransport(o);
  ASSERT_TRUE(stranger);
  auto r2 = (*stranger)->Do("GET", "/who", "");
  ASSERT_FALSE(r2);
  EXPECT_NE(r2.error().message().find("--cert"), std::string::npos) << r2.error().message();

  // The handshake itself is refused (TLS 1.3 reports it on the first read).
  RawTlsClient c;
  std::string err;
  if (c.Connect(port_, d_, false, &err)) {
    c.Send("GET /who HTTP/1.1\r\nHost: x\r\n\r\n");
    std::string resp = c.ReadResponse();
    EXPECT_EQ(resp.find("HTTP/1.1"), std::string::npos) << resp;
  }
  EXPECT_EQ(calls_, 0);

  // A good certificate still works after the refusals.
  RawTlsClient good;
  ASSERT_TRUE(good.Connect(port_, d_, true, &err)) << err;
  ASSERT_TRUE(good.Send("GET /who HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(good.ReadResponse().find("id=ci@example"), std::string::npos);
}

TEST_F(TlsTest, BadHandshakesDoNotDisturbOtherConnections) {
  ASSERT_TRUE(StartTls(false));
  UniqueFd stalled = ConnectTcp(port_);  // never says hello
  ASSERT_TRUE(stalled);
  UniqueFd plain = ConnectTcp(port_);    // speaks plain HTTP to the TLS port
  ASSERT_TRUE(plain);
  ASSERT_TRUE(testing::SendRaw(plain.get(), "GET /who HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string got = testing::ReadUntilClose(plain.get());
  EXPECT_EQ(got.find("HTTP/1.1 200"), std::string::npos) << got;
  EXPECT_EQ(got.find("<timeout>"), std::string::npos);

  auto t = MakeHttpsTransport(Remote());
  ASSERT_TRUE(t);
  auto r = (*t)->Do("GET", "/who", "");
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->status, 200);
}

TEST_F(TlsTest, LargeResponsesAndParallelClients) {
  ASSERT_TRUE(StartTls(false));
  std::vector<std::future<std::string>> clients;
  for (int i = 0; i < 6; ++i) {
    clients.push_back(std::async(std::launch::async, [this]() -> std::string {
      auto t = MakeHttpsTransport(Remote());
      if (!t) return t.error().message();
      for (int j = 1; j <= 3; ++j) {
        auto r = (*t)->Do("GET", "/big", "");
        if (!r) return r.error().message();
        if (r->body != std::string(2 << 20, 'x')) return "bad body of " + std::to_string(r->body.size());
        auto c = (*t)->Do("GET", "/count", "");
        if (!c || c->body != std::to_string(j)) return "not kept alive";
      }
      return "ok";
    }));
  }
  for (auto& c : clients) EXPECT_EQ(c.get(), "ok");
}

TEST_F(TlsTest, StalledHandshakeTimesOut) {
  ASSERT_TRUE(StartTls(false, 200));
  UniqueFd stalled = ConnectTcp(port_);
  ASSERT_TRUE(stalled);
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(testing::ReadUntilClose(stalled.get()), "");
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
}

TEST_F(TlsTest, StopReturnsWithConnectionsOpen) {
  ASSERT_TRUE(StartTls(false));
  UniqueFd stalled = ConnectTcp(port_);  // mid-handshake
  RawTlsClient idle;                     // handshaken, between requests
  RawTlsClient busy;                     // inside a handler that waits for the client to go
  std::string err;
  ASSERT_TRUE(idle.Connect(port_, d_, false, &err)) << err;
  ASSERT_TRUE(busy.Connect(port_, d_, false, &err)) << err;
  ASSERT_TRUE(busy.Send("GET /block HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(testing::WaitFor([&] { return blocked_.load(); }));

  auto start = std::chrono::steady_clock::now();
  auto done = std::async(std::launch::async, [&] {
    listener_->Stop();
    server_->Stop();
  });
  ASSERT_EQ(done.wait_for(5s), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);  // well under the handshake timeout
  EXPECT_EQ(idle.ReadResponse().find("HTTP/1.1"), std::string::npos);
  listener_->Stop();  // idempotent
}

TEST_F(TlsTest, StopOfTheHttpServerFirstClosesTheTlsSide) {
  ASSERT_TRUE(StartTls(false));
  RawTlsClient idle;
  std::string err;
  ASSERT_TRUE(idle.Connect(port_, d_, false, &err)) << err;
  ASSERT_TRUE(idle.Send("GET /count HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_NE(idle.ReadResponse().find("\r\n\r\n1"), std::string::npos);
  server_->Stop();
  EXPECT_EQ(idle.ReadResponse(), "<eof>");
}

TEST(TlsListenerCreate, StartErrorsNameTheFileAndTheFix) {
  testing::TempDir dir;
  const std::string d = dir.path();
  ASSERT_TRUE(MakePki(d));
  Router router;
  HttpServer server(router);
  auto make = [&](TlsOptions o) {
    auto fd = ListenTcp("127.0.0.1:0");
    EXPECT_TRUE(fd);
    return TlsListener::Create(std::move(*fd), o, server);
  };
  auto missing = make({.cert = d + "/nope.crt", .key = d + "/server.key"});
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error().message(), "TLS certificate " + d +
                                           "/nope.crt: No such file or directory; pass --deploy-tls-cert "
                                           "with a readable PEM file");
  auto mismatch = make({.cert = d + "/server.crt", .key = d + "/wrong.key"});
  ASSERT_FALSE(mismatch);
  EXPECT_EQ(mismatch.error().message(), "TLS key " + d + "/wrong.key does not match certificate " + d +
                                            "/server.crt; pass the key the certificate was issued for");
  auto swapped = make({.cert = d + "/server.key", .key = d + "/server.crt"});
  ASSERT_FALSE(swapped);
  EXPECT_EQ(swapped.error().message().find("TLS certificate " + d + "/server.key holds no usable PEM"), 0u)
      << swapped.error().message();
  auto bad_ca = make({.cert = d + "/server.crt", .key = d + "/server.key", .client_ca = d + "/server.key"});
  ASSERT_FALSE(bad_ca);
  EXPECT_NE(bad_ca.error().message().find("--deploy-client-ca"), std::string::npos) << bad_ca.error().message();
  auto no_key = make({.cert = d + "/server.crt"});
  ASSERT_FALSE(no_key);
  EXPECT_EQ(no_key.error().message(), "no TLS key given; pass --deploy-tls-key FILE");
  for (const auto* r : {&missing, &mismatch, &swapped, &bad_ca, &no_key})
    EXPECT_EQ(r->error().message().find('\n'), std::string::npos);
  auto ok = make({.cert = d + "/server.crt", .key = d + "/server.key", .client_ca = d + "/ca.pem"});
  EXPECT_TRUE(ok) << ok.error().message();
}

TEST(HttpsTransport, RefusesOtherSchemesAndBadOptions) {
  for (std::string url : {"http://node:8443", "unix:///run/moor/moor.sock", "node:8443", "https://", "https://:1"}) {
    auto t = MakeHttpsTransport(Remote(url));
    ASSERT_FALSE(t) << url;
    EXPECT_NE(t.error().message().find("must be https://HOST:PORT"), std::string::npos) << t.error().message();
  }
  EXPECT_NE(MakeHttpsTransport(Remote("unix:///x")).error().message().find("local daemon"), std::string::npos);
  auto missing_ca = MakeHttpsTransport(Remote("https://node:8443", "/nonexistent/ca.pem"));
  ASSERT_FALSE(missing_ca);
  EXPECT_EQ(missing_ca.error().message(),
            "cannot read CA file /nonexistent/ca.pem: No such file or directory; check --cacert");
  EXPECT_FALSE(MakeHttpsTransport(Remote("https://node:8443", "", "", "/k")));
  EXPECT_FALSE(MakeHttpsTransport(Remote("https://node:8443", "", "", "", "a\nb")));
  EXPECT_TRUE(MakeHttpsTransport(Remote("HTTPS://node:8443")));
}

}  // namespace
}  // namespace moor::api
