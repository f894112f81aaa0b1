"""The pytest plugin behind "make grade".

It gives each graded test its `ctx` (a TestContext) and `run` (the
RunInfo: which lab, which build, which seed), enforces a time budget per
test, and turns every test's outcome into a TestResult: kind of failure,
message, transcript, the program's last stderr lines, how to reproduce it
by hand, and the docs section to read. It prints one line per test as it
finishes; reports.py prints the rest at the end.
"""

import signal
import sys
import traceback
import zlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from .i18n import tr
from .context import TestContext
from .processes import become_subreaper
from .failures import GradeFailure, TestTimeout, classify
from .faults import summary as fault_summary
from .scoring import TestResult

DEFAULT_BUDGET = 20.0     # seconds a test may take, unless it says otherwise


@dataclass
class RunInfo:
    """What is being graded, for the tests and the report."""

    lab: object               # labs.Lab
    solution: bool
    src_dir: str              # the code being graded
    bin_dir: str              # where it is built
    root: str
    valgrind: bool = False
    sanitize: bool = False    # every program from the ASan/UBSan build
    seed: int = None          # None: each test derives its own from its name
    up_to_step: int = None    # STEP=N: only the tests of steps 1 to N
    select: str = None        # T=NAME: only the tests whose name holds NAME
    ipv6_missing: str = None  # why ::1 cannot be used, found before any program ran

    def partial(self):
        """What a run of part of the lab graded ("steps 1 to 2", ...), or
        "" for a whole run."""
        parts = []
        if self.up_to_step is not None:
            parts.append(tr("step 1") if self.up_to_step == 1 else
                         tr("steps 1 to {last}", last=self.up_to_step))
        if self.select:
            parts.append(tr("the tests matching '{names}'", names=self.select))
        return tr(" and ").join(parts)

    def seed_for(self, test_name):
        if self.seed is not None:
            return self.seed
        return zlib.crc32(test_name.encode()) % 100000


def graded(points, doc, timeout=DEFAULT_BUDGET, hidden=False, step=None):
    """Declares a graded test: its points, the docs section that explains
    the behaviour it checks, its time budget in seconds, whether it is
    hidden from students (instructors only), and the step of the lab's
    handout it belongs to (1, 2, ...).
    The first line of the test's docstring is its title in the report."""
    return pytest.mark.grade(points=points, doc=doc, timeout=timeout, hidden=hidden, step=step)


def _step(item):
    mark = item.get_closest_marker("grade")
    return mark.kwargs.get("step") if mark else None


def _hidden(item):
    """Whether a test is instructors' only: marked hidden, or in a
    tests/hidden/ folder (left out of handouts)."""
    mark = item.get_closest_marker("grade")
    return bool(mark and mark.kwargs.get("hidden")) or "hidden" in Path(str(item.fspath)).parts


def _running_order(item):
    """Visible tests first, step by step, then the hidden ones: what a
    program leaves behind (ports in TIME_WAIT, files) can carry a hidden
    test's traffic only into later tests, which are hidden too."""
    return _hidden(item), _step(item) or 99


class _Watchdog:
    """Raises TestTimeout in the test if it runs past its budget."""

    def __init__(self, seconds):
        self.seconds = seconds

    def _fire(self, signo, frame):
        raise TestTimeout(tr("the test ran out of its {seconds:g} s budget", seconds=self.seconds))

    def __enter__(self):
        self._old = signal.signal(signal.SIGALRM, self._fire)
        signal.setitimer(signal.ITIMER_REAL, self.seconds)
        return self

    def __exit__(self, *exc):
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, self._old)
        return False


class GradePlugin:
    """Registered with pytest.main(plugins=[...]) by the grade command."""

    def __init__(self, run, on_result=None, on_plan=None):
        self.run_info = run
        self.select = run.select
        self._on_plan = on_plan
        self.results = []
        self.collection_errors = []
        self._by_id = {}
        self._errors = {}         # nodeid: the first exception a test raised
        self._on_result = on_result

    # -- configuration -----------------------------------------------------

    def pytest_configure(self, config):
        become_subreaper()
        config.addinivalue_line(
            "markers", "grade(points, doc, timeout, hidden, step): a graded test (see grader/plugin.py)")

    def pytest_collection_modifyitems(self, session, config, items):
        """Runs the tests in the handout's order of steps (the hidden ones
        after all the others), and keeps those asked for: STEP=N, the steps 1 to N; T=NAME, the tests whose
        function name contains NAME (several names may be joined by
        " or "). Unlike pytest's -k, T never matches a folder or file name,
        so T=sticky in labs/04-sticky-packets selects the sticky tests only."""
        kept = list(items)
        if self.select:
            wanted = [part.strip() for part in self.select.split(" or ") if part.strip()]
            kept = [item for item in kept if any(w in item.name for w in wanted)]
        last = self.run_info.up_to_step
        if last is not None:
            kept = [item for item in kept if (_step(item) or 0) <= last]
        dropped = [item for item in items if item not in kept]
        if dropped:
            config.hook.pytest_deselected(items=dropped)
        # sorted() is stable: within a step, the tests keep their file's order.
        items[:] = sorted(kept, key=_running_order)

    def pytest_collection_finish(self, session):
        # session.items is the final list, after -k deselection.
        for item in session.items:
            mark = item.get_closest_marker("grade")
            if mark is None:
                continue
            # The title: the docstring's first line, in the student's language.
            doc = tr((item.function.__doc__ or item.name).strip().splitlines()[0])
            # A parametrised test runs once per case: "[epoll] ..." tells
            # the student which of the four identical titles failed.
            callspec = getattr(item, "callspec", None)
            if callspec is not None:
                doc = f"[{callspec.id}] {doc}"
            # Hidden tests are shown to students after the due date.
            result = TestResult(name=item.name, title=doc, max_points=mark.kwargs["points"],
                                doc=mark.kwargs["doc"], hidden=_hidden(item),
                                step=mark.kwargs.get("step"),
                                seed=self.run_info.seed_for(item.name))
            self.results.append(result)
            self._by_id[item.nodeid] = result

        if self._on_plan:
            self._on_plan(self.results)

    def pytest_collectreport(self, report):
        if report.failed:
            self.collection_errors.append(f"{report.nodeid}: {report.longreprtext}")

    # -- fixtures ------------------------------------------------------------

    @pytest.fixture
    def run(self):
        return self.run_info

    @pytest.fixture
    def ctx(self, request):
        name = request.node.name
        context = TestContext(self.run_info, name, self.run_info.seed_for(name))
        request.node.grader_ctx = context
        yield context
        context.cleanup()

    # -- running -------------------------------------------------------------

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_call(self, item):
        mark = item.get_closest_marker("grade")
        budget = mark.kwargs.get("timeout", DEFAULT_BUDGET) if mark else DEFAULT_BUDGET
        if self.run_info.valgrind:
            budget *= 4
        with _Watchdog(budget):
            outcome = yield
            ctx = getattr(item, "grader_ctx", None)
            if outcome.excinfo is None and ctx is not None:
                # Raised here, a failure counts as the test's own.
                if self.run_info.valgrind:
                    ctx.check_valgrind_all()
                if self.run_info.sanitize:
                    ctx.check_sanitizers_all()

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item, call):
        outcome = yield
        report = outcome.get_result()
        result = self._by_id.get(item.nodeid)
        if result is None:
            return
        if call.when in ("setup", "call") and report.failed and item.nodeid not in self._errors:
            self._errors[item.nodeid] = call.excinfo.value
        if call.when in ("setup", "call") and report.skipped:
            result.status = "skipped"
            result.message = str(call.excinfo.value) if call.excinfo else "skipped"
        result.duration += call.duration
        if call.when == "teardown":
            self._finish(item, result, report)

    def _finish(self, item, result, teardown_report):
        """Builds the test's result once, when everything about it is
        known: what the test raised, and what its programs did. It runs
        inside a pytest hook, where an exception would end the whole run:
        a failure here is the grader's, and costs this test only."""
        try:
            self._judge(item, result, teardown_report)
        except Exception as exc:  # noqa: BLE001 - any bug here, whatever it raised
            judged_by_broken_grader(result, exc)
        if self._on_result:
            self._on_result(result)

    def _judge(self, item, result, teardown_report):
        ctx = getattr(item, "grader_ctx", None)
        error = self._errors.pop(item.nodeid, None)
        if error is not None:
            result.status = "failed"
            result.kind, result.message, result.details = classify_failure(error, ctx)
            # A crash or a sanitizer report found since outweighs the cases
            # that passed: the share stands only for what the test raised.
            if result.kind == getattr(error, "kind", None):
                result.fraction = getattr(error, "fraction", None)
        elif teardown_report.failed:
            # Cleanup is the grader's job: a failure there is the grader's.
            result.status = "failed"
            result.kind = "grader error"
            result.message = "cleaning up after the test failed"
            result.details = for_staff_only(item.name, teardown_report.longreprtext)
        elif result.status != "skipped":
            result.status = "passed"
        if ctx is not None:
            result.seed_used = ctx.used_seed
            result.longest_pause = ctx.longest_pause
        if result.status == "failed":
            result.sections = report_sections(ctx)


def judged_by_broken_grader(result, exc):
    """Marks a test whose result the grader could not build as a grader
    error, for this test alone. The traceback stays out of the result: a
    student reads it, and it would quote the grader's and the hidden
    tests' source."""
    result.status = "failed"
    result.kind = "grader error"
    result.fraction = None
    result.details = ""
    result.sections = []
    result.message = tr("the grader failed while judging this test ({error}); this is a bug in "
                        "the grader, not a verdict on your program: please report it",
                        error=type(exc).__name__)


def classify_failure(exc, ctx):
    """(kind, message, details) of a failed test: what it raised, unless
    what its programs did tells the real story first (the sandbox could
    not run one: a grader error; a sanitizer report; a crash; a server's
    own early exit behind a refused connection)."""
    kind, message = classify(exc)
    if isinstance(exc, GradeFailure):
        details = exc.details
    elif kind == "grader error":
        name = ctx.test_name if ctx is not None else "a test"
        details = for_staff_only(name, "".join(traceback.format_exception(exc)).rstrip())
    else:
        details = ""
    if ctx is None:
        return kind, message, details
    failures = ctx.sandbox_failures()
    if failures:
        # The program never ran: whatever the test saw says nothing of it.
        return "grader error", saw(failures[0], message), ""
    reports = ctx.sanitizer_sections()
    crashes = ctx.crash_lines()
    if reports and kind not in ("sanitizer errors", "grader error"):
        name, report = reports[0]
        return "sanitizer errors", saw(f"{name}: {report[0].strip()}", message), details
    if crashes and kind not in ("crash", "grader error"):
        return "crash", saw(crashes[0], message), details
    early = ctx.early_exit_lines()
    if early and kind in ("connection refused", "connection reset", "broken pipe",
                          "missing bytes", "timeout"):
        return kind, saw(early[0], message), details
    # The faults are named only where some were injected: a program that
    # failed before any was due failed on its own.
    faulted = [proc for proc in ctx.processes
               if proc.faults is not None and proc.faults.rate > 0
               and fault_summary(proc.fault_text())[0]]
    if faulted and kind not in ("grader error", "not built"):
        if "a" in faulted[0].faults.kinds:
            message += tr(" - with short transfers, interrupted calls and EAGAIN injected into "
                          "{program} (listed below): a program that loops until every byte is "
                          "moved, retries on EINTR and waits for readiness again on EAGAIN meets "
                          "them unharmed", program=faulted[0].name)
        else:
            message += tr(" - with short transfers and interrupted calls injected into "
                          "{program} (listed below): a program that loops until every byte is "
                          "moved and retries on EINTR meets them unharmed", program=faulted[0].name)
    return kind, message, details


def for_staff_only(test_name, trace):
    """Prints a grader error's traceback to the grader's stderr (the
    course staff's log: Gradescope's hidden output, batch mode's log) and
    returns what the student's report says in its place. A traceback
    quotes the test's source lines and paths, hidden tests' included."""
    print(f"grader error in {test_name}:\n{trace}", file=sys.stderr, flush=True)
    return tr("The traceback is in the grader's log, for the course staff.")


def saw(cause, message):
    """The real cause first, then what the test saw of it."""
    return tr("{cause} (the test saw: {message})", cause=cause, message=message)


def report_sections(ctx):
    """The (heading, lines) sections of a failure's report: notes, the
    transcript, the sanitizer's report, the programs' stderr, and how to
    try it by hand."""
    sections = []
    if ctx is None:
        return sections
    if ctx.notes:
        sections.append((tr("note"), ctx.notes))
    if ctx.quiet:
        return sections + [(tr("try it by hand"), ctx.repro())]
    transcript = ctx.transcript.lines()
    if transcript:
        sections.append((tr("what happened (the test's view of the wire)"), transcript))
    sections += ctx.fault_sections()
    reports = ctx.sanitizer_sections()
    for name, report in reports:
        sections.append((tr("{program}: the sanitizer's first report", program=name), report))
    reported = {name for name, _ in reports}
    for name, tail in ctx.stderr_sections():
        if name not in reported:
            sections.append((tr("last lines {program} wrote to stderr", program=name), tail, name))
    repro = ctx.repro()
    if repro:
        sections.append((tr("try it by hand"), repro))
    return sections
