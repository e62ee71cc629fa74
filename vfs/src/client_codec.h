// Small, strict codecs the cloud client needs for bytes that come from the network:
// base64 (the plain API's page data), bounded zstd decompression (pages-binary bodies),
// strict decimal/hex header values, RFC 3339 timestamps, and URL query encoding.
// Every decoder rejects anything it does not fully understand with a message that names
// the problem; none allocates more than its caller's bound.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ltx/status.h"

namespace litevfs::internal {

// Standard base64 (RFC 4648 §4, '+' '/', '=' padding required, no whitespace), decoded
// into *out (replaced). Errors name the offending offset.
ltx::Status Base64Decode(std::string_view in, std::string* out);
std::string Base64Encode(std::string_view in);  // for tests and fake servers

// Decompresses one or more concatenated zstd frames into *out (replaced). Fails with
// kCorruption when the output would exceed max_out bytes (checked before allocating, from
// the frame header when it declares a size, and while streaming otherwise), or when the
// input is not valid, complete zstd.
ltx::Status ZstdDecompressBounded(std::string_view in, uint64_t max_out, std::string* out);
// The largest zstd encoding of `raw` bytes (ZSTD_compressBound); `raw` itself in a build
// without zstd (LITEVFS_NO_ZSTD, the browser build), which never asks for it. In a build
// without zstd, ZstdDecompressBounded fails with kUnsupported.
uint64_t ZstdCompressBound(uint64_t raw);

// "4096" -> 4096. Exactly 1..10 ASCII digits, no sign, no leading zeros (except "0"),
// value <= UINT32_MAX.
bool ParseDecimalU32(std::string_view s, uint32_t* out);
// Exactly 16 hex digits (%016x), either case.
bool ParseHex16(std::string_view s, uint64_t* out);
// "%016x/%016x", strict.
bool ParsePosText(std::string_view s, uint64_t* txid, uint64_t* checksum);
// RFC 3339 with optional fractional seconds and 'Z' or ±hh:mm, to Unix milliseconds.
bool ParseRfc3339Millis(std::string_view s, int64_t* out_ms);

// Percent-encodes a query value: unreserved characters and the harmless ",/:" stay literal
// (page lists and positions stay readable), everything else becomes %XX.
std::string UrlEncodeQueryValue(std::string_view s);

// "http://h:p" from "h:p", "http://h:p/", "https://h" ...; kInvalidArgument for other
// schemes or an empty host.
ltx::Result<std::string> NormalizeBaseUrl(std::string_view host);

// Whether a NormalizeBaseUrl() result names this machine: localhost, 127.0.0.0/8 or [::1]
// (by name only, no lookup). The wire is then faster than compression (LITEVFS_WIRE_COMPRESSION).
bool IsLoopbackBaseUrl(std::string_view base_url);

// A printable, bounded excerpt of an arbitrary (possibly binary) body for error messages.
std::string BodyExcerpt(std::string_view body, size_t max_len = 200);

}  // namespace litevfs::internal
