#include "import_source.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "common.h"
#include "ltx/coding.h"
#include "ltx/fd_io.h"
#include "ltx/format.h"
#include "vfs/src/sqlite_format.h"

namespace cli {
namespace {

namespace fs = std::filesystem;

// SQLite file format: vfs/src/sqlite_format.h.
using litevfs::sqlite_format::kHeaderSize;
constexpr int kMaxIntegrityRows = 10;  // problems quoted in the error
// The VFS SQLite uses for local files here, whatever the process's default VFS is.
constexpr const char* kLocalVfs = "unix";

uint64_t SizeIfExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
}

void RequireRegularFile(const std::string& path, struct stat* st) {
  if (::stat(path.c_str(), st) != 0) throw CliError(path + ": " + std::strerror(errno));
  if (S_ISDIR(st->st_mode)) throw CliError(path + ": is a directory (want a SQLite database file)");
  if (!S_ISREG(st->st_mode))
    throw CliError(path + ": not a regular file (want a SQLite database file)");
}

void ReadHeader(const std::string& path, uint8_t (&hdr)[kHeaderSize], uint64_t file_size) {
  if (file_size == 0)
    throw CliError(path + ": empty file (a SQLite database has at least one page)");
  if (file_size < kHeaderSize)
    throw CliError(path + ": not a SQLite database (shorter than its header)");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw CliError(path + ": " + std::strerror(errno));
  const ssize_t n = ltx::PreadFull(fd, hdr, kHeaderSize, 0);
  ::close(fd);
  if (n < 0) throw CliError(path + ": " + std::strerror(int(-n)));
  if (size_t(n) != kHeaderSize) throw CliError(path + ": not a SQLite database (short header)");
  if (!litevfs::sqlite_format::HasMagic(std::span<const uint8_t>(hdr, kHeaderSize))) {
    throw CliError(path + ": not a SQLite database (bad magic)");
  }
}

// '%', '?' and '#' would end or change a URI's path.
std::string UriPath(const std::string& path) {
  std::string out;
  for (char c : path) {
    if (c == '%')
      out += "%25";
    else if (c == '?')
      out += "%3f";
    else if (c == '#')
      out += "%23";
    else
      out += c;
  }
  return out;
}

struct SqliteCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, SqliteCloser>;

Db OpenLocal(const std::string& uri, int flags, const std::string& path) {
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(uri.c_str(), &raw, flags | SQLITE_OPEN_URI, kLocalVfs);
  Db db(raw);
  if (rc != SQLITE_OK) {
    throw CliError(path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
  }
  return db;
}

// Runs `sql` and returns the first column of each row (at most `max_rows`).
std::vector<std::string> Rows(sqlite3* db, const char* sql, const std::string& path,
                              int max_rows = 1) {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) {
    throw CliError(path + ": " + sql + ": " + sqlite3_errmsg(db));
  }
  std::vector<std::string> rows;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const auto* t = sqlite3_column_text(stmt, 0);
    if (int(rows.size()) < max_rows) rows.emplace_back(t ? reinterpret_cast<const char*>(t) : "");
  }
  sqlite3_finalize(stmt);
  if (rc != SQLITE_DONE) throw CliError(path + ": " + sql + ": " + sqlite3_errmsg(db));
  return rows;
}

void IntegrityCheck(const std::string& path, bool immutable) {
  // immutable: FILE has no journal or WAL to apply, and SQLite must not create one beside it.
  const std::string uri = "file:" + UriPath(path) + (immutable ? "?immutable=1" : "?mode=ro");
  Db db = OpenLocal(uri, SQLITE_OPEN_READONLY, path);
  const auto rows = Rows(db.get(), "PRAGMA integrity_check", path, kMaxIntegrityRows);
  if (rows.size() == 1 && rows[0] == "ok") return;
  std::string msg = path + ": PRAGMA integrity_check failed (--check):";
  for (const auto& r : rows) msg += "\n  " + r;
  throw CliError(msg);
}

}  // namespace

DbFileInfo InspectDbFile(const std::string& path) {
  struct stat st {};
  RequireRegularFile(path, &st);
  uint8_t hdr[kHeaderSize];
  ReadHeader(path, hdr, uint64_t(st.st_size));
  namespace fmt = litevfs::sqlite_format;
  const std::span<const uint8_t> header(hdr, kHeaderSize);
  const uint32_t page_size = fmt::HeaderPageSize(header);
  if (!ltx::IsValidPageSize(page_size)) {
    throw CliError(path + ": invalid page size " + std::to_string(page_size) + " in header");
  }
  DbFileInfo info{page_size, 0, uint64_t(st.st_size)};
  if (info.file_size % page_size != 0) {
    throw CliError(path + ": file size " + std::to_string(info.file_size) +
                   " is not a multiple of the page size " + std::to_string(page_size));
  }
  if (info.file_size / page_size > 0xFFFFFFFEull) throw CliError(path + ": database too large");
  info.page_count = uint32_t(info.file_size / page_size);
  const uint32_t header_pages = fmt::HeaderDatabaseSize(header);
  const bool header_valid = fmt::HeaderDatabaseSizeValid(header);
  if (header_valid && header_pages != info.page_count) {
    throw CliError(path + ": its header says " + std::to_string(header_pages) +
                   " pages but the file holds " + std::to_string(info.page_count) + " (" +
                   std::to_string(info.file_size) + " bytes): the file is " +
                   (header_pages > info.page_count ? "truncated" : "longer than its database") +
                   "; recover it with sqlite3 (.recover) or import an intact copy");
  }
  return info;
}

ImportSource::ImportSource(const std::string& file, bool check) : path_(file) {
  struct stat st {};
  RequireRegularFile(file, &st);
  if (SizeIfExists(file + "-wal") > 0) {
    ApplySidecarOnCopy(file, file + "-wal", true);
  } else if (SizeIfExists(file + "-journal") > 0) {
    ApplySidecarOnCopy(file, file + "-journal", false);
  }
  info_ = InspectDbFile(path_);
  if (check) IntegrityCheck(path_, copy_dir_.empty());
}

ImportSource::~ImportSource() {
  remove_copy_.reset();
  std::error_code ec;
  if (!copy_dir_.empty()) fs::remove_all(copy_dir_, ec);
}

void ImportSource::ApplySidecarOnCopy(const std::string& file, const std::string& sidecar,
                                      bool wal) {
  std::error_code ec;
  const fs::path tmp = fs::temp_directory_path(ec);
  if (ec)
    throw CliError("temporary directory: " + ec.message() + "; set TMPDIR to a writable directory");
  std::string tmpl = (tmp / "litevfs-import-src-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    throw CliError("create " + tmpl + ": " + std::strerror(errno) +
                   "; set TMPDIR to a writable directory");
  }
  copy_dir_ = tmpl;
  const std::string dir = copy_dir_;
  remove_copy_ = std::make_unique<OnInterrupt>([dir] {
    std::error_code ignored;  // best effort while the process dies of a signal
    fs::remove_all(dir, ignored);
  });
  const std::string copy = (fs::path(copy_dir_) / fs::path(file).filename()).string();
  const std::string copy_sidecar = copy + (wal ? "-wal" : "-journal");
  for (const auto& [from, to] : {std::pair{file, copy}, std::pair{sidecar, copy_sidecar}}) {
    if (!fs::copy_file(from, to, ec)) {
      throw CliError("copy " + from + " to " + to + ": " + ec.message() +
                     " (a private copy needs as much space as the database; set TMPDIR)");
    }
  }
  {
    Db db = OpenLocal("file:" + UriPath(copy), SQLITE_OPEN_READWRITE, file);
    Rows(db.get(), "SELECT count(*) FROM sqlite_schema", file);  // rolls a hot journal back
    if (wal &&
        Rows(db.get(), "PRAGMA wal_checkpoint(TRUNCATE)", file) != std::vector<std::string>{"0"}) {
      throw CliError(sidecar + ": SQLite could not checkpoint it into a copy of " + file);
    }
  }
  path_ = copy;
  applied_ = wal ? "checkpointed " + sidecar + " into a private copy, as SQLite would read it"
                 : "applied " + sidecar +
                       " to a private copy the way SQLite does (a hot journal "
                       "is rolled back)";
}

}  // namespace cli
