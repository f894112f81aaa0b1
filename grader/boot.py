"""Starts a grader module isolated: python -I -B grader/boot.py ROOT MODULE ARGS...

-I ignores PYTHON* variables, the user's site folder and the folder of
this script, so a file named like a standard module (tomllib.py, json.py)
dropped into the course tree is never imported; ROOT goes at the END of
the module path, so only the grader package itself is found there; -B
writes no __pycache__ into the tree. Runs MODULE.main() with ARGS as
sys.argv[1:].
"""

import importlib
import sys

sys.path.append(sys.argv.pop(1))
module = importlib.import_module(sys.argv[1])
sys.argv = sys.argv[1:]
sys.exit(module.main())
