// Fuzzes what the client does with a pages-binary answer: the body's frames
// (ParsePageFrames) and, optionally, the zstd layer in front of them
// (ZstdDecompressBounded), as well as the base64 decoder of the JSON fallback.
// Input layout: byte 0 = page size selector (512 << (b % 8)) and flags (bit 3: the body
// is zstd; bit 4: base64-decode the body instead; bit 5: frames with sums, pages+sums),
// byte 1 = number of wanted pgnos n
// (n % 9; 0 = anything), then n u32 BE pgnos, then the body.
// Invariants checked on success: frames exactly tile the body, pgnos strictly ascend,
// every page is page-size bytes and was asked for, each sum is the one in its frame,
// decompression never exceeds its bound.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "../../vfs/src/client_codec.h"
#include "litevfs/client.h"
#include "litevfs/page_frames.h"
#include "ltx/coding.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint32_t page_size = 512u << (data[0] % 8);
  const bool zstd = (data[0] & 0x08) != 0;
  const bool b64 = (data[0] & 0x10) != 0;
  const bool with_sums = (data[0] & 0x20) != 0;
  const size_t frame = litevfs::FrameHeadSize(with_sums) + page_size;
  const size_t n = data[1] % 9;
  size_t off = 2;
  if (size < off + 4 * n) return 0;
  std::vector<uint32_t> want;
  for (size_t i = 0; i < n; i++) want.push_back(ltx::DecodeU32(data + off + 4 * i));
  off += 4 * n;
  std::string_view body(reinterpret_cast<const char*>(data + off), size - off);

  if (b64) {
    std::string out;
    if (litevfs::internal::Base64Decode(body, &out).ok()) {
      if (out.size() > body.size() / 4 * 3) __builtin_trap();
      if (litevfs::internal::Base64Encode(out) != body) __builtin_trap();  // canonical only
    }
    return 0;
  }

  std::string decoded;
  if (zstd) {
    const uint64_t bound = uint64_t(n ? n : 4) * frame;
    if (!litevfs::internal::ZstdDecompressBounded(body, bound, &decoded).ok()) return 0;
    if (decoded.size() > bound) __builtin_trap();
    body = decoded;
  }

  std::vector<uint64_t> sums;
  auto r = litevfs::ParsePageFrames(body, page_size, want, with_sums ? &sums : nullptr);
  if (!r.ok()) {
    if (r.status().message().empty()) __builtin_trap();
    return 0;
  }
  const auto& pages = r.value();
  if (pages.size() * frame != body.size()) __builtin_trap();
  if (sums.size() != (with_sums ? pages.size() : 0)) __builtin_trap();
  for (size_t i = 0; i < pages.size(); i++) {
    if (with_sums && sums[i] != ltx::DecodeU64(reinterpret_cast<const uint8_t*>(body.data()) + i * frame +
                                               litevfs::kFramePgnoSize)) {
      __builtin_trap();
    }
    if (pages[i].second.size() != page_size) __builtin_trap();
    if (pages[i].first == 0) __builtin_trap();
    if (i > 0 && pages[i].first <= pages[i - 1].first) __builtin_trap();
    if (!want.empty()) {
      bool found = false;
      for (uint32_t w : want) found |= (w == pages[i].first);
      if (!found) __builtin_trap();
    }
  }
  return 0;
}
