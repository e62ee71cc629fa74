// The pages-binary body of GET /db/page and /db/interior (mockcloud/PROTOCOL.md): one home
// for its media types and frame layout, which the server writes and the client parses.
// Header-only and free of VFS code, so the server (which never links the VFS) includes it.
//
//   application/vnd.litevfs.pages        frames of  pgno u32 BE ‖ page
//   application/vnd.litevfs.pages+sums   frames of  pgno u32 BE ‖ sum u64 BE ‖ page
//
// A frame's sum (feature "page-sums") is the page's PageSum (litevfs/page_sum.h): the sum the
// server keeps of every stored page and checks each page against as it reads it, and the one
// the client's page cache keeps per entry. A client that takes it keeps the server's checked
// sum instead of hashing the bytes that arrived, so a page damaged on the way fails its first
// read from the cache instead of being stored with a sum that matches the damage.
#pragma once

#include <cstddef>

namespace litevfs {

inline constexpr char kPagesMime[] = "application/vnd.litevfs.pages";
inline constexpr char kPagesWithSumsMime[] = "application/vnd.litevfs.pages+sums";

inline constexpr size_t kFramePgnoSize = 4;  // pgno u32 BE, first in every frame
inline constexpr size_t kFrameSumSize = 8;   // sum u64 BE, after the pgno in +sums frames

// Bytes before the page in a frame.
inline constexpr size_t FrameHeadSize(bool with_sums) { return kFramePgnoSize + (with_sums ? kFrameSumSize : 0); }

}  // namespace litevfs
