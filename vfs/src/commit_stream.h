// The commit of a write transaction as a stream, in two passes over its DirtyPages, so
// neither the old page versions nor the LTX ever exist whole in memory:
//
//  1. PlanCommit: reads the old version of every overwritten or dropped page in bounded
//     batches (kOldPageBatchBytes), compares it with the dirty page, and folds both into
//     the incremental post-apply checksum. It keeps 4 bytes per page (the unchanged and the
//     dropped page numbers), never a page.
//  2. LtxBodyStream: encodes the v1 LTX page by page from the DirtyPages as the upload
//     reads it (pread semantics, so a resend or a rewind starts over), holding one encoder
//     buffer. Its size is known before the first byte (CommitLtxSize), so the upload has a
//     Content-Length and the server's body limit can be checked before any work.
//
// The pages an LTX carries (CarriedPages): every dirty page up to the new size except the
// lock page and the unchanged ones, and the zero pages of growth never written.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dirty_pages.h"
#include "ltx/encoder.h"
#include "ltx/format.h"
#include "ltx/io.h"
#include "ltx/status.h"

namespace litevfs {

using PageMap = std::map<uint32_t, std::string>;  // pgno -> page bytes

// Old page versions fetched per batch in PlanCommit.
inline constexpr size_t kOldPageBatchBytes = 4u << 20;

struct CommitShape {
  uint32_t page_size = 0;
  uint32_t old_commit = 0;     // database size in pages at the pin (0 for a snapshot)
  uint32_t new_commit = 0;     // database size in pages after the commit
  uint64_t pre_checksum = 0;   // post-apply checksum at the pin (unused for a snapshot)
  bool snapshot = false;       // the first commit of a new database
};

struct CommitPlan {
  CommitShape shape;
  std::vector<uint32_t> unchanged;  // dirty pages equal to their old version, ascending
  std::vector<uint32_t> dropped;    // pages past the new size, ascending
  uint64_t post_checksum = 0;
  uint32_t page_count = 0;          // pages the LTX carries
  bool IsEmpty() const { return page_count == 0 && shape.new_commit == shape.old_commit; }
};

// Fills `out` with the versions at the pin of `pgnos` (each page_size bytes; zeros past the
// old size). Called with at most kOldPageBatchBytes of pages at a time.
using OldPagesFn = std::function<ltx::Status(const std::vector<uint32_t>& pgnos, PageMap* out)>;

// Pass 1. May patch page 1 in `dirty`: a WAL-mode database's page 1 goes back with its
// stored journal-mode bytes (SQLite was shown rollback mode, DESIGN.md §7).
ltx::Result<CommitPlan> PlanCommit(const CommitShape& shape, DirtyPages* dirty,
                                   const OldPagesFn& old_pages);

// Walks the pages a plan's LTX carries, in ascending order.
class CarriedPages {
 public:
  CarriedPages(const DirtyPages* dirty, const CommitPlan* plan) : dirty_(dirty), plan_(plan) {}
  uint32_t Next(uint32_t pgno) const;  // the next carried page after pgno, 0 at the end
  ltx::Status Load(uint32_t pgno, std::span<uint8_t> out) const;  // its bytes

 private:
  const DirtyPages* dirty_;
  const CommitPlan* plan_;
};

// The LTX header of a plan (min = max = txid, the pin's checksum as pre-apply).
ltx::Header CommitHeader(const CommitPlan& plan, uint64_t txid, int64_t timestamp_ms);
// The exact byte size of an uncompressed v1 LTX of `pages` pages, and of a plan's.
uint64_t LtxSize(uint32_t page_size, uint64_t pages);
uint64_t CommitLtxSize(const CommitPlan& plan);

// Refuses a transaction whose LTX (`pages` pages of page_size) would be larger than the
// server's body limit `max_body` (0: unknown, no check), before the work of encoding and
// sending it: kResourceExhausted with api_code "ETOOLARGE" (SQLITE_FULL at the VFS edge),
// naming both sizes and the fix.
ltx::Status CheckTxBodyLimit(uint64_t max_body, uint32_t page_size, uint64_t pages,
                             const std::string& db);

// An LTX encoded on the fly as an upload pulls it with pread semantics (LtxBodyStream
// below; the CLI's import stream): the bytes produced last are kept, a read before them
// starts the encoding over (a resend), a read past them asks for more.
class EncodedBody {
 public:
  virtual ~EncodedBody() = default;
  // Up to n bytes at offset `off` into buf; 0 at the end.
  ltx::Result<size_t> ReadAt(uint64_t off, uint8_t* buf, size_t n);

 protected:
  virtual ltx::Status Restart() = 0;  // back to byte 0: its own cursor, then OpenEncoder
  virtual ltx::Status Produce() = 0;  // appends the next piece to buf_, or sets finished_
  // Empties the window and opens a new encoder writing into it (enc_).
  ltx::Status OpenEncoder(const ltx::Header& header, const ltx::EncodeOptions& options);

  std::string buf_;  // encoded bytes [buf_start_, buf_start_ + buf_.size()); outlives sink_
  std::unique_ptr<ltx::StringSink> sink_;  // appends to buf_; outlives enc_
  std::unique_ptr<ltx::Encoder> enc_;      // null until the first read
  uint64_t buf_start_ = 0;
  bool finished_ = false;
};

// Pass 2: the LTX bytes on demand. Borrows dirty and plan (they must outlive it).
class LtxBodyStream : public EncodedBody {
 public:
  LtxBodyStream(const DirtyPages* dirty, const CommitPlan* plan, const ltx::Header& header);
  uint64_t size() const { return size_; }

 private:
  ltx::Status Restart() override;
  ltx::Status Produce() override;  // encodes the next page (or the trailer) into buf_

  const CommitPlan* plan_;
  const ltx::Header header_;
  const uint64_t size_;
  CarriedPages pages_;
  uint32_t last_ = 0;         // the last page encoded
  std::vector<uint8_t> page_;
};

}  // namespace litevfs
