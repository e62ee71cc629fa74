#include "commit_encode.h"

#include <algorithm>
#include <span>

#include "ltx/checksum.h"
#include "ltx/encoder.h"
#include "ltx/io.h"
#include "sqlite_format.h"

namespace litevfs {
namespace {

std::span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

uint64_t ChecksumOf(uint32_t pgno, const std::string& page) { return ltx::PageChecksum(pgno, Bytes(page)); }

const std::string& OldOr(const DirtyPages& old, uint32_t pgno, const std::string& zero) {
  auto it = old.find(pgno);
  return it == old.end() ? zero : it->second;
}

// The pages the LTX carries (pgno -> bytes) and the checksum after applying it.
struct Delta {
  std::map<uint32_t, const std::string*> pages;
  std::vector<uint32_t> dropped;
  ltx::DatabaseChecksum chk;
};

Delta ComputeDelta(const CommitInput& in, const std::string& zero) {
  const uint32_t lock_pg = ltx::LockPgno(in.page_size);
  Delta d;
  d.chk = in.pin.IsZero() ? ltx::DatabaseChecksum() : ltx::DatabaseChecksum(in.pin.post_apply_checksum);
  for (const auto& [pg, data] : *in.dirty) {
    if (pg == lock_pg || pg > in.new_commit) continue;
    if (pg <= in.old_commit) {
      const std::string& o = OldOr(*in.old, pg, zero);
      if (o == data) continue;  // unchanged (e.g. restored by a rollback's playback)
      d.chk.Replace(ChecksumOf(pg, o), ChecksumOf(pg, data));
    } else {
      d.chk.Toggle(ChecksumOf(pg, data));
    }
    d.pages[pg] = &data;
  }
  for (uint32_t pg = in.old_commit + 1; pg <= in.new_commit; ++pg) {  // growth never written
    if (pg == lock_pg || in.dirty->count(pg)) continue;
    d.chk.Toggle(ChecksumOf(pg, zero));
    d.pages[pg] = &zero;
  }
  for (uint32_t pg = in.new_commit + 1; pg <= in.old_commit; ++pg) {  // shrink
    if (pg == lock_pg) continue;
    d.chk.Toggle(ChecksumOf(pg, OldOr(*in.old, pg, zero)));
    d.dropped.push_back(pg);
  }
  return d;
}

}  // namespace

std::vector<uint32_t> OldPagesNeeded(const DirtyPages& dirty, uint32_t page_size, uint32_t old_commit,
                                     uint32_t new_commit) {
  const uint32_t lock_pg = ltx::LockPgno(page_size);
  std::vector<uint32_t> need;
  for (const auto& [pg, _] : dirty) {
    if (pg <= old_commit && pg != lock_pg) need.push_back(pg);
  }
  for (uint32_t pg = new_commit + 1; pg <= old_commit; ++pg) {
    if (pg != lock_pg && !dirty.count(pg)) need.push_back(pg);
  }
  std::sort(need.begin(), need.end());
  return need;
}

void RestoreWalVersions(DirtyPages* dirty, const DirtyPages& old) {
  auto d = dirty->find(1);
  auto o = old.find(1);
  if (d == dirty->end() || o == old.end()) return;
  if (sqlite_format::IsWalHeader(Bytes(o->second)) && sqlite_format::IsRollbackHeader(Bytes(d->second))) {
    sqlite_format::SetJournalVersions(
        std::span<uint8_t>(reinterpret_cast<uint8_t*>(d->second.data()), d->second.size()),
        sqlite_format::kVersionWal);
  }
}

ltx::Result<EncodedCommit> EncodeCommit(const CommitInput& in) {
  if (!ltx::IsValidPageSize(in.page_size)) return ltx::Status::InvalidArgument("litevfs: commit without a page size");
  for (const auto& [pg, data] : *in.dirty) {
    if (data.size() != in.page_size) {
      return ltx::Status::InvalidArgument("litevfs: dirty page " + std::to_string(pg) + " has " +
                                          std::to_string(data.size()) + " bytes, not the page size");
    }
  }
  const std::string zero(in.page_size, '\0');
  Delta d = ComputeDelta(in, zero);
  EncodedCommit out;
  if (d.pages.empty() && in.new_commit == in.old_commit) return out;  // nothing changed
  ltx::Header h;
  h.page_size = in.page_size;
  h.commit = in.new_commit;
  h.min_txid = h.max_txid = in.pin.txid + 1;
  h.timestamp = in.timestamp_ms;
  h.pre_apply_checksum = in.pin.IsZero() ? 0 : in.pin.post_apply_checksum;
  ltx::StringSink sink(&out.ltx);
  auto enc = ltx::Encoder::Open(&sink, h);
  if (!enc.ok()) return enc.status().WithContext("litevfs: encoding the commit");
  for (const auto& [pg, data] : d.pages) {
    LTX_RETURN_IF_ERROR((*enc)->AddPage(pg, Bytes(*data)).WithContext("litevfs: encoding the commit"));
    out.written.push_back(pg);
  }
  if (ltx::Status st = (*enc)->Finish(d.chk.value()); !st.ok()) return st.WithContext("litevfs: encoding the commit");
  out.empty = false;
  out.pos = ltx::Pos{h.max_txid, d.chk.value()};
  out.changed = out.written;
  out.changed.insert(out.changed.end(), d.dropped.begin(), d.dropped.end());
  std::sort(out.changed.begin(), out.changed.end());
  return out;
}

}  // namespace litevfs
