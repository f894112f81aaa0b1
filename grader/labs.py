"""Where the labs are, what they build, and building them.

A lab is a folder labs/NN-name; it is ready once it has a lab.mk saying
what to build. Student code is built from the lab folder into build/labNN/,
the reference from solution/ into build/labNN/solution/.
"""

import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from .i18n import tr

ROOT = Path(__file__).resolve().parent.parent
LABS_DIR = ROOT / "labs"
BUILD_DIR = ROOT / "build"
CURRENT_FILE = BUILD_DIR / "current"


EXIT_USAGE = 2   # the grader's exit status for a usage mistake


class UsageError(Exception):
    """A mistake in what the user asked for: printed, exit status 2."""


@dataclass
class Lab:
    number: str
    dir: Path
    title: str = ""
    programs: list = field(default_factory=list)
    unit_tests: list = field(default_factory=list)

    @property
    def ready(self):
        return (self.dir / "lab.mk").is_file()

    def src_dir(self, solution):
        return self.dir / "solution" if solution else self.dir

    def out_dir(self, solution):
        base = BUILD_DIR / f"lab{self.number}"
        return base / "solution" if solution else base


def read_make_vars(path):
    """The simple NAME := value lines of a lab.mk."""
    values = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:?=\s*(.*)$", line)
        if m:
            values[m.group(1)] = m.group(2).strip()
    return values


def find_labs():
    labs = []
    for d in sorted(LABS_DIR.glob("[0-9][0-9]-*")):
        lab = Lab(d.name[:2], d)
        if lab.ready:
            values = read_make_vars(d / "lab.mk")
            lab.title = values.get("LAB_TITLE", d.name)
            lab.programs = values.get("PROGRAMS", "").split()
            lab.unit_tests = values.get("UNIT_TESTS", "").split()
        labs.append(lab)
    return labs


def get_lab(number):
    number = str(number).zfill(2)
    for lab in find_labs():
        if lab.number == number:
            if not lab.ready:
                raise UsageError(tr("lab {number} ({relpath}) is not available yet; its README.md "
                                    "says what is coming",
                                    number=number, relpath=os.path.relpath(lab.dir, ROOT)))
            return lab
    known = ", ".join(lab.number for lab in find_labs() if lab.ready)
    raise UsageError(tr("there is no lab {number}; labs you can grade: {known}",
                        number=number, known=known))


def student_files(lab):
    """The files a student edits in a lab: STUDENT_FILES in its lab.mk."""
    return sorted(read_make_vars(lab.dir / "lab.mk").get("STUDENT_FILES", "").split())


def uses_common(lab):
    return bool(read_make_vars(lab.dir / "lab.mk").get("COMMON_SRCS"))


BORROWED_DIR = "borrowed"
# Files of labs/ every lab's build reads: the rules, and the unit tests'
# shared cmocka glue. Every handout and autograder package carries them.
SHARED_BUILD_FILES = ["build.mk", "unit_cases.h"]


def borrowed_files(lab):
    """(destination, source) pairs, relative to the top folder, of what a
    lab borrows from an earlier lab's reference (BORROWED_FROM in its
    lab.mk): the NAME_BORROWED_SRCS from that lab's solution/ and that
    lab's headers, all in this lab's borrowed/ folder. Empty for a lab
    that borrows nothing."""
    values = read_make_vars(lab.dir / "lab.mk")
    origin = values.get("BORROWED_FROM")
    if not origin:
        return []
    source_dir = lab.dir.parent / origin
    names = sorted({name for var, text in values.items() if var.endswith("_BORROWED_SRCS")
                    for name in text.split()})
    pairs = [(source_dir / "solution" / name) for name in names]
    pairs += sorted(source_dir.glob("*.h"))
    dest = lab.dir / BORROWED_DIR
    return [(str((dest / src.name).relative_to(ROOT)), str(src.relative_to(ROOT)))
            for src in pairs]


STEP_HEADING = re.compile(r"^## Step (\d+) — (.+?)\s*$", re.M)


# In a translated handout each heading keeps the English anchor above it:
# <a id="step-1--listening"></a> then "## 第 1 步：监听".
TWIN_STEP_HEADING = re.compile(r'^<a id="step-(\d+)--[^"]*"></a>\n## (?:第\s*\d+\s*步[：:]\s*|.*?— )?'
                               r'(.+?)\s*$', re.M)


def step_titles(lab):
    """{step number: title} from the handout's "## Step N — Title" headings,
    in the student's language where the handout has a twin in it."""
    from .i18n import HANDOUT_SUFFIX, language
    code = language()
    twin = lab.dir / f"README{HANDOUT_SUFFIX[code]}.md" if code else None
    if twin is not None and twin.exists():
        found = {int(n): title for n, title in TWIN_STEP_HEADING.findall(twin.read_text())}
        if found:
            return found
    try:
        text = (lab.dir / "README.md").read_text()
    except OSError:
        return {}
    return {int(number): title for number, title in STEP_HEADING.findall(text)}


def tests_matching(name_part):
    """{lab number: [test names]} of the labs whose tests' names contain
    name_part (read from the test files, without running them)."""
    found = {}
    for lab in find_labs():
        if not lab.ready:
            continue
        names = set()
        for path in sorted((lab.dir / "tests").rglob("test_*.py")):
            names.update(re.findall(r"^def (test_\w+)\(", path.read_text(), re.M))
        matching = sorted(n for n in names if name_part in n)
        if matching:
            found[lab.number] = matching
    return found


def read_current():
    """(lab number, solution flag) remembered by the last "make labNN"."""
    try:
        text = CURRENT_FILE.read_text()
    except OSError:
        return None, False
    values = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    return values.get("LAB"), values.get("SOLUTION") == "1"


@dataclass
class BuildResult:
    ok: bool
    output: str
    missing: list


def build(lab, src_dir, out, targets=("all", "asan"), solution=False):
    """Builds a lab with make -k, so one broken program does not stop the
    rest: its programs, its unit tests, and the programs again with
    AddressSanitizer and UBSan (in OUT/asan/).

    The build runs in the sandbox, like every program a test starts: the
    compiler reads the submission's code, and what it reads, writes and
    runs is the submission's to choose (an #include of any path, an
    .incbin of a hidden test, a self-including file that grows without
    end). It sees the lab's public files and src_dir read-only, writes
    only out, and is killed, compiler and all, past sandbox.BUILD_SECONDS.
    """
    from . import sandbox    # not at the top: sandbox imports nothing from here
    box = sandbox.current()
    src_dir, out = os.path.abspath(src_dir), os.path.abspath(out)
    linked = linked_folder(out)
    if linked is not None:
        # As root, the grader hands the output folder to the box user:
        # through a link, that would be whatever folder the link names.
        return BuildResult(False, tr("{path} is a symbolic link: the grader builds only into "
                                     "a real folder; remove the link", path=linked) + "\n",
                           [*lab.programs, *(f"tests/{t}" for t in lab.unit_tests)])
    os.makedirs(out, exist_ok=True)
    _give_tree_to_box(box, out)
    cmd = ["make", "--no-print-directory", "-k", "-f", "labs/build.mk",
           f"LAB_DIR={os.path.relpath(lab.dir, ROOT)}", f"SRC_DIR={src_dir}",
           f"OUT={out}", "SANITIZE=0", *targets]
    proc = sandbox.run_sandboxed(box, cmd, build_view(lab, src_dir, out, solution), str(ROOT),
                                 seconds=sandbox.BUILD_SECONDS, memory=sandbox.BUILD_MEMORY,
                                 tasks=sandbox.BUILD_TASKS)
    out = Path(out)
    wanted = [out / p for p in lab.programs] + [out / "tests" / t for t in lab.unit_tests]
    if list(targets) == ["tsan"]:
        wanted = []
    missing = [str(p.relative_to(out)) for p in wanted if not os.access(p, os.X_OK)]
    output = proc.output
    if proc.timed_out:
        output += (f"\nThe build took more than {sandbox.BUILD_SECONDS} s and was stopped, "
                   "compiler and all.\n")
    if proc.flooded:
        output += "\n" + tr("The build printed more than {mib} MiB of messages and was stopped, "
                            "compiler and all: a source file asks for that many warnings or "
                            "errors.", mib=sandbox.BUILD_OUTPUT_BYTES >> 20) + "\n"
    ok = proc.returncode == 0 and not proc.timed_out and not proc.flooded
    return BuildResult(ok, output, missing)


def existing_build(lab, out):
    """The programs already built in out, as a BuildResult (no build run)."""
    out = Path(out)
    wanted = [out / p for p in lab.programs] + [out / "tests" / t for t in lab.unit_tests]
    missing = [str(p.relative_to(out)) for p in wanted if not os.access(p, os.X_OK)]
    return BuildResult(not missing, "", missing)


def build_view(lab, src_dir, out, solution):
    """What the build may see of the course: the lab's public files, the
    shared build rules and unit-test glue, labs/common where the lab links it, what it
    borrows from an earlier lab's reference, the code being graded
    (read-only) and out (writable). Never a solution/ of its own lab
    (unless that is what is graded), never tests/hidden/."""
    binds = [(str(LABS_DIR / name), "ro") for name in SHARED_BUILD_FILES]
    binds.append((str(lab.dir), "ro"))
    if uses_common(lab):
        binds.append((str(LABS_DIR / "common"), "ro"))
    if not (lab.dir / "borrowed").is_dir():
        binds += [(str(ROOT / source), "ro") for _, source in borrowed_files(lab)]
    for secret in (lab.dir / "solution", lab.dir / "tests" / "hidden"):
        if secret.is_dir() and not (solution and secret == lab.dir / "solution"):
            binds.append((str(secret), "hide"))
    if src_dir != str(lab.dir):
        binds.append((src_dir, "ro"))
    binds.append((out, "rw"))
    if not solution and os.path.isdir(os.path.join(out, "solution")):
        binds.append((os.path.join(out, "solution"), "hide"))
    return binds


def linked_folder(out):
    """out, or a folder above it inside the course, when it is a symbolic
    link (a student's repository may commit build/ or build/labNN as
    one); else None."""
    path = Path(out)
    while True:
        if path.is_symlink():
            return path
        if path == ROOT or ROOT not in path.parents:
            return None
        path = path.parent


def _give_tree_to_box(box, top):
    """Makes top and everything in it the box user's, so that its build can
    replace files an earlier build (under another box user) left."""
    box.give_to_box(top, mode=0o755)
    for folder, dirs, files in os.walk(top):
        if os.path.relpath(folder, top).split(os.sep)[0] == "solution":
            continue
        for name in dirs + files:
            box.give_to_box(os.path.join(folder, name), mode=None)


def grader_version():
    """The git commit of the grader, with "+changes" if the tree is modified."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return "unknown"
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "grader", "labs/*/tests"],
                               cwd=ROOT, capture_output=True, text=True, timeout=5)
        return commit.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
