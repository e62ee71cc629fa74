// The browser build's remote database (see remote_db.h).
#include "remote_db.h"

#include <algorithm>
#include <cstring>
#include <span>

#include "vfs/src/config.h"
#include "vfs/src/sqlite_format.h"

namespace litevfs::wasm {
namespace {

std::span<uint8_t> Bytes(std::string& s) {
  return {reinterpret_cast<uint8_t*>(s.data()), s.size()};
}

}  // namespace

Result<std::unique_ptr<RemoteDb>> RemoteDb::Open(std::unique_ptr<Client> client,
                                                 const std::string& name, RemoteDbOptions opts,
                                                 std::unique_ptr<PageStore> store) {
  LTX_RETURN_IF_ERROR(ValidateDatabaseName(name));
  std::unique_ptr<RemoteDb> db(new RemoteDb(std::move(client), name, opts));
  db->store_ = std::move(store);
  auto stored = db->store_ ? db->store_->Load() : Result<std::optional<StoredState>>(std::nullopt);
  if (!stored.ok()) db->StoreFailed(stored.status());
  if (stored.ok() && stored->has_value()) {
    Status warm = db->WarmOpen(**stored);
    if (warm.ok()) return db;
    const auto code = warm.code();
    if (code == ltx::Code::kUnavailable || code == ltx::Code::kPermissionDenied ||
        code == ltx::Code::kNotFound) {
      return warm;
    }
    // Any other refusal (e.g. a position the service no longer keeps): start over, cold.
    db->pos_ = Pos{};
    db->page_size_ = db->commit_ = 0;
    if (db->store_) db->StoreFailed(db->store_->Move(StoredState{}, {}, true));
  }
  LTX_RETURN_IF_ERROR(db->ColdOpen());
  return db;
}

// From the stored position: one sync; the pages it names are dropped, the rest reused.
Status RemoteDb::WarmOpen(const StoredState& st) {
  pos_ = st.pos;
  page_size_ = st.page_size;
  commit_ = st.commit;
  auto s = client_->Sync(name_, pos_);
  if (!s.ok()) return s.status();
  syncs_++;
  return Apply(*s);
}

// A persistent-cache error: from now on memory only, and the stats say why.
void RemoteDb::StoreFailed(const Status& st) {
  if (st.ok() || !store_) return;
  store_error_ = st.message();
  store_.reset();
}

Status RemoteDb::ColdOpen() {
  auto b = client_->GetInterior(name_, Pos{});
  page_requests_++;
  if (b.ok()) {
    pos_ = b->pos;
    commit_ = b->commit;
    page_size_ = b->page_size;
    synced_at_ = std::chrono::steady_clock::now();
    if (store_) StoreFailed(store_->Move(StoredState{pos_, page_size_, commit_}, {}, true));
    return Keep(*b);
  }
  if (b.status().code() != ltx::Code::kUnsupported) return b.status();
  // A plain LiteFS Cloud: the position, then page 1 on the first read.
  auto s = client_->Sync(name_, Pos{});
  if (!s.ok()) return s.status();
  syncs_++;
  LTX_RETURN_IF_ERROR(Apply(*s));
  if (page_size_ != 0 || commit_ == 0) return Status::OK();
  auto p1 = client_->GetPages(name_, pos_, {1});  // the page size comes with the batch
  page_requests_++;
  if (!p1.ok()) return p1.status();
  return Keep(*p1);
}

Status RemoteDb::BeginRead() {
  ra_.Reset();
  const auto now = std::chrono::steady_clock::now();
  if (now - synced_at_ < std::chrono::milliseconds(opts_.fresh_ms)) return Status::OK();
  auto s = client_->Sync(name_, pos_);
  if (!s.ok()) return s.status();
  syncs_++;
  return Apply(*s);
}

// Moves to s.pos: the pages it names (or all) are dropped, the rest stay valid.
Status RemoteDb::Apply(const SyncResult& s) {
  synced_at_ = std::chrono::steady_clock::now();
  if (s.pos == pos_) return Status::OK();
  if (s.page_size != 0 && page_size_ != 0 && s.page_size != page_size_) {
    return Status::Unsupported("litevfs (browser): the page size of " + name_ + " changed from " +
                               std::to_string(page_size_) + " to " + std::to_string(s.page_size) +
                               ": open it again");
  }
  const bool was_zero = pos_.IsZero();
  if (s.all || was_zero) {
    planner_.Clear();
    pages_.clear();
    order_.clear();
    bytes_ = 0;
  } else {
    for (uint32_t pgno : s.pgnos) {
      auto it = pages_.find(pgno);
      if (it == pages_.end()) continue;
      bytes_ -= it->second.size();
      pages_.erase(it);
    }
  }
  pos_ = s.pos;
  if (s.page_size != 0) page_size_ = s.page_size;
  if (s.commit != 0) commit_ = s.commit;
  if (store_) {
    StoreFailed(store_->Move(StoredState{pos_, page_size_, commit_}, s.pgnos, s.all || was_zero));
  }
  // Pages past the new end go with it.
  std::erase_if(pages_, [&](const auto& kv) {
    if (kv.first <= commit_) return false;
    bytes_ -= kv.second.size();
    return true;
  });
  return Status::OK();
}

Status RemoteDb::Keep(const PageBatch& b) {
  if (b.pos != pos_) {
    return Status::Corruption("litevfs (browser): pages of " + name_ + " came as of " +
                              ltx::FormatPos(b.pos) + ", asked " + ltx::FormatPos(pos_));
  }
  if (b.commit != 0) commit_ = b.commit;
  if (b.page_size != 0) page_size_ = b.page_size;
  for (const auto& [pgno, page] : b.pages) Insert(pgno, page);
  if (store_) {
    std::vector<std::pair<uint32_t, const std::string*>> out;
    for (const auto& [pgno, page] : b.pages) out.emplace_back(pgno, &page);
    StoreFailed(store_->Write(out));
  }
  return Status::OK();
}

void RemoteDb::Insert(uint32_t pgno, std::string page) {
  // A WAL-mode header reads as rollback: the browser build has no -wal / -shm (as natively).
  if (pgno == 1 && sqlite_format::IsWalHeader(Bytes(page))) {
    sqlite_format::SetJournalVersions(Bytes(page), sqlite_format::kVersionRollback);
  }
  planner_.Record(pgno, Bytes(page), page_size_, commit_, true);
  auto [it, fresh] = pages_.insert_or_assign(pgno, std::move(page));
  (void)fresh;
  bytes_ += it->second.size();
  order_.push_back(pgno);
  while (bytes_ > opts_.memory_bytes && !order_.empty()) {
    const uint32_t old = order_.front();
    order_.pop_front();
    auto o = pages_.find(old);
    if (o == pages_.end() || old == pgno) continue;
    bytes_ -= o->second.size();
    pages_.erase(o);
  }
}

// pgno and the prefetch candidates the planner picks for a miss on it (as natively).
std::vector<uint32_t> RemoteDb::MissBatch(uint32_t pgno) {
  const uint64_t max_pages = page_size_ ? opts_.memory_bytes / page_size_ : 0;
  const PrefetchLimits lim = MakePrefetchLimits(kDefaultMaxPrefetchPages, page_size_, int64_t(max_pages));
  auto ok = [&](uint32_t p) {
    return p >= 1 && p <= commit_ && p != pgno && !pages_.count(p) && !(store_ && store_->Has(p));
  };
  uint32_t frontier = 0;
  std::vector<uint32_t> want = {pgno};
  for (uint32_t p : planner_.Candidates(pgno, PrefetchPlanner::MissWindow(ra_, lim), ok, &frontier)) {
    want.push_back(p);
  }
  ra_.ahead.clear();
  ra_.ahead.insert(want.begin() + 1, want.end());
  ra_.ahead_total = uint32_t(want.size() - 1);
  ra_.frontier = frontier;
  std::sort(want.begin(), want.end());
  return want;
}

// One request for a miss.
Status RemoteDb::Fetch(uint32_t pgno) {
  auto b = client_->GetPages(name_, pos_, MissBatch(pgno));
  page_requests_++;
  if (!b.ok()) return b.status();
  return Keep(*b);
}

Result<const std::string*> RemoteDb::Page(uint32_t pgno) {
  ra_.ahead.erase(pgno);  // a prefetched page used: the scan signal MissWindow reads
  auto it = pages_.find(pgno);
  if (it == pages_.end() && store_ && store_->Has(pgno)) {
    auto stored = store_->Read(pgno);
    if (stored.ok()) {
      Insert(pgno, std::move(stored).value());
      it = pages_.find(pgno);
    }  // else dropped from the store: fetched below
  }
  if (it == pages_.end()) {
    LTX_RETURN_IF_ERROR(Fetch(pgno));
    it = pages_.find(pgno);
    if (it == pages_.end()) {
      return Status::Corruption("litevfs (browser): the server did not send page " +
                                std::to_string(pgno) + " of " + name_);
    }
  }
  if (it->second.size() != page_size_) {
    return Status::Corruption("litevfs (browser): page " + std::to_string(pgno) + " of " + name_ +
                              " is " + std::to_string(it->second.size()) + " bytes, not " +
                              std::to_string(page_size_));
  }
  return &it->second;
}

Status RemoteDb::Read(uint64_t offset, uint8_t* buf, size_t n, bool* short_read) {
  *short_read = false;
  while (n > 0) {
    if (page_size_ == 0 || offset >= FileSize()) {
      std::memset(buf, 0, n);
      *short_read = true;
      return Status::OK();
    }
    const uint32_t pgno = uint32_t(offset / page_size_) + 1;
    const size_t in_page = size_t(offset % page_size_);
    const size_t take = std::min(n, size_t(page_size_) - in_page);
    LTX_ASSIGN_OR_RETURN(const std::string* page, Page(pgno));
    std::memcpy(buf, page->data() + in_page, take);
    buf += take;
    offset += take;
    n -= take;
  }
  return Status::OK();
}

}  // namespace litevfs::wasm
