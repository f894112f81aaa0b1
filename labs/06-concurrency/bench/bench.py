"""bench.py - measure conc_server's three models, and nginx, with wrk.

Run it through bench.sh (or "make bench LAB=06"); bench.sh describes the
settings. The measurements, all over loopback:

  sweep     requests/s, the server's CPU time per request, p50 and p99
            latency, errors, stalled connections and the server's peak
            memory for each model at 1, 10, 50, 100 and 1000 connections,
            serving a 1 KiB file;
  ratio     epoll against nginx, 1 KiB and 100 KiB files (1 MiB too with
            BENCH_BIG=1) at 50 and 1000 connections, in alternating runs:
            the median and the spread (lowest, highest) of each figure;
  idle      how many idle keep-alive connections each model holds, what
            they cost in memory, and whether a new client is still served;
  syscalls  (BENCH_SYSCALLS=1) system calls per request, counted with
            strace -c -f during a short run of epoll and nginx.

The method is meant to be fair to both sides. nginx runs as its
documentation advises for static files (sendfile, tcp_nopush,
tcp_nodelay, one worker, no access log, no open_file_cache since
conc_server caches no file either). When the machine has two CPUs or
more, each server runs on a CPU of its own and wrk on the others
(taskset), so that the server and the load generator do not take turns
on the same CPU; the output says so. Beside requests/s it reports the
server's CPU time per request and which side was the bottleneck, and
says which figure to trust.

Everything goes to build/bench/lab06/: sweep.csv, ratio.csv,
ratio_runs.csv, idle.csv, results.json, report.md and bench.png
(requests/s, server CPU time per request and p99 against connections,
one line per model). Every
process it starts runs in its own process group and is killed, with its
children, before it exits; every wrk run is bounded in time.
"""

import csv
import json
import os
import platform
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
LAB = HERE.parent
ROOT = LAB.parent.parent

HOST = "127.0.0.1"
SMALL_FILE, SMALL_SIZE = "index.html", 1024
MEDIUM_FILE, MEDIUM_SIZE = "100k.bin", 100 << 10
BIG_FILE, BIG_SIZE = "1m.bin", 1 << 20
FILES = {SMALL_FILE: ("1 KiB", SMALL_SIZE), MEDIUM_FILE: ("100 KiB", MEDIUM_SIZE),
         BIG_FILE: ("1 MiB", BIG_SIZE)}
MIN_ROUNDS = 5  # fewer alternating rounds give a spread that means little
BUSY_PERCENT = 90  # a side using this much of its CPUs is the bottleneck
WRK_THREADS_MAX = 4  # more wrk threads than this only add switching
SYSCALL_CONNS = 50  # connections of the strace runs
SYSCALL_SECONDS = 3  # seconds of each strace run
START_TIMEOUT = 5.0  # seconds for a server to start listening
STOP_TIMEOUT = 10.0  # seconds for a server to exit after SIGTERM
WRK_TIMEOUT = "2s"  # a response slower than this counts as a wrk timeout
WRK_GRACE = 30  # seconds wrk may overrun its duration before it is killed
SAMPLE_EVERY = 0.25  # seconds between samples of the server's memory
STALL_MS = 1000  # a request unread this long counts as a stalled connection
FRESH_TIMEOUT = 5.0  # seconds a fresh request may take in the idle test
IDLE_BATCH = 1000
IDLE_BATCH_TIMEOUT = 10.0
IDLE_SERVER_TIMEOUT = 120  # -t of the server in the idle test
PORTS_PER_SOURCE = 20000  # idle connections per loopback source address
PID_HEADROOM = 4000  # pids left free for the rest of the machine
MEM_FLOOR_KIB = 1 << 20  # stop the idle test below 1 GiB available

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


def sentence(text):
    return text[:1].upper() + text[1:]


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


# ---------------------------------------------------------------------------
# Processes: every one in its own group, all killed on the way out.

class Processes:
    def __init__(self):
        self.live = []

    def start(self, argv, **kwargs):
        proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
        self.live.append(proc)
        return proc

    def stop(self, proc, sig=signal.SIGTERM, timeout=STOP_TIMEOUT, kill=True):
        """Signals the process and waits for it (bounded); then, unless
        kill is False, kills its whole group. Returns (exit status, or None
        if it did not exit in time; seconds it took)."""
        t0 = time.monotonic()
        status = None
        if proc.poll() is None:
            try:
                os.kill(proc.pid, sig)
                status = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                status = proc.wait()
        else:
            status = proc.returncode
        took = time.monotonic() - t0
        if kill:
            self.kill_group(proc)
        return status, took

    def kill_group(self, proc):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if proc.poll() is None:
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        if proc in self.live:
            self.live.remove(proc)

    def cleanup(self):
        for proc in list(self.live):
            self.kill_group(proc)


PROCS = Processes()


def on_signal(signum, frame):
    raise KeyboardInterrupt


# ---------------------------------------------------------------------------
# Reading a process group's memory from /proc.

PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def group_stat_fields(pgid):
    """(pid, fields) for each process of process group pgid, zombies
    included; fields are those of /proc/PID/stat from the state (field 3
    of stat(5)) on."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces: the fields start after ')'.
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[2]) == pgid:
            yield int(name), fields


def group_members(pgid):
    """[(pid, threads)] of the live processes in process group pgid."""
    return [(pid, int(fields[17])) for pid, fields in group_stat_fields(pgid)
            if fields[0] != "Z"]


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pgid):
    """CPU time (user + system) the process group has used: its live
    processes', and the children its leader has already waited for."""
    total = 0
    for pid, fields in group_stat_fields(pgid):
        # utime and stime are fields 14 and 15 of stat(5), cutime and
        # cstime 16 and 17; the list starts at field 3.
        total += int(fields[11]) + int(fields[12])
        if pid == pgid:
            total += int(fields[13]) + int(fields[14])
    return total / CLOCK_TICKS


def group_memory(pgid, pss=False):
    """Memory of a process group: {'rss_kib', 'pss_kib', 'procs', 'threads'}.
    RSS counts shared pages (libc, the program) once per process, so for
    a fork server the sum overstates; PSS shares them out, and is read
    only when asked for (it is slower)."""
    rss = pss_total = threads = 0
    members = group_members(pgid)
    for pid, count in members:
        try:
            with open("/proc/%d/statm" % pid) as f:
                rss += int(f.read().split()[1]) * PAGE_KIB
            if pss:
                with open("/proc/%d/smaps_rollup" % pid) as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            pss_total += int(line.split()[1])
                            break
        except (OSError, IndexError, ValueError):
            continue
        threads += count
    return {"rss_kib": rss, "pss_kib": pss_total if pss else None,
            "procs": len(members), "threads": threads}


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


def mem_available_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def task_count():
    """Threads on the machine, every process's counted: each one takes a
    pid, so this is what kernel.pid_max limits (/proc/loadavg, field 4)."""
    with open("/proc/loadavg") as f:
        return int(f.read().split()[3].split("/")[1])


# ---------------------------------------------------------------------------
# Servers.

class Server:
    """A running server: its process, port and name."""

    def __init__(self, name, proc, port, logs):
        self.name, self.proc, self.port, self.logs = name, proc, port, logs

    def alive(self):
        return self.proc.poll() is None

    def stderr_tail(self, lines=5):
        try:
            text = Path(self.logs[1]).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def wait_for(condition, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def start_conc(binary, model, settings, work, idle_timeout=None, wrap=None):
    """Starts conc_server with -p 0 and reads the port from its announce
    line. wrap (a list) goes before the command, as strace does."""
    args = MODELS[model][0] or ["-m", "thread", "-w", str(settings.pool)]
    argv = [str(binary), "-p", "0", "-d", str(work / "www"), *args]
    if idle_timeout:
        argv += ["-t", str(idle_timeout)]
    argv = settings.cpus.wrap(settings.cpus.server, (wrap or []) + argv)
    out, err = work / ("%s.out" % model), work / ("%s.err" % model)
    # Output goes to files, not pipes: a server that logs every request
    # must never block on a pipe nobody reads, nor be slowed by a terminal.
    with open(out, "wb") as fo, open(err, "wb") as fe:
        proc = PROCS.start(argv, stdin=subprocess.DEVNULL, stdout=fo, stderr=fe)
    port = []

    def announced():
        line = out.read_text(errors="replace").split("\n", 1)
        if len(line) == 2 and line[0].startswith("listening on "):
            port.append(int(line[0].rsplit(":", 1)[1]))
            return True
        return proc.poll() is not None

    wait_for(announced, START_TIMEOUT)
    server = Server(model, proc, port[0] if port else None, (out, err))
    if not port:
        PROCS.stop(proc)
        raise BenchError("%s did not announce a port within %.0f s; %s\n%s"
                         % (" ".join(argv), START_TIMEOUT,
                            "it exited with status %s" % proc.returncode
                            if proc.returncode is not None else "still running",
                            server.stderr_tail()))
    return server


def find_nginx():
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)),
        None)


# sendfile, tcp_nopush and tcp_nodelay are what nginx's documentation
# advises for static files: the body goes from the page cache to the
# socket without a copy, the head and the body's start leave in one
# segment, and the last one is not held back. open_file_cache stays off
# (its default): conc_server opens the file on every request too.
NGINX_CONF = """\
# Generated by bench.py: nginx serving the same files as conc_server.
daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile {nofile};
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log warn;
{user}
events {{
	worker_connections {connections};
}}
http {{
	access_log off;
	sendfile on;
	tcp_nopush on;
	tcp_nodelay on;
	keepalive_timeout {keepalive}s;
	keepalive_requests 1000000;
	server_tokens off;
	client_body_temp_path {tmp}/body;
	proxy_temp_path {tmp}/proxy;
	fastcgi_temp_path {tmp}/fastcgi;
	uwsgi_temp_path {tmp}/uwsgi;
	scgi_temp_path {tmp}/scgi;
	types {{
		text/html html;
		application/octet-stream bin;
	}}
	default_type application/octet-stream;
	server {{
		listen {host}:{port};
		root {root};
		index index.html;
	}}
}}
"""


def free_port():
    """A port free right now. nginx cannot take port 0 and tell us which
    port it got, so it is given one that was free a moment ago; a lost
    race shows as "Address already in use" and start_nginx tries again."""
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_nginx(settings, work, idle_timeout=5, tries=3, wrap=None):
    nginx = find_nginx()
    tmp = work / "nginx"
    tmp.mkdir(exist_ok=True)
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    # As root, nginx's workers would switch to "nobody", who cannot read
    # our private temporary folder: keep them as the current user.
    user = ""
    if os.geteuid() == 0:
        import grp
        import pwd
        user = "user %s %s;" % (pwd.getpwuid(os.geteuid()).pw_name,
                                grp.getgrgid(os.getegid()).gr_name)
    for _ in range(tries):
        port = free_port()
        conf = tmp / "nginx.conf"
        conf.write_text(NGINX_CONF.format(
            nofile=nofile, tmp=tmp, user=user, connections=max(1024, nofile - 64),
            keepalive=idle_timeout, host=HOST, port=port, root=work / "www"))
        err = work / "nginx.err"
        argv = (wrap or []) + [nginx, "-p", str(tmp), "-c", str(conf), "-e",
                               str(tmp / "nginx-error.log")]
        with open(err, "wb") as fe:
            proc = PROCS.start(settings.cpus.wrap(settings.cpus.server, argv),
                               stdin=subprocess.DEVNULL, stdout=fe, stderr=fe)
        server = Server("nginx", proc, port, (err, tmp / "nginx-error.log"))
        if wait_for(lambda: not server.alive() or can_connect(port), START_TIMEOUT) \
                and server.alive():
            return server
        PROCS.stop(proc)
        if "in use" not in server.stderr_tail(20):
            break
    raise BenchError("nginx did not start:\n" + server.stderr_tail(20))


def can_connect(port):
    try:
        with socket.create_connection((HOST, port), timeout=0.5):
            return True
    except OSError:
        return False


def start_server(name, binary, settings, work, idle_timeout=None, wrap=None):
    if name == "nginx":
        return start_nginx(settings, work, idle_timeout or 5, wrap=wrap)
    return start_conc(binary, name, settings, work, idle_timeout, wrap)


def stop_server(server):
    """Stops a server with SIGTERM; returns a note when it misbehaved:
    no exit, an exit status other than 0, or processes of its group still
    running after it exited (children it did not wait for)."""
    pgid = server.proc.pid
    status, took = PROCS.stop(server.proc, kill=False)
    left = group_members(pgid) if status is not None else []
    PROCS.kill_group(server.proc)
    if status is None:
        return "did not exit within %.0f s of SIGTERM (killed)" % STOP_TIMEOUT
    notes = []
    if status != 0 and server.name != "nginx":
        notes.append("exited with status %d after SIGTERM: %s"
                     % (status, server.stderr_tail(2)))
    if left:
        notes.append("%d of its processes still ran after it exited" % len(left))
    return "; ".join(notes)


# ---------------------------------------------------------------------------
# wrk.

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


def cpu_ticks():
    """{cpu number: (busy, total)} clock ticks since boot, from /proc/stat.
    Busy is all but idle and iowait; steal (time the hypervisor gave to
    another machine) counts as busy, since the CPU was not ours. So does
    softirq time: on loopback the receiving side of a packet runs in the
    sender's softirq, which the kernel charges to the sender's own CPU
    time too (tick-based accounting; with CONFIG_IRQ_TIME_ACCOUNTING it
    does not, and shows here as other work)."""
    ticks = {}
    with open("/proc/stat") as f:
        for line in f:
            name, *values = line.split()
            if not name.startswith("cpu") or name == "cpu":
                continue
            values = [int(v) for v in values[:8]]
            total = sum(values)
            ticks[int(name[3:])] = (total - values[3] - values[4], total)
    return ticks


def busy_percent(before, after, cpus):
    """How busy cpus were, in %, between two cpu_ticks() readings."""
    busy = sum(after[c][0] - before[c][0] for c in cpus if c in before and c in after)
    total = sum(after[c][1] - before[c][1] for c in cpus if c in before and c in after)
    return 100 * busy / total if total else None


def bottleneck(row, pinned):
    """Which side limited the run: "server" or "wrk" when it kept its CPU
    busy; "other work" when programs other than these two took 10 % or
    more of either's CPU; "neither" when the round trips did (few
    connections); "?" when the two shared CPUs and the split cannot
    tell."""
    if not pinned or None in (row["server_cpu_pct"], row["wrk_cpu_pct"]):
        return "?"
    if row["server_cpu_pct"] >= BUSY_PERCENT:
        return "server"
    if row["wrk_cpu_pct"] >= BUSY_PERCENT:
        return "wrk"
    if max(row["other_server_cpu_pct"] or 0, row["other_wrk_cpu_pct"] or 0) >= \
            100 - BUSY_PERCENT:
        return "other work"
    return "neither"


def cpu_shares(settings, server_cpu, wrk_cpu, wall, before, after):
    """The percentages of their CPUs that the server, wrk and the rest of
    the machine used during a run of wall seconds."""
    cpus = settings.cpus
    server = 100 * server_cpu / wall / len(cpus.server)
    wrk = 100 * wrk_cpu / wall / len(cpus.wrk) if wrk_cpu is not None else None
    shares = {"server_cpu_pct": round(server), "wrk_cpu_pct": fmt_round(wrk),
              "other_server_cpu_pct": None, "other_wrk_cpu_pct": None}
    if cpus.pinned():
        busy = busy_percent(before, after, cpus.server)
        shares["other_server_cpu_pct"] = fmt_round(busy - server if busy is not None else None)
        busy = busy_percent(before, after, cpus.wrk)
        shares["other_wrk_cpu_pct"] = fmt_round(busy - wrk if None not in (busy, wrk) else None)
    return shares


def fmt_round(value):
    return None if value is None else max(0, round(value))


def measure(settings, server, path, conns):
    """One wrk run against a server, with its memory sampled throughout."""
    cpu = group_cpu_seconds(server.proc.pid)
    ticks, t0 = cpu_ticks(), time.monotonic()
    with Sampler(server.proc.pid, server.port, settings.seconds) as sampler:
        w, threads, wrk_cpu = run_wrk(settings, server.port, path, conns)
    cpu = group_cpu_seconds(server.proc.pid) - cpu
    shares = cpu_shares(settings, cpu, wrk_cpu, time.monotonic() - t0, ticks, cpu_ticks())
    seconds = w["duration_us"] / 1e6
    row = {
        "model": server.name, "file": path, "conns": conns, "wrk_threads": threads,
        "seconds": round(seconds, 2), "requests": w["requests"],
        "rps": round(w["requests"] / seconds) if seconds else 0,
        "cpu_us_per_req": round(cpu * 1e6 / w["requests"], 2) if w["requests"] else None,
        **shares,
        "p50_ms": w["p50_us"] / 1000, "p99_ms": w["p99_us"] / 1000,
        "max_ms": w["max_us"] / 1000,
        "err_connect": w["connect"], "err_read": w["read"], "err_write": w["write"],
        "err_status": w["status"], "err_timeout": w["timeout"],
        "errors": w["connect"] + w["read"] + w["write"] + w["status"] + w["timeout"],
        "peak_rss_kib": sampler.peak["rss_kib"], "peak_procs": sampler.peak["procs"],
        "peak_threads": sampler.peak["threads"], "stalled": sampler.stalled, "note": "",
    }
    row["bound"] = bottleneck(row, settings.cpus.pinned())
    return row


def failed_row(name, path, conns, note):
    return {"model": name, "file": path, "conns": conns, "rps": None, "note": note}


SWEEP_FIELDS = ["model", "file", "conns", "wrk_threads", "seconds", "requests", "rps",
                "cpu_us_per_req", "server_cpu_pct", "wrk_cpu_pct", "other_server_cpu_pct",
                "other_wrk_cpu_pct", "bound",
                "p50_ms", "p99_ms", "max_ms", "errors", "err_connect", "err_read",
                "err_write", "err_status", "err_timeout", "stalled", "peak_rss_kib",
                "peak_procs", "peak_threads", "note"]


def sweep(settings, binary, work):
    rows = []
    print("\n== sweep: %s; wrk -t%d -d%ds --timeout %s; GET /%s (%d bytes)"
          % (settings.cpus.describe(), settings.wrk_threads, settings.seconds, WRK_TIMEOUT,
             SMALL_FILE, SMALL_SIZE))
    print_row_header()
    for name in settings.models:
        try:
            server = start_server(name, binary, settings, work)
        except BenchError as e:
            print("%-6s did not start: %s" % (name, e))
            rows += [failed_row(name, SMALL_FILE, c, "did not start") for c in settings.levels]
            continue
        try:
            for conns in settings.levels:
                row = sweep_one(settings, server, SMALL_FILE, conns)
                rows.append(row)
                print_row(row)
        finally:
            note = stop_server(server)
        if note:
            print("%-6s %s" % (name, note))
            rows[-1]["note"] = (rows[-1]["note"] + "; " if rows[-1]["note"] else "") + note
    return rows


def sweep_one(settings, server, path, conns):
    if not server.alive():
        return failed_row(server.name, path, conns,
                          "server gone (status %s)" % server.proc.returncode)
    try:
        row = measure(settings, server, path, conns)
    except BenchError as e:
        return failed_row(server.name, path, conns, str(e))
    if not server.alive():
        row["note"] = "server exited (status %s) during the run: %s" % (
            server.proc.returncode, server.stderr_tail(2))
    return row


def print_row_header():
    print("%-6s %-10s %6s %8s %7s %8s %8s %6s %7s %9s %5s %7s %5s %5s %-7s  %s"
          % ("model", "file", "conns", "req/s", "CPU us", "p50 ms", "p99 ms", "errors",
             "stalled", "peak RSS", "procs", "threads", "srv%", "wrk%", "bound", "note"))


def print_row(row):
    if row.get("rps") is None:
        print("%-6s %-10s %6d %10s  %s" % (row["model"], row["file"], row["conns"],
                                           "-", row["note"]))
        return
    print("%-6s %-10s %6d %8d %7s %8.2f %8.2f %6d %7s %9s %5d %7d %5s %5s %-7s  %s"
          % (row["model"], row["file"], row["conns"], row["rps"],
             fmt(row["cpu_us_per_req"], "%.1f"), row["p50_ms"],
             row["p99_ms"], row["errors"], fmt(row["stalled"], "%d"),
             kib(row["peak_rss_kib"]), row["peak_procs"], row["peak_threads"],
             fmt(row["server_cpu_pct"], "%d"), fmt(row["wrk_cpu_pct"], "%d"), row["bound"],
             row["note"]))


def kib(n):
    if n is None:
        return "-"
    if n >= 10 * 1024:
        return "%.0f MiB" % (n / 1024)
    return "%d KiB" % n


# ---------------------------------------------------------------------------
# epoll against nginx, side by side.

AB = ("nginx", "epoll")


def ratio(settings, binary, work):
    """Alternating runs of nginx and epoll, each file and level: round 1
    runs nginx then epoll, round 2 epoll then nginx, and so on, so that a
    drift in the machine's speed (another program, a CPU's clock) falls
    on both alike. Returns (every run, one summary per file and level)."""
    print("\n== epoll and nginx side by side: %s; %d alternating rounds, %d s per run"
          % (settings.cpus.describe(), settings.rounds, settings.seconds))
    servers = {}
    runs = []
    try:
        for name in AB:
            servers[name] = start_server(name, binary, settings, work)
        for path in settings.ratio_files:
            for level in settings.ratio_levels:
                runs += ab_rounds(settings, servers, path, level)
    except BenchError as e:
        print("ratio: %s" % e)
    finally:
        for server in servers.values():
            stop_server(server)
    table = [summarize(runs, path, level) for path in settings.ratio_files
             for level in settings.ratio_levels]
    return runs, table


def ab_rounds(settings, servers, path, level):
    runs = []
    for r in range(settings.rounds):
        for name in AB if r % 2 == 0 else AB[::-1]:
            row = sweep_one(settings, servers[name], path, level)
            row["round"] = r + 1
            runs.append(row)
            print("  %-7s %5d conns  round %d  %-5s %s" % (
                FILES[path][0], level, r + 1, name, run_text(row)))
    return runs


def run_text(row):
    """One run in a line: its figures, and whose CPU was busy."""
    if row.get("rps") is None:
        return row["note"]
    others = ""
    if row["other_server_cpu_pct"] is not None:
        others = ", other programs %s%% / %s%%" % (fmt(row["other_server_cpu_pct"], "%d"),
                                                  fmt(row["other_wrk_cpu_pct"], "%d"))
    return ("%7d req/s  %6s us/req  p99 %7.2f ms  %d errors  CPU: server %s%%, wrk %s%%%s: "
            "bound by %s" % (row["rps"], fmt(row["cpu_us_per_req"], "%.2f"), row["p99_ms"],
                             row["errors"], fmt(row["server_cpu_pct"], "%d"),
                             fmt(row["wrk_cpu_pct"], "%d"), others, row["bound"]))


def spread(values):
    """(median, lowest, highest) of values, or Nones when there are none."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None, None
    return statistics.median(values), min(values), max(values)


def summarize(runs, path, level):
    """The median and spread of each figure of each server, and of the
    per-round ratios epoll / nginx (the two runs of one round are next to
    each other in time, so their ratio cancels slow drifts)."""
    entry = {"file": path, "size": FILES[path][0], "conns": level}
    ok = [r for r in runs if r["file"] == path and r["conns"] == level
          and r.get("rps") is not None and r.get("cpu_us_per_req") is not None]
    for name in AB:
        mine = [r for r in ok if r["model"] == name]
        entry[name + "_runs"] = len(mine)
        for key, field in (("rps", "rps"), ("cpu_us", "cpu_us_per_req"), ("p99_ms", "p99_ms")):
            entry[name + "_" + key], entry[name + "_" + key + "_lo"], \
                entry[name + "_" + key + "_hi"] = spread(r[field] for r in mine)
        bounds = [r["bound"] for r in mine]
        entry[name + "_bound"] = max(set(bounds), key=bounds.count) if bounds else None
        entry[name + "_bound_runs"] = bounds.count(entry[name + "_bound"])
    pairs = {}
    for r in ok:
        pairs.setdefault(r["round"], {})[r["model"]] = r
    pairs = [p for p in pairs.values() if len(p) == 2]
    for key, field in (("rps_ratio", "rps"), ("cpu_ratio", "cpu_us_per_req")):
        entry[key], entry[key + "_lo"], entry[key + "_hi"] = spread(
            p["epoll"][field] / p["nginx"][field] for p in pairs if p["nginx"][field])
    entry["rounds"] = len(pairs)
    return entry


RATIO_FIELDS = ["file", "conns", "rounds"] + [
    "%s_%s%s" % (name, key, end) for name in AB
    for key in ("rps", "cpu_us", "p99_ms") for end in ("", "_lo", "_hi")] + [
    "%s%s" % (key, end) for key in ("rps_ratio", "cpu_ratio") for end in ("", "_lo", "_hi")] + [
    "nginx_bound", "nginx_bound_runs", "epoll_bound", "epoll_bound_runs"]
RATIO_RUN_FIELDS = ["round"] + SWEEP_FIELDS


def med(entry, key, form):
    """A figure as "median [lowest-highest]"."""
    if entry.get(key) is None:
        return "-"
    return "%s [%s-%s]" % (form % entry[key], form % entry[key + "_lo"],
                           form % entry[key + "_hi"])


def print_ratio(table, settings):
    print("\nepoll and nginx: median [lowest-highest] over the rounds; %s"
          % settings.cpus.describe())
    for e in table:
        print("\n%s, %d connections, %d round%s" % (e["size"], e["conns"], e["rounds"],
                                                 "" if e["rounds"] == 1 else "s"))
        print("  %-14s %-28s %-28s %s" % ("", "nginx", "epoll", "epoll / nginx"))
        print("  %-14s %-28s %-28s %s" % ("req/s", med(e, "nginx_rps", "%.0f"),
                                          med(e, "epoll_rps", "%.0f"),
                                          med(e, "rps_ratio", "%.2f") + "  (above 1: epoll serves more)"))
        print("  %-14s %-28s %-28s %s" % ("CPU us/req", med(e, "nginx_cpu_us", "%.2f"),
                                          med(e, "epoll_cpu_us", "%.2f"),
                                          med(e, "cpu_ratio", "%.2f") + "  (below 1: epoll spends less)"))
        print("  %-14s %-28s %-28s" % ("p99 ms", med(e, "nginx_p99_ms", "%.2f"),
                                       med(e, "epoll_p99_ms", "%.2f")))
        print("  %-14s %-28s %-28s" % ("bottleneck", bound_text(e, "nginx"), bound_text(e, "epoll")))
        for line in verdict(e, settings):
            print("  " + line)
    print("\n" + TRUST)


def bound_text(e, name):
    if e.get(name + "_bound") is None:
        return "-"
    return "%s (%d of %d runs)" % (e[name + "_bound"], e[name + "_bound_runs"], e[name + "_runs"])


TRUST = """\
Which figure to trust. CPU us/req is the server's own cost: the CPU time
of its processes during the run divided by the requests it served. It
does not depend on how fast wrk is, and other work on the machine moves
it less than requests/s: compare servers by it. (A server held back, by
wrk or by other work, finds fewer requests per wake-up and pays a little
more for each: the comparison then errs against the faster server.)
Requests/s is what clients get, but it measures a server only while the
server is the bottleneck (it kept its CPU busy, "bound by server"); when
wrk is ("bound by wrk"), requests/s is wrk's limit, a lower bound for the
server, and wrk's p99 includes its own queueing; when other programs
took 10 % or more of either CPU ("bound by other work"), requests/s and
p99 are theirs as much as the server's. A ratio whose lowest and highest
rounds fall on both sides of 1 shows no difference."""


def verdict(e, settings):
    """What this row's figures support, in a sentence or two."""
    lines = []
    if e.get("cpu_ratio") is not None:
        lines.append("CPU per request: epoll spends %.2f of nginx's (rounds %.2f to %.2f)."
                     % (e["cpu_ratio"], e["cpu_ratio_lo"], e["cpu_ratio_hi"]))
    if e.get("rps_ratio") is None:
        return lines
    disturbed = max(e[n + "_bound_runs"] if e[n + "_bound"] == "other work" else 0 for n in AB)
    if not settings.cpus.pinned():
        lines.append("Requests/s: the servers shared their CPUs with wrk, so the ratio %.2f "
                     "partly measures wrk." % e["rps_ratio"])
    elif disturbed:
        lines.append("Requests/s: other programs took part of the CPUs in most runs, so the "
                     "ratio %.2f (rounds %.2f to %.2f) is noise as much as measure; trust the "
                     "CPU figure, or rerun on a quiet machine."
                     % (e["rps_ratio"], e["rps_ratio_lo"], e["rps_ratio_hi"]))
    elif e["nginx_bound"] == "wrk" and e["epoll_bound"] == "wrk":
        lines.append("Requests/s: wrk held both back, so the ratio %.2f measures wrk, not "
                     "the servers; trust the CPU figure." % e["rps_ratio"])
    elif e["epoll_bound"] == "wrk":
        lines.append("Requests/s: wrk held epoll back, not nginx: epoll / nginx = %.2f "
                     "(rounds %.2f to %.2f) is a lower bound for epoll's lead."
                     % (e["rps_ratio"], e["rps_ratio_lo"], e["rps_ratio_hi"]))
    elif e["nginx_bound"] == "wrk":
        lines.append("Requests/s: wrk held nginx back, not epoll: epoll / nginx = %.2f "
                     "(rounds %.2f to %.2f) is an upper bound."
                     % (e["rps_ratio"], e["rps_ratio_lo"], e["rps_ratio_hi"]))
    elif e["rps_ratio_lo"] < 1 < e["rps_ratio_hi"]:
        lines.append("Requests/s: the rounds disagree (%.2f to %.2f): no difference shown."
                     % (e["rps_ratio_lo"], e["rps_ratio_hi"]))
    else:
        lines.append("Requests/s: epoll / nginx = %.2f (rounds %.2f to %.2f)."
                     % (e["rps_ratio"], e["rps_ratio_lo"], e["rps_ratio_hi"]))
    return lines


def fmt(value, form):
    return "-" if value is None else form % value


# ---------------------------------------------------------------------------
# System calls per request, counted by strace.

SYSCALL_MIN = 0.01  # calls per request below this are left out of the table


def syscalls(settings, binary, work):
    """strace -c -f around epoll and nginx during a short wrk run per
    file. Returns {file: {server: {system call: calls per request}}}.
    The counts hardly depend on the machine: only the requests one
    epoll_wait() call brings in vary with the load (and strace slows the
    server, so it brings in more than without)."""
    strace = shutil.which("strace")
    names = [n for n in AB if n in settings.models]
    if not strace or not names:
        print("\nbench: %s: no system call counts" % (
            "strace is not installed" if not strace else "neither epoll nor nginx measured"))
        return {}
    print("\n== system calls per request: strace -c -f, wrk -c%d for %d s per file"
          % (SYSCALL_CONNS, SYSCALL_SECONDS))
    table = {}
    for path in settings.ratio_files:
        for name in names:
            try:
                table.setdefault(path, {})[name] = count_syscalls(
                    settings, binary, work, strace, name, path)
            except BenchError as e:
                print("%-6s %s: %s" % (name, path, e))
        print_syscalls(path, table.get(path, {}))
    return table


def count_syscalls(settings, binary, work, strace, name, path):
    log = work / ("strace-%s.txt" % name)
    server = start_server(name, binary, settings, work,
                          wrap=[strace, "-f", "-c", "-o", str(log)])
    try:
        w, _, _ = run_wrk(settings, server.port, path, SYSCALL_CONNS, SYSCALL_SECONDS)
    finally:
        stop_traced(server)
    if not w["requests"]:
        raise BenchError("no request served under strace")
    try:
        return per_request(log.read_text(), w["requests"])
    except OSError as e:
        raise BenchError("strace wrote no counts: %s" % e) from None


def stop_traced(server):
    """Stops a server run under strace: SIGTERM to the server (strace's
    child), so that strace sees it exit and writes its table."""
    tracer = server.proc.pid
    for pid, fields in group_stat_fields(tracer):
        if int(fields[1]) == tracer:  # the parent pid, field 4 of stat(5)
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
    try:
        server.proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        pass
    PROCS.kill_group(server.proc)


def per_request(text, requests):
    """{system call: calls per request} from strace -c's table, whose
    rows read "% time, seconds, usecs/call, calls, [errors], name"."""
    counts = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
            counts[parts[-1]] = int(parts[3]) / requests
    return counts


def syscall_rows(servers):
    """[(name, {server: calls per request})], the most frequent first,
    then the total, leaving out calls rarer than SYSCALL_MIN."""
    names = sorted({c for counts in servers.values() for c, n in counts.items()
                    if n >= SYSCALL_MIN},
                   key=lambda c: -max(counts.get(c, 0) for counts in servers.values()))
    rows = [(c, {s: counts.get(c, 0) for s, counts in servers.items()}) for c in names]
    return rows + [("total", {s: sum(counts.values()) for s, counts in servers.items()})]


def print_syscalls(path, servers):
    if not servers:
        return
    print("%s: calls per request" % FILES[path][0])
    print("  %-16s" % "" + "".join("%10s" % s for s in servers))
    for name, values in syscall_rows(servers):
        print("  %-16s" % name + "".join("%10.2f" % values[s] for s in servers))


def syscalls_md(table):
    lines = ["", "System calls per request (strace -c -f, wrk -c%d, %d s per file):"
             % (SYSCALL_CONNS, SYSCALL_SECONDS)]
    for path, servers in table.items():
        if not servers:
            continue
        lines += ["", "| %s | %s |" % (FILES[path][0], " | ".join(servers)),
                  "|---|" + "--:|" * len(servers)]
        for name, values in syscall_rows(servers):
            lines.append("| %s | %s |" % (name, " | ".join("%.2f" % values[s] for s in servers)))
    return lines


# ---------------------------------------------------------------------------
# Idle keep-alive connections.

IDLE_FIELDS = ["model", "target", "held", "answered", "failed", "alive", "stopped_because",
               "rss_kib", "pss_kib", "kib_per_conn", "procs", "threads", "fresh_ms",
               "stop_s", "note"]


def idle(settings, binary, work):
    print("\n== idle keep-alive connections: up to %d per server, in batches of %d"
          % (settings.idle, IDLE_BATCH))
    rows = []
    for name in settings.models:
        try:
            server = start_server(name, binary, settings, work, IDLE_SERVER_TIMEOUT)
        except BenchError as e:
            rows.append({"model": name, "target": settings.idle, "note": "did not start"})
            print("%-6s did not start: %s" % (name, e))
            continue
        try:
            row = idle_one(settings, server)
        except BenchError as e:
            row = {"model": name, "target": settings.idle, "note": str(e)}
        finally:
            t0 = time.monotonic()
            note = stop_server(server)
        row["stop_s"] = round(time.monotonic() - t0, 2)
        if note:
            row["note"] = (row.get("note", "") + " " + note).strip()
        rows.append(row)
        print_idle(row)
    return rows


def idle_one(settings, server):
    base = group_memory(server.proc.pid, pss=True)
    sources = -(-settings.idle // PORTS_PER_SOURCE)
    client = PROCS.start([sys.executable, str(HERE / "idle_conns.py"), HOST,
                          str(server.port), str(settings.idle), "--batch", str(IDLE_BATCH),
                          "--timeout", str(IDLE_BATCH_TIMEOUT), "--sources", str(sources)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    lines = LineReader(client)
    row = {"model": server.name, "target": settings.idle, "stopped_because": ""}
    mem_start = mem_available_kib()
    try:
        held = 0
        while True:
            line = lines.line(IDLE_BATCH_TIMEOUT + 20)
            if line.startswith("holding"):
                held = int(line.split()[1])
                break
            _, opened, _, answered, _, failed = line.split()
            row.update(held=int(opened), answered=int(answered), failed=int(failed))
            why = idle_stop_reason(server, row, mem_start)
            row["stopped_because"] = why
            send_line(client, "stop" if why else "more")
        row["held"] = held
        time.sleep(0.5)  # let the last children and threads settle
        now = group_memory(server.proc.pid, pss=True)
        row.update(rss_kib=now["rss_kib"], pss_kib=now["pss_kib"], procs=now["procs"],
                   threads=now["threads"])
        row["kib_per_conn"] = round((now["pss_kib"] - base["pss_kib"]) / held, 1) \
            if held else None
        row["fresh_ms"] = fresh_request_ms(server.port)
        send_line(client, "check")
        row["alive"] = int(lines.line(10).split()[1])
        send_line(client, "quit")
        client.wait(timeout=STOP_TIMEOUT)
    except (subprocess.TimeoutExpired, ValueError, IndexError, BrokenPipeError) as e:
        raise BenchError("idle client: %s %s" % (e, client.stderr.read()
                                                 if client.poll() is not None else ""))
    finally:
        PROCS.kill_group(client)
    if not server.alive():
        row["note"] = "server exited (status %s)" % server.proc.returncode
    return row


def idle_stop_reason(server, row, mem_start):
    if row["failed"]:
        return "%d connections failed" % row["failed"]
    if row["answered"] < row["held"]:
        return "only %d of %d connections answered" % (row["answered"], row["held"])
    if not server.alive():
        return "server exited"
    avail = mem_available_kib()
    if avail < max(MEM_FLOOR_KIB, mem_start // 5):
        return "memory: %d MiB left available" % (avail // 1024)
    with open("/proc/sys/kernel/pid_max") as f:
        if task_count() + IDLE_BATCH + PID_HEADROOM > int(f.read()):
            return "pids: %d threads on the machine, near kernel.pid_max" % task_count()
    return ""


class LineReader:
    """Lines from a child's stdout, each waited for with a deadline. It
    reads the descriptor itself: a buffered file object could swallow two
    lines in one read, and select() would then wait for the second in vain."""

    def __init__(self, proc):
        self.proc, self.fd, self.buf = proc, proc.stdout.fileno(), b""

    def line(self, timeout):
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                raise subprocess.TimeoutExpired("idle_conns.py", timeout)
            data = os.read(self.fd, 4096)
            if not data:
                raise BrokenPipeError("idle_conns.py ended early")
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode().strip()


def send_line(proc, text):
    proc.stdin.write(text + "\n")
    proc.stdin.flush()


def fresh_request_ms(port):
    """Milliseconds for a new client's whole GET, or None if it got no
    complete answer within FRESH_TIMEOUT."""
    t0 = time.monotonic()
    try:
        with socket.create_connection((HOST, port), timeout=FRESH_TIMEOUT) as s:
            s.sendall(b"GET /%s HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"
                      % SMALL_FILE.encode())
            got = b""
            while time.monotonic() - t0 < FRESH_TIMEOUT:
                s.settimeout(max(0.01, FRESH_TIMEOUT - (time.monotonic() - t0)))
                data = s.recv(65536)
                if not data:
                    break
                got += data
    except OSError:
        return None
    if not got.startswith(b"HTTP/1.1 200") or len(got) < SMALL_SIZE:
        return None
    return round((time.monotonic() - t0) * 1000, 2)


def print_idle(row):
    if row.get("held") is None:
        print("%-6s %s" % (row["model"], row.get("note", "")))
        return
    print("%-6s held %5d of %d, alive %5d | PSS %s (RSS sum %s), %s per conn | "
          "%d procs, %d threads | fresh request %s | stop %.1f s%s%s" % (
              row["model"], row["held"], row["target"], row.get("alive", 0),
              kib(row.get("pss_kib")), kib(row.get("rss_kib")),
              fmt(row.get("kib_per_conn"), "%.1f KiB"), row.get("procs", 0),
              row.get("threads", 0), fmt(row.get("fresh_ms"), "%.1f ms") if
              row.get("fresh_ms") is not None else "NO ANSWER in %.0f s" % FRESH_TIMEOUT,
              row.get("stop_s", 0),
              " | stopped: " + row["stopped_because"] if row.get("stopped_because") else "",
              " | " + row["note"] if row.get("note") else ""))


# ---------------------------------------------------------------------------
# Output.

def machine():
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    osname = platform.system()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                osname = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // 1024
    nginx = find_nginx()
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpus": os.cpu_count(), "cpu": cpu, "os": osname, "kernel": platform.release(),
        "memory_mib": mem, "loadavg_at_start": os.getloadavg()[0],
        "wrk": version(["wrk", "-v"]), "nginx": version([nginx, "-v"]) if nginx else None,
        "gnuplot": version(["gnuplot", "--version"]) if shutil.which("gnuplot") else None,
    }


def version(argv):
    try:
        run = subprocess.run(argv, capture_output=True, text=True, timeout=10)
    except OSError:
        return None
    return (run.stdout + run.stderr).strip().splitlines()[0].split(" Copyright")[0]


def write_csv(path, fields, rows):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in fields})


def chart(settings, rows, out):
    """bench.png: requests/s, server CPU time per request and p99 latency
    against the number of connections, one line per model. Returns a note
    on failure."""
    if not shutil.which("gnuplot"):
        return "gnuplot is not installed (make deps): no chart"
    names = [m for m in settings.models if any(r["model"] == m and r.get("rps") is not None
                                             and r["file"] == SMALL_FILE for r in rows)]
    if not names:
        return "no results to chart"
    for column, name in (("rps", "rps.dat"), ("cpu_us_per_req", "cpu.dat"),
                         ("p99_ms", "p99.dat")):
        with open(out / name, "w") as f:
            # gnuplot takes each column's title from this line.
            f.write("conns " + " ".join("pool(-w%d)*" % settings.pool if m == "pool" else m
                                        for m in names) + "\n")
            for level in settings.levels:
                values = []
                for m in names:
                    hit = [r for r in rows if r["model"] == m and r["conns"] == level
                           and r["file"] == SMALL_FILE and r.get("rps") is not None]
                    values.append(str(hit[0][column]) if hit and hit[0][column] else "?")
                f.write("%d %s\n" % (level, " ".join(values)))
    terminal = "pngcairo size 1500,480 font 'sans,10'"
    if subprocess.run(["gnuplot", "-e", "set terminal pngcairo"], capture_output=True,
                      timeout=30).returncode != 0:
        terminal = "png size 1500,480"
    script = """\
set terminal {terminal}
set bmargin 4
set output '{out}/bench.png'
set datafile missing '?'
set key autotitle columnhead top right
set logscale x
set xtics ({xtics})
set xlabel 'concurrent connections (wrk -c)'
set grid
{footnote}
set multiplot layout 1,3 title 'conc\\_server and nginx, GET of a {size} B file over loopback, {cpus} CPUs ({pinning}), wrk {seconds} s per point'
set ylabel 'requests/s'
set yrange [0:*]
plot for [i=2:{last}] '{out}/rps.dat' using 1:i with linespoints lw 2 pt 7
set ylabel 'server CPU time per request (µs)'
plot for [i=2:{last}] '{out}/cpu.dat' using 1:i with linespoints lw 2 pt 7
set ylabel 'p99 latency (ms, log scale)'
set logscale y
set yrange [*:*]
plot for [i=2:{last}] '{out}/p99.dat' using 1:i with linespoints lw 2 pt 7
unset multiplot
""".format(terminal=terminal, out=out, xtics=", ".join(str(l) for l in settings.levels),
           size=SMALL_SIZE, cpus=os.cpu_count(), seconds=settings.seconds,
           pinning="server on CPU %s, wrk on CPU %s" % (cpu_list(settings.cpus.server),
                                                       cpu_list(settings.cpus.wrk))
           if settings.cpus.pinned() else "not pinned",
           last=len(names) + 1,
           footnote="set label 1 '* each worker holds one connection until it closes: past "
           "%d connections the others wait unserved, and wrk measures only the served ones' "
           "at screen 0.01, 0.02 font ',8'" % settings.pool if "pool" in names else "")
    (out / "bench.gp").write_text(script)
    run = subprocess.run(["gnuplot", str(out / "bench.gp")], capture_output=True, text=True,
                         timeout=60)
    if run.returncode != 0:
        return "gnuplot failed: " + run.stderr.strip()[-500:]
    return ""


def ratio_md(table, settings):
    """The side-by-side table: each figure as median [lowest-highest]."""
    lines = ["", "epoll and nginx in alternating runs, %d rounds; median [lowest-highest] "
             "over the rounds. The ratios are epoll / nginx, taken round by round." %
             settings.rounds, "",
             "| file | conns | nginx req/s | epoll req/s | req/s ratio | nginx CPU µs/req "
             "| epoll CPU µs/req | CPU ratio | nginx p99 ms | epoll p99 ms | bound by "
             "(nginx, epoll) |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"]
    for e in table:
        lines.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s, %s |" % (
            e["size"], e["conns"], med(e, "nginx_rps", "%.0f"), med(e, "epoll_rps", "%.0f"),
            med(e, "rps_ratio", "%.2f"), med(e, "nginx_cpu_us", "%.2f"),
            med(e, "epoll_cpu_us", "%.2f"), med(e, "cpu_ratio", "%.2f"),
            med(e, "nginx_p99_ms", "%.2f"), med(e, "epoll_p99_ms", "%.2f"),
            bound_text(e, "nginx"), bound_text(e, "epoll")))
    for e in table:
        lines += ["", "%s, %d connections: %s" % (e["size"], e["conns"],
                                                  " ".join(verdict(e, settings)))]
    return lines + ["", TRUST.replace("\n", " ")]


def report_md(settings, results, out):
    """report.md: the same tables in Markdown, ready to paste into notes."""
    m = results["machine"]
    lines = ["# conc_server benchmark", "",
             "%s; %s; %d CPUs (%s), %d MiB; kernel %s; %s; %s; load average %.2f at the "
             "start, %.2f at the end; %d s in all." % (
                 m["date"], m["os"], m["cpus"], m["cpu"], m["memory_mib"], m["kernel"],
                 m["wrk"],
                 m["nginx"] or "no nginx", m["loadavg_at_start"], m["loadavg_at_end"],
                 results["seconds"]),
             "Server: %s. %s. wrk -t%d, %d s per run, --timeout %s." % (
                 results["server"], sentence(settings.cpus.describe()),
                 settings.wrk_threads, settings.seconds, WRK_TIMEOUT),
             "Models: " + "; ".join("%s, %s" % (m, MODELS[m][1].replace("(-w)", "(-w %d)"
                                                                   % settings.pool))
                                    for m in settings.models) + ".", ""]
    lines += ["| model | file | conns | req/s | server CPU µs/req | p50 ms | p99 ms | errors "
              "| stalled | peak RSS | procs | threads | server CPU % | wrk CPU % | bound by "
              "| note |",
              "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|---|"]
    for r in results["sweep"]:
        if r.get("rps") is None:
            lines.append("| %s | %s | %d | - | | | | | | | | | | | | %s |" % (
                r["model"], r["file"], r["conns"], r["note"]))
            continue
        lines.append("| %s | %s | %d | %d | %s | %.2f | %.2f | %d | %s | %s | %d | %d | %s | %s "
                     "| %s | %s |" % (
                         r["model"], r["file"], r["conns"], r["rps"],
                         fmt(r["cpu_us_per_req"], "%.1f"), r["p50_ms"], r["p99_ms"],
                         r["errors"], fmt(r["stalled"], "%d"), kib(r["peak_rss_kib"]),
                         r["peak_procs"], r["peak_threads"], fmt(r["server_cpu_pct"], "%d"),
                         fmt(r["wrk_cpu_pct"], "%d"), r["bound"], r["note"]))
    if results["ratio"]:
        lines += ratio_md(results["ratio"], settings)
    if results.get("syscalls"):
        lines += syscalls_md(results["syscalls"])
    if results["idle"]:
        lines += ["", "Idle keep-alive connections (target %d):" % settings.idle, "",
                  "| model | held | alive | PSS | RSS sum | per conn | procs | threads "
                  "| fresh request | stop | stopped because |",
                  "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"]
        for r in results["idle"]:
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["model"], r.get("held", "-"), r.get("alive", "-"), kib(r.get("pss_kib")),
                kib(r.get("rss_kib")), fmt(r.get("kib_per_conn"), "%.1f KiB"),
                r.get("procs", "-"), r.get("threads", "-"),
                fmt(r.get("fresh_ms"), "%.1f ms") if r.get("held") is not None and
                r.get("fresh_ms") is not None else "no answer in %.0f s" % FRESH_TIMEOUT,
                fmt(r.get("stop_s"), "%.1f s"),
                "; ".join(x for x in (r.get("stopped_because"), r.get("note")) if x)))
    (out / "report.md").write_text("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------

def build(settings):
    """Builds conc_server (the reference or your code) into the results
    folder, apart from build/lab06: a "make lab06" or "make grade" run at
    the same time must not rewrite the program under a running benchmark.
    Returns its path."""
    if settings.server:
        return Path(settings.server).resolve()
    src = LAB / "solution" if settings.solution else LAB
    out = settings.out / "bin" / ("solution" if settings.solution else "yours")
    # labs/build.mk directly, as "make lab06" does, but without making
    # lab 06 the current lab for "make grade".
    run = subprocess.run(["make", "-s", "--no-print-directory", "-C", str(ROOT), "-f",
                          "labs/build.mk", "LAB_DIR=" + str(LAB.relative_to(ROOT)),
                          "SRC_DIR=" + str(src.relative_to(ROOT)), "OUT=" + str(out),
                          "programs"],
                         capture_output=True, text=True, timeout=600)
    binary = out / "conc_server"
    if run.returncode != 0 or not binary.exists():
        raise BenchError("could not build %s:\n%s" % (src, (run.stdout + run.stderr)[-2000:]))
    return binary


def make_docroot(work):
    www = work / "www"
    www.mkdir()
    page = (b"<!doctype html><title>bench</title>\n" + b"x" * SMALL_SIZE)[:SMALL_SIZE - 1]
    (www / SMALL_FILE).write_bytes(page + b"\n")
    (www / MEDIUM_FILE).write_bytes(os.urandom(MEDIUM_SIZE))
    (www / BIG_FILE).write_bytes(os.urandom(BIG_SIZE))
    # nginx's workers and a server run by another user must read it.
    os.chmod(work, 0o755)
    os.chmod(www, 0o755)


def raise_fd_limit(settings):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    need = max(settings.levels) + 64
    if hard < need:
        raise UsageError("%d connections need %d file descriptors; the limit is %d "
                         "(ulimit -Hn): lower BENCH_LEVELS" % (max(settings.levels), need, hard))
    if settings.idle + 64 > hard:
        print("bench: the descriptor limit is %d: idle test capped at %d connections"
              % (hard, hard - 64))
        settings.idle = hard - 64


def check_tools(settings):
    if not shutil.which("wrk"):
        raise BenchError("wrk is not installed (make deps, or: sudo apt-get install wrk)")
    if "nginx" in settings.models and not find_nginx():
        print("bench: nginx is not installed (make deps): measuring without it")
        settings.models.remove("nginx")


def main(argv):
    try:
        settings = Settings(argv)
        check_tools(settings)
        raise_fd_limit(settings)
    except UsageError as e:
        print("bench: %s" % e, file=sys.stderr)
        return 2
    except BenchError as e:
        print("bench: %s" % e, file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)
    out = settings.out
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="bench06-"))
    try:
        binary = build(settings) if [m for m in settings.models if m != "nginx"] else None
        print("bench: %s; models %s; connections %s; about %d s in all"
              % (binary or "nginx only", " ".join(settings.models),
                 " ".join(map(str, settings.levels)), settings.estimate()))
        print("bench: %s" % settings.cpus.describe())
        if settings.cpus.pinned():
            # This script's own work (sampling memory) stays off the server's CPU.
            os.sched_setaffinity(0, settings.cpus.wrk)
        if 0 < settings.rounds < MIN_ROUNDS and settings.ratio_wanted():
            print("bench: %d rounds of epoll and nginx: with fewer than %d, the spread says "
                  "little" % (settings.rounds, MIN_ROUNDS))
        busy = os.getloadavg()[0]
        if busy > os.cpu_count():
            print("bench: the machine is busy (load average %.1f on %d CPUs): the figures "
                  "will be low and noisy" % (busy, os.cpu_count()))
        make_docroot(work)
        results = {"machine": machine(), "server": str(binary),
                   "settings": {k: str(v) for k, v in vars(settings).items()}}
        results["sweep"] = sweep(settings, binary, work)
        results["ratio_runs"], results["ratio"] = ratio(settings, binary, work) \
            if settings.ratio_wanted() else ([], [])
        if results["ratio"]:
            print_ratio(results["ratio"], settings)
        results["idle"] = idle(settings, binary, work) if settings.idle else []
        results["syscalls"] = syscalls(settings, binary, work) if settings.syscalls else {}
        results["seconds"] = round(time.monotonic() - t0)
        results["machine"]["loadavg_at_end"] = os.getloadavg()[0]
        write_csv(out / "sweep.csv", SWEEP_FIELDS, results["sweep"])
        write_csv(out / "ratio.csv", RATIO_FIELDS, results["ratio"])
        write_csv(out / "ratio_runs.csv", RATIO_RUN_FIELDS, results["ratio_runs"])
        write_csv(out / "idle.csv", IDLE_FIELDS, results["idle"])
        (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
        report_md(settings, results, out)
        note = chart(settings, results["sweep"], out)
        if note:
            print("bench: " + note)
        print("\nbench: %d s; results in %s (sweep.csv, ratio.csv, ratio_runs.csv, idle.csv, "
              "results.json, report.md%s)" % (results["seconds"], out,
                                               "" if note else ", bench.png"))
        failed = [r for r in results["sweep"] if r.get("rps") is None]
        if failed:
            print("bench: %d measurement(s) failed: see the notes above" % len(failed),
                  file=sys.stderr)
            return 1
        return 0
    except BenchError as e:
        print("bench: %s" % e, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    finally:
        # A second Ctrl-C must not cut the cleanup short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        PROCS.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
