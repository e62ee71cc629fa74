// The time-travel calls of time_travel.h over Client::CallExtension, and the PAST grammar.
#include <time.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "client_codec.h"
#include "litevfs/duration.h"
#include "litevfs/time_travel.h"

namespace litevfs {
namespace {

using json = nlohmann::json;
constexpr char kFeature[] = "time-travel";

Status Bad(const std::string& where, const std::string& what) {
  return Status::Corruption("litevfs: server: " + where + ": " + what);
}

Result<json> Object(const std::string& body, const std::string& where) {
  json j = json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Bad(where, "the response is not a JSON object");
  return j;
}

Result<Pos> PosField(const json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_object() || !it->contains("txid") || !it->contains("postApplyChecksum") ||
      !(*it)["txid"].is_string() || !(*it)["postApplyChecksum"].is_string()) {
    return Bad(where, std::string("no position \"") + key + "\"");
  }
  Pos p;
  if (!internal::ParseHex16((*it)["txid"].get<std::string>(), &p.txid) ||
      !internal::ParseHex16((*it)["postApplyChecksum"].get<std::string>(), &p.post_apply_checksum)) {
    return Bad(where, std::string("position \"") + key + "\" is not 16 hex digits each");
  }
  return p;
}

bool U32Field(const json& j, const char* key, uint32_t* out) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_unsigned() || it->get<uint64_t>() > UINT32_MAX) return false;
  *out = it->get<uint32_t>();
  return true;
}

// "2026-12-05T23:00:00.123Z".
std::string FormatUtcMs(int64_t ms) {
  const time_t secs = time_t(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  struct tm t = {};
  gmtime_r(&secs, &t);
  char buf[96];
  snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", t.tm_year + 1900, t.tm_mon + 1,
           t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, int(ms - int64_t(secs) * 1000));
  return buf;
}

ExtensionCall Call(const char* method, const char* path, const std::string& db) {
  ExtensionCall x;
  x.method = method;
  x.path = path;
  x.feature = kFeature;
  x.db = db;
  return x;
}

}  // namespace

Result<PastRef> ParsePastTime(std::string_view text, int64_t now_ms) {
  PastRef r;
  r.text = std::string(text);
  if (!text.empty() && text.front() == '-') {
    auto d = ParseDuration(text.substr(1));
    if (d.ok()) {
      r.time_ms = now_ms - *d;
      return r;
    }
  } else if (internal::ParseRfc3339Millis(text, &r.time_ms)) {
    return r;
  }
  return Status::InvalidArgument("time \"" + std::string(text) +
                                 "\" is neither RFC 3339 (2026-12-05T23:00:00Z) nor a duration "
                                 "before now (-5m, -1h30m)");
}

Result<PastRef> ParsePastTxid(std::string_view text) {
  PastRef r;
  r.text = std::string(text);
  uint64_t v = 0;
  const bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  const std::string_view digits = hex ? text.substr(2) : text;
  bool ok = !digits.empty() && digits.size() <= (hex ? 16u : 19u);
  for (char ch : digits) {
    const int d = isdigit(static_cast<unsigned char>(ch)) ? ch - '0'
                  : hex && isxdigit(static_cast<unsigned char>(ch)) ? (tolower(ch) - 'a' + 10)
                                                                    : -1;
    if (d < 0) ok = false;
    v = v * (hex ? 16 : 10) + uint64_t(d < 0 ? 0 : d);
  }
  if (!ok || v == 0) {
    return Status::InvalidArgument("txid \"" + std::string(text) +
                                   "\" is not a txid (decimal like 42, or hex like 0x2a; from 1)");
  }
  r.txid = v;
  return r;
}

Result<HistoryEntry> PositionAt(Client& c, const std::string& db, const PastRef& at) {
  ExtensionCall x = Call("GET", "/db/at", db);
  if (at.txid) {
    x.query.emplace_back("txid", ltx::FormatTxid(*at.txid));
  } else {
    x.query.emplace_back("time", FormatUtcMs(at.time_ms));
  }
  if (at.restore_points) x.query.emplace_back("points", "1");
  const std::string where = "GET /db/at (db " + db + ")";
  LTX_ASSIGN_OR_RETURN(std::string body, c.CallExtension(x));
  LTX_ASSIGN_OR_RETURN(json j, Object(body, where));
  HistoryEntry e;
  LTX_ASSIGN_OR_RETURN(e.pos, PosField(j, "pos", where));
  auto ts = j.find("timestamp");
  if (ts == j.end() || !ts->is_string() ||
      !internal::ParseRfc3339Millis(ts->get<std::string>(), &e.timestamp_ms)) {
    return Bad(where, "no RFC 3339 timestamp");
  }
  if (!U32Field(j, "commit", &e.commit) || !U32Field(j, "pageCount", &e.page_count))
    return Bad(where, "no commit or pageCount");
  if (at.txid && e.pos.txid != *at.txid) return Bad(where, "asked for txid " + at.text + ", got another");
  return e;
}

Result<PageDiff> DiffPositions(Client& c, const std::string& db, const Pos& from, const Pos& to) {
  ExtensionCall x = Call("GET", "/db/diff", db);
  x.query.emplace_back("from", ltx::FormatPos(from));
  x.query.emplace_back("to", ltx::FormatPos(to));
  const std::string where = "GET /db/diff (db " + db + ")";
  LTX_ASSIGN_OR_RETURN(std::string body, c.CallExtension(x));
  LTX_ASSIGN_OR_RETURN(json j, Object(body, where));
  PageDiff d;
  LTX_ASSIGN_OR_RETURN(d.from, PosField(j, "from", where));
  LTX_ASSIGN_OR_RETURN(d.to, PosField(j, "to", where));
  if (d.from != from || d.to != to) return Bad(where, "answered for other positions");
  if (!U32Field(j, "fromCommit", &d.from_commit) || !U32Field(j, "toCommit", &d.to_commit) ||
      !U32Field(j, "pageSize", &d.page_size)) {
    return Bad(where, "no fromCommit, toCommit or pageSize");
  }
  auto pg = j.find("pgnos");
  if (pg == j.end() || !pg->is_array()) return Bad(where, "no pgnos array");
  const uint32_t top = std::max(d.from_commit, d.to_commit);
  for (const auto& v : *pg) {
    if (!v.is_number_unsigned() || v.get<uint64_t>() == 0 || v.get<uint64_t>() > top ||
        (!d.pgnos.empty() && v.get<uint64_t>() <= d.pgnos.back())) {
      return Bad(where, "pgnos must ascend within 1.." + std::to_string(top));
    }
    d.pgnos.push_back(v.get<uint32_t>());
  }
  return d;
}

Result<RestoreResult> RestoreDatabase(Client& c, const std::string& db, const Pos& pos,
                                      const std::string& lease_id) {
  ExtensionCall x = Call("POST", "/db/restore", db);
  x.query.emplace_back("pos", ltx::FormatPos(pos));
  x.lease_id = lease_id;
  const std::string where = "POST /db/restore (db " + db + ")";
  LTX_ASSIGN_OR_RETURN(std::string body, c.CallExtension(x));
  LTX_ASSIGN_OR_RETURN(json j, Object(body, where));
  RestoreResult r;
  LTX_ASSIGN_OR_RETURN(r.pos, PosField(j, "pos", where));
  LTX_ASSIGN_OR_RETURN(r.restored, PosField(j, "restored", where));
  auto pages = j.find("pages");
  if (pages == j.end() || !pages->is_number_unsigned()) return Bad(where, "no pages count");
  r.pages = pages->get<uint64_t>();
  if (r.restored != pos) return Bad(where, "restored another position");
  return r;
}

Result<Pos> BranchDatabase(Client& c, const std::string& db, const Pos& pos, const std::string& to) {
  LTX_RETURN_IF_ERROR(ValidateDatabaseName(to));
  ExtensionCall x = Call("POST", "/db/branch", db);
  x.query.emplace_back("pos", ltx::FormatPos(pos));
  x.query.emplace_back("to", to);
  const std::string where = "POST /db/branch (db " + db + ")";
  LTX_ASSIGN_OR_RETURN(std::string body, c.CallExtension(x));
  LTX_ASSIGN_OR_RETURN(json j, Object(body, where));
  return PosField(j, "pos", where);
}

Status DeleteDatabase(Client& c, const std::string& db, bool force) {
  ExtensionCall x = Call("DELETE", "/db", db);
  if (force) x.query.emplace_back("force", "1");
  auto r = c.CallExtension(x);
  return r.ok() ? Status::OK() : r.status();
}

Result<std::vector<RestorePointEntry>> GetRestorePoints(Client& c, const std::string& db) {
  ExtensionCall x = Call("GET", "/db/history", db);
  x.feature = "history";
  const std::string where = "GET /db/history (db " + db + ")";
  LTX_ASSIGN_OR_RETURN(std::string body, c.CallExtension(x));
  LTX_ASSIGN_OR_RETURN(json j, Object(body, where));
  std::vector<RestorePointEntry> out;
  auto pts = j.find("restorePoints");
  if (pts == j.end() || pts->is_null()) return out;
  if (!pts->is_array()) return Bad(where, "restorePoints is not an array");
  for (const auto& e : *pts) {
    if (!e.is_object()) return Bad(where, "a restore point is not an object");
    RestorePointEntry rp;
    LTX_ASSIGN_OR_RETURN(rp.pos, PosField(e, "pos", where));
    auto ts = e.find("timestamp"), taken = e.find("takenAt");
    if (ts == e.end() || taken == e.end() || !ts->is_string() || !taken->is_string() ||
        !internal::ParseRfc3339Millis(ts->get<std::string>(), &rp.timestamp_ms) ||
        !internal::ParseRfc3339Millis(taken->get<std::string>(), &rp.taken_ms) ||
        !U32Field(e, "commit", &rp.commit)) {
      return Bad(where, "a restore point needs timestamp, takenAt (RFC 3339) and commit");
    }
    out.push_back(rp);
  }
  return out;
}

Status RenameDatabase(Client& c, const std::string& from, const std::string& to) {
  LTX_RETURN_IF_ERROR(ValidateDatabaseName(to));
  ExtensionCall x = Call("POST", "/db/rename", from);
  x.query.emplace_back("to", to);
  auto r = c.CallExtension(x);
  return r.ok() ? Status::OK() : r.status();
}

}  // namespace litevfs
