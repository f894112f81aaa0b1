"""Batch mode: grade a folder of submissions, several at a time.

    python -m grader batch --lab 05 --subs SUBS [--jobs N] [--out DIR]

SUBS holds one folder per student (any layout inside: the lab's files are
found by name, as on Gradescope). Each submission is graded in its own
child process and temporary folder, with the course's own tests. The
output folder gets results.csv (one row per student: score, course
points, and the points of every test) and, per student, the grader's
report and its results.json.
"""

import csv
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import course as course_plan
from .children import EXIT_INTERRUPTED, ChildGraders
from .labs import UsageError, get_lab
from .submissions import grade_submission, refuse_unless_safe, stage_submission


def grade_one(lab, student_dir, out_dir, children):
    """Grades one student's folder; returns (student, results or None, seconds).
    Whatever goes wrong with one submission, it is that row's "grading
    failed", never the end of the class's batch."""
    start = time.monotonic()
    student = student_dir.name
    target = out_dir / student
    try:
        results, report = stage_and_grade(lab, student_dir, children)
    except Exception as exc:  # noqa: BLE001 - any exception, for this student only
        results, report = None, f"grading failed: {type(exc).__name__}: {exc}"
        print(f"batch: {printable(student)}: {printable(report)}", file=sys.stderr, flush=True)
    try:
        write_reports(target, report, results)
    except OSError as exc:
        print(f"batch: {printable(student)}: could not write the report: {exc}",
              file=sys.stderr, flush=True)
    return student, results, time.monotonic() - start


def stage_and_grade(lab, student_dir, children):
    """(results or None, the report's text) of one submission."""
    prefix = f"batch-{printable(student_dir.name)[:20]}-"
    with tempfile.TemporaryDirectory(prefix=prefix) as workdir:
        src, notes = stage_submission(student_dir, lab, workdir)
        results, log = grade_submission(lab, src, workdir, children)
    return results, "\n".join(notes + [log])


def write_reports(target, report, results):
    """report.txt and results.json. A name in a note may hold bytes that
    are not UTF-8 (a folder called by byte 0xff): written as escapes."""
    target.mkdir(parents=True, exist_ok=True)
    (target / "report.txt").write_text(printable(report), encoding="utf-8")
    if results is not None:
        (target / "results.json").write_text(json.dumps(results, indent=2) + "\n")


def printable(text):
    """text with each byte of a name that was not UTF-8 shown as an
    escape: a folder called by byte 0xff prints as \\xff."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def lab_weight(lab):
    try:
        return course_plan.load().lab(lab.number).points
    except UsageError:
        return None


def write_csv(path, lab, rows, weight):
    test_names = []
    for _, results, _ in rows:
        if results:
            test_names = [t["name"] for t in results["tests"]]
            break
    with open(path, "w", newline="", encoding="utf-8", errors="backslashreplace") as f:
        writer = csv.writer(f)
        writer.writerow(["student", "lab", "score", "max_score", "course_points", "status",
                         "grader_version", "seed", *test_names])
        for student, results, _ in rows:
            student = printable(student)
            if results is None:
                writer.writerow([student, lab.number, 0, "", 0, "grading failed", "", ""])
                continue
            points = {t["name"]: t["earned"] for t in results["tests"]}
            scaled = ""
            if weight is not None and results["max_score"]:
                scaled = round(weight * results["score"] / results["max_score"], 2)
            status = "grader error" if results["grader_errors"] else "ok"
            writer.writerow([student, lab.number, results["score"], results["max_score"], scaled,
                             status, results["grader_version"], results["seed"] or "per test",
                             *[points.get(name, "") for name in test_names]])


def run_batch(lab_number, subs, jobs=None, out=None, unsafe=False):
    lab = get_lab(lab_number)
    subs = Path(subs)
    students = sorted(p for p in subs.iterdir()
                      if p.is_dir() and not p.is_symlink()) if subs.is_dir() else []
    if not students:
        raise UsageError(f"{subs} has no submission folders (one folder per student)")
    out_dir = Path(out or f"batch-lab{lab.number}")
    refuse_unless_safe(unsafe, secrets=[subs, out_dir])
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    jobs = jobs or os.cpu_count() or 1
    start = time.monotonic()
    rows = []
    children = ChildGraders()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(grade_one, lab, student, out_dir, children)
                   for student in students]
        try:
            for done, future in enumerate(futures, start=1):
                student, results, seconds = future.result()
                rows.append((student, results, seconds))
                score = (f"{results['score']}/{results['max_score']}" if results
                         else "grading failed")
                print(f"[{done}/{len(students)}] {printable(student)}: {score} ({seconds:.1f} s)",
                      flush=True)
        except KeyboardInterrupt:
            children.stop()
            pool.shutdown(wait=True, cancel_futures=True)
            # A partial results.csv could pass for a whole one: none is written.
            print(f"batch: interrupted after {len(rows)} of {len(students)} submissions; "
                  f"no results.csv was written (the reports of those graded are in {out_dir})",
                  file=sys.stderr)
            return EXIT_INTERRUPTED
    write_csv(out_dir / "results.csv", lab, rows, lab_weight(lab))
    elapsed = time.monotonic() - start
    print(f"batch: {len(students)} submissions of lab {lab.number} graded in {elapsed:.0f} s "
          f"with {jobs} at a time; results in {out_dir / 'results.csv'}")
    return 0
