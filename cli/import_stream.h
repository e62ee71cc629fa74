// The LTX of `litevfs import` encoded on the fly into the upload's body (issue 19): no
// temporary LTX file and one pass over FILE; nothing is written on the client.
// ImportLtxStream: the uncompressed v1 LTX of every page of FILE (the lock page left out),
// produced a batch of pages at a time as the upload reads it (pread semantics: a read before
// what was produced last starts over). The post-apply checksum is summed as the pages go by
// and written in the trailer; end_pos() (which the acknowledgement is checked against) is
// complete once the body was read. Its size is known ahead, so the request has a
// Content-Length. FILE changing meanwhile is caught by the server, which recomputes the
// checksum from the pages it got.
// --compress still goes through a temporary file (the LZ4 size is not known ahead).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "import_source.h"
#include "ltx/checksum.h"
#include "ltx/encoder.h"
#include "ltx/format.h"
#include "ltx/io.h"
#include "ltx/status.h"
#include "progress.h"
#include "vfs/src/commit_stream.h"

namespace cli {

// Pages read from FILE per batch.
inline constexpr uint32_t kImportBatchPages = 64;

class ImportLtxStream : public litevfs::EncodedBody {
 public:
  // `progress` (not owned, may be null) counts pages sent.
  ImportLtxStream(const std::string& path, const DbFileInfo& fi, const ltx::Header& header,
                  Progress* progress);
  ~ImportLtxStream();
  ImportLtxStream(const ImportLtxStream&) = delete;
  ImportLtxStream& operator=(const ImportLtxStream&) = delete;

  uint64_t size() const { return size_; }
  // The position the LTX ends at: max_txid, and the post-apply checksum once the whole body
  // was produced (finished()); the upload reads it after the answer arrives.
  const ltx::Pos& end_pos() const { return end_pos_; }
  bool finished() const { return finished_; }

 private:
  ltx::Status Restart() override;
  ltx::Status Produce() override;  // encodes the next batch of pages (or the trailer) into buf_

  const std::string path_;
  const DbFileInfo fi_;
  const ltx::Header header_;
  const uint64_t size_;
  ltx::DatabaseChecksum sum_;  // of the pages produced so far, unless the encoder keeps it
  // A snapshot with checksums: the encoder sums the pages in the pass of its file CRC.
  bool encoder_sums() const { return header_.IsSnapshot() && header_.HasChecksums(); }
  ltx::Pos end_pos_;
  Progress* progress_;
  int fd_ = -1;
  uint32_t next_pgno_ = 1;
  std::vector<uint8_t> pages_;
};

}  // namespace cli
