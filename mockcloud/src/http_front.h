// The mockcloud's HTTP/1.1 server: one epoll thread owns every connection while it is idle
// or sending its request head, and a fixed pool of worker threads runs requests whose head
// has fully arrived. A connection therefore costs a few hundred bytes, not a thread, while
// it idles, trickles its head (slowloris) or waits on a long poll (a parked exchange), and
// workers only ever wait on the disk or on a client that is reading or writing a body.
//
// Deadlines (all settable): a connection with no request in flight is closed after
// idle_timeout_ms; a request head must arrive in full within header_timeout_ms of its first
// byte; a body read or response write that makes no progress for io_timeout_ms aborts the
// exchange. Beyond capacity (max_connections open, or max_queue heads waiting for a worker)
// the answer is an immediate 503 with Retry-After and the connection is closed.
//
// Handlers see cpp-httplib's Request/Response types (the routes were written for it); the
// front parses heads itself (http_head.h), reads bodies (Content-Length or chunked) on
// demand through Exchange::reader(), and writes responses, including sized content providers.
// Not supported: HTTP/2, TLS, chunked responses, multipart parsing (no route needs them).
#pragma once

#include <httplib.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "http_head.h"
#include "ltx/status.h"

namespace mockcloud {

struct FrontOptions {
  std::string host = "127.0.0.1";
  int port = 0;  // 0 = any free port
  int workers = 16;
  size_t max_connections = 10000;
  size_t max_queue = 1024;  // heads waiting for a worker before new ones get 503
  int64_t header_timeout_ms = 10000;
  int64_t idle_timeout_ms = 60000;
  int64_t io_timeout_ms = 30000;
  int retry_after_s = 1;
  httplib::Headers default_headers;  // sent with every response unless the handler set one
};

class HttpFront;
struct Conn;

// One request and its response, handled on a worker thread.
class Exchange {
 public:
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  httplib::Request req;
  httplib::Response res;
  ParsedHead head;    // head.status != 0: the head was refused; answer that and close
  bool close = false;  // close the connection after the response
  bool drop = false;   // close it without writing any response (fault injection)

  // Streams the request body (honours Content-Length / chunked, sends 100 Continue first
  // when asked). Returns false on a malformed body, a stalled client or a receiver false.
  const httplib::ContentReader& reader() const { return reader_; }
  // Whether the whole body has been read (else the connection cannot be reused).
  bool body_done() const { return body_done_; }

 private:
  friend class HttpFront;
  explicit Exchange(HttpFront* front, Conn* conn);
  bool ReadBody(const httplib::ContentReceiver& receiver);
  bool ReadChunked(const httplib::ContentReceiver& receiver);
  bool ReadLength(uint64_t n, const httplib::ContentReceiver& receiver);
  bool FillSome();  // at least one more byte into the connection buffer, or false

  HttpFront* front_;
  Conn* conn_;
  httplib::ContentReader reader_;
  bool body_done_ = false;
  bool continue_sent_ = false;
};

// Dispatch fills ex.res and returns false, or parks the exchange and returns true: then it
// must not touch ex again, and its owner calls HttpFront::Resume(ex, fn) exactly once.
// Finished runs after the response went out (request log, metrics).
using DispatchFn = std::function<bool(Exchange& ex)>;
using FinishedFn = std::function<void(const Exchange& ex)>;
using FrontLogFn = std::function<void(const std::string& warning)>;

class HttpFront {
 public:
  // Binds and starts the loop and the workers.
  static ltx::Result<std::unique_ptr<HttpFront>> Start(FrontOptions opts, DispatchFn dispatch,
                                                       FinishedFn finished, FrontLogFn warn);
  ~HttpFront();
  HttpFront(const HttpFront&) = delete;
  HttpFront& operator=(const HttpFront&) = delete;

  int port() const { return port_; }
  // Completes a parked exchange: fn(ex) runs on a worker, then the response is written.
  void Resume(Exchange* ex, std::function<void(Exchange&)> fn);
  // Closes every connection and joins every thread; parked exchanges must have been
  // resumed (or be resumed while this runs).
  void Stop();
  struct Stats {
    uint64_t open = 0;              // connections open now
    uint64_t rejected = 0;          // answered 503 at capacity (connections or queue), total
    uint64_t header_timeouts = 0;   // closed by the header deadline, total
    uint64_t idle_timeouts = 0;     // closed by the idle deadline, total
  };
  Stats stats() const;

  struct Impl;

 private:
  explicit HttpFront(std::unique_ptr<Impl> impl);
  friend class Exchange;
  std::unique_ptr<Impl> impl_;
  int port_ = 0;
};

}  // namespace mockcloud
