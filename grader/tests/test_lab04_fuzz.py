"""Lab 04: a short smoke run of the decoder's fuzzer on the reference.

The real run (minutes; figures in docs/04-sticky-packets.md, "Fuzzing the
decoder") is labs/04-sticky-packets/fuzz/run.sh; this one only proves
that the target builds, its seeds pass and a few seconds find no crash.
"""

import os
import shutil
import subprocess

import pytest

from conftest import ROOT

LAB = ROOT / "labs" / "04-sticky-packets"
SMOKE_SECONDS = 8


def test_fuzz_smoke_on_reference(tmp_path):
    if not (LAB / "lab.mk").exists():
        pytest.skip("lab 04 is not ready")
    if shutil.which("clang") is None:
        pytest.fail("clang is not installed; run make deps")
    env = dict(os.environ, FUZZ_OUT=str(tmp_path))
    run = subprocess.run([str(LAB / "fuzz" / "run.sh"), str(SMOKE_SECONDS), str(LAB / "solution")],
                         cwd=ROOT, capture_output=True, text=True, env=env,
                         timeout=SMOKE_SECONDS + 120)
    output = (run.stdout + run.stderr)[-3000:]
    assert run.returncode == 0, output
    assert "stat::number_of_executed_units" in output, output
    assert not list(tmp_path.glob("crash-*")), output
