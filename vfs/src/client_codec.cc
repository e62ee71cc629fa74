// Strict codecs for bytes from the network (see client_codec.h).
#include "client_codec.h"

#ifndef LITEVFS_NO_ZSTD  // the browser build (vfs/wasm) has no zstd: it asks for identity bodies
#include <zstd.h>
#endif

#include <array>
#include <cstring>
#include <ctime>
#include <memory>

namespace litevfs::internal {

namespace {

constexpr char kB64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

// 0..63 for alphabet bytes, 64 for '=', 255 for anything else.
constexpr std::array<uint8_t, 256> MakeB64Table() {
  std::array<uint8_t, 256> t{};
  for (auto& v : t) v = 255;
  for (int i = 0; i < 64; i++) t[static_cast<uint8_t>(kB64Alphabet[i])] = uint8_t(i);
  t['='] = 64;
  return t;
}
constexpr std::array<uint8_t, 256> kB64Table = MakeB64Table();

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool ParseFixedDigits(std::string_view s, size_t off, size_t n, int* out) {
  if (off + n > s.size()) return false;
  int v = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[off + i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  *out = v;
  return true;
}

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm), so
// parsing does not depend on timegm or the process time zone.
int64_t DaysFromCivil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

bool IsLeap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

}  // namespace

ltx::Status Base64Decode(std::string_view in, std::string* out) {
  out->clear();
  if (in.size() % 4 != 0) {
    return ltx::Status::Corruption("base64: length " + std::to_string(in.size()) +
                                   " is not a multiple of 4");
  }
  out->resize(in.size() / 4 * 3);
  auto* dst = reinterpret_cast<uint8_t*>(out->data());
  size_t o = 0;
  for (size_t i = 0; i < in.size(); i += 4) {
    uint8_t v[4];
    for (int k = 0; k < 4; k++) {
      v[k] = kB64Table[static_cast<uint8_t>(in[i + k])];
      if (v[k] == 255) {
        return ltx::Status::Corruption("base64: invalid character at offset " +
                                       std::to_string(i + k));
      }
    }
    const bool last = i + 4 == in.size();
    if (v[0] == 64 || v[1] == 64 || (v[2] == 64 && v[3] != 64) || (!last && (v[2] == 64 || v[3] == 64))) {
      return ltx::Status::Corruption("base64: misplaced padding at offset " + std::to_string(i));
    }
    dst[o++] = uint8_t((v[0] << 2) | (v[1] >> 4));
    if (v[2] == 64) {
      if ((v[1] & 0x0f) != 0) return ltx::Status::Corruption("base64: non-canonical final quantum");
      break;
    }
    dst[o++] = uint8_t((v[1] << 4) | (v[2] >> 2));
    if (v[3] == 64) {
      if ((v[2] & 0x03) != 0) return ltx::Status::Corruption("base64: non-canonical final quantum");
      break;
    }
    dst[o++] = uint8_t((v[2] << 6) | v[3]);
  }
  out->resize(o);
  return ltx::Status::OK();
}

std::string Base64Encode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  size_t i = 0;
  for (; i + 3 <= in.size(); i += 3) {
    uint32_t v = (uint32_t(p[i]) << 16) | (uint32_t(p[i + 1]) << 8) | p[i + 2];
    out.push_back(kB64Alphabet[(v >> 18) & 63]);
    out.push_back(kB64Alphabet[(v >> 12) & 63]);
    out.push_back(kB64Alphabet[(v >> 6) & 63]);
    out.push_back(kB64Alphabet[v & 63]);
  }
  if (size_t rem = in.size() - i; rem > 0) {
    uint32_t v = uint32_t(p[i]) << 16;
    if (rem == 2) v |= uint32_t(p[i + 1]) << 8;
    out.push_back(kB64Alphabet[(v >> 18) & 63]);
    out.push_back(kB64Alphabet[(v >> 12) & 63]);
    out.push_back(rem == 2 ? kB64Alphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

uint64_t ZstdCompressBound(uint64_t raw) {
#ifdef LITEVFS_NO_ZSTD
  return raw;  // never offered zstd: bodies come identity-encoded
#else
  return ZSTD_compressBound(raw);
#endif
}

ltx::Status ZstdDecompressBounded(std::string_view in, uint64_t max_out, std::string* out) {
  out->clear();
#ifdef LITEVFS_NO_ZSTD
  (void)in, (void)max_out;
  return ltx::Status::Unsupported(
      "zstd: this build of litevfs has no zstd decoder (it never offers Accept-Encoding: zstd)");
#else
  struct DCtxDeleter {
    void operator()(ZSTD_DCtx* d) const { ZSTD_freeDCtx(d); }
  };
  std::unique_ptr<ZSTD_DCtx, DCtxDeleter> dctx(ZSTD_createDCtx());
  if (!dctx) return ltx::Status::ResourceExhausted("zstd: cannot allocate a decompression context");

  // The window is memory the decoder allocates on the frame's say-so: keep it near what the
  // bound allows. The floor (8 MiB) admits frames a streaming compressor writes at levels
  // up to 19 even for a small body, whose header then carries no content size.
  int window_log = 23;
  while (window_log < 27 && (uint64_t{1} << window_log) < max_out) window_log++;
  ZSTD_DCtx_setParameter(dctx.get(), ZSTD_d_windowLogMax, window_log);

  // A frame that declares its size lets us refuse (or size the buffer) up front.
  unsigned long long declared = ZSTD_getFrameContentSize(in.data(), in.size());
  if (declared == ZSTD_CONTENTSIZE_ERROR) {
    return ltx::Status::Corruption("zstd: body is not a zstd frame");
  }
  if (declared != ZSTD_CONTENTSIZE_UNKNOWN) {
    if (declared > max_out) {
      return ltx::Status::Corruption("zstd: frame declares " + std::to_string(declared) +
                                     " bytes, more than the " + std::to_string(max_out) +
                                     " this response may hold");
    }
    out->reserve(static_cast<size_t>(declared));
  }

  ZSTD_inBuffer input{in.data(), in.size(), 0};
  size_t last_ret = 1;
  constexpr size_t kChunk = 64 * 1024;
  while (input.pos < input.size || last_ret != 0) {
    size_t old = out->size();
    uint64_t room = max_out - old;
    // Ask for one byte beyond the bound so an overflow is detected, never stored beyond it.
    size_t grow = static_cast<size_t>(std::min<uint64_t>(kChunk, room + 1));
    out->resize(old + grow);
    ZSTD_outBuffer output{out->data() + old, grow, 0};
    size_t before_in = input.pos;
    last_ret = ZSTD_decompressStream(dctx.get(), &output, &input);
    out->resize(old + output.pos);
    if (ZSTD_isError(last_ret)) {
      out->clear();
      return ltx::Status::Corruption(std::string("zstd: ") + ZSTD_getErrorName(last_ret));
    }
    if (out->size() > max_out) {
      out->clear();
      return ltx::Status::Corruption("zstd: decompressed body exceeds the " +
                                     std::to_string(max_out) + " bytes this response may hold");
    }
    if (input.pos == input.size && output.pos == 0 && before_in == input.pos && last_ret != 0) {
      out->clear();
      return ltx::Status::Corruption("zstd: truncated frame");
    }
  }
  return ltx::Status::OK();
#endif
}

bool ParseDecimalU32(std::string_view s, uint32_t* out) {
  if (s.empty() || s.size() > 10) return false;
  if (s.size() > 1 && s[0] == '0') return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + uint64_t(c - '0');
  }
  if (v > UINT32_MAX) return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

bool ParseHex16(std::string_view s, uint64_t* out) {
  if (s.size() != 16) return false;
  uint64_t v = 0;
  for (char c : s) {
    int h = HexValue(c);
    if (h < 0) return false;
    v = (v << 4) | uint64_t(h);
  }
  *out = v;
  return true;
}

bool ParsePosText(std::string_view s, uint64_t* txid, uint64_t* checksum) {
  if (s.size() != 33 || s[16] != '/') return false;
  uint64_t t, c;
  if (!ParseHex16(s.substr(0, 16), &t) || !ParseHex16(s.substr(17), &c)) return false;
  *txid = t;
  *checksum = c;
  return true;
}

bool ParseRfc3339Millis(std::string_view s, int64_t* out_ms) {
  // YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)
  int year, mon, day, hh, mm, ss;
  if (!ParseFixedDigits(s, 0, 4, &year) || s.size() < 20 || s[4] != '-' ||
      !ParseFixedDigits(s, 5, 2, &mon) || s[7] != '-' || !ParseFixedDigits(s, 8, 2, &day) ||
      (s[10] != 'T' && s[10] != 't') || !ParseFixedDigits(s, 11, 2, &hh) || s[13] != ':' ||
      !ParseFixedDigits(s, 14, 2, &mm) || s[16] != ':' || !ParseFixedDigits(s, 17, 2, &ss)) {
    return false;
  }
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (mon < 1 || mon > 12 || day < 1) return false;
  int mdays = kDays[mon - 1] + (mon == 2 && IsLeap(year) ? 1 : 0);
  if (day > mdays || hh > 23 || mm > 59 || ss > 60) return false;
  size_t i = 19;
  int64_t millis = 0;
  if (i < s.size() && s[i] == '.') {
    i++;
    size_t start = i;
    int64_t scale = 100;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
      millis += (s[i] - '0') * scale;  // digits past milliseconds are truncated
      scale /= 10;
      i++;
    }
    if (i == start || i - start > 9) return false;
  }
  int offset_min = 0;
  if (i < s.size() && (s[i] == 'Z' || s[i] == 'z')) {
    i++;
  } else if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    int oh, om;
    if (!ParseFixedDigits(s, i + 1, 2, &oh) || i + 3 >= s.size() || s[i + 3] != ':' ||
        !ParseFixedDigits(s, i + 4, 2, &om) || oh > 23 || om > 59) {
      return false;
    }
    offset_min = (oh * 60 + om) * (s[i] == '-' ? -1 : 1);
    i += 6;
  } else {
    return false;
  }
  if (i != s.size()) return false;
  int64_t days = DaysFromCivil(year, unsigned(mon), unsigned(day));
  int64_t secs = days * 86400 + hh * 3600 + mm * 60 + ss - int64_t(offset_min) * 60;
  *out_ms = secs * 1000 + millis;
  return true;
}

std::string UrlEncodeQueryValue(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~' || c == ',' || c == '/' || c == ':') {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

ltx::Result<std::string> NormalizeBaseUrl(std::string_view host) {
  std::string h(host);
  while (!h.empty() && (h.back() == ' ' || h.back() == '\t')) h.pop_back();
  size_t lead = 0;
  while (lead < h.size() && (h[lead] == ' ' || h[lead] == '\t')) lead++;
  h.erase(0, lead);
  if (h.empty()) return ltx::Status::InvalidArgument("empty host");
  std::string scheme = "http";
  if (auto p = h.find("://"); p != std::string::npos) {
    scheme = h.substr(0, p);
    for (auto& c : scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    h.erase(0, p + 3);
    if (scheme != "http" && scheme != "https") {
      return ltx::Status::InvalidArgument("unsupported scheme \"" + scheme +
                                          "\" (want http or https)");
    }
  }
  while (!h.empty() && h.back() == '/') h.pop_back();
  if (h.empty() || h[0] == '/' || h[0] == ':') {
    return ltx::Status::InvalidArgument("no host name in \"" +
                                        std::string(host) + "\"");
  }
  for (char c : h) {
    if (static_cast<unsigned char>(c) <= ' ' || c == '?' || c == '#') {
      return ltx::Status::InvalidArgument("invalid character in \"" +
                                          std::string(host) + "\"");
    }
  }
  return scheme + "://" + h;
}

bool IsLoopbackBaseUrl(std::string_view base_url) {
  std::string_view h = base_url;
  if (auto p = h.find("://"); p != std::string_view::npos) h.remove_prefix(p + 3);
  h = h.substr(0, h.find('/'));
  if (auto at = h.rfind('@'); at != std::string_view::npos) h.remove_prefix(at + 1);
  if (!h.empty() && h[0] == '[') return h.substr(0, h.find(']') + 1) == "[::1]";
  h = h.substr(0, h.find(':'));
  std::string lower(h);
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "localhost" || lower == "localhost.") return true;
  return lower.rfind("127.", 0) == 0 &&
         lower.find_first_not_of("0123456789.") == std::string::npos;
}

std::string BodyExcerpt(std::string_view body, size_t max_len) {
  std::string out;
  for (size_t i = 0; i < body.size() && out.size() < max_len; i++) {
    auto c = static_cast<unsigned char>(body[i]);
    if (c == '\n' || c == '\r' || c == '\t') {
      out.push_back(' ');
    } else if (c < 0x20 || c >= 0x7f) {
      out.push_back('?');
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (body.size() > max_len) out += "...";
  return out;
}

}  // namespace litevfs::internal
