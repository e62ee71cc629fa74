// The sync room: following the service's position. SyncNow asks /db/sync (a long poll on
// the sync thread, a plain ask at a transaction start when the service has no long poll)
// and ApplySyncLocked moves latest_ and invalidates changed pages in the cache. A sync that
// answers also settles a commit whose outcome was unknown.
#include <algorithm>
#include <span>

#include "database.h"
#include "bytes.h"
#include "log.h"
#include "sqlite_format.h"

namespace litevfs {
namespace {

constexpr long kLongPollWaitMs = 5000;  // per long poll; bounds how long a stopped sync
                                        // thread lingers after the last close
// How long a writer's commits may leave the cache's stored position behind (a crash then
// re-syncs from the older one: more invalidation, never a stale page).
constexpr auto kPersistPeriod = std::chrono::milliseconds(1000);
constexpr int kMaxSyncBackoffShift = 5;  // failures back off 200 ms << n, at most 6.4 s
constexpr auto kSyncBackoffUnit = std::chrono::milliseconds(200);
constexpr auto kMinIdlePause = std::chrono::milliseconds(200);
constexpr auto kInstantAnswer = std::chrono::milliseconds(50);  // a long poll that did not wait


}  // namespace

Status Database::FetchCommitFromPage1(Client* client, const Pos& pos, uint32_t* commit) {
  auto b = client->GetPages(name_, pos, {1});
  page_requests_++;
  if (!b.ok()) return b.status();
  for (auto& [pg, data] : b->pages) {
    if (pg == 1 && data.size() >= sqlite_format::kHeaderSize) {
      *commit = sqlite_format::HeaderDatabaseSize(AsBytes(data));
      return Status::OK();
    }
  }
  return Status::Corruption("litevfs: the service returned no page 1 for " + name_);
}

Status Database::FirstContact(Client* client, const Pos& at, uint32_t* ps, PageBlock* boot) {
  // First contact without a page-size hint: learn it (and warm the cache) in one request.
  auto b = has_interior_ ? client->GetInteriorBlock(name_, at) : client->GetPageBlock(name_, at, {1});
  page_requests_++;
  if (!b.ok()) return b.status();
  *ps = b->page_size;
  if (*ps == 0 && !b->pages.empty()) *ps = uint32_t(b->pages.front().second.size());
  if (!ltx::IsValidPageSize(*ps)) {
    return Status::Corruption("litevfs: the service reported page size " + std::to_string(*ps) + " for " + name_);
  }
  if (b->pos == at) *boot = std::move(b).value();
  return Status::OK();
}

Status Database::SyncNow(Client* client, long wait_ms) {
  Pos since;
  uint32_t ps = 0;
  {
    MutexLock lk(&mu_);
    if (stopping_) return Status::OK();
    since = latest_.pos;
    ps = page_size_;
  }
  auto r = client->Sync(name_, since, wait_ms);
  if (!r.ok()) {
    if (r.status().code() != ltx::Code::kNotFound) return r.status();
    MutexLock lk(&mu_);  // no such database (yet)
    last_sync_ = GetClock().Now();
    if (!latest_.pos.IsZero()) LITEVFS_LOG(LogLevel::kWarn, name_, latest_.pos, "the service no longer has this database");
    return Status::OK();
  }
  syncs_++;
  SyncResult res = std::move(r).value();
  if (res.pos.IsZero()) {
    MutexLock lk(&mu_);
    last_sync_ = GetClock().Now();
    return Status::OK();
  }
  PageBlock boot;
  if (ps == 0) LTX_RETURN_IF_ERROR(FirstContact(client, res.pos, &ps, &boot));
  uint32_t commit = res.commit;
  if (commit == 0) {
    bool found = false;
    for (const auto& [pg, data] : boot.pages) {
      if (pg == 1 && data.size() >= sqlite_format::kHeaderSize) {
        commit = sqlite_format::HeaderDatabaseSize(AsBytes(data));
        found = true;
      }
    }
    if (!found) LTX_RETURN_IF_ERROR(FetchCommitFromPage1(client, res.pos, &commit));
  }
  MutexLock lk(&mu_);
  return ApplySyncLocked(since, res, commit, ps, boot.pages);
}

Status Database::AdvanceCacheLocked(const Pos& since, const SyncResult& res, uint32_t commit) {
  if (!cache_ || cache_->pos() == res.pos) return Status::OK();
  bool all = res.all || since.IsZero();
  if (res.pos.txid <= cache_->pos().txid) {
    // The service went backwards (restore): nothing cached can be trusted.
    LTX_RETURN_IF_ERROR(cache_->Clear());
    old_pages_.clear();
    old_order_.clear();
    all = true;
  }
  Status st = cache_->Advance(res.pos, all, res.pgnos, commit);
  return st.WithContext("litevfs: recording the sync in the page cache");
}

void Database::StoreBootPagesLocked(const Pos& at, uint32_t commit,
                                    const std::vector<PageView>& boot) {
  for (auto& [pg, data] : boot) {
    if (data.size() != page_size_) continue;
    planner_.Record(pg, AsBytes(data), page_size_, commit, true);
    if (!cache_) continue;
    Status st = cache_->Put(pg, at.txid, AsBytes(data));
    if (!st.ok()) LITEVFS_LOG(LogLevel::kWarn, name_, at, "cache put: " + st.ToString());
  }
}

Status Database::ApplySyncLocked(const Pos& since, const SyncResult& res, uint32_t commit,
                                 uint32_t ps, const std::vector<PageView>& boot) {
  last_sync_ = GetClock().Now();
  if (stopping_) return Status::OK();
  if (latest_.pos != since) return Status::OK();  // a commit or another sync got there first
  if (res.pos == since) {
    latest_.commit = commit;
    SettleUnknownLocked();
    return Status::OK();
  }
  if (page_size_ == 0) OpenCacheOrRunWithoutLocked(ps);
  LTX_RETURN_IF_ERROR(AdvanceCacheLocked(since, res, commit));
  LITEVFS_LOG(LogLevel::kInfo, name_, res.pos,
              (since.IsZero() ? "first sync: at " + ltx::FormatPos(res.pos)
                              : "sync advanced from " + ltx::FormatPos(since) + " to " + ltx::FormatPos(res.pos)) +
                  (res.all ? " (all pages changed)" : " (" + std::to_string(res.pgnos.size()) + " pages changed)"));
  latest_ = {res.pos, commit};
  latest_cv_.NotifyAll();
  NoteChangedByOthersLocked(res);
  if (res.all) planner_.Clear();
  StoreBootPagesLocked(res.pos, commit, boot);
  SettleUnknownLocked();
  return Status::OK();
}

void Database::SettleUnknownLocked() {
  if (!unsettled_) return;
  const UnsettledCommit u = *unsettled_;
  unsettled_.reset();
  if (latest_.pos == u.want) {
    unknown_settled_applied_++;
    last_settlement_ = "applied: txid " + ltx::FormatTxid(u.want.txid) + " is on the service";
  } else if (latest_.pos == u.pin) {
    unknown_settled_missing_++;
    last_settlement_ = "not applied: the service is still at " + ltx::FormatPos(u.pin);
  } else if (latest_.pos.txid < u.want.txid) {
    unknown_settled_missing_++;
    last_settlement_ = "not applied: the service is at " + ltx::FormatPos(latest_.pos);
  } else {
    // Moved past it: the service's history says which, the position alone cannot.
    last_settlement_ = "undecided: the service moved on to " + ltx::FormatPos(latest_.pos) +
                       " (compare txid " + ltx::FormatTxid(u.want.txid) + " with `litevfs log`)";
  }
  LITEVFS_LOG(LogLevel::kWarn, name_, latest_.pos, "commit with an unknown outcome settled: " + last_settlement_);
}

void Database::PersistCachePositionLocked() {
  if (!cache_ || !cache_->position_behind() || GetClock().Now() - last_persist_ < kPersistPeriod) return;
  last_persist_ = GetClock().Now();
  Status st = cache_->PersistPosition();
  if (!st.ok()) LITEVFS_LOG(LogLevel::kWarn, name_, latest_.pos, "storing the cache position: " + st.ToString());
}

void Database::MaybeSyncForTransaction() {
  if (long_poll_) {
    MutexLock lk(&mu_);
    // The sync thread keeps latest_ current; an unknown commit outcome is settled now, not
    // at the next long poll, and a lost optimistic commit's retry reads the winner's state.
    if (!unsettled_ && !needs_sync_) return;
    needs_sync_ = false;
  } else {
    MutexLock lk(&mu_);
    const bool due = GetClock().Now() - last_sync_ >= std::chrono::milliseconds(sync_period_ms.load());
    if (!due && !unsettled_ && !needs_sync_) return;
    needs_sync_ = false;
  }
  Status st = SyncNow(client_.get(), 0);
  {
    MutexLock lk(&mu_);
    PersistCachePositionLocked();
  }
  if (!st.ok()) {
    // Serve the last known state: reads of cached pages keep working while the service is away.
    LITEVFS_LOG(LogLevel::kWarn, name_, Pos{}, "sync at transaction start failed: " + st.ToString());
  }
}

void Database::SyncLoop() {
  for (int failures = 0;;) {
    bool missing;
    Pos before;
    {
      MutexLock lk(&mu_);
      if (stopping_) return;
      missing = latest_.pos.IsZero();
      before = latest_.pos;
    }
    const auto t0 = GetClock().Now();
    Status st = SyncNow(sync_client_.get(), missing ? 0 : kLongPollWaitMs);
    MutexLock lk(&mu_);
    if (stopping_) return;
    PersistCachePositionLocked();
    Clock::duration pause{0};
    if (!st.ok()) {
      failures = std::min(failures + 1, kMaxSyncBackoffShift);
      pause = kSyncBackoffUnit * (1 << failures);  // bounded backoff
      LITEVFS_LOG(LogLevel::kWarn, name_, latest_.pos, "background sync failed: " + st.ToString());
    } else {
      failures = 0;
      // Nothing to wait on (database missing) or a server that answered at once without
      // news: fall back to the sync period so this never spins.
      if (missing || (latest_.pos == before && GetClock().Now() - t0 < kInstantAnswer)) {
        pause = std::max<Clock::duration>(std::chrono::milliseconds(sync_period_ms.load()), kMinIdlePause);
      }
    }
    const auto until = GetClock().Now() + pause;
    while (!stopping_ && GetClock().Now() < until) GetClock().WaitFor(&cv_, until - GetClock().Now());
  }
}

}  // namespace litevfs
