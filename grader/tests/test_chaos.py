"""No bytes a program sends make the grader fail: every lab graded with
chaos/chaos.c standing in for its programs (random bytes, early closes,
resets, heads that never end, endless bytes, silence) ends every test
with a verdict about the program, never with a grader error."""

import os
import shutil
import subprocess

import pytest

from conftest import READY_LABS, grade
from grader import labs

CHAOS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "chaos", "chaos.c")


# Where in chaos.c's rotation of six answers each grading starts: every
# test meets at least two kinds of answer on its first connection.
OFFSETS = [0, 3]


@pytest.fixture(scope="module")
def chaos_binaries(tmp_path_factory):
    folder = tmp_path_factory.mktemp("chaos")
    built = {}
    for offset in OFFSETS:
        built[offset] = folder / f"chaos-{offset}"
        subprocess.run(["cc", "-O2", "-Wall", f"-DOFFSET={offset}", "-o", str(built[offset]),
                        CHAOS], check=True, timeout=120)
    return built


@pytest.mark.parametrize("offset", OFFSETS)
@pytest.mark.parametrize("lab", READY_LABS, ids=[f"lab{lab.number}" for lab in READY_LABS])
def test_no_grader_error_from_any_bytes(lab, offset, chaos_binaries, tmp_path):
    chaos_binary = chaos_binaries[offset]
    out = tmp_path / "out"
    built = labs.build(lab, lab.dir / "solution", out, solution=True)
    assert built.ok, built.output
    # The lab's programs, plain and instrumented, all become chaos; its
    # unit tests stay the reference's (they talk to no one).
    for program in lab.programs:
        for folder in (out, out / "asan", out / "tsan"):
            folder.mkdir(exist_ok=True)
            shutil.copy(chaos_binary, folder / program)
            os.chmod(folder / program, 0o755)
    code, results, output = grade(lab, "--no-build", solution=True,
                                  src_dir=lab.dir / "solution", out_dir=out)
    errors = [f"{t['name']}: {t['message']}" for t in results["tests"]
              if t["kind"] == "grader error"]
    assert errors == [] and results["collection_errors"] == [], \
        "grader errors from a program's bytes:\n" + "\n".join(errors) + "\n" + output[-3000:]
    verdicts = {t["status"] for t in results["tests"]}
    assert verdicts <= {"passed", "failed", "skipped"}, verdicts
    assert any(t["status"] == "failed" for t in results["tests"]), output[-2000:]
