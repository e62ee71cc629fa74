// Shared fixture for the VFS tests: an in-process mockcloud on a random loopback port with a
// temp data dir, the environment pointing the VFS at it, the VFS registered through
// sqlite3_auto_extension (as the CLI does), and helpers to build local databases, upload
// them (snapshot or page diff, as a "remote writer" that is not this process's VFS) and
// run queries.
#pragma once

#include <gtest/gtest.h>
#include <httplib.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "litevfs/client.h"
#include "litevfs/vfs.h"
#include "ltx/checksum.h"
#include "ltx/coding.h"
#include "ltx/encoder.h"
#include "ltx/file.h"
#include "ltx/io.h"
#include "mockcloud/server.h"
#include "vfs_static.h"

namespace vfstest {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr int kPosErrorCode = SQLITE_IOERR | (0x504F53 << 8);

using vfsstatic::RegisterVfsOnce;

using vfsstatic::VfsLastError;

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Runs sql, returns rc; rows get "a|b|c" per row.
inline int Exec(sqlite3* db, const std::string& sql, std::vector<std::string>* rows = nullptr) {
  const char* tail = sql.c_str();
  int rc = SQLITE_OK;
  while (tail && *tail) {
    sqlite3_stmt* st = nullptr;
    rc = sqlite3_prepare_v2(db, tail, -1, &st, &tail);
    if (rc != SQLITE_OK) return rc;
    if (!st) break;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (!rows) continue;
      std::string row;
      for (int i = 0; i < sqlite3_column_count(st); i++) {
        if (i) row += "|";
        const unsigned char* t = sqlite3_column_text(st, i);
        row += t ? reinterpret_cast<const char*>(t) : "NULL";
      }
      rows->push_back(row);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) return rc;
    rc = SQLITE_OK;
  }
  return rc;
}

inline std::vector<std::string> Q(sqlite3* db, const std::string& sql) {
  std::vector<std::string> rows;
  int rc = Exec(db, sql, &rows);
  EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << sqlite3_errmsg(db) << " / " << VfsLastError();
  return rows;
}

inline std::string Q1(sqlite3* db, const std::string& sql) {
  auto rows = Q(db, sql);
  return rows.empty() ? "" : rows[0];
}

class VfsTest : public ::testing::Test {
 protected:
  virtual void CustomizeServer(mockcloud::ServerOptions*) {}

  void SetUp() override {
    char tmpl[] = "/tmp/litevfs-vfs-test-XXXXXX";
    char* p = mkdtemp(tmpl);
    ASSERT_NE(p, nullptr);
    dir_ = p;
    mockcloud::ServerOptions o;
    o.data_dir = dir_ + "/data";
    o.tokens = {{"secret", "*"}};
    o.admin_token = "admin";
    o.compact_interval_ms = 0;
    o.threads = 16;
    o.max_long_polls = 8;
    o.log_level = mockcloud::LogLevel::kError;
    o.log_sink = [](const std::string&) {};
    CustomizeServer(&o);
    auto srv = mockcloud::Server::Start(o);
    ASSERT_TRUE(srv.ok()) << srv.status().ToString();
    server_ = std::move(srv).value();
    host_ = "http://127.0.0.1:" + std::to_string(server_->port());
    setenv("LITEFS_CLOUD_HOST", host_.c_str(), 1);
    setenv("LITEFS_CLOUD_TOKEN", "secret", 1);
    setenv("LITEVFS_CACHE_DIR", (dir_ + "/cache").c_str(), 1);
    unsetenv("LITEFS_CLOUD_CLUSTER");
    RegisterVfsOnce();
    litevfs::ClientConfig cfg;
    cfg.host = host_;
    cfg.token = "secret";
    client_ = litevfs::Client::CreateWithTransport(
        cfg, litevfs::MakeCurlTransport(host_, 2000, 10000));
  }

  void TearDown() override {
    for (sqlite3* db : open_) sqlite3_close_v2(db);
    open_.clear();
    client_.reset();  // its keep-alive connection would hold the server's Stop()
    if (server_) server_->Stop();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  // Opens `file:NAME?vfs=litevfs`. Returns the rc; *out is set on success.
  int OpenRemoteRc(const std::string& name, sqlite3** out,
                   int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI,
                   const std::string& extra = "") {
    sqlite3* db = nullptr;
    std::string uri = "file:" + name + "?vfs=litevfs" + extra;
    int rc = sqlite3_open_v2(uri.c_str(), &db, flags, nullptr);
    if (rc != SQLITE_OK) {
      sqlite3_close(db);
      *out = nullptr;
      return rc;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, 2000);
    *out = db;
    open_.push_back(db);
    return rc;
  }
  sqlite3* OpenRemote(const std::string& name, const std::string& extra = "") {
    sqlite3* db = nullptr;
    int rc = OpenRemoteRc(name, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_URI, extra);
    EXPECT_EQ(rc, SQLITE_OK) << VfsLastError();
    return db;
  }
  void Close(sqlite3* db) {
    open_.erase(std::remove(open_.begin(), open_.end(), db), open_.end());
    EXPECT_EQ(sqlite3_close(db), SQLITE_OK);
  }

  sqlite3* OpenLocal(const std::string& path) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, "unix"), SQLITE_OK);
    open_.push_back(db);
    return db;
  }

  // A local database with `rows` rows in t (+ index), and a join table u.
  std::string MakeLocalDb(const std::string& file, int rows, uint32_t page_size = 4096) {
    std::string path = dir_ + "/" + file;
    sqlite3* db = OpenLocal(path);
    Q(db, "PRAGMA page_size=" + std::to_string(page_size));
    Q(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, k TEXT, v INTEGER, pad TEXT);"
          "CREATE INDEX t_k ON t(k);"
          "CREATE TABLE u(id INTEGER PRIMARY KEY, t_id INTEGER, x TEXT);"
          "BEGIN;"
          "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < " + std::to_string(rows) + ") "
          "INSERT INTO t SELECT i, 'key' || printf('%08d', (i * 7919) % 1000003), i * 3, printf('%0100d', i) FROM c;"
          "INSERT INTO u SELECT id, id * 5 % " + std::to_string(rows) + " + 1, 'x' || id FROM t WHERE id % 10 = 0;"
          "COMMIT;");
    Close(db);
    return path;
  }

  ltx::Pos UploadSnapshot(const std::string& name, const std::string& path) {
    std::string bytes;
    ltx::StringSink sink(&bytes);
    auto info = ltx::EncodeDatabaseFile(path, &sink);
    EXPECT_TRUE(info.ok()) << info.status().ToString();
    auto pos = client_->UploadTx(name, bytes, "");
    EXPECT_TRUE(pos.ok()) << pos.status().ToString();
    return pos.ok() ? *pos : ltx::Pos{};
  }

  // Uploads the change old_image -> new_image as one transaction at `pos` (a remote writer).
  // Returns the new position; *changed gets the changed page numbers.
  ltx::Pos UploadDiff(const std::string& name, const std::string& old_image,
                      const std::string& new_image, const ltx::Pos& pos,
                      std::vector<uint32_t>* changed = nullptr) {
    const uint32_t ps = ltx::DecodeU16(reinterpret_cast<const uint8_t*>(new_image.data()) + 16) == 1
                            ? 65536
                            : ltx::DecodeU16(reinterpret_cast<const uint8_t*>(new_image.data()) + 16);
    const uint32_t commit = uint32_t(new_image.size() / ps);
    ltx::Header h;
    h.page_size = ps;
    h.commit = commit;
    h.min_txid = h.max_txid = pos.txid + 1;
    h.timestamp = 1;
    h.pre_apply_checksum = pos.post_apply_checksum;
    std::string bytes;
    ltx::StringSink sink(&bytes);
    auto enc = ltx::Encoder::Open(&sink, h);
    EXPECT_TRUE(enc.ok()) << enc.status().ToString();
    for (uint32_t pg = 1; pg <= commit; pg++) {
      if (pg == ltx::LockPgno(ps)) continue;
      std::string_view nw(new_image.data() + size_t(pg - 1) * ps, ps);
      if (size_t(pg) * ps <= old_image.size() && std::string_view(old_image.data() + size_t(pg - 1) * ps, ps) == nw) continue;
      if (changed) changed->push_back(pg);
      EXPECT_TRUE((*enc)->AddPage(pg, {reinterpret_cast<const uint8_t*>(nw.data()), ps}).ok());
    }
    uint64_t post = ltx::ChecksumDatabaseImage({reinterpret_cast<const uint8_t*>(new_image.data()), new_image.size()}, ps);
    EXPECT_TRUE((*enc)->Finish(post).ok());
    auto np = client_->UploadTx(name, bytes, "");
    EXPECT_TRUE(np.ok()) << np.status().ToString();
    return np.ok() ? *np : ltx::Pos{};
  }

  // Applies `sql` to the local file and ships the change as a remote transaction.
  ltx::Pos RemoteWrite(const std::string& name, const std::string& path, const std::string& sql,
                       const ltx::Pos& pos, std::vector<uint32_t>* changed = nullptr) {
    std::string before = ReadFileBytes(path);
    sqlite3* db = OpenLocal(path);
    Q(db, sql);
    Close(db);
    return UploadDiff(name, before, ReadFileBytes(path), pos, changed);
  }

  ltx::Pos RemotePos(const std::string& name) {
    auto r = client_->GetPositions();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return {};
    auto it = r->find(name);
    return it == r->end() ? ltx::Pos{} : it->second;
  }

  // Downloads the current remote state into a local file and returns its path.
  std::string DownloadSnapshot(const std::string& name) {
    std::string ltx_path = dir_ + "/" + name + ".snapshot.ltx";
    std::string db_path = dir_ + "/" + name + ".snapshot.db";
    {
      auto sink = ltx::FileSink::Create(ltx_path);
      EXPECT_TRUE(sink.ok());
      auto n = client_->GetSnapshot(name, sink->get());
      EXPECT_TRUE(n.ok()) << n.status().ToString();
      EXPECT_TRUE((*sink)->Close().ok());
    }
    std::error_code ec;
    fs::remove(db_path, ec);
    ltx::Status st = ltx::ApplyFile(db_path, ltx_path);
    EXPECT_TRUE(st.ok()) << st.ToString();
    return db_path;
  }

  json Stats(sqlite3* db) { return json::parse(Q1(db, "PRAGMA litevfs_stats")); }

  void SetFaults(const std::string& spec) {
    httplib::Client c("127.0.0.1", server_->port());
    auto r = c.Put("/admin/faults", {{"Authorization", "admin"}}, spec, "text/plain");
    ASSERT_TRUE(r) << "admin route unreachable";
    ASSERT_EQ(r->status, 200) << r->body;
  }

  std::string dir_;
  std::string host_;
  std::unique_ptr<mockcloud::Server> server_;
  std::unique_ptr<litevfs::Client> client_;
  std::vector<sqlite3*> open_;
};

}  // namespace vfstest
