"""Running a cluster (issue 14): the runner (tests/e2e/cluster.py, scripts/cluster) with its
3-member etcd cluster, S3 server and haproxy; the client's multi-host failover through the
real CLI; haproxy in front of instances that die; and, when litevfs-mockcloud has the
distributed store (--etcd), a short `chaos --distributed` run. Tests that need a piece this
machine or build lacks skip, naming it."""
import os
import re
import subprocess
import sys
import time
import unittest
import urllib.request

import cluster
from harness import LITEVFS, MOCKCLOUD, MODULE, Env, MockCloud, TempDirTest, make_db, need, \
    run_cli

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "chaos"))

SOURCE = os.environ.get("LITEVFS_SOURCE_DIR", os.path.join(cluster.ROOT))
CHAOS_SECONDS = float(os.environ.get("LITEVFS_CLUSTER_CHAOS_SECONDS", "20"))


def need_backing():
    why = cluster.backing_missing()
    if why:
        raise unittest.SkipTest(why)


def need_haproxy():
    why = cluster.haproxy_missing()
    if why:
        raise unittest.SkipTest(why)


def need_distributed():
    why = cluster.distributed_missing(MOCKCLOUD)
    if why:
        raise unittest.SkipTest(why)


def dead_url():
    return f"http://127.0.0.1:{cluster.free_port()}"


class Hosts(Env):
    """Env for a client that gets `hosts` (a list or one URL) and the cloud's token."""

    def __init__(self, hosts, token, cache_dir):
        self.vars = dict(os.environ)
        self.vars.update({"LITEFS_CLOUD_HOST": hosts, "LITEFS_CLOUD_TOKEN": token,
                          "LITEVFS_CACHE_DIR": cache_dir})
        self.vars.pop("LITEFS_CLOUD_CLUSTER", None)


class ClusterRunnerTest(TempDirTest):
    def test_etcd_cluster_and_s3_come_up_and_survive_a_member_loss(self):
        need_backing()
        need(MOCKCLOUD, "litevfs-mockcloud")
        c = cluster.Cluster(os.path.join(self.tmp, "c"), instances=1, backend="local")
        self.addCleanup(c.stop)
        c.start()
        pids = [p.pid for p in c.etcd + [c.s3] + c.instances]
        self.assertEqual(len(set(c.etcd_client_ports + c.etcd_peer_ports)), 6)
        c.etcd_put("/litevfs-test/a", "1", member=0)
        for i in range(3):
            self.assertEqual(c.etcd_get("/litevfs-test/a", i), "1", f"member {i}")
        # One member down: the other two keep quorum; back up, it catches up.
        c.kill_etcd(1)
        c.etcd_put("/litevfs-test/b", "2", member=2)
        self.assertEqual(c.etcd_get("/litevfs-test/b", 0), "2")
        c.restart_etcd(1)
        self.assertEqual(c.etcd_get("/litevfs-test/b", 1), "2")
        # S3: the bucket exists.
        with urllib.request.urlopen(f"http://127.0.0.1:{c.s3_port}/{cluster.BUCKET}",
                                    timeout=5) as r:
            self.assertIn(b"ListBucketResult", r.read())
        st = cluster.load_state(c.dir)
        self.assertEqual([m["port"] for m in st["etcd"]], c.etcd_client_ports)
        self.assertTrue(all(m["alive"] for m in st["etcd"] + st["instances"]))
        c.stop()
        for pid in pids:
            self.assertFalse(cluster.alive(pid), f"pid {pid} outlived stop()")

    def test_scripts_cluster_start_kill_restart_stop(self):
        need_backing()
        need_haproxy()
        need(MOCKCLOUD, "litevfs-mockcloud")
        d = os.path.join(self.tmp, "c")
        script = os.path.join(SOURCE, "scripts", "cluster")
        env = dict(os.environ, LITEVFS_MOCKCLOUD_BIN=MOCKCLOUD)

        def sc(*args, check=True):
            p = subprocess.run(["bash", script, *args], env=env, capture_output=True, text=True,
                               timeout=120)
            if check:
                self.assertEqual(p.returncode, 0, f"scripts/cluster {args}: {p.stdout}{p.stderr}")
            return p

        out = sc("start", d, "--backend", "local", "--instances", "1", "--haproxy").stdout
        self.addCleanup(sc, "stop", d, check=False)
        self.assertRegex(out, r"etcd: +http://127\.0\.0\.1:\d+,http://127\.0\.0\.1:\d+,")
        self.assertRegex(out, r"export LITEFS_CLOUD_HOST=http://127\.0\.0\.1:\d+ ")
        again = sc("start", d, "--backend", "local", check=False)
        self.assertEqual(again.returncode, 1)
        self.assertIn("already running", again.stderr)
        st = cluster.load_state(d)
        url = st["url"]
        self.assertEqual(sc("hosts", d).stdout.strip(), st["hosts"])
        need(LITEVFS, "litevfs")
        env_c = Hosts(url, "secret", os.path.join(self.tmp, "cache"))
        run_cli(["import", make_db(os.path.join(self.tmp, "a.db"), rows=200), "a"], env_c)
        self.assertIn("killed instance 0", sc("kill", d, "0").stdout)
        self.assertNotEqual(run_cli(["ls"], Hosts(st["hosts"], "secret", self.tmp), check=False)
                            .returncode, 0)
        self.assertIn("restarted instance 0", sc("restart", d, "0").stdout)
        end = time.monotonic() + 15  # haproxy's health check (200 ms) puts it back
        while (ls := run_cli(["ls"], env_c, check=False)).returncode != 0:
            self.assertLess(time.monotonic(), end, f"haproxy never used the restarted instance: {ls.stderr}")
            time.sleep(0.2)
        self.assertIn("a", ls.stdout)  # local data survived kill -9
        bad = sc("kill", d, "5", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("instance 5 does not exist", bad.stderr)
        pids = [p["pid"] for _, p in cluster.state_procs(cluster.load_state(d))]
        sc("stop", d)
        for pid in pids:
            self.assertFalse(cluster.alive(pid), f"pid {pid} outlived scripts/cluster stop")


class FailoverTest(TempDirTest):
    def test_cli_through_a_host_list_whose_first_host_is_dead(self):
        need(LITEVFS, "litevfs")
        cloud = self.start_cloud()
        env = Hosts(dead_url() + "," + cloud.url, cloud.token, os.path.join(self.tmp, "cache"))
        run_cli(["import", make_db(os.path.join(self.tmp, "a.db"), rows=300), "a"], env)
        run_cli(["shell", "a", "--lease", "-c",
                 "INSERT INTO items(id, k, v) VALUES (100001, 'x', 1)"], env)
        out = run_cli(["shell", "a", "-c", "SELECT count(*) FROM items"], env).stdout
        self.assertIn("301", out)
        # The same with --host, and a list whose every host is dead names them all.
        d1, d2 = dead_url(), dead_url()
        p = run_cli(["--host", f"{d1},{d2}", "ls"], env, check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn(f"hosts tried: {d1}, {d2}", p.stderr)
        bad = run_cli(["--host", f"{cloud.url},,{d1}", "ls"], env, check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("--host: host 2 of 3 is empty", bad.stderr)


class HaproxyTest(TempDirTest):
    def test_dead_backend_is_skipped_and_a_restart_is_survived(self):
        need_haproxy()
        need(LITEVFS, "litevfs")
        need(MOCKCLOUD, "litevfs-mockcloud")
        # Two local instances behind haproxy; one dies before any data is written, so all
        # data lives on the other: requests haproxy sends to the dead one are refused and
        # redispatched (its retry-on rule is the client's: connect failures only).
        c = cluster.Cluster(os.path.join(self.tmp, "c"), instances=2, backend="local",
                            haproxy=True, backing=False)
        self.addCleanup(c.stop)
        c.start()
        c.kill_instance(1)
        env = Hosts(c.url, c.token, os.path.join(self.tmp, "cache"))
        run_cli(["import", make_db(os.path.join(self.tmp, "a.db"), rows=300), "a"], env)
        for i in range(6):
            run_cli(["shell", "a", "--lease", "-c",
                     f"INSERT INTO items(id, k, v) VALUES ({200000 + i}, 'h', {i})"], env)
        # kill -9 the live instance and start it again: clients carry on through haproxy.
        c.kill_instance(0)
        c.restart_instance(0)
        end = time.monotonic() + 15
        while run_cli(["ls"], env, check=False).returncode != 0:
            self.assertLess(time.monotonic(), end, "haproxy never sent traffic to the restarted instance")
            time.sleep(0.2)
        out = run_cli(["shell", "a", "-c", "SELECT count(*) FROM items"], env).stdout
        self.assertIn("306", out)


def readme_cluster_blocks(readme):
    section = readme.split("## Running a cluster", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


class ReadmeClusterTest(TempDirTest):
    def test_running_a_cluster_runs_verbatim(self):
        need_distributed()
        need_haproxy()
        need(LITEVFS, "litevfs")
        build = os.environ.get("LITEVFS_BUILD_DIR", "")
        need(build, "build dir")
        with open(os.path.join(SOURCE, "README.md")) as f:
            blocks = readme_cluster_blocks(f.read())
        self.assertGreaterEqual(len(blocks), 3, "the section lost its code blocks")
        # A scratch copy of the layout the commands expect: build/release is the build under
        # test, scripts/ and tests/ the source's, s3rver the one scripts/deps-cluster installed.
        os.makedirs(os.path.join(self.tmp, "build"))
        os.symlink(build, os.path.join(self.tmp, "build", "release"))
        os.symlink(cluster.S3RVER.rsplit("/node_modules/", 1)[0],
                   os.path.join(self.tmp, "build", "npm-s3"))
        for d in ("scripts", "tests"):
            os.symlink(os.path.join(SOURCE, d), os.path.join(self.tmp, d))
        script = ("set -euo pipefail\n"
                  "trap 'bash scripts/cluster stop ./lfsc-cluster >/dev/null 2>&1 || true' EXIT\n" +
                  "\n".join(blocks))
        env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "HOME": self.tmp, "LANG": "C.UTF-8"}
        p = subprocess.run(["bash", "-c", script], cwd=self.tmp, env=env, capture_output=True,
                           text=True, timeout=300)
        self.assertEqual(p.returncode, 0, f"stdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        self.assertRegex(p.stdout, r"\| +3 \|", "the count through haproxy after the kill")
        self.assertIn("killed instance 0", p.stdout)
        self.assertIn("stopped", p.stdout)


class DistributedChaosTest(unittest.TestCase):
    def test_chaos_distributed_short(self):
        need_distributed()
        need(MODULE, "liblitevfs.so")
        need(LITEVFS, "litevfs")
        import chaos
        f = chaos.run(seconds=CHAOS_SECONDS, seed=14, readers=16, reader_procs=4,
                      faults=chaos.DEFAULT_FAULTS, distributed=True, instances=3,
                      log=lambda s: print("\nchaos --distributed figures: " + s, file=sys.stderr))
        self.assertGreater(f["transactions_committed"], 20)
        self.assertGreaterEqual(f["instance_kills"], 3)  # every instance died once
        # The writer acknowledged a commit after every kill, except one that came within the
        # ack-gap bound of its end (no time left: the check counts it apart; a longer
        # silence is a violation).
        self.assertEqual(f["writer_resumed_after_kills"] + f["kills_in_the_writers_last_gap"],
                         f["instance_kills"])
        self.assertLessEqual(f["kills_in_the_writers_last_gap"], 1)
        self.assertEqual(len(f["etcd_events"]), 2)  # the leader killed and restarted
        self.assertEqual(f["converged"], 16)
        self.assertEqual(f["violations"], [])


if __name__ == "__main__":
    unittest.main()
