"""The grader's command line (the Makefile calls it through grader/python).

    python -m grader grade [--lab NN|all] [--solution 0|1] [-k NAME] [--seed N]
                           [--step N] [--verbose] [--valgrind] [--sanitize]
    python -m grader handout --out DIR [--week N | --lab NN]
    python -m grader gradescope --lab NN [--out DIR]
    python -m grader gradescope-run --lab NN --submission DIR --results FILE [--unsafe]
    python -m grader batch --lab NN --subs DIR [--jobs N] [--out DIR] [--unsafe]

grade also takes options --help does not show: --src-dir DIR and
--out-dir DIR (grade a copy of the code kept elsewhere: the mutants),
--no-build, and --results-fd FD (set by the parent grader for its child).

`grade` never grades in its own process: it starts a child grader in the
sandbox's enclosure (children.py, enclosure.py), shows what the child
prints, and takes the results from the child's results pipe; it writes
results.json and junit.xml from them itself.

Exit status: 0 with full marks, 1 when points were lost, 2 for a usage
mistake, 3 when the grader itself failed (a bug to report), 130 when
grading was interrupted (Ctrl-C, SIGTERM, SIGHUP): the score is incomplete.
"""

import argparse
import os
import signal
import sys
from concurrent.futures import ThreadPoolExecutor

from . import labs
from .children import EXIT_INTERRUPTED, ChildGraders
from .i18n import tr
from .reports import save_results

EXIT_FULL, EXIT_LOST, EXIT_USAGE, EXIT_GRADER = 0, 1, labs.EXIT_USAGE, 3


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
    grade.add_argument("--step", type=int, help="grade the handout's steps 1 to STEP only")
    grade.add_argument("--verbose", action="store_true",
                       help="a line per test, and every failure in full")
    grade.add_argument("--valgrind", action="store_true", help="run every server under valgrind")
    grade.add_argument("--sanitize", action="store_true",
                       help="run every program from the AddressSanitizer/UBSan build")
    # For maintainers: grade a copy of the code kept elsewhere (mutants).
    grade.add_argument("--src-dir", help=argparse.SUPPRESS)
    grade.add_argument("--out-dir", help=argparse.SUPPRESS)
    grade.add_argument("--no-build", action="store_true", help=argparse.SUPPRESS)
    # Set by the parent grader: grade here, hand the results in on this fd.
    grade.add_argument("--results-fd", type=int, help=argparse.SUPPRESS)

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
    gs_run.add_argument("--unsafe", action="store_true", help=UNSAFE_HELP)
    batch = sub.add_parser("batch", help="grade a folder of submissions")
    batch.add_argument("--lab", required=True)
    batch.add_argument("--subs", required=True, help="one folder per student")
    batch.add_argument("--jobs", type=int, help="submissions graded at once (default: cores)")
    batch.add_argument("--out", help="output folder (default: batch-labNN)")
    batch.add_argument("--unsafe", action="store_true", help=UNSAFE_HELP)
    return parser.parse_args(argv)


UNSAFE_HELP = ("grade as root even where the sandbox cannot drop privileges or hide the "
               "course's secrets (see docs/instructors.md)")


def resolve_target(args):
    """(lab number or 'all', solution?) from the arguments and build/current."""
    current_lab, current_solution = labs.read_current()
    lab = args.lab
    if lab is None:
        if current_lab is None:
            raise labs.UsageError(tr("no lab chosen yet: build one first (make lab01), or name it "
                                     "(make grade LAB=01)"))
        lab = current_lab
        solution = current_solution if args.solution is None else args.solution == "1"
    else:
        solution = args.solution == "1"
    return lab, solution


def child_args(lab, solution, args):
    """The arguments of `grade` for a child grader of one lab."""
    extra = ["--lab", lab.number, "--solution", "1" if solution else "0"]
    if args.seed is not None:
        extra += ["--seed", str(args.seed)]
    if args.valgrind:
        extra.append("--valgrind")
    if args.sanitize:
        extra.append("--sanitize")
    if args.select:
        extra += ["-k", args.select]
    if args.step is not None:
        extra += ["--step", str(args.step)]
    if args.verbose:
        extra.append("--verbose")
    if args.no_build:
        extra.append("--no-build")
    if args.src_dir:
        extra += ["--src-dir", os.path.abspath(args.src_dir)]
    if args.out_dir:
        extra += ["--out-dir", os.path.abspath(args.out_dir)]
    return extra


def refuse_linked_output(lab, solution, args):
    """Refuses an output folder that is a symbolic link: the build would
    hand the link's target to the box user, and the results go there."""
    linked = labs.linked_folder(os.path.abspath(args.out_dir or lab.out_dir(solution)))
    if linked is not None:
        raise labs.UsageError(tr("{path} is a symbolic link: the grader builds only into a "
                                 "real folder; remove the link", path=linked))


def grade_lab(lab, solution, args):
    """Grades one lab in a child grader whose report goes straight to the
    terminal; writes its results.json and junit.xml."""
    refuse_linked_output(lab, solution, args)
    children = ChildGraders()
    with ThreadPoolExecutor(max_workers=1) as pool:
        running = pool.submit(children.run, child_args(lab, solution, args), capture=False,
                              cwd=labs.ROOT)
        try:
            outcome = running.result()
        except KeyboardInterrupt:
            # The child got the stop too (see children.py) and hands in
            # what it graded before it; it says the score is incomplete.
            children.stop()
            outcome = running.result()
    return finish_lab(lab, solution, args, outcome)


def finish_lab(lab, solution, args, outcome):
    """Saves a child grader's results; returns the exit status to give."""
    if outcome.code == labs.EXIT_USAGE and outcome.results is None:
        return labs.EXIT_USAGE          # the child has said what was wrong
    problem = outcome.problem()
    if problem is not None:
        print("grade: " + tr("lab {number}: {problem}; there is no score to trust. This is not "
                             "your code's fault: grade again, and report it if it happens "
                             "again.", number=lab.number, problem=problem), file=sys.stderr)
        return EXIT_GRADER
    save_results(args.out_dir or lab.out_dir(solution), outcome.results)
    return outcome.code


def grade_all(solution, args):
    """Grades every ready lab, several at once (each in its own child
    grader), printing each lab's report whole, in lab order, then the
    totals."""
    ready = [lab for lab in labs.find_labs() if lab.ready]
    for lab in ready:
        refuse_linked_output(lab, solution, args)
    children = ChildGraders()
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        # Later labs take longest (lab 06 about a third of the total):
        # starting them first keeps one long lab from running alone at the end.
        runs = {lab.number: pool.submit(children.run, child_args(lab, solution, args),
                                        cwd=labs.ROOT)
                for lab in reversed(ready)}
        try:
            outcomes = [runs[lab.number].result() for lab in ready]
        except KeyboardInterrupt:
            children.stop()
            pool.shutdown(wait=True, cancel_futures=True)
            print("grade: " + tr("interrupted; every lab's grading was stopped and cleaned up. "
                                 "Grade again to get the scores."), file=sys.stderr)
            return EXIT_INTERRUPTED
    worst = EXIT_FULL
    rows = []
    for lab, outcome in zip(ready, outcomes):
        print(outcome.output)
        worst = max(worst, finish_lab(lab, solution, args, outcome))
        results = outcome.results or {}
        rows.append((lab.number, lab.title, results.get("score", 0),
                     results.get("max_score", 0)))
    print(tr("All labs:"))
    for number, title, score, max_score in rows:
        print("  " + tr("lab {number}", number=number) + f"  {score:>4}/{max_score:<4} "
              f"{tr(title)}")
    print(f"Score: {sum(r[2] for r in rows)}/{sum(r[3] for r in rows)}")
    return worst


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
            return run_batch(args.lab, args.subs, args.jobs, args.out, args.unsafe)
        if args.command in ("gradescope", "gradescope-run"):
            from . import gradescope  # instructors only: not in handouts
            if args.command == "gradescope-run":
                return gradescope.run_on_submission(args.lab, args.submission, args.results,
                                                    args.unsafe)
            target = gradescope.build_package(gradescope.check_lab(args.lab), args.out)
            print(f"gradescope: wrote {os.path.relpath(target)}")
            return 0
        if args.results_fd is not None:
            from .grading import grade_here   # the child grader's side
            lab = labs.get_lab(args.lab)
            return grade_here(lab, args.solution == "1", args)
        lab_name, solution = resolve_target(args)
        if lab_name == "all":
            return grade_all(solution, args)
        return grade_lab(labs.get_lab(lab_name), solution, args)
    except labs.UsageError as exc:
        print(f"grade: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:   # where no step above said more
        print(f"{args.command}: " + tr("interrupted"), file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
