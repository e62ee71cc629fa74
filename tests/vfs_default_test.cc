// "litevfs-default" (litevfs_core_init_default, the module's sqlite3_litevfsdefault_init):
// the plain name `litevfs:NAME`, bare or as the last path component, opens remote database
// NAME through the default VFS; every other file stays on the VFS that was the default.
// A binary of its own: it changes the process's default VFS.
#include <sys/stat.h>

#include "plain_name.h"
#include "vfs_test_util.h"

namespace {

using litevfs::RemoteNameOf;
using vfstest::Q;
using vfstest::Q1;

TEST(PlainNameTest, LastPathComponent) {
  EXPECT_EQ(RemoteNameOf("litevfs:app"), "app");
  EXPECT_EQ(RemoteNameOf("/srv/www/litevfs:app.db"), "app.db");
  EXPECT_EQ(RemoteNameOf("litevfs:"), "");  // rejected as a name by the VFS
  EXPECT_EQ(RemoteNameOf("app"), std::nullopt);
  EXPECT_EQ(RemoteNameOf("/data/litevfs:x/app.db"), std::nullopt);  // not the last component
  EXPECT_EQ(RemoteNameOf("/data/my-litevfs:app"), std::nullopt);
}

class DefaultVfsTest : public vfstest::VfsTest {
 protected:
  void SetUp() override {
    VfsTest::SetUp();
    static bool made_default = [] {
      sqlite3_auto_extension(reinterpret_cast<void (*)(void)>(litevfs_core_init_default));
      sqlite3* tmp = nullptr;
      sqlite3_open(":memory:", &tmp);  // runs it: litevfs-default becomes the default
      sqlite3_close(tmp);
      return true;
    }();
    (void)made_default;
  }

  // Opens `name` through the default VFS, without URI processing (as a host that cannot
  // pass a URI does).
  sqlite3* OpenPlain(const std::string& name) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(name.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
              SQLITE_OK) << sqlite3_errmsg(db) << " " << vfstest::VfsLastError();
    open_.push_back(db);
    return db;
  }
};

TEST_F(DefaultVfsTest, IsTheDefaultAndKeepsLitevfsByName) {
  ASSERT_NE(sqlite3_vfs_find(nullptr), nullptr);
  EXPECT_STREQ(sqlite3_vfs_find(nullptr)->zName, "litevfs-default");
  EXPECT_NE(sqlite3_vfs_find("litevfs"), nullptr);
  EXPECT_NE(sqlite3_vfs_find("unix"), nullptr);
}

TEST_F(DefaultVfsTest, PlainNameOpensTheRemoteDatabase) {
  UploadSnapshot("app", MakeLocalDb("src.db", 500));
  for (const std::string& name : {std::string("litevfs:app"), dir_ + "/www/litevfs:app"}) {
    sqlite3* db = OpenPlain(name);
    EXPECT_EQ(Q1(db, "SELECT count(*) FROM t"), "500") << name;
    EXPECT_EQ(Q1(db, "PRAGMA litevfs_position").substr(0, 16), "0000000000000001");
    Close(db);
  }
  struct stat st;
  EXPECT_NE(stat((dir_ + "/www").c_str(), &st), 0) << "a local directory or file appeared";
}

TEST_F(DefaultVfsTest, OtherFilesStayLocal) {
  for (const char* mode : {"wal", "delete"}) {
    const std::string path = dir_ + "/local-" + mode + ".db";
    sqlite3* db = OpenPlain(path);
    EXPECT_EQ(Q1(db, std::string("PRAGMA journal_mode=") + mode), mode);
    Q(db, "PRAGMA temp_store=FILE; CREATE TABLE x(a);"
          "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM c WHERE i < 5000) "
          "INSERT INTO x SELECT i FROM c;"
          "CREATE TEMP TABLE y AS SELECT a FROM x ORDER BY random();");
    EXPECT_EQ(Q1(db, "SELECT count(*) || ',' || sum(a) FROM y"), "5000,12502500");
    Close(db);
    sqlite3* plain = OpenLocal(path);  // the unix VFS by name: the same local file
    EXPECT_EQ(Q1(plain, "SELECT count(*) FROM x"), "5000") << mode;
    Close(plain);
  }
}

TEST_F(DefaultVfsTest, BadPlainNameIsAnErrorNamingIt) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2("litevfs:bad name", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  sqlite3_close(db);
  EXPECT_EQ(rc, SQLITE_CANTOPEN);
  EXPECT_NE(vfstest::VfsLastError().find("'bad name' is not a database name"), std::string::npos)
      << vfstest::VfsLastError();
}

}  // namespace
