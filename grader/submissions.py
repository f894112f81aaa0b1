"""Grading a student's submission in isolation (Gradescope, batch mode).

The student's files are copied into a fresh copy of the lab, and the
grader runs in a child process with its own temporary folder, using the
course's own tests, never tests found in the submission. The results are
read from the JSON the child writes after every student process is gone.
"""

import json
import os
import shutil
import sys
from pathlib import Path

from .children import EXIT_INTERRUPTED
from .handout import student_files
from .labs import ROOT

GRADING_TIMEOUT = 20 * 60   # seconds for one submission, whatever happens


def find_in_submission(submission, lab, name):
    """The submitted file for one of the lab's student files, or None.

    Students may upload the bare files or a whole repository; a file under
    the lab's own folder wins over one found elsewhere.
    """
    matches = sorted(Path(submission).rglob(name))
    preferred = [m for m in matches if m.parent.name == lab.dir.name]
    chosen = preferred or matches
    return chosen[0] if chosen else None


def stage_submission(submission, lab, workdir):
    """A copy of the lab with the student's files in place; (src, notes)."""
    src = Path(workdir) / "src"
    src.mkdir(parents=True)
    notes = []
    for name in student_files(lab):
        found = find_in_submission(submission, lab, name)
        if found is None:
            shutil.copy(lab.dir / name, src / name)
            notes.append(f"{name} was not in the submission: the skeleton's version was graded.")
        else:
            shutil.copy(found, src / name)
    return src, notes


def grade_submission(lab, src, workdir, children):
    """Runs the grader on src in a child grader (one of children, a
    ChildGraders); returns its results, or None, and its log."""
    out = Path(workdir) / "out"
    private_tmp = Path(workdir) / "tmp"
    private_tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(private_tmp), NO_COLOR="1")
    cmd = [sys.executable, "-m", "grader", "grade", "--lab", lab.number, "--solution", "0",
           "--src-dir", str(src), "--out-dir", str(out)]
    code, log, timed_out = children.run(cmd, timeout=GRADING_TIMEOUT, cwd=ROOT, env=env)
    if timed_out:
        return None, log + f"\ngrading stopped after {GRADING_TIMEOUT} s"
    if code is None or code == EXIT_INTERRUPTED:
        return None, log + "\ngrading was interrupted"
    try:
        return json.loads((out / "results.json").read_text()), log
    except (OSError, ValueError):
        return None, log
