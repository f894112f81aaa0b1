"""Starting the grader's own Python processes, isolated from the course
tree (see boot.py). grader/python, the Makefile's entry point, starts the
grader the same way."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BOOT = Path(__file__).resolve().parent / "boot.py"


def python_command(module, *args):
    """The command line that runs module.main() with args, isolated."""
    return [sys.executable, "-I", "-B", str(BOOT), str(ROOT), module, *map(str, args)]


def grader_command(*args):
    """python -m grader ARGS, isolated."""
    return python_command("grader.__main__", *args)
