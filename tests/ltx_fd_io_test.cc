// ltx/fd_io.h: the one full-read/full-write loop. Reads stop short only at end of file;
// errors come back as errno values (negative for reads) for each caller to word.
#include "ltx/fd_io.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <climits>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

class FdIoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ltx-fd-io-XXXXXX";
    fd_ = ::mkstemp(tmpl);
    ASSERT_GE(fd_, 0);
    path_ = tmpl;
  }
  void TearDown() override {
    if (fd_ >= 0) ::close(fd_);
    ::unlink(path_.c_str());
  }
  int fd_ = -1;
  std::string path_;
};

TEST_F(FdIoTest, WritesAllThenReadsBackAndStopsShortOnlyAtEnd) {
  const std::string data(100000, 'x');
  ASSERT_EQ(ltx::PwriteFull(fd_, data.data(), data.size(), 10), 0);
  std::string back(data.size(), '\0');
  EXPECT_EQ(ltx::PreadFull(fd_, back.data(), back.size(), 10), ssize_t(data.size()));
  EXPECT_EQ(back, data);
  // 10 bytes from the end: 10 read, no error.
  EXPECT_EQ(ltx::PreadFull(fd_, back.data(), back.size(), data.size()), 10);
  EXPECT_EQ(ltx::PreadFull(fd_, back.data(), back.size(), data.size() + 10), 0);
  ASSERT_EQ(::lseek(fd_, 0, SEEK_END), off_t(data.size() + 10));
  ASSERT_EQ(ltx::WriteFull(fd_, "tail", 4), 0);
  char tail[4];
  EXPECT_EQ(ltx::PreadFull(fd_, tail, 4, data.size() + 10), 4);
  EXPECT_EQ(std::string(tail, 4), "tail");
}

// Vectored: more buffers than one call takes (IOV_MAX), empty ones among them, and a read
// that ends at the end of the file part-way through a buffer.
TEST_F(FdIoTest, VectoredWritesAndReadsCoverEveryBuffer) {
  const size_t kBufs = IOV_MAX + 300;
  std::vector<std::string> parts;
  for (size_t i = 0; i < kBufs; i++) parts.push_back(i % 7 == 3 ? "" : std::string(1 + i % 13, char('a' + i % 26)));
  std::vector<iovec> out;
  std::string whole;
  for (auto& p : parts) {
    out.push_back({p.data(), p.size()});
    whole += p;
  }
  ASSERT_EQ(ltx::PwritevFull(fd_, out, 5), 0);
  std::string back(whole.size(), '\0');
  ASSERT_EQ(ltx::PreadFull(fd_, back.data(), back.size(), 5), ssize_t(whole.size()));
  EXPECT_EQ(back, whole);

  std::vector<std::string> into;
  std::vector<iovec> in;
  for (auto& p : parts) into.emplace_back(p.size(), '?');
  for (auto& p : into) in.push_back({p.data(), p.size()});
  EXPECT_EQ(ltx::PreadvFull(fd_, in, 5), ssize_t(whole.size()));
  std::string joined;
  for (auto& p : into) joined += p;
  EXPECT_EQ(joined, whole);
  // From 3 bytes before the end: 3 bytes, the rest untouched.
  std::string a(2, '?'), b(10, '?');
  EXPECT_EQ(ltx::PreadvFull(fd_, {{a.data(), a.size()}, {b.data(), b.size()}}, 5 + whole.size() - 3), 3);
  EXPECT_EQ(a + b.substr(0, 1), whole.substr(whole.size() - 3));
  EXPECT_EQ(b.substr(1), std::string(9, '?'));
  EXPECT_EQ(ltx::PreadvFull(-1, {{a.data(), a.size()}}, 0), -EBADF);
  EXPECT_EQ(ltx::PwritevFull(-1, {{a.data(), a.size()}}, 0), EBADF);
}

TEST_F(FdIoTest, ErrorsAreErrnoValues) {
  char buf[8];
  EXPECT_EQ(ltx::PreadFull(-1, buf, sizeof buf, 0), -EBADF);
  EXPECT_EQ(ltx::PwriteFull(-1, buf, sizeof buf, 0), EBADF);
  EXPECT_EQ(ltx::WriteFull(-1, buf, sizeof buf), EBADF);
  const int ro = ::open(path_.c_str(), O_RDONLY);
  ASSERT_GE(ro, 0);
  EXPECT_EQ(ltx::WriteFull(ro, buf, sizeof buf), EBADF);
  ::close(ro);
}

TEST(FdIoPipeTest, WriteFullContinuesAfterShortWrites) {
  // A pipe takes at most its buffer (64 KiB) per write while a reader drains it: a 1 MiB
  // write is many short writes, all of which must land.
  int p[2];
  ASSERT_EQ(::pipe(p), 0);
  const std::string data(1 << 20, 'p');
  std::string got;
  std::thread reader([&] {
    char buf[4096];
    ssize_t n;
    while ((n = ::read(p[0], buf, sizeof buf)) > 0) got.append(buf, size_t(n));
  });
  EXPECT_EQ(ltx::WriteFull(p[1], data.data(), data.size()), 0);
  ::close(p[1]);
  reader.join();
  ::close(p[0]);
  EXPECT_EQ(got, data);
}

}  // namespace
