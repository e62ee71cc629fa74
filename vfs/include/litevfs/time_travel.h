// Time travel, restore, branch and the database lifecycle (issue 18): the calls the CLI and
// the VFS make to the service's `time-travel` extension (mockcloud/PROTOCOL.md), and the one
// grammar for naming a past moment.
//
//   PAST := RFC3339 | '-' DURATION      ("2026-12-05T23:00:00Z", "-5m", "-1h30m")
//
// DURATION is the one duration grammar (duration.h); "-5m" is five minutes before now, on
// this machine's clock. A txid is a separate choice (decimal, or hex with 0x).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "litevfs/client.h"

namespace litevfs {

// A past state: by txid, or the newest state at or before a wall-clock time.
struct PastRef {
  std::optional<uint64_t> txid;
  int64_t time_ms = 0;  // Unix ms, when !txid
  std::string text;     // as the user wrote it, for messages
  // Also a restore point older than retention (restore, branch; a VFS cannot read one).
  bool restore_points = false;
};

// PAST to a PastRef (now_ms is "now" for relative times). InvalidArgument naming both forms.
Result<PastRef> ParsePastTime(std::string_view text, int64_t now_ms);
// "123", "0x7b" (decimal or 0x-hex) to a PastRef by txid. InvalidArgument otherwise.
Result<PastRef> ParsePastTxid(std::string_view text);

struct PageDiff {
  Pos from, to;
  uint32_t from_commit = 0, to_commit = 0, page_size = 0;
  std::vector<uint32_t> pgnos;  // ascending: the pages that may differ
};
struct RestoreResult {
  Pos pos;             // the new current position (one new transaction)
  Pos restored;        // the state it brought back
  uint64_t pages = 0;  // pages the transaction wrote
};

// GET /db/at: the retained state at `at`. kConflict with api_code ENOTRETAINED (the message
// names the oldest state kept) when it is not kept.
Result<HistoryEntry> PositionAt(Client& c, const std::string& db, const PastRef& at);
// GET /db/diff: the pages that may differ between two retained positions.
Result<PageDiff> DiffPositions(Client& c, const std::string& db, const Pos& from, const Pos& to);
// POST /db/restore: `pos`'s state becomes current as one new transaction, built on the
// server from only the differing pages. lease_id: the caller's lease (empty = none held).
Result<RestoreResult> RestoreDatabase(Client& c, const std::string& db, const Pos& pos,
                                      const std::string& lease_id);
// POST /db/branch: database `to` is created with `pos`'s state (copied on the server).
Result<Pos> BranchDatabase(Client& c, const std::string& db, const Pos& pos, const std::string& to);
// DELETE /db: refused (kConflict, ELEASE) while leased unless force.
Status DeleteDatabase(Client& c, const std::string& db, bool force);
// Restore points: states the service keeps past its retention (GET /db/history's
// "restorePoints"; empty from a server that keeps none).
struct RestorePointEntry {
  Pos pos;
  int64_t timestamp_ms = 0;  // the state's
  int64_t taken_ms = 0;      // when the point was written
  uint32_t commit = 0;
};
Result<std::vector<RestorePointEntry>> GetRestorePoints(Client& c, const std::string& db);
// POST /db/rename.
Status RenameDatabase(Client& c, const std::string& from, const std::string& to);

}  // namespace litevfs
