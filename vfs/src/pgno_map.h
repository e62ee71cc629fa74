// Maps from page number to T for one database's pages.
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

// SparsePgnoMap<T>: the same interface for values that are few and scattered over a large
// database, such as the cache's slots after random reads of a 10 GiB file (issue 19): there
// a PgnoMap<T> of 40-byte slots filled every chunk it touched, 1.5 KB per cached page. Here a
// PgnoMap of 4-byte value numbers points into values packed in chunks, one value per page
// ever written since the last Clear (not per page of every touched chunk). Find is nullptr
// for a page never written; a value keeps its address until Clear.
template <typename T>
class SparsePgnoMap {
 public:
  static constexpr uint32_t kValueChunk = 1024;

  T* Find(uint32_t pgno) {
    const uint32_t* n = numbers_.Find(pgno);
    return n && *n ? &Value(*n - 1) : nullptr;
  }
  const T* Find(uint32_t pgno) const {
    const uint32_t* n = numbers_.Find(pgno);
    return n && *n ? &values_[(*n - 1) / kValueChunk][(*n - 1) % kValueChunk] : nullptr;
  }
  // The value of pgno, value-initialised on the first write.
  T& At(uint32_t pgno) {
    uint32_t& n = numbers_.At(pgno);
    if (n == 0) {
      if (count_ % kValueChunk == 0) values_.push_back(std::make_unique<T[]>(kValueChunk));
      n = ++count_;
    }
    return Value(n - 1);
  }
  void Clear() {
    numbers_.Clear();
    values_.clear();
    values_.shrink_to_fit();
    count_ = 0;
  }
  size_t allocated_bytes() const {
    return numbers_.allocated_bytes() + values_.size() * kValueChunk * sizeof(T);
  }

 private:
  T& Value(uint32_t k) { return values_[k / kValueChunk][k % kValueChunk]; }

  PgnoMap<uint32_t> numbers_;  // pgno -> 1 + the value's number (0: never written)
  std::vector<std::unique_ptr<T[]>> values_;
  uint32_t count_ = 0;
};

}  // namespace litevfs
