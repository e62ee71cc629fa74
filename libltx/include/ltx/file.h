// Whole-file operations on top of the decoder/encoder: verify, apply to a database file,
// encode a database file as a snapshot. These are what `litevfs ltx` and the mockcloud use.
#pragma once

#include <cstdint>
#include <string>

#include "ltx/encoder.h"
#include "ltx/decoder.h"
#include "ltx/format.h"
#include "ltx/status.h"

namespace ltx {

struct FileInfo {
  Version version = Version::kV1;
  Header header;
  Trailer trailer;
  uint64_t page_count = 0;   // frames in the file
  uint64_t file_size = 0;
};

// Decodes `path` completely, checking every rule; the first problem is the error.
Result<FileInfo> VerifyFile(const std::string& path, const DecodeOptions& opts = {});
Result<FileInfo> VerifySource(std::unique_ptr<Source> src, const DecodeOptions& opts = {});

// Applies an LTX file to the SQLite database file at db_path (created if absent, for a
// snapshot): checks the pre-apply checksum against the database, writes the pages,
// truncates to commit, checks the post-apply checksum, fsyncs. The file is verified in full
// before any byte of the database changes, so every failure up to and including the
// pre-apply check (kConflict "ltx: pre-apply checksum mismatch: ...", page size mismatch,
// missing database for a non-snapshot: kNotFound) leaves the database untouched. Only a
// post-apply mismatch (the file promised a state the pages do not produce) is reported
// after writing. Files with the no-checksum flag (Litestream writes these) skip both
// checksum checks. The LTX file is read twice (verify, then apply); memory stays bounded.
Status ApplyFile(const std::string& db_path, const std::string& ltx_path,
                 const DecodeOptions& opts = {});

// Encodes the database at db_path as a snapshot (min_txid = 1, max_txid = txid): page size
// from header bytes 16-17 (1 = 65536), commit = file size / page size, every page except
// the lock page, post-apply = the database checksum. Streams in 1 MiB chunks. An empty
// file gives commit 0 (page size 4096). Does not look at a -wal file: checkpoint first.
struct EncodeDbOptions {
  EncodeOptions encode;
  uint64_t txid = 1;
  int64_t timestamp_ms = 0;  // 0 = now
};
Result<FileInfo> EncodeDatabaseFile(const std::string& db_path, Sink* out,
                                    const EncodeDbOptions& opts = {});

}  // namespace ltx
