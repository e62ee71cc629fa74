// DistStore: opening, replicas (load, catch up), the watch. Commits: dist_commit.cc;
// compaction: dist_compact.cc.
#include "dist_store.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>

namespace mockcloud::dist {
namespace {

constexpr auto kWatchRetryDelay = std::chrono::milliseconds(100);

// Replicas are caches rebuilt from S3 at every start: their writes need no sync.
class NoSyncIo : public StoreIo {
 public:
  int Fdatasync(int) override { return 0; }
  int Fsync(int) override { return 0; }
};

// Replica directories of instances that no longer run (replica-<pid>-<random>).
void RemoveDeadReplicas(const std::string& cache_dir) {
  for (const auto& n : ListDir(cache_dir)) {
    if (n.rfind("replica-", 0) != 0) continue;
    pid_t pid = pid_t(atol(n.c_str() + 8));
    if (pid > 0 && kill(pid, 0) != 0 && errno == ESRCH) {
      std::error_code ec;
      std::filesystem::remove_all(cache_dir + "/" + n, ec);
    }
  }
}

// Whether the commit at tx key `txid` applies right after `pos`: its pre-apply checksum is
// pos's (a snapshot, pre 0, onto an empty replica; an upload of several txids is keyed by its
// max_txid).
bool Follows(const Pos& pos, uint64_t txid, const TxValue& tv) {
  return txid > pos.txid && tv.pre == pos.post_apply_checksum;
}

}  // namespace

DistStore::DistStore(DistOptions o)
    : opts_(std::move(o)),
      keys_(opts_.s3.bucket, opts_.s3.prefix),
      s3_(std::make_unique<S3Client>(opts_.s3, opts_.creds)),
      etcd_(std::make_unique<EtcdClient>(opts_.etcd)),
      watch_etcd_(std::make_unique<EtcdClient>(opts_.etcd)),
      leases_(std::make_unique<DistLeases>(etcd_.get(), &keys_)) {}

Result<std::unique_ptr<DistStore>> DistStore::Open(DistOptions o) {
  if (o.cache_dir.empty()) return Status::InvalidArgument("distributed store: no cache directory");
  std::unique_ptr<DistStore> s(new DistStore(std::move(o)));
  LTX_RETURN_IF_ERROR(s->s3_->CheckBucket());
  int64_t rev = 0;
  auto probe = s->etcd_->Range(s->keys_.root(), "", true, &rev);
  if (!probe.ok())
    return Status::IOError("--etcd: " + probe.status().message());
  LTX_RETURN_IF_ERROR(MakeDirs(s->opts_.cache_dir));
  RemoveDeadReplicas(s->opts_.cache_dir);
  LTX_ASSIGN_OR_RETURN(std::string rnd, RandomHex(4));
  s->replica_dir_ = s->opts_.cache_dir + "/replica-" + std::to_string(getpid()) + "-" + rnd;
  StoreOptions lo = s->opts_.local;
  lo.data_dir = s->replica_dir_;
  lo.io = std::make_shared<NoSyncIo>();
  LTX_ASSIGN_OR_RETURN(s->local_, Store::Open(lo));
  s->watch_thread_ = std::thread([p = s.get(), rev] { p->WatchLoop(rev + 1); });
  return s;
}

DistStore::~DistStore() {
  Stop();
  replicas_.clear();
  local_.reset();
  std::error_code ec;
  if (!replica_dir_.empty()) std::filesystem::remove_all(replica_dir_, ec);
}

void DistStore::Stop() {
  stop_ = true;
  watch_etcd_->Interrupt();
  if (watch_thread_.joinable()) watch_thread_.join();
}

void DistStore::Warn(const std::string& msg) const {
  if (opts_.local.warn) {
    opts_.local.warn(msg);
  } else {
    fprintf(stderr, "%s\n", msg.c_str());
  }
}

std::shared_ptr<DistStore::Replica> DistStore::Find(const std::string& cluster,
                                                    const std::string& name) {
  std::lock_guard l(mu_);
  auto it = replicas_.find({cluster, name});
  return it == replicas_.end() ? nullptr : it->second;
}

Result<std::shared_ptr<Database>> DistStore::Get(const std::string& cluster,
                                                 const std::string& name, bool create) {
  LTX_RETURN_IF_ERROR(ValidateName(cluster, "cluster"));
  LTX_RETURN_IF_ERROR(ValidateName(name, "db"));
  if (auto r = Find(cluster, name); r && r->loaded) {
    Touch(r.get());
    return r->db;
  }
  LTX_ASSIGN_OR_RETURN(auto r, Load(cluster, name, create));
  if (!r) return std::shared_ptr<Database>();
  Touch(r.get());
  Measure(cluster, name, r.get());
  EnforceBound();  // never evicts r: held here
  return r->db;
}

Result<std::shared_ptr<DistStore::Replica>> DistStore::Load(const std::string& cluster,
                                                             const std::string& name,
                                                             bool create) {
  LTX_ASSIGN_OR_RETURN(auto kvs, etcd_->Range(keys_.Pos(cluster, name)));
  if (kvs.empty() && !create) return std::shared_ptr<Replica>();
  std::shared_ptr<Replica> r;
  {
    std::lock_guard l(mu_);
    auto& slot = replicas_[{cluster, name}];
    if (!slot) {
      slot = std::make_shared<Replica>();
      LTX_ASSIGN_OR_RETURN(slot->db, local_->Get(cluster, name, true));
    }
    r = slot;
  }
  // Registered before reading etcd: a commit the watch reports from now on finds it.
  std::lock_guard l(r->catchup_mu);
  LTX_RETURN_IF_ERROR(CatchUpReplica(cluster, name, r.get()));
  r->loaded = true;
  return r;
}

Result<std::map<std::string, Pos>> DistStore::ListPositions(const std::string& cluster) {
  std::map<std::string, Pos> out;
  const std::string pre = keys_.PosPrefix(cluster);
  LTX_ASSIGN_OR_RETURN(auto kvs, etcd_->Range(pre, PrefixEnd(pre)));
  for (const auto& kv : kvs) {
    std::string c, d;
    auto v = DecodePosValue(kv.value);
    if (!keys_.ParsePos(kv.key, &c, &d) || !v.ok()) {
      Warn("etcd key " + kv.key + " is not a position: skipped");
      continue;
    }
    out[d] = v->pos;
  }
  return out;
}

Status DistStore::CatchUp(const std::string& cluster, const std::string& name,
                          const std::shared_ptr<Database>& db, const Pos&) {
  auto r = Find(cluster, name);
  if (!r || r->db != db) return Status::OK();
  std::lock_guard l(r->catchup_mu);
  const Pos before = db->pos();
  LTX_RETURN_IF_ERROR(CatchUpReplica(cluster, name, r.get()));
  if (db->pos() != before) Measure(cluster, name, r.get());
  return Status::OK();
}

Status DistStore::ApplyObject(Database* db, const std::string& object) {
  LTX_ASSIGN_OR_RETURN(std::string data, s3_->Get(object));
  auto src = ltx::MemorySource({reinterpret_cast<const uint8_t*>(data.data()), data.size()});
  auto r = db->Apply(std::move(src), [] { return Status::OK(); });
  if (!r.ok()) return r.status().WithContext("replaying S3 object " + object);
  if (!r->warning.empty()) Warn(db->label() + ": " + r->warning);
  return Status::OK();
}

Status DistStore::CatchUpReplica(const std::string& cluster, const std::string& name,
                                 Replica* r) {
  Pos pos = r->db->pos();
  const std::string pre = keys_.TxPrefix(cluster, name);
  LTX_ASSIGN_OR_RETURN(
      EtcdTxnResult st,
      etcd_->Txn({}, {{EtcdOp::Kind::kRange, keys_.Base(cluster, name), "", "", 0},
                      {EtcdOp::Kind::kRange, keys_.Tx(cluster, name, pos.txid + 1), "",
                       PrefixEnd(pre), 0}}));
  if (pos.IsZero() && !st.kvs[0].empty()) {
    LTX_ASSIGN_OR_RETURN(PosValue base, DecodePosValue(st.kvs[0][0].value));
    LTX_RETURN_IF_ERROR(ApplyObject(r->db.get(), base.key));
    pos = r->db->pos();
  }
  for (const auto& kv : st.kvs[1]) {
    std::string c, d;
    uint64_t txid = 0;
    if (!keys_.ParseTx(kv.key, &c, &d, &txid)) continue;
    if (txid <= pos.txid) continue;
    LTX_ASSIGN_OR_RETURN(TxValue tv, DecodeTxValue(kv.value));
    if (!Follows(pos, txid, tv)) {
      return Status::Unavailable("replica of " + cluster + "/" + name + " is at " +
                             ltx::FormatPos(pos) + " but the next retained commit is txid " +
                             ltx::FormatTxid(txid) +
                             " (compacted away meanwhile): restart this instance");
    }
    LTX_RETURN_IF_ERROR(ApplyObject(r->db.get(), tv.key));
    pos = r->db->pos();
  }
  return Status::OK();
}

void DistStore::OnEvents(const std::vector<EtcdEvent>& events) {
  std::set<std::pair<std::string, std::string>> deleted;
  for (const auto& ev : events) {
    std::string c, d;
    uint64_t txid = 0;
    if (!keys_.ParseTx(ev.kv.key, &c, &d, &txid)) continue;
    if (ev.is_delete) {
      deleted.insert({c, d});
      continue;
    }
    auto r = Find(c, d);
    if (!r) continue;  // not served here: loaded from etcd on first use
    std::lock_guard l(r->catchup_mu);
    const Pos pos = r->db->pos();
    if (txid <= pos.txid) continue;  // ours, or already caught up
    auto tv = DecodeTxValue(ev.kv.value);
    Status st = tv.ok() && Follows(pos, txid, *tv)
                    ? ApplyObject(r->db.get(), tv->key)
                    : CatchUpReplica(c, d, r.get());
    // A commit through this instance reports its own tx key before its replica has it:
    // Apply then finds the replica already there.
    if (!st.ok() && r->db->pos().txid < txid) Warn("replica " + c + "/" + d + ": " + st.message());
    Measure(c, d, r.get());
  }
  if (!deleted.empty()) OnDeleted(deleted);
  if (!events.empty()) EnforceBound();
}

void DistStore::WatchLoop(int64_t start_revision) {
  int64_t next = start_revision;
  while (!stop_) {
    Status st = watch_etcd_->Watch(
        keys_.TxRoot(), next,
        [&](const std::vector<EtcdEvent>& evs, int64_t) {
          OnEvents(evs);
          for (const auto& ev : evs) next = std::max(next, ev.kv.mod_revision + 1);
        },
        stop_);
    if (stop_) break;
    Warn("etcd watch: " + st.message() + "; reconnecting");
    std::this_thread::sleep_for(kWatchRetryDelay);
    if (st.code() == ltx::Code::kUnavailable) {  // compacted: from now on, after a catch-up
      int64_t rev = 0;
      if (etcd_->Range(keys_.root(), "", true, &rev).ok()) next = rev + 1;
    }
    std::vector<std::pair<std::pair<std::string, std::string>, std::shared_ptr<Replica>>> all;
    {
      std::lock_guard l(mu_);
      all.assign(replicas_.begin(), replicas_.end());
    }
    for (auto& [k, r] : all) {  // whatever the broken stream missed
      std::lock_guard l(r->catchup_mu);
      Status cs = CatchUpReplica(k.first, k.second, r.get());
      if (!cs.ok()) Warn("replica " + k.first + "/" + k.second + ": " + cs.message());
    }
  }
}

}  // namespace mockcloud::dist
