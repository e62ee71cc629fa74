// DistStore::CompactAll: one instance at a time (ROOT lock/compact, held with an etcd lease
// that expires if the instance dies) makes new bases and deletes what retention lets go.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <set>

#include "../store_snapshot.h"
#include "dist_store.h"

namespace mockcloud::dist {
namespace {

constexpr int64_t kLockTtlSeconds = 60;  // a dead compactor's lock frees itself after this

}  // namespace

Result<Pos> WriteSnapshotFile(Database::SnapshotStream* stream, const std::string& path) {
  int fd = open(path.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IOError(ErrnoText("open", path));
  std::string buf(1 << 16, '\0');
  Status st;
  while (st.ok()) {
    auto n = stream->Read(buf.data(), buf.size());
    if (!n.ok()) st = n.status();
    if (!n.ok() || *n == 0) break;
    st = WriteAll(fd, buf.data(), *n);
  }
  close(fd);
  if (!st.ok()) return st;
  return stream->pos();
}

namespace {

// The object an etcd value under ROOT `dir` names.
Result<std::string> ObjectOf(const std::string& dir, const std::string& value) {
  if (dir == "tx/") {
    LTX_ASSIGN_OR_RETURN(TxValue tv, DecodeTxValue(value));
    return tv.key;
  }
  LTX_ASSIGN_OR_RETURN(PosValue pv, DecodePosValue(value));
  return pv.key;
}

}  // namespace

Status DistStore::CompactAll(int64_t now_ms) {
  LTX_RETURN_IF_ERROR(local_->CompactAll(now_ms));  // this instance's replicas
  {
    std::lock_guard l(mu_);
    for (auto& [k, r] : replicas_) Measure(k.first, k.second, r.get());
  }
  LTX_ASSIGN_OR_RETURN(int64_t lease, etcd_->GrantLease(kLockTtlSeconds));
  const std::string lock = keys_.CompactLock();
  auto got = etcd_->Txn({{lock, EtcdCompare::Target::kVersion, 0, ""}},
                        {{EtcdOp::Kind::kPut, lock, "compacting", "", lease}});
  Status st = got.ok() ? Status::OK() : got.status();
  if (got.ok() && got->succeeded) {
    compactions_led_++;
    const std::string pre = keys_.PosPrefix("");
    auto dbs = etcd_->Range(pre, PrefixEnd(pre), true);
    if (!dbs.ok()) st = dbs.status();
    for (const auto& kv : dbs.ok() ? *dbs : std::vector<EtcdKv>{}) {
      std::string c, d;
      if (!keys_.ParsePos(kv.key, &c, &d)) continue;
      Status one = CompactOne(c, d, now_ms);
      if (!one.ok()) Warn("compaction of " + c + "/" + d + ": " + one.message());
    }
    if (st.ok()) st = SweepOrphans(now_ms);
  }
  Status rv = etcd_->RevokeLease(lease);  // frees the lock
  return st.ok() ? rv : st;
}

Status DistStore::CompactOne(const std::string& cluster, const std::string& name,
                             int64_t now_ms) {
  const std::string pre = keys_.TxPrefix(cluster, name);
  LTX_ASSIGN_OR_RETURN(auto txs, etcd_->Range(pre, PrefixEnd(pre)));
  if (txs.size() <= opts_.local.retain_txids) return Status::OK();
  LTX_ASSIGN_OR_RETURN(auto old_base, etcd_->Range(keys_.Base(cluster, name)));
  LTX_ASSIGN_OR_RETURN(auto db, Get(cluster, name, false));
  if (!db) return Status::OK();
  LTX_RETURN_IF_ERROR(CatchUp(cluster, name, db, Pos{}));
  LTX_ASSIGN_OR_RETURN(std::string tmp, NewTempPath("snap"));
  auto stream = db->OpenSnapshot(db);
  auto pos = stream.ok() ? WriteSnapshotFile(stream->get(), tmp) : Result<Pos>(stream.status());
  LTX_ASSIGN_OR_RETURN(std::string rnd, RandomHex(8));
  const std::string object =
      s3_->Key(DistKeys::SnapObject(cluster, name, pos.ok() ? pos->txid : 0, rnd));
  Status st = pos.ok() ? s3_->PutFile(object, tmp) : pos.status();
  unlink(tmp.c_str());
  LTX_RETURN_IF_ERROR(st);
  const std::string base_key = keys_.Base(cluster, name);
  const int64_t base_rev = old_base.empty() ? 0 : old_base[0].mod_revision;
  // Commits that retention lets go: at or before the new base, older than the window, and
  // never the newest retain_txids.
  uint64_t cut = 0;
  std::vector<std::string> dead;
  for (size_t i = 0; i + opts_.local.retain_txids < txs.size(); i++) {
    std::string c, d;
    uint64_t txid = 0;
    auto tv = DecodeTxValue(txs[i].value);
    if (!keys_.ParseTx(txs[i].key, &c, &d, &txid) || !tv.ok() || txid > pos->txid ||
        tv->ms >= now_ms - opts_.local.retention_ms)
      break;
    cut = txid;
    dead.push_back(tv->key);
  }
  std::vector<EtcdOp> ops = {{EtcdOp::Kind::kPut, base_key, EncodePosValue({*pos, object}), "", 0}};
  if (cut > 0) ops.push_back({EtcdOp::Kind::kDelete, keys_.Tx(cluster, name, 0), "",
                              keys_.Tx(cluster, name, cut + 1), 0});
  LTX_ASSIGN_OR_RETURN(auto txn, etcd_->Txn({{base_key, EtcdCompare::Target::kMod, base_rev, ""}}, ops,
                                             {{EtcdOp::Kind::kRange, base_key, "", "", 0}}));
  // Refused: someone else's base won, unless the base found is this one (an earlier attempt
  // applied and its answer was lost; deleting the object then would strand the base).
  const bool ours = !txn.succeeded && txn.kvs.size() == 1 && HoldsPosValue(txn.kvs[0], {*pos, object});
  if (!txn.succeeded && !ours) return s3_->Delete(object);
  if (ours) Warn("compaction of " + cluster + "/" + name + ": an earlier attempt had applied (its answer was lost)");
  if (!old_base.empty()) {
    auto ob = DecodePosValue(old_base[0].value);
    if (ob.ok()) dead.push_back(ob->key);
  }
  for (const auto& key : dead) {
    if (Status ds = s3_->Delete(key); !ds.ok()) Warn("compaction: " + ds.message());
  }
  return Status::OK();
}

Status DistStore::SweepOrphans(int64_t now_ms) {
  // LIST first, etcd after: an object listed whose commit lands in between is named by then.
  LTX_ASSIGN_OR_RETURN(std::vector<S3Object> objects, s3_->List(s3_->Key("db/")));
  std::set<std::string> named;
  for (const char* dir : {"pos/", "base/", "tx/"}) {
    const std::string pre = keys_.root() + dir;
    LTX_ASSIGN_OR_RETURN(auto kvs, etcd_->Range(pre, PrefixEnd(pre)));
    for (const auto& kv : kvs) {
      // A value this sweep cannot read might name an object: nothing is deleted then.
      auto object = ObjectOf(dir, kv.value);
      if (!object.ok()) return object.status().WithContext("orphan sweep: etcd key " + kv.key);
      named.insert(*object);
    }
  }
  const int64_t cutoff = now_ms - std::max(opts_.local.retention_ms, kOrphanMinAgeMs);
  for (const auto& o : objects) {
    if (named.count(o.key) || o.last_modified_ms >= cutoff) continue;
    if (Status ds = s3_->Delete(o.key); !ds.ok()) return ds.WithContext("orphan sweep");
    orphans_deleted_++;
  }
  return Status::OK();
}

}  // namespace mockcloud::dist
