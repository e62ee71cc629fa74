// The PAST grammar of litevfs/time_travel.h (RFC 3339 or -DURATION; txids) and the URI /
// pragma forms the VFS takes (past_state.h).
#include <gtest/gtest.h>

#include "litevfs/time_travel.h"
#include "past_state.h"

namespace {

constexpr int64_t kNow = 1765000000000;  // 2025-12-06T05:46:40Z

TEST(ClientTime, RelativeTimesAreDurationsBeforeNow) {
  EXPECT_EQ(litevfs::ParsePastTime("-5m", kNow)->time_ms, kNow - 300000);
  EXPECT_EQ(litevfs::ParsePastTime("-1h30m", kNow)->time_ms, kNow - 5400000);
  EXPECT_EQ(litevfs::ParsePastTime("-0s", kNow)->time_ms, kNow);
}

TEST(ClientTime, AbsoluteTimesAreRfc3339) {
  EXPECT_EQ(litevfs::ParsePastTime("2023-11-14T22:13:20Z", kNow)->time_ms, 1700000000000);
  EXPECT_EQ(litevfs::ParsePastTime("2023-11-14T23:13:20.5+01:00", kNow)->time_ms, 1700000000500);
}

TEST(ClientTime, BadTimesNameBothForms) {
  for (const char* bad : {"yesterday", "5m", "-", "-5 minutes", "2023-13-01T00:00:00Z", ""}) {
    auto r = litevfs::ParsePastTime(bad, kNow);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("RFC 3339"), std::string::npos) << r.status().message();
    EXPECT_NE(r.status().message().find("-5m"), std::string::npos) << r.status().message();
  }
}

TEST(ClientTime, TxidsAreDecimalOrHex) {
  EXPECT_EQ(*litevfs::ParsePastTxid("42")->txid, 42u);
  EXPECT_EQ(*litevfs::ParsePastTxid("0x2a")->txid, 42u);
  for (const char* bad : {"0", "0x", "-1", "4x", "0xg", "99999999999999999999"}) {
    EXPECT_FALSE(litevfs::ParsePastTxid(bad).ok()) << bad;
  }
}

TEST(ClientTime, UriAndPragmaForms) {
  auto r = litevfs::PastFromUri("000000000000000a", nullptr, kNow);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r->txid, 10u);
  EXPECT_TRUE(litevfs::PastFromUri(nullptr, nullptr, kNow)->text.empty());  // the present
  EXPECT_FALSE(litevfs::PastFromUri("5", "-5m", kNow).ok());                // not both
  EXPECT_EQ(litevfs::PastFromUri(nullptr, "-1m", kNow)->time_ms, kNow - 60000);
  EXPECT_TRUE(litevfs::PastFromPragma("'latest'", kNow)->text.empty());
  EXPECT_EQ(litevfs::PastFromPragma("'-2s'", kNow)->time_ms, kNow - 2000);
  auto bad = litevfs::PastFromPragma("soon", kNow);
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("'latest'"), std::string::npos);
}

}  // namespace
