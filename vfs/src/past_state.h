// A connection opened at a past state (issue 18): URI `txid=HEX` or `time=RFC3339|-5m`, or
// `PRAGMA litevfs_time = '…'` between transactions. Such a connection is read-only, every
// transaction is pinned to the same past position, and it never syncs. Pages come from:
//   1. the cache, when the version there is usable at the past position (fetched at or
//      before it and unchanged since), as for any pin;
//   2. the cache, when the page is not among the pages the service says may differ between
//      the past position and the cache's position at the time of PRAGMA/open (GET /db/diff):
//      its version valid at the cache's position is then the past one too;
//   3. the service as of the past position. Such pages never enter the cache (which holds
//      the present): they go to the Database's bounded in-memory map of old pages.
// What it leaves out: a diff is taken once, when the state is chosen; pages the cache
// fetches later are not reused for it (they are for the present).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_set>

#include "database.h"
#include "litevfs/time_travel.h"

namespace litevfs {

class PageCache;

struct PastState {
  std::string text;       // as the user named it, for messages and PRAGMA litevfs_time
  Snapshot snap;          // the past position and the database size there
  int64_t timestamp_ms = 0;
  uint64_t diff_txid = 0; // the cache position `changed` is relative to (0 = none)
  std::unordered_set<uint32_t> changed;  // pages that may differ between snap and diff_txid
};

// The PAST a URI names: `txid=HEX` (hex, as positions are written) or `time=PAST`; nullopt-
// like empty text when neither is given. InvalidArgument when both are, or when malformed.
Result<PastRef> PastFromUri(const char* txid_param, const char* time_param, int64_t now_ms);
// A PRAGMA litevfs_time value: PAST, or "latest" (returned as a PastRef with empty text).
Result<PastRef> PastFromPragma(std::string_view value, int64_t now_ms);

// Step 2 above: copies page `pgno` into out from the cache when the past state may use it.
bool ReuseCachedForPast(const PastState& past, PageCache* cache, uint32_t pgno, std::span<uint8_t> out);

// The error a write in the past gets (SQLite sees SQLITE_READONLY).
Status PastIsReadOnly(const PastState& past, const std::string& db);

int64_t WallClockMs();

}  // namespace litevfs
