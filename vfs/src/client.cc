// The LiteFS Cloud client (client.h): request shaping, retries, error mapping, and strict
// validation of everything the server sends. The transport moves bytes; this file decides
// what they mean. Page data takes the binary batch (optionally zstd) when the server
// announces pages-binary, so the hot path has no JSON and no base64; the plain JSON API is
// the fallback. Nothing here trusts a length, count or page number from the wire before
// checking it against what was asked.
#include "litevfs/client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <thread>

#include "buffer_pool.h"
#include "client_codec.h"
#include "host_list.h"
#include "log.h"
#include "litevfs/page_frames.h"
#include "ltx/coding.h"
#include "ltx/fd_io.h"

namespace litevfs {

namespace {

using json = nlohmann::json;

constexpr uint32_t kMaxPgno = 0x7fffffff;         // PROTOCOL.md: each pgno 1..2^31-1
// Keep a /db/page URI under cpp-httplib's default 8 KiB request-URI limit (the mock is
// built on it): the db name, cluster and position take at most ~600 bytes.
constexpr size_t kMaxPgnoListChars = 7000;
constexpr long kMaxSyncWaitMs = 30000;            // PROTOCOL.md: the server caps wait here
constexpr uint64_t kMaxJsonResponse = 256ull << 20;      // /pos, /sync, /info, history, lease
constexpr uint64_t kMaxInteriorBytes = 1ull << 30;       // one interior batch, decompressed
constexpr int kMaxJsonDepth = 32;
// Page batches: frames with the server's sums first (page-sums), plain frames from a server
// without them. The answer's Content-Type says which came.
const std::string kAcceptPages = std::string(kPagesWithSumsMime) + ", " + kPagesMime;

// ---- small helpers ----

std::string Where(const char* method, const std::string& path, const std::string& db) {
  std::string w = std::string(method) + " " + path;
  if (!db.empty()) w += " db=" + db;
  return w;
}

Status Corrupt(const std::string& where, const std::string& what) {
  return Status::Corruption("litevfs: server: " + what + " (" + where + ")");
}

// The pgno list of one /db/page request: from want[i], at most kMaxPgnosPerRequest pages in
// at most kMaxPgnoListChars characters (the server's URI limit). With `ranges` (extension
// pgno-ranges) runs of 3+ consecutive pages are written "A-B", so a scan's 1,024 pages
// are one short item. Returns the index after the last page taken.
size_t EncodePgnoChunk(const std::vector<uint32_t>& want, size_t i, bool ranges, std::string* out) {
  out->clear();
  size_t j = i;
  while (j < want.size() && j - i < kMaxPgnosPerRequest) {
    size_t k = j + 1;  // end of the run starting at j
    while (ranges && k < want.size() && k - i < kMaxPgnosPerRequest && want[k] == want[k - 1] + 1) k++;
    std::string item = std::to_string(want[j]);
    if (k - j >= 3) {
      item += "-" + std::to_string(want[k - 1]);
    } else {
      k = j + 1;
    }
    if (!out->empty() && out->size() + 1 + item.size() > kMaxPgnoListChars) break;
    if (!out->empty()) out->push_back(',');
    *out += item;
    j = k;
  }
  return j;
}

// Rejects nesting deeper than any of our documents before building a DOM of it.
bool JsonDepthOk(std::string_view body) {
  int depth = 0;
  bool in_str = false, esc = false;
  for (char c : body) {
    if (in_str) {
      if (esc) esc = false;
      else if (c == '\\') esc = true;
      else if (c == '"') in_str = false;
      continue;
    }
    if (c == '"') in_str = true;
    else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return false;
    } else if (c == ']' || c == '}') {
      depth--;
    }
  }
  return true;
}

Result<json> ParseJson(std::string_view body, const std::string& what) {
  if (!JsonDepthOk(body)) return Status::Corruption(what + ": JSON nested too deeply");
  json j = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Status::Corruption(what + ": response is not valid JSON: \"" +
                              internal::BodyExcerpt(body, 80) + "\"");
  }
  return j;
}

bool GetU32(const json& j, uint32_t* out) {
  if (!j.is_number_unsigned()) return false;
  uint64_t v = j.get<uint64_t>();
  if (v > UINT32_MAX) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

Result<Pos> PosFromJson(const json& j, const std::string& what) {
  if (!j.is_object()) return Status::Corruption(what + ": position is not an object");
  auto t = j.find("txid");
  auto c = j.find("postApplyChecksum");
  if (t == j.end() || c == j.end() || !t->is_string() || !c->is_string()) {
    return Status::Corruption(what + ": position lacks string txid/postApplyChecksum");
  }
  Pos p;
  if (!internal::ParseHex16(t->get_ref<const std::string&>(), &p.txid)) {
    return Status::Corruption(what + ": bad txid \"" +
                              internal::BodyExcerpt(t->get_ref<const std::string&>(), 40) +
                              "\" (want 16 hex digits)");
  }
  if (!internal::ParseHex16(c->get_ref<const std::string&>(), &p.post_apply_checksum)) {
    return Status::Corruption(what + ": bad postApplyChecksum \"" +
                              internal::BodyExcerpt(c->get_ref<const std::string&>(), 40) +
                              "\" (want 16 hex digits)");
  }
  return p;
}

json PosToJson(const Pos& p) {
  return json{{"txid", ltx::FormatTxid(p.txid)},
              {"postApplyChecksum", ltx::FormatChecksum(p.post_apply_checksum)}};
}

// One sync object: {"pos","pgnos","all","commit","pageSize"}.
Result<SyncResult> SyncFromJson(const json& j, const std::string& what) {
  if (!j.is_object()) return Status::Corruption(what + ": sync result is not an object");
  SyncResult r;
  auto pos = j.find("pos");
  if (pos == j.end()) return Status::Corruption(what + ": sync result has no pos");
  LTX_ASSIGN_OR_RETURN(r.pos, PosFromJson(*pos, what));
  if (auto a = j.find("all"); a != j.end()) {
    if (!a->is_boolean()) return Status::Corruption(what + ": \"all\" is not a boolean");
    r.all = a->get<bool>();
  }
  if (auto pg = j.find("pgnos"); pg != j.end() && !pg->is_null()) {
    if (!pg->is_array()) return Status::Corruption(what + ": \"pgnos\" is not an array");
    if (r.all && !pg->empty()) {
      return Status::Corruption(what + ": \"all\" is true but \"pgnos\" lists " +
                                std::to_string(pg->size()) + " pages");
    }
    r.pgnos.reserve(pg->size());
    for (const auto& e : *pg) {
      uint32_t n = 0;
      if (!GetU32(e, &n) || n == 0 || n > kMaxPgno) {
        return Status::Corruption(what + ": bad page number " +
                                  internal::BodyExcerpt(e.dump(-1, ' ', false, json::error_handler_t::replace), 40) + " in pgnos");
      }
      if (!r.pgnos.empty() && n <= r.pgnos.back()) {
        return Status::Corruption(what + ": pgnos not strictly ascending (" + std::to_string(n) +
                                  " after " + std::to_string(r.pgnos.back()) + ")");
      }
      r.pgnos.push_back(n);
    }
  }
  if (auto c = j.find("commit"); c != j.end() && !c->is_null()) {
    if (!GetU32(*c, &r.commit)) return Status::Corruption(what + ": bad \"commit\"");
  }
  if (auto ps = j.find("pageSize"); ps != j.end() && !ps->is_null()) {
    if (!GetU32(*ps, &r.page_size) || (r.page_size != 0 && !ltx::IsValidPageSize(r.page_size))) {
      return Status::Corruption(what + ": bad \"pageSize\" " + internal::BodyExcerpt(ps->dump(-1, ' ', false, json::error_handler_t::replace), 20));
    }
  }
  return r;
}

// `want` sorted and unique (or empty = anything).
bool Wanted(const std::vector<uint32_t>& want, uint32_t pgno) {
  return want.empty() || std::binary_search(want.begin(), want.end(), pgno);
}

std::vector<uint32_t> SortedUnique(const std::vector<uint32_t>& v) {
  std::vector<uint32_t> s = v;
  std::sort(s.begin(), s.end());
  s.erase(std::unique(s.begin(), s.end()), s.end());
  return s;
}

// Which asked-for pages may be absent: those past commit (when known); without commit,
// only a tail (every absent page above every present one). The lock page never exists.
// A batch of separate page strings as one block (the JSON form's answers).
PageBlock BlockOf(PageBatch&& b) {
  PageBlock out;
  out.pos = b.pos;
  out.page_size = b.page_size;
  out.commit = b.commit;
  auto bytes = std::make_shared<std::string>();
  bytes->reserve(b.pages.size() * size_t(b.page_size));
  for (const auto& [pg, data] : b.pages) bytes->append(data);
  size_t off = 0;
  for (const auto& [pg, data] : b.pages) {
    out.pages.emplace_back(pg, std::string_view(*bytes).substr(off, data.size()));
    off += data.size();
  }
  out.buffers.push_back(std::move(bytes));
  return out;
}

// A block with each page copied into its own string.
PageBatch BatchOf(const PageBlock& b) {
  PageBatch out;
  out.pos = b.pos;
  out.page_size = b.page_size;
  out.commit = b.commit;
  out.pages.reserve(b.pages.size());
  for (const auto& [pg, data] : b.pages) out.pages.emplace_back(pg, std::string(data));
  return out;
}

Status CheckMissing(const std::vector<uint32_t>& want, const std::vector<PageView>& got, uint32_t page_size,
                    uint32_t commit, bool commit_known, const std::string& where) {
  const uint32_t lock = page_size ? ltx::LockPgno(page_size) : 0;
  const uint32_t max_got = got.empty() ? 0 : got.back().first;
  size_t gi = 0;
  for (uint32_t p : want) {
    while (gi < got.size() && got[gi].first < p) gi++;
    bool present = gi < got.size() && got[gi].first == p;
    if (present) {
      if (commit_known && p > commit) {
        return Corrupt(where, "page " + std::to_string(p) + " is past commit " +
                                  std::to_string(commit));
      }
      continue;
    }
    if (p == lock) continue;
    if (commit_known ? p <= commit : p < max_got) {
      return Corrupt(where, "page " + std::to_string(p) + " was asked for but is missing" +
                                (commit_known ? " (commit " + std::to_string(commit) + ")" : ""));
    }
  }
  return Status::OK();
}

// The Litevfs-Pos header, strictly %016x/%016x.
Result<Pos> ParsePosHeader(const HttpResponse& r, const std::string& where) {
  auto it = r.headers.find("litevfs-pos");
  if (it == r.headers.end()) return Corrupt(where, "missing Litevfs-Pos header");
  Pos p;
  if (!internal::ParsePosText(it->second, &p.txid, &p.post_apply_checksum)) {
    return Corrupt(where, std::string("bad Litevfs-Pos header \"") +
                              internal::BodyExcerpt(it->second, 40) + "\"");
  }
  return p;
}

uint64_t RandomU64() {
  std::random_device rd;
  return (uint64_t(rd()) << 32) ^ uint64_t(rd());
}

std::string Hex16(uint64_t v) { return ltx::FormatTxid(v); }

// issue 17: 128 random bits naming this client as a lease holder (Lfsc-Lease-Client).
std::string NewLeaseClientToken() { return Hex16(RandomU64()) + Hex16(RandomU64()); }

// The snapshot sink wrapper: holds back the first header's worth of bytes, checks they are
// an LTX snapshot header, then passes everything through. Resettable for a retry as long
// as nothing reached the caller's sink.
class SnapshotCheckSink final : public ltx::Sink {
 public:
  SnapshotCheckSink(ltx::Sink* out, std::string where) : out_(out), where_(std::move(where)) {}
  Status Write(const void* data, size_t n) override {
    const char* p = static_cast<const char*>(data);
    if (!checked_) {
      size_t take = std::min(n, ltx::kHeaderSize - head_.size());
      head_.append(p, take);
      p += take;
      n -= take;
      total_ += take;
      if (head_.size() < ltx::kHeaderSize) return Status::OK();
      LTX_RETURN_IF_ERROR(CheckHeader());
      checked_ = true;
      LTX_RETURN_IF_ERROR(Forward(head_.data(), head_.size()));
    }
    if (n == 0) return Status::OK();
    total_ += n;
    return Forward(p, n);
  }
  Status Finish() {
    if (!checked_) {
      return Corrupt(where_, "snapshot body is " + std::to_string(head_.size()) +
                                 " bytes, shorter than an LTX header");
    }
    return Status::OK();
  }
  void Reset() {
    head_.clear();
    checked_ = false;
    total_ = 0;
  }
  uint64_t forwarded() const { return forwarded_; }
  uint64_t total() const { return total_; }

 private:
  Status CheckHeader() {
    auto h = ltx::Header::Decode(
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(head_.data()), head_.size()));
    if (!h.ok()) return Corrupt(where_, "snapshot: " + h.status().message());
    Status st = h->Validate();
    if (!st.ok()) return Corrupt(where_, "snapshot: " + st.message());
    if (!h->IsSnapshot()) {
      return Corrupt(where_, "snapshot: LTX starts at txid " + std::to_string(h->min_txid) +
                                 ", not 1");
    }
    return Status::OK();
  }
  Status Forward(const void* p, size_t n) {
    forwarded_ += n;
    return out_->Write(p, n);
  }

  ltx::Sink* out_;
  std::string where_;
  std::string head_;
  bool checked_ = false;
  uint64_t forwarded_ = 0;
  uint64_t total_ = 0;
};

// ---- the client ----

struct Call {
  const char* method = "GET";
  std::string path;
  std::string db;  // for messages only
  std::vector<std::pair<std::string, std::string>> query;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string body_path;   // the body is this file, streamed (HttpRequest::body_path) ...
  const Client::BodyReader* body_reader = nullptr;  // ... or pulled from this reader ...
  uint64_t body_size = 0;  // ... of this size (for stats)
  long timeout_ms = 0;
  uint64_t max_response_bytes = kMaxJsonResponse;
  bool pooled_body = false;  // a page batch: the body goes into a buffer from buffers_
  bool idempotent = false;
  SnapshotCheckSink* sink = nullptr;  // stream 2xx bodies here
};

class ClientImpl final : public Client {
 public:
  ClientImpl(const ClientConfig& cfg, std::unique_ptr<Transport> t)
      : cfg_(cfg), transport_(std::move(t)), cluster_header_("LFSC" + Hex16(RandomU64())) {}

  Result<Info> GetInfo() override {
    {
      std::lock_guard<std::mutex> l(mu_);
      if (info_) return *info_;
    }
    Call c;
    c.path = "/info";
    c.idempotent = true;
    c.headers.emplace_back("Accept", "application/json");
    LTX_ASSIGN_OR_RETURN(HttpResponse r, Exec(c));
    const std::string where = Where(c.method, c.path, c.db);
    LTX_ASSIGN_OR_RETURN(json j, ParseJson(r.body, "litevfs: server: " + where));
    if (!j.is_object()) return Corrupt(where, "/info response is not an object");
    Info info;
    if (auto id = j.find("clusterID"); id != j.end() && !id->is_null()) {
      if (!id->is_string()) return Corrupt(where, "clusterID is not a string");
      info.cluster_id = id->get<std::string>();
    }
    if (auto f = j.find("features"); f != j.end() && !f->is_null()) {
      if (!f->is_array()) return Corrupt(where, "features is not an array");
      for (const auto& e : *f) {
        if (!e.is_string()) return Corrupt(where, "a feature is not a string");
        info.features.push_back(e.get<std::string>());
      }
    }
    std::lock_guard<std::mutex> l(mu_);
    info_ = info;
    return info;
  }

  Result<std::map<std::string, Pos>> GetPositions() override {
    Call c;
    c.path = "/pos";
    c.idempotent = true;
    c.headers.emplace_back("Accept", "application/json");
    const std::string where = Where(c.method, c.path, c.db);
    LTX_ASSIGN_OR_RETURN(HttpResponse r, Exec(c));
    LTX_ASSIGN_OR_RETURN(json j, ParseJson(r.body, "litevfs: server: " + where));
    if (!j.is_object()) return Corrupt(where, "/pos response is not an object");
    std::map<std::string, Pos> out;
    for (const auto& [name, v] : j.items()) {
      if (!ValidateDatabaseName(name).ok()) {
        return Corrupt(where, "invalid database name \"" + internal::BodyExcerpt(name, 60) + "\"");
      }
      LTX_ASSIGN_OR_RETURN(Pos p, PosFromJson(v, "litevfs: server: " + where + " db " + name));
      out.emplace(name, p);
    }
    return out;
  }

  Result<SyncResult> Sync(const std::string& db, const Pos& since, long wait_ms) override {
    LTX_RETURN_IF_ERROR(ValidateDatabaseName(db));
    if (wait_ms < 0) {
      return Status::InvalidArgument("litevfs: sync wait " + std::to_string(wait_ms) +
                                     " ms is negative");
    }
    // The server holds a long poll at most this long anyway (PROTOCOL.md); asking for the
    // same keeps our own timeout (wait + request timeout) meaningful.
    wait_ms = std::min(wait_ms, kMaxSyncWaitMs);
    Call c;
    c.path = "/db/sync";
    c.db = db;
    c.idempotent = true;
    c.headers.emplace_back("Accept", "application/json");
    c.query.emplace_back("db", db);
    if (!since.IsZero()) c.query.emplace_back("pos", ltx::FormatPos(since));
    if (wait_ms > 0 && !since.IsZero()) {
      LTX_ASSIGN_OR_RETURN(bool has_wait, HasFeature("sync-wait"));
      if (has_wait) {
        c.query.emplace_back("wait", std::to_string(wait_ms));
        c.timeout_ms = wait_ms + cfg_.request_timeout_ms;
      }
    }
    const std::string where = Where(c.method, c.path, db);
    LTX_ASSIGN_OR_RETURN(HttpResponse r, Exec(c));
    auto res = ParseSyncJson(r.body);
    if (!res.ok()) return res.status().WithContext("litevfs: server (" + where + ")");
    LTX_RETURN_IF_ERROR(CheckSyncAgainst(*res, since, where));
    return res;
  }

  Result<std::map<std::string, SyncResult>> SyncMany(
      const std::map<std::string, Pos>& since) override {
    std::map<std::string, SyncResult> out;
    if (since.empty()) return out;
    json positions = json::object();
    for (const auto& [db, pos] : since) {
      LTX_RETURN_IF_ERROR(ValidateDatabaseName(db));
      positions[db] = PosToJson(pos);
    }
    Call c;
    c.method = "POST";
    c.path = "/sync";
    c.idempotent = true;  // reads only: safe to repeat
    c.headers.emplace_back("Accept", "application/json");
    c.headers.emplace_back("Content-Type", "application/json");
    c.body = json{{"positions", positions}}.dump();
    const std::string where = Where(c.method, c.path, "");
    LTX_ASSIGN_OR_RETURN(HttpResponse r, Exec(c));
    const std::string what = "litevfs: server: " + where;
    LTX_ASSIGN_OR_RETURN(json j, ParseJson(r.body, what));
    if (!j.is_object()) return Corrupt(where, "response is not an object");
    auto ch = j.find("changes");
    if (ch == j.end() || !ch->is_object()) return Corrupt(where, "response has no \"changes\" object");
    for (const auto& [db, v] : ch->items()) {
      auto asked = since.find(db);
      if (asked == since.end()) {
        return Corrupt(where, "answer for database \"" + internal::BodyExcerpt(db, 60) +
                                  "\", which was not asked for");
      }
      LTX_ASSIGN_OR_RETURN(SyncResult s, SyncFromJson(v, what + " db " + db));
      LTX_RETURN_IF_ERROR(CheckSyncAgainst(s, asked->second, where + " db " + db));
      out.emplace(db, std::move(s));
    }
    for (const auto& [db, pos] : since) {
      if (!out.count(db)) return Corrupt(where, "no answer for database \"" + db + "\"");
    }
    return out;
  }

  Result<PageBlock> GetPageBlock(const std::string& db, const Pos& pos,
                                 const std::vector<uint32_t>& pgnos) override {
    LTX_RETURN_IF_ERROR(ValidateDatabaseName(db));
    if (pos.IsZero()) {
      return Status::InvalidArgument("litevfs: GetPages needs a position (got zero)");
    }
    if (pgnos.empty()) return Status::InvalidArgument("litevfs: GetPages with no pages");
    for (uint32_t p : pgnos) {
      if (p == 0 || p > kMaxPgno) {
        return Status::InvalidArgument("litevfs: page number " + std::to_string(p) +
                                       " out of range [1, " + std::to_string(kMaxPgno) + "]");
      }
    }
    const std::vector<uint32_t> want = SortedUnique(pgnos);
    LTX_ASSIGN_OR_RETURN(bool binary, HasFeature("pages-binary"));
    LTX_ASSIGN_OR_RETURN(bool ranges, HasFeature("pgno-ranges"));

    PageBlock out;
    out.pos = pos;
    bool commit_known = false;
    size_t i = 0;
    while (i < want.size()) {
      // Next chunk: <= 4096 pgnos and a pgno list short enough for the server's URI limit.
      std::string list;
      const size_t j = EncodePgnoChunk(want, i, ranges, &list);
      std::vector<uint32_t> chunk(want.begin() + long(i), want.begin() + long(j));
      LTX_ASSIGN_OR_RETURN(PageBlock b, FetchPagesChunk(db, pos, chunk, list, binary, &commit_known));
      const std::string where = Where("GET", "/db/page", db);
      if (b.page_size != 0) {
        if (out.page_size != 0 && out.page_size != b.page_size) {
          return Corrupt(where, "page size changed between batches (" +
                                    std::to_string(out.page_size) + " then " +
                                    std::to_string(b.page_size) + ")");
        }
        out.page_size = b.page_size;
      }
      if (i > 0 && out.commit != b.commit) {
        return Corrupt(where, "commit changed between batches at the same position");
      }
      out.commit = b.commit;
      out.pages.insert(out.pages.end(), b.pages.begin(), b.pages.end());
      out.sums.insert(out.sums.end(), b.sums.begin(), b.sums.end());
      for (auto& buf : b.buffers) out.buffers.push_back(std::move(buf));
      i = j;
    }
    if (out.sums.size() != out.pages.size()) out.sums.clear();  // some batch came without
    LTX_RETURN_IF_ERROR(CheckMissing(want, out.pages, out.page_size, out.commit, commit_known,
                                     Where("GET", "/db/page", db)));
    stats_.pages_fetched += out.pages.size();
    return out;
  }

  Result<PageBlock> GetInteriorBlock(const std::string& db, const Pos& pos) override {
    LTX_RETURN_IF_ERROR(ValidateDatabaseName(db));
    if (!cfg_.use_extensions) {
      return Status::Unsupported("litevfs: extensions are off: no /db/interior");
    }
    // Features not known yet (nothing asked so far): ask anyway instead of spending a round
    // trip on /info. Our server names its features in every response, even a 404.
    const bool probing = !FeaturesKnown();
    if (!probing) {
      LTX_ASSIGN_OR_RETURN(bool has, HasFeature("interior"));
      if (!has) {
        return Status::Unsupported("litevfs: the server does not offer the interior extension");
      }
    }
    Call c;
    c.path = "/db/interior";
    c.db = db;
    c.idempotent = true;
    c.query.emplace_back("db", db);
    if (!pos.IsZero()) c.query.emplace_back("pos", ltx::FormatPos(pos));
    c.headers.emplace_back("Accept", kAcceptPages);
    if (cfg_.accept_zstd) c.headers.emplace_back("Accept-Encoding", "zstd");
    c.max_response_bytes = kMaxInteriorBytes;
    c.pooled_body = true;
    const std::string where = Where(c.method, c.path, db);
    auto rr = Exec(c);
    if (!rr.ok()) {
      if (probing && rr.status().code() == ltx::Code::kNotFound && !FeaturesKnown()) {
        // A 404 without our header: a server without the extension (route unknown).
        return Status::Unsupported("litevfs: the server does not offer the interior extension");
      }
      return rr.status();
    }
    HttpResponse r = std::move(rr).value();
    LTX_ASSIGN_OR_RETURN(Pos at, ParsePosHeader(r, where));
    if (!pos.IsZero() && at != pos) {
      return Corrupt(where, "answered at position " + ltx::FormatPos(at) + ", asked " +
                                ltx::FormatPos(pos));
    }
    uint32_t commit = 0;
    if (!ParseU32Header(r, "litevfs-commit", &commit)) {
      return Corrupt(where, "missing or bad Litevfs-Commit header");
    }
    PageBlock out;
    out.pos = at;
    out.commit = commit;
    LTX_ASSIGN_OR_RETURN(out.page_size, PageSizeHeader(r, where));
    const bool with_sums = HasSums(r);
    uint64_t bound = std::min<uint64_t>(uint64_t(commit) * (out.page_size + FrameHeadSize(with_sums)),
                                        kMaxInteriorBytes);
    LTX_ASSIGN_OR_RETURN(auto body, TakeBody(std::move(r), bound, where));
    auto frames = ParsePageFrames(*body, out.page_size, {}, with_sums ? &out.sums : nullptr);
    if (!frames.ok()) return frames.status().WithContext("litevfs: server (" + where + ")");
    out.pages = std::move(frames).value();
    out.buffers.push_back(std::move(body));
    if (!out.pages.empty() && out.pages.back().first > commit) {
      return Corrupt(where, "page " + std::to_string(out.pages.back().first) +
                                " is past commit " + std::to_string(commit));
    }
    if (commit > 0 && (out.pages.empty() || out.pages.front().first != 1)) {
      return Corrupt(where, "interior batch lacks page 1");
    }
    stats_.pages_fetched += out.pages.size();
    return out;
  }

  Result<uint64_t> GetSnapshot(const std::string& db, ltx::Sink* out) override {
    LTX_RETURN_IF_ERROR(ValidateDatabaseName(db));
    Call c;
    c.path = "/db/snapshot";
    c.db = db;
    c.idempotent = true;
    c.query.emplace_back("db", db);
    c.headers.emplace_back("Accept", "application/octet-stream");
    c.max_response_bytes = 0;  // streamed; a snapshot is as large as the database
    const std::string where = Where(c.method, c.path, db);
    SnapshotCheckSink sink(out, where);
    c.sink = &sink;
    LTX_ASSIGN_OR_RETURN(HttpResponse r, Exec(c));
    if (auto ce = r.headers.find("content-encoding");
        ce != r.headers.end() && ce->second != "identity") {
      return Corrupt(where, "unexpected Content-Encoding \"" + internal::BodyExcerpt(ce->second, 40) +
                                "\" on a snapshot");
    }
    LTX_RETURN_IF_ERROR(sink.Finish());
    return sink.total();
  }

  Result<Pos> UploadTx(const std::string& db, const std::string& ltx_bytes,
                       const std::string& lease_id) override {
    LTX_RETURN_IF_ERROR(ValidateDatabaseName(db));
    const std::string what = "litevfs: LTX upload";
    LTX_RETURN_IF_ERROR(CheckUploadSize(ltx_bytes.size(), what));
    const auto* bytes = reinterpret_cast<const uint8_t*>(ltx_bytes.data());
    LTX_ASSIGN_OR_RETURN(Pos new_pos,
                         UploadEndPos(bytes, bytes + ltx_bytes.size() - ltx::kTrailerSize, what));
    Call c;
    c.body = ltx_bytes;
    return PostTx(db, c, new_pos, lease_id);
  }

  Result<Pos> UploadTxFile(const std::string& db, const std::string& ltx_path,
                           const std::string& lease_id) override {
    LTX_RETURN_IF_ERROR(ValidateDatabaseName(db));
    const std::string what = "litevfs: LTX upload " + ltx_path;
    int fd = ::open(ltx_path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      const int e = errno;
      std::string msg = what + ": " + std::strerror(e);
      return e == ENOENT ? Status::NotFound(std::move(msg)) : Status::IOError(std::move(msg));
    }
    struct Closer {
      int fd;
      ~Closer() { ::close(fd); }
    } closer{fd};
    struct stat st;
    if (::fstat(fd, &st) != 0) return Status::IOError(what + ": fstat: " + std::strerror(errno));
    if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(what + " is not a regular file");
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    LTX_RETURN_IF_ERROR(CheckUploadSize(size, what));
    uint8_t head[ltx::kHeaderSize];
    uint8_t tail[ltx::kTrailerSize];
    LTX_RETURN_IF_ERROR(PreadFull(fd, head, sizeof(head), 0, what));
    LTX_RETURN_IF_ERROR(PreadFull(fd, tail, sizeof(tail), size - ltx::kTrailerSize, what));
    LTX_ASSIGN_OR_RETURN(Pos new_pos, UploadEndPos(head, tail, what));
    Call c;
    c.body_path = ltx_path;
    c.body_size = size;
    return PostTx(db, c, new_pos, lease_id);
  }

  Result<Pos> UploadTxStream(const std::string& db, const Pos& new_pos, uint64_t size,
                             const BodyReader& reader, const std::string& lease_id,
                             ReleaseOnCommit* release) override {
    LTX_RETURN_IF_ERROR(ValidateDatabaseName(db));
    LTX_RETURN_IF_ERROR(CheckUploadSize(size, "litevfs: LTX upload"));
    Call c;
    c.body_reader = &reader;
    c.body_size = size;
    return PostTx(db, c, new_pos, lease_id, release);
  }

  uint64_t max_body_bytes() const override { return max_body_.load(); }
  bool TakeLeaseWaiters() override { return lease_waiters_.exchange(false); }
  void ReleaseIdleBuffers() override { buffers_.Clear(); }

  // Shared by UploadTx and UploadTxFile; `what` is "litevfs: LTX upload[ PATH]".
  static Status CheckUploadSize(uint64_t size, const std::string& what) {
    if (size < ltx::kHeaderSize + ltx::kTrailerSize) {
      return Status::InvalidArgument(what + " is " + std::to_string(size) +
                                     " bytes, shorter than a header and trailer");
    }
    return Status::OK();
  }

  // The position an upload ends at: max_txid of its (valid) header, post-apply checksum of
  // its trailer. The rest of the file is the server's to verify.
  static Result<Pos> UploadEndPos(const uint8_t* head, const uint8_t* tail,
                                  const std::string& what) {
    auto hdr = ltx::Header::Decode(std::span<const uint8_t>(head, ltx::kHeaderSize));
    if (!hdr.ok()) return Status::InvalidArgument(what + ": " + hdr.status().message());
    if (Status st = hdr->Validate(); !st.ok()) {
      return Status::InvalidArgument(what + ": " + st.message());
    }
    auto trl = ltx::Trailer::Decode(std::span<const uint8_t>(tail, ltx::kTrailerSize));
    if (!trl.ok()) return Status::InvalidArgument(what + ": " + trl.status().message());
    return Pos{hdr->max_txid, trl->post_apply_checksum};
  }

  static Status PreadFull(int fd, uint8_t* buf, size_t n, uint64_t off, const std::string& what) {
    const ssize_t got = ltx::PreadFull(fd, buf, n, off);
    if (got < 0) return Status::IOError(what + ": read: " + std::strerror(int(-got)));
    if (size_t(got) < n) {
      return Status::IOError(what + ": file shrank while it was read (offset " +
                             std::to_string(off + uint64_t(got)) + ")");
    }
    return Status::OK();
  }

  // POST /db/tx of c's body (bytes or file), then checks the acknowledgement against the
  // position the LTX ends at. Not idempotent: never retried.
  Result<Pos> PostTx(const std::string& db, Call& c, const Pos& new_pos,
                     const std::string& lease_id, ReleaseOnCommit* release = nullptr) {
    c.method = "POST";
    c.path = "/db/tx";
    c.db = db;
    c.idempotent = false;
    c.query.emplace_back("db", db);
    c.headers.emplace_back("Content-Type", "application/octet-stream");
    c.headers.emplace_back("Accept", "application/json");
    if (!lease_id.empty()) c.headers.emplace_back("Lfsc-Lease-Id", lease_id);
    if (release && release->if_waiters && !lease_id.empty()) c.headers.emplace_back("Lfsc-Lease-Release", "if-waiters");
    const std::string where = Where(c.method, c.path, db);
    LTX_ASSIGN_OR_RETURN(HttpResponse r, Exec(c));
    if (release) release->released = release->if_waiters && r.headers.count("lfsc-lease-released");
    auto hwm = r.headers.find("litefs-hwm");
    if (hwm == r.headers.end()) return Corrupt(where, "upload acknowledged without Litefs-Hwm");
    uint64_t hwm_txid = 0;
    if (!internal::ParseHex16(hwm->second, &hwm_txid)) {
      return Corrupt(where,
                     "bad Litefs-Hwm header \"" + internal::BodyExcerpt(hwm->second, 40) + "\"");
    }
    if (hwm_txid != new_pos.txid) {
      return Corrupt(where, "Litefs-Hwm " + ltx::FormatTxid(hwm_txid) +
                                " does not match the uploaded txid " +
                                ltx::FormatTxid(new_pos.txid));
    }
    if (!r.body.empty()) {
      const std::string what = "litevfs: server: " + where;
      LTX_ASSIGN_OR_RETURN(json j, ParseJson(r.body, what));
      if (!j.is_object()) return Corrupt(where, "upload response is not an object");
      if (auto p = j.find("pos"); p != j.end()) {
        LTX_ASSIGN_OR_RETURN(Pos got, PosFromJson(*p, what));
        if (got != new_pos) {
          return Corrupt(where, "server reports position " + ltx::FormatPos(got) +
                                    " after upload, the LTX ends at " + ltx::FormatPos(new_pos));
        }
      }
    }
    return new_pos;
  }

  Result<Lease> AcquireLease(const std::string& db, long duration_ms,
                             const std::string& id) override {
    return PostLease(db, duration_ms, id, 0);
  }

  Result<Lease> AcquireLeaseWaiting(const std::string& db, long duration_ms, long wait_ms) override {
    auto wait = HasFeature("lease-wait");
    return PostLease(db, duration_ms, {}, wait.ok() && *wait ? wait_ms : 0);
  }

  // POST /lease: acquire (id empty; the service may wait up to wait_ms) or refresh.
  Result<Lease> PostLease(const std::string& db, long duration_ms, const std::string& id, long wait_ms) {
    LTX_RETURN_IF_ERROR(ValidateDatabaseName(db));
    if (duration_ms < kMinLeaseDurationMs || duration_ms > kMaxLeaseDurationMs) {
      return Status::InvalidArgument("litevfs: lease duration " + std::to_string(duration_ms) +
                                     " ms is out of range [" + std::to_string(kMinLeaseDurationMs) + ", " +
                                     std::to_string(kMaxLeaseDurationMs) + "]");
    }
    Call c;
    c.method = "POST";
    c.path = "/lease";
    c.db = db;
    // A refresh is idempotent; so is an acquire, with this client's token (issue 17).
    c.idempotent = true;
    c.headers.emplace_back("Accept", "application/json");
    if (id.empty()) c.headers.emplace_back("Lfsc-Lease-Client", lease_client_);
    c.query.emplace_back("db", db);
    c.query.emplace_back("duration", std::to_string(duration_ms));
    if (!id.empty()) c.query.emplace_back("id", id);
    if (wait_ms > 0) c.query.emplace_back("wait", std::to_string(wait_ms));
    const std::string where = Where(c.method, c.path, db);
    LTX_ASSIGN_OR_RETURN(HttpResponse r, Exec(c));
    const std::string what = "litevfs: server: " + where;
    LTX_ASSIGN_OR_RETURN(json j, ParseJson(r.body, what));
    if (!j.is_object()) return Corrupt(where, "lease response is not an object");
    auto jid = j.find("id");
    auto jexp = j.find("expires_at");
    if (jid == j.end() || !jid->is_string() || jid->get_ref<const std::string&>().empty()) {
      return Corrupt(where, "lease response has no id");
    }
    if (jexp == j.end() || !jexp->is_string()) {
      return Corrupt(where, "lease response has no expires_at");
    }
    Lease lease{jid->get<std::string>(), jexp->get<std::string>(), Pos{}};
    if (auto jp = j.find("pos"); jp != j.end() && id.empty()) {
      LTX_ASSIGN_OR_RETURN(lease.pos, PosFromJson(*jp, what));
    }
    int64_t ms = 0;
    if (!internal::ParseRfc3339Millis(lease.expires_at, &ms)) {
      return Corrupt(where, "lease expires_at \"" + internal::BodyExcerpt(lease.expires_at, 40) +
                                "\" is not RFC 3339");
    }
    for (char ch : lease.id) {
      if (static_cast<unsigned char>(ch) <= ' ' || static_cast<unsigned char>(ch) >= 0x7f) {
        return Corrupt(where, "lease id has unprintable characters");
      }
    }
    if (!id.empty() && lease.id != id) {
      return Corrupt(where, "refresh of lease " + id + " answered with lease " + lease.id);
    }
    return lease;
  }

  Status ReleaseLease(const std::string& db, const std::string& id) override {
    LTX_RETURN_IF_ERROR(ValidateDatabaseName(db));
    if (id.empty()) return Status::InvalidArgument("litevfs: ReleaseLease needs a lease id");
    Call c;
    c.method = "DELETE";
    c.path = "/lease";
    c.db = db;
    c.idempotent = false;
    c.query.emplace_back("db", db);
    c.query.emplace_back("id", id);
    auto r = Exec(c);
    return r.ok() ? Status::OK() : r.status();
  }

  Result<LeaseStatus> GetLeaseStatus(const std::string& db) override {
    std::string where;
    LTX_ASSIGN_OR_RETURN(json j, GetExtensionObject(db, "/lease", "lease-status", &where));
    auto exists = j.find("exists");
    auto held = j.find("held");
    auto exp = j.find("expires_at");
    if (exists == j.end() || !exists->is_boolean() || held == j.end() || !held->is_boolean() ||
        exp == j.end() || !exp->is_string()) {
      return Corrupt(where, "lease status needs exists, held and expires_at");
    }
    LeaseStatus ls{exists->get<bool>(), held->get<bool>(), exp->get<std::string>()};
    int64_t ms = 0;
    if (ls.held && !internal::ParseRfc3339Millis(ls.expires_at, &ms)) {
      return Corrupt(where, "lease expires_at \"" + internal::BodyExcerpt(ls.expires_at, 40) +
                                "\" is not RFC 3339");
    }
    return ls;
  }

  Result<std::vector<HistoryEntry>> GetHistory(const std::string& db) override {
    std::string where;
    LTX_ASSIGN_OR_RETURN(json j, GetExtensionObject(db, "/db/history", "history", &where));
    const std::string what = "litevfs: server: " + where;
    auto h = j.find("history");
    if (h == j.end() || !(h->is_array() || h->is_null())) {
      return Corrupt(where, "history response has no \"history\" array");
    }
    std::vector<HistoryEntry> out;
    if (h->is_null()) return out;
    out.reserve(h->size());
    for (const auto& e : *h) {
      if (!e.is_object()) return Corrupt(where, "history entry is not an object");
      HistoryEntry he;
      auto p = e.find("pos");
      if (p == e.end()) return Corrupt(where, "history entry has no pos");
      LTX_ASSIGN_OR_RETURN(he.pos, PosFromJson(*p, what));
      auto ts = e.find("timestamp");
      if (ts == e.end() || !ts->is_string() ||
          !internal::ParseRfc3339Millis(ts->get_ref<const std::string&>(), &he.timestamp_ms)) {
        return Corrupt(where, "history entry at txid " + ltx::FormatTxid(he.pos.txid) +
                                  " has no RFC 3339 timestamp");
      }
      if (auto cm = e.find("commit"); cm != e.end() && !GetU32(*cm, &he.commit)) {
        return Corrupt(where, "history entry has a bad commit");
      }
      if (auto pc = e.find("pageCount"); pc != e.end() && !GetU32(*pc, &he.page_count)) {
        return Corrupt(where, "history entry has a bad pageCount");
      }
      if (!out.empty() && he.pos.txid <= out.back().pos.txid) {
        return Corrupt(where, "history not in ascending txid order (" +
                                  ltx::FormatTxid(he.pos.txid) + " after " +
                                  ltx::FormatTxid(out.back().pos.txid) + ")");
      }
      out.push_back(he);
    }
    return out;
  }

  // issue 18: the time-travel routes (client_time.cc) go through here.
  Result<std::string> CallExtension(const ExtensionCall& x) override {
    LTX_RETURN_IF_ERROR(ValidateDatabaseName(x.db));
    LTX_ASSIGN_OR_RETURN(bool has, HasFeature(x.feature));
    if (!has) {
      return Status::Unsupported("litevfs: the server does not offer " + x.path + " (extension " +
                                 x.feature + ")");
    }
    Call c;
    c.method = x.method.c_str();
    c.path = x.path;
    c.db = x.db;
    c.idempotent = x.method == "GET";
    c.headers.emplace_back("Accept", "application/json");
    if (!x.lease_id.empty()) c.headers.emplace_back("Lfsc-Lease-Id", x.lease_id);
    c.query.emplace_back("db", x.db);
    for (const auto& q : x.query) c.query.push_back(q);
    LTX_ASSIGN_OR_RETURN(HttpResponse r, Exec(c));
    return std::move(r.body);
  }

  const ClientConfig& config() const override { return cfg_; }
  const ClientStats& stats() const override { return stats_; }

 private:
  // GET of one of our extension routes that answers a JSON object about database `db`;
  // `where` names the request for the caller's own messages.
  Result<json> GetExtensionObject(const std::string& db, const char* path, const char* feature,
                                  std::string* where) {
    LTX_RETURN_IF_ERROR(ValidateDatabaseName(db));
    LTX_ASSIGN_OR_RETURN(bool has, HasFeature(feature));
    if (!has) {
      return Status::Unsupported(std::string("litevfs: the server does not offer ") + path +
                                 " (extension " + feature + ")");
    }
    Call c;
    c.path = path;
    c.db = db;
    c.idempotent = true;
    c.headers.emplace_back("Accept", "application/json");
    c.query.emplace_back("db", db);
    *where = Where(c.method, c.path, db);
    LTX_ASSIGN_OR_RETURN(HttpResponse r, Exec(c));
    LTX_ASSIGN_OR_RETURN(json j, ParseJson(r.body, "litevfs: server: " + *where));
    if (!j.is_object()) return Corrupt(*where, "the response is not a JSON object");
    return j;
  }

  Result<bool> HasFeature(const std::string& feature) override {
    if (!cfg_.use_extensions) return false;
    {
      std::lock_guard<std::mutex> l(mu_);
      if (header_features_) {
        return std::find(header_features_->begin(), header_features_->end(), feature) !=
               header_features_->end();
      }
    }
    auto info = GetInfo();
    if (!info.ok()) {
      if (info.status().code() == ltx::Code::kNotFound) {
        std::lock_guard<std::mutex> l(mu_);
        if (!info_) info_ = Info{};
        return false;
      }
      return info.status();
    }
    return info->Has(feature);
  }

  // Whether the features are known without a request (a Litevfs-Features header or /info).
  bool FeaturesKnown() {
    std::lock_guard<std::mutex> l(mu_);
    return header_features_.has_value() || info_.has_value();
  }

  static bool ParseU32Header(const HttpResponse& r, const char* name, uint32_t* out) {
    auto it = r.headers.find(name);
    return it != r.headers.end() && internal::ParseDecimalU32(it->second, out);
  }

  // Whether a pages-binary answer's frames carry sums (its Content-Type says).
  static bool HasSums(const HttpResponse& r) {
    auto ct = r.headers.find("content-type");
    return ct != r.headers.end() && ct->second.rfind(kPagesWithSumsMime, 0) == 0 &&
           (ct->second.size() == std::strlen(kPagesWithSumsMime) || ct->second[std::strlen(kPagesWithSumsMime)] == ';');
  }

  static Result<uint32_t> PageSizeHeader(const HttpResponse& r, const std::string& where) {
    uint32_t ps = 0;
    auto it = r.headers.find("litevfs-page-size");
    if (it == r.headers.end()) return Corrupt(where, "missing Litevfs-Page-Size header");
    if (!internal::ParseDecimalU32(it->second, &ps) || !ltx::IsValidPageSize(ps)) {
      return Corrupt(where, "bad Litevfs-Page-Size \"" + internal::BodyExcerpt(it->second, 20) +
                                "\" (want a power of two in [512, 65536])");
    }
    return ps;
  }

  // The body of a binary batch, taken from `r` (no copy; its storage goes back to buffers_
  // when the block is done with it), or decompressed when the server used zstd.
  Result<std::shared_ptr<const std::string>> TakeBody(HttpResponse&& r, uint64_t bound,
                                                      const std::string& where) {
    auto ce = r.headers.find("content-encoding");
    if (ce == r.headers.end() || ce->second.empty() || ce->second == "identity") {
      return buffers_.Own(std::move(r.body));
    }
    if (ce->second != "zstd") {
      return Corrupt(where, "unsupported Content-Encoding \"" +
                                internal::BodyExcerpt(ce->second, 40) + "\"");
    }
    auto decoded = std::make_unique<std::string>();
    Status st = internal::ZstdDecompressBounded(r.body, bound, decoded.get());
    if (!st.ok()) return Corrupt(where, st.message());
    return std::shared_ptr<const std::string>(std::move(decoded));
  }

  // One /db/page request of <= 4096 pages (`want`), asked for as `list` (EncodePgnoChunk).
  Result<PageBlock> FetchPagesChunk(const std::string& db, const Pos& pos,
                                    const std::vector<uint32_t>& want, const std::string& list,
                                    bool binary, bool* commit_known) {
    Call c;
    c.path = "/db/page";
    c.db = db;
    c.idempotent = true;
    c.query.emplace_back("db", db);
    c.query.emplace_back("pos", ltx::FormatPos(pos));
    c.query.emplace_back("pgno", list);
    const uint64_t n = want.size();
    if (binary) {
      c.headers.emplace_back("Accept", kAcceptPages);
      if (cfg_.accept_zstd) c.headers.emplace_back("Accept-Encoding", "zstd");
      const uint64_t raw = n * (ltx::kMaxPageSize + FrameHeadSize(true));
      c.max_response_bytes = internal::ZstdCompressBound(raw) + 4096;
      c.pooled_body = true;
    } else {
      c.headers.emplace_back("Accept", "application/json");
      // base64 of each page plus generous per-entry JSON overhead.
      c.max_response_bytes = n * ((ltx::kMaxPageSize + 2) / 3 * 4 + 64) + 1024;
    }
    const std::string where = Where(c.method, c.path, db);
    LTX_ASSIGN_OR_RETURN(HttpResponse r, Exec(c));

    auto ct = r.headers.find("content-type");
    const bool is_json = ct != r.headers.end() && ct->second.rfind("application/json", 0) == 0;
    if (!binary || is_json) {
      auto b = ParsePagesJson(r.body, pos, want);
      if (!b.ok()) return b.status().WithContext("litevfs: server (" + where + ")");
      return BlockOf(std::move(b).value());
    }
    PageBlock out;
    LTX_ASSIGN_OR_RETURN(out.pos, ParsePosHeader(r, where));
    if (out.pos != pos) {
      return Corrupt(where, "pages are as of " + ltx::FormatPos(out.pos) + ", asked for " +
                                ltx::FormatPos(pos));
    }
    LTX_ASSIGN_OR_RETURN(out.page_size, PageSizeHeader(r, where));
    if (r.headers.count("litevfs-commit")) {
      if (!ParseU32Header(r, "litevfs-commit", &out.commit)) {
        return Corrupt(where, "bad Litevfs-Commit header");
      }
      *commit_known = true;
    }
    const bool with_sums = HasSums(r);
    LTX_ASSIGN_OR_RETURN(auto body, TakeBody(std::move(r), n * (out.page_size + FrameHeadSize(with_sums)), where));
    auto frames = ParsePageFrames(*body, out.page_size, want, with_sums ? &out.sums : nullptr);
    if (!frames.ok()) return frames.status().WithContext("litevfs: server (" + where + ")");
    out.pages = std::move(frames).value();
    out.buffers.push_back(std::move(body));
    return out;
  }

  // Consistency of a sync answer with the position it was asked from.
  static Status CheckSyncAgainst(const SyncResult& s, const Pos& since, const std::string& where) {
    if (s.all || since.IsZero()) return Status::OK();
    if (s.pos.txid < since.txid) {
      return Corrupt(where, "incremental sync went backwards from " + ltx::FormatPos(since) +
                                " to " + ltx::FormatPos(s.pos) + " without \"all\"");
    }
    if (s.pos.txid == since.txid && (s.pos != since || !s.pgnos.empty())) {
      return Corrupt(where, "sync at an unchanged txid reports changes");
    }
    return Status::OK();
  }

  // Sends a call with the per-request headers, retrying idempotent calls on kUnavailable.
  Result<HttpResponse> Exec(Call& c) {
    const std::string where = Where(c.method, c.path, c.db);
    HttpRequest req;
    req.method = c.method;
    req.path = c.path;
    req.query = c.query;
    if (!cfg_.cluster.empty()) req.query.emplace_back("cluster", cfg_.cluster);
    req.body = std::move(c.body);
    req.body_path = c.body_path;
    if (c.body_reader) {
      req.body_reader = *c.body_reader;
      req.body_reader_size = c.body_size;
    }
    req.timeout_ms = c.timeout_ms;
    req.max_response_bytes = c.max_response_bytes;
    if (c.pooled_body) req.body_storage = [this](uint64_t n) { return buffers_.Take(size_t(n)); };
    long backoff = std::max(1L, cfg_.retry_backoff_ms);
    for (int attempt = 0;; attempt++) {
      req.headers.clear();
      req.headers.emplace_back("Authorization", cfg_.token);
      req.headers.emplace_back("Litefs-Cluster-Id", cluster_header_);
      {
        std::lock_guard<std::mutex> l(mu_);
        if (!instance_id_.empty()) req.headers.emplace_back("fly-force-instance-id", instance_id_);
      }
      for (const auto& h : c.headers) req.headers.push_back(h);

      stats_.requests++;
      stats_.bytes_sent += req.body.size() + c.body_size;
      if (c.sink) c.sink->Reset();
      auto r = c.sink ? transport_->DoStreaming(req, c.sink) : transport_->Do(req);
      if (c.sink) stats_.bytes_received += c.sink->total();
      Status st;
      if (r.ok()) {
        stats_.bytes_received += r->body.size();
        if (auto it = r->headers.find("lfsc-instance-id"); it != r->headers.end()) {
          std::lock_guard<std::mutex> l(mu_);
          instance_id_ = it->second;
        }
        if (auto it = r->headers.find("litevfs-max-body"); it != r->headers.end()) {
          uint64_t v = 0;
          const std::string& t = it->second;
          auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
          if (ec == std::errc() && end == t.data() + t.size()) max_body_.store(v);
        }
        if (r->headers.count("lfsc-lease-waiters")) lease_waiters_.store(true);  // issue 17
        if (auto it = r->headers.find("litevfs-features"); it != r->headers.end()) {
          std::vector<std::string> f = SplitFeatures(it->second);
          std::lock_guard<std::mutex> l(mu_);
          header_features_ = std::move(f);
        }
        if (r->status >= 200 && r->status < 300) return r;
        st = ErrorFromResponse(*r, where);
      } else {
        st = r.status();
      }
      const bool can_retry = c.idempotent && st.code() == ltx::Code::kUnavailable &&
                             attempt < cfg_.max_retries && (!c.sink || c.sink->forwarded() == 0);
      if (!can_retry) return st;
      stats_.retries++;
      // Jitter in [backoff/2, backoff] so clients that failed together do not retry together.
      thread_local std::minstd_rand rng(std::random_device{}());
      long sleep_ms = backoff / 2 + long(rng() % uint64_t(backoff / 2 + 1));
      LITEVFS_LOG(LogLevel::kWarn, c.db, Pos{},
                  "retrying " + where + " (attempt " + std::to_string(attempt + 2) + " of " +
                      std::to_string(cfg_.max_retries + 1) + ") in " + std::to_string(sleep_ms) +
                      " ms after: " + st.ToString());
      std::this_thread::sleep_for(std::chrono::milliseconds(sleep_ms));
      backoff = std::min(backoff * 2, 1000L);
    }
  }

  // "a, b,c" -> {"a","b","c"} (empty items dropped).
  static std::vector<std::string> SplitFeatures(const std::string& v) {
    std::vector<std::string> out;
    std::string item;
    std::istringstream in(v);
    while (std::getline(in, item, ',')) {
      const size_t b = item.find_first_not_of(" \t");
      if (b == std::string::npos) continue;
      out.push_back(item.substr(b, item.find_last_not_of(" \t") - b + 1));
    }
    return out;
  }

  Status ErrorFromResponse(const HttpResponse& r, const std::string& where) const {
    ltx::Code code;
    if (r.status == 400) code = ltx::Code::kInvalidArgument;
    else if (r.status == 401 || r.status == 403) code = ltx::Code::kPermissionDenied;
    else if (r.status == 404) code = ltx::Code::kNotFound;
    else if (r.status == 409) code = ltx::Code::kConflict;
    else if (r.status == 413) code = ltx::Code::kResourceExhausted;
    else if (r.status == 408 || r.status == 429 || r.status >= 500) code = ltx::Code::kUnavailable;
    else if (r.status >= 400) code = ltx::Code::kInvalidArgument;
    else code = ltx::Code::kUnsupported;  // 1xx/3xx: nothing we can follow

    std::string api_code, text, pos_text;
    if (!r.body.empty() && (r.body[0] == '{') && JsonDepthOk(r.body)) {
      json j = json::parse(r.body, nullptr, false);
      if (j.is_object()) {
        if (auto c = j.find("code"); c != j.end() && c->is_string()) api_code = c->get<std::string>();
        if (auto e = j.find("error"); e != j.end() && e->is_string()) text = e->get<std::string>();
        if (auto p = j.find("pos"); p != j.end()) {
          auto pos = PosFromJson(*p, "");
          if (pos.ok()) pos_text = ltx::FormatPos(*pos);
        }
      }
    }
    std::string msg = "litevfs: server: ";
    if (!api_code.empty()) {
      msg += internal::BodyExcerpt(api_code, 40);
      if (!text.empty()) msg += ": " + internal::BodyExcerpt(text);
      if (!pos_text.empty()) msg += " (server position " + pos_text + ")";
    } else {
      msg += "HTTP " + std::to_string(r.status);
      std::string excerpt = internal::BodyExcerpt(!text.empty() ? text : r.body);
      if (!excerpt.empty()) msg += ": " + excerpt;
    }
    msg += " (" + where + ")";
    if (r.status == 507 || api_code == "ENOSPACE") {
      // The server's disk is full: it refused before its commit point, so nothing was
      // stored, and retrying cannot help until space is freed.
      code = ltx::Code::kResourceExhausted;
      std::string detail = internal::BodyExcerpt(!text.empty() ? text : r.body);
      static constexpr std::string_view kSaid = "; nothing was stored";  // the server says it too
      if (detail.ends_with(kSaid)) detail.resize(detail.size() - kSaid.size());
      msg = "litevfs: the service is out of disk space; nothing was stored (" + where + ": " +
            detail + ")";
    } else if (api_code == "ECORRUPT") {
      // Stored bytes that fail their checksum on the server: permanent, never retried.
      code = ltx::Code::kCorruption;
    }
    if (code == ltx::Code::kPermissionDenied) {
      msg += "; " + cfg_.token_source + " is not a token valid for this cluster";
    }
    return Status(code, std::move(msg), std::move(api_code));
  }

  const ClientConfig cfg_;
  const std::unique_ptr<Transport> transport_;
  const std::string cluster_header_;
  ClientStats stats_;
  std::mutex mu_;
  std::optional<Info> info_;   // guarded by mu_
  // The server's features from its latest Litevfs-Features header (our extension of
  // every response; absent on a plain LiteFS Cloud). Guarded by mu_.
  std::optional<std::vector<std::string>> header_features_;
  std::string instance_id_;    // guarded by mu_
  std::atomic<uint64_t> max_body_{0};  // the server's Litevfs-Max-Body (0: not said)
  BufferPool buffers_;  // page-batch bodies (PageBlock), reused
  std::atomic<bool> lease_waiters_{false};  // a response said Lfsc-Lease-Waiters (issue 17)
  const std::string lease_client_ = NewLeaseClientToken();  // Lfsc-Lease-Client (issue 17)
};

}  // namespace

// ---- free functions ----

Result<PageBatch> Client::GetPages(const std::string& db, const Pos& pos, const std::vector<uint32_t>& pgnos) {
  LTX_ASSIGN_OR_RETURN(PageBlock b, GetPageBlock(db, pos, pgnos));
  return BatchOf(b);
}

Result<PageBatch> Client::GetInterior(const std::string& db, const Pos& pos) {
  LTX_ASSIGN_OR_RETURN(PageBlock b, GetInteriorBlock(db, pos));
  return BatchOf(b);
}

bool Info::Has(const std::string& f) const {
  return std::find(features.begin(), features.end(), f) != features.end();
}

ClientConfig ClientConfig::FromEnv() {
  ClientConfig c;
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
  };
  if (std::string h = env("LITEFS_CLOUD_HOST"); !h.empty()) c.host = h;
  c.token = env("LITEFS_CLOUD_TOKEN");
  c.cluster = env("LITEFS_CLOUD_CLUSTER");
  return c;
}

Status ValidateDatabaseName(const std::string& name) {
  if (name.empty()) return Status::InvalidArgument("litevfs: empty database name");
  if (name.size() > 255) {
    return Status::InvalidArgument("litevfs: database name is " + std::to_string(name.size()) +
                                   " bytes (at most 255)");
  }
  if (name[0] == '.') {
    return Status::InvalidArgument("litevfs: database name \"" + name + "\" starts with '.'");
  }
  if (name.find("..") != std::string::npos) {
    return Status::InvalidArgument("litevfs: database name \"" + name + "\" contains \"..\"");
  }
  for (char ch : name) {
    const bool ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                    (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
    if (!ok) {
      return Status::InvalidArgument("litevfs: database name \"" + internal::BodyExcerpt(name, 60) +
                                     "\" has a character outside [A-Za-z0-9._-]");
    }
  }
  return Status::OK();
}

namespace {
// LITEVFS_WIRE_COMPRESSION (auto, the default | zstd | off) narrows accept_zstd: "zstd"
// keeps it, "off" clears it, "auto" clears it when the (normalised) host is this machine:
// on loopback the wire outruns the server's zstd and our decompression (issue 19).
Status ResolveWireCompression(ClientConfig* cfg) {
  const char* env = std::getenv("LITEVFS_WIRE_COMPRESSION");
  const std::string m = env && *env ? env : "auto";
  if (m != "auto" && m != "zstd" && m != "off") {
    return Status::InvalidArgument("litevfs: LITEVFS_WIRE_COMPRESSION \"" +
                                   internal::BodyExcerpt(m, 40) +
                                   "\" is not one of auto, zstd, off");
  }
  if (m == "off" || (m == "auto" && internal::IsLoopbackBaseUrl(cfg->host))) cfg->accept_zstd = false;
  return Status::OK();
}

Status ValidateConfig(ClientConfig* cfg) {
  if (cfg->token.empty()) {
    return Status::InvalidArgument(
        "litevfs: no auth token: " + cfg->token_source + " is empty");
  }
  for (char ch : cfg->token) {
    if (ch == '\r' || ch == '\n' || ch == '\0') {
      return Status::InvalidArgument("litevfs: " + cfg->token_source + " contains a line break");
    }
  }
  if (!cfg->cluster.empty()) {
    Status st = ValidateDatabaseName(cfg->cluster);
    if (!st.ok()) {
      return Status::InvalidArgument("litevfs: " + cfg->cluster_source + " \"" +
                                     internal::BodyExcerpt(cfg->cluster, 60) +
                                     "\" is not a valid cluster name (1..255 of [A-Za-z0-9._-])");
    }
  }
  if (cfg->connect_timeout_ms <= 0 || cfg->request_timeout_ms <= 0) {
    return Status::InvalidArgument("litevfs: timeouts must be positive");
  }
  if (cfg->max_retries < 0) return Status::InvalidArgument("litevfs: max_retries must be >= 0");
  auto hosts = ParseHostList(cfg->host);
  if (!hosts.ok()) {
    return Status::InvalidArgument("litevfs: " + cfg->host_source + ": " + hosts.status().message());
  }
  cfg->host.clear();
  for (const auto& h : *hosts) cfg->host += (cfg->host.empty() ? "" : ",") + h;
  return ResolveWireCompression(cfg);
}
}  // namespace

Result<std::unique_ptr<Client>> Client::Create(const ClientConfig& cfg) {
  ClientConfig c = cfg;
  LTX_RETURN_IF_ERROR(ValidateConfig(&c));
  auto hosts = ParseHostList(c.host);  // valid: ValidateConfig parsed it
  auto t = MakeHostsTransport(*hosts, c.connect_timeout_ms, c.request_timeout_ms);
  return std::unique_ptr<Client>(std::make_unique<ClientImpl>(c, std::move(t)));
}

std::unique_ptr<Client> Client::CreateWithTransport(const ClientConfig& cfg,
                                                    std::unique_ptr<Transport> t) {
  // Tests may pass any config; normalise what can be, keep the rest as given.
  ClientConfig c = cfg;
  if (auto h = internal::NormalizeBaseUrl(c.host); h.ok()) c.host = *h;
  return std::make_unique<ClientImpl>(c, std::move(t));
}

Result<std::vector<PageView>> ParsePageFrames(std::string_view body, uint32_t page_size,
                                              const std::vector<uint32_t>& want, std::vector<uint64_t>* sums) {
  if (!ltx::IsValidPageSize(page_size)) {
    return Status::Corruption("page batch: page size " + std::to_string(page_size) +
                              " is not a power of two in [512, 65536]");
  }
  const size_t head = FrameHeadSize(sums != nullptr);
  const size_t frame = head + page_size;
  if (body.size() % frame != 0) {
    return Status::Corruption("page batch: body is " + std::to_string(body.size()) +
                              " bytes, not a multiple of the " + std::to_string(frame) +
                              "-byte frame (truncated or wrong page size)");
  }
  const std::vector<uint32_t>* w = &want;
  std::vector<uint32_t> sorted;
  if (!std::is_sorted(want.begin(), want.end())) {
    sorted = SortedUnique(want);
    w = &sorted;
  }
  std::vector<PageView> out;
  const size_t count = body.size() / frame;
  if (!want.empty() && count > w->size()) {
    return Status::Corruption("page batch: " + std::to_string(count) + " pages for " +
                              std::to_string(w->size()) + " asked");
  }
  out.reserve(count);
  if (sums) sums->reserve(sums->size() + count);
  const auto* p = reinterpret_cast<const uint8_t*>(body.data());
  for (size_t i = 0; i < count; i++, p += frame) {
    const uint32_t pgno = ltx::DecodeU32(p);
    if (pgno == 0 || pgno > kMaxPgno) {
      return Status::Corruption("page batch: frame " + std::to_string(i) + " has page number " +
                                std::to_string(pgno));
    }
    if (!out.empty() && pgno <= out.back().first) {
      return Status::Corruption(
          "page batch: page " + std::to_string(pgno) +
          (pgno == out.back().first ? " appears twice"
                                    : " follows page " + std::to_string(out.back().first)));
    }
    if (!Wanted(*w, pgno)) {
      return Status::Corruption("page batch: page " + std::to_string(pgno) +
                                " was not asked for");
    }
    out.emplace_back(pgno, body.substr(i * frame + head, page_size));
    if (sums) sums->push_back(ltx::DecodeU64(p + kFramePgnoSize));
  }
  return out;
}

Result<SyncResult> ParseSyncJson(std::string_view body) {
  try {
    LTX_ASSIGN_OR_RETURN(json j, ParseJson(body, "sync"));
    return SyncFromJson(j, "sync");
  } catch (const std::exception& e) {  // nlohmann type errors cannot escape this library
    return Status::Corruption(std::string("sync: ") + e.what());
  }
}

namespace {

// Checks one (pgno, base64) entry of a JSON page batch and appends the decoded page.
Status AddJsonPage(uint32_t pgno, std::string_view b64, const std::vector<uint32_t>& want,
                   PageBatch* b) {
  if (!b->pages.empty() && pgno <= b->pages.back().first) {
    return Status::Corruption(
        "pages: page " + std::to_string(pgno) +
        (pgno == b->pages.back().first ? " appears twice"
                                       : " follows page " + std::to_string(b->pages.back().first)));
  }
  if (!Wanted(want, pgno)) {
    return Status::Corruption("pages: page " + std::to_string(pgno) + " was not asked for");
  }
  std::string data;
  Status st = internal::Base64Decode(b64, &data);
  if (!st.ok()) return st.WithContext("pages: page " + std::to_string(pgno));
  const auto size = static_cast<uint32_t>(std::min<size_t>(data.size(), UINT32_MAX));
  if (b->page_size == 0) {
    if (!ltx::IsValidPageSize(size) || size != data.size()) {
      return Status::Corruption("pages: page " + std::to_string(pgno) + " is " +
                                std::to_string(data.size()) +
                                " bytes, not a power of two in [512, 65536]");
    }
    b->page_size = size;
  } else if (data.size() != b->page_size) {
    return Status::Corruption("pages: page " + std::to_string(pgno) + " is " +
                              std::to_string(data.size()) + " bytes, others are " +
                              std::to_string(b->page_size));
  }
  b->pages.emplace_back(pgno, std::move(data));
  return Status::OK();
}

// The canonical shape `{"pages":[{"pgno":N,"data":"…"},…]}` (or `"pages":null`), as the
// service writes it, scanned without building a DOM: a generic JSON parser spends most of
// its time copying the base64 strings byte by byte. Any other shape, however valid, returns
// false and the caller parses it properly (so both accept exactly the same documents).
class FastPagesScanner {
 public:
  explicit FastPagesScanner(std::string_view s) : s_(s) {}

  // Fills `entries` with (pgno, base64) views into the body. false = not canonical.
  bool Scan(std::vector<std::pair<uint32_t, std::string_view>>* entries) {
    if (!Lit('{') || !Key("pages")) return false;
    Ws();
    if (s_.substr(i_, 4) == "null") {
      i_ += 4;
    } else {
      if (!Lit('[')) return false;
      Ws();
      if (Peek() == ']') {
        i_++;
      } else {
        for (;;) {
          uint32_t pgno;
          std::string_view data;
          if (!Lit('{')) return false;
          // Either key order: Go writes struct order, nlohmann-based servers sort keys.
          std::string_view k1;
          if (!String(&k1) || !Lit(':')) return false;
          if (k1 == "pgno") {
            if (!Number(&pgno) || !Lit(',') || !Key("data") || !String(&data)) return false;
          } else if (k1 == "data") {
            if (!String(&data) || !Lit(',') || !Key("pgno") || !Number(&pgno)) return false;
          } else {
            return false;
          }
          if (!Lit('}')) return false;
          entries->emplace_back(pgno, data);
          Ws();
          if (Peek() == ',') {
            i_++;
            continue;
          }
          if (!Lit(']')) return false;
          break;
        }
      }
    }
    if (!Lit('}')) return false;
    Ws();
    return i_ == s_.size();
  }

 private:
  char Peek() const { return i_ < s_.size() ? s_[i_] : '\0'; }
  void Ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) i_++;
  }
  bool Lit(char c) {
    Ws();
    if (Peek() != c) return false;
    i_++;
    return true;
  }
  // "name" then ':'.
  bool Key(std::string_view name) {
    std::string_view k;
    return String(&k) && k == name && Lit(':');
  }
  // A string without escapes or control characters (base64 and our keys never have any).
  bool String(std::string_view* out) {
    if (!Lit('"')) return false;
    size_t start = i_;
    size_t end = s_.find('"', start);
    if (end == std::string_view::npos) return false;
    for (size_t k = start; k < end; k++) {
      const auto c = static_cast<unsigned char>(s_[k]);
      if (c == '\\' || c < 0x20 || c >= 0x80) return false;
    }
    *out = s_.substr(start, end - start);
    i_ = end + 1;
    return true;
  }
  // A plain non-negative integer that fits in u32, no leading zeros.
  bool Number(uint32_t* out) {
    Ws();
    size_t start = i_;
    while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') i_++;
    if (i_ < s_.size() && (s_[i_] == '.' || s_[i_] == 'e' || s_[i_] == 'E')) return false;
    return internal::ParseDecimalU32(s_.substr(start, i_ - start), out);
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

Result<PageBatch> ParsePagesJson(std::string_view body, const Pos& pos,
                                 const std::vector<uint32_t>& want) {
  const std::vector<uint32_t>* w = &want;
  std::vector<uint32_t> sorted;
  if (!std::is_sorted(want.begin(), want.end())) {
    sorted = SortedUnique(want);
    w = &sorted;
  }
  PageBatch b;
  b.pos = pos;

  std::vector<std::pair<uint32_t, std::string_view>> entries;
  if (FastPagesScanner(body).Scan(&entries)) {
    b.pages.reserve(entries.size());
    for (const auto& [pgno, data] : entries) {
      if (pgno == 0 || pgno > kMaxPgno) return Status::Corruption("pages: entry has a bad pgno");
      LTX_RETURN_IF_ERROR(AddJsonPage(pgno, data, *w, &b));
    }
    return b;
  }

  try {
    LTX_ASSIGN_OR_RETURN(json j, ParseJson(body, "pages"));
    if (!j.is_object()) return Status::Corruption("pages: response is not an object");
    auto arr = j.find("pages");
    if (arr == j.end() || !(arr->is_array() || arr->is_null())) {
      return Status::Corruption("pages: response has no \"pages\" array");
    }
    if (arr->is_null()) return b;
    b.pages.reserve(arr->size());
    for (const auto& e : *arr) {
      if (!e.is_object()) return Status::Corruption("pages: entry is not an object");
      auto jp = e.find("pgno");
      auto jd = e.find("data");
      uint32_t pgno = 0;
      if (jp == e.end() || !GetU32(*jp, &pgno) || pgno == 0 || pgno > kMaxPgno) {
        return Status::Corruption("pages: entry has a bad pgno");
      }
      if (jd == e.end() || !jd->is_string()) {
        return Status::Corruption("pages: page " + std::to_string(pgno) + " has no data string");
      }
      LTX_RETURN_IF_ERROR(AddJsonPage(pgno, jd->get_ref<const std::string&>(), *w, &b));
    }
    return b;
  } catch (const std::exception& e) {
    return Status::Corruption(std::string("pages: ") + e.what());
  }
}

}  // namespace litevfs
