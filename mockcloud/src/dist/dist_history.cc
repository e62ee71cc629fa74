// DistStore::Restore and Branch (issue 18 routes in the distributed store): each is one
// ordinary commit through Commit (upload, then the fenced etcd txn), its LTX built from this
// instance's replica, which holds the same retained history as the local store would. And
// Delete: one fenced etcd txn; the objects are left to the orphan sweep.
#include <unistd.h>

#include "../store_snapshot.h"
#include "dist_store.h"
#include "ltx/checksum.h"
#include "ltx/coding.h"
#include "ltx/encoder.h"

namespace mockcloud::dist {
namespace {

constexpr size_t kChangeCounterOffset = 24;  // SQLite's file change counter, in page 1

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// The restore transaction: the target's pages that may differ from the current state, with
// page 1's change counter moved past the current one (SQLite page caches see a change).
Status EncodeRestore(const Pos& cur, const Pos& at, const std::string& cur_page1,
                     const PageSet& target, const std::string& path) {
  ltx::Header h;
  h.page_size = target.page_size;
  h.commit = target.commit;
  h.min_txid = h.max_txid = cur.txid + 1;
  h.timestamp = NowUnixMs();
  h.pre_apply_checksum = cur.post_apply_checksum;
  LTX_ASSIGN_OR_RETURN(auto sink, ltx::FileSink::Create(path));
  LTX_ASSIGN_OR_RETURN(auto enc, ltx::Encoder::Open(sink.get(), h));
  ltx::DatabaseChecksum post(at.post_apply_checksum);
  const uint32_t counter = ltx::DecodeU32(Bytes(cur_page1).data() + kChangeCounterOffset) + 1;
  for (auto [pgno, page] : target.pages) {
    if (pgno == 1) {
      post.Toggle(ltx::PageChecksum(1, Bytes(page)));
      ltx::EncodeU32(reinterpret_cast<uint8_t*>(page.data()) + kChangeCounterOffset, counter);
      post.Toggle(ltx::PageChecksum(1, Bytes(page)));
    }
    LTX_RETURN_IF_ERROR(enc->AddPage(pgno, Bytes(page)));
  }
  LTX_RETURN_IF_ERROR(enc->Finish(post.value()));
  return sink->Close();
}

}  // namespace

Result<ApplyResult> DistStore::Restore(const std::string& cluster, const std::string& name,
                                       const std::shared_ptr<Database>& db, const Pos& at,
                                       const LeaseClaim& claim) {
  LTX_RETURN_IF_ERROR(CatchUp(cluster, name, db, at));
  const Pos cur = db->pos();
  if (cur.IsZero()) return Status::NotFound("no such database: " + name);
  LTX_ASSIGN_OR_RETURN(DiffInfo d, db->Diff(cur, at));
  std::vector<uint32_t> pgnos = {1};
  for (uint32_t p : d.pgnos)
    if (p != 1 && p <= d.to_commit) pgnos.push_back(p);
  LTX_ASSIGN_OR_RETURN(PageSet target, db->ReadPages(at, pgnos));
  LTX_ASSIGN_OR_RETURN(PageSet now, db->ReadPages(cur, {1}));
  if (now.pages.empty() || target.pages.empty() || target.pages[0].first != 1)
    return Status::Corruption(cluster + "/" + name + ": page 1 missing from a read");
  LTX_ASSIGN_OR_RETURN(std::string tmp, NewTempPath("restore"));
  Status st = EncodeRestore(cur, at, now.pages[0].second, target, tmp);
  auto r = st.ok() ? Commit(cluster, name, db, UploadBody{{}, tmp}, claim) : Result<ApplyResult>(st);
  unlink(tmp.c_str());
  return r;
}

Result<ApplyResult> DistStore::Branch(const std::string& cluster, const std::string& name,
                                      const Pos& at, const std::string& to) {
  LTX_RETURN_IF_ERROR(ValidateName(to, "to"));
  LTX_ASSIGN_OR_RETURN(auto src, Get(cluster, name, false));
  if (!src || !src->exists()) return Status::NotFound("no such database: " + name);
  LTX_RETURN_IF_ERROR(CatchUp(cluster, name, src, at));
  const Status exists(ltx::Code::kConflict, "database " + to + " already exists", kApiExists);
  LTX_ASSIGN_OR_RETURN(auto dst, Get(cluster, to, true));
  if (dst->exists()) return exists;
  LTX_ASSIGN_OR_RETURN(auto stream, src->OpenSnapshotAt(src, at));
  LTX_ASSIGN_OR_RETURN(std::string tmp, NewTempPath("branch"));
  auto written = WriteSnapshotFile(stream.get(), tmp);
  stream.reset();  // unpins
  auto r = written.ok() ? Commit(cluster, to, dst, UploadBody{{}, tmp}, LeaseClaim{})
                        : Result<ApplyResult>(written.status());
  unlink(tmp.c_str());
  // Another instance created `to` first: its position key won the txn.
  if (!r.ok() && r.status().api_code() == kApiPosMismatch) return exists;
  return r;
}

Status DistStore::Delete(const std::string& cluster, const std::string& name) {
  const std::string pos_key = keys_.Pos(cluster, name), pre = keys_.TxPrefix(cluster, name);
  LTX_ASSIGN_OR_RETURN(auto kvs, etcd_->Range(pos_key));
  if (kvs.empty()) return Status::NotFound("no such database: " + name);
  LTX_ASSIGN_OR_RETURN(
      EtcdTxnResult txn,
      etcd_->Txn({{pos_key, EtcdCompare::Target::kMod, kvs[0].mod_revision, ""}},
                 {{EtcdOp::Kind::kDelete, pos_key, "", "", 0},
                  {EtcdOp::Kind::kDelete, keys_.Base(cluster, name), "", "", 0},
                  {EtcdOp::Kind::kDelete, pre, "", PrefixEnd(pre), 0}},
                 {{EtcdOp::Kind::kRange, pos_key, "", "", 0}}));
  // Refused with no position left: deleted all the same (an earlier attempt whose answer was
  // lost, or another instance's delete): the outcome asked for.
  const bool gone = !txn.succeeded && txn.kvs.size() == 1 && txn.kvs[0].empty();
  if (!txn.succeeded && !gone)
    return Status(ltx::Code::kConflict, name + " moved while it was being deleted; retry",
                  kApiPosMismatch);
  std::lock_guard l(mu_);
  DropReplicaLocked(cluster, name);
  return Status::OK();
}

void DistStore::OnDeleted(const std::set<std::pair<std::string, std::string>>& dbs) {
  for (const auto& [c, d] : dbs) {
    if (!Find(c, d)) continue;
    auto kvs = etcd_->Range(keys_.Pos(c, d));
    if (!kvs.ok()) {
      Warn("replica " + c + "/" + d + ": after deleted tx keys: " + kvs.status().message());
      continue;
    }
    if (!kvs->empty()) continue;  // compaction, not a delete
    std::lock_guard l(mu_);
    DropReplicaLocked(c, d);
  }
}

}  // namespace mockcloud::dist
