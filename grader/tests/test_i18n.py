"""The grader in Chinese: the catalogue is complete and right, and a
report graded with LANG=zh_CN.UTF-8 reads in Chinese but for what the
programs printed and the machine-read Score line."""

import re
import subprocess
import sys

from conftest import ROOT, grade
from grader import labs

LAB01 = labs.get_lab("01")
CJK = re.compile(r"[\u4e00-\u9fff]")


def test_the_catalogue_is_complete_with_the_same_placeholders():
    done = subprocess.run([sys.executable, str(ROOT / "grader" / "locale" / "catalogue.py"),
                           "check"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_a_report_in_chinese(tmp_path):
    """The skeleton of lab 01, graded in Chinese: every line the grader
    wrote itself has Chinese in it, except the lines that are commands,
    paths, program output or the Score line."""
    env_lang = {"LANG": "zh_CN.UTF-8", "LANGUAGE": "zh_CN"}
    code, results, output = grade(LAB01, src_dir=LAB01.dir, out_dir=tmp_path / "out",
                                  env=env_lang)
    assert results["score"] < results["max_score"], output
    english = []
    for line in output.splitlines():
        text = line.strip()
        if not text or set(text) <= set("-"):
            continue
        # Sections that quote programs, commands or the wire stay as they are.
        if line.startswith("      ") or text.startswith(("./", "make ", "Score: ", "/", "|")):
            continue
        if re.match(r"^\d+\.\d+s ", text):
            continue
        if not CJK.search(text):
            english.append(line)
    assert english == [], "lines of the report left in English:\n" + "\n".join(english)
    assert "Score: " in output
