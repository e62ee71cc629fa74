// The distributed store (issue 14): every instance is stateless; the data is immutable S3
// objects, the agreed state (positions, leases) is in etcd. Names: dist_keys.h.
//
// Each instance keeps, per database it serves, a replica: a local Database (store.h) under
// the cache directory, which it reads pages from and parks long polls on. A replica is
// loaded on first use (the base snapshot object, then every commit object after it, each
// verified by Database::Apply) and kept current by one etcd watch on ROOT tx/: a new tx key
// names the object, which is fetched (one GET) and applied. A replica is a cache: it is never
// fsynced and is removed when the instance stops; the truth is S3 + etcd.
//
// A commit (Commit): read the position and lease keys (one etcd txn), check the lease, bring
// the replica to that position, verify the upload against it (Database::Apply), and at
// Apply's commit point upload the LTX as a new object and run ONE etcd txn comparing the
// position key's AND the lease key's mod_revision with what was read, which puts the new
// position and the tx key. Only then does the replica commit and the client get 200. A loser
// (another instance moved the position, or the lease changed: the fencing token) gets
// EPOSMISMATCH / ELEASE and its object is deleted.
//
// The replicas are a bounded cache (dist_cache.cc): each one's bytes (its files plus its page
// index) are measured after it changes; past DistOptions::cache_bytes the least recently used
// replicas that no request holds are dropped (files removed; reloaded from S3 on next use).
//
// Compaction (CompactAll, one instance at a time under ROOT lock/compact held with an etcd
// lease): a database with more than retain_txids tx keys since its base gets a new base
// (the replica's snapshot, uploaded as a snap/ object, made current by a txn); tx keys and
// objects at or before the previous base and older than the retention are deleted. Then the
// orphan sweep (SweepOrphans; the only LIST): objects under db/ that no pos, tx or base key
// names and that are older than max(retention, kOrphanMinAgeMs) are deleted: uploads whose
// etcd txn lost or never ran (the instance died between the PUT and the txn).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "../store.h"
#include "../store_api.h"
#include "dist_cache.h"
#include "dist_keys.h"
#include "dist_leases.h"
#include "etcd_client.h"
#include "s3_client.h"

namespace mockcloud::dist {

// An object no key names is deleted only past max(--retention, this): longer than any upload
// can wait for its commit txn (etcd failover included), so an in-flight commit keeps its
// object. Ages are S3's LastModified against this instance's clock.
inline constexpr int64_t kOrphanMinAgeMs = 60 * 1000;

struct DistOptions {
  S3Location s3;
  AwsCredentials creds;
  std::vector<std::string> etcd;  // members
  std::string cache_dir;          // replicas go to cache_dir/replica-<pid>-<random>
  StoreOptions local;             // retention, warn/error (data_dir is set by Open)
  uint64_t cache_bytes = kDefaultCacheBytes;  // bound on the replicas (dist_cache.cc)
};

// Writes a snapshot stream to `path` (dist_compact.cc); returns its position.
Result<Pos> WriteSnapshotFile(Database::SnapshotStream* stream, const std::string& path);

class DistStore : public StoreApi {
 public:
  // Checks the bucket and etcd, then starts the watch.
  static Result<std::unique_ptr<DistStore>> Open(DistOptions o);
  ~DistStore() override;

  Result<std::shared_ptr<Database>> Get(const std::string& cluster, const std::string& db,
                                        bool create) override;
  Result<std::map<std::string, Pos>> ListPositions(const std::string& cluster) override;
  Status CompactAll(int64_t now_ms) override;
  void WakeAll() override { local_->WakeAll(); }
  Result<std::string> NewTempPath(const std::string& prefix) override {
    return local_->NewTempPath(prefix);
  }
  Leases& leases() override { return *leases_; }
  Result<ApplyResult> Commit(const std::string& cluster, const std::string& name,
                             const std::shared_ptr<Database>& db, const UploadBody& body,
                             const LeaseClaim& claim) override;
  Status CatchUp(const std::string& cluster, const std::string& name,
                 const std::shared_ptr<Database>& db, const Pos& at) override;
  void Stop() override;
  std::string Metrics() override;  // dist_metrics.cc
  // History (dist_history.cc): both are one ordinary commit (Commit: upload + etcd txn) built
  // from this instance's replica. Rename stays Unsupported (man page says why).
  Result<ApplyResult> Restore(const std::string& cluster, const std::string& name,
                              const std::shared_ptr<Database>& db, const Pos& at,
                              const LeaseClaim& claim) override;
  Result<ApplyResult> Branch(const std::string& cluster, const std::string& db, const Pos& at,
                             const std::string& to) override;
  // One etcd txn (fenced on the position key) deletes the pos, base and tx keys; every
  // instance drops its replica when the watch reports the deleted tx keys (OnDeleted); the
  // objects are orphans from then on, removed by the sweep after the orphan window.
  Status Delete(const std::string& cluster, const std::string& db) override;

  // Bytes the replicas hold now (files + page index estimate).
  uint64_t CacheBytes();

  S3Client& s3() { return *s3_; }
  EtcdClient& etcd() { return *etcd_; }
  const DistKeys& keys() const { return keys_; }

 private:
  explicit DistStore(DistOptions o);
  struct Replica {
    std::shared_ptr<Database> db;
    std::mutex catchup_mu;  // serialises bringing `db` forward (watch thread vs requests)
    // Set once Load has caught `db` up: until then a request waits in Load (catchup_mu), never
    // served the empty replica that is registered first.
    std::atomic<bool> loaded{false};
    std::atomic<uint64_t> bytes{0};     // as last measured (Measure)
    std::atomic<uint64_t> last_use{0};  // use_clock_ at the last request that used it
  };
  // Cache accounting (dist_cache.cc): marks `r` used, measures it, evicts past the bound.
  void Touch(Replica* r) { r->last_use = ++use_clock_; }
  void Measure(const std::string& cluster, const std::string& name, Replica* r);
  void EnforceBound();
  // Removes the replica of cluster/db here, if any (evicted or deleted); under mu_.
  void DropReplicaLocked(const std::string& cluster, const std::string& name);
  // After the watch reported deleted tx keys of these databases: drops the replicas of those
  // whose position key is gone (dist_history.cc).
  void OnDeleted(const std::set<std::pair<std::string, std::string>>& dbs);
  // The least recently used replica no request holds (nullptr: none); under mu_.
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Replica>>::iterator
  EvictionVictimLocked();
  Result<std::shared_ptr<Replica>> Load(const std::string& cluster, const std::string& name,
                                        bool create);
  std::shared_ptr<Replica> Find(const std::string& cluster, const std::string& name);
  // Applies every commit after the replica's position (the base first when it is empty).
  Status CatchUpReplica(const std::string& cluster, const std::string& name, Replica* r);
  Status ApplyObject(Database* db, const std::string& object);
  // The commit point inside Database::Apply (dist_commit.cc).
  Status Publish(const std::string& cluster, const std::string& name, const UploadBody& body,
                 const EtcdKv* pos_kv, int64_t lease_rev, const LeaseClaim& claim,
                 std::string* object);
  void WatchLoop(int64_t start_revision);
  void OnEvents(const std::vector<EtcdEvent>& events);
  // Compaction of one database under the lock (dist_compact.cc).
  Status CompactOne(const std::string& cluster, const std::string& name, int64_t now_ms);
  // Deletes objects no etcd key names, older than the orphan window (dist_compact.cc).
  Status SweepOrphans(int64_t now_ms);
  void Warn(const std::string& msg) const;

  DistOptions opts_;
  DistKeys keys_;
  std::unique_ptr<S3Client> s3_;
  std::unique_ptr<EtcdClient> etcd_;
  std::unique_ptr<EtcdClient> watch_etcd_;  // the watch stream's own client (Interrupt)
  std::unique_ptr<DistLeases> leases_;
  std::unique_ptr<Store> local_;  // the replicas
  std::string replica_dir_;

  std::mutex mu_;  // guards replicas_
  std::map<std::pair<std::string, std::string>, std::shared_ptr<Replica>> replicas_;

  std::atomic<uint64_t> use_clock_{0};
  std::atomic<uint64_t> evictions_{0};
  std::atomic<uint64_t> orphans_deleted_{0};
  std::atomic<uint64_t> compactions_led_{0};  // CompactAll runs that held the lock
  std::mutex evict_mu_;  // one eviction pass at a time (taken before mu_)

  std::atomic<bool> stop_{false};
  std::thread watch_thread_;
};

}  // namespace mockcloud::dist
