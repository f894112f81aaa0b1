"""Every ready lab: the reference earns full marks, the skeleton earns
little and breaks nothing, the unit tests pass on the reference, and both
build without a warning under gcc and clang."""

import shutil
import subprocess

import pytest

from conftest import ROOT, grade


def test_reference_gets_full_marks(lab, tmp_path):
    code, results, output = grade(lab, solution=True, out_dir=tmp_path)
    assert results["grader_errors"] == 0, output
    assert results["score"] == results["max_score"] > 0, output
    assert code == 0, output


SKELETON_FULL_REPORTS = 5   # reports printed in full for an untouched skeleton, at most


def test_skeleton_grades_low_without_grader_errors(lab, tmp_path):
    code, results, output = grade(lab, solution=False, out_dir=tmp_path)
    assert results["grader_errors"] == 0, output
    assert results["score"] < results["max_score"] / 4, output
    assert code == 1, output
    assert all(t["kind"] != "grader error" for t in results["tests"]), output
    # A skeleton's tests mostly fail on the same TODO: the first of each
    # kind is reported in full, the others in a line each.
    full_reports = [line for line in output.splitlines() if line.startswith("    kind:")]
    assert len(full_reports) <= SKELETON_FULL_REPORTS, output


def test_unit_tests_pass_on_reference(lab, tmp_path):
    out = tmp_path / "build"
    subprocess.run(["make", "-s", "-f", "labs/build.mk", f"LAB_DIR={lab.dir}",
                    f"SRC_DIR={lab.dir / 'solution'}", f"OUT={out}", "unit-tests"],
                   cwd=ROOT, check=True)
    for name in lab.unit_tests:
        run = subprocess.run([str(out / "tests" / name)], cwd=ROOT, capture_output=True,
                             text=True, timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
@pytest.mark.parametrize("code", ["solution", "skeleton"])
def test_builds_without_warnings(lab, compiler, code, tmp_path):
    if shutil.which(compiler) is None:
        pytest.fail(f"{compiler} is not installed; run make deps")
    src = lab.dir / "solution" if code == "solution" else lab.dir
    run = subprocess.run(["make", "-s", "-f", "labs/build.mk", f"LAB_DIR={lab.dir}",
                          f"SRC_DIR={src}", f"OUT={tmp_path}", f"CC={compiler}", "WERROR=1"],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


@pytest.mark.parametrize("compiler", ["gcc", "clang"])
def test_common_library_unit_tests(compiler, tmp_path):
    """labs/common, the helpers given to students from lab 02 on."""
    run = subprocess.run(["make", "-s", "-f", "labs/build.mk", "LAB_DIR=labs/common",
                          "SRC_DIR=labs/common", f"OUT={tmp_path}", f"CC={compiler}", "WERROR=1"],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    tests = subprocess.run([str(tmp_path / "tests" / "test_net")], capture_output=True, text=True,
                           timeout=60)
    assert tests.returncode == 0, tests.stdout + tests.stderr


def test_lab_declares_its_student_files(lab):
    """STUDENT_FILES (lab.mk) names what students edit and submit: each a
    skeleton at the lab's root with a reference of the same name."""
    from grader.labs import student_files
    names = student_files(lab)
    assert names, f"{lab.dir.name}/lab.mk has no STUDENT_FILES"
    for name in names:
        assert (lab.dir / name).is_file() and (lab.dir / "solution" / name).is_file(), name
