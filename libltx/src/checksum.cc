// CRC-64/ISO, slicing-by-8 (Go's hash/crc64 with crc64.ISO gives identical values), and the
// page and database checksums built on it.
#include "ltx/checksum.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "crc64_clmul.h"
#include "internal.h"
#include "ltx/coding.h"
#include "ltx/fd_io.h"

namespace ltx {
namespace {

constexpr uint64_t kIsoPolyReflected = 0xD800000000000000ull;

using Tables = std::array<std::array<uint64_t, 256>, 8>;

constexpr Tables MakeTables() {
  Tables t{};
  for (unsigned i = 0; i < 256; i++) {
    uint64_t crc = i;
    for (int j = 0; j < 8; j++) crc = (crc & 1) ? (crc >> 1) ^ kIsoPolyReflected : crc >> 1;
    t[0][i] = crc;
  }
  for (unsigned i = 0; i < 256; i++) {
    for (int k = 1; k < 8; k++) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xff];
  }
  return t;
}

constexpr Tables kTables = MakeTables();
static_assert(kTables[0][1] != 0, "CRC table generated");

inline uint64_t LoadLE64(const uint8_t* p) {
  if constexpr (std::endian::native == std::endian::little) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
  } else {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
  }
}

}  // namespace

namespace {

// The table code on the raw (not inverted) state. Raw table pointers keep it free of
// function calls even in unoptimised (Debug/ASan) builds.
uint64_t TableRaw(uint64_t crc, const uint8_t* p, size_t n) {
  const uint64_t* t0 = kTables[0].data();
  const uint64_t* t1 = kTables[1].data();
  const uint64_t* t2 = kTables[2].data();
  const uint64_t* t3 = kTables[3].data();
  const uint64_t* t4 = kTables[4].data();
  const uint64_t* t5 = kTables[5].data();
  const uint64_t* t6 = kTables[6].data();
  const uint64_t* t7 = kTables[7].data();
  while (n >= 8) {
    crc ^= LoadLE64(p);
    crc = t7[crc & 0xff] ^ t6[(crc >> 8) & 0xff] ^ t5[(crc >> 16) & 0xff] ^ t4[(crc >> 24) & 0xff] ^
          t3[(crc >> 32) & 0xff] ^ t2[(crc >> 40) & 0xff] ^ t1[(crc >> 48) & 0xff] ^ t0[crc >> 56];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) crc = t0[(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return crc;
}

}  // namespace

// The hot loop of the whole library (every byte of every file and page passes through it):
// carry-less multiplication where the CPU has it (crc64_clmul.h), else slicing-by-8.
uint64_t Crc64Update(uint64_t crc, const void* data, size_t n) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  if (n >= internal::kClmulMinBytes && internal::HasClmul()) {
    return ~internal::Crc64ClmulRaw(~crc, p, n, &TableRaw);
  }
  return ~TableRaw(~crc, p, n);
}

// For the tests: the table code alone, whatever the CPU.
uint64_t Crc64UpdateTable(uint64_t crc, const void* data, size_t n) {
  return ~TableRaw(~crc, static_cast<const uint8_t*>(data), n);
}

uint64_t Crc64(const void* data, size_t n) { return Crc64Update(Crc64Init(), data, n); }

uint64_t PageChecksum(uint32_t pgno, std::span<const uint8_t> page) {
  uint8_t b[4];
  EncodeU32(b, pgno);
  uint64_t crc = Crc64Update(Crc64Init(), b, sizeof(b));
  crc = Crc64Update(crc, page.data(), page.size());
  return kChecksumFlag | crc;
}

namespace {

// The raw CRC state after `n` zero bytes, as a function of the state before: linear over
// GF(2), so eight 256-entry tables (one per byte of the state) give it in eight lookups.
// This is how a CRC of some bytes is moved past more bytes without reading them again.
class ZeroBytes {
 public:
  explicit ZeroBytes(size_t n) {
    static constexpr std::array<uint8_t, 4096> kZeros{};
    uint64_t basis[64];
    for (int i = 0; i < 64; i++) {
      uint64_t s = uint64_t{1} << i;
      for (size_t left = n; left > 0;) {
        const size_t k = std::min(left, kZeros.size());
        s = TableRaw(s, kZeros.data(), k);
        left -= k;
      }
      basis[i] = s;
    }
    for (int k = 0; k < 8; k++) {
      t_[k][0] = 0;
      for (unsigned v = 1; v < 256; v++) {
        t_[k][v] = t_[k][v & (v - 1)] ^ basis[8 * k + std::countr_zero(v)];
      }
    }
  }
  uint64_t Apply(uint64_t s) const {
    uint64_t r = 0;
    for (int k = 0; k < 8; k++) r ^= t_[k][(s >> (8 * k)) & 0xff];
    return r;
  }

 private:
  Tables t_;
};

// One operator per length asked for (the page sizes of this process), built once.
const ZeroBytes& ZeroBytesOf(size_t n) {
  thread_local size_t last_n = 0;
  thread_local const ZeroBytes* last = nullptr;
  if (last && last_n == n) return *last;
  static std::mutex mu;  // guards ops
  static std::map<size_t, std::unique_ptr<const ZeroBytes>> ops;
  std::lock_guard lock(mu);
  auto& op = ops[n];
  if (!op) op = std::make_unique<const ZeroBytes>(n);
  last_n = n;
  last = op.get();
  return *last;
}

}  // namespace

uint64_t PageChecksumAndUpdate(uint32_t pgno, std::span<const uint8_t> page, uint64_t* crc) {
  uint8_t b[4];
  EncodeU32(b, pgno);
  const uint64_t after_pgno = ~Crc64Update(Crc64Init(), b, sizeof(b));  // raw state
  const uint64_t c = Crc64Update(~after_pgno, page.data(), page.size());
  // Raw states: c's is Z(after_pgno) ^ R and the running one's would be Z(~*crc) ^ R, with
  // R the page's own part (Z: page.size() zero bytes). So the running CRC is c's, moved.
  *crc = c ^ ZeroBytesOf(page.size()).Apply(~*crc ^ after_pgno);
  return kChecksumFlag | c;
}

uint64_t ChecksumDatabaseImage(std::span<const uint8_t> image, uint32_t page_size) {
  assert(page_size > 0);  // callers pass a validated page size
  DatabaseChecksum chk;
  const uint32_t lock = LockPgno(page_size);
  const size_t npages = image.size() / page_size;
  for (size_t i = 0; i < npages; i++) {
    const uint32_t pgno = uint32_t(i + 1);
    if (pgno == lock) continue;
    chk.Toggle(PageChecksum(pgno, image.subspan(i * page_size, page_size)));
  }
  return chk.value();
}

Result<uint64_t> ChecksumDatabaseFile(const std::string& path, uint32_t page_size) {
  using internal::Fmt;
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int e = errno;
    std::string msg = "ltx: open " + path + ": " + std::strerror(e);
    return e == ENOENT ? Status::NotFound(msg) : Status::IOError(msg);
  }
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};

  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return Status::IOError("ltx: stat " + path + ": " + std::strerror(errno));
  }
  const uint64_t size = uint64_t(st.st_size);
  if (size == 0) return kEmptyDatabaseChecksum;

  auto pread_full = [&](void* buf, size_t n, uint64_t off) -> Result<size_t> {
    const ssize_t got = PreadFull(fd, buf, n, off);
    if (got < 0) return Status::IOError("ltx: read " + path + ": " + std::strerror(int(-got)));
    return size_t(got);
  };

  if (page_size == 0) {
    uint8_t hdr[100];
    LTX_ASSIGN_OR_RETURN(size_t got, pread_full(hdr, sizeof(hdr), 0));
    if (got < sizeof(hdr)) {
      return Status::Corruption(
          Fmt("ltx: %s: database too short for a SQLite header (%zu bytes)", path.c_str(), got));
    }
    uint32_t ps = DecodeU16(hdr + 16);
    page_size = ps == 1 ? 65536 : ps;
  }
  if (!IsValidPageSize(page_size)) {
    return Status::Corruption(Fmt("ltx: %s: bad database page size %u", path.c_str(), page_size));
  }
  if (size % page_size != 0) {
    return Status::Corruption(Fmt("ltx: %s: database size %llu is not a multiple of page size %u",
                                  path.c_str(), (unsigned long long)size, page_size));
  }

  // Stream in bounded chunks (whole pages).
  const size_t chunk_pages = std::max<size_t>(1, (1u << 20) / page_size);
  std::vector<uint8_t> buf(chunk_pages * page_size);
  const uint32_t lock = LockPgno(page_size);
  DatabaseChecksum chk;
  uint64_t off = 0;
  while (off < size) {
    size_t want = size_t(std::min<uint64_t>(buf.size(), size - off));
    LTX_ASSIGN_OR_RETURN(size_t got, pread_full(buf.data(), want, off));
    if (got != want) {
      return Status::IOError("ltx: " + path + ": file shrank while reading");
    }
    for (size_t i = 0; i < got / page_size; i++) {
      uint32_t pgno = uint32_t(off / page_size + i + 1);
      if (pgno == lock) continue;
      chk.Toggle(
          PageChecksum(pgno, std::span<const uint8_t>(buf.data() + i * page_size, page_size)));
    }
    off += got;
  }
  return chk.value();
}

}  // namespace ltx
