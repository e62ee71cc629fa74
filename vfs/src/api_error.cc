#include "api_error.h"

namespace litevfs {

ApiError ParseApiError(std::string_view code) {
  if (code.empty()) return ApiError::kNone;
  if (code == "EPOSMISMATCH") return ApiError::kPosMismatch;
  if (code == "ELEASE") return ApiError::kLease;
  if (code == "ENOSPACE") return ApiError::kNoSpace;
  if (code == "ECORRUPT") return ApiError::kCorrupt;
  if (code == kTooLargeCode) return ApiError::kTooLarge;
  if (code == kOutcomeUnknownCode) return ApiError::kOutcomeUnknown;
  if (code == kStaleReadCode) return ApiError::kStaleRead;
  return ApiError::kOther;
}

}  // namespace litevfs
