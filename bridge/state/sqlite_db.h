// bridge/state/sqlite_db.h
// The embedded store behind --state-dir: one SQLite database file in WAL
// mode, opened once per owner (the twin store, the request queue), each with
// its own connection, so that each writes from its own thread without a lock
// of ours. WAL lets readers go on while one writes; busy_timeout makes a
// writer wait for another's transaction instead of failing.
//
// Why SQLite (README, "Why these libraries"): the well-kept standard for an
// embedded, crash-safe store; a committed transaction survives kill -9
// (WAL), and with synchronous=FULL a power cut too. Queries by account or
// version need no hand-made index.
//
//   absl::StatusOr<std::unique_ptr<SqliteDb>> db = SqliteDb::Open(StateDbPath(dir));
//   HIVE_RETURN_IF_ERROR((*db)->Exec("CREATE TABLE IF NOT EXISTS t (k TEXT PRIMARY KEY, v BLOB)"));
//   absl::StatusOr<SqliteStatement> put = (*db)->Prepare("INSERT OR REPLACE INTO t VALUES (?1, ?2)");
//   {
//     absl::StatusOr<SqliteTransaction> tx = SqliteTransaction::Begin(**db);
//     put->Reset(); put->BindText(1, "k"); put->BindBlob(2, bytes);
//     HIVE_RETURN_IF_ERROR(put->Run());
//     HIVE_RETURN_IF_ERROR(tx->Commit());  // destroyed uncommitted: rolled back
//   }
//
// Not thread-safe: one SqliteDb and its statements belong to one thread at a
// time. Every error is a Status naming the statement and SQLite's message.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct sqlite3;
struct sqlite3_stmt;

namespace hive {

// The database file inside a --state-dir.
std::string StateDbPath(absl::string_view state_dir);

// A prepared statement of one SqliteDb; movable, finalised when destroyed.
class SqliteStatement {
 public:
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&& other) noexcept;
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  ~SqliteStatement();

  // Parameters are numbered from 1, as ?1, ?2 in the SQL. Text and blobs are
  // copied, so the arguments need not outlive the call.
  void BindInt64(int index, int64_t value);
  void BindText(int index, absl::string_view value);
  void BindBlob(int index, absl::string_view value);
  void BindNull(int index);

  // Steps once: true when a row is ready to read, false when done.
  absl::StatusOr<bool> Step();
  // Steps to the end, for statements that return no rows.
  absl::Status Run();
  // Clears the bindings and rewinds, ready to bind and run again.
  void Reset();

  // Columns of the current row, numbered from 0.
  int64_t ColumnInt64(int column) const;
  std::string ColumnText(int column) const;
  std::string ColumnBlob(int column) const;
  bool ColumnIsNull(int column) const;

 private:
  friend class SqliteDb;
  SqliteStatement(sqlite3* db, sqlite3_stmt* statement) : db_(db), statement_(statement) {}

  sqlite3* db_ = nullptr;
  sqlite3_stmt* statement_ = nullptr;
};

class SqliteDb {
 public:
  // How a commit reaches the disk. kFull: a committed transaction survives
  // a power cut; kNormal: it survives the process being killed (WAL), and a
  // power cut may lose the last ones. Both keep the file consistent.
  enum class Durability { kFull, kNormal };

  // Opens or creates `path` in WAL mode.
  static absl::StatusOr<std::unique_ptr<SqliteDb>> Open(const std::string& path,
                                                        Durability durability = Durability::kFull);
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;
  ~SqliteDb();

  // Runs one or more statements that return no rows (schema, pragmas).
  absl::Status Exec(absl::string_view sql);
  absl::StatusOr<SqliteStatement> Prepare(absl::string_view sql);
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t changes() const;

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}

  sqlite3* db_;
};

// BEGIN IMMEDIATE ... COMMIT; rolled back when destroyed uncommitted.
class SqliteTransaction {
 public:
  static absl::StatusOr<SqliteTransaction> Begin(SqliteDb& db);
  SqliteTransaction(SqliteTransaction&& other) noexcept;
  SqliteTransaction& operator=(SqliteTransaction&&) = delete;
  SqliteTransaction(const SqliteTransaction&) = delete;
  SqliteTransaction& operator=(const SqliteTransaction&) = delete;
  ~SqliteTransaction();

  absl::Status Commit();

 private:
  explicit SqliteTransaction(SqliteDb* db) : db_(db) {}

  SqliteDb* db_;
};

}  // namespace hive
