#include "past.h"

#include <CLI/CLI.hpp>
#include <chrono>

#include "common.h"
#include "litevfs/time_travel.h"

namespace cli {

void AddPastFlags(CLI::App* sub, PastFlags* f) {
  auto* t = sub->add_option("--txid", f->txid, "The state after this TXID (decimal, or hex as 0x…)");
  auto* m = sub->add_option("--time", f->time,
                            "The newest state at or before this time: RFC 3339 "
                            "(2026-12-05T23:00:00Z) or a duration before now (-5m, -1h30m)");
  t->excludes(m);
}

litevfs::HistoryEntry ResolvePast(litevfs::Client& c, const std::string& db, const PastFlags& f) {
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  auto ref = f.txid.empty() ? litevfs::ParsePastTime(f.time, now) : litevfs::ParsePastTxid(f.txid);
  if (!ref.ok()) throw UsageError((f.txid.empty() ? "--time: " : "--txid: ") + ref.status().message());
  ref->restore_points = true;
  auto r = litevfs::PositionAt(c, db, *ref);
  if (!r.ok() && r.status().code() == ltx::Code::kUnsupported) {
    throw CliError(db + ": the server does not offer time travel (extension time-travel)");
  }
  return Unwrap(std::move(r), db);
}

std::string DescribeState(const litevfs::HistoryEntry& e) {
  return "txid " + ltx::FormatTxid(e.pos.txid) + " (" + std::to_string(e.pos.txid) + ") of " +
         FormatRfc3339(e.timestamp_ms, true);
}

}  // namespace cli
