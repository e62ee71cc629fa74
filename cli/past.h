// The past state a time-travel command names (--txid N | --time T): both flags, their
// parsing (litevfs/time_travel.h's grammar) and their resolution on the service.
#pragma once

#include <memory>
#include <string>

#include "litevfs/client.h"

namespace CLI {
class App;
}

namespace cli {

struct PastFlags {
  std::string txid;  // decimal or 0x-hex
  std::string time;  // RFC 3339 or -DURATION
  bool given() const { return !txid.empty() || !time.empty(); }
};
// Adds --txid and --time (mutually exclusive) to `sub`.
void AddPastFlags(CLI::App* sub, PastFlags* flags);
// The retained state the flags name; a state that is not kept is a CliError naming the oldest
// one kept. UsageError on a malformed value.
litevfs::HistoryEntry ResolvePast(litevfs::Client& c, const std::string& db, const PastFlags& f);
// `litevfs log`'s one-line description of a state: "txid 0000000000000005 (5) at 2026-…Z".
std::string DescribeState(const litevfs::HistoryEntry& e);

}  // namespace cli
