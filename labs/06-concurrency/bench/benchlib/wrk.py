"""wrk: one bounded run, its figures (from report.lua) and its CPU time."""

import os
import select
import subprocess
import time

from .processes import PROCS
from .procfs import CLOCK_TICKS
from .settings import BenchError, HERE, HOST, WRK_TIMEOUT

WRK_GRACE = 30  # seconds wrk may overrun its duration before it is killed


def run_wrk(settings, port, path, conns, seconds=None):
    """One wrk run, on wrk's CPUs. Returns (its figures, threads, the CPU
    seconds wrk used)."""
    seconds = seconds or settings.seconds
    threads = min(settings.wrk_threads, conns)
    argv = ["wrk", "-t", str(threads), "-c", str(conns), "-d", "%ds" % seconds,
            "--timeout", WRK_TIMEOUT, "-s", str(HERE / "report.lua"),
            "http://%s:%d/%s" % (HOST, port, path)]
    proc = PROCS.start(settings.cpus.wrap(settings.cpus.wrk, argv), stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + seconds + WRK_GRACE
    try:
        output = read_until_exit(proc, deadline)
        cpu = exited_cpu_seconds(proc, deadline)
        proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        raise BenchError("wrk did not finish within %d s" % (seconds + WRK_GRACE)) from None
    finally:
        PROCS.kill_group(proc)
        proc.stdout.close()
    for line in output.splitlines():
        if line.startswith("BENCH "):
            values = dict(kv.split("=") for kv in line.split()[1:])
            return {k: int(v) for k, v in values.items()}, threads, cpu
    raise BenchError("wrk failed (status %s): %s" % (proc.returncode, output.strip()[-500:]))


def read_until_exit(proc, deadline):
    """All of a child's output, up to the end of its stdout, by deadline."""
    chunks = []
    fd = proc.stdout.fileno()
    while True:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise subprocess.TimeoutExpired(proc.args, 0)
        data = os.read(fd, 65536)
        if not data:
            return b"".join(chunks).decode(errors="replace")
        chunks.append(data)


def exited_cpu_seconds(proc, deadline):
    """The CPU time (user + system) of a child that has exited but is not
    reaped yet: waitid(WNOWAIT) leaves it a zombie, whose /proc/PID/stat
    still holds its times. None if /proc cannot tell."""
    while os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT | os.WNOHANG) is None:
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(proc.args, 0)
        time.sleep(0.01)
    try:
        with open("/proc/%d/stat" % proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    # utime and stime are fields 14 and 15 of stat(5); the list starts at 3.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
