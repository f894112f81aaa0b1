"""Processes: every one in its own group, all killed on the way out; and a
running server, with what it printed."""

import os
import signal
import subprocess
import time
from pathlib import Path

from .settings import STOP_TIMEOUT


class Processes:
    def __init__(self):
        self.live = []

    def start(self, argv, **kwargs):
        proc = subprocess.Popen(argv, start_new_session=True, **kwargs)
        self.live.append(proc)
        return proc

    def stop(self, proc, sig=signal.SIGTERM, timeout=STOP_TIMEOUT, kill=True):
        """Signals the process and waits for it (bounded); then, unless
        kill is False, kills its whole group. Returns (exit status, or None
        if it did not exit in time; seconds it took)."""
        t0 = time.monotonic()
        status = None
        if proc.poll() is None:
            try:
                os.kill(proc.pid, sig)
                status = proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                status = proc.wait()
        else:
            status = proc.returncode
        took = time.monotonic() - t0
        if kill:
            self.kill_group(proc)
        return status, took

    def kill_group(self, proc):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if proc.poll() is None:
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        if proc in self.live:
            self.live.remove(proc)

    def cleanup(self):
        for proc in list(self.live):
            self.kill_group(proc)


PROCS = Processes()


def on_signal(signum, frame):
    raise KeyboardInterrupt


class Server:
    """A running server: its process, port and name."""

    def __init__(self, name, proc, port, logs):
        self.name, self.proc, self.port, self.logs = name, proc, port, logs

    def alive(self):
        return self.proc.poll() is None

    def stderr_tail(self, lines=5):
        try:
            text = Path(self.logs[1]).read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def wait_for(condition, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()
