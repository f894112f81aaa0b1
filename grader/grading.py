"""The child grader's side of `grade`: build, run the lab's tests, report.

A child grader (children.py) runs `grade ... --results-fd N`: it builds
the lab in the sandbox, runs the lab's tests with the plugin, prints the
report, and hands the results in on N, the one channel its parent reads.
It never writes a results file: the parent does, from what it handed in.
"""

import os
import sys

import pytest

from . import labs, sandbox
from .children import EXIT_INTERRUPTED
from .manifest import modified_files
from .plugin import GradePlugin, RunInfo
from .processes import make_undumpable
from .i18n import tr, tr_n
from .reports import Reporter, results_record, send_results
from .scoring import grader_errors, total
from .sockets import ipv6_loopback_missing

EXIT_FULL, EXIT_LOST, EXIT_GRADER = 0, 1, 3
# Only the course's tests are collected, with no configuration but ours:
# a conftest.py or pytest.ini found in the tree is never loaded.
# --assert=plain: the report is the grader's own; pytest's rewriting of a
# failed assert would need its terminal plugin's options.
PYTEST_ISOLATION = ["-p", "no:terminal", "-p", "no:cacheprovider", "--noconftest",
                    "-c", os.devnull, "-o", "python_files=test_*.py", "--assert=plain"]
# pytest's own failures: the results it leaves are not a grade.
BROKEN_RUN = (pytest.ExitCode.INTERNAL_ERROR, pytest.ExitCode.USAGE_ERROR)


def grade_here(lab, solution, args):
    results_fd = args.results_fd
    os.set_inheritable(results_fd, False)
    # Programs of the same user (an ordinary user's grade) cannot read
    # this process's memory or descriptors, the results pipe among them.
    make_undumpable()
    for name in ("PYTEST_ADDOPTS", "PYTEST_PLUGINS"):
        os.environ.pop(name, None)
    src_dir = args.src_dir or str(lab.src_dir(solution))
    bin_dir = args.out_dir or str(lab.out_dir(solution))
    run = RunInfo(lab=lab, solution=solution, src_dir=src_dir, bin_dir=bin_dir,
                  root=str(labs.ROOT), valgrind=args.valgrind, sanitize=args.sanitize,
                  seed=args.seed, up_to_step=args.step, select=args.select,
                  ipv6_missing=ipv6_loopback_missing())
    reporter = Reporter(run, verbose=args.verbose)
    box = sandbox.current()
    # --no-build (maintainers): grade the programs already in bin_dir, as
    # the self-check does to grade one build several times.
    build = labs.existing_build(lab, bin_dir) if args.no_build else \
        labs.build(lab, src_dir, bin_dir, solution=solution)
    modified = modified_files(labs.ROOT)
    version = labs.grader_version()
    reporter.header(build, modified, version)

    plugin = GradePlugin(run, on_result=reporter.live, on_plan=reporter.plan)
    test_files = [str(path) for path in lab_test_files(lab)]
    code = pytest.main([*test_files, "--rootdir", str(labs.ROOT), *PYTEST_ISOLATION],
                       plugins=[plugin])
    results = plugin.results
    if code in BROKEN_RUN:
        # The grade of a run pytest itself gave up on is no grade: the
        # tests after the break count 0 through no fault of the program.
        plugin.collection_errors.append(broken_run_error(code))
    if code == pytest.ExitCode.INTERRUPTED:
        return report_interrupted(reporter, run, results, build, modified, version, plugin,
                                  box, results_fd)
    if code == pytest.ExitCode.NO_TESTS_COLLECTED or (not results and not plugin.collection_errors):
        print(f"grade: {nothing_selected(lab, args)}", file=sys.stderr)
        return labs.EXIT_USAGE

    record = results_record(run, results, version, build, plugin.collection_errors, modified,
                            box)
    reporter.failures(record)
    send_results(results_fd, record)
    reporter.summary(results, os.path.join(bin_dir, "results.json"), plugin.collection_errors)

    if grader_errors(results) or plugin.collection_errors:
        return EXIT_GRADER
    earned, possible = total(results)
    return EXIT_FULL if earned == possible else EXIT_LOST


def broken_run_error(code):
    return tr("the test run stopped with pytest's {name} (exit status {code}), so the tests "
              "after it were not run: this is a bug in the grader, not in your code; please "
              "report it", name=pytest.ExitCode(code).name, code=int(code))


def nothing_selected(lab, args):
    """Why no test was selected, and where the tests asked for are."""
    if not args.select:
        return tr("lab {number} has no test in steps 1 to {last}", number=lab.number,
                  last=args.step)
    elsewhere = {number: names for number, names in labs.tests_matching(args.select).items()
                 if number != lab.number}
    said = tr("no test of lab {number} matches '{names}'", number=lab.number,
              names=args.select)
    if args.step is not None:
        said += tr(" in steps 1 to {last}", last=args.step)
    if elsewhere:
        number, names = next(iter(elsewhere.items()))
        said += tr("; it matches {count} test(s) of lab {number} ({names}): make grade "
                   "LAB={number} T={select}", count=len(names), number=number,
                   names=", ".join(names[:3]), select=args.select)
    return said


def lab_test_files(lab):
    """The lab's test files: tests/test_*.py, and tests/hidden/test_*.py
    where they exist (never in a handout)."""
    tests = lab.dir / "tests"
    return sorted(tests.glob("test_*.py")) + sorted((tests / "hidden").glob("test_*.py"))


def report_interrupted(reporter, run, results, build, modified, version, plugin, box,
                       results_fd):
    """Hands in what was graded before the interruption, and says plainly
    that the score is not the lab's."""
    record = results_record(run, results, version, build, plugin.collection_errors, modified,
                            box)
    send_results(results_fd, record)
    reporter.summary(results, os.path.join(run.bin_dir, "results.json"),
                     plugin.collection_errors)
    done = sum(1 for r in results if r.status != "not run")
    print("grade: " + tr_n("interrupted after {done} of {count} test; the tests not run count "
                           "0, so this score is incomplete. Grade again to get the real one.",
                           "interrupted after {done} of {count} tests; the tests not run "
                           "count 0, so this score is incomplete. Grade again to get the real "
                           "one.", len(results), done=done), file=sys.stderr)
    return EXIT_INTERRUPTED
