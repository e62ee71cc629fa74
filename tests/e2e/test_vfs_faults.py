"""Local faults around the page cache, through the module in separate Python processes:
a reader SIGKILLed mid-read (the same cache directory reopened by a new process gives
correct results and reuses the cached pages), a "full disk" (litevfs_min_available_space
set huge: reads stay correct and nothing is cached), bytes flipped in the cache's `pages`
file between runs (correct data; the corrupt pages are refetched and cached again), and the
cache directory deleted under a running process (correct data or a clean error, never wrong
data). Every result is compared with the same query on the local source database."""
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import textwrap
import time

from harness import MODULE, Env, MockCloud, TempDirTest, make_db, need, run_cli

QUERIES = [
    "SELECT count(*), sum(v), sum(length(payload)), min(k), max(k) FROM items",
    "SELECT sum(unicode(substr(payload, 1 + id % 90, 1)) * id) FROM items",
    "SELECT id, v, payload FROM items WHERE k = 'key-00001234'",
    "SELECT group_concat(id) FROM (SELECT id FROM items "
    "WHERE k BETWEEN 'key-00000100' AND 'key-00000300' ORDER BY k)",
    "SELECT t.tag, count(*), sum(i.v) FROM items i JOIN tags t ON t.item_id = i.id "
    "GROUP BY t.tag ORDER BY t.tag",
]

# A worker process: one connection to `items`; reads commands, one per stdin line, and
# answers one JSON line each.
#   check        run QUERIES: {"results": [...]} or {"error": "...", "code": N}
#   stats        PRAGMA litevfs_stats
#   pragma SQL   run "PRAGMA SQL", return the rows
#   scan         print "scanning", then scan the table forever (until killed)
WORKER = textwrap.dedent("""
    import json, sqlite3, sys
    boot = sqlite3.connect(":memory:")
    boot.enable_load_extension(True)
    boot.load_extension(sys.argv[1])
    queries = json.loads(sys.argv[2])
    con = sqlite3.connect("file:items?vfs=litevfs", uri=True, isolation_level=None)
    con.execute("PRAGMA cache_size = 0")  # no SQLite page cache: every read reaches the VFS
    def reply(x):
        print(json.dumps(x), flush=True)
    for line in sys.stdin:
        cmd, _, arg = line.strip().partition(" ")
        try:
            if cmd == "check":
                reply({"results": [[list(r) for r in con.execute(q).fetchall()] for q in queries]})
            elif cmd == "stats":
                reply(json.loads(con.execute("PRAGMA litevfs_stats").fetchone()[0]))
            elif cmd == "pragma":
                reply({"rows": [list(r) for r in con.execute("PRAGMA " + arg).fetchall()]})
            elif cmd == "scan":
                reply({"scanning": True})
                i = 0
                while True:
                    i += 1
                    con.execute(queries[i % 2]).fetchall()
            elif cmd == "exit":
                break
        except sqlite3.Error as e:
            reply({"error": str(e), "code": getattr(e, "sqlite_errorcode", None)})
""")


class Worker:
    def __init__(self, env):
        self.p = subprocess.Popen(["/usr/bin/python3", "-c", WORKER, MODULE, json.dumps(QUERIES)],
                                  env=env.vars, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)

    def ask(self, cmd):
        self.p.stdin.write(cmd + "\n")
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            self.p.wait(timeout=30)
            raise AssertionError(f"worker died ({self.p.returncode}) on {cmd!r}:\n"
                                 f"{self.p.stderr.read()[-3000:]}")
        return json.loads(line)

    def close(self):
        if self.p.poll() is None:
            try:
                self.p.stdin.write("exit\n")
                self.p.stdin.flush()
                self.p.wait(timeout=30)
            except (subprocess.TimeoutExpired, BrokenPipeError):
                self.p.kill()
                self.p.wait()
        self.p.stdin.close()
        self.p.stdout.close()
        self.p.stderr.close()

    def kill(self):
        self.p.send_signal(signal.SIGKILL)
        self.p.wait(timeout=30)
        self.close()


class CacheFaultTest(TempDirTest):
    def setUp(self):
        super().setUp()
        need(MODULE, "liblitevfs.so")
        self.cloud = self.start_cloud()
        self.src = make_db(os.path.join(self.tmp, "src.db"), rows=12000)
        run_cli(["import", self.src, "items"], Env(self.cloud, os.path.join(self.tmp, "imp")))
        con = sqlite3.connect(self.src)
        self.want = [[list(r) for r in con.execute(q).fetchall()] for q in QUERIES]
        self.pages = con.execute("PRAGMA page_count").fetchone()[0]
        con.close()

    def worker(self, cache):
        w = Worker(Env(self.cloud, os.path.join(self.tmp, cache)))
        self.addCleanup(w.close)
        return w

    def check(self, w, what):
        r = w.ask("check")
        self.assertNotIn("error", r, f"{what}: {r}")
        self.assertEqual(r["results"], self.want, f"{what}: wrong data")

    def test_reader_killed_mid_read_then_cache_reused(self):
        rng = random.Random(int(os.environ.get("LITEVFS_CRASH_SEED", "1")))
        # Kills at random moments while the first reader is still fetching and caching.
        for it in range(3):
            cache = f"cache-kill{it}"
            w = self.worker(cache)
            self.assertEqual(w.ask("scan"), {"scanning": True})
            time.sleep(rng.uniform(0.05, 0.6))
            w.kill()
            w2 = self.worker(cache)
            self.check(w2, f"after a kill at iteration {it}")
            w2.close()
        # A reader that finished a full scan and is killed mid-read: the next process must
        # serve the same queries from the cache it left, fetching nothing.
        w = self.worker("cache-full")
        self.check(w, "first reader")
        self.assertEqual(w.ask("scan"), {"scanning": True})
        time.sleep(0.3)
        w.kill()
        w2 = self.worker("cache-full")
        self.check(w2, "after the kill")
        st = w2.ask("stats")
        self.assertGreater(st["cache_hits"], 0, st)
        self.assertEqual(st["pages_fetched"], 0, f"cached pages were not reused: {st}")
        self.assertGreater(st["cache_pages"], self.pages // 2, st)

    def test_full_disk_reads_correct_and_nothing_cached(self):
        w = self.worker("cache-full-disk")
        r = w.ask(f"pragma litevfs_min_available_space = {1 << 50}")
        self.assertNotIn("error", r, r)
        before = w.ask("stats")
        self.check(w, "with the disk 'full'")
        self.check(w, "with the disk 'full', again")
        st = w.ask("stats")
        self.assertLessEqual(st["cache_pages"], before["cache_pages"], st)
        # Nothing cached: the second run had to fetch again.
        self.assertGreater(st["pages_fetched"], self.pages, st)
        w.close()
        # A process without the setting finds an (almost) empty cache and fills it.
        w2 = self.worker("cache-full-disk")
        self.check(w2, "after the 'full' disk")
        st2 = w2.ask("stats")
        self.assertGreater(st2["pages_fetched"], self.pages // 2, st2)

    def test_corrupted_cache_pages_are_refetched(self):
        w = self.worker("cache-corrupt")
        r = w.ask("pragma litevfs_cache_db")
        self.assertNotIn("error", r, r)
        self.check(w, "filling the cache")
        cache_dir = w.ask("stats")["cache_dir"]
        w.close()
        pages_file = os.path.join(cache_dir, "pages")
        size = os.path.getsize(pages_file)
        page_size = 4096
        rng = random.Random(5)
        victims = sorted(rng.sample(range(1, size // page_size), 40))
        with open(pages_file, "r+b") as f:
            for pg in victims:
                off = pg * page_size + rng.randrange(page_size)
                f.seek(off)
                b = f.read(1)
                f.seek(off)
                f.write(bytes([b[0] ^ 0x5A]))
        w2 = self.worker("cache-corrupt")
        self.check(w2, "with flipped bytes in the cache")
        st = w2.ask("stats")
        self.assertGreater(st["pages_fetched"], 0, f"corrupt pages were served, not refetched: {st}")
        self.assertLessEqual(st["pages_fetched"], 40 + 33 * 40 + 8, st)  # corrupt (+prefetch)
        w2.close()
        # The refetched pages were cached again, correctly.
        w3 = self.worker("cache-corrupt")
        self.check(w3, "after the refetch")
        self.assertEqual(w3.ask("stats")["pages_fetched"], 0)

    def test_cache_dir_deleted_while_running(self):
        w = self.worker("cache-deleted")
        self.check(w, "before the delete")
        cache_dir = w.ask("stats")["cache_dir"]
        shutil.rmtree(os.path.join(self.tmp, "cache-deleted"))
        self.assertFalse(os.path.exists(cache_dir))
        ok = 0
        for i in range(3):
            r = w.ask("check")
            if "error" in r:  # a clean error is acceptable; wrong data never is
                continue
            self.assertEqual(r["results"], self.want, f"wrong data after the delete (run {i})")
            ok += 1
        # Force new fetches (and cache writes into the deleted files) too.
        r = w.ask("pragma litevfs_max_cached_pages = 50")
        if "error" not in r:
            for i in range(2):
                r = w.ask("check")
                if "error" not in r:
                    self.assertEqual(r["results"], self.want, "wrong data after evictions")
                    ok += 1
        w.close()
        # A new process recreates the cache and reads correctly.
        w2 = self.worker("cache-deleted")
        self.check(w2, "a new process after the delete")
        self.assertTrue(os.path.isdir(cache_dir))
        self.assertGreater(ok, 0, "every read failed after the cache directory was deleted")


if __name__ == "__main__":
    import unittest
    unittest.main()
