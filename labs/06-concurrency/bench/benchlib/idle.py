"""Idle keep-alive connections: how many each server holds, at what cost,
and whether a new client is still served (idle_conns.py holds them)."""

import os
import select
import socket
import subprocess
import sys
import time

from .formats import fmt, kib
from .processes import PROCS
from .procfs import group_memory, mem_available_kib, task_count
from .servers import start_server, stop_server
from .settings import BenchError, FRESH_TIMEOUT, HERE, HOST, SMALL_FILE, SMALL_SIZE, STOP_TIMEOUT

IDLE_BATCH = 1000
IDLE_BATCH_TIMEOUT = 10.0
IDLE_SERVER_TIMEOUT = 120  # -t of the server in the idle test
PORTS_PER_SOURCE = 20000  # idle connections per loopback source address
PID_HEADROOM = 4000  # pids left free for the rest of the machine
MEM_FLOOR_KIB = 1 << 20  # stop the idle test below 1 GiB available

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
