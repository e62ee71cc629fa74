#include "litevfs/duration.h"

#include <cctype>
#include <cmath>

namespace litevfs {
namespace {

constexpr double kMaxMs = 1e15;  // ~31,700 years: far past any range a caller checks

const char kForms[] =
    "write a number with a unit: ms, s, m or h (e.g. 500ms, 30s, 2m, 1h30m); a number without a "
    "unit is milliseconds";

std::string_view Strip(std::string_view v) {
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.front()))) v.remove_prefix(1);
  while (!v.empty() && std::isspace(static_cast<unsigned char>(v.back()))) v.remove_suffix(1);
  if (v.size() >= 2 && (v.front() == '\'' || v.front() == '"') && v.back() == v.front()) {
    return Strip(v.substr(1, v.size() - 2));
  }
  return v;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAllDigits(std::string_view s) {
  for (char c : s) {
    if (!IsDigit(c)) return false;
  }
  return !s.empty();
}

// Milliseconds in one UNIT, 0 for an unknown unit.
double UnitMs(std::string_view unit) {
  if (unit == "ms") return 1;
  if (unit == "s") return 1000;
  if (unit == "m") return 60000;
  if (unit == "h") return 3600000;
  return 0;
}

ltx::Status Bad(std::string_view text, std::string_view why = {}) {
  std::string msg = "'" + std::string(text) + "' is not a duration";
  if (!why.empty()) msg += " (" + std::string(why) + ")";
  return ltx::Status::InvalidArgument(msg + ": " + kForms);
}

// Reads one "NUMBER UNIT" term at *i; adds its milliseconds to *total.
ltx::Status ReadTerm(std::string_view s, size_t* i, double* total) {
  const size_t start = *i;
  while (*i < s.size() && (IsDigit(s[*i]) || s[*i] == '.')) ++*i;
  const std::string number(s.substr(start, *i - start));
  const size_t ustart = *i;
  while (*i < s.size() && std::isalpha(static_cast<unsigned char>(s[*i]))) ++*i;
  const std::string_view unit = s.substr(ustart, *i - ustart);
  if (number.empty() || number == "." || number.find('.') != number.rfind('.')) return Bad(s);
  if (unit.empty()) return Bad(s, "a term without a unit");
  const double mult = UnitMs(unit);
  if (mult == 0) return Bad(s, "unknown unit '" + std::string(unit) + "'");
  *total += std::strtod(number.c_str(), nullptr) * mult;
  if (*total > kMaxMs) return Bad(s, "too large");
  return ltx::Status::OK();
}

}  // namespace

ltx::Result<int64_t> ParseDuration(std::string_view text) {
  const std::string_view s = Strip(text);
  if (s.empty()) return Bad(text, "empty");
  if (IsAllDigits(s)) {
    if (s.size() > 15) return Bad(text, "too large");
    return static_cast<int64_t>(std::stoll(std::string(s)));
  }
  double total = 0;
  for (size_t i = 0; i < s.size();) {
    LTX_RETURN_IF_ERROR(ReadTerm(s, &i, &total));
  }
  return static_cast<int64_t>(std::llround(total));
}

ltx::Result<int64_t> ParseDurationInRange(std::string_view what, std::string_view text,
                                          int64_t lo_ms, int64_t hi_ms) {
  auto ms = ParseDuration(text);
  if (!ms.ok())
    return ltx::Status::InvalidArgument(std::string(what) + ": " + ms.status().message());
  if (*ms >= lo_ms && *ms <= hi_ms) return *ms;
  std::string msg = std::string(what) + ": '" + std::string(Strip(text)) + "' ";
  if (IsAllDigits(Strip(text)))
    msg += "(" + FormatDuration(*ms) + ": a number without a unit is milliseconds) ";
  return ltx::Status::InvalidArgument(msg + "is not between " + FormatDuration(lo_ms) + " and " +
                                      FormatDuration(hi_ms));
}

std::string FormatDuration(int64_t ms) {
  if (ms == 0) return "0";
  if (ms % 3600000 == 0) return std::to_string(ms / 3600000) + "h";
  if (ms % 60000 == 0) return std::to_string(ms / 60000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace litevfs
