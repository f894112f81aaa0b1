"""Shared helpers for the grader's self-check ("make test")."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from grader import launch, labs  # noqa: E402

READY_LABS = [lab for lab in labs.find_labs() if lab.ready]


def grade(lab, *extra, solution=False, src_dir=None, out_dir=None, timeout=600, env=None):
    """Runs "python -m grader grade" and returns (exit code, results, output).
    The report is in English (the self-check reads its sentences) unless
    env says otherwise."""
    cmd = launch.grader_command("grade", "--lab", lab.number,
           "--solution", "1" if solution else "0", *extra)
    if src_dir:
        cmd += ["--src-dir", str(src_dir)]
    if out_dir:
        cmd += ["--out-dir", str(out_dir)]
    env = {**os.environ, "NO_COLOR": "1", "LANGUAGE": "en", **(env or {})}
    proc = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, timeout=timeout, env=env)
    results_dir = out_dir or lab.out_dir(solution)
    with open(Path(results_dir) / "results.json") as f:
        results = json.load(f)
    return proc.returncode, results, proc.stdout


def failed_tests(results):
    return {t["name"]: t for t in results["tests"] if t["status"] == "failed"}


@pytest.fixture(params=READY_LABS, ids=[f"lab{lab.number}" for lab in READY_LABS])
def lab(request):
    return request.param
