#include "dist_leases.h"

namespace mockcloud::dist {

LeaseState LeaseStateOf(const std::vector<EtcdKv>& kvs, int64_t now_ms) {
  LeaseState s;
  if (kvs.empty()) return s;
  s.mod_revision = kvs[0].mod_revision;
  auto v = DecodeLeaseValue(kvs[0].value);
  if (v.ok() && v->expires_ms > now_ms) {
    s.live_id = v->id;
    s.live_holder = v->holder;
    s.expires_ms = v->expires_ms;
  }
  return s;
}

Result<LeaseState> DistLeases::Read(const std::string& key) {
  LTX_ASSIGN_OR_RETURN(auto kvs, etcd_->Range(keys_->Lease(key)));
  return LeaseStateOf(kvs, NowUnixMs());
}

Result<LeaseGrant> DistLeases::Acquire(const std::string& key, int64_t duration_ms,
                                       const std::string* refresh_id, const std::string& holder) {
  LTX_ASSIGN_OR_RETURN(LeaseState s, Read(key));
  LeaseValue v;
  v.holder = refresh_id ? s.live_holder : holder;
  const bool mine = !holder.empty() && !s.live_id.empty() && ConstantTimeEquals(s.live_holder, holder);
  if (refresh_id || mine) {  // issue 17: the holder's repeated acquire extends its lease
    if (mine && !refresh_id) refresh_id = &s.live_id;
    if (s.live_id.empty() || !ConstantTimeEquals(s.live_id, *refresh_id))
      return LeaseRefused("lease id is not the current lease (expired, released or never held)");
    v.id = s.live_id;
  } else {
    if (!s.live_id.empty()) return LeaseRefused("lease is held by another client");
    LTX_ASSIGN_OR_RETURN(v.id, RandomHex(16));
  }
  v.expires_ms = NowUnixMs() + duration_ms;
  const std::string k = keys_->Lease(key);
  const std::string value = EncodeLeaseValue(v);
  LTX_ASSIGN_OR_RETURN(EtcdTxnResult r, etcd_->Txn({{k, EtcdCompare::Target::kMod, s.mod_revision, ""}},
                                                   {{EtcdOp::Kind::kPut, k, value, "", 0}},
                                                   {{EtcdOp::Kind::kRange, k, "", "", 0}}));
  // Refused, unless the key holds this very value (id, holder and expiry to the ms): an
  // earlier attempt applied and its answer was lost (EtcdClient tried the next member).
  const bool ours = !r.succeeded && r.kvs.size() == 1 && !r.kvs[0].empty() && r.kvs[0][0].value == value;
  if (!r.succeeded && !ours) return LeaseRefused("lease is held by another client (taken just now)");
  return LeaseGrant{v.id, v.expires_ms};
}

Status DistLeases::Release(const std::string& key, const std::string& id) {
  LTX_ASSIGN_OR_RETURN(LeaseState s, Read(key));
  if (s.live_id.empty() || !ConstantTimeEquals(s.live_id, id))
    return LeaseRefused("lease id is not the current lease");
  const std::string k = keys_->Lease(key);
  LTX_ASSIGN_OR_RETURN(EtcdTxnResult r,
                       etcd_->Txn({{k, EtcdCompare::Target::kMod, s.mod_revision, ""}},
                                  {{EtcdOp::Kind::kDelete, k, "", "", 0}}, {{EtcdOp::Kind::kRange, k, "", "", 0}}));
  // Refused with no lease key left: released all the same (an earlier attempt whose answer
  // was lost): the outcome asked for.
  const bool gone = !r.succeeded && r.kvs.size() == 1 && r.kvs[0].empty();
  if (!r.succeeded && !gone) return LeaseRefused("lease id is not the current lease (changed just now)");
  return Status::OK();
}

Result<int64_t> DistLeases::LeftMs(const std::string& key) {
  LTX_ASSIGN_OR_RETURN(LeaseState s, Read(key));
  if (s.live_id.empty()) return int64_t(-1);
  return std::max<int64_t>(0, s.expires_ms - NowUnixMs());
}

Status DistLeases::Forget(const std::string& key) {
  LTX_ASSIGN_OR_RETURN(EtcdTxnResult r,
                       etcd_->Txn({}, {{EtcdOp::Kind::kDelete, keys_->Lease(key), "", "", 0}}));
  (void)r;  // unconditional: succeeded is always true
  return Status::OK();
}

Status DistLeases::Check(const std::string& key, const LeaseClaim& claim) {
  LTX_ASSIGN_OR_RETURN(LeaseState s, Read(key));
  return CheckLeaseClaim(claim, s.live_id);
}

}  // namespace mockcloud::dist
