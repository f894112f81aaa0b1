"""The mutant catalogue: each realistic bug must lose points on the tests
meant to catch it, so the grader's tests can never silently weaken."""

import shutil
import tomllib
from pathlib import Path

import pytest

from conftest import READY_LABS, ROOT, failed_tests, grade

MUTANTS_DIR = ROOT / "grader" / "mutants"


def load_catalogue(kind):
    """[[mutant]] (bugs to catch) or [[variant]] (correct rewrites to pass)
    of every ready lab, as pytest cases."""
    cases = []
    for lab in READY_LABS:
        path = MUTANTS_DIR / f"{lab.dir.name}.toml"
        if not path.exists():
            continue
        with open(path, "rb") as f:
            for mutant in tomllib.load(f).get(kind, []):
                cases.append(pytest.param(lab, mutant, id=f"lab{lab.number}-{mutant['name']}"))
    return cases


def make_mutant_source(lab, mutant, dest):
    """Copies the reference to dest and applies the mutant's one edit."""
    shutil.copytree(lab.dir / "solution", dest)
    target = Path(dest) / mutant["file"]
    text = target.read_text()
    count = text.count(mutant["find"])
    assert count == 1, (f"mutant {mutant['name']}: its 'find' text occurs {count} times in "
                        f"{mutant['file']}; the reference changed, update the catalogue")
    target.write_text(text.replace(mutant["find"], mutant["replace"]))


# The same program and seed must get the same score: each mutant is
# graded this many times (built once), and every grading must agree.
GRADINGS = 3


@pytest.mark.parametrize("lab,mutant", load_catalogue("mutant"))
def test_mutant_is_caught(lab, mutant, tmp_path):
    src = tmp_path / "src"
    make_mutant_source(lab, mutant, src)
    selection = " or ".join(mutant["caught_by"])
    code, results, output = grade(lab, "-k", selection, src_dir=src, out_dir=tmp_path / "out",
                                  solution=True)
    assert results["grader_errors"] == 0, output
    assert results["build_ok"], f"mutant {mutant['name']} does not compile:\n{output}"
    failed = failed_tests(results)
    missed = [name for name in mutant["caught_by"] if name not in failed]
    assert not missed, (f"mutant {mutant['name']} ({mutant['why']}) was not caught by "
                        f"{', '.join(missed)}:\n{output}")
    assert code == 1, output
    first = verdicts(results)
    for _ in range(GRADINGS - 1):
        _, again, output = grade(lab, "-k", selection, "--no-build", src_dir=src,
                                 out_dir=tmp_path / "out", solution=True)
        assert verdicts(again) == first, (f"mutant {mutant['name']} got another score when "
                                          f"graded again:\n{output}")


def verdicts(results):
    """What a grading decided: each test's status and points, and the score."""
    return results["score"], {t["name"]: (t["status"], t["earned"]) for t in results["tests"]}


@pytest.mark.parametrize("lab,variant", load_catalogue("variant"))
def test_correct_variant_passes(lab, variant, tmp_path):
    src = tmp_path / "src"
    make_mutant_source(lab, variant, src)
    selection = " or ".join(variant["passes"])
    code, results, output = grade(lab, "-k", selection, src_dir=src, out_dir=tmp_path / "out",
                                  solution=True)
    assert results["grader_errors"] == 0, output
    ran = {t["name"]: t["status"] for t in results["tests"]}
    missing = [name for name in variant["passes"] if name not in ran]
    assert not missing, f"variant {variant['name']}: no test named {', '.join(missing)}"
    failed = [name for name in variant["passes"] if ran[name] != "passed"]
    assert not failed, (f"variant {variant['name']} ({variant['why']}) is correct but failed "
                        f"{', '.join(failed)}:\n{output}")
    assert code == 0, output
