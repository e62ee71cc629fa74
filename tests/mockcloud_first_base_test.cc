// A new database's first upload (a snapshot) goes straight into base.db (issue 19,
// store_first_base.cc): the store writes the database once (no segment record, no fold),
// acknowledges only once it is durable, and a rejected or failed upload leaves nothing.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "../mockcloud/src/store_io.h"
#include "mockcloud_test_util.h"

using namespace mctest;

namespace {

constexpr uint32_t kPages = 300;

// Counts the bytes the store pwrites; fails fsync with EIO while armed.
class CountingIo : public mockcloud::StoreIo {
 public:
  std::atomic<uint64_t> written{0};
  std::atomic<bool> fail_fsync{false};
  ssize_t Pwrite(int fd, const void* b, size_t n, off_t off) override {
    const ssize_t r = StoreIo::Pwrite(fd, b, n, off);
    if (r > 0) written += uint64_t(r);
    return r;
  }
  int Fsync(int fd) override {
    if (fail_fsync) {
      errno = EIO;
      return -1;
    }
    return StoreIo::Fsync(fd);
  }
};

httplib::Result Upload(httplib::Client& c, const std::string& body) {
  return c.Post("/db/tx?db=db", body, "application/octet-stream");
}

// A snapshot of kPages distinct pages (the model moves to txid 1).
std::string Snapshot(Model* m) {
  std::map<uint32_t, std::string> w;
  for (uint32_t p = 1; p <= kPages; p++) w[p] = FilledPage(m->page_size, p);
  return m->Tx(w, kPages);
}

void ExpectServes(httplib::Client& c, const Model& m) {
  std::string pgnos;
  for (uint32_t p = 1; p <= m.commit; p++) pgnos += (p > 1 ? "," : "") + std::to_string(p);
  auto r = c.Get(("/db/page?db=db&pos=" + ltx::FormatPos(m.pos()) + "&pgno=" + pgnos).c_str(),
                 {{"Accept", "application/vnd.litevfs.pages"}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto frames = ParseFrames(r->body, m.page_size);
  ASSERT_EQ(frames.size(), m.commit);
  for (const auto& [p, d] : frames) ASSERT_EQ(d, m.Page(p)) << "page " << p;
}

// Nothing of database "db" is stored or listed.
void ExpectAbsent(Harness& h, httplib::Client& c) {
  auto r = c.Get("/pos");
  ASSERT_TRUE(r);
  EXPECT_FALSE(J(r).contains("db")) << r->body;
  const std::string dir = h.data + "/clusters/default/db";
  EXPECT_FALSE(fs::exists(dir + "/base.db"));
  EXPECT_FALSE(fs::exists(dir + "/base.tmp"));
  EXPECT_FALSE(fs::exists(dir + "/seg"));
}

// A mockcloud whose store I/O is counted (and can fail fsyncs), a client, and the first
// snapshot of a fresh model.
class MockcloudFirstBase : public ::testing::Test {
 protected:
  void SetUp() override {
    h.opts.store_io = io;
    h.Start();
    c = h.Client();
    ltx = Snapshot(&m);
  }
  Harness h;
  std::shared_ptr<CountingIo> io = std::make_shared<CountingIo>();
  std::unique_ptr<httplib::Client> c;
  Model m;
  std::string ltx;
};

TEST_F(MockcloudFirstBase, TheFirstSnapshotIsWrittenOnceIntoTheBase) {
  auto r = Upload(*c, ltx);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(PosOf(J(r)["pos"]), m.pos());
  // The pages once, plus their checksums (8 bytes a page) and headers: a segment record
  // and a fold wrote them twice.
  const uint64_t image = uint64_t(kPages + 1) * m.page_size;
  EXPECT_LE(io->written.load(), image + kPages * 8 + 2 * m.page_size);
  EXPECT_FALSE(fs::exists(h.data + "/clusters/default/db/seg"));
  ExpectServes(*c, m);

  // It is a normal base: the next transaction goes on top, and both survive a restart.
  auto r2 = Upload(*c, m.Tx({{7, FilledPage(m.page_size, 1007)}, {kPages + 1, FilledPage(m.page_size, 5)}},
                            kPages + 1));
  ASSERT_TRUE(r2);
  ASSERT_EQ(r2->status, 200) << r2->body;
  h.Stop();
  h.Start();
  c = h.Client();
  ExpectServes(*c, m);
  auto snap = c->Get("/db/snapshot?db=db");
  ASSERT_TRUE(snap);
  EXPECT_EQ(snap->status, 200);
}

TEST_F(MockcloudFirstBase, ARejectedOrFailedFirstSnapshotLeavesNothing) {

  // Cut short (a killed upload): the decoder runs out of pages.
  auto r = Upload(*c, ltx.substr(0, ltx.size() / 2));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  ExpectAbsent(h, *c);

  // A page changed after encoding: the checksums do not match.
  std::string bad = ltx;
  bad[bad.size() / 2] ^= 0x40;
  r = Upload(*c, bad);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  ExpectAbsent(h, *c);

  // base.tmp cannot be made durable: not acknowledged, nothing stored.
  io->fail_fsync = true;
  r = Upload(*c, ltx);
  ASSERT_TRUE(r);
  EXPECT_GE(r->status, 500) << r->body;
  io->fail_fsync = false;
  ExpectAbsent(h, *c);

  // And after all that, the same upload succeeds.
  r = Upload(*c, ltx);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  ExpectServes(*c, m);
}

// A client that dies mid-body: the headers promise `ltx`, half of it arrives, the socket
// closes. The server applies large bodies as they arrive (upload_pipe.h), so this cuts the
// store's Apply off half-way.
void SendHalfAndHangUp(int port, const std::string& ltx) {
  const int s = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(s, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(uint16_t(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  const std::string head = "POST /db/tx?db=db HTTP/1.1\r\nHost: x\r\nAuthorization: secret\r\n"
                           "Content-Type: application/octet-stream\r\nContent-Length: " +
                           std::to_string(ltx.size()) + "\r\n\r\n";
  const std::string msg = head + ltx.substr(0, ltx.size() / 2);
  ASSERT_EQ(send(s, msg.data(), msg.size(), MSG_NOSIGNAL), ssize_t(msg.size()));
  close(s);
}

TEST(MockcloudFirstBaseStreamed, AnUploadCutOffMidBodyLeavesNothing) {
  Harness h;
  h.Start();
  auto c = h.Client();
  Model m;
  std::map<uint32_t, std::string> w;
  for (uint32_t p = 1; p <= 1000; p++) w[p] = FilledPage(m.page_size, p);  // 4 MiB: streamed
  const std::string ltx = m.Tx(w, 1000);
  SendHalfAndHangUp(h.server->port(), ltx);
  // The server notices the closed socket and drops what it had (bounded wait).
  const std::string tmp = h.data + "/clusters/default/db/base.tmp";
  // base.tmp may not exist yet when the hang-up is sent: wait for it to come and go (or
  // for the bound, if the server drops the body before creating it).
  bool seen = false;
  for (int i = 0; i < 200; i++) {
    const bool exists = fs::exists(tmp);
    seen = seen || exists;
    if (seen && !exists) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  ExpectAbsent(h, *c);
  auto r = Upload(*c, ltx);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  ExpectServes(*c, m);
  // On top of it, a large transaction cut off the same way leaves the position alone.
  const Model before = m;
  for (auto& [p, d] : w) d = FilledPage(m.page_size, p + 5000);
  const std::string tx = m.Tx(w, 1000);
  SendHalfAndHangUp(h.server->port(), tx);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto pos = c->Get("/pos");
  ASSERT_TRUE(pos);
  EXPECT_EQ(PosOf(J(pos)["db"]), before.pos()) << pos->body;
  r = Upload(*c, tx);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  ExpectServes(*c, m);
}

}  // namespace
