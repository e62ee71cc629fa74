"""The shipped examples run as documented: fixtures/examples/query.py in Python's sqlite3
module and fixtures/examples/tour.sqlite3 in the stock sqlite3 shell, against a real
litevfs-mockcloud, printing the same rows as the local copy of the database."""
import json
import os
import shutil
import sqlite3
import subprocess
import unittest

from harness import MODULE, Env, MockCloud, TempDirTest, make_db, need, run_cli

FIXTURES = os.environ.get("LITEVFS_FIXTURES") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "fixtures")
EXAMPLES = os.path.join(FIXTURES, "examples")


class ExamplesTest(TempDirTest):
    def setUp(self):
        super().setUp()
        need(MODULE, "liblitevfs.so")
        self.cloud = self.start_cloud()
        self.env = Env(self.cloud, os.path.join(self.tmp, "cache"))
        self.env.vars["LITEVFS_MODULE"] = os.path.abspath(MODULE)
        self.src = make_db(os.path.join(self.tmp, "src.db"), rows=2000)

    def local(self, sql):
        con = sqlite3.connect(self.src)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    def test_query_py(self):
        run_cli(["import", self.src, "app"], self.env)
        script = os.path.join(EXAMPLES, "query.py")
        sql = "SELECT id, k, v FROM items WHERE id % 250 = 0 ORDER BY id"
        p = subprocess.run(["/usr/bin/python3", script, "app", sql], env=self.env.vars,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        want = "".join("\t".join(str(v) for v in r) + "\n" for r in self.local(sql))
        self.assertEqual(p.stdout, want)
        self.assertRegex(p.stderr, r"-- app at position 0000000000000001/[0-9a-f]{16}")
        # Default query: the table names.
        p = subprocess.run(["/usr/bin/python3", script, "app"], env=self.env.vars,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "items\ntags\n")
        # Errors are reported, not a traceback.
        p = subprocess.run(["/usr/bin/python3", script, "app", "SELECT * FROM nope"],
                           env=self.env.vars, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 1)
        self.assertIn("query.py: no such table: nope", p.stderr)
        self.assertNotIn("Traceback", p.stderr)
        env = dict(self.env.vars)
        env.pop("LITEVFS_MODULE")
        p = subprocess.run(["/usr/bin/python3", script, "app"], env=env, capture_output=True,
                           text=True, timeout=120)
        self.assertEqual(p.returncode, 2)
        self.assertIn("LITEVFS_MODULE", p.stderr)

    def test_tour_sqlite3(self):
        sqlite3_bin = shutil.which("sqlite3")
        if not sqlite3_bin:
            self.skipTest("the sqlite3 shell is not installed")
        run_cli(["import", self.src, "tour"], self.env)
        env = dict(self.env.vars)
        env["LD_LIBRARY_PATH"] = os.path.dirname(os.path.abspath(MODULE)) + (
            ":" + env["LD_LIBRARY_PATH"] if env.get("LD_LIBRARY_PATH") else "")
        with open(os.path.join(EXAMPLES, "tour.sqlite3")) as f:
            p = subprocess.run([sqlite3_bin, "-bail"], stdin=f, env=env, capture_output=True,
                               text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        blocks = p.stdout.splitlines()
        # A VFS pragma's value comes back without a column name.
        self.assertRegex(blocks[0], r"^0000000000000001/[0-9a-f]{16}$")
        rest = blocks[1:]
        want = ["items", str(self.local("SELECT count(*) FROM items")[0][0]), "id|k|v"]
        want += ["|".join(str(v) for v in r)
                 for r in self.local("SELECT id, k, v FROM items ORDER BY id LIMIT 3")]
        want += ["tag|n"]
        want += ["|".join(str(v) for v in r) for r in self.local(
            "SELECT t.tag, count(*) AS n FROM tags AS t JOIN items AS i ON i.id = t.item_id "
            "GROUP BY t.tag ORDER BY n DESC, t.tag LIMIT 3")]
        self.assertEqual(rest[:len(want)], want)
        self.assertEqual(len(rest), len(want) + 1, p.stdout)
        self.assertIn("requests", json.loads(rest[-1]))


if __name__ == "__main__":
    unittest.main()
