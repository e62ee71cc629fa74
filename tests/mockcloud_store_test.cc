// Durability, recovery, retention and compaction of the mockcloud store, through the
// server's public API (in-process, random loopback port).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "mockcloud_test_util.h"

using namespace mctest;

namespace {

// Wall clock in ms. Compactions in these tests run "a second from now": retention 0 still
// keeps a position received in the current millisecond, and the tests must not depend on
// whether the uploads and the compaction share one.
int64_t NowMsForTest() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

httplib::Result Upload(httplib::Client& c, const std::string& db, const std::string& body) {
  return c.Post(("/db/tx?db=" + db).c_str(), body, "application/octet-stream");
}

std::string AllPgnos(uint32_t n) {
  std::string s;
  for (uint32_t p = 1; p <= n; p++) s += (p > 1 ? "," : "") + std::to_string(p);
  return s;
}

// Every page 1..upto at m's position equals the model (binary batch).
void ExpectPages(httplib::Client& c, const std::string& db, const Model& m, uint32_t upto) {
  auto r = c.Get(
      ("/db/page?db=" + db + "&pos=" + ltx::FormatPos(m.pos()) + "&pgno=" + AllPgnos(upto)).c_str(),
      {{"Accept", "application/vnd.litevfs.pages"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto frames = ParseFrames(r->body, m.page_size);
  ASSERT_EQ(frames.size(), std::min(upto, m.commit)) << "txid " << m.txid;
  for (const auto& [p, d] : frames) ASSERT_EQ(d, m.Page(p)) << "page " << p << " txid " << m.txid;
}

// The store's segment files of a database, oldest first.
std::vector<std::string> Segments(const std::string& data, const std::string& db) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(data + "/clusters/default/" + db + "/seg", ec);
       !ec && it != fs::directory_iterator(); ++it) {
    out.push_back(it->path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void WriteAt(const std::string& path, uint64_t off, const std::string& bytes) {
  int fd = open(path.c_str(), O_WRONLY);
  ASSERT_GE(fd, 0) << path;
  ASSERT_EQ(pwrite(fd, bytes.data(), bytes.size(), off_t(off)), ssize_t(bytes.size()));
  close(fd);
}

// Records of a segment as (offset of the record header, LTX length), read the way the
// format is documented in mockcloud/src/store.h: a 64-byte header, then 64-byte aligned
// records (64-byte header, big-endian length at 8), then zeros.
constexpr uint64_t kRec = 64;
std::vector<std::pair<uint64_t, uint64_t>> Records(const std::string& seg) {
  const std::string b = ReadAll(seg);
  std::vector<std::pair<uint64_t, uint64_t>> out;
  uint64_t at = 64;
  while (at + kRec <= b.size() && b.substr(at, 4) == "LVRC") {
    const uint64_t len = ltx::DecodeU64(reinterpret_cast<const uint8_t*>(&b[at + 8]));
    out.emplace_back(at, len);
    at = (at + kRec + len + kRec - 1) / kRec * kRec;
  }
  return out;
}

bool Logged(Harness& h, const std::string& needle) {
  std::lock_guard g(h.log_mu);
  for (const auto& l : h.log) {
    if (l.find(needle) != std::string::npos) return true;
  }
  return false;
}

size_t CountFiles(const std::string& dir) {
  size_t n = 0;
  std::error_code ec;
  for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); ++it) n++;
  return n;
}

// Snapshot + n transactions with a shrink in the middle; returns every state.
std::vector<Model> Build(httplib::Client& c, const std::string& db, int n) {
  std::vector<Model> states;
  Model m;
  std::map<uint32_t, std::string> w;
  for (uint32_t p = 1; p <= 8; p++) w[p] = FilledPage(4096, p);
  EXPECT_EQ(Upload(c, db, m.Tx(w, 8))->status, 200);
  states.push_back(m);
  for (int i = 0; i < n; i++) {
    uint32_t commit = i == n / 2 ? 5 : m.commit + (i % 3 == 0 ? 1 : 0);  // grow, and one shrink
    std::map<uint32_t, std::string> tx{{1, FilledPage(4096, 1000 + i)},
                                       {uint32_t(2 + i % 3), FilledPage(4096, 2000 + i)}};
    if (commit > m.commit) tx[commit] = FilledPage(4096, 3000 + i);
    auto r = Upload(c, db, m.Tx(tx, commit, i % 2 == 1));
    EXPECT_EQ(r->status, 200) << r->body;
    states.push_back(m);
  }
  return states;
}

// Starts h with compaction dropping every position but the last `keep` txids (retention 0).
void StartKeepingLast(Harness& h, uint64_t keep) {
  h.opts.retention_ms = 0;
  h.opts.retain_txids = keep;
  h.Start();
}

// Build() on database "db" of a server started for it, then stopped.
std::vector<Model> BuildAndStop(Harness& h, int n) {
  h.Start();
  std::vector<Model> states;
  {
    auto c = h.Client();
    states = Build(*c, "db", n);
  }
  h.Stop();
  return states;
}

}  // namespace

TEST(MockcloudStore, RestartRecoversExactlyTheAcknowledgedState) {
  Harness h;
  h.Start();
  std::vector<Model> states;
  std::string pos_before, hist_before, snap_before;
  {
    auto c = h.Client();
    states = Build(*c, "db", 12);
    Model other;
    ASSERT_EQ(Upload(*c, "other", other.Tx({{1, FilledPage(4096, 77)}}, 1))->status, 200);
    pos_before = c->Get("/pos")->body;
    hist_before = c->Get("/db/history?db=db")->body;
    snap_before = c->Get("/db/snapshot?db=db")->body;
  }
  h.Stop();
  // Leftovers of a crash: half-written files everywhere they can be.
  const std::string dbdir = h.data + "/clusters/default/db";
  const auto segs = Segments(h.data, "db");
  ASSERT_EQ(segs.size(), 1u);  // all of it in one segment
  // The next segment was being created when the process died.
  const std::string unborn = dbdir + "/seg/0000000000000002.seg";
  for (const std::string& p : {h.data + "/tmp/upload-dead.tmp", dbdir + "/base.tmp", unborn}) {
    int fd = open(p.c_str(), O_CREAT | O_WRONLY, 0644);
    ASSERT_GE(fd, 0) << p;
    ASSERT_EQ(write(fd, "LTX1garbage", 11), 11);
    close(fd);
  }
  h.Start();
  auto c = h.Client();
  EXPECT_EQ(c->Get("/pos")->body, pos_before);
  EXPECT_EQ(c->Get("/db/history?db=db")->body, hist_before);
  EXPECT_EQ(c->Get("/db/snapshot?db=db")->body, snap_before);
  for (const auto& s : states) ExpectPages(*c, "db", s, 14);
  EXPECT_FALSE(fs::exists(unborn));
  EXPECT_TRUE(Logged(h, "removing a segment whose creation did not finish"));
  EXPECT_FALSE(fs::exists(dbdir + "/base.tmp"));
  EXPECT_EQ(CountFiles(h.data + "/tmp"), 0u);
  // And it keeps going from there.
  Model m = states.back();
  EXPECT_EQ(Upload(*c, "db", m.Tx({{3, FilledPage(4096, 9)}}, m.commit))->status, 200);
  ExpectPages(*c, "db", m, 14);
}

TEST(MockcloudStore, CorruptStoredFileFailsStartupLoudly) {
  Harness h;
  BuildAndStop(h, 3);
  const auto segs = Segments(h.data, "db");
  ASSERT_EQ(segs.size(), 1u);
  const std::string victim = segs[0];
  const auto recs = Records(victim);
  ASSERT_EQ(recs.size(), 3u);  // the snapshot was folded into the base (its segment deleted)
  const std::string good = ReadAll(victim);
  // A damaged byte in an acknowledged transaction that others follow: not a torn write.
  WriteAt(victim, recs[1].first + kRec + 300, "\x55");
  auto s = mockcloud::Server::Start(h.opts);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find(victim), std::string::npos) << s.status().ToString();
  EXPECT_NE(s.status().message().find("offset " + std::to_string(recs[1].first)), std::string::npos)
      << s.status().ToString();
  EXPECT_NE(s.status().message().find("stored transactions follow it"), std::string::npos);
  // A damaged record header (its length) with records after it.
  WriteAt(victim, 0, good);
  WriteAt(victim, recs[1].first + 9, "\x01");
  s = mockcloud::Server::Start(h.opts);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("record at offset " + std::to_string(recs[1].first) +
                                      " will not load: its header fails its checksum (and stored "
                                      "transactions follow it"),
            std::string::npos)
      << s.status().ToString();
  // And a bad segment header.
  WriteAt(victim, 0, good);
  WriteAt(victim, 3, "X");
  s = mockcloud::Server::Start(h.opts);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("bad segment header"), std::string::npos);
}

// Files in the database's quarantine/ directory.
std::vector<std::string> Quarantined(const std::string& data, const std::string& db) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::directory_iterator(data + "/clusters/default/" + db + "/quarantine", ec);
       !ec && it != fs::directory_iterator(); ++it) {
    out.push_back(it->path());
  }
  return out;
}

TEST(MockcloudStore, ADamagedNewestRecordIsQuarantinedNotDropped) {
  // A record's body is durable before its header is written (two ordering points), so a
  // newest record that does not load is damage of a commit that may have been acknowledged:
  // a truncated file, damaged bytes inside it, or a damaged header. Its bytes are moved to
  // quarantine/ with an error naming it; the server says it now ends one txid earlier.
  for (const std::string how : {"truncated", "damaged", "header"}) {
    SCOPED_TRACE(how);
    Harness h;
    const std::vector<Model> states = BuildAndStop(h, 4);
    const auto segs = Segments(h.data, "db");
    ASSERT_EQ(segs.size(), 1u);
    const auto recs = Records(segs[0]);
    ASSERT_EQ(recs.size(), 4u);
    const auto [at, len] = recs.back();
    if (how == "truncated") {
      fs::resize_file(segs[0], at + kRec + len / 2);
    } else if (how == "damaged") {
      WriteAt(segs[0], at + kRec + len - 40, "\x55\x55");
    } else {
      WriteAt(segs[0], at + 20, "\x55");
    }
    const std::string damaged = ReadAll(segs[0]).substr(at, how == "truncated" ? kRec + len / 2 : kRec + len);
    h.Start();
    auto c = h.Client();
    const auto q = Quarantined(h.data, "db");
    ASSERT_EQ(q.size(), 1u);
    EXPECT_EQ(ReadAll(q[0]), damaged);
    EXPECT_TRUE(Logged(h, " ERROR database default/db: " + segs[0] + ": the record at offset " +
                              std::to_string(at) + " will not load"));
    EXPECT_TRUE(Logged(h, "moved its bytes to " + q[0]));
    const Model& before = states[states.size() - 2];
    EXPECT_TRUE(Logged(h, "the database now ends at " + ltx::FormatPos(before.pos())));
    EXPECT_EQ(J(c->Get("/db/history?db=db"))["history"].back()["pos"]["txid"],
              ltx::FormatTxid(before.txid));
    for (size_t i = 0; i + 1 < states.size(); i++) ExpectPages(*c, "db", states[i], 14);
    // The store goes on from there; the quarantined bytes stay, and are not quarantined again.
    Model m = before;
    ASSERT_EQ(Upload(*c, "db", m.Tx({{2, FilledPage(4096, 4242)}}, m.commit))->status, 200);
    h.Stop();
    h.Start();
    c = h.Client();
    ExpectPages(*c, "db", m, 14);
    EXPECT_EQ(Records(segs[0]).size(), 4u);
    EXPECT_EQ(Quarantined(h.data, "db").size(), 1u);
  }
}

TEST(MockcloudStore, AWriteCutShortBeforeItsHeaderIsNoRecord) {
  // A crash before the commit point leaves the body on disk and the header slot zero: the
  // log ends before it, nothing is quarantined, nothing is reported as damage.
  Harness h;
  const std::vector<Model> states = BuildAndStop(h, 3);
  const auto segs = Segments(h.data, "db");
  const auto [at, len] = Records(segs[0]).back();
  WriteAt(segs[0], at, std::string(kRec, '\0'));
  h.Start();
  auto c = h.Client();
  EXPECT_EQ(J(c->Get("/db/history?db=db"))["history"].back()["pos"]["txid"],
            ltx::FormatTxid(states[states.size() - 2].txid));
  EXPECT_TRUE(Quarantined(h.data, "db").empty());
  EXPECT_FALSE(Logged(h, " ERROR "));
}

TEST(MockcloudStore, AHeaderOverAnotherUploadsBytesIsQuarantined) {
  // A header over a complete LTX file of another upload (same txid and length), as an
  // earlier rejected upload would leave it: not a record (the file checksum ties them), and
  // since a header is written only after its body is durable, damage: quarantined.
  Harness h;
  h.Start();
  Model m;
  {
    auto c = h.Client();
    m = Build(*c, "db", 3).back();
  }
  Model other = m;
  ASSERT_EQ(h.Client()->Post("/db/tx?db=db", m.Tx({{2, FilledPage(4096, 1)}}, m.commit),
                             "application/octet-stream")->status,
            200);
  h.Stop();
  const std::string rejected = other.Tx({{2, FilledPage(4096, 2)}}, other.commit);
  const auto segs = Segments(h.data, "db");
  const auto [at, len] = Records(segs[0]).back();
  ASSERT_EQ(len, rejected.size());
  WriteAt(segs[0], at + kRec, rejected);
  h.Start();
  EXPECT_TRUE(Logged(h, "is not the one its record header names"));
  EXPECT_EQ(Quarantined(h.data, "db").size(), 1u);
  auto c = h.Client();
  EXPECT_EQ(J(c->Get("/db/history?db=db"))["history"].back()["pos"]["txid"],
            ltx::FormatTxid(m.txid - 1));
}

TEST(MockcloudStore, RejectedUploadsNeverBecomeRecords) {
  Harness h;
  h.Start();
  auto c = h.Client();
  auto states = Build(*c, "db", 2);
  Model m = states.back();
  // A big transaction with one damaged byte: decoded (and written past the end) before the
  // file checksum rejects it; then a small good one lands where it was written.
  Model big = m;
  std::map<uint32_t, std::string> many;
  for (uint32_t p = 1; p <= 64; p++) many[p] = FilledPage(4096, 7000 + p);
  std::string bad = big.Tx(many, 64);
  bad[bad.size() - 5000] ^= 1;
  auto r = Upload(*c, "db", bad);
  ASSERT_EQ(r->status, 400) << r->body;
  ASSERT_EQ(Upload(*c, "db", m.Tx({{3, FilledPage(4096, 31)}}, m.commit))->status, 200);
  // A rejected one at the end too.
  Model stale = m;
  std::string bad2 = stale.Tx(many, 64);
  bad2[bad2.size() - 5000] ^= 1;
  ASSERT_EQ(Upload(*c, "db", bad2)->status, 400);
  h.Stop();
  h.Start();
  c = h.Client();
  EXPECT_FALSE(Logged(h, "dropping the record"));
  EXPECT_EQ(J(c->Get("/db/history?db=db"))["history"].back()["pos"]["txid"],
            ltx::FormatTxid(m.txid));
  ExpectPages(*c, "db", m, 70);
  ASSERT_EQ(Upload(*c, "db", m.Tx({{4, FilledPage(4096, 32)}}, m.commit))->status, 200);
  ExpectPages(*c, "db", m, 70);
}

TEST(MockcloudStore, PerTransactionFilesFromBeforeSegmentsStillLoad) {
  Harness h;
  h.opts.retain_txids = 1;
  const std::vector<Model> states = BuildAndStop(h, 5);
  // Rewrite the stored transactions the old way: ltx/<min>-<max>.ltx, one file each.
  const std::string dbdir = h.data + "/clusters/default/db";
  const auto segs = Segments(h.data, "db");
  ASSERT_EQ(segs.size(), 1u);
  const std::string bytes = ReadAll(segs[0]);
  fs::create_directories(dbdir + "/ltx");
  uint64_t txid = states[0].txid;
  for (const auto& [at, len] : Records(segs[0])) {
    txid++;
    std::ofstream(dbdir + "/ltx/" + ltx::LtxFileName(txid, txid), std::ios::binary)
        << bytes.substr(at + kRec, len);
  }
  ASSERT_EQ(txid, states.back().txid);
  fs::remove_all(dbdir + "/seg");
  h.Start();
  auto c = h.Client();
  for (const auto& s : states) ExpectPages(*c, "db", s, 14);
  // New commits go to a segment; compaction folds the old files away.
  Model m = states.back();
  ASSERT_EQ(Upload(*c, "db", m.Tx({{2, FilledPage(4096, 77)}}, m.commit))->status, 200);
  EXPECT_EQ(Segments(h.data, "db").size(), 1u);
  ASSERT_TRUE(h.server->CompactAt(NowMsForTest() + 2 * 3600 * 1000).ok());
  EXPECT_EQ(CountFiles(dbdir + "/ltx"), 0u);
  ExpectPages(*c, "db", m, 14);
  h.Stop();
  h.Start();
  c = h.Client();
  ExpectPages(*c, "db", m, 14);
}

TEST(MockcloudStore, RetentionCompactsOldPositionsAway) {
  Harness h;
  h.opts.segment_bytes = 1;  // a segment per transaction: deleting them is visible
  StartKeepingLast(h, 3);
  auto c = h.Client();
  auto states = Build(*c, "db", 10);  // txids 1..11
  const std::string ltxdir = h.data + "/clusters/default/db/seg";
  EXPECT_EQ(CountFiles(ltxdir), 10u);  // the snapshot went into the base at once
  ASSERT_TRUE(h.server->CompactAt(NowMsForTest() + 1000).ok());
  // Kept: the last 3 txids (9, 10, 11); 9 is now the base.
  EXPECT_EQ(CountFiles(ltxdir), 2u);
  auto hist = J(c->Get("/db/history?db=db"))["history"];
  ASSERT_EQ(hist.size(), 3u);
  EXPECT_EQ(hist[0]["pos"]["txid"], ltx::FormatTxid(9));
  for (size_t i = 0; i < states.size(); i++) {
    const Model& s = states[i];
    if (s.txid >= 9) {
      ExpectPages(*c, "db", s, 14);
    } else {
      auto r = c->Get(("/db/page?db=db&pgno=1&pos=" + ltx::FormatPos(s.pos())).c_str());
      EXPECT_EQ(r->status, 409) << s.txid;
      EXPECT_EQ(J(r)["code"], "EPOSMISMATCH");
      // And sync from there says "everything".
      EXPECT_TRUE(
          J(c->Get(("/db/sync?db=db&pos=" + ltx::FormatPos(s.pos())).c_str()))["all"].get<bool>());
    }
  }
  EXPECT_EQ(J(c->Get(("/db/sync?db=db&pos=" + ltx::FormatPos(states[8].pos())).c_str()))["all"],
            false);
  // Compaction is idempotent and survives a restart.
  ASSERT_TRUE(h.server->CompactAt(NowMsForTest() + 1000).ok());
  EXPECT_EQ(CountFiles(ltxdir), 2u);
  const std::string snap = c->Get("/db/snapshot?db=db")->body;
  h.Stop();
  h.Start();
  c = h.Client();
  EXPECT_EQ(c->Get("/db/snapshot?db=db")->body, snap);
  for (size_t i = 8; i < states.size(); i++) ExpectPages(*c, "db", states[i], 14);
  // Disk stays bounded however long the history gets.
  Model m = states.back();
  for (int i = 0; i < 30; i++) {
    ASSERT_EQ(Upload(*c, "db", m.Tx({{1, FilledPage(4096, 5000 + i)}}, m.commit))->status, 200);
    if (i % 10 == 9) {
      ASSERT_TRUE(h.server->CompactAt(NowMsForTest() + 1000).ok());
    }
  }
  EXPECT_LE(CountFiles(ltxdir), 3u);
  ExpectPages(*c, "db", m, 14);
}

TEST(MockcloudStore, CompactionFoldsInPlaceAcrossShrinkAndGrowth) {
  Harness h;
  StartKeepingLast(h, 1);
  auto c = h.Client();
  auto states = Build(*c, "db", 6);
  Model m = states.back();
  // Shrink to 3 pages, then grow to 12 writing only page 12: pages 4..11 are zeros now,
  // whatever the base held there.
  ASSERT_EQ(Upload(*c, "db", m.Tx({{2, FilledPage(4096, 61)}}, 3))->status, 200);
  ASSERT_EQ(Upload(*c, "db", m.Tx({{12, FilledPage(4096, 62)}}, 12))->status, 200);
  const std::string base = h.data + "/clusters/default/db/base.db";
  struct stat before, after;
  ASSERT_EQ(stat(base.c_str(), &before), 0);
  ASSERT_TRUE(h.server->CompactAt(NowMsForTest() + 1000).ok());
  ASSERT_EQ(stat(base.c_str(), &after), 0);
  EXPECT_EQ(before.st_ino, after.st_ino) << "the base was rewritten, not updated in place";
  EXPECT_EQ(after.st_size, 13 * 4096);
  EXPECT_EQ(J(c->Get("/db/history?db=db"))["history"].size(), 1u);
  ExpectPages(*c, "db", m, 14);
  EXPECT_EQ(Segments(h.data, "db").size(), 0u);  // everything in them is in the base
  // Shrinking below the base and compacting again; then a restart reads the same.
  ASSERT_EQ(Upload(*c, "db", m.Tx({{1, FilledPage(4096, 63)}}, 2))->status, 200);
  ASSERT_TRUE(h.server->CompactAt(NowMsForTest() + 1000).ok());
  ExpectPages(*c, "db", m, 14);
  const std::string snap = c->Get("/db/snapshot?db=db")->body;
  h.Stop();
  h.Start();
  c = h.Client();
  EXPECT_EQ(c->Get("/db/snapshot?db=db")->body, snap);
  ExpectPages(*c, "db", m, 14);
}

TEST(MockcloudStore, AnInterruptedFoldIsFinishedAtStartup) {
  Harness h;
  const std::vector<Model> states = BuildAndStop(h, 6);
  const Model& target = states.back();
  const std::string dbdir = h.data + "/clusters/default/db";
  auto intent = [&](uint64_t txid, uint64_t post) {
    std::string rec(32, '\0');
    auto* b = reinterpret_cast<uint8_t*>(rec.data());
    memcpy(b, "LVMCFOLD", 8);
    ltx::EncodeU64(b + 8, txid);
    ltx::EncodeU64(b + 16, post);
    ltx::EncodeU64(b + 24, ltx::Crc64(b, 24));
    std::ofstream(dbdir + "/fold.pending", std::ios::binary) << rec;
  };
  // The crash came while the base's pages were being written: pages 1 and 3 (both changed
  // since the base) hold neither the old nor the new version.
  intent(target.txid, target.Checksum());
  WriteAt(dbdir + "/base.db", 4096, std::string(4096, 'x'));
  WriteAt(dbdir + "/base.db", 3 * 4096, std::string(4096, 'y'));
  h.Start();
  EXPECT_TRUE(Logged(h, "finishing a fold into base.db that a crash interrupted"));
  EXPECT_FALSE(fs::exists(dbdir + "/fold.pending"));
  auto c = h.Client();
  auto hist = J(c->Get("/db/history?db=db"))["history"];
  ASSERT_EQ(hist.size(), 1u);
  EXPECT_EQ(hist[0]["pos"]["txid"], ltx::FormatTxid(target.txid));
  ExpectPages(*c, "db", target, 14);
  h.Stop();
  // An intent the base already reached is just removed.
  intent(target.txid, target.Checksum());
  h.Start();
  EXPECT_FALSE(fs::exists(dbdir + "/fold.pending"));
  ExpectPages(*h.Client(), "db", target, 14);
  h.Stop();
  // A damaged one, or one naming a position that is not stored, stops the startup.
  intent(target.txid + 5, 77);
  auto s = mockcloud::Server::Start(h.opts);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("is not among the stored transactions"), std::string::npos)
      << s.status().ToString();
  WriteAt(dbdir + "/fold.pending", 9, "\x01");
  s = mockcloud::Server::Start(h.opts);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("fold.pending: damaged"), std::string::npos)
      << s.status().ToString();
}

TEST(MockcloudStore, TimeRetentionKeepsRecentPositions) {
  Harness h;
  h.opts.retention_ms = 60 * 60 * 1000;
  h.opts.retain_txids = 1;
  h.Start();
  auto c = h.Client();
  auto states = Build(*c, "db", 4);
  ASSERT_TRUE(h.server->Compact().ok());  // everything is younger than an hour
  for (const auto& s : states) ExpectPages(*c, "db", s, 10);
  // Two hours later only the last txid is kept.
  ASSERT_TRUE(h.server->CompactAt(NowMsForTest() + 2 * 3600 * 1000).ok());
  EXPECT_EQ(J(c->Get("/db/history?db=db"))["history"].size(), 1u);
  ExpectPages(*c, "db", states.back(), 10);
  EXPECT_EQ(
      c->Get(("/db/page?db=db&pgno=1&pos=" + ltx::FormatPos(states[3].pos())).c_str())->status,
      409);
}

TEST(MockcloudStore, ReadersSeeConsistentPagesWhileWritersAndCompactionRun) {
  Harness h;
  StartKeepingLast(h, 4);
  auto c = h.Client();
  Model m;
  std::map<uint32_t, std::string> w;
  for (uint32_t p = 1; p <= 6; p++) w[p] = FilledPage(4096, p);
  ASSERT_EQ(Upload(*c, "db", m.Tx(w, 6))->status, 200);
  std::mutex mu;
  std::vector<Model> states{m};
  std::atomic<bool> done{false};
  std::atomic<int> checked{0}, mismatches{0};
  std::thread reader([&] {
    auto rc = h.Client();
    while (!done) {
      Model s;
      {
        std::lock_guard l(mu);
        s = states.back();
      }
      auto r = rc->Get(("/db/page?db=db&pgno=1,2,3,4,5,6&pos=" + ltx::FormatPos(s.pos())).c_str(),
                       {{"Accept", "application/vnd.litevfs.pages"}});
      if (!r || r->status == 409) continue;  // compacted away meanwhile: allowed
      auto frames = ParseFrames(r->body, 4096);
      for (const auto& [p, d] : frames) {
        if (d != s.Page(p)) mismatches++;
      }
      checked++;
    }
  });
  for (int i = 0; i < 40; i++) {
    Model next;
    std::string body;
    {
      std::lock_guard l(mu);
      next = states.back();
    }
    body = next.Tx(
        {{1, FilledPage(4096, 100 + i)}, {uint32_t(2 + i % 5), FilledPage(4096, 200 + i)}}, 6);
    ASSERT_EQ(Upload(*c, "db", body)->status, 200);
    {
      std::lock_guard l(mu);
      states.push_back(next);
    }
    if (i % 5 == 4) {
      ASSERT_TRUE(h.server->Compact().ok());
    }
  }
  done = true;
  reader.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_GT(checked.load(), 0);
}

TEST(MockcloudStore, LostFileIsAnInternalErrorNotWrongData) {
  Harness h;
  h.Start();
  auto c = h.Client();
  auto states = Build(*c, "db", 2);
  const std::string ltxdir = h.data + "/clusters/default/db/seg";
  for (const auto& e : fs::directory_iterator(ltxdir))
    fs::remove(e.path());  // under the server's feet
  const Model& m = states.back();
  auto r = c->Get(("/db/page?db=db&pgno=1&pos=" + ltx::FormatPos(m.pos())).c_str());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(J(r)["code"], "EINTERNAL");
  r = c->Get("/db/snapshot?db=db");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  // Pages that live in the base are still served.
  r = c->Get(("/db/page?db=db&pgno=4&pos=" + ltx::FormatPos(m.pos())).c_str(),
             {{"Accept", "application/vnd.litevfs.pages"}});
  ASSERT_EQ(r->status, 200);
  auto frames = ParseFrames(r->body, 4096);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[4], m.Page(4));
}
