// CORS and the static --web directory (see web.h).
#include "web.h"

#include <sys/stat.h>

#include <fstream>
#include <iterator>
#include <sstream>

namespace mockcloud {
namespace {

// How long a browser may reuse a preflight answer.
constexpr const char* kPreflightMaxAgeS = "600";

const char* ContentType(const std::string& path) {
  struct Ext { const char* ext; const char* type; };
  static const Ext kTypes[] = {
      {".html", "text/html; charset=utf-8"}, {".js", "text/javascript; charset=utf-8"},
      {".wasm", "application/wasm"},         {".css", "text/css; charset=utf-8"},
      {".json", "application/json"},         {".png", "image/png"},
      {".svg", "image/svg+xml"},             {".txt", "text/plain; charset=utf-8"}};
  for (const Ext& e : kTypes) {
    const std::string ext = e.ext;
    if (path.size() >= ext.size() && path.compare(path.size() - ext.size(), ext.size(), ext) == 0)
      return e.type;
  }
  return "application/octet-stream";
}

// A relative path with no empty, "." or ".." segment (nothing outside the directory).
bool SafeRelative(const std::string& rel) {
  if (rel.empty() || rel.find('\0') != std::string::npos) return false;
  std::stringstream ss(rel);
  std::string seg;
  while (std::getline(ss, seg, '/')) {
    if (seg.empty() || seg == "." || seg == "..") return false;
  }
  return rel.back() != '/';
}

void ServeFile(const std::string& web_dir, std::string rel, httplib::Response& res) {
  if (rel.empty()) rel = "index.html";
  struct stat st{};
  const std::string full = web_dir + "/" + rel;
  std::ifstream in;
  if (SafeRelative(rel) && stat(full.c_str(), &st) == 0 && S_ISREG(st.st_mode)) in.open(full, std::ios::binary);
  if (!in.is_open()) {
    res.status = 404;
    res.set_content("no such file under --web: " + rel + "\n", "text/plain; charset=utf-8");
    return;
  }
  std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  res.status = 200;
  res.set_header("Cache-Control", "no-cache");
  res.set_content(std::move(body), ContentType(rel));
}

}  // namespace

ltx::Status ValidateWebOptions(const std::string& cors_origin, const std::string& web_dir) {
  if (!cors_origin.empty() && cors_origin != "*") {
    const size_t scheme = cors_origin.find("://");
    const bool ok = scheme != std::string::npos && scheme > 0 &&
                    cors_origin.size() > scheme + 3 &&
                    cors_origin.find('/', scheme + 3) == std::string::npos;
    if (!ok) {
      return ltx::Status::InvalidArgument("--cors-origin \"" + cors_origin +
                                          "\": want * or an origin like http://localhost:8000 "
                                          "(scheme://host[:port], no path)");
    }
  }
  struct stat st{};
  if (!web_dir.empty() && (stat(web_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode))) {
    return ltx::Status::InvalidArgument("--web " + web_dir + ": not a directory (give the folder "
                                        "holding the demo page, e.g. build/wasm/web)");
  }
  return ltx::Status::OK();
}

void AddCorsHeaders(const std::string& cors_origin, httplib::Headers* headers) {
  if (cors_origin.empty()) return;
  headers->emplace("Access-Control-Allow-Origin", cors_origin);
  headers->emplace("Access-Control-Expose-Headers", "*");
  if (cors_origin != "*") headers->emplace("Vary", "Origin");
}

bool ServeWeb(const std::string& cors_origin, const std::string& web_dir,
              const httplib::Request& req, httplib::Response& res) {
  if (!cors_origin.empty() && req.method == "OPTIONS") {
    res.status = 204;
    res.set_header("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE");
    // Whatever the page asks to send (Authorization, Lfsc-Lease-Id, ...): the origin is trusted.
    const std::string asked = req.get_header_value("Access-Control-Request-Headers");
    if (!asked.empty()) res.set_header("Access-Control-Allow-Headers", asked);
    res.set_header("Access-Control-Max-Age", kPreflightMaxAgeS);
    return true;
  }
  if (web_dir.empty() || (req.method != "GET" && req.method != "HEAD")) return false;
  if (req.path == "/" || req.path == "/web") {
    res.status = 302;
    res.set_header("Location", kWebPrefix);
    return true;
  }
  const std::string prefix = kWebPrefix;
  if (req.path.compare(0, prefix.size(), prefix) != 0) return false;
  ServeFile(web_dir, req.path.substr(prefix.size()), res);
  return true;
}

}  // namespace mockcloud
