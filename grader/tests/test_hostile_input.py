"""What a graded program writes, and what a submission holds, is the
grader's input too: each case here once ended a test, a run or a whole
batch in a grader error. Each must now be graded, or noted, and go on."""

import errno
import shutil
import socket
import sys
import types
from pathlib import Path

import pytest

from grader import batch, labs, sandbox
from grader.context import TCP_ANNOUNCE, TestContext, announced_port
from grader.failures import GradeFailure
from grader.faults import summary as fault_summary
from grader.grading import broken_run_error
from grader.plugin import GradePlugin, RunInfo
from grader.processes import Process
from grader.scoring import TestResult
from grader.sockets import Conn
from grader.submissions import MAX_DEPTH, stage_submission
from grader.transcripts import Transcript

LAB01 = labs.get_lab("01")
DEEP = 1100      # folders: past Python's recursion limit


@pytest.fixture
def box_dir():
    """A folder the sandboxed programs may write."""
    path = sandbox.current().make_work_dir("hostile-")
    yield Path(path)
    shutil.rmtree(path, ignore_errors=True)


# -- the announce line -------------------------------------------------------------

def test_announce_line_counts_once_its_newline_came(box_dir):
    # "...:5", a pause, then "000\n": the port is 5000, never 5.
    code = ("import sys, time; w = sys.stdout.write; w('listening on 127.0.0.1:5');"
            "sys.stdout.flush(); time.sleep(0.5); w('000\\n'); sys.stdout.flush();"
            "time.sleep(30)")
    proc = Process("prog", [sys.executable, "-c", code], str(box_dir), None,
                   binds=[(str(box_dir), "rw")]).start()
    try:
        match = proc.wait_for_line(TCP_ANNOUNCE, 5, "its line")
        assert match.group(2) == b"5000"
    finally:
        proc.kill()


@pytest.mark.parametrize("digits", [b"65536", b"131071", b"7" * 5000])
def test_a_port_no_socket_can_have_is_wrong_output(digits):
    with pytest.raises(GradeFailure) as err:
        announced_port("echo_server", digits)
    assert err.value.kind == "wrong output"
    assert "which no socket can have" in err.value.message
    assert len(err.value.message) < 400, "the digits are not all quoted"


@pytest.mark.parametrize("digits,port", [(b"0", 0), (b"5000", 5000), (b"65535", 65535),
                                         (b"00080", 80)])
def test_a_real_port_is_read(digits, port):
    assert announced_port("echo_server", digits) == port


def test_connecting_to_port_past_65535_is_wrong_output():
    with pytest.raises(GradeFailure) as err:
        Conn.open("127.0.0.1", 70000, "conn 1", Transcript(), 1.0)
    assert err.value.kind == "wrong output"


# -- IPv6 --------------------------------------------------------------------------

@pytest.mark.parametrize("missing", [None, "Cannot assign requested address"])
def test_ipv6_is_judged_by_what_was_found_before_any_program_ran(missing, monkeypatch):
    run = RunInfo(lab=LAB01, solution=True, src_dir=".", bin_dir=".", root=".",
                  ipv6_missing=missing)
    ctx = TestContext(run, "test_ipv6", 1)
    try:
        # As after a program filled every port of ::1 with TIME_WAIT.
        def refuse(*args):
            raise OSError(errno.EADDRINUSE, "Address already in use")
        monkeypatch.setattr(socket.socket, "bind", refuse)
        if missing is None:
            ctx.require_ipv6()
        else:
            with pytest.raises(pytest.skip.Exception, match=missing):
                ctx.require_ipv6()
    finally:
        monkeypatch.undo()
        ctx.cleanup()


# -- the fault shim's log, and building a test's result ---------------------------

def test_garbage_in_the_fault_log_is_left_out():
    log = ("fault send short 10 of 100\n"
           "reaped pid=not-a-number status=0\n"
           "reaped pid=\u00b2 status=0\n"
           "reaped pid=" + "9" * 5000 + "\n"
           "reaped pid=42 status=0\n"
           "exit\n=\n\n")
    faults, reaped, _ = fault_summary(log)
    assert faults == ["send short 10 of 100"]
    assert list(reaped) == [42]


class Exploding:
    """A test context whose every attribute fails, as a bug would."""

    def __getattr__(self, name):
        raise ValueError(f"{name} exploded, see /secret/hidden/test_x.py line 3")


def test_a_failure_while_judging_costs_that_test_only():
    run = RunInfo(lab=LAB01, solution=True, src_dir=".", bin_dir=".", root=".")
    plugin = GradePlugin(run)
    item = types.SimpleNamespace(nodeid="t::test_x", grader_ctx=Exploding())
    result = TestResult(name="test_x", title="x", max_points=5, doc="")
    plugin._errors[item.nodeid] = GradeFailure("wrong output", "the echo differs")
    plugin._finish(item, result, types.SimpleNamespace(failed=False))
    assert (result.status, result.kind, result.earned) == ("failed", "grader error", 0)
    assert "ValueError" in result.message
    assert "secret" not in result.message + result.details and result.sections == []


def test_an_internal_error_of_pytest_is_a_grader_error():
    assert "INTERNAL_ERROR" in broken_run_error(pytest.ExitCode.INTERNAL_ERROR)


# -- submissions -------------------------------------------------------------------

def make_submission(folder):
    folder.mkdir(parents=True)
    for name in ("echo_util.c", "echo_server.c", "echo_client.c"):
        shutil.copy(LAB01.dir / "solution" / name, folder / name)
    return folder


def test_a_folder_nested_past_the_recursion_limit_is_noted(tmp_path):
    submission = make_submission(tmp_path / "sub")
    folders = [submission / "deep"]
    for _ in range(DEEP):
        folders.append(folders[-1] / "d")
    try:
        for folder in folders:
            folder.mkdir()
        src, notes = stage_submission(submission, LAB01, tmp_path / "work")
    finally:
        # shutil.rmtree recurses too: the tree goes bottom up.
        for folder in reversed(folders):
            if folder.exists():
                folder.rmdir()
    assert (src / "echo_server.c").read_bytes() == \
        (LAB01.dir / "solution" / "echo_server.c").read_bytes()
    assert any(f"more than {MAX_DEPTH} deep" in note for note in notes), notes


def test_a_name_that_is_not_utf8_reaches_the_report(tmp_path):
    submission = make_submission(tmp_path / "sub")
    (submission / "echo_server.c").unlink()
    odd = submission / b"\xff".decode("utf-8", "surrogateescape")
    odd.mkdir()
    (odd / "echo_server.c").symlink_to("../echo_util.c")
    _, notes = stage_submission(submission, LAB01, tmp_path / "work")
    batch.write_reports(tmp_path / "out", "\n".join(notes), None)
    report = (tmp_path / "out" / "report.txt").read_text()
    assert "\\xff/echo_server.c) is a symbolic link" in report, report


def test_one_students_exception_is_their_row_only(tmp_path, monkeypatch):
    def broken(*args):
        raise RecursionError("maximum recursion depth exceeded")
    monkeypatch.setattr(batch, "stage_submission", broken)
    student = make_submission(tmp_path / "subs" / "someone")
    name, results, _ = batch.grade_one(LAB01, student, tmp_path / "out", children=None)
    assert (name, results) == ("someone", None)
    report = (tmp_path / "out" / "someone" / "report.txt").read_text()
    assert "grading failed: RecursionError" in report
