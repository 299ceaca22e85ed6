// bridge/twin/twin_persister.h
// Keeps the twins of a TwinStore in the --state-dir's SQLite database
// (state/sqlite_db.h), write-behind: every flush interval its thread takes
// the store's changes (the devices changed or forgotten since the last
// flush) and writes them in one transaction, together with the checkpoint
// {epoch, sequence}: every event up to it is in the stored twins.
//
//   absl::StatusOr<std::unique_ptr<TwinPersister>> persister = TwinPersister::Open(dir);
//   absl::StatusOr<TwinPersister::Loaded> loaded = (*persister)->Load();  // before serving
//   twins.Load(std::move(loaded->twins), /*close_connected=*/true);
//   (*persister)->Start(twins, absl::Milliseconds(100));
//   ...
//   (*persister)->Stop();  // a last flush, then the thread ends
//
// What a crash can lose: the database runs with synchronous=NORMAL (WAL), so
// a committed flush survives the process being killed (kill -9); what
// changed after the last committed flush (at most one flush interval of
// changes) is lost, and a device's next events restore its twin. A power
// cut may lose the last flushes too.
//
// A failed write (disk full) is logged, the changes stay dirty and the next
// flush tries again; serving goes on.
//
// Not thread-safe but for the counters: Load, then Start, then Stop, from
// one thread; Flush from tests instead of Start.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "bridge/state/sqlite_db.h"
#include "bridge/twin/twin_store.h"

namespace hive {

class TwinPersister {
 public:
  // What the database held at start.
  struct Loaded {
    std::vector<Twin> twins;
    // The checkpoint: the last event in the stored twins; empty epoch and 0
    // when nothing was ever stored.
    std::string epoch;
    uint64_t sequence = 0;
  };

  // Opens (or creates) the database in `state_dir` and its tables.
  static absl::StatusOr<std::unique_ptr<TwinPersister>> Open(const std::string& state_dir);
  TwinPersister(const TwinPersister&) = delete;
  TwinPersister& operator=(const TwinPersister&) = delete;
  ~TwinPersister();

  // Every stored twin. A record that does not parse is an error naming its
  // device: the file is not one this bridge wrote.
  absl::StatusOr<Loaded> Load();

  // Writes the store's changes now, in one transaction.
  absl::Status Flush(TwinStore& store);

  // Flushes `store` every `interval` on a thread of its own.
  void Start(TwinStore& store, absl::Duration interval);

  // Ends the thread after a last flush. Idempotent.
  void Stop();

  // The sequence of the last event every stored twin includes, for /metrics.
  uint64_t persisted_sequence() const { return persisted_sequence_.load(std::memory_order_relaxed); }
  // Flushes that failed, for /metrics.
  uint64_t write_errors() const { return write_errors_.load(std::memory_order_relaxed); }

 private:
  explicit TwinPersister(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}

  absl::Status Write(const TwinStore::Changes& changes);
  void Run(TwinStore& store, absl::Duration interval);

  std::unique_ptr<SqliteDb> db_;
  // Set by Start, for Stop's last flush.
  TwinStore* store_ = nullptr;
  std::thread thread_;
  absl::Notification stop_;
  std::atomic<uint64_t> persisted_sequence_{0};
  std::atomic<uint64_t> write_errors_{0};
  std::string persisted_epoch_;
};

}  // namespace hive
