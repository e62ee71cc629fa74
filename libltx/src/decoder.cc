// Streaming LTX decoder (v1 plain, v1 with one LZ4 frame, v3 with per-page LZ4 blocks or
// the older per-page LZ4 frames of ltx v0.5.0) and v3 random access through the page index.
//
// The decoder never holds more than one page (plus one compressed page and a fixed read
// buffer). The file checksum is computed over the logical stream exactly as Go's
// superfly/ltx does: header, each page header (v3: including the 4-byte size) followed by
// the uncompressed page, the end-of-pages header, (v3) the index bytes and index size, and
// the post-apply checksum.
#include "ltx/decoder.h"

#include <lz4.h>
#include <lz4frame.h>

#include <algorithm>
#include <cstring>

#include "internal.h"
#include "ltx/checksum.h"
#include "ltx/coding.h"

namespace ltx {

using internal::BufReader;
using internal::Fmt;

namespace {

constexpr uint8_t kLz4FrameMagic[4] = {0x04, 0x22, 0x4D, 0x18};  // 0x184D2204 little-endian
constexpr size_t kMaxCompressedPage = LZ4_COMPRESSBOUND(kMaxPageSize);
// Initial read buffer; it grows only when version detection peeks at a large v3 frame.
constexpr size_t kReadBufferSize = 16 * 1024;

struct DctxDeleter {
  void operator()(LZ4F_dctx* d) const { LZ4F_freeDecompressionContext(d); }
};
using DctxPtr = std::unique_ptr<LZ4F_dctx, DctxDeleter>;

Result<DctxPtr> NewDctx() {
  LZ4F_dctx* d = nullptr;
  size_t r = LZ4F_createDecompressionContext(&d, LZ4F_VERSION);
  if (LZ4F_isError(r)) {
    return Status::ResourceExhausted(
        Fmt("ltx: cannot create LZ4 context: %s", LZ4F_getErrorName(r)));
  }
  return DctxPtr(d);
}

uint32_t NextExpectedPgno(uint64_t prev, uint32_t lock) {
  uint64_t n = prev + 1;
  if (n == lock) n++;
  return n > UINT32_MAX ? UINT32_MAX : uint32_t(n);
}

// Decompresses one complete LZ4 frame held in memory into exactly out.size() bytes.
Status DecompressWholeFrame(LZ4F_dctx* dctx, std::span<const uint8_t> in, std::span<uint8_t> out,
                            uint32_t pgno) {
  LZ4F_resetDecompressionContext(dctx);
  size_t in_pos = 0, out_pos = 0;
  for (;;) {
    size_t dst = out.size() - out_pos, src = in.size() - in_pos;
    uint8_t spare[1];
    uint8_t* dptr = dst > 0 ? out.data() + out_pos : spare;
    if (dst == 0) dst = sizeof(spare);
    size_t r = LZ4F_decompress(dctx, dptr, &dst, in.data() + in_pos, &src, nullptr);
    if (LZ4F_isError(r)) {
      return Status::Corruption(
          Fmt("ltx: LZ4 decompression failed for page %u: %s", pgno, LZ4F_getErrorName(r)));
    }
    in_pos += src;
    if (dptr == spare && dst > 0) {
      return Status::Corruption(Fmt("ltx: LZ4 frame of page %u holds more than a page", pgno));
    }
    if (dptr != spare) out_pos += dst;
    if (r == 0) break;
    if (src == 0 && dst == 0) {
      return Status::Corruption(Fmt("ltx: LZ4 frame of page %u is truncated", pgno));
    }
  }
  if (out_pos != out.size()) {
    return Status::Corruption(
        Fmt("ltx: LZ4 frame of page %u holds %zu bytes, want %zu", pgno, out_pos, out.size()));
  }
  if (in_pos != in.size()) {
    return Status::Corruption(Fmt("ltx: unexpected bytes after the LZ4 frame of page %u", pgno));
  }
  return Status::OK();
}

enum class Mode { kV1Plain, kV1Lz4, kV3 };

class DecoderImpl final : public Decoder {
 public:
  DecoderImpl(std::unique_ptr<Source> src)
      : src_(std::move(src)), in_(src_.get(), kReadBufferSize) {}

  Status Init(const DecodeOptions& opts);

  const Header& header() const override { return header_; }
  Version version() const override { return version_; }
  Result<bool> Next(PageFrame* frame) override;
  Status Finish() override;
  const Trailer& trailer() const override { return trailer_; }
  uint64_t page_count() const override { return pages_; }
  uint64_t bytes_read() const override { return in_.offset(); }

 private:
  enum class State { kPages, kEnd, kDone, kFailed };

  Status Fail(Status s) {
    state_ = State::kFailed;
    failure_ = s;
    return s;
  }
  Status Truncated(const char* what) const {
    return Status::Corruption(Fmt("ltx: truncated file at offset %llu (reading %s)",
                                  (unsigned long long)in_.offset(), what));
  }
  Result<Version> Detect();
  // Raw bytes of the file.
  Status ReadRaw(void* dst, size_t n, const char* what) {
    size_t got;
    LTX_RETURN_IF_ERROR(in_.Read(dst, n, &got));
    if (got < n) return Truncated(what);
    return Status::OK();
  }
  // Decompressed bytes out of the current LZ4 frame.
  Status ReadLz4(uint8_t* dst, size_t n, const char* what);
  // Requires the current LZ4 frame to end here.
  Status ExpectLz4End(const char* what);
  // v1 page-block bytes (plain or through the LZ4 frame).
  Status ReadV1(uint8_t* dst, size_t n, const char* what) {
    return mode_ == Mode::kV1Lz4 ? ReadLz4(dst, n, what) : ReadRaw(dst, n, what);
  }
  void Hash(const void* p, size_t n) { crc_ = Crc64Update(crc_, p, n); }
  // The file CRC over the page just read, and the page's checksum from the same pass.
  uint64_t HashPage(uint32_t pgno) {
    const uint64_t c = PageChecksumAndUpdate(pgno, page_, &crc_);
    if (header_.IsSnapshot() && header_.HasChecksums()) snapshot_chk_.Toggle(c);
    return c;
  }
  Status CheckPgno(uint32_t pgno) const;
  Status EndOfPages();
  Result<bool> NextV1(PageFrame* frame);
  Result<bool> NextV3(PageFrame* frame);
  Status ReadIndex();
  Status ReadUvarint(uint64_t* v, std::string* raw);

  std::unique_ptr<Source> src_;
  BufReader in_;
  Header header_;
  Version version_ = Version::kV1;
  Mode mode_ = Mode::kV1Plain;
  Trailer trailer_;
  State state_ = State::kPages;
  Status failure_;
  uint64_t crc_ = Crc64Init();
  DatabaseChecksum snapshot_chk_;
  std::vector<uint8_t> page_;
  std::vector<uint8_t> comp_;
  DctxPtr dctx_;
  bool lz4_frame_done_ = false;
  uint32_t prev_pgno_ = 0;
  uint32_t lock_pgno_ = 0;
  uint64_t pages_ = 0;
  std::string expected_index_;  // v3: the index the frames imply, uvarint-encoded
};

Status DecoderImpl::Init(const DecodeOptions& opts) {
  LTX_RETURN_IF_ERROR(in_.Fill(kHeaderSize));
  LTX_ASSIGN_OR_RETURN(header_,
                       Header::Decode(std::span<const uint8_t>(in_.data(), in_.buffered())));
  LTX_RETURN_IF_ERROR(header_.Validate());
  Hash(in_.data(), kHeaderSize);
  in_.Consume(kHeaderSize);
  lock_pgno_ = LockPgno(header_.page_size);

  if (opts.version == Version::kAuto) {
    LTX_ASSIGN_OR_RETURN(version_, Detect());
  } else {
    version_ = opts.version;
  }
  if (version_ == Version::kV3) {
    if (header_.flags & kFlagCompressLZ4) {
      return Status::Corruption("ltx: header flag 0x00000001 (LZ4 frame) is not valid in v3");
    }
    mode_ = Mode::kV3;
    comp_.resize(size_t(LZ4_compressBound(int(header_.page_size))));
  } else {
    mode_ = (header_.flags & kFlagCompressLZ4) ? Mode::kV1Lz4 : Mode::kV1Plain;
  }
  if (mode_ == Mode::kV1Lz4) {
    LTX_RETURN_IF_ERROR(in_.Fill(sizeof(kLz4FrameMagic)));
    if (in_.buffered() < sizeof(kLz4FrameMagic)) return Truncated("LZ4 frame header");
    if (std::memcmp(in_.data(), kLz4FrameMagic, sizeof(kLz4FrameMagic)) != 0) {
      return Status::Corruption("ltx: LZ4 flag set but no LZ4 frame follows the header");
    }
  }
  if (mode_ != Mode::kV1Plain) {
    LTX_ASSIGN_OR_RETURN(dctx_, NewDctx());
  }
  if (header_.HasChecksums() && header_.IsSnapshot()) snapshot_chk_ = DatabaseChecksum();
  page_.resize(header_.page_size);
  return Status::OK();
}

// The format has no version field. v1 with LZ4 sets header flag 0x1 (which v3 forbids).
// Otherwise look at what follows the header:
//  - a zero page number: v1 ends with 4 zero bytes and the trailer, whose file checksum
//    has its top bit set; v3 ends with 6 zero bytes, a zero index terminator and the index
//    size 1, i.e. bytes 4..14 are 00 00 00 00 00 00 00 00 00 00 01.
//  - a page: v3 frames carry flags 0x0001 and a compressed size whose LZ4 block must
//    decompress to exactly one page (a v1 page that happens to begin 00 01 would have to
//    pass that too), or flags 0x0000 followed by an LZ4 frame magic (ltx v0.5.0).
Result<Version> DecoderImpl::Detect() {
  if (header_.flags & kFlagCompressLZ4) return Version::kV1;
  LTX_RETURN_IF_ERROR(in_.Fill(kV3PageHeaderSize));
  const uint8_t* p = in_.data();
  size_t n = in_.buffered();
  if (n < 4) return Version::kV1;  // truncated either way; v1 reports it
  uint32_t pgno = DecodeU32(p);
  if (pgno == 0) {
    LTX_RETURN_IF_ERROR(in_.Fill(16));
    p = in_.data();
    n = in_.buffered();
    static constexpr uint8_t kV3EmptyTail[11] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (n >= 15 && std::memcmp(p + 4, kV3EmptyTail, sizeof(kV3EmptyTail)) == 0) {
      return Version::kV3;
    }
    return Version::kV1;
  }
  if (n < 6) return Version::kV1;
  uint16_t flags = DecodeU16(p + 4);
  if (flags == kV3PageFlagLZ4) {
    if (n < kV3PageHeaderSize) return Version::kV3;
    uint32_t csize = DecodeU32(p + 6);
    if (csize == 0 || csize > uint32_t(LZ4_compressBound(int(header_.page_size))))
      return Version::kV1;
    LTX_RETURN_IF_ERROR(in_.Fill(kV3PageHeaderSize + csize));
    p = in_.data();
    if (in_.buffered() < kV3PageHeaderSize + csize) return Version::kV3;  // truncated v3
    std::vector<uint8_t> tmp(header_.page_size);
    int r = LZ4_decompress_safe(reinterpret_cast<const char*>(p + kV3PageHeaderSize),
                                reinterpret_cast<char*>(tmp.data()), int(csize),
                                int(header_.page_size));
    return r == int(header_.page_size) ? Version::kV3 : Version::kV1;
  }
  if (flags == 0) {
    LTX_RETURN_IF_ERROR(in_.Fill(6 + sizeof(kLz4FrameMagic)));
    if (in_.buffered() >= 6 + sizeof(kLz4FrameMagic) &&
        std::memcmp(in_.data() + 6, kLz4FrameMagic, sizeof(kLz4FrameMagic)) == 0) {
      return Version::kV3;
    }
  }
  return Version::kV1;
}

Status DecoderImpl::ReadLz4(uint8_t* dst, size_t n, const char* what) {
  size_t got = 0;
  int stalls = 0;
  while (got < n) {
    if (lz4_frame_done_) {
      return Status::Corruption(Fmt("ltx: LZ4 frame ended early (reading %s)", what));
    }
    LTX_RETURN_IF_ERROR(in_.FillSome());
    if (in_.buffered() == 0) return Truncated(what);
    size_t dst_size = n - got, src_size = in_.buffered();
    size_t r = LZ4F_decompress(dctx_.get(), dst + got, &dst_size, in_.data(), &src_size, nullptr);
    if (LZ4F_isError(r)) {
      return Status::Corruption(Fmt("ltx: LZ4 decompression failed at offset %llu: %s",
                                    (unsigned long long)in_.offset(), LZ4F_getErrorName(r)));
    }
    in_.Consume(src_size);
    got += dst_size;
    if (r == 0) lz4_frame_done_ = true;
    if (src_size == 0 && dst_size == 0 && ++stalls > 4) {
      return Status::Corruption(Fmt("ltx: LZ4 decompression stalled (reading %s)", what));
    }
  }
  return Status::OK();
}

Status DecoderImpl::ExpectLz4End(const char* what) {
  int stalls = 0;
  while (!lz4_frame_done_) {
    LTX_RETURN_IF_ERROR(in_.FillSome());
    if (in_.buffered() == 0) return Truncated(what);
    uint8_t spare[1];
    size_t dst_size = sizeof(spare), src_size = in_.buffered();
    size_t r = LZ4F_decompress(dctx_.get(), spare, &dst_size, in_.data(), &src_size, nullptr);
    if (LZ4F_isError(r)) {
      return Status::Corruption(Fmt("ltx: LZ4 decompression failed at offset %llu: %s",
                                    (unsigned long long)in_.offset(), LZ4F_getErrorName(r)));
    }
    in_.Consume(src_size);
    if (dst_size > 0) {
      return Status::Corruption(Fmt("ltx: unexpected data in the LZ4 frame after %s", what));
    }
    if (r == 0) lz4_frame_done_ = true;
    if (src_size == 0 && ++stalls > 4) {
      return Status::Corruption(Fmt("ltx: LZ4 decompression stalled (reading %s)", what));
    }
  }
  return Status::OK();
}

Status DecoderImpl::CheckPgno(uint32_t pgno) const {
  if (prev_pgno_ != 0 && pgno <= prev_pgno_) {
    if (pgno == prev_pgno_) return Status::Corruption(Fmt("ltx: duplicate page %u", pgno));
    return Status::Corruption(Fmt("ltx: page %u out of order after page %u", pgno, prev_pgno_));
  }
  if (pgno > header_.commit) {
    return Status::Corruption(Fmt("ltx: page %u beyond commit %u", pgno, header_.commit));
  }
  if (pgno == lock_pgno_) return Status::Corruption(Fmt("ltx: lock page %u present", pgno));
  if (header_.IsSnapshot()) {
    uint32_t want = NextExpectedPgno(prev_pgno_, lock_pgno_);
    if (pgno != want) return Status::Corruption(Fmt("ltx: snapshot missing page %u", want));
  }
  return Status::OK();
}

Status DecoderImpl::EndOfPages() {
  if (header_.IsSnapshot()) {
    uint32_t want = NextExpectedPgno(prev_pgno_, lock_pgno_);
    // (the second test guards the clamp in NextExpectedPgno when prev is UINT32_MAX)
    if (want <= header_.commit && uint64_t(prev_pgno_) + 1 <= header_.commit) {
      return Status::Corruption(Fmt("ltx: snapshot missing page %u", want));
    }
  }
  state_ = State::kEnd;
  return Status::OK();
}

Result<bool> DecoderImpl::Next(PageFrame* frame) {
  if (state_ == State::kFailed) return failure_;
  if (state_ != State::kPages) return false;
  Result<bool> r = mode_ == Mode::kV3 ? NextV3(frame) : NextV1(frame);
  if (!r.ok()) return Fail(r.status());
  return r;
}

Result<bool> DecoderImpl::NextV1(PageFrame* frame) {
  uint8_t hdr[kV1PageHeaderSize];
  LTX_RETURN_IF_ERROR(ReadV1(hdr, sizeof(hdr), "page header"));
  Hash(hdr, sizeof(hdr));
  uint32_t pgno = DecodeU32(hdr);
  if (pgno == 0) {
    if (mode_ == Mode::kV1Lz4) LTX_RETURN_IF_ERROR(ExpectLz4End("the end of the page block"));
    LTX_RETURN_IF_ERROR(EndOfPages());
    return false;
  }
  LTX_RETURN_IF_ERROR(CheckPgno(pgno));
  LTX_RETURN_IF_ERROR(ReadV1(page_.data(), page_.size(), "page data"));
  frame->checksum = HashPage(pgno);
  prev_pgno_ = pgno;
  pages_++;
  frame->pgno = pgno;
  frame->data = page_;
  return true;
}

Result<bool> DecoderImpl::NextV3(PageFrame* frame) {
  const uint64_t frame_offset = in_.offset();
  uint8_t hdr[kV3PageHeaderSize];
  LTX_RETURN_IF_ERROR(ReadRaw(hdr, kV3EndHeaderSize, "page header"));
  Hash(hdr, kV3EndHeaderSize);
  uint32_t pgno = DecodeU32(hdr);
  uint16_t flags = DecodeU16(hdr + 4);
  if (pgno == 0) {
    if (flags != 0) {
      return Status::Corruption(Fmt("ltx: end-of-pages header has flags 0x%04x", flags));
    }
    LTX_RETURN_IF_ERROR(EndOfPages());
    return false;
  }
  if (flags != kV3PageFlagLZ4 && flags != 0) {
    return Status::Corruption(
        Fmt("ltx: page %u has unknown page header flags 0x%04x", pgno, flags));
  }
  LTX_RETURN_IF_ERROR(CheckPgno(pgno));
  if (flags == kV3PageFlagLZ4) {
    LTX_RETURN_IF_ERROR(ReadRaw(hdr + kV3EndHeaderSize, 4, "page size field"));
    Hash(hdr + kV3EndHeaderSize, 4);
    uint32_t csize = DecodeU32(hdr + kV3EndHeaderSize);
    if (csize == 0 || csize > kMaxCompressedPage ||
        csize > uint32_t(LZ4_compressBound(int(header_.page_size)))) {
      return Status::Corruption(Fmt("ltx: page %u has bad compressed size %u", pgno, csize));
    }
    LTX_RETURN_IF_ERROR(ReadRaw(comp_.data(), csize, "compressed page"));
    int r =
        LZ4_decompress_safe(reinterpret_cast<const char*>(comp_.data()),
                            reinterpret_cast<char*>(page_.data()), int(csize), int(page_.size()));
    if (r != int(page_.size())) {
      return Status::Corruption(Fmt("ltx: LZ4 decompression failed for page %u", pgno));
    }
  } else {
    // ltx v0.5.0: the page is one LZ4 frame; only the 6-byte header and the page are hashed.
    LZ4F_resetDecompressionContext(dctx_.get());
    lz4_frame_done_ = false;
    LTX_RETURN_IF_ERROR(ReadLz4(page_.data(), page_.size(), "page LZ4 frame"));
    LTX_RETURN_IF_ERROR(ExpectLz4End("the page"));
  }
  frame->checksum = HashPage(pgno);
  internal::AppendUvarint(&expected_index_, pgno);
  internal::AppendUvarint(&expected_index_, frame_offset);
  internal::AppendUvarint(&expected_index_, in_.offset() - frame_offset);
  prev_pgno_ = pgno;
  pages_++;
  frame->pgno = pgno;
  frame->data = page_;
  return true;
}

Status DecoderImpl::ReadUvarint(uint64_t* v, std::string* raw) {
  uint8_t b[internal::kMaxVarintLen64];
  for (size_t i = 0; i < sizeof(b); i++) {
    LTX_RETURN_IF_ERROR(ReadRaw(&b[i], 1, "page index"));
    raw->push_back(char(b[i]));
    if (b[i] < 0x80) {
      if (internal::DecodeUvarint(std::span<const uint8_t>(b, i + 1), v) <= 0) break;
      return Status::OK();
    }
  }
  return Status::Corruption(
      Fmt("ltx: bad varint in page index at offset %llu", (unsigned long long)in_.offset()));
}

Status DecoderImpl::ReadIndex() {
  std::string raw;
  std::span<const uint8_t> expected(reinterpret_cast<const uint8_t*>(expected_index_.data()),
                                    expected_index_.size());
  size_t epos = 0;
  const Status mismatch = Status::Corruption("ltx: page index does not match the page frames");
  for (;;) {
    uint64_t pgno;
    LTX_RETURN_IF_ERROR(ReadUvarint(&pgno, &raw));
    if (pgno == 0) break;
    uint64_t got[3] = {pgno, 0, 0};
    LTX_RETURN_IF_ERROR(ReadUvarint(&got[1], &raw));
    LTX_RETURN_IF_ERROR(ReadUvarint(&got[2], &raw));
    for (uint64_t g : got) {
      uint64_t want;
      int n = internal::DecodeUvarint(expected.subspan(epos), &want);
      if (n <= 0 || want != g) return mismatch;
      epos += size_t(n);
    }
  }
  if (epos != expected.size()) return mismatch;
  Hash(raw.data(), raw.size());
  uint8_t sz[8];
  LTX_RETURN_IF_ERROR(ReadRaw(sz, sizeof(sz), "page index size"));
  Hash(sz, sizeof(sz));
  uint64_t size = DecodeU64(sz);
  if (size != raw.size()) {
    return Status::Corruption(Fmt("ltx: page index size %llu does not match its %zu bytes",
                                  (unsigned long long)size, raw.size()));
  }
  return Status::OK();
}

Status DecoderImpl::Finish() {
  if (state_ == State::kFailed) return failure_;
  if (state_ == State::kDone) return Status::OK();
  PageFrame f;
  while (state_ == State::kPages) {
    auto r = Next(&f);
    if (!r.ok()) return r.status();
  }
  if (mode_ == Mode::kV3) {
    Status s = ReadIndex();
    if (!s.ok()) return Fail(s);
  }
  uint8_t t[kTrailerSize];
  Status s = ReadRaw(t, sizeof(t), "trailer");
  if (!s.ok()) return Fail(s);
  Hash(t, 8);
  trailer_ = *Trailer::Decode(t);
  s = in_.Fill(1);
  if (!s.ok()) return Fail(s);
  if (in_.buffered() > 0) {
    return Fail(Status::Corruption(Fmt("ltx: unexpected bytes after the trailer at offset %llu",
                                       (unsigned long long)in_.offset())));
  }
  if ((trailer_.file_checksum & kChecksumFlag) == 0) {
    return Fail(Status::Corruption(Fmt("ltx: file checksum %016llx lacks the checksum flag",
                                       (unsigned long long)trailer_.file_checksum)));
  }
  const uint64_t computed = kChecksumFlag | crc_;
  if (computed != trailer_.file_checksum) {
    return Fail(Status::Corruption(
        Fmt("ltx: file checksum mismatch: file has %016llx, computed %016llx",
            (unsigned long long)trailer_.file_checksum, (unsigned long long)computed)));
  }
  const uint64_t post = trailer_.post_apply_checksum;
  if (header_.HasChecksums()) {
    if ((post & kChecksumFlag) == 0) {
      return Fail(Status::Corruption(Fmt("ltx: post-apply checksum %016llx lacks the checksum flag",
                                         (unsigned long long)post)));
    }
    if (header_.IsSnapshot() && post != snapshot_chk_.value()) {
      return Fail(Status::Corruption(
          Fmt("ltx: snapshot post-apply checksum mismatch: file has %016llx, pages give %016llx",
              (unsigned long long)post, (unsigned long long)snapshot_chk_.value())));
    }
    if (header_.commit == 0 && post != kEmptyDatabaseChecksum) {
      return Fail(Status::Corruption(
          Fmt("ltx: post-apply checksum %016llx for an empty database (commit 0)",
              (unsigned long long)post)));
    }
  } else if (post != 0) {
    return Fail(Status::Corruption(
        Fmt("ltx: post-apply checksum %016llx set although the no-checksum flag is set",
            (unsigned long long)post)));
  }
  state_ = State::kDone;
  return Status::OK();
}

}  // namespace

Result<std::unique_ptr<Decoder>> Decoder::Open(std::unique_ptr<Source> src,
                                               const DecodeOptions& opts) {
  if (!src) return Status::InvalidArgument("ltx: null source");
  auto dec = std::make_unique<DecoderImpl>(std::move(src));
  LTX_RETURN_IF_ERROR(dec->Init(opts));
  return std::unique_ptr<Decoder>(std::move(dec));
}

// ---- v3 page index ----

Result<V3Index> V3Index::Load(Source* src, const Header& header) {
  if (src == nullptr) return Status::InvalidArgument("ltx: null source");
  LTX_RETURN_IF_ERROR(header.Validate());
  if (header.flags & kFlagCompressLZ4) {
    return Status::Corruption("ltx: header flag 0x00000001 (LZ4 frame) is not valid in v3");
  }
  std::optional<uint64_t> size = src->Size();
  if (!size) return Status::Unsupported("ltx: page index needs a source of known size");
  const uint64_t min_size = kHeaderSize + kV3EndHeaderSize + 1 + 8 + kTrailerSize;
  if (*size < min_size) {
    return Status::Corruption(
        Fmt("ltx: file too short for a v3 page index: %llu bytes", (unsigned long long)*size));
  }
  auto read_at = [&](uint64_t off, void* buf, size_t n, const char* what) -> Status {
    LTX_ASSIGN_OR_RETURN(size_t got, src->ReadAt(off, buf, n));
    if (got != n) {
      return Status::Corruption(Fmt("ltx: truncated file at offset %llu (reading %s)",
                                    (unsigned long long)(off + got), what));
    }
    return Status::OK();
  };
  uint8_t hdr[kHeaderSize];
  LTX_RETURN_IF_ERROR(read_at(0, hdr, sizeof(hdr), "header"));
  LTX_ASSIGN_OR_RETURN(Header file_header, Header::Decode(hdr));
  if (!(file_header == header)) {
    return Status::InvalidArgument("ltx: header given for the page index does not match the file");
  }
  uint8_t sz[8];
  const uint64_t size_off = *size - kTrailerSize - 8;
  LTX_RETURN_IF_ERROR(read_at(size_off, sz, sizeof(sz), "page index size"));
  const uint64_t index_size = DecodeU64(sz);
  const uint64_t pages_end_min = kHeaderSize + kV3EndHeaderSize;
  if (index_size == 0 || index_size > size_off - pages_end_min) {
    return Status::Corruption(Fmt("ltx: bad page index size %llu", (unsigned long long)index_size));
  }
  const uint64_t index_off = size_off - index_size;
  const uint64_t frames_end = index_off - kV3EndHeaderSize;  // where the end header starts
  std::vector<uint8_t> buf(static_cast<size_t>(index_size));
  LTX_RETURN_IF_ERROR(read_at(index_off, buf.data(), buf.size(), "page index"));
  uint8_t end_hdr[kV3EndHeaderSize];
  LTX_RETURN_IF_ERROR(read_at(frames_end, end_hdr, sizeof(end_hdr), "end of pages"));
  static constexpr uint8_t kZero[kV3EndHeaderSize] = {};
  if (std::memcmp(end_hdr, kZero, sizeof(kZero)) != 0) {
    return Status::Corruption("ltx: no end-of-pages header before the page index");
  }

  V3Index idx;
  idx.header_ = header;
  std::span<const uint8_t> in(buf);
  size_t pos = 0;
  uint64_t next_free = kHeaderSize;  // frames are contiguous and ascending
  const Status bad = Status::Corruption("ltx: bad page index");
  for (;;) {
    uint64_t v[3];
    int n = internal::DecodeUvarint(in.subspan(pos), &v[0]);
    if (n <= 0) return bad;
    pos += size_t(n);
    if (v[0] == 0) break;
    for (int i = 1; i < 3; i++) {
      n = internal::DecodeUvarint(in.subspan(pos), &v[i]);
      if (n <= 0) return bad;
      pos += size_t(n);
    }
    const uint64_t pgno = v[0], off = v[1], fsize = v[2];
    const uint32_t prev = idx.entries_.empty() ? 0 : idx.entries_.back().pgno;
    if (pgno > header.commit || pgno <= prev || pgno == LockPgno(header.page_size)) {
      return Status::Corruption(
          Fmt("ltx: bad page number %llu in page index", (unsigned long long)pgno));
    }
    if (off != next_free || fsize < kV3PageHeaderSize ||
        fsize > kV3PageHeaderSize + kMaxCompressedPage + 64 || fsize > frames_end - off) {
      return Status::Corruption(
          Fmt("ltx: bad frame location for page %llu in page index", (unsigned long long)pgno));
    }
    next_free = off + fsize;
    idx.entries_.push_back(Entry{uint32_t(pgno), off, fsize});
  }
  if (pos != in.size()) return Status::Corruption("ltx: unexpected bytes after the page index");
  if (next_free != frames_end) {
    return Status::Corruption("ltx: page index does not cover the page block");
  }
  return idx;
}

Status V3Index::ReadPage(Source* src, uint32_t pgno, std::span<uint8_t> out) const {
  if (out.size() != header_.page_size) {
    return Status::InvalidArgument(
        Fmt("ltx: page buffer has %zu bytes, want %u", out.size(), header_.page_size));
  }
  auto it = std::lower_bound(entries_.begin(), entries_.end(), pgno,
                             [](const Entry& e, uint32_t p) { return e.pgno < p; });
  if (it == entries_.end() || it->pgno != pgno) {
    return Status::NotFound(Fmt("ltx: page %u not in file", pgno));
  }
  std::vector<uint8_t> frame(static_cast<size_t>(it->size));
  LTX_ASSIGN_OR_RETURN(size_t got, src->ReadAt(it->offset, frame.data(), frame.size()));
  if (got != frame.size()) {
    return Status::Corruption(Fmt("ltx: truncated file at offset %llu (reading page %u)",
                                  (unsigned long long)(it->offset + got), pgno));
  }
  const uint32_t fpgno = DecodeU32(frame.data());
  const uint16_t flags = DecodeU16(frame.data() + 4);
  if (fpgno != pgno) {
    return Status::Corruption(
        Fmt("ltx: page index points page %u at a frame of page %u", pgno, fpgno));
  }
  if (flags == kV3PageFlagLZ4) {
    const uint32_t csize = DecodeU32(frame.data() + 6);
    if (uint64_t(csize) + kV3PageHeaderSize != frame.size()) {
      return Status::Corruption(
          Fmt("ltx: page %u: compressed size %u disagrees with the index", pgno, csize));
    }
    int r = LZ4_decompress_safe(reinterpret_cast<const char*>(frame.data() + kV3PageHeaderSize),
                                reinterpret_cast<char*>(out.data()), int(csize), int(out.size()));
    if (r != int(out.size())) {
      return Status::Corruption(Fmt("ltx: LZ4 decompression failed for page %u", pgno));
    }
    return Status::OK();
  }
  if (flags == 0) {
    LTX_ASSIGN_OR_RETURN(DctxPtr dctx, NewDctx());
    return DecompressWholeFrame(dctx.get(), std::span<const uint8_t>(frame).subspan(6), out, pgno);
  }
  return Status::Corruption(Fmt("ltx: page %u has unknown page header flags 0x%04x", pgno, flags));
}

}  // namespace ltx
