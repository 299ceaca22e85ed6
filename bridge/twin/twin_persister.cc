#include "bridge/twin/twin_persister.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "bridge/log.h"
#include "bridge/status_macros.h"

namespace hive {
namespace {

constexpr absl::string_view kSchema =
    "CREATE TABLE IF NOT EXISTS twins ("
    "  device_id TEXT PRIMARY KEY,"
    "  record BLOB NOT NULL"  // hive.bridge.v1.Device, serialized, online false
    ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS twin_checkpoint ("
    "  id INTEGER PRIMARY KEY CHECK (id = 1),"
    "  epoch TEXT NOT NULL,"
    "  sequence INTEGER NOT NULL"
    ");";

}  // namespace

absl::StatusOr<std::unique_ptr<TwinPersister>> TwinPersister::Open(const std::string& state_dir) {
  // NORMAL: a commit survives kill -9 (WAL); the window a power cut may lose
  // is a flush or two of twins, which the devices' next events restore.
  absl::StatusOr<std::unique_ptr<SqliteDb>> db = SqliteDb::Open(StateDbPath(state_dir), SqliteDb::Durability::kNormal);
  if (!db.ok()) return db.status();
  HIVE_RETURN_IF_ERROR((*db)->Exec(kSchema));
  return std::unique_ptr<TwinPersister>(new TwinPersister(*std::move(db)));
}

TwinPersister::~TwinPersister() { Stop(); }

absl::StatusOr<TwinPersister::Loaded> TwinPersister::Load() {
  Loaded loaded;
  absl::StatusOr<SqliteStatement> rows = db_->Prepare("SELECT device_id, record FROM twins ORDER BY device_id");
  if (!rows.ok()) return rows.status();
  for (;;) {
    absl::StatusOr<bool> row = rows->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    hive::bridge::v1::Device device;
    if (!device.ParseFromString(rows->ColumnBlob(1))) {
      return absl::DataLossError(absl::StrCat("twins: the record of device ", rows->ColumnText(0), " does not parse"));
    }
    absl::StatusOr<Twin> twin = TwinFromDevice(std::move(device));
    if (!twin.ok()) {
      return absl::DataLossError(absl::StrCat("twins: device ", rows->ColumnText(0), ": ", twin.status().message()));
    }
    loaded.twins.push_back(*std::move(twin));
  }
  absl::StatusOr<SqliteStatement> checkpoint = db_->Prepare("SELECT epoch, sequence FROM twin_checkpoint");
  if (!checkpoint.ok()) return checkpoint.status();
  absl::StatusOr<bool> row = checkpoint->Step();
  if (!row.ok()) return row.status();
  if (*row) {
    loaded.epoch = checkpoint->ColumnText(0);
    loaded.sequence = static_cast<uint64_t>(checkpoint->ColumnInt64(1));
    persisted_epoch_ = loaded.epoch;
  }
  return loaded;
}

absl::Status TwinPersister::Flush(TwinStore& store) {
  TwinStore::Changes changes = store.TakeChanges();
  // Before the first event no position is known (the stored checkpoint
  // stays); after it, only a change or a new position is worth a write.
  const bool moved =
      !changes.epoch.empty() && (changes.epoch != persisted_epoch_ || changes.sequence != persisted_sequence());
  if (changes.upserts.empty() && changes.removed.empty() && !moved) return absl::OkStatus();
  if (absl::Status written = Write(changes); !written.ok()) {
    store.Remark(changes);
    write_errors_.fetch_add(1, std::memory_order_relaxed);
    return written;
  }
  if (!changes.epoch.empty()) {
    persisted_epoch_ = changes.epoch;
    persisted_sequence_.store(changes.sequence, std::memory_order_relaxed);
  }
  return absl::OkStatus();
}

absl::Status TwinPersister::Write(const TwinStore::Changes& changes) {
  absl::StatusOr<SqliteTransaction> transaction = SqliteTransaction::Begin(*db_);
  if (!transaction.ok()) return transaction.status();
  if (!changes.upserts.empty()) {
    absl::StatusOr<SqliteStatement> put =
        db_->Prepare("INSERT OR REPLACE INTO twins (device_id, record) VALUES (?1, ?2)");
    if (!put.ok()) return put.status();
    std::string record;
    for (const Twin& twin : changes.upserts) {
      record.clear();
      ToDevice(twin).SerializeToString(&record);
      put->Reset();
      put->BindText(1, twin.device_id);
      put->BindBlob(2, record);
      HIVE_RETURN_IF_ERROR(put->Run());
    }
  }
  if (!changes.removed.empty()) {
    absl::StatusOr<SqliteStatement> remove = db_->Prepare("DELETE FROM twins WHERE device_id = ?1");
    if (!remove.ok()) return remove.status();
    for (const std::string& id : changes.removed) {
      remove->Reset();
      remove->BindText(1, id);
      HIVE_RETURN_IF_ERROR(remove->Run());
    }
  }
  if (!changes.epoch.empty()) {
    absl::StatusOr<SqliteStatement> checkpoint =
        db_->Prepare("INSERT OR REPLACE INTO twin_checkpoint (id, epoch, sequence) VALUES (1, ?1, ?2)");
    if (!checkpoint.ok()) return checkpoint.status();
    checkpoint->BindText(1, changes.epoch);
    checkpoint->BindInt64(2, static_cast<int64_t>(changes.sequence));
    HIVE_RETURN_IF_ERROR(checkpoint->Run());
  }
  return transaction->Commit();
}

void TwinPersister::Start(TwinStore& store, absl::Duration interval) {
  store_ = &store;
  thread_ = std::thread([this, &store, interval] { Run(store, interval); });
}

void TwinPersister::Run(TwinStore& store, absl::Duration interval) {
  while (!stop_.WaitForNotificationWithTimeout(interval)) {
    if (absl::Status flushed = Flush(store); !flushed.ok()) {
      Log(LogLevel::kError, "twin_flush_failed", {{"error", flushed.message()}});
    }
  }
}

void TwinPersister::Stop() {
  if (!thread_.joinable()) return;
  stop_.Notify();
  thread_.join();
  if (absl::Status flushed = Flush(*store_); !flushed.ok()) {
    Log(LogLevel::kError, "twin_flush_failed", {{"error", flushed.message()}});
  }
}

}  // namespace hive
