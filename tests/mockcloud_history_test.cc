// In-process tests of the time-travel and lifecycle routes (issue 18; mockcloud/PROTOCOL.md):
// /db/at, /db/diff, /db/restore, /db/branch, DELETE /db, /db/rename.
#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "ltx/coding.h"
#include "mockcloud_test_util.h"

using namespace mctest;

namespace {

std::string ErrText(const httplib::Result& r) {
  json j = J(r);
  return j.is_object() && j.contains("error") ? j["error"].get<std::string>() : r->body;
}

httplib::Result Upload(httplib::Client& c, const std::string& db, const std::string& body,
                       const std::string& lease = "") {
  httplib::Headers hd;
  if (!lease.empty()) hd.emplace("Lfsc-Lease-Id", lease);
  return c.Post(("/db/tx?db=" + db).c_str(), hd, body, "application/octet-stream");
}

// Pages 1..n of `db` at `pos` (binary batch).
std::map<uint32_t, std::string> PagesAt(httplib::Client& c, const std::string& db,
                                        const ltx::Pos& pos, uint32_t n) {
  std::string q = "/db/page?db=" + db + "&pos=" + ltx::FormatPos(pos) + "&pgno=1-" + std::to_string(n);
  auto r = c.Get(q.c_str(), {{"Accept", "application/vnd.litevfs.pages"}});
  EXPECT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  return ParseFrames(r->body, 4096);
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// A database with a history: 5 states, a shrink (12 -> 6) and a regrow (-> 9).
struct History {
  Model m;
  std::vector<Model> states;
  void Build(httplib::Client& c, const std::string& db) {
    auto up = [&](const std::string& body) {
      auto r = Upload(c, db, body);
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200) << r->body;
      states.push_back(m);
    };
    std::map<uint32_t, std::string> w;
    for (uint32_t p = 1; p <= 10; p++) w[p] = FilledPage(4096, p);
    up(m.Tx(w, 10));
    up(m.Tx({{1, FilledPage(4096, 101)}, {3, FilledPage(4096, 103)}, {12, FilledPage(4096, 112)}}, 12));
    up(m.Tx({{1, FilledPage(4096, 201)}, {2, FilledPage(4096, 202)}}, 12));
    up(m.Tx({{1, FilledPage(4096, 301)}}, 6));
    up(m.Tx({{1, FilledPage(4096, 401)}, {9, FilledPage(4096, 409)}}, 9));
  }
};

TEST(MockcloudHistory, DiffNamesWrittenPagesAndWhatAShrinkDropped) {
  Harness h;
  h.Start();
  auto c = h.Client();
  History hist;
  hist.Build(*c, "db");
  auto diff = [&](size_t a, size_t b) {
    std::string q = "/db/diff?db=db&from=" + ltx::FormatPos(hist.states[a].pos()) +
                    "&to=" + ltx::FormatPos(hist.states[b].pos());
    auto r = c->Get(q.c_str());
    EXPECT_EQ(r->status, 200) << r->body;
    return J(r);
  };
  json j = diff(1, 2);
  EXPECT_EQ(j["pgnos"], json::array({1, 2}));
  EXPECT_EQ(j["fromCommit"], 12);
  EXPECT_EQ(j["toCommit"], 12);
  EXPECT_EQ(diff(2, 1)["pgnos"], json::array({1, 2}));  // either order
  // 2 -> 4 shrank to 6 then grew to 9: 7..9 were zeroed, 10..12 are gone.
  EXPECT_EQ(diff(2, 4)["pgnos"], json::array({1, 7, 8, 9, 10, 11, 12}));
  EXPECT_EQ(diff(4, 4)["pgnos"], json::array());
  // Every page whose bytes differ is named (the diff is a superset of the real one).
  for (size_t a = 0; a < hist.states.size(); a++) {
    for (size_t b = 0; b < hist.states.size(); b++) {
      std::set<uint32_t> named;
      const json d = diff(a, b);
      for (uint32_t p : d["pgnos"]) named.insert(p);
      for (uint32_t p = 1; p <= 12; p++) {
        if (hist.states[a].Page(p) != hist.states[b].Page(p)) {
          EXPECT_TRUE(named.count(p)) << a << b << p;
        }
      }
    }
  }
  auto r = c->Get(("/db/diff?db=db&from=" + PosUrl(1, 5) + "&to=" + ltx::FormatPos(hist.m.pos())).c_str());
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(ErrCode(r), "EPOSMISMATCH");
  EXPECT_EQ(c->Get("/db/diff?db=db")->status, 400);
}

TEST(MockcloudHistory, AtResolvesTxidsAndTimesAndNamesTheOldestStateKept) {
  Harness h;
  h.Start();
  auto c = h.Client();
  History hist;
  hist.Build(*c, "db");  // LTX timestamps: 1700000000000 + (txid - 1) ms
  auto r = c->Get("/db/at?db=db&txid=3");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(PosOf(J(r)["pos"]), hist.states[2].pos());
  r = c->Get("/db/at?db=db&time=2023-11-14T22:13:20.003Z");  // 1700000000003: txid 4
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(PosOf(J(r)["pos"]), hist.states[3].pos());
  r = c->Get("/db/at?db=db&time=2023-11-14T23:13:20.0025%2B01:00");  // same instant - 0.5 ms
  EXPECT_EQ(PosOf(J(r)["pos"]), hist.states[2].pos());
  r = c->Get("/db/at?db=db&time=2023-11-14T22:13:19Z");  // before the first state
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(ErrCode(r), "ENOTRETAINED");
  EXPECT_NE(ErrText(r).find("oldest state kept is txid 0000000000000001"), std::string::npos) << ErrText(r);
  EXPECT_EQ(c->Get("/db/at?db=db&time=yesterday")->status, 400);
  EXPECT_EQ(c->Get("/db/at?db=db")->status, 400);
  EXPECT_EQ(c->Get("/db/at?db=db&txid=99")->status, 409);
  // After compaction folds everything but the last txid, txid 1 names the new oldest.
  h.opts.retain_txids = 1;
  h.Stop();
  h.Start();
  c = h.Client();
  ASSERT_TRUE(h.server->CompactAt(4102444800000).ok());  // year 2100
  r = c->Get("/db/at?db=db&txid=1");
  EXPECT_EQ(ErrCode(r), "ENOTRETAINED");
  EXPECT_NE(ErrText(r).find("oldest state kept is txid 0000000000000005"), std::string::npos) << ErrText(r);
}

TEST(MockcloudHistory, RestoreIsOneTransactionOfTheDifferingPagesAndIsUndoable) {
  Harness h;
  h.Start();
  auto c = h.Client();
  History hist;
  hist.Build(*c, "db");
  const ltx::Pos before = hist.m.pos();
  auto restore = [&](const ltx::Pos& p, const std::string& lease = "") {
    httplib::Headers hd;
    if (!lease.empty()) hd.emplace("Lfsc-Lease-Id", lease);
    return c->Post(("/db/restore?db=db&pos=" + ltx::FormatPos(p)).c_str(), hd, "", "text/plain");
  };
  auto r = restore(hist.states[1].pos());
  ASSERT_EQ(r->status, 200) << r->body;
  const ltx::Pos restored = PosOf(J(r)["pos"]);
  EXPECT_EQ(restored.txid, before.txid + 1);
  EXPECT_EQ(J(r)["pages"], 8);  // txids 3..5 wrote 1, 2, 9; the shrink to 6 dropped 7..12
  auto pages = PagesAt(*c, "db", restored, 20);
  ASSERT_EQ(pages.size(), 12u);
  for (uint32_t p = 2; p <= 12; p++) EXPECT_EQ(pages[p], hist.states[1].Page(p)) << p;
  // Page 1: the old bytes, with the change counter moved past the current one.
  std::string want1 = hist.states[1].Page(1);
  const std::string cur1 = hist.m.Page(1);
  const uint32_t counter = ltx::DecodeU32(reinterpret_cast<const uint8_t*>(cur1.data()) + 24) + 1;
  ltx::EncodeU32(reinterpret_cast<uint8_t*>(want1.data()) + 24, counter);
  ltx::EncodeU32(reinterpret_cast<uint8_t*>(want1.data()) + 92, counter);
  EXPECT_EQ(pages[1], want1);
  // Undo: restore the position before the restore.
  r = restore(before);
  ASSERT_EQ(r->status, 200) << r->body;
  pages = PagesAt(*c, "db", PosOf(J(r)["pos"]), 20);
  ASSERT_EQ(pages.size(), 9u);
  for (uint32_t p = 2; p <= 9; p++) EXPECT_EQ(pages[p], hist.m.Page(p)) << p;
  // Under a lease the holder's id is required.
  r = c->Post("/lease?db=db&duration=5000", "", "text/plain");
  const std::string id = J(r)["id"];
  r = restore(hist.states[0].pos());
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(ErrCode(r), "ELEASE");
  EXPECT_EQ(restore(hist.states[0].pos(), id)->status, 200);
  r = restore(ltx::Pos{2, 7}, id);
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(ErrCode(r), "EPOSMISMATCH");
}

TEST(MockcloudHistory, BranchCopiesAPastStateIntoANewDatabase) {
  Harness h;
  h.Start();
  auto c = h.Client();
  History hist;
  hist.Build(*c, "db");
  auto branch = [&](size_t i, const std::string& to) {
    return c->Post(("/db/branch?db=db&pos=" + ltx::FormatPos(hist.states[i].pos()) + "&to=" + to).c_str(),
                   "", "text/plain");
  };
  auto r = branch(2, "copy");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(PosOf(J(r)["pos"]), hist.states[2].pos());
  auto pages = PagesAt(*c, "copy", hist.states[2].pos(), 20);
  ASSERT_EQ(pages.size(), 12u);
  for (uint32_t p = 1; p <= 12; p++) EXPECT_EQ(pages[p], hist.states[2].Page(p)) << p;
  r = branch(1, "copy");
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(ErrCode(r), "EEXISTS");
  EXPECT_EQ(branch(1, "..bad")->status, 400);
  // The branch is independent: a write to it leaves db as it was.
  Model cm = hist.states[2];
  ASSERT_EQ(Upload(*c, "copy", cm.Tx({{2, FilledPage(4096, 999)}}, 12))->status, 200);
  EXPECT_EQ(PagesAt(*c, "db", hist.m.pos(), 2)[2], hist.m.Page(2));
}

TEST(MockcloudHistory, DeleteRefusesWhileLeasedUnlessForcedAndLastsAcrossRestarts) {
  Harness h;
  h.Start();
  auto c = h.Client();
  History hist;
  hist.Build(*c, "db");
  auto r = c->Post("/lease?db=db&duration=5000", "", "text/plain");
  ASSERT_EQ(r->status, 200);
  r = c->Delete("/db?db=db");
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(ErrCode(r), "ELEASE");
  EXPECT_EQ(c->Delete("/db?db=db&force=1")->status, 204);
  EXPECT_EQ(c->Get("/db/history?db=db")->status, 404);
  EXPECT_EQ(c->Delete("/db?db=db")->status, 404);
  EXPECT_FALSE(std::filesystem::exists(h.data + "/clusters/default/db"));
  // The lease went with it: a new database of that name can be made without an id.
  Model m2;
  ASSERT_EQ(Upload(*c, "db", m2.Tx({{1, FilledPage(4096, 7)}}, 1))->status, 200);
  h.Stop();
  h.Start();
  c = h.Client();
  r = c->Get("/db/history?db=db");
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(J(r)["history"].size(), 1u);
}

TEST(MockcloudHistory, RenameMovesTheDatabaseWithItsHistory) {
  Harness h;
  h.Start();
  auto c = h.Client();
  History hist;
  hist.Build(*c, "db");
  Model other;
  ASSERT_EQ(Upload(*c, "other", other.Tx({{1, FilledPage(4096, 5)}}, 1))->status, 200);
  auto r = c->Post("/db/rename?db=db&to=other", "", "text/plain");
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(ErrCode(r), "EEXISTS");
  r = c->Post("/db/rename?db=db&to=moved", "", "text/plain");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(c->Get("/db/history?db=db")->status, 404);
  for (const auto& s : hist.states) {
    auto pages = PagesAt(*c, "moved", s.pos(), 20);
    for (uint32_t p = 1; p <= s.commit; p++) EXPECT_EQ(pages[p], s.Page(p)) << s.txid << " " << p;
  }
  ASSERT_EQ(Upload(*c, "moved", hist.m.Tx({{2, FilledPage(4096, 77)}}, 9))->status, 200);
  h.Stop();
  h.Start();
  c = h.Client();
  EXPECT_EQ(PagesAt(*c, "moved", hist.m.pos(), 2)[2], FilledPage(4096, 77));
  r = c->Post("/lease?db=moved&duration=5000", "", "text/plain");
  EXPECT_EQ(c->Post("/db/rename?db=moved&to=again", "", "text/plain")->status, 409);
}

TEST(MockcloudHistory, RestorePointsOutliveRetentionAndCanBeRestoredAndBranched) {
  Harness h;
  h.opts.snapshots_every_ms = 3600 * 1000;
  h.opts.snapshots_keep_ms = 30ll * 24 * 3600 * 1000;
  h.opts.retain_txids = 1;
  h.Start();
  auto c = h.Client();
  History hist;
  hist.Build(*c, "db");
  const int64_t now = NowMs();
  ASSERT_TRUE(h.server->CompactAt(now).ok());  // a point at txid 5 (and nothing expired yet)
  const Model at5 = hist.m;
  ASSERT_EQ(Upload(*c, "db", hist.m.Tx({{2, FilledPage(4096, 600)}}, 9))->status, 200);
  ASSERT_EQ(Upload(*c, "db", hist.m.Tx({{3, FilledPage(4096, 700)}}, 14))->status, 200);
  ASSERT_TRUE(h.server->CompactAt(now + 2 * 3600 * 1000).ok());  // folds all but txid 7; a new point
  json j = J(c->Get("/db/history?db=db"));
  ASSERT_EQ(j["restorePoints"].size(), 2u) << j.dump();
  EXPECT_EQ(PosOf(j["restorePoints"][0]["pos"]), at5.pos());
  EXPECT_EQ(j["history"].size(), 1u);
  auto r = c->Get("/db/at?db=db&txid=5");
  EXPECT_EQ(ErrCode(r), "ENOTRETAINED");  // a reader cannot open a point...
  r = c->Get("/db/at?db=db&txid=5&points=1");  // ...restore and branch can
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(PosOf(J(r)["pos"]), at5.pos());
  r = c->Post(("/db/branch?db=db&pos=" + ltx::FormatPos(at5.pos()) + "&to=old").c_str(), "", "text/plain");
  ASSERT_EQ(r->status, 200) << r->body;
  auto pages = PagesAt(*c, "old", at5.pos(), 20);
  ASSERT_EQ(pages.size(), 9u);
  for (uint32_t p = 1; p <= 9; p++) EXPECT_EQ(pages[p], at5.Page(p)) << p;
  r = c->Post(("/db/restore?db=db&pos=" + ltx::FormatPos(at5.pos())).c_str(), "", "text/plain");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(J(r)["pages"], 3);  // page 1 (counter), 2 and 3 differ; 10..14 are cut by the size
  pages = PagesAt(*c, "db", PosOf(J(r)["pos"]), 20);
  ASSERT_EQ(pages.size(), 9u);
  for (uint32_t p = 2; p <= 9; p++) EXPECT_EQ(pages[p], at5.Page(p)) << p;
  // Points outlive a restart; after --snapshots-keep they go (and a new one is taken).
  h.Stop();
  h.Start();
  c = h.Client();
  ASSERT_TRUE(h.server->CompactAt(now + 31ll * 24 * 3600 * 1000).ok());
  j = J(c->Get("/db/history?db=db"));
  ASSERT_EQ(j["restorePoints"].size(), 1u) << j.dump();
  EXPECT_NE(PosOf(j["restorePoints"][0]["pos"]), at5.pos());
}

TEST(MockcloudHistory, EveryNewRouteNeedsTheToken) {
  Harness h;
  h.Start();
  auto c = h.Client("");
  EXPECT_EQ(c->Get("/db/at?db=db&txid=1")->status, 401);
  EXPECT_EQ(c->Get("/db/diff?db=db")->status, 401);
  EXPECT_EQ(c->Post("/db/restore?db=db", "", "text/plain")->status, 401);
  EXPECT_EQ(c->Post("/db/branch?db=db", "", "text/plain")->status, 401);
  EXPECT_EQ(c->Delete("/db?db=db")->status, 401);
  EXPECT_EQ(c->Post("/db/rename?db=db&to=x", "", "text/plain")->status, 401);
}

}  // namespace
