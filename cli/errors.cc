#include "errors.h"

namespace cli {

std::string Describe(const ltx::Status& s, std::string_view context) {
  std::string msg = s.message().empty() ? s.ToString() : s.message();
  if (context.empty()) return msg;
  // Library messages often name the file already ("PATH: ltx: ..."): do not repeat it.
  if (msg.size() > context.size() && msg.compare(0, context.size(), context) == 0 &&
      msg[context.size()] == ':') {
    return msg;
  }
  return std::string(context) + ": " + msg;
}

std::string ErrorText(std::string_view msg) {
  static constexpr std::string_view kOwn = "litevfs: ";
  std::string out;
  for (size_t i = 0; i < msg.size();) {
    const bool at_start = i == 0 || (i >= 2 && msg.substr(i - 2, 2) == ": ");
    if (at_start && msg.substr(i, kOwn.size()) == kOwn) {
      i += kOwn.size();
      continue;
    }
    out += msg[i++];
  }
  return out;
}

}  // namespace cli
