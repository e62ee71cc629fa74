#include "page_sums.h"

#include <cstring>

#include "litevfs/page_sum.h"
#include "ltx/checksum.h"
#include "ltx/coding.h"

namespace mockcloud {
namespace {

constexpr char kSumsMagic[8] = {'L', 'V', 'M', 'C', 'S', 'U', 'M', '1'};

void EncodeHeader(uint32_t page_size, uint8_t* h) {
  memset(h, 0, kSumsHeaderSize);
  memcpy(h, kSumsMagic, 8);
  ltx::EncodeU32(&h[8], page_size);
  ltx::EncodeU64(&h[56], ltx::Crc64(h, 56));
}

}  // namespace

uint64_t PageSum(uint32_t pgno, const uint8_t* page, size_t page_size) {
  return litevfs::PageSum(pgno, page, page_size);
}

Result<std::vector<uint64_t>> ReadSumsFile(int fd, const std::string& path, uint32_t page_size,
                                           uint32_t commit) {
  uint8_t h[kSumsHeaderSize];
  if (!PreadAll(fd, h, sizeof h, 0).ok()) return Status::Corruption(path + ": short header");
  if (memcmp(h, kSumsMagic, 8) != 0 || ltx::DecodeU64(&h[56]) != ltx::Crc64(h, 56) ||
      ltx::DecodeU32(&h[8]) != page_size) {
    return Status::Corruption(path + ": bad header (magic, checksum or page size)");
  }
  std::vector<uint8_t> raw((size_t(commit) + 1) * 8);
  if (!PreadAll(fd, raw.data(), raw.size(), SumOffset(0)).ok()) {
    return Status::Corruption(path + ": shorter than the " + std::to_string(commit) +
                              " pages of base.db need");
  }
  std::vector<uint64_t> out(size_t(commit) + 1);
  for (size_t i = 0; i < out.size(); i++) out[i] = ltx::DecodeU64(&raw[i * 8]);
  return out;
}

Status WriteSumsWhole(StoreIo* io, int fd, const std::string& path, uint32_t page_size,
                      const std::vector<uint64_t>& sums) {
  std::vector<uint8_t> buf(kSumsHeaderSize + sums.size() * 8);
  EncodeHeader(page_size, buf.data());
  for (size_t i = 0; i < sums.size(); i++) ltx::EncodeU64(&buf[SumOffset(uint32_t(i))], sums[i]);
  LTX_RETURN_IF_ERROR(IoPwriteAll(io, fd, buf.data(), buf.size(), 0, path));
  return IoFtruncate(io, fd, buf.size(), path);
}

Status WriteSumEntries(StoreIo* io, int fd, const std::string& path,
                       const std::vector<uint32_t>& pgnos, const std::vector<uint64_t>& sums) {
  uint8_t e[8];
  for (uint32_t p : pgnos) {
    ltx::EncodeU64(e, sums[p]);
    LTX_RETURN_IF_ERROR(IoPwriteAll(io, fd, e, sizeof e, SumOffset(p), path));
  }
  return Status::OK();
}

}  // namespace mockcloud
