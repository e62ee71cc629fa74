// Commit encoding: a pure function from a write transaction's pages to the one v1 LTX that
// ships it (min = max = pin.txid + 1) and the position it produces. No I/O, no locks: the
// caller gathers the old page versions (for the incremental post-apply checksum) and does
// the upload (commit_upload.h). This is the seam a streaming/spilling writer plugs into:
// DirtyPages in, LTX bytes out.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ltx/format.h"
#include "ltx/status.h"

namespace litevfs {

using DirtyPages = std::map<uint32_t, std::string>;  // pgno -> page as SQLite wrote it

struct CommitInput {
  uint32_t page_size = 0;
  ltx::Pos pin;              // the position the transaction started from (zero: new database)
  uint32_t old_commit = 0;   // database size in pages at pin (0 for a new database)
  uint32_t new_commit = 0;   // database size in pages after the transaction
  int64_t timestamp_ms = 0;  // the LTX header's timestamp
  const DirtyPages* dirty = nullptr;
  // Old versions at pin of every page OldPagesNeeded() lists (missing ones read as zeros).
  const DirtyPages* old = nullptr;
};

struct EncodedCommit {
  bool empty = true;              // nothing changed: no upload
  std::string ltx;                // the v1 LTX file
  ltx::Pos pos;                   // the position it produces
  std::vector<uint32_t> written;  // pages the LTX holds, ascending
  std::vector<uint32_t> changed;  // written + dropped by a shrink, ascending
};

// The pages whose old versions EncodeCommit needs: dirty pages within old_commit, and the
// pages a shrink drops. Ascending; never the lock page.
std::vector<uint32_t> OldPagesNeeded(const DirtyPages& dirty, uint32_t page_size, uint32_t old_commit,
                                     uint32_t new_commit);

// Page 1 of a WAL-mode database goes back with its stored journal-mode bytes (SQLite was
// shown rollback-journal bytes on read).
void RestoreWalVersions(DirtyPages* dirty, const DirtyPages& old);

// Encodes the transaction. Pages equal to their old version are left out; growth never
// written is zeros. kInvalidArgument for a page of the wrong size.
ltx::Result<EncodedCommit> EncodeCommit(const CommitInput& in);

}  // namespace litevfs
