"""The sandbox's parts, one by one: link-safe files, escaped output, the
results channel, the refusal to grade unsafely, and the rule that lab
tests touch their programs' folder only through the context."""

import ast
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import ROOT
from grader import boxfs, labs, launch, sandbox
from grader.reports import compiler_diagnostics
from grader.transcripts import printable

LAB01 = labs.get_lab("01")


# -- files in a folder the programs can write ------------------------------------------

def test_a_planted_link_is_not_followed(tmp_path):
    top = tmp_path / "work"
    top.mkdir()
    target = tmp_path / "precious"
    target.write_bytes(b"keep me")
    (top / "out.bin").symlink_to(target)
    (top / "dir").symlink_to(tmp_path)
    with pytest.raises(boxfs.UnsafePath, match="symbolic link"):
        boxfs.read_file(top, top / "out.bin")
    with pytest.raises(boxfs.UnsafePath, match="not a folder"):
        boxfs.write_file(top, top / "dir" / "precious", b"overwritten")
    # Writing replaces the link itself, never what it points to.
    boxfs.write_file(top, top / "out.bin", b"new")
    assert target.read_bytes() == b"keep me"
    assert boxfs.read_file(top, top / "out.bin") == b"new"


def test_a_hard_link_or_a_fifo_is_not_read(tmp_path):
    top = tmp_path / "work"
    top.mkdir()
    secret = tmp_path / "secret"
    secret.write_bytes(b"secret")
    os.link(secret, top / "copy")
    os.mkfifo(top / "pipe")
    with pytest.raises(boxfs.UnsafePath, match="2 links"):
        boxfs.read_file(top, top / "copy")
    with pytest.raises(boxfs.UnsafePath, match="not a regular file"):
        boxfs.read_file(top, top / "pipe")


def test_paths_outside_the_folder_are_refused(tmp_path):
    with pytest.raises(boxfs.UnsafePath, match="not inside"):
        boxfs.write_file(tmp_path / "work", tmp_path / "elsewhere", b"x")
    with pytest.raises(boxfs.UnsafePath, match="not inside"):
        boxfs.read_file(tmp_path / "work", tmp_path / "work" / ".." / "x")


FILE_CALLS = {"open", "mkdir", "makedirs", "symlink", "unlink", "remove", "rename", "chmod",
              "chown", "link", "mkdtemp", "mkstemp", "NamedTemporaryFile", "copy", "copyfile",
              "copytree", "rmtree", "write_bytes", "write_text", "read_bytes", "read_text",
              "mkfifo"}


@pytest.mark.parametrize("path", sorted(Path(ROOT / "labs").glob("*/tests/**/test_*.py")),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_lab_tests_touch_files_only_through_the_context(path):
    """A lab test that opened a file itself, as root, in a folder its
    programs can write, would follow whatever link they put there."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            owner = func.value.id if isinstance(func, ast.Attribute) and \
                isinstance(func.value, ast.Name) else ""
            if name in FILE_CALLS and owner != "ctx":
                found.append(f"line {node.lineno}: {owner + '.' if owner else ''}{name}()")
    assert found == [], "use ctx.write_file, ctx.read_file, ctx.make_dirs, ... instead: " + \
        "; ".join(found)


# -- what programs print ----------------------------------------------------------------

def test_control_characters_are_shown_escaped():
    assert printable("a\x1b[31mb\x07c\rd\te\u202ef") == "a\\x1b[31mb\\x07c\\x0dd\te\\u202ef"
    source_line = 'echo_server.c:3:1: error: "\x1b]0;owned\x07" is not C'
    assert "\x1b" not in "".join(compiler_diagnostics(source_line))


# -- the results channel and the refusals --------------------------------------------

def test_a_grader_killed_midway_leaves_no_score(tmp_path):
    """A child grader that dies without handing in its results (here:
    SIGKILL, as an attack or the machine could) is a grading error: exit
    3, a sentence saying there is no score, and no results.json."""
    src = tmp_path / "src"
    src.mkdir()
    for name in labs.student_files(LAB01):
        (src / name).write_bytes((LAB01.dir / "solution" / name).read_bytes())
    out = tmp_path / "out"
    cmd = launch.grader_command("grade", "--lab", "01", "--solution", "0", "--src-dir", str(src),
                                "--out-dir", str(out))
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    deadline = time.monotonic() + 120
    child = None
    while child is None and time.monotonic() < deadline:
        child = _enclosed_grader(proc.pid)
        time.sleep(0.05)
    assert child is not None, "no child grader started"
    os.kill(child, signal.SIGKILL)
    output, _ = proc.communicate(timeout=120)
    assert proc.returncode == 3, output
    assert "there is no score to trust" in output, output
    assert not (out / "results.json").exists()


def _enclosed_grader(top):
    """The pid of the child grader below top (the enclosure's child), or None."""
    for enclosure in _children(top):
        for grader in _children(enclosure):
            return grader
    return None


def _children(pid):
    """The children of every thread of pid."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def test_batch_refuses_to_grade_as_root_without_the_sandbox(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the refusal is for graders running as root")
    subs = tmp_path / "subs"
    (subs / "alice").mkdir(parents=True)
    env = dict(os.environ, GRADER_SANDBOX="0")
    cmd = launch.grader_command("batch", "--lab", "01", "--subs", str(subs), "--out",
                                str(tmp_path / "out"))
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 2, run.stdout + run.stderr
    assert "refusing to grade submissions as root without the sandbox" in run.stderr
    assert "--unsafe" in run.stderr and not (tmp_path / "out" / "results.csv").exists()


def test_the_header_and_results_name_the_layers(tmp_path):
    from conftest import grade
    code, results, output = grade(LAB01, "-k", "test_echo_short_text", solution=True,
                                  out_dir=tmp_path / "out")
    assert "sandbox: privilege:" in output, output
    layers = results["sandbox"]
    assert set(layers) == {"privilege", "view", "network", "processes"}
    box = sandbox.preflight()
    assert layers["view"]["holds"] == (box.bwrap is not None or not box.exposed)


def test_box_user_permissions():
    """box_can_read follows the permission bits of every folder above."""
    uid, gid = sandbox.BOX_UID_BASE, sandbox.BOX_GID_BASE
    assert sandbox.box_can_read("/etc/hostname", uid, gid)
    assert not sandbox.box_can_read("/root/.bashrc", uid, gid) or \
        os.stat("/root").st_mode & 0o005 == 0o005
    assert not sandbox.box_can_read("/no/such/file", uid, gid)
    assert json.dumps(sandbox.Layer("view", True, "x").to_json())


class _Kept:
    """What an OutputCollector keeps of data: its head, its tail, its size."""

    def __init__(self, data):
        from grader.processes import KEEP_HEAD, KEEP_TAIL
        self.total = len(data)
        self._head, self._tail = data[:KEEP_HEAD], data[-KEEP_TAIL:] if data else b""

    def head(self):
        return self._head

    def tail(self):
        return self._tail


@pytest.mark.parametrize("extra", [0, 1, 1 << 16, (1 << 17) + 1])
def test_build_output_is_its_head_and_tail_once(extra):
    """A build's messages come back whole while head and tail hold them
    all (overlapping, not repeated), else with what was left out named."""
    from grader.processes import KEEP_HEAD, KEEP_TAIL
    data = bytes(32 + i % 90 for i in range(KEEP_HEAD + extra))
    text = sandbox._collected_text(_Kept(data))
    if len(data) <= KEEP_HEAD + KEEP_TAIL:
        assert text == data.decode()
    else:
        left_out = len(data) - KEEP_HEAD - KEEP_TAIL
        assert text == (data[:KEEP_HEAD].decode() + f"\n... ({left_out} bytes left out) ...\n"
                        + data[-KEEP_TAIL:].decode())
