#include "lease_keeper.h"

#include <algorithm>

#include "log.h"

namespace litevfs {
namespace {

// A lease this close to its expiry no longer covers a commit's upload.
constexpr auto kLeaseSafetyMargin = std::chrono::milliseconds(500);
// Refreshed at this fraction of its duration.
constexpr long kRefreshDivisor = 3;

}  // namespace

LeaseKeeper::LeaseKeeper(std::string db, std::shared_ptr<Client> client)
    : db_(std::move(db)), client_(std::move(client)) {}

LeaseKeeper::~LeaseKeeper() { Stop(); }

bool LeaseKeeper::ValidLocked() {
  return !id_.empty() && !lost_ && GetClock().Now() + kLeaseSafetyMargin < expires_;
}

bool LeaseKeeper::Valid() {
  MutexLock lk(&mu_);
  return ValidLocked();
}

bool LeaseKeeper::Lost() {
  MutexLock lk(&mu_);
  return lost_;
}

void LeaseKeeper::MarkLost() {
  MutexLock lk(&mu_);
  lost_ = true;
}

std::string LeaseKeeper::id() {
  MutexLock lk(&mu_);
  return id_;
}

Result<std::string> LeaseKeeper::Acquire(long duration_ms, bool* taken) {
  if (taken) *taken = false;
  {
    MutexLock lk(&mu_);
    while (handover_) cv_.Wait();  // the commit may give the lease away: know first
    if (ValidLocked()) {
      auto_ = false;  // an explicit acquire pins a lease auto mode took
      return id_;
    }
  }
  auto l = client_->AcquireLease(db_, duration_ms);
  if (!l.ok()) return l.status();
  if (taken) *taken = true;
  Stop();
  MutexLock lk(&mu_);
  auto_ = false;
  StartRefreshLocked(l->id, duration_ms);
  return l->id;
}

void LeaseKeeper::StartRefreshLocked(const std::string& id, long duration_ms) {
  id_ = id;
  duration_ms_ = duration_ms;
  expires_ = GetClock().Now() + std::chrono::milliseconds(duration_ms);
  lost_ = false;
  stop_ = false;
  thread_ = std::thread([this] { RefreshLoop(); });
}

Result<WriteLease> LeaseKeeper::BeginWrite(long duration_ms, long wait_ms, Pos* granted_at) {
  {
    MutexLock lk(&mu_);
    if (ValidLocked()) {
      in_use_ = true;
      return WriteLease::kKept;
    }
  }
  auto l = client_->AcquireLeaseWaiting(db_, duration_ms, wait_ms);
  if (!l.ok()) {
    if (l.status().code() == ltx::Code::kConflict) return WriteLease::kBusy;
    return l.status();
  }
  Stop();
  MutexLock lk(&mu_);
  auto_ = true;
  in_use_ = true;
  *granted_at = l->pos;
  StartRefreshLocked(l->id, duration_ms);
  auto_acquired_++;
  return WriteLease::kTaken;
}

void LeaseKeeper::EndWrite(bool waiters, long idle_ms) {
  MutexLock lk(&mu_);
  in_use_ = false;
  idle_at_ = GetClock().Now() + std::chrono::milliseconds(idle_ms);
  if (auto_ && waiters && !id_.empty()) {
    handoffs_++;
    ReleaseNowLocked("another writer waits");
    return;
  }
  // Wake the refresh thread only when its wait does not end by an idle deadline already
  // (idle_at_ only moves later: a thread that wakes early re-checks and waits again).
  if (!idle_watched_) cv_.NotifyAll();
}

bool LeaseKeeper::BeginHandover() {
  MutexLock lk(&mu_);
  handover_ = auto_ && ValidLocked();
  return handover_;
}

void LeaseKeeper::EndHandover(const std::string& id, bool released, bool unsure) {
  MutexLock lk(&mu_);
  if (id_ == id && released) {
    id_.clear();
    auto_ = false;
    handoffs_++;
    commit_handoffs_++;
    LITEVFS_LOG(LogLevel::kDebug, db_, Pos{}, "lease released with the commit: another writer waits");
  } else if (id_ == id && unsure) {
    ReleaseNowLocked("a commit that could release it lost its answer");
  }
  handover_ = false;
  cv_.NotifyAll();  // the refresh thread ends if the lease went; a waiting Acquire goes on
}

bool LeaseKeeper::IdleLocked(Clock::time_point now) {
  return auto_ && !in_use_ && idle_at_ != Clock::time_point{} && now >= idle_at_;
}

void LeaseKeeper::ReleaseNowLocked(const char* why) {
  std::string id;
  id.swap(id_);
  auto_ = false;
  mu_.Unlock();
  Status st = client_->ReleaseLease(db_, id);
  if (!st.ok()) {
    LITEVFS_LOG(LogLevel::kWarn, db_, Pos{}, std::string("releasing the lease (") + why + "): " + st.ToString() +
                                                 " (it expires on its own)");
  } else {
    LITEVFS_LOG(LogLevel::kDebug, db_, Pos{}, std::string("lease released: ") + why);
  }
  mu_.Lock();
}

void LeaseKeeper::Stop() {
  {
    MutexLock lk(&mu_);
    stop_ = true;
  }
  cv_.NotifyAll();
  if (thread_.joinable()) thread_.join();
}

Result<std::string> LeaseKeeper::Release(Client& client) {
  Stop();
  std::string id;
  {
    MutexLock lk(&mu_);
    id.swap(id_);
    lost_ = false;
    auto_ = false;
  }
  if (id.empty()) return std::string();
  LTX_RETURN_IF_ERROR(client.ReleaseLease(db_, id));
  return id;
}

void LeaseKeeper::RefreshLoop() {
  MutexLock lk(&mu_);
  auto refresh_due = GetClock().Now() + std::chrono::milliseconds(duration_ms_ / kRefreshDivisor);
  while (!stop_ && !id_.empty()) {
    const auto now = GetClock().Now();
    if (IdleLocked(now)) {
      idle_releases_++;
      ReleaseNowLocked("idle");
      break;
    }
    if (now < refresh_due) {
      auto until = refresh_due;
      idle_watched_ = auto_ && !in_use_ && idle_at_ != Clock::time_point{};
      if (idle_watched_) until = std::min(until, idle_at_);
      GetClock().WaitFor(&cv_, until - now);
      idle_watched_ = false;
      continue;
    }
    const long dur = duration_ms_;
    const std::string id = id_;
    lk.Unlock();
    auto r = client_->AcquireLease(db_, dur, id);
    lk.Lock();
    if (id_ != id) break;
    refresh_due = GetClock().Now() + std::chrono::milliseconds(dur / kRefreshDivisor);
    if (r.ok()) {
      expires_ = GetClock().Now() + std::chrono::milliseconds(dur);
    } else if (r.status().code() == ltx::Code::kConflict || r.status().code() == ltx::Code::kPermissionDenied) {
      lost_ = true;
      LITEVFS_LOG(LogLevel::kError, db_, Pos{}, "lost the write lease: " + r.status().ToString());
      break;
    } else {
      LITEVFS_LOG(LogLevel::kWarn, db_, Pos{}, "lease refresh failed (will retry): " + r.status().ToString());
    }
  }
}

}  // namespace litevfs
