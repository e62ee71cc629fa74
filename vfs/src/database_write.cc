// The write room: SQLite's locks across this process's connections, the writer's dirty
// pages (DirtyPages: memory up to a bound, then a spill file), and the commit point.
// CommitLocked plans the commit over the old page versions (PlanCommit, commit_stream.h,
// in bounded batches), streams the LTX as the upload reads it (LtxBodyStream through
// UploadAndSettle, commit_upload.h), and applies the result to the cache; mu_ is dropped
// for the network parts only.
#include <algorithm>
#include <cstring>
#include <span>

#include "api_error.h"
#include "bytes.h"
#include "commit_upload.h"
#include "database.h"
#include "log.h"
#include "past_state.h"
#include "spill_file.h"
#include "sqlite_format.h"

namespace litevfs {
namespace {

// A new lease holder waits this long for its sync thread to reach the grant's position (its
// long poll hears of the commit that freed the lease as the grant is sent) before it asks
// the service itself: about one round trip, what that ask would cost.
constexpr auto kFollowGrantWait = std::chrono::milliseconds(50);
// A new lease holder prefetches the pages other writers changed since its last lease when
// they are this few (a small commit's page 1 and leaves); more, and its reads fetch them.
constexpr size_t kMaxChangedByOthers = 32;

}  // namespace

// ---------------------------------------------------------------------------------------
// Locks.

Result<LockResult> Database::Lock(Conn* c, int level) {
  if (level == kLockShared) {
    if (c->lock != kLockNone) return LockResult::kOk;
    if (!c->past) MaybeSyncForTransaction();  // issue 18: no sync in the past
    MutexLock lk(&mu_);
    if (pending_) return LockResult::kBusy;
    shared_count_++;
    c->lock = kLockShared;
    c->pin = c->past ? c->past->snap : latest_;  // issue 18
    c->pinned = true;
    c->requests = 0;
    c->ra.Reset();
    return LockResult::kOk;
  }
  MutexLock lk(&mu_);
  if (reserved_ && reserved_ != c) return LockResult::kBusy;
  if (level == kLockReserved || (level == kLockExclusive && reserved_ == nullptr)) {
    auto r = LockWriteLocked(c);
    if (!r.ok() || *r == LockResult::kBusy || level == kLockReserved) return r;
  }
  // EXCLUSIVE: PENDING first (blocks new readers), then wait for the other readers to go.
  pending_ = true;
  if (c->lock < kLockPending) c->lock = kLockPending;
  if (shared_count_ > 1) return LockResult::kBusy;
  c->lock = kLockExclusive;
  return LockResult::kOk;
}

Result<LockResult> Database::LockWriteLocked(Conn* c) {
  if (c->past) return PastIsReadOnly(*c->past, name_);  // issue 18
  switch (c->write_mode) {
    case WriteMode::kOff:
      return Status::PermissionDenied("litevfs: writes to " + name_ +
                                      " are off for this connection (write_mode=off): set PRAGMA "
                                      "litevfs_write_mode = auto to write");
    case WriteMode::kLease:
      if (!LeaseValidLocked()) return Status::PermissionDenied(NoLeaseMessageLocked("run PRAGMA litevfs_acquire_lease"));
      if (c->pin.pos != latest_.pos) {
        return Status::Conflict("litevfs: " + name_ + " changed since this transaction started (pinned at " +
                                ltx::FormatPos(c->pin.pos) + ", now " + ltx::FormatPos(latest_.pos) +
                                "): roll back and retry");
      }
      break;
    case WriteMode::kAuto: {
      LTX_ASSIGN_OR_RETURN(LockResult r, TakeAutoLeaseLocked(c));
      if (r == LockResult::kBusy) return r;
      if (c->pin.pos != latest_.pos) return StaleReadLocked(c);
      break;
    }
    case WriteMode::kOptimistic:
      if (c->pin.pos != latest_.pos) return StaleReadLocked(c);
      break;
  }
  BeginWriterLocked(c);
  return LockResult::kOk;
}

Result<LockResult> Database::TakeAutoLeaseLocked(Conn* c) {
  reserved_ = c;  // claimed while mu_ is dropped: the other connections see BUSY
  mu_.Unlock();
  const int64_t duration = lease_duration_set.load() ? lease_duration_ms.load() : kAutoLeaseDurationMs;
  Pos granted_at;
  Result<WriteLease> got = lease_.BeginWrite(long(duration), long(kAutoLeaseWaitMs), &granted_at);
  Status st = got.ok() ? Status::OK() : got.status();
  // Newly taken: the previous holder's commits become visible before the pin is judged
  // (no request when the sync thread already follows the grant's position).
  if (st.ok() && *got == WriteLease::kTaken) {
    mu_.Lock();
    const bool current = FollowsGrantLocked(granted_at);
    mu_.Unlock();
    if (!current) st = SyncNow(client_.get(), 0);
    if (st.ok()) PrefetchChangedByOthers();
  }
  mu_.Lock();
  if (st.ok() && *got != WriteLease::kBusy) {
    c->auto_lease = true;
    return LockResult::kOk;
  }
  reserved_ = nullptr;
  if (got.ok() && *got != WriteLease::kBusy) lease_.EndWrite(false, long(lease_idle_ms.load()));
  if (!st.ok()) return st.WithContext("litevfs: taking the write lease on " + name_);
  lease_busy_++;
  return LockResult::kBusy;
}

bool Database::FollowsGrantLocked(const Pos& granted_at) {
  if (granted_at.IsZero()) return false;
  // Real time, not the injectable clock: a bound on a wait for another thread's request.
  const auto deadline = std::chrono::steady_clock::now() + kFollowGrantWait;
  while (long_poll_ && latest_.pos.txid < granted_at.txid && std::chrono::steady_clock::now() < deadline) {
    latest_cv_.WaitFor(deadline - std::chrono::steady_clock::now());
  }
  return latest_.pos == granted_at;
}

void Database::NoteChangedByOthersLocked(const SyncResult& res) {
  if (res.all || changed_by_others_.size() + res.pgnos.size() > kMaxChangedByOthers) {
    changed_overflow_ = true;
    changed_by_others_.clear();
  }
  if (!changed_overflow_) changed_by_others_.insert(res.pgnos.begin(), res.pgnos.end());
}

void Database::PrefetchChangedByOthers() {
  std::vector<uint32_t> want;
  Snapshot at;
  {
    MutexLock lk(&mu_);
    const bool skip = changed_overflow_ || !cache_ || page_size_ == 0;
    for (uint32_t pg : changed_by_others_) {
      if (!skip && pg <= latest_.commit && pg != ltx::LockPgno(page_size_)) want.push_back(pg);
    }
    changed_by_others_.clear();
    changed_overflow_ = false;
    at = latest_;
  }
  if (want.empty()) return;
  auto b = client_->GetPageBlock(name_, at.pos, want);
  page_requests_++;
  MutexLock lk(&mu_);
  if (!b.ok()) {
    LITEVFS_LOG(LogLevel::kWarn, name_, at.pos, "prefetching the pages other writers changed: " + b.status().ToString() +
                                                  " (the transaction fetches them as it reads)");
    return;
  }
  for (auto& [pg, data] : b->pages) {
    if (data.size() != page_size_) return;  // the read path reports a wrong size
  }
  PutManyInCacheLocked(at, *b, /*wanted_soon=*/true);
}

// The transaction read at its pin; the database has moved on since: committing would build
// on stale reads. The lease (auto mode) stays held for the retry.
Status Database::StaleReadLocked(Conn* c) {
  if (reserved_ == c) reserved_ = nullptr;
  if (c->auto_lease) {
    c->auto_lease = false;
    lease_.EndWrite(false, long(lease_idle_ms.load()));
  }
  stale_reads_++;
  return Status(ltx::Code::kConflict,
                "litevfs: " + name_ + " changed since this transaction read it (read at " +
                    ltx::FormatPos(c->pin.pos) + ", now " + ltx::FormatPos(latest_.pos) +
                    "): roll back and retry the transaction",
                std::string(kStaleReadCode));
}

void Database::BeginWriterLocked(Conn* c) {
  reserved_ = c;
  writer_ = Writer{};
  writer_.owner = c;
  writer_.dirty = NewDirtyPagesLocked();
  writer_.size_pages = c->pin.commit;
  c->lock = kLockReserved;
}

Status Database::Unlock(Conn* c, int level) {
  bool end_write = false, scan_over = false;
  Status result;
  {
    MutexLock lk(&mu_);
    if (c->lock >= kLockReserved && level < kLockReserved && reserved_ == c) {
      if (c->lock >= kLockExclusive && !writer_.rolled_back) {
        // Fallback commit point (synchronous=OFF with journal_mode=OFF or MEMORY).
        result = CommitLocked(c, "unlock");
        if (!result.ok()) {
          LITEVFS_LOG(LogLevel::kError, name_, c->pin.pos, "commit at unlock failed, changes discarded: " + result.ToString());
        }
      }
      writer_ = Writer{};
      reserved_ = nullptr;
      pending_ = false;
      end_write = c->auto_lease;
      c->auto_lease = false;
    }
    if (level == kLockNone && c->lock >= kLockShared) {
      shared_count_--;
      c->pinned = false;
      // The last read transaction ended after a scan: its read-ahead memory goes back.
      if (shared_count_ == 0 && !recent_.empty()) {
        recent_.Clear();
        scan_over = true;
      }
    }
    c->lock = level;
  }
  // auto mode: hand the lease over now if someone waits (one request, no lock held).
  if (end_write) lease_.EndWrite(client_ && client_->TakeLeaseWaiters(), long(lease_idle_ms.load()));
  if (scan_over) ReleaseScanMemory();
  return result;
}

bool Database::CheckReserved() {
  MutexLock lk(&mu_);
  return reserved_ != nullptr;
}

bool Database::HasWriter() { return CheckReserved(); }

bool Database::LeaseValidLocked() { return lease_.Valid(); }

std::string Database::NoLeaseMessageLocked(const char* consequence) {
  return "litevfs: no write lease on " + name_ + (lease_.Lost() ? " (the lease was lost)" : " (none held or expired)") +
         ": " + consequence;
}

// ---------------------------------------------------------------------------------------
// Writes.

Status Database::CheckWritableLocked(Conn* c, size_t amt, int64_t off, const uint8_t* buf) {
  if (reserved_ != c) return Status::IOError("litevfs: write to " + name_ + " without a write lock");
  if (c->write_mode != WriteMode::kOptimistic && !LeaseValidLocked()) {
    return Status::PermissionDenied(NoLeaseMessageLocked("run PRAGMA litevfs_acquire_lease"));
  }
  if (page_size_ == 0) {
    // A new database: its first write is a whole page and gives the page size. It is page 1
    // unless SQLite spilled pages of a transaction bigger than its page cache first.
    if (!ltx::IsValidPageSize(uint32_t(amt)) || off % int64_t(amt) != 0) {
      return Status::IOError("litevfs: unexpected first write to new database " + name_ + " (" +
                             std::to_string(amt) + " bytes at " + std::to_string(off) + ")");
    }
    page_size_ = uint32_t(amt);
  }
  if (off == 0 && amt >= sqlite_format::kPageSizeOffset + 2) {
    // Page 1's header carries the page size: a VACUUM that changes it would make every
    // stored page the wrong size.
    const uint32_t hdr_ps = sqlite_format::HeaderPageSize(std::span<const uint8_t>(buf, amt));
    if (hdr_ps != page_size_) {
      return Status::Unsupported("litevfs: changing the page size of " + name_ + " from " +
                                 std::to_string(page_size_) + " to " + std::to_string(hdr_ps) + " is not supported");
    }
  }
  return Status::OK();
}

Status Database::Write(Conn* c, const uint8_t* buf, size_t amt, int64_t off) {
  MutexLock lk(&mu_);
  if (reserved_ == c && writer_.rolled_back) return Status::OK();  // SQLite's playback after a failed commit
  LTX_RETURN_IF_ERROR(CheckWritableLocked(c, amt, off, buf));
  const uint32_t ps = page_size_;
  const uint32_t lock_pg = ltx::LockPgno(ps);
  for (size_t done = 0; done < amt;) {
    const int64_t pos = off + int64_t(done);
    const uint32_t pgno = uint32_t(pos / ps) + 1;
    const size_t in = size_t(pos % ps);
    const size_t n = std::min<size_t>(ps - in, amt - done);
    const auto bytes = std::span<const uint8_t>(buf + done, n);
    if (pgno == lock_pg) {
      // never stored
    } else if (writer_.dirty->Contains(pgno)) {
      LTX_RETURN_IF_ERROR(writer_.dirty->Patch(pgno, in, bytes));
    } else if (in == 0 && n == ps) {
      LTX_RETURN_IF_ERROR(CheckGrowthLocked(c, pgno));
      LTX_RETURN_IF_ERROR(writer_.dirty->Put(pgno, bytes));
    } else {  // a partial page: start from its stored version
      std::string base(ps, '\0');
      const Snapshot pin = c->pin;
      lk.Unlock();
      Status st = ReadStoredPage(c, pin, pgno, AsMutableBytes(base), false);
      lk.Lock();
      LTX_RETURN_IF_ERROR(st);
      std::memcpy(base.data() + in, bytes.data(), n);
      LTX_RETURN_IF_ERROR(CheckGrowthLocked(c, pgno));
      LTX_RETURN_IF_ERROR(writer_.dirty->Put(pgno, AsBytes(base)));
    }
    writer_.size_pages = std::max(writer_.size_pages, pgno);
    done += n;
  }
  return Status::OK();
}

// A page past the pinned size that would make the LTX larger than the server takes is
// refused now, not after the upload (CommitLocked checks the exact size again). Only growth:
// a rollback's playback rewrites pages within the old size, and must never be refused.
Status Database::CheckGrowthLocked(Conn* c, uint32_t pgno) {
  if (pgno <= c->pin.commit || writer_.dirty->Contains(pgno)) return Status::OK();
  return CheckTxBodyLimit(client_->max_body_bytes(), page_size_, writer_.dirty->count() + 1, name_);
}

std::unique_ptr<DirtyPages> Database::NewDirtyPagesLocked() const {
  auto dirty = std::make_unique<DirtyPages>();
  dirty->set_spill_dirs(SpillDirs(cache_dir_));  // beside the cache, else $TMPDIR
  return dirty;
}

Status Database::Truncate(Conn* c, int64_t size) {
  MutexLock lk(&mu_);
  if (reserved_ != c) return Status::IOError("litevfs: truncate of " + name_ + " without a write lock");
  if (writer_.rolled_back) return Status::OK();
  if (page_size_ == 0) {
    if (size == 0) return Status::OK();
    return Status::IOError("litevfs: truncate of empty database " + name_ + " to " + std::to_string(size));
  }
  const uint32_t pages = uint32_t((size + page_size_ - 1) / page_size_);
  writer_.size_pages = pages;
  writer_.dirty->DropAbove(pages);
  return Status::OK();
}

Status Database::Sync(Conn* c) {
  MutexLock lk(&mu_);
  if (reserved_ != c || c->lock < kLockExclusive || writer_.rolled_back) return Status::OK();
  return CommitLocked(c, "sync");
}

Status Database::CommitPending(const char* why) {
  MutexLock lk(&mu_);
  if (!reserved_ || reserved_->lock < kLockExclusive || writer_.rolled_back) return Status::OK();
  return CommitLocked(reserved_, why);
}

// ---------------------------------------------------------------------------------------
// The commit.

Status Database::CommitFailedLocked(const Snapshot& pin, const char* why, Status st) {
  writer_.rolled_back = true;
  upload_failures_++;
  // A lost optimistic race (issue 17) is an expected outcome the app retries: info, not error.
  LITEVFS_LOG(ApiErrorOf(st) == ApiError::kStaleRead ? LogLevel::kInfo : LogLevel::kError, name_, pin.pos,
              std::string("commit (") + why + ") failed, transaction rolled back: " + st.ToString());
  return st;
}

Status Database::CommitLocked(Conn* c, const char* why) {
  const Snapshot pin = c->pin;
  if (writer_.dirty->empty() && writer_.size_pages == pin.commit) return Status::OK();
  const auto commit_start = GetClock().Now();  // for the log line only
  if (page_size_ == 0) return CommitFailedLocked(pin, why, Status::IOError("litevfs: commit without a page size"));
  Result<std::string> lease_or = CommitLeaseLocked(c, pin, why);
  if (!lease_or.ok()) return lease_or.status();
  const std::string lease = *lease_or;
  // auto: hand an auto-taken lease over with the commit if someone waits (issue 17).
  // Until EndHandover below, an explicit PRAGMA litevfs_acquire_lease waits for the answer.
  const bool hand_over = c->write_mode == WriteMode::kAuto && c->auto_lease && lease_.BeginHandover();
  const bool snapshot = pin.pos.IsZero();
  const CommitShape shape{page_size_, snapshot ? 0 : pin.commit, writer_.size_pages, pin.pos.post_apply_checksum,
                          snapshot};
  const int64_t timestamp_ms = GetClock().WallMs();
  // The pages leave the Writer (a fresh store takes whatever SQLite writes next).
  std::unique_ptr<DirtyPages> dirty = std::move(writer_.dirty);
  writer_.dirty = NewDirtyPagesLocked();
  mu_.Unlock();  // ---- no lock across the requests ----
  // Pass 1: the old versions in bounded batches, the checksum, what the LTX carries.
  Result<CommitPlan> plan = PlanCommit(shape, dirty.get(), [&](const std::vector<uint32_t>& pgnos, PageMap* out) {
    return ReadStoredPages(pin, pgnos, out);
  });
  Status st = plan.ok() ? CheckTxBodyLimit(client_->max_body_bytes(), shape.page_size, plan->page_count, name_)
                        : plan.status();
  const Pos want{pin.pos.txid + 1, plan.ok() ? plan->post_checksum : 0};
  UploadResult up;
  if (st.ok() && !plan->IsEmpty()) {
    // Pass 2: the LTX encoded page by page as the upload reads it (a resend rewinds).
    LtxBodyStream body(dirty.get(), &*plan, CommitHeader(*plan, want.txid, timestamp_ms));
    up = UploadAndSettle(*client_, UploadRequest{name_, body.size(),
                                                 [&body](uint64_t off, uint8_t* buf, size_t n) {
                                                   return body.ReadAt(off, buf, n);
                                                 },
                                                 lease, pin.pos, want,
                                                 std::chrono::milliseconds(cfg_.client.request_timeout_ms), hand_over});
  }
  if (hand_over) lease_.EndHandover(lease, up.lease_released, up.lease_maybe_released);
  mu_.Lock();
  if (!st.ok()) return CommitFailedLocked(pin, why, st);
  if (plan->IsEmpty()) return Status::OK();  // nothing changed
  LTX_RETURN_IF_ERROR(UploadOutcomeLocked(c, why, want, pin, up));
  const Pos np = up.pos.IsZero() ? want : up.pos;
  ApplyCommitLocked(c, *plan, *dirty, np);
  LITEVFS_LOG(LogLevel::kInfo, name_, np,
              "commit uploaded: txid " + ltx::FormatTxid(np.txid) + ", " + std::to_string(plan->page_count) +
                  " pages, " + std::to_string(CommitLtxSize(*plan)) + " bytes, database " +
                  std::to_string(shape.new_commit) + " pages, " +
                  std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(GetClock().Now() - commit_start).count()) +
                  " ms (" + why + ")");
  return Status::OK();
}

Result<std::string> Database::CommitLeaseLocked(Conn* c, const Snapshot& pin, const char* why) {
  // Optimistic: no lease needed, but this process's own lease (another connection's, auto
  // or explicit) must come along, or the service refuses the commit as leased.
  if (c->write_mode == WriteMode::kOptimistic) return LeaseValidLocked() ? lease_.id() : std::string();
  if (!LeaseValidLocked()) {
    return CommitFailedLocked(pin, why, Status::PermissionDenied(NoLeaseMessageLocked("the transaction was rolled back")));
  }
  return lease_.id();
}

// An optimistic commit the service refused because the database moved (EPOSMISMATCH) or
// another client holds the lease (ELEASE): the transaction read a state it cannot commit on.
Status Database::OptimisticLostLocked(const Snapshot& pin, const char* why, const Status& refused) {
  needs_sync_ = true;
  stale_reads_++;
  return CommitFailedLocked(pin, why, Status(ltx::Code::kConflict,
                                             "litevfs: " + name_ + " changed or is leased since this transaction read it (" +
                                                 refused.message() + "): roll back and retry the transaction",
                                             std::string(kStaleReadCode)));
}

Status Database::UploadOutcomeLocked(Conn* c, const char* why, const Pos& want, const Snapshot& pin,
                                     const UploadResult& up) {
  switch (up.outcome) {
    case UploadOutcome::kApplied:
      if (up.pos != want) {
        LITEVFS_LOG(LogLevel::kWarn, name_, want, "the service answered position " + ltx::FormatPos(up.pos) + " for our commit");
      }
      uploads_++;
      return Status::OK();
    case UploadOutcome::kUnknown:
      outcomes_unknown_++;
      unsettled_ = UnsettledCommit{pin.pos, want};
      writer_.rolled_back = true;
      LITEVFS_LOG(LogLevel::kError, name_, pin.pos, std::string("commit (") + why + "): " + up.status.ToString());
      return Status(up.status.code(), up.status.message(), std::string(kOutcomeUnknownCode));
    case UploadOutcome::kRejected:
      break;
  }
  const ApiError refused = ApiErrorOf(up.status);
  // Optimistic: moved or leased meanwhile. Auto: a moved position (a replica behind) is a
  // stale read too, and so is a lease lost meanwhile (the VFS takes it again for the retry:
  // the app never manages it). Either way the app retries the transaction.
  if (c->write_mode == WriteMode::kAuto && refused == ApiError::kLease) lease_.MarkLost();
  if ((c->write_mode == WriteMode::kOptimistic || c->write_mode == WriteMode::kAuto) &&
      (refused == ApiError::kPosMismatch || refused == ApiError::kLease)) {
    return OptimisticLostLocked(pin, why, up.status);
  }
  if (ApiErrorOf(up.status) == ApiError::kLease) {
    lease_.MarkLost();
    return CommitFailedLocked(pin, why, Status(ltx::Code::kPermissionDenied,
                                               "litevfs: the write lease on " + name_ + " is no longer valid: " +
                                                   up.status.message(),
                                               up.status.api_code()));
  }
  return CommitFailedLocked(pin, why, up.status.WithContext("litevfs: uploading transaction " +
                                                            ltx::FormatTxid(want.txid) + " of " + name_));
}

void Database::ApplyCommitLocked(Conn* c, const CommitPlan& plan, const DirtyPages& dirty, Pos np) {
  const uint32_t new_commit = plan.shape.new_commit;
  if (!cache_ && !memory_only_) OpenCacheOrRunWithoutLocked(page_size_);
  if (cache_) {
    const CarriedPages carried(&dirty, &plan);
    std::vector<uint32_t> changed;
    for (uint32_t pg = carried.Next(0); pg != 0; pg = carried.Next(pg)) changed.push_back(pg);
    changed.insert(changed.end(), plan.dropped.begin(), plan.dropped.end());
    std::sort(changed.begin(), changed.end());
    // Deferred durability: no index fdatasync on the commit's latency path; the sync thread
    // (or the close) stores the position within kPersistPeriod.
    Status cst = cache_->Advance(np, plan.shape.snapshot, changed, new_commit, /*defer_durability=*/true);
    std::vector<uint8_t> page(page_size_);
    for (uint32_t pg = carried.Next(0); pg != 0 && cst.ok(); pg = carried.Next(pg)) {
      cst = carried.Load(pg, page);  // from memory or the spill file
      if (cst.ok()) cst = cache_->Put(pg, np.txid, page);
    }
    if (!cst.ok()) {
      // Never serve a page the cache could not record as stale: run without it.
      LITEVFS_LOG(LogLevel::kError, name_, np, "page cache update after commit failed, cache disabled: " + cst.ToString());
      RetireCacheLocked();  // pages SQLite holds in place (xFetch) stay mapped until unfetched
      memory_only_ = true;
    }
  }
  latest_ = {np, new_commit};
  c->pin = latest_;
  writer_.size_pages = new_commit;
}

}  // namespace litevfs
