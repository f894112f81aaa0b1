"""How busy the CPUs were during a run, and which side was the bottleneck."""

BUSY_PERCENT = 90  # a side using this much of its CPUs is the bottleneck


def cpu_ticks():
    """{cpu number: (busy, total)} clock ticks since boot, from /proc/stat.
    Busy is all but idle and iowait; steal (time the hypervisor gave to
    another machine) counts as busy, since the CPU was not ours. So does
    softirq time: on loopback the receiving side of a packet runs in the
    sender's softirq, which the kernel charges to the sender's own CPU
    time too (tick-based accounting; with CONFIG_IRQ_TIME_ACCOUNTING it
    does not, and shows here as other work)."""
    ticks = {}
    with open("/proc/stat") as f:
        for line in f:
            name, *values = line.split()
            if not name.startswith("cpu") or name == "cpu":
                continue
            values = [int(v) for v in values[:8]]
            total = sum(values)
            ticks[int(name[3:])] = (total - values[3] - values[4], total)
    return ticks


def busy_percent(before, after, cpus):
    """How busy cpus were, in %, between two cpu_ticks() readings."""
    busy = sum(after[c][0] - before[c][0] for c in cpus if c in before and c in after)
    total = sum(after[c][1] - before[c][1] for c in cpus if c in before and c in after)
    return 100 * busy / total if total else None


def bottleneck(row, pinned):
    """Which side limited the run: "server" or "wrk" when it kept its CPU
    busy; "other work" when programs other than these two took 10 % or
    more of either's CPU; "neither" when the round trips did (few
    connections); "?" when the two shared CPUs and the split cannot
    tell."""
    if not pinned or None in (row["server_cpu_pct"], row["wrk_cpu_pct"]):
        return "?"
    if row["server_cpu_pct"] >= BUSY_PERCENT:
        return "server"
    if row["wrk_cpu_pct"] >= BUSY_PERCENT:
        return "wrk"
    if max(row["other_server_cpu_pct"] or 0, row["other_wrk_cpu_pct"] or 0) >= \
            100 - BUSY_PERCENT:
        return "other work"
    return "neither"


def cpu_shares(settings, server_cpu, wrk_cpu, wall, before, after):
    """The percentages of their CPUs that the server, wrk and the rest of
    the machine used during a run of wall seconds."""
    cpus = settings.cpus
    server = 100 * server_cpu / wall / len(cpus.server)
    wrk = 100 * wrk_cpu / wall / len(cpus.wrk) if wrk_cpu is not None else None
    shares = {"server_cpu_pct": round(server), "wrk_cpu_pct": fmt_round(wrk),
              "other_server_cpu_pct": None, "other_wrk_cpu_pct": None}
    if cpus.pinned():
        busy = busy_percent(before, after, cpus.server)
        shares["other_server_cpu_pct"] = fmt_round(busy - server if busy is not None else None)
        busy = busy_percent(before, after, cpus.wrk)
        shares["other_wrk_cpu_pct"] = fmt_round(busy - wrk if None not in (busy, wrk) else None)
    return shares


def fmt_round(value):
    return None if value is None else max(0, round(value))
