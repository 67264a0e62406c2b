#include "deploy/ledger/ledger.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cerrno>
#include <string>

#include "common/file.h"

namespace moor::deploy {
namespace {

class LedgerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto l = Ledger::OpenMemory();
    ASSERT_TRUE(l) << l.error().message();
    ledger_ = std::move(*l);
  }

  void PutService(const std::string& app, const std::string& svc) {
    ServiceRecord r;
    r.app = app;
    r.service = svc;
    ASSERT_TRUE(ledger_->PutService(r));
  }

  int64_t New(const std::string& app, const std::string& svc, const std::string& digest = "sha256:aa",
              int64_t created = 1) {
    ReleaseRow r;
    r.app = app;
    r.service = svc;
    r.code_digest = digest;
    r.created_ns = created;
    auto row = ledger_->NewRelease(r);
    EXPECT_TRUE(row) << row.error().message();
    return row ? row->id : -1;
  }

  ReleaseRow Get(const std::string& app, const std::string& svc, int64_t id) {
    auto r = ledger_->GetRelease(app, svc, id);
    EXPECT_TRUE(r && *r);
    return r && *r ? **r : ReleaseRow{};
  }

  std::unique_ptr<Ledger> ledger_;
};

TEST(ReleaseStateTest, NamesRoundTripAndUnknownIsRefused) {
  for (auto s : {ReleaseState::kUploading, ReleaseState::kMaterialised, ReleaseState::kSwitching, ReleaseState::kLive,
                 ReleaseState::kRetired, ReleaseState::kFailed}) {
    auto p = ParseState(StateName(s));
    ASSERT_TRUE(p);
    EXPECT_EQ(*p, s);
  }
  EXPECT_EQ(StateName(ReleaseState::kMaterialised), "materialised");
  auto bad = ParseState("done");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("unknown release state \"done\""), std::string::npos);
}

TEST_F(LedgerTest, ServicesPutGetListRemove) {
  auto none = ledger_->GetService("shop", "php");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);

  ServiceRecord r;
  r.app = "shop";
  r.service = "php";
  r.strategy = "rolling";
  r.batch = 2;
  r.reload_signal = "none";
  r.record_json = "{\"x\":1}";
  r.updated_ns = 7;
  ASSERT_TRUE(ledger_->PutService(r));
  PutService("shop", "web");
  PutService("blog", "php");

  auto got = ledger_->GetService("shop", "php");
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->strategy, "rolling");
  EXPECT_EQ((*got)->batch, 2);
  EXPECT_EQ((*got)->reload_signal, "none");
  EXPECT_EQ((*got)->record_json, "{\"x\":1}");
  EXPECT_EQ((*got)->updated_ns, 7);
  EXPECT_FALSE((*got)->live_release);

  auto all = ledger_->ListServices();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ((*all)[0].app, "blog");
  auto shop = ledger_->ListServices("shop");
  ASSERT_TRUE(shop);
  ASSERT_EQ(shop->size(), 2u);
  EXPECT_EQ((*shop)[0].service, "php");
  EXPECT_EQ((*shop)[1].service, "web");

  ASSERT_TRUE(ledger_->RemoveService("shop", "php"));
  auto gone = ledger_->GetService("shop", "php");
  ASSERT_TRUE(gone);
  EXPECT_FALSE(*gone);
  EXPECT_TRUE(ledger_->RemoveService("shop", "nope"));  // removing nothing is fine
}

TEST_F(LedgerTest, PutServiceKeepsLiveRelease) {
  PutService("shop", "php");
  int64_t id = New("shop", "php");
  ASSERT_TRUE(ledger_->CommitLive("shop", "php", id, "deploy", "ci", 100));
  ServiceRecord r;
  r.app = "shop";
  r.service = "php";
  r.strategy = "rolling";
  r.live_release = 99;  // ignored: only CommitLive sets it
  ASSERT_TRUE(ledger_->PutService(r));
  auto got = ledger_->GetService("shop", "php");
  ASSERT_TRUE(got && *got);
  EXPECT_EQ((*got)->strategy, "rolling");
  ASSERT_TRUE((*got)->live_release);
  EXPECT_EQ(*(*got)->live_release, id);
}

TEST_F(LedgerTest, NewReleaseNumbersPerServiceAndStoresFields) {
  ReleaseRow r;
  r.app = "shop";
  r.service = "php";
  r.id = 77;                      // ignored
  r.state = ReleaseState::kLive;  // ignored
  r.code_digest = "sha256:ab";
  r.image_ref = "moor/php-fpm:8.2";
  r.image_id = "sha256:cd";
  r.config_digest = "sha256:ef";
  r.who = "ann@example.org";
  r.session = "5e55";
  r.kind = "image";
  r.created_ns = 11;
  r.instances_json = "[\"a\"]";
  auto row = ledger_->NewRelease(r);
  ASSERT_TRUE(row) << row.error().message();
  EXPECT_EQ(row->id, 1);
  EXPECT_EQ(row->state, ReleaseState::kUploading);

  ReleaseRow got = Get("shop", "php", 1);
  EXPECT_EQ(got.code_digest, "sha256:ab");
  EXPECT_EQ(got.image_ref, "moor/php-fpm:8.2");
  EXPECT_EQ(got.image_id, "sha256:cd");
  EXPECT_EQ(got.config_digest, "sha256:ef");
  EXPECT_EQ(got.who, "ann@example.org");
  EXPECT_EQ(got.session, "5e55");
  EXPECT_EQ(got.kind, "image");
  EXPECT_EQ(got.created_ns, 11);
  EXPECT_EQ(got.instances_json, "[\"a\"]");
  EXPECT_EQ(got.state, ReleaseState::kUploading);

  EXPECT_EQ(New("shop", "php"), 2);
  EXPECT_EQ(New("shop", "web"), 1);  // per service
  EXPECT_EQ(New("blog", "php"), 1);  // per app
  EXPECT_EQ(New("shop", "php"), 3);
}

TEST_F(LedgerTest, IdsAreNeverReusedAfterRemoval) {
  PutService("shop", "php");
  New("shop", "php");
  New("shop", "php");
  ASSERT_TRUE(ledger_->RemoveService("shop", "php"));
  auto rows = ledger_->ListReleases("shop", "php");
  ASSERT_TRUE(rows);
  EXPECT_TRUE(rows->empty());
  EXPECT_EQ(New("shop", "php"), 3);
}

TEST_F(LedgerTest, GetReleaseNotFound) {
  auto r = ledger_->GetRelease("shop", "php", 1);
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  New("shop", "php");
  auto other = ledger_->GetRelease("shop", "web", 1);
  ASSERT_TRUE(other);
  EXPECT_FALSE(*other);
}

TEST_F(LedgerTest, FindSession) {
  ReleaseRow r;
  r.app = "shop";
  r.service = "php";
  r.session = "abc123";
  ASSERT_TRUE(ledger_->NewRelease(r));
  New("shop", "php");  // no session
  auto found = ledger_->FindSession("abc123");
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->id, 1);
  auto missing = ledger_->FindSession("ffff");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);
  auto empty = ledger_->FindSession("");
  ASSERT_TRUE(empty);
  EXPECT_FALSE(*empty);
}

TEST_F(LedgerTest, FindUploadingMatchesDigestsAndState) {
  int64_t a = New("shop", "php", "sha256:aa");
  int64_t b = New("shop", "php", "sha256:aa");
  New("shop", "php", "sha256:bb");
  New("shop", "web", "sha256:aa");

  auto found = ledger_->FindUploading("shop", "php", "sha256:aa", "");
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->id, b);  // the newest

  ASSERT_TRUE(ledger_->SetState("shop", "php", b, ReleaseState::kFailed, "boom"));
  found = ledger_->FindUploading("shop", "php", "sha256:aa", "");
  ASSERT_TRUE(found && *found);
  EXPECT_EQ((*found)->id, a);

  auto other_image = ledger_->FindUploading("shop", "php", "sha256:aa", "moor/php-fpm:8.3");
  ASSERT_TRUE(other_image);
  EXPECT_FALSE(*other_image);

  ASSERT_TRUE(ledger_->SetState("shop", "php", a, ReleaseState::kMaterialised));
  auto none = ledger_->FindUploading("shop", "php", "sha256:aa", "");
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
}

TEST_F(LedgerTest, ListReleasesNewestFirstAndFiltered) {
  New("shop", "php", "sha256:aa", 10);
  New("shop", "php", "sha256:aa", 20);
  New("shop", "web", "sha256:aa", 15);
  New("blog", "php", "sha256:aa", 5);

  auto php = ledger_->ListReleases("shop", "php");
  ASSERT_TRUE(php);
  ASSERT_EQ(php->size(), 2u);
  EXPECT_EQ((*php)[0].id, 2);
  EXPECT_EQ((*php)[1].id, 1);

  auto shop = ledger_->ListReleases("shop");
  ASSERT_TRUE(shop);
  ASSERT_EQ(shop->size(), 3u);
  EXPECT_EQ((*shop)[0].created_ns, 20);
  EXPECT_EQ((*shop)[1].service, "web");

  auto all = ledger_->ListReleases();
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 4u);
  EXPECT_EQ(all->back().app, "blog");
}

TEST_F(LedgerTest, ListUnfinished) {
  PutService("shop", "php");
  int64_t up = New("shop", "php");
  int64_t mat = New("shop", "php");
  int64_t sw = New("shop", "php");
  int64_t live = New("shop", "php");
  int64_t failed = New("shop", "php");
  int64_t web = New("shop", "web");
  ASSERT_TRUE(ledger_->SetState("shop", "php", mat, ReleaseState::kMaterialised));
  ASSERT_TRUE(ledger_->SetState("shop", "php", sw, ReleaseState::kSwitching));
  ASSERT_TRUE(ledger_->CommitLive("shop", "php", live, "deploy", "ci", 5));
  ASSERT_TRUE(ledger_->SetState("shop", "php", failed, ReleaseState::kFailed, "bad"));

  auto rows = ledger_->ListUnfinished();
  ASSERT_TRUE(rows);
  ASSERT_EQ(rows->size(), 4u);
  EXPECT_EQ((*rows)[0].id, up);
  EXPECT_EQ((*rows)[1].id, mat);
  EXPECT_EQ((*rows)[2].id, sw);
  EXPECT_EQ((*rows)[3].service, "web");
  EXPECT_EQ((*rows)[3].id, web);
}

TEST_F(LedgerTest, SetStateAddSentSetInstancesAndNotFound) {
  int64_t id = New("shop", "php");
  ASSERT_TRUE(ledger_->SetState("shop", "php", id, ReleaseState::kFailed, "missing blob sha256:aa"));
  ASSERT_TRUE(ledger_->AddSent("shop", "php", id, 3, 300));
  ASSERT_TRUE(ledger_->AddSent("shop", "php", id, 1, 50));
  ASSERT_TRUE(ledger_->SetInstances("shop", "php", id, "[\"shop-php-1\"]"));
  ReleaseRow r = Get("shop", "php", id);
  EXPECT_EQ(r.state, ReleaseState::kFailed);
  EXPECT_EQ(r.error, "missing blob sha256:aa");
  EXPECT_EQ(r.files_sent, 4);
  EXPECT_EQ(r.bytes_sent, 350);
  EXPECT_EQ(r.instances_json, "[\"shop-php-1\"]");

  auto s = ledger_->SetState("shop", "php", 9, ReleaseState::kLive);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error().errnum(), ENOENT);
  EXPECT_NE(s.error().message().find("release 9 of shop/php"), std::string::npos);
  auto a = ledger_->AddSent("shop", "web", id, 1, 1);
  ASSERT_FALSE(a);
  EXPECT_EQ(a.error().errnum(), ENOENT);
  auto i = ledger_->SetInstances("blog", "php", id, "[]");
  ASSERT_FALSE(i);
  EXPECT_EQ(i.error().errnum(), ENOENT);
}

TEST_F(LedgerTest, CommitLiveRetiresThePreviousAndRecordsSwitches) {
  PutService("shop", "php");
  int64_t one = New("shop", "php");
  int64_t two = New("shop", "php");
  ASSERT_TRUE(ledger_->SetState("shop", "php", one, ReleaseState::kSwitching));
  ASSERT_TRUE(ledger_->CommitLive("shop", "php", one, "deploy", "ann", 100));
  ReleaseRow r1 = Get("shop", "php", one);
  EXPECT_EQ(r1.state, ReleaseState::kLive);
  EXPECT_EQ(r1.live_ns, 100);

  ASSERT_TRUE(ledger_->SetState("shop", "php", two, ReleaseState::kSwitching));
  ASSERT_TRUE(ledger_->CommitLive("shop", "php", two, "deploy", "bob", 200));
  r1 = Get("shop", "php", one);
  EXPECT_EQ(r1.state, ReleaseState::kRetired);
  EXPECT_EQ(r1.retired_ns, 200);
  ReleaseRow r2 = Get("shop", "php", two);
  EXPECT_EQ(r2.state, ReleaseState::kLive);
  EXPECT_EQ(r2.live_ns, 200);
  auto svc = ledger_->GetService("shop", "php");
  ASSERT_TRUE(svc && *svc && (*svc)->live_release);
  EXPECT_EQ(*(*svc)->live_release, two);

  // Rollback: the retired one is live again, its retired time cleared.
  ASSERT_TRUE(ledger_->CommitLive("shop", "php", one, "rollback", "ann", 300));
  r1 = Get("shop", "php", one);
  EXPECT_EQ(r1.state, ReleaseState::kLive);
  EXPECT_EQ(r1.live_ns, 300);
  EXPECT_EQ(r1.retired_ns, 0);
  EXPECT_EQ(Get("shop", "php", two).state, ReleaseState::kRetired);

  // Committing the live one again changes nothing.
  ASSERT_TRUE(ledger_->CommitLive("shop", "php", one, "rollback", "ann", 400));
  EXPECT_EQ(Get("shop", "php", one).live_ns, 300);

  auto sw = ledger_->ListSwitches("shop", "php");
  ASSERT_TRUE(sw);
  ASSERT_EQ(sw->size(), 3u);
  EXPECT_EQ((*sw)[0].from_id, 0);
  EXPECT_EQ((*sw)[0].to_id, one);
  EXPECT_EQ((*sw)[0].who, "ann");
  EXPECT_EQ((*sw)[1].from_id, one);
  EXPECT_EQ((*sw)[1].to_id, two);
  EXPECT_EQ((*sw)[1].kind, "deploy");
  EXPECT_EQ((*sw)[1].at_ns, 200);
  EXPECT_EQ((*sw)[2].from_id, two);
  EXPECT_EQ((*sw)[2].kind, "rollback");
  EXPECT_LT((*sw)[0].seq, (*sw)[1].seq);
  auto other = ledger_->ListSwitches("shop", "web");
  ASSERT_TRUE(other);
  EXPECT_TRUE(other->empty());
}

TEST_F(LedgerTest, CommitLiveFailuresChangeNothing) {
  int64_t id = New("shop", "php");
  auto no_service = ledger_->CommitLive("shop", "php", id, "deploy", "ann", 1);
  ASSERT_FALSE(no_service);
  EXPECT_EQ(no_service.error().errnum(), ENOENT);
  EXPECT_NE(no_service.error().message().find("run moor up"), std::string::npos);

  PutService("shop", "php");
  ASSERT_TRUE(ledger_->CommitLive("shop", "php", id, "deploy", "ann", 1));
  auto no_release = ledger_->CommitLive("shop", "php", 42, "deploy", "ann", 2);
  ASSERT_FALSE(no_release);
  EXPECT_EQ(no_release.error().errnum(), ENOENT);
  // The failed commit rolled back: release 1 is still live, one switch.
  EXPECT_EQ(Get("shop", "php", id).state, ReleaseState::kLive);
  auto svc = ledger_->GetService("shop", "php");
  ASSERT_TRUE(svc && *svc && (*svc)->live_release);
  EXPECT_EQ(*(*svc)->live_release, id);
  auto sw = ledger_->ListSwitches("shop", "php");
  ASSERT_TRUE(sw);
  EXPECT_EQ(sw->size(), 1u);
}

TEST_F(LedgerTest, RemoveServiceDropsReleasesAndSwitches) {
  PutService("shop", "php");
  PutService("shop", "web");
  int64_t id = New("shop", "php");
  int64_t web = New("shop", "web");
  ASSERT_TRUE(ledger_->CommitLive("shop", "php", id, "deploy", "ann", 1));
  ASSERT_TRUE(ledger_->RemoveService("shop", "php"));
  auto sw = ledger_->ListSwitches("shop", "php");
  ASSERT_TRUE(sw);
  EXPECT_TRUE(sw->empty());
  auto r = ledger_->GetRelease("shop", "php", id);
  ASSERT_TRUE(r);
  EXPECT_FALSE(*r);
  EXPECT_EQ(Get("shop", "web", web).id, web);  // other services untouched
}

TEST_F(LedgerTest, Tokens) {
  ASSERT_TRUE(ledger_->PutToken(TokenRow{"ci", "aa11", "shop", 5}));
  ASSERT_TRUE(ledger_->PutToken(TokenRow{"admin", "bb22", "", 6}));
  auto dup = ledger_->PutToken(TokenRow{"ci", "cc33", "", 7});
  ASSERT_FALSE(dup);
  EXPECT_EQ(dup.error().errnum(), EEXIST);
  EXPECT_NE(dup.error().message().find("deploy token \"ci\" already exists"), std::string::npos);

  auto t = ledger_->FindTokenByHash("aa11");
  ASSERT_TRUE(t && *t);
  EXPECT_EQ((*t)->name, "ci");
  EXPECT_EQ((*t)->app, "shop");
  EXPECT_EQ((*t)->created_ns, 5);
  auto missing = ledger_->FindTokenByHash("cc33");
  ASSERT_TRUE(missing);
  EXPECT_FALSE(*missing);

  auto all = ledger_->ListTokens();
  ASSERT_TRUE(all);
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].name, "admin");

  auto removed = ledger_->RemoveToken("ci");
  ASSERT_TRUE(removed);
  EXPECT_TRUE(*removed);
  auto again = ledger_->RemoveToken("ci");
  ASSERT_TRUE(again);
  EXPECT_FALSE(*again);
  auto after = ledger_->FindTokenByHash("aa11");
  ASSERT_TRUE(after);
  EXPECT_FALSE(*after);
}

TEST(LedgerFileTest, PersistsPrivateWalFileAcrossReopen) {
  char tmpl[] = "/tmp/moor-ledger-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string dir = tmpl;
  const std::string path = dir + "/deploy/deploy.db";
  {
    auto l = Ledger::Open(path);
    ASSERT_TRUE(l) << l.error().message();
    ServiceRecord s;
    s.app = "shop";
    s.service = "php";
    ASSERT_TRUE((*l)->PutService(s));
    ReleaseRow r;
    r.app = "shop";
    r.service = "php";
    ASSERT_TRUE((*l)->NewRelease(r));
    ASSERT_TRUE((*l)->NewRelease(r));
    ASSERT_TRUE((*l)->RemoveService("shop", "php"));
    EXPECT_TRUE(PathExists(path + "-wal"));  // WAL journal: readers do not block the writer
  }
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  {
    auto l = Ledger::Open(path);
    ASSERT_TRUE(l) << l.error().message();
    ReleaseRow r;
    r.app = "shop";
    r.service = "php";
    auto row = (*l)->NewRelease(r);
    ASSERT_TRUE(row);
    EXPECT_EQ(row->id, 3);  // the counter survived the removal and the reopen
  }
  auto bad = Ledger::Open("/proc/moor-no-such/deploy.db");
  EXPECT_FALSE(bad);
  ASSERT_TRUE(RemoveAll(dir));
}

}  // namespace
}  // namespace moor::deploy
