"""Smoke run of every benchmark (tests/bench/*_bench.cc): each program's --smoke mode must
finish quickly, exit 0 and print sane Markdown result rows. The targets themselves are not
asserted here (scripts/bench reports them); this only keeps the benchmarks from rotting.

The programs are found in $LITEVFS_BENCH_DIR (ctest sets it), else next to the CLI's build
directory (../tests relative to $LITEVFS_BIN's folder).
"""
import os
import re
import subprocess
import unittest

EXPECTED = ["warm_lookup_bench", "cold_peer_bench", "scan_bench", "write_bench",
            "propagation_bench", "mockcloud_bench", "conn_bench", "restore_bench",
            "write_modes_bench", "scale_bench"]
# Rows each program must print (row ids).
EXPECTED_ROWS = {
    "warm_lookup_bench": {"1", "1c"},
    "cold_peer_bench": {"2"},
    "scan_bench": {"3", "4", "8", "10", "11"},
    "write_bench": {"5"},
    "propagation_bench": {"6"},
    "mockcloud_bench": {"7a", "7b"},
    "conn_bench": {"9a", "9b", "9c", "9d"},
    "restore_bench": {"12"},
    "write_modes_bench": {"16a", "16b"},
    "scale_bench": {"15a", "15b", "15c", "15d"},
}
VERDICTS = {"met", "**missed**", "n/a"}


def bench_dir():
    d = os.environ.get("LITEVFS_BENCH_DIR", "")
    if d:
        return d
    cli = os.environ.get("LITEVFS_BIN", "")
    if cli:
        return os.path.join(os.path.dirname(os.path.dirname(cli)), "tests")
    return ""


def parse_rows(stdout):
    rows = []
    for line in stdout.splitlines():
        if not line.startswith("| "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        rows.append(cells)
    return rows


class BenchSmokeTest(unittest.TestCase):
    def setUp(self):
        self.dir = bench_dir()
        if not self.dir or not os.path.isdir(self.dir):
            raise unittest.SkipTest(f"benchmark directory not found ({self.dir or 'LITEVFS_BENCH_DIR not set'})")

    def run_bench(self, name):
        path = os.path.join(self.dir, name)
        self.assertTrue(os.access(path, os.X_OK), f"{path} is not built")
        p = subprocess.run([path, "--smoke"], capture_output=True, text=True, timeout=180)
        self.assertEqual(p.returncode, 0, f"{name} --smoke failed:\n{p.stderr[-4000:]}")
        rows = parse_rows(p.stdout)
        self.assertTrue(rows, f"{name} printed no result row:\n{p.stdout}\n{p.stderr[-2000:]}")
        for cells in rows:
            self.assertEqual(len(cells), 6, f"{name}: row has {len(cells)} cells, want 6: {cells}")
            row, what, baseline, measured, ratio, met = cells
            self.assertRegex(row, r"^[0-9]+[a-z]?$", f"{name}: bad row id in {cells}")
            for c in (what, baseline, measured, ratio):
                self.assertTrue(c, f"{name}: empty cell in {cells}")
            if met.startswith("skipped"):
                continue
            self.assertIn(met, VERDICTS, f"{name}: verdict {met!r} in {cells}")
            # A measured figure is a number (throughput, requests, latency, memory).
            self.assertRegex(measured, r"[0-9]", f"{name}: no figure in {cells}")
        return rows, p

    def test_each_benchmark_smoke(self):
        for name in EXPECTED:
            with self.subTest(bench=name):
                rows, p = self.run_bench(name)
                ids = {r[0] for r in rows}
                if any(r[5].startswith("skipped") for r in rows):
                    continue  # e.g. cold_peer_bench without the shared folder
                self.assertTrue(EXPECTED_ROWS[name] <= ids,
                                f"{name}: rows {sorted(ids)}, want {sorted(EXPECTED_ROWS[name])}")

    def test_ratios_are_finite(self):
        rows, _ = self.run_bench("warm_lookup_bench")
        m = re.match(r"([0-9.]+)×", rows[0][4])
        self.assertIsNotNone(m, rows[0])
        self.assertGreater(float(m.group(1)), 0.0)

    def test_bad_flag_is_refused(self):
        path = os.path.join(self.dir, "write_bench")
        p = subprocess.run([path, "--size-mb", "0"], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("size-mb", p.stderr + p.stdout)


if __name__ == "__main__":
    unittest.main()
