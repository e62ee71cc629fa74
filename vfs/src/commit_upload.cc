#include "commit_upload.h"

#include <algorithm>

#include "api_error.h"
#include "clock.h"
#include "log.h"

namespace litevfs {
namespace {

constexpr std::chrono::milliseconds kFirstBackoff{25};
constexpr std::chrono::milliseconds kMaxBackoff{800};
// Resends while the service, answering, is still at the pin. After that many, a check that
// finds it still there settles the commit as not applied (a definite failure).
constexpr int kMaxResends = 3;

UploadResult Applied(const Pos& pos, int attempts) {
  UploadResult r;
  r.outcome = UploadOutcome::kApplied;
  r.pos = pos;
  r.attempts = attempts;
  return r;
}

UploadResult Finished(Result<Pos> up, int attempts) {
  if (up.ok()) return Applied(*up, attempts);
  UploadResult r;
  r.outcome = UploadOutcome::kRejected;
  r.status = up.status();
  r.attempts = attempts;
  return r;
}

// The service moved past the pin: whether want is in its history (applied), another commit
// has want's txid (not applied), or neither is known yet (false: try again).
bool SettleByHistory(Client& client, const UploadRequest& req, Result<Pos>* up) {
  auto h = client.GetHistory(req.db);
  if (!h.ok()) return false;
  for (const HistoryEntry& e : *h) {
    if (e.pos.txid != req.want.txid) continue;
    if (e.pos == req.want) {
      LITEVFS_LOG(LogLevel::kWarn, req.db, e.pos,
                  "upload reported " + up->status().ToString() + " but the service applied it");
      *up = e.pos;
    } else {
      *up = Status(ltx::Code::kConflict, "litevfs: another commit took txid " + ltx::FormatTxid(req.want.txid) +
                                             " while the commit's answer was lost: the commit was not applied");
    }
    return true;
  }
  return false;
}

bool RefusedForPosOrLease(const Status& st) {
  const ApiError refused = ApiErrorOf(st);
  return refused == ApiError::kPosMismatch || refused == ApiError::kLease;
}

// One settling round after a lost answer: sync, then decide or resend.
// Returns true when `up` is now final (applied or a definite failure).
bool SettleOnce(Client& client, const UploadRequest& req, int* resends, Result<Pos>* up) {
  auto check = client.Sync(req.db, req.pin, 0);
  if (!check.ok()) return false;  // still unreachable: try again
  if (check->pos == req.want) {
    LITEVFS_LOG(LogLevel::kWarn, req.db, check->pos,
                "upload reported " + up->status().ToString() + " but the service applied it");
    *up = check->pos;
    return true;
  }
  // A commit that may have released the lease with itself: others may have committed after
  // it, so only the service's history says whether ours is there.
  if (check->pos != req.pin && req.release_if_waiters) return SettleByHistory(client, req, up);
  if (check->pos != req.pin) {  // someone else moved it: ours was not applied
    *up = Status(ltx::Code::kConflict,
                 "litevfs: the service moved to " + ltx::FormatPos(check->pos) +
                     " while the commit's answer was lost: the commit was not applied");
    return true;
  }
  if (*resends >= kMaxResends) {
    *up = Status(up->status().code(),
                 "litevfs: the commit was not applied: the service is still at " + ltx::FormatPos(req.pin) +
                     " after " + std::to_string(*resends + 1) + " uploads (" + up->status().message() + ")",
                 up->status().api_code());
    return true;
  }
  ++*resends;
  LITEVFS_LOG(LogLevel::kWarn, req.db, req.pin,
              "upload reported " + up->status().ToString() + "; the service does not have it, sending it again");
  *up = client.UploadTxStream(req.db, req.want, req.size, req.body, req.lease_id);
  if (!up->ok() && RefusedForPosOrLease(up->status())) {
    // Raced with our own earlier attempt landing late (its lease may have lapsed since): only
    // `want` means it is ours. A position that says otherwise may come from a replica behind
    // (the distributed store), so the service's history decides when it can.
    auto again = client.Sync(req.db, req.pin, 0);
    if (again.ok() && again->pos == req.want) {
      *up = again->pos;
    } else {
      SettleByHistory(client, req, up);
    }
  }
  return up->ok() || up->status().code() != ltx::Code::kUnavailable;
}

// After a lost answer: settling rounds until the outcome is known or settle_for passed.
UploadResult Settle(Client& client, const UploadRequest& req, Result<Pos> up) {
  const auto deadline = GetClock().Now() + req.settle_for;
  auto backoff = kFirstBackoff;
  int attempt = 0, resends = 0;
  for (; GetClock().Now() < deadline; attempt++) {
    GetClock().SleepFor(backoff);
    backoff = std::min(kMaxBackoff, backoff * 2);
    if (SettleOnce(client, req, &resends, &up)) return Finished(std::move(up), attempt + 1);
  }
  UploadResult r;
  r.outcome = UploadOutcome::kUnknown;
  r.attempts = attempt;
  r.status = Status(ltx::Code::kUnavailable,
                    "litevfs: commit outcome unknown: the upload's answer was lost and the service did not "
                    "answer for " + std::to_string(req.settle_for.count()) + " ms (" + up.status().message() +
                    "); it is settled at the next transaction (see litevfs(7), OUTCOME UNKNOWN)");
  return r;
}

}  // namespace

UploadResult UploadAndSettle(Client& client, const UploadRequest& req) {
  // Only the first attempt may release the lease with the commit: a settled or resent one
  // keeps it (the holder then releases it on its own).
  Client::ReleaseOnCommit release{req.release_if_waiters, false};
  Result<Pos> up = client.UploadTxStream(req.db, req.want, req.size, req.body, req.lease_id, &release);
  if (!up.ok() && !req.lease_id.empty() && RefusedForPosOrLease(up.status())) {
    // Under our lease nobody else moves the position: a refusal for it may be an answer about
    // our own commit (an instance that retried its store write, or one behind): the history
    // decides when it knows.
    SettleByHistory(client, req, &up);
  }
  if (up.ok() || up.status().code() != ltx::Code::kUnavailable) {
    UploadResult r = Finished(std::move(up), 0);
    r.lease_released = r.outcome == UploadOutcome::kApplied && release.released;
    return r;
  }
  UploadResult r = Settle(client, req, std::move(up));
  r.lease_maybe_released = req.release_if_waiters;  // the lost answer may have said so
  return r;
}

}  // namespace litevfs
