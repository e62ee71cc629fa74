// Write leases kept in etcd (ROOT lease/<cluster>/<db>, dist_keys.h), so any instance grants,
// refreshes, checks and releases them. Every change is one txn comparing the key's
// mod_revision with the one read, so two instances never both grant. Expiry is wall-clock
// Unix ms in the value (the instances' clocks are assumed within a lease's margin); the
// mod_revision is the fencing token a commit compares (dist_store.cc).
#pragma once

#include "../local_leases.h"
#include "dist_keys.h"
#include "etcd_client.h"

namespace mockcloud::dist {

struct LeaseState {
  std::string live_id;       // "" = none held (absent, released or expired)
  std::string live_holder;   // the live lease's Lfsc-Lease-Client ("" = none given)
  int64_t expires_ms = 0;
  int64_t mod_revision = 0;  // 0 = the key does not exist
};
// The state the lease key's range reply (0 or 1 kvs) describes at now_ms.
LeaseState LeaseStateOf(const std::vector<EtcdKv>& kvs, int64_t now_ms);

class DistLeases : public Leases {
 public:
  DistLeases(EtcdClient* etcd, const DistKeys* keys) : etcd_(etcd), keys_(keys) {}
  Result<LeaseGrant> Acquire(const std::string& key, int64_t duration_ms,
                             const std::string* refresh_id, const std::string& holder) override;
  Status Release(const std::string& key, const std::string& id) override;
  Result<int64_t> LeftMs(const std::string& key) override;
  Status Check(const std::string& key, const LeaseClaim& claim) override;
  Status Forget(const std::string& key) override;

 private:
  Result<LeaseState> Read(const std::string& key);
  EtcdClient* etcd_;
  const DistKeys* keys_;
};

}  // namespace mockcloud::dist
