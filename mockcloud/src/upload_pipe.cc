// A POST /db/tx body applied as it arrives (upload_pipe.h).
#include "upload_pipe.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "store.h"

namespace mockcloud {

class PipeSource : public ltx::Source {
 public:
  explicit PipeSource(UploadPipe* pipe) : pipe_(pipe) {}
  ltx::Result<size_t> Read(void* buf, size_t n) override { return pipe_->Read(buf, n); }

 private:
  UploadPipe* pipe_;
};

bool UploadPipe::Push(const char* data, size_t n) {
  std::unique_lock l(mu_);
  cv_.wait(l, [&] { return consumer_done_ || bytes_ < kUploadPipeBytes; });
  if (consumer_done_) return false;
  chunks_.emplace_back(data, n);
  bytes_ += n;
  cv_.notify_all();
  return true;
}

void UploadPipe::Close(bool complete) {
  std::lock_guard l(mu_);
  closed_ = true;
  complete_ = complete;
  cv_.notify_all();
}

std::unique_ptr<ltx::Source> UploadPipe::Reader() { return std::make_unique<PipeSource>(this); }

void UploadPipe::ConsumerDone() {
  std::lock_guard l(mu_);
  consumer_done_ = true;
  cv_.notify_all();
}

ltx::Result<size_t> UploadPipe::Read(void* buf, size_t n) {
  std::unique_lock l(mu_);
  cv_.wait(l, [&] { return bytes_ > 0 || closed_; });
  if (bytes_ == 0) {
    if (complete_) return size_t{0};
    return ltx::Status::IOError("the request body was cut short");
  }
  size_t done = 0;
  while (done < n && !chunks_.empty()) {
    const std::string& c = chunks_.front();
    const size_t k = std::min(n - done, c.size() - front_off_);
    std::memcpy(static_cast<char*>(buf) + done, c.data() + front_off_, k);
    done += k;
    front_off_ += k;
    if (front_off_ == c.size()) {
      chunks_.pop_front();
      front_off_ = 0;
    }
  }
  bytes_ -= done;
  cv_.notify_all();
  return done;
}

Result<ApplyResult> CommitWhileReceiving(
    const std::function<bool(const std::function<bool(const char*, size_t)>&)>& reader,
    const std::function<Result<ApplyResult>(std::unique_ptr<ltx::Source>)>& commit,
    uint64_t* received, bool* read_ok) {
  UploadPipe pipe;
  Result<ApplyResult> result = Status::IOError("the commit did not run");
  std::thread applier([&] {
    result = commit(pipe.Reader());
    pipe.ConsumerDone();
  });
  *received = 0;
  *read_ok = reader([&](const char* data, size_t n) {
    *received += n;
    return pipe.Push(data, n);
  });
  pipe.Close(*read_ok);
  applier.join();
  return result;
}

}  // namespace mockcloud
