"""Publishing a student repository: `make handout OUT=DIR [WEEK=N | LAB=NN]`.

What goes out: for each released lab its handout, skeleton, provided
headers and public tests, and in borrowed/ the earlier lab's reference
files it builds on (BORROWED_FROM in its lab.mk); the grader; the notes; the Makefile; a README
for students; a GitHub Actions workflow; a manifest of the test files'
hashes. What never goes out: solution/ folders, hidden tests, the
catalogue of mutants (each one is a piece of a solution), the grader's
self-tests, build products, and this course's plan.

Publishing again into the same folder updates everything the instructor
owns and adds newly released labs, but never touches a file the student
edits (a skeleton that is already there), so students who pull the update
keep their work.
"""

import json
import re
import shutil
from pathlib import Path

from . import course as course_plan
from .i18n import DOCS_FOLDER, HANDOUT_SUFFIX
from .labs import (BORROWED_DIR, ROOT, SHARED_BUILD_FILES, borrowed_files, find_labs,
                   read_make_vars, student_files, uses_common)
from .manifest import MANIFEST, sha256

TEMPLATES = ROOT / "grader" / "templates"

# Top-level files and folders that go out whole (instructor-owned).
SHARED_FILES = ["Makefile", ".gitignore", ".clang-format",
                *(f"labs/{name}" for name in SHARED_BUILD_FILES)]
SHARED_TREES = ["labs/common", "docs", "grader"]
# Never published, wherever they are.
NEVER = {"solution", "hidden", "mutants", "__pycache__", ".pytest_cache"}
NEVER_PATHS = {"grader/tests", "grader/bench", "grader/templates", "grader/handout.py",
               "grader/course.py", "grader/gradescope.py", "grader/batch.py",
               "docs/instructors.md", "docs/zh/instructors.md"}


def excluded(rel):
    parts = Path(rel).parts
    if any(part in NEVER for part in parts):
        return True
    return any(rel == p or rel.startswith(p + "/") for p in NEVER_PATHS)


def lab_files(lab):
    """(instructor-owned files, student-owned files) of a released lab, as
    paths relative to the top folder."""
    owned_by_student = {str((lab.dir / name).relative_to(ROOT)) for name in student_files(lab)}
    instructor = []
    for path in sorted(lab.dir.rglob("*")):
        rel = str(path.relative_to(ROOT))
        if path.is_file() and not excluded(rel) and rel not in owned_by_student:
            instructor.append(rel)
    return instructor, sorted(owned_by_student)


BORROWED_README = """# Borrowed from lab {number}

These files are lab {number}'s reference parser and path helpers, given out
once lab {number} is due. This lab builds them as they are (see lab.mk,
BORROWED_SRCS, and labs/build.mk): you do not edit them, and your own lab
{number} files are not used here.
"""


def borrowed_readme(lab):
    """(destination, text) of the README of a lab's borrowed/ folder, or None."""
    origin = read_make_vars(lab.dir / "lab.mk").get("BORROWED_FROM")
    if not origin:
        return None
    dest = lab.dir / BORROWED_DIR / "README.md"
    return str(dest.relative_to(ROOT)), BORROWED_README.format(number=origin[:2])


def shared_files(with_common):
    """Files every handout carries; labs/common only once a released lab
    links it (it holds lab 01's answers)."""
    files = list(SHARED_FILES)
    for tree in SHARED_TREES:
        if tree == "labs/common" and not with_common:
            continue
        for path in sorted((ROOT / tree).rglob("*")):
            rel = str(path.relative_to(ROOT))
            if path.is_file() and not excluded(rel):
                files.append(rel)
    return files


def copy(rel, out):
    dest = Path(out) / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / rel, dest)


MIN_ANSWER_LINE = 20    # shorter lines ("return -1;") prove nothing
# This many answer lines in one file is a leak: a copied function or file
# shares far more.
LEAK_LINES = 10
# The notes teach with code, and share some lines with a reference (6 of
# lab 01's 89, 18 of lab 03's 160 for the SCM_RIGHTS boilerplate that
# cmsg(3) itself shows, measured); a chapter is a leak when it holds this
# share of a lab's answer lines.
LEAK_SHARE_IN_NOTES = 0.25


class LeakError(Exception):
    """Publishing would reveal an answer to a lab that is still open."""


def provided_lines():
    """Every line of every lab's skeletons and provided headers."""
    lines = set()
    for lab in find_labs():
        for path in [*lab.dir.glob("*.c"), *lab.dir.glob("*.h")]:
            lines.update(line.strip() for line in path.read_text().splitlines())
    return lines


def answer_lines(lab, provided=None):
    """Lines of the reference that no skeleton has: the answers."""
    skeleton = provided_lines() if provided is None else provided
    answers = set()
    for path in (lab.dir / "solution").glob("*.c"):
        for line in path.read_text().splitlines():
            line = line.strip()
            if len(line) >= MIN_ANSWER_LINE and line not in skeleton:
                answers.add(line)
    return answers


def find_leaks(out, open_labs):
    """(file, lab) pairs where a file in out holds answers of an open lab."""
    provided = provided_lines()
    answers = {lab.number: answer_lines(lab, provided) for lab in open_labs}
    leaks = []
    for path in sorted(Path(out).rglob("*")):
        if not path.is_file():
            continue
        try:
            lines = {line.strip() for line in path.read_text().splitlines()}
        except UnicodeDecodeError:
            continue
        rel = str(path.relative_to(out))
        for number, lab_answers in answers.items():
            shared = len(lines & lab_answers)
            if rel.startswith("docs/"):
                leaked = shared >= LEAK_SHARE_IN_NOTES * len(lab_answers)
            else:
                leaked = shared >= LEAK_LINES
            if leaked and lab_answers:
                leaks.append((rel, number))
    return leaks


def build_handout(out, week=None, up_to_lab=None):
    """Writes or updates a student repository in out; returns a summary.

    Raises LeakError, after writing, if a published file holds answers to
    a lab that is released but not yet due (or not yet released).
    """
    plan = course_plan.load()
    planned = plan.released(week=week, up_to_lab=up_to_lab)
    released = {lab.number for lab in planned}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    published, kept, instructor_owned = [], [], []

    ready = [lab for lab in find_labs() if lab.ready and lab.number in released]
    for rel in shared_files(any(uses_common(lab) for lab in ready)):
        copy(rel, out)
        instructor_owned.append(rel)
    for lab in find_labs():
        if lab.number in released and lab.ready:
            owned, students = lab_files(lab)
            for rel in owned:
                copy(rel, out)
                instructor_owned.append(rel)
            instructor_owned += _write_borrowed(out, lab)
            for rel in students:
                if (out / rel).exists():
                    kept.append(rel)
                else:
                    copy(rel, out)
            published.append(lab.number)
        else:
            _write_stub(out, lab, plan)
    _write_student_readme(out, plan, published)
    _write_workflow(out, published)
    instructor_owned.append(_write_language(out, plan.language))
    if plan.language != "en":
        _make_primary(out, plan.language, published)
    _write_manifest(out, instructor_owned)
    latest_week = max((lab.week for lab in planned), default=0)
    open_labs = [lab for lab in find_labs() if lab.ready and
                 next((p.due_week for p in plan.labs if p.number == lab.number), 99) > latest_week]
    leaks = find_leaks(out, open_labs)
    if leaks:
        raise LeakError("; ".join(f"{file} holds answers to lab {number}, which is still open"
                                  for file, number in leaks))
    return {"published": published, "kept": kept}


def _write_borrowed(out, lab):
    """Copies what the lab borrows into its borrowed/ folder; returns the
    paths written."""
    written = []
    for dest, src in borrowed_files(lab):
        target = Path(out) / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / src, target)
        written.append(dest)
    readme = borrowed_readme(lab)
    if readme is not None:
        (Path(out) / readme[0]).write_text(readme[1])
        written.append(readme[0])
    return written


def _write_language(out, language):
    """grader/language: the course's language, for the grader to read."""
    rel = "grader/language"
    (Path(out) / rel).write_text(language + "\n")
    return rel


def _make_primary(out, language, published):
    """Makes each published lab's handout in the course's language its
    README.md, with the English one beside it as README.en.md, and points
    the links of both languages' pages at their new names."""
    suffix = HANDOUT_SUFFIX[language]
    for lab in find_labs():
        if lab.number not in published:
            continue
        folder = Path(out) / lab.dir.relative_to(ROOT)
        native, english = folder / f"README{suffix}.md", folder / "README.md"
        if not native.exists():
            continue
        english.replace(folder / "README.en.md")
        native.replace(english)
    for page in Path(out).rglob("*.md"):
        if page == Path(out) / "README.md":
            continue    # the student README, written in the course's language
        text = page.read_text()
        in_translation = (f"/{DOCS_FOLDER[language]}/" in str(page) or
                          (page.name == "README.md" and page.parent.parent.name == "labs"))
        if in_translation:
            new = text.replace(f"README{suffix}.md", "README.md").replace(
                "[English](README.md)", "[English](README.en.md)")
        else:
            new = re.sub(r"(labs/[0-9]{2}-[a-z0-9-]+/)README\.md", r"\1README.en.md", text)
            new = new.replace(f"[中文版](README{suffix}.md)", "[中文版](README.md)") \
                if page.name == "README.en.md" else new
        if new != text:
            page.write_text(new)


def _write_stub(out, lab, plan):
    try:
        week = f"in week {plan.lab(lab.number).week}"
    except course_plan.UsageError:
        week = "later"
    readme = out / lab.dir.relative_to(ROOT) / "README.md"
    readme.parent.mkdir(parents=True, exist_ok=True)
    title = handout_title(lab, "# ")
    readme.write_text(f"{title}\n\nThis lab is released {week}. Pull the course repository "
                      "again then: your work in the other labs is kept.\n")


def handout_title(lab, prefix, language="en"):
    """The handout's title (its first "# " line), in language if it has a
    twin in it."""
    page = lab.dir / ("README.md" if language == "en" else
                      f"README{HANDOUT_SUFFIX[language]}.md")
    if not page.exists():
        page = lab.dir / "README.md"
    if page.exists():
        for line in page.read_text().splitlines():
            if line.startswith("# "):
                return prefix + line[2:].strip()
    return f"{prefix}Lab {lab.number}"


def _write_student_readme(out, plan, published):
    rows = []
    for lab in find_labs():
        planned = next((p for p in plan.labs if p.number == lab.number), None)
        title = handout_title(lab, "", plan.language)
        when = f"week {planned.week}, due week {planned.due_week}" if planned else ""
        state = "released" if lab.number in published else "not yet released"
        link = f"[{title}]({lab.dir.relative_to(ROOT)}/README.md)"
        rows.append(f"| {link} | {when} | {state} |")
    template = TEMPLATES / ("README.student.md" if plan.language == "en" else
                            f"README.student{HANDOUT_SUFFIX[plan.language]}.md")
    text = template.read_text()
    text = text.replace("{course}", plan.name).replace("{labs}", "\n".join(rows))
    first = published[0] if published else "01"
    text = text.replace("{first_lab}", first)
    (out / "README.md").write_text(text)


def _write_workflow(out, published):
    text = (TEMPLATES / "grade.yml").read_text().replace("{labs}", " ".join(published))
    dest = out / ".github" / "workflows" / "grade.yml"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(text)


def _write_manifest(out, instructor_owned):
    """Hashes of the grader and the tests, so that "make grade" can tell a
    student when their copy differs from what was published."""
    watched = [rel for rel in instructor_owned
               if rel.startswith("grader/") or "/tests/" in rel
               or rel in [f"labs/{name}" for name in SHARED_BUILD_FILES]]
    data = {"files": {rel: sha256(Path(out) / rel) for rel in sorted(set(watched))}}
    dest = Path(out) / MANIFEST
    dest.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
