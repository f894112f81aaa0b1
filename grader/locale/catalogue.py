"""The grader's message catalogue: what needs translating, and checks.

    python3 grader/locale/catalogue.py template > grader.pot
    python3 grader/locale/catalogue.py update        # merge new messages into every LANG.po
    python3 grader/locale/catalogue.py check         # exit 1 with the problems

The messages are every tr()/tr_n()/mark() argument in grader/*.py and the
labs' tests (xgettext finds them), every graded test's title (the first
line of its docstring) and every lab's title (LAB_TITLE in lab.mk), which
are translated where they are shown. `make test` runs the check: every
message has a translation, with the same {placeholders} (msgfmt
--check-format), and no translation is fuzzy or left over.
"""

import ast
import glob
import os
import re
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
KEYWORDS = ["--keyword=tr", "--keyword=tr_n:1,2", "--keyword=mark"]


def sources():
    found = sorted(glob.glob(os.path.join(ROOT, "grader", "*.py")))
    found += sorted(glob.glob(os.path.join(ROOT, "labs", "*", "tests", "**", "test_*.py"),
                              recursive=True))
    return found


def po_string(text):
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def titles():
    """(message, where) for every graded test's title and lab's title."""
    found = []
    for path in glob.glob(os.path.join(ROOT, "labs", "*", "tests", "**", "test_*.py"),
                          recursive=True):
        tree = ast.parse(open(path).read())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                doc = ast.get_docstring(node)
                if doc:
                    found.append((doc.strip().splitlines()[0],
                                  f"{os.path.relpath(path, ROOT)}:{node.lineno}"))
    for path in sorted(glob.glob(os.path.join(ROOT, "labs", "*", "lab.mk"))):
        for line in open(path):
            m = re.match(r"^LAB_TITLE\s*:?=\s*(.+)$", line)
            if m:
                found.append((m.group(1).strip(), os.path.relpath(path, ROOT)))
    return found


def template():
    """The .pot text: xgettext's, and the titles."""
    with tempfile.TemporaryDirectory() as folder:
        pot = os.path.join(folder, "grader.pot")
        subprocess.run(["xgettext", "--language=Python", *KEYWORDS, "--from-code=UTF-8",
                        "--flag=tr:1:python-brace-format", "--flag=tr_n:1:python-brace-format",
                        "--flag=tr_n:2:python-brace-format", "--sort-by-file",
                        "--add-location=file", "--package-name=grader", "-o", pot,
                        *[os.path.relpath(p, ROOT) for p in sources()]],
                       cwd=ROOT, check=True)
        text = open(pot, encoding="utf-8").read()
    seen = set(re.findall(r'^msgid "(.*)"$', text, re.M))
    extra = []
    for message, where in titles():
        if po_string(message)[1:-1] in seen:
            continue
        seen.add(po_string(message)[1:-1])
        extra.append(f"#: {where}\nmsgid {po_string(message)}\nmsgstr \"\"\n")
    return text + "\n" + "\n".join(extra)


def update():
    pot_text = template()
    with tempfile.NamedTemporaryFile("w", suffix=".pot", delete=False) as f:
        f.write(pot_text)
    try:
        for po in sorted(glob.glob(os.path.join(HERE, "*.po"))):
            subprocess.run(["msgmerge", "--quiet", "--update", "--backup=none", "--no-fuzzy-matching",
                            "--sort-by-file", po, f.name], check=True)
            # Messages no longer used go, rather than linger as #~ entries.
            subprocess.run(["msgattrib", "--no-obsolete", "-o", po, po], check=True)
    finally:
        os.unlink(f.name)


def check():
    """Problems: untranslated, fuzzy or obsolete messages, bad placeholders."""
    problems = []
    pot_text = template()
    with tempfile.NamedTemporaryFile("w", suffix=".pot", delete=False) as f:
        f.write(pot_text)
    try:
        for po in sorted(glob.glob(os.path.join(HERE, "*.po"))):
            name = os.path.basename(po)
            done = subprocess.run(["msgfmt", "--check", "--statistics", "-o", os.devnull, po],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                problems.append(f"{name}: msgfmt --check: {done.stderr.strip()}")
            merged = subprocess.run(["msgmerge", "--no-fuzzy-matching", po, f.name],
                                    capture_output=True, text=True)
            stats = subprocess.run(["msgfmt", "--statistics", "-o", os.devnull, "-"],
                                   input=merged.stdout, capture_output=True, text=True)
            if re.search(r"untranslated|fuzzy", stats.stderr):
                problems.append(f"{name}: against the sources: {stats.stderr.strip()}")
            obsolete = len(re.findall(r"^#~ msgid", merged.stdout, re.M))
            if obsolete:
                problems.append(f"{name}: {obsolete} message(s) no longer used "
                                "(python3 grader/locale/catalogue.py update)")
    finally:
        os.unlink(f.name)
    return problems


def main():
    command = sys.argv[1] if len(sys.argv) > 1 else "check"
    if command == "template":
        sys.stdout.write(template())
        return 0
    if command == "update":
        update()
        return 0
    problems = check()
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
