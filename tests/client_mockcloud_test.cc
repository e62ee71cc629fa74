// The client against the real server (mockcloud, in-process on a random loopback port):
// the two sides share no code, only PROTOCOL.md, so this is where a disagreement between
// them shows. Covers the write path (snapshot + incremental uploads, leases), the read path
// (binary/zstd and JSON pages at old and new positions, interior, snapshot, history),
// sync and long-poll sync, and the error mapping of real server answers.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "litevfs/client.h"
#include "ltx/file.h"
#include "mockcloud_test_util.h"

namespace litevfs {
namespace {

using ltx::Code;
using mctest::FilledPage;
using mctest::Harness;
using mctest::Model;

class ClientMockcloudTest : public ::testing::Test {
 protected:
  void SetUp() override { h_.Start(); }

  ClientConfig Config() {
    ClientConfig c;
    c.host = "127.0.0.1:" + std::to_string(h_.server->port());
    c.token = "secret";
    c.max_retries = 2;
    c.retry_backoff_ms = 1;
    c.request_timeout_ms = 10000;
    return c;
  }
  std::unique_ptr<Client> NewClient(ClientConfig c) {
    auto r = Client::Create(c);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return std::move(r).value();
  }
  std::unique_ptr<Client> NewClient() { return NewClient(Config()); }

  // Creates "db" with two transactions; returns the model and keeps the state after tx 1.
  void MakeDb(Client* c, Model* m, Model* after1) {
    std::map<uint32_t, std::string> w;
    for (uint32_t p = 1; p <= 6; p++) w[p] = FilledPage(m->page_size, p);
    auto p1 = c->UploadTx("db", m->Tx(w, 6), "");
    ASSERT_TRUE(p1.ok()) << p1.status().ToString();
    EXPECT_EQ(*p1, m->pos());
    *after1 = *m;
    auto p2 = c->UploadTx("db", m->Tx({{2, FilledPage(m->page_size, 102)},
                                       {7, FilledPage(m->page_size, 107)}},
                                      7, /*compress=*/true),
                          "");
    ASSERT_TRUE(p2.ok()) << p2.status().ToString();
    EXPECT_EQ(*p2, m->pos());
  }

  Harness h_;
};

TEST_F(ClientMockcloudTest, WriteThenReadEverywhere) {
  auto c = NewClient();
  Model m, m1;
  ASSERT_NO_FATAL_FAILURE(MakeDb(c.get(), &m, &m1));

  auto info = c->GetInfo();
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_TRUE(info->Has("pages-binary"));

  auto positions = c->GetPositions();
  ASSERT_TRUE(positions.ok()) << positions.status().ToString();
  ASSERT_EQ(positions->count("db"), 1u);
  EXPECT_EQ(positions->at("db"), m.pos());

  // Sync from tx 1: pages 2 and 7 changed (page 1 too, per PROTOCOL.md, if the server
  // counts it); from zero: all.
  auto s = c->Sync("db", m1.pos());
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->pos, m.pos());
  EXPECT_FALSE(s->all);
  EXPECT_TRUE(std::find(s->pgnos.begin(), s->pgnos.end(), 2u) != s->pgnos.end());
  EXPECT_TRUE(std::find(s->pgnos.begin(), s->pgnos.end(), 7u) != s->pgnos.end());
  EXPECT_EQ(s->commit, 7u);
  s = c->Sync("db", Pos{});
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->all);

  // Pages at both positions, binary path; page 8 is past commit and omitted.
  for (const Model* at : {&m1, &m}) {
    auto b = c->GetPages("db", at->pos(), {1, 2, 3, 7, 8});
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    EXPECT_EQ(b->page_size, 4096u);
    std::vector<uint32_t> expect_pgnos = at->commit >= 7 ? std::vector<uint32_t>{1, 2, 3, 7}
                                                         : std::vector<uint32_t>{1, 2, 3};
    ASSERT_EQ(b->pages.size(), expect_pgnos.size());
    for (size_t i = 0; i < b->pages.size(); i++) {
      EXPECT_EQ(b->pages[i].first, expect_pgnos[i]);
      EXPECT_EQ(b->pages[i].second, at->Page(expect_pgnos[i])) << "pgno " << expect_pgnos[i];
    }
  }

  // The plain JSON path gives the same bytes.
  ClientConfig plain = Config();
  plain.use_extensions = false;
  auto pc = NewClient(plain);
  auto b = pc->GetPages("db", m1.pos(), {2, 5});
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_EQ(b->pages.size(), 2u);
  EXPECT_EQ(b->pages[0].second, m1.Page(2));
  EXPECT_EQ(b->pages[1].second, m1.Page(5));
  EXPECT_EQ(pc->stats().requests.load(), 1u);  // no /info with extensions off

  // Snapshot: a valid LTX of the current state.
  std::string snap;
  ltx::StringSink sink(&snap);
  auto n = c->GetSnapshot("db", &sink);
  ASSERT_TRUE(n.ok()) << n.status().ToString();
  EXPECT_EQ(*n, snap.size());
  auto vi = ltx::VerifySource(
      ltx::MemorySource({reinterpret_cast<const uint8_t*>(snap.data()), snap.size()}));
  ASSERT_TRUE(vi.ok()) << vi.status().ToString();
  EXPECT_EQ(vi->header.max_txid, m.txid);
  EXPECT_EQ(vi->trailer.post_apply_checksum, m.Checksum());

  // History (extension): both positions, oldest first.
  auto hist = c->GetHistory("db");
  ASSERT_TRUE(hist.ok()) << hist.status().ToString();
  ASSERT_GE(hist->size(), 2u);
  EXPECT_EQ(hist->back().pos, m.pos());
  EXPECT_EQ(hist->back().commit, 7u);
}

TEST_F(ClientMockcloudTest, ServerErrorsMapToCodes) {
  auto c = NewClient();
  Model m, m1;
  ASSERT_NO_FATAL_FAILURE(MakeDb(c.get(), &m, &m1));

  // Upload from a stale position: EPOSMISMATCH, not retried.
  Model stale = m1;
  auto r = c->UploadTx("db", stale.Tx({{3, FilledPage(4096, 999)}}, 6), "");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kConflict);
  EXPECT_EQ(r.status().api_code(), "EPOSMISMATCH");
  EXPECT_NE(r.status().message().find("POST /db/tx db=db"), std::string::npos)
      << r.status().message();

  // Pages at an unknown position: EPOSMISMATCH (the VFS's retryable "position gone").
  auto p = c->GetPages("db", Pos{99, 0x8000000000000099ULL}, {1});
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), Code::kConflict);
  EXPECT_EQ(p.status().api_code(), "EPOSMISMATCH");
  EXPECT_EQ(p.status().message().rfind("litevfs: server: EPOSMISMATCH: ", 0), 0u)
      << p.status().message();

  // No such database.
  auto s = c->GetPages("nope", m.pos(), {1});
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.status().code() == Code::kNotFound || s.status().code() == Code::kConflict)
      << s.status().ToString();

  // Wrong token.
  ClientConfig bad = Config();
  bad.token = "wrong";
  auto bc = NewClient(bad);
  auto pos = bc->GetPositions();
  ASSERT_FALSE(pos.ok());
  EXPECT_EQ(pos.status().code(), Code::kPermissionDenied);
  EXPECT_EQ(pos.status().api_code(), "EUNAUTHORIZED");
  EXPECT_NE(pos.status().message().find("LITEFS_CLOUD_TOKEN"), std::string::npos);
  EXPECT_EQ(bc->stats().retries.load(), 0u);
}

TEST_F(ClientMockcloudTest, LeaseGuardsWrites) {
  auto c = NewClient();
  Model m;
  std::map<uint32_t, std::string> w;
  for (uint32_t p = 1; p <= 3; p++) w[p] = FilledPage(4096, p);

  auto lease = c->AcquireLease("db", 5000);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_EQ(lease->id.size(), 32u);
  // Another holder cannot take it.
  auto other = NewClient();
  auto l2 = other->AcquireLease("db", 5000);
  ASSERT_FALSE(l2.ok());
  EXPECT_EQ(l2.status().code(), Code::kConflict);
  EXPECT_EQ(l2.status().api_code(), "ELEASE");

  // Writing without the lease id fails; with it, succeeds.
  std::string tx = m.Tx(w, 3);
  auto up = c->UploadTx("db", tx, "");
  ASSERT_FALSE(up.ok());
  EXPECT_EQ(up.status().code(), Code::kConflict);
  up = c->UploadTx("db", tx, lease->id);
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  EXPECT_EQ(*up, m.pos());

  auto refreshed = c->AcquireLease("db", 5000, lease->id);
  ASSERT_TRUE(refreshed.ok()) << refreshed.status().ToString();
  EXPECT_EQ(refreshed->id, lease->id);
  ASSERT_TRUE(c->ReleaseLease("db", lease->id).ok());
  auto again = c->ReleaseLease("db", lease->id);
  EXPECT_EQ(again.code(), Code::kConflict);
}

TEST_F(ClientMockcloudTest, LongPollSyncWakesOnCommit) {
  auto c = NewClient();
  Model m, m1;
  ASSERT_NO_FATAL_FAILURE(MakeDb(c.get(), &m, &m1));
  auto info = c->GetInfo();
  ASSERT_TRUE(info.ok());
  if (!info->Has("sync-wait")) GTEST_SKIP() << "server does not announce sync-wait";

  const Pos before = m.pos();
  std::string tx = m.Tx({{4, FilledPage(4096, 444)}}, 7);
  auto writer = NewClient();
  std::thread t([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto r = writer->UploadTx("db", tx, "");
    EXPECT_TRUE(r.ok()) << r.status().ToString();
  });
  auto t0 = std::chrono::steady_clock::now();
  auto s = c->Sync("db", before, 10000);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                std::chrono::steady_clock::now() - t0)
                .count();
  t.join();
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->pos, m.pos());
  EXPECT_EQ(s->pgnos.size() >= 1, true);
  EXPECT_GE(ms, 250);
  EXPECT_LT(ms, 5000);
}

TEST_F(ClientMockcloudTest, InteriorPagesOfARealDatabase) {
  auto c = NewClient();
  auto info = c->GetInfo();
  ASSERT_TRUE(info.ok());
  if (!info->Has("interior")) GTEST_SKIP() << "server does not announce interior";
  std::string path = h_.dir.path() + "/real.db";
  ASSERT_NO_FATAL_FAILURE(mctest::MakeSqliteDb(path, 3000));
  std::string snap;
  ltx::StringSink sink(&snap);
  ltx::EncodeDbOptions eo;
  eo.txid = 1;
  auto fi = ltx::EncodeDatabaseFile(path, &sink, eo);
  ASSERT_TRUE(fi.ok()) << fi.status().ToString();
  auto up = c->UploadTx("real", snap, "");
  ASSERT_TRUE(up.ok()) << up.status().ToString();

  auto b = c->GetInterior("real", Pos{});
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->pos, *up);
  EXPECT_EQ(b->commit, fi->header.commit);
  ASSERT_GE(b->pages.size(), 2u);
  EXPECT_EQ(b->pages[0].first, 1u);
  for (size_t i = 1; i < b->pages.size(); i++) {
    uint8_t type = static_cast<uint8_t>(b->pages[i].second[0]);
    EXPECT_TRUE(type == 0x02 || type == 0x05) << "page " << b->pages[i].first;
  }
  // Every interior page equals the same page fetched on its own.
  auto one = c->GetPages("real", *up, {b->pages.back().first});
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->pages[0].second, b->pages.back().second);
}

TEST_F(ClientMockcloudTest, InjectedErrorsAreRetriedThenReported) {
  h_.Stop();
  h_.opts.faults = "error=1,seed=1,routes=/db/page";
  h_.Start();
  auto c = NewClient();
  Model m, m1;
  ASSERT_NO_FATAL_FAILURE(MakeDb(c.get(), &m, &m1));
  auto r = c->GetPages("db", m.pos(), {1});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  EXPECT_EQ(r.status().api_code(), "EUNAVAILABLE");
  EXPECT_EQ(c->stats().retries.load(), 2u);
}

TEST_F(ClientMockcloudTest, DroppedAndTruncatedResponsesNeverGiveWrongData) {
  h_.Stop();
  h_.opts.faults = "drop=0.3,truncate=0.3,seed=7,routes=/db/page";
  h_.Start();
  auto c = NewClient();
  Model m, m1;
  ASSERT_NO_FATAL_FAILURE(MakeDb(c.get(), &m, &m1));
  int ok = 0;
  for (int i = 0; i < 30; i++) {
    auto r = c->GetPages("db", m.pos(), {1, 2, 7});
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), Code::kUnavailable) << r.status().ToString();
      continue;
    }
    ok++;
    ASSERT_EQ(r->pages.size(), 3u);
    EXPECT_EQ(r->pages[1].second, m.Page(2));
    EXPECT_EQ(r->pages[2].second, m.Page(7));
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(c->stats().retries.load(), 0u);
}

TEST_F(ClientMockcloudTest, SequentialPageFetchLatency) {
  auto c = NewClient();
  Model m, m1;
  ASSERT_NO_FATAL_FAILURE(MakeDb(c.get(), &m, &m1));
  ASSERT_TRUE(c->GetPages("db", m.pos(), {1}).ok());  // warm: /info + connection
  constexpr int kN = 50;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kN; i++) {
    auto r = c->GetPages("db", m.pos(), {uint32_t(1 + i % 7)});
    ASSERT_TRUE(r.ok()) << r.status().ToString();
  }
  double us = double(std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - t0)
                         .count()) /
              kN;
  // Informational: on loopback a one-page fetch should be well under a millisecond; ~40 ms
  // means Nagle + delayed ACK (a server that does not set TCP_NODELAY).
  std::printf("client->mockcloud one-page GetPages: %.0f us/request\n", us);
  RecordProperty("one_page_fetch_us", int(us));
}

}  // namespace
}  // namespace litevfs
