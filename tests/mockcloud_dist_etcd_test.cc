// etcd's JSON gateway encoding (base64 keys, int64 as strings, omitted defaults) and the
// distributed store's key layout and values.
#include <gtest/gtest.h>

#include "../mockcloud/src/dist/dist_keys.h"
#include "../mockcloud/src/dist/dist_leases.h"
#include "../mockcloud/src/dist/etcd_client.h"
#include "../mockcloud/src/util.h"

namespace mockcloud::dist {
namespace {

TEST(DistEtcd, Base64AndPrefixEnd) {
  for (const std::string& s : std::vector<std::string>{"", "a", "ab", "abc", std::string("\0\xff\x10", 3)})
    EXPECT_EQ(Base64Decode(Base64Encode(s)), s);
  EXPECT_EQ(PrefixEnd("a/b/"), "a/b0");
  EXPECT_EQ(PrefixEnd(std::string("a\xff", 2)), "b");
}

TEST(DistEtcd, EncodesATxnAsTheGatewayExpects) {
  json j = EncodeTxn({{"k", EtcdCompare::Target::kMod, 7, ""},
                      {"l", EtcdCompare::Target::kVersion, 0, ""},
                      {"v", EtcdCompare::Target::kValue, 0, "x"}},
                     {{EtcdOp::Kind::kPut, "k", "val", "", 42},
                      {EtcdOp::Kind::kDelete, "a", "", "b", 0}},
                     {{EtcdOp::Kind::kRange, "k", "", "", 0}});
  EXPECT_EQ(j["compare"][0], json({{"key", Base64Encode("k")}, {"result", "EQUAL"},
                                   {"target", "MOD"}, {"mod_revision", "7"}}));
  EXPECT_EQ(j["compare"][1]["target"], "VERSION");
  EXPECT_EQ(j["compare"][1]["version"], "0");
  EXPECT_EQ(j["compare"][2]["value"], Base64Encode("x"));
  EXPECT_EQ(j["success"][0], json({{"request_put", {{"key", Base64Encode("k")},
                                                    {"value", Base64Encode("val")},
                                                    {"lease", "42"}}}}));
  EXPECT_EQ(j["success"][1]["request_delete_range"]["range_end"], Base64Encode("b"));
  EXPECT_EQ(j["failure"][0], json({{"request_range", {{"key", Base64Encode("k")}}}}));
  json w = EncodeWatchCreate("p/", 5);
  EXPECT_EQ(w["create_request"]["range_end"], Base64Encode("p0"));
  EXPECT_EQ(w["create_request"]["start_revision"], "5");
}

TEST(DistEtcd, DecodesRepliesWithOmittedDefaults) {
  json txn = json::parse(R"({"header":{"revision":"12"},"succeeded":true,"responses":[
      {"response_range":{"kvs":[{"key":"YQ==","value":"Yg==","mod_revision":"9",
                                 "create_revision":"3","version":"2"}],"count":"1"}},
      {"response_put":{"header":{}}},{"response_range":{"header":{}}}]})");
  auto r = DecodeTxn(txn);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->succeeded);
  EXPECT_EQ(r->revision, 12);
  ASSERT_EQ(r->kvs.size(), 3u);
  ASSERT_EQ(r->kvs[0].size(), 1u);
  EXPECT_EQ(r->kvs[0][0].key, "a");
  EXPECT_EQ(r->kvs[0][0].value, "b");
  EXPECT_EQ(r->kvs[0][0].mod_revision, 9);
  EXPECT_TRUE(r->kvs[2].empty());  // a range that found nothing omits kvs
  auto failed = DecodeTxn(json::parse(R"({"header":{"revision":"4"}})"));
  ASSERT_TRUE(failed.ok());
  EXPECT_FALSE(failed->succeeded);
  EXPECT_FALSE(DecodeTxn(json::parse(R"({"responses":[{"response_range":{"kvs":[{}]}}]})")).ok());
}

TEST(DistEtcd, DecodesWatchMessages) {
  std::vector<EtcdEvent> ev;
  int64_t rev = 0;
  bool compacted = false;
  ASSERT_TRUE(DecodeWatchMessage(json::parse(R"({"result":{"header":{"revision":"8"},
      "events":[{"kv":{"key":"YQ==","mod_revision":"7"}},{"type":"DELETE","kv":{"key":"Yg=="}}]}})"),
                                 &ev, &rev, &compacted).ok());
  ASSERT_EQ(ev.size(), 2u);
  EXPECT_FALSE(ev[0].is_delete);
  EXPECT_EQ(ev[0].kv.mod_revision, 7);
  EXPECT_TRUE(ev[1].is_delete);
  EXPECT_EQ(rev, 8);
  EXPECT_FALSE(compacted);
  ev.clear();
  ASSERT_TRUE(DecodeWatchMessage(json::parse(R"({"result":{"compact_revision":"5","canceled":true}})"),
                                 &ev, &rev, &compacted).ok());
  EXPECT_TRUE(compacted);
  EXPECT_FALSE(DecodeWatchMessage(json::parse(R"({"error":{"grpc_code":14}})"), &ev, &rev, &compacted).ok());
}

TEST(DistEtcd, ParsesEndpointLists) {
  auto e = EtcdClient::ParseEndpoints("http://a:1/,http://b:2");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, (std::vector<std::string>{"http://a:1", "http://b:2"}));
  EXPECT_FALSE(EtcdClient::ParseEndpoints("").ok());
  auto bad = EtcdClient::ParseEndpoints("a:1");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'a:1'"), std::string::npos);
}

TEST(DistEtcd, KeyLayoutRoundTrips) {
  DistKeys k("bkt", "p");
  EXPECT_EQ(k.Pos("c", "d"), "litevfs/bkt/p/pos/c/d");
  EXPECT_EQ(k.Tx("c", "d", 10), "litevfs/bkt/p/tx/c/d/000000000000000a");
  std::string c, d;
  uint64_t txid = 0;
  ASSERT_TRUE(k.ParseTx(k.Tx("cl", "my.db", 255), &c, &d, &txid));
  EXPECT_EQ(c, "cl");
  EXPECT_EQ(d, "my.db");
  EXPECT_EQ(txid, 255u);
  EXPECT_FALSE(k.ParseTx(k.Pos("c", "d"), &c, &d, &txid));
  ASSERT_TRUE(k.ParsePos(k.Pos("cl", "x"), &c, &d));
  EXPECT_EQ(d, "x");
  EXPECT_EQ(DistKeys::LtxObject("c", "d", 1, "ab"), "db/c/d/ltx/0000000000000001-ab.ltx");
  auto p = DecodePosValue(EncodePosValue({{5, 0xabcdef}, "obj"}));
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->pos, (Pos{5, 0xabcdef}));
  EXPECT_EQ(p->key, "obj");
  auto t = DecodeTxValue(EncodeTxValue({"o", 1, 2, 3}));
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->post, 2u);
  EXPECT_FALSE(DecodePosValue("{}").ok());
  EXPECT_FALSE(DecodeTxValue("nope").ok());
}

TEST(DistEtcd, LeaseStateHonoursExpiry) {
  EtcdKv kv{"k", EncodeLeaseValue({"id1", 1000, "tok"}), 1, 9, 1};
  LeaseState live = LeaseStateOf({kv}, 999);
  EXPECT_EQ(live.live_id, "id1");
  EXPECT_EQ(live.live_holder, "tok");  // issue 17: the holder's repeated acquire is its own
  EXPECT_EQ(live.mod_revision, 9);
  LeaseState expired = LeaseStateOf({kv}, 1000);
  EXPECT_EQ(expired.live_id, "");
  EXPECT_EQ(expired.mod_revision, 9);  // still the fencing token to compare
  EXPECT_EQ(LeaseStateOf({}, 0).mod_revision, 0);
}

}  // namespace
}  // namespace mockcloud::dist
