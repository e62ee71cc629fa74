// The OPFS page store (see page_store.h). The JS side (litevfs-worker.js, `litevfsStores`)
// owns the two sync access handles; these EM_JS calls are synchronous.
#include "page_store.h"

#include <emscripten/emscripten.h>

#include <nlohmann/json.hpp>

namespace litevfs::wasm {
namespace {

// The meta record is JSON: {"pos": "...", "page_size": N, "commit": N, "present": [...]}.
constexpr int kMaxMetaBytes = 4 << 20;

EM_JS(int, lv_store_take, (), { return self.litevfsStores ? self.litevfsStores.take() : 0; });
EM_JS(int, lv_store_meta_read, (int id, char* buf, int cap),
      { return self.litevfsStores.readMeta(id, HEAPU8.subarray(buf, buf + cap)); });
EM_JS(int, lv_store_meta_write, (int id, const char* buf, int n),
      { return self.litevfsStores.writeMeta(id, HEAPU8.subarray(buf, buf + n)); });
EM_JS(int, lv_store_read, (int id, double off, char* buf, int n),
      { return self.litevfsStores.readPages(id, off, HEAPU8.subarray(buf, buf + n)); });
EM_JS(int, lv_store_write, (int id, double off, const char* buf, int n),
      { return self.litevfsStores.writePages(id, off, HEAPU8.subarray(buf, buf + n)); });
EM_JS(void, lv_store_close, (int id), { self.litevfsStores.close(id); });

}  // namespace

std::unique_ptr<PageStore> PageStore::TakePending(uint64_t max_bytes) {
  const int id = lv_store_take();
  if (id <= 0) return nullptr;
  return std::unique_ptr<PageStore>(new PageStore(id, max_bytes));
}

PageStore::~PageStore() { lv_store_close(id_); }

Result<std::optional<StoredState>> PageStore::Load() {
  std::string buf(kMaxMetaBytes, '\0');
  const int n = lv_store_meta_read(id_, buf.data(), int(buf.size()));
  if (n <= 0) return std::optional<StoredState>();
  auto j = nlohmann::json::parse(buf.substr(0, size_t(n)), nullptr, false);
  auto pos = j.is_object() && j["pos"].is_string() ? ltx::ParsePos(j["pos"].get<std::string>())
                                                     : Result<Pos>(Status::Corruption("no pos"));
  if (!pos.ok() || !j["page_size"].is_number_unsigned() || !j["commit"].is_number_unsigned() ||
      !j["present"].is_array()) {
    LTX_RETURN_IF_ERROR(Move(StoredState{}, {}, true));  // unreadable: start over
    return std::optional<StoredState>();
  }
  state_ = {*pos, j["page_size"].get<uint32_t>(), j["commit"].get<uint32_t>()};
  present_.clear();
  for (const auto& p : j["present"]) {
    if (p.is_number_unsigned() && p.get<uint32_t>() >= 1 && p.get<uint32_t>() <= state_.commit)
      present_.insert(p.get<uint32_t>());
  }
  if (state_.pos.IsZero() || state_.page_size == 0) return std::optional<StoredState>();
  return std::optional<StoredState>(state_);
}

Result<std::string> PageStore::Read(uint32_t pgno) {
  std::string page(state_.page_size, '\0');
  const double off = double(pgno - 1) * state_.page_size;
  const int got = lv_store_read(id_, off, page.data(), int(page.size()));
  if (got != int(page.size())) {
    present_.erase(pgno);
    return Status::IOError("litevfs (browser): cached page " + std::to_string(pgno) + " read " +
                           std::to_string(got) + " of " + std::to_string(page.size()) + " bytes");
  }
  return page;
}

Status PageStore::Move(const StoredState& s, const std::vector<uint32_t>& changed, bool all) {
  if (all || s.page_size != state_.page_size) {
    present_.clear();
  } else {
    for (uint32_t p : changed) present_.erase(p);
    present_.erase(present_.upper_bound(s.commit), present_.end());
  }
  state_ = s;
  return SaveMeta();
}

Status PageStore::Write(const std::vector<std::pair<uint32_t, const std::string*>>& pages) {
  const uint64_t max_pages = state_.page_size ? max_bytes_ / state_.page_size : 0;
  bool wrote = false;
  for (const auto& [pgno, page] : pages) {
    if (present_.count(pgno) || present_.size() >= max_pages || page->size() != state_.page_size)
      continue;
    const double off = double(pgno - 1) * state_.page_size;
    if (lv_store_write(id_, off, page->data(), int(page->size())) != int(page->size())) {
      return Status::IOError("litevfs (browser): cannot write page " + std::to_string(pgno) +
                             " to the browser cache (OPFS)");
    }
    present_.insert(pgno);
    wrote = true;
  }
  return wrote ? SaveMeta() : Status::OK();
}

Status PageStore::SaveMeta() {
  nlohmann::json j = {{"pos", ltx::FormatPos(state_.pos)}, {"page_size", state_.page_size},
                      {"commit", state_.commit}, {"present", present_}};
  const std::string s = j.dump();
  if (lv_store_meta_write(id_, s.data(), int(s.size())) != int(s.size())) {
    return Status::IOError("litevfs (browser): cannot write the browser cache's meta record (OPFS)");
  }
  return Status::OK();
}

}  // namespace litevfs::wasm
