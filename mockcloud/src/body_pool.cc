#include "body_pool.h"

namespace mockcloud {

std::shared_ptr<BodyPool::Body> BodyPool::Take(size_t bytes) {
  std::unique_ptr<Body> b;
  {
    std::lock_guard l(state_->mu);
    auto& free = state_->free;
    for (size_t i = 0; i < free.size(); i++) {
      if (free[i]->capacity >= bytes) {
        b = std::move(free[i]);
        free.erase(free.begin() + ptrdiff_t(i));
        break;
      }
    }
  }
  if (!b) {
    b = std::make_unique<Body>();
    b->data.reset(new uint8_t[bytes]);
    b->capacity = bytes;
  }
  b->size = 0;
  std::weak_ptr<State> home = state_;
  return std::shared_ptr<Body>(b.release(), [home](Body* body) {
    std::unique_ptr<Body> owned(body);
    auto st = home.lock();
    if (!st || owned->capacity > kMaxKeptBytes) return;
    std::lock_guard l(st->mu);
    if (st->free.size() < kKept) st->free.push_back(std::move(owned));
  });
}

size_t BodyPool::kept() const {
  std::lock_guard l(state_->mu);
  return state_->free.size();
}

}  // namespace mockcloud
