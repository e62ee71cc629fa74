// The store's read path: where a page of a retained position is stored (the newest version
// at or before it in the index, else base.db, else zeros) and batches of pages read from
// there, one preadv per run of pages stored back to back, every page checked against its
// checksum, into whatever memory the caller gives (PageSink).
#include <algorithm>
#include <cstring>
#include <unordered_set>

#include "fd_cache.h"
#include "page_runs.h"
#include "page_sums.h"
#include "store.h"
#include "util.h"

namespace mockcloud {
namespace {

// PageSet's sink: one string per page (the JSON route, and callers that keep pages).
class PageSetSink : public PageSink {
 public:
  explicit PageSetSink(PageSet* out) : out_(out) {}
  Status Begin(const PageSetHead& head, size_t max_pages) override {
    static_cast<PageSetHead&>(*out_) = head;
    out_->pages.reserve(max_pages);
    return Status::OK();
  }
  uint8_t* Slot(uint32_t pgno, uint64_t) override {
    out_->pages.emplace_back(pgno, std::string(out_->page_size, '\0'));
    return reinterpret_cast<uint8_t*>(out_->pages.back().second.data());
  }

 private:
  PageSet* out_;
};

}  // namespace

Status Database::LocateLocked(const View& v, uint32_t pgno, FdCache* fds, int* fd,
                              const std::string** file, uint64_t* off, uint64_t* sum) const {
  const uint32_t ps = page_size_;
  *fd = -1;
  if (pgno == 0 || pgno > v.commit || pgno == ltx::LockPgno(ps)) return Status::OK();
  const Version* found = nullptr;
  if (auto it = index_.find(pgno); it != index_.end()) {
    const auto& vers = it->second;
    auto ub = std::upper_bound(vers.begin(), vers.end(), v.txid,
                               [](uint64_t t, const Version& x) { return t < x.txid; });
    if (ub != vers.begin()) found = &*(ub - 1);
  }
  const uint64_t source_txid = found ? found->txid : base_.pos.txid;
  for (const auto& [txid, commit] : v.shrinks) {
    if (txid > source_txid && txid <= v.txid && commit < pgno) return Status::OK();  // dropped
  }
  if (found) {
    const TxFile* f = FileByTxidLocked(found->txid);
    if (!f) {
      return Status::Corruption("index names txid " + ltx::FormatTxid(found->txid) +
                                " which has no file");
    }
    LTX_ASSIGN_OR_RETURN(*fd, fds->Get(f->path));
    *file = &f->path;
    *off = f->offset + ltx::kHeaderSize + uint64_t(found->frame) * (ltx::kV1PageHeaderSize + ps) +
           ltx::kV1PageHeaderSize;
    *sum = found->sum;
    return Status::OK();
  }
  if (base_.fd >= 0 && pgno <= base_.commit) {
    *fd = base_.fd;
    *file = &base_path_;
    *off = uint64_t(pgno) * ps;
    *sum = base_.sums[pgno];
  }
  return Status::OK();  // else grown without being written: zeros
}

Status Database::ReadPageLocked(const View& v, uint32_t pgno, uint8_t* out, FdCache* fds) const {
  int fd;
  const std::string* file = nullptr;
  uint64_t off = 0, sum = 0;
  LTX_RETURN_IF_ERROR(LocateLocked(v, pgno, fds, &fd, &file, &off, &sum));
  if (fd < 0) {
    memset(out, 0, page_size_);
    return Status::OK();
  }
  LTX_RETURN_IF_ERROR(PreadAll(fd, out, page_size_, off).WithContext(*file));
  return CheckSum(pgno, out, sum, *file, off);
}

Status Database::ReadPagesLocked(const View& v, const std::vector<uint32_t>& pgnos, PageSink* sink) const {
  PageSetHead head;
  head.pos = {v.txid, v.file_end == 0 ? base_.pos.post_apply_checksum : files_[v.file_end - 1].post};
  head.page_size = page_size_;
  head.commit = v.commit;
  LTX_RETURN_IF_ERROR(sink->Begin(head, pgnos.size()));
  FdCache fds;
  PageRuns runs(page_size_, [this](uint32_t pgno, const uint8_t* page, uint64_t sum,
                                   const std::string& file, uint64_t off) {
    return CheckSum(pgno, page, sum, file, off);
  });
  std::vector<uint8_t> zeros;  // a page grown without being written, once one is asked
  for (uint32_t p : pgnos) {
    if (p > v.commit) continue;
    int fd;
    const std::string* file = nullptr;
    uint64_t off = 0, sum = 0;
    LTX_RETURN_IF_ERROR(LocateLocked(v, p, &fds, &fd, &file, &off, &sum));
    if (fd < 0) {
      zeros.resize(page_size_);
      memset(sink->Slot(p, PageSum(p, zeros.data(), page_size_)), 0, page_size_);
    } else {
      LTX_RETURN_IF_ERROR(runs.Add(fd, *file, off, p, sum, sink->Slot(p, sum)));
    }
  }
  return runs.Flush();
}

Result<PageSet> Database::ReadPageSetLocked(const View& v, const std::vector<uint32_t>& pgnos) const {
  PageSet out;
  PageSetSink sink(&out);
  LTX_RETURN_IF_ERROR(ReadPagesLocked(v, pgnos, &sink));
  return out;
}

Result<PageSet> Database::ReadPages(const Pos& at, const std::vector<uint32_t>& pgnos) const {
  std::shared_lock l(mu_);
  View v;
  if (!ResolveLocked(at, &v)) {
    return PosMismatch("position " + ltx::FormatPos(at) + " is not retained");
  }
  return ReadPageSetLocked(v, pgnos);
}

Status Database::ReadPagesTo(const Pos& at, const std::vector<uint32_t>& pgnos, PageSink* sink) const {
  std::shared_lock l(mu_);
  View v;
  if (!ResolveLocked(at, &v)) {
    return PosMismatch("position " + ltx::FormatPos(at) + " is not retained");
  }
  return ReadPagesLocked(v, pgnos, sink);
}

Status Database::ReadInteriorTo(const Pos* at, PageSink* sink) const {
  std::shared_lock l(mu_);
  Pos p = at ? *at : CurrentLocked();
  View v;
  if (!ResolveLocked(p, &v)) {
    return PosMismatch("position " + ltx::FormatPos(p) + " is not retained");
  }
  std::unordered_set<uint32_t> set(base_.interior.begin(), base_.interior.end());
  uint32_t prev_commit = base_.commit;
  for (size_t i = 0; i < v.file_end; i++) {
    const TxFile& f = files_[i];
    for (uint32_t pg : f.pgnos) {
      if (std::binary_search(f.interior.begin(), f.interior.end(), pg))
        set.insert(pg);
      else
        set.erase(pg);
    }
    if (f.commit < prev_commit) {
      for (auto it = set.begin(); it != set.end();) it = *it > f.commit ? set.erase(it) : ++it;
    }
    prev_commit = f.commit;
  }
  std::vector<uint32_t> pgnos(set.begin(), set.end());
  if (v.commit >= 1) pgnos.push_back(1);
  std::sort(pgnos.begin(), pgnos.end());
  pgnos.erase(std::unique(pgnos.begin(), pgnos.end()), pgnos.end());
  return ReadPagesLocked(v, pgnos, sink);
}


}  // namespace mockcloud
