// Result formatting for `litevfs shell`: the table/csv/json/line modes of the sqlite3
// shell. A ResultPrinter receives one statement's rows and prints them to a FILE*.
#pragma once

#include <sqlite3.h>

#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cli {

enum class OutputMode { kTable, kCsv, kJson, kLine };
std::optional<OutputMode> ParseOutputMode(std::string_view s);
const char* OutputModeName(OutputMode m);

// One value as the shell shows it (NULL → the null text, blob → X'hex').
struct Cell {
  int type = SQLITE_NULL;
  std::string text;
};

class ResultPrinter {
 public:
  ResultPrinter(OutputMode mode, bool headers, FILE* out)
      : mode_(mode), headers_(headers), out_(out) {}
  // Columns of the statement about to be stepped (call once, before rows).
  void Begin(sqlite3_stmt* stmt);
  void Row(sqlite3_stmt* stmt);
  // Bold column names (ANSI escapes); only for a terminal, the caller decides.
  void set_color(bool on) { color_ = on; }
  // How NULL is shown in table, csv and line modes (json prints null).
  void set_null_text(std::string s) { null_text_ = std::move(s); }
  // Prints what is buffered (table mode buffers to size the columns; json closes the array:
  // each statement with result columns is one JSON array on one line, [] when it has no rows).
  void End();

 private:
  Cell Read(sqlite3_stmt* stmt, int i) const;
  void PrintTable();
  OutputMode mode_;
  bool headers_;
  bool color_ = false;
  std::string null_text_;
  FILE* out_;
  std::vector<std::string> names_;
  std::vector<std::vector<Cell>> rows_;  // table mode only
  size_t row_count_ = 0;
};

std::string CsvQuote(std::string_view s);
// A value as table mode shows it: one string per line (split at LF, CRLF or CR), tabs
// expanded to the next multiple of 8 columns, other control characters as ^X so that no
// value can move the cursor and break the alignment.
std::vector<std::string> DisplayLines(std::string_view s);

}  // namespace cli
