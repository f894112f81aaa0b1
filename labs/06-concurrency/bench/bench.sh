#!/bin/sh
# bench/bench.sh - conc_server's three models, and nginx, under wrk.
#
#   labs/06-concurrency/bench/bench.sh [SECONDS]     or: make bench LAB=06
#
# Measures, over loopback:
#   - requests/s, the server's CPU time per request, p50/p99 latency,
#     errors, stalled connections (never served: wrk cannot see them) and
#     the server's peak memory (summed over its processes) for fork,
#     thread, a thread pool, epoll and nginx at 1, 10, 50, 100 and 1000
#     connections, serving a 1 KiB file;
#   - epoll against nginx with a 1 KiB and a 100 KiB file at 50 and 1000
#     connections, in 5 alternating rounds: the median and the spread of
#     requests/s, CPU time per request and p99, their ratios, which side
#     was the bottleneck, and which figure to trust;
#   - how many idle keep-alive connections each one holds (up to 10000),
#     their memory, and whether a new client is still served quickly.
# With two CPUs or more, each server runs on a CPU of its own and wrk on
# the others (taskset), and the output says so. nginx runs as its
# documentation advises for static files: sendfile, tcp_nopush,
# tcp_nodelay, one worker, no access log.
# About 8 minutes with the defaults. Results, a Markdown report and a
# chart go to build/bench/lab06/; bench/RESULTS.md has one run's figures.
# Needs wrk, gnuplot, ss and nginx (make deps; without nginx it measures
# the models alone), and strace for BENCH_SYSCALLS. Timing is never part
# of make test: it depends on the machine and on what else runs on it.
#
# Settings (environment):
#   BENCH_SECONDS       seconds per wrk run, or the argument (5)
#   SOLUTION=1|0        the reference or your code (the reference when
#                       solution/ exists, else your code)
#   BENCH_LEVELS        connection counts        ("1 10 50 100 1000")
#   BENCH_MODELS        what to measure          ("fork thread pool epoll nginx")
#   BENCH_POOL          worker threads of the pool model (16)
#   BENCH_ROUNDS        epoll/nginx rounds, 0 to skip (5)
#   BENCH_RATIO_LEVELS  their connection counts  ("50 1000")
#   BENCH_BIG=1         epoll/nginx with a 1 MiB file too
#   BENCH_IDLE          idle connections to try, 0 to skip (10000)
#   BENCH_SYSCALLS=1    also count system calls per request (strace -c)
#   BENCH_PIN=0         do not pin servers and wrk to separate CPUs
#   BENCH_WRK_THREADS   wrk threads (one per CPU of wrk's, at most 4)
#   BENCH_OUT           where results go         (build/bench/lab06)
#   BENCH_SERVER        a conc_server to measure instead of building one
set -eu
here=$(cd "$(dirname "$0")" && pwd)
python=/usr/bin/python3
[ -x "$python" ] || python=python3
# Output in the order it is printed, even through a pipe.
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
exec "$python" "$here/bench.py" "$@"
