"""Grading a student's submission in isolation (Gradescope, batch mode).

The student's files are copied into a fresh folder, and a child grader
(children.py) grades them in the sandbox with the course's own tests,
never tests found in the submission. Its results come back over the
child's results pipe, never from a file.

Staging follows no links: a submission is an upload or a clone, and a
symbolic link in it could name any file of the machine grading it (the
lab's own solution/ among them). Only regular files are copied, each up
to a size cap; a link, a device, a FIFO or a file too large is left out
with a note saying so, and the skeleton's version is graded instead.
"""

import os
import stat
from pathlib import Path

from .children import EXIT_INTERRUPTED
from .i18n import tr
from .labs import ROOT, student_files

GRADING_TIMEOUT = 20 * 60   # seconds for one submission, whatever happens
MAX_FILE_BYTES = 1 << 20    # a student's source file, at most
MAX_FILES_SEEN = 100_000    # entries walked in one submission, at most
MAX_DEPTH = 64              # folders walked down into, at most


def walk(submission):
    """(every entry of the submission, whether some were left out).

    Depth first with a stack of its own (os.walk recurses, and a folder
    nested a thousand deep would end the grader), never into a link, at
    most MAX_DEPTH folders down and MAX_FILES_SEEN entries in all.
    """
    entries, left_out = [], False
    stack = [(Path(submission), 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            with os.scandir(folder) as listing:
                found = sorted(listing, key=lambda entry: entry.name)
        except OSError:
            continue
        for entry in found:
            if len(entries) >= MAX_FILES_SEEN:
                return entries, True
            entries.append(Path(entry.path))
            if entry.is_dir(follow_symlinks=False):
                if depth + 1 < MAX_DEPTH:
                    stack.append((Path(entry.path), depth + 1))
                else:
                    left_out = True
    return entries, left_out


def candidates(entries, name):
    """Every entry called name among a walk's entries, links included."""
    return sorted(path for path in entries if path.name == name)


def find_in_submission(entries, lab, name):
    """The submitted entry for one of the lab's student files, or None.

    Students may upload the bare files or a whole repository; a file under
    the lab's own folder wins over one found elsewhere.
    """
    matches = candidates(entries, name)
    preferred = [m for m in matches if m.parent.name == lab.dir.name]
    chosen = preferred or matches
    return chosen[0] if chosen else None


def copy_regular_file(source, target):
    """Copies source to target if it is a regular file of at most
    MAX_FILE_BYTES, never following a link; returns None, or why not."""
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if os.path.islink(source):
            return "is a symbolic link"
        return f"cannot be read ({exc.strerror})"
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            return "is not a regular file"
        if info.st_size > MAX_FILE_BYTES:
            return f"is larger than {MAX_FILE_BYTES >> 20} MiB"
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        return f"is larger than {MAX_FILE_BYTES >> 20} MiB"
    with open(target, "xb") as out:
        out.write(data)
    return None


def stage_submission(submission, lab, workdir):
    """A folder with the student's files in place; (src, notes)."""
    src = Path(workdir) / "src"
    src.mkdir(parents=True)
    notes = []
    entries, left_out = walk(submission)
    if left_out:
        notes.append(tr("The submission has folders more than {depth} deep or more than "
                        "{count} files and folders: the lab's files were looked for only in "
                        "the first {count}, down to {depth} folders deep.",
                        depth=MAX_DEPTH, count=MAX_FILES_SEEN))
    for name in student_files(lab):
        found = find_in_submission(entries, lab, name)
        why = None
        if found is not None:
            why = copy_regular_file(found, src / name)
            if why is None:
                continue
        copy_regular_file(lab.dir / name, src / name)
        if found is None:
            notes.append(f"{name} was not in the submission: the skeleton's version was graded.")
        else:
            shown = os.path.relpath(found, submission)
            notes.append(f"{name} ({shown}) {why}, so it was left out: the skeleton's version "
                         "was graded.")
    return src, notes


def grade_submission(lab, src, workdir, children):
    """Grades src in a child grader (one of children, a ChildGraders);
    returns (its results or None, its log)."""
    out = Path(workdir) / "out"
    private_tmp = Path(workdir) / "tmp"
    private_tmp.mkdir()
    env = dict(os.environ, TMPDIR=str(private_tmp), NO_COLOR="1")
    args = ["--lab", lab.number, "--solution", "0", "--src-dir", str(src),
            "--out-dir", str(out)]
    outcome = children.run(args, timeout=GRADING_TIMEOUT, cwd=ROOT, env=env)
    log = outcome.output
    if outcome.timed_out:
        return None, log + f"\ngrading stopped after {GRADING_TIMEOUT} s"
    if outcome.code is None or outcome.code == EXIT_INTERRUPTED:
        return None, log + "\ngrading was interrupted"
    problem = outcome.problem()
    if problem is not None:
        return None, log + f"\n{problem}: no score"
    return outcome.results, log


def refuse_unless_safe(unsafe, secrets=()):
    """Batch and Gradescope modes grade strangers' code: as root, they
    refuse to unless the sandbox can drop privileges and hide the course's
    secrets (the results pipe always holds). Raises UsageError with the
    one line that says what to install or enable, unless unsafe."""
    from . import sandbox
    from .labs import UsageError
    if os.geteuid() != 0 or unsafe:
        return
    box = sandbox.preflight(secrets)
    missing = box.missing(("privilege", "view"))
    if missing:
        what = "; ".join(f"{layer.name}: {layer.how}" for layer in missing)
        raise UsageError(f"refusing to grade submissions as root without the sandbox ({what}). "
                         "Install bubblewrap and util-linux (make deps), or pass --unsafe to "
                         "grade anyway (docs/instructors.md#what-the-sandbox-guarantees)")
