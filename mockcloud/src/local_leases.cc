#include "local_leases.h"

#include <cctype>

#include "store.h"

namespace mockcloud {

Status LeaseRefused(const std::string& why) {
  return Status(ltx::Code::kConflict, why, kApiLease);
}

Status ValidateLeaseHolder(const std::string& holder) {
  bool ok = holder.size() <= kMaxLeaseHolderLen;
  for (char c : holder) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_');
  if (ok) return Status::OK();
  return Status::InvalidArgument(std::string(kLeaseClientHeader) + " must be at most " +
                                 std::to_string(kMaxLeaseHolderLen) + " letters, digits, '-' or '_'");
}

Status CheckLeaseClaim(const LeaseClaim& claim, const std::string& current_id) {
  const bool held = !current_id.empty();
  if (claim.has_id) {
    if (!held) return LeaseRefused("the lease in Lfsc-Lease-Id is not held (expired or released)");
    if (!ConstantTimeEquals(current_id, claim.id))
      return LeaseRefused("lease id does not match the current lease");
    return Status::OK();
  }
  if (held) return LeaseRefused("database is leased; send Lfsc-Lease-Id");
  return Status::OK();
}

LocalLeases::Entry* LocalLeases::HeldByLocked(const std::string& key, const std::string& holder,
                                              int64_t duration_ms) {
  if (holder.empty()) return nullptr;
  auto it = leases_.find(key);
  const auto now = Clock::now();
  if (it == leases_.end() || it->second.expires <= now || !ConstantTimeEquals(it->second.holder, holder))
    return nullptr;
  it->second.expires = now + std::chrono::milliseconds(duration_ms);
  return &it->second;
}

Result<LeaseGrant> LocalLeases::Acquire(const std::string& key, int64_t duration_ms,
                                        const std::string* refresh_id, const std::string& holder) {
  const auto now = Clock::now();
  std::lock_guard l(mu_);
  if (!refresh_id) {
    if (Entry* mine = HeldByLocked(key, holder, duration_ms)) return LeaseGrant{mine->id, NowUnixMs() + duration_ms};
  }
  auto it = leases_.find(key);
  const bool held = it != leases_.end() && it->second.expires > now;
  if (refresh_id) {
    if (!held || !ConstantTimeEquals(it->second.id, *refresh_id))
      return LeaseRefused("lease id is not the current lease (expired, released or never held)");
    it->second.expires = now + std::chrono::milliseconds(duration_ms);
    return LeaseGrant{it->second.id, NowUnixMs() + duration_ms};
  }
  if (held) {
    it->second.waited = now;
    return LeaseRefused("lease is held by another client");
  }
  if (queues_.count(key)) return LeaseRefused("lease is being handed to a waiting client");
  return GrantLocked(key, duration_ms, holder);
}

Result<LeaseGrant> LocalLeases::GrantLocked(const std::string& key, int64_t duration_ms, const std::string& holder) {
  LTX_ASSIGN_OR_RETURN(std::string id, RandomHex(16));
  leases_[key] = {id, Clock::now() + std::chrono::milliseconds(duration_ms), {}, holder};
  cv_.notify_all();
  return LeaseGrant{id, NowUnixMs() + duration_ms};
}

Result<LeaseGrant> LocalLeases::AcquireWaiting(const std::string& key, int64_t duration_ms, int64_t wait_ms,
                                               const std::string& holder) {
  std::unique_lock l(mu_);
  const auto deadline = Clock::now() + std::chrono::milliseconds(wait_ms);
  const uint64_t ticket = next_ticket_++;
  queues_[key].insert(ticket);
  for (;;) {
    const auto now = Clock::now();
    auto it = leases_.find(key);
    const bool held = it != leases_.end() && it->second.expires > now;
    std::set<uint64_t>& q = queues_[key];
    const bool first = *q.begin() == ticket;
    // A retry of an acquire whose answer was lost (or that is still queued): the holder's lease.
    Entry* mine = held ? HeldByLocked(key, holder, duration_ms) : nullptr;
    if ((!held && first) || mine || now >= deadline) {
      q.erase(ticket);
      if (q.empty()) queues_.erase(key);
      cv_.notify_all();  // the next in line may go now
      if (mine) return LeaseGrant{mine->id, NowUnixMs() + duration_ms};
      if (!held && first) return GrantLocked(key, duration_ms, holder);
      if (held) it->second.waited = now;
      return LeaseRefused("lease is held by another client (waited " + std::to_string(wait_ms) + " ms)");
    }
    cv_.wait_until(l, held ? std::min(deadline, it->second.expires) : deadline);
  }
}

Status LocalLeases::Release(const std::string& key, const std::string& id) {
  std::lock_guard l(mu_);
  auto it = leases_.find(key);
  if (it == leases_.end() || it->second.expires <= Clock::now() ||
      !ConstantTimeEquals(it->second.id, id)) {
    return LeaseRefused("lease id is not the current lease");
  }
  leases_.erase(it);
  cv_.notify_all();  // a waiting acquire may take it now
  return Status::OK();
}

Result<int64_t> LocalLeases::LeftMs(const std::string& key) {
  std::lock_guard l(mu_);
  auto it = leases_.find(key);
  const auto now = Clock::now();
  if (it == leases_.end() || it->second.expires <= now) return int64_t(-1);
  return int64_t(
      std::chrono::duration_cast<std::chrono::milliseconds>(it->second.expires - now).count());
}

Status LocalLeases::Forget(const std::string& key) {
  std::lock_guard l(mu_);
  leases_.erase(key);
  cv_.notify_all();
  return Status::OK();
}

bool LocalLeases::Waiting(const std::string& key) {
  std::lock_guard l(mu_);
  return WaitingLocked(key);
}

bool LocalLeases::WaitingLocked(const std::string& key) {
  auto it = leases_.find(key);
  const auto now = Clock::now();
  if (it == leases_.end() || it->second.expires <= now) return false;
  return queues_.count(key) > 0 || now - it->second.waited < std::chrono::milliseconds(kLeaseWaiterWindowMs);
}

Result<bool> LocalLeases::ReleaseIfWaiting(const std::string& key, const std::string& id) {
  std::lock_guard l(mu_);
  if (!WaitingLocked(key)) return false;
  auto it = leases_.find(key);  // live: WaitingLocked checked
  if (!ConstantTimeEquals(it->second.id, id)) return false;
  leases_.erase(it);
  cv_.notify_all();  // the first waiting acquire takes it now
  return true;
}

Status LocalLeases::Check(const std::string& key, const LeaseClaim& claim) {
  std::lock_guard l(mu_);
  auto it = leases_.find(key);
  const bool held = it != leases_.end() && it->second.expires > Clock::now();
  return CheckLeaseClaim(claim, held ? it->second.id : "");
}

}  // namespace mockcloud
