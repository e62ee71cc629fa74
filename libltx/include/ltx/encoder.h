// LTX encoder for v1 (optionally one LZ4 frame) and v3. Enforces DESIGN.md §1: pages
// strictly ascending, ≤ commit, never the lock page; snapshots complete; checksum flags.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "ltx/format.h"
#include "ltx/io.h"
#include "ltx/status.h"

namespace ltx {

struct EncodeOptions {
  Version version = Version::kV1;  // kV1 or kV3
  bool compress = false;           // v1 only: LZ4 frame (v3 always compresses)
};

class Encoder {
 public:
  // Validates `header` (sets kFlagCompressLZ4 itself for compressed v1) and writes it.
  // `sink` must outlive the encoder.
  static Result<std::unique_ptr<Encoder>> Open(Sink* sink, const Header& header,
                                               const EncodeOptions& opts = {});
  virtual ~Encoder() = default;
  virtual Status AddPage(uint32_t pgno, std::span<const uint8_t> page) = 0;
  // Writes the end of the page block, (v3) the index, and the trailer. For a snapshot,
  // post_apply_checksum must equal the checksum of the pages added.
  virtual Status Finish(uint64_t post_apply_checksum) = 0;
  virtual const Trailer& trailer() const = 0;  // valid after Finish()
  // Snapshots with checksums: the database checksum of the pages added so far, i.e. what
  // Finish() expects once every page is in (saves callers a second pass over the pages).
  // kEmptyDatabaseChecksum for other files.
  virtual uint64_t snapshot_checksum() const = 0;
};

}  // namespace ltx
