#!/usr/bin/env python3
"""Row "browser" of the cold-read comparison: litevfs's wasm build (vfs/wasm) in headless
Chromium, on shared/bench/peer-db.sql with the queries of shared/bench/peer-queries.md in
that order, the mockcloud adding 20 ms to every request (as the peers were measured). For
each step: requests, bytes received (the page's counters) and wall time in the page, also
as a ratio to one plain fetch() round trip to the same server measured in the same run (the
physical floor: a step can cost no less than its requests times that).

  tests/bench/wasm_peer_queries.py --mockcloud build/release/mockcloud/litevfs-mockcloud \\
      --litevfs build/release/cli/litevfs [--shared ../shared]
Needs what scripts/deps-wasm installs; builds vfs/wasm (incremental). Prints Markdown.
"""
import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
import cdp  # noqa: E402
import harness  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
LATENCY_MS = 20
STEPS = [
    ("open", None),
    ("rowid point id=123456", "SELECT * FROM items WHERE id = 123456"),
    ("index point k='key-00123457'", "SELECT * FROM items WHERE k = 'key-00123457'"),
    ("rowid point id=333333", "SELECT * FROM items WHERE id = 333333"),
    ("same query again", "SELECT * FROM items WHERE id = 333333"),
    ("100-row range sum(v)", "SELECT sum(v) FROM items WHERE id BETWEEN 200000 AND 200099"),
    ("5,000-row range sum(v)", "SELECT sum(v) FROM items WHERE id BETWEEN 250000 AND 254999"),
]
# One round trip from the page, the floor every step is measured against.
BASELINE_JS = """(async () => { const t = performance.now();
  const r = await fetch('/info', {cache: 'no-store', headers: {Authorization: 'test-token'}});
  await r.arrayBuffer();
  return performance.now() - t; })()"""
STEP_JS = """(async () => { const t = performance.now(); const r = %s;
  return {ms: performance.now() - t, stats: r.stats || r}; })()"""


def build_peer_db(shared, out):
    if not os.path.exists(out):
        con = sqlite3.connect(out + ".tmp")
        with open(os.path.join(shared, "bench", "peer-db.sql")) as f:
            con.executescript(f.read())
        con.close()
        os.replace(out + ".tmp", out)
    return out


def run(args, tmp):
    subprocess.run([os.path.join(ROOT, "vfs", "wasm", "build.sh")], check=True)
    web = os.path.join(ROOT, "build", "wasm", "web")
    db = build_peer_db(args.shared, os.path.join(ROOT, "build", "wasm", "peer.db"))
    harness.MOCKCLOUD = args.mockcloud
    harness.LITEVFS = args.litevfs
    cloud = harness.MockCloud(os.path.join(tmp, "data"), extra_args=[
        "--web", web, "--faults", f"latency={LATENCY_MS}ms"]).start()
    try:
        harness.run_cli(["import", db, "peer"], harness.Env(cloud, os.path.join(tmp, "cache")))
        with cdp.Chromium(cdp.find_chromium(), os.path.join(tmp, "chromium.log")) as b:
            b.navigate(cloud.url + "/web/index.html", "window.demo !== undefined")
            base = min(b.evaluate(BASELINE_JS) for _ in range(5))
            print(f"baseline: one fetch() round trip = {base:.1f} ms (server adds {LATENCY_MS} ms)\n")
            print("| step | requests | bytes (wire / decoded) | ms | ms / round trip |")
            print("|---|---|---|---|---|")
            prev = {"requests": 0, "bytes": 0, "wire_bytes": 0}
            for label, sql in STEPS:
                persist = "false" if args.memory else "true"
                call = (f"await demo.open('peer', {{token: 'test-token', freshMs: 60000, persist: {persist}}})"
                        if sql is None
                        else f"await demo.run({json.dumps(sql)})")
                r = b.evaluate(STEP_JS % call)
                s = r["stats"]
                print(f"| {label} | {s['requests'] - prev['requests']} | "
                      f"{(s['wire_bytes'] - prev['wire_bytes']) / 1024:.1f} / "
                      f"{(s['bytes'] - prev['bytes']) / 1024:.1f} KB | {r['ms']:.0f} | "
                      f"{r['ms'] / base:.2f} |")
                prev = s
    finally:
        cloud.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mockcloud", required=True)
    ap.add_argument("--litevfs", required=True)
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared"))
    ap.add_argument("--memory", action="store_true", help="no persistent cache (OPFS)")
    args = ap.parse_args()
    if not cdp.find_chromium() or not shutil.which("emcc"):
        sys.exit("wasm_peer_queries: needs chromium and emcc: run scripts/deps-wasm")
    tmp = tempfile.mkdtemp(prefix="litevfs-wasm-bench-")
    try:
        run(args, tmp)
    finally:
        shutil.rmtree(tmp, True)


if __name__ == "__main__":
    main()
