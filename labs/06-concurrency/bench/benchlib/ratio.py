"""epoll against nginx, side by side, in alternating rounds."""

import statistics

from .formats import fmt
from .servers import start_server, stop_server
from .settings import BenchError, FILES
from .sweep import SWEEP_FIELDS, sweep_one

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
