"""The course plan (course.toml): release weeks, due weeks, weights."""

import datetime
from dataclasses import dataclass

from .labs import ROOT, UsageError

COURSE_FILE = ROOT / "course.toml"
DAYS_PER_WEEK = 7


@dataclass
class PlannedLab:
    number: str
    week: int
    due_week: int
    points: int


@dataclass
class Course:
    name: str
    start: datetime.date
    labs: list
    language: str = "en"

    def week_of(self, day):
        """The course week a date falls in (week 1 starts on `start`)."""
        return (day - self.start).days // DAYS_PER_WEEK + 1

    def released(self, week=None, up_to_lab=None, today=None):
        """The labs released by a week, up to a lab, or as of today."""
        if up_to_lab is not None:
            return [lab for lab in self.labs if lab.number <= str(up_to_lab).zfill(2)]
        if week is None:
            week = self.week_of(today or datetime.date.today())
        return [lab for lab in self.labs if lab.week <= week]

    def lab(self, number):
        for lab in self.labs:
            if lab.number == str(number).zfill(2):
                return lab
        raise UsageError(f"lab {number} is not in {COURSE_FILE.name}")


def load(path=COURSE_FILE):
    # Imported here: tomllib is Python 3.11+, and grading must also run on
    # Ubuntu 22.04's Python 3.10 (Gradescope), which never loads the plan.
    import tomllib
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read the course file {path}: {exc}") from exc
    meta = data.get("course", {})
    start = meta.get("start", datetime.date.today())
    labs = [PlannedLab(str(entry["number"]).zfill(2), int(entry["week"]),
                       int(entry.get("due_week", entry["week"] + 1)),
                       int(entry.get("points", 100)))
            for entry in data.get("lab", [])]
    language = meta.get("language", "en")
    if language not in ("en", "zh_CN"):
        raise UsageError(f"{path}: language must be \"en\" or \"zh_CN\", not {language!r}")
    return Course(meta.get("name", "the course"), start, sorted(labs, key=lambda l: l.number),
                  language)
