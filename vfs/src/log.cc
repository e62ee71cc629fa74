#include "log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

namespace litevfs {
namespace {

struct Logger {
  LogLevel level = LogLevel::kError;
  int fd = 2;  // stderr unless LITEVFS_LOG_FILE is set and opens
};

Logger* GetLogger() {
  // Leaked on purpose: never destroyed, so threads may log during exit.
  static Logger* logger = [] {
    auto* l = new Logger();
    if (const char* lv = std::getenv("LITEVFS_LOG_LEVEL"); lv && *lv) {
      if (!ParseLogLevel(lv, &l->level)) {
        std::fprintf(stderr, "litevfs: ignoring LITEVFS_LOG_LEVEL=%s (want error|warn|info|debug|trace)\n", lv);
      }
    }
    if (const char* path = std::getenv("LITEVFS_LOG_FILE"); path && *path) {
      int fd = ::open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
      if (fd >= 0) {
        l->fd = fd;
      } else {
        std::fprintf(stderr, "litevfs: cannot open LITEVFS_LOG_FILE=%s; logging to stderr\n", path);
      }
    }
    return l;
  }();
  return logger;
}

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kError: return "ERROR";
    case LogLevel::kWarn: return "WARN";
    case LogLevel::kInfo: return "INFO";
    case LogLevel::kDebug: return "DEBUG";
    case LogLevel::kTrace: return "TRACE";
  }
  return "?";
}

}  // namespace

bool ParseLogLevel(std::string_view s, LogLevel* out) {
  std::string l;
  for (char c : s) l.push_back(char(std::tolower(static_cast<unsigned char>(c))));
  if (l == "error") *out = LogLevel::kError;
  else if (l == "warn" || l == "warning") *out = LogLevel::kWarn;
  else if (l == "info") *out = LogLevel::kInfo;
  else if (l == "debug") *out = LogLevel::kDebug;
  else if (l == "trace") *out = LogLevel::kTrace;
  else return false;
  return true;
}

bool LogToStderr() { return GetLogger()->fd == 2; }

bool LogEnabled(LogLevel level) { return static_cast<int>(level) <= static_cast<int>(GetLogger()->level); }

void LogLine(LogLevel level, std::string_view db, const ltx::Pos& pos, std::string_view msg) {
  Logger* l = GetLogger();
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  time_t secs = time_t(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char ts[64];
  std::snprintf(ts, sizeof ts, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, int(ms % 1000));
  std::string line;
  line.reserve(96 + msg.size());
  line += ts;
  line += ' ';
  line += LevelName(level);
  line += " db=";
  line += db.empty() ? std::string_view("-") : db;
  line += " pos=";
  line += pos.IsZero() ? std::string("-") : ltx::FormatPos(pos);
  line += ' ';
  for (char c : msg) line.push_back(c == '\n' ? ' ' : c);  // one line per event
  line += '\n';
  // One write() per line: O_APPEND keeps lines whole across threads and processes.
  ssize_t n = ::write(l->fd, line.data(), line.size());
  (void)n;  // nowhere left to report a failed log write
}

}  // namespace litevfs
