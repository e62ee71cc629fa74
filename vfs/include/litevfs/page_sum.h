// A page's sum: XXH3-64 of its bytes seeded with its pgno, so a page read from the wrong place
// fails too. The server's base.sums and segment index, the page frames (page_frames.h) and
// the VFS cache's entries all hold this one sum. Header-only, so the server includes it too.
// Kept out of page_frames.h, which the browser build compiles (it has no xxhash).
#pragma once

#include <xxhash.h>

#include <cstddef>
#include <cstdint>

namespace litevfs {

inline uint64_t PageSum(uint32_t pgno, const void* page, size_t size) {
  return XXH3_64bits_withSeed(page, size, pgno);
}

}  // namespace litevfs
