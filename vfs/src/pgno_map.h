// PgnoMap<T>: a map from page number to T for the mostly dense page numbers of one
// database. Values live in fixed chunks of 4096, allocated on the first write into them,
// so a map covering a whole 1 GiB database (262,144 pages of 4 KiB) costs sizeof(T) per
// page instead of a hash node and bucket per page (~70 bytes more each in
// std::unordered_map). A value-initialised T means "absent"; the caller decides what that
// looks like (a zero generation, a zero page number).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace litevfs {

template <typename T>
class PgnoMap {
 public:
  static constexpr uint32_t kChunk = 4096;

  // The value of pgno, or nullptr when its chunk was never written (absent). A non-null
  // result may still be a value-initialised T: absent too, by the caller's rule.
  T* Find(uint32_t pgno) {
    const size_t c = pgno / kChunk;
    return c < chunks_.size() && chunks_[c] ? &chunks_[c][pgno % kChunk] : nullptr;
  }
  const T* Find(uint32_t pgno) const {
    const size_t c = pgno / kChunk;
    return c < chunks_.size() && chunks_[c] ? &chunks_[c][pgno % kChunk] : nullptr;
  }
  // The value of pgno, allocating its chunk (value-initialised) if needed.
  T& At(uint32_t pgno) {
    const size_t c = pgno / kChunk;
    if (c >= chunks_.size()) chunks_.resize(c + 1);
    if (!chunks_[c]) {
      chunks_[c] = std::make_unique<T[]>(kChunk);  // value-initialised
      allocated_chunks_++;
    }
    return chunks_[c][pgno % kChunk];
  }
  void Reset(uint32_t pgno) {
    if (T* v = Find(pgno)) *v = T{};
  }
  void Clear() {
    chunks_.clear();
    chunks_.shrink_to_fit();
    allocated_chunks_ = 0;
  }
  // Memory held by the values (for bounds).
  size_t allocated_bytes() const { return allocated_chunks_ * kChunk * sizeof(T); }

 private:
  std::vector<std::unique_ptr<T[]>> chunks_;
  size_t allocated_chunks_ = 0;
};

}  // namespace litevfs
