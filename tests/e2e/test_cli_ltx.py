"""End-to-end tests of `litevfs ltx ...` against real files: the LiteFS-written interop file,
databases built with Python's sqlite3, and corrupted copies."""
import glob
import json
import os
import random
import sqlite3
import tempfile
import unittest

from cli_util import litevfs_bin, run, shared_dir


def build_database(path, rows=20000):
    """A several-MB database with two tables, indexes and varied row sizes."""
    rng = random.Random(42)
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=DELETE")
    con.execute("CREATE TABLE users(id INTEGER PRIMARY KEY, name TEXT, email TEXT, bio TEXT)")
    con.execute("CREATE TABLE events(id INTEGER PRIMARY KEY, user_id INTEGER, kind TEXT, payload BLOB)")
    con.execute("CREATE INDEX users_email ON users(email)")
    con.execute("CREATE INDEX events_user_kind ON events(user_id, kind)")
    con.executemany("INSERT INTO users VALUES(?,?,?,?)",
                    ((i, "user%d" % i, "u%d@example.com" % rng.randrange(10**9),
                      "x" * rng.randrange(10, 200)) for i in range(rows)))
    con.executemany("INSERT INTO events VALUES(?,?,?,?)",
                    ((i, rng.randrange(rows), rng.choice(["a", "b", "c"]),
                      rng.randbytes(rng.randrange(1, 300))) for i in range(rows)))
    con.commit()
    con.close()


class LtxInteropTest(unittest.TestCase):
    """The v1 file and database LiteFS wrote (DESIGN.md §1: TXID 13, pages 1, 7, 8)."""

    def setUp(self):
        self.dir = os.path.join(shared_dir(), "interop")
        if not os.path.isdir(self.dir):
            self.skipTest("no interop folder at %s" % self.dir)

    def test_verify_prints_ok(self):
        files = sorted(glob.glob(os.path.join(self.dir, "*.ltx")))
        self.assertTrue(files)
        p = run(["ltx", "verify"] + files, check=0)
        self.assertEqual(p.stdout, "ok\n")

    def test_checksum_of_database(self):
        p = run(["ltx", "checksum", os.path.join(self.dir, "database")], check=0)
        self.assertEqual(p.stdout, "fe3831a381c602b9\n")
        p = run(["ltx", "checksum", "--json", os.path.join(self.dir, "database")], check=0)
        self.assertEqual(json.loads(p.stdout)["checksum"], "fe3831a381c602b9")

    def test_dump_and_list(self):
        path = os.path.join(self.dir, "000000000000000d-000000000000000d.ltx")
        p = run(["ltx", "dump", "--no-data", path], check=0)
        self.assertIn("Min TXID:  000000000000000d (13)", p.stdout)
        frames = [l for l in p.stdout.splitlines() if l.startswith("Frame #")]
        self.assertEqual(frames, ["Frame #0: pgno=1", "Frame #1: pgno=7", "Frame #2: pgno=8"])
        self.assertIn("File Checksum: 9496a29358326fb5", p.stdout)
        p = run(["ltx", "dump", path], check=0)
        self.assertIn("SQLite format 3", p.stdout)  # hexdump of page 1
        d = json.loads(run(["ltx", "dump", "--json", path], check=0).stdout)
        self.assertEqual([f["pgno"] for f in d["pages"]], [1, 7, 8])
        self.assertEqual(d["trailer"]["postApplyChecksum"], "fe3831a381c602b9")
        self.assertEqual(d["header"]["preApplyChecksum"], "9c74a15b4e4f246c")
        p = run(["ltx", "list", "--tsv", path], check=0)
        lines = p.stdout.splitlines()
        self.assertEqual(lines[0].split("\t")[:4], ["min_txid", "max_txid", "commit", "pages"])
        self.assertEqual(lines[1].split("\t")[0], "000000000000000d")
        self.assertEqual(lines[1].split("\t")[3], "3")
        p = run(["ltx", "list", "--json", path], check=0)
        info = json.loads(p.stdout)[0]
        self.assertEqual(info["trailer"]["fileChecksum"], "9496a29358326fb5")
        self.assertEqual(info["pages"], 3)

    def test_apply_on_matching_database_checks_pre_apply(self):
        # The database is the state *after* this file, so applying it again must fail on
        # the pre-apply checksum and leave the copy untouched.
        with tempfile.TemporaryDirectory() as tmp:
            db = os.path.join(tmp, "db")
            with open(os.path.join(self.dir, "database"), "rb") as f:
                orig = f.read()
            with open(db, "wb") as f:
                f.write(orig)
            path = os.path.join(self.dir, "000000000000000d-000000000000000d.ltx")
            p = run(["ltx", "apply", "--db", db, path], check=1)
            self.assertTrue(p.stderr.startswith("litevfs: " + path + ": "), p.stderr)
            self.assertIn("pre-apply", p.stderr)
            with open(db, "rb") as f:
                self.assertEqual(f.read(), orig)


class LtxRoundTripTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        litevfs_bin()
        cls.tmp = tempfile.TemporaryDirectory()
        cls.db = os.path.join(cls.tmp.name, "source.db")
        build_database(cls.db)
        cls.size = os.path.getsize(cls.db)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def path(self, name):
        return os.path.join(self.tmp.name, name)

    def test_source_is_several_megabytes(self):
        self.assertGreater(self.size, 3 * 1024 * 1024)

    def test_encode_verify_apply_each_format(self):
        want_sum = run(["ltx", "checksum", self.db], check=0).stdout.strip()
        with open(self.db, "rb") as f:
            want = f.read()
        page_size = int.from_bytes(want[16:18], "big")
        for name, flags in [("v1", ["--format", "v1"]),
                            ("v1-lz4", ["--format", "v1", "--compress"]),
                            ("v3", ["--format", "v3"])]:
            with self.subTest(format=name):
                out = self.path(name + ".ltx")
                p = run(["ltx", "encode-db", "-o", out, "--json"] + flags + [self.db], check=0)
                info = json.loads(p.stdout)
                self.assertEqual(info["header"]["minTXID"], "0000000000000001")
                self.assertEqual(info["header"]["commit"], len(want) // page_size)
                self.assertEqual(info["trailer"]["postApplyChecksum"], want_sum)
                self.assertEqual(info["version"], "v3" if name == "v3" else "v1")
                if name != "v1":
                    self.assertLess(os.path.getsize(out), self.size)  # compressed
                self.assertEqual(run(["ltx", "verify", out], check=0).stdout, "ok\n")
                forced = "v3" if name == "v3" else "v1"
                run(["ltx", "verify", "--format", forced, out], check=0)

                target = self.path(name + ".db")
                open(target, "wb").close()  # apply onto an existing empty file
                run(["ltx", "apply", "--db", target, out], check=0)
                with open(target, "rb") as f:
                    self.assertTrue(f.read() == want, "applied database differs from source")
                con = sqlite3.connect(target)
                self.assertEqual(con.execute("PRAGMA integrity_check").fetchall(), [("ok",)])
                self.assertEqual(con.execute("SELECT count(*) FROM users").fetchone()[0], 20000)
                con.close()
                self.assertEqual(run(["ltx", "checksum", target], check=0).stdout.strip(), want_sum)

    def test_wrong_forced_format_fails(self):
        out = self.path("forced.ltx")
        run(["ltx", "encode-db", "-o", out, "--format", "v3", self.db], check=0)
        p = run(["ltx", "verify", "--format", "v1", out], check=1)
        self.assertIn(out + ": ", p.stdout)

    def test_corrupt_file_reports_reason(self):
        good = self.path("good.ltx")
        run(["ltx", "encode-db", "-o", good, self.db], check=0)
        bad = self.path("bad.ltx")
        with open(good, "rb") as f:
            data = bytearray(f.read())
        data[len(data) // 2] ^= 0x01  # one bit in the middle of the page data
        with open(bad, "wb") as f:
            f.write(data)
        p = run(["ltx", "verify", bad], check=1)
        self.assertTrue(p.stdout.startswith(bad + ": "), p.stdout)
        self.assertIn("checksum", p.stdout)
        self.assertEqual(p.stderr, "litevfs: 0 ok, 1 invalid\n")
        p = run(["ltx", "verify", good, bad], check=1)
        self.assertEqual(p.stderr, "litevfs: 1 ok, 1 invalid\n")
        # list reports the bad file and still lists the good one
        p = run(["ltx", "list", good, bad], check=1)
        self.assertEqual(len(p.stdout.splitlines()), 2)
        self.assertIn(bad, p.stderr)
        # apply refuses before touching the database
        target = self.path("never.db")
        p = run(["ltx", "apply", "--db", target, bad], check=1)
        self.assertIn("checksum", p.stderr)
        self.assertFalse(os.path.exists(target) and os.path.getsize(target) > 0)

    def test_truncated_file(self):
        good = self.path("trunc-src.ltx")
        run(["ltx", "encode-db", "-o", good, self.db], check=0)
        bad = self.path("trunc.ltx")
        with open(good, "rb") as f:
            data = f.read()
        with open(bad, "wb") as f:
            f.write(data[:len(data) - 5])
        p = run(["ltx", "verify", bad], check=1)
        self.assertTrue(p.stdout.startswith(bad + ": "))

    def test_not_an_ltx_file(self):
        p = run(["ltx", "verify", self.db], check=1)
        self.assertTrue(p.stdout.startswith(self.db + ": "))
        p = run(["ltx", "dump", self.db], check=1)
        self.assertTrue(p.stderr.startswith("litevfs: "))

    def test_encode_refuses_non_database(self):
        junk = self.path("junk.bin")
        with open(junk, "wb") as f:
            f.write(b"hello world" * 100)
        p = run(["ltx", "encode-db", "-o", self.path("junk.ltx"), junk], check=1)
        self.assertTrue(p.stderr.startswith("litevfs: "))
        self.assertFalse(os.path.exists(self.path("junk.ltx")))
        # no temporary files are left behind
        self.assertEqual([n for n in os.listdir(self.tmp.name) if ".tmp-" in n], [])

    def test_missing_file(self):
        p = run(["ltx", "checksum", self.path("nope.db")], check=1)
        self.assertTrue(p.stderr.startswith("litevfs: "))


class CliUsageTest(unittest.TestCase):
    def test_usage_errors_exit_2(self):
        for args in (["ltx", "verify"],                      # no files
                     ["ltx", "encode-db", "x.db"],           # no -o
                     ["ltx", "dump", "--format", "v9", "x"],  # bad format
                     ["ltx", "apply", "x.ltx"],              # no --db
                     ["ltx", "frobnicate"],
                     ["ltx"],
                     ["no-such-command"],
                     []):
            with self.subTest(args=args):
                p = run(args, check=2)
                self.assertTrue(p.stderr.startswith("litevfs: "), p.stderr)

    def test_help_everywhere(self):
        for args in ([], ["ltx"], ["ltx", "dump"], ["ltx", "list"], ["ltx", "verify"],
                     ["ltx", "checksum"], ["ltx", "encode-db"], ["ltx", "apply"]):
            with self.subTest(args=args):
                p = run(args + ["--help"], check=0)
                self.assertIn("Usage", p.stdout)

    def test_version(self):
        self.assertTrue(run(["--version"], check=0).stdout.startswith("litevfs "))


if __name__ == "__main__":
    unittest.main()
