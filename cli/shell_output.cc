#include "shell_output.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace cli {
namespace {

constexpr size_t kTabStop = 8;

Cell ReadCell(sqlite3_stmt* stmt, int i) {
  Cell c;
  c.type = sqlite3_column_type(stmt, i);
  if (c.type == SQLITE_BLOB) {
    const auto* p = static_cast<const unsigned char*>(sqlite3_column_blob(stmt, i));
    int n = sqlite3_column_bytes(stmt, i);
    static const char* kHex = "0123456789ABCDEF";
    c.text = "X'";
    for (int k = 0; k < n; ++k) {
      c.text += kHex[p[k] >> 4];
      c.text += kHex[p[k] & 0xF];
    }
    c.text += "'";
  } else if (c.type != SQLITE_NULL) {
    const unsigned char* t = sqlite3_column_text(stmt, i);
    c.text.assign(reinterpret_cast<const char*>(t), size_t(sqlite3_column_bytes(stmt, i)));
  }
  return c;
}

// Display width: UTF-8 code points (continuation bytes do not count).
size_t Width(std::string_view s) {
  size_t n = 0;
  for (unsigned char ch : s) n += (ch & 0xC0) != 0x80;
  return n;
}

void Put(FILE* out, std::string_view s) { std::fwrite(s.data(), 1, s.size(), out); }

}  // namespace

std::vector<std::string> DisplayLines(std::string_view s) {
  std::vector<std::string> lines(1);
  size_t col = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\r' && i + 1 < s.size() && s[i + 1] == '\n') continue;
    if (c == '\n' || c == '\r') {
      lines.emplace_back();
      col = 0;
    } else if (c == '\t') {
      const size_t n = kTabStop - col % kTabStop;
      lines.back().append(n, ' ');
      col += n;
    } else if (c < 0x20 || c == 0x7f) {
      lines.back() += '^';
      lines.back() += char(c ^ 0x40);
      col += 2;
    } else {
      lines.back() += char(c);
      col += (c & 0xC0) != 0x80;
    }
  }
  return lines;
}

Cell ResultPrinter::Read(sqlite3_stmt* stmt, int i) const {
  Cell c = ReadCell(stmt, i);
  if (c.type == SQLITE_NULL) c.text = null_text_;
  return c;
}

std::optional<OutputMode> ParseOutputMode(std::string_view s) {
  if (s == "table") return OutputMode::kTable;
  if (s == "csv") return OutputMode::kCsv;
  if (s == "json") return OutputMode::kJson;
  if (s == "line") return OutputMode::kLine;
  return std::nullopt;
}

const char* OutputModeName(OutputMode m) {
  switch (m) {
    case OutputMode::kTable:
      return "table";
    case OutputMode::kCsv:
      return "csv";
    case OutputMode::kJson:
      return "json";
    case OutputMode::kLine:
      return "line";
  }
  return "?";
}

std::string CsvQuote(std::string_view s) {
  if (s.find_first_of(",\"\r\n") == std::string_view::npos) return std::string(s);
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

void ResultPrinter::Begin(sqlite3_stmt* stmt) {
  names_.clear();
  rows_.clear();
  row_count_ = 0;
  for (int i = 0; i < sqlite3_column_count(stmt); ++i) {
    const char* n = sqlite3_column_name(stmt, i);
    names_.emplace_back(n ? n : "");
  }
}

void ResultPrinter::Row(sqlite3_stmt* stmt) {
  const int n = int(names_.size());
  switch (mode_) {
    case OutputMode::kTable: {
      std::vector<Cell> row;
      for (int i = 0; i < n; ++i) row.push_back(Read(stmt, i));
      rows_.push_back(std::move(row));
      break;
    }
    case OutputMode::kCsv: {
      if (row_count_ == 0 && headers_) {
        for (int i = 0; i < n; ++i) Put(out_, (i ? "," : "") + CsvQuote(names_[size_t(i)]));
        Put(out_, "\n");
      }
      for (int i = 0; i < n; ++i) {
        Cell c = Read(stmt, i);
        Put(out_, (i ? "," : "") + CsvQuote(c.text));
      }
      Put(out_, "\n");
      break;
    }
    case OutputMode::kJson: {
      nlohmann::ordered_json obj = nlohmann::ordered_json::object();
      for (int i = 0; i < n; ++i) {
        const std::string& name = names_[size_t(i)];
        switch (sqlite3_column_type(stmt, i)) {
          case SQLITE_INTEGER:
            obj[name] = sqlite3_column_int64(stmt, i);
            break;
          case SQLITE_FLOAT:
            obj[name] = sqlite3_column_double(stmt, i);
            break;
          case SQLITE_NULL:
            obj[name] = nullptr;
            break;
          default: {
            Cell c = ReadCell(stmt, i);
            obj[name] = c.text;
          }
        }
      }
      Put(out_, row_count_ == 0 ? "[" : ",");
      Put(out_, obj.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      break;
    }
    case OutputMode::kLine: {
      size_t w = 0;
      for (const auto& name : names_) w = std::max(w, Width(name));
      if (row_count_ > 0) Put(out_, "\n");
      for (int i = 0; i < n; ++i) {
        const std::string& name = names_[size_t(i)];
        Cell c = Read(stmt, i);
        const std::string shown = color_ ? "\033[1m" + name + "\033[0m" : name;
        Put(out_, std::string(w - Width(name), ' ') + shown + " = " + c.text + "\n");
      }
      break;
    }
  }
  ++row_count_;
}

void ResultPrinter::End() {
  if (mode_ == OutputMode::kJson && !names_.empty()) Put(out_, row_count_ == 0 ? "[]\n" : "]\n");
  // sqlite3 prints nothing for an empty result in table mode.
  if (mode_ == OutputMode::kTable && !names_.empty() && !rows_.empty()) PrintTable();
  rows_.clear();
  std::fflush(out_);
}

// Like sqlite3's table mode: a multi-line value takes several lines of its row, and when
// any row does, a separator follows every row so that rows stay distinguishable.
void ResultPrinter::PrintTable() {
  using Lines = std::vector<std::string>;
  struct Row {
    std::vector<Lines> cells;
    std::vector<bool> right;
    size_t height = 1;
  };
  std::vector<size_t> w(names_.size(), 0);
  auto make = [&](const std::vector<std::string>& texts, const std::vector<bool>& right) {
    Row r{{}, right, 1};
    for (size_t i = 0; i < texts.size(); ++i) {
      r.cells.push_back(DisplayLines(texts[i]));
      r.height = std::max(r.height, r.cells.back().size());
      for (const auto& l : r.cells.back()) w[i] = std::max(w[i], Width(l));
    }
    return r;
  };
  Row header;
  if (headers_) header = make(names_, std::vector<bool>(names_.size(), false));
  std::vector<Row> rows;
  bool multi = false;
  for (const auto& cells : rows_) {
    std::vector<std::string> texts;
    std::vector<bool> right;
    for (const auto& c : cells) {
      texts.push_back(c.text);
      right.push_back(c.type == SQLITE_INTEGER || c.type == SQLITE_FLOAT);
    }
    rows.push_back(make(texts, right));
    multi = multi || rows.back().height > 1;
  }
  std::string sep = "+";
  for (size_t x : w) sep += std::string(x + 2, '-') + "+";
  sep += "\n";
  auto print = [&](const Row& r, bool bold) {
    for (size_t k = 0; k < r.height; ++k) {
      std::string s = "|";
      for (size_t i = 0; i < r.cells.size(); ++i) {
        const std::string& text = k < r.cells[i].size() ? r.cells[i][k] : std::string();
        const std::string pad(w[i] - Width(text), ' ');
        const std::string cell = bold ? "\033[1m" + text + "\033[0m" : text;
        s += " " + (r.right[i] ? pad + cell : cell + pad) + " |";
      }
      Put(out_, s + "\n");
    }
  };
  Put(out_, sep);
  if (headers_) {
    print(header, color_);
    Put(out_, sep);
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    print(rows[i], false);
    if (multi && i + 1 < rows.size()) Put(out_, sep);
  }
  Put(out_, sep);
}

}  // namespace cli
