"""Time travel (issue 18) end to end: past states opened through the sqlite3 shell and
Python (isolated from ongoing writes, read-only), PRAGMA litevfs_time, restore and its undo,
branch, rename and delete, and the error for a time before retention."""
import json
import os
import sqlite3
import subprocess
import textwrap

from harness import MODULE, Env, TempDirTest, make_db, need, run_cli

ROWS = 3000


class TimeTravelTest(TempDirTest):
    def setUp(self):
        super().setUp()
        self.cloud = self.start_cloud()
        self.env = Env(self.cloud, os.path.join(self.tmp, "cache"))
        self.src = make_db(os.path.join(self.tmp, "src.db"), rows=ROWS)
        run_cli(["import", self.src, "tt"], self.env)
        self.t1 = self.history("tt")[-1]
        self.write("INSERT INTO items(k, v) VALUES ('later-1', 1), ('later-2', 2)")

    def history(self, db):
        return json.loads(run_cli(["log", db, "--json"], self.env).stdout)["history"]

    def write(self, sql, db="tt"):
        run_cli(["shell", db, "--lease", "-c", sql], self.env)

    def count(self, db="tt"):
        return int(run_cli(["shell", db, "--mode", "csv", "-c", "SELECT count(*) FROM items"], self.env).stdout.split()[-1])

    def python(self, body):
        need(MODULE, "liblitevfs.so")
        script = f"import json, sqlite3, sys\nboot = sqlite3.connect(':memory:')\n" \
                 f"boot.enable_load_extension(True)\nboot.load_extension({MODULE!r})\n" + textwrap.dedent(body)
        p = subprocess.run(["/usr/bin/python3", "-c", script], env=self.env.vars,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        return json.loads(p.stdout)

    def test_python_reads_a_past_state_isolated_from_writes(self):
        txid = self.t1["pos"]["txid"]
        out = self.python(f"""
            import subprocess
            past = sqlite3.connect("file:tt?vfs=litevfs&txid={txid}", uri=True)
            now = sqlite3.connect("file:tt?vfs=litevfs", uri=True)
            res = {{"past": past.execute("SELECT count(*) FROM items").fetchall()[0][0],
                    "now": now.execute("SELECT count(*) FROM items").fetchall()[0][0]}}
            subprocess.run([{os.environ.get('LITEVFS_BIN', '')!r}, "shell", "tt", "--lease", "-c",
                            "DELETE FROM items WHERE id <= 1000"], check=True)
            res["past_after_write"] = past.execute("SELECT count(*) FROM items").fetchall()[0][0]
            try:
                past.execute("INSERT INTO items(k) VALUES ('x')")
                res["write"] = "accepted"
            except sqlite3.Error as e:
                res["write"] = str(e)
            res["pragma"] = past.execute("PRAGMA litevfs_time").fetchall()[0][0]
            now.execute("PRAGMA litevfs_time = '{self.t1['timestamp']}'").fetchall()
            res["now_in_past"] = now.execute("SELECT count(*) FROM items").fetchall()[0][0]
            now.execute("PRAGMA litevfs_time = 'latest'").fetchall()
            res["now_latest"] = now.execute("SELECT count(*) FROM items").fetchall()[0][0]
            print(json.dumps(res))
        """)
        self.assertEqual(out["past"], ROWS)
        self.assertEqual(out["now"], ROWS + 2)
        self.assertEqual(out["past_after_write"], ROWS)
        self.assertIn("readonly", out["write"])
        self.assertIn(txid, out["pragma"])
        self.assertEqual(out["now_in_past"], ROWS)
        self.assertEqual(out["now_latest"], ROWS + 2 - 1000)

    def test_past_reuses_unchanged_cached_pages_and_never_fills_the_cache(self):
        out = self.python(f"""
            now = sqlite3.connect("file:tt?vfs=litevfs", uri=True)
            stats = lambda: json.loads(now.execute("PRAGMA litevfs_stats").fetchall()[0][0])
            q = "SELECT count(*), sum(length(payload)) FROM items"
            present = now.execute(q).fetchall()[0]
            now.execute("PRAGMA litevfs_max_prefetch_pages = 0").fetchall()  # count misses alone
            s0 = stats()
            now.execute("PRAGMA litevfs_time = '{self.t1['timestamp']}'").fetchall()
            past = now.execute(q).fetchall()[0]
            s1 = stats()
            now.execute("PRAGMA litevfs_time = 'latest'").fetchall()
            again = now.execute(q).fetchall()[0]
            s2 = stats()
            print(json.dumps({{"present": present, "past": past, "again": again,
                               "past_fetched": s1["pages_fetched"] - s0["pages_fetched"],
                               "again_fetched": s2["pages_fetched"] - s1["pages_fetched"],
                               "table_pages": s0["pages_fetched"]}}))
        """)
        self.assertEqual(out["present"][0], ROWS + 2)
        self.assertEqual(out["past"][0], ROWS)
        self.assertEqual(out["again"], out["present"])
        # Two rows were added since: only the pages they touched are fetched for the past...
        self.assertLessEqual(out["past_fetched"], 8, out)
        self.assertGreater(out["table_pages"], 50, out)
        # ...and what was fetched for the past did not replace the present in the cache.
        self.assertEqual(out["again_fetched"], 0, out)

    def test_sqlite3_shell_opens_a_past_state_by_time(self):
        need(MODULE, "liblitevfs.so")
        sql = f".load {MODULE}\n.open file:tt?vfs=litevfs&time={self.t1['timestamp']}\n" \
              "SELECT count(*) FROM items;\n"
        p = subprocess.run(["sqlite3", ":memory:"], input=sql, env=self.env.vars,
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.split()[-1], str(ROWS))

    def test_a_time_before_retention_names_the_oldest_state(self):
        p = run_cli(["restore", "tt", "--time", "2001-01-01T00:00:00Z"], self.env, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("oldest state kept is txid " + self.history("tt")[0]["pos"]["txid"], p.stderr)
        p = run_cli(["restore", "tt", "--time", "yesterday"], self.env, check=False)
        self.assertEqual(p.returncode, 2)
        self.assertIn("-5m", p.stderr)
        need(MODULE, "liblitevfs.so")
        out = self.python("""
            try:
                sqlite3.connect("file:tt?vfs=litevfs&time=2001-01-01T00:00:00Z", uri=True).execute("SELECT 1 FROM items")
                print(json.dumps("opened"))
            except sqlite3.Error as e:
                print(json.dumps(str(e)))
        """)
        self.assertNotEqual(out, "opened")

    def test_restore_and_undo_the_restore(self):
        before = self.history("tt")[-1]
        r = json.loads(run_cli(["restore", "tt", "--txid", str(int(self.t1["pos"]["txid"], 16)), "--json"],
                               self.env).stdout)
        self.assertEqual(int(r["pos"]["txid"], 16), int(before["pos"]["txid"], 16) + 1)
        self.assertEqual(r["before"], before["pos"])
        self.assertLess(r["pages"], 10)  # two rows were added: a handful of pages differ
        self.assertEqual(self.count(), ROWS)
        run_cli(["verify", "tt", "--integrity"], self.env)
        run_cli(["restore", "tt", "--txid", str(int(before["pos"]["txid"], 16))], self.env)
        self.assertEqual(self.count(), ROWS + 2)
        # A relative time: the state a moment ago is the current one.
        p = run_cli(["restore", "tt", "--time", "-0s"], self.env)
        self.assertIn("restored the state of txid", p.stdout)

    def test_branch_rename_delete(self):
        run_cli(["branch", "tt", "copy", "--txid", "0x" + self.t1["pos"]["txid"]], self.env)
        self.assertEqual(self.count("copy"), ROWS)
        self.assertEqual(self.count("tt"), ROWS + 2)
        p = run_cli(["branch", "tt", "copy"], self.env, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("already exists", p.stderr)
        run_cli(["rename", "copy", "copy2"], self.env)
        names = run_cli(["ls"], self.env).stdout
        self.assertIn("copy2", names)
        self.assertNotIn("copy\n", names.replace("copy2", ""))
        p = run_cli(["delete", "copy2"], self.env, check=False, input="")
        self.assertEqual(p.returncode, 2)
        self.assertIn("--yes", p.stderr)
        lease = json.loads(run_cli(["lease", "acquire", "copy2", "--json"], self.env).stdout.splitlines()[0])
        p = run_cli(["delete", "copy2", "--yes"], self.env, check=False)
        self.assertEqual(p.returncode, 1)
        self.assertIn("--force", p.stderr)
        p = run_cli(["rename", "copy2", "copy3"], self.env, check=False)
        self.assertEqual(p.returncode, 1)
        run_cli(["lease", "release", "copy2", "--id", lease["id"]], self.env)
        run_cli(["delete", "copy2", "--yes"], self.env)
        self.assertNotIn("copy2", run_cli(["ls"], self.env).stdout)
        self.assertEqual(self.count("tt"), ROWS + 2)


if __name__ == "__main__":
    import unittest
    unittest.main()
