// ltx/fd_io.h: the one full-read/full-write loop. Reads stop short only at end of file;
// errors come back as errno values (negative for reads) for each caller to word.
#include "ltx/fd_io.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <thread>

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
