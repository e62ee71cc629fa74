// The one duration grammar (litevfs/duration.h) shared by CLI flags, env vars, URI
// parameters and pragmas.
#include <gtest/gtest.h>

#include <string>

#include "litevfs/duration.h"

namespace litevfs {
namespace {

TEST(DurationTest, UnitsAndTerms) {
  EXPECT_EQ(*ParseDuration("500ms"), 500);
  EXPECT_EQ(*ParseDuration("30s"), 30000);
  EXPECT_EQ(*ParseDuration("2m"), 120000);
  EXPECT_EQ(*ParseDuration("1h"), 3600000);
  EXPECT_EQ(*ParseDuration("1m30s"), 90000);
  EXPECT_EQ(*ParseDuration("1.5s"), 1500);
  EXPECT_EQ(*ParseDuration(" '2s' "), 2000);  // blanks and pragma quotes
  EXPECT_EQ(*ParseDuration("0"), 0);
}

// The rule that used to differ: a bare number is milliseconds everywhere (the CLI read 30 as
// 30 s, the pragmas as 30 ms).
TEST(DurationTest, BareNumberIsMilliseconds) {
  EXPECT_EQ(*ParseDuration("30"), 30);
  auto r = ParseDurationInRange("--duration", "30", 1000, 600000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "--duration: '30' (30ms: a number without a unit is milliseconds) is not between 1s "
            "and 10m");
}

TEST(DurationTest, RejectsWithTheAcceptedForms) {
  for (const char* bad : {"", "soon", "5 minutes", "-1s", "1.2.3s", "10x", "1s5", ".s", "s",
                          "9999999999999999", "99999999999h"}) {
    auto r = ParseDuration(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find("ms, s, m or h"), std::string::npos)
        << r.status().message();
  }
  auto r = ParseDurationInRange("LITEVFS_REQUEST_TIMEOUT", "later", 100, 600000);
  EXPECT_EQ(r.status().message().rfind("LITEVFS_REQUEST_TIMEOUT: 'later' is not a duration", 0), 0u)
      << r.status().message();
}

TEST(DurationTest, RangeNamesUnits) {
  EXPECT_EQ(*ParseDurationInRange("x", "10m", 1000, 600000), 600000);
  auto r = ParseDurationInRange("x", "11m", 1000, 600000);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "x: '11m' is not between 1s and 10m");
}

TEST(DurationTest, FormatRoundTrips) {
  for (int64_t ms : {0, 1, 999, 1000, 1500, 60000, 90000, 3600000, 7200000}) {
    EXPECT_EQ(*ParseDuration(FormatDuration(ms)), ms) << FormatDuration(ms);
  }
  EXPECT_EQ(FormatDuration(30000), "30s");
  EXPECT_EQ(FormatDuration(1500), "1500ms");
}

}  // namespace
}  // namespace litevfs
