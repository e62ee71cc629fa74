// Private cache directories (.NAME.PID) of processes that were killed are removed at the next
// open of NAME; those of running processes and of other databases stay.
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "private_cache.h"
#include "vfs_test_util.h"

namespace vfstest {
namespace {

// A PID that is certainly not running: a child that has exited and been reaped.
pid_t DeadPid() {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  int status = 0;
  waitpid(pid, &status, 0);
  return pid;
}

class VfsPrivateCacheTest : public VfsTest {};

TEST_F(VfsPrivateCacheTest, DeadProcessesDirectoriesAreRemovedAtOpen) {
  UploadSnapshot("a", MakeLocalDb("a.db", 500));
  const std::string cluster_dir = dir_ + "/cache/default";
  const pid_t dead = DeadPid();
  const std::string dead_a = litevfs::PrivateCacheDir(cluster_dir, "a", dead);
  const std::string live_a = litevfs::PrivateCacheDir(cluster_dir, "a", getppid());
  const std::string dead_b = litevfs::PrivateCacheDir(cluster_dir, "b", dead);
  for (const auto& d : {dead_a, live_a, dead_b}) {
    fs::create_directories(d);
    std::ofstream(d + "/index") << "left behind";
  }
  sqlite3* db = OpenRemote("a");
  EXPECT_EQ(Q1(db, "SELECT count(*) FROM t"), "500");
  EXPECT_FALSE(fs::exists(dead_a)) << "a killed process's private cache of a stays forever";
  EXPECT_TRUE(fs::exists(live_a)) << "a running process's private cache was removed";
  EXPECT_TRUE(fs::exists(dead_b)) << "another database's directory was touched";
}

TEST_F(VfsPrivateCacheTest, NamesThatOnlyLookLikePrivateDirectoriesStay) {
  const std::string cluster_dir = dir_ + "/cache/default";
  for (const char* n : {"/.a.", "/.a.12x", "/.a.-5", "/.ab.1"})
    fs::create_directories(cluster_dir + n);
  EXPECT_EQ(litevfs::RemoveDeadPrivateCaches(cluster_dir, "a"), 0u);
  for (const char* n : {"/.a.", "/.a.12x", "/.a.-5", "/.ab.1"})
    EXPECT_TRUE(fs::exists(cluster_dir + n)) << n;
}

}  // namespace
}  // namespace vfstest
