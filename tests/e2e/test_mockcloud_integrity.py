"""Issue 13 "Integrity" end to end, with the real binaries: a page of base.db changed while
the server was down is never served (the VFS query fails naming page and file; `scrub` and
`--verify-on-start` name it too), and a real full disk (a small tmpfs as the data dir) makes
a commit fail at once with "the service is out of disk space; nothing was stored" and
SQLITE_FULL, leaving the database where it was.

Env: LITEVFS_BIN, LITEVFS_MOCKCLOUD_BIN (skipped when absent). Bounded: a few seconds.
"""
import os
import subprocess
import unittest

from harness import MOCKCLOUD, Env, MockCloud, TempDirTest, make_db, need, run_cli

PAGE = 4096


def scrub(data):
    return subprocess.run([need(MOCKCLOUD, "litevfs-mockcloud"), "scrub", "--data", data],
                          capture_output=True, text=True, timeout=120)


class ChangedBasePage(TempDirTest):
    def test_a_changed_base_page_is_never_served(self):
        cloud = self.start_cloud()
        env = Env(cloud, os.path.join(self.tmp, "cache"))
        run_cli(["import", make_db(os.path.join(self.tmp, "app.db"), rows=3000), "app"], env)
        good = run_cli(["shell", "app", "-c", "SELECT count(*), sum(v) FROM items"], env).stdout
        self.assertEqual(scrub(cloud.data_dir).returncode, 0)
        cloud.stop()
        base = os.path.join(cloud.data_dir, "clusters", "default", "app", "base.db")
        pages = os.path.getsize(base) // PAGE - 1
        victim = pages // 2  # a leaf of items, well inside the file
        with open(base, "r+b") as f:
            f.seek(victim * PAGE + 2000)
            b = f.read(1)
            f.seek(victim * PAGE + 2000)
            f.write(bytes([b[0] ^ 0x20]))
        # Offline scrub names the file, the page and its offset, and exits non-zero.
        s = scrub(cloud.data_dir)
        self.assertEqual(s.returncode, 1, s.stdout + s.stderr)
        self.assertIn(f"page {victim} in {base} at offset {victim * PAGE}", s.stdout)
        # --verify-on-start refuses to serve it.
        strict = MockCloud(cloud.data_dir, extra_args=["--verify-on-start"])
        with self.assertRaises(RuntimeError):
            strict.start()
        strict.stop()
        # A server started without it serves everything else, never the changed page: a cold
        # VFS scan fails naming it (no wrong rows, no "ok" from integrity_check).
        cloud.start()
        env = Env(cloud, os.path.join(self.tmp, "cache2"))
        p = run_cli(["shell", "app", "-c", "SELECT count(*), sum(v) FROM items"], env, check=False)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertNotEqual(p.stdout, good)
        self.assertIn("ECORRUPT", p.stderr)
        self.assertIn(f"page {victim} in {base}", p.stderr)
        p = run_cli(["shell", "app", "-c", "PRAGMA integrity_check"], env, check=False)
        self.assertNotIn("ok", p.stdout.split())


class RealFullDisk(TempDirTest):
    def setUp(self):
        super().setUp()
        self.data = os.path.join(self.tmp, "data")
        os.makedirs(self.data)
        m = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", self.data],
                           capture_output=True, text=True)
        if m.returncode != 0:
            raise unittest.SkipTest("cannot mount a small tmpfs here (needs root): " +
                                    m.stderr.strip())
        self.addCleanup(subprocess.run, ["umount", "-l", self.data], capture_output=True)

    def test_a_full_disk_fails_the_commit_at_once_and_stores_nothing(self):
        cloud = self.start_cloud()
        env = Env(cloud, os.path.join(self.tmp, "cache"))
        run_cli(["import", make_db(os.path.join(self.tmp, "app.db"), rows=2000), "app"], env)
        before = run_cli(["pos", "app"], env).stdout
        p = run_cli(["shell", "app", "--lease", "-c",
                     "INSERT INTO items(id, k, v, payload) "
                     "VALUES (999999, 'big', 1, hex(randomblob(4000000)))"], env, check=False)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        self.assertIn("the service is out of disk space; nothing was stored", p.stderr)
        self.assertIn("database or disk is full", p.stderr)  # SQLITE_FULL
        self.assertNotIn("retrying", p.stderr)
        self.assertNotIn("outcome unknown", p.stderr)
        self.assertEqual(run_cli(["pos", "app"], env).stdout, before)
        # Reads go on, and the server is still whole.
        out = run_cli(["shell", "app", "-c",
                       "SELECT 'big=' || count(*) FROM items WHERE id >= 999998"], env)
        self.assertIn("big=0", out.stdout)
        cloud.stop()
        s = scrub(self.data)
        self.assertEqual(s.returncode, 0, s.stdout + s.stderr)


if __name__ == "__main__":
    unittest.main()
