"""The grader survives programs that misbehave, diagnoses them precisely,
and leaves nothing behind: no process, no temporary folder, no cgroup.

Each program in misbehaving/ poses as lab 01's echo_server; the test
grades it on one lab test and checks the verdict, the time it cost, and
what is left on the machine afterwards.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import ROOT, grade
from grader import cgroups, labs, launch, processes, sandbox, submissions
from grader.children import ChildGraders

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


def copy_fixture(fixture, tmp_path):
    """Lab 01's reference with fixture.c as its echo_server.c."""
    src = tmp_path / "src"
    shutil.copytree(LAB01.dir / "solution", src)
    shutil.copy(FIXTURES / f"{fixture}.c", src / "echo_server.c")
    shutil.copy(FIXTURES / "tiny_echo.h", src / "tiny_echo.h")
    return src


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


def check_single_result(results, output, kind, words):
    """The one test graded: passed (kind None), or failed with that kind
    and those words in its message. Returns its result."""
    (result,) = results["tests"]
    assert results["grader_errors"] == 0, output
    if kind is None:
        assert result["status"] == "passed", output
    else:
        assert result["status"] == "failed" and result["kind"] == kind, output
        assert words in result["message"], output
    return result


@pytest.mark.parametrize("fixture,test,kind,words,budget", CASES, ids=[c[0] for c in CASES])
def test_misbehaving_program_is_contained(fixture, test, kind, words, budget, tmp_path,
                                         monkeypatch):
    src = copy_fixture(fixture, tmp_path)
    out = tmp_path / "out"
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(private_tmp))

    start = time.monotonic()
    code, results, output = grade(LAB01, "-k", test, src_dir=src, out_dir=out)
    elapsed = time.monotonic() - start

    result = check_single_result(results, output, kind, words)
    assert result["time"] < budget, f"the test took {result['time']:.1f} s:\n{output}"
    assert elapsed < WHOLE_GRADE_LIMIT, f"grading took {elapsed:.1f} s:\n{output}"
    assert processes_running(out) == [], f"processes left behind:\n{output}"
    assert list(private_tmp.iterdir()) == [], "temporary files left behind"


# -- fork bombs ------------------------------------------------------------------
#
# RLIMIT_NPROC does not bind root, so as root only a pids cgroup holds a
# fork bomb. These tests run the bomb only where the grader has one.

BOMB_CASES = [
    # lab test, expected kind (None: passes), words in the message
    ("test_echo_short_text", None, ""),
    ("test_exits_cleanly_on_signals", "crash", "SIGTERM"),
]
BOMB_BUDGET = 5          # seconds the lab test itself may take
SAMPLE_EVERY = 0.002     # seconds between two looks at the graders' cgroups


def pids_home():
    home = cgroups.pids_home()
    if os.geteuid() != 0 or home is None or os.environ.get(cgroups.SWITCH) == "0":
        pytest.skip("no writable pids cgroup here (not root?): a fork bomb would be held "
                    "by RLIMIT_NPROC alone, which counts the user's every process")
    return Path(home)


def bomb_groups(binary_dir, home):
    """(tasks, cap, refused forks) of each program group, among the groups
    (of any grader) that hold a process running a program from
    binary_dir: pids.current, pids.max and the "max" count of
    pids.events."""
    seen = []
    for group in home.glob(f"{cgroups.GROUP_PREFIX}slot*/prog-*"):
        try:
            pids = (group / "cgroup.procs").read_text().split()
            if any(os.readlink(f"/proc/{pid}/exe").startswith(str(binary_dir)) for pid in pids):
                events = dict(line.split() for line in (group / "pids.events").read_text().splitlines())
                seen.append((int((group / "pids.current").read_text()),
                             int((group / "pids.max").read_text()), int(events["max"])))
        except (OSError, ValueError, KeyError):
            pass   # removed meanwhile
    return seen


def grade_watched(test, src, out, home):
    """Grades src on one lab 01 test like conftest.grade, and meanwhile
    reads its programs' cgroups. Returns (results, output, the most
    tasks seen in one group, the caps seen, the most forks one group
    refused)."""
    cmd = launch.grader_command("grade", "--lab", LAB01.number, "--solution", "0", "-k", test,
                                "--src-dir", str(src), "--out-dir", str(out))
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=dict(os.environ, NO_COLOR="1"))
    peak, caps, refused = [0], set(), [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            for tasks, cap, refusals in bomb_groups(out, home):
                peak[0] = max(peak[0], tasks)
                caps.add(cap)
                refused[0] = max(refused[0], refusals)
            time.sleep(SAMPLE_EVERY)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        output, _ = proc.communicate(timeout=WHOLE_GRADE_LIMIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        done.set()
        sampler.join()
    with open(out / "results.json") as f:
        results = json.load(f)
    return results, output, peak[0], caps, refused[0]


@pytest.mark.parametrize("test,kind,words", BOMB_CASES, ids=[c[0] for c in BOMB_CASES])
def test_fork_bomb_is_capped_and_cleaned_up(test, kind, words, tmp_path, monkeypatch):
    home = pids_home()
    src = copy_fixture("fork_bomb", tmp_path)
    out = tmp_path / "out"
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    results, output, peak, caps, refused = grade_watched(test, src, out, home)

    result = check_single_result(results, output, kind, words)
    assert result["time"] < BOMB_BUDGET, f"the test took {result['time']:.1f} s:\n{output}"
    assert "cgroups (" in output and "pids" in output, output
    cap = processes.Limits().processes
    # The bomb met a cap: the fixture serves only after a refused fork.
    # Which cap refused it is not the test's to say: the program's
    # RLIMIT_NPROC (when it runs as a box account) and its pids cgroup
    # both hold it near the same count, and a sampler can miss the moment the
    # group is full or the first refusal the cgroup counts (the test ends
    # and kills the bomb milliseconds later). What every sample can check:
    # each program group is capped at the grader's cap (0 once
    # Cgroup.kill_all has begun), and never holds more tasks than that.
    # Then every process of it is gone.
    assert cap in caps and caps <= {cap, 0}, \
        f"program cgroups capped at {sorted(caps)} tasks, not {cap}:\n{output}"
    assert peak <= cap, f"{peak} tasks in the program's cgroup (cap {cap}, " \
        f"{refused} forks refused):\n{output}"
    assert processes_running(out) == [], f"processes left behind:\n{output}"


def test_pids_cgroup_caps_tasks_and_is_removed():
    """Without a build: a program that tries 40 forks gets the cap's worth."""
    pids_home()
    code = ("import os, sys, time\n"
            "made = 0\n"
            "for _ in range(40):\n"
            "    try:\n"
            "        pid = os.fork()\n"
            "    except OSError:\n"
            "        break\n"
            "    if pid == 0:\n"
            "        os.setsid(); time.sleep(60); os._exit(0)\n"
            "    made += 1\n"
            "print('made', made, flush=True); time.sleep(60)\n")
    workdir = sandbox.current().make_work_dir("forker-")
    proc = processes.Process("forker", [sys.executable, "-c", code], workdir,
                             processes.Limits(processes=10), binds=[(workdir, "rw")]).start()
    groups = [path for _, path in proc.cgroup.dirs]
    try:
        match = proc.wait_for_line(rb"^made (\d+)$", 10, "its count")
        # 10 tasks: bubblewrap's monitor, the program and 8 children.
        assert int(match.group(1)) == 8
        members = proc.cgroup.pids()
        assert len(members) == 10
    finally:
        proc.kill()
        shutil.rmtree(workdir, ignore_errors=True)
    assert not any(os.path.exists(group) for group in groups)
    deadline = time.monotonic() + 5
    while any(_alive(pid) for pid in members):
        assert time.monotonic() < deadline, "a child in its own session survived"
        time.sleep(0.01)
    processes.reap_strays()


# Queues bytes on loopback connections that nobody reads, without
# blocking, until CEILING bytes are queued or the kernel takes no more;
# prints how many it queued.
SOCKET_HOARDER = """
import socket, sys
ceiling = int(sys.argv[1])
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(128)
queued, kept, chunk = 0, [], b"x" * 65536
for _ in range(64):
    client = socket.create_connection(listener.getsockname())
    kept += [client, listener.accept()[0]]
    client.setblocking(False)
    while queued < ceiling:
        try:
            queued += client.send(chunk)
        except BlockingIOError:
            break
    if queued >= ceiling:
        break
print(queued)
"""
HOARD_CAP = 32 << 20            # the group's memory cap
HOARD_CEILING = 3 * HOARD_CAP   # where the hoarder stops: proof enough


def test_socket_buffers_count_against_the_memory_cap():
    """Bytes queued in loopback sockets are memory too: a program capped
    at 32 MiB cannot park three times that in the kernel's buffers."""
    groups = sandbox.current().groups
    if groups is None or "memory" not in groups.controllers:
        pytest.skip("no memory cgroup here")
    group = groups.new_group(8, HOARD_CAP)
    try:
        done = subprocess.run(group.wrap([sys.executable, "-I", "-c", SOCKET_HOARDER,
                                          str(HOARD_CEILING)]),
                              capture_output=True, text=True, timeout=60)
    finally:
        groups.discard(group)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) < HOARD_CAP * 1.25, f"{int(done.stdout) >> 20} MiB queued"


def test_v1_groups_set_a_tcp_limit(tmp_path):
    """Where cgroup v1's memory controller has a TCP counter, the group's
    limit is set on it: without one, v1 charges no socket buffer at all."""
    hierarchy = cgroups.Hierarchy(1, str(tmp_path), ["pids", "memory"])
    for name in ("pids.max", "memory.limit_in_bytes", "memory.kmem.tcp.limit_in_bytes"):
        (tmp_path / name).write_text("max\n")
    group = cgroups.Group([(hierarchy, str(tmp_path))])
    assert cgroups.ProgramGroups._configure(group, 16, 1 << 30)
    assert (tmp_path / "memory.kmem.tcp.limit_in_bytes").read_text() == str(1 << 30)
    (tmp_path / "memory.kmem.tcp.limit_in_bytes").unlink()
    assert cgroups.ProgramGroups._configure(group, 16, 1 << 30)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_without_cgroups_the_header_says_what_caps_processes(tmp_path, monkeypatch):
    """GRADER_CGROUP=0: the rlimits alone, as for a user without a cgroup."""
    monkeypatch.setenv("GRADER_CGROUP", "0")
    src = copy_fixture("forks_children", tmp_path)
    out = tmp_path / "out"
    code, results, output = grade(LAB01, "-k", "test_echo_short_text", src_dir=src,
                                  out_dir=out)
    assert results["tests"][0]["status"] == "passed", output
    assert "rlimits" in output and "cgroups (" not in output, output
    assert processes_running(out) == [], f"processes left behind:\n{output}"


# -- the grader itself stopped -----------------------------------------------------


def signal_once_a_program_runs(cmd, env, binary_dir, signo, stop_within):
    """Starts the grader command cmd, sends it signo as soon as a program
    from binary_dir runs, and returns (exit status, output) once it has
    stopped, which must take under stop_within seconds."""
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=dict(os.environ, **env))
    try:
        deadline = time.monotonic() + WHOLE_GRADE_LIMIT
        while not processes_running(binary_dir):
            assert proc.poll() is None and time.monotonic() < deadline, "no program ever ran"
            time.sleep(0.05)
        proc.send_signal(signo)
        output, _ = proc.communicate(timeout=stop_within)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, output


@pytest.mark.parametrize("signo", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT],
                         ids=["SIGTERM", "SIGHUP", "SIGINT"])
def test_grader_stopped_by_a_signal_cleans_up(signo, tmp_path):
    """A time limit or a closed terminal stops the grader mid-test: the
    program under test and its temporary folder go too, and the exit
    status and message say the score is incomplete."""
    src = copy_fixture("never_announces", tmp_path)
    out = tmp_path / "out"
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    cmd = launch.grader_command("grade", "--lab", LAB01.number, "--solution", "0",
           "-k", "test_echo_short_text", "--src-dir", str(src), "--out-dir", str(out))
    # The program waits silently; the grader waits 3 s for its line.
    code, output = signal_once_a_program_runs(
        cmd, {"NO_COLOR": "1", "TMPDIR": str(private_tmp)}, out, signo, stop_within=30)
    assert code == 130, output
    assert "interrupted after 0 of 1 test;" in output, output
    assert processes_running(out) == [], f"processes left behind:\n{output}"
    assert list(private_tmp.iterdir()) == [], "temporary files left behind"
    with open(out / "results.json") as f:
        assert [t["status"] for t in json.load(f)["tests"]] == ["not run"]


def test_groups_of_killed_graders_are_removed(tmp_path):
    """A grader killed with SIGKILL leaves its cgroups; the next grader
    removes those whose slot no running grader holds."""
    home = pids_home()
    stale = home / f"{cgroups.GROUP_PREFIX}slot{sandbox.SLOTS - 1}"
    (stale / "prog-1").mkdir(parents=True)
    try:
        code, results, output = grade(LAB01, "-k", "test_echo_short_text", solution=True,
                                      out_dir=tmp_path / "out")
        assert results["tests"][0]["status"] == "passed", output
        assert not stale.exists(), f"{stale} is still there"
    finally:
        for path in (stale / "prog-1", stale):
            if path.exists():
                path.rmdir()


def test_batch_stopped_by_a_signal_stops_its_child_graders(tmp_path):
    """Each submission is graded by a child grader in its own session:
    stopping the batch must reach them, and through them the students'
    programs, rather than leave them running."""
    subs = tmp_path / "subs"
    for student in ("alice", "bob"):
        src = copy_fixture("never_announces", subs / student)
        (src / "tiny_echo.h").unlink()
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    out = tmp_path / "out"
    cmd = launch.grader_command("batch", "--lab", LAB01.number, "--subs", str(subs),
           "--jobs", "2", "--out", str(out))
    code, output = signal_once_a_program_runs(
        cmd, {"TMPDIR": str(private_tmp)}, private_tmp, signal.SIGTERM, stop_within=60)
    assert code == 130, output
    assert "interrupted after 0 of 2 submissions" in output, output
    assert processes_running(private_tmp) == [], f"processes left behind:\n{output}"
    assert list(private_tmp.iterdir()) == [], "temporary files left behind"
    assert not (out / "results.csv").exists(), "a partial results.csv passes for a whole one"


def test_a_submission_over_its_time_limit_is_stopped_cleanly(tmp_path, monkeypatch):
    """Past GRADING_TIMEOUT the child grader is stopped, not killed
    outright: it takes the students' programs with it."""
    # Long enough for the build even on a loaded machine: the time limit
    # must strike while a program under test runs.
    monkeypatch.setattr(submissions, "GRADING_TIMEOUT", 8)
    src = copy_fixture("never_announces", tmp_path / "submission")
    workdir = tmp_path / "work"
    workdir.mkdir()
    start = time.monotonic()
    results, log = submissions.grade_submission(LAB01, src, workdir, ChildGraders())
    assert results is None, log
    assert "interrupted after" in log and "grading stopped after 8 s" in log, log
    assert time.monotonic() - start < WHOLE_GRADE_LIMIT
    assert processes_running(workdir) == [], f"processes left behind:\n{log}"
    assert list((workdir / "tmp").iterdir()) == [], "temporary files left behind"
