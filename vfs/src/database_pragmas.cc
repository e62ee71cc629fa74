// The pragma room: the lease pragmas (through the LeaseKeeper), PRAGMA litevfs_cache_db,
// the position, the litevfs_stats JSON and the cache bounds.
#include <nlohmann/json.hpp>

#include "database.h"
#include "log.h"

namespace litevfs {

Result<std::string> Database::AcquireLease(Conn* c) {
  (void)c;
  // Acquire also pins a lease write mode auto holds (no idle release or handover after it).
  bool taken = false;
  auto id = lease_.Acquire(long(lease_duration_ms.load()), &taken);
  if (!id.ok()) return id.status().WithContext("litevfs: acquiring the write lease on " + name_);
  if (!taken) return id;
  // Sync after acquiring: any commit by the previous holder is now visible.
  if (Status st = SyncNow(client_.get(), 0); !st.ok()) {
    auto rel = lease_.Release(*client_);
    (void)rel;  // best effort; the lease expires on its own
    return st.WithContext("litevfs: syncing " + name_ + " after acquiring the lease");
  }
  if (LogEnabled(LogLevel::kInfo)) {
    Pos at;
    {
      MutexLock lk(&mu_);
      at = latest_.pos;
    }
    LogLine(LogLevel::kInfo, name_, at, "lease acquired: " + *id);
  }
  return id;
}

Result<std::string> Database::ReleaseLease() {
  auto id = lease_.Release(*client_);
  if (!id.ok()) return id.status().WithContext("litevfs: releasing the write lease on " + name_);
  if (!id->empty() && LogEnabled(LogLevel::kInfo)) {
    Pos at;
    {
      MutexLock lk(&mu_);
      at = latest_.pos;
    }
    LogLine(LogLevel::kInfo, name_, at, "lease released: " + *id);
  }
  return id;
}

Status Database::SetWriteMode(Conn* c, WriteMode m) {
  MutexLock lk(&mu_);
  if (c->lock >= kLockReserved) {
    return Status::InvalidArgument("litevfs: PRAGMA litevfs_write_mode cannot change inside a write transaction on " +
                                   name_ + ": COMMIT or ROLLBACK first");
  }
  c->write_mode = m;
  return Status::OK();
}

WriteMode Database::GetWriteMode(Conn* c) {
  MutexLock lk(&mu_);
  return c->write_mode;
}

Result<uint64_t> Database::CacheAll(Conn* c) {
  Snapshot pin;
  std::vector<uint32_t> missing;
  {
    MutexLock lk(&mu_);
    const bool pinned = c->pinned;
    lk.Unlock();
    if (!pinned) LTX_RETURN_IF_ERROR(SyncNow(client_.get(), 0));
    lk.Lock();
    pin = c->pinned ? c->pin : latest_;
    if (page_size_ == 0) return uint64_t{0};
    const uint32_t lock_pg = ltx::LockPgno(page_size_);
    for (uint32_t pg = 1; pg <= pin.commit; ++pg) {
      if (pg == lock_pg || (cache_ && cache_->Contains(pg, pin.pos.txid))) continue;
      missing.push_back(pg);
    }
  }
  // Pages go to the cache only (no output map): memory stays one batch, not the database.
  LTX_RETURN_IF_ERROR(ReadStoredPages(pin, missing, nullptr));
  prefetched_ += missing.size();
  return uint64_t(missing.size());
}

std::string Database::PositionString(Conn* c) {
  MutexLock lk(&mu_);
  return ltx::FormatPos(c->pinned ? c->pin.pos : latest_.pos);
}

std::string Database::StatsJson(Conn* c) {
  const ClientStats& cs = client_->stats();
  nlohmann::json j;
  MutexLock lk(&mu_);
  const Snapshot& pin = c->pinned ? c->pin : latest_;
  j["db"] = name_;
  j["position"] = ltx::FormatPos(latest_.pos);
  j["pinned_position"] = ltx::FormatPos(pin.pos);
  j["lag_txids"] = latest_.pos.txid - pin.pos.txid;
  j["last_sync_ms_ago"] = last_sync_ == Clock::time_point{} ? -1
      : std::chrono::duration_cast<std::chrono::milliseconds>(GetClock().Now() - last_sync_).count();
  j["page_size"] = page_size_;
  j["commit"] = latest_.commit;
  j["page_reads"] = page_reads_.load();
  const uint64_t fetched = PagesFetchedLocked();
  j["page_fetches"] = fetched;  // issue 19: xFetch (PRAGMA mmap_size)
  j["cache_hits"] = cache_hits_.load() + fetched;
  j["cache_misses"] = cache_misses_.load();
  j["cache_pages"] = cache_ ? cache_->page_count() : 0;
  j["cache_index_bytes"] = cache_ ? cache_->index_memory_bytes() : 0;
  j["cache_dir"] = memory_only_ ? std::string() : cache_dir_;
  j["cache_memory_only"] = memory_only_;
  j["prefetched_pages"] = prefetched_.load();
  j["readaheads"] = readaheads_.load();
  j["requests"] = cs.requests.load();
  j["page_requests"] = page_requests_.load();
  j["bytes_received"] = cs.bytes_received.load();
  j["bytes_sent"] = cs.bytes_sent.load();
  j["pages_fetched"] = cs.pages_fetched.load();
  j["retries"] = cs.retries.load();
  j["syncs"] = syncs_.load();
  j["uploads"] = uploads_.load();
  j["upload_failures"] = upload_failures_.load();
  j["outcomes_unknown"] = outcomes_unknown_.load();
  j["outcome_unknown_pending"] = unsettled_.has_value();
  j["outcomes_settled_applied"] = unknown_settled_applied_.load();
  j["outcomes_settled_not_applied"] = unknown_settled_missing_.load();
  j["last_outcome_settlement"] = last_settlement_;
  j["lease"] = LeaseValidLocked() ? lease_.id() : std::string();
  j["write_mode"] = WriteModeName(c->write_mode);  // issue 17
  j["stale_reads"] = stale_reads_.load();
  j["lease_busy"] = lease_busy_.load();
  j["lease_auto_acquired"] = lease_.auto_acquired();
  j["lease_idle_releases"] = lease_.idle_releases();
  j["lease_handoffs"] = lease_.handoffs();
  j["lease_commit_handoffs"] = lease_.commit_handoffs();
  j["long_poll"] = long_poll_;
  return j.dump();
}

Status Database::SetMaxCachedPages(int64_t n) {
  MutexLock lk(&mu_);
  max_cached_pages_ = n;
  return ReopenCacheLocked();
}

Status Database::SetMinAvailableSpace(int64_t n) {
  MutexLock lk(&mu_);
  min_available_space_ = n;
  return ReopenCacheLocked();
}

}  // namespace litevfs
