#include "store_snapshot.h"

#include <algorithm>
#include <cstring>
#include <mutex>

namespace mockcloud {
namespace {

constexpr uint32_t kBatchBytes = 1 << 20;  // pages encoded per Fill, in bytes

}  // namespace

Result<std::unique_ptr<Database::SnapshotStream>> Database::OpenSnapshot(
    std::shared_ptr<const Database> self) const {
  Pos cur;
  uint32_t commit;
  int64_t ts;
  {
    std::unique_lock l(mu_);
    cur = CurrentLocked();
    if (cur.IsZero()) return Status::NotFound("no such database");
    commit = CommitLocked();
    ts = files_.empty() ? base_.timestamp_ms : files_.back().timestamp_ms;
    pins_.insert(cur.txid);
  }
  auto s = std::make_unique<SnapshotStream>(std::move(self), cur, commit, ts);
  LTX_RETURN_IF_ERROR(s->Start());
  return s;
}

Database::SnapshotStream::SnapshotStream(std::shared_ptr<const Database> db, Pos pos,
                                         uint32_t commit, int64_t timestamp_ms)
    : db_(std::move(db)), pos_(pos), commit_(commit), timestamp_ms_(timestamp_ms) {}

Database::SnapshotStream::~SnapshotStream() {
  std::unique_lock l(db_->mu_);
  db_->pins_.erase(db_->pins_.find(pos_.txid));
}

Status Database::SnapshotStream::Start() {
  const uint32_t ps = db_->page_size();
  const uint64_t pages = commit_ - (ltx::LockPgno(ps) <= commit_ ? 1 : 0);
  size_ = ltx::kHeaderSize + pages * (ltx::kV1PageHeaderSize + ps) + ltx::kV1PageHeaderSize +
          ltx::kTrailerSize;
  ltx::Header h;
  h.page_size = ps;
  h.commit = commit_;
  h.min_txid = 1;
  h.max_txid = pos_.txid;
  h.timestamp = timestamp_ms_;
  h.pre_apply_checksum = 0;
  LTX_ASSIGN_OR_RETURN(enc_, ltx::Encoder::Open(&sink_, h));
  // The first batch now: a damaged or lost page there is an error status, not a cut stream.
  return Fill();
}

Status Database::SnapshotStream::Fill() {
  sink_.buf.erase(0, buf_pos_);
  buf_pos_ = 0;
  if (next_pgno_ > commit_) {
    LTX_RETURN_IF_ERROR(enc_->Finish(pos_.post_apply_checksum));
    done_ = true;
    return Status::OK();
  }
  std::shared_lock l(db_->mu_);
  View v;
  if (!db_->ResolveLocked(pos_, &v)) {
    return Status::Corruption("snapshot position " + ltx::FormatPos(pos_) +
                              " was folded away while pinned");
  }
  const uint32_t ps = db_->page_size_;
  const uint32_t lock = ltx::LockPgno(ps);
  std::vector<uint8_t> page(ps);
  for (uint32_t k = 0; k < std::max<uint32_t>(1, kBatchBytes / ps) && next_pgno_ <= commit_;
       k++, next_pgno_++) {
    if (next_pgno_ == lock) continue;
    LTX_RETURN_IF_ERROR(db_->ReadPageLocked(v, uint32_t(next_pgno_), page.data(), &fds_));
    LTX_RETURN_IF_ERROR(enc_->AddPage(uint32_t(next_pgno_), page));
  }
  return Status::OK();
}

Result<size_t> Database::SnapshotStream::Read(char* buf, size_t n) {
  while (buf_pos_ == sink_.buf.size()) {
    if (done_) {
      if (offset_ != size_) {
        return Status::Corruption("snapshot stream ended at " + std::to_string(offset_) +
                                  " bytes, announced " + std::to_string(size_));
      }
      return size_t{0};
    }
    LTX_RETURN_IF_ERROR(Fill());
  }
  const size_t k = std::min(n, sink_.buf.size() - buf_pos_);
  memcpy(buf, sink_.buf.data() + buf_pos_, k);
  buf_pos_ += k;
  offset_ += k;
  return k;
}

}  // namespace mockcloud
