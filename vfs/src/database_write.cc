// The write room: SQLite's locks across this process's connections, the writer's dirty
// pages, and the commit point. CommitLocked gathers the old page versions, encodes with
// EncodeCommit (commit_encode.h, pure), uploads with UploadAndSettle (commit_upload.h), and
// applies the result to the cache; mu_ is dropped for the network parts only.
#include <algorithm>
#include <cstring>
#include <span>

#include "api_error.h"
#include "commit_upload.h"
#include "database.h"
#include "log.h"
#include "sqlite_format.h"

namespace litevfs {
namespace {

std::span<const uint8_t> AsBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Locks.

Result<LockResult> Database::Lock(Conn* c, int level) {
  if (level == kLockShared) {
    if (c->lock != kLockNone) return LockResult::kOk;
    MaybeSyncForTransaction();
    MutexLock lk(&mu_);
    if (pending_) return LockResult::kBusy;
    shared_count_++;
    c->lock = kLockShared;
    c->pin = latest_;
    c->pinned = true;
    c->requests = 0;
    c->ra.Reset();
    return LockResult::kOk;
  }
  MutexLock lk(&mu_);
  if (reserved_ && reserved_ != c) return LockResult::kBusy;
  if (level == kLockReserved || (level == kLockExclusive && reserved_ == nullptr)) {
    if (level == kLockReserved && !LeaseValidLocked()) {
      return Status::PermissionDenied(NoLeaseMessageLocked("run PRAGMA litevfs_acquire_lease"));
    }
    if (c->pin.pos != latest_.pos) {
      return Status::Conflict("litevfs: " + name_ + " changed since this transaction started (pinned at " +
                              ltx::FormatPos(c->pin.pos) + ", now " + ltx::FormatPos(latest_.pos) +
                              "): roll back and retry");
    }
    reserved_ = c;
    writer_ = Writer{};
    writer_.owner = c;
    writer_.size_pages = c->pin.commit;
    c->lock = kLockReserved;
    if (level == kLockReserved) return LockResult::kOk;
  }
  // EXCLUSIVE: PENDING first (blocks new readers), then wait for the other readers to go.
  pending_ = true;
  if (c->lock < kLockPending) c->lock = kLockPending;
  if (shared_count_ > 1) return LockResult::kBusy;
  c->lock = kLockExclusive;
  return LockResult::kOk;
}

Status Database::Unlock(Conn* c, int level) {
  MutexLock lk(&mu_);
  Status result;
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
  }
  if (level == kLockNone && c->lock >= kLockShared) {
    shared_count_--;
    c->pinned = false;
  }
  c->lock = level;
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
  if (!LeaseValidLocked()) return Status::PermissionDenied(NoLeaseMessageLocked("run PRAGMA litevfs_acquire_lease"));
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
    if (pgno != lock_pg) {
      auto it = writer_.dirty.find(pgno);
      if (it == writer_.dirty.end()) {
        std::string base(ps, '\0');
        if (in != 0 || n != ps) {  // a partial page: start from its stored version
          const Snapshot pin = c->pin;
          lk.Unlock();
          Status st = ReadStoredPage(c, pin, pgno, &base, false);
          lk.Lock();
          LTX_RETURN_IF_ERROR(st);
        }
        it = writer_.dirty.emplace(pgno, std::move(base)).first;
      }
      std::memcpy(it->second.data() + in, buf + done, n);
    }
    writer_.size_pages = std::max(writer_.size_pages, pgno);
    done += n;
  }
  return Status::OK();
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
  writer_.dirty.erase(writer_.dirty.upper_bound(pages), writer_.dirty.end());
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
  LITEVFS_LOG(LogLevel::kError, name_, pin.pos,
              std::string("commit (") + why + ") failed, transaction rolled back: " + st.ToString());
  return st;
}

Status Database::CommitLocked(Conn* c, const char* why) {
  const Snapshot pin = c->pin;
  if (writer_.dirty.empty() && writer_.size_pages == pin.commit) return Status::OK();
  const auto commit_start = GetClock().Now();  // for the log line only
  if (page_size_ == 0) return CommitFailedLocked(pin, why, Status::IOError("litevfs: commit without a page size"));
  if (!LeaseValidLocked()) {
    return CommitFailedLocked(pin, why, Status::PermissionDenied(NoLeaseMessageLocked("the transaction was rolled back")));
  }
  const std::string lease = lease_.id();
  CommitInput in;
  in.page_size = page_size_;
  in.pin = pin.pos;
  in.old_commit = pin.pos.IsZero() ? 0 : pin.commit;
  in.new_commit = writer_.size_pages;
  in.timestamp_ms = GetClock().WallMs();
  DirtyPages dirty = std::move(writer_.dirty);
  writer_.dirty.clear();
  mu_.Unlock();  // ---- no lock across the requests ----
  DirtyPages old;
  Status st = ReadStoredPages(pin, OldPagesNeeded(dirty, in.page_size, in.old_commit, in.new_commit), &old);
  Result<EncodedCommit> enc = Status::Unavailable("not encoded");
  if (st.ok()) {
    RestoreWalVersions(&dirty, old);
    in.dirty = &dirty;
    in.old = &old;
    enc = EncodeCommit(in);
  }
  UploadResult up;
  if (enc.ok() && !enc->empty) {
    up = UploadAndSettle(*client_, UploadRequest{name_, &enc->ltx, lease, pin.pos, enc->pos,
                                                 std::chrono::milliseconds(cfg_.client.request_timeout_ms)});
  }
  mu_.Lock();
  if (!st.ok()) return CommitFailedLocked(pin, why, st);
  if (!enc.ok()) return CommitFailedLocked(pin, why, enc.status());
  if (enc->empty) return Status::OK();  // nothing changed
  LTX_RETURN_IF_ERROR(UploadOutcomeLocked(c, why, *enc, pin, up));
  ApplyCommitLocked(c, *enc, dirty, up.pos, in.new_commit, pin.pos.IsZero());
  LITEVFS_LOG(LogLevel::kInfo, name_, up.pos,
              "commit uploaded: txid " + ltx::FormatTxid(up.pos.txid) + ", " + std::to_string(enc->written.size()) +
                  " pages, " + std::to_string(enc->ltx.size()) + " bytes, database " + std::to_string(in.new_commit) +
                  " pages, " +
                  std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(GetClock().Now() - commit_start).count()) +
                  " ms (" + why + ")");
  return Status::OK();
}

Status Database::UploadOutcomeLocked(Conn* c, const char* why, const EncodedCommit& enc, const Snapshot& pin,
                                     const UploadResult& up) {
  (void)c;
  switch (up.outcome) {
    case UploadOutcome::kApplied:
      if (up.pos != enc.pos) {
        LITEVFS_LOG(LogLevel::kWarn, name_, enc.pos, "the service answered position " + ltx::FormatPos(up.pos) + " for our commit");
      }
      uploads_++;
      return Status::OK();
    case UploadOutcome::kUnknown:
      outcomes_unknown_++;
      unsettled_ = UnsettledCommit{pin.pos, enc.pos};
      writer_.rolled_back = true;
      LITEVFS_LOG(LogLevel::kError, name_, pin.pos, std::string("commit (") + why + "): " + up.status.ToString());
      return Status(up.status.code(), up.status.message(), std::string(kOutcomeUnknownCode));
    case UploadOutcome::kRejected:
      break;
  }
  if (ApiErrorOf(up.status) == ApiError::kLease) {
    lease_.MarkLost();
    return CommitFailedLocked(pin, why, Status(ltx::Code::kPermissionDenied,
                                               "litevfs: the write lease on " + name_ + " is no longer valid: " +
                                                   up.status.message(),
                                               up.status.api_code()));
  }
  return CommitFailedLocked(pin, why, up.status.WithContext("litevfs: uploading transaction " +
                                                            ltx::FormatTxid(enc.pos.txid) + " of " + name_));
}

void Database::ApplyCommitLocked(Conn* c, const EncodedCommit& enc, const DirtyPages& dirty, Pos np,
                                 uint32_t new_commit, bool snapshot) {
  if (np.IsZero()) np = enc.pos;
  if (!cache_ && !memory_only_) OpenCacheOrRunWithoutLocked(page_size_);
  if (cache_) {
    // Deferred durability: no index fdatasync on the commit's latency path; the sync thread
    // (or the close) stores the position within kPersistPeriod.
    Status cst = cache_->Advance(np, snapshot, enc.changed, new_commit, /*defer_durability=*/true);
    const std::string zero(page_size_, '\0');
    for (uint32_t pg : enc.written) {
      if (!cst.ok()) break;
      auto it = dirty.find(pg);
      cst = cache_->Put(pg, np.txid, AsBytes(it == dirty.end() ? zero : it->second));
    }
    if (!cst.ok()) {
      // Never serve a page the cache could not record as stale: run without it.
      LITEVFS_LOG(LogLevel::kError, name_, np, "page cache update after commit failed, cache disabled: " + cst.ToString());
      cache_.reset();
      memory_only_ = true;
    }
  }
  latest_ = {np, new_commit};
  c->pin = latest_;
  writer_.size_pages = new_commit;
}

}  // namespace litevfs
