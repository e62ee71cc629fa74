// LTX encoder: v1 (plain or one LZ4 frame over the page block) and v3 (LZ4 block per page,
// page index). Output is buffered and handed to the sink in large writes; the file
// checksum covers the logical stream (see decoder.cc), matching Go's superfly/ltx.
#include "ltx/encoder.h"

#include <lz4.h>
#include <lz4frame.h>

#include <cstring>
#include <vector>

#include "internal.h"
#include "ltx/checksum.h"
#include "ltx/coding.h"

namespace ltx {

using internal::Fmt;

namespace {

constexpr size_t kFlushThreshold = 256 * 1024;

struct CctxDeleter {
  void operator()(LZ4F_cctx* c) const { LZ4F_freeCompressionContext(c); }
};

enum class Mode { kV1Plain, kV1Lz4, kV3 };

class EncoderImpl final : public Encoder {
 public:
  EncoderImpl(Sink* sink, const Header& h, Mode mode)
      : sink_(sink), header_(h), mode_(mode), lock_pgno_(LockPgno(h.page_size)) {}

  Status Init();
  Status AddPage(uint32_t pgno, std::span<const uint8_t> page) override;
  Status Finish(uint64_t post_apply_checksum) override;
  const Trailer& trailer() const override { return trailer_; }
  uint64_t snapshot_checksum() const override { return chk_.value(); }

 private:
  Status Sticky(Status s) {
    if (!s.ok()) failure_ = s;
    return s;
  }
  void Raw(const void* p, size_t n) {
    out_.append(static_cast<const char*>(p), n);
    offset_ += n;
  }
  Status MaybeFlush() {
    if (out_.size() < kFlushThreshold) return Status::OK();
    return Flush();
  }
  Status Flush() {
    if (out_.empty()) return Status::OK();
    Status s = sink_->Write(out_.data(), out_.size());
    out_.clear();
    return s;
  }
  // Bytes of the page block: into the file CRC (unless hash is false: HashPage did) and out,
  // through LZ4 in the v1 compressed mode.
  Status Logical(const void* p, size_t n, bool hash = true);
  void HashPage(uint32_t pgno, std::span<const uint8_t> page);

  Sink* sink_;
  Header header_;
  Mode mode_;
  uint32_t lock_pgno_;
  Status failure_;
  bool finished_ = false;
  std::string out_;
  uint64_t offset_ = 0;  // raw bytes produced so far
  uint64_t crc_ = Crc64Init();
  DatabaseChecksum chk_;
  uint32_t prev_pgno_ = 0;
  std::unique_ptr<LZ4F_cctx, CctxDeleter> cctx_;
  LZ4F_preferences_t prefs_{};
  std::vector<uint8_t> zbuf_;
  std::string index_;
  Trailer trailer_;
};

Status EncoderImpl::Init() {
  uint8_t hdr[kHeaderSize];
  header_.EncodeTo(hdr);
  crc_ = Crc64Update(crc_, hdr, sizeof(hdr));
  Raw(hdr, sizeof(hdr));
  if (mode_ == Mode::kV1Lz4) {
    LZ4F_cctx* c = nullptr;
    size_t r = LZ4F_createCompressionContext(&c, LZ4F_VERSION);
    if (LZ4F_isError(r)) {
      return Status::ResourceExhausted(
          Fmt("ltx: cannot create LZ4 context: %s", LZ4F_getErrorName(r)));
    }
    cctx_.reset(c);
    prefs_.frameInfo.blockSizeID = LZ4F_max64KB;
    prefs_.frameInfo.blockMode = LZ4F_blockLinked;
    prefs_.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
    zbuf_.resize(std::max<size_t>(LZ4F_HEADER_SIZE_MAX,
                                  LZ4F_compressBound(kMaxPageSize + kV1PageHeaderSize, &prefs_)));
    r = LZ4F_compressBegin(cctx_.get(), zbuf_.data(), zbuf_.size(), &prefs_);
    if (LZ4F_isError(r)) {
      return Status::Corruption(Fmt("ltx: LZ4 compression failed: %s", LZ4F_getErrorName(r)));
    }
    Raw(zbuf_.data(), r);
  } else if (mode_ == Mode::kV3) {
    zbuf_.resize(size_t(LZ4_compressBound(int(kMaxPageSize))));
  }
  return Flush();
}

// The running file CRC over a page, and a snapshot's page checksum from the same pass.
void EncoderImpl::HashPage(uint32_t pgno, std::span<const uint8_t> page) {
  if (header_.IsSnapshot() && header_.HasChecksums()) {
    chk_.Toggle(PageChecksumAndUpdate(pgno, page, &crc_));
  } else {
    crc_ = Crc64Update(crc_, page.data(), page.size());
  }
}

Status EncoderImpl::Logical(const void* p, size_t n, bool hash) {
  if (hash) crc_ = Crc64Update(crc_, p, n);
  if (mode_ != Mode::kV1Lz4) {
    Raw(p, n);
    return Status::OK();
  }
  size_t r = LZ4F_compressUpdate(cctx_.get(), zbuf_.data(), zbuf_.size(), p, n, nullptr);
  if (LZ4F_isError(r)) {
    return Status::Corruption(Fmt("ltx: LZ4 compression failed: %s", LZ4F_getErrorName(r)));
  }
  Raw(zbuf_.data(), r);
  return Status::OK();
}

Status EncoderImpl::AddPage(uint32_t pgno, std::span<const uint8_t> page) {
  if (!failure_.ok()) return failure_;
  if (finished_) return Status::InvalidArgument("ltx: AddPage after Finish");
  if (page.size() != header_.page_size) {
    return Status::InvalidArgument(
        Fmt("ltx: page %u has %zu bytes, want page size %u", pgno, page.size(), header_.page_size));
  }
  if (pgno == 0) return Status::InvalidArgument("ltx: page number 0");
  if (prev_pgno_ != 0 && pgno <= prev_pgno_) {
    if (pgno == prev_pgno_) return Status::InvalidArgument(Fmt("ltx: duplicate page %u", pgno));
    return Status::InvalidArgument(
        Fmt("ltx: page %u out of order after page %u", pgno, prev_pgno_));
  }
  if (pgno > header_.commit) {
    return Status::InvalidArgument(Fmt("ltx: page %u beyond commit %u", pgno, header_.commit));
  }
  if (pgno == lock_pgno_) return Status::InvalidArgument(Fmt("ltx: lock page %u present", pgno));
  if (header_.IsSnapshot()) {
    uint64_t want = uint64_t(prev_pgno_) + 1;
    if (want == lock_pgno_) want++;
    if (pgno != want) {
      return Status::InvalidArgument(
          Fmt("ltx: snapshot missing page %llu", (unsigned long long)want));
    }
  }

  if (mode_ == Mode::kV3) {
    const uint64_t frame_offset = offset_;
    int csize = LZ4_compress_default(reinterpret_cast<const char*>(page.data()),
                                     reinterpret_cast<char*>(zbuf_.data()), int(page.size()),
                                     int(zbuf_.size()));
    if (csize <= 0)
      return Sticky(Status::Corruption(Fmt("ltx: LZ4 compression of page %u failed", pgno)));
    uint8_t hdr[kV3PageHeaderSize];
    EncodeU32(hdr, pgno);
    EncodeU16(hdr + 4, kV3PageFlagLZ4);
    EncodeU32(hdr + 6, uint32_t(csize));
    crc_ = Crc64Update(crc_, hdr, sizeof(hdr));
    Raw(hdr, sizeof(hdr));
    HashPage(pgno, page);
    Raw(zbuf_.data(), size_t(csize));
    internal::AppendUvarint(&index_, pgno);
    internal::AppendUvarint(&index_, frame_offset);
    internal::AppendUvarint(&index_, offset_ - frame_offset);
  } else {
    uint8_t hdr[kV1PageHeaderSize];
    EncodeU32(hdr, pgno);
    LTX_RETURN_IF_ERROR(Sticky(Logical(hdr, sizeof(hdr))));
    HashPage(pgno, page);
    LTX_RETURN_IF_ERROR(Sticky(Logical(page.data(), page.size(), /*hash=*/false)));
  }
  prev_pgno_ = pgno;
  return Sticky(MaybeFlush());
}

Status EncoderImpl::Finish(uint64_t post) {
  if (!failure_.ok()) return failure_;
  if (finished_) return Status::InvalidArgument("ltx: Finish called twice");
  if (header_.IsSnapshot()) {
    uint64_t want = uint64_t(prev_pgno_) + 1;
    if (want == lock_pgno_) want++;
    if (want <= header_.commit) {
      return Status::InvalidArgument(
          Fmt("ltx: snapshot missing page %llu", (unsigned long long)want));
    }
  }
  if (header_.HasChecksums()) {
    if ((post & kChecksumFlag) == 0) {
      return Status::InvalidArgument(Fmt("ltx: post-apply checksum %016llx lacks the checksum flag",
                                         (unsigned long long)post));
    }
    if (header_.IsSnapshot() && post != chk_.value()) {
      return Status::InvalidArgument(
          Fmt("ltx: snapshot post-apply checksum mismatch: given %016llx, pages give %016llx",
              (unsigned long long)post, (unsigned long long)chk_.value()));
    }
    if (header_.commit == 0 && post != kEmptyDatabaseChecksum) {
      return Status::InvalidArgument(
          Fmt("ltx: post-apply checksum %016llx for an empty database (commit 0)",
              (unsigned long long)post));
    }
  } else if (post != 0) {
    return Status::InvalidArgument(
        Fmt("ltx: post-apply checksum %016llx set although the no-checksum flag is set",
            (unsigned long long)post));
  }

  finished_ = true;
  if (mode_ == Mode::kV3) {
    uint8_t end[kV3EndHeaderSize] = {};
    crc_ = Crc64Update(crc_, end, sizeof(end));
    Raw(end, sizeof(end));
    internal::AppendUvarint(&index_, 0);
    crc_ = Crc64Update(crc_, index_.data(), index_.size());
    Raw(index_.data(), index_.size());
    uint8_t sz[8];
    EncodeU64(sz, index_.size());
    crc_ = Crc64Update(crc_, sz, sizeof(sz));
    Raw(sz, sizeof(sz));
  } else {
    uint8_t end[kV1PageHeaderSize] = {};
    LTX_RETURN_IF_ERROR(Sticky(Logical(end, sizeof(end))));
    if (mode_ == Mode::kV1Lz4) {
      size_t r = LZ4F_compressEnd(cctx_.get(), zbuf_.data(), zbuf_.size(), nullptr);
      if (LZ4F_isError(r)) {
        return Sticky(
            Status::Corruption(Fmt("ltx: LZ4 compression failed: %s", LZ4F_getErrorName(r))));
      }
      Raw(zbuf_.data(), r);
    }
  }
  uint8_t t[kTrailerSize];
  EncodeU64(t, post);
  crc_ = Crc64Update(crc_, t, 8);
  trailer_.post_apply_checksum = post;
  trailer_.file_checksum = kChecksumFlag | crc_;
  EncodeU64(t + 8, trailer_.file_checksum);
  Raw(t, sizeof(t));
  return Sticky(Flush());
}

}  // namespace

Result<std::unique_ptr<Encoder>> Encoder::Open(Sink* sink, const Header& header,
                                               const EncodeOptions& opts) {
  if (sink == nullptr) return Status::InvalidArgument("ltx: null sink");
  Header h = header;
  Mode mode;
  if (opts.version == Version::kV3) {
    if (h.flags & kFlagCompressLZ4) {
      return Status::InvalidArgument("ltx: header flag 0x00000001 (LZ4 frame) is not valid in v3");
    }
    mode = Mode::kV3;
  } else if (opts.version == Version::kV1) {
    if (opts.compress) h.flags |= kFlagCompressLZ4;
    mode = (h.flags & kFlagCompressLZ4) ? Mode::kV1Lz4 : Mode::kV1Plain;
  } else {
    return Status::InvalidArgument("ltx: encoder needs version v1 or v3, not auto");
  }
  if (Status s = h.Validate(); !s.ok()) return Status::InvalidArgument(s.message());
  auto enc = std::make_unique<EncoderImpl>(sink, h, mode);
  LTX_RETURN_IF_ERROR(enc->Init());
  return std::unique_ptr<Encoder>(std::move(enc));
}

}  // namespace ltx
