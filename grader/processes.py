"""Starting the programs under test, containing them, and cleaning up.

Every program runs in its own session (so its own process group), with
resource limits applied by prlimit(1) before it starts: CPU time, memory,
processes, open files, file size, no core dumps. Its stdout and stderr are
drained by threads into bounded buffers, so a program that prints without
end costs memory of a fixed size. At the end of a test the whole group is
killed and reaped.
"""

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
)
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")

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


def child_pids():
    """Pids of this process's children, read from /proc."""
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
            pids.append(int(entry))
    return pids


def reap_strays(keep=()):
    """Kills and reaps every child process not in keep; returns their pids."""
    strays = [pid for pid in child_pids() if pid not in keep]
    for pid in strays:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in strays:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass
    return strays


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
    """Resource limits for one program (see setrlimit(2))."""

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

    @property
    def command_line(self):
        return " ".join(self.argv)

    def start(self):
        full = self.limits.prlimit_argv(self.valgrind_log is not None or self.sanitized)
        if self.valgrind_log is not None:
            full += ["valgrind", "--leak-check=full", "--errors-for-leak-kinds=definite",
                     "--show-leak-kinds=definite", f"--log-file={self.valgrind_log}"]
        full += self.argv
        stdout = subprocess.PIPE
        if self.stdout_path is not None:
            stdout = open(self.stdout_path, "wb")
        try:
            self.popen = subprocess.Popen(
                full, stdin=self.stdin if self.stdin is not None else subprocess.DEVNULL,
                stdout=stdout, stderr=subprocess.PIPE, start_new_session=True,
                cwd=self.workdir, close_fds=True, env=SANITIZER_ENV if self.sanitized else None)
        except OSError as exc:
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
        """Kills the whole process group and reaps the main process."""
        if self.popen is None:
            return
        if self.alive():
            self.killed_by_grader = True
        self.signal_group(signal.SIGKILL)
        self.popen.wait()
        for collector in (self.stdout, self.stderr):
            if collector is not None:
                collector.join(timeout=2)
        for pipe in (self.popen.stdout, self.popen.stderr):
            if pipe is not None:
                pipe.close()

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
