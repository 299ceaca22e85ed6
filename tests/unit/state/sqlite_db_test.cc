// The --state-dir's SQLite wrapper against a real file in a temporary
// directory: what is committed is read back, also after reopening; what is
// not committed is rolled back; errors name the statement.
#include "bridge/state/sqlite_db.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace hive {
namespace {

using ::testing::HasSubstr;

class SqliteDbTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/hive-sqlite-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::unique_ptr<SqliteDb> OpenDb() {
    absl::StatusOr<std::unique_ptr<SqliteDb>> db = SqliteDb::Open(StateDbPath(dir_));
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? *std::move(db) : nullptr;
  }

  static void Put(SqliteDb& db, const std::string& key, const std::string& value) {
    absl::StatusOr<SqliteStatement> put = db.Prepare("INSERT OR REPLACE INTO kv (k, v) VALUES (?1, ?2)");
    ASSERT_TRUE(put.ok()) << put.status();
    put->BindText(1, key);
    put->BindBlob(2, value);
    ASSERT_TRUE(put->Run().ok());
  }

  // The value stored under `key`, or "(none)".
  static std::string Get(SqliteDb& db, const std::string& key) {
    absl::StatusOr<SqliteStatement> get = db.Prepare("SELECT v FROM kv WHERE k = ?1");
    EXPECT_TRUE(get.ok()) << get.status();
    get->BindText(1, key);
    absl::StatusOr<bool> row = get->Step();
    EXPECT_TRUE(row.ok()) << row.status();
    return row.ok() && *row ? get->ColumnBlob(0) : "(none)";
  }

  std::string dir_;
};

TEST_F(SqliteDbTest, StateDbPathIsTheFileInTheDirectory) {
  EXPECT_EQ(StateDbPath("/var/lib/hivebridge"), "/var/lib/hivebridge/hivebridge.db");
}

TEST_F(SqliteDbTest, CommittedRowsAreReadBackAndSurviveReopening) {
  {
    std::unique_ptr<SqliteDb> db = OpenDb();
    ASSERT_NE(db, nullptr);
    ASSERT_TRUE(db->Exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB)").ok());
    absl::StatusOr<SqliteTransaction> transaction = SqliteTransaction::Begin(*db);
    ASSERT_TRUE(transaction.ok()) << transaction.status();
    Put(*db, "a", std::string("one\0two", 7));  // blobs keep NUL bytes
    Put(*db, "b", "three");
    ASSERT_TRUE(transaction->Commit().ok());
    EXPECT_EQ(Get(*db, "a"), std::string("one\0two", 7));
    EXPECT_EQ(db->changes(), 1);
  }
  std::unique_ptr<SqliteDb> reopened = OpenDb();
  ASSERT_NE(reopened, nullptr);
  EXPECT_EQ(Get(*reopened, "a"), std::string("one\0two", 7));
  EXPECT_EQ(Get(*reopened, "b"), "three");
}

TEST_F(SqliteDbTest, ATransactionDestroyedUncommittedIsRolledBack) {
  std::unique_ptr<SqliteDb> db = OpenDb();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE kv (k TEXT PRIMARY KEY, v BLOB)").ok());
  Put(*db, "kept", "1");
  {
    absl::StatusOr<SqliteTransaction> transaction = SqliteTransaction::Begin(*db);
    ASSERT_TRUE(transaction.ok());
    Put(*db, "lost", "2");
    Put(*db, "kept", "changed");
    EXPECT_EQ(Get(*db, "lost"), "2");  // visible inside the transaction
  }
  EXPECT_EQ(Get(*db, "lost"), "(none)");
  EXPECT_EQ(Get(*db, "kept"), "1");
  // The connection is usable again: a new transaction begins.
  absl::StatusOr<SqliteTransaction> next = SqliteTransaction::Begin(*db);
  ASSERT_TRUE(next.ok()) << next.status();
  EXPECT_TRUE(next->Commit().ok());
}

TEST_F(SqliteDbTest, StatementsStepThroughRowsAndReset) {
  std::unique_ptr<SqliteDb> db = OpenDb();
  ASSERT_NE(db, nullptr);
  ASSERT_TRUE(db->Exec("CREATE TABLE n (i INTEGER, t TEXT)").ok());
  absl::StatusOr<SqliteStatement> put = db->Prepare("INSERT INTO n VALUES (?1, ?2)");
  ASSERT_TRUE(put.ok());
  for (int64_t i : {int64_t{1}, int64_t{1} << 40}) {
    put->Reset();
    put->BindInt64(1, i);
    put->BindNull(2);
    ASSERT_TRUE(put->Run().ok());
  }
  absl::StatusOr<SqliteStatement> all = db->Prepare("SELECT i, t FROM n ORDER BY i");
  ASSERT_TRUE(all.ok());
  ASSERT_TRUE(*all->Step());
  EXPECT_EQ(all->ColumnInt64(0), 1);
  EXPECT_TRUE(all->ColumnIsNull(1));
  EXPECT_EQ(all->ColumnText(1), "");
  ASSERT_TRUE(*all->Step());
  EXPECT_EQ(all->ColumnInt64(0), int64_t{1} << 40);
  EXPECT_FALSE(*all->Step());
}

TEST_F(SqliteDbTest, ErrorsNameTheStatementAndSqlitesMessage) {
  std::unique_ptr<SqliteDb> db = OpenDb();
  ASSERT_NE(db, nullptr);
  absl::Status exec = db->Exec("SELECT * FROM missing_table");
  EXPECT_FALSE(exec.ok());
  EXPECT_THAT(exec.message(), HasSubstr("SELECT * FROM missing_table"));
  EXPECT_THAT(exec.message(), HasSubstr("no such table"));
  absl::StatusOr<SqliteStatement> prepared = db->Prepare("INSERT INTO nowhere VALUES (1)");
  EXPECT_FALSE(prepared.ok());
  EXPECT_THAT(prepared.status().message(), HasSubstr("INSERT INTO nowhere"));
}

TEST_F(SqliteDbTest, OpeningAFileInAMissingDirectoryFailsNamingIt) {
  absl::StatusOr<std::unique_ptr<SqliteDb>> db = SqliteDb::Open(StateDbPath(dir_ + "/no/such/dir"));
  ASSERT_FALSE(db.ok());
  EXPECT_THAT(db.status().message(), HasSubstr("no/such/dir/hivebridge.db"));
}

}  // namespace
}  // namespace hive
