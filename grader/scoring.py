"""Points, per-test results and the score.

Each graded test declares its points beside it with @graded(points=...),
its max_points here. A test earns all its points or none: a partly right
echo is still a bug. The one exception is a group of unit test cases,
which earns the share of its cases that pass (PartialCredit), so that a
half-right function shows movement. A TestResult is built once per test (plugin.py); its
to_json() is the record every report is rendered from (reports.py): the
console, results.json, JUnit XML, Gradescope's results and the batch CSV.
"""

from dataclasses import dataclass, field


@dataclass
class TestResult:
    name: str
    title: str
    max_points: int
    doc: str
    hidden: bool = False
    step: int = None                 # the handout's step this test belongs to
    status: str = "not run"          # "passed", "failed", "skipped" or "not run"
    kind: str = ""                   # a failures.KINDS key when failed
    message: str = ""
    details: str = ""
    duration: float = 0.0
    seed: int = 0
    seed_used: bool = False          # the test drew random data from its seed
    sections: list = field(default_factory=list)   # (heading, [lines]) for the report
    fraction: float = None           # a failed test's share of its points (unit cases passed)
    longest_pause: tuple = None      # (s without progress, stall window s), see TestContext

    __test__ = False  # not a pytest test class

    @property
    def earned(self):
        """All the points when passed; when failed, the share of them its
        passing cases earned (rounded down), else none."""
        if self.status == "passed":
            return self.max_points
        if self.status == "failed" and self.fraction is not None:
            return int(self.max_points * self.fraction)
        return 0

    def to_json(self):
        return {
            "name": self.name,
            "title": self.title,
            "earned": self.earned,
            "max_points": self.max_points,
            "status": self.status,
            "kind": self.kind or None,
            "message": self.message,
            "details": self.details,
            "doc": self.doc,
            "hidden": self.hidden,
            "step": self.step,
            "seed": self.seed if self.seed_used else None,
            "time": round(self.duration, 3),
            "sections": [section_json(*section) for section in self.sections],
            "longest_pause": None if self.longest_pause is None else {
                "seconds": round(self.longest_pause[0], 2),
                "stall_window": self.longest_pause[1]},
        }


def section_json(heading, lines, stderr_of=None):
    """A report section as results.json keeps it; stderr_of names the
    program whose stderr it quotes."""
    section = {"heading": heading, "lines": lines}
    if stderr_of is not None:
        section["stderr_of"] = stderr_of
    return section


def total(results):
    """(points earned, points possible) over results.

    A skipped test (one this machine cannot run, e.g. without IPv6) counts
    for nothing either way; the report says why it was skipped.
    """
    counted = [r for r in results if r.status != "skipped"]
    return sum(r.earned for r in counted), sum(r.max_points for r in counted)


def grader_errors(results):
    return [r for r in results if r.kind == "grader error"]
