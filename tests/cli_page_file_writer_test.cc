// cli/page_file_writer.cc (what `litevfs export` writes with): runs of pages land at their
// offsets whether the file takes direct I/O or refuses it, from several threads at once,
// and a failed write names the file. The source is compiled in: cli_* tests link no CLI
// library.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "../cli/page_file_writer.cc"

namespace cli {
namespace {

namespace fs = std::filesystem;

class PageFileWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("litevfs-pfw-" + std::to_string(::getpid()));
    fs::create_directories(dir_);
    path_ = (dir_ / "out.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  int Open(int flags) {
    const int fd = ::open(path_.c_str(), flags | O_CREAT, 0644);
    EXPECT_GE(fd, 0) << path_;
    return fd;
  }
  std::string Contents() const {
    std::ifstream in(path_, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }

  fs::path dir_;
  std::string path_;
};

// Page n of a test database: page_size bytes derived from n.
std::string PageOf(uint32_t n, size_t page_size) {
  std::string p(page_size, '\0');
  for (size_t i = 0; i < page_size; i++) p[i] = char((n * 131 + i * 7) & 0xff);
  return p;
}

// Pages 1..pages written as runs of `run` pages, by `threads` threads, last run first.
void WriteAll(PageFileWriter& w, uint32_t pages, uint32_t run, size_t page_size, int threads) {
  std::vector<std::thread> ts;
  for (int t = 0; t < threads; t++) {
    ts.emplace_back([&, t] {
      int k = 0;
      for (int64_t first = int64_t(pages) - run + 1; first > -int64_t(run); first -= run, k++) {
        if (k % threads != t) continue;
        const uint32_t lo = uint32_t(std::max<int64_t>(first, 1));
        const uint32_t hi = uint32_t(first + run - 1);
        std::vector<std::string> data;
        std::vector<std::string_view> views;
        for (uint32_t n = lo; n <= hi; n++) data.push_back(PageOf(n, page_size));
        for (const auto& d : data) views.push_back(d);
        ASSERT_TRUE(w.WriteRun(lo, views).ok());
      }
    });
  }
  for (auto& t : ts) t.join();
}

std::string Expected(uint32_t pages, size_t page_size) {
  std::string all;
  for (uint32_t n = 1; n <= pages; n++) all += PageOf(n, page_size);
  return all;
}

TEST_F(PageFileWriterTest, RunsFromSeveralThreadsLandAtTheirPages) {
  const int fd = Open(O_RDWR);
  PageFileWriter w(fd, path_);
  WriteAll(w, 1000, 64, 4096, 4);
  ASSERT_EQ(::fsync(fd), 0);
  ::close(fd);
  EXPECT_EQ(Contents(), Expected(1000, 4096));
}

// 100-byte pages cannot be written around the page cache (not a multiple of any block
// size): the writer falls back to buffered writes, and the file is still exact.
TEST_F(PageFileWriterTest, AFileThatRefusesDirectWritesGetsBufferedOnes) {
  const int fd = Open(O_RDWR);
  PageFileWriter w(fd, path_);
  WriteAll(w, 300, 7, 100, 2);
  EXPECT_FALSE(w.direct());
  ::close(fd);
  EXPECT_EQ(Contents(), Expected(300, 100));
}

TEST_F(PageFileWriterTest, AFailedWriteNamesTheFile) {
  ::close(Open(O_RDWR));
  const int fd = ::open(path_.c_str(), O_RDONLY);
  ASSERT_GE(fd, 0);
  PageFileWriter w(fd, path_);
  const std::string page = PageOf(1, 4096);
  std::vector<std::string_view> run = {page};
  ltx::Status st = w.WriteRun(1, run);
  ::close(fd);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.ToString().find(path_), std::string::npos) << st.ToString();
}

TEST_F(PageFileWriterTest, PagesOfUnequalSizesAreRefused) {
  const int fd = Open(O_RDWR);
  PageFileWriter w(fd, path_);
  const std::string a(4096, 'a'), b(512, 'b');
  std::vector<std::string_view> run = {a, b};
  EXPECT_FALSE(w.WriteRun(1, run).ok());
  ::close(fd);
  EXPECT_EQ(fs::file_size(path_), 0u);
}

}  // namespace
}  // namespace cli
