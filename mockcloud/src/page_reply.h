// The pages-binary answer to GET /db/page and /db/interior ("application/vnd.litevfs.pages"):
// records of [u32 pgno big-endian][page], read by the store straight into a pooled body
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
  std::shared_ptr<BodyPool::Body> body;
};

// Pages `pgnos` as of `at` (those past the commit skipped).
Result<PagesBody> BuildPagesBody(const Database& db, const Pos& at, const std::vector<uint32_t>& pgnos,
                                 bool accept_zstd, BodyPool* pool);

// Page 1 and every interior page as of `at` (nullptr: the current position).
Result<PagesBody> BuildInteriorBody(const Database& db, const Pos* at, bool accept_zstd, BodyPool* pool);

}  // namespace mockcloud
