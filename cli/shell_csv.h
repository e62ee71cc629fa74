// A streaming CSV reader (RFC 4180) for `.import`: fields separated by commas, records by
// LF or CRLF; a field in double quotes may hold commas, quotes (doubled) and line breaks.
// A UTF-8 byte-order mark at the start is skipped. Malformed input is an error naming the
// line, never a silently shifted row.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

namespace cli {

class CsvReader {
 public:
  // `in` is borrowed and must stay open while the reader is used.
  explicit CsvReader(FILE* in) : in_(in) {}
  // The next record into *row: true; false at the end of the input or on an error
  // (error() is then non-empty).
  bool Next(std::vector<std::string>* row);
  const std::string& error() const { return error_; }
  // The line the last record returned by Next() started on (1-based).
  long record_line() const { return record_line_; }

 private:
  int Raw();  // the next byte, from pushed_ first
  int Get();  // Raw(), counting lines
  void Unget(int c) { pushed_.push_back(c); }
  bool QuotedField(std::string* field);

  FILE* in_;
  long line_ = 1;
  long record_line_ = 0;
  bool started_ = false;
  std::vector<int> pushed_;  // bytes read ahead and given back, last one first
  std::string error_;
};

}  // namespace cli
