// Byte sources and sinks the decoder and encoder stream through, so a 1 GiB file is never
// held in memory. Implementations for a file descriptor and for memory are provided.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "ltx/status.h"

namespace ltx {

class Source {
 public:
  virtual ~Source() = default;
  // Reads up to n bytes; returns 0 only at end of input.
  virtual Result<size_t> Read(void* buf, size_t n) = 0;
  // Total size when known (files, memory); std::nullopt for streams.
  virtual std::optional<uint64_t> Size() const { return std::nullopt; }
  // Positional read for random access (v3 page index, version detection). Unsupported
  // by default.
  virtual Result<size_t> ReadAt(uint64_t offset, void* buf, size_t n);
};

class Sink {
 public:
  virtual ~Sink() = default;
  virtual Status Write(const void* data, size_t n) = 0;
};

// Opens `path` read-only. The Source owns the descriptor.
Result<std::unique_ptr<Source>> OpenFileSource(const std::string& path);
// Borrows `data`, which must outlive the Source.
std::unique_ptr<Source> MemorySource(std::span<const uint8_t> data);

// Appends to a string the caller owns (must outlive the sink).
class StringSink : public Sink {
 public:
  explicit StringSink(std::string* out) : out_(out) {}
  Status Write(const void* data, size_t n) override {
    out_->append(static_cast<const char*>(data), n);
    return Status::OK();
  }

 private:
  std::string* out_;
};

// Writes to a file created at `path` (truncated). Sync() fsyncs it.
class FileSink : public Sink {
 public:
  static Result<std::unique_ptr<FileSink>> Create(const std::string& path);
  ~FileSink() override;
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;
  Status Write(const void* data, size_t n) override;
  Status Sync();
  Status Close();

 private:
  FileSink(int fd, std::string path) : fd_(fd), path_(std::move(path)) {}
  int fd_;
  std::string path_;
};

}  // namespace ltx
