// History routes in the distributed store (dist_history.cc) against a real etcd and s3rver:
// /db/restore and /db/branch through one instance are ordinary commits every instance sees;
// DELETE /db reaches every instance; rename stays 501 ENOTSUPPORTED.
#include <thread>

#include "../mockcloud/src/util.h"
#include "mockcloud_dist_instance.h"

namespace mctest {
namespace {

using distfix::DistCluster;

class DistHistoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cluster.skip.empty()) GTEST_SKIP() << cluster.skip;
    ASSERT_EQ(cluster.error, "");
  }
  DistCluster cluster;
};

// Page 1 without SQLite's change counter (bytes 24..27), which a restore moves forward.
std::string Page1Body(std::string p) { return p.replace(24, 4, 4, '\0'); }

TEST_F(DistHistoryTest, RestoreAndBranchAreCommitsEveryInstanceSees) {
  Instance a(cluster.Instance("a")), b(cluster.Instance("b"));
  Model m;
  ASSERT_EQ(Post(a, "app", m.Tx({{1, FilledPage(4096, 1)}, {2, FilledPage(4096, 2)}}, 2))->status, 200);
  const Model old = m;
  const std::string old_pos = PosUrl(old.txid, old.Checksum());
  ASSERT_EQ(Post(a, "app", m.Tx({{2, FilledPage(4096, 3)}, {3, FilledPage(4096, 4)}}, 3))->status, 200);
  ASSERT_EQ(PosOf(b, "app"), PosUrl(m.txid, m.Checksum()));

  const std::string lease = TakeLease(a, "app", 5000);
  ASSERT_FALSE(lease.empty());
  auto refused = b.Client()->Post("/db/restore?db=app&pos=" + old_pos, "", "text/plain");
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 409) << refused->body;  // leased by someone else
  auto r = b.Client()->Post("/db/restore?db=app&pos=" + old_pos, {{"Lfsc-Lease-Id", lease}}, "",
                            "text/plain");
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no reply");
  const json j = json::parse(r->body);
  const std::string now = j["pos"]["txid"].get<std::string>() + "/" + j["pos"]["postApplyChecksum"].get<std::string>();
  EXPECT_EQ(j["pos"]["txid"], ltx::FormatTxid(3));
  EXPECT_EQ(PosOf(a, "app"), now);  // a commit like any other: a sees it
  auto pages = PagesAt(a, "app", now, "1,2");
  EXPECT_EQ(pages[2], old.Page(2));
  EXPECT_EQ(Page1Body(pages[1]), Page1Body(old.Page(1)));
  EXPECT_NE(pages[1], old.Page(1)) << "the change counter did not move";
  auto sync = a.Client()->Get("/db/sync?db=app");
  ASSERT_TRUE(sync && sync->status == 200);
  EXPECT_EQ(json::parse(sync->body)["commit"], 2) << "the restore shrinks back to 2 pages";

  auto br = b.Client()->Post("/db/branch?db=app&pos=" + old_pos + "&to=copy", "", "text/plain");
  ASSERT_TRUE(br && br->status == 200) << (br ? br->body : "no reply");
  EXPECT_EQ(PosOf(a, "copy"), old_pos);
  pages = PagesAt(a, "copy", old_pos, "1,2");
  EXPECT_EQ(pages[1], old.Page(1));
  EXPECT_EQ(pages[2], old.Page(2));
  auto again = a.Client()->Post("/db/branch?db=app&pos=" + old_pos + "&to=copy", "", "text/plain");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 409);
  EXPECT_NE(again->body.find("EEXISTS"), std::string::npos) << again->body;
}

// DELETE /db through one instance: every instance forgets the database (the other's replica
// is dropped by the watch), the name can be created afresh, and its old objects go to the
// orphan sweep. Rename stays 501.
TEST_F(DistHistoryTest, DeleteReachesEveryInstanceAndRenameAnswersNotSupported) {
  constexpr int kWaitRounds = 100;  // × 20 ms
  auto oa = cluster.Instance("a");
  oa.retention_ms = 1000;
  Instance a(oa), b(cluster.Instance("b"));
  Model m;
  ASSERT_EQ(Post(a, "app", m.Tx({{1, FilledPage(4096, 1)}}, 1))->status, 200);
  ASSERT_EQ(Post(a, "app", m.Tx({{1, FilledPage(4096, 2)}}, 1))->status, 200);
  ASSERT_EQ(PosOf(b, "app"), PosUrl(m.txid, m.Checksum()));  // b holds a replica
  auto ren = b.Client()->Post("/db/rename?db=app&to=other", "", "text/plain");
  ASSERT_TRUE(ren);
  EXPECT_EQ(ren->status, 501);
  EXPECT_NE(ren->body.find("ENOTSUPPORTED"), std::string::npos) << ren->body;

  auto del = a.Client()->Delete("/db?db=app");
  ASSERT_TRUE(del);
  ASSERT_EQ(del->status, 204) << del->body;
  EXPECT_EQ(PosOf(a, "app"), "");
  int rounds = 0;
  while (b.Client()->Get("/db/sync?db=app")->status != 404 && rounds++ < kWaitRounds)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(b.Client()->Get("/db/sync?db=app")->status, 404) << "b still serves the deleted database";
  EXPECT_EQ(PosOf(b, "app"), "");
  EXPECT_EQ(a.Client()->Delete("/db?db=app")->status, 404);

  Model fresh;  // the name is free again: a new history from txid 1, through b
  auto r = Post(b, "app", fresh.Tx({{1, FilledPage(4096, 9)}}, 1));
  ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no reply");
  EXPECT_EQ(PosOf(a, "app"), PosUrl(fresh.txid, fresh.Checksum()));
  auto pages = PagesAt(a, "app", PosUrl(fresh.txid, fresh.Checksum()), "1");
  EXPECT_EQ(pages[1], fresh.Page(1));
  // The deleted history's two objects are orphans: swept once past the window.
  ASSERT_TRUE(a.server->CompactAt(mockcloud::NowUnixMs() + 3600 * 1000).ok());
  EXPECT_EQ(Metric(a, "mockcloud_orphans_deleted_total"), 2);
  EXPECT_EQ(PosOf(b, "app"), PosUrl(fresh.txid, fresh.Checksum()));
}

}  // namespace
}  // namespace mctest
