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

The code is in benchlib/, one module per concern:

  main       the whole run, in order
  settings   BENCH_* settings, CPU pinning, the figures the method uses
  prepare    building conc_server, the files it serves, descriptor limit
  processes  starting and killing process groups; a running server
  servers    starting and stopping conc_server's models
  nginx      nginx's configuration, and starting it
  wrk        one bounded wrk run and its figures (report.lua)
  procfs     a process group's CPU time and memory, from /proc
  cpu        how busy each side's CPUs were; which one was the bottleneck
  sampler    peak memory and stalled connections (ss) during a run
  sweep      each model at each connection count
  ratio      epoll against nginx in alternating rounds; which figure to trust
  idle       idle keep-alive connections (with idle_conns.py)
  syscalls   system calls per request (strace -c)
  report     the CSV files and report.md
  chart      bench.png (gnuplot)
  formats    figures as the tables print them
"""

import sys

from benchlib.main import main

if __name__ == "__main__":
    sys.exit(main(sys.argv))
