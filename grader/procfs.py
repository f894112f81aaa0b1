"""What a running server holds, read from /proc (Linux).

Lab 06's tests look inside the server while it runs: its child processes
and whether any is a zombie, its threads, its open descriptors, and which
sockets each process holds. Every function takes a pid and returns plain
values; a process that has gone away reads as empty (no children, no
descriptors) rather than raising, because the tests ask "what is left?"
about processes that may exit at any moment.
"""

import os
import re

SOCKET_LINK = re.compile(r"^socket:\[(\d+)\]$")
TCP_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
TCP_LISTEN = "0A"          # the st column of /proc/net/tcp for LISTEN


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def memory_kib(pid, field):
    """A memory figure of a process from /proc/PID/status, in KiB: VmRSS
    (resident now) or VmHWM (the peak of VmRSS); None if there is none."""
    for line in (_read(f"/proc/{pid}/status") or "").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name, or None.
    The name is in parentheses and may itself hold spaces and ')'."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:
        return None
    return text.rsplit(")", 1)[1].split()


def state(pid):
    """The one-letter state of pid (R, S, D, Z, T...), or None if gone."""
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def parent(pid):
    """The parent pid of pid, or None if gone."""
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def children(pid):
    """The pids of pid's children, zombies included, in increasing order.

    /proc/PID/task/TID/children is exact and cheap, but only on kernels
    built with CONFIG_PROC_CHILDREN; elsewhere every process's parent is
    read from /proc/*/stat.
    """
    task_dir = f"/proc/{pid}/task"
    try:
        tids = os.listdir(task_dir)
    except OSError:
        return []
    found = set()
    for tid in tids:
        text = _read(f"{task_dir}/{tid}/children")
        if text is None:
            return _children_by_scan(pid)
        found.update(int(word) for word in text.split())
    return sorted(found)


def pids():
    """The pids of every process this one can see."""
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _children_by_scan(pid):
    return sorted(kid for kid in pids() if parent(kid) == pid)


def pids_of_user(uid):
    """The pids of the processes whose real user is uid."""
    owned = []
    for pid in pids():
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                owned.append(pid)
        except OSError:
            continue
    return owned


def zombies(pid):
    """The children of pid that have exited but were never reaped."""
    return [child for child in children(pid) if state(child) == "Z"]


def cpu_seconds(pid):
    """CPU time pid has used so far (user and system, all its threads),
    in seconds; None if gone. A process that waits uses next to none; one
    that spins in a loop uses as much as it is given."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    # After the name: state is field 3 of stat(5), utime 14 and stime 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def thread_count(pid):
    """How many threads pid has (1 for a single-threaded process), 0 if gone."""
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def fd_targets(pid):
    """{descriptor number: what it refers to} ('socket:[123]', a path,
    'pipe:[456]'...). Empty if pid is gone."""
    folder = f"/proc/{pid}/fd"
    try:
        names = os.listdir(folder)
    except OSError:
        return {}
    targets = {}
    for name in names:
        try:
            targets[int(name)] = os.readlink(f"{folder}/{name}")
        except OSError:
            pass  # closed while we looked
    return targets


def fd_count(pid):
    """How many descriptors pid has open (0 if gone)."""
    return len(fd_targets(pid))


def socket_inodes(pid):
    """The inode numbers of the sockets pid holds open."""
    inodes = set()
    for target in fd_targets(pid).values():
        match = SOCKET_LINK.match(target)
        if match:
            inodes.add(int(match.group(1)))
    return inodes


def listener_inodes(port):
    """The inodes of the TCP sockets listening on port (IPv4 and IPv6)."""
    inodes = set()
    for table in TCP_TABLES:
        text = _read(table)
        if text is None:
            continue
        for line in text.splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10 or fields[3] != TCP_LISTEN:
                continue
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port:
                inodes.add(int(fields[9]))
    return inodes


def describe_fds(pid, limit=12):
    """A few lines naming pid's descriptors, for a failure report."""
    targets = fd_targets(pid)
    lines = [f"fd {fd} -> {target}" for fd, target in sorted(targets.items())[:limit]]
    if len(targets) > limit:
        lines.append(f"... and {len(targets) - limit} more")
    return lines
