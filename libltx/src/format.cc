// Header/trailer encoding and validation, positions, file names, version names.
#include "ltx/format.h"

#include <cstring>

#include "internal.h"
#include "ltx/coding.h"

namespace ltx {

using internal::Fmt;

const char* VersionName(Version v) {
  switch (v) {
    case Version::kAuto:
      return "auto";
    case Version::kV1:
      return "v1";
    case Version::kV3:
      return "v3";
  }
  return "unknown";
}

Result<Version> ParseVersion(std::string_view s) {
  if (s == "auto") return Version::kAuto;
  if (s == "v1" || s == "1") return Version::kV1;
  if (s == "v3" || s == "3") return Version::kV3;
  return Status::InvalidArgument("ltx: unknown version \"" + std::string(s) +
                                 "\" (want auto, v1 or v3)");
}

std::string FormatTxid(uint64_t txid) { return Fmt("%016llx", (unsigned long long)txid); }
std::string FormatChecksum(uint64_t checksum) {
  return Fmt("%016llx", (unsigned long long)checksum);
}
std::string FormatPos(const Pos& pos) {
  return FormatTxid(pos.txid) + "/" + FormatChecksum(pos.post_apply_checksum);
}
std::string LtxFileName(uint64_t min_txid, uint64_t max_txid) {
  return FormatTxid(min_txid) + "-" + FormatTxid(max_txid) + ".ltx";
}

Result<uint64_t> ParseHex64(std::string_view s) {
  if (s.empty() || s.size() > 16) {
    return Status::InvalidArgument("ltx: invalid hex number \"" + std::string(s) +
                                   "\" (want 1 to 16 hex digits)");
  }
  uint64_t v = 0;
  for (char c : s) {
    unsigned d;
    if (c >= '0' && c <= '9')
      d = unsigned(c - '0');
    else if (c >= 'a' && c <= 'f')
      d = unsigned(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F')
      d = unsigned(c - 'A' + 10);
    else
      return Status::InvalidArgument("ltx: invalid hex number \"" + std::string(s) +
                                     "\" (want 1 to 16 hex digits)");
    v = (v << 4) | d;
  }
  return v;
}

Result<Pos> ParsePos(std::string_view s) {
  if (s.size() != 33 || s[16] != '/') {
    return Status::InvalidArgument("ltx: invalid position \"" + std::string(s) +
                                   "\" (want 16 hex digits '/' 16 hex digits)");
  }
  auto txid = ParseHex64(s.substr(0, 16));
  auto chk = ParseHex64(s.substr(17));
  if (!txid.ok() || !chk.ok()) {
    return Status::InvalidArgument("ltx: invalid position \"" + std::string(s) +
                                   "\" (want 16 hex digits '/' 16 hex digits)");
  }
  return Pos{*txid, *chk};
}

Status Header::Validate() const {
  if ((flags & ~kFlagsMask) != 0) {
    return Status::Corruption(Fmt("ltx: unknown header flags 0x%08x", flags));
  }
  if (!IsValidPageSize(page_size)) {
    return Status::Corruption(Fmt("ltx: bad page size %u", page_size));
  }
  if (min_txid == 0) return Status::Corruption("ltx: min_txid is 0");
  if (min_txid > max_txid) {
    return Status::Corruption(Fmt("ltx: min_txid %016llx > max_txid %016llx",
                                  (unsigned long long)min_txid, (unsigned long long)max_txid));
  }
  if (wal_offset < 0) {
    return Status::Corruption(Fmt("ltx: negative wal_offset %lld", (long long)wal_offset));
  }
  if (wal_size < 0) {
    return Status::Corruption(Fmt("ltx: negative wal_size %lld", (long long)wal_size));
  }
  if ((wal_salt1 != 0 || wal_salt2 != 0) && wal_offset == 0) {
    return Status::Corruption("ltx: wal salt set without wal_offset");
  }
  if (wal_offset == 0 && wal_size != 0) {
    return Status::Corruption("ltx: wal_size set without wal_offset");
  }
  if (IsSnapshot()) {
    if (pre_apply_checksum != 0) {
      return Status::Corruption(Fmt("ltx: snapshot has non-zero pre-apply checksum %016llx",
                                    (unsigned long long)pre_apply_checksum));
    }
  } else if (!HasChecksums()) {
    if (pre_apply_checksum != 0) {
      return Status::Corruption(
          Fmt("ltx: pre-apply checksum %016llx set although the no-checksum flag is set",
              (unsigned long long)pre_apply_checksum));
    }
  } else if ((pre_apply_checksum & kChecksumFlag) == 0) {
    return Status::Corruption(Fmt("ltx: pre-apply checksum %016llx lacks the checksum flag",
                                  (unsigned long long)pre_apply_checksum));
  }
  return Status::OK();
}

void Header::EncodeTo(uint8_t out[kHeaderSize]) const {
  std::memset(out, 0, kHeaderSize);
  std::memcpy(out, kMagic, sizeof(kMagic));
  EncodeU32(out + 4, flags);
  EncodeU32(out + 8, page_size);
  EncodeU32(out + 12, commit);
  EncodeU64(out + 16, min_txid);
  EncodeU64(out + 24, max_txid);
  EncodeU64(out + 32, uint64_t(timestamp));
  EncodeU64(out + 40, pre_apply_checksum);
  EncodeU64(out + 48, uint64_t(wal_offset));
  EncodeU64(out + 56, uint64_t(wal_size));
  EncodeU32(out + 64, wal_salt1);
  EncodeU32(out + 68, wal_salt2);
  EncodeU64(out + 72, node_id);
  // 80..99 reserved, zero.
}

Result<Header> Header::Decode(std::span<const uint8_t> in) {
  if (in.size() < kHeaderSize) {
    return Status::Corruption(
        Fmt("ltx: header too short: %zu bytes, want %zu", in.size(), kHeaderSize));
  }
  if (std::memcmp(in.data(), kMagic, sizeof(kMagic)) != 0) {
    return Status::Corruption("ltx: bad magic (not an LTX file)");
  }
  const uint8_t* p = in.data();
  Header h;
  h.flags = DecodeU32(p + 4);
  h.page_size = DecodeU32(p + 8);
  h.commit = DecodeU32(p + 12);
  h.min_txid = DecodeU64(p + 16);
  h.max_txid = DecodeU64(p + 24);
  h.timestamp = int64_t(DecodeU64(p + 32));
  h.pre_apply_checksum = DecodeU64(p + 40);
  h.wal_offset = int64_t(DecodeU64(p + 48));
  h.wal_size = int64_t(DecodeU64(p + 56));
  h.wal_salt1 = DecodeU32(p + 64);
  h.wal_salt2 = DecodeU32(p + 68);
  h.node_id = DecodeU64(p + 72);
  return h;
}

void Trailer::EncodeTo(uint8_t out[kTrailerSize]) const {
  EncodeU64(out, post_apply_checksum);
  EncodeU64(out + 8, file_checksum);
}

Result<Trailer> Trailer::Decode(std::span<const uint8_t> in) {
  if (in.size() < kTrailerSize) {
    return Status::Corruption(
        Fmt("ltx: trailer too short: %zu bytes, want %zu", in.size(), kTrailerSize));
  }
  Trailer t;
  t.post_apply_checksum = DecodeU64(in.data());
  t.file_checksum = DecodeU64(in.data() + 8);
  return t;
}

}  // namespace ltx
