#include "store/sqlite.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include "common/file.h"

namespace moor::store {
namespace {

class SqliteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/moor-sqlite-test-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/t.db";
  }
  void TearDown() override { ASSERT_TRUE(RemoveAll(dir_)); }

  Database OpenOrDie() {
    auto db = Database::Open(path_);
    EXPECT_TRUE(db) << db.error().message();
    return std::move(*db);
  }

  std::string dir_, path_;
};

TEST_F(SqliteTest, MigrateAppliesEachStepOnceAcrossReopen) {
  const std::vector<std::string> v2 = {"CREATE TABLE a (x INTEGER)", "CREATE TABLE b (y TEXT)"};
  {
    Database db = OpenOrDie();
    ASSERT_EQ(*db.UserVersion(), 0);
    auto r = db.Migrate(v2);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*db.UserVersion(), 2);
    ASSERT_TRUE(db.Exec("INSERT INTO a VALUES (7)"));
  }
  {
    // Re-running the same steps must not re-create the tables (which would fail).
    Database db = OpenOrDie();
    auto r = db.Migrate(v2);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*db.UserVersion(), 2);
  }
  {
    // A newer moor adds a step: only that one runs; data survives.
    auto v3 = v2;
    v3.push_back("ALTER TABLE a ADD COLUMN z TEXT DEFAULT 'new'");
    Database db = OpenOrDie();
    auto r = db.Migrate(v3);
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(*db.UserVersion(), 3);
    auto st = db.Prepare("SELECT x, z FROM a");
    ASSERT_TRUE(st);
    ASSERT_TRUE(*st->Step());
    EXPECT_EQ(st->ColumnInt(0), 7);
    EXPECT_EQ(st->ColumnText(1), "new");
  }
}

TEST_F(SqliteTest, NewerDatabaseIsRefused) {
  {
    Database db = OpenOrDie();
    ASSERT_TRUE(db.Migrate({"CREATE TABLE a (x)", "CREATE TABLE b (x)", "CREATE TABLE c (x)"}));
  }
  Database db = OpenOrDie();
  auto r = db.Migrate({"CREATE TABLE a (x)", "CREATE TABLE b (x)"});
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(),
            "state database schema version 3 is newer than this moor (knows 2): upgrade moor");
  EXPECT_EQ(*db.UserVersion(), 3);
}

TEST_F(SqliteTest, FailedStepRollsBackAndKeepsVersion) {
  Database db = OpenOrDie();
  auto r = db.Migrate({"CREATE TABLE a (x)", "CREATE TABLE b (x); CREATE TABLE a (x)"});
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().message().find("version 2"), std::string::npos) << r.error().message();
  EXPECT_NE(r.error().message().find("already exists"), std::string::npos) << r.error().message();
  EXPECT_EQ(*db.UserVersion(), 1);
  // Table b of the failed step was rolled back with it.
  EXPECT_FALSE(db.Prepare("SELECT * FROM b"));
}

TEST_F(SqliteTest, StatementBindStepColumns) {
  Database db = OpenOrDie();
  ASSERT_TRUE(db.Exec("CREATE TABLE t (k TEXT PRIMARY KEY, n INTEGER, v TEXT)"));
  auto ins = db.Prepare("INSERT INTO t (k, n, v) VALUES (?1, ?2, ?3)");
  ASSERT_TRUE(ins);
  ins->Bind(1, std::string_view("a\0b", 3)).Bind(2, int64_t{1} << 40).BindNull(3);
  ASSERT_TRUE(ins->Run());
  EXPECT_EQ(db.Changes(), 1);
  ins->Reset();
  ins->Bind(1, "c").Bind(2, int64_t{-5}).Bind(3, "x");
  ASSERT_TRUE(ins->Run());

  auto sel = db.Prepare("SELECT k, n, v FROM t ORDER BY n");
  ASSERT_TRUE(sel);
  ASSERT_TRUE(*sel->Step());
  EXPECT_EQ(sel->ColumnText(0), "c");
  EXPECT_EQ(sel->ColumnInt(1), -5);
  EXPECT_FALSE(sel->ColumnIsNull(2));
  ASSERT_TRUE(*sel->Step());
  EXPECT_EQ(sel->ColumnText(0), std::string("a\0b", 3));  // embedded NUL kept
  EXPECT_EQ(sel->ColumnInt(1), int64_t{1} << 40);
  EXPECT_TRUE(sel->ColumnIsNull(2));
  EXPECT_FALSE(*sel->Step());
}

TEST_F(SqliteTest, ErrorsCarryErrnoAndStatement) {
  Database db = OpenOrDie();
  ASSERT_TRUE(db.Exec("CREATE TABLE t (k TEXT PRIMARY KEY, u TEXT UNIQUE)"));
  ASSERT_TRUE(db.Exec("INSERT INTO t VALUES ('a', 'x')"));

  auto dup = db.Prepare("INSERT INTO t VALUES ('a', 'y')");
  ASSERT_TRUE(dup);
  auto r = dup->Run();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EEXIST);
  EXPECT_NE(r.error().message().find("INSERT INTO t"), std::string::npos) << r.error().message();

  auto dup_unique = db.Prepare("INSERT INTO t VALUES ('b', 'x')");
  ASSERT_TRUE(dup_unique);
  r = dup_unique->Run();
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().errnum(), EEXIST);

  auto bad = db.Prepare("SELEKT 1");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("SELEKT 1"), std::string::npos) << bad.error().message();

  // A bind to a parameter that does not exist is reported by Step().
  auto sel = db.Prepare("SELECT ?1");
  ASSERT_TRUE(sel);
  sel->Bind(5, "x");
  auto s = sel->Step();
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().message().find("bind parameter 5"), std::string::npos) << s.error().message();
  sel->Reset();
  sel->Bind(1, "ok");
  ASSERT_TRUE(*sel->Step());
  EXPECT_EQ(sel->ColumnText(0), "ok");
}

TEST_F(SqliteTest, TransactionRollsBackUnlessCommitted) {
  Database db = OpenOrDie();
  ASSERT_TRUE(db.Exec("CREATE TABLE t (x)"));
  {
    auto tx = Transaction::Begin(db);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(db.Exec("INSERT INTO t VALUES (1)"));
  }  // dropped: rolled back
  {
    auto tx = Transaction::Begin(db);
    ASSERT_TRUE(tx);
    ASSERT_TRUE(db.Exec("INSERT INTO t VALUES (2)"));
    ASSERT_TRUE(tx->Commit());
    EXPECT_FALSE(tx->Commit());  // already finished
  }
  auto st = db.Prepare("SELECT group_concat(x) FROM t");
  ASSERT_TRUE(st);
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->ColumnText(0), "2");
}

TEST_F(SqliteTest, SecondWriterWaitsForTheFirst) {
  Database a = OpenOrDie();
  Database b = OpenOrDie();
  ASSERT_TRUE(a.Exec("CREATE TABLE t (x)"));
  auto tx = Transaction::Begin(a);
  ASSERT_TRUE(tx);
  ASSERT_TRUE(a.Exec("INSERT INTO t VALUES (1)"));
  // b's BEGIN IMMEDIATE must wait (busy timeout) rather than fail while a
  // holds the write lock, and see a's row once it gets in.
  std::thread committer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    ASSERT_TRUE(tx->Commit());
  });
  auto tb = Transaction::Begin(b);
  committer.join();
  ASSERT_TRUE(tb) << tb.error().message();
  auto st = b.Prepare("SELECT count(*) FROM t");
  ASSERT_TRUE(st);
  ASSERT_TRUE(*st->Step());
  EXPECT_EQ(st->ColumnInt(0), 1);
}

TEST_F(SqliteTest, OpenFailsInMissingDirectory) {
  auto db = Database::Open(dir_ + "/missing/t.db");
  ASSERT_FALSE(db);
  EXPECT_NE(db.error().message().find("open state database"), std::string::npos) << db.error().message();
}

TEST(SqliteMemoryTest, OpenMemoryWorks) {
  auto db = Database::OpenMemory();
  ASSERT_TRUE(db);
  ASSERT_TRUE(db->Migrate({"CREATE TABLE t (x)"}));
  ASSERT_TRUE(db->Exec("INSERT INTO t VALUES (1)"));
  EXPECT_EQ(db->LastInsertRowid(), 1);
}

}  // namespace
}  // namespace moor::store
