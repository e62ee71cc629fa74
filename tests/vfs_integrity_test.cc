// The VFS side of the service's integrity errors: a full disk on the service (507 ENOSPACE)
// fails the commit at once with SQLITE_FULL and "nothing was stored" (no retries), and a
// stored page that fails its checksum (ECORRUPT) is SQLITE_IOERR_DATA, never rows.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>

#include "../mockcloud/src/store_io.h"
#include "vfs_test_util.h"

namespace vfstest {
namespace {

class FullDisk : public mockcloud::StoreIo {
 public:
  std::atomic<bool> full{false};
  ssize_t Pwrite(int fd, const void* b, size_t n, off_t off) override {
    if (full) {
      errno = ENOSPC;
      return -1;
    }
    return StoreIo::Pwrite(fd, b, n, off);
  }
};

class VfsIntegrityTest : public VfsTest {
 protected:
  void CustomizeServer(mockcloud::ServerOptions* o) override { o->store_io = disk_; }
  std::shared_ptr<FullDisk> disk_ = std::make_shared<FullDisk>();
};

TEST_F(VfsIntegrityTest, AFullDiskOnTheServiceIsSqliteFullAndNotRetried) {
  UploadSnapshot("a", MakeLocalDb("a.db", 200));
  sqlite3* w = OpenRemote("a");
  Q(w, "PRAGMA litevfs_acquire_lease");
  const ltx::Pos before = RemotePos("a");
  disk_->full = true;
  const auto t0 = std::chrono::steady_clock::now();
  int rc = Exec(w, "INSERT INTO t(id, k, v, pad) VALUES (100000, 'x', 1, 'y')");
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(rc & 0xff, SQLITE_FULL) << sqlite3_errmsg(w) << " / " << VfsLastError();
  EXPECT_NE(VfsLastError().find("the service is out of disk space; nothing was stored"),
            std::string::npos)
      << VfsLastError();
  EXPECT_LT(ms, 1000) << "retried?";
  disk_->full = false;
  EXPECT_EQ(RemotePos("a"), before);
  Q(w, "INSERT INTO t(id, k, v, pad) VALUES (100000, 'x', 1, 'y')");
  EXPECT_EQ(RemotePos("a").txid, before.txid + 1);
}

TEST_F(VfsIntegrityTest, AStoredPageThatFailsItsChecksumIsIoerrDataNotRows) {
  UploadSnapshot("b", MakeLocalDb("b.db", 2000));
  const std::string base = dir_ + "/data/clusters/default/b/base.db";
  const off_t size = off_t(fs::file_size(base));
  const off_t victim = (size / 4096 / 2) * 4096 + 1000;  // a page in the middle
  int fd = open(base.c_str(), O_RDWR);
  ASSERT_GE(fd, 0);
  char b = 0;
  ASSERT_EQ(pread(fd, &b, 1, victim), 1);
  b = char(b ^ 0x11);
  ASSERT_EQ(pwrite(fd, &b, 1, victim), 1);
  close(fd);
  sqlite3* r = OpenRemote("b");
  int rc = Exec(r, "SELECT count(*), sum(v), sum(length(pad)) FROM t");
  EXPECT_EQ(rc, SQLITE_IOERR_DATA) << sqlite3_errmsg(r) << " / " << VfsLastError();
  EXPECT_NE(VfsLastError().find("ECORRUPT"), std::string::npos) << VfsLastError();
  EXPECT_NE(VfsLastError().find("page " + std::to_string(victim / 4096) + " in " + base),
            std::string::npos)
      << VfsLastError();
}

}  // namespace
}  // namespace vfstest
