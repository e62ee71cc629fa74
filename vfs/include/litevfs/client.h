// The LiteFS Cloud client (DESIGN.md §2): one object per (host, token, cluster), safe to use
// from many threads (one libcurl easy handle per thread, keep-alive). It speaks the plain
// JSON API and uses our extensions (pages-binary, sync-wait, interior, history) when /info
// announces them. Errors come back as ltx::Status:
//   kUnavailable       network errors, timeouts, 5xx, truncated bodies (retryable)
//   kPermissionDenied  401
//   kNotFound          404 (no such database)
//   kConflict          409; api_code() is "EPOSMISMATCH" or the lease error code
//   kInvalidArgument   400 / kResourceExhausted 413
//   kCorruption        a 2xx body that does not parse or is inconsistent (wrong page size,
//                      pages not asked for, pages out of range)
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "litevfs/limits.h"
#include "ltx/format.h"
#include "ltx/io.h"
#include "ltx/status.h"

namespace litevfs {

using ltx::Pos;
using ltx::Result;
using ltx::Status;

// ---- transport (swappable in tests) ----
struct HttpRequest {
  std::string method;   // GET POST DELETE
  std::string path;     // "/db/page"
  std::vector<std::pair<std::string, std::string>> query;   // not yet URL-encoded
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When non-empty, the request body is this file, streamed from disk as it is sent (never
  // loaded whole), with Content-Length = its size when the transfer starts; `body` must
  // then be empty. Only for POST and PUT. A file that cannot be read, or that shrinks while
  // it is sent, fails the request with a status naming it. Without timeout_ms, such an
  // upload has no overall time bound (a large file takes as long as it takes) and fails
  // instead when it stalls for the transport's request timeout. A Transport that cannot
  // stream a file must fail the request (kUnsupported), never send an empty body.
  std::string body_path;
  // When set, the request body is pulled from this reader as it is sent (never held whole),
  // body_reader_size bytes in all (the Content-Length); `body` and `body_path` must then be
  // empty. pread semantics: up to n bytes at `offset` into buf, 0 only at the end; a rewind
  // (a resend on a fresh connection) reads from an earlier offset. An error aborts the
  // request with that status. Timeouts as for body_path. Only for POST and PUT.
  std::function<Result<size_t>(uint64_t offset, uint8_t* buf, size_t n)> body_reader;
  uint64_t body_reader_size = 0;
  long timeout_ms = 0;  // 0 = the transport's default
  // A 2xx body longer than this (as received: after chunked decoding, before any
  // Content-Encoding) fails the request with kCorruption instead of being buffered without
  // bound. 0 = no limit. Non-2xx bodies are kept only up to 64 KiB (they feed a message).
  uint64_t max_response_bytes = 0;
  // When set, a 2xx body announced by Content-Length is received into the string this
  // returns for that length (reused storage: its content is dropped, its capacity kept).
  // A transport may ignore it.
  std::function<std::string(uint64_t length)> body_storage;
};
struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // lower-cased names
  std::string body;
};
class Transport {
 public:
  virtual ~Transport() = default;
  // Network failures are kUnavailable; any HTTP status is a successful Do().
  virtual Result<HttpResponse> Do(const HttpRequest& req) = 0;
  // Like Do(), but a 2xx body is written to `sink` as it arrives instead of being buffered
  // (HttpResponse::body is then empty); other statuses are buffered as usual so the error
  // can be read. A failing sink write aborts the transfer with the sink's Status. `sink`
  // is borrowed for the duration of the call. The default buffers, then writes.
  virtual Result<HttpResponse> DoStreaming(const HttpRequest& req, ltx::Sink* sink);
};
// libcurl transport: keep-alive, connect/overall timeouts, TCP_NODELAY. Easy handles come
// from a small LIFO pool: concurrent requests never share one, and a thread issuing
// sequential requests gets back the handle (and kept-alive connection) it used last.
// No Content-Encoding decoding (the client decodes zstd itself, bounded).
std::unique_ptr<Transport> MakeCurlTransport(const std::string& base_url, long connect_timeout_ms,
                                             long request_timeout_ms);

// ---- API values ----
struct ClientConfig {
  std::string host = "http://127.0.0.1:20202";  // LITEFS_CLOUD_HOST
  std::string token;                             // LITEFS_CLOUD_TOKEN
  std::string cluster;                           // LITEFS_CLOUD_CLUSTER (may be empty)
  long connect_timeout_ms = 5000;
  long request_timeout_ms = 30000;
  int max_retries = 3;                           // for idempotent requests only (GET)
  long retry_backoff_ms = 25;                    // first retry's delay; doubles, capped at 1 s
  bool use_extensions = true;                    // false: plain LiteFS Cloud API only
  bool accept_zstd = true;                       // offer Accept-Encoding: zstd on binary batches
  // Where host, token and cluster came from, as messages name them: the env var (default),
  // or the caller's flag / URI parameter (e.g. "--host") when it overwrote the field.
  std::string host_source = "LITEFS_CLOUD_HOST";
  std::string token_source = "LITEFS_CLOUD_TOKEN";
  std::string cluster_source = "LITEFS_CLOUD_CLUSTER";
  // Defaults overlaid with LITEFS_CLOUD_HOST / _TOKEN / _CLUSTER from the environment.
  // Callers (CLI flags, URI parameters) overwrite fields afterwards.
  static ClientConfig FromEnv();
};

struct Info {
  std::string cluster_id;
  std::vector<std::string> features;
  bool Has(const std::string& f) const;
};

struct SyncResult {
  Pos pos;
  bool all = false;               // every page may have changed
  std::vector<uint32_t> pgnos;    // pages changed since the asked position (when !all)
  uint32_t commit = 0;            // db size in pages at pos, when the server says (0 = unknown)
  uint32_t page_size = 0;         // page size at pos, when the server says (0 = unknown)
};

struct PageBatch {
  Pos pos;                        // the position the pages are as of
  uint32_t page_size = 0;
  std::vector<std::pair<uint32_t, std::string>> pages;  // (pgno, page bytes), ascending
  uint32_t commit = 0;            // db size in pages at pos, when the server says (0 = unknown)
};

// (pgno, page bytes) pointing into a PageBlock's buffers.
using PageView = std::pair<uint32_t, std::string_view>;

// A page batch as it came off the wire: the answers' bytes, once, and each page a view
// into them. The bulk and scan paths use it so that a page is not copied (and allocated)
// between the socket and the cache file (issue 19). Moving a block keeps its views valid.
struct PageBlock {
  Pos pos;
  uint32_t page_size = 0;
  uint32_t commit = 0;            // as PageBatch::commit
  std::vector<PageView> pages;    // ascending
  // The server's sum of each page, parallel to `pages` (feature page-sums: the sum the page
  // cache keeps, page_frames.h), or empty when the server sent none.
  std::vector<uint64_t> sums;
  std::vector<std::shared_ptr<const std::string>> buffers;  // what `pages` points into
};

struct Lease {
  std::string id;
  std::string expires_at;         // RFC 3339 as the server sent it
  Pos pos;                        // a new lease: the database's position at the grant, when
                                  // the server says (issue 17); zero otherwise
};
// The lease durations the service grants: kMinLeaseDurationMs..kMaxLeaseDurationMs
// (litevfs/limits.h).

// What GET /lease says about a database's write lease (its id is never shown).
struct LeaseStatus {
  bool exists = false;            // the database has been created
  bool held = false;              // a client holds an unexpired lease
  std::string expires_at;         // RFC 3339, when held
};

struct HistoryEntry {
  Pos pos;
  int64_t timestamp_ms = 0;
  uint32_t commit = 0;            // db size in pages after this txid
  uint32_t page_count = 0;        // pages the transaction wrote
};

struct ClientStats {
  std::atomic<uint64_t> requests{0};
  std::atomic<uint64_t> bytes_received{0};
  std::atomic<uint64_t> bytes_sent{0};
  std::atomic<uint64_t> pages_fetched{0};
  std::atomic<uint64_t> retries{0};
};

// One call to a route of one of our extensions (time_travel.h builds on it).
struct ExtensionCall {
  std::string method = "GET";
  std::string path;       // "/db/restore"
  std::string feature;    // the extension; kUnsupported without an HTTP request if absent
  std::string db;         // sent as ?db= and named in messages
  std::vector<std::pair<std::string, std::string>> query;  // besides db (not URL-encoded)
  std::string lease_id;   // sent as Lfsc-Lease-Id when non-empty
};

class Client {
 public:
  static Result<std::unique_ptr<Client>> Create(const ClientConfig& cfg);
  // For tests: any transport.
  static std::unique_ptr<Client> CreateWithTransport(const ClientConfig& cfg,
                                                     std::unique_ptr<Transport> t);
  virtual ~Client() = default;

  // GET /info (cached after the first success).
  virtual Result<Info> GetInfo() = 0;
  // Whether the server offers extension `feature`: from the Litevfs-Features header of any
  // response seen so far (our server sends it on every response), else GET /info. False
  // when extensions are off or the server has no /info (a plain LiteFS Cloud).
  virtual Result<bool> HasFeature(const std::string& feature) = 0;
  // GET /pos: every database of the cluster.
  virtual Result<std::map<std::string, Pos>> GetPositions() = 0;
  // GET /db/sync?db=N[&pos=P][&wait=MS]. wait_ms > 0 only when sync-wait is announced
  // (otherwise it is ignored) and `since` is not zero; capped at 30000 (the server's cap).
  virtual Result<SyncResult> Sync(const std::string& db, const Pos& since, long wait_ms = 0) = 0;
  // POST /sync for several databases.
  virtual Result<std::map<std::string, SyncResult>> SyncMany(
      const std::map<std::string, Pos>& since) = 0;
  // GET /db/page as of `pos`, binary batch (zstd when offered) or JSON+base64. Pages past
  // commit are absent from the answer.
  virtual Result<PageBlock> GetPageBlock(const std::string& db, const Pos& pos,
                                         const std::vector<uint32_t>& pgnos) = 0;
  // The same, each page copied into its own string.
  Result<PageBatch> GetPages(const std::string& db, const Pos& pos, const std::vector<uint32_t>& pgnos);
  // GET /db/interior (extension): page 1 and every b-tree interior page at pos (or at the
  // current position when pos is zero; the batch says which). kUnsupported without it.
  // Sent without asking /info first when no feature list is known yet (a cold open is one
  // request); a 404 that carries no Litevfs-Features header then means kUnsupported, one
  // that does means kNotFound (no such database).
  virtual Result<PageBlock> GetInteriorBlock(const std::string& db, const Pos& pos) = 0;
  // The same, each page copied into its own string.
  Result<PageBatch> GetInterior(const std::string& db, const Pos& pos);
  // GET /db/snapshot streamed into `out`; returns the byte count. The LTX header is checked
  // (a valid snapshot header) before any byte reaches `out`; retried only while nothing has.
  // On error `out` may hold a prefix: discard it.
  virtual Result<uint64_t> GetSnapshot(const std::string& db, ltx::Sink* out) = 0;
  // POST /db/tx: one v1 LTX. Returns the new position (from the LTX + Litefs-Hwm).
  virtual Result<Pos> UploadTx(const std::string& db, const std::string& ltx_bytes,
                               const std::string& lease_id) = 0;
  // Like UploadTx, for an LTX in the file at `ltx_path`, streamed from disk (memory stays
  // bounded whatever its size). Its header and trailer are read and checked first (the same
  // checks and messages as UploadTx, naming the file; kInvalidArgument, and no request, for
  // a file that is not an LTX; kNotFound / kIOError when it cannot be opened or read), then
  // its bytes are POSTed and the acknowledgement is checked as UploadTx does. Not retried.
  // The file must not change until this returns.
  virtual Result<Pos> UploadTxFile(const std::string& db, const std::string& ltx_path,
                                   const std::string& lease_id) = 0;
  // Like UploadTx, for an LTX of `size` bytes pulled from `reader` as it is sent (HttpRequest::
  // body_reader), e.g. encoded on the fly from a transaction's pages: memory stays bounded.
  // The caller gives the position the LTX ends at (it encodes it). `new_pos` is read only
  // when the answer has arrived, after the whole body was pulled: a body that learns its
  // position as it is produced (litevfs import's checksum, in the trailer) may fill it in
  // from the reader. Not retried.
  // `release` (issue 17, optional): with if_waiters, the upload asks the service to release
  // the lease with the commit when another client waits for it (Lfsc-Lease-Release:
  // if-waiters); `released` says whether it did (Lfsc-Lease-Released), and then the lease is
  // gone. A service that cannot answers as without it (released stays false).
  using BodyReader = std::function<Result<size_t>(uint64_t offset, uint8_t* buf, size_t n)>;
  struct ReleaseOnCommit {
    bool if_waiters = false;
    bool released = false;
  };
  virtual Result<Pos> UploadTxStream(const std::string& db, const Pos& new_pos, uint64_t size,
                                     const BodyReader& reader, const std::string& lease_id,
                                     ReleaseOnCommit* release = nullptr) {
    (void)db, (void)new_pos, (void)size, (void)reader, (void)lease_id, (void)release;
    return Status::Unsupported("litevfs: this client cannot stream an upload");
  }
  // The largest request body the server accepts, from its Litevfs-Max-Body header on any
  // response seen so far (PROTOCOL.md); 0 while unknown (a plain LiteFS Cloud never says).
  virtual uint64_t max_body_bytes() const { return 0; }
  // issue 17: whether a response since the last call said another client waits for our
  // write lease (Lfsc-Lease-Waiters, on an upload or a refresh under the lease); clears it.
  virtual bool TakeLeaseWaiters() { return false; }
  // Frees the page-batch buffers kept for reuse (a scan is over: idle memory goes back).
  virtual void ReleaseIdleBuffers() {}
  // POST /lease (acquire when id is empty, refresh otherwise) / DELETE /lease. An acquire
  // carries this client's own random token (Lfsc-Lease-Client, issue 17): the service
  // answers a repeated acquire of the lease it holds with that lease, so an acquire whose
  // answer was lost is retried like a read, and costs one retry, not a lease period.
  virtual Result<Lease> AcquireLease(const std::string& db, long duration_ms,
                                     const std::string& id = {}) = 0;
  // issue 17: an acquire the service may hold up to wait_ms while another client holds the
  // lease, granting it in arrival order when it is freed (extension "lease-wait"; without
  // it, a plain acquire).
  virtual Result<Lease> AcquireLeaseWaiting(const std::string& db, long duration_ms, long wait_ms) {
    (void)wait_ms;
    return AcquireLease(db, duration_ms);
  }
  virtual Status ReleaseLease(const std::string& db, const std::string& id) = 0;
  // GET /lease (extension "lease-status"): the lease without taking it. NotFound when the
  // database neither exists nor is leased; Unsupported when the server lacks the route.
  virtual Result<LeaseStatus> GetLeaseStatus(const std::string& db) = 0;
  // GET /db/history (extension).
  virtual Result<std::vector<HistoryEntry>> GetHistory(const std::string& db) = 0;

  // An extension route with this client's auth, cluster, instance pinning and error mapping;
  // retried like other requests only when GET. Returns the 2xx body (JSON, or empty).
  virtual Result<std::string> CallExtension(const ExtensionCall& call) = 0;

  virtual const ClientConfig& config() const = 0;
  virtual const ClientStats& stats() const = 0;
};

// Database names the client accepts (same rule as the server): 1..255 bytes of
// [A-Za-z0-9._-], not starting with '.', no "..".
Status ValidateDatabaseName(const std::string& name);

// Binary page batch (pages-binary, litevfs/page_frames.h): frames `pgno u32 BE ‖ page`, or
// `pgno u32 BE ‖ sum u64 BE ‖ page` when `sums` is given (each frame's sum appended to it),
// page size from the header. Exposed for the fuzzer. `want` (may be empty = anything)
// restricts acceptable pgnos. The pages are views into `body`.
Result<std::vector<PageView>> ParsePageFrames(std::string_view body, uint32_t page_size,
                                              const std::vector<uint32_t>& want,
                                              std::vector<uint64_t>* sums = nullptr);
// JSON response parsers (exposed for the fuzzer and tests).
Result<SyncResult> ParseSyncJson(std::string_view body);
Result<PageBatch> ParsePagesJson(std::string_view body, const Pos& pos,
                                 const std::vector<uint32_t>& want);

}  // namespace litevfs
