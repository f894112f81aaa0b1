"""make handout: what students get holds no solution, no hidden test and
no mutant (checked by content), builds and grades on its own, and
re-publishing keeps the student's work."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import READY_LABS, ROOT
from grader import course, handout, labs, launch


def publish(out, *args):
    run = subprocess.run(launch.grader_command("handout", "--out", str(out), *args),
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    return run.stdout


def files_of(tree):
    return [p for p in Path(tree).rglob("*") if p.is_file()]


@pytest.fixture(scope="module")
def full_handout(tmp_path_factory):
    out = tmp_path_factory.mktemp("handout")
    publish(out, "--week", "99")
    return out


def test_no_solution_hidden_test_or_mutant_by_content(full_handout):
    secret = {}
    for lab in READY_LABS:
        for path in [*(lab.dir / "solution").rglob("*"), *(lab.dir / "tests" / "hidden").rglob("*")]:
            provided_twin = lab.dir / path.name
            if path.parent.name == "solution" and provided_twin.exists() and \
                    handout.sha256(provided_twin) == handout.sha256(path):
                continue  # a provided file mirrored for the reference build
            if path.is_file():
                secret[handout.sha256(path)] = path
    for path in (ROOT / "grader" / "mutants").glob("*"):
        secret[handout.sha256(path)] = path
    hidden_names = set()
    for lab in READY_LABS:
        for path in (lab.dir / "tests" / "hidden").glob("*.py"):
            hidden_names.update(line.split("(")[0][4:] for line in path.read_text().splitlines()
                                if line.startswith("def test_"))
    # An earlier lab's reference that a lab builds on goes out in its borrowed/.
    borrowed = {dest: src for lab in READY_LABS for dest, src in labs.borrowed_files(lab)}
    for path in files_of(full_handout):
        rel = path.relative_to(full_handout)
        assert "solution" not in rel.parts and "hidden" not in rel.parts, rel
        if str(rel) in borrowed:
            assert handout.sha256(path) == handout.sha256(ROOT / borrowed[str(rel)]), rel
            continue
        assert handout.sha256(path) not in secret, f"{rel} is a copy of {secret[handout.sha256(path)]}"
        text = path.read_text(errors="replace")
        for name in hidden_names:
            assert name not in text, f"{rel} names the hidden test {name}"


def test_no_open_lab_answers_in_any_week(tmp_path):
    plan = course.load()
    for week in range(1, max(lab.week for lab in plan.labs) + 1):
        out = tmp_path / f"week{week}"
        publish(out, "--week", str(week))   # exits non-zero on a leak
        open_labs = [lab for lab in READY_LABS
                     if next(p.due_week for p in plan.labs if p.number == lab.number) > week]
        assert handout.find_leaks(out, open_labs) == []


def test_instructor_pages_stay_out(full_handout):
    # The instructors' page, in either language, describes the hidden tests
    # and the grading set-up: it is for this repository only.
    for rel in ("docs/instructors.md", "docs/zh/instructors.md"):
        assert (ROOT / rel).exists(), rel
        assert not (full_handout / rel).exists(), f"{rel} was published"


def test_student_readme_links_resolve(full_handout):
    from test_docs import check_links
    check_links(full_handout / "README.md", full_handout)
    assert "{" not in (full_handout / "README.md").read_text()


def test_a_planted_leak_is_found(tmp_path):
    lab = READY_LABS[0]
    publish(tmp_path, "--lab", lab.number)
    biggest = max((lab.dir / "solution").glob("*.c"), key=lambda p: p.stat().st_size)
    shutil.copy(biggest, tmp_path / "labs" / "notes.c")
    text = "\n".join(f"    {line}" for line in
                     b"".join(p.read_bytes() for p in (lab.dir / "solution").glob("*.c"))
                     .decode().splitlines())
    (tmp_path / "docs" / "appendix.md").write_text("Example:\n\n" + text + "\n")
    leaks = handout.find_leaks(tmp_path, [lab])
    assert ("labs/notes.c", lab.number) in leaks
    assert ("docs/appendix.md", lab.number) in leaks


def test_handout_builds_and_grades_without_grader_errors(full_handout):
    env = dict(os.environ, NO_COLOR="1")
    for lab in READY_LABS:
        run = subprocess.run(["make", "-s", "grade", f"LAB={lab.number}"], cwd=full_handout,
                             capture_output=True, text=True, env=env, timeout=600)
        assert run.returncode != 0, run.stdout + run.stderr   # points lost (make reports 2)
        results = json.loads((full_handout / "build" / f"lab{lab.number}" / "results.json").read_text())
        assert results["grader_errors"] == 0, run.stdout
        assert results["official"] is True
        assert not any(t["hidden"] for t in results["tests"])


def test_republishing_keeps_student_work(tmp_path):
    first = READY_LABS[0]
    publish(tmp_path, "--lab", first.number)
    student_file = next(p for p in (tmp_path / first.dir.relative_to(ROOT)).glob("*.c"))
    student_file.write_text("/* the student's work */\n")
    output = publish(tmp_path, "--week", "99")
    assert student_file.read_text() == "/* the student's work */\n"
    assert "kept the existing" in output
    for lab in READY_LABS:
        assert (tmp_path / lab.dir.relative_to(ROOT) / "lab.mk").exists()


def test_edited_tests_make_the_score_unofficial(tmp_path):
    lab = READY_LABS[0]
    publish(tmp_path, "--lab", lab.number)
    test_file = next((tmp_path / lab.dir.relative_to(ROOT) / "tests").glob("test_*.py"))
    test_file.write_text(test_file.read_text() + "\n# edited\n")
    run = subprocess.run(["make", "-s", "grade", f"LAB={lab.number}", "T=unit"], cwd=tmp_path,
                         capture_output=True, text=True, env=dict(os.environ, NO_COLOR="1"))
    assert "Unofficial score" in run.stdout, run.stdout
    results = json.loads((tmp_path / "build" / f"lab{lab.number}" / "results.json").read_text())
    assert results["official"] is False


BORROWING_LABS = [lab for lab in READY_LABS if labs.borrowed_files(lab)]


@pytest.mark.parametrize("lab", BORROWING_LABS, ids=[f"lab{l.number}" for l in BORROWING_LABS])
def test_borrowed_sources_go_out_and_build(full_handout, lab, tmp_path):
    for dest, src in labs.borrowed_files(lab):
        assert handout.sha256(full_handout / dest) == handout.sha256(ROOT / src), dest
    assert (full_handout / handout.borrowed_readme(lab)[0]).is_file()
    # The handout has no solution/ to fall back on: the build must use borrowed/.
    rel = lab.dir.relative_to(ROOT)
    run = subprocess.run(["make", "-s", "-f", "labs/build.mk", f"LAB_DIR={rel}",
                          f"SRC_DIR={lab.dir / 'solution'}", f"OUT={tmp_path}", "all"],
                         cwd=full_handout, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    for name in lab.programs:
        assert os.access(tmp_path / name, os.X_OK), name
    for name in lab.unit_tests:
        unit = subprocess.run([str(tmp_path / "tests" / name)], capture_output=True, text=True,
                              timeout=60)
        assert unit.returncode == 0, unit.stdout + unit.stderr


@pytest.mark.parametrize("lab", BORROWING_LABS, ids=[f"lab{l.number}" for l in BORROWING_LABS])
def test_borrowed_sources_wait_until_their_lab_is_due(lab, tmp_path, monkeypatch):
    real = course.load()
    origin = handout.read_make_vars(lab.dir / "lab.mk")["BORROWED_FROM"][:2]
    release = real.lab(lab.number).week
    labs = [course.PlannedLab(p.number, p.week, release + 1 if p.number == origin else p.due_week,
                              p.points) for p in real.labs]
    monkeypatch.setattr(course, "load", lambda: course.Course(real.name, real.start, labs))
    with pytest.raises(handout.LeakError) as refused:
        handout.build_handout(tmp_path, up_to_lab=lab.number)
    borrowed_dir = str(lab.dir.relative_to(ROOT) / handout.BORROWED_DIR)
    assert f"{borrowed_dir}/" in str(refused.value)
    assert f"lab {origin}" in str(refused.value)


def test_lab05_bench_measures_the_students_code(full_handout):
    # A handout has no solution/: lab 05's benchmark builds and measures
    # the student's own server (here the skeleton, which answers nothing).
    if shutil.which("wrk") is None:
        pytest.skip("wrk is not installed (make deps)")
    lab = full_handout / "labs" / "05-http-server"
    run = subprocess.run(["sh", str(lab / "bench" / "bench.sh"), "1"], cwd=full_handout,
                         capture_output=True, text=True, timeout=120)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    assert "bench: %s\n" % lab in output, output
    assert all(name in output for name in ("index.html", "64k.bin", "1m.bin")), output
