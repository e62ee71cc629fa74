#include "spill_journal.h"

#include <algorithm>
#include <cstring>

namespace litevfs {

SpillJournal::SpillJournal(size_t memory_limit, std::vector<std::string> dirs, SpillIo* io)
    : memory_limit_(memory_limit),
      file_(std::make_unique<SpillFile>(std::move(dirs), "a rollback journal", io)) {}

ltx::Status SpillJournal::Spill() {
  LTX_RETURN_IF_ERROR(file_->Write(0, mem_.data(), mem_.size()));
  std::string().swap(mem_);  // give the memory back
  spilled_ = true;
  return ltx::Status::OK();
}

ltx::Status SpillJournal::Write(uint64_t off, const void* buf, size_t n) {
  const uint64_t end = off + n;
  if (!spilled_ && end > memory_limit_) LTX_RETURN_IF_ERROR(Spill());
  if (spilled_) {
    LTX_RETURN_IF_ERROR(file_->Write(off, buf, n));
  } else {
    if (mem_.size() < end) mem_.resize(size_t(end));
    std::memcpy(mem_.data() + off, buf, n);
  }
  size_ = std::max(size_, end);
  return ltx::Status::OK();
}

ltx::Result<size_t> SpillJournal::Read(uint64_t off, void* buf, size_t n) const {
  if (off >= size_) return size_t{0};
  const size_t k = size_t(std::min<uint64_t>(n, size_ - off));
  if (spilled_) {
    LTX_RETURN_IF_ERROR(file_->Read(off, buf, k));
  } else {
    std::memcpy(buf, mem_.data() + off, k);
  }
  return k;
}

ltx::Status SpillJournal::Truncate(uint64_t size) {
  if (size >= size_) return ltx::Status::OK();
  size_ = size;
  if (!spilled_) {
    mem_.resize(size_t(size));
    return ltx::Status::OK();
  }
  if (size == 0) {
    spilled_ = false;  // back to memory for the next transaction
    return file_->Clear();
  }
  return file_->Truncate(size);
}

}  // namespace litevfs
