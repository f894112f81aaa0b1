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
import unicodedata
import xml.etree.ElementTree as ET

from .failures import KINDS
from .i18n import doc_path, mark, tr, tr_n
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


class Reporter:
    def __init__(self, run, stream=sys.stdout, verbose=False):
        self.run = run
        self.out = stream
        self.style = Style(stream)
        self.verbose = verbose
        self.titles = {}
        self._remaining = {}     # step: tests not finished yet
        self._finished = {}      # step: [TestResult]
        self._shown = set()      # steps whose line is printed
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
        where = _shown_path(self.run.src_dir, self.run.root)
        if self.run.solution:
            heading = tr("Grading lab {number} ({title}): the reference solution in {where}/",
                         number=lab.number, title=lab_title(lab), where=where)
        else:
            heading = tr("Grading lab {number} ({title}): your code in {where}/",
                         number=lab.number, title=lab_title(lab), where=where)
        self.say(self.style.bold(heading))
        if self.run.solution:
            self.say(self.style.bad("  " + tr("This grades the REFERENCE, not your code")) +
                     tr(" (it was built with SOLUTION=1). Yours: make lab{number} && make grade",
                        number=lab.number))
        extras = [tr("grader {version}", version=version)]
        if self.run.valgrind:
            extras.append(tr("every server under valgrind"))
        if self.run.sanitize:
            extras.append(tr("every program built with AddressSanitizer and UBSan"))
        extras.append(tr("seed {seed}", seed=self.run.seed) if self.run.seed is not None
                      else tr("seeds: fixed per test (SEED=N to change)"))
        self.say(self.style.dim("  " + tr("; ").join(extras)))
        self.say(self.style.dim("  " + containment_summary()))
        if modified:
            self.say(self.style.bad("  " + tr("Unofficial score:")) + " " +
                     tr("these files differ from the published handout: {files}. Official "
                        "grading uses the course's own copy of the tests.",
                        files=", ".join(modified[:5]) + (" ..." if len(modified) > 5 else "")))
        diagnostics = compiler_diagnostics(build.output)
        if diagnostics:
            self.say(tr("Compiler output:"))
            for line in diagnostics:
                self.say(INDENT + line)
        if not build.ok:
            self.say(self.style.bad(tr("The build failed")) +
                     tr("; not built: {programs}. Tests that need a missing program fail as "
                        "'not built'.", programs=", ".join(build.missing) or tr("(see above)")))
        self.say()

    def verdict(self, result):
        return verdict_word(result.status, self.style)

    def test_line(self, result):
        verdict = self.verdict(result)
        kind = f"  [{kind_name(result.kind)}]" if result.kind else ""
        self.say(f"  {verdict} {result.earned:>3}/{result.max_points:<3} {result.duration:6.2f}s  "
                 f"{result.title}{kind}")
        if result.status == "skipped":
            self.say(self.style.dim("              " + tr("skipped: {why}", why=result.message)))

    def live(self, result):
        """Called as each test ends: the step's line once its last test has,
        and every step before it too. The hidden tests run after all the
        others: a step with hidden tests waits for them, and the steps
        after it wait for it, so the lines stay in the handout's order."""
        if self.verbose:
            self.test_line(result)
        step = step_of(result.step)
        self._finished.setdefault(step, []).append(result)
        self._remaining[step] = self._remaining.get(step, 1) - 1
        for step in sorted(self._remaining):
            if self._remaining[step] > 0:
                break
            if step not in self._shown:
                self._shown.add(step)
                self.step_line(step, self._finished[step])

    def step_line(self, step, results):
        earned = sum(r.earned for r in results)
        possible = sum(r.max_points for r in results if r.status != "skipped")
        if all(r.status in ("passed", "skipped") for r in results):
            mark = self.style.good(tr("done"))
        elif any(r.status == "not run" for r in results):
            mark = self.style.dim(tr("not all run"))
        elif self.here is None:
            self.here = step
            mark = self.style.bad(tr("here"))
        else:
            mark = self.style.dim(tr("waiting"))
        name = tr("Step {number}", number=step) if step != OTHER_STEP else tr("Other")
        title = clip(self.titles.get(step, ""), 44)
        self.say(f"  {pad(name, 8)}{pad(title, 46)}{earned:>4}/{possible:<4} {mark}")

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
        name = tr("Step {number}", number=here) + (f" — {title}" if title else "") \
            if here != OTHER_STEP else tr("Other")
        self.say(self.style.bold(tr("{step}: where you are", step=name)))
        for t in in_step:
            verdict = verdict_word(t["status"], self.style)
            self.say(f"  {verdict} {t['earned']:>3}/{t['max_points']:<3} {t['title']}")
        self._full_reports([t for t in failed if step_of(t["step"]) == here], record)
        later = [t for t in failed if step_of(t["step"]) > here]
        if later:
            self._later_causes(later, here, [t for t in failed if step_of(t["step"]) == here])

    def _full_reports(self, failed, record):
        """Each failure in full, but one line for a failure that repeats
        one above: the same report, or the same kind of failure after the
        program stopped with the same last line on stderr (a skeleton's
        TODO, a failed bind), where the first report says it all."""
        shown = {}
        for t in failed:
            stopped = last_stderr_line(t)
            key = (t["kind"], stopped) if stopped else (t["kind"], t["message"], t["details"])
            if key in shown:
                how = (tr("({name}, {earned}/{max_points}): stopped the same way as {first} above",
                          name=t["name"], earned=t["earned"], max_points=t["max_points"],
                          first=shown[key]["name"]) if stopped else
                       tr("({name}, {earned}/{max_points}): same failure as {first} above",
                          name=t["name"], earned=t["earned"], max_points=t["max_points"],
                          first=shown[key]["name"]))
                self.say(verdict_word("failed", self.style) + " " + self.style.bold(t["title"]) +
                         "  " + how)
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
        self.say(tr_n("Later steps ({steps}): {count} test failed, most likely waiting on "
                      "step {here}:",
                      "Later steps ({steps}): {count} tests failed, most likely waiting on "
                      "step {here}:", len(later), steps=shown_steps, here=here))
        for cause, tests in sorted(causes.items(), key=lambda item: -len(item[1]))[
                :MAX_CAUSE_LINES]:
            same = " " + tr("(as in step {here})", here=here) if cause in known else ""
            self.say("  " + tr_n("{count:>3} test: {cause}", "{count:>3} tests: {cause}",
                                 len(tests), cause=printable(cause)) + same)
        if len(causes) > MAX_CAUSE_LINES:
            self.say("  " + tr("... and {count} more causes", count=len(causes) - MAX_CAUSE_LINES))
        self.say(self.style.dim("  " + tr("Fix step {here} first. Every report in full: make "
                                          "grade VERBOSE=1; one test: make grade T=NAME.",
                                          here=here)))

    def summary(self, results, json_path, collection_errors):
        st = self.style
        earned, possible = total(results)
        # In VERBOSE mode the live lines are the table; repeat it where the
        # eye ends up, after the failure reports.
        if self.verbose and any(r.status == "failed" for r in results):
            self.say()
            self.say(st.bold(tr("Lab {number}: {title}", number=self.run.lab.number,
                                title=lab_title(self.run.lab))))
            for r in results:
                self.say(f"  {self.verdict(r)} {r.earned:>3}/{r.max_points:<3} "
                         f"{r.duration:6.2f}s  {r.title}")
        for err in collection_errors:
            self.say(st.bad("  " + tr("grader error:") + " ") + err.splitlines()[0])
        errors = grader_errors(results)
        if errors or collection_errors:
            self.say(st.bad(tr_n("{count} grader error: these are bugs in the grader, not in "
                                 "your code; please report them.",
                                 "{count} grader errors: these are bugs in the grader, not in "
                                 "your code; please report them.",
                                 len(errors) + len(collection_errors))))
        self.say(tr("Results: {path}", path=_shown_path(json_path, self.run.root)))
        if self.run.partial():
            line = tr("Partial: {earned}/{possible} from {part} only; the lab's score counts "
                      "every step: make grade", earned=earned, possible=possible,
                      part=self.run.partial())
        else:
            # Machine-read (CI jobs grep it): the same in every language.
            line = f"Score: {earned}/{possible}"
        self.say(st.good(line) if earned == possible and possible else st.bad(line))
        if earned != possible and os.environ.get("MAKELEVEL"):
            # GNU make reports every non-zero status as an error, and has no
            # way to keep the status without the message.
            self.say(st.dim(tr("(make reports the missing points below as an error; the build "
                               "itself is fine unless the report above says otherwise)")))


PLAIN = Style(io.StringIO())   # no colours: for files and other tools


def step_of(step):
    """A test's step for sorting and grouping (no step: last)."""
    return OTHER_STEP if step is None else step


def last_stderr_line(t):
    """The last line a program of the test wrote on stderr, with the
    program's name, or None: where a program stopped and said why."""
    for section in t["sections"]:
        if section.get("stderr_of") and section["lines"]:
            return tr("{program} wrote on stderr: {line}", program=section["stderr_of"],
                      line=section["lines"][-1][:120])
    return None


def root_cause(t):
    """What a failed test's report says first, for grouping. A program
    that stopped and said why on stderr (a skeleton's "TODO", a failed
    bind): that line, which many tests share. Otherwise its kind and
    message."""
    stopped = last_stderr_line(t)
    if stopped:
        return stopped
    cause = f"{t['kind']}: {t['message']}"
    return cause if len(cause) <= 140 else cause[:137] + "..."


def failure_lines(t, record, style=PLAIN):
    """The report of one failed test, as lines: from its record (one of
    results.json's tests) and the run's record (results.json itself)."""
    lines = [verdict_word("failed", style) + " " + style.bold(t["title"]) + "  " +
             tr("({name}, {earned}/{max_points} points)", name=t["name"], earned=t["earned"],
                max_points=t["max_points"]),
             f"{INDENT}{label('kind:')}{kind_name(t['kind'])}: {tr(KINDS.get(t['kind'], ''))}"]
    lines += _block(label("why:"), printable(t["message"]))
    if t["details"]:
        lines += [INDENT + "       " + printable(line) for line in t["details"].split("\n")]
    for section in t["sections"]:
        lines.append(INDENT + tr("{heading}:", heading=section["heading"]))
        lines += [INDENT + "  " + printable(line) for line in section["lines"]]
    doc = t["doc"] if t["doc"].startswith(("docs/", "labs/")) else f"docs/{t['doc']}"
    lines.append(f"{INDENT}{label('read:')}{doc_path(doc)}")
    lines.append(f"{INDENT}{label('rerun:')}{rerun_command(record, t['name'], t['seed'])}")
    return lines


LABELS = [mark("kind:"), mark("why:"), mark("read:"), mark("rerun:")]


def label(word):
    """A report's label ("why:") padded to one width, in the language."""
    return pad(tr(word), 7)


VERDICTS = {"passed": (mark("PASS"), "good"), "skipped": (mark("SKIP"), "dim"),
            "not run": ("----", "dim"), "failed": (mark("FAIL"), "bad")}


def verdict_word(status, style):
    word, tone = VERDICTS.get(status, VERDICTS["failed"])
    return getattr(style, tone)(tr(word) if word != "----" else word)


def kind_name(kind):
    """A failure kind as the student reads it (results.json keeps its id)."""
    return tr(kind) if kind else ""


def lab_title(lab):
    return tr(lab.title)


def display_width(text):
    """Columns text takes in a terminal: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text, width):
    return text + " " * max(0, width - display_width(text))


def clip(text, width):
    """text cut to at most width columns."""
    out = ""
    for char in text:
        if display_width(out + char) > width:
            break
        out += char
    return out


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


def _block(heading, text, width=100):
    lines = textwrap.wrap(text, width) or [""]
    return [INDENT + heading + lines[0]] + [INDENT + " " * display_width(heading) + line
                                             for line in lines[1:]]


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
