"""make gradescope: the package, unpacked into a simulated /autograder
tree, grades a submission on its own and writes results.json in
Gradescope's documented shape."""

import json
import os
import shutil
import subprocess
import zipfile

import pytest

from conftest import READY_LABS, ROOT
from grader import handout, labs, launch

TEST_KEYS = {"name", "number", "score", "max_score", "status", "output", "visibility"}


@pytest.fixture(scope="module", params=READY_LABS, ids=[f"lab{l.number}" for l in READY_LABS])
def package(request, tmp_path_factory):
    lab = request.param
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run(launch.grader_command("gradescope", "--lab", lab.number,
                    "--out", str(dist)), cwd=ROOT, check=True, capture_output=True)
    return lab, dist / f"lab{lab.number}-autograder.zip"


def run_autograder(package_zip, submission_files, tmp_path, nested=False):
    root = tmp_path / "autograder"
    with zipfile.ZipFile(package_zip) as zf:
        zf.extractall(root / "source")
    for name in ("run_autograder", "setup.sh"):   # zipfile drops the mode bits
        os.chmod(root / "source" / name, 0o755)
    submission = root / "submission"
    target = submission / "repo" / "labs" / "somewhere" if nested else submission
    target.mkdir(parents=True)
    for path in submission_files:
        shutil.copy(path, target / path.name)
    run = subprocess.run(["bash", str(root / "source" / "run_autograder")], capture_output=True,
                         text=True, env=dict(os.environ, AUTOGRADER_ROOT=str(root)), timeout=900)
    results = json.loads((root / "results" / "results.json").read_text())
    return run, results


def check_shape(results):
    assert isinstance(results["score"], (int, float))
    assert isinstance(results["output"], str)
    assert results["tests"], "no tests in results.json"
    for test in results["tests"]:
        assert TEST_KEYS <= set(test), test
        assert test["status"] in ("passed", "failed")
        assert test["visibility"] in ("visible", "after_due_date")
        assert 0 <= test["score"] <= test["max_score"]
    assert results["score"] == sum(t["score"] for t in results["tests"])


def test_package_holds_no_solution(package):
    lab, zip_path = package
    names = zipfile.ZipFile(zip_path).namelist()
    assert "setup.sh" in names and "run_autograder" in names
    assert not any("solution/" in n or "mutants/" in n for n in names)
    secrets = {handout.sha256(p) for p in (lab.dir / "solution").glob("*.c")
               if not (lab.dir / p.name).exists()
               or handout.sha256(lab.dir / p.name) != handout.sha256(p)}
    with zipfile.ZipFile(zip_path) as zf:
        for name in names:
            import hashlib
            assert hashlib.sha256(zf.read(name)).hexdigest() not in secrets, name


def test_reference_submission_gets_full_marks(package, tmp_path):
    lab, zip_path = package
    files = [lab.dir / "solution" / name for name in labs.student_files(lab)]
    run, results = run_autograder(zip_path, files, tmp_path, nested=True)
    check_shape(results)
    assert all(t["status"] == "passed" for t in results["tests"]), run.stdout
    assert any(t["visibility"] == "after_due_date" for t in results["tests"]) or \
        not (lab.dir / "tests" / "hidden").exists()


def test_skeleton_submission_gets_low_marks(package, tmp_path):
    lab, zip_path = package
    files = [lab.dir / name for name in labs.student_files(lab)]
    run, results = run_autograder(zip_path, files, tmp_path)
    check_shape(results)
    max_score = sum(t["max_score"] for t in results["tests"])
    assert results["score"] < max_score / 4, run.stdout


def test_empty_submission_still_writes_valid_results(package, tmp_path):
    lab, zip_path = package
    if lab != READY_LABS[0]:
        # The path (no file submitted: grade the skeleton, say so) is the
        # same for every lab, and grading a skeleton per lab is done above.
        pytest.skip("checked on the first lab only")
    run, results = run_autograder(zip_path, [], tmp_path)
    check_shape(results)
    assert "was not in the submission" in results["output"]


BORROWING_LABS = [lab for lab in READY_LABS if labs.borrowed_files(lab)]


@pytest.mark.parametrize("lab", BORROWING_LABS, ids=[f"lab{l.number}" for l in BORROWING_LABS])
def test_package_builds_a_lab_that_borrows(lab, tmp_path):
    """The package has no other lab's solution/ to build from: what the lab
    borrows must be in it, and a submission must build with it."""
    subprocess.run(launch.grader_command("gradescope", "--lab", lab.number,
                    "--out", str(tmp_path / "dist")), cwd=ROOT, check=True, capture_output=True)
    source = tmp_path / "source"
    with zipfile.ZipFile(tmp_path / "dist" / f"lab{lab.number}-autograder.zip") as zf:
        zf.extractall(source)
    for dest, src in labs.borrowed_files(lab):
        assert handout.sha256(source / dest) == handout.sha256(ROOT / src), dest
    submission = [lab.dir / "solution" / name for name in labs.student_files(lab)]
    src_dir = tmp_path / "submission"
    src_dir.mkdir()
    for path in submission:
        shutil.copy(path, src_dir / path.name)
    out = tmp_path / "out"
    run = subprocess.run(["make", "-s", "-f", "labs/build.mk",
                          f"LAB_DIR={lab.dir.relative_to(ROOT)}", f"SRC_DIR={src_dir}",
                          f"OUT={out}", "all"], cwd=source, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    for name in [*lab.programs, *(f"tests/{t}" for t in lab.unit_tests)]:
        assert os.access(out / name, os.X_OK), name
