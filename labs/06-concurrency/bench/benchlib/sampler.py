"""Sampling a server while wrk runs: its peak memory, and the connections
it leaves unserved."""

import re
import subprocess
import threading
import time

from .procfs import group_memory

SAMPLE_EVERY = 0.25  # seconds between samples of the server's memory
STALL_MS = 1000  # a request unread this long counts as a stalled connection


def stalled_connections(port):
    """Connections to port holding bytes the server has not read for
    STALL_MS or more (ss -i: established, Recv-Q > 0, lastrcv >= STALL_MS),
    accepted or still in the listen queue; None without ss (iproute2)."""
    try:
        run = subprocess.run(["ss", "-Htin", "state", "established",
                              "( sport = :%d )" % port],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if run.returncode != 0:
        return None
    stalled, unread = 0, 0
    # One line per socket (Recv-Q first), then an indented line of details.
    for line in run.stdout.splitlines():
        if not line[:1].isspace():
            unread = int(line.split()[0])
            continue
        last = re.search(r"\blastrcv:(\d+)", line)
        if unread > 0 and last and int(last.group(1)) >= STALL_MS:
            stalled += 1
    return stalled


class Sampler:
    """Samples a process group's memory in the background and keeps the
    peak. Given a port, it also counts, once late in the run, the stalled
    connections (stalled_connections): wrk's figures cannot show them, as
    a connection that is never served never completes a request and so
    never adds to its latencies or its timeouts."""

    def __init__(self, pgid, port=None, seconds=0):
        self.pgid, self.port = pgid, port
        self.peak = {"rss_kib": 0, "procs": 0, "threads": 0}
        self.stalled = None
        # Late enough for wrk to have connected and a stall to show.
        self.look_at = seconds * 0.6 if port and seconds * 0.6 >= STALL_MS / 1000 + 0.5 \
            else None
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self):
        t0 = time.monotonic()
        while True:
            now = group_memory(self.pgid)
            for key in self.peak:
                self.peak[key] = max(self.peak[key], now[key])
            if self.look_at is not None and self.stalled is None and \
                    time.monotonic() - t0 >= self.look_at:
                self.stalled = stalled_connections(self.port)
                self.look_at = None
            if self.done.wait(SAMPLE_EVERY):
                return

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.thread.join()
