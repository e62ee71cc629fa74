// Status and Result<T>: how every litevfs library reports errors. No exception crosses a
// library boundary; SQLite callbacks and the CLI's main turn these into codes at the edge.
#pragma once

#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace ltx {

enum class Code {
  kOk = 0,
  kInvalidArgument,   // the caller's input is wrong (bad name, bad flag, out of range)
  kNotFound,          // no such database / file / page
  kCorruption,        // bytes that do not decode or whose checksum does not match
  kIOError,           // the local OS said no (open, read, write, fsync)
  kUnavailable,       // retryable: network, timeout, server 5xx, dropped connection
  kConflict,          // position mismatch, lease held by another
  kPermissionDenied,  // bad or missing token, no lease for a write
  kResourceExhausted, // too large, disk full
  kUnsupported,       // a feature the peer or the file does not have
};

const char* CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  static Status OK() { return Status(); }
  static Status InvalidArgument(std::string msg) { return {Code::kInvalidArgument, std::move(msg)}; }
  static Status NotFound(std::string msg) { return {Code::kNotFound, std::move(msg)}; }
  static Status Corruption(std::string msg) { return {Code::kCorruption, std::move(msg)}; }
  static Status IOError(std::string msg) { return {Code::kIOError, std::move(msg)}; }
  static Status Unavailable(std::string msg) { return {Code::kUnavailable, std::move(msg)}; }
  static Status Conflict(std::string msg) { return {Code::kConflict, std::move(msg)}; }
  static Status PermissionDenied(std::string msg) { return {Code::kPermissionDenied, std::move(msg)}; }
  static Status ResourceExhausted(std::string msg) { return {Code::kResourceExhausted, std::move(msg)}; }
  static Status Unsupported(std::string msg) { return {Code::kUnsupported, std::move(msg)}; }

  Status(Code code, std::string msg, std::string api_code = {})
      : code_(code), msg_(std::move(msg)), api_code_(std::move(api_code)) {}

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return msg_; }
  // The service's error code ("EPOSMISMATCH", "ELEASE", …) when the error came from the wire.
  const std::string& api_code() const { return api_code_; }
  // "Corruption: ltx: file checksum mismatch" (or "OK").
  std::string ToString() const;
  // Returns a copy whose message is "prefix: message".
  Status WithContext(const std::string& prefix) const;

 private:
  Code code_ = Code::kOk;
  std::string msg_;
  std::string api_code_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}                               // NOLINT
  Result(Status status) : v_(std::move(status)) { assert(!std::get<Status>(v_).ok()); }  // NOLINT

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { assert(ok()); return std::get<T>(v_); }
  const T& value() const& { assert(ok()); return std::get<T>(v_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace ltx

// Propagate a non-OK Status (or the Status of a failed Result) to the caller.
#define LTX_RETURN_IF_ERROR(expr)              \
  do {                                         \
    ::ltx::Status _st = (expr);                \
    if (!_st.ok()) return _st;                 \
  } while (0)

#define LTX_CONCAT_INNER_(a, b) a##b
#define LTX_CONCAT_(a, b) LTX_CONCAT_INNER_(a, b)
// LTX_ASSIGN_OR_RETURN(auto x, MakeX()): x = value, or return the error.
#define LTX_ASSIGN_OR_RETURN(lhs, rexpr) \
  LTX_ASSIGN_OR_RETURN_IMPL_(LTX_CONCAT_(_res_, __LINE__), lhs, rexpr)
#define LTX_ASSIGN_OR_RETURN_IMPL_(res, lhs, rexpr) \
  auto res = (rexpr);                               \
  if (!res.ok()) return res.status();               \
  lhs = std::move(res).value()
