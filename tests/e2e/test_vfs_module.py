"""The loadable module in real hosts: Debian's sqlite3 shell (.load) and /usr/bin/python3's
sqlite3 module, reading a database imported into a real litevfs-mockcloud. Results must equal
the same queries on the local source file."""
import json
import os
import sqlite3
import subprocess
import sys
import textwrap

from harness import MODULE, Env, MockCloud, TempDirTest, make_db, need, run_cli

QUERIES = [
    "SELECT * FROM items WHERE id = 777",
    "SELECT * FROM items WHERE id BETWEEN 1000 AND 1100 ORDER BY id",
    "SELECT id, v FROM items WHERE k = 'key-00004242'",
    "SELECT count(*), sum(v), min(k), max(k) FROM items",
    "SELECT t.tag, count(*), sum(i.v) FROM items i JOIN tags t ON t.item_id = i.id "
    "GROUP BY t.tag ORDER BY t.tag",
    "SELECT k FROM items WHERE k LIKE 'key-0001%' ORDER BY k LIMIT 20",
    "SELECT name, type, sql FROM sqlite_schema ORDER BY name",
    "SELECT count(*) FROM items WHERE id NOT IN (SELECT item_id FROM tags)",
]


def local_results(path):
    con = sqlite3.connect(path)
    try:
        return [[list(r) for r in con.execute(q).fetchall()] for q in QUERIES]
    finally:
        con.close()


class ModuleInHostsTest(TempDirTest):
    def setUp(self):
        super().setUp()
        need(MODULE, "liblitevfs.so")
        self.cloud = self.start_cloud()
        self.env = Env(self.cloud, os.path.join(self.tmp, "cache"))
        self.src = make_db(os.path.join(self.tmp, "src.db"), rows=20000)
        run_cli(["import", self.src, "items"], self.env)

    def test_python_host(self):
        script = textwrap.dedent(f"""
            import json, sqlite3, sys
            boot = sqlite3.connect(":memory:")
            boot.enable_load_extension(True)
            boot.load_extension({MODULE!r})
            con = sqlite3.connect("file:items?vfs=litevfs", uri=True)
            out = [[list(r) for r in con.execute(q).fetchall()] for q in {QUERIES!r}]
            print(json.dumps(out))
        """)
        p = subprocess.run(["/usr/bin/python3", "-c", script], env=self.env.vars,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout), local_results(self.src))

    def test_sqlite3_shell_host(self):
        sql = "\n".join([f".load {MODULE}", ".open file:items?vfs=litevfs", ".mode json"]
                        + [q + ";" for q in QUERIES[:4]]) + "\n"
        p = subprocess.run(["/usr/bin/sqlite3", ":memory:"], input=sql, env=self.env.vars,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        # sqlite3's .mode json prints one array per statement.
        decoder = json.JSONDecoder()
        text, pos, got = p.stdout, 0, []
        while pos < len(text):
            if text[pos].isspace():
                pos += 1
                continue
            rows, pos = decoder.raw_decode(text, pos)
            got.append([list(r.values()) for r in rows])
        self.assertEqual(got, local_results(self.src)[:4])

    def test_missing_database_is_cantopen_with_message(self):
        script = textwrap.dedent(f"""
            import sqlite3
            boot = sqlite3.connect(":memory:")
            boot.enable_load_extension(True)
            boot.load_extension({MODULE!r})
            try:
                sqlite3.connect("file:nosuchdb?vfs=litevfs&mode=ro", uri=True).execute(
                    "SELECT * FROM sqlite_schema").fetchall()
            except sqlite3.OperationalError as e:
                print("error:", e)
        """)
        p = subprocess.run(["/usr/bin/python3", "-c", script], env=self.env.vars,
                           capture_output=True, text=True, timeout=60)
        self.assertIn("error: unable to open database file", p.stdout, p.stderr)

    def test_missing_token_names_the_variable(self):
        env = dict(self.env.vars)
        env.pop("LITEFS_CLOUD_TOKEN")
        env["LITEVFS_LOG_LEVEL"] = "error"
        script = textwrap.dedent(f"""
            import sqlite3
            boot = sqlite3.connect(":memory:")
            boot.enable_load_extension(True)
            boot.load_extension({MODULE!r})
            try:
                sqlite3.connect("file:items?vfs=litevfs", uri=True).execute(
                    "SELECT 1 FROM items").fetchall()
                print("opened")
            except sqlite3.OperationalError as e:
                print("error:", e)
        """)
        p = subprocess.run(["/usr/bin/python3", "-c", script], env=env,
                           capture_output=True, text=True, timeout=60)
        self.assertIn("error:", p.stdout)
        self.assertIn("LITEFS_CLOUD_TOKEN", p.stdout + p.stderr)


if __name__ == "__main__":
    import unittest
    unittest.main()
