"""litevfs in the browser (issue 20): the wasm build (vfs/wasm) in Debian's headless Chromium
against a real litevfs-mockcloud on loopback, and the server's --web / --cors-origin.

The browser tests skip, naming the reason, without chromium, emcc (scripts/deps-wasm) or the
SQLite amalgamation; with them they build vfs/wasm (vfs/wasm/build.sh, incremental) and run.
Answers are compared with Python's sqlite3 on the source file; request counts come from the
page's own counters (the Client's stats). LITEVFS_WASM_SCREENSHOT=PATH saves the demo page.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.request

import cdp
from harness import MOCKCLOUD, Env, MockCloud, TempDirTest, make_db, need, run_cli

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
WASM_DIR = os.environ.get("LITEVFS_WASM_DIR") or os.path.join(ROOT, "build", "wasm", "web")
BUILD_TIMEOUT_S = 600
ROWS = 3000
TOKEN = "test-token"

POINT = "SELECT id, k, v, payload FROM items WHERE id = 1234"
INDEX = "SELECT id, k, v FROM items WHERE k = 'key-00000777'"
RANGE = "SELECT id, v FROM items WHERE id BETWEEN 1500 AND 1800 ORDER BY id"
JOIN = ("SELECT t.tag, count(*) FROM items i JOIN tags t ON t.item_id = i.id "
        "WHERE i.id < 600 GROUP BY t.tag ORDER BY t.tag")


def build_wasm():
    """Builds vfs/wasm into WASM_DIR, or skips naming what is missing."""
    if not shutil.which("emcc"):
        raise unittest.SkipTest("no emcc on PATH (Debian's emscripten): run scripts/deps-wasm")
    amalgamation = os.path.join(ROOT, "build", "npm-wasm", "node_modules", "better-sqlite3",
                                "deps", "sqlite3", "sqlite3.c")
    if not os.path.exists(amalgamation):
        raise unittest.SkipTest(f"no SQLite amalgamation at {amalgamation}: run scripts/deps-wasm")
    p = subprocess.run([os.path.join(ROOT, "vfs", "wasm", "build.sh"), WASM_DIR],
                       capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
    if p.returncode != 0:
        raise AssertionError(f"vfs/wasm/build.sh failed:\n{p.stderr[-4000:]}")


def native(path, sql):
    con = sqlite3.connect(path)
    try:
        return [list(r) for r in con.execute(sql).fetchall()]
    finally:
        con.close()


def js(s):
    """A Python string as a JS string literal."""
    return json.dumps(s)


class BrowserTest(unittest.TestCase):
    """One mockcloud serving the demo (--web) and one browser for the whole class."""

    @classmethod
    def setUpClass(cls):
        need(MOCKCLOUD, "litevfs-mockcloud")
        cls.chromium = cdp.find_chromium()
        if not cls.chromium:
            raise unittest.SkipTest("no chromium on PATH (Debian's chromium): run scripts/deps-wasm")
        build_wasm()
        cls.tmp = tempfile.mkdtemp(prefix="litevfs-wasm-")
        cls.addClassCleanup(shutil.rmtree, cls.tmp, True)
        cls.cloud = MockCloud(os.path.join(cls.tmp, "data"), token=TOKEN,
                              extra_args=["--web", WASM_DIR]).start()
        cls.addClassCleanup(cls.cloud.stop)
        cls.env = Env(cls.cloud, os.path.join(cls.tmp, "cache"))
        cls.src = make_db(os.path.join(cls.tmp, "src.db"), rows=ROWS)
        run_cli(["import", cls.src, "demo"], cls.env)
        cls.browser = cdp.Chromium(cls.chromium, os.path.join(cls.tmp, "chromium.log")).__enter__()
        cls.addClassCleanup(cls.browser.__exit__)
        cls.page = cls.cloud.url + "/web/index.html"

    def load(self):
        self.browser.navigate(self.page, "window.demo !== undefined")

    def open(self, name="demo", fresh_ms=None, host=None, persist=True):
        opts = {"token": TOKEN, "persist": persist}
        if fresh_ms is not None:
            opts["freshMs"] = fresh_ms
        if host is not None:
            opts["host"] = host
        return self.browser.evaluate(f"demo.open({js(name)}, {json.dumps(opts)})")

    def query(self, sql):
        return self.browser.evaluate(f"demo.run({js(sql)})")

    def test_cold_open_and_rowid_lookup_are_one_request_each(self):
        self.load()
        opened = self.open(fresh_ms=60000, persist=False)  # cold; no sync between statements
        self.assertEqual(opened["requests"], 1, opened)  # /db/interior
        r = self.query("SELECT v FROM items WHERE id = 2500")
        self.assertEqual(r["rows"], native(self.src, "SELECT v FROM items WHERE id = 2500"))
        self.assertEqual(r["stats"]["requests"] - opened["requests"], 1, r["stats"])  # its leaf

    def test_point_index_range_and_join_match_native_sqlite(self):
        self.load()
        self.open()
        for sql in (POINT, INDEX, RANGE, JOIN, "SELECT count(*), sum(v) FROM items"):
            with self.subTest(sql=sql):
                r = self.query(sql)
                self.assertEqual(r["rows"], native(self.src, sql))
        self.assertEqual(self.query(POINT)["columns"], ["id", "k", "v", "payload"])

    def test_page_follows_a_remote_commit(self):
        """Live (a sync at each statement) and after a reload (the persistent cache drops
        exactly the pages the commit changed)."""
        self.load()
        self.open(fresh_ms=0)  # every statement starts with a sync
        before = self.query("SELECT count(*), max(id) FROM items")
        self.assertEqual(before["rows"], [[ROWS, ROWS]])
        self.query(RANGE)  # more pages into the persistent cache
        run_cli(["shell", "demo", "--lease", "-c",
                 "INSERT INTO items(id, k, v, payload) VALUES (100000, 'remote', 7, 'x');"
                 "UPDATE items SET v = -1 WHERE id = 1600;"], self.env)
        check = "SELECT count(*), max(id), (SELECT v FROM items WHERE id = 1600) FROM items"
        after = self.query(check)
        self.assertEqual(after["rows"], [[ROWS + 1, 100000, -1]])
        self.assertGreater(after["stats"]["syncs"], before["stats"]["syncs"])
        self.assertNotEqual(after["stats"]["pos"], before["stats"]["pos"])
        self.browser.reload("window.demo !== undefined")
        self.open()
        run_cli(["shell", "demo", "--lease", "-c", "UPDATE items SET v = -2 WHERE id = 1601;"],
                self.env)
        self.browser.reload("window.demo !== undefined")
        try:
            reopened = self.open(fresh_ms=0)  # the put-back below must be seen at once
            # One sync from the stored position, then page 1 (SQLite reads its header at
            # open), which every commit changes; the other pages come from the store.
            self.assertEqual((reopened["syncs"], reopened["page_requests"]), (1, 1), reopened)
            self.assertEqual(
                self.query("SELECT v FROM items WHERE id IN (1600, 1601) ORDER BY id")["rows"],
                [[-1], [-2]])
        finally:  # put it back for the other tests (they compare with the source file)
            run_cli(["shell", "demo", "--lease", "-c",
                     "DELETE FROM items WHERE id = 100000; UPDATE items SET v = 4800 WHERE id = 1600;"
                     "UPDATE items SET v = 4803 WHERE id = 1601;"], self.env)
        self.assertEqual(self.query(RANGE)["rows"], native(self.src, RANGE))

    def test_reload_reuses_the_persistent_cache(self):
        self.load()
        self.open()
        first = self.query(RANGE)
        self.assertTrue(first["stats"]["persistent"], first["stats"])
        self.assertGreater(first["stats"]["stored_pages"], 0)
        self.browser.reload("window.demo !== undefined")
        opened = self.open(fresh_ms=60000)
        self.assertEqual((opened["requests"], opened["syncs"], opened["page_requests"]), (1, 1, 0),
                         opened)  # a sync from the stored position, no pages
        again = self.query(RANGE)
        self.assertEqual(again["rows"], native(self.src, RANGE))
        self.assertEqual(again["stats"]["page_requests"], 0, again["stats"])  # all from OPFS

    def test_memory_only_when_asked(self):
        self.load()
        opened = self.open(persist=False)
        self.assertFalse(opened["persistent"])
        self.assertEqual(opened["page_requests"], 1)  # cold: /db/interior

    def test_errors_name_the_problem(self):
        self.load()
        with self.assertRaisesRegex(cdp.BrowserError, "no such database"):
            self.open(name="absent")
        self.open()
        with self.assertRaisesRegex(cdp.BrowserError, "readonly"):
            self.query("DELETE FROM items")
        with self.assertRaisesRegex(cdp.BrowserError, "no such table: nope"):
            self.query("SELECT * FROM nope")

    def test_cross_origin_needs_cors_origin(self):
        """The page from self.cloud, the data from a second server: refused by the browser
        without --cors-origin, read with it."""
        origin = self.cloud.url
        for args, ok in (([], False), (["--cors-origin", origin], True)):
            with self.subTest(args=args):
                other = MockCloud(os.path.join(self.tmp, f"data-other-{ok}"), token=TOKEN,
                                  extra_args=args).start()
                try:
                    run_cli(["import", self.src, "demo"], Env(other, os.path.join(self.tmp, "c2")))
                    self.load()
                    if ok:
                        self.open(host=other.url)
                        self.assertEqual(self.query(INDEX)["rows"], native(self.src, INDEX))
                    else:
                        with self.assertRaisesRegex(cdp.BrowserError, "cors-origin"):
                            self.open(host=other.url)
                finally:
                    other.stop()

    def test_zz_screenshot_of_the_demo(self):
        """The demo page opened from its query string, a range query shown."""
        sql = "SELECT id, k, v FROM items WHERE id BETWEEN 100 AND 112"
        url = (self.page + "?db=demo&token=" + TOKEN + "&sql=" +
               urllib.request.quote(sql))
        self.browser.navigate(url, "document.body.getAttribute('data-done') !== null")
        self.assertEqual(self.browser.evaluate("document.body.getAttribute('data-done')"), "1")
        cells = self.browser.evaluate("document.querySelectorAll('#result tr').length")
        self.assertEqual(cells, 1 + 13)
        path = os.environ.get("LITEVFS_WASM_SCREENSHOT") or os.path.join(self.tmp, "demo.png")
        self.browser.screenshot(path)
        with open(path, "rb") as f:
            self.assertEqual(f.read(8), b"\x89PNG\r\n\x1a\n")


class MockcloudWebTest(TempDirTest):
    """--web and --cors-origin on the server alone (no browser needed)."""

    def request(self, cloud, path, method="GET", headers=None):
        req = urllib.request.Request(cloud.url + path, method=method, headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def test_web_serves_the_directory_without_a_token(self):
        web = os.path.join(self.tmp, "web")
        os.makedirs(web)
        with open(os.path.join(web, "index.html"), "w") as f:
            f.write("<p>hi</p>")
        with open(os.path.join(self.tmp, "secret.txt"), "w") as f:
            f.write("TOP-SECRET-CONTENT")
        cloud = self.start_cloud(extra_args=["--web", web])
        status, headers, body = self.request(cloud, "/web/index.html")
        self.assertEqual((status, body), (200, b"<p>hi</p>"))
        self.assertTrue(headers["Content-Type"].startswith("text/html"))
        self.assertEqual(self.request(cloud, "/web/")[2], b"<p>hi</p>")
        for bad in ("/web/../secret.txt", "/web/%2e%2e/secret.txt", "/web/missing.js"):
            with self.subTest(path=bad):
                status, _, body = self.request(cloud, bad)
                self.assertEqual(status, 404)
                self.assertNotIn(b"TOP-SECRET", body)
        self.assertEqual(self.request(cloud, "/info")[0], 401)  # the API still wants the token

    def test_without_web_there_is_no_web_route(self):
        cloud = self.start_cloud()
        self.assertEqual(self.request(cloud, "/web/index.html", headers={"Authorization": "test-token"})[0], 404)

    def test_cors_origin_answers_preflight_and_exposes_headers(self):
        origin = "http://localhost:8000"
        cloud = self.start_cloud(extra_args=["--cors-origin", origin])
        status, headers, _ = self.request(
            cloud, "/db/page", method="OPTIONS",
            headers={"Origin": origin, "Access-Control-Request-Method": "GET",
                     "Access-Control-Request-Headers": "authorization"})
        self.assertEqual(status, 204)
        self.assertEqual(headers["Access-Control-Allow-Origin"], origin)
        self.assertEqual(headers["Access-Control-Allow-Headers"], "authorization")
        self.assertIn("GET", headers["Access-Control-Allow-Methods"])
        status, headers, _ = self.request(cloud, "/info", headers={"Authorization": "test-token"})
        self.assertEqual(status, 200)
        self.assertEqual(headers["Access-Control-Allow-Origin"], origin)
        self.assertEqual(headers["Access-Control-Expose-Headers"], "*")

    def test_no_cors_headers_unless_asked(self):
        cloud = self.start_cloud()
        _, headers, _ = self.request(cloud, "/info", headers={"Authorization": "test-token"})
        self.assertNotIn("Access-Control-Allow-Origin", headers)
        self.assertEqual(self.request(cloud, "/info", method="OPTIONS",
                                      headers={"Authorization": "test-token"})[0], 404)

    def test_bad_flags_are_refused_with_the_fix(self):
        need(MOCKCLOUD, "litevfs-mockcloud")
        for args, want in ((["--cors-origin", "localhost:8000/x"], "scheme://host"),
                           (["--web", os.path.join(self.tmp, "nope")], "not a directory")):
            with self.subTest(args=args):
                p = subprocess.run([MOCKCLOUD, "--data", os.path.join(self.tmp, "d"),
                                    "--listen", "127.0.0.1:0", *args],
                                   capture_output=True, text=True, timeout=30)
                self.assertNotEqual(p.returncode, 0)
                self.assertIn(want, p.stderr)


if __name__ == "__main__":
    unittest.main()
