#include "dirty_pages.h"

#include <cstring>

namespace litevfs {

DirtyPages::DirtyPages(DirtyPagesOptions opts) : opts_(std::move(opts)) {
  if (opts_.spill_dirs.empty()) opts_.spill_dirs = SpillDirs("");
}

void DirtyPages::set_spill_dirs(std::vector<std::string> dirs) {
  if (dirs == opts_.spill_dirs) return;
  opts_.spill_dirs = std::move(dirs);
  if (slots_.size() == memory_pages_) {  // nothing in the file: the next one goes there
    file_.reset();
    file_slots_ = 0;
    free_slots_.clear();
  }
}

ltx::Status DirtyPages::CheckSize(size_t n, uint32_t pgno) {
  if (pgno == 0) return ltx::Status::InvalidArgument("litevfs: dirty page number 0");
  if (page_size_ == 0 && slots_.empty()) page_size_ = uint32_t(n);
  if (n != page_size_) {
    return ltx::Status::InvalidArgument("litevfs: dirty page " + std::to_string(pgno) + " has " +
                                        std::to_string(n) + " bytes, the transaction's pages " +
                                        std::to_string(page_size_));
  }
  return ltx::Status::OK();
}

ltx::Result<DirtyPages::Slot> DirtyPages::NewSlot(std::span<const uint8_t> page) {
  Slot s;
  if ((memory_pages_ + 1) * size_t(page_size_) <= opts_.memory_limit) {
    s.mem = std::make_unique<uint8_t[]>(page_size_);
    std::memcpy(s.mem.get(), page.data(), page_size_);
    return s;
  }
  if (!file_) file_ = std::make_unique<SpillFile>(opts_.spill_dirs, opts_.what, opts_.io);
  const bool reuse = !free_slots_.empty();
  s.file_slot = reuse ? free_slots_.back() : file_slots_;
  LTX_RETURN_IF_ERROR(file_->Write(s.file_slot * page_size_, page.data(), page_size_));
  if (reuse) {
    free_slots_.pop_back();
  } else {
    file_slots_++;
  }
  return s;
}

ltx::Status DirtyPages::Put(uint32_t pgno, std::span<const uint8_t> page) {
  LTX_RETURN_IF_ERROR(CheckSize(page.size(), pgno));
  if (auto it = slots_.find(pgno); it != slots_.end()) return Patch(pgno, 0, page);
  LTX_ASSIGN_OR_RETURN(Slot s, NewSlot(page));
  if (s.mem) memory_pages_++;
  slots_.emplace(pgno, std::move(s));
  return ltx::Status::OK();
}

ltx::Status DirtyPages::Patch(uint32_t pgno, size_t in, std::span<const uint8_t> bytes) {
  auto it = slots_.find(pgno);
  if (it == slots_.end()) {
    return ltx::Status::InvalidArgument("litevfs: patching page " + std::to_string(pgno) +
                                        ", which is not dirty");
  }
  if (in + bytes.size() > page_size_) {
    return ltx::Status::InvalidArgument("litevfs: patch of " + std::to_string(bytes.size()) +
                                        " bytes at " + std::to_string(in) + " overruns page " +
                                        std::to_string(pgno));
  }
  if (it->second.mem) {
    std::memcpy(it->second.mem.get() + in, bytes.data(), bytes.size());
    return ltx::Status::OK();
  }
  return file_->Write(it->second.file_slot * page_size_ + in, bytes.data(), bytes.size());
}

ltx::Result<bool> DirtyPages::Read(uint32_t pgno, size_t in, std::span<uint8_t> out) const {
  auto it = slots_.find(pgno);
  if (it == slots_.end()) return false;
  if (in + out.size() > page_size_) {
    return ltx::Status::InvalidArgument("litevfs: read of " + std::to_string(out.size()) +
                                        " bytes at " + std::to_string(in) + " overruns page " +
                                        std::to_string(pgno));
  }
  if (it->second.mem) {
    std::memcpy(out.data(), it->second.mem.get() + in, out.size());
    return true;
  }
  LTX_RETURN_IF_ERROR(file_->Read(it->second.file_slot * page_size_ + in, out.data(), out.size()));
  return true;
}

uint32_t DirtyPages::Next(uint32_t pgno) const {
  auto it = slots_.upper_bound(pgno);
  return it == slots_.end() ? 0 : it->first;
}

void DirtyPages::DropAbove(uint32_t last) {
  for (auto it = slots_.upper_bound(last); it != slots_.end(); it = slots_.erase(it)) {
    if (it->second.mem) {
      memory_pages_--;
    } else {
      free_slots_.push_back(it->second.file_slot);
    }
  }
}

ltx::Status DirtyPages::Clear() {
  slots_.clear();
  memory_pages_ = 0;
  page_size_ = 0;
  file_slots_ = 0;
  free_slots_.clear();
  return file_ ? file_->Clear() : ltx::Status::OK();
}

}  // namespace litevfs
