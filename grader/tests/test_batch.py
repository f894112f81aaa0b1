"""Batch mode: a folder of submissions becomes one CSV row per student,
with each student's report beside it."""

import csv
import shutil
import subprocess

import pytest

from conftest import READY_LABS, ROOT
from grader import launch, labs
from grader.labs import borrowed_files, student_files
from grader.submissions import stage_submission


def test_batch_grades_each_student_into_the_csv(tmp_path):
    lab = READY_LABS[0]
    subs = tmp_path / "subs"
    layouts = {"alice": (lab.dir / "solution", subs / "alice"),
               "bob": (lab.dir, subs / "bob"),
               "carol": (lab.dir / "solution", subs / "carol" / "repo" / "labs" / lab.dir.name)}
    for source, target in layouts.values():
        target.mkdir(parents=True)
        for name in student_files(lab):
            shutil.copy(source / name, target / name)
    out = tmp_path / "out"
    run = subprocess.run(launch.grader_command("batch", "--lab", lab.number,
                          "--subs", str(subs), "--jobs", "2", "--out", str(out)),
                         cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    rows = {row["student"]: row for row in csv.DictReader(open(out / "results.csv"))}
    assert set(rows) == {"alice", "bob", "carol"}
    assert rows["alice"]["score"] == rows["alice"]["max_score"] == rows["carol"]["score"]
    assert int(rows["bob"]["score"]) < int(rows["bob"]["max_score"]) / 4
    assert all(row["status"] == "ok" for row in rows.values())
    for student in rows:
        assert (out / student / "report.txt").read_text().strip()
        assert (out / student / "results.json").exists()


BORROWING_LABS = [lab for lab in READY_LABS if borrowed_files(lab)]


@pytest.mark.parametrize("lab", BORROWING_LABS, ids=[f"lab{l.number}" for l in BORROWING_LABS])
def test_a_staged_submission_of_a_lab_that_borrows_builds(lab, tmp_path):
    """Batch mode grades in the course's tree: the borrowed files come from
    the earlier lab's solution/ there, beside the staged submission."""
    subs = tmp_path / "student" / "repo" / "labs" / lab.dir.name
    subs.mkdir(parents=True)
    for name in student_files(lab):
        shutil.copy(lab.dir / "solution" / name, subs / name)
    src, notes = stage_submission(tmp_path / "student", lab, tmp_path / "work")
    assert notes == []
    built = labs.build(lab, src, tmp_path / "out")
    assert built.ok and built.missing == [], built.output
