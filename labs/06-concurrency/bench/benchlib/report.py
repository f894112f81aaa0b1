"""Output: the machine's description, the CSV files and report.md."""

import csv
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

from .formats import fmt, kib, sentence
from .nginx import find_nginx
from .ratio import TRUST, bound_text, med, verdict
from .settings import FILES, FRESH_TIMEOUT, MODELS, SYSCALL_CONNS, SYSCALL_SECONDS, WRK_TIMEOUT
from .syscalls import syscall_rows


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
