// DistStore::Commit: the write path of the distributed store (dist_store.h explains it).
#include <fcntl.h>
#include <unistd.h>

#include "dist_store.h"

namespace mockcloud::dist {
namespace {

Status PosMismatchError(const std::string& why) {
  return Status(ltx::Code::kConflict, why, kApiPosMismatch);
}

// The upload's header and trailer (the LTX is verified by Apply before these are used).
Status ReadEnds(const UploadBody& body, ltx::Header* h, ltx::Trailer* t) {
  std::string head(ltx::kHeaderSize, '\0'), tail(ltx::kTrailerSize, '\0');
  if (body.path.empty()) {
    if (body.mem.size() < head.size() + tail.size()) return Status::InvalidArgument("bad LTX: too short");
    head.assign(body.mem.substr(0, head.size()));
    tail.assign(body.mem.substr(body.mem.size() - tail.size()));
  } else {
    int fd = open(body.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return Status::IOError(ErrnoText("open", body.path));
    off_t size = lseek(fd, 0, SEEK_END);
    Status st = size < off_t(head.size() + tail.size())
                    ? Status::InvalidArgument("bad LTX: too short")
                    : PreadAll(fd, head.data(), head.size(), 0);
    if (st.ok()) st = PreadAll(fd, tail.data(), tail.size(), uint64_t(size) - tail.size());
    close(fd);
    LTX_RETURN_IF_ERROR(st);
  }
  auto hr = ltx::Header::Decode({reinterpret_cast<const uint8_t*>(head.data()), head.size()});
  auto tr = ltx::Trailer::Decode({reinterpret_cast<const uint8_t*>(tail.data()), tail.size()});
  if (!hr.ok() || !tr.ok()) return Status::InvalidArgument("bad LTX header or trailer");
  *h = *hr;
  *t = *tr;
  return Status::OK();
}

}  // namespace

Result<ApplyResult> DistStore::Commit(const std::string& cluster, const std::string& name,
                                      const std::shared_ptr<Database>& db,
                                      const UploadBody& body, const LeaseClaim& claim) {
  auto r = Find(cluster, name);
  if (!r || r->db != db) return Status::IOError("commit to a database this store did not hand out");
  const std::string pos_key = keys_.Pos(cluster, name);
  const std::string lease_key = keys_.Lease(cluster + "/" + name);
  LTX_ASSIGN_OR_RETURN(EtcdTxnResult seen,
                       etcd_->Txn({}, {{EtcdOp::Kind::kRange, pos_key, "", "", 0},
                                       {EtcdOp::Kind::kRange, lease_key, "", "", 0}}));
  const LeaseState lease = LeaseStateOf(seen.kvs[1], NowUnixMs());
  LTX_RETURN_IF_ERROR(CheckLeaseClaim(claim, lease.live_id));
  const EtcdKv* pos_kv = seen.kvs[0].empty() ? nullptr : &seen.kvs[0][0];
  Pos want;
  if (pos_kv) {
    LTX_ASSIGN_OR_RETURN(PosValue pv, DecodePosValue(pos_kv->value));
    want = pv.pos;
  }
  if (db->pos() != want) {
    std::lock_guard l(r->catchup_mu);
    LTX_RETURN_IF_ERROR(CatchUpReplica(cluster, name, r.get()));
  }
  LTX_ASSIGN_OR_RETURN(auto src, body.Open());
  std::string object;  // set once uploaded
  auto res = db->Apply(std::move(src), [&] {
    return Publish(cluster, name, body, pos_kv, lease.mod_revision, claim, &object);
  });
  if (res.ok()) Measure(cluster, name, r.get());
  r.reset();
  EnforceBound();
  return res;
}

// The lease key's mod_revision is the fencing token the commit txn compares. A refresh by the
// same holder also rewrites that key, so a txn that lost only to a refresh of the claimant's own,
// still-live lease is tried again with the new revision (bounded); any other change fences out.
Status DistStore::Publish(const std::string& cluster, const std::string& name,
                          const UploadBody& body, const EtcdKv* pos_kv, int64_t lease_rev,
                          const LeaseClaim& claim, std::string* object) {
  constexpr int kRefreshRetries = 8;  // refreshes come every lease/3: more in one commit is a bug
  ltx::Header h;
  ltx::Trailer t;
  LTX_RETURN_IF_ERROR(ReadEnds(body, &h, &t));
  LTX_ASSIGN_OR_RETURN(std::string rnd, RandomHex(8));
  *object = s3_->Key(DistKeys::LtxObject(cluster, name, h.max_txid, rnd));
  LTX_RETURN_IF_ERROR(body.path.empty() ? s3_->Put(*object, body.mem)
                                        : s3_->PutFile(*object, body.path));
  const Pos post{h.max_txid, t.post_apply_checksum};
  const std::string pos_key = keys_.Pos(cluster, name);
  const std::string lease_key = keys_.Lease(cluster + "/" + name);
  const int64_t pos_rev = pos_kv ? pos_kv->mod_revision : 0;
  TxValue tv{*object, h.IsSnapshot() ? 0 : h.pre_apply_checksum, post.post_apply_checksum,
             NowUnixMs()};
  Status lost;
  for (int attempt = 0; attempt <= kRefreshRetries; ++attempt) {
    auto txn = etcd_->Txn(
        {{pos_key, EtcdCompare::Target::kMod, pos_rev, ""},
         {lease_key, EtcdCompare::Target::kMod, lease_rev, ""}},
        {{EtcdOp::Kind::kPut, pos_key, EncodePosValue({post, *object}), "", 0},
         {EtcdOp::Kind::kPut, keys_.Tx(cluster, name, h.max_txid), EncodeTxValue(tv), "", 0}},
        {{EtcdOp::Kind::kRange, lease_key, "", "", 0}, {EtcdOp::Kind::kRange, pos_key, "", "", 0}});
    // Not committed (or not known to be): the object is garbage unless the txn did happen.
    if (!txn.ok()) return txn.status().WithContext("etcd commit of " + cluster + "/" + name);
    if (txn->succeeded) return Status::OK();
    // The failure branch read the lease, then the position: ours if an earlier attempt applied.
    if (txn->kvs.size() == 2 && HoldsPosValue(txn->kvs[1], {post, *object})) {
      Warn("etcd commit of " + cluster + "/" + name + " at txid " + std::to_string(post.txid) +
           ": an earlier attempt had applied (its answer was lost)");
      return Status::OK();
    }
    const bool pos_moved = txn->kvs.size() < 2 || txn->kvs[1].empty()
                               ? pos_rev != 0
                               : txn->kvs[1][0].mod_revision != pos_rev;
    const LeaseState now = txn->kvs.empty() ? LeaseState{} : LeaseStateOf(txn->kvs[0], NowUnixMs());
    if (pos_moved) {
      lost = PosMismatchError("another writer moved the position of " + cluster + "/" + name + " first");
      break;
    }
    if (!CheckLeaseClaim(claim, now.live_id).ok() || now.mod_revision == lease_rev) {
      lost = LeaseRefused("the lease changed while this commit was in flight (fenced out)");
      break;
    }
    lease_rev = now.mod_revision;  // the claimant's own lease was refreshed: same fence, new revision
    lost = LeaseRefused("the lease was refreshed more than " + std::to_string(kRefreshRetries) +
                        " times during one commit");
  }
  if (Status st = s3_->Delete(*object); !st.ok())
    Warn("could not delete the losing upload " + *object + ": " + st.message());
  return lost;
}

}  // namespace mockcloud::dist
