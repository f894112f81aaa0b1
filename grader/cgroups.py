"""Control groups for what a submission runs: its build and its programs.

Each program (and each build) gets a group of its own in every hierarchy
the grader can write, created under `grader-PID` inside the grader's own
cgroup:

- pids: a cap on its tasks, threads included. RLIMIT_NPROC does not bind
  root (the kernel skips the check for CAP_SYS_RESOURCE and
  CAP_SYS_ADMIN), and it counts all of a user's processes; a pids cgroup
  counts the program's own, whoever runs it.
- memory: a cap on the memory of all its processes together (RLIMIT_AS
  caps each process alone, and is lifted under valgrind and the
  sanitizers, which reserve huge address ranges they never touch),
  socket buffers included.
- cpu: its processes share one group's weight, so however many it forks,
  they cannot starve the grader.

The program joins its groups before it execs (a /bin/sh step ahead of
everything else), so student code never runs outside them; a program
without privileges cannot leave them. At the end the grader kills every
member (cgroup.kill, or kill(2) on each with the task cap at 0) and
removes the groups.

cgroup v2 is used where its controllers can be enabled under the grader's
cgroup; v1 hierarchies otherwise, each controller on its own. pids is a
threaded controller in v2 and can be enabled in a cgroup that holds
processes; memory and cpu cannot (the "no internal processes" rule), so
on a v2 system without a delegated cgroup only pids may be available:
the report's header says which controllers hold.
"""

import atexit
import os
import signal
import subprocess
import threading
import time

SWITCH = "GRADER_CGROUP"         # set to 0: no cgroups, rlimits only
GROUP_PREFIX = "grader-"         # the grader's own group: grader-<its slot>
CONTROLLERS = ("pids", "memory", "cpu")
EMPTY_WAIT = 3.0                 # seconds a cleanup waits for a group to empty
POLL = 0.005                     # seconds between two looks at a group
# Run by /bin/sh in the new process before it execs the rest: write its
# pid into each cgroup.procs given before "--", then become the program.
JOIN = 'while [ "$1" != -- ]; do echo $$ >"$1" || exit 125; shift; done; shift; exec "$@"'


def read_text(path):
    """A cgroup file's text, or None when it cannot be read."""
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def write_text(path, text):
    """Writes text to a cgroup file; True if the kernel took it."""
    try:
        with open(path, "w") as f:
            f.write(text)
        return True
    except OSError:
        return False


def _rmdir_quietly(path):
    try:
        os.rmdir(path)
    except OSError:
        pass


class Hierarchy:
    """One place where groups are made: the grader's own cgroup in a
    cgroup v2 tree (several controllers) or in one v1 hierarchy."""

    def __init__(self, version, own_dir, controllers):
        self.version = version
        self.own_dir = own_dir
        self.controllers = controllers
        self.parent = None

    def open(self, name, stale_lock):
        """Creates the grader's group, own_dir/name, after removing the
        groups of graders that were killed (stale_lock(name) holds such a
        grader's slot while its group goes), and whatever a killed grader
        of this same slot left in it; True if it is usable."""
        _remove_stale_groups(self.own_dir, stale_lock)
        self.parent = os.path.join(self.own_dir, name)
        try:
            os.makedirs(self.parent, exist_ok=True)
        except OSError:
            return False
        _empty(self.parent)
        if self.version == 2:
            enabled = " ".join(f"+{c}" for c in self.controllers)
            if not write_text(os.path.join(self.parent, "cgroup.subtree_control"), enabled):
                _rmdir_quietly(self.parent)
                return False
        return True


class Group:
    """One program's (or one build's) groups, one per hierarchy."""

    def __init__(self, dirs):
        self.dirs = dirs    # [(Hierarchy, path)]

    def wrap(self, argv):
        """argv, run so that the process joins every group before exec."""
        procs = [os.path.join(path, "cgroup.procs") for _, path in self.dirs]
        return ["/bin/sh", "-c", JOIN, "sh", *procs, "--", *argv]

    def _file(self, controller, name):
        """The path of a control file of controller's hierarchy, or None
        when that hierarchy has no such file (v1 and v2 name them apart)."""
        for hierarchy, path in self.dirs:
            if controller in hierarchy.controllers and os.path.exists(os.path.join(path, name)):
                return os.path.join(path, name)
        return None

    def pids(self):
        """The pids of every member, read from the first hierarchy."""
        text = read_text(os.path.join(self.dirs[0][1], "cgroup.procs"))
        return [int(pid) for pid in text.split()] if text else []

    def tasks(self):
        """How many tasks the group holds now (pids.current), or None."""
        path = self._file("pids", "pids.current")
        text = read_text(path) if path else None
        return int(text) if text else None

    def oom_kills(self):
        """How many of its processes the kernel killed for exceeding the
        group's memory cap (0 when unknown)."""
        for name in ("memory.events", "memory.oom_control"):
            path = self._file("memory", name)
            text = read_text(path) if path else None
            for line in (text or "").splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        return 0

    def kill_all(self):
        """SIGKILLs every member; True once the group is empty.

        A task cap of 0 first, so that no member can fork while the others
        are being killed; then cgroup.kill where the kernel has it (v2,
        Linux 5.14), else kill(2) for each listed pid until none is left.
        """
        cap = self._file("pids", "pids.max")
        if cap:
            write_text(cap, "0")
        for hierarchy, path in self.dirs:
            if hierarchy.version == 2:
                write_text(os.path.join(path, "cgroup.kill"), "1")
        deadline = time.monotonic() + EMPTY_WAIT
        while True:
            pids = self.pids()
            if not pids:
                return True
            if time.monotonic() > deadline:
                return False
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(POLL)

    def remove(self):
        """Kills what is left and removes the directories; True if gone.
        (Zombies waiting to be reaped are no longer members: rmdir works.)"""
        self.kill_all()
        gone = True
        for _, path in self.dirs:
            deadline = time.monotonic() + EMPTY_WAIT
            while True:
                try:
                    os.rmdir(path)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        gone = False
                        break
                    time.sleep(POLL)
        return gone


class ProgramGroups:
    """The grader's cgroups, and a group in them for every program it
    starts. The grader's own process never moves: only programs join."""

    def __init__(self, hierarchies):
        self.hierarchies = hierarchies
        self._lock = threading.Lock()
        self._count = 0
        self._live = set()

    @property
    def controllers(self):
        return [c for c in CONTROLLERS if any(c in h.controllers for h in self.hierarchies)]

    def new_group(self, max_tasks, memory_bytes=None):
        """A new group capped at max_tasks tasks (threads count) and, where
        the memory controller is available, memory_bytes; None on failure."""
        with self._lock:
            self._count += 1
            name = f"prog-{self._count}"
        dirs = []
        for hierarchy in self.hierarchies:
            path = os.path.join(hierarchy.parent, name)
            try:
                os.mkdir(path)
            except OSError:
                Group(dirs).remove()
                return None
            dirs.append((hierarchy, path))
        group = Group(dirs)
        if not self._configure(group, max_tasks, memory_bytes):
            group.remove()
            return None
        with self._lock:
            self._live.add(group)
        return group

    @staticmethod
    def _configure(group, max_tasks, memory_bytes):
        cap = group._file("pids", "pids.max")
        if cap and not write_text(cap, str(max_tasks)):
            return False
        if memory_bytes is None:
            return True
        limit = group._file("memory", "memory.max") or group._file("memory",
                                                                  "memory.limit_in_bytes")
        if limit and not write_text(limit, str(memory_bytes)):
            return False
        # No swap beyond the cap (v1's file exists only with swap accounting).
        for name, value in (("memory.swap.max", "0"),
                            ("memory.memsw.limit_in_bytes", str(memory_bytes))):
            path = group._file("memory", name)
            if path:
                write_text(path, value)
        # v2 charges socket buffers to memory.max; v1 only once a TCP limit
        # is set. Uncharged, a program's loopback sockets could queue
        # gigabytes of the machine's memory, and fill the kernel's tcp_mem
        # for every other grader. (Best effort, like the swap cap: a
        # kernel that refuses it should not cost the groups altogether.)
        tcp = group._file("memory", "memory.kmem.tcp.limit_in_bytes")
        if tcp:
            write_text(tcp, str(memory_bytes))
        return True

    def discard(self, group):
        """Kills the group's processes and removes it; True if it is gone."""
        gone = group.remove()
        with self._lock:
            self._live.discard(group)
        return gone

    def close(self):
        """Removes every group left, then the grader's own (at exit)."""
        with self._lock:
            left = list(self._live)
        for group in left:
            self.discard(group)
        for hierarchy in self.hierarchies:
            _rmdir_quietly(hierarchy.parent)

    def works(self):
        """Moves a throwaway process into a group, once: proof that the
        programs will be able to join theirs."""
        group = self.new_group(1)
        if group is None:
            return False
        try:
            done = subprocess.run(group.wrap(["true"]), stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL, timeout=5)
            return done.returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False
        finally:
            self.discard(group)

    def describe(self):
        versions = sorted({h.version for h in self.hierarchies})
        shown = "/".join(f"v{v}" for v in versions)
        return f"cgroups ({shown}): {', '.join(self.controllers)}"


def _remove_stale_groups(own_dir, stale_lock):
    """A grader killed with SIGKILL cannot remove its group. Those of
    graders no longer running go here, with whatever they still hold;
    stale_lock(name) is a context manager that is true, with the dead
    grader's slot held (so that no new grader takes it meanwhile), when
    the group named name is such a group."""
    try:
        names = os.listdir(own_dir)
    except OSError:
        return
    for name in names:
        if not name.startswith(GROUP_PREFIX):
            continue
        with stale_lock(name) as stale:
            if stale:
                _empty(os.path.join(own_dir, name))
                _rmdir_quietly(os.path.join(own_dir, name))


def _empty(parent):
    """Kills what every group under parent holds and removes the groups."""
    try:
        entries = [e for e in os.scandir(parent) if e.is_dir(follow_symlinks=False)]
    except OSError:
        return    # another grader removed it first
    for entry in entries:
        hierarchy = Hierarchy(2 if os.path.exists(os.path.join(entry.path, "cgroup.kill"))
                              else 1, os.path.dirname(parent), ["pids"])
        Group([(hierarchy, entry.path)]).remove()


def _proc_lines(path):
    text = read_text(path)
    return text.splitlines() if text else []


def _own_paths():
    """(own v2 path or None, {v1 controller: own path}) from /proc/self/cgroup."""
    own_v2, own_v1 = None, {}
    for line in _proc_lines("/proc/self/cgroup"):
        number, controllers, path = line.split(":", 2)
        if number == "0" and controllers == "":
            own_v2 = path
        else:
            for controller in controllers.split(","):
                own_v1[controller] = path
    return own_v2, own_v1


def _mounts():
    """[(fstype, mountpoint, root, superoptions)] of the cgroup mounts."""
    found = []
    for line in _proc_lines("/proc/self/mountinfo"):
        # id parent dev root mountpoint options [optional...] - type source superoptions
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3 or tail[0] not in ("cgroup", "cgroup2"):
            continue
        found.append((tail[0], fields[4].replace("\\040", " "), fields[3], tail[2].split(",")))
    return found


def _under_mount(mountpoint, root, path):
    """Where cgroup path is seen through a mount of the hierarchy's root;
    None when the mount does not show it."""
    if root == "/":
        rel = path.lstrip("/")
    elif path == root or path.startswith(root + "/"):
        rel = path[len(root):].lstrip("/")
    else:
        return None
    return os.path.join(mountpoint, rel) if rel else mountpoint


def _v2_hierarchy(own_dir):
    """The v2 hierarchy with every controller that can be enabled under
    own_dir, or None."""
    available = (read_text(os.path.join(own_dir, "cgroup.controllers")) or "").split()
    subtree = os.path.join(own_dir, "cgroup.subtree_control")
    enabled = read_text(subtree)
    if enabled is None:
        return None
    usable = []
    for controller in CONTROLLERS:
        if controller not in available:
            continue
        if controller in enabled.split() or write_text(subtree, f"+{controller}"):
            usable.append(controller)
    return Hierarchy(2, own_dir, usable) if "pids" in usable else None


def find_hierarchies(name, stale_lock):
    """Every hierarchy where this grader can make its group, name: v2
    first, then the v1 hierarchies of the controllers v2 does not provide."""
    own_v2, own_v1 = _own_paths()
    hierarchies, covered = [], set()
    mounts = _mounts()
    for fstype, mountpoint, root, _ in mounts:
        if fstype == "cgroup2" and own_v2 is not None:
            own_dir = _under_mount(mountpoint, root, own_v2)
            hierarchy = _v2_hierarchy(own_dir) if own_dir else None
            if hierarchy is not None and hierarchy.open(name, stale_lock):
                hierarchies.append(hierarchy)
                covered.update(hierarchy.controllers)
                break
    for fstype, mountpoint, root, options in mounts:
        if fstype != "cgroup":
            continue
        wanted = [c for c in CONTROLLERS if c in options and c not in covered and c in own_v1]
        if not wanted:
            continue
        own_dir = _under_mount(mountpoint, root, own_v1[wanted[0]])
        if own_dir is None:
            continue
        hierarchy = Hierarchy(1, own_dir, wanted)
        if hierarchy.open(name, stale_lock):
            hierarchies.append(hierarchy)
            covered.update(wanted)
    # The task cap is what contains a fork bomb: without pids, no groups.
    return hierarchies if "pids" in covered else []


def pids_home():
    """The folder, in the hierarchy that has the pids controller, where
    this process's graders make their groups (grader-slotN), or None. For
    looking, not for making: nothing is created."""
    own_v2, own_v1 = _own_paths()
    for fstype, mountpoint, root, options in _mounts():
        if fstype == "cgroup2" and own_v2 is not None:
            own_dir = _under_mount(mountpoint, root, own_v2)
            controllers = (read_text(os.path.join(own_dir or "", "cgroup.subtree_control"))
                           or "").split()
            if own_dir and "pids" in controllers:
                return own_dir
    for fstype, mountpoint, root, options in _mounts():
        if fstype == "cgroup" and "pids" in options and "pids" in own_v1:
            return _under_mount(mountpoint, root, own_v1["pids"])
    return None


def create(name, stale_lock):
    """The grader's ProgramGroups, named name in each hierarchy; None when
    no pids cgroup is writable here (or GRADER_CGROUP=0). stale_lock: see
    _remove_stale_groups."""
    if os.environ.get(SWITCH, "1") == "0":
        return None
    hierarchies = find_hierarchies(name, stale_lock)
    if not hierarchies:
        return None
    groups = ProgramGroups(hierarchies)
    if not groups.works():
        groups.close()
        return None
    atexit.register(groups.close)
    return groups
