#include "crc64_clmul.h"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <cstring>

namespace ltx::internal {

#if defined(__x86_64__)

namespace {

// Folding constants: the bit-reflected x^e mod P (P = x^64 + x^4 + x^3 + x + 1, CRC-64/ISO)
// that carry a 64-bit word forward by a distance (found, and checked against the table
// CRC, by the exponents e: 16 bytes: 191 / 127 for the low / high word; 64 bytes: 575 / 511).
constexpr uint64_t kFold16Lo = 0x6b70000000000001ull;
constexpr uint64_t kFold16Hi = 0xf500000000000001ull;
constexpr uint64_t kFold64Lo = 0x01b001b1b0000001ull;
constexpr uint64_t kFold64Hi = 0xb100010100000001ull;

__attribute__((target("pclmul,sse4.1"))) inline __m128i Fold(__m128i x, __m128i k) {
  return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

__attribute__((target("pclmul,sse4.1"))) inline __m128i Load(const uint8_t* p) {
  return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
}

}  // namespace

bool HasClmul() {
  static const bool has = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
  return has;
}

__attribute__((target("pclmul,sse4.1"))) uint64_t Crc64ClmulRaw(
    uint64_t raw, const uint8_t* p, size_t n,
    uint64_t (*table_raw)(uint64_t, const uint8_t*, size_t)) {
  const __m128i k64 = _mm_set_epi64x(int64_t(kFold64Hi), int64_t(kFold64Lo));
  const __m128i k16 = _mm_set_epi64x(int64_t(kFold16Hi), int64_t(kFold16Lo));
  // The state enters as an XOR into the first 8 bytes (a reflected CRC's register).
  __m128i x0 = _mm_xor_si128(Load(p), _mm_set_epi64x(0, int64_t(raw)));
  __m128i x1 = Load(p + 16), x2 = Load(p + 32), x3 = Load(p + 48);
  p += 64;
  n -= 64;
  for (; n >= 64; p += 64, n -= 64) {
    x0 = _mm_xor_si128(Fold(x0, k64), Load(p));
    x1 = _mm_xor_si128(Fold(x1, k64), Load(p + 16));
    x2 = _mm_xor_si128(Fold(x2, k64), Load(p + 32));
    x3 = _mm_xor_si128(Fold(x3, k64), Load(p + 48));
  }
  __m128i x = _mm_xor_si128(Fold(x0, k16), x1);
  x = _mm_xor_si128(Fold(x, k16), x2);
  x = _mm_xor_si128(Fold(x, k16), x3);
  for (; n >= 16; p += 16, n -= 16) x = _mm_xor_si128(Fold(x, k16), Load(p));
  uint8_t rest[16];
  _mm_storeu_si128(reinterpret_cast<__m128i*>(rest), x);
  return table_raw(table_raw(0, rest, sizeof rest), p, n);
}

#else

bool HasClmul() { return false; }
uint64_t Crc64ClmulRaw(uint64_t raw, const uint8_t*, size_t, uint64_t (*)(uint64_t, const uint8_t*, size_t)) {
  return raw;  // never called: HasClmul() is false
}

#endif

}  // namespace ltx::internal
