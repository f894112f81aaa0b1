"""The grader survives programs that misbehave, diagnoses them precisely,
and leaves nothing behind: no process, no temporary folder.

Each program in misbehaving/ poses as lab 01's echo_server; the test
grades it on one lab test and checks the verdict, the time it cost, and
what is left on the machine afterwards.
"""

import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import grade
from grader import labs

FIXTURES = Path(__file__).parent / "misbehaving"
LAB01 = labs.get_lab("01")

# fixture, lab test it runs, expected kind (None: the test passes), words
# the diagnosis must contain, most seconds the test itself may cost. The
# grader's own waits are 3 s (8 s for the two SIGTERM waits); the bounds
# leave room for a heavily loaded machine: they prove "seconds, not
# minutes", and grader/bench/README.md records the figures measured.
CASES = [
    ("never_announces", "test_echo_short_text", "timeout", "did not print", 15),
    ("spins", "test_echo_short_text", "timeout", "did not print", 15),
    ("exits_at_once", "test_echo_short_text", "did not start", "exited with status 0", 10),
    ("crashes_on_data", "test_echo_short_text", "crash", "SIGSEGV (segmentation fault", 10),
    ("aborts_on_data", "test_echo_short_text", "crash", "SIGABRT", 10),
    ("floods_stdout", "test_echo_short_text", "timeout", "waited", 15),
    ("fills_disk", "test_echo_short_text", "crash", "SIGXFSZ (file size limit", 15),
    ("hogs_descriptors", "test_echo_short_text", "timeout", "waited", 15),
    ("ignores_sigterm", "test_exits_cleanly_on_signals", "timeout", "still running", 25),
    ("forks_children", "test_echo_short_text", None, "", 10),
    ("escapes_group", "test_echo_short_text", None, "", 10),
]
WHOLE_GRADE_LIMIT = 120   # build included: only catches a grader that hangs


def processes_running(binary_dir):
    """Pids of live processes whose executable is in binary_dir."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            exe = os.readlink(f"/proc/{entry}/exe")
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if exe.startswith(str(binary_dir)) and state != "Z":
            found.append(int(entry))
    return found


@pytest.mark.parametrize("fixture,test,kind,words,budget", CASES, ids=[c[0] for c in CASES])
def test_misbehaving_program_is_contained(fixture, test, kind, words, budget, tmp_path,
                                         monkeypatch):
    src = tmp_path / "src"
    shutil.copytree(LAB01.dir / "solution", src)
    shutil.copy(FIXTURES / f"{fixture}.c", src / "echo_server.c")
    shutil.copy(FIXTURES / "tiny_echo.h", src / "tiny_echo.h")
    out = tmp_path / "out"
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))

    start = time.monotonic()
    code, results, output = grade(LAB01, "-k", test, src_dir=src, out_dir=out)
    elapsed = time.monotonic() - start

    (result,) = results["tests"]
    assert results["grader_errors"] == 0, output
    if kind is None:
        assert result["status"] == "passed", output
    else:
        assert result["status"] == "failed" and result["kind"] == kind, output
        assert words in result["message"], output
    assert result["time"] < budget, f"the test took {result['time']:.1f} s:\n{output}"
    assert elapsed < WHOLE_GRADE_LIMIT, f"grading took {elapsed:.1f} s:\n{output}"
    assert processes_running(out) == [], f"processes left behind:\n{output}"
    assert list(private_tmp.iterdir()) == [], "temporary files left behind"
