// The large database of the bulk and scale rows (issue 19), as the issue measured: rows of
// 200 random + 300 repeated bytes and one index, and the CLI that imports and exports it.
#pragma once

#include "bench_common.h"

namespace bench {

inline constexpr double kBytesPerRow = 580;  // 500 bytes of value, its key, record and b-tree overhead

// A table big(id INTEGER PRIMARY KEY, k, v) of about size_mb MiB with an index on k.
inline void BuildBigDatabase(const std::string& path, int size_mb) {
  const double t0 = Now();
  sqlite3* db = OpenDb(path);
  const int64_t rows = int64_t(double(size_mb) * 1024 * 1024 / kBytesPerRow);
  Exec(db, "PRAGMA page_size=4096; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
           "CREATE TABLE big(id INTEGER PRIMARY KEY, k INTEGER, v BLOB);"
           "BEGIN; WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < " +
               std::to_string(rows) +
               ") INSERT INTO big SELECT i, (i * 7919) % 1000003, randomblob(200) || zeroblob(300)"
               " FROM c; COMMIT; CREATE INDEX big_k ON big(k);");
  sqlite3_close(db);
  Log("big.db: " + std::to_string(rows) + " rows, " + FmtBytes(double(fs::file_size(path))) +
      " built in " + Fmt(Now() - t0, 1) + " s");
}

// The litevfs CLI of this build, or $LITEVFS_BENCH_CLI (to measure another build's).
inline std::string CliPath() {
  const char* e = getenv("LITEVFS_BENCH_CLI");
  const std::string p = e && *e ? std::string(e)
                                : (fs::path(SelfExe()).parent_path().parent_path() / "cli/litevfs").string();
  if (access(p.c_str(), X_OK) != 0) Die(p + " is not built (cmake --build --preset release --target litevfs-cli)");
  return p;
}

// Points the CLI run by RunProgram at `host` with its own cache.
inline void PointCliAt(const std::string& host, const std::string& cache_dir) {
  setenv("LITEFS_CLOUD_HOST", host.c_str(), 1);
  setenv("LITEFS_CLOUD_TOKEN", kToken, 1);
  setenv("LITEVFS_CACHE_DIR", cache_dir.c_str(), 1);
  unsetenv("LITEFS_CLOUD_CLUSTER");
}

}  // namespace bench
