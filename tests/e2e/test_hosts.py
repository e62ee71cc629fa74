"""Every SQLite host, unchanged: the programs in fixtures/examples/hosts/ (one per host) run
against a real litevfs-mockcloud. Each reads the remote database, takes the lease, writes a
row and releases the lease; another process (the litevfs CLI) then sees the row and can take
the lease itself. No host may leave a local file behind (the trap of hosts that cannot pass a
URI: an empty local database named like the remote one). A host whose toolchain is not
installed (`bash scripts/deps --hosts` installs them all) is skipped with the reason."""
import os
import shutil
import sqlite3
import subprocess
import textwrap

from harness import MODULE, Env, TempDirTest, need, run_cli

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
HOSTS = os.path.join(ROOT, "fixtures", "examples", "hosts")
NODE_MODULES = os.environ.get("LITEVFS_NODE_MODULES") or os.path.join(
    ROOT, "build", "npm", "node_modules")
GOPATH_DEBIAN = "/usr/share/gocode"  # where Debian's golang-*-dev packages put Go sources
NOTE = "it's from a host"  # a quote inside: each host must bind it, not paste it
TIMEOUT = 300  # a first `go run` compiles mattn/go-sqlite3


def probe(args):
    """True when the command runs and exits 0 (a toolchain check)."""
    try:
        return subprocess.run(args, capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class HostsTest(TempDirTest):
    def setUp(self):
        super().setUp()
        need(MODULE, "liblitevfs.so")
        self.module = os.path.abspath(MODULE)
        self.cloud = self.start_cloud()
        self.env = Env(self.cloud, os.path.join(self.tmp, "cache"))
        self.env.vars["LITEVFS_MODULE"] = self.module

    def import_notes(self, name):
        src = os.path.join(self.tmp, f"{name}-src.db")
        con = sqlite3.connect(src)
        con.executescript("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT);"
                          "INSERT INTO notes(body) VALUES ('hello'), ('world');")
        con.close()
        run_cli(["import", src, name], self.env)

    def run_host(self, name, argv, extra_env=None):
        """Runs one example on a fresh database `name` in an empty directory, then checks
        what it printed, that it left no file, and the write from another process."""
        self.import_notes(name)
        work = os.path.join(self.tmp, f"{name}-cwd")
        os.mkdir(work)
        env = dict(self.env.vars, **(extra_env or {}))
        p = subprocess.run([*argv, name, NOTE], cwd=work, env=env, capture_output=True,
                           text=True, timeout=TIMEOUT)
        self.assertEqual(p.returncode, 0, f"{argv} failed\nstdout: {p.stdout}\nstderr: {p.stderr}")
        self.assertEqual(p.stdout, "before 2\nafter 3\n", p.stderr)
        self.assertEqual(os.listdir(work), [], "the host created local files")
        # Another process: the lease was released (this takes it), the row is there.
        run_cli(["shell", name, "--lease", "-c",
                 "INSERT INTO notes(body) VALUES ('from the cli')"], self.env)
        copy = os.path.join(self.tmp, f"{name}-copy.db")
        run_cli(["export", name, copy], self.env)
        con = sqlite3.connect(copy)
        try:
            bodies = [r[0] for r in con.execute("SELECT body FROM notes ORDER BY id")]
        finally:
            con.close()
        self.assertEqual(bodies, ["hello", "world", NOTE, "from the cli"])

    def example(self, file):
        return os.path.join(HOSTS, file)

    def test_sqlite3_shell(self):
        if not shutil.which("sqlite3"):
            self.skipTest("the sqlite3 shell is not installed (bash scripts/deps)")
        self.run_host("shell", ["sh", self.example("notes.sh")])

    def test_python(self):
        self.run_host("python", ["/usr/bin/python3", self.example("notes.py")])

    def test_go(self):
        if not shutil.which("go"):
            self.skipTest("Go is not installed (bash scripts/deps --hosts: golang-go)")
        if not os.path.isdir(os.path.join(GOPATH_DEBIAN, "src/github.com/mattn/go-sqlite3")):
            self.skipTest("mattn/go-sqlite3 is not installed (bash scripts/deps --hosts: "
                          "golang-github-mattn-go-sqlite3-dev)")
        # Debian's Go sources are a GOPATH, not a module proxy: build in GOPATH mode.
        self.run_host("go", ["go", "run", self.example("notes.go")],
                      {"GO111MODULE": "off", "GOPATH": GOPATH_DEBIAN, "GOFLAGS": ""})

    def test_node_better_sqlite3(self):
        if not shutil.which("node"):
            self.skipTest("Node is not installed (bash scripts/deps --hosts installs Debian's nodejs)")
        addon = os.path.join(NODE_MODULES, "better-sqlite3", "build", "Release",
                             "better_sqlite3.node")
        if not os.path.exists(addon):
            self.skipTest(f"better-sqlite3 is not built in {NODE_MODULES} (bash scripts/deps "
                          "--hosts; it needs Node 18+ and its headers, see build/npm/npm.log)")
        self.run_host("node", ["node", self.example("notes.js")], {"NODE_PATH": NODE_MODULES})

    def php(self, file, name, ext):
        if not shutil.which("php"):
            self.skipTest("PHP is not installed (bash scripts/deps --hosts: php-cli php-sqlite3)")
        if not probe(["php", "-r", f"exit(extension_loaded('{ext}') ? 0 : 1);"]):
            self.skipTest(f"PHP's {ext} extension is not installed "
                          "(bash scripts/deps --hosts: php-sqlite3)")
        ext_dir = os.path.dirname(self.module)  # SQLite3::loadExtension looks only here
        self.run_host(name, ["php", "-d", f"sqlite3.extension_dir={ext_dir}",
                             self.example(file)])

    def test_php_sqlite3(self):
        self.php("notes_sqlite3.php", "php", "sqlite3")

    def test_php_pdo(self):
        self.php("notes_pdo.php", "pdo", "pdo_sqlite")

    def test_ruby(self):
        if not probe(["ruby", "-e", "require 'sqlite3'"]):
            self.skipTest("Ruby's sqlite3 gem is not installed "
                          "(bash scripts/deps --hosts: ruby ruby-sqlite3)")
        self.run_host("ruby", ["ruby", self.example("notes.rb")])

    def test_perl(self):
        if not probe(["perl", "-MDBD::SQLite", "-e", "1"]):
            self.skipTest("Perl's DBD::SQLite is not installed "
                          "(bash scripts/deps --hosts: libdbd-sqlite3-perl)")
        self.run_host("perl", ["perl", self.example("notes.pl")])

    def test_tcl(self):
        if not shutil.which("tclsh"):
            self.skipTest("tclsh is not installed (bash scripts/deps --hosts: tcl)")
        p = subprocess.run(["tclsh"], input="package require sqlite3\n", capture_output=True,
                           text=True, timeout=60)
        if p.returncode != 0 or p.stderr:
            self.skipTest("Tcl's sqlite3 package is not installed "
                          "(bash scripts/deps --hosts: libsqlite3-tcl)")
        self.run_host("tcl", ["tclsh", self.example("notes.tcl")])


class DefaultVfsTest(TempDirTest):
    """liblitevfsdefault: litevfs is the default VFS, yet every file that is not
    `litevfs:NAME` (local databases in any journal mode, temp files) stays a local file."""

    SCRIPT = textwrap.dedent("""
        import os, sqlite3, sys
        module, work = sys.argv[1], sys.argv[2]
        boot = sqlite3.connect(":memory:")
        boot.enable_load_extension(True)
        boot.load_extension(module)  # .../liblitevfsdefault: entry sqlite3_litevfsdefault_init
        boot.close()
        # The plain name, bare and as the last component of an absolute path (PHP's form).
        for name in ("litevfs:app", os.path.join(work, "litevfs:app")):
            con = sqlite3.connect(name)
            print(con.execute("SELECT count(*) FROM notes").fetchone()[0])
            con.close()
        # Local databases next to it: WAL and rollback journals, temp files, reopened.
        for mode in ("wal", "delete"):
            path = os.path.join(work, f"local-{mode}.db")
            con = sqlite3.connect(path, isolation_level=None)
            print(con.execute(f"PRAGMA journal_mode={mode}").fetchone()[0])
            con.execute("PRAGMA temp_store=FILE")
            con.execute("CREATE TABLE t(x)")
            con.execute("BEGIN")
            con.executemany("INSERT INTO t VALUES (?)", ((i,) for i in range(20000)))
            con.execute("COMMIT")
            con.execute("CREATE TEMP TABLE tt AS SELECT x FROM t ORDER BY random()")
            print(con.execute("SELECT count(*), sum(x) FROM tt").fetchone())
            con.close()
        # A bad plain name is an error naming the problem, not a local file.
        try:
            sqlite3.connect("litevfs:no such db").execute("SELECT 1 FROM sqlite_schema")
            print("opened")
        except sqlite3.Error as e:
            print("error", e)
    """)

    def test_local_files_stay_local(self):
        need(MODULE, "liblitevfs.so")
        default_module = os.path.join(os.path.dirname(os.path.abspath(MODULE)),
                                      "liblitevfsdefault")
        # A hard link, not a symlink: PHP resolves symlinks, and the file name picks the entry.
        self.assertTrue(os.path.samefile(default_module + ".so", os.path.abspath(MODULE)))
        self.assertFalse(os.path.islink(default_module + ".so"))
        cloud = self.start_cloud()
        env = Env(cloud, os.path.join(self.tmp, "cache"))
        src = os.path.join(self.tmp, "src.db")
        con = sqlite3.connect(src)
        con.executescript("CREATE TABLE notes(body TEXT); INSERT INTO notes VALUES ('a'), ('b');")
        con.close()
        run_cli(["import", src, "app"], env)
        work = os.path.join(self.tmp, "work")
        os.mkdir(work)
        p = subprocess.run(["/usr/bin/python3", "-c", self.SCRIPT, default_module, work],
                           cwd=work, env=env.vars, capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        total = sum(range(20000))
        lines = p.stdout.splitlines()
        self.assertEqual(lines[:6], ["2", "2", "wal", f"(20000, {total})", "delete",
                                     f"(20000, {total})"], p.stderr)
        self.assertRegex(lines[6], r"^error .*", "a bad plain name must fail")
        self.assertIn("'no such db' is not a database name", p.stderr + lines[6])
        # The local databases are real local files that a plain sqlite3 reads.
        self.assertEqual(sorted(f for f in os.listdir(work) if not f.endswith(("-wal", "-shm"))),
                         ["local-delete.db", "local-wal.db"])
        for mode in ("wal", "delete"):
            con = sqlite3.connect(os.path.join(work, f"local-{mode}.db"))
            self.assertEqual(con.execute("SELECT count(*) FROM t").fetchone()[0], 20000)
            con.close()


if __name__ == "__main__":
    import unittest
    unittest.main()
