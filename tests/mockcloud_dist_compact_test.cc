// The distributed store's compaction lock and orphan sweep (dist_compact.cc) against a real
// etcd and s3rver: only the instance holding ROOT lock/compact compacts; an object no etcd key
// names is deleted once older than the orphan window, a young one is kept, a named one never.
#include <thread>

#include "../mockcloud/src/dist/dist_store.h"
#include "mockcloud_dist_instance.h"

namespace mctest {
namespace {

using distfix::DistCluster;
namespace dist = mockcloud::dist;

class DistCompactTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!cluster.skip.empty()) GTEST_SKIP() << cluster.skip;
    ASSERT_EQ(cluster.error, "");
    auto loc = dist::ParseS3Url(cluster.StoreUrl());
    auto creds = dist::LoadAwsCredentials(cluster.dir.path() + "/aws");
    ASSERT_TRUE(loc.ok() && creds.ok());
    s3 = std::make_unique<dist::S3Client>(*loc, *creds);
    etcd = std::make_unique<dist::EtcdClient>(std::vector<std::string>{cluster.EtcdUrl()});
    keys = std::make_unique<dist::DistKeys>(loc->bucket, loc->prefix);
  }
  // The object the current position of `db` names (etcd's pos key).
  std::string CurrentObject(const std::string& db) {
    const std::string pre = keys->PosPrefix("");
    auto kvs = etcd->Range(pre, dist::PrefixEnd(pre));
    for (const auto& kv : kvs.ok() ? *kvs : std::vector<dist::EtcdKv>{}) {
      std::string c, d;
      if (keys->ParsePos(kv.key, &c, &d) && d == db) return dist::DecodePosValue(kv.value)->key;
    }
    return "";
  }
  bool Exists(const std::string& key) { return s3->Get(key).ok(); }

  DistCluster cluster;
  std::unique_ptr<dist::S3Client> s3;
  std::unique_ptr<dist::EtcdClient> etcd;
  std::unique_ptr<dist::DistKeys> keys;
};

TEST_F(DistCompactTest, OnlyTheLockHolderSweepsAndOnlyOldUnnamedObjectsGo) {
  constexpr auto kApart = std::chrono::milliseconds(2100);  // LastModified may have 1 s steps
  auto oa = cluster.Instance("a"), ob = cluster.Instance("b");
  oa.retention_ms = ob.retention_ms = 1000;
  Instance a(oa), b(ob);
  Model m;
  ASSERT_EQ(Post(a, "app", m.Tx({{1, FilledPage(4096, 1)}}, 1))->status, 200);
  const std::string named = CurrentObject("app");
  ASSERT_FALSE(named.empty());
  const std::string dir = named.substr(0, named.rfind('/') + 1);
  const std::string old_orphan = dir + "00000000000000ff-000000000000dead.ltx";
  const std::string young_orphan = dir + "00000000000000ff-000000000000beef.ltx";
  ASSERT_TRUE(s3->Put(old_orphan, "a lost upload").ok());
  std::this_thread::sleep_for(kApart);
  ASSERT_TRUE(s3->Put(young_orphan, "an upload whose txn may still come").ok());
  // As if the orphan window had just passed for the old orphan, not for the young one.
  const int64_t now = mockcloud::NowUnixMs() + dist::kOrphanMinAgeMs - kApart.count() / 2;

  // Another instance holds the compaction lock: b neither compacts nor sweeps.
  auto lease = etcd->GrantLease(30);
  ASSERT_TRUE(lease.ok());
  auto held = etcd->Txn({}, {{dist::EtcdOp::Kind::kPut, keys->CompactLock(), "other", "", *lease}});
  ASSERT_TRUE(held.ok() && held->succeeded);
  ASSERT_TRUE(b.server->CompactAt(now).ok());
  EXPECT_EQ(Metric(b, "mockcloud_compactions_total"), 0);
  EXPECT_TRUE(Exists(old_orphan));

  ASSERT_TRUE(etcd->RevokeLease(*lease).ok());  // the holder is gone
  ASSERT_TRUE(b.server->CompactAt(now).ok());
  EXPECT_EQ(Metric(b, "mockcloud_compactions_total"), 1);
  EXPECT_EQ(Metric(a, "mockcloud_compactions_total"), 0);
  EXPECT_FALSE(Exists(old_orphan)) << "an unnamed object older than the window stays";
  EXPECT_TRUE(Exists(young_orphan)) << "a young unnamed object was deleted";
  EXPECT_TRUE(Exists(named)) << "the object the position names was deleted";
  EXPECT_EQ(Metric(b, "mockcloud_orphans_deleted_total"), 1);
  // Far in the future the young orphan goes too; the named object never does.
  ASSERT_TRUE(b.server->CompactAt(now + 3600 * 1000).ok());
  EXPECT_FALSE(Exists(young_orphan));
  EXPECT_TRUE(Exists(named));
  Instance c(cluster.Instance("c"));
  EXPECT_EQ(PosOf(c, "app"), PosUrl(m.txid, m.Checksum()));
}

}  // namespace
}  // namespace mctest
