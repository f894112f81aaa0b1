"""System calls per request, counted by strace."""

import os
import shutil
import signal
import subprocess

from .processes import PROCS
from .procfs import group_stat_fields
from .ratio import AB
from .servers import start_server
from .settings import BenchError, FILES, STOP_TIMEOUT, SYSCALL_CONNS, SYSCALL_SECONDS
from .wrk import run_wrk

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
