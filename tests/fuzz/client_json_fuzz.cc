// Fuzzes the client's JSON response parsers: ParseSyncJson (/db/sync) and ParsePagesJson
// (/db/page without pages-binary). Byte 0 picks the parser; the rest is the body.
// Invariants checked on success: sync pgnos strictly ascend, are in [1, 2^31), and are
// empty when "all" is set; pages strictly ascend, were asked for, and all have the
// batch's (valid) page size.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "litevfs/client.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] % 2 == 0) {
    auto r = litevfs::ParseSyncJson(body);
    if (!r.ok()) {
      if (r.status().code() != ltx::Code::kCorruption) __builtin_trap();
      return 0;
    }
    if (r->all && !r->pgnos.empty()) __builtin_trap();
    for (size_t i = 0; i < r->pgnos.size(); i++) {
      if (r->pgnos[i] == 0 || r->pgnos[i] > 0x7fffffffu) __builtin_trap();
      if (i > 0 && r->pgnos[i] <= r->pgnos[i - 1]) __builtin_trap();
    }
    if (r->page_size != 0 && !ltx::IsValidPageSize(r->page_size)) __builtin_trap();
    return 0;
  }
  static const std::vector<uint32_t> kWant = {1, 2, 3, 5, 8, 13, 1000};
  const litevfs::Pos pos{7, 0x8000000000000007ULL};
  auto r = litevfs::ParsePagesJson(body, pos, kWant);
  if (!r.ok()) {
    if (r.status().code() != ltx::Code::kCorruption) __builtin_trap();
    return 0;
  }
  if (r->pos != pos) __builtin_trap();
  if (!r->pages.empty() && !ltx::IsValidPageSize(r->page_size)) __builtin_trap();
  for (size_t i = 0; i < r->pages.size(); i++) {
    if (r->pages[i].second.size() != r->page_size) __builtin_trap();
    if (i > 0 && r->pages[i].first <= r->pages[i - 1].first) __builtin_trap();
    bool found = false;
    for (uint32_t w : kWant) found |= (w == r->pages[i].first);
    if (!found) __builtin_trap();
  }
  return 0;
}
