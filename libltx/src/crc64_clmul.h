// CRC-64/ISO with carry-less multiplication (x86-64 PCLMULQDQ), the fast path of
// Crc64Update (checksum.cc): four 16-byte lanes folded 64 bytes at a time, then folded into
// one, whose remainder (and the tail) the table code finishes. ~10x the table's speed; every
// page of every import, export and apply passes through it. Not installed.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ltx::internal {

// Inputs shorter than this go to the table code (the folding's setup does not pay).
inline constexpr size_t kClmulMinBytes = 128;

// Whether this CPU has PCLMULQDQ and SSE4.1 (false on other architectures).
bool HasClmul();

// Continues the raw CRC state `raw` (not inverted: Crc64Update's ~crc) over p[0..n), n >=
// kClmulMinBytes; `table_raw(state, p, n)` finishes the last < 16 bytes. Only if HasClmul().
uint64_t Crc64ClmulRaw(uint64_t raw, const uint8_t* p, size_t n,
                       uint64_t (*table_raw)(uint64_t, const uint8_t*, size_t));

}  // namespace ltx::internal
