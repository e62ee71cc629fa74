// The parallel page fetcher used by export/verify: every page of a remote database as of
// one position, in batches over several concurrent requests.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "litevfs/client.h"
#include "ltx/status.h"

namespace cli {

// ---- fetching many pages of a remote database ----
struct FetchOptions {
  unsigned parallel = 4;  // concurrent requests
  // pgnos per request (server allows <= 4096). 1 MiB of 4 KiB pages: a 1 GiB export took
  // 1.8-1.9 s where 1,024-page batches took 2.3-2.9 s (RESULTS.md, session 8).
  size_t batch = 256;
  bool progress = false;  // draw a bar on stderr
  std::string label;      // shown before the bar
};
struct FetchStats {
  uint64_t pages = 0;
  uint64_t bytes = 0;
  uint32_t page_size = 0;
  double seconds = 0;
};
// Fetches pages 1..commit (minus the lock page, whose number depends on the page size the
// server reports) as of `pos`. `sink` is called from worker threads, concurrently, with
// each page exactly once; it must be thread-safe. The first error (fetch or sink) stops
// the workers and is returned.
using PageSink = std::function<ltx::Status(uint32_t pgno, std::string_view data)>;
ltx::Result<FetchStats> FetchAllPages(litevfs::Client& client, const std::string& db,
                                      const ltx::Pos& pos, uint32_t commit,
                                      const FetchOptions& opts, const PageSink& sink);
// The same, a whole answer at a time (pages ascending, each checked: the asked pgno, the
// page size), so a sink can write a run of pages with one call (export's pwritev).
using BatchSink = std::function<ltx::Status(const litevfs::PageBlock& batch)>;
ltx::Result<FetchStats> FetchAllBatches(litevfs::Client& client, const std::string& db,
                                        const ltx::Pos& pos, uint32_t commit,
                                        const FetchOptions& opts, const BatchSink& sink);

}  // namespace cli
