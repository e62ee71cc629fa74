// Streaming LTX decoder for v1 (plain or one LZ4 frame) and v3 (LZ4 blocks + page index).
// Pages come out one at a time in file order; Finish() reads the trailer and checks the
// file checksum (and, for snapshots, the post-apply checksum), so a caller that applies
// pages must not treat them as valid before Finish() returns OK.
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
};

class Decoder {
 public:
  // Reads and validates the header and detects the version. The decoder owns `src`.
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
