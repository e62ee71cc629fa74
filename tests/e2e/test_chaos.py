"""Chaos, short form (~30 s): tests/chaos/chaos.py with one writer and 16 readers in four
processes against a mockcloud injecting jitter, 503s, dropped connections and truncated
bodies. The long form is scripts/chaos --seconds N. LITEVFS_CHAOS_SECONDS and
LITEVFS_CHAOS_SEED and LITEVFS_CHAOS_FAULTS (spec without seed) override the length, the seed
and the faults."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "chaos"))
import chaos  # noqa: E402
from harness import LITEVFS, MOCKCLOUD, MODULE, need  # noqa: E402



class ChaosTest(unittest.TestCase):
    def test_bank_transfers_under_injected_faults(self):
        need(MODULE, "liblitevfs.so")
        need(MOCKCLOUD, "litevfs-mockcloud")
        need(LITEVFS, "litevfs")
        seconds = float(os.environ.get("LITEVFS_CHAOS_SECONDS", "25"))
        seed = int(os.environ.get("LITEVFS_CHAOS_SEED", "7"))
        faults = os.environ.get("LITEVFS_CHAOS_FAULTS", chaos.DEFAULT_FAULTS)
        f = chaos.run(seconds=seconds, seed=seed, readers=16, reader_procs=4, faults=faults,
                      log=lambda s: print("\nchaos figures: " + s, file=sys.stderr))
        # The run must have done real work under real faults, not idled.
        self.assertGreater(f["transactions_committed"], 20)
        self.assertGreater(f["reads_checked"], 1000)
        self.assertEqual(f["converged"], 16)
        self.assertEqual(f["violations"], [])


if __name__ == "__main__":
    unittest.main()
