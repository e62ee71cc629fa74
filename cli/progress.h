// The progress bar of long transfers (import, export, verify, prefetch) on stderr.
#pragma once

#include <cstdint>
#include <string>

#include "ltx/io.h"
#include "ltx/status.h"

namespace cli {

// Progress bar on stderr: "label [#####.....] 45% 12.3 MiB 40.1 MiB/s", each draw over the
// last (the line is cleared first); only when enabled (ProgressWanted(): stderr is a
// terminal). Not thread-safe: callers from several threads hold their own lock.
class Progress {
 public:
  // total = 0: unknown; the bytes and the rate are shown without a bar.
  Progress(std::string label, uint64_t total, bool enabled);
  ~Progress();
  void Add(uint64_t n, uint64_t bytes);
  void Done();

 private:
  void Draw();
  std::string label_;
  uint64_t total_;
  bool enabled_;
  uint64_t done_ = 0;
  uint64_t bytes_ = 0;
  int64_t start_us_ = 0;
  int64_t last_draw_us_ = 0;
  bool finished_ = false;
};
// Monotonic clock, microseconds.
int64_t NowMicros();

// An ltx::Sink that counts what passes into `progress` on its way to `next` (both not
// owned; they must outlive the sink).
class ProgressSink : public ltx::Sink {
 public:
  ProgressSink(ltx::Sink* next, Progress* progress) : next_(next), progress_(progress) {}
  ltx::Status Write(const void* data, size_t n) override {
    progress_->Add(0, n);
    return next_->Write(data, n);
  }

 private:
  ltx::Sink* next_;
  Progress* progress_;
};

}  // namespace cli
