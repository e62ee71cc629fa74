#include "write_mode.h"

#include <cctype>
#include <cstdlib>

#include "litevfs/process_config.h"

namespace litevfs {

ltx::Result<WriteMode> ParseWriteMode(std::string_view what, std::string_view v) {
  std::string s;
  for (char c : v) {
    if (!std::isspace(static_cast<unsigned char>(c)) && c != '\'' && c != '"') {
      s.push_back(char(std::tolower(static_cast<unsigned char>(c))));
    }
  }
  if (s == "auto") return WriteMode::kAuto;
  if (s == "lease") return WriteMode::kLease;
  if (s == "optimistic") return WriteMode::kOptimistic;
  if (s == "off") return WriteMode::kOff;
  return ltx::Status::InvalidArgument("litevfs: " + std::string(what) + ": '" + std::string(v) +
                                      "' is not a write mode (auto, lease, optimistic or off)");
}

const char* WriteModeName(WriteMode m) {
  switch (m) {
    case WriteMode::kAuto: return "auto";
    case WriteMode::kLease: return "lease";
    case WriteMode::kOptimistic: return "optimistic";
    case WriteMode::kOff: return "off";
  }
  return "auto";
}

ltx::Result<WriteMode> ConfiguredWriteMode(const char* uri_value) {
  if (uri_value && *uri_value) return ParseWriteMode("URI parameter write_mode", uri_value);
  const ProcessSetting p = GetProcessConfig().write_mode;
  if (!p.value.empty()) return ParseWriteMode(p.source.empty() ? "write mode" : p.source, p.value);
  if (const char* e = std::getenv(kWriteModeEnv); e && *e) return ParseWriteMode(kWriteModeEnv, e);
  return kDefaultWriteMode;
}

}  // namespace litevfs
