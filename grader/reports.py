"""What the student reads: the steps, the failure reports, the score.

The order follows the handout: tests run step by step, and a line per
step says, as soon as the step is graded, its points and where the
student stands (done, here: the first step not done, or waiting). Then
the failures of the step the student is on, in full (what was expected,
what came back, the transcript, the program's stderr, the docs section,
how to rerun), and one line per root cause for the later steps, whose
failures mostly wait on it. Then the final "Score: X/Y" line (for a run
of some steps or tests only, a "Partial" line instead). VERBOSE=1 shows
a line per test and every failure in full.
"""

import io
import json
import os
import re
import secrets
import shlex
import sys
import textwrap
import xml.etree.ElementTree as ET

from .failures import KINDS
from .processes import containment_summary
from .scoring import grader_errors, total
from .transcripts import printable

RULE = "-" * 72
INDENT = "    "


class Style:
    """ANSI colours when writing to a terminal that wants them."""

    def __init__(self, stream):
        self.on = stream.isatty() and "NO_COLOR" not in os.environ and \
            os.environ.get("TERM") != "dumb"

    def _wrap(self, code, text):
        return f"\033[{code}m{text}\033[0m" if self.on else text

    def good(self, text):
        return self._wrap("32", text)

    def bad(self, text):
        return self._wrap("31", text)

    def bold(self, text):
        return self._wrap("1", text)

    def dim(self, text):
        return self._wrap("2", text)


OTHER_STEP = 99          # where a test without a step is listed: last
MAX_CAUSE_LINES = 8      # later steps' root causes shown, at most
MARKS = {"done": "done", "here": "here", "waiting": "waiting", "partly": "not all run"}


class Reporter:
    def __init__(self, run, stream=sys.stdout, verbose=False):
        self.run = run
        self.out = stream
        self.style = Style(stream)
        self.verbose = verbose
        self.titles = {}
        self._remaining = {}     # step: tests not finished yet
        self._finished = {}      # step: [TestResult]
        self.here = None         # the first step not done, once known

    def plan(self, results):
        """The tests about to run (in step order), and the steps' titles."""
        from .labs import step_titles
        self.titles = step_titles(self.run.lab)
        for result in results:
            step = step_of(result.step)
            self._remaining[step] = self._remaining.get(step, 0) + 1
            self._finished.setdefault(step, [])

    def say(self, text=""):
        print(text, file=self.out, flush=True)

    def header(self, build, modified=(), version="unknown"):
        lab = self.run.lab
        code = "the reference solution" if self.run.solution else "your code"
        where = _shown_path(self.run.src_dir, self.run.root)
        self.say(self.style.bold(f"Grading lab {lab.number} ({lab.title}): {code} in {where}/"))
        if self.run.solution:
            self.say(self.style.bad("  This grades the REFERENCE, not your code") +
                     f" (it was built with SOLUTION=1). Yours: make lab{lab.number} && "
                     "make grade")
        extras = [f"grader {version}"]
        if self.run.valgrind:
            extras.append("every server under valgrind")
        if self.run.sanitize:
            extras.append("every program built with AddressSanitizer and UBSan")
        extras.append(f"seed {self.run.seed}" if self.run.seed is not None
                      else "seeds: fixed per test (SEED=N to change)")
        self.say(self.style.dim("  " + "; ".join(extras)))
        self.say(self.style.dim("  " + containment_summary()))
        if modified:
            self.say(self.style.bad("  Unofficial score:") + " these files differ from the "
                     f"published handout: {', '.join(modified[:5])}"
                     f"{' ...' if len(modified) > 5 else ''}. Official grading uses the "
                     "course's own copy of the tests.")
        diagnostics = compiler_diagnostics(build.output)
        if diagnostics:
            self.say("Compiler output:")
            for line in diagnostics:
                self.say(INDENT + line)
        if not build.ok:
            self.say(self.style.bad("The build failed") +
                     f"; not built: {', '.join(build.missing) or '(see above)'}. "
                     "Tests that need a missing program fail as 'not built'.")
        self.say()

    def verdict(self, result):
        if result.status == "passed":
            return self.style.good("PASS")
        if result.status == "skipped":
            return self.style.dim("SKIP")
        if result.status == "not run":  # grading was interrupted first
            return self.style.dim("----")
        return self.style.bad("FAIL")

    def test_line(self, result):
        verdict = self.verdict(result)
        kind = f"  [{result.kind}]" if result.kind else ""
        self.say(f"  {verdict} {result.earned:>3}/{result.max_points:<3} {result.duration:6.2f}s  "
                 f"{result.title}{kind}")
        if result.status == "skipped":
            self.say(self.style.dim(f"              skipped: {result.message}"))

    def live(self, result):
        """Called as each test ends: the step's line once its last test has."""
        if self.verbose:
            self.test_line(result)
        step = step_of(result.step)
        self._finished.setdefault(step, []).append(result)
        self._remaining[step] = self._remaining.get(step, 1) - 1
        if self._remaining[step] == 0:
            self.step_line(step, self._finished[step])

    def step_line(self, step, results):
        earned = sum(r.earned for r in results)
        possible = sum(r.max_points for r in results if r.status != "skipped")
        if all(r.status in ("passed", "skipped") for r in results):
            mark = self.style.good("done")
        elif any(r.status == "not run" for r in results):
            mark = self.style.dim(MARKS["partly"])
        elif self.here is None:
            self.here = step
            mark = self.style.bad("here")
        else:
            mark = self.style.dim("waiting")
        name = f"Step {step}" if step != OTHER_STEP else "Other"
        title = self.titles.get(step, "")
        self.say(f"  {name:<8}{title[:44]:<46}{earned:>4}/{possible:<4} {mark}")

    def failures(self, record):
        """Prints the failures of a results record: those of the step the
        student is on in full (each repeat as one line), and one line per
        root cause for the later steps. VERBOSE: every failure in full."""
        failed = [t for t in record["tests"] if t["status"] == "failed"]
        if not failed:
            return
        if self.verbose:
            self._full_reports(failed, record)
            return
        here = min(step_of(t["step"]) for t in failed)
        in_step = [t for t in record["tests"] if step_of(t["step"]) == here]
        self.say()
        title = self.titles.get(here, "")
        name = f"Step {here}" + (f" — {title}" if title else "") if here != OTHER_STEP else "Other"
        self.say(self.style.bold(f"{name}: where you are"))
        for t in in_step:
            verdict = self.style.good("PASS") if t["status"] == "passed" else (
                self.style.dim("SKIP") if t["status"] == "skipped" else self.style.bad("FAIL"))
            self.say(f"  {verdict} {t['earned']:>3}/{t['max_points']:<3} {t['title']}")
        self._full_reports([t for t in failed if step_of(t["step"]) == here], record)
        later = [t for t in failed if step_of(t["step"]) > here]
        if later:
            self._later_causes(later, here, [t for t in failed if step_of(t["step"]) == here])

    def _full_reports(self, failed, record):
        shown = {}
        for t in failed:
            key = (t["kind"], t["message"], t["details"])
            if key in shown:
                self.say(self.style.bad("FAIL ") + self.style.bold(t["title"]) +
                         f"  ({t['name']}, {t['earned']}/{t['max_points']}): same failure as "
                         f"{shown[key]['name']} above")
            else:
                shown[key] = t
                self.say(RULE)
                for line in failure_lines(t, record, self.style):
                    self.say(line)
        self.say(RULE)

    def _later_causes(self, later, here, here_failures):
        """One line per distinct cause among the later steps' failures."""
        causes = {}
        for t in later:
            causes.setdefault(root_cause(t), []).append(t)
        known = {root_cause(t) for t in here_failures}
        steps = sorted({step_of(t["step"]) for t in later})
        shown_steps = ", ".join(str(s) for s in steps if s != OTHER_STEP)
        self.say(f"Later steps ({shown_steps}): {len(later)} tests failed, "
                 f"most likely waiting on step {here}:")
        for cause, tests in sorted(causes.items(), key=lambda item: -len(item[1]))[
                :MAX_CAUSE_LINES]:
            tests_word = "test" if len(tests) == 1 else "tests"
            same = f" (as in step {here})" if cause in known else ""
            self.say(f"  {len(tests):>3} {tests_word}: {printable(cause)}{same}")
        if len(causes) > MAX_CAUSE_LINES:
            self.say(f"  ... and {len(causes) - MAX_CAUSE_LINES} more causes")
        self.say(self.style.dim(f"  Fix step {here} first. Every report in full: make grade "
                                "VERBOSE=1; one test: make grade T=NAME."))

    def summary(self, results, json_path, collection_errors):
        st = self.style
        earned, possible = total(results)
        # In VERBOSE mode the live lines are the table; repeat it where the
        # eye ends up, after the failure reports.
        if self.verbose and any(r.status == "failed" for r in results):
            self.say()
            self.say(st.bold(f"Lab {self.run.lab.number}: {self.run.lab.title}"))
            for r in results:
                self.say(f"  {self.verdict(r)} {r.earned:>3}/{r.max_points:<3} "
                         f"{r.duration:6.2f}s  {r.title}")
        for err in collection_errors:
            self.say(st.bad("  grader error: ") + err.splitlines()[0])
        errors = grader_errors(results)
        if errors or collection_errors:
            self.say(st.bad(f"{len(errors) + len(collection_errors)} grader error(s): these are "
                            "bugs in the grader, not in your code; please report them."))
        self.say(f"Results: {_shown_path(json_path, self.run.root)}")
        if self.run.partial():
            line = (f"Partial: {earned}/{possible} from {self.run.partial()} only; the lab's "
                    "score counts every step: make grade")
        else:
            line = f"Score: {earned}/{possible}"
        self.say(st.good(line) if earned == possible and possible else st.bad(line))
        if earned != possible and os.environ.get("MAKELEVEL"):
            # GNU make reports every non-zero status as an error, and has no
            # way to keep the status without the message.
            self.say(st.dim("(make reports the missing points below as an error; the build "
                            "itself is fine unless the report above says otherwise)"))


PLAIN = Style(io.StringIO())   # no colours: for files and other tools


def step_of(step):
    """A test's step for sorting and grouping (no step: last)."""
    return OTHER_STEP if step is None else step


def root_cause(t):
    """What a failed test's report says first, for grouping. A program
    that stopped and said why on stderr (a skeleton's "TODO", a failed
    bind): that line, which many tests share. Otherwise its kind and
    message."""
    for section in t["sections"]:
        heading = section["heading"]
        if heading.startswith("last lines ") and section["lines"]:
            program = heading[len("last lines "):].split(" wrote to stderr")[0]
            return f"{program} wrote on stderr: {section['lines'][-1][:120]}"
    cause = f"{t['kind']}: {t['message']}"
    return cause if len(cause) <= 140 else cause[:137] + "..."


def failure_lines(t, record, style=PLAIN):
    """The report of one failed test, as lines: from its record (one of
    results.json's tests) and the run's record (results.json itself)."""
    lines = [style.bad("FAIL ") + style.bold(t["title"]) +
             f"  ({t['name']}, {t['earned']}/{t['max_points']} points)",
             f"{INDENT}kind:  {t['kind']}: {KINDS.get(t['kind'], '')}"]
    lines += _block("why:  ", printable(t["message"]))
    if t["details"]:
        lines += [INDENT + "       " + printable(line) for line in t["details"].split("\n")]
    for section in t["sections"]:
        lines.append(f"{INDENT}{section['heading']}:")
        lines += [INDENT + "  " + printable(line) for line in section["lines"]]
    doc = t["doc"] if t["doc"].startswith(("docs/", "labs/")) else f"docs/{t['doc']}"
    lines.append(f"{INDENT}read:  {doc}")
    lines.append(f"{INDENT}rerun: {rerun_command(record, t['name'], t['seed'])}")
    return lines


def failure_text(t, record):
    """One failure's report as plain text (Gradescope, JUnit)."""
    return "\n".join(failure_lines(t, record)) + "\n"


def rerun_command(record, test_name, seed=None):
    """The make command that grades one test again, as it was graded."""
    # A parametrised test's name (test_burst[fork]) holds characters a
    # shell would expand: quote it.
    parts = [f"make grade LAB={record['lab']}", f"T={shlex.quote(test_name)}"]
    if seed is not None:
        parts.append(f"SEED={seed}")
    for flag, on in (("SOLUTION=1", record["code"] == "solution"),
                     ("VALGRIND=1", record["valgrind"]), ("SANITIZE=1", record["sanitize"])):
        if on:
            parts.append(flag)
    return " ".join(parts)


def _block(label, text, width=100):
    lines = textwrap.wrap(text, width) or [""]
    return [INDENT + label + lines[0]] + [INDENT + " " * len(label) + line for line in lines[1:]]


def _shown_path(path, root):
    """Relative to the top folder when inside it, absolute otherwise."""
    rel = os.path.relpath(path, root)
    return os.path.abspath(path) if rel.startswith("..") else rel


MAKE_CHATTER = re.compile(r"^(  CC |make(\[\d+\])?: (Nothing to be done|Entering|Leaving))")


def compiler_diagnostics(output):
    """The compiler's and make's messages, without progress chatter."""
    return [printable(line) for line in output.rstrip().split("\n")
            if line.strip() and not MAKE_CHATTER.match(line)]


def results_record(run, results, version, build, collection_errors, modified, box):
    """The results of one grade, as results.json holds them."""
    earned, possible = total(results)
    return {
        "lab": run.lab.number,
        "title": run.lab.title,
        "code": "solution" if run.solution else "student",
        "source_dir": os.path.relpath(run.src_dir, run.root),
        "grader_version": version,
        "official": not modified,
        "modified_files": list(modified),
        "seed": run.seed,
        "valgrind": run.valgrind,
        "sanitize": run.sanitize,
        "sandbox": {layer.name: layer.to_json() for layer in box.layers()},
        "partial": bool(run.partial()),
        "selection": {"up_to_step": run.up_to_step, "tests": run.select},
        "build_ok": build.ok,
        "not_built": build.missing,
        "score": earned,
        "max_score": possible,
        "grader_errors": len(grader_errors(results)) + len(collection_errors),
        "collection_errors": collection_errors,
        "tests": [r.to_json() for r in results],
    }


def send_results(fd, record):
    """Hands the results in to the parent grader on the results pipe, and
    closes it: the parent reads to the end."""
    data = json.dumps(record).encode()
    with os.fdopen(fd, "wb", closefd=True) as pipe:
        pipe.write(data)


def save_results(out_dir, record):
    """Writes results.json and junit.xml into out_dir. Each is written to
    a fresh file that no link can redirect, then renamed into place: the
    folder may hold what a submission's build left there."""
    os.makedirs(out_dir, exist_ok=True)
    _write_new(os.path.join(out_dir, "results.json"), json.dumps(record, indent=2) + "\n")
    _write_new(os.path.join(out_dir, "junit.xml"), junit_xml(record))


def _write_new(path, text):
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.{secrets.token_hex(8)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                 0o644)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def junit_xml(record):
    """The results as JUnit XML (xunit2), for CI systems that show it."""
    tests = record["tests"]
    suite = ET.Element("testsuite", name=f"lab{record['lab']}", tests=str(len(tests)),
                       failures=str(sum(t["status"] == "failed" and t["kind"] != "grader error"
                                        for t in tests)),
                       errors=str(sum(t["kind"] == "grader error" for t in tests)),
                       skipped=str(sum(t["status"] in ("skipped", "not run") for t in tests)),
                       time=f"{sum(t['time'] for t in tests):.3f}")
    for t in tests:
        case = ET.SubElement(suite, "testcase", classname=f"lab{record['lab']}",
                             name=t["name"], time=f"{t['time']:.3f}")
        if t["status"] == "failed":
            tag = "error" if t["kind"] == "grader error" else "failure"
            node = ET.SubElement(case, tag, message=f"{t['kind']}: {t['message']}"[:1000])
            node.text = failure_text(t, record) if t["status"] == "failed" else t["message"]
        elif t["status"] in ("skipped", "not run"):
            ET.SubElement(case, "skipped", message=t["message"] or t["status"])
    root = ET.Element("testsuites")
    root.append(suite)
    return ET.tostring(root, encoding="unicode") + "\n"
