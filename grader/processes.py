"""Starting the programs under test, containing them, and cleaning up.

Every program runs in the grading sandbox (sandbox.py: its own user, a
read-only view of the system and only its own folders, the grader's
loopback-only network), in its own session (so its own process group),
with resource limits applied by prlimit(1) before it starts: CPU time,
memory, processes, open files, file size, no core dumps. Where cgroups
are writable it also runs in groups of its own that cap its tasks and
memory and let the grader kill every one of its descendants
(cgroups.py). Its stdout and stderr are drained by threads into bounded
buffers, so a program that prints without end costs memory of a fixed
size. At the end of a test the whole group is killed and reaped.
"""

import ctypes
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

from .i18n import mark, tr
from . import procfs, sandbox
from .failures import GradeFailure, TestTimeout

KEEP_HEAD = 64 * 1024    # bytes of output kept from the start
KEEP_TAIL = 64 * 1024    # bytes of output kept from the end
STDERR_TAIL_LINES = 12   # lines of stderr shown in a failure report
# valgrind's exit status when it found errors or definite leaks, instead
# of the program's own: unlike valgrind's log, which the program's client
# requests can write into, the program cannot change it.
VALGRIND_ERROR_EXIT = 97

# Stop at the first error, with a stack trace, and check leaks at exit.
SANITIZER_ENV = dict(
    ASAN_OPTIONS="abort_on_error=1:halt_on_error=1:detect_leaks=1:symbolize=1",
    UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1",
    TSAN_OPTIONS="halt_on_error=1:abort_on_error=1:second_deadlock_stack=1",
)
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer", "FATAL: ThreadSanitizer")

SIGNAL_MEANINGS = {
    signal.SIGSEGV: mark("segmentation fault: an access to memory the program does not own"),
    signal.SIGABRT: mark("abort: a failed assert(), a double free caught by malloc, or a sanitizer report"),
    signal.SIGBUS: mark("bus error: a misaligned or unmapped memory access"),
    signal.SIGFPE: mark("arithmetic error, such as an integer division by zero"),
    signal.SIGILL: mark("illegal instruction"),
    signal.SIGPIPE: mark("broken pipe: a send to a closed connection; use MSG_NOSIGNAL or ignore SIGPIPE"),
    signal.SIGXCPU: mark("CPU time limit exceeded: a busy loop?"),
    signal.SIGXFSZ: mark("file size limit exceeded: the program wrote too much output"),
    signal.SIGKILL: mark("killed"),
    signal.SIGTERM: mark("terminated"),
    signal.SIGINT: mark("interrupted"),
}


PR_SET_CHILD_SUBREAPER = 36   # from <linux/prctl.h>
PR_SET_DUMPABLE = 4
PID_WAIT = 5.0                # seconds bubblewrap may take to fork the program
SIGNAL_EXIT_BASE = 128        # how a shell (and bubblewrap) reports death by signal
LAST_SIGNAL = 64


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
    kids = procfs.children(os.getpid())
    if not with_state:
        return kids
    states = [(pid, procfs.state(pid)) for pid in kids]
    return [(pid, state) for pid, state in states if state is not None]


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


def _pgid(pid):
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


def make_undumpable():
    """Makes this process's memory and descriptors off limits to processes
    of the same user (ptrace, /proc/PID/mem, /proc/PID/fd): where the
    programs run as the grader's own user, they still cannot reach in."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def containment_summary():
    """One line for the report header: what runs the programs, and how."""
    return sandbox.current().summary()


def describe_signal(signo):
    """'SIGSEGV (segmentation fault: ...)' for a signal number."""
    try:
        name = signal.Signals(signo).name
    except ValueError:
        name = tr("signal {number}", number=signo)
    meaning = SIGNAL_MEANINGS.get(signo)
    return f"{name} ({tr(meaning)})" if meaning else name


def describe_status(returncode):
    """Words for a Popen return code: 'exited with status 2' or a signal."""
    if returncode is None:
        return tr("is still running")
    if returncode < 0:
        return tr("was killed by {signal}", signal=describe_signal(-returncode))
    return tr("exited with status {code}", code=returncode)


@dataclass
class Limits:
    """Resource limits for one program (see setrlimit(2)).

    processes caps RLIMIT_NPROC (which counts every process and thread of
    the user, and does not bind root) and, where there is one, the
    program's pids cgroup (which counts the program's own tasks, threads
    included, whoever runs it). A server that forks or starts a thread per
    client needs room for as many clients as a test opens at once.
    memory_bytes caps each process's address space (RLIMIT_AS, lifted
    under valgrind and the sanitizers) and, where there is a memory
    cgroup, the memory of all the program's processes together.
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

    def wait_until(self, found, deadline):
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
    """One program under test, started in the sandbox, in its own process
    group.

    binds is what the program may see of the files of this machine besides
    the system: [(path, "ro"|"rw"|"hide")], see sandbox.Sandbox.wrap.
    """

    def __init__(self, name, argv, workdir, limits=None, stdin=None, stdout_path=None,
                 valgrind=False, sanitized=False, binds=(), tool=False, faults=None,
                 shim=None):
        self.name = name
        self.argv = list(argv)
        self.workdir = workdir
        self.limits = limits or Limits()
        self.valgrind = valgrind
        self.sanitized = sanitized
        self.binds = list(binds)
        # A tool of the machine (curl, a browser) run against the program:
        # browsers reserve address space far beyond RLIMIT_AS's cap.
        self.tool = tool
        # Faults to inject (faults.Faults) with the shim at that path.
        self.faults = faults
        self.shim = shim
        self.fault_log = None         # an OutputCollector of the shim's log
        self._fault_pipe = None
        self.stdin = stdin
        self.stdout_path = stdout_path
        self.popen = None
        self.stdout = None
        self.stderr = None
        self.valgrind_log = None      # an OutputCollector of valgrind's report
        self._valgrind_pipe = None
        self.killed_by_grader = False
        self.sandbox_failed = None    # why the sandbox could not run it, if it could not
        self._status = None           # sandbox.ProgramStatus, under bubblewrap
        self._pid = None
        self._groups = None           # the ProgramGroups its group came from
        self.cgroup = None            # its cgroups.Group, while it exists
        self.escaped = []             # its processes outside its process group when killed
        self.out_of_memory = False    # the kernel killed one of them at the memory cap

    def start(self):
        box = sandbox.current()
        # pass_fds: the program's ends, closed here once it has them;
        # read_ends: ours, closed here only if the start fails.
        pass_fds, read_ends = [], []
        try:
            fault_read, status_read = self._spawn(box, pass_fds, read_ends)
        except BaseException:
            for fd in read_ends:
                os.close(fd)
            raise
        finally:
            for fd in pass_fds:
                os.close(fd)
        if fault_read is not None:
            self._fault_pipe = os.fdopen(fault_read, "rb")
            self.fault_log = OutputCollector(self._fault_pipe, f"{self.name}-faults")
            self.fault_log.start()
        if self.valgrind:
            self._valgrind_pipe = os.fdopen(read_ends[0], "rb")
            self.valgrind_log = OutputCollector(self._valgrind_pipe, f"{self.name}-valgrind")
            self.valgrind_log.start()
        if status_read is not None:
            self._status = sandbox.ProgramStatus(status_read)
            self._status.start()
        if self.stdout_path is None:
            self.stdout = OutputCollector(self.popen.stdout, f"{self.name}-stdout")
            self.stdout.start()
        self.stderr = OutputCollector(self.popen.stderr, f"{self.name}-stderr")
        self.stderr.start()
        return self

    def _spawn(self, box, pass_fds, read_ends):
        """Makes the pipes (adding each end to pass_fds or read_ends as it
        is made), the cgroup and the process. Returns (fault_read,
        status_read), each None when not used; with valgrind, read_ends[0]
        is valgrind's log."""
        argv = list(self.argv)
        if self.valgrind:
            read_end, write_end = os.pipe()
            read_ends.append(read_end)
            pass_fds.append(write_end)
            # A pipe, not a file: the program cannot rewrite its own report.
            argv = ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite",
                    "--show-leak-kinds=definite", f"--error-exitcode={VALGRIND_ERROR_EXIT}",
                    f"--log-fd={write_end}", *argv]
        status_read = status_write = None
        if box.bwrap:
            status_read, status_write = os.pipe()
            read_ends.append(status_read)
            pass_fds.append(status_write)
        env = dict(SANITIZER_ENV) if self.sanitized else {}
        binds = list(self.binds)
        fault_read = None
        if self.faults is not None:
            fault_read, fault_write = os.pipe()
            read_ends.append(fault_read)
            pass_fds.append(fault_write)
            env.update(self.faults.env(fault_write, self.shim))
            binds.append((self.shim, "ro"))
        wrapped, wrap_fds = box.wrap(argv, binds, self.workdir, env=env, status_fd=status_write)
        pass_fds += wrap_fds
        full = self.limits.prlimit_argv(self.valgrind or self.sanitized or self.tool) + wrapped
        self._groups = box.groups
        if self._groups is not None:
            self.cgroup = self._groups.new_group(self.limits.processes, self.limits.memory_bytes)
            if self.cgroup is None:
                raise GradeFailure("grader error", tr("could not make the cgroups for {name}",
                                                      name=self.name))
            full = self.cgroup.wrap(full)
        stdout = subprocess.PIPE
        if self.stdout_path is not None:
            stdout = open(self.stdout_path, "wb")
        try:
            self.popen = subprocess.Popen(
                full, stdin=self.stdin if self.stdin is not None else subprocess.DEVNULL,
                stdout=stdout, stderr=subprocess.PIPE, start_new_session=True,
                cwd=self.workdir, close_fds=True, pass_fds=pass_fds)
        except OSError as exc:
            self._remove_cgroup()
            raise GradeFailure("grader error", tr("could not start {name}: {exc}",
                                                  name=self.name, exc=exc)) from exc
        finally:
            if self.stdout_path is not None:
                stdout.close()
        return fault_read, status_read

    @property
    def pid(self):
        """The program's own pid (under bubblewrap, not bubblewrap's)."""
        if self._pid is None:
            if self._status is None:
                self._pid = self.popen.pid
            else:
                self._pid = self._status.wait_for_pid(PID_WAIT)
        return self._pid

    def _translate(self, raw):
        """The program's exit status as Popen would give it were the program
        our own child: bubblewrap exits with 128+N when its command was
        killed by signal N, as a shell does. Records a sandbox that failed
        before the program ran (bubblewrap writes no exit code then)."""
        if raw is None or self._status is None or raw < 0:
            return raw
        self._status.finished.wait(PID_WAIT)
        code = self._status.exit_code
        if code is None:
            if self.sandbox_failed is None:
                self.stderr.join(timeout=2)
                words = (self.stderr_tail(3) or [f"exit status {raw}"])[-1]
                self.sandbox_failed = f"the sandbox could not start {self.name}: {words}"
            return raw
        if SIGNAL_EXIT_BASE < code <= SIGNAL_EXIT_BASE + LAST_SIGNAL:
            return -(code - SIGNAL_EXIT_BASE)
        return code

    @property
    def returncode(self):
        return self._translate(self.popen.returncode) if self.popen else None

    def poll(self):
        return self._translate(self.popen.poll())

    def alive(self):
        return self.popen.poll() is None

    def wait(self, timeout):
        """Returns the exit code, or None if still running after timeout."""
        try:
            return self._translate(self.popen.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            return None

    def signal_group(self, signo):
        pid = self.pid
        if pid is None:
            return
        try:
            os.killpg(pid, signo)
        except (ProcessLookupError, PermissionError):
            pass

    def kill(self):
        """Kills the whole process group and reaps the main process; with
        cgroups, kills every descendant and removes the group."""
        if self.popen is None:
            return
        if self.alive():
            self.killed_by_grader = True
        if self.cgroup is not None:
            leader = self.pid
            self.escaped = [pid for pid in self.cgroup.pids()
                            if pid != self.popen.pid and _pgid(pid) not in (leader, self.popen.pid)]
        self.signal_group(signal.SIGKILL)
        if self.cgroup is not None:
            self.cgroup.kill_all()
        if self.popen.poll() is None:
            self.popen.kill()    # bubblewrap, and with it (--die-with-parent) the program
        self.popen.wait()
        for collector in (self.stdout, self.stderr, self.valgrind_log, self.fault_log):
            if collector is not None:
                collector.join(timeout=2)
        for pipe in (self.popen.stdout, self.popen.stderr, self._valgrind_pipe, self._fault_pipe):
            if pipe is not None:
                pipe.close()
        self._remove_cgroup()

    def _remove_cgroup(self):
        if self.cgroup is not None:
            self.out_of_memory = self.out_of_memory or self.cgroup.oom_kills() > 0
            self._groups.discard(self.cgroup)
            self.cgroup = None

    def crashed(self):
        """The signal that killed it on its own (not by the grader), or None."""
        code = self.poll() if self.popen else None
        if code is not None and code < 0 and not self.killed_by_grader:
            return -code
        return None

    def fault_text(self):
        """What the fault-injection shim logged (faults, children reaped)."""
        if self.fault_log is None:
            return ""
        return self.fault_log.head().decode("utf-8", "replace")

    def valgrind_report(self):
        """What valgrind wrote, once the program has ended ('' if nothing)."""
        if self.valgrind_log is None:
            return ""
        log = self.valgrind_log
        log.join(timeout=5)
        text = log.head() if log.total <= KEEP_HEAD else log.head() + b"\n...\n" + log.tail()
        return text.decode("utf-8", "replace")

    def stderr_tail(self, lines=STDERR_TAIL_LINES):
        if self.stderr is None:
            return []
        text = self.stderr.tail().decode("utf-8", "replace")
        # Split at \n only: a \r or a form feed in a line stays in it, shown
        # escaped, instead of cutting the line in two.
        return text.rstrip("\n").split("\n")[-lines:] if text else []

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

        match = self.stdout.wait_until(found, time.monotonic() + timeout)
        if match:
            return match
        code = self.wait(0.2)
        if code is not None:
            # It has exited: let the collectors drain what it wrote last.
            self.stderr.join(timeout=2)
            self.stdout.join(timeout=2)
        got = self.stdout.head()[:200]
        seen = tr("; its stdout so far: {got!r}", got=got) if got else \
            tr("; it printed nothing on stdout")
        if code is not None:
            raise GradeFailure("did not start",
                               tr("{name} {describe_status} before printing {what}{seen}",
                                  name=self.name, describe_status=describe_status(code),
                                  what=what, seen=seen))
        raise TestTimeout(tr("{name} did not print {what} within {timeout:g} s{seen}. Print "
                             "it once listening, and fflush(stdout): a pipe is not flushed at "
                             "each newline",
                             name=self.name, what=what, timeout=timeout, seen=seen))
