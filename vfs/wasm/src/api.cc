// The C entry points the Worker (web/litevfs-worker.js) calls. Every answer is a JSON string
// owned by this module, valid until the next call: {"error": "..."} on failure.
//   lv_open(host, token, cluster, name, fresh_ms) -> {"handle": N, ...stats}
//   lv_query(handle, sql)   -> {"columns": [...], "rows": [[...]], "stats": {...}}
//   lv_stats(handle)        -> {"requests": N, "bytes": N, ...}
//   lv_close(handle)        -> {}
#include <emscripten/emscripten.h>
#include <sqlite3.h>

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "fetch_transport.h"
#include "remote_db.h"
#include "wasm_vfs.h"

namespace litevfs::wasm {
namespace {

using nlohmann::json;

// Per-request timeout of the browser's fetches.
constexpr long kRequestTimeoutMs = 30000;

struct Handle {
  std::unique_ptr<RemoteDb> db;
  std::string path;  // the name SQLite opened, bound to db
  sqlite3* conn = nullptr;
};

std::map<int, Handle>& Handles() {
  static auto* m = new std::map<int, Handle>;
  return *m;
}

const char* Answer(const json& j) {
  static auto* out = new std::string;
  *out = j.dump(-1, ' ', false, json::error_handler_t::replace);
  return out->c_str();
}
const char* Error(const std::string& msg) { return Answer(json{{"error", msg}}); }

json Stats(const Handle& h) {
  const ClientStats& s = h.db->client().stats();
  return json{{"requests", s.requests.load()},     {"bytes", s.bytes_received.load()},
              {"pages", s.pages_fetched.load()},   {"syncs", h.db->syncs()},
              {"page_requests", h.db->page_requests()}, {"cached_pages", h.db->cached_pages()},
              {"pos", ltx::FormatPos(h.db->pos())},
              {"persistent", h.db->persistent()},   {"stored_pages", h.db->stored_pages()},
              {"store_error", h.db->store_error()}};
}

json Value(sqlite3_stmt* st, int i) {
  switch (sqlite3_column_type(st, i)) {
    case SQLITE_INTEGER: return sqlite3_column_int64(st, i);
    case SQLITE_FLOAT: return sqlite3_column_double(st, i);
    case SQLITE_NULL: return nullptr;
    case SQLITE_BLOB: {
      static const char kHex[] = "0123456789abcdef";
      const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(st, i));
      std::string hex = "x'";
      for (int k = 0; k < sqlite3_column_bytes(st, i); k++) {
        hex += kHex[p[k] >> 4];
        hex += kHex[p[k] & 15];
      }
      return hex + "'";
    }
    default:
      return std::string(reinterpret_cast<const char*>(sqlite3_column_text(st, i)),
                         size_t(sqlite3_column_bytes(st, i)));
  }
}

std::string SqliteError(sqlite3* conn) {
  std::string msg = sqlite3_errmsg(conn);
  const int code = sqlite3_extended_errcode(conn);
  if ((code & 0xff) == SQLITE_IOERR && !LastRemoteError().empty()) msg += ": " + LastRemoteError();
  return msg;
}

// Runs every statement of `sql`; the rows of the last one that returned columns.
const char* Run(Handle& h, const char* sql) {
  json columns = json::array(), rows = json::array();
  const char* tail = sql;
  while (tail && *tail) {
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(h.conn, tail, -1, &st, &tail) != SQLITE_OK) return Error(SqliteError(h.conn));
    if (!st) continue;  // whitespace or a comment
    const int n = sqlite3_column_count(st);
    json cols = json::array(), got = json::array();
    for (int i = 0; i < n; i++) cols.push_back(sqlite3_column_name(st, i));
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      json row = json::array();
      for (int i = 0; i < n; i++) row.push_back(Value(st, i));
      got.push_back(std::move(row));
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return Error(SqliteError(h.conn));
    if (n > 0) columns = std::move(cols), rows = std::move(got);
  }
  return Answer(json{{"columns", columns}, {"rows", rows}, {"stats", Stats(h)}});
}

}  // namespace
}  // namespace litevfs::wasm

using namespace litevfs::wasm;

extern "C" {

EMSCRIPTEN_KEEPALIVE const char* lv_open(const char* host, const char* token, const char* cluster,
                                         const char* name, int fresh_ms) {
  static int next_handle = 1;
  if (int rc = RegisterVfs(); rc != SQLITE_OK) return Error(sqlite3_errstr(rc));
  litevfs::ClientConfig cfg;
  cfg.host = host;
  cfg.token = token;
  cfg.cluster = cluster;
  cfg.accept_zstd = false;  // the browser offers (and decodes) encodings itself
  cfg.host_source = "open({host})";
  cfg.token_source = "open({token})";
  cfg.cluster_source = "open({cluster})";
  auto client = litevfs::Client::CreateWithTransport(cfg, MakeFetchTransport(cfg.host, kRequestTimeoutMs));
  RemoteDbOptions opts;
  if (fresh_ms >= 0) opts.fresh_ms = fresh_ms;
  auto db = RemoteDb::Open(std::move(client), name, opts, PageStore::TakePending(kDefaultStoreBytes));
  if (!db.ok()) return Error(db.status().message());
  const int id = next_handle++;
  Handle& h = Handles()[id];
  h.db = std::move(db).value();
  h.path = "/litevfs/" + std::to_string(id) + "/" + name;
  Bind(h.path, h.db.get());
  if (sqlite3_open_v2(h.path.c_str(), &h.conn, SQLITE_OPEN_READONLY, kVfsName) != SQLITE_OK) {
    std::string msg = h.conn ? SqliteError(h.conn) : "out of memory";
    sqlite3_close(h.conn);
    Unbind(h.path);
    Handles().erase(id);
    return Error(msg);
  }
  json j = Stats(h);
  j["handle"] = id;
  return Answer(j);
}

EMSCRIPTEN_KEEPALIVE const char* lv_query(int handle, const char* sql) {
  auto it = Handles().find(handle);
  if (it == Handles().end()) return Error("no open database with handle " + std::to_string(handle));
  return Run(it->second, sql);
}

EMSCRIPTEN_KEEPALIVE const char* lv_stats(int handle) {
  auto it = Handles().find(handle);
  if (it == Handles().end()) return Error("no open database with handle " + std::to_string(handle));
  return Answer(Stats(it->second));
}

EMSCRIPTEN_KEEPALIVE const char* lv_close(int handle) {
  auto it = Handles().find(handle);
  if (it == Handles().end()) return Error("no open database with handle " + std::to_string(handle));
  sqlite3_close(it->second.conn);
  Unbind(it->second.path);
  Handles().erase(it);
  return Answer(json::object());
}

}  // extern "C"
