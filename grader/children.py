"""Graders run in child processes (make grade LAB=all, batch, Gradescope).

A child grader holds the student's programs and temporary folder. Killed
outright (SIGKILL), it cannot stop them: they would outlive it. So a
child is always stopped with SIGTERM first, which it turns into Ctrl-C's
orderly path (see stop_like_ctrl_c in __main__), and killed only if it
has not finished after STOP_GRACE seconds.
"""

import signal
import subprocess
import threading

# A child stopping mid-test ends the test, kills the program under test
# and removes its files: under a second normally, a few seconds at most
# under valgrind.
STOP_GRACE = 30

# The exit status of a grader stopped this way, as a shell reports Ctrl-C.
EXIT_INTERRUPTED = 128 + signal.SIGINT


class ChildGraders:
    """Starts child graders, each in its own session (a Ctrl-C typed in
    the terminal reaches only the parent, which then stops every child
    the same way, whichever signal stopped the parent). Thread-safe: one
    thread per child waits in run()."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running = set()
        self.stopping = False

    def run(self, cmd, timeout=None, **popen_args):
        """(exit status, output, timed_out) of cmd; output is stdout and
        stderr together. Returns (None, "", False) without starting cmd
        once stop() was called."""
        with self._lock:
            if self.stopping:
                return None, "", False
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, errors="replace", start_new_session=True,
                                    **popen_args)
            self._running.add(proc)
        try:
            try:
                output, _ = proc.communicate(timeout=timeout)
                return proc.returncode, output, False
            except subprocess.TimeoutExpired:
                _stop(proc)
                output, _ = proc.communicate()
                return proc.returncode, output, True
        finally:
            with self._lock:
                self._running.discard(proc)

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
