// Shared helpers for the mockcloud tests: a temp dir, an in-process server, an in-memory
// model of a database that produces LTX transactions (with true checksums) and predicts
// every page at every position.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ltx/checksum.h"
#include "ltx/coding.h"
#include "ltx/encoder.h"
#include "ltx/file.h"
#include "ltx/format.h"
#include "ltx/io.h"
#include "mockcloud/server.h"

namespace mctest {

namespace fs = std::filesystem;
using json = nlohmann::json;

class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/mockcloud-test-XXXXXX";
    char* p = mkdtemp(tmpl);
    EXPECT_NE(p, nullptr);
    path_ = p ? p : "/tmp";
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

inline std::string PosUrl(uint64_t txid, uint64_t chk) { return ltx::FormatPos({txid, chk}); }

// A database as a map of pages, able to emit LTX files that move it forward.
struct Model {
  uint32_t page_size = 4096;
  uint32_t commit = 0;
  uint64_t txid = 0;
  std::map<uint32_t, std::string> pages;  // absent = zeros

  std::string Page(uint32_t pgno) const {
    auto it = pages.find(pgno);
    if (pgno > commit || it == pages.end()) return std::string(page_size, '\0');
    return it->second;
  }
  uint64_t Checksum() const {
    ltx::DatabaseChecksum c;
    const uint32_t lock = ltx::LockPgno(page_size);
    for (uint32_t p = 1; p <= commit; p++) {
      if (p == lock) continue;
      std::string pg = Page(p);
      c.Toggle(ltx::PageChecksum(p, {reinterpret_cast<const uint8_t*>(pg.data()), pg.size()}));
    }
    return c.value();
  }
  ltx::Pos pos() const { return {txid, Checksum()}; }
  std::string Image() const {
    std::string out;
    for (uint32_t p = 1; p <= commit; p++) out += Page(p);
    return out;
  }

  // Encodes one transaction (min=max=txid+1) that writes `writes` and sets the size to
  // new_commit, and applies it to the model. compress: v1 LZ4.
  std::string Tx(const std::map<uint32_t, std::string>& writes, uint32_t new_commit,
                 bool compress = false) {
    ltx::Header h;
    h.page_size = page_size;
    h.commit = new_commit;
    h.min_txid = h.max_txid = txid + 1;
    h.timestamp = 1700000000000 + int64_t(txid);
    h.pre_apply_checksum = txid == 0 ? 0 : Checksum();
    std::string out;
    ltx::StringSink sink(&out);
    ltx::EncodeOptions eo;
    eo.compress = compress;
    auto enc = ltx::Encoder::Open(&sink, h, eo);
    EXPECT_TRUE(enc.ok()) << enc.status().ToString();
    for (const auto& [p, data] : writes) {
      ltx::Status st =
          (*enc)->AddPage(p, {reinterpret_cast<const uint8_t*>(data.data()), data.size()});
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
    for (const auto& [p, data] : writes) pages[p] = data;
    for (auto it = pages.begin(); it != pages.end();)
      it = it->first > new_commit ? pages.erase(it) : ++it;
    commit = new_commit;
    txid++;
    ltx::Status st = (*enc)->Finish(Checksum());
    EXPECT_TRUE(st.ok()) << st.ToString();
    return out;
  }
};

inline std::string FilledPage(uint32_t size, uint32_t seed) {
  std::string p(size, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (auto& c : p) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = char(x);
  }
  p[0] = 0x0d;  // a leaf table page type, so it is never mistaken for an interior page
  return p;
}

// Builds a real SQLite database at path (rollback journal, 4096-byte pages) big enough to
// have interior b-tree pages.
inline void MakeSqliteDb(const std::string& path, int rows = 1500) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "PRAGMA page_size=4096; PRAGMA journal_mode=DELETE;"
                         "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT);"
                         "CREATE INDEX t_v ON t(v);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  std::string ins =
      "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < " +
      std::to_string(rows) +
      ") INSERT INTO t(v) SELECT printf('row-%08d-%s', i, hex(randomblob(40))) FROM c;";
  ASSERT_EQ(sqlite3_exec(db, ins.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
}

inline std::string ReadFile(const std::string& path) {
  FILE* f = fopen(path.c_str(), "rb");
  if (!f) return {};
  std::string out;
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  fclose(f);
  return out;
}

// Model of a database file's bytes (txid given).
inline Model ModelFromImage(const std::string& image, uint32_t page_size, uint64_t txid) {
  Model m;
  m.page_size = page_size;
  m.commit = uint32_t(image.size() / page_size);
  m.txid = txid;
  for (uint32_t p = 1; p <= m.commit; p++)
    m.pages[p] = image.substr(size_t(p - 1) * page_size, page_size);
  return m;
}

struct Harness {
  TempDir dir;
  std::string data;
  mockcloud::ServerOptions opts;
  std::unique_ptr<mockcloud::Server> server;
  std::vector<std::string> log;
  std::mutex log_mu;

  Harness() {
    data = dir.path() + "/data";
    opts.data_dir = data;
    opts.tokens = {{"secret", "*"}};
    opts.compact_interval_ms = 0;
    opts.threads = 16;
    opts.max_long_polls = 4;
    opts.log_sink = [this](const std::string& l) {
      std::lock_guard g(log_mu);
      log.push_back(l);
    };
  }
  ~Harness() { Stop(); }
  void Start() {
    auto s = mockcloud::Server::Start(opts);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    server = std::move(s).value();
  }
  void Stop() {
    if (server) server->Stop();
    server.reset();
  }
  std::unique_ptr<httplib::Client> Client(const std::string& token = "secret") {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", server->port());
    c->set_read_timeout(20, 0);
    if (!token.empty()) c->set_default_headers({{"Authorization", token}});
    return c;
  }
};

// Pages from a binary pages-binary body.
// Frames `pgno ‖ page`, or `pgno ‖ sum ‖ page` when `sums` is given (each pgno's sum put there).
inline std::map<uint32_t, std::string> ParseFrames(const std::string& body, uint32_t page_size,
                                                   std::map<uint32_t, uint64_t>* sums = nullptr) {
  std::map<uint32_t, std::string> out;
  const size_t head = sums ? 12 : 4;
  size_t off = 0;
  while (off + head + page_size <= body.size()) {
    const auto* p = reinterpret_cast<const uint8_t*>(body.data() + off);
    uint32_t pgno = ltx::DecodeU32(p);
    if (sums) (*sums)[pgno] = ltx::DecodeU64(p + 4);
    out[pgno] = body.substr(off + head, page_size);
    off += head + page_size;
  }
  EXPECT_EQ(off, body.size()) << "trailing bytes in frame body";
  return out;
}

inline std::string Base64Decode(const std::string& in) {
  auto val = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    if (c == '=') break;
    int v = val(c);
    if (v < 0) return "<bad base64>";
    acc = (acc << 6) | uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += char((acc >> bits) & 0xff);
    }
  }
  return out;
}

// ---- reading the server's JSON answers ----
inline json J(const httplib::Result& r) { return json::parse(r->body, nullptr, false); }
// The answer's wire error code ("<body>" when it has none).
inline std::string ErrCode(const httplib::Result& r) {
  json j = J(r);
  return j.is_object() && j.contains("code") ? j["code"].get<std::string>() : "<" + r->body + ">";
}
// A {"txid", "postApplyChecksum"} object as a position (a test failure when malformed).
inline ltx::Pos PosOf(const json& j) {
  auto p =
      ltx::ParsePos(j["txid"].get<std::string>() + "/" + j["postApplyChecksum"].get<std::string>());
  EXPECT_TRUE(p.ok()) << j.dump();
  return p.ok() ? *p : ltx::Pos{};
}

}  // namespace mctest
