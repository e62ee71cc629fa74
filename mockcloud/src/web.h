// The browser build's two needs from the server (vfs/wasm; issue 20), off unless asked for:
//   --cors-origin ORIGIN  every response allows that origin ("*" = any) to read it, headers
//                         included, and a CORS preflight (OPTIONS) is answered before
//                         authentication, so a page served elsewhere can send Authorization.
//   --web DIR             GET /web/PATH serves DIR/PATH read-only (GET / redirects to
//                         /web/), so the demo page runs same-origin: no CORS at all.
#pragma once

#include <httplib.h>

#include <string>

#include "ltx/status.h"

namespace mockcloud {

// The URL prefix the --web directory is served under.
inline constexpr const char* kWebPrefix = "/web/";

// Checks the two options: the origin is "*" or scheme://host[:port] (no path), the directory
// exists. Errors name the flag and the fix.
ltx::Status ValidateWebOptions(const std::string& cors_origin, const std::string& web_dir);
// The CORS headers every response carries when cors_origin is set.
void AddCorsHeaders(const std::string& cors_origin, httplib::Headers* headers);
// Answers a preflight or a static file; false = the request is not one of those.
bool ServeWeb(const std::string& cors_origin, const std::string& web_dir,
              const httplib::Request& req, httplib::Response& res);

}  // namespace mockcloud
