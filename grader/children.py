"""Graders run as child processes: every grade, in every mode.

`make grade`, `make grade LAB=all`, batch mode and Gradescope all grade
in a child grader: `python -I ... grader.enclosure grade ... --results-fd N`
(enclosure.py puts it in namespaces of its own). The child hands its
results back over the pipe N and nowhere else: no process of a submission
can reach that pipe, so a results file written by a submission is never
read, and a child that dies without handing in results (killed by a
signal, crashed) leaves a grading error, never a score.

A child grader holds the student's programs and temporary folders.
Killed outright (SIGKILL), it takes its programs with it (it is process 1
of their PID namespace) but cannot clean up; so a child is always stopped
with SIGTERM first, which it turns into Ctrl-C's orderly path (see
stop_like_ctrl_c in __main__), and killed only if it has not finished
after STOP_GRACE seconds.
"""

import json
import os
import signal
import subprocess
import threading
from dataclasses import dataclass

from . import launch
from .i18n import tr

# A child stopping mid-test ends the test, kills the program under test
# and removes its files: under a second normally, a few seconds at most
# under valgrind.
STOP_GRACE = 30

# The exit status of a grader stopped this way, as a shell reports Ctrl-C.
EXIT_INTERRUPTED = 128 + signal.SIGINT

# Results larger than this are not a grader's: the child is broken.
RESULTS_LIMIT = 64 << 20


@dataclass
class Outcome:
    """How a child grader ended."""

    code: int               # its exit status (negative: killed by that signal); None: not run
    output: str             # what it printed (stdout and stderr), when captured
    timed_out: bool
    results: dict = None    # what it handed in over the results pipe, if anything

    def problem(self):
        """Why there is no score to trust, or None."""
        if self.code is None:
            return tr("grading was not started (stopping)")
        if self.timed_out:
            return tr("grading took too long and was stopped")
        if self.code < 0:
            return tr("the grader was killed by {signal}", signal=signal.Signals(-self.code).name)
        if self.results is None:
            return tr("the grader exited with status {code} without handing in results",
                      code=self.code)
        return None


class _ResultsReader(threading.Thread):
    """Reads the results pipe to its end, bounded."""

    def __init__(self, fd):
        super().__init__(name="results", daemon=True)
        self._fd = fd
        self.data = bytearray()

    def run(self):
        with os.fdopen(self._fd, "rb") as pipe:
            while len(self.data) <= RESULTS_LIMIT:
                chunk = pipe.read1(1 << 16)
                if not chunk:
                    return
                self.data += chunk

    def results(self):
        if not self.data or len(self.data) > RESULTS_LIMIT:
            return None
        try:
            value = json.loads(self.data)
        except ValueError:
            return None
        return value if isinstance(value, dict) and isinstance(value.get("tests"), list) else None


class ChildGraders:
    """Starts child graders, each in its own session (a Ctrl-C typed in
    the terminal reaches only the parent, which then stops every child
    the same way, whichever signal stopped the parent). Thread-safe: one
    thread per child waits in run()."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running = set()
        self.stopping = False

    def run(self, grade_args, timeout=None, capture=True, **popen_args):
        """Grades in a child grader: `grade GRADE_ARGS`. With capture, its
        output is returned; without, it goes to our own stdout and stderr
        as it comes. Returns an Outcome (code None if stop() was called
        before it could start)."""
        read_end, write_end = os.pipe()
        cmd = launch.python_command("grader.enclosure", "grade", *grade_args,
                                    "--results-fd", str(write_end))
        out = subprocess.PIPE if capture else None
        with self._lock:
            if self.stopping:
                os.close(read_end)
                os.close(write_end)
                return Outcome(None, "", False)
            try:
                proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT if capture
                                        else None, text=True, errors="replace",
                                        start_new_session=True, pass_fds=[write_end],
                                        **popen_args)
            finally:
                os.close(write_end)
            self._running.add(proc)
        reader = _ResultsReader(read_end)
        reader.start()
        timed_out = False
        try:
            try:
                output, _ = proc.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
                _stop(proc)
                output, _ = proc.communicate()
        finally:
            with self._lock:
                self._running.discard(proc)
        reader.join()
        return Outcome(proc.returncode, output or "", timed_out, reader.results())

    def stop(self):
        """Stops every running child and starts no more; returns when all
        have exited."""
        with self._lock:
            self.stopping = True
            running = list(self._running)
        for proc in running:
            proc.send_signal(signal.SIGTERM)
        for proc in running:
            _wait_or_kill(proc)


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    _wait_or_kill(proc)


def _wait_or_kill(proc):
    try:
        proc.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
