#include "page_reply.h"

#include <zstd.h>

#include <cstring>

#include "litevfs/page_frames.h"
#include "ltx/coding.h"

namespace mockcloud {
namespace {

// Bodies this large are compressed only when a trial on their first kZstdProbe bytes saves
// at least a tenth: compressing incompressible pages costs the server CPU and saves nothing.
constexpr size_t kZstdProbe = 64 << 10;
constexpr int kZstdLevel = 1;

bool WorthCompressing(const uint8_t* data, size_t n) {
  if (n == 0) return false;
  if (n <= 2 * kZstdProbe) return true;
  std::vector<uint8_t> z(ZSTD_compressBound(kZstdProbe));
  const size_t got = ZSTD_compress(z.data(), z.size(), data, kZstdProbe, kZstdLevel);
  return !ZSTD_isError(got) && got < kZstdProbe - kZstdProbe / 10;
}

// Replaces out->body by its zstd form when that is smaller and worth it.
void MaybeCompress(PagesBody* out, BodyPool* pool) {
  const BodyPool::Body& raw = *out->body;
  if (!WorthCompressing(raw.data.get(), raw.size)) return;
  auto z = pool->Take(ZSTD_compressBound(raw.size));
  const size_t n = ZSTD_compress(z->data.get(), z->capacity, raw.data.get(), raw.size, kZstdLevel);
  if (ZSTD_isError(n) || n >= raw.size) return;
  z->size = n;
  out->body = std::move(z);
  out->zstd = true;
}

// Writes each page's frame head and hands the store the place of its bytes.
class BodySink : public PageSink {
 public:
  BodySink(BodyPool* pool, PagesBody* out) : pool_(pool), out_(out), head_size_(litevfs::FrameHeadSize(out->sums)) {}
  Status Begin(const PageSetHead& head, size_t max_pages) override {
    out_->head = head;
    out_->body = pool_->Take(std::max<size_t>(1, max_pages * (head_size_ + head.page_size)));
    return Status::OK();
  }
  uint8_t* Slot(uint32_t pgno, uint64_t sum) override {
    BodyPool::Body& b = *out_->body;
    uint8_t* rec = b.data.get() + b.size;
    ltx::EncodeU32(rec, pgno);
    if (out_->sums) ltx::EncodeU64(rec + litevfs::kFramePgnoSize, sum);
    b.size += head_size_ + out_->head.page_size;
    out_->pages++;
    return rec + head_size_;
  }

 private:
  BodyPool* pool_;
  PagesBody* out_;
  const size_t head_size_;
};

// Reads through `read` (a store call given the sink) into a pooled body.
template <typename Read>
Result<PagesBody> BuildBody(PagesFormat fmt, BodyPool* pool, const Read& read) {
  PagesBody out;
  out.sums = fmt.sums;
  BodySink sink(pool, &out);
  LTX_RETURN_IF_ERROR(read(&sink));
  if (fmt.zstd) MaybeCompress(&out, pool);
  return out;
}

}  // namespace

Result<PagesBody> BuildPagesBody(const Database& db, const Pos& at, const std::vector<uint32_t>& pgnos,
                                 PagesFormat fmt, BodyPool* pool) {
  return BuildBody(fmt, pool, [&](PageSink* sink) { return db.ReadPagesTo(at, pgnos, sink); });
}

Result<PagesBody> BuildInteriorBody(const Database& db, const Pos* at, PagesFormat fmt, BodyPool* pool) {
  return BuildBody(fmt, pool, [&](PageSink* sink) { return db.ReadInteriorTo(at, sink); });
}

}  // namespace mockcloud
