"""The --distributed part of the chaos run (chaos.py): the workload's service is a cluster
(tests/e2e/cluster.py: 3 etcd members, S3, N mockcloud instances; clients get the instances
as one host list and fail over), and a killer thread, while the writer runs:
  * every `kill_every` seconds kill -9 the next instance in turn (so every instance dies,
    whichever one the writer is talking to), and start it again `down_s` later on its port;
  * once, a third of the way in, kill -9 the etcd leader (two members keep quorum), and
    start it again two thirds of the way in.
What it adds to the invariants: the writer acknowledged commits after every instance kill
(it resumed through another instance), and no gap between two acknowledgements is longer
than `max_gap_s`.
"""
import json
import threading
import time
import urllib.request

KILL_EVERY_S = 3.0
DOWN_S = 1.0
MAX_ACK_GAP_S = 20.0  # a lease expiry (6 s) plus the settle of a commit whose host died


def etcd_leader(cluster):
    """Index of the etcd member that is leader (the JSON gateway's maintenance status)."""
    for i, port in enumerate(cluster.etcd_client_ports):
        if not cluster.etcd[i].alive():
            continue
        req = urllib.request.Request(f"http://127.0.0.1:{port}/v3/maintenance/status",
                                     data=b"{}", method="POST")
        try:
            with urllib.request.urlopen(req, timeout=2) as r:
                st = json.loads(r.read())
        except OSError:
            continue
        if st.get("leader") == st.get("header", {}).get("member_id"):
            return i
    return 0  # no answer naming a leader: any member will do


class Killer(threading.Thread):
    """Kills and restarts cluster processes on a schedule until stop(); events are
    (wall time, what) for the figures and the checks."""

    def __init__(self, cluster, seconds, kill_every=KILL_EVERY_S, down_s=DOWN_S, log=print):
        super().__init__(daemon=True)
        self.cluster, self.seconds = cluster, seconds
        self.kill_every, self.down_s, self.log = kill_every, down_s, log
        self.events = []            # (time.time(), "kill mc1" | "restart mc1" | ...)
        self.instance_kills = []    # time.time() of each instance kill
        self.errors = []
        self._halt = threading.Event()

    def stop(self):
        self._halt.set()
        self.join(timeout=60)
        self.heal()

    def note(self, what):
        self.events.append((time.time(), what))

    def heal(self):
        """Every process up again (after the run, before the final checks)."""
        c = self.cluster
        for i, p in enumerate(c.instances):
            if not p.alive():
                c.restart_instance(i)
                self.note(f"restart mc{i}")
        for i, p in enumerate(c.etcd):
            if not p.alive():
                c.restart_etcd(i)
                self.note(f"restart etcd-m{i}")

    def run(self):
        try:
            self.schedule()
        except Exception as e:  # reported as a violation by the driver
            self.errors.append(f"killer: {type(e).__name__}: {e}")

    def schedule(self):
        c, t0 = self.cluster, time.monotonic()
        etcd_down, etcd_done, nxt = None, False, 0
        while not self._halt.wait(self.kill_every):
            elapsed = time.monotonic() - t0
            if not etcd_done and etcd_down is None and elapsed >= self.seconds / 3:
                etcd_down = etcd_leader(c)
                c.kill_etcd(etcd_down)
                self.note(f"kill -9 etcd-m{etcd_down} (leader)")
            elif etcd_down is not None and elapsed >= 2 * self.seconds / 3:
                c.restart_etcd(etcd_down)
                self.note(f"restart etcd-m{etcd_down}")
                etcd_down, etcd_done = None, True
            i = nxt % len(c.instances)
            nxt += 1
            c.kill_instance(i)
            self.instance_kills.append(time.time())
            self.note(f"kill -9 mc{i}")
            if self._halt.wait(self.down_s):
                break
            c.restart_instance(i)
            self.note(f"restart mc{i}")


def check(killer, ack_times, writer_end, max_gap_s=MAX_ACK_GAP_S):
    """Violations of the distributed invariants, and the figures behind them."""
    violations = list(killer.errors)
    resumed = at_the_end = 0  # at_the_end: kills too close to the writer's end to resume after
    for k in killer.instance_kills:
        if any(t > k for t in ack_times):
            resumed += 1
        elif writer_end - k <= max_gap_s:
            at_the_end += 1
        else:
            violations.append(f"the writer acknowledged nothing after the kill at "
                              f"{time.strftime('%H:%M:%S', time.localtime(k))}")
    gaps = [b - a for a, b in zip(ack_times, ack_times[1:])]
    max_gap = max(gaps, default=0.0)
    if max_gap > max_gap_s:
        violations.append(f"the writer acknowledged nothing for {max_gap:.1f} s (bound {max_gap_s} s)")
    if not killer.instance_kills:
        violations.append("no instance was killed: the run was too short for the schedule")
    figures = {
        "instance_kills": len(killer.instance_kills),
        "writer_resumed_after_kills": resumed,
        "kills_in_the_writers_last_gap": at_the_end,
        "etcd_events": [w for _, w in killer.events if "etcd" in w],
        "writer_max_ack_gap_s": round(max_gap, 2),
    }
    return violations, figures
