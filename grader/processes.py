"""Starting the programs under test, containing them, and cleaning up.

Every program runs in its own session (so its own process group), with
resource limits applied by prlimit(1) before it starts: CPU time, memory,
processes, open files, file size, no core dumps. Where a pids cgroup is
writable (as root, where RLIMIT_NPROC does not bind), it also runs in a
cgroup of its own that caps its tasks and lets the grader kill every one
of its descendants. Its stdout and stderr are drained by threads into
bounded buffers, so a program that prints without end costs memory of a
fixed size. At the end of a test the whole group is killed and reaped.
"""

import atexit
import ctypes
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

from .failures import GradeFailure, TestTimeout

KEEP_HEAD = 64 * 1024    # bytes of output kept from the start
KEEP_TAIL = 64 * 1024    # bytes of output kept from the end
STDERR_TAIL_LINES = 12   # lines of stderr shown in a failure report

# Stop at the first error, with a stack trace, and check leaks at exit.
SANITIZER_ENV = dict(
    os.environ,
    ASAN_OPTIONS="abort_on_error=1:halt_on_error=1:detect_leaks=1:symbolize=1",
    UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1",
    TSAN_OPTIONS="halt_on_error=1:abort_on_error=1:second_deadlock_stack=1",
)
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer", "FATAL: ThreadSanitizer")

SIGNAL_MEANINGS = {
    signal.SIGSEGV: "segmentation fault: an access to memory the program does not own",
    signal.SIGABRT: "abort: a failed assert(), a double free caught by malloc, or a sanitizer report",
    signal.SIGBUS: "bus error: a misaligned or unmapped memory access",
    signal.SIGFPE: "arithmetic error, such as an integer division by zero",
    signal.SIGILL: "illegal instruction",
    signal.SIGPIPE: "broken pipe: a send to a closed connection; use MSG_NOSIGNAL or ignore SIGPIPE",
    signal.SIGXCPU: "CPU time limit exceeded: a busy loop?",
    signal.SIGXFSZ: "file size limit exceeded: the program wrote too much output",
    signal.SIGKILL: "killed",
    signal.SIGTERM: "terminated",
    signal.SIGINT: "interrupted",
}


PR_SET_CHILD_SUBREAPER = 36   # from <linux/prctl.h>


def become_subreaper():
    """Makes orphans of the programs under test our children, not init's.

    A program that forks a child which calls setsid() escapes its process
    group, and so the group kill; as a subreaper, the grader still gets it
    as a child when its parent dies, and reap_strays() finds it.
    Returns True if the kernel accepted it.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def child_pids(with_state=False):
    """Pids of this process's children, read from /proc; with_state,
    (pid, state letter) pairs ('Z' for a zombie)."""
    me = os.getpid()
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == me:
            pids.append((int(entry), fields[0]) if with_state else int(entry))
    return pids


def reap_strays(keep=()):
    """Kills and reaps every child process not in keep; returns the pids
    of those that were still running (not the zombies: a program's
    children killed with it are handed to us, the subreaper, as such)."""
    children = [(pid, state) for pid, state in child_pids(with_state=True) if pid not in keep]
    for pid, _ in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid, _ in children:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    return [pid for pid, state in children if state != "Z"]


# -- a pids cgroup per program ----------------------------------------------
#
# RLIMIT_NPROC does not bind root (the kernel skips the check for
# CAP_SYS_RESOURCE and CAP_SYS_ADMIN), and CI runners and Gradescope grade
# as root: there a fork bomb would take every pid of the machine. A pids
# cgroup caps a program's tasks whoever runs it, and lists every
# descendant, whatever its process group or session, for the kill.

CGROUP_SWITCH = "GRADER_CGROUP"   # set to 0: contain by rlimits only
# Run by /bin/sh in the new process before it execs prlimit: join the
# group given as $0, then become the program. Student code never runs
# outside the group.
CGROUP_JOIN = 'echo $$ >"$0" || exit 125; exec "$@"'
CGROUP_EMPTY_WAIT = 3.0          # seconds a cleanup waits for a group to empty
CGROUP_POLL = 0.005              # seconds between two looks at a group


def _read(path):
    with open(path) as f:
        return f.read()


def _write(path, text):
    """Writes text to a cgroup file; True if the kernel took it."""
    try:
        with open(path, "w") as f:
            f.write(text)
        return True
    except OSError:
        return False


class PidsGroup:
    """One program's pids cgroup: a cap on its tasks, a kill that reaches
    every descendant, and a directory removed at the end."""

    def __init__(self, path, version):
        self.path = path
        self.version = version

    def wrap(self, argv):
        """argv, run so that the process joins this group before exec."""
        return ["/bin/sh", "-c", CGROUP_JOIN, os.path.join(self.path, "cgroup.procs"), *argv]

    def pids(self):
        try:
            return [int(pid) for pid in _read(os.path.join(self.path, "cgroup.procs")).split()]
        except OSError:
            return []

    def kill_all(self):
        """SIGKILLs every process in the group; True once it is empty.

        A cap of 0 first, so that no process can fork while the others
        are being killed; then cgroup.kill where the kernel has it (v2,
        Linux 5.14), else kill(2) for each listed pid until none is left.
        """
        _write(os.path.join(self.path, "pids.max"), "0")
        _write(os.path.join(self.path, "cgroup.kill"), "1")
        deadline = time.monotonic() + CGROUP_EMPTY_WAIT
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
            time.sleep(CGROUP_POLL)

    def remove(self):
        """Kills what is left and removes the directory; True if it is gone.
        (Zombies waiting to be reaped are no longer members: rmdir works.)"""
        self.kill_all()
        deadline = time.monotonic() + CGROUP_EMPTY_WAIT
        while True:
            try:
                os.rmdir(self.path)
                return True
            except FileNotFoundError:
                return True
            except OSError:
                if time.monotonic() > deadline:
                    return False
                time.sleep(CGROUP_POLL)


def _pgid(pid):
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def _proc_lines(path):
    try:
        return _read(path).splitlines()
    except OSError:
        return []


def _own_cgroup_dirs():
    """[(version, directory)] of this process's pids-capable cgroups: the
    cgroup v2 one, then the v1 pids one, as paths under their mounts."""
    own_v1 = own_v2 = None
    for line in _proc_lines("/proc/self/cgroup"):
        number, controllers, path = line.split(":", 2)
        if number == "0" and controllers == "":
            own_v2 = path
        elif "pids" in controllers.split(","):
            own_v1 = path
    found = []
    for line in _proc_lines("/proc/self/mountinfo"):
        # id parent dev root mountpoint options [optional...] - type source superoptions
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 3:
            continue
        root, mountpoint = fields[3], fields[4].replace("\\040", " ")
        if tail[0] == "cgroup2" and own_v2 is not None:
            found.append((2, _under_mount(mountpoint, root, own_v2)))
        elif tail[0] == "cgroup" and "pids" in tail[2].split(",") and own_v1 is not None:
            found.append((1, _under_mount(mountpoint, root, own_v1)))
    return sorted((entry for entry in found if entry[1]), reverse=True)


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


class PidsCgroups:
    """The grader's own cgroup (grader-PID, under the cgroup this process
    is in) and a group in it for every program it starts. The grader's
    process never moves: only the programs join groups."""

    def __init__(self, parent, version):
        self.parent = parent
        self.version = version
        self._lock = threading.Lock()
        self._count = 0
        self._live = set()

    @classmethod
    def create(cls, version, own_dir):
        """The grader's group under own_dir, or None if the kernel or the
        permissions do not allow it here."""
        if version == 2:
            controllers = os.path.join(own_dir, "cgroup.controllers")
            try:
                if "pids" not in _read(controllers).split():
                    return None
            except OSError:
                return None
            subtree = os.path.join(own_dir, "cgroup.subtree_control")
            try:
                enabled = "pids" in _read(subtree).split()
            except OSError:
                return None
            # pids is a threaded controller: it may be enabled even in a
            # cgroup that holds processes (here, the grader itself).
            if not enabled and not _write(subtree, "+pids"):
                return None
        _remove_groups_of_dead_graders(own_dir)
        parent = os.path.join(own_dir, f"grader-{os.getpid()}")
        try:
            os.makedirs(parent, exist_ok=True)
        except OSError:
            return None
        if version == 2 and not _write(os.path.join(parent, "cgroup.subtree_control"), "+pids"):
            _rmdir_quietly(parent)
            return None
        cgroups = cls(parent, version)
        if not cgroups._works():
            cgroups.close()
            return None
        return cgroups

    def _works(self):
        """Moves a throwaway process into a capped group, once: proof that
        the programs will be able to join theirs."""
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

    def new_group(self, max_tasks):
        """A new group capped at max_tasks tasks (threads count), or None."""
        with self._lock:
            self._count += 1
            path = os.path.join(self.parent, f"prog-{self._count}")
        try:
            os.mkdir(path)
        except OSError:
            return None
        group = PidsGroup(path, self.version)
        if not _write(os.path.join(path, "pids.max"), str(max_tasks)):
            group.remove()
            return None
        with self._lock:
            self._live.add(group)
        return group

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
        _rmdir_quietly(self.parent)

    def describe(self):
        return f"a pids cgroup per program (cgroup v{self.version})"


def _remove_groups_of_dead_graders(own_dir):
    """A grader killed with SIGKILL cannot remove its grader-PID group.
    Empty groups of graders no longer running go here; a group that
    still holds a process cannot be removed and stays."""
    try:
        names = os.listdir(own_dir)
    except OSError:
        return
    for name in names:
        pid = name.removeprefix("grader-")
        if name == pid or not pid.isdigit() or _process_exists(int(pid)):
            continue
        parent = os.path.join(own_dir, name)
        try:
            entries = list(os.scandir(parent))
        except OSError:
            continue    # another grader removed it first
        for entry in entries:
            if entry.is_dir(follow_symlinks=False):
                _rmdir_quietly(entry.path)
        _rmdir_quietly(parent)


def _process_exists(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _rmdir_quietly(path):
    try:
        os.rmdir(path)
    except OSError:
        pass


_cgroups_lock = threading.Lock()
_cgroups = []   # [PidsCgroups or None] once looked for: one per grader process


def pids_cgroups():
    """This process's PidsCgroups, set up on first use; None when no pids
    cgroup is writable here (or GRADER_CGROUP=0): then only the rlimits
    contain the programs."""
    with _cgroups_lock:
        if not _cgroups:
            _cgroups.append(_find_pids_cgroups())
        return _cgroups[0]


def _find_pids_cgroups():
    if os.environ.get(CGROUP_SWITCH, "1") == "0":
        return None
    for version, own_dir in _own_cgroup_dirs():
        cgroups = PidsCgroups.create(version, own_dir)
        if cgroups is not None:
            atexit.register(cgroups.close)
            return cgroups
    return None


def containment_summary():
    """One line for the report header: what caps the number of processes."""
    cgroups = pids_cgroups()
    if cgroups is not None:
        return f"process count capped by {cgroups.describe()}"
    if os.geteuid() == 0:
        return ("process count NOT capped: running as root (RLIMIT_NPROC does not bind root) "
                "and no pids cgroup is writable here")
    return "process count capped by RLIMIT_NPROC"


def describe_signal(signo):
    """'SIGSEGV (segmentation fault: ...)' for a signal number."""
    try:
        name = signal.Signals(signo).name
    except ValueError:
        name = f"signal {signo}"
    meaning = SIGNAL_MEANINGS.get(signo)
    return f"{name} ({meaning})" if meaning else name


def describe_status(returncode):
    """Words for a Popen return code: 'exited with status 2' or a signal."""
    if returncode is None:
        return "is still running"
    if returncode < 0:
        return f"was killed by {describe_signal(-returncode)}"
    return f"exited with status {returncode}"


@dataclass
class Limits:
    """Resource limits for one program (see setrlimit(2)).

    processes caps RLIMIT_NPROC (which counts every process and thread of
    the user, and does not bind root) and, where there is one, the
    program's pids cgroup (which counts the program's own tasks, threads
    included, whoever runs it). A server that forks or starts a thread per
    client needs room for as many clients as a test opens at once.
    """

    cpu_seconds: int = 10
    memory_bytes: int = 1 << 30
    processes: int = 64
    open_files: int = 256
    file_bytes: int = 256 << 20

    def prlimit_argv(self, under_valgrind=False):
        """prlimit's arguments; under valgrind or a sanitizer (which reserve
        huge address ranges), without the memory limit."""
        argv = ["prlimit",
                f"--cpu={self.cpu_seconds}:{self.cpu_seconds + 1}",
                f"--nproc={self.processes}",
                f"--nofile={self.open_files}",
                f"--fsize={self.file_bytes}",
                "--core=0"]
        if not under_valgrind:
            argv.append(f"--as={self.memory_bytes}")
        return argv + ["--"]


class OutputCollector(threading.Thread):
    """Drains one pipe into a bounded buffer and wakes up waiters."""

    def __init__(self, pipe, name):
        super().__init__(name=name, daemon=True)
        self._pipe = pipe
        self._cond = threading.Condition()
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0
        self.closed = False

    def run(self):
        fd = self._pipe.fileno()
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            with self._cond:
                if not chunk:
                    self.closed = True
                    self._cond.notify_all()
                    return
                self.total += len(chunk)
                room = KEEP_HEAD - len(self._head)
                if room > 0:
                    self._head += chunk[:room]
                self._tail = (self._tail + chunk)[-KEEP_TAIL:]
                self._cond.notify_all()

    def head(self):
        with self._cond:
            return bytes(self._head)

    def tail(self):
        with self._cond:
            return bytes(self._tail)

    def wait_until(self, found, deadline, process):
        """Waits until found(head_bytes) is true, the pipe closes, or deadline.

        Returns found's result, or None if the pipe closed or time ran out.
        """
        with self._cond:
            while True:
                result = found(bytes(self._head))
                if result or self.closed:
                    return result
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(min(left, 0.5))


class Process:
    """One program under test, started in its own process group."""

    def __init__(self, name, argv, workdir, limits=None, stdin=None,
                 stdout_path=None, valgrind_log=None, sanitized=False):
        self.name = name
        self.argv = list(argv)
        self.workdir = workdir
        self.limits = limits or Limits()
        self.valgrind_log = valgrind_log
        self.sanitized = sanitized
        self.stdin = stdin
        self.stdout_path = stdout_path
        self.popen = None
        self.stdout = None
        self.stderr = None
        self.killed_by_grader = False
        self.started_at = None
        self._cgroups = None      # the PidsCgroups its group came from
        self.cgroup = None        # its PidsGroup, while it exists
        self.escaped = []         # its processes outside its process group when killed

    @property
    def command_line(self):
        return " ".join(self.argv)

    def start(self):
        full = self.limits.prlimit_argv(self.valgrind_log is not None or self.sanitized)
        if self.valgrind_log is not None:
            full += ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite",
                     "--show-leak-kinds=definite", f"--log-file={self.valgrind_log}"]
        full += self.argv
        self._cgroups = pids_cgroups()
        if self._cgroups is not None:
            self.cgroup = self._cgroups.new_group(self.limits.processes)
        if self.cgroup is not None:
            full = self.cgroup.wrap(full)
        stdout = subprocess.PIPE
        if self.stdout_path is not None:
            stdout = open(self.stdout_path, "wb")
        try:
            self.popen = subprocess.Popen(
                full, stdin=self.stdin if self.stdin is not None else subprocess.DEVNULL,
                stdout=stdout, stderr=subprocess.PIPE, start_new_session=True,
                cwd=self.workdir, close_fds=True, env=SANITIZER_ENV if self.sanitized else None)
        except OSError as exc:
            self._remove_cgroup()
            raise GradeFailure("not built", f"could not start {self.name}: {exc}") from exc
        finally:
            if self.stdout_path is not None:
                stdout.close()
        self.started_at = time.monotonic()
        if self.stdout_path is None:
            self.stdout = OutputCollector(self.popen.stdout, f"{self.name}-stdout")
            self.stdout.start()
        self.stderr = OutputCollector(self.popen.stderr, f"{self.name}-stderr")
        self.stderr.start()
        return self

    @property
    def pid(self):
        return self.popen.pid

    def poll(self):
        return self.popen.poll()

    def alive(self):
        return self.popen.poll() is None

    def wait(self, timeout):
        """Returns the exit code, or None if still running after timeout."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def signal_group(self, signo):
        try:
            os.killpg(self.popen.pid, signo)
        except ProcessLookupError:
            pass

    def kill(self):
        """Kills the whole process group and reaps the main process; with
        a pids cgroup, kills every descendant and removes the group."""
        if self.popen is None:
            return
        if self.alive():
            self.killed_by_grader = True
        if self.cgroup is not None:
            self.escaped = [pid for pid in self.cgroup.pids() if _pgid(pid) != self.popen.pid]
        self.signal_group(signal.SIGKILL)
        if self.cgroup is not None:
            self.cgroup.kill_all()
        self.popen.wait()
        for collector in (self.stdout, self.stderr):
            if collector is not None:
                collector.join(timeout=2)
        for pipe in (self.popen.stdout, self.popen.stderr):
            if pipe is not None:
                pipe.close()
        self._remove_cgroup()

    def _remove_cgroup(self):
        if self.cgroup is not None:
            self._cgroups.discard(self.cgroup)
            self.cgroup = None

    def crashed(self):
        """The signal that killed it on its own (not by the grader), or None."""
        code = self.popen.poll() if self.popen else None
        if code is not None and code < 0 and not self.killed_by_grader:
            return -code
        return None

    def stderr_tail(self, lines=STDERR_TAIL_LINES):
        if self.stderr is None:
            return []
        text = self.stderr.tail().decode("utf-8", "replace")
        return text.splitlines()[-lines:]

    def sanitizer_report(self, max_lines=25):
        """The first sanitizer report in stderr, as lines, or []."""
        if self.stderr is None:
            return []
        lines = self.stderr.tail().decode("utf-8", "replace").splitlines()
        start = next((i for i, line in enumerate(lines)
                      if any(marker in line for marker in SANITIZER_MARKERS)), None)
        if start is None:
            return []
        return lines[start: start + max_lines]

    def wait_for_line(self, pattern, timeout, what):
        """Waits for a stdout line matching pattern; returns the match.

        Raises GradeFailure("did not start") if the program exits first,
        or a TestTimeout naming `what` when time runs out.
        """
        regex = re.compile(pattern.encode() if isinstance(pattern, str) else pattern, re.M)

        def found(head):
            return regex.search(head)

        match = self.stdout.wait_until(found, time.monotonic() + timeout, self)
        if match:
            return match
        code = self.wait(0.2)
        if code is not None:
            # It has exited: let the collectors drain what it wrote last.
            self.stderr.join(timeout=2)
            self.stdout.join(timeout=2)
        got = self.stdout.head()[:200]
        seen = f"; its stdout so far: {got!r}" if got else "; it printed nothing on stdout"
        if code is not None:
            raise GradeFailure("did not start",
                               f"{self.name} {describe_status(code)} before printing {what}{seen}")
        raise TestTimeout(f"{self.name} did not print {what} within {timeout:g} s{seen}. "
                          "Print it once listening, and fflush(stdout): a pipe is not flushed "
                          "at each newline")
