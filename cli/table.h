// Aligned text tables, as Go's text/tabwriter prints them (ls, log, ltx list).
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace cli {

// Go text/tabwriter(minwidth 0, tabwidth 8, padding 2, ' ', 0): cells are tab-separated,
// every cell but a line's last is padded to its column's width + 2.
class TabWriter {
 public:
  void Row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }
  std::string Render() const;
  void Flush();  // writes to stdout and clears

 private:
  static constexpr size_t kPadding = 2;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace cli
