// libFuzzer target for the LTX decoder: every byte string must decode to OK or to an error,
// never crash, hang or read out of bounds, under automatic detection and forced v1/v3,
// and the v3 page index loader and random-access reader must be equally robust.
//
// Random bytes almost never carry a valid file checksum, which would hide everything the
// decoder checks after it. So when decoding fails only on a checksum, the target patches in
// the value the decoder computed (its error message names it) and decodes again, reaching
// the post-apply rules with mutated files.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "ltx/coding.h"
#include "ltx/decoder.h"
#include "ltx/io.h"

namespace {

// Decodes everything; returns the final status.
ltx::Status DecodeAll(std::span<const uint8_t> data, ltx::Version v) {
  ltx::DecodeOptions o;
  o.version = v;
  auto dec = ltx::Decoder::Open(ltx::MemorySource(data), o);
  if (!dec.ok()) return dec.status();
  const ltx::Header& h = (*dec)->header();
  ltx::PageFrame f;
  // Pages are bounded by the input size, so this loop ends.
  for (;;) {
    auto more = (*dec)->Next(&f);
    if (!more.ok()) return more.status();
    if (!*more) break;
    if (f.data.size() != h.page_size) __builtin_trap();
    volatile uint8_t sink = f.data[0] ^ f.data[f.data.size() - 1];
    (void)sink;
  }
  ltx::Status s = (*dec)->Finish();
  if (s.ok() && (*dec)->bytes_read() != data.size()) __builtin_trap();  // trailing bytes accepted
  return s;
}

// If `msg` reports a checksum the decoder computed, returns true with the value and where
// it goes (offset from the end of the file).
bool ComputedChecksum(const std::string& msg, uint64_t* value, size_t* from_end) {
  static const struct {
    const char* prefix;
    const char* marker;
    size_t from_end;
  } kFixes[] = {
      {"ltx: file checksum mismatch", "computed ", 8},
      {"ltx: snapshot post-apply checksum mismatch", "pages give ", 16},
  };
  for (const auto& f : kFixes) {
    if (msg.rfind(f.prefix, 0) != 0) continue;
    size_t at = msg.find(f.marker);
    if (at == std::string::npos) return false;
    auto v = ltx::ParseHex64(std::string_view(msg).substr(at + strlen(f.marker), 16));
    if (!v.ok()) return false;
    *value = *v;
    *from_end = f.from_end;
    return true;
  }
  return false;
}

void DecodeFixingChecksums(std::span<const uint8_t> data, ltx::Version v) {
  ltx::Status s = DecodeAll(data, v);
  std::vector<uint8_t> copy;
  for (int round = 0; round < 4 && !s.ok(); round++) {
    uint64_t value;
    size_t from_end;
    if (!ComputedChecksum(s.message(), &value, &from_end) || data.size() < from_end) return;
    if (copy.empty()) copy.assign(data.begin(), data.end());
    ltx::EncodeU64(copy.data() + copy.size() - from_end, value);
    s = DecodeAll(copy, v);
  }
}

void LoadIndex(std::span<const uint8_t> data) {
  auto hdr = ltx::Header::Decode(data);
  if (!hdr.ok()) return;
  auto src = ltx::MemorySource(data);
  auto idx = ltx::V3Index::Load(src.get(), *hdr);
  if (!idx.ok()) return;
  std::vector<uint8_t> page(hdr->page_size);
  size_t n = 0;
  for (const auto& e : idx->entries()) {
    (void)idx->ReadPage(src.get(), e.pgno, page);
    if (++n >= 64) break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  DecodeFixingChecksums(in, ltx::Version::kAuto);
  DecodeFixingChecksums(in, ltx::Version::kV1);
  DecodeFixingChecksums(in, ltx::Version::kV3);
  LoadIndex(in);
  return 0;
}
