// A large POST /db/tx body applied as it arrives (issue 19): the HTTP handler pushes the
// body's chunks into an UploadPipe while the store's Apply, on a helper thread, pulls them
// as its ltx::Source — no spool file (a write and a read of the whole body saved). The pipe
// holds at most kUploadPipeBytes; a full pipe blocks the handler (backpressure on the
// socket). Either end may stop: the handler closes it complete or cut short (the client
// went away, a read timed out: Apply then sees an error and stores nothing), and Apply,
// done early (a refused upload), closes its end so the handler stops reading.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "ltx/io.h"
#include "store_api.h"

namespace mockcloud {

inline constexpr size_t kUploadPipeBytes = 8u << 20;

class UploadPipe {
 public:
  // Producer: false once the consumer is gone (stop reading the body).
  bool Push(const char* data, size_t n);
  // Producer: no more data; `complete` false = the body was cut short.
  void Close(bool complete);
  // Consumer (an ltx::Source over the pipe; it must not outlive the pipe).
  std::unique_ptr<ltx::Source> Reader();
  void ConsumerDone();

 private:
  friend class PipeSource;
  ltx::Result<size_t> Read(void* buf, size_t n);

  std::mutex mu_;  // guards everything below
  std::condition_variable cv_;
  std::deque<std::string> chunks_;
  size_t front_off_ = 0;  // bytes of chunks_.front() already read
  size_t bytes_ = 0;      // unread bytes in chunks_
  bool closed_ = false, complete_ = false, consumer_done_ = false;
};

// Receives the body through `reader` into `commit` (run on a helper thread with the pipe's
// source). *received: bytes read; *read_ok: the body arrived whole.
Result<ApplyResult> CommitWhileReceiving(
    const std::function<bool(const std::function<bool(const char*, size_t)>&)>& reader,
    const std::function<Result<ApplyResult>(std::unique_ptr<ltx::Source>)>& commit,
    uint64_t* received, bool* read_ok);

}  // namespace mockcloud
