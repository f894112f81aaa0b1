"""A process group's CPU time and memory, and the machine's, read from /proc."""

import os

PAGE_KIB = os.sysconf("SC_PAGE_SIZE") // 1024


def group_stat_fields(pgid):
    """(pid, fields) for each process of process group pgid, zombies
    included; fields are those of /proc/PID/stat from the state (field 3
    of stat(5)) on."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        # The command name may hold spaces: the fields start after ')'.
        fields = stat[stat.rfind(")") + 2:].split()
        if int(fields[2]) == pgid:
            yield int(name), fields


def group_members(pgid):
    """[(pid, threads)] of the live processes in process group pgid."""
    return [(pid, int(fields[17])) for pid, fields in group_stat_fields(pgid)
            if fields[0] != "Z"]


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pgid):
    """CPU time (user + system) the process group has used: its live
    processes', and the children its leader has already waited for."""
    total = 0
    for pid, fields in group_stat_fields(pgid):
        # utime and stime are fields 14 and 15 of stat(5), cutime and
        # cstime 16 and 17; the list starts at field 3.
        total += int(fields[11]) + int(fields[12])
        if pid == pgid:
            total += int(fields[13]) + int(fields[14])
    return total / CLOCK_TICKS


def group_memory(pgid, pss=False):
    """Memory of a process group: {'rss_kib', 'pss_kib', 'procs', 'threads'}.
    RSS counts shared pages (libc, the program) once per process, so for
    a fork server the sum overstates; PSS shares them out, and is read
    only when asked for (it is slower)."""
    rss = pss_total = threads = 0
    members = group_members(pgid)
    for pid, count in members:
        try:
            with open("/proc/%d/statm" % pid) as f:
                rss += int(f.read().split()[1]) * PAGE_KIB
            if pss:
                with open("/proc/%d/smaps_rollup" % pid) as f:
                    for line in f:
                        if line.startswith("Pss:"):
                            pss_total += int(line.split()[1])
                            break
        except (OSError, IndexError, ValueError):
            continue
        threads += count
    return {"rss_kib": rss, "pss_kib": pss_total if pss else None,
            "procs": len(members), "threads": threads}


def mem_available_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def task_count():
    """Threads on the machine, every process's counted: each one takes a
    pid, so this is what kernel.pid_max limits (/proc/loadavg, field 4)."""
    with open("/proc/loadavg") as f:
        return int(f.read().split()[3].split("/")[1])
