#include "commit_stream.h"

#include <algorithm>
#include <cstring>

#include "api_error.h"
#include "ltx/checksum.h"
#include "ltx/coding.h"
#include "ltx/io.h"
#include "sqlite_format.h"

namespace litevfs {
namespace {

uint64_t Checksum(uint32_t pgno, std::span<const uint8_t> page) {
  return ltx::PageChecksum(pgno, page);
}

// The old pages a plan needs: overwritten ones (≤ both sizes) and dropped ones.
std::vector<uint32_t> OldPagesNeeded(const CommitShape& s, const DirtyPages& dirty) {
  const uint32_t lock = ltx::LockPgno(s.page_size);
  const uint32_t keep = std::min(s.old_commit, s.new_commit);
  std::vector<uint32_t> need;
  for (uint32_t p = dirty.Next(0); p != 0 && p <= keep; p = dirty.Next(p)) {
    if (p != lock) need.push_back(p);
  }
  for (uint32_t p = s.new_commit + 1; p <= s.old_commit; ++p) {
    if (p != lock) need.push_back(p);
  }
  return need;
}

// Folds one old page (and its dirty version, if kept) into the plan.
ltx::Status FoldOld(uint32_t pg, const std::string& old, DirtyPages* dirty, CommitPlan* plan,
                    ltx::DatabaseChecksum* chk, std::vector<uint8_t>* buf) {
  const auto o = std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(old.data()), old.size());
  if (old.size() != plan->shape.page_size) {
    return ltx::Status::Corruption("litevfs: old version of page " + std::to_string(pg) +
                                   " has " + std::to_string(old.size()) + " bytes");
  }
  if (pg > plan->shape.new_commit) {
    chk->Toggle(Checksum(pg, o));
    plan->dropped.push_back(pg);
    return ltx::Status::OK();
  }
  LTX_ASSIGN_OR_RETURN(bool found, dirty->Read(pg, 0, *buf));
  if (!found) return ltx::Status::Corruption("litevfs: dirty page " + std::to_string(pg) + " vanished");
  if (pg == 1 && sqlite_format::IsWalHeader(o) && sqlite_format::IsRollbackHeader(*buf)) {
    sqlite_format::SetJournalVersions(*buf, sqlite_format::kVersionWal);
    LTX_RETURN_IF_ERROR(dirty->Patch(1, 0, *buf));
  }
  if (std::equal(buf->begin(), buf->end(), o.begin())) {
    plan->unchanged.push_back(pg);  // e.g. restored by a rollback's playback
    return ltx::Status::OK();
  }
  chk->Replace(Checksum(pg, o), Checksum(pg, *buf));
  plan->page_count++;
  return ltx::Status::OK();
}

}  // namespace

ltx::Result<CommitPlan> PlanCommit(const CommitShape& shape, DirtyPages* dirty,
                                   const OldPagesFn& old_pages) {
  CommitPlan plan;
  plan.shape = shape;
  const uint32_t ps = shape.page_size;
  ltx::DatabaseChecksum chk = shape.snapshot ? ltx::DatabaseChecksum()
                                             : ltx::DatabaseChecksum(shape.pre_checksum);
  std::vector<uint8_t> buf(ps);
  const std::vector<uint32_t> need = OldPagesNeeded(shape, *dirty);
  const size_t per_batch = std::max<size_t>(1, kOldPageBatchBytes / ps);
  for (size_t at = 0; at < need.size(); at += per_batch) {
    std::vector<uint32_t> batch(need.begin() + at, need.begin() + std::min(need.size(), at + per_batch));
    PageMap old;
    LTX_RETURN_IF_ERROR(old_pages(batch, &old));
    for (uint32_t pg : batch) {
      auto it = old.find(pg);
      if (it == old.end()) {
        return ltx::Status::Corruption("litevfs: old version of page " + std::to_string(pg) + " missing");
      }
      LTX_RETURN_IF_ERROR(FoldOld(pg, it->second, dirty, &plan, &chk, &buf));
    }
  }
  // Growth: pages past the old size, written or zero.
  const uint32_t lock = ltx::LockPgno(ps);
  const std::vector<uint8_t> zero(ps, 0);
  for (uint32_t pg = shape.old_commit + 1; pg <= shape.new_commit; ++pg) {
    if (pg == lock) continue;
    LTX_ASSIGN_OR_RETURN(bool found, dirty->Read(pg, 0, buf));
    chk.Toggle(Checksum(pg, found ? std::span<const uint8_t>(buf) : std::span<const uint8_t>(zero)));
    plan.page_count++;
  }
  plan.post_checksum = chk.value();
  return plan;
}

uint32_t CarriedPages::Next(uint32_t pgno) const {
  const CommitShape& s = plan_->shape;
  const uint32_t lock = ltx::LockPgno(s.page_size);
  uint32_t q = pgno + 1;
  while (q != 0 && q <= s.new_commit) {
    if (q == lock) {
      q++;
    } else if (q > s.old_commit) {
      return q;  // growth: every page, written or zero
    } else {
      const uint32_t d = dirty_->Next(q - 1);
      if (d == 0 || d > s.old_commit) {
        q = s.old_commit + 1;
      } else if (d == lock || std::binary_search(plan_->unchanged.begin(), plan_->unchanged.end(), d)) {
        q = d + 1;
      } else {
        return d;
      }
    }
  }
  return 0;
}

ltx::Status CarriedPages::Load(uint32_t pgno, std::span<uint8_t> out) const {
  LTX_ASSIGN_OR_RETURN(bool found, dirty_->Read(pgno, 0, out));
  if (!found) std::fill(out.begin(), out.end(), uint8_t{0});
  return ltx::Status::OK();
}

ltx::Header CommitHeader(const CommitPlan& plan, uint64_t txid, int64_t timestamp_ms) {
  ltx::Header h;
  h.page_size = plan.shape.page_size;
  h.commit = plan.shape.new_commit;
  h.min_txid = h.max_txid = txid;
  h.timestamp = timestamp_ms;
  h.pre_apply_checksum = plan.shape.snapshot ? 0 : plan.shape.pre_checksum;
  return h;
}

uint64_t LtxSize(uint32_t page_size, uint64_t pages) {
  const uint64_t frame = ltx::kV1PageHeaderSize + uint64_t(page_size);
  // header, one frame per page, the zero page header that ends the block, the trailer
  return ltx::kHeaderSize + pages * frame + ltx::kV1PageHeaderSize + ltx::kTrailerSize;
}

uint64_t CommitLtxSize(const CommitPlan& plan) { return LtxSize(plan.shape.page_size, plan.page_count); }

ltx::Status CheckTxBodyLimit(uint64_t max_body, uint32_t page_size, uint64_t pages,
                             const std::string& db) {
  if (max_body == 0) return ltx::Status::OK();
  const uint64_t size = LtxSize(page_size, pages);
  if (size <= max_body) return ltx::Status::OK();
  return ltx::Status(ltx::Code::kResourceExhausted,
                     "litevfs: the transaction on " + db + " is too large for the service: " +
                         std::to_string(pages) + " pages make an LTX of " + std::to_string(size) +
                         " bytes, over its body limit of " + std::to_string(max_body) +
                         " bytes; split it into smaller transactions (or raise the server's limit, "
                         "litevfs-mockcloud --max-body)",
                     std::string(kTooLargeCode));
}

LtxBodyStream::LtxBodyStream(const DirtyPages* dirty, const CommitPlan* plan,
                             const ltx::Header& header)
    : plan_(plan), header_(header), size_(CommitLtxSize(*plan)),
      pages_(dirty, plan), page_(plan->shape.page_size) {}

ltx::Status EncodedBody::OpenEncoder(const ltx::Header& header, const ltx::EncodeOptions& options) {
  buf_.clear();
  buf_start_ = 0;
  finished_ = false;
  enc_.reset();
  sink_ = std::make_unique<ltx::StringSink>(&buf_);
  auto enc = ltx::Encoder::Open(sink_.get(), header, options);
  if (!enc.ok()) return enc.status();
  enc_ = std::move(enc).value();
  return ltx::Status::OK();
}

ltx::Status LtxBodyStream::Restart() {
  last_ = 0;
  return OpenEncoder(header_, ltx::EncodeOptions{}).WithContext("litevfs: encoding the commit");
}

ltx::Status LtxBodyStream::Produce() {
  const uint32_t next = pages_.Next(last_);
  if (next == 0) {
    LTX_RETURN_IF_ERROR(enc_->Finish(plan_->post_checksum).WithContext("litevfs: encoding the commit"));
    finished_ = true;
    if (buf_start_ + buf_.size() != size_) {
      return ltx::Status::Corruption("litevfs: the commit's LTX is " +
                                     std::to_string(buf_start_ + buf_.size()) + " bytes, planned " +
                                     std::to_string(size_));
    }
    return ltx::Status::OK();
  }
  LTX_RETURN_IF_ERROR(pages_.Load(next, page_));
  LTX_RETURN_IF_ERROR(enc_->AddPage(next, page_).WithContext("litevfs: encoding the commit"));
  last_ = next;
  return ltx::Status::OK();
}

ltx::Result<size_t> EncodedBody::ReadAt(uint64_t off, uint8_t* buf, size_t n) {
  if (!enc_ || off < buf_start_) LTX_RETURN_IF_ERROR(Restart());
  while (off >= buf_start_ + buf_.size()) {
    if (finished_) return size_t{0};
    buf_start_ += buf_.size();
    buf_.clear();
    LTX_RETURN_IF_ERROR(Produce());
  }
  const size_t at = size_t(off - buf_start_);
  const size_t k = std::min(n, buf_.size() - at);
  std::memcpy(buf, buf_.data() + at, k);
  return k;
}

}  // namespace litevfs
