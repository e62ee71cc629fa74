// LTX headers, trailers, files and positions as the JSON the CLI prints (the Go ltx tool's
// field names), and the --format option of the ltx subcommands.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "ltx/decoder.h"
#include "ltx/file.h"
#include "ltx/format.h"

namespace cli {

// "--format auto|v1|v3" → decode options (UsageError on anything else).
ltx::DecodeOptions DecodeOptionsFor(const std::string& format);
const char* VersionNumber(ltx::Version v);  // "1" / "3" as the Go tool prints it
nlohmann::json HeaderJson(const ltx::Header& h);
nlohmann::json TrailerJson(const ltx::Trailer& t);
nlohmann::json FileInfoJson(const std::string& path, const ltx::FileInfo& info);
nlohmann::json PosJson(const ltx::Pos& pos);

}  // namespace cli
