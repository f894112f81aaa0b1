"""Lab 06's benchmark (make bench LAB=06) in a tiny run.

The real run takes minutes and its figures depend on the machine
(labs/06-concurrency/bench/RESULTS.md); these only prove that the script
measures, writes its CSV, JSON, report and chart, reports a server that
does not start, and never leaves a process behind, even when stopped
half-way.
"""

import csv
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import ROOT

LAB = ROOT / "labs" / "06-concurrency"
BENCH = LAB / "bench" / "bench.sh"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def tiny_env(tmp_path, **extra):
    # TMPDIR puts the script's work folder (docroot, server logs) under
    # tmp_path, so that leftovers can be found by their command line.
    (tmp_path / "tmp").mkdir(exist_ok=True)
    env = dict(os.environ, BENCH_SECONDS="1", BENCH_LEVELS="1 10", BENCH_MODELS="epoll",
               BENCH_ROUNDS="0", BENCH_IDLE="100", BENCH_OUT=str(tmp_path / "out"),
               SOLUTION="1", TMPDIR=str(tmp_path / "tmp"))
    env.update(extra)
    return env


def leftovers(marker):
    """Command lines of live processes whose command line or environment
    mentions marker (everything the script starts inherits TMPDIR)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open("/proc/%s/environ" % pid, "rb") as f:
                environ = f.read().decode(errors="replace")
            with open("/proc/%s/stat" % pid) as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if (marker in cmdline or marker in environ) and not zombie:
            found.append(cmdline)
    return found


@pytest.fixture
def ready():
    if not (LAB / "lab.mk").exists() or not (LAB / "solution").is_dir():
        pytest.skip("lab 06 is not ready")
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (make deps)")
    if shutil.which("gnuplot") is None:
        pytest.fail("gnuplot is not installed; run make deps")


def test_bench_tiny_run_writes_results(ready, tmp_path):
    run = subprocess.run([str(BENCH)], cwd=ROOT, env=tiny_env(tmp_path),
                         capture_output=True, text=True, timeout=180)
    output = (run.stdout + run.stderr)[-4000:]
    assert run.returncode == 0, output
    out = tmp_path / "out"
    with open(out / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(r["model"], r["conns"]) for r in rows] == [("epoll", "1"), ("epoll", "10")], output
    for r in rows:
        assert int(r["requests"]) > 0 and float(r["rps"]) > 0, (r, output)
        assert int(r["peak_rss_kib"]) > 0 and int(r["peak_threads"]) >= 1, (r, output)
    results = json.loads((out / "results.json").read_text())
    assert results["machine"]["cpus"] >= 1
    [idle] = results["idle"]
    assert idle["held"] == 100 and idle["alive"] == 100, (idle, output)
    assert idle["fresh_ms"] is not None, (idle, output)
    assert (out / "bench.png").read_bytes().startswith(PNG_MAGIC), output
    assert "| epoll | index.html | 10 |" in (out / "report.md").read_text()
    assert not leftovers(str(tmp_path)), output


def test_bench_counts_stalled_connections(ready, tmp_path):
    # A pool of 2 workers, each holding a keep-alive connection until it
    # ends: of 10 connections, 8 wait for the whole run. wrk cannot see
    # them (they never complete a request); the "stalled" column must.
    if shutil.which("ss") is None:
        pytest.fail("ss is not installed; run make deps (iproute2)")
    env = tiny_env(tmp_path, BENCH_SECONDS="3", BENCH_LEVELS="10", BENCH_MODELS="pool",
                   BENCH_POOL="2", BENCH_IDLE="0")
    run = subprocess.run([str(BENCH)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    output = (run.stdout + run.stderr)[-4000:]
    assert run.returncode == 0, output
    with open(tmp_path / "out" / "sweep.csv") as f:
        [row] = list(csv.DictReader(f))
    assert row["stalled"] == "8", output


def test_bench_reports_a_server_that_does_not_start(ready, tmp_path):
    broken = tmp_path / "broken_server"
    broken.write_text("#!/bin/sh\necho 'conc_server: cannot start' >&2\nexit 1\n")
    broken.chmod(0o755)
    env = tiny_env(tmp_path, BENCH_SERVER=str(broken), BENCH_IDLE="0")
    run = subprocess.run([str(BENCH)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=60)
    output = run.stdout + run.stderr
    assert run.returncode == 1, output
    assert "did not announce a port" in output and "cannot start" in output, output


def load_run_under_way(marker):
    """True when the fork server and a wrk load run are both alive. Only
    "wrk -t ..." counts: the script also runs "wrk -v", for a moment, to
    record wrk's version before it starts any server."""
    running = leftovers(marker)
    return (any(c.startswith("wrk -t ") for c in running)
            and any("conc_server" in c for c in running))


def test_bench_stopped_half_way_leaves_nothing(ready, tmp_path):
    env = tiny_env(tmp_path, BENCH_SECONDS="5", BENCH_MODELS="fork")
    bench = subprocess.Popen([str(BENCH)], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        # Stop it once the first wrk run is under way, then it must clean
        # up by itself.
        deadline = time.monotonic() + 60
        while (time.monotonic() < deadline and bench.poll() is None
               and not load_run_under_way(str(tmp_path))):
            time.sleep(0.1)
        if not load_run_under_way(str(tmp_path)):
            bench.send_signal(signal.SIGTERM)
            output, _ = bench.communicate(timeout=30)
            pytest.fail("the server and wrk were never seen running together; the "
                        "script's output:\n" + output[-4000:])
        time.sleep(1)
        bench.send_signal(signal.SIGTERM)
        output, _ = bench.communicate(timeout=30)
    finally:
        if bench.poll() is None:
            os.killpg(bench.pid, signal.SIGKILL)
            bench.wait()
    assert bench.returncode != 0, output
    assert "interrupted" in output, output
    assert not leftovers(str(tmp_path)), output


def test_bench_side_by_side_alternates_and_reports_spread(ready, tmp_path):
    if shutil.which("nginx") is None and not os.access("/usr/sbin/nginx", os.X_OK):
        pytest.skip("nginx is not installed (make deps)")
    env = tiny_env(tmp_path, BENCH_MODELS="epoll nginx", BENCH_LEVELS="10", BENCH_ROUNDS="2",
                   BENCH_RATIO_LEVELS="10", BENCH_IDLE="0")
    run = subprocess.run([str(BENCH)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=180)
    output = (run.stdout + run.stderr)[-6000:]
    assert run.returncode == 0, output
    assert ("pinned: each server on CPU" in output) == (len(os.sched_getaffinity(0)) >= 2), output
    assert "Which figure to trust" in output, output
    out = tmp_path / "out"
    with open(out / "ratio_runs.csv") as f:
        runs = list(csv.DictReader(f))
    # Round 1 runs nginx first, round 2 epoll first, for each file.
    order = [(r["file"], r["round"], r["model"]) for r in runs]
    assert order == [(f, rnd, m) for f in ("index.html", "100k.bin")
                     for rnd, pair in (("1", ("nginx", "epoll")), ("2", ("epoll", "nginx")))
                     for m in pair], output
    for r in runs:
        assert float(r["cpu_us_per_req"]) > 0 and r["bound"], (r, output)
    with open(out / "ratio.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["file"] for r in table] == ["index.html", "100k.bin"], output
    for e in table:
        assert e["rounds"] == "2", (e, output)
        for key in ("nginx_rps", "epoll_rps", "epoll_cpu_us", "rps_ratio", "cpu_ratio"):
            lo, mid, hi = (float(e[key + end]) for end in ("_lo", "", "_hi"))
            assert 0 < lo <= mid <= hi, (key, e, output)
    report = (out / "report.md").read_text()
    assert "| 100 KiB | 10 |" in report and "Which figure to trust" in report, report


def test_bench_counts_system_calls_per_request(ready, tmp_path):
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    env = tiny_env(tmp_path, BENCH_LEVELS="1", BENCH_IDLE="0", BENCH_SYSCALLS="1")
    run = subprocess.run([str(BENCH)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=180)
    output = (run.stdout + run.stderr)[-6000:]
    assert run.returncode == 0, output
    counts = json.loads((tmp_path / "out" / "results.json").read_text())["syscalls"]
    for path in ("index.html", "100k.bin"):
        epoll = counts[path]["epoll"]
        # One request in, one file opened, looked at and closed, one
        # response out: whatever the machine, each about once a request.
        assert 0.9 < epoll["recvfrom"] < 1.1, (path, epoll, output)
        assert 0.9 < epoll.get("openat2", 0) + epoll.get("openat", 0) < 1.1, (path, epoll)
        assert 0.9 < epoll["close"] < 1.1, (path, epoll, output)
        assert sum(epoll.values()) < 10, (path, epoll, output)
    assert not leftovers(str(tmp_path)), output
