"""Unit tests of grader/processes.py: starting, containing and reaping."""

import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest

from grader import sandbox
from grader.failures import GradeFailure, TestTimeout
from grader.processes import Limits, Process, describe_signal, describe_status

PY = sys.executable


@pytest.fixture
def tmp_path():
    """A folder the sandboxed programs may write, as a test's own."""
    path = sandbox.current().make_work_dir("processes-")
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


def start(tmp_path, code, limits=None):
    return Process("prog", [PY, "-c", code], str(tmp_path), limits,
                   binds=[(str(tmp_path), "rw")]).start()


def test_announce_line_is_found(tmp_path):
    proc = start(tmp_path, "import sys, time; print('listening on 127.0.0.1:4242', flush=True);"
                           "time.sleep(30)")
    try:
        match = proc.wait_for_line(rb"^listening on (\S+):(\d+)$", 5, "its line")
        assert match.group(2) == b"4242"
    finally:
        proc.kill()


def test_exit_before_announcing_is_did_not_start(tmp_path):
    proc = start(tmp_path, "import sys; sys.stderr.write('bad port\\n'); sys.exit(2)")
    with pytest.raises(GradeFailure) as err:
        proc.wait_for_line(rb"^listening", 5, "its line")
    assert err.value.kind == "did not start" and "status 2" in err.value.message
    assert proc.stderr_tail() == ["bad port"]
    proc.kill()


def test_silence_is_a_timeout_mentioning_fflush(tmp_path):
    # Like a C program that printf()s into a pipe and never flushes.
    proc = start(tmp_path, "import sys, time; out = open(1, 'w', buffering=4096);"
                           "out.write('listening on 1.2.3.4:5\\n'); time.sleep(30)")
    with pytest.raises(TestTimeout) as err:
        proc.wait_for_line(rb"^listening", 0.5, "its line")
    assert "fflush" in err.value.message
    proc.kill()


def test_crash_is_named_by_its_signal(tmp_path):
    proc = start(tmp_path, "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)")
    proc.wait(5)
    assert proc.crashed() == signal.SIGSEGV
    assert "SIGSEGV (segmentation fault" in describe_signal(proc.crashed())
    assert describe_status(-signal.SIGSEGV).startswith("was killed by SIGSEGV")
    proc.kill()


def test_kill_takes_the_whole_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    proc = start(tmp_path, "import os, time\n"
                           f"pid = os.fork()\n"
                           f"if pid == 0:\n    time.sleep(60)\n"
                           f"open({str(pidfile)!r}, 'w').write(str(pid)); time.sleep(60)")
    deadline = time.monotonic() + 5
    while not pidfile.exists() or not pidfile.read_text():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    child = int(pidfile.read_text())
    proc.kill()
    assert not proc.crashed()  # killed by the grader, not a crash
    deadline = time.monotonic() + 5
    while os.path.exists(f"/proc/{child}") and _state(child) != "Z":
        assert time.monotonic() < deadline, "the forked child survived the group kill"
        time.sleep(0.01)


def _state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_endless_output_is_bounded(tmp_path):
    proc = start(tmp_path, "import sys\nwhile True: sys.stdout.write('x' * 65536)")
    # A condition, not a fixed sleep: a loaded machine may start Python late.
    deadline = time.monotonic() + 10
    while proc.stdout.total <= 1 << 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    proc.kill()
    assert proc.stdout.total > 1 << 20
    assert len(proc.stdout.head()) <= 64 * 1024


def test_cpu_limit_stops_a_busy_loop(tmp_path):
    proc = start(tmp_path, "while True: pass", Limits(cpu_seconds=1))
    code = proc.wait(10)
    assert code == -signal.SIGXCPU
    proc.kill()


class NoGroups:
    """Cgroups that cannot be made (a full pids controller, say)."""

    def new_group(self, *limits):
        return None


def open_fds():
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("how", ["program", "sandboxed run"])
def test_a_start_that_fails_leaves_no_pipe_open(tmp_path, monkeypatch, how):
    box = sandbox.current()
    monkeypatch.setattr(box, "groups", NoGroups())
    before = open_fds()
    for _ in range(3):
        if how == "program":
            proc = Process("prog", [PY, "-c", "pass"], str(tmp_path), valgrind=False,
                           binds=[(str(tmp_path), "rw")])
            with pytest.raises(GradeFailure, match="could not make the cgroups"):
                proc.start()
        else:
            with pytest.raises(sandbox.SandboxError, match="could not make the cgroups"):
                sandbox.run_sandboxed(box, [PY, "-c", "pass"], [], str(tmp_path), 5,
                                      64 << 20, 8)
    assert open_fds() == before
