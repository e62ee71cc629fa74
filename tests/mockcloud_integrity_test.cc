// Issue 13 "Integrity": stored bytes that are not the acknowledged ones are never served
// (ECORRUPT naming database, page and file), --verify-on-start, a full disk is 507 ENOSPACE
// with nothing stored, and GET /db/snapshot streams from the store (no temporary copy).
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <fstream>

#include "../mockcloud/src/scrub.h"
#include "../mockcloud/src/store_io.h"
#include "ltx/checksum.h"
#include "ltx/coding.h"
#include "ltx/decoder.h"
#include "mockcloud_test_util.h"

using namespace mctest;

namespace {

httplib::Result Upload(httplib::Client& c, const std::string& body) {
  return c.Post("/db/tx?db=db", body, "application/octet-stream");
}

void FlipByte(const std::string& path, uint64_t off) {
  int fd = open(path.c_str(), O_RDWR);
  ASSERT_GE(fd, 0) << path;
  char b;
  ASSERT_EQ(pread(fd, &b, 1, off_t(off)), 1);
  b = char(b ^ 0x40);
  ASSERT_EQ(pwrite(fd, &b, 1, off_t(off)), 1);
  close(fd);
}

std::string HistoryTxid(httplib::Client& c) {
  return J(c.Get("/db/history?db=db"))["history"].back()["pos"]["txid"];
}

size_t CountFilesIn(const std::string& dir) {
  size_t n = 0;
  for (auto it = fs::directory_iterator(dir); it != fs::directory_iterator(); ++it) n++;
  return n;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The pages of a v1 snapshot LTX (whose checksums the decoder verifies).
std::map<uint32_t, std::string> DecodeSnapshot(const std::string& file) {
  std::map<uint32_t, std::string> out;
  auto dec = ltx::Decoder::Open(
      ltx::MemorySource({reinterpret_cast<const uint8_t*>(file.data()), file.size()}), {});
  EXPECT_TRUE(dec.ok()) << dec.status().ToString();
  if (!dec.ok()) return out;
  for (;;) {
    ltx::PageFrame fr;
    auto more = (*dec)->Next(&fr);
    EXPECT_TRUE(more.ok()) << more.status().ToString();
    if (!more.ok() || !*more) break;
    out[fr.pgno] = std::string(fr.data.begin(), fr.data.end());
  }
  EXPECT_TRUE((*dec)->Finish().ok());
  return out;
}

std::string DbDir(const Harness& h) { return h.data + "/clusters/default/db"; }

// A snapshot of 8 pages (folded into base.db at once) and one transaction writing page 2.
Model Build(Harness& h) {
  auto c = h.Client();
  Model m;
  std::map<uint32_t, std::string> w;
  for (uint32_t p = 1; p <= 8; p++) w[p] = FilledPage(4096, p);
  EXPECT_EQ(Upload(*c, m.Tx(w, 8))->status, 200);
  EXPECT_EQ(Upload(*c, m.Tx({{2, FilledPage(4096, 99)}}, 8))->status, 200);
  return m;
}

httplib::Result GetPage(httplib::Client& c, const Model& m, uint32_t pgno) {
  return c.Get(("/db/page?db=db&pgno=" + std::to_string(pgno) + "&pos=" + ltx::FormatPos(m.pos()))
                   .c_str(),
               {{"Accept", "application/vnd.litevfs.pages"}});
}

TEST(MockcloudIntegrity, AChangedBaseDbPageIsNeverServed) {
  Harness h;
  h.Start();
  const Model m = Build(h);
  h.Stop();
  FlipByte(DbDir(h) + "/base.db", 5 * 4096 + 100);  // page 5, while the server is down
  h.Start();
  auto c = h.Client();
  auto r = GetPage(*c, m, 5);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(J(r)["code"], "ECORRUPT");
  const std::string msg = J(r)["error"];
  EXPECT_NE(msg.find("database default/db: page 5 in " + DbDir(h) + "/base.db at offset 20480"),
            std::string::npos)
      << msg;
  // The other pages are served; the snapshot (which holds page 5) is refused, not sent wrong.
  r = GetPage(*c, m, 4);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(ParseFrames(r->body, 4096)[4], m.Page(4));
  r = c->Get("/db/snapshot?db=db");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(J(r)["code"], "ECORRUPT");
}

TEST(MockcloudIntegrity, VerifyOnStartRefusesADamagedBase) {
  Harness h;
  h.Start();
  Build(h);
  h.Stop();
  h.opts.verify_on_start = true;
  auto s = mockcloud::Server::Start(h.opts);
  ASSERT_TRUE(s.ok()) << s.status().ToString();  // undamaged: starts
  (*s)->Stop();
  FlipByte(DbDir(h) + "/base.db", 7 * 4096 + 1);
  s = mockcloud::Server::Start(h.opts);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("page 7 in " + DbDir(h) + "/base.db at offset 28672"),
            std::string::npos)
      << s.status().ToString();
  EXPECT_NE(s.status().message().find("scrub"), std::string::npos);
}

TEST(MockcloudIntegrity, ASegmentPageChangedUnderTheServerIsNeverServed) {
  Harness h;
  h.Start();
  const Model m = Build(h);
  // Page 2 of the transaction lives in the newest segment: change it behind the server.
  std::string seg;
  for (const auto& e : fs::directory_iterator(DbDir(h) + "/seg")) seg = e.path();
  std::ifstream f(seg, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(f)), {});
  const std::string page = m.Page(2);
  const size_t at = bytes.find(page);
  ASSERT_NE(at, std::string::npos);
  FlipByte(seg, at + 10);
  auto c = h.Client();
  auto r = GetPage(*c, m, 2);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(J(r)["code"], "ECORRUPT");
  EXPECT_NE(std::string(J(r)["error"]).find("page 2 in " + seg), std::string::npos) << r->body;
}

// Fails every write (pwrite, fdatasync, ftruncate) with ENOSPC while armed; with only_sync,
// only the next `syncs_to_fail` fdatasyncs fail (the commit flush, then the undo's flush).
class FullDisk : public mockcloud::StoreIo {
 public:
  std::atomic<bool> full{false};
  std::atomic<bool> only_sync{false};
  std::atomic<int> syncs_to_fail{1};
  ssize_t Pwrite(int fd, const void* b, size_t n, off_t off) override {
    if (full && !only_sync) return Fail();
    return StoreIo::Pwrite(fd, b, n, off);
  }
  int Fdatasync(int fd) override {
    if (full && (!only_sync || syncs_to_fail-- > 0)) return int(Fail());
    return StoreIo::Fdatasync(fd);
  }
  int Ftruncate(int fd, off_t n) override {
    return full && !only_sync ? int(Fail()) : StoreIo::Ftruncate(fd, n);
  }

 private:
  static ssize_t Fail() {
    errno = ENOSPC;
    return -1;
  }
};

// Starts `h` on a FullDisk (not yet full) and returns the disk.
std::shared_ptr<FullDisk> StartOnFullDisk(Harness& h) {
  auto disk = std::make_shared<FullDisk>();
  h.opts.store_io = disk;
  h.Start();
  return disk;
}

TEST(MockcloudIntegrity, AFullDiskIs507AndNothingIsStored) {
  Harness h;
  auto disk = StartOnFullDisk(h);
  Model m = Build(h);
  auto c = h.Client();
  for (bool only_sync : {false, true}) {
    SCOPED_TRACE(only_sync ? "fdatasync fails" : "pwrite fails");
    const Model before = m;
    disk->only_sync = only_sync;
    disk->syncs_to_fail = 1;  // the commit flush fails; the undo's flush lands
    disk->full = true;
    const std::string tx = m.Tx({{3, FilledPage(4096, 7)}}, 8);
    auto r = Upload(*c, tx);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 507) << r->body;
    EXPECT_EQ(J(r)["code"], "ENOSPACE");
    EXPECT_NE(std::string(J(r)["error"]).find("nothing was stored"), std::string::npos);
    EXPECT_EQ(HistoryTxid(*c), ltx::FormatTxid(before.txid));
    disk->full = false;
    // Space again: the same upload lands, and survives a restart.
    ASSERT_EQ(Upload(*c, tx)->status, 200);
  }
  h.Stop();
  h.Start();
  c = h.Client();
  auto r = GetPage(*c, m, 3);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(ParseFrames(r->body, 4096)[3], m.Page(3));
}

// The commit flush fails and so does the flush of its undo: the server cannot know whether
// the header reached the disk, so it must not say "nothing was stored" (the client settles).
TEST(MockcloudIntegrity, AFailedCommitFlushWhoseUndoFailsIsReportedAsUnknown) {
  Harness h;
  auto disk = StartOnFullDisk(h);
  Model m = Build(h);
  auto c = h.Client();
  disk->only_sync = true;
  disk->syncs_to_fail = 2;
  disk->full = true;
  auto r = Upload(*c, m.Tx({{3, FilledPage(4096, 9)}}, 8));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500) << r->body;
  EXPECT_NE(r->body.find("may or may not be stored"), std::string::npos) << r->body;
  EXPECT_EQ(r->body.find("nothing was stored"), std::string::npos) << r->body;
  h.Stop();
}

TEST(MockcloudIntegrity, SnapshotStreamsWithoutATemporaryCopyAndHoldsItsPosition) {
  Harness h;
  h.opts.retention_ms = 0;
  h.opts.retain_txids = 1;
  h.Start();
  Model m;
  std::map<uint32_t, std::string> w;
  for (uint32_t p = 1; p <= 600; p++) w[p] = FilledPage(4096, p);  // > one 1 MiB batch
  auto c = h.Client();
  ASSERT_EQ(Upload(*c, m.Tx(w, 600))->status, 200);
  ASSERT_EQ(Upload(*c, m.Tx({{500, FilledPage(4096, 5000)}}, 600))->status, 200);
  const Model at = m;
  // A slow reader: take the first bytes, then let writes and compaction run.
  httplib::Client slow("127.0.0.1", h.server->port());
  slow.set_default_headers({{"Authorization", "secret"}});
  std::string body;
  bool changed = false;
  auto r = slow.Get("/db/snapshot?db=db", [&](const char* d, size_t n) {
    body.append(d, n);
    if (!changed && body.size() > (1 << 20)) {
      changed = true;
      EXPECT_EQ(CountFilesIn(h.data + "/tmp"), 0u);  // nothing spooled
      Model mm = m;
      for (int i = 0; i < 3; i++) {
        EXPECT_EQ(Upload(*c, mm.Tx({{500, FilledPage(4096, 6000 + i)}}, 600))->status, 200);
      }
      EXPECT_TRUE(h.server->CompactAt(NowMs() + 1000).ok());
    }
    return true;
  });
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_TRUE(changed);
  EXPECT_EQ(r->get_header_value("Litevfs-Pos"), ltx::FormatPos(at.pos()));
  const auto pages = DecodeSnapshot(body);
  ASSERT_EQ(pages.size(), 600u);
  for (uint32_t p = 1; p <= 600; p++) ASSERT_EQ(pages.at(p), at.Page(p)) << p;
}

TEST(MockcloudIntegrity, ScrubNamesDamageAndChangesNothing) {
  Harness h;
  h.Start();
  Build(h);
  h.Stop();
  std::vector<std::string> lines;
  auto out = [&](const std::string& l) { lines.push_back(l); };
  auto r = mockcloud::Scrub(h.data, out);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->databases, 1u);
  EXPECT_EQ(r->damaged, 0u);
  // Damage in base.db and in the newest segment record: both named; the files untouched.
  FlipByte(DbDir(h) + "/base.db", 3 * 4096 + 7);
  std::string seg;
  for (const auto& e : fs::directory_iterator(DbDir(h) + "/seg")) seg = e.path();
  FlipByte(seg, 64 + 64 + 200);
  std::ifstream f(seg, std::ios::binary);
  const std::string before((std::istreambuf_iterator<char>(f)), {});
  lines.clear();
  r = mockcloud::Scrub(h.data, out);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->damaged, 2u);
  std::string all;
  for (const auto& l : lines) all += l + "\n";
  EXPECT_NE(all.find("damage: database default/db: page 3 in " + DbDir(h) + "/base.db at offset 12288"),
            std::string::npos)
      << all;
  EXPECT_NE(all.find("damage: " + seg + ": the record at offset 64 will not load"), std::string::npos)
      << all;
  std::ifstream g(seg, std::ios::binary);
  EXPECT_EQ(std::string((std::istreambuf_iterator<char>(g)), {}), before);
  EXPECT_FALSE(fs::exists(DbDir(h) + "/quarantine"));
  // Not a data directory: a clear error.
  EXPECT_FALSE(mockcloud::Scrub(h.data + "/nope", out).ok());
}

TEST(MockcloudIntegrity, SegmentsFromBeforeTwoOrderingPointsLoadAndAreNotAppendedTo) {
  Harness h;
  h.Start();
  Model m = Build(h);
  h.Stop();
  std::string seg;
  for (const auto& e : fs::directory_iterator(DbDir(h) + "/seg")) seg = e.path();
  // Make it a legacy (one fdatasync per record) segment: magic LVMCSEG1, header crc redone.
  int fd = open(seg.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  uint8_t hdr[64];
  ASSERT_EQ(pread(fd, hdr, sizeof hdr, 0), 64);
  hdr[7] = '1';
  ltx::EncodeU64(&hdr[56], ltx::Crc64(hdr, 56));
  ASSERT_EQ(pwrite(fd, hdr, sizeof hdr, 0), 64);
  close(fd);
  h.Start();
  auto c = h.Client();
  auto r = GetPage(*c, m, 2);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(ParseFrames(r->body, 4096)[2], m.Page(2));
  ASSERT_EQ(Upload(*c, m.Tx({{3, FilledPage(4096, 31)}}, 8))->status, 200);
  EXPECT_EQ(CountFilesIn(DbDir(h) + "/seg"), 2u);  // the next record went to a new segment
  h.Stop();
  h.Start();
  c = h.Client();
  EXPECT_EQ(HistoryTxid(*c), ltx::FormatTxid(m.txid));
}

}  // namespace

// Page batches are read a run at a time (one preadv for pages stored back to back): every
// page of a batch that mixes base.db runs and segment frames is the model's, and a damaged
// page inside a run is named exactly (page, file, offset), not its run's first page.
TEST(MockcloudIntegrity, EveryPageOfARunIsCheckedAndNamed) {
  Harness h;
  h.Start();
  const Model m = Build(h);
  auto c = h.Client();
  auto r = c->Get(("/db/page?db=db&pgno=1,2,3,4,5,6,7,8&pos=" + ltx::FormatPos(m.pos())).c_str(),
             {{"Accept", "application/vnd.litevfs.pages"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  auto frames = ParseFrames(r->body, 4096);
  ASSERT_EQ(frames.size(), 8u);
  for (uint32_t p = 1; p <= 8; p++) EXPECT_EQ(frames[p], m.Page(p)) << "page " << p;
  h.Stop();
  FlipByte(DbDir(h) + "/base.db", 6 * 4096 + 7);  // page 6: inside the run 3..8
  h.Start();
  c = h.Client();
  r = c->Get(("/db/page?db=db&pgno=1,2,3,4,5,6,7,8&pos=" + ltx::FormatPos(m.pos())).c_str(),
             {{"Accept", "application/vnd.litevfs.pages"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  const std::string msg = J(r)["error"];
  EXPECT_NE(msg.find("page 6 in " + DbDir(h) + "/base.db at offset 24576"), std::string::npos) << msg;
}
