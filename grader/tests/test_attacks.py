"""Hostile submissions: the sandbox holds in every official way of grading.

Each program in attacks/ poses as lab 01's echo_server.c: a server whose
echo is wrong, plus one attack on the grader (see attacks/attack.h). Each
is graded as a student's submission locally (make grade), in batch mode
beside an honest submission, and through the Gradescope package. Whatever
it tries, it must not raise its own score above the wrong echo's, lower
the honest submission's, put hidden or solution text in any output, or
leave anything behind; and the words an attack prints when it succeeds
("ATTACK: ...") must never appear.
"""

import csv
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from conftest import ROOT, grade
from grader import labs, launch
from grader.labs import student_files

HERE = Path(__file__).parent
ATTACKS_DIR = HERE / "attacks"
LAB01 = labs.get_lab("01")
HIDDEN_TEST = LAB01.dir / "tests" / "hidden" / "test_echo_hidden.py"
SOLUTION_SERVER = LAB01.dir / "solution" / "echo_server.c"
MODES = ["local", "batch", "gradescope"]
GRADE_LIMIT = 300            # seconds for one grading, build included
BOMB_BUILD_SECONDS = 8       # the build time limit the compiler bomb meets
FLOOD_OUTPUT_BYTES = 1 << 20  # the build output limit the warning flood meets

# attack: the words of its own report that mean it worked
ATTACKS = {
    "forge_results": ["ATTACK: wrote", "ATTACK: killed the grader"],
    "escape_cgroup": ["ATTACK: left for", "ATTACK: holds the output", "ATTACK: rewrote"],
    "ptrace_grader": ["ATTACK: attached", "ATTACK: opened the memory"],
    "plant_python": ["ATTACK: planted"],
    "read_hidden": ["ATTACK: read", "LEAK:"],
    "incbin_hidden": ["ATTACK: embedded", "LEAK:"],
    "kill_others": ["ATTACK: killed"],
    "kernel_objects": ["ATTACK: planted", "ATTACK: opened", "ATTACK: made", "ATTACK: cloned",
                       "ATTACK: set up"],
    "outlive": [],
    "litter": [],
    "escape_codes": [],
    "cc_bomb": [],
    "long_port": [],
    "port_overflow": [],
    "fault_log_garbage": [],
}
# attack: words of the report that show its program was graded, where its
# output once made the grader fail instead (a grader error, or a run that
# stopped half way with the tests after it not run)
GRADED_DESPITE = {
    "long_port": "(5000 digits), which no socket can have",
    "port_overflow": "which no socket can have",
    "fault_log_garbage": "faults injected into echo_server",
}


def inline(path, seen=None):
    """The text of a fixture with its own #include "x.h" lines replaced by
    the headers (from attacks/ or misbehaving/): one self-contained file,
    as a student would submit it."""
    out = []
    for line in path.read_text().splitlines():
        match = re.match(r'#include "([^"]+)"', line)
        header = None
        if match:
            name = match.group(1)
            header = ATTACKS_DIR / name
            if not header.exists():
                header = HERE / "misbehaving" / name
        if header is not None and header.exists():
            out.append(inline(header))
        else:
            out.append(line)    # not ours: the lab's own header, say
    return "\n".join(out)


def make_submission(folder, server_text, name="echo_server.c"):
    """A submission: the reference's files, but server_text as
    echo_server.c (or as the file called name)."""
    folder.mkdir(parents=True)
    for other in student_files(LAB01):
        if other != name:
            shutil.copy(LAB01.dir / "solution" / other, folder / other)
    (folder / name).write_text(server_text)
    return folder


def secret_lines():
    """Lines that only the hidden tests or the reference hold: any of them
    in an output is a leak."""
    lines = set()
    skeleton = {line.strip() for line in (LAB01.dir / "echo_server.c").read_text().splitlines()}
    for path in (HIDDEN_TEST, SOLUTION_SERVER):
        for line in path.read_text().splitlines():
            line = line.strip()
            if len(line) >= 30 and line not in skeleton:
                lines.add(line)
    return lines


def programs_running(folder):
    """Pids of live processes whose executable lies under folder."""
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
        if exe.startswith(str(folder)) and state != "Z":
            found.append(int(entry))
    return found


def compilers_running(folder):
    """Pids of live compiler processes working on a file under folder."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().decode(errors="replace")
        except OSError:
            continue
        if ("cc1" in cmd or "gcc" in cmd) and str(folder) in cmd:
            found.append(int(entry))
    return found


# -- grading in each mode ----------------------------------------------------------

@pytest.fixture(scope="module")
def package(tmp_path_factory):
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(launch.grader_command("gradescope", "--lab", LAB01.number, "--out",
                                         str(dist)),
                   cwd=ROOT, check=True, capture_output=True, timeout=GRADE_LIMIT)
    return dist / f"lab{LAB01.number}-autograder.zip"


@pytest.fixture(scope="module")
def honest_score(tmp_path_factory):
    """The wrong echo's own score: what no attack may raise."""
    tmp = tmp_path_factory.mktemp("honest")
    src = make_submission(tmp / "src", inline(ATTACKS_DIR / "wrong_echo.c"))
    _, results, output = grade(LAB01, src_dir=src, out_dir=tmp / "out")
    assert 0 < results["score"] < results["max_score"], output
    return results["score"]


class Graded:
    """What one grading of the attacker produced."""

    def __init__(self, score, max_score, texts, others=None, folders=()):
        self.score = score
        self.max_score = max_score
        self.text = "\n".join(texts)    # everything anyone could read
        self.others = others or {}      # honest student: (score, max)
        self.folders = folders          # where programs were built
        self.planted = []               # Python files found in the course after it


def grade_local(tmp, server_text, env):
    src = make_submission(tmp / "src", server_text)
    out = tmp / "out"
    cmd = launch.grader_command("grade", "--lab", LAB01.number, "--solution", "0",
                                "--src-dir", str(src), "--out-dir", str(out))
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, errors="replace",
                         timeout=GRADE_LIMIT, env=env)
    results_text = (out / "results.json").read_text() if (out / "results.json").exists() else ""
    results = json.loads(results_text) if results_text else {"score": 0, "max_score": 0}
    return Graded(results["score"], results["max_score"], [run.stdout, run.stderr, results_text],
                  folders=[out])


def grade_batch(tmp, server_text, env):
    subs = tmp / "subs"
    make_submission(subs / "attacker", server_text)
    honest = subs / "honest"
    honest.mkdir(parents=True)
    for name in student_files(LAB01):
        shutil.copy(LAB01.dir / "solution" / name, honest / name)
    out = tmp / "batch-out"
    cmd = launch.grader_command("batch", "--lab", LAB01.number, "--subs", str(subs),
                                "--jobs", "2", "--out", str(out))
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, errors="replace",
                         timeout=GRADE_LIMIT, env=env)
    texts = [run.stdout, run.stderr]
    for path in sorted(out.rglob("*")):
        if path.is_file():
            texts.append(path.read_text(errors="replace"))
    rows = {row["student"]: row for row in csv.DictReader(open(out / "results.csv"))}
    score = lambda row: (int(row["score"]), int(row["max_score"] or 0))  # noqa: E731
    attacker, max_score = score(rows["attacker"])
    return Graded(attacker, max_score, texts, others={"honest": score(rows["honest"])},
                  folders=[Path(env["TMPDIR"])])


def grade_gradescope(tmp, server_text, env, package_zip):
    root = tmp / "autograder"
    with zipfile.ZipFile(package_zip) as zf:
        zf.extractall(root / "source")
    for name in ("run_autograder", "setup.sh"):
        os.chmod(root / "source" / name, 0o755)
    make_submission(root / "submission", server_text)
    run = subprocess.run(["bash", str(root / "source" / "run_autograder")], capture_output=True,
                         text=True, errors="replace", timeout=GRADE_LIMIT,
                         env=dict(env, AUTOGRADER_ROOT=str(root)))
    results_text = (root / "results" / "results.json").read_text()
    results = json.loads(results_text)
    max_score = sum(t["max_score"] for t in results["tests"])
    graded = Graded(results["score"], max_score, [run.stdout, run.stderr, results_text],
                    folders=[Path(env["TMPDIR"]), root])
    graded.planted = [p for p in (root / "source").rglob("*")
                      if p.name in ("conftest.py", "tomllib.py")]
    return graded


def grade_in(mode, tmp, server_text, package_zip, extra_env=None):
    private_tmp = tmp / "tmp"
    private_tmp.mkdir()
    env = dict(os.environ, NO_COLOR="1", TMPDIR=str(private_tmp), **(extra_env or {}))
    if mode == "local":
        return grade_local(tmp, server_text, env)
    if mode == "batch":
        return grade_batch(tmp, server_text, env)
    return grade_gradescope(tmp, server_text, env, package_zip)


# -- the attacks -------------------------------------------------------------------

@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_attack_is_blocked(attack, mode, tmp_path, package, honest_score):
    extra_env = {}
    if attack == "cc_bomb":
        extra_env["GRADER_BUILD_SECONDS"] = str(BOMB_BUILD_SECONDS)
    start = time.monotonic()
    graded = grade_in(mode, tmp_path, inline(ATTACKS_DIR / f"{attack}.c"),
                      package if mode == "gradescope" else None, extra_env)
    elapsed = time.monotonic() - start

    assert graded.score <= honest_score, f"{attack} raised its score:\n{graded.text[-4000:]}"
    for words in ATTACKS[attack]:
        assert words not in graded.text, f"{attack} succeeded ({words}):\n{graded.text[-4000:]}"
    for line in secret_lines():
        assert line not in graded.text, f"a hidden or solution line leaked: {line}"
    for name, (score, max_score) in graded.others.items():
        assert score == max_score, f"{attack} lowered {name}'s score to {score}/{max_score}"
    assert "\x1b" not in graded.text, "a raw escape character reached an output"
    for folder in graded.folders:
        assert programs_running(folder) == [], f"{attack} left programs running"
        assert compilers_running(folder) == [], f"{attack} left a compiler running"
    for pattern in ("/tmp/attack-litter-*", "/var/tmp/attack-litter-*",
                    "/dev/shm/attack-litter-*"):
        assert glob.glob(pattern) == [], f"{attack} left {glob.glob(pattern)}"
    for planted in (ROOT / "tomllib.py", LAB01.dir / "tests" / "conftest.py", *graded.planted):
        assert not planted.exists(), f"{attack} planted {planted}"
    if attack == "escape_codes" and mode != "gradescope":
        assert "\\x1b[2J" in graded.text, "the escape sequence should show, escaped"
    if attack == "cc_bomb":
        assert graded.score == 0, graded.text[-3000:]
        assert elapsed < GRADE_LIMIT / 2, f"the compiler bomb took {elapsed:.0f} s"


@pytest.mark.parametrize("attack", sorted(GRADED_DESPITE))
def test_hostile_output_is_graded_not_a_grader_error(attack, tmp_path, honest_score):
    src = make_submission(tmp_path / "src", inline(ATTACKS_DIR / f"{attack}.c"))
    _, results, output = grade(LAB01, src_dir=src, out_dir=tmp_path / "out")
    assert results["grader_errors"] == 0, output
    not_run = [t["name"] for t in results["tests"] if t["status"] == "not run"]
    assert not not_run, f"{attack}: not run: {not_run}\n{output}"
    assert GRADED_DESPITE[attack] in json.dumps(results, ensure_ascii=False), output
    assert results["score"] <= honest_score, output


@pytest.mark.parametrize("mode", ["batch", "gradescope"])
def test_symbolic_links_into_the_course_are_not_followed(mode, tmp_path, package):
    """A submission of links to the reference files, as a student could
    commit them: each is refused, and the skeleton's file graded instead."""
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    env = dict(os.environ, NO_COLOR="1", TMPDIR=str(private_tmp))
    links = tmp_path / "links"
    links.mkdir()
    for name in student_files(LAB01):
        (links / name).symlink_to(LAB01.dir / "solution" / name)
    if mode == "batch":
        out = tmp_path / "out"
        subs = tmp_path / "subs"
        subs.mkdir()
        shutil.copytree(links, subs / "linker", symlinks=True)
        run = subprocess.run(launch.grader_command("batch", "--lab", LAB01.number, "--subs",
                                                   str(subs), "--out", str(out)),
                             cwd=ROOT, capture_output=True, text=True, timeout=GRADE_LIMIT,
                             env=env)
        (row,) = csv.DictReader(open(out / "results.csv"))
        score, max_score = int(row["score"]), int(row["max_score"])
        notes = (out / "linker" / "report.txt").read_text()
    else:
        root = tmp_path / "autograder"
        with zipfile.ZipFile(package) as zf:
            zf.extractall(root / "source")
        os.chmod(root / "source" / "run_autograder", 0o755)
        shutil.copytree(links, root / "submission", symlinks=True)
        run = subprocess.run(["bash", str(root / "source" / "run_autograder")],
                             capture_output=True, text=True, timeout=GRADE_LIMIT,
                             env=dict(env, AUTOGRADER_ROOT=str(root)))
        results = json.loads((root / "results" / "results.json").read_text())
        score = results["score"]
        max_score = sum(t["max_score"] for t in results["tests"])
        notes = results["output"]
    assert score < max_score / 4, run.stdout
    assert "is a symbolic link, so it was left out" in notes, notes


def test_a_failed_build_grades_nothing(tmp_path):
    """Local mode: after a good build, a version that does not compile
    leaves no program behind to be graded in its place."""
    src = make_submission(tmp_path / "src", (LAB01.dir / "solution" / "echo_server.c")
                          .read_text())
    out = tmp_path / "out"
    _, results, output = grade(LAB01, "-k", "test_echo_short_text", src_dir=src, out_dir=out)
    assert results["score"] == results["max_score"] == 5, output
    (src / "echo_server.c").write_text("this is not C\n")
    _, results, output = grade(LAB01, "-k", "test_echo_short_text", src_dir=src, out_dir=out)
    assert results["build_ok"] is False and results["score"] == 0, output
    assert results["tests"][0]["kind"] == "not built", output


def test_the_gradescope_package_holds_only_tracked_files(tmp_path):
    """A file that lies in the course tree but is not tracked (one a
    program could have left there) never goes into a package."""
    clone = tmp_path / "course"
    subprocess.run(["git", "clone", "-q", "--local", "--no-hardlinks", str(ROOT), str(clone)],
                   check=True, timeout=120)
    planted = clone / "labs" / "01-tcp-echo" / "tests" / "conftest.py"
    planted.write_text("raise SystemExit('planted')\n")
    (clone / "tomllib.py").write_text("raise SystemExit('planted')\n")
    dist = tmp_path / "dist"
    command = [sys.executable, "-I", "-B", str(clone / "grader" / "boot.py"), str(clone),
               "grader.__main__", "gradescope", "--lab", "01", "--out", str(dist)]
    subprocess.run(command, cwd=clone, check=True, capture_output=True, timeout=120)
    with zipfile.ZipFile(dist / "lab01-autograder.zip") as zf:
        names = zf.namelist()
    assert "labs/01-tcp-echo/tests/conftest.py" not in names
    assert "tomllib.py" not in names
    assert "labs/01-tcp-echo/tests/test_echo.py" in names


# -- forged unit tests, valgrind and sanitizer reports, a flooded build ---------------

UNIT_FORGERIES = ["unit_constructor", "unit_cmocka_runner", "unit_ifunc", "unit_libc_strcmp",
                  "unit_exit_early", "unit_fake_summary"]


def unit_test_results(folder, util_text):
    """The lab 01 unit tests' results for a submission whose echo_util.c
    is util_text: {test name: (points, kind)}."""
    src = make_submission(folder / "src", util_text, name="echo_util.c")
    _, results, output = grade(LAB01, "-k", "test_unit_", src_dir=src, out_dir=folder / "out")
    assert results["grader_errors"] == 0, output
    return {t["name"]: (t["earned"], t["kind"]) for t in results["tests"]}, output


def forged_util(forgery):
    """echo_util.c for a forgery: the fixture itself where it is a whole
    file, else the skeleton's with the fixture appended."""
    text = inline(ATTACKS_DIR / f"{forgery}.c")
    if '#include "echo_util.h"' in text:
        return text
    return (LAB01.dir / "echo_util.c").read_text() + "\n" + text


@pytest.mark.parametrize("forgery", UNIT_FORGERIES)
def test_unit_tests_cannot_be_forged(forgery, tmp_path):
    """The skeleton's helpers (unwritten) earn no unit test points; code
    that ends the test process early with status 0, replaces cmocka's
    runner or a C library function the test calls, earns none either, and
    the failure says why."""
    skeleton, _ = unit_test_results(tmp_path / "skeleton", (LAB01.dir / "echo_util.c").read_text())
    assert skeleton and all(points == 0 for points, _ in skeleton.values()), skeleton
    forged, output = unit_test_results(tmp_path / "forged", forged_util(forgery))
    assert forged.keys() == skeleton.keys()
    for name, (points, kind) in forged.items():
        assert points == 0, f"{forgery} earned {points} points in {name}:\n{output[-3000:]}"
        assert kind == "unit test failed", f"{name}: {kind}\n{output[-3000:]}"
    assert "were not run" in output or "without cmocka's summary" in output, output[-3000:]


def test_valgrind_and_sanitizer_reports_cannot_be_forged(tmp_path):
    """A leaky server fails the valgrind and sanitizer tests; writing a
    clean summary into valgrind's log (client requests) and suppressing
    LeakSanitizer from inside the program change nothing."""
    scores = {}
    for name, text in (("leaky", "#define NO_ATTACK\n" + inline(ATTACKS_DIR / "leak_forgery.c")),
                       ("forging", inline(ATTACKS_DIR / "leak_forgery.c"))):
        src = make_submission(tmp_path / name / "src", text)
        _, results, output = grade(LAB01, "-k", "test_server_valgrind or test_server_sanitizers",
                                   src_dir=src, out_dir=tmp_path / name / "out")
        assert len(results["tests"]) == 2, output
        assert results["grader_errors"] == 0, output
        scores[name] = {t["name"]: (t["earned"], t["kind"]) for t in results["tests"]}
    assert all(points == 0 for points, _ in scores["leaky"].values()), scores
    assert scores["forging"] == {"test_server_valgrind": (0, "valgrind errors"),
                                 "test_server_sanitizers": (0, "sanitizer errors")}, scores


def test_a_build_that_prints_without_end_is_stopped(tmp_path):
    """Past the cap on the build's messages, the build is stopped and says
    so; what the grader keeps and prints of them stays small."""
    src = make_submission(tmp_path / "src", inline(ATTACKS_DIR / "warning_flood.c"))
    start = time.monotonic()
    _, results, output = grade(LAB01, "-k", "test_echo_short_text", src_dir=src,
                               out_dir=tmp_path / "out",
                               env={"GRADER_BUILD_OUTPUT_BYTES": str(FLOOD_OUTPUT_BYTES)})
    assert "The build printed more than 1 MiB of messages and was stopped" in output, \
        output[-2000:]
    assert results["build_ok"] is False and results["score"] == 0, output[-2000:]
    assert len(output) < FLOOD_OUTPUT_BYTES / 2, f"{len(output)} bytes of report"
    assert time.monotonic() - start < GRADE_LIMIT / 2


def test_a_grader_error_quotes_no_test_source(capsys):
    """A grader error's traceback quotes the test's lines and paths, a
    hidden test's as well: it goes to the grader's log for the course
    staff, never into the student's report."""
    from grader.plugin import classify_failure
    try:
        int("a line only the test's source holds")
    except ValueError as exc:
        kind, message, details = classify_failure(exc, None)
    assert kind == "grader error"
    assert "only the test's source" not in details and __file__ not in details, details
    assert 'File "' not in details, details
    assert "a line only the test's source holds" in capsys.readouterr().err
