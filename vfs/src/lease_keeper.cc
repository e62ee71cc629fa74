#include "lease_keeper.h"

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

Result<std::string> LeaseKeeper::Acquire(long duration_ms) {
  {
    MutexLock lk(&mu_);
    if (ValidLocked()) return id_;
  }
  auto l = client_->AcquireLease(db_, duration_ms);
  if (!l.ok()) return l.status();
  Stop();
  {
    MutexLock lk(&mu_);
    id_ = l->id;
    duration_ms_ = duration_ms;
    expires_ = GetClock().Now() + std::chrono::milliseconds(duration_ms);
    lost_ = false;
    stop_ = false;
  }
  thread_ = std::thread([this] { RefreshLoop(); });
  return l->id;
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
  }
  if (id.empty()) return std::string();
  LTX_RETURN_IF_ERROR(client.ReleaseLease(db_, id));
  return id;
}

void LeaseKeeper::RefreshLoop() {
  MutexLock lk(&mu_);
  while (!stop_ && !id_.empty()) {
    const long dur = duration_ms_;
    const auto due = GetClock().Now() + std::chrono::milliseconds(dur / kRefreshDivisor);
    while (!stop_ && GetClock().Now() < due) GetClock().WaitFor(&cv_, due - GetClock().Now());
    if (stop_) break;
    const std::string id = id_;
    lk.Unlock();
    auto r = client_->AcquireLease(db_, dur, id);
    lk.Lock();
    if (id_ != id) break;
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
