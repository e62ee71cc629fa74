#include "rfc3339.h"

#include <time.h>

#include <cctype>
#include <string>

namespace mockcloud {
namespace {

// Reads exactly n digits at s[*i]; false if they are not there.
bool Digits(std::string_view s, size_t* i, int n, int* out) {
  if (*i + size_t(n) > s.size()) return false;
  int v = 0;
  for (int k = 0; k < n; k++) {
    const char c = s[*i + size_t(k)];
    if (!isdigit(static_cast<unsigned char>(c))) return false;
    v = v * 10 + (c - '0');
  }
  *i += size_t(n);
  *out = v;
  return true;
}

bool Expect(std::string_view s, size_t* i, std::string_view chars) {
  if (*i >= s.size() || chars.find(s[*i]) == std::string_view::npos) return false;
  ++*i;
  return true;
}

// Fraction after the seconds (any number of digits; milliseconds kept) and the zone.
bool ParseTail(std::string_view s, size_t i, int* ms, int* offset_min) {
  *ms = 0;
  if (i < s.size() && s[i] == '.') {
    i++;
    int scale = 100, n = 0;
    while (i < s.size() && isdigit(static_cast<unsigned char>(s[i]))) {
      *ms += (s[i] - '0') * scale;
      scale /= 10;
      i++;
      n++;
    }
    if (n == 0) return false;
  }
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    *offset_min = 0;
    return i + 1 == s.size();
  }
  int sign = 0, hh = 0, mm = 0;
  if (i < s.size()) sign = s[i] == '+' ? 1 : s[i] == '-' ? -1 : 0;
  if (sign == 0) return false;
  i++;
  if (!Digits(s, &i, 2, &hh) || !Expect(s, &i, ":") || !Digits(s, &i, 2, &mm)) return false;
  *offset_min = sign * (hh * 60 + mm);
  return i == s.size() && hh < 24 && mm < 60;
}

}  // namespace

ltx::Result<int64_t> ParseRfc3339Ms(std::string_view s) {
  size_t i = 0;
  int y, mo, d, h, mi, sec, ms, off;
  const bool ok = Digits(s, &i, 4, &y) && Expect(s, &i, "-") && Digits(s, &i, 2, &mo) &&
                  Expect(s, &i, "-") && Digits(s, &i, 2, &d) && Expect(s, &i, "Tt ") &&
                  Digits(s, &i, 2, &h) && Expect(s, &i, ":") && Digits(s, &i, 2, &mi) &&
                  Expect(s, &i, ":") && Digits(s, &i, 2, &sec) && ParseTail(s, i, &ms, &off) &&
                  mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && sec <= 60;
  if (!ok) {
    return ltx::Status::InvalidArgument("time \"" + std::string(s) +
                                        "\" is not RFC 3339 (like 2026-11-21T07:30:42Z or "
                                        "2026-11-21T08:30:42.5+01:00)");
  }
  struct tm t = {};
  t.tm_year = y - 1900;
  t.tm_mon = mo - 1;
  t.tm_mday = d;
  t.tm_hour = h;
  t.tm_min = mi;
  t.tm_sec = sec;
  const int64_t secs = int64_t(timegm(&t)) - int64_t(off) * 60;
  return secs * 1000 + ms;
}

}  // namespace mockcloud
