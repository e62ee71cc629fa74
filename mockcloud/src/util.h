// Small helpers shared by the mockcloud server: request-parameter parsing with precise
// errors, name validation (the only thing standing between a URL and the file system),
// base64, RFC 3339 time, CSPRNG ids and durable file-system steps (fsync of files and dirs).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ltx/format.h"
#include "ltx/status.h"

namespace mockcloud {

using ltx::Pos;
using ltx::Result;
using ltx::Status;

// Cluster and database names: 1..255 bytes of [A-Za-z0-9._-], not starting with '.', no "..".
// `what` names the parameter in the message ("db", "cluster").
Status ValidateName(std::string_view name, std::string_view what);

// "%016x/%016x", exactly 16 hex digits each.
Result<Pos> ParsePosParam(std::string_view s);
// Comma-separated decimal page numbers, each 1..2^31-1, or ranges "A-B" (A <= B, every page
// between; extension pgno-ranges), at most `max_count` pages in all. Returned sorted and
// de-duplicated.
Result<std::vector<uint32_t>> ParsePgnoList(std::string_view s, size_t max_count);
// Unsigned decimal, no sign, no spaces, no overflow.
Result<uint64_t> ParseUint(std::string_view s, std::string_view what);
// "250ms", "20s", "5m", "1h", "2d" or plain milliseconds ("1500").
Result<int64_t> ParseDurationMs(std::string_view s);
// "host:port" (port 0..65535); "[::1]:80" allowed.
Status ParseListen(std::string_view s, std::string* host, int* port);

std::string Base64Encode(std::string_view data);
// "2026-11-21T07:30:42.123Z" for a Unix time in ms.
std::string FormatRfc3339Ms(int64_t unix_ms);
int64_t NowUnixMs();

// n random bytes from the kernel CSPRNG (getrandom), hex encoded (2n chars).
Result<std::string> RandomHex(size_t nbytes);

// Constant-time equality (time depends only on the lengths).
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// Durable file-system steps.
Status FsyncPath(const std::string& path);  // file or directory
Status MakeDirs(const std::string& path);
std::vector<std::string> ListDir(const std::string& path);  // sorted names; none if unreadable   // mkdir -p, fsyncing each created level's parent
Status WriteAll(int fd, const void* data, size_t n);
Status PwriteAll(int fd, const void* data, size_t n, uint64_t off);
Status PreadAll(int fd, void* data, size_t n, uint64_t off);  // short read = Corruption
std::string ErrnoText(const std::string& what, const std::string& path);

// The wire code of a write refused because the disk is full (HTTP 507).
inline constexpr char kApiNoSpace[] = "ENOSPACE";
// A failed write step (errno set by it) as a Status: ENOSPC and EDQUOT are kResourceExhausted
// with api code ENOSPACE (nothing was stored; retrying cannot help until space is freed),
// anything else IOError. `what` names the step ("pwrite", "fdatasync"), `path` the file.
Status WriteErrno(const std::string& what, const std::string& path);

}  // namespace mockcloud
