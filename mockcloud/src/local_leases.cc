#include "local_leases.h"

#include "store.h"

namespace mockcloud {

Status LeaseRefused(const std::string& why) {
  return Status(ltx::Code::kConflict, why, kApiLease);
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

Result<LeaseGrant> LocalLeases::Acquire(const std::string& key, int64_t duration_ms,
                                        const std::string* refresh_id) {
  const auto now = Clock::now();
  std::lock_guard l(mu_);
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
  LTX_ASSIGN_OR_RETURN(std::string id, RandomHex(16));
  leases_[key] = {id, now + std::chrono::milliseconds(duration_ms)};
  return LeaseGrant{id, NowUnixMs() + duration_ms};
}

Status LocalLeases::Release(const std::string& key, const std::string& id) {
  std::lock_guard l(mu_);
  auto it = leases_.find(key);
  if (it == leases_.end() || it->second.expires <= Clock::now() ||
      !ConstantTimeEquals(it->second.id, id)) {
    return LeaseRefused("lease id is not the current lease");
  }
  leases_.erase(it);
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
  return Status::OK();
}

bool LocalLeases::Waiting(const std::string& key) {
  std::lock_guard l(mu_);
  auto it = leases_.find(key);
  const auto now = Clock::now();
  return it != leases_.end() && it->second.expires > now &&
         now - it->second.waited < std::chrono::milliseconds(kLeaseWaiterWindowMs);
}

Status LocalLeases::Check(const std::string& key, const LeaseClaim& claim) {
  std::lock_guard l(mu_);
  auto it = leases_.find(key);
  const bool held = it != leases_.end() && it->second.expires > Clock::now();
  return CheckLeaseClaim(claim, held ? it->second.id : "");
}

}  // namespace mockcloud
