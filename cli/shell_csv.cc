#include "shell_csv.h"

namespace cli {
namespace {

constexpr unsigned char kBom[] = {0xEF, 0xBB, 0xBF};

}  // namespace

int CsvReader::Raw() {
  if (pushed_.empty()) return getc_unlocked(in_);
  const int c = pushed_.back();
  pushed_.pop_back();
  return c;
}

int CsvReader::Get() {
  const int c = Raw();
  if (c == '\n') ++line_;
  return c;
}

// After the opening quote: up to and including the closing one.
bool CsvReader::QuotedField(std::string* field) {
  const long start = line_;
  for (;;) {
    int c = Get();
    if (c == EOF) {
      error_ = "line " + std::to_string(start) +
               ": a quoted field starts here and never ends (a missing closing \")";
      return false;
    }
    if (c == '"') {
      c = Raw();
      if (c != '"') {
        if (c != EOF) Unget(c);
        return true;
      }
    }
    *field += char(c);
  }
}

bool CsvReader::Next(std::vector<std::string>* row) {
  row->clear();
  if (!started_) {
    started_ = true;
    int got[3];
    int n = 0;
    while (n < 3 && (got[n] = Raw()) == kBom[n]) ++n;
    if (n < 3) {  // no byte-order mark: give back what was read, in order
      if (got[n] != EOF) Unget(got[n]);
      while (n > 0) Unget(kBom[--n]);
    }
  }
  int c = Get();
  if (c == EOF) {
    if (std::ferror(in_)) error_ = "read error";
    return false;
  }
  record_line_ = line_ - (c == '\n' ? 1 : 0);
  std::string field;
  for (;;) {
    if (c == '"' && field.empty()) {
      if (!QuotedField(&field)) return false;
      c = Get();
      if (c != ',' && c != '\n' && c != '\r' && c != EOF) {
        error_ = "line " + std::to_string(line_) + ": '" + std::string(1, char(c)) +
                 "' after a closing quote (a quote inside a quoted field must be doubled)";
        return false;
      }
      continue;
    }
    if (c == '\r') {
      const int next = Raw();
      if (next == '\n') {
        ++line_;
        c = '\n';
      } else if (next != EOF) {
        Unget(next);
      }
    }
    if (c == ',' || c == '\n' || c == EOF) {
      row->push_back(std::move(field));
      field.clear();
      if (c != ',') return !std::ferror(in_) || ((error_ = "read error"), false);
    } else {
      field += char(c);
    }
    c = Get();
  }
}

}  // namespace cli
