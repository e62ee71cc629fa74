// The service's error codes (PROTOCOL.md, the `code` of an error body) as a typed value:
// parsed from the wire string in one place, compared as an enum everywhere else.
#pragma once

#include <string_view>

#include "ltx/status.h"

namespace litevfs {

enum class ApiError {
  kNone,          // not from the wire, or no code
  kPosMismatch,   // EPOSMISMATCH: the position moved (retry the transaction)
  kLease,         // ELEASE: the write lease is not (or no longer) ours
  kNoSpace,       // ENOSPACE: the service's disk is full
  kCorrupt,       // ECORRUPT: a stored page failed its checksum
  kTooLarge,      // ETOOLARGE: a request body over the service's limit (also refused locally)
  kOutcomeUnknown,  // local, never on the wire: a commit whose outcome could not be settled
  kStaleRead,     // local, never on the wire: the transaction read an older state than the
                  // one it would commit on (issue 17): SQLITE_BUSY_SNAPSHOT, retry it
  kOther,         // any other code
};

// The api_code a Status carries for ApiError::kOutcomeUnknown (set by the VFS itself).
inline constexpr std::string_view kOutcomeUnknownCode = "LITEVFS_OUTCOME_UNKNOWN";
// The api_code of a Status for ApiError::kStaleRead (set by the VFS itself).
inline constexpr std::string_view kStaleReadCode = "LITEVFS_STALE_READ";

// The api_code of a transaction over the service's body limit (the wire's, and the VFS's
// own when it refuses one before uploading: commit_stream.h CheckTxBodyLimit).
inline constexpr std::string_view kTooLargeCode = "ETOOLARGE";

ApiError ParseApiError(std::string_view code);
inline ApiError ApiErrorOf(const ltx::Status& st) { return ParseApiError(st.api_code()); }

}  // namespace litevfs
