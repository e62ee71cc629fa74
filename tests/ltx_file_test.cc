// Whole-file operations against real SQLite databases: EncodeDatabaseFile → VerifyFile →
// ApplyFile reproduces the database byte for byte; incremental files (including shrinking
// ones) apply onto the right state only, and nothing changes when a check fails.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include "ltx/coding.h"
#include "ltx/file.h"
#include "ltx_test_util.h"

namespace ltx {
namespace {

using namespace ltx::testing;

void Exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
  ASSERT_EQ(rc, SQLITE_OK) << (err ? err : "") << " in: " << sql;
}

std::string QueryOne(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  std::string out;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK &&
      sqlite3_step(st) == SQLITE_ROW) {
    out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

// Builds a database of roughly `target_bytes` with two tables and three indexes.
void BuildDatabase(const std::string& path, uint32_t page_size, size_t target_bytes) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  Exec(db, "PRAGMA page_size=" + std::to_string(page_size));
  Exec(db, "PRAGMA journal_mode=DELETE");
  Exec(db, "CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT, email TEXT, bio BLOB)");
  Exec(db, "CREATE TABLE events(id INTEGER PRIMARY KEY, user_id INT, kind TEXT, at INT)");
  Exec(db, "CREATE INDEX users_email ON users(email)");
  Exec(db, "CREATE INDEX events_user ON events(user_id, at)");
  Exec(db, "CREATE INDEX events_kind ON events(kind)");
  // Each round adds ~ (users: 300 B + events: 40 B × 4) per row.
  const int rows = int(target_bytes / 520) + 1;
  Exec(db, "BEGIN");
  Exec(db,
       "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < " +
           std::to_string(rows) +
           ") INSERT INTO users(name, email, bio) SELECT 'user' || i, 'u' || (i * 7919 % 100003) "
           "|| '@example.com', randomblob(200) FROM n");
  Exec(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < " +
               std::to_string(rows * 4) + ") INSERT INTO events(user_id, kind, at) SELECT i % " +
               std::to_string(rows) + ", 'kind' || (i % 13), i * 31 FROM n");
  Exec(db, "COMMIT");
  sqlite3_close(db);
}

void Modify(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  Exec(db, sql);
  sqlite3_close(db);
}

std::string EncodeToFile(const std::string& db, const std::string& out, const EncodeOptions& o,
                         FileInfo* info_out = nullptr) {
  auto sink = FileSink::Create(out);
  EXPECT_TRUE(sink.ok());
  EncodeDbOptions opts;
  opts.encode = o;
  opts.txid = 5;
  opts.timestamp_ms = 1234;
  auto info = EncodeDatabaseFile(db, sink->get(), opts);
  if (!info.ok()) return info.status().ToString();
  EXPECT_TRUE((*sink)->Sync().ok());
  EXPECT_TRUE((*sink)->Close().ok());
  if (info_out) *info_out = *info;
  return "OK";
}

const EncodeOptions kAllFormats[] = {
    {Version::kV1, false}, {Version::kV1, true}, {Version::kV3, false}};

TEST(EncodeDatabaseFile, SeveralMegabyteDatabaseRoundTripsInEveryFormat) {
  TempDir dir;
  const std::string src = dir.Path("src.db");
  BuildDatabase(src, 4096, 5 << 20);
  const std::string src_bytes = ReadFileOrDie(src);
  ASSERT_GT(src_bytes.size(), size_t(4) << 20);
  auto want_chk = ChecksumDatabaseFile(src);
  ASSERT_TRUE(want_chk.ok());

  int n = 0;
  for (const EncodeOptions& o : kAllFormats) {
    SCOPED_TRACE(std::string(VersionName(o.version)) + (o.compress ? "+lz4" : ""));
    const std::string ltx = dir.Path("snap" + std::to_string(n) + ".ltx");
    const std::string out = dir.Path("out" + std::to_string(n++) + ".db");
    FileInfo enc_info;
    ASSERT_EQ(EncodeToFile(src, ltx, o, &enc_info), "OK");
    EXPECT_EQ(enc_info.header.commit, src_bytes.size() / 4096);
    EXPECT_EQ(enc_info.page_count, src_bytes.size() / 4096);
    EXPECT_EQ(enc_info.trailer.post_apply_checksum, *want_chk);
    EXPECT_EQ(enc_info.file_size, std::filesystem::file_size(ltx));

    auto info = VerifyFile(ltx);
    ASSERT_TRUE(info.ok()) << info.status().ToString();
    EXPECT_EQ(info->version, o.version);
    EXPECT_EQ(info->header.min_txid, 1u);
    EXPECT_EQ(info->header.max_txid, 5u);
    EXPECT_EQ(info->header.timestamp, 1234);
    EXPECT_EQ(info->trailer.file_checksum, enc_info.trailer.file_checksum);

    ASSERT_TRUE(ApplyFile(out, ltx).ok());
    EXPECT_TRUE(ReadFileOrDie(out) == src_bytes) << "applied database differs";
    EXPECT_EQ(QueryOne(out, "PRAGMA integrity_check"), "ok");
    EXPECT_EQ(QueryOne(out, "SELECT count(*) FROM events"),
              QueryOne(src, "SELECT count(*) FROM events"));
  }
}

TEST(EncodeDatabaseFile, OddPageSizesAndTheEmptyDatabase) {
  TempDir dir;
  for (uint32_t ps : {512u, 65536u}) {
    const std::string src = dir.Path("p" + std::to_string(ps) + ".db");
    BuildDatabase(src, ps, 200 << 10);
    const std::string ltx = src + ".ltx";
    FileInfo info;
    ASSERT_EQ(EncodeToFile(src, ltx, {Version::kV3, false}, &info), "OK");
    EXPECT_EQ(info.header.page_size, ps);
    const std::string out = src + ".out";
    ASSERT_TRUE(ApplyFile(out, ltx).ok());
    EXPECT_TRUE(ReadFileOrDie(out) == ReadFileOrDie(src));
  }
  // An empty file is a database of zero pages: commit 0, empty checksum; applying it
  // truncates an existing database to nothing.
  WriteFileOrDie(dir.Path("empty.db"), "");
  FileInfo info;
  ASSERT_EQ(EncodeToFile(dir.Path("empty.db"), dir.Path("empty.ltx"), {}, &info), "OK");
  EXPECT_EQ(info.header.commit, 0u);
  EXPECT_EQ(info.trailer.post_apply_checksum, kEmptyDatabaseChecksum);
  WriteFileOrDie(dir.Path("victim.db"), ReadFileOrDie(dir.Path("p512.db")));
  ASSERT_TRUE(ApplyFile(dir.Path("victim.db"), dir.Path("empty.ltx")).ok());
  EXPECT_EQ(std::filesystem::file_size(dir.Path("victim.db")), 0u);
}

TEST(EncodeDatabaseFile, RejectsWhatIsNotADatabase) {
  TempDir dir;
  std::string s;
  StringSink sink(&s);
  WriteFileOrDie(dir.Path("junk"), std::string(8192, 'x'));
  EXPECT_EQ(EncodeDatabaseFile(dir.Path("junk"), &sink).status().message(),
            "ltx: " + dir.Path("junk") + " is not a SQLite database (bad header)");
  EXPECT_EQ(EncodeDatabaseFile(dir.Path("missing"), &sink).status().code(), Code::kNotFound);
  EncodeDbOptions o;
  o.txid = 0;
  EXPECT_EQ(EncodeDatabaseFile(dir.Path("junk"), &sink, o).status().code(), Code::kInvalidArgument);
}

// Encodes the difference between two database images as a non-snapshot LTX file.
std::string DiffLtx(const std::string& before, const std::string& after, uint32_t ps, uint64_t txid,
                    const EncodeOptions& o = {}, uint64_t post_override = 0) {
  Pages changed;
  const size_t npages = after.size() / ps;
  for (size_t i = 0; i < npages; i++) {
    std::string page = after.substr(i * ps, ps);
    if (i * ps >= before.size() || before.compare(i * ps, ps, page) != 0) {
      changed[uint32_t(i + 1)] = Page(page.begin(), page.end());
    }
  }
  Header h = MakeHeader(ps, uint32_t(npages), txid, txid, ChecksumDatabaseImage(Bytes(before), ps));
  uint64_t post = post_override ? post_override : ChecksumDatabaseImage(Bytes(after), ps);
  return EncodeOrDie(h, changed, o, post).bytes;
}

TEST(ApplyFile, IncrementalFilesIncludingShrinkApplyOntoTheRightState) {
  TempDir dir;
  const std::string live = dir.Path("live.db");
  BuildDatabase(live, 4096, 1 << 20);
  std::string s0 = ReadFileOrDie(live);
  Modify(live,
         "UPDATE users SET name = name || '!' WHERE id % 50 = 0; "
         "INSERT INTO events(user_id, kind, at) VALUES (1, 'new', 99)");
  std::string s1 = ReadFileOrDie(live);
  Modify(live, "DELETE FROM events WHERE id % 3 = 0");
  Modify(live, "VACUUM");
  std::string s2 = ReadFileOrDie(live);
  ASSERT_LT(s2.size(), s1.size()) << "VACUUM should shrink the file";

  for (const EncodeOptions& o : kAllFormats) {
    SCOPED_TRACE(std::string(VersionName(o.version)) + (o.compress ? "+lz4" : ""));
    const std::string db = dir.Path("replica.db");
    WriteFileOrDie(db, s0);
    WriteFileOrDie(dir.Path("1.ltx"), DiffLtx(s0, s1, 4096, 2, o));
    WriteFileOrDie(dir.Path("2.ltx"), DiffLtx(s1, s2, 4096, 3, o));
    // Out of order: 2.ltx expects state 1.
    Status s = ApplyFile(db, dir.Path("2.ltx"));
    EXPECT_EQ(s.code(), Code::kConflict) << s.ToString();
    EXPECT_TRUE(ReadFileOrDie(db) == s0);
    ASSERT_TRUE(ApplyFile(db, dir.Path("1.ltx")).ok());
    EXPECT_TRUE(ReadFileOrDie(db) == s1);
    ASSERT_TRUE(ApplyFile(db, dir.Path("2.ltx")).ok());
    EXPECT_TRUE(ReadFileOrDie(db) == s2);
    EXPECT_EQ(QueryOne(db, "PRAGMA integrity_check"), "ok");
    // Applying the same file twice is refused.
    EXPECT_EQ(ApplyFile(db, dir.Path("2.ltx")).code(), Code::kConflict);
  }
}

TEST(ApplyFile, GrowthWithoutFramesZeroFillsAndCountsThosePages) {
  TempDir dir;
  const uint32_t ps = 512;
  std::string before = ReadFileOrDie(([&] {
    BuildDatabase(dir.Path("g.db"), ps, 8 << 10);
    return dir.Path("g.db");
  })());
  std::string after = before + std::string(3 * ps, '\0');  // three new zero pages
  Page last = MakePage(uint32_t(after.size() / ps) + 1, ps);
  after.append(last.begin(), last.end());  // and one real one
  const std::string ltx = dir.Path("grow.ltx");
  // Only the last page is in the file; the zero pages come from growing the file.
  Pages pages{{uint32_t(after.size() / ps), last}};
  Header h =
      MakeHeader(ps, uint32_t(after.size() / ps), 2, 2, ChecksumDatabaseImage(Bytes(before), ps));
  WriteFileOrDie(ltx, EncodeOrDie(h, pages, {}, ChecksumDatabaseImage(Bytes(after), ps)).bytes);
  ASSERT_TRUE(ApplyFile(dir.Path("g.db"), ltx).ok());
  EXPECT_TRUE(ReadFileOrDie(dir.Path("g.db")) == after);
}

TEST(ApplyFile, NothingChangesWhenTheFileIsBadOrDoesNotFit) {
  TempDir dir;
  const std::string db = dir.Path("db");
  BuildDatabase(db, 4096, 300 << 10);
  const std::string orig = ReadFileOrDie(db);

  // A snapshot with one flipped byte deep inside: verified before anything is written.
  BuildDatabase(dir.Path("other.db"), 4096, 400 << 10);
  ASSERT_EQ(EncodeToFile(dir.Path("other.db"), dir.Path("snap.ltx"), {}), "OK");
  std::string snap = ReadFileOrDie(dir.Path("snap.ltx"));
  snap[snap.size() / 2] ^= 0x40;
  WriteFileOrDie(dir.Path("bad.ltx"), snap);
  Status s = ApplyFile(db, dir.Path("bad.ltx"));
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_NE(s.message().find("file checksum mismatch"), std::string::npos) << s.ToString();
  EXPECT_TRUE(ReadFileOrDie(db) == orig);

  // A non-snapshot needs an existing database.
  std::string s1 = orig;
  s1[4096 + 100] ^= 1;
  WriteFileOrDie(dir.Path("inc.ltx"), DiffLtx(orig, s1, 4096, 2));
  EXPECT_EQ(ApplyFile(dir.Path("nope.db"), dir.Path("inc.ltx")).code(), Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(dir.Path("nope.db")));

  // Page size mismatch.
  std::string small_db;
  BuildDatabase(dir.Path("small.db"), 1024, 20 << 10);
  s = ApplyFile(dir.Path("small.db"), dir.Path("inc.ltx"));
  EXPECT_EQ(s.ToString(), "InvalidArgument: ltx: page size mismatch: database " +
                              dir.Path("small.db") + " has 1024, file has 4096");

  // A file whose promised post-apply checksum is wrong: the pages are written (the file
  // itself is intact) but the result is reported.
  WriteFileOrDie(dir.Path("lie.ltx"), DiffLtx(orig, s1, 4096, 2, {}, kChecksumFlag | 12345));
  s = ApplyFile(db, dir.Path("lie.ltx"));
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_NE(s.message().find("post-apply checksum mismatch after applying"), std::string::npos)
      << s.ToString();

  // Missing LTX file.
  EXPECT_EQ(ApplyFile(db, dir.Path("missing.ltx")).code(), Code::kNotFound);
}

// Litestream writes files with the no-checksum flag (pre and post 0): there is nothing to
// check the database against, so they apply as they are.
TEST(ApplyFile, NoChecksumFilesApplyWithoutChecks) {
  TempDir dir;
  const std::string db = dir.Path("db");
  BuildDatabase(db, 4096, 100 << 10);
  const std::string s0 = ReadFileOrDie(db);
  std::string s1 = s0;
  s1[4096 * 2 + 500] ^= 0x5a;
  s1 += std::string(4096, '\0');  // and one more (zero) page
  Pages changed{{3, Page(s1.begin() + 4096 * 2, s1.begin() + 4096 * 3)},
                {uint32_t(s1.size() / 4096), Page(4096, 0)}};
  Header h = MakeHeader(4096, uint32_t(s1.size() / 4096), 7, 7, 0);
  h.flags = kFlagNoChecksum;
  for (const EncodeOptions& o : kAllFormats) {
    WriteFileOrDie(db, s0);
    WriteFileOrDie(dir.Path("nc.ltx"), EncodeOrDie(h, changed, o, 0).bytes);
    Status st = ApplyFile(db, dir.Path("nc.ltx"));
    ASSERT_TRUE(st.ok()) << st.ToString();
    EXPECT_TRUE(ReadFileOrDie(db) == s1);
  }
}

TEST(VerifyFile, ReportsThePathAndTheProblem) {
  TempDir dir;
  WriteFileOrDie(dir.Path("x.ltx"), "LTX2" + std::string(200, '\0'));
  auto r = VerifyFile(dir.Path("x.ltx"));
  EXPECT_EQ(r.status().ToString(),
            "Corruption: " + dir.Path("x.ltx") + ": ltx: bad magic (not an LTX file)");
}

TEST(FileSink, WritesSyncsAndCloses) {
  TempDir dir;
  auto sink = FileSink::Create(dir.Path("f"));
  ASSERT_TRUE(sink.ok());
  ASSERT_TRUE((*sink)->Write("abc", 3).ok());
  ASSERT_TRUE((*sink)->Sync().ok());
  ASSERT_TRUE((*sink)->Close().ok());
  EXPECT_FALSE((*sink)->Write("d", 1).ok());
  EXPECT_EQ(ReadFileOrDie(dir.Path("f")), "abc");
  EXPECT_EQ(FileSink::Create(dir.Path("no/such/dir/f")).status().code(), Code::kNotFound);
  EXPECT_EQ(OpenFileSource(dir.path()).status().code(), Code::kInvalidArgument);
}

}  // namespace
}  // namespace ltx
