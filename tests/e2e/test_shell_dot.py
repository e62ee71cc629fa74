"""End-to-end tests of the sqlite3-style dot-commands of `litevfs shell` (.dump .read
.output .once .import .indexes .backup .databases .headers .nullvalue .show), table mode
with multi-line values, and --json output (one document per statement, JSON errors),
against a real litevfs-mockcloud."""
import json
import os
import shutil
import sqlite3
import subprocess
import unittest

from harness import run_cli, start_class_cloud


class ShellDotTest(unittest.TestCase):
    DB = "dotdb"

    @classmethod
    def setUpClass(cls):
        start_class_cloud(cls, "litevfs-shell-dot-", rows=300)
        run_cli(["import", cls.src, cls.DB], cls.env)
        cls.serial = 0

    def shell(self, *args, db=None, input=None, env=None, check=None):
        p = run_cli(["shell", db or self.DB, *args], env or self.env, check=False, input=input)
        if check is not None:
            self.assertEqual(p.returncode, check, "stdout: %s\nstderr: %s" % (p.stdout, p.stderr))
        return p

    def path(self, name):
        return os.path.join(self.tmp, name)

    def writable_db(self):
        """A fresh remote copy of the source database, for tests that write."""
        type(self).serial += 1
        name = "w%d" % self.serial
        run_cli(["import", self.src, name], self.env)
        return name

    def sqlite3_dump(self, *args):
        return subprocess.run(["sqlite3", self.src, ".dump " + " ".join(args)],
                              capture_output=True, text=True, check=True).stdout

    # ---- .dump ----
    def test_dump_is_what_sqlite3_dumps_of_the_same_database(self):
        p = self.shell("-c", ".dump", check=0)
        self.assertEqual(p.stdout, self.sqlite3_dump())
        self.assertIn("CREATE TABLE items", p.stdout)
        p = self.shell("-c", ".dump tags", check=0)
        self.assertEqual(p.stdout, self.sqlite3_dump("tags"))
        self.assertNotIn("CREATE TABLE items", p.stdout)

    def test_dump_finds_the_module_next_to_the_binary(self):
        env = dict(self.env.vars)
        env.pop("LITEVFS_MODULE", None)
        p = self.shell("-c", ".dump tags", env=env, check=0)
        self.assertEqual(p.stdout, self.sqlite3_dump("tags"))

    def test_dump_finds_the_module_in_the_installed_layout(self):
        build = os.environ.get("LITEVFS_BUILD_DIR", "")
        if not build or not os.environ.get("LITEVFS_MODULE"):
            self.skipTest("LITEVFS_BUILD_DIR or LITEVFS_MODULE is not set")
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            libdir = next(l.split("=", 1)[1].strip() for l in f
                          if l.startswith("CMAKE_INSTALL_LIBDIR:"))
        prefix = self.path("prefix")
        os.makedirs(os.path.join(prefix, "bin"), exist_ok=True)
        os.makedirs(os.path.join(prefix, libdir), exist_ok=True)
        exe = os.path.join(prefix, "bin", "litevfs")
        shutil.copy2(os.environ["LITEVFS_BIN"], exe)
        shutil.copy2(os.environ["LITEVFS_MODULE"], os.path.join(prefix, libdir, "liblitevfs.so"))
        env = dict(self.env.vars)
        env.pop("LITEVFS_MODULE", None)
        p = subprocess.run([exe, "shell", self.DB, "-c", ".dump tags"], env=env,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, self.sqlite3_dump("tags"))

    def test_dump_explains_a_missing_module_or_sqlite3(self):
        env = dict(self.env.vars, LITEVFS_MODULE=self.path("nope.so"))
        p = self.shell("-c", ".dump", env=env, check=1)
        self.assertIn("the litevfs module liblitevfs.so was not found ($LITEVFS_MODULE = %s)"
                      % self.path("nope.so"), p.stderr)
        self.assertIn("set LITEVFS_MODULE to its path", p.stderr)
        empty = self.path("empty-bin")
        os.makedirs(empty, exist_ok=True)
        env = dict(self.env.vars, PATH=empty)
        p = self.shell("-c", ".dump", env=env, check=1)
        self.assertEqual(p.stderr, "Error: .dump runs Debian's sqlite3 program, which is not on "
                                   "PATH: install it (apt-get install sqlite3)\n")

    def test_dump_refuses_inside_an_open_transaction(self):
        p = self.shell("-c", "BEGIN", "-c", ".dump", check=1)
        self.assertIn("Error: .dump: finish the open transaction first (COMMIT or ROLLBACK)",
                      p.stderr)
        self.assertEqual(p.stdout, "")

    # ---- .read, .output, .once ----
    def test_read_runs_sql_and_dot_commands_from_a_file(self):
        script = self.path("script.sql")
        with open(script, "w") as f:
            f.write(".mode csv\n.headers off\nSELECT count(*)\n  FROM items;\nSELECT 'x' AS y;\n")
        p = self.shell("-c", ".read " + script, "-c", "SELECT 7", check=0)
        self.assertEqual(p.stdout, "300\nx\n7\n")
        loop = self.path("loop.sql")
        with open(loop, "w") as f:
            f.write(".read %s\n" % loop)
        p = self.shell("-c", ".read " + loop, check=1)
        self.assertIn("nested more than 16 deep (does a file read itself?)", p.stderr)
        p = self.shell("-c", ".read " + self.path("missing.sql"), check=1)
        self.assertIn("Error: .read: cannot open %s: No such file or directory"
                      % self.path("missing.sql"), p.stderr)

    def test_output_and_once_redirect(self):
        out, once = self.path("out.txt"), self.path("once file.txt")
        p = self.shell("--mode", "csv", "--no-headers",
                       "-c", ".output " + out, "-c", "SELECT 1", "-c", "SELECT 2",
                       "-c", ".output", "-c", "SELECT 3",
                       "-c", ".once '%s'" % once, "-c", "SELECT 4", "-c", "SELECT 5", check=0)
        self.assertEqual(p.stdout, "3\n5\n")
        with open(out) as f:
            self.assertEqual(f.read(), "1\n2\n")
        with open(once) as f:
            self.assertEqual(f.read(), "4\n")
        piped = self.path("piped.txt")
        p = self.shell("--mode", "csv", "--no-headers",
                       "-c", ".once '|tr a-z A-Z > %s'" % piped, "-c", "SELECT 'abc'", check=0)
        with open(piped) as f:
            self.assertEqual(f.read(), "ABC\n")
        p = self.shell("-c", ".output /nonexistent-dir/x", check=1)
        self.assertIn("Error: .output: cannot open /nonexistent-dir/x: No such file or directory",
                      p.stderr)

    def test_global_flags_stay_out_of_child_environments(self):
        # The flags reach the VFS in-process, not through setenv: a pipe's command (any
        # child) must not inherit the --token secret or the other flags as variables.
        env = dict(self.env.vars)
        host, token = env.pop("LITEFS_CLOUD_HOST"), env.pop("LITEFS_CLOUD_TOKEN")
        env.pop("LITEVFS_CACHE_DIR")
        seen = self.path("child-env.txt")
        p = run_cli(["--host", host, "--token", token, "--cache-dir", self.path("flag-cache"),
                     "shell", self.DB, "--mode", "csv", "--no-headers",
                     "-c", ".once '|{ cat; env; } > %s'" % seen,
                     "-c", "SELECT count(*) FROM items"],
                    env, check=False)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(seen) as f:
            child = f.read()
        self.assertEqual(child.split("\n", 1)[0], "300")  # the query ran on the flags' settings
        for var in ("LITEFS_CLOUD_HOST", "LITEFS_CLOUD_TOKEN", "LITEVFS_CACHE_DIR"):
            self.assertNotIn(var + "=", child)
        self.assertTrue(os.path.isdir(self.path("flag-cache")), "--cache-dir was not used")

    # ---- .import ----
    def write(self, name, data):
        path = self.path(name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def rows(self, db, sql):
        p = self.shell("--json", "-c", sql, db=db, check=0)
        return json.loads(p.stdout)

    def test_import_csv_into_a_new_table_in_one_commit(self):
        db = self.writable_db()
        csv = self.write("people.csv",
                         b'\xef\xbb\xbfname,note,n\r\n'
                         b'alice,"comma, inside",1\r\n'
                         b'"bob ""the"" builder","two\nlines",2\n'
                         b'\xc3\xa9mile,,3\n')
        before = run_cli(["pos", db], self.env).stdout
        self.shell("--lease", "-c", ".import --csv %s people" % csv, db=db, check=0)
        self.assertEqual(self.rows(db, "SELECT * FROM people ORDER BY n"), [
            {"name": "alice", "note": "comma, inside", "n": "1"},
            {"name": 'bob "the" builder', "note": "two\nlines", "n": "2"},
            {"name": "\u00e9mile", "note": "", "n": "3"}])
        after = run_cli(["pos", db], self.env).stdout
        self.assertEqual(int(after.split("/")[0], 16), int(before.split("/")[0], 16) + 1,
                         "one commit for the whole import")

    def test_import_into_an_existing_table_with_skip(self):
        db = self.writable_db()
        csv = self.write("tags.csv", b"item_id,tag\n9001,alpha\n9002,beta\n")
        self.shell("--lease", "-c", ".import --skip 1 %s tags" % csv, db=db, check=0)
        self.assertEqual(self.rows(db, "SELECT * FROM tags WHERE item_id > 9000 ORDER BY 1"),
                         [{"item_id": 9001, "tag": "alpha"}, {"item_id": 9002, "tag": "beta"}])

    def test_import_refuses_bad_csv_and_imports_nothing(self):
        db = self.writable_db()
        short = self.write("short.csv", b"a,b\n1,2\n3\n")
        p = self.shell("--lease", "-c", ".import %s t1" % short, db=db, check=1)
        self.assertIn("Error: .import %s: line 3: 1 fields, but t1 has 2 columns; nothing was "
                      "imported" % short, p.stderr)
        unterminated = self.write("open.csv", b'a,b\n1,"never closed\n')
        p = self.shell("--lease", "-c", ".import %s t2" % unterminated, db=db, check=1)
        self.assertIn("line 2: a quoted field starts here and never ends", p.stderr)
        p = self.shell("--lease", "-c", ".import %s t3" % self.tmp, db=db, check=1)
        self.assertIn("Error: .import: %s is a directory" % self.tmp, p.stderr)
        p = self.shell("-c", ".tables", db=db, check=0)
        self.assertEqual(p.stdout, "items\ntags\n")  # no t1, t2 or t3

    def test_import_without_the_lease_names_the_lease(self):
        # Write mode lease: writes only under --lease (the default, auto, takes the lease).
        db = self.writable_db()
        csv = self.write("ok.csv", b"a\n1\n")
        p = self.shell("-c", ".import %s t" % csv, db=db, check=1,
                       env=dict(self.env.vars, LITEVFS_WRITE_MODE="lease"))
        self.assertIn("no write lease", p.stderr)

    # ---- small ones ----
    def test_indexes_databases_headers_nullvalue_show(self):
        p = self.shell("-c", ".indexes", "-c", ".indexes tags", check=0)
        self.assertEqual(p.stdout, "items_k\ntags_item\ntags_item\n")
        p = self.shell("-c", ".databases", check=0)
        self.assertRegex(p.stdout, r"^main: \S+ r/w\n$")
        p = self.shell("--readonly", "-c", ".databases", check=0)
        self.assertRegex(p.stdout, r"^main: \S+ r/o\n$")
        p = self.shell("-c", ".headers off", "-c", ".nullvalue NULL", "-c", "SELECT NULL AS n, 1",
                       "-c", ".mode csv", "-c", "SELECT NULL", "-c", ".show", check=0)
        self.assertEqual(p.stdout.splitlines()[:4], ["+------+---+", "| NULL | 1 |",
                                                     "+------+---+", "NULL"])
        self.assertIn("   headers: off\n", p.stdout)
        self.assertIn("      mode: csv\n", p.stdout)
        self.assertIn(' nullvalue: "NULL"\n', p.stdout)
        self.assertIn("    output: stdout\n", p.stdout)
        self.assertIn("  database: %s\n" % self.DB, p.stdout)

    def test_backup_writes_a_local_copy(self):
        copy = self.path("backup.db")
        self.shell("-c", ".backup " + copy, check=0)
        con = sqlite3.connect(copy)
        self.assertEqual(con.execute("PRAGMA integrity_check").fetchone()[0], "ok")
        self.assertEqual(con.execute("SELECT count(*), sum(v) FROM items").fetchone(),
                         sqlite3.connect(self.src).execute(
                             "SELECT count(*), sum(v) FROM items").fetchone())
        con.close()
        p = self.shell("-c", ".backup nosuchschema " + self.path("b2.db"), check=1)
        self.assertIn("Error: .backup nosuchschema to %s: unknown database nosuchschema"
                      % self.path("b2.db"), p.stderr)
        self.assertFalse(os.path.exists(self.path("b2.db")), "a failed backup leaves no file")

    # ---- output modes ----
    def test_table_mode_aligns_multi_line_values(self):
        p = self.shell("-c", "SELECT 'a' || char(10) || 'b' AS x, 1 AS y "
                             "UNION ALL SELECT 'c' || char(9) || 'd', 22", check=0)
        self.assertEqual(p.stdout,
                         "+-----------+----+\n"
                         "| x         | y  |\n"
                         "+-----------+----+\n"
                         "| a         |  1 |\n"
                         "| b         |    |\n"
                         "+-----------+----+\n"
                         "| c       d | 22 |\n"
                         "+-----------+----+\n")
        p = self.shell("-c", "SELECT 'x' || char(27) || '[2J' AS esc", check=0)
        self.assertIn("| x^[[2J |", p.stdout)  # a control character cannot move the cursor

    def test_json_is_one_document_per_statement(self):
        p = self.shell("--json", "-c", "SELECT 1 AS a WHERE 0", check=0)
        self.assertEqual(p.stdout, "[]\n")
        self.assertEqual(json.loads(p.stdout), [])
        p = self.shell("--json", "-c", "SELECT 1 AS a; CREATE TEMP TABLE t(x); SELECT 2 AS b "
                                       "UNION ALL SELECT 3", check=0)
        self.assertEqual([json.loads(l) for l in p.stdout.splitlines()],
                         [[{"a": 1}], [{"b": 2}, {"b": 3}]])

    def test_json_errors_are_json(self):
        p = self.shell("--json", "-c", "SELECT * FROM nope", check=1)
        self.assertEqual(p.stdout, "")
        self.assertEqual(json.loads(p.stderr), {"error": "no such table: nope",
                                                "code": "SQLITE_ERROR"})
        p = self.shell("--json", "--lease", "-c", "INSERT INTO items(id, k) VALUES (1, 'dup')",
                       db=self.writable_db(), check=1)
        self.assertEqual(json.loads(p.stderr),
                         {"error": "UNIQUE constraint failed: items.id "
                                   "(SQLITE_CONSTRAINT_PRIMARYKEY)",
                          "code": "SQLITE_CONSTRAINT_PRIMARYKEY"})
        p = self.shell("--json", "-c", "SELECT 1", db="nosuchdb", check=1)
        err = json.loads(p.stderr)
        self.assertRegex(err["error"], r"^nosuchdb: ")


if __name__ == "__main__":
    unittest.main()
