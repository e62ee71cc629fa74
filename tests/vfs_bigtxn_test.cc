// Big transactions (issue 16): a transaction's dirty pages stay in memory up to a bound and
// spill to an unlinked file beyond it (DirtyPages); a rollback journal does the same
// (SpillJournal); a full spill disk is kResourceExhausted/"ENOSPACE" (SQLITE_FULL); the
// commit's LTX is planned in bounded batches and encoded as the upload reads it
// (PlanCommit, LtxBodyStream); a transaction over the server's body limit is refused
// before any upload. Memory figures for a 300+ MiB transaction: tests/e2e/test_vfs_bigtxn.py.
#include <cerrno>
#include <random>

#include "commit_stream.h"
#include "dirty_pages.h"
#include "ltx/decoder.h"
#include "spill_file.h"
#include "spill_journal.h"
#include "vfs_test_util.h"

namespace vfstest {
namespace {

using litevfs::DirtyPages;
using litevfs::DirtyPagesOptions;

constexpr uint32_t kPs = 4096;

std::vector<uint8_t> Page(uint32_t pgno, uint32_t salt = 0) {
  std::vector<uint8_t> p(kPs);
  std::mt19937 rng(pgno * 7919u + salt);
  for (auto& b : p) b = uint8_t(rng());
  return p;
}

// Fails PWrite with ENOSPC from the `fail_from`-th call on (1-based; 0 = never).
class FullDiskIo : public litevfs::SpillIo {
 public:
  int fail_from = 0;
  int writes = 0;
  ssize_t PWrite(int fd, const void* buf, size_t n, off_t off) override {
    if (fail_from != 0 && ++writes >= fail_from) {
      errno = ENOSPC;
      return -1;
    }
    return SpillIo::PWrite(fd, buf, n, off);
  }
};

class SpillDirTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/litevfs-bigtxn-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }
  DirtyPagesOptions Opts(size_t mem_pages, litevfs::SpillIo* io = nullptr) {
    DirtyPagesOptions o;
    o.memory_limit = mem_pages * kPs;
    o.spill_dirs = {dir_};
    o.io = io;
    return o;
  }
  size_t FilesInDir() const {
    return size_t(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()));
  }
  std::string dir_;
};

TEST_F(SpillDirTest, DirtyPagesStayInMemoryUpToTheBound) {
  DirtyPages d(Opts(4));
  for (uint32_t pg = 1; pg <= 4; pg++) ASSERT_TRUE(d.Put(pg, Page(pg)).ok());
  EXPECT_EQ(d.spilled_pages(), 0u);
  EXPECT_EQ(d.memory_bytes(), 4u * kPs);
  ASSERT_TRUE(d.Put(5, Page(5)).ok());
  EXPECT_EQ(d.spilled_pages(), 1u);
  EXPECT_EQ(d.memory_bytes(), 4u * kPs);  // the bound holds
}

TEST_F(SpillDirTest, SpilledPagesReadPatchAndIterateInPageOrder) {
  DirtyPages d(Opts(2));
  const std::vector<uint32_t> order = {9, 3, 27, 1, 14, 2, 8, 100};
  for (uint32_t pg : order) ASSERT_TRUE(d.Put(pg, Page(pg)).ok());
  EXPECT_EQ(d.spilled_pages(), order.size() - 2);
  EXPECT_EQ(FilesInDir(), 0u) << "the spill file has no name";
  // Patch one in memory (9) and one on disk (27), then replace a whole spilled page (14).
  const std::vector<uint8_t> bytes = {1, 2, 3, 4, 5};
  ASSERT_TRUE(d.Patch(9, 100, bytes).ok());
  ASSERT_TRUE(d.Patch(27, kPs - 5, bytes).ok());
  ASSERT_TRUE(d.Put(14, Page(14, 1)).ok());
  std::vector<uint32_t> seen;
  std::vector<uint8_t> buf(kPs);
  for (uint32_t pg = d.Next(0); pg != 0; pg = d.Next(pg)) {
    seen.push_back(pg);
    auto r = d.Read(pg, 0, buf);
    ASSERT_TRUE(r.ok() && *r) << pg;
    std::vector<uint8_t> want = Page(pg, pg == 14 ? 1 : 0);
    if (pg == 9) std::copy(bytes.begin(), bytes.end(), want.begin() + 100);
    if (pg == 27) std::copy(bytes.begin(), bytes.end(), want.end() - 5);
    EXPECT_EQ(buf, want) << "page " << pg;
  }
  EXPECT_EQ(seen, (std::vector<uint32_t>{1, 2, 3, 8, 9, 14, 27, 100}));
  std::vector<uint8_t> part(5);
  auto r = d.Read(27, kPs - 5, part);
  ASSERT_TRUE(r.ok() && *r);
  EXPECT_EQ(part, bytes);
  r = d.Read(4, 0, part);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(*r) << "page 4 is not dirty";
}

TEST_F(SpillDirTest, DropAboveAndClear) {
  DirtyPages d(Opts(1));
  for (uint32_t pg = 1; pg <= 6; pg++) ASSERT_TRUE(d.Put(pg, Page(pg)).ok());
  d.DropAbove(3);
  EXPECT_EQ(d.count(), 3u);
  EXPECT_EQ(d.Next(3), 0u);
  // Freed file slots are reused without mixing pages up.
  for (uint32_t pg = 10; pg <= 13; pg++) ASSERT_TRUE(d.Put(pg, Page(pg)).ok());
  std::vector<uint8_t> buf(kPs);
  for (uint32_t pg : {1u, 2u, 3u, 10u, 11u, 12u, 13u}) {
    auto r = d.Read(pg, 0, buf);
    ASSERT_TRUE(r.ok() && *r);
    EXPECT_EQ(buf, Page(pg)) << pg;
  }
  ASSERT_TRUE(d.Clear().ok());
  EXPECT_TRUE(d.empty());
  EXPECT_EQ(d.memory_bytes(), 0u);
  // After a clear, another page size is fine (a new database's first transaction).
  EXPECT_TRUE(d.Put(1, std::vector<uint8_t>(1024, 7)).ok());
  EXPECT_EQ(d.Put(2, std::vector<uint8_t>(2048, 7)).code(), ltx::Code::kInvalidArgument);
}

TEST_F(SpillDirTest, FullDiskIsResourceExhaustedAndLeavesThePagesAsTheyWere) {
  FullDiskIo io;
  DirtyPages d(Opts(2, &io));
  for (uint32_t pg = 1; pg <= 4; pg++) ASSERT_TRUE(d.Put(pg, Page(pg)).ok());
  io.fail_from = 1;
  ltx::Status st = d.Put(5, Page(5));
  EXPECT_EQ(st.code(), ltx::Code::kResourceExhausted) << st.ToString();
  EXPECT_EQ(st.api_code(), "ENOSPACE");  // the VFS answers SQLITE_FULL
  EXPECT_NE(st.message().find("No space left on device"), std::string::npos) << st.message();
  EXPECT_NE(st.message().find(dir_), std::string::npos) << st.message();
  EXPECT_FALSE(d.Contains(5));
  EXPECT_EQ(d.Patch(4, 0, std::vector<uint8_t>(8, 1)).api_code(), "ENOSPACE");
  io.fail_from = 0;
  std::vector<uint8_t> buf(kPs);
  for (uint32_t pg = 1; pg <= 4; pg++) {
    auto r = d.Read(pg, 0, buf);
    ASSERT_TRUE(r.ok() && *r);
    EXPECT_EQ(buf, Page(pg)) << pg;
  }
}

TEST_F(SpillDirTest, SpillGoesToTheNextDirectoryWhenTheFirstRefuses) {
  DirtyPagesOptions o = Opts(0);
  o.spill_dirs = {dir_ + "/missing", dir_};
  DirtyPages d(o);
  ASSERT_TRUE(d.Put(1, Page(1)).ok());
  EXPECT_EQ(d.spilled_pages(), 1u);
  DirtyPagesOptions bad = Opts(0);
  bad.spill_dirs = {dir_ + "/missing"};
  DirtyPages e(bad);
  ltx::Status st = e.Put(1, Page(1));
  EXPECT_EQ(st.code(), ltx::Code::kIOError);
  EXPECT_NE(st.message().find("set TMPDIR"), std::string::npos) << st.message();
}

TEST_F(SpillDirTest, JournalSpillsPastItsBoundAndComesBackAtTruncateZero) {
  FullDiskIo io;
  litevfs::SpillJournal j(3 * kPs, {dir_}, &io);
  std::vector<uint8_t> all;
  for (uint32_t i = 0; i < 3; i++) {
    auto p = Page(i);
    ASSERT_TRUE(j.Write(all.size(), p.data(), p.size()).ok());
    all.insert(all.end(), p.begin(), p.end());
  }
  EXPECT_FALSE(j.spilled());
  auto p = Page(3);
  ASSERT_TRUE(j.Write(all.size() + 10, p.data(), p.size()).ok());  // a gap reads as zeros
  all.resize(all.size() + 10, 0);
  all.insert(all.end(), p.begin(), p.end());
  EXPECT_TRUE(j.spilled());
  std::vector<uint8_t> back(all.size() + 50);
  auto r = j.Read(0, back.data(), back.size());
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, all.size());
  back.resize(*r);
  EXPECT_EQ(back, all);
  ASSERT_TRUE(j.Truncate(0).ok());
  EXPECT_FALSE(j.spilled());
  EXPECT_EQ(j.size(), 0u);
  io.fail_from = 1;  // the next spill meets a full disk
  std::vector<uint8_t> big(4 * kPs, 1);
  ltx::Status st = j.Write(0, big.data(), big.size());
  EXPECT_EQ(st.api_code(), "ENOSPACE") << st.ToString();
}

// A database image: pages 1..n of Page(pg, salt).
std::map<uint32_t, std::string> Image(uint32_t n, uint32_t salt) {
  std::map<uint32_t, std::string> m;
  for (uint32_t pg = 1; pg <= n; pg++) {
    auto p = Page(pg, salt);
    m[pg] = std::string(p.begin(), p.end());
  }
  return m;
}

uint64_t ImageChecksum(const std::map<uint32_t, std::string>& img) {
  ltx::DatabaseChecksum c;
  for (auto& [pg, p] : img) {
    if (pg == ltx::LockPgno(kPs)) continue;
    c.Toggle(ltx::PageChecksum(pg, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(p.data()), p.size())));
  }
  return c.value();
}

TEST_F(SpillDirTest, CommitStreamEncodesTheSameLtxInAnyChunkingAndAfterARewind) {
  // Old: 40 pages. The transaction rewrites 1-10 (5 of them back to the old bytes), grows to
  // 60 with 45..60 written and 41..44 zero, with 2 pages in memory and the rest spilled.
  auto old = Image(40, 0);
  DirtyPages d(Opts(2));
  auto next = old;
  for (uint32_t pg = 1; pg <= 10; pg++) {
    auto p = pg % 2 ? Page(pg, 9) : Page(pg, 0);
    ASSERT_TRUE(d.Put(pg, p).ok());
    next[pg] = std::string(p.begin(), p.end());
  }
  for (uint32_t pg = 41; pg <= 60; pg++) {
    auto p = pg >= 45 ? Page(pg, 9) : std::vector<uint8_t>(kPs, 0);
    if (pg >= 45) {
      ASSERT_TRUE(d.Put(pg, p).ok());
    }
    next[pg] = std::string(p.begin(), p.end());
  }
  litevfs::CommitShape shape{kPs, 40, 60, ImageChecksum(old), false};
  size_t batches = 0;
  auto plan = litevfs::PlanCommit(shape, &d, [&](const std::vector<uint32_t>& pgnos, std::map<uint32_t, std::string>* out) {
    batches++;
    for (uint32_t pg : pgnos) (*out)[pg] = old.at(pg);
    return ltx::Status::OK();
  });
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(plan->unchanged, (std::vector<uint32_t>{2, 4, 6, 8, 10}));
  EXPECT_EQ(plan->page_count, 5u + 20u);
  EXPECT_EQ(plan->post_checksum, ImageChecksum(next));
  EXPECT_EQ(batches, 1u);
  litevfs::LtxBodyStream body(&d, &*plan, litevfs::CommitHeader(*plan, 8, 1234));
  auto read_all = [&](size_t chunk) {
    std::string out;
    std::vector<uint8_t> buf(chunk);
    for (;;) {
      auto r = body.ReadAt(out.size(), buf.data(), buf.size());
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok() || *r == 0) return out;
      out.append(reinterpret_cast<const char*>(buf.data()), *r);
    }
  };
  const std::string a = read_all(1000);
  EXPECT_EQ(a.size(), body.size());
  EXPECT_EQ(read_all(65536), a) << "a rewind re-encodes the same bytes";
  auto dec = ltx::Decoder::Open(ltx::MemorySource(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(a.data()), a.size())));
  ASSERT_TRUE(dec.ok()) << dec.status().ToString();
  ltx::PageFrame f;
  std::vector<uint32_t> pgnos;
  for (;;) {
    auto more = (*dec)->Next(&f);
    ASSERT_TRUE(more.ok()) << more.status().ToString();
    if (!*more) break;
    pgnos.push_back(f.pgno);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(f.data.data()), f.data.size()), next.at(f.pgno)) << f.pgno;
  }
  ASSERT_TRUE((*dec)->Finish().ok());
  EXPECT_EQ((*dec)->trailer().post_apply_checksum, ImageChecksum(next));
  std::vector<uint32_t> want = {1, 3, 5, 7, 9};
  for (uint32_t pg = 41; pg <= 60; pg++) want.push_back(pg);
  EXPECT_EQ(pgnos, want);
}

TEST_F(SpillDirTest, OldPagesAreFetchedInBoundedBatches) {
  const uint32_t n = uint32_t(3 * litevfs::kOldPageBatchBytes / kPs + 5);
  DirtyPages d(Opts(16));
  for (uint32_t pg = 1; pg <= n; pg++) ASSERT_TRUE(d.Put(pg, Page(pg, 1)).ok());
  size_t most = 0;
  litevfs::CommitShape shape{kPs, n, n, ltx::kChecksumFlag, false};
  auto plan = litevfs::PlanCommit(shape, &d, [&](const std::vector<uint32_t>& pgnos, std::map<uint32_t, std::string>* out) {
    most = std::max(most, pgnos.size());
    for (uint32_t pg : pgnos) (*out)[pg] = std::string(kPs, '\0');
    return ltx::Status::OK();
  });
  ASSERT_TRUE(plan.ok()) << plan.status().ToString();
  EXPECT_EQ(most, litevfs::kOldPageBatchBytes / kPs);
}

TEST(CheckTxBodyLimit, RefusesOnlyWhatCannotFit) {
  const uint64_t size = litevfs::LtxSize(kPs, 10);
  EXPECT_TRUE(litevfs::CheckTxBodyLimit(0, kPs, 1u << 30, "db").ok()) << "unknown limit";
  EXPECT_TRUE(litevfs::CheckTxBodyLimit(size, kPs, 10, "db").ok());
  ltx::Status st = litevfs::CheckTxBodyLimit(size - 1, kPs, 10, "db");
  EXPECT_EQ(st.api_code(), "ETOOLARGE");
  EXPECT_NE(st.message().find("split it into smaller transactions"), std::string::npos) << st.message();
}

// ---- through the VFS, against the in-process server ----

class BigTxnTest : public VfsTest {
 protected:
  void CustomizeServer(mockcloud::ServerOptions* o) override { o->max_body = max_body_; }
  uint64_t max_body_ = 256ull << 20;
};

TEST_F(BigTxnTest, ATransactionLargerThanTheMemoryBoundSpillsAndRoundTrips) {
  UploadSnapshot("big", MakeLocalDb("big.db", 50));
  sqlite3* w = OpenRemote("big");
  Q(w, "PRAGMA litevfs_acquire_lease");
  Q(w, "PRAGMA cache_size = 100");
  // ~24 MiB of new pages, over the 16 MiB in-memory bound, in one transaction; then a rewrite
  // of all of it, whose rollback journal spills too.
  Q(w, "CREATE TABLE big(a INTEGER PRIMARY KEY, b BLOB)");
  Q(w, "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 6000) "
       "INSERT INTO big SELECT i, randomblob(4000) FROM c");
  Q(w, "UPDATE big SET b = randomblob(4000)");  // a ~24 MiB journal: past its bound
  const ltx::Pos pos = RemotePos("big");
  // A big transaction rolled back: SQLite plays the (spilled) journal back over the
  // (spilled) dirty pages; every page is then as before and nothing is uploaded.
  const std::string agg = "SELECT count(*), sum(length(b)), sum(a * unicode(hex(b))) FROM big";
  const std::string committed = Q1(w, agg);
  Q(w, "BEGIN; UPDATE big SET b = randomblob(4000); DELETE FROM big WHERE a % 3 = 0;");
  EXPECT_NE(Q1(w, agg), committed);
  Q(w, "ROLLBACK");
  EXPECT_EQ(Q1(w, agg), committed);
  EXPECT_EQ(RemotePos("big"), pos);
  const std::string want = Q1(w, "SELECT count(*), sum(length(b)), sum(a * unicode(hex(b))) FROM big");
  Close(w);
  std::string path = DownloadSnapshot("big");
  sqlite3* local = OpenLocal(path);
  EXPECT_EQ(Q1(local, "PRAGMA integrity_check"), "ok");
  EXPECT_EQ(Q1(local, "SELECT count(*), sum(length(b)), sum(a * unicode(hex(b))) FROM big"), want);
  Close(local);
}

class SmallBodyLimitTest : public BigTxnTest {
 protected:
  SmallBodyLimitTest() { max_body_ = 1u << 20; }
};

TEST_F(SmallBodyLimitTest, ATransactionOverTheServersBodyLimitIsRefusedBeforeTheUpload) {
  UploadSnapshot("lim", MakeLocalDb("lim.db", 50));
  const ltx::Pos before = RemotePos("lim");
  sqlite3* w = OpenRemote("lim");
  Q(w, "PRAGMA litevfs_acquire_lease");
  int rc = Exec(w, "BEGIN; CREATE TABLE big(a INTEGER PRIMARY KEY, b BLOB);"
                   "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 600) "
                   "INSERT INTO big SELECT i, randomblob(3000) FROM c; COMMIT;");
  EXPECT_EQ(rc & 0xff, SQLITE_FULL) << sqlite3_errmsg(w);
  EXPECT_NE(VfsLastError().find("over its body limit of 1048576 bytes"), std::string::npos) << VfsLastError();
  Exec(w, "ROLLBACK");
  EXPECT_EQ(Stats(w)["upload_failures"], 0) << "refused before any upload";
  EXPECT_EQ(RemotePos("lim"), before);
  Q(w, "INSERT INTO t(id, k, v, pad) VALUES (100000, 'small', 1, 'fits')");  // still usable
  EXPECT_EQ(RemotePos("lim").txid, before.txid + 1);
  Close(w);
}

}  // namespace
}  // namespace vfstest
