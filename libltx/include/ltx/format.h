// The LTX file format: byte layout, constants and the header/position value types.
//
// Layout (all integers big-endian):
//   header   100 bytes
//     0 magic "LTX1" | 4 flags u32 | 8 page_size u32 | 12 commit u32 (db pages after apply)
//     16 min_txid u64 | 24 max_txid u64 | 32 timestamp i64 (ms) | 40 pre_apply_checksum u64
//     48 wal_offset i64 | 56 wal_size i64 | 64 wal_salt1 u32 | 68 wal_salt2 u32
//     72 node_id u64 | 80 reserved[20] = 0
//   v1: frames (pgno u32 ‖ page) ... zero pgno (4 bytes); with flag kFlagCompressLZ4 the
//       whole block between header and trailer is one LZ4 frame.
//   v3: frames (pgno u32 ‖ flags u16 = 0x0001 ‖ csize u32 ‖ LZ4 block) ... zero header
//       (6 bytes), page index (uvarint pgno, offset, size ... 0), index size u64.
//       Offsets are absolute (of the frame header), sizes cover header + block; the index
//       size counts the uvarints and the 0 terminator, not itself. No header flag marks
//       compression in v3 (Go's mask is 0x2 only). ltx v0.5.0 wrote flags 0x0000 with one
//       LZ4 frame per page instead (no csize); decoders read both, encoders write 0x0001.
//   trailer  16 bytes: post_apply_checksum u64 | file_checksum u64
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "ltx/status.h"

namespace ltx {

inline constexpr char kMagic[4] = {'L', 'T', 'X', '1'};
inline constexpr size_t kHeaderSize = 100;
inline constexpr size_t kTrailerSize = 16;
inline constexpr size_t kV1PageHeaderSize = 4;
inline constexpr size_t kV3PageHeaderSize = 10;  // pgno u32, flags u16, csize u32
inline constexpr size_t kV3EndHeaderSize = 6;    // zero pgno u32 + zero flags u16
inline constexpr uint16_t kV3PageFlagLZ4 = 0x0001;

inline constexpr uint32_t kFlagCompressLZ4 = 0x1;   // v1 only: one LZ4 frame between header and trailer
inline constexpr uint32_t kFlagNoChecksum = 0x2;    // pre/post-apply checksums are 0
inline constexpr uint32_t kFlagsMask = kFlagCompressLZ4 | kFlagNoChecksum;

inline constexpr uint32_t kMinPageSize = 512;
inline constexpr uint32_t kMaxPageSize = 65536;

inline constexpr uint64_t kChecksumFlag = uint64_t{1} << 63;
inline constexpr uint64_t kEmptyDatabaseChecksum = kChecksumFlag;

enum class Version { kAuto, kV1, kV3 };
const char* VersionName(Version v);                        // "auto" | "v1" | "v3"
Result<Version> ParseVersion(std::string_view s);          // accepts auto, v1, v3, 1, 3

inline bool IsValidPageSize(uint32_t n) {
  return n >= kMinPageSize && n <= kMaxPageSize && (n & (n - 1)) == 0;
}
// The page that holds SQLite's byte-range locks (offset 1 GiB): never stored, never checksummed.
inline uint32_t LockPgno(uint32_t page_size) { return uint32_t(0x40000000u / page_size) + 1; }

// A database position: the TXID of the last transaction applied and the database checksum
// after it. {0,0} means "none".
struct Pos {
  uint64_t txid = 0;
  uint64_t post_apply_checksum = 0;
  bool IsZero() const { return txid == 0 && post_apply_checksum == 0; }
  friend bool operator==(const Pos&, const Pos&) = default;
};
std::string FormatTxid(uint64_t txid);                     // "%016x"
std::string FormatChecksum(uint64_t checksum);             // "%016x"
std::string FormatPos(const Pos& pos);                     // "%016x/%016x"
Result<Pos> ParsePos(std::string_view s);                  // inverse of FormatPos, strict
Result<uint64_t> ParseHex64(std::string_view s);           // 1..16 lowercase/uppercase hex digits
std::string LtxFileName(uint64_t min_txid, uint64_t max_txid);  // "%016x-%016x.ltx"

struct Header {
  uint32_t flags = 0;
  uint32_t page_size = 0;
  uint32_t commit = 0;
  uint64_t min_txid = 0;
  uint64_t max_txid = 0;
  int64_t timestamp = 0;
  uint64_t pre_apply_checksum = 0;
  int64_t wal_offset = 0;
  int64_t wal_size = 0;
  uint32_t wal_salt1 = 0;
  uint32_t wal_salt2 = 0;
  uint64_t node_id = 0;

  bool IsSnapshot() const { return min_txid == 1; }
  bool HasChecksums() const { return (flags & kFlagNoChecksum) == 0; }
  Pos PreApplyPos() const { return {min_txid - 1, pre_apply_checksum}; }

  // Checks every rule of the header alone (magic is checked by Decode), in this order:
  // flags ("ltx: unknown header flags 0x%08x"), page size, min_txid 0, min > max, WAL
  // fields (as Go validates them), snapshot pre-apply 0, no-checksum pre-apply 0,
  // non-snapshot pre-apply carrying kChecksumFlag. Returns kCorruption; messages are stable.
  Status Validate() const;
  void EncodeTo(uint8_t out[kHeaderSize]) const;
  // Fails on short input or bad magic; does not Validate().
  static Result<Header> Decode(std::span<const uint8_t> in);
  friend bool operator==(const Header&, const Header&) = default;
};

struct Trailer {
  uint64_t post_apply_checksum = 0;
  uint64_t file_checksum = 0;
  void EncodeTo(uint8_t out[kTrailerSize]) const;
  static Result<Trailer> Decode(std::span<const uint8_t> in);
};

}  // namespace ltx
