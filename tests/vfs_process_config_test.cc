// litevfs/process_config.h: a static host (the CLI) hands its flags to the VFS in-process;
// they override the environment, are named in messages by their flag, and unsetting them
// brings the environment back.
#include <filesystem>

#include "litevfs/process_config.h"
#include "vfs_test_util.h"

namespace vfstest {
namespace {

class VfsProcessConfigTest : public VfsTest {
 protected:
  void TearDown() override {
    litevfs::SetProcessConfig({});
    VfsTest::TearDown();
  }
  bool LastErrorHas(const std::string& s) {
    return VfsLastError().find(s) != std::string::npos;
  }
};

TEST_F(VfsProcessConfigTest, SettingsOverrideTheEnvironmentAndAreNamedByTheirSource) {
  UploadSnapshot("p", MakeLocalDb("p.db", 10));
  // The environment points nowhere: only the process's settings can reach the server.
  setenv("LITEFS_CLOUD_HOST", "http://127.0.0.1:1", 1);
  setenv("LITEFS_CLOUD_TOKEN", "wrong", 1);
  sqlite3* db = nullptr;
  EXPECT_EQ(OpenRemoteRc("p", &db), SQLITE_CANTOPEN);
  EXPECT_TRUE(LastErrorHas("LITEFS_CLOUD_HOST")) << VfsLastError();

  litevfs::ProcessConfig cfg;
  cfg.host = {host_, "--host"};
  cfg.token = {"also-wrong", "--token"};
  litevfs::SetProcessConfig(cfg);
  EXPECT_EQ(OpenRemoteRc("p", &db), SQLITE_CANTOPEN);
  EXPECT_TRUE(LastErrorHas("--token")) << VfsLastError();
  EXPECT_FALSE(LastErrorHas("LITEFS_CLOUD_TOKEN")) << VfsLastError();

  const std::string cache = dir_ + "/flag-cache";
  cfg.token = {"secret", "--token"};
  cfg.cache_dir = {cache, "--cache-dir"};
  litevfs::SetProcessConfig(cfg);
  db = OpenRemote("p");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(Q1(db, "SELECT count(*) FROM t"), "10");
  EXPECT_TRUE(std::filesystem::is_directory(cache)) << "the cache is not where --cache-dir says";
  Close(db);

  // Unset: the environment (still pointing nowhere) applies again.
  litevfs::SetProcessConfig({});
  EXPECT_EQ(OpenRemoteRc("p", &db), SQLITE_CANTOPEN);
  EXPECT_TRUE(LastErrorHas("LITEFS_CLOUD_HOST")) << VfsLastError();
}

TEST_F(VfsProcessConfigTest, ClusterSettingChoosesTheClusterWithoutAUriParameter) {
  const std::string path = MakeLocalDb("c.db", 10);
  litevfs::ClientConfig ccfg;
  ccfg.host = host_;
  ccfg.token = "secret";
  ccfg.cluster = "other";
  auto c = litevfs::Client::CreateWithTransport(ccfg, litevfs::MakeCurlTransport(host_, 2000, 10000));
  std::string bytes;
  ltx::StringSink sink(&bytes);
  ASSERT_TRUE(ltx::EncodeDatabaseFile(path, &sink).ok());
  ASSERT_TRUE(c->UploadTx("c", bytes, "").ok());
  sqlite3* db = nullptr;
  EXPECT_EQ(OpenRemoteRc("c", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI), SQLITE_CANTOPEN);
  litevfs::ProcessConfig cfg;
  cfg.cluster = {"other", "--cluster"};
  litevfs::SetProcessConfig(cfg);
  db = OpenRemote("c");
  ASSERT_NE(db, nullptr);
  EXPECT_EQ(Q1(db, "SELECT count(*) FROM t"), "10");
  // The database's path names the cluster it is in.
  EXPECT_NE(Q1(db, "SELECT file FROM pragma_database_list WHERE name = 'main'").find("/other/"),
            std::string::npos);
}

}  // namespace
}  // namespace vfstest
