"""make lint's checks (grader/lint) can fail: each is run on a small copy
of the course (labs/common and the configuration) with one mistake
planted, and must name the check that caught it; the same copy without a
mistake passes. make test runs grader/lint on the whole course first."""

import re
import shutil
import subprocess

import pytest

from conftest import ROOT

LINT = ROOT / "grader" / "lint"
FILES = [".clang-format", ".clang-tidy", "grader/lint", "grader/python"]

# (check, file, text to find, what replaces it): one realistic mistake
# each, which the named check must report.
PLANTS = [
    ("clang-format", "labs/common/net.c", "\tint one = 1;\n", "\tint  one=1;\n"),
    # ppoll is a GNU extension: without the macro, glibc does not declare it.
    ("feature-macros", "labs/common/net.c", "#define _GNU_SOURCE /* ppoll */\n", ""),
    ("cppcheck", "labs/common/net.c", "\tint one = 1;\n",
     "\tint one = 1;\n\tchar small[2];\n\n\tsmall[2] = 0;\n\t(void)small;\n"),
    ("clang-tidy", "labs/common/net.c", "#include <unistd.h>\n",
     "#include <unistd.h>\n\nint net_planted(const char *text);\n\n"
     "int net_planted(const char *text)\n{\n\treturn atoi(text);\n}\n"),
    ("pyflakes", "labs/common/tests/planted.py", "", "import os\n"),
]


def copy_course(dest):
    for rel in FILES:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, dest / rel)
    shutil.copytree(ROOT / "labs" / "common", dest / "labs" / "common")


def lint(root):
    proc = subprocess.run([str(LINT), str(root)], stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=300)
    m = re.search(r"^lint: FAILED: (.*) \(\d+s\)$", proc.stdout, re.M)
    return proc.returncode, (m.group(1).split() if m else []), proc.stdout


def test_a_clean_copy_passes(tmp_path):
    copy_course(tmp_path)
    code, failed, output = lint(tmp_path)
    assert code == 0 and not failed, output


@pytest.mark.parametrize("check,rel,find,replace", PLANTS, ids=[p[0] for p in PLANTS])
def test_a_planted_mistake_is_caught(tmp_path, check, rel, find, replace):
    copy_course(tmp_path)
    path = tmp_path / rel
    text = path.read_text() if path.exists() else ""
    assert text.count(find) == 1 or not find, f"{rel} changed: update the plant"
    path.write_text(text.replace(find, replace, 1) if find else replace)
    code, failed, output = lint(tmp_path)
    assert code == 1, output
    assert check in failed, f"{check} did not catch the planted mistake:\n{output}"
