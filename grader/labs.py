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

ROOT = Path(__file__).resolve().parent.parent
LABS_DIR = ROOT / "labs"
BUILD_DIR = ROOT / "build"
CURRENT_FILE = BUILD_DIR / "current"


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
                raise UsageError(f"lab {number} ({os.path.relpath(lab.dir, ROOT)}) is not "
                                 f"available yet; its README.md says what is coming")
            return lab
    known = ", ".join(lab.number for lab in find_labs() if lab.ready)
    raise UsageError(f"there is no lab {number}; labs you can grade: {known}")


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


def build(lab, src_dir, out):
    """Builds a lab with make -k, so one broken program does not stop the
    rest: its programs, its unit tests, and the programs again with
    AddressSanitizer and UBSan (in OUT/asan/)."""
    cmd = ["make", "--no-print-directory", "-k", "-f", "labs/build.mk",
           f"LAB_DIR={os.path.relpath(lab.dir, ROOT)}",
           f"SRC_DIR={os.path.abspath(src_dir)}",
           f"OUT={os.path.abspath(out)}", "SANITIZE=0", "all", "asan"]
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace")
    out = Path(out)
    wanted = [out / p for p in lab.programs] + [out / "tests" / t for t in lab.unit_tests]
    missing = [str(p.relative_to(out)) for p in wanted if not os.access(p, os.X_OK)]
    return BuildResult(proc.returncode == 0, proc.stdout, missing)


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
