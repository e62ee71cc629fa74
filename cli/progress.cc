#include "progress.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "text_format.h"

namespace cli {
namespace {
constexpr int64_t kRedrawIntervalUs = 100000;  // at most 10 draws a second
constexpr int kBarWidth = 30;
constexpr double kMiB = 1024.0 * 1024.0;
// "\r" then erase-to-end-of-line: a shorter draw leaves nothing of the longer one behind.
constexpr char kClearLine[] = "\r\033[K";
}  // namespace

int64_t NowMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

Progress::Progress(std::string label, uint64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled), start_us_(NowMicros()) {}

// The bar's line is erased when it ends, whichever way: the command's report follows.
Progress::~Progress() { Done(); }

void Progress::Add(uint64_t n, uint64_t bytes) {
  done_ += n;
  bytes_ += bytes;
  int64_t now = NowMicros();
  if (enabled_ && now - last_draw_us_ > kRedrawIntervalUs) {
    last_draw_us_ = now;
    Draw();
  }
}

void Progress::Done() {
  if (enabled_ && !finished_) {
    std::fputs(kClearLine, stderr);
    std::fflush(stderr);
  }
  finished_ = true;
}

void Progress::Draw() {
  double secs = double(NowMicros() - start_us_) / 1e6;
  double rate = secs > 0 ? double(bytes_) / kMiB / secs : 0;
  if (total_ == 0) {  // size unknown: no bar
    std::fprintf(stderr, "%s%s %s %.1f MiB/s", kClearLine, label_.c_str(),
                 FormatBytes(bytes_).c_str(), rate);
    std::fflush(stderr);
    return;
  }
  const double frac = std::min(1.0, double(done_) / double(total_));
  int filled = int(frac * kBarWidth);
  std::string bar(size_t(filled), '#');
  bar.append(size_t(kBarWidth - filled), '.');
  std::fprintf(stderr, "%s%s [%s] %3d%% %s %.1f MiB/s", kClearLine, label_.c_str(), bar.c_str(),
               int(frac * 100), FormatBytes(bytes_).c_str(), rate);
  std::fflush(stderr);
}

}  // namespace cli
