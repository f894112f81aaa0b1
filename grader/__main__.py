"""The grader's command line (the Makefile calls it; you can too).

    python -m grader grade [--lab NN|all] [--solution 0|1] [-k NAME]
                           [--seed N] [--valgrind]

Exit status: 0 with full marks, 1 when points were lost, 2 for a usage
mistake, 3 when the grader itself failed (a bug to report), 130 when
grading was interrupted (Ctrl-C, SIGTERM, SIGHUP): the score is incomplete.
"""

import argparse
import json
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from . import labs
from .children import EXIT_INTERRUPTED, ChildGraders
from .manifest import modified_files
from .plugin import GradePlugin, RunInfo
from .reports import Reporter, write_json
from .scoring import grader_errors, total

EXIT_FULL, EXIT_LOST, EXIT_USAGE, EXIT_GRADER = 0, 1, 2, 3


def _interrupt(signo, frame):
    raise KeyboardInterrupt(signal.Signals(signo).name)


def stop_like_ctrl_c():
    """SIGTERM (a batch or Gradescope time limit, `kill`) and SIGHUP (the
    terminal closed) would end the grader at once, leaving the programs
    under test running and their temporary folders behind. Turned into
    KeyboardInterrupt, they take Ctrl-C's path: pytest stops, every
    test's cleanup runs. SIGINT gets Python's own handler even when the
    grader was started with it ignored (a background job of a script):
    that way the programs under test always start with SIGINT at its
    default, as the lab tests that send it expect."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signo in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signo, _interrupt)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog="python -m grader")
    sub = parser.add_subparsers(dest="command", required=True)
    grade = sub.add_parser("grade", help="build and grade a lab")
    grade.add_argument("--lab", help="lab number (01..06) or 'all'; default: the last built")
    grade.add_argument("--solution", choices=["0", "1"],
                       help="1: grade the reference solution; 0: your code")
    grade.add_argument("-k", dest="select",
                       help="only tests whose name contains this (several: 'a or b')")
    grade.add_argument("--seed", type=int, help="seed for every random test")
    grade.add_argument("--valgrind", action="store_true", help="run every server under valgrind")
    grade.add_argument("--sanitize", action="store_true",
                       help="run every program from the AddressSanitizer/UBSan build")
    # For maintainers: grade a copy of the code kept elsewhere (mutants).
    grade.add_argument("--src-dir", help=argparse.SUPPRESS)
    grade.add_argument("--out-dir", help=argparse.SUPPRESS)

    handout = sub.add_parser("handout", help="write or update a student repository")
    handout.add_argument("--out", required=True, help="the folder to write")
    which = handout.add_mutually_exclusive_group()
    which.add_argument("--week", type=int, help="publish the labs released by this week")
    which.add_argument("--lab", help="publish labs up to and including this one")
    package = sub.add_parser("gradescope", help="build dist/labNN-autograder.zip")
    package.add_argument("--lab", required=True)
    package.add_argument("--out", default=str(labs.ROOT / "dist"))
    gs_run = sub.add_parser("gradescope-run", help="inside Gradescope: grade /autograder/submission")
    gs_run.add_argument("--lab", required=True)
    gs_run.add_argument("--submission", required=True)
    gs_run.add_argument("--results", required=True)
    batch = sub.add_parser("batch", help="grade a folder of submissions")
    batch.add_argument("--lab", required=True)
    batch.add_argument("--subs", required=True, help="one folder per student")
    batch.add_argument("--jobs", type=int, help="submissions graded at once (default: cores)")
    batch.add_argument("--out", help="output folder (default: batch-labNN)")
    return parser.parse_args(argv)


def resolve_target(args):
    """(lab number or 'all', solution?) from the arguments and build/current."""
    current_lab, current_solution = labs.read_current()
    lab = args.lab
    if lab is None:
        if current_lab is None:
            raise labs.UsageError("no lab chosen yet: build one first (make lab01), "
                                  "or name it (make grade LAB=01)")
        lab = current_lab
        solution = current_solution if args.solution is None else args.solution == "1"
    else:
        solution = args.solution == "1"
    return lab, solution


def grade_one(lab, solution, args):
    src_dir = args.src_dir or str(lab.src_dir(solution))
    bin_dir = args.out_dir or str(lab.out_dir(solution))
    run = RunInfo(lab=lab, solution=solution, src_dir=src_dir, bin_dir=bin_dir,
                  root=str(labs.ROOT), valgrind=args.valgrind, sanitize=args.sanitize,
                  seed=args.seed)
    reporter = Reporter(run)
    build = labs.build(lab, src_dir, bin_dir)
    modified = modified_files(labs.ROOT)
    version = labs.grader_version()
    reporter.header(build, modified, version)

    plugin = GradePlugin(run, on_result=reporter.live, select=args.select)
    pytest_args = [str(lab.dir / "tests"), "-p", "no:terminal", "-p", "no:cacheprovider",
                   "--rootdir", str(labs.ROOT), "-o", "python_files=test_*.py",
                   "--junitxml", os.path.join(bin_dir, "junit.xml"), "-o", "junit_family=xunit2"]
    code = pytest.main(pytest_args, plugins=[plugin])
    results = plugin.results
    if code == pytest.ExitCode.INTERRUPTED:
        return report_interrupted(reporter, run, results, build, modified, version, plugin)
    if code == pytest.ExitCode.NO_TESTS_COLLECTED or (not results and not plugin.collection_errors):
        raise labs.UsageError(f"no test of lab {lab.number} matches '{args.select}'")

    reporter.failures(results)
    for result in results:
        if result.status == "failed":
            result.report = reporter.failure_text(result)
    json_path = os.path.join(run.bin_dir, "results.json")
    write_json(json_path, run, results, version, build, plugin.collection_errors, modified)
    reporter.summary(results, json_path, plugin.collection_errors)

    if grader_errors(results) or plugin.collection_errors:
        return EXIT_GRADER
    earned, possible = total(results)
    return EXIT_FULL if earned == possible else EXIT_LOST


def report_interrupted(reporter, run, results, build, modified, version, plugin):
    """Writes what was graded before the interruption, and says plainly
    that the score is not the lab's."""
    json_path = os.path.join(run.bin_dir, "results.json")
    write_json(json_path, run, results, version, build, plugin.collection_errors, modified)
    reporter.summary(results, json_path, plugin.collection_errors)
    done = sum(1 for r in results if r.status != "not run")
    tests = "test" if len(results) == 1 else "tests"
    print(f"grade: interrupted after {done} of {len(results)} {tests}; the tests not run "
          "count 0, so this score is incomplete. Grade again to get the real one.",
          file=sys.stderr)
    return EXIT_INTERRUPTED


def grade_all(solution, args):
    """Grades every ready lab, several at once (each in its own process),
    printing each lab's report whole, in lab order, then the totals."""
    ready = [lab for lab in labs.find_labs() if lab.ready]
    children = ChildGraders()
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        # Later labs take longest (lab 06 about a third of the total):
        # starting them first keeps one long lab from running alone at the end.
        runs = {lab.number: pool.submit(_grade_lab_in_child, children, lab, solution, args)
                for lab in reversed(ready)}
        try:
            outcomes = [runs[lab.number].result() for lab in ready]
        except KeyboardInterrupt:
            children.stop()
            pool.shutdown(wait=True, cancel_futures=True)
            print("grade: interrupted; every lab's grading was stopped and cleaned up. "
                  "Grade again to get the scores.", file=sys.stderr)
            return EXIT_INTERRUPTED
    worst = EXIT_FULL
    rows = []
    for lab, (code, output) in zip(ready, outcomes):
        print(output)
        if code < 0:    # the child grader was killed: no score to trust
            print(f"grade: grading lab {lab.number} was killed by "
                  f"{signal.Signals(-code).name}", file=sys.stderr)
            code = EXIT_GRADER
        worst = max(worst, code)
        try:
            with open(lab.out_dir(solution) / "results.json") as f:
                data = json.load(f)
            rows.append((lab.number, lab.title, data["score"], data["max_score"]))
        except (OSError, ValueError, KeyError):
            rows.append((lab.number, lab.title, 0, 0))
    print("All labs:")
    for number, title, score, max_score in rows:
        print(f"  lab {number}  {score:>4}/{max_score:<4} {title}")
    print(f"Score: {sum(r[2] for r in rows)}/{sum(r[3] for r in rows)}")
    return worst


def _grade_lab_in_child(children, lab, solution, args):
    """(exit status, output) of grading lab in a child grader."""
    cmd = [sys.executable, "-m", "grader", "grade", "--lab", lab.number,
           "--solution", "1" if solution else "0"]
    if args.seed is not None:
        cmd += ["--seed", str(args.seed)]
    if args.valgrind:
        cmd.append("--valgrind")
    if args.sanitize:
        cmd.append("--sanitize")
    if args.select:
        cmd += ["-k", args.select]
    code, output, _ = children.run(cmd, cwd=labs.ROOT)
    return code, output


def publish_handout(args):
    from .handout import LeakError, build_handout  # instructors only: not in handouts
    try:
        summary = build_handout(args.out, week=args.week, up_to_lab=args.lab)
    except LeakError as exc:
        print(f"handout: NOT SAFE TO PUBLISH: {exc}", file=sys.stderr)
        return 1
    published = ", ".join(summary["published"]) or "none"
    print(f"handout: wrote {args.out}; labs published: {published}")
    for rel in summary["kept"]:
        print(f"handout: kept the existing {rel} (a student's file)")
    return 0


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    stop_like_ctrl_c()
    try:
        if args.command == "handout":
            return publish_handout(args)
        if args.command == "batch":
            from .batch import run_batch  # instructors only: not in handouts
            return run_batch(args.lab, args.subs, args.jobs, args.out)
        if args.command in ("gradescope", "gradescope-run"):
            from . import gradescope  # instructors only: not in handouts
            if args.command == "gradescope-run":
                return gradescope.run_on_submission(args.lab, args.submission, args.results)
            target = gradescope.build_package(gradescope.check_lab(args.lab), args.out)
            print(f"gradescope: wrote {os.path.relpath(target)}")
            return 0
        lab_name, solution = resolve_target(args)
        if lab_name == "all":
            return grade_all(solution, args)
        return grade_one(labs.get_lab(lab_name), solution, args)
    except labs.UsageError as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:   # where no step above said more
        print(f"{args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
