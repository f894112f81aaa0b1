"""Before the measurements: the program to measure, its files, the
descriptor limit and the tools."""

import os
import resource
import shutil
import subprocess
from pathlib import Path

from .nginx import find_nginx
from .settings import (BIG_FILE, BIG_SIZE, BenchError, LAB, MEDIUM_FILE, MEDIUM_SIZE, ROOT,
                       SMALL_FILE, SMALL_SIZE, UsageError)


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
