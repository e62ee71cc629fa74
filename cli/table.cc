#include "table.h"

#include <algorithm>
#include <iostream>

namespace cli {

std::string TabWriter::Render() const {
  std::vector<size_t> widths;
  for (const auto& row : rows_) {
    // The last cell of a row is not tab-terminated, so it does not size a column.
    for (size_t i = 0; i + 1 < row.size(); ++i) {
      if (widths.size() <= i) widths.resize(i + 1, 0);
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  std::string out;
  for (const auto& row : rows_) {
    for (size_t i = 0; i < row.size(); ++i) {
      out += row[i];
      if (i + 1 < row.size()) out.append(widths[i] + kPadding - row[i].size(), ' ');
    }
    out += '\n';
  }
  return out;
}

void TabWriter::Flush() {
  std::cout << Render() << std::flush;
  rows_.clear();
}

}  // namespace cli
