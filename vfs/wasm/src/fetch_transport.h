// A litevfs::Transport over Emscripten's synchronous fetch (EMSCRIPTEN_FETCH_SYNCHRONOUS: a
// synchronous XMLHttpRequest, which browsers allow only in a Worker). The browser build's
// stand-in for curl_transport.cc: the Client above it (client.cc) is the native one.
// Request bodies come from HttpRequest::body only (a read-only build never uploads a file or
// a reader: those fail with kUnsupported, never an empty body). The browser decides
// Accept-Encoding itself (a script may not set it) and decodes the body before we see it,
// so responses come without Content-Encoding: zstd on the wire costs the wasm nothing.
#pragma once

#include <memory>
#include <string>

#include "litevfs/client.h"

namespace litevfs::wasm {

// base_url: "http://host:port" (no trailing slash), or "" for the page's own origin.
std::unique_ptr<Transport> MakeFetchTransport(const std::string& base_url, long request_timeout_ms);

// "a b/c" -> "a%20b%2Fc": every byte outside RFC 3986's unreserved set is escaped.
std::string UrlEncode(const std::string& s);

}  // namespace litevfs::wasm
