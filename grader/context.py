"""The toolbox each graded test receives as its `ctx` fixture.

A TestContext starts the lab's programs (as servers that announce
themselves, or as commands run to completion), opens connections to them,
keeps the transcript, and remembers enough to tell the student how to
reproduce a failure by hand. cleanup() kills and reaps everything the test
started, whatever happened.
"""

import dataclasses
import os
import platform
import random
import re
import shlex
import shutil
import signal
import socket
import time
from dataclasses import dataclass

import pytest

from .i18n import tr, tr_n
from . import boxfs, labs, objects, procfs, sandbox
from .failures import GradeFailure, PartialCredit, TestTimeout
from .faults import SHOWN_FAULTS
from .faults import shim as fault_shim
from .faults import summary as fault_summary
from .processes import (KEEP_HEAD, VALGRIND_ERROR_EXIT, Limits, Process, describe_signal,
                        describe_status, reap_strays)
from .sockets import Conn, DEFAULT_TIMEOUT
from .transcripts import Transcript

# "listening on 127.0.0.1:5000" or "listening on [::1]:5000". A line
# counts once its newline has come: the output is searched as it arrives,
# and "...:5" may be the start of "...:5000".
TCP_ANNOUNCE = rb"^listening on (\[[0-9A-Fa-f:.]+\]|[0-9.]+):([0-9]+)\r?\n"
# "listening on /tmp/x/lab03.sock" (Unix-domain servers)
UNIX_ANNOUNCE = rb"^listening on (/[^\r\n]*)\r?\n"
MAX_PORT = 65535
ANNOUNCE_TIMEOUT = 3.0
VALGRIND_SLOWDOWN = 6       # timeouts are multiplied by this under valgrind
EXAMPLE_PORT = 5000         # the port shown in "try it by hand" commands
REPRO_MAX_BYTES = 300       # longer exchanges are not turned into a printf
VALGRIND_COMMAND = "valgrind --leak-check=full"
TSAN_FOLDER = "tsan"        # where labs/build.mk's tsan target builds
# ThreadSanitizer (gcc 12, clang 14) expects the program in a fixed part
# of the address space; with more than 28 bits of mmap randomisation
# (vm.mmap_rnd_bits, 32 on recent kernels) it can die at start with
# "FATAL: ThreadSanitizer: unexpected memory mapping". Newer runtimes
# re-run themselves without randomisation; for these, setarch -R does.
TSAN_MAX_RND_BITS = 28
# A program killed at its timeout that spent this share of its time
# running or ready to run (procfs.busy_seconds) was spinning, not waiting.
BUSY_SHARE = 0.8
# How long wait_admitted() waits for a server to take a connection and
# read what was sent on it; a correct server needs a few milliseconds.
ADMIT_WAIT = 1.0
ADMIT_POLL = 0.002
ORDINALS = ("", "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
            "ninth", "tenth")


@dataclass
class Server:
    """A started server and the address it announced: host and port for
    TCP and UDP servers, path for Unix-domain ones."""

    process: Process
    host: str
    port: int
    announce_line: str
    path: str = None
    # True: connect() starts connections one at a time (wait_admitted).
    admit_in_turn: bool = False
    # Set once the server missed an admission: it is not waited for again.
    admission_missed: bool = False
    # Added when a connection it accepted was never read: the usual causes
    # in this lab.
    unread_hint: str = ""


@dataclass
class ToolResult:
    """A tool run to completion: returncode None when it timed out."""

    returncode: int
    stdout: bytes
    stderr: bytes


@dataclass
class RunResult:
    """A program run to completion (or killed at its timeout)."""

    process: Process
    returncode: int
    timed_out: bool
    stdout_path: str

    def stdout_bytes(self, limit=64 << 20):
        with open(self.stdout_path, "rb") as f:
            return f.read(limit)

    def stderr_text(self):
        return self.process.stderr.tail().decode("utf-8", "replace")


def shell_printf(data):
    """A printf command that writes exactly data (for "try it by hand")."""
    out = []
    for b in data:
        if b == 0x25:
            out.append("%%")
        elif b == 0x27:
            out.append("'\\''")
        elif b == 0x5C:
            out.append("\\\\")
        elif b == 0x0A:
            out.append("\\n")
        elif b == 0x0D:
            out.append("\\r")
        elif 0x20 <= b < 0x7F:
            out.append(chr(b))
        else:
            out.append(f"\\x{b:02x}")
    return "printf '" + "".join(out) + "'"


def why_silent(server, conn):
    """A sentence on how far the server (TCP or Unix-domain) got with
    conn, which it has not answered in time, as the kernel tells: never
    accepted, accepted but not read, or read and not answered. "" if the
    kernel cannot tell (the connection is gone)."""
    try:
        if server.path is not None:
            end = procfs.unix_connection_end(conn.sock)
        else:
            end = procfs.connection_end((server.host, server.port),
                                        conn.sock.getsockname()[:2])
    except OSError:
        return ""
    if end is None:
        return ""
    unread, inode = end
    if inode == 0:
        return tr(". The server never accept()ed this connection: it still waits in the "
                  "listen queue")
    if unread:
        return tr_n(". The server accept()ed this connection but never read the last "
                    "{count} byte sent on it", ". The server accept()ed this connection but "
                    "never read the last {count} bytes sent on it", unread) + (
                    f". {server.unread_hint}" if server.unread_hint else "")
    if conn.total_received == 0:
        return tr(". The server accept()ed this connection and read all that was sent on "
                  "it, but sent nothing back")
    return tr(". The server accept()ed this connection and read all that was sent on it, "
              "but sent no more than the above")


class TestContext:
    """Everything one test starts and records."""

    __test__ = False  # not a pytest test class

    def __init__(self, run, test_name, seed):
        self.run_info = run
        self.test_name = test_name
        self.seed = seed
        self.transcript = Transcript()
        self.processes = []
        self.conns = []
        self.peers = []
        self.notes = []           # extra lines for the failure report
        self.repro_lines = []     # commands to reproduce by hand
        self.valgrind_all = run.valgrind
        self.sanitize_all = getattr(run, "sanitize", False)
        self.used_seed = False     # set by rng(): the rerun command then pins SEED
        self.quiet = False         # True: the failure message says it all
        # (seconds, stall window): the pause nearest its window in a program
        # whose progress was watched; None if none was
        self.longest_pause = None
        self._custom_repro = False
        box = sandbox.current()
        # The programs' working folder, which they may write: create the
        # test's files in it before starting them (a program could have
        # put a symbolic link where a later file is written).
        self.tmpdir = box.make_work_dir(f"t-{test_name[:30]}-")
        # The grader's own files (stdin, captured stdout): never in view.
        self.private_dir = box.make_private_dir(f"g-{test_name[:30]}-")
        self._servers = []
        self._inspections = 0      # readers run by inspect(), for their files' names

    # -- helpers ---------------------------------------------------------

    def rng(self, salt=0):
        self.used_seed = True
        return random.Random(self.seed * 1000003 + salt)

    def scaled(self, seconds, valgrind=False):
        """A timeout, made longer when the program runs under valgrind."""
        return seconds * VALGRIND_SLOWDOWN if (valgrind or self.valgrind_all) else seconds

    def note(self, line):
        self.notes.append(line)

    def program_path(self, program, sanitized=False):
        folder = os.path.join(self.run_info.bin_dir, "asan") if sanitized else self.run_info.bin_dir
        path = os.path.join(folder, program)
        if not os.access(path, os.X_OK):
            raise GradeFailure("not built", tr("{program} was not built, so this test cannot run: fix the "
                                               "compiler errors shown at the top of the report",
                                               program=program))
        return path

    def tsan_program_path(self, program):
        """The ThreadSanitizer build of program (labs/build.mk, make tsan),
        built now, in the sandbox, unless up to date. Only the tests that
        need it pay for it."""
        self.program_path(program)  # "not built" if the plain build failed
        run = self.run_info
        done = labs.build(run.lab, run.src_dir, run.bin_dir, targets=["tsan"],
                          solution=run.solution)
        path = os.path.join(run.bin_dir, TSAN_FOLDER, program)
        if not done.ok or not os.access(path, os.X_OK):
            raise GradeFailure("not built", tr("{program} could not be built with ThreadSanitizer (make tsan)",
                                               program=program), done.output[-3000:])
        return path

    # -- files in the working folder (see boxfs.py) ------------------------------

    def _box_file(self, action, path, *args):
        try:
            return action(self.tmpdir, path, *args)
        except boxfs.UnsafePath as exc:
            raise GradeFailure("wrong output", tr("{exc}: only the program under test could have put that there, "
                                                  "and the test does not follow it",
                                                  exc=exc)) from exc

    def write_file(self, path, data):
        """Creates path (a file in the test's folder, folders made as needed),
        owned by the programs' user, as their own file would be."""
        self._box_file(boxfs.write_file, path, data, sandbox.current().box_owner())

    def read_file(self, path, limit=64 << 20):
        """The bytes of a regular file in the test's folder. A file that is
        not there is a program's missing output: a failure, not an error."""
        try:
            return self._box_file(boxfs.read_file, path, limit)
        except FileNotFoundError as exc:
            raise GradeFailure("wrong output", tr("there is no file {path}: the program did not write it",
                                                  path=path)) from exc

    def open_file(self, path):
        """A read-only descriptor of a regular file in the test's folder."""
        return self._box_file(boxfs.open_file, path)

    def make_dirs(self, path):
        self._box_file(boxfs.make_dirs, path, sandbox.current().box_owner())

    def symlink(self, target, path):
        self._box_file(boxfs.symlink, target, path, sandbox.current().box_owner())

    def unlink(self, path):
        self._box_file(boxfs.unlink, path)

    def lstat(self, path):
        """lstat of a path in the test's folder, or None if there is none."""
        return self._box_file(boxfs.lstat, path)

    def bind_unix(self, sock, path):
        """Binds a Unix-domain socket of the test at path, owned by the
        programs' user (as root, a socket file is only connectable by its
        owner when the umask keeps others out: the programs must reach it
        as they would their own). bind() never follows a link: a file a
        program put at path makes it fail."""
        sock.bind(path)
        sandbox.current().give_to_box(path, mode=None)

    def _fault_options(self, faults, instrumented):
        """Process arguments for faults (with the test's seed), or none."""
        if faults is None or instrumented:
            return {}
        if faults.seed is None:
            faults = dataclasses.replace(faults, seed=self.seed)
        self.used_seed = True
        return {"faults": faults, "shim": fault_shim(sandbox.current().shim_dir())}

    def fault_sections(self):
        """(heading, lines) per program that ran with faults injected."""
        sections = []
        for proc in self.processes:
            # rate 0: the shim only watched how processes ended
            if proc.faults is None or proc.faults.rate == 0:
                continue
            injected, _, _ = fault_summary(proc.fault_text())
            heading = tr("faults injected into {program}: {plan}", program=proc.name,
                         plan=proc.faults.describe())
            lines = injected[:SHOWN_FAULTS] or [tr("none happened to be due")]
            if len(injected) > SHOWN_FAULTS:
                lines.append(tr("... {count} in all", count=len(injected)))
            sections.append((heading, lines))
        return sections

    def view(self):
        """What a program of this test may see besides the system: its
        build (read-only, without the reference's when grading a
        student's code) and the test's working folder."""
        bin_dir = os.path.abspath(self.run_info.bin_dir)
        binds = [(bin_dir, "ro")]
        if not self.run_info.solution and os.path.isdir(os.path.join(bin_dir, "solution")):
            binds.append((os.path.join(bin_dir, "solution"), "hide"))
        return binds + [(self.tmpdir, "rw")]

    def display_path(self, program):
        """The program's path as you would type it from the top folder."""
        path = os.path.abspath(os.path.join(self.run_info.bin_dir, program))
        rel = os.path.relpath(path, self.run_info.root)
        return path if rel.startswith("..") else "./" + rel

    # -- servers ---------------------------------------------------------

    def start_server(self, program, args=(), valgrind=False, limits=None,
                     announce=TCP_ANNOUNCE, timeout=ANNOUNCE_TIMEOUT, sanitize=False,
                     tsan=False, faults=None, port="free"):
        """Starts a server and waits for its announce line. With valgrind,
        it runs under valgrind; with sanitize, from the ASan/UBSan build;
        with tsan, from the ThreadSanitizer build (made on first use), and
        then neither valgrind nor ASan applies. With faults (a
        faults.Faults), its socket calls meet short transfers and EINTR
        (the plain build only: the shim and ASan do not mix).

        A TCP or UDP server asked for `-p 0` is given a free port of the
        grader's own choosing instead (port="free"), and must announce that
        port: always letting the kernel choose would hide a port number
        stored in the wrong byte order. port="zero" keeps `-p 0`, for the
        tests of announcing the port the kernel chose.

        Raises GradeFailure("did not start") or TestTimeout when the line
        does not come.
        """
        valgrind = (valgrind or self.valgrind_all) and not tsan
        sanitize = (sanitize or self.sanitize_all) and not valgrind and not tsan
        args, requested = self._fixed_port(args, announce, port)
        if tsan:
            wrapper = tsan_wrapper()
            argv = [*wrapper, self.tsan_program_path(program), *args]
        else:
            wrapper = []
            argv = [self.program_path(program, sanitize), *args]
        proc = Process(program, argv, self.tmpdir, limits or Limits(), valgrind=valgrind,
                       sanitized=sanitize or tsan, binds=self.view(),
                       **self._fault_options(faults, valgrind or sanitize or tsan))
        self.processes.append(proc)
        shown = [str(EXAMPLE_PORT) if a in ("0", str(requested)) else a for a in args]
        prefix = [VALGRIND_COMMAND] if valgrind else wrapper
        folder = TSAN_FOLDER if tsan else "asan" if sanitize else ""
        shown_program = self.display_path(os.path.join(folder, program))
        self.repro_lines.append(" ".join([*prefix, shown_program,
                                          *map(shlex.quote, shown)]) + "    # terminal 1")
        proc.start()
        unix = announce == UNIX_ANNOUNCE
        what = "its 'listening on PATH' line" if unix else "its 'listening on ADDR:PORT' line"
        match = proc.wait_for_line(announce, self.scaled(timeout, valgrind), what)
        line = match.group(0).decode(errors="replace").rstrip("\r\n")
        self.transcript.add(program, "started", note=f"announced '{line}'")
        if unix:
            server = Server(proc, None, None, line, path=match.group(1).decode(errors="replace"))
        else:
            port = announced_port(program, match.group(2))
            server = Server(proc, match.group(1).decode().strip("[]"), port, line)
            check_requested_port(program, requested, server.port)
        self._servers.append(server)
        return server

    def _fixed_port(self, args, announce, port):
        """(args, the port asked for or None): `-p 0` becomes a free port."""
        args = list(args)
        if announce != TCP_ANNOUNCE or port != "free" or "-p" not in args:
            return args, None
        where = args.index("-p") + 1
        if where >= len(args) or args[where] != "0":
            return args, None
        chosen = free_port()
        args[where] = str(chosen)
        return args, chosen

    def require_ipv6(self):
        """Skips the test on a machine without an IPv6 loopback, as found
        before the grading began: never on what a program did since."""
        why = self.run_info.ipv6_missing
        if why:
            pytest.skip(tr("this machine has no IPv6 loopback (::1): {why}", why=why))

    def set_repro(self, lines):
        """Replaces the generated "try it by hand" commands."""
        self.repro_lines = list(lines)
        self._custom_repro = True

    def connect(self, server, timeout=DEFAULT_TIMEOUT):
        """Opens a stream connection to a TCP or Unix-domain server."""
        channel = f"conn {len(self.conns) + 1}"
        valgrind = server.process.valgrind
        if server.path is not None:
            conn = Conn.open_unix(server.path, channel, self.transcript,
                                  self.scaled(timeout, valgrind))
        else:
            conn = Conn.open(server.host, server.port, channel, self.transcript,
                             self.scaled(timeout, valgrind))
        self.conns.append(conn)
        conn.explain_silence = lambda: why_silent(server, conn)
        if server.admit_in_turn:
            self.wait_admitted(server, conn.sock)
        return conn

    def wait_admitted(self, server, sock):
        """Waits until server has taken sock's connection from its listen
        queue and read all that was sent on it so far, for at most
        ADMIT_WAIT s. True if it got there.

        Tests that start their connections one at a time this way leave
        nothing to the scheduler: two connections never wait in the queue
        together, and a new one never comes before the server has started
        on the last. A server that mishandles those moments (one accept()
        per edge-triggered event; one job struct shared by every thread)
        then fails the tests written to provoke them every time, and the
        others never. A server that does not get there in time is not
        waited for again: the test's own checks say what went wrong.
        """
        if server.admission_missed:
            return False
        client = sock.getsockname()[:2]
        deadline = time.monotonic() + self.scaled(ADMIT_WAIT, server.process.valgrind)
        while True:
            waiting, unread = procfs.connection_progress((server.host, server.port), client)
            if waiting == 0 and unread == 0:
                return True
            if time.monotonic() >= deadline:
                server.admission_missed = True
                return False
            time.sleep(ADMIT_POLL)

    def stop_server(self, server, signo=signal.SIGTERM, grace=3.0):
        """Asks a server to exit; returns its exit code (None if it would not).

        A server that checks a flag and then blocks in accept() can miss a
        signal that lands between the two; such a server exits on a second
        signal. That race is real but tiny, and a grade must not depend on
        it: the signal is sent again after a second, and a note says so.
        """
        sig_name = signal.Signals(signo).name
        code, resent = self._signal_twice(server.process, signo, grace)
        if resent:
            self.note(tr("{name} did not exit within a second of {sig_name}, so the test "
                         "sent {sig_name} again (see docs/01-tcp.md#exiting-on-a-signal)",
                         name=server.process.name, sig_name=sig_name))
        if code is None:
            server.process.kill()
            self.transcript.add(server.process.name, f"ignored {sig_name}", note="killed it")
        else:
            self.transcript.add(server.process.name, f"got {sig_name}, {describe_status(code)}")
            self._valgrind_verdict_first(server.process)
        return code

    def _valgrind_verdict_first(self, proc):
        """Under valgrind, an exit status of VALGRIND_ERROR_EXIT is
        valgrind's, not the program's: the valgrind failure is the story,
        not a wrong exit code."""
        if proc.valgrind and proc.returncode == VALGRIND_ERROR_EXIT:
            self.check_valgrind(proc)

    def _signal_twice(self, proc, signo, grace):
        """Sends signo to proc's group; if it still runs a second later,
        sends it again and waits up to grace seconds (both scaled under
        valgrind). Returns (exit code or None, whether it was sent twice).
        See stop_server() for why twice."""
        valgrind = proc.valgrind
        proc.signal_group(signo)
        code = proc.wait(self.scaled(1.0, valgrind))
        if code is not None:
            return code, False
        proc.signal_group(signo)
        return proc.wait(self.scaled(grace, valgrind)), True

    def expect_alive(self, server, doing):
        """Fails if the server has died (e.g. while a client misbehaved)."""
        code = server.process.wait(0.05)
        if code is not None:
            kind = "crash" if code < 0 else "wrong exit code"
            raise GradeFailure(kind, tr("{name} {describe_status} {doing}; a server must outlive any one "
                                        "client",
                                        name=server.process.name,
                                        describe_status=describe_status(code), doing=doing))

    # -- commands run to completion ---------------------------------------

    def run(self, program, args=(), stdin_data=None, stdin_path=None, timeout=10.0,
            valgrind=False, limits=None, progress=None, stall_after=3.0, sanitize=False,
            faults=None):
        """Runs a program to completion with stdin from bytes or a file.

        With progress (a function returning a number that grows while
        work gets done), a program that makes no progress for stall_after
        seconds is stopped early and reported as stalled.
        """
        valgrind = valgrind or self.valgrind_all
        index = len(self.processes)
        if stdin_data is not None:
            stdin_path = os.path.join(self.private_dir, f"stdin-{index}")
            with open(stdin_path, "wb") as f:
                f.write(stdin_data)
        stdout_path = os.path.join(self.private_dir, f"stdout-{index}")
        # Unit tests are not built with the sanitizers (cmocka's --wrap).
        sanitize = (sanitize or self.sanitize_all) and not valgrind and "/" not in program
        argv = [self.program_path(program, sanitize), *args]
        stdin = open(stdin_path, "rb") if stdin_path else None
        try:
            proc = Process(program, argv, self.tmpdir, limits or Limits(), stdin=stdin,
                           stdout_path=stdout_path, valgrind=valgrind, sanitized=sanitize,
                           binds=self.view(),
                           **self._fault_options(faults, valgrind or sanitize))
            self.processes.append(proc)
            proc.start()
            started = time.monotonic()
        finally:
            if stdin is not None:
                stdin.close()
        if not self._custom_repro:
            prefix = [VALGRIND_COMMAND] if valgrind else []
            shown_program = self.display_path(os.path.join("asan", program) if sanitize else program)
            self.repro_lines.append(" ".join([*prefix, shown_program, *map(shlex.quote, args)]))
        window = self.scaled(stall_after, valgrind)
        code, stalled, pause = self._wait_with_progress(
            proc, self.scaled(timeout, valgrind), progress, window)
        if progress is not None and (self.longest_pause is None or
                                     pause / window > self.longest_pause[0] / self.longest_pause[1]):
            self.longest_pause = (pause, window)
        timed_out = code is None
        if timed_out:
            busy = None if valgrind else self._busy_share(proc, started)
            proc.kill()
            code = proc.returncode
            why = (f"made no progress for {window:g} s" if stalled
                   else f"still running after {self.scaled(timeout, valgrind):g} s")
            self.transcript.add(program, "stopped by the test", note=f"{why}; killed")
            self.note(tr("{program} {why}, so the test killed it", program=program, why=why))
            if busy is not None and busy >= BUSY_SHARE:
                self.note(tr("{program} was running, or ready to run, {percent} per cent of "
                             "the time: it hardly ever waited for input, in a loop that never "
                             "blocks or in work far slower than needed. A common cause: taking "
                             "recv() returning 0 (the peer closed) for \"nothing yet\" and "
                             "calling it again",
                             program=program, percent=min(100, round(busy * 100))))
        else:
            proc.stderr.join(timeout=2)
            self.transcript.add(program, describe_status(code))
            self._valgrind_verdict_first(proc)
        return RunResult(proc, code, timed_out, stdout_path)

    @staticmethod
    def _busy_share(proc, started):
        """The share of its time a program still running spent running or
        ready to run (0 to 1, or more with several threads), whatever else
        the machine ran meanwhile; None if unknown."""
        used = procfs.busy_seconds(proc.pid)
        elapsed = time.monotonic() - started
        return used / elapsed if used is not None and elapsed > 0 else None

    def run_tool(self, argv, timeout, limits=None):
        """Runs a tool of this machine (curl, a browser) against the
        program under test, in the same sandbox as the programs: what the
        program sends it is not the grader's to trust either. Returns
        (exit code, stdout, stderr) as bytes; code None if it timed out."""
        index = len(self.processes)
        stdout_path = os.path.join(self.private_dir, f"tool-{index}")
        name = os.path.basename(argv[0])
        proc = Process(name, argv, self.tmpdir, limits or Limits(processes=512), tool=True,
                       stdout_path=stdout_path, binds=self.view())
        self.processes.append(proc)
        proc.start()
        code = proc.wait(timeout)
        if code is None:
            proc.kill()
        proc.stderr.join(timeout=2)
        with open(stdout_path, "rb") as f:
            out = f.read()
        err = proc.stderr.head() + (proc.stderr.tail() if proc.stderr.total > KEEP_HEAD else b"")
        return ToolResult(code, out, err)

    @staticmethod
    def _wait_with_progress(proc, timeout, progress, stall_after):
        """(exit code or None, stalled?, longest pause in s) after waiting
        for proc to finish. The longest pause tells how close a passing
        run came to the stall window (grader/bench/stress.sh reports it)."""
        if progress is None:
            return proc.wait(timeout), False, 0.0
        deadline = time.monotonic() + timeout
        last_value, last_change = progress(), time.monotonic()
        longest = 0.0
        while True:
            code = proc.wait(0.1)
            now = time.monotonic()
            if code is not None:
                return code, False, longest
            value = progress()
            if value != last_value:
                last_value, last_change = value, now
            longest = max(longest, now - last_change)
            if now - last_change >= stall_after:
                return None, True, longest
            if now >= deadline:
                return None, False, longest

    def run_unit_tests(self, binary, group):
        """Runs one group of a lab's cmocka unit tests; fails with its report.

        Only cmocka's own summary counts, for as many cases as the group
        has: a program that ends with status 0 before printing it has not
        passed anything."""
        self.quiet = True
        self.set_repro([f"{self.display_path(os.path.join('tests', binary))} {group}"])
        self.check_unit_objects(binary, group)
        result = self.run(os.path.join("tests", binary), [group], timeout=10)
        output = result.stdout_bytes().decode("utf-8", "replace") + result.stderr_text()
        if result.timed_out:
            raise TestTimeout(tr("the {group} unit tests did not finish in 10 s: an endless loop?",
                                 group=group))
        if result.returncode < 0:
            raise GradeFailure("crash", tr("the {group} unit tests crashed: {describe_status}",
                                           group=group,
                                           describe_status=describe_status(result.returncode)), _cmocka_failures(output))
        planned, counts = _cmocka_planned(output), _cmocka_counts(output)
        if planned is None or counts is None or counts[1] != planned or \
                _cmocka_case_lines(output) != counts:
            raise GradeFailure("unit test failed",
                               tr("the {group} unit tests ended without cmocka's summary of "
                                  "their cases (the program {describe_status}): the code under "
                                  "test must return to the test, never end the program",
                                  group=group,
                                  describe_status=describe_status(result.returncode)),
                               output[-2000:])
        passed, run = counts
        if result.returncode == 0 and passed == run:
            return
        if 0 < passed < run:
            raise PartialCredit(passed / run, "unit test failed",
                                tr("{group}: {passed} of {run} cases pass",
                                   group=group, passed=passed, run=run),
                                _cmocka_failures(output))
        raise GradeFailure("unit test failed", tr("the {group} unit tests failed", group=group),
                           _cmocka_failures(output))

    def check_unit_objects(self, binary, group):
        """Fails before a unit test runs if the objects of the code under
        test (built one by one, labs/build.mk) would run code of their own
        before or after the test, or take the place of what it relies on."""
        self.program_path(os.path.join("tests", binary))    # "not built" first
        folder = os.path.abspath(os.path.join(self.run_info.bin_dir, "tests", binary + ".objects"))
        sources = labs.read_make_vars(self.run_info.lab.dir / "lab.mk").get(f"{binary}_SRCS", "")
        paths = [os.path.join(folder, name[:-2] + ".o") for name in sources.split()]
        harness = os.path.join(folder, "harness.o")
        for path in [harness, *paths]:
            if not os.path.isfile(path):
                raise GradeFailure("not built", tr("{file} was not built, so the {group} unit tests "
                                                   "cannot run: fix the compiler errors shown at "
                                                   "the top of the report",
                                                   file=os.path.basename(path), group=group))
        found = objects.parse_readelf(self.inspect(["readelf", "-W", "-S", "-s", harness, *paths]))
        if harness not in found or any(path not in found for path in paths):
            raise GradeFailure("unit test failed", tr("the objects of the {group} unit tests could "
                                                      "not be read, so the tests were not run",
                                                      group=group))
        relied_on = objects.names_relied_on(found[harness])
        for path in paths:
            problem = objects.unit_test_problem(found[path], relied_on)
            if problem:
                raise GradeFailure("unit test failed",
                                   tr("the {group} unit tests were not run: {problem}",
                                      group=group, problem=problem))

    def inspect(self, argv, timeout=objects.INSPECT_SECONDS):
        """Runs a reader (readelf) over files the submission's build wrote,
        in the sandbox like a tool, but not as one of the test's programs
        (the report does not list it). Returns its stdout as text ('' if it
        failed). Raises RuntimeError (a grader error) if the reader is not
        installed."""
        if shutil.which(argv[0]) is None:
            raise RuntimeError(f"{argv[0]} is not installed (binutils)")
        self._inspections += 1
        stdout_path = os.path.join(self.private_dir, f"inspect-{self._inspections}")
        proc = Process(os.path.basename(argv[0]), argv, self.tmpdir, Limits(processes=16),
                       tool=True, stdout_path=stdout_path, binds=self.view())
        proc.start()
        try:
            code = proc.wait(timeout)
        finally:
            proc.kill()
        with open(stdout_path, "rb") as f:
            out = f.read(64 << 20)
        return out.decode("utf-8", "replace") if code == 0 else ""

    # -- valgrind -----------------------------------------------------------

    def check_valgrind(self, proc):
        """Fails unless valgrind found no errors and no definite leaks.

        The verdict is valgrind's exit status (VALGRIND_ERROR_EXIT when it
        found any), never its log: a program's client requests write into
        the log, so its summary lines only word the message."""
        if not proc.valgrind:
            return
        self.refuse_valgrind_requests(proc)
        log = proc.valgrind_report()
        if not log:
            raise GradeFailure("valgrind errors", tr("valgrind wrote no log for {name}: did it exit normally? (it "
                                                     "must exit, not be killed, for the leak check)",
                                                     name=proc.name))
        if proc.returncode != VALGRIND_ERROR_EXIT:
            return
        errors = re.findall(r"ERROR SUMMARY: ([\d,]+) errors", log)
        lost = re.findall(r"definitely lost: ([\d,]+) bytes", log)
        # The last summary is valgrind's own: the program ended before it.
        n_errors = int(errors[-1].replace(",", "")) if errors else 0
        n_lost = int(lost[-1].replace(",", "")) if lost else 0
        if n_errors == 0 and n_lost == 0:
            raise GradeFailure("valgrind errors",
                               tr("valgrind found memory errors or definite leaks in {name}: it "
                                  "exited with status {code}, which it does only then",
                                  name=proc.name, code=VALGRIND_ERROR_EXIT),
                               first_valgrind_report(log))
        raise GradeFailure("valgrind errors",
                           tr("valgrind found {n_errors} error(s) and {n_lost} bytes "
                              "definitely lost in {name}",
                              n_errors=n_errors, n_lost=n_lost, name=proc.name), first_valgrind_report(log))

    def refuse_valgrind_requests(self, proc):
        """Fails if the program holds valgrind's client requests, with which
        it could hide its errors from valgrind or forge its report."""
        fd = self._open_program(proc)
        try:
            found = objects.holds_valgrind_requests(fd)
        finally:
            os.close(fd)
        if found:
            raise GradeFailure("valgrind errors",
                               tr("{name} uses valgrind's client requests (the macros of "
                                  "<valgrind/valgrind.h>), which can change what valgrind "
                                  "reports; remove them, and valgrind checks it again",
                                  name=proc.name))

    def refuse_sanitizer_hooks(self, proc):
        """Fails if the program defines a sanitizer's settings (such as
        __lsan_default_suppressions) or turns its checks off."""
        path = self._program_file(proc)
        text = self.inspect(["readelf", "-W", "-s", "-r", "-d", path])
        found = objects.parse_readelf(text, only=path) if text else {}
        if path not in found:
            raise GradeFailure("sanitizer errors", tr("{name} could not be read, so the sanitizers' "
                                                      "report on it cannot be trusted",
                                                      name=proc.name))
        hook = objects.sanitizer_hook(found[path])
        if hook is not None:
            raise GradeFailure("sanitizer errors",
                               tr("{name} defines or calls {symbol}, part of the sanitizers' own "
                                  "interface, which can silence what they report; remove it",
                                  name=proc.name, symbol=hook))

    def _program_file(self, proc):
        """The path of the program proc runs (after any wrapper such as
        setarch): the first argument inside the build folder."""
        top = os.path.abspath(self.run_info.bin_dir) + os.sep
        return next(os.path.abspath(arg) for arg in proc.argv
                    if os.path.abspath(arg).startswith(top))

    def _open_program(self, proc):
        """A descriptor of the program's file, opened without following a
        link the build could have put in its place."""
        path = self._program_file(proc)
        try:
            return boxfs.open_file(self.run_info.bin_dir, path)
        except (boxfs.UnsafePath, OSError) as exc:
            raise GradeFailure("valgrind errors", tr("{name} could not be read ({exc}), so "
                                                     "valgrind's report on it cannot be trusted",
                                                     name=proc.name, exc=exc)) from exc

    def check_valgrind_all(self):
        """In VALGRIND=1 mode, after a test: stop each program still running
        (SIGTERM, so that valgrind can write its leak report) and check the
        log of every program that ended by itself or by that signal."""
        for proc in self.processes:
            if not proc.valgrind or proc.popen is None or proc.killed_by_grader:
                continue
            if proc.alive():
                code, _ = self._signal_twice(proc, signal.SIGTERM, 3.0)
                if code is None:
                    proc.kill()
                    raise GradeFailure("timeout", tr("{name} did not exit on SIGTERM, so valgrind could not check it "
                                                     "for leaks",
                                                     name=proc.name))
            if proc.returncode is not None and proc.returncode >= 0:
                self.check_valgrind(proc)

    def check_sanitizer(self, proc):
        """Fails if the program's stderr holds a sanitizer report, or if the
        program could have kept one from being written."""
        report = proc.sanitizer_report()
        if not report:
            self.refuse_sanitizer_hooks(proc)
        if report:
            raise GradeFailure("sanitizer errors", f"{proc.name}: {report[0].strip()}",
                               "\n".join(report[1:]))

    def check_sanitizers_all(self):
        """In SANITIZE=1 mode, after a test: stop what still runs with
        SIGTERM (LeakSanitizer checks at exit) and read every report."""
        for proc in self.processes:
            if not proc.sanitized or proc.popen is None or proc.killed_by_grader:
                continue
            if proc.alive():
                self._signal_twice(proc, signal.SIGTERM, 3.0)
                proc.stderr.join(timeout=2)
            self.check_sanitizer(proc)

    def sanitizer_sections(self):
        labels = self._labels()
        return [(labels[i], proc.sanitizer_report()) for i, proc in enumerate(self.processes)
                if proc.sanitized and proc.sanitizer_report()]

    # -- reporting ------------------------------------------------------------

    def crash_lines(self):
        """One line per process that died by a signal on its own."""
        lines = []
        for proc in self.processes:
            signo = proc.crashed()
            if signo == signal.SIGKILL and proc.out_of_memory:
                lines.append(tr("{program} was killed by the kernel: its processes together "
                                "used more than the test's memory limit ({mib} MiB)",
                                program=proc.name, mib=proc.limits.memory_bytes >> 20))
            elif signo is not None:
                lines.append(tr("{program} crashed: it was killed by {signal}",
                                program=proc.name, signal=describe_signal(signo)))
        return lines

    def early_exit_lines(self):
        """One line per server that exited by itself with a failure status
        while the test still needed it: then "connection refused" is only
        the symptom, and the exit is the story."""
        lines = []
        for proc in (server.process for server in self._servers):
            code = proc.poll() if proc.popen else None
            if code is not None and code > 0 and not proc.killed_by_grader:
                lines.append(tr("{program} exited by itself with status {code} while the test "
                                "was still talking to it", program=proc.name, code=code))
        return lines

    def stderr_sections(self):
        labels = self._labels()
        sections = []
        for i, proc in enumerate(self.processes):
            tail = proc.stderr_tail()
            if tail:
                sections.append((labels[i], tail))
        return sections

    def _labels(self):
        """A name per process for the report. Programs started more than
        once are told apart ("unix_server (the second, which exited with status
        1)"): one instance's last words must not read as another's."""
        counts = {}
        for proc in self.processes:
            counts[proc.name] = counts.get(proc.name, 0) + 1
        labels, seen = [], {}
        for proc in self.processes:
            seen[proc.name] = seen.get(proc.name, 0) + 1
            if counts[proc.name] == 1:
                labels.append(proc.name)
                continue
            n = seen[proc.name]
            label = f"the {ORDINALS[n]}" if n < len(ORDINALS) else f"number {n}"
            code = proc.poll() if proc.popen is not None else None
            if proc.killed_by_grader:
                label += ", which the test had to kill"
            elif code is not None:
                label += f", which {describe_status(code)}"
            labels.append(f"{proc.name} ({label})")
        return labels

    def repro(self):
        """Commands that reproduce the test's exchange by hand."""
        lines = list(dict.fromkeys(self.repro_lines))
        if self._servers and not self._custom_repro:
            server = self._servers[0]
            if server.path is not None:
                target = f"-U {shlex.quote(server.path)}"
            elif ":" in server.host:
                target = f"[{server.host}] {EXAMPLE_PORT}"
            else:
                target = f"{server.host} {EXAMPLE_PORT}"
            for conn in self.conns[:2]:
                sent = conn.sent_log
                if sent is not None and 0 < len(sent) <= REPRO_MAX_BYTES:
                    lines.append(f"{shell_printf(sent)} | nc -N {target} | od -c    # terminal 2")
        return lines

    def cleanup(self):
        for conn in self.conns:
            try:
                conn.sock.close()
            except OSError:
                pass
        for peer in self.peers:
            peer.stop()
        for proc in self.processes:
            if proc.popen is not None:
                proc.kill()
        # Anything left is a descendant that left its process group
        # (setsid) and was handed to us, the subreaper, when its parent died;
        # with pids cgroups, kill() has already found and killed those.
        strays = len(reap_strays()) + sum(len(proc.escaped) for proc in self.processes)
        if strays:
            self.note(tr("{strays} process(es) started by the program had left its "
                         "process group (setsid?) and were still running; the grader "
                         "killed them",
                         strays=strays))
        # rmtree opens each folder without following links: safe in a
        # folder the programs could write.
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        shutil.rmtree(self.private_dir, ignore_errors=True)

    def sandbox_failures(self):
        """Why the sandbox could not run a program of this test, if it
        could not: then no verdict about the program holds."""
        return [proc.sandbox_failed for proc in self.processes if proc.sandbox_failed]


def free_port():
    """A port no socket of the grader's network uses, for TCP and UDP on
    127.0.0.1. The grader has a network namespace of its own (enclosure.py):
    nothing else takes the port before the server binds it."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
            tcp.bind(("127.0.0.1", 0))
            port = tcp.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                try:
                    udp.bind(("127.0.0.1", port))
                except OSError:
                    continue
        return port


def swap16(port):
    return ((port & 0xFF) << 8) | (port >> 8)


def announced_port(program, digits):
    """The port of an announce line, as a number; GradeFailure when it
    cannot be a port. Its digits are the program's: they are counted
    before int() reads them (past 4300 digits int() refuses)."""
    if len(digits) <= len(str(MAX_PORT)) and int(digits) <= MAX_PORT:
        return int(digits)
    shown = digits.decode() if len(digits) <= 12 else \
        tr("{start}... ({count} digits)", start=digits[:12].decode(), count=len(digits))
    raise GradeFailure("wrong output", tr(
        "{program} announced port {port}, which no socket can have: a port is a 16-bit number, "
        "0 to {max}. Print the port getsockname() returned, converted with ntohs() (see "
        "docs/00-network-basics.md#byte-order)", program=program, port=shown, max=MAX_PORT))


def check_requested_port(program, requested, announced):
    """Fails when a server asked for a port announced another one."""
    if requested is None or announced == requested:
        return
    hint = ""
    if announced == swap16(requested):
        hint = (f": {announced} is {requested} with its two bytes swapped ({requested:#06x} and "
                f"{announced:#06x}). Does the port go through htons() before bind(), and "
                "ntohs() before it is printed?")
    raise GradeFailure("wrong output", tr("{program} was started with -p {requested} but announced port "
                                          "{announced}{hint}",
                                          program=program, requested=requested,
                                          announced=announced, hint=hint))


def tsan_wrapper():
    """What to run a ThreadSanitizer build under: setarch -R (no address
    randomisation) where the kernel randomises more than TSan can take."""
    try:
        with open("/proc/sys/vm/mmap_rnd_bits") as f:
            bits = int(f.read())
    except (OSError, ValueError):
        return []
    if bits <= TSAN_MAX_RND_BITS or shutil.which("setarch") is None:
        return []
    return ["setarch", platform.machine(), "-R"]


# cmocka 1.1.5 and later put the group's name after the =s ("[==========]
# tests: 3 test(s) run."); earlier versions do not.
CMOCKA_PLANNED = re.compile(r"^\[=+\] (?:[^\n]*: )?Running (\d+) test\(s\)\.", re.M)
CMOCKA_RUN = re.compile(r"^\[=+\] (?:[^\n]*: )?(\d+) test\(s\) run\.", re.M)
CMOCKA_PASSED = re.compile(r"^\[  PASSED  \] (\d+) test\(s\)\.", re.M)
CMOCKA_CASE_RUN = re.compile(r"^\[ RUN      \] ", re.M)
CMOCKA_CASE_OK = re.compile(r"^\[       OK \] ", re.M)


def _only_match(regex, output):
    """The number of regex's one match in output, or None if there is not
    exactly one: a second summary is not cmocka's."""
    found = regex.findall(output)
    return int(found[0]) if len(found) == 1 else None


def _cmocka_planned(output):
    """How many cases cmocka set out to run: the length of the group's
    list, printed before any case (and so any code under test) runs."""
    return _only_match(CMOCKA_PLANNED, output)


def _cmocka_counts(output):
    """(cases passed, cases run) from a cmocka group's summary, or None."""
    run, passed = _only_match(CMOCKA_RUN, output), _only_match(CMOCKA_PASSED, output)
    if run is None or passed is None:
        return None
    return passed, run


def _cmocka_case_lines(output):
    """(cases reported passed, cases started) by cmocka's line per case:
    they must agree with its summary."""
    return len(CMOCKA_CASE_OK.findall(output)), len(CMOCKA_CASE_RUN.findall(output))


def _cmocka_failures(output):
    """The sentences of a cmocka run that say what failed (its ERROR lines).
    Lines are split at \\n only: a \\r inside a message stays in it."""
    errors = [line[len("ERROR:"):].strip() for line in output.split("\n")
              if line.startswith("ERROR:")]
    if not errors:
        return output[-2000:]
    return "\n".join(f"- {line}" for line in dict.fromkeys(errors))


def first_valgrind_report(log):
    """The first error block of a valgrind log, without the ==pid== prefixes."""
    lines = [re.sub(r"^==\d+== ?", "", line) for line in log.splitlines()]
    start = next((i for i, line in enumerate(lines)
                  if line.startswith(("Invalid", "Conditional", "Syscall param", "Mismatched"))
                  or "definitely lost in" in line), None)
    if start is None:
        return "\n".join(lines[-15:])
    block = []
    for line in lines[start:]:
        if not line.strip() and block:
            break
        block.append(line)
    return "\n".join(block[:25])
