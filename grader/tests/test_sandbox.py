"""The sandbox's parts, one by one: link-safe files, escaped output, the
results channel, the refusal to grade unsafely, and the rule that lab
tests touch their programs' folder only through the context."""

import ast
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
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
    assert set(layers) == {"privilege", "view", "network", "processes", "seccomp"}
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


# -- the seccomp filter -----------------------------------------------------------------

# Run inside the sandbox: what each system call gives, "ok" or the errno's
# name, as JSON on stdout.
SYSCALL_PROBE = r'''
import ctypes, errno, json, os, socket, threading
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
L = ctypes.c_long

def said(result):
    return "ok" if result >= 0 else errno.errorcode[ctypes.get_errno()]

def sock(family, kind=socket.SOCK_STREAM, proto=0):
    try:
        socket.socket(family, kind, proto).close()
        return "ok"
    except OSError as exc:
        return errno.errorcode[exc.errno]

def in_child(call):
    """call() in a forked child: "ok" if it returned 0 there."""
    pid = os.fork()
    if pid == 0:
        os._exit(0 if call() >= 0 else 1)
    return "ok" if os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0 else "failed"

def raw_clone(flags):
    pid = libc.syscall(L(56), L(flags | 17), L(0), L(0), L(0), L(0))   # 17: SIGCHLD
    if pid == 0:
        os._exit(0)
    if pid > 0:
        os.waitpid(pid, 0)
    return said(pid)

found = {
    "add_key": said(libc.syscall(L(248), b"user", b"probe", b"x", L(1), L(-2))),
    "keyctl": said(libc.syscall(L(250), L(0), L(-4), L(0))),
    "vsock": sock(getattr(socket, "AF_VSOCK", 40)),
    "unshare_user": in_child(lambda: libc.unshare(0x10000000)),
    "clone_user": raw_clone(0x10000000),
    "clone_net": raw_clone(0x40000000),
    "clone3": said(libc.syscall(L(435), None, L(0))),
    "io_uring": said(libc.syscall(L(425), L(4), ctypes.create_string_buffer(120))),
    "x32_getpid": said(libc.syscall(L(39 | 0x40000000))),
    "packet": sock(17, socket.SOCK_RAW),
    "netlink_diag": sock(16, socket.SOCK_RAW, 4),
    "inet": sock(socket.AF_INET),
    "inet6": sock(socket.AF_INET6),
    "unix": sock(socket.AF_UNIX),
    "netlink_route": sock(16, socket.SOCK_RAW, 0),
    "getaddrinfo": "ok" if socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM) else "none",
    "fork": in_child(lambda: 0),
    "ptrace_traceme": in_child(lambda: libc.ptrace(0, 0, None, None)),
    "plain_clone": raw_clone(0),
}
worker = threading.Thread(target=lambda: None)
worker.start()
worker.join()
found["thread"] = "ok"
print(json.dumps(found))
'''

DENIED_BY_THE_FILTER = {"add_key": "EPERM", "keyctl": "EPERM", "vsock": "EAFNOSUPPORT",
                        "unshare_user": "failed", "clone_user": "EPERM", "clone_net": "EPERM",
                        "clone3": "ENOSYS", "io_uring": "EPERM", "x32_getpid": "ENOSYS",
                        "packet": "EAFNOSUPPORT", "netlink_diag": "EAFNOSUPPORT",
                        "netlink_route": "EAFNOSUPPORT"}
ALLOWED = ("inet", "inet6", "unix", "getaddrinfo", "fork", "ptrace_traceme", "plain_clone",
           "thread")


def probe_system_calls(box):
    workdir = box.make_work_dir("syscalls-")
    try:
        done = sandbox.run_sandboxed(box, ["/usr/bin/python3", "-I", "-c", SYSCALL_PROBE],
                                     [(workdir, "rw")], workdir, seconds=30, memory=1 << 30,
                                     tasks=32)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    assert done.returncode == 0, done.output
    return json.loads(done.output.strip().splitlines()[-1])


def test_the_seccomp_filter_denies_what_namespaces_leave_shared():
    import dataclasses
    box = sandbox.current()
    if box.seccomp_filter is None:
        pytest.skip(f"no seccomp filter here: {box.seccomp_problem}")
    filtered = probe_system_calls(box)
    unfiltered = probe_system_calls(dataclasses.replace(box, seccomp_filter=None))
    for name, denied in DENIED_BY_THE_FILTER.items():
        assert filtered[name] == denied, (name, filtered)
    for name in ALLOWED:
        assert filtered[name] == unfiltered[name] == "ok", (name, filtered, unfiltered)
    # Without the filter, the same program reaches what it shuts: the
    # probe tells a filter from a kernel that lacks these anyway.
    for name in ("add_key", "unshare_user", "clone_user", "clone3"):
        assert unfiltered[name] != filtered[name], (name, unfiltered)


def test_the_seccomp_numbers_are_the_kernel_headers():
    from grader import seccomp
    header = Path("/usr/include/x86_64-linux-gnu/asm/unistd_64.h")
    if not header.exists():
        pytest.skip("no x86_64 kernel headers here")
    numbers = {name: int(number) for name, number in
               re.findall(r"^#define __NR_(\w+)\s+(\d+)", header.read_text(), re.M)}
    known = [name for name in seccomp.SYSCALLS if name in numbers]
    # Headers older than the running kernel may lack the newest calls.
    assert len(known) >= len(seccomp.SYSCALLS) - 2
    for name in known:
        assert seccomp.SYSCALLS[name] == numbers[name], name
    assert all(name in seccomp.SYSCALLS for name in seccomp.DENIED)


def test_the_seccomp_filter_is_valid_classic_bpf():
    from grader import seccomp
    code = seccomp.program()
    assert len(code) % 8 == 0 and 0 < len(code) // 8 < seccomp.MAX_INSTRUCTIONS
    # The last instruction returns; every jump lands inside the program.
    count = len(code) // 8
    for index in range(count):
        op, true, false, _ = struct.unpack_from("<HBBI", code, index * 8)
        if op & 0x07 == 0x05:      # BPF_JMP
            assert index + 1 + max(true, false) < count
    assert struct.unpack_from("<H", code, (count - 1) * 8)[0] == seccomp.RET_K


def test_the_header_says_when_there_is_no_seccomp_filter(monkeypatch):
    monkeypatch.setenv("GRADER_SECCOMP", "0")
    box = sandbox.preflight()
    layer = {layer.name: layer for layer in box.layers()}["seccomp"]
    assert not layer.holds and "GRADER_SECCOMP=0" in layer.how
    assert "seccomp: no filter: switched off (GRADER_SECCOMP=0)" in box.summary()


# -- folders handed to the box user -------------------------------------------------------

def root_box(tmp_path):
    """A Sandbox that hands folders to box user 0, as a grader run as root does."""
    if os.geteuid() != 0:
        pytest.skip("folders are handed to a box user only by a grader run as root")
    return sandbox.Sandbox(slot=sandbox.Slot(0, None), as_root=True, setpriv="setpriv")


def test_handing_a_link_to_the_box_leaves_its_target_alone(tmp_path):
    box = root_box(tmp_path)
    target = tmp_path / "precious"
    target.mkdir(mode=0o700)
    (target / "file").write_text("keep me")
    link = tmp_path / "out"
    link.symlink_to(target)
    box.give_to_box(str(link), mode=0o755)
    info = target.stat()
    assert (info.st_uid, info.st_mode & 0o777) == (0, 0o700)
    assert link.lstat().st_uid == 0


def test_an_output_folder_that_is_a_link_is_refused(tmp_path):
    """A student's repository graded in place may commit build/labNN as a
    link: the build stops there, and the link's target keeps its owner."""
    root_box(tmp_path)
    target = tmp_path / "scratch"
    target.mkdir(mode=0o700)
    (target / "file").write_text("keep me")
    out = tmp_path / "lab01"
    out.symlink_to(target)
    build = labs.build(LAB01, str(LAB01.dir / "solution"), str(out), solution=True)
    assert not build.ok and "is a symbolic link" in build.output, build.output
    assert "echo_server" in build.missing
    for path in (target, target / "file"):
        assert path.stat().st_uid == 0, path
    assert target.stat().st_mode & 0o777 == 0o700
    assert labs.linked_folder(str(tmp_path / "real")) is None


# -- the grader's network namespace -------------------------------------------------------

# In the namespaces a grader gets (enclosure.py), leaves a connection in
# TIME_WAIT on every port of a narrowed ephemeral range, as a program that
# closes connections first would, then asks for a port as the grader does
# (bind to port 0). Prints what it saw as JSON.
TIME_WAIT_FILLER = r'''
import errno, json, socket, sys
sys.path.insert(0, sys.argv[1])
from grader import enclosure
got = enclosure.enter_namespaces()
first, last = 40000, 44999
with open("/proc/sys/net/ipv4/ip_local_port_range", "w") as f:
    f.write(f"{first} {last}")
listener = socket.socket()
listener.bind(("127.0.0.1", 30000))
listener.listen(128)
for port in range(first, last + 1):
    client = socket.socket()
    client.bind(("127.0.0.1", port))
    client.connect(("127.0.0.1", 30000))
    server, _ = listener.accept()
    client.close()       # the client's end closes first: it waits in TIME_WAIT
    server.close()
with open("/proc/net/tcp") as f:
    waiting = sum(1 for line in f if line.split()[3] == "06")
try:
    socket.socket().bind(("127.0.0.1", 0))
    bound = "ok"
except OSError as exc:
    bound = errno.errorcode[exc.errno]
print(json.dumps({"enclosure": got, "time_wait": waiting, "bind": bound}))
'''


def test_time_wait_cannot_use_up_the_graders_ports():
    """TIME_WAIT outlives the program that closed the connections: capped
    in the grader's own network namespace, it leaves ports for the tests
    that follow (and the machine's own cap is untouched)."""
    from grader import enclosure
    with open(enclosure.TIME_WAIT_SYSCTL) as f:
        machine = f.read()
    done = subprocess.run([sys.executable, "-I", "-c", TIME_WAIT_FILLER, str(ROOT)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    if not seen["enclosure"].get("net"):
        pytest.skip(f"no network namespace here: {seen['enclosure']}")
    assert seen["enclosure"]["time_wait"] == enclosure.TIME_WAIT_BUCKETS
    assert seen["time_wait"] <= enclosure.TIME_WAIT_BUCKETS
    assert seen["bind"] == "ok", seen
    with open(enclosure.TIME_WAIT_SYSCTL) as f:
        assert f.read() == machine


def test_grading_into_a_linked_output_folder_is_refused(tmp_path):
    """The grade command stops before building, and writes no results
    through the link."""
    target = tmp_path / "scratch"
    target.mkdir()
    out = tmp_path / "out"
    out.symlink_to(target)
    cmd = launch.grader_command("grade", "--lab", "01", "--solution", "1", "--out-dir", str(out))
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env=dict(os.environ, LANGUAGE="en"))
    assert run.returncode == 2, run.stdout + run.stderr
    assert "is a symbolic link" in run.stderr
    assert list(target.iterdir()) == []


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
