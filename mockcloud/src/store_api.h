// What the server needs from a store, so the same routes serve either the local store
// (store.h: everything under --data DIR, leases in memory) or the distributed one
// (dist/dist_store.h: objects in S3, positions and leases in etcd, a replica per instance).
// Both hand out Database objects (store.h) for reads: the distributed store's are replicas
// it keeps current from etcd, so every read path and long poll is shared.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "ltx/io.h"
#include "util.h"

namespace mockcloud {

class Database;      // store.h
struct ApplyResult;  // store.h

// The Lfsc-Lease-Id a write came with (has_id false = none).
struct LeaseClaim {
  bool has_id = false;
  std::string id;
};

struct LeaseGrant {
  std::string id;
  int64_t expires_ms = 0;  // Unix ms
};

// Write leases, keyed "cluster/db". Refusals are Conflict with api code ELEASE.
class Leases {
 public:
  virtual ~Leases() = default;
  // A new lease (refresh_id null; refused while another is held) or an extension of the
  // lease `*refresh_id` (refused unless it is the current one). `holder` (issue 17,
  // Lfsc-Lease-Client; empty = none): a new lease remembers it, and an acquire by the
  // holder of the live lease extends and returns that lease (a retry after a lost answer).
  virtual Result<LeaseGrant> Acquire(const std::string& key, int64_t duration_ms,
                                     const std::string* refresh_id, const std::string& holder) = 0;
  virtual Status Release(const std::string& key, const std::string& id) = 0;
  // Milliseconds the current lease has left; -1 = none held.
  virtual Result<int64_t> LeftMs(const std::string& key) = 0;
  // Whether a write with `claim` may go ahead now (the final check is the store's, at the
  // commit point).
  virtual Status Check(const std::string& key, const LeaseClaim& claim) = 0;
  // Drops any lease on `key` (its database was deleted).
  virtual Status Forget(const std::string& key) = 0;
  // issue 17: whether someone was refused this lease (held by another) within the last
  // kLeaseWaiterWindowMs, so the holder may hand it over (Lfsc-Lease-Waiters). A store
  // that does not track waiters answers false ("no waiter info"; the holder then releases
  // only when idle).
  virtual bool Waiting(const std::string& key) {
    (void)key;
    return false;
  }
  // issue 17: a new lease, waiting up to wait_ms while another is held; waiters are granted
  // in arrival order. A store without waiting answers at once (a plain Acquire).
  virtual Result<LeaseGrant> AcquireWaiting(const std::string& key, int64_t duration_ms, int64_t wait_ms,
                                            const std::string& holder) {
    (void)wait_ms;
    return Acquire(key, duration_ms, nullptr, holder);
  }
  // issue 17: releases lease `id` (the current one) if someone waits for it (as Waiting) and
  // says whether it did; a waiting acquire is granted at once. Asked by a commit under the
  // lease (Lfsc-Lease-Release: if-waiters) so a handoff costs no request of its own. A store
  // without waiter info answers false (the holder then releases on its own).
  virtual Result<bool> ReleaseIfWaiting(const std::string& key, const std::string& id) {
    (void)key, (void)id;
    return false;
  }
};

// The longest wait= of POST /lease (a waiter holds a server thread meanwhile).
inline constexpr int64_t kMaxLeaseWaitMs = 2000;

// A refused acquire counts as a waiter for this long (a waiting writer retries well within it).
inline constexpr int64_t kLeaseWaiterWindowMs = 1000;
// The response header that tells a lease holder someone waits ("1"; absent otherwise).
inline constexpr char kLeaseWaitersHeader[] = "Lfsc-Lease-Waiters";
// issue 17: the acquiring client's own token (POST /lease): its repeated acquire of a lease it
// holds returns that lease. Up to kMaxLeaseHolderLen of [0-9A-Za-z_-].
inline constexpr char kLeaseClientHeader[] = "Lfsc-Lease-Client";
inline constexpr size_t kMaxLeaseHolderLen = 64;
// issue 17: a commit asks "release the lease with this commit if someone waits"
// (kLeaseReleaseIfWaiters); the answer says Lfsc-Lease-Released: 1 when it was.
inline constexpr char kLeaseReleaseHeader[] = "Lfsc-Lease-Release";
inline constexpr char kLeaseReleaseIfWaiters[] = "if-waiters";
inline constexpr char kLeaseReleasedHeader[] = "Lfsc-Lease-Released";

// An uploaded transaction: in memory (path empty) or in a file under tmp/.
struct UploadBody {
  std::string_view mem;
  std::string path;
  Result<std::unique_ptr<ltx::Source>> Open() const;
};

class StoreApi {
 public:
  virtual ~StoreApi() = default;
  // The database, or nullptr when it does not exist and !create. Names must be valid.
  virtual Result<std::shared_ptr<Database>> Get(const std::string& cluster, const std::string& db,
                                                bool create) = 0;
  // Every existing database of the cluster and its position (an error when the store that
  // knows them cannot be asked).
  virtual Result<std::map<std::string, Pos>> ListPositions(const std::string& cluster) = 0;
  virtual Status CompactAll(int64_t now_ms) = 0;
  virtual void WakeAll() = 0;
  // A fresh path under tmp/ for a request body.
  virtual Result<std::string> NewTempPath(const std::string& prefix) = 0;
  virtual Leases& leases() = 0;
  // Verifies `body` against `db` (from Get(cluster, name, true)) and makes it the new
  // position if `claim` holds the lease at the commit point. Errors as Database::Apply.
  virtual Result<ApplyResult> Commit(const std::string& cluster, const std::string& name,
                                     const std::shared_ptr<Database>& db, const UploadBody& body,
                                     const LeaseClaim& claim) = 0;
  // Whether CommitStream works: the body applied as it arrives, read once front to back
  // (upload_pipe.h; no spool file). The dist store reads the whole file first: no.
  virtual bool CommitsStreamed() const { return false; }
  virtual Result<ApplyResult> CommitStream(const std::string& cluster, const std::string& name,
                                           const std::shared_ptr<Database>& db,
                                           std::unique_ptr<ltx::Source> body,
                                           const LeaseClaim& claim);
  // Before a read at `at`: a store whose `db` may lag the cluster brings it up to `at` (or to
  // the newest position). The local store is always current: nothing to do.
  virtual Status CatchUp(const std::string& cluster, const std::string& name,
                         const std::shared_ptr<Database>& db, const Pos& at) = 0;
  // Stops background work (watches, locks). Idempotent.
  virtual void Stop() {}
  // The store's own lines for GET /metrics (Prometheus text; the distributed store: its cache
  // and S3 request counters). Empty = none.
  virtual std::string Metrics() { return ""; }

  // ---- history and lifecycle (issue 18; the local store implements them in
  // store_history.cc / store_points.cc). A store without them answers Unsupported (HTTP 501).
  virtual Status RestorePointsAll(int64_t /*now_ms*/) { return Status::OK(); }
  virtual Status Delete(const std::string& /*cluster*/, const std::string& /*db*/) {
    return Unsupported("delete");
  }
  virtual Status Rename(const std::string& /*cluster*/, const std::string& /*from*/,
                        const std::string& /*to*/) {
    return Unsupported("rename");
  }
  // Makes the state at `at` current as one new transaction if `claim` holds the lease.
  virtual Result<ApplyResult> Restore(const std::string& cluster, const std::string& name,
                                      const std::shared_ptr<Database>& db, const Pos& at,
                                      const LeaseClaim& claim);  // store_api.cc
  virtual Result<ApplyResult> Branch(const std::string& cluster, const std::string& db,
                                     const Pos& at, const std::string& to);  // store_api.cc

 protected:
  static Status Unsupported(const std::string& what) {
    return Status::Unsupported(what + " is not supported by the distributed store yet; run it on "
                               "a local-store server (litevfs-mockcloud migrate moves the data)");
  }
};

}  // namespace mockcloud
