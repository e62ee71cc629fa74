#include "past_state.h"

#include <chrono>

#include "cache.h"
#include "log.h"

namespace litevfs {

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<PastRef> PastFromUri(const char* txid_param, const char* time_param, int64_t now_ms) {
  const bool has_txid = txid_param && *txid_param, has_time = time_param && *time_param;
  if (has_txid && has_time) {
    return Status::InvalidArgument("litevfs: give the URI parameter txid or time, not both");
  }
  if (has_time) {
    auto r = ParsePastTime(time_param, now_ms);
    if (!r.ok()) return Status::InvalidArgument("litevfs: URI parameter " + r.status().message());
    return r;
  }
  if (!has_txid) return PastRef{};
  const std::string t = txid_param;
  auto r = ParsePastTxid(t.rfind("0x", 0) == 0 ? t : "0x" + t);
  if (!r.ok()) {
    return Status::InvalidArgument("litevfs: URI parameter txid \"" + t +
                                   "\" is not a txid in hex (like 0000000000000005 or 5)");
  }
  r->text = "txid " + t;
  return r;
}

Result<PastRef> PastFromPragma(std::string_view value, int64_t now_ms) {
  std::string v(value);
  if (v.size() >= 2 && (v.front() == '\'' || v.front() == '"') && v.back() == v.front())
    v = v.substr(1, v.size() - 2);
  if (v == "latest") return PastRef{};
  auto r = ParsePastTime(v, now_ms);
  if (!r.ok()) {
    return Status::InvalidArgument("litevfs: PRAGMA litevfs_time: " + r.status().message() +
                                   ", or 'latest'");
  }
  return r;
}

bool ReuseCachedForPast(const PastState& past, PageCache* cache, uint32_t pgno, std::span<uint8_t> out) {
  if (past.diff_txid == 0 || past.changed.count(pgno)) return false;
  auto r = cache->Get(pgno, past.diff_txid, out);
  return r.ok() && *r;
}

Status PastIsReadOnly(const PastState& past, const std::string& db) {
  return Status::PermissionDenied("litevfs: " + db + " is open at a past state (" + past.text +
                                  ", txid " + ltx::FormatTxid(past.snap.pos.txid) +
                                  ") and read-only: PRAGMA litevfs_time = 'latest' to write");
}

// ---- Database's time-travel members (declared in database.h) ----

Status Database::SetPast(Conn* c, const PastRef& ref) {
  std::shared_ptr<Client> client;
  Pos cache_pos;
  {
    MutexLock lk(&mu_);
    if (c->lock != kLockNone) {
      return Status::InvalidArgument("litevfs: PRAGMA litevfs_time works between transactions only");
    }
    client = client_;
    if (cache_) cache_pos = cache_->pos();
  }
  if (ref.text.empty()) {
    c->past.reset();
    return Status::OK();
  }
  auto at = PositionAt(*client, name_, ref);
  if (!at.ok()) {
    return Status(at.status().code(), "litevfs: " + name_ + " at " + ref.text + ": " + at.status().message(),
                  at.status().api_code());
  }
  auto past = std::make_shared<PastState>();
  past->text = ref.text;
  past->snap = Snapshot{at->pos, at->commit};
  past->timestamp_ms = at->timestamp_ms;
  if (!cache_pos.IsZero() && cache_pos != at->pos) {
    auto d = DiffPositions(*client, name_, at->pos, cache_pos);
    if (d.ok()) {
      past->diff_txid = cache_pos.txid;
      past->changed.insert(d->pgnos.begin(), d->pgnos.end());
    } else {  // e.g. the cache's position is no longer kept: no reuse, only a slower read
      LITEVFS_LOG(LogLevel::kInfo, name_, at->pos, "no cache reuse for the past state: " + d.status().ToString());
    }
  }
  c->past = std::move(past);
  return Status::OK();
}

std::string Database::PastString(Conn* c) {
  if (!c->past) return "latest";
  return "txid " + ltx::FormatTxid(c->past->snap.pos.txid) + " " + ltx::FormatPos(c->past->snap.pos) +
         " (" + c->past->text + ")";
}

}  // namespace litevfs
