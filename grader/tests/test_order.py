"""The order tests run in: the handout's steps, with every hidden test
after every visible one (what a program leaves behind can then carry a
hidden test's traffic only into hidden tests), and the report's step
lines still in the handout's order."""

import io
import re
from types import SimpleNamespace

import pytest

from grader import labs
from grader.plugin import _running_order
from grader.reports import Reporter
from grader.scoring import TestResult


class FakeItem:
    """What _running_order reads of a pytest item."""

    def __init__(self, name, step, folder="tests", hidden=False):
        self.name = name
        self.fspath = f"/course/labs/01-tcp-echo/{folder}/test_x.py"
        self._mark = SimpleNamespace(kwargs={"step": step, "hidden": hidden})

    def get_closest_marker(self, name):
        return self._mark if name == "grade" else None


def test_hidden_tests_run_after_every_visible_one():
    items = [FakeItem("a", 1), FakeItem("h1", 1, folder="tests/hidden"), FakeItem("b", 2),
             FakeItem("m", 2, hidden=True), FakeItem("c", 3), FakeItem("other", None)]
    assert [item.name for item in sorted(items, key=_running_order)] == \
        ["a", "b", "c", "other", "h1", "m"]


def result(name, step, hidden=False):
    return TestResult(name=name, title=name, max_points=1, doc="", hidden=hidden, step=step,
                      status="passed")


def step_lines(order):
    """The step lines a Reporter prints when the tests finish in order."""
    out = io.StringIO()
    reporter = Reporter(SimpleNamespace(lab=labs.get_lab("01")), stream=out)
    reporter.plan(order)
    for finished in order:
        reporter.live(finished)
    return [re.findall(r"\d+", line)[0] for line in out.getvalue().splitlines()]


@pytest.mark.parametrize("hidden_step", [1, 2])
def test_step_lines_keep_the_handout_order(hidden_step):
    visible = [result("a", 1), result("b", 2), result("c", 3)]
    hidden = [result("h", hidden_step, hidden=True)]
    assert step_lines(visible + hidden) == ["1", "2", "3"]
