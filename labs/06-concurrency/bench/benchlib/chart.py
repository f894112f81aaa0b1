"""bench.png, drawn by gnuplot."""

import os
import shutil
import subprocess

from .settings import SMALL_FILE, SMALL_SIZE, cpu_list


def chart(settings, rows, out):
    """bench.png: requests/s, server CPU time per request and p99 latency
    against the number of connections, one line per model. Returns a note
    on failure."""
    if not shutil.which("gnuplot"):
        return "gnuplot is not installed (make deps): no chart"
    names = [m for m in settings.models if any(r["model"] == m and r.get("rps") is not None
                                             and r["file"] == SMALL_FILE for r in rows)]
    if not names:
        return "no results to chart"
    for column, name in (("rps", "rps.dat"), ("cpu_us_per_req", "cpu.dat"),
                         ("p99_ms", "p99.dat")):
        with open(out / name, "w") as f:
            # gnuplot takes each column's title from this line.
            f.write("conns " + " ".join("pool(-w%d)*" % settings.pool if m == "pool" else m
                                        for m in names) + "\n")
            for level in settings.levels:
                values = []
                for m in names:
                    hit = [r for r in rows if r["model"] == m and r["conns"] == level
                           and r["file"] == SMALL_FILE and r.get("rps") is not None]
                    values.append(str(hit[0][column]) if hit and hit[0][column] else "?")
                f.write("%d %s\n" % (level, " ".join(values)))
    terminal = "pngcairo size 1500,480 font 'sans,10'"
    if subprocess.run(["gnuplot", "-e", "set terminal pngcairo"], capture_output=True,
                      timeout=30).returncode != 0:
        terminal = "png size 1500,480"
    script = """\
set terminal {terminal}
set bmargin 4
set output '{out}/bench.png'
set datafile missing '?'
set key autotitle columnhead top right
set logscale x
set xtics ({xtics})
set xlabel 'concurrent connections (wrk -c)'
set grid
{footnote}
set multiplot layout 1,3 title 'conc\\_server and nginx, GET of a {size} B file over loopback, {cpus} CPUs ({pinning}), wrk {seconds} s per point'
set ylabel 'requests/s'
set yrange [0:*]
plot for [i=2:{last}] '{out}/rps.dat' using 1:i with linespoints lw 2 pt 7
set ylabel 'server CPU time per request (µs)'
plot for [i=2:{last}] '{out}/cpu.dat' using 1:i with linespoints lw 2 pt 7
set ylabel 'p99 latency (ms, log scale)'
set logscale y
set yrange [*:*]
plot for [i=2:{last}] '{out}/p99.dat' using 1:i with linespoints lw 2 pt 7
unset multiplot
""".format(terminal=terminal, out=out, xtics=", ".join(str(l) for l in settings.levels),
           size=SMALL_SIZE, cpus=os.cpu_count(), seconds=settings.seconds,
           pinning="server on CPU %s, wrk on CPU %s" % (cpu_list(settings.cpus.server),
                                                       cpu_list(settings.cpus.wrk))
           if settings.cpus.pinned() else "not pinned",
           last=len(names) + 1,
           footnote="set label 1 '* each worker holds one connection until it closes: past "
           "%d connections the others wait unserved, and wrk measures only the served ones' "
           "at screen 0.01, 0.02 font ',8'" % settings.pool if "pool" in names else "")
    (out / "bench.gp").write_text(script)
    run = subprocess.run(["gnuplot", str(out / "bench.gp")], capture_output=True, text=True,
                         timeout=60)
    if run.returncode != 0:
        return "gnuplot failed: " + run.stderr.strip()[-500:]
    return ""
