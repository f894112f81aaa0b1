"""The whole run, in the order bench.sh's header describes."""

import json
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

from .chart import chart
from .idle import IDLE_FIELDS, idle
from .prepare import build, check_tools, make_docroot, raise_fd_limit
from .processes import PROCS, on_signal
from .ratio import RATIO_FIELDS, RATIO_RUN_FIELDS, print_ratio, ratio
from .report import machine, report_md, write_csv
from .settings import BenchError, MIN_ROUNDS, Settings, UsageError
from .sweep import SWEEP_FIELDS, sweep
from .syscalls import syscalls


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
