// Reusable response bodies for page batches. A 4 MiB batch in a fresh allocation costs a
// page fault per 4 KiB of it (the allocator hands large blocks back to the kernel when they
// are freed), which was a third of the server's CPU in a full scan. A pool keeps a few freed
// bodies, already faulted in, for the next batch. Memory it keeps: at most kKept bodies of at
// most kMaxKeptBytes each; larger bodies are used once and freed.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

namespace mockcloud {

class BodyPool {
 public:
  static constexpr size_t kKept = 4;
  static constexpr size_t kMaxKeptBytes = 8u << 20;

  struct Body {
    std::unique_ptr<uint8_t[]> data;  // uninitialized: the page batch writes every byte
    size_t capacity = 0;
    size_t size = 0;  // bytes written so far
  };

  // A body of at least `bytes`, size 0; it returns to the pool when the last owner lets go
  // (the pool outlives it: its state is shared).
  std::shared_ptr<Body> Take(size_t bytes);
  // Freed bodies kept for reuse now.
  size_t kept() const;

 private:
  struct State {
    std::mutex mu;                             // guards free
    std::vector<std::unique_ptr<Body>> free;  // at most kKept
  };
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace mockcloud
