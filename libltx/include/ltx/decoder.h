// Streaming LTX decoder for v1 (plain or one LZ4 frame) and v3 (LZ4 blocks + page index).
// Pages come out one at a time in file order; Finish() reads the trailer and checks the
// file checksum (and, for snapshots, the post-apply checksum), so a caller that applies
// pages must not treat them as valid before Finish() returns OK.
//
// Memory is bounded by a page, a compressed page and a small read buffer, whatever the
// file size (a v3 file additionally keeps ~5 bytes per page to check the page index).
//
// Version detection (Version::kAuto; the format has no version field): header flag 0x1
// means v1 with LZ4 (v3 forbids the flag) and an LZ4 frame magic must follow the header.
// Otherwise the bytes after the header decide: a v3 page header has flags 0x0001 and a
// compressed size whose LZ4 block decompresses to exactly one page (or, as ltx v0.5.0
// wrote, flags 0x0000 followed by an LZ4 frame); an empty v3 file ends with
// 00×6 (end header) 00 (index terminator) and index size 1; anything else is v1.
// v3 pages in either encoding (LZ4 block + size, Go ltx ≥ v0.5.1; per-page LZ4 frame,
// v0.5.0) are read. The file checksum is computed exactly as Go's superfly/ltx does.
//
// Errors are Code::kCorruption with stable messages starting "ltx: ", checked in order:
// header length, magic, header rules (Header::Validate), then per page: order/duplicate,
// ≤ commit, not the lock page, snapshot completeness, decompression; at the end: v3 index,
// truncation ("ltx: truncated file at offset N (reading X)"), trailing bytes, file
// checksum flag, file checksum, post-apply flag, snapshot post-apply, commit-0 post-apply.
// After an error every later call returns the same error.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "ltx/format.h"
#include "ltx/io.h"
#include "ltx/status.h"

namespace ltx {

struct DecodeOptions {
  Version version = Version::kAuto;  // force v1 or v3, or detect
};

struct PageFrame {
  uint32_t pgno = 0;
  std::span<const uint8_t> data;  // page_size bytes, valid until the next Next()/Finish()
  uint64_t checksum = 0;          // PageChecksum(pgno, data), from the pass that checked the CRC
};

class Decoder {
 public:
  // Reads and validates the header and detects the version (or uses opts.version). The
  // decoder owns `src`, which is read sequentially (Read only).
  static Result<std::unique_ptr<Decoder>> Open(std::unique_ptr<Source> src,
                                               const DecodeOptions& opts = {});
  virtual ~Decoder() = default;

  virtual const Header& header() const = 0;
  virtual Version version() const = 0;
  // Next page frame; returns false at the end of the page block. Checks order, commit and
  // lock-page rules as it goes.
  virtual Result<bool> Next(PageFrame* frame) = 0;
  // Consumes the rest (remaining pages, v3 index, trailer) and verifies the file checksum,
  // the snapshot post-apply checksum, and that nothing follows the trailer.
  virtual Status Finish() = 0;
  virtual const Trailer& trailer() const = 0;  // valid after Finish() returns OK
  virtual uint64_t page_count() const = 0;     // page frames decoded so far
  virtual uint64_t bytes_read() const = 0;     // bytes consumed from the source so far
};

// v3 random access: reads the page index (needs a Source with Size() and ReadAt()).
class V3Index {
 public:
  struct Entry {
    uint32_t pgno;
    uint64_t offset;  // absolute offset of the frame header
    uint64_t size;    // frame size (header + compressed block)
  };
  static Result<V3Index> Load(Source* src, const Header& header);
  const std::vector<Entry>& entries() const { return entries_; }
  // Decompresses one page into out (page_size bytes). NotFound if the page is not in the file.
  Status ReadPage(Source* src, uint32_t pgno, std::span<uint8_t> out) const;

 private:
  Header header_;
  std::vector<Entry> entries_;
};

}  // namespace ltx
