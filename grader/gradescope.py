"""Gradescope: build an autograder package, and run it on a submission.

    make gradescope LAB=05       ->  dist/lab05-autograder.zip

The zip holds, at its root, Gradescope's two required files (setup.sh and
run_autograder) and the course tree needed to grade one lab: the grader,
the lab's skeleton, headers and tests, hidden tests included, and never a
solution of the lab itself (an earlier lab's reference that it builds on,
BORROWED_FROM in its lab.mk, goes into its borrowed/ folder, as in a
handout). Gradescope unpacks it into /autograder/source; for each
submission, run_autograder calls "python -m grader gradescope-run", which
puts the student's files into a fresh copy of the lab, grades it with the
course's own tests (never with tests from the submission), and writes
/autograder/results/results.json. AUTOGRADER_ROOT replaces /autograder
for testing.
"""

import json
import os
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

from . import course as course_plan
from .children import ChildGraders
from .handout import borrowed_readme
from .labs import ROOT, SHARED_BUILD_FILES, UsageError, borrowed_files, get_lab, uses_common
from .reports import failure_text
from .submissions import grade_submission, refuse_unless_safe, stage_submission
SHARED = ["Makefile", *(f"labs/{name}" for name in SHARED_BUILD_FILES), "grader"]
# The instructor-only parts of the grader that grading does not need.
NOT_PACKAGED = ("grader/tests", "grader/bench", "grader/templates", "grader/mutants")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
cd "$(dirname "$0")"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \\
    $(sed '/^# -- only for/q' grader/packages.txt | grep -v '^#')
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope runs this for each submission.
root=${{AUTOGRADER_ROOT:-/autograder}}
cd "$root/source" || exit 1
exec sh grader/python -m grader gradescope-run --lab {lab} \\
    --submission "$root/submission" --results "$root/results/results.json"
"""


def _packaged(rel):
    if any(rel == p or rel.startswith(p + "/") for p in NOT_PACKAGED):
        return False
    parts = Path(rel).parts
    return "solution" not in parts and "__pycache__" not in parts


def tracked_files():
    """The files the course's repository tracks (git ls-files): a file
    that only happens to lie in the tree (a build product, a file a
    program left) never goes into a package."""
    try:
        done = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True,
                              timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise UsageError(f"cannot list the course's tracked files with git: {exc}") from exc
    if done.returncode != 0:
        raise UsageError("make gradescope packs only the files git tracks, and "
                         f"{ROOT} is not a git repository")
    return {name for name in done.stdout.decode().split("\0") if name}


def package_files(lab):
    """Paths (relative to the top folder) that go into the package."""
    tracked = tracked_files()
    files = []
    trees = [*SHARED, str(lab.dir.relative_to(ROOT))]
    if uses_common(lab):
        trees.append("labs/common")
    for entry in trees:
        path = ROOT / entry
        candidates = [path] if path.is_file() else sorted(path.rglob("*"))
        for item in candidates:
            rel = str(item.relative_to(ROOT))
            if rel in tracked and item.is_file() and not item.is_symlink() and _packaged(rel):
                files.append(rel)
    return files


def build_package(lab_number, dist):
    lab = get_lab(lab_number)
    dist = Path(dist)
    dist.mkdir(parents=True, exist_ok=True)
    target = dist / f"lab{lab.number}-autograder.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel in package_files(lab):
            zf.write(ROOT / rel, rel)
        # An earlier lab's reference the lab builds on, as in a handout.
        tracked = tracked_files()
        for dest, src in borrowed_files(lab):
            if src not in tracked:
                raise UsageError(f"{src} (borrowed by lab {lab.number}) is not tracked by git")
            zf.write(ROOT / src, dest)
        readme = borrowed_readme(lab)
        if readme is not None:
            zf.writestr(readme[0], readme[1])
        # The course's language: Gradescope's reports are written in it.
        zf.writestr("grader/language", course_plan.load().language + "\n")
        _add_script(zf, "setup.sh", SETUP_SH)
        _add_script(zf, "run_autograder", RUN_AUTOGRADER.format(lab=lab.number))
    return target


def _add_script(zf, name, text):
    info = zipfile.ZipInfo(name)
    info.external_attr = 0o755 << 16   # executable once unpacked
    zf.writestr(info, text)


# -- running on a submission ---------------------------------------------------

def to_gradescope(results, notes, elapsed):
    """Gradescope's results.json from the grader's own results."""
    tests = []
    for number, t in enumerate(results["tests"], start=1):
        tests.append({
            "name": t["title"],
            "number": str(number),
            "score": t["earned"],
            "max_score": t["max_points"],
            "status": "passed" if t["status"] == "passed" else "failed",
            "output": (failure_text(t, results) if t["status"] == "failed" else
                       "skipped: " + t["message"] if t["status"] == "skipped" else ""),
            "visibility": "after_due_date" if t["hidden"] else "visible",
        })
    summary = [f"Score: {results['score']}/{results['max_score']}",
               f"grader {results['grader_version']}, seed {results['seed'] or 'fixed per test'}"]
    if not results["build_ok"]:
        summary.append("The build failed; not built: " + ", ".join(results["not_built"]))
    return {
        "score": results["score"],
        "execution_time": int(elapsed),
        "output": "\n".join(notes + summary),
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def hide_secrets_by_permissions():
    """Where bubblewrap cannot run (a container without the privileges for
    namespaces), the box user must at least be unable to read the hidden
    tests: they go root-only here, in the package's own copy."""
    for hidden in (ROOT / "labs").glob("*/tests/hidden"):
        os.chmod(hidden, 0o700)


def run_on_submission(lab_number, submission, results_path, unsafe=False):
    lab = get_lab(lab_number)
    start = time.monotonic()
    path = Path(results_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        hide_secrets_by_permissions()
    try:
        refuse_unless_safe(unsafe)
    except UsageError as exc:
        print(f"gradescope: {exc}")
        _write(path, {"score": 0, "output": "The autograder could not grade safely on this "
                      "machine; the course staff can see why in its log.",
                      "stdout_visibility": "hidden", "tests": []})
        return 1
    children = ChildGraders()
    with tempfile.TemporaryDirectory(prefix="gradescope-") as workdir:
        try:
            src, notes = stage_submission(submission, lab, workdir)
            results, log = grade_submission(lab, src, workdir, children)
        except KeyboardInterrupt:   # Gradescope's time limit: SIGTERM
            children.stop()
            raise
        except Exception as exc:  # noqa: BLE001 - results.json is written whatever happened
            results, notes = None, []
            log = f"grading failed: {type(exc).__name__}: {exc}"
    print(log.encode("utf-8", "backslashreplace").decode("utf-8"))
    if results is None:
        data = {"score": 0, "output": "The grader could not finish; the course staff has "
                "been shown its log.", "stdout_visibility": "hidden", "tests": []}
    else:
        data = to_gradescope(results, notes, time.monotonic() - start)
    _write(path, data)
    return 0 if results is not None else 1


def _write(path, data):
    path.write_text(json.dumps(data, indent=2) + "\n")


def check_lab(lab_number):
    if lab_number in (None, "", "all"):
        raise UsageError("name the lab: make gradescope LAB=NN")
    return lab_number


__all__ = ["build_package", "run_on_submission", "check_lab"]
