// GET /db/snapshot's body: a v1 snapshot LTX of a database's current position, encoded page
// by page straight from the store (base.db and the segment records) as the client reads it.
// No copy on the data disk; memory is one batch of pages. The position stays readable while
// the stream is open: it pins it, and compaction folds no further than the oldest pin (a fold
// up to the pinned position keeps it readable: positions from the fold target on are served).
#pragma once

#include <memory>
#include <string>

#include "fd_cache.h"
#include "ltx/encoder.h"
#include "store.h"

namespace mockcloud {

class Database::SnapshotStream {
 public:
  SnapshotStream(std::shared_ptr<const Database> db, Pos pos, uint32_t commit, int64_t timestamp_ms);
  ~SnapshotStream();  // unpins
  SnapshotStream(const SnapshotStream&) = delete;
  SnapshotStream& operator=(const SnapshotStream&) = delete;

  const Pos& pos() const { return pos_; }
  uint64_t size() const { return size_; }  // the whole LTX file, known up front
  uint64_t offset() const { return offset_; }
  // The next bytes (up to n; 0 = the end). A page that fails its checksum is ECORRUPT.
  Result<size_t> Read(char* buf, size_t n);
  // OpenSnapshot: sizes the file, writes the LTX header and encodes the first batch.
  Status Start();

 private:
  class BufferSink : public ltx::Sink {
   public:
    Status Write(const void* data, size_t n) override {
      buf.append(static_cast<const char*>(data), n);
      return Status::OK();
    }
    std::string buf;
  };
  Status Fill();  // encodes the next batch of pages (or the trailer) after sink_.buf's unread bytes

  std::shared_ptr<const Database> db_;
  const Pos pos_;
  const uint32_t commit_;
  const int64_t timestamp_ms_;
  uint64_t size_ = 0;
  uint64_t offset_ = 0;  // bytes handed out
  size_t buf_pos_ = 0;   // of sink_.buf
  uint64_t next_pgno_ = 1;
  bool done_ = false;
  BufferSink sink_;
  std::unique_ptr<ltx::Encoder> enc_;
  FdCache fds_;
};

}  // namespace mockcloud
