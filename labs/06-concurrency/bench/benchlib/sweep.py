"""The sweep: each model at each connection count, one wrk run each."""

import time

from .cpu import bottleneck, cpu_shares, cpu_ticks
from .formats import fmt, kib
from .procfs import group_cpu_seconds
from .sampler import Sampler
from .servers import start_server, stop_server
from .settings import BenchError, SMALL_FILE, SMALL_SIZE, WRK_TIMEOUT
from .wrk import run_wrk


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
