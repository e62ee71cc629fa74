// Row 12: restore (issue 18). A database of about size_mb MiB (1 GiB by default) of random
// rows; 1% of its pages change in ten transactions through the VFS under the lease; then
// `restore` to the state before them (POST /db/restore: the server builds one transaction of
// only the differing pages). Measured: the restore's wall time on loopback and the bytes it
// writes, each against the changed pages (GET /db/diff's count × page size) and, for time,
// against `cp` of a file of that many bytes (the physical floor of writing them once).
// Targets (issue 18): ≤ 2 s, ≤ 1.5× the bytes of the changed pages. Checked: every changed
// page, read back at the new position, equals the old state's (page 1 but its counter).
#include "bench_common.h"
#include "litevfs/time_travel.h"

namespace {

using namespace bench;

constexpr uint32_t kPageSize = 4096;
constexpr int kRowsPerPage = 4;  // 1000-byte blobs: four cells fill a 4096-byte page
constexpr int kTransactions = 10;

// Seconds `cp` takes to copy a fresh file of `bytes` (written and fsynced beforehand).
double TimeCp(const fs::path& dir, uint64_t bytes) {
  const std::string src = dir / "changed.bin", dst = dir / "changed.copy";
  {
    std::ofstream out(src, std::ios::binary);
    std::string block(1 << 16, 'x');
    for (uint64_t n = 0; n < bytes; n += block.size()) out.write(block.data(), std::streamsize(std::min<uint64_t>(block.size(), bytes - n)));
  }
  const double t0 = Now();
  if (std::system(("cp " + src + " " + dst + " && sync " + dst).c_str()) != 0) Die("cp failed");
  return Now() - t0;
}

std::map<uint32_t, std::string> Pages(litevfs::Client& c, const ltx::Pos& pos, const std::vector<uint32_t>& pgnos) {
  std::map<uint32_t, std::string> out;
  for (size_t i = 0; i < pgnos.size(); i += 1000) {
    std::vector<uint32_t> chunk(pgnos.begin() + long(i), pgnos.begin() + long(std::min(pgnos.size(), i + 1000)));
    auto b = c.GetPages("bench", pos, chunk);
    if (!b.ok()) Die("GetPages: " + b.status().ToString());
    for (auto& [p, d] : b->pages) out[p] = std::move(d);
  }
  return out;
}

int Main(const Args& a) {
  const int size_mb = a.size_mb ? a.size_mb : (a.smoke ? 4 : 1024);
  TempDir dir("restore");
  const std::string path = dir / "db.sqlite";
  const int64_t rows = int64_t(size_mb) * 1024 * 1024 / kPageSize * kRowsPerPage;
  {
    sqlite3* db = OpenDb(path);
    Exec(db, "PRAGMA page_size=4096; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
             "CREATE TABLE t(id INTEGER PRIMARY KEY, payload BLOB);"
             "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < " +
                 std::to_string(rows) + ") INSERT INTO t SELECT i, randomblob(1000) FROM c;");
    sqlite3_close(db);
  }
  ServerProc srv(dir / "data");
  const ltx::Pos before = Import(srv.host(), "bench", path);
  fs::remove(path);
  SetVfsEnv(srv.host(), dir / "cache");
  {  // 1% of the pages: one row in every 100 pages, by rowid (point writes), in ten transactions.
    sqlite3* db = OpenRemote("bench");
    Exec(db, "PRAGMA litevfs_acquire_lease");
    const int64_t every = 100 * kRowsPerPage * kTransactions;
    for (int k = 0; k < kTransactions; k++) {
      const int64_t first = 1 + int64_t(k) * 100 * kRowsPerPage;
      Exec(db, "WITH RECURSIVE s(i) AS (SELECT " + std::to_string(first) + " UNION ALL SELECT i + " +
                   std::to_string(every) + " FROM s WHERE i + " + std::to_string(every) + " <= " +
                   std::to_string(rows) + ") UPDATE t SET payload = randomblob(1000) WHERE id IN (SELECT i FROM s)");
    }
    Exec(db, "PRAGMA litevfs_release_lease");
    sqlite3_close(db);
  }
  auto client = MakeClient(srv.host());
  const ltx::Pos now = client->Sync("bench", ltx::Pos{}).value().pos;
  auto diff = litevfs::DiffPositions(*client, "bench", now, before);
  if (!diff.ok()) Die("diff: " + diff.status().ToString());
  const uint64_t changed_bytes = uint64_t(diff->pgnos.size()) * kPageSize;
  Log("restore: " + std::to_string(diff->pgnos.size()) + " of " + std::to_string(diff->from_commit) +
      " pages changed in " + std::to_string(now.txid - before.txid) + " transactions");

  const double t0 = Now();
  auto r = litevfs::RestoreDatabase(*client, "bench", before, "");
  const double secs = Now() - t0;
  if (!r.ok()) Die("restore: " + r.status().ToString());
  const uint64_t written = r->pages * kPageSize;
  const uint64_t wire = client->stats().bytes_sent + client->stats().bytes_received;

  auto want = Pages(*client, before, diff->pgnos);
  auto got = Pages(*client, r->pos, diff->pgnos);
  for (uint32_t p : diff->pgnos) {
    if (p != 1 && got[p] != want[p]) Die("page " + std::to_string(p) + " differs from the old state after restore");
  }
  const double cp = TimeCp(dir.path(), changed_bytes);
  const double bytes_ratio = double(written) / double(changed_bytes);
  const bool ok = secs <= 2.0 && bytes_ratio <= 1.5;
  Row("12", "restore " + std::to_string(size_mb) + " MiB db, " + std::to_string(diff->pgnos.size()) +
                " pages (1%) changed, to before (server-built, one transaction; " + FmtBytes(double(wire)) +
                " over the wire)",
      "cp of the changed bytes (" + FmtBytes(double(changed_bytes)) + "): " + Fmt(cp * 1000, 0) + " ms",
      Fmt(secs * 1000, 0) + " ms, " + FmtBytes(double(written)) + " written",
      Fmt(secs / cp, 1) + "× cp time, " + Fmt(bytes_ratio, 2) + "× changed bytes / ≤ 2 s, ≤ 1.5×", Met(ok));
  return 0;
}

}  // namespace

int main(int argc, char** argv) { return Run(argc, argv, "restore benchmark (row 12)", Main); }
