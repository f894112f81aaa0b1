"""What to measure (the BENCH_* settings bench.sh documents), the CPUs each
side runs on, and the figures the method depends on."""

import os
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent  # bench/: report.lua, idle_conns.py
LAB = HERE.parent
ROOT = LAB.parent.parent

HOST = "127.0.0.1"
SMALL_FILE, SMALL_SIZE = "index.html", 1024
MEDIUM_FILE, MEDIUM_SIZE = "100k.bin", 100 << 10
BIG_FILE, BIG_SIZE = "1m.bin", 1 << 20
FILES = {SMALL_FILE: ("1 KiB", SMALL_SIZE), MEDIUM_FILE: ("100 KiB", MEDIUM_SIZE),
         BIG_FILE: ("1 MiB", BIG_SIZE)}
MIN_ROUNDS = 5  # fewer alternating rounds give a spread that means little

WRK_THREADS_MAX = 4  # more wrk threads than this only add switching
SYSCALL_CONNS = 50  # connections of the strace runs
SYSCALL_SECONDS = 3  # seconds of each strace run
START_TIMEOUT = 5.0  # seconds for a server to start listening
STOP_TIMEOUT = 10.0  # seconds for a server to exit after SIGTERM
WRK_TIMEOUT = "2s"  # a response slower than this counts as a wrk timeout
FRESH_TIMEOUT = 5.0  # seconds a fresh request may take in the idle test

MODELS = {
    # name: (conc_server arguments, what it is)
    "fork": (["-m", "fork"], "a process per connection"),
    "thread": (["-m", "thread"], "a thread per connection"),
    "pool": (None, "a pool of worker threads (-w)"),
    "epoll": (["-m", "epoll"], "one thread, an epoll event loop"),
    "nginx": (None, "1 worker process, sendfile, tcp_nopush, tcp_nodelay, no access log"),
}


class Settings:
    """What to measure, from the environment (bench.sh documents it)."""

    def __init__(self, argv):
        env = os.environ
        self.seconds = env_int("BENCH_SECONDS", 5, argv[1] if len(argv) > 1 else None)
        self.levels = words_int(env.get("BENCH_LEVELS", "1 10 50 100 1000"))
        self.models = words(env.get("BENCH_MODELS", "fork thread pool epoll nginx"))
        self.pool = env_int("BENCH_POOL", 16)
        self.rounds = env_int("BENCH_ROUNDS", MIN_ROUNDS)
        self.ratio_levels = words_int(env.get("BENCH_RATIO_LEVELS", "50 1000"))
        self.idle = env_int("BENCH_IDLE", 10000)
        self.big = env.get("BENCH_BIG", "0") == "1"
        self.ratio_files = [SMALL_FILE, MEDIUM_FILE] + ([BIG_FILE] if self.big else [])
        self.syscalls = env.get("BENCH_SYSCALLS", "0") == "1"
        self.cpus = Pinning(env.get("BENCH_PIN", "1") != "0")
        self.wrk_threads = env_int("BENCH_WRK_THREADS",
                                   min(len(self.cpus.wrk), WRK_THREADS_MAX))
        self.out = Path(env.get("BENCH_OUT") or ROOT / "build" / "bench" / "lab06")
        self.server = env.get("BENCH_SERVER")
        solution = env.get("SOLUTION")
        if solution is None:
            self.solution = (LAB / "solution").is_dir()
        else:
            self.solution = solution in ("1", "yes", "true")
        for model in self.models:
            if model not in MODELS:
                raise UsageError("unknown model '%s' in BENCH_MODELS (known: %s)"
                                 % (model, " ".join(MODELS)))
        if self.seconds < 1 or self.pool < 1 or self.wrk_threads < 1 or \
                not self.levels or min(self.levels + self.ratio_levels) < 1:
            raise UsageError("BENCH_SECONDS, BENCH_POOL, BENCH_WRK_THREADS and the "
                             "connection counts must be positive")

    def estimate(self):
        """Seconds the run should take, roughly."""
        runs = len(self.models) * len(self.levels)
        if self.ratio_wanted():
            runs += self.rounds * len(self.ratio_levels) * len(self.ratio_files) * 2
        idle = 12 * len(self.models) if self.idle else 0
        strace = (SYSCALL_SECONDS + 3) * 2 * len(self.ratio_files) if self.syscalls else 0
        return runs * (self.seconds + 1) + idle + strace + 5

    def ratio_wanted(self):
        return self.rounds > 0 and "epoll" in self.models and "nginx" in self.models


class Pinning:
    """Which CPUs the servers and wrk run on. With two CPUs or more, a
    server gets one of its own and wrk the others: sharing CPUs, the two
    would take turns, and a faster server would leave wrk less time to
    load it. With one CPU, or BENCH_PIN=0, nothing is pinned."""

    def __init__(self, wanted):
        cpus = sorted(os.sched_getaffinity(0))
        self.taskset = shutil.which("taskset")
        if wanted and len(cpus) >= 2 and self.taskset:
            self.server, self.wrk = [cpus[-1]], cpus[:-1]
        else:
            self.server, self.wrk = cpus, cpus
        self.why = ("" if self.pinned() else
                    "BENCH_PIN=0" if not wanted else
                    "taskset is missing (util-linux)" if not self.taskset else
                    "only one CPU")

    def pinned(self):
        return self.server != self.wrk

    def __str__(self):
        return self.describe()

    def wrap(self, cpus, argv):
        """argv run on cpus (taskset -c), or as it is when not pinned."""
        if not self.pinned():
            return argv
        return [self.taskset, "-c", ",".join(map(str, cpus))] + argv

    def describe(self):
        if self.pinned():
            return ("pinned: each server on CPU %s, wrk on CPU %s (taskset)"
                    % (cpu_list(self.server), cpu_list(self.wrk)))
        return ("not pinned (%s): servers and wrk share CPU %s, so requests/s partly "
                "measures wrk; compare CPU time per request" % (self.why, cpu_list(self.server)))


def cpu_list(cpus):
    return ",".join(map(str, cpus))


class UsageError(Exception):
    pass


class BenchError(Exception):
    pass


def words(text):
    return text.replace(",", " ").split()


def env_int(name, default, given=None):
    text = given or os.environ.get(name) or str(default)
    try:
        return int(text)
    except ValueError:
        raise UsageError("%s: expected a number, got '%s'" % (name, text)) from None


def words_int(text):
    try:
        return [int(w) for w in words(text)]
    except ValueError:
        raise UsageError("expected numbers, got '%s'" % text) from None
