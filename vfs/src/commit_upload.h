// Upload-and-settle, beside the client: streams one commit's LTX under the lease and, when
// the answer is lost (kUnavailable: the upload may or may not have been applied), settles
// the outcome by asking where the service is: at the position the LTX produces = applied;
// still at the pin = not applied (the same LTX is sent again: the service's position check
// makes that idempotent); anywhere else = not ours. It keeps settling with backoff until
// `settle_for` has passed (the request timeout), then reports "outcome unknown".
#pragma once

#include <chrono>
#include <string>

#include "litevfs/client.h"

namespace litevfs {

struct UploadRequest {
  std::string db;
  uint64_t size = 0;         // the LTX's bytes, pulled as they are sent (a resend rewinds):
  Client::BodyReader body;   // Client::UploadTxStream, e.g. an LtxBodyStream (commit_stream.h)
  std::string lease_id;
  Pos pin;                  // where the service must be for the LTX to apply
  Pos want;                 // the position the LTX produces
  std::chrono::milliseconds settle_for{0};
  bool release_if_waiters = false;  // issue 17: ask the service to release the lease with
                                    // the commit if another client waits for it
};

enum class UploadOutcome {
  kApplied,        // the service has it; `pos` is the new position
  kRejected,       // a definite failure: the service does not have it
  kUnknown,        // no answer settled it within settle_for
};

struct UploadResult {
  UploadOutcome outcome = UploadOutcome::kRejected;
  Pos pos;            // kApplied: the service's new position
  Status status;      // kRejected / kUnknown: why
  int attempts = 0;   // settling rounds used
  bool lease_released = false;  // kApplied: the service released the lease with the commit
  bool lease_maybe_released = false;  // the answer to a release-asking commit was lost
};

UploadResult UploadAndSettle(Client& client, const UploadRequest& req);

}  // namespace litevfs
