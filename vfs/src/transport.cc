// The Transport seam's one shared piece (client.h): the default DoStreaming, which buffers.
// Apart from curl_transport.cc so a build without libcurl (the browser's, vfs/wasm) links it.
#include "litevfs/client.h"

namespace litevfs {

Result<HttpResponse> Transport::DoStreaming(const HttpRequest& req, ltx::Sink* sink) {
  auto r = Do(req);
  if (!r.ok()) return r;
  if (r->status >= 200 && r->status < 300 && !r->body.empty()) {
    LTX_RETURN_IF_ERROR(sink->Write(r->body.data(), r->body.size()));
    r->body.clear();
  }
  return r;
}

}  // namespace litevfs
