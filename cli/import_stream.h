// The LTX of `litevfs import` encoded on the fly into the upload's body (issue 19): no
// temporary LTX file, so the database is read twice from FILE (the page cache, after the
// first pass) and never written on the client.
//  1. FilePostChecksum: the post-apply checksum of FILE's pages (the position the upload
//     ends at, which the acknowledgement is checked against, must be known before it).
//  2. ImportLtxStream: the uncompressed v1 LTX of every page of FILE (the lock page left
//     out), produced a batch of pages at a time as the upload reads it (pread semantics: a
//     read before what was produced last starts over). Its size is known ahead, so the
//     request has a Content-Length. FILE changing in between is caught by the server, which
//     recomputes the checksum from the pages it got and refuses the upload.
// --compress still goes through a temporary file (the LZ4 size is not known ahead).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "import_source.h"
#include "ltx/encoder.h"
#include "ltx/format.h"
#include "ltx/io.h"
#include "ltx/status.h"
#include "progress.h"
#include "vfs/src/commit_stream.h"

namespace cli {

// Pages read from FILE per batch, in both passes.
inline constexpr uint32_t kImportBatchPages = 64;

// Pass 1: the post-apply checksum of the pages of `path` (fi: its page size and count).
uint64_t FilePostChecksum(const std::string& path, const DbFileInfo& fi);

class ImportLtxStream : public litevfs::EncodedBody {
 public:
  // `post`: FilePostChecksum's answer; `progress` (not owned, may be null) counts pages sent.
  ImportLtxStream(const std::string& path, const DbFileInfo& fi, const ltx::Header& header,
                  uint64_t post, Progress* progress);
  ~ImportLtxStream();
  ImportLtxStream(const ImportLtxStream&) = delete;
  ImportLtxStream& operator=(const ImportLtxStream&) = delete;

  uint64_t size() const { return size_; }

 private:
  ltx::Status Restart() override;
  ltx::Status Produce() override;  // encodes the next batch of pages (or the trailer) into buf_

  const std::string path_;
  const DbFileInfo fi_;
  const ltx::Header header_;
  const uint64_t post_;
  const uint64_t size_;
  Progress* progress_;
  int fd_ = -1;
  uint32_t next_pgno_ = 1;
  std::vector<uint8_t> pages_;
};

}  // namespace cli
