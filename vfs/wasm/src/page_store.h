// The browser build's persistent cache: the pages of one position in an OPFS file (a
// FileSystemSyncAccessHandle, synchronous in a Worker), page p at (p - 1) * page_size, and a
// small meta record (position, page size, size in pages, which pages are present). The same
// position rules as the native cache: every present page is as of the recorded position; a
// sync moves the position and drops the pages it names first (meta before pages), so a crash
// at any point leaves either the old or the new position with pages valid for it. Bounded:
// at most max_bytes of pages are kept (the first fetched; later ones stay in memory only).
// Without OPFS (or when another tab holds the files) there is no store: memory only.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "litevfs/client.h"

namespace litevfs::wasm {

struct StoredState {
  Pos pos;
  uint32_t page_size = 0;
  uint32_t commit = 0;
};

class PageStore {
 public:
  // The store the Worker opened for the lv_open in progress (litevfs-worker.js), or nullptr.
  static std::unique_ptr<PageStore> TakePending(uint64_t max_bytes);
  ~PageStore();
  PageStore(const PageStore&) = delete;
  PageStore& operator=(const PageStore&) = delete;

  // What the store holds, or nullopt when empty or unreadable (then it is cleared; an
  // error only when clearing fails).
  Result<std::optional<StoredState>> Load();
  bool Has(uint32_t pgno) const { return present_.count(pgno) != 0; }
  // The stored page (page_size bytes), or an error naming the short read.
  Result<std::string> Read(uint32_t pgno);
  // Moves to `s`, dropping `changed` (or every page when `all`); saved before any new page.
  Status Move(const StoredState& s, const std::vector<uint32_t>& changed, bool all);
  // Stores pages as of the current position, within the bound; then saves the meta record.
  Status Write(const std::vector<std::pair<uint32_t, const std::string*>>& pages);
  uint64_t stored_pages() const { return present_.size(); }

 private:
  PageStore(int id, uint64_t max_bytes) : id_(id), max_bytes_(max_bytes) {}
  Status SaveMeta();

  const int id_;
  const uint64_t max_bytes_;
  StoredState state_;
  std::set<uint32_t> present_;
};

}  // namespace litevfs::wasm
