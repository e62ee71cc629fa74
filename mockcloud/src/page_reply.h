// The pages-binary answer to GET /db/page and /db/interior (litevfs/page_frames.h): frames
// of [u32 pgno big-endian][page], or [u32 pgno][u64 sum][page] for a client that asks for the
// page sums, read by the store straight into a pooled body
// (one preadv per run of stored pages, no per-page string, no copy), then zstd-compressed
// when the client accepts it and a trial on the batch's start says it pays.
#pragma once

#include <memory>
#include <vector>

#include "body_pool.h"
#include "store.h"

namespace mockcloud {

struct PagesBody {
  PageSetHead head;
  size_t pages = 0;
  bool zstd = false;
  bool sums = false;  // frames carry each page's sum (application/vnd.litevfs.pages+sums)
  std::shared_ptr<BodyPool::Body> body;
};

// How the client asked for the body: frames with sums, zstd allowed.
struct PagesFormat {
  bool sums = false;
  bool zstd = false;
};

// Pages `pgnos` as of `at` (those past the commit skipped).
Result<PagesBody> BuildPagesBody(const Database& db, const Pos& at, const std::vector<uint32_t>& pgnos,
                                 PagesFormat fmt, BodyPool* pool);

// Page 1 and every interior page as of `at` (nullptr: the current position).
Result<PagesBody> BuildInteriorBody(const Database& db, const Pos* at, PagesFormat fmt, BodyPool* pool);

}  // namespace mockcloud
