"""Failure kinds: every failed test is sorted into one a student can act on.

A test fails by raising GradeFailure (or a subclass) with a kind and a
message written for the student. Anything else that escapes a test is
classified by classify(): socket errors caused by the program under test
become the matching kind; any other exception is a bug in the grader
itself ("grader error") and is reported as such, never blamed on the
student.
"""

import socket

from .i18n import mark

# The kinds' names are ids (results.json keeps them); shown, they are
# translated like any message: mark() puts them in the catalogue.
KIND_NAMES = [mark("timeout"), mark("crash"), mark("did not start"), mark("not built"),
              mark("connection refused"), mark("connection reset"), mark("broken pipe"),
              mark("wrong bytes"), mark("missing bytes"), mark("extra bytes"),
              mark("wrong exit code"), mark("wrong output"), mark("valgrind errors"),
              mark("sanitizer errors"), mark("unit test failed"), mark("grader error")]

# The kinds, with the one-line advice printed beside each.
KINDS = {
    "timeout": mark("the program did not do what the test waited for in time"),
    "crash": mark("the program was killed by a signal"),
    "did not start": mark("the program exited or never announced itself"),
    "not built": mark("the program did not compile; see the compiler errors above"),
    "connection refused": mark("nothing was listening where the program said it was"),
    "connection reset": mark("the program reset the connection (RST)"),
    "broken pipe": mark("the program closed the connection while the test was still sending"),
    "wrong bytes": mark("bytes arrived, but not the expected ones"),
    "missing bytes": mark("fewer bytes arrived than expected"),
    "extra bytes": mark("more bytes arrived than expected"),
    "wrong exit code": mark("the program exited with another status than expected"),
    "wrong output": mark("what the program sent, printed or did differs from what is expected"),
    "valgrind errors": mark("valgrind found memory errors or leaks"),
    "sanitizer errors": mark("a sanitizer (AddressSanitizer, UBSan or ThreadSanitizer) found a memory "
                              "error, undefined behaviour, a data race or a leak"),
    "unit test failed": mark("a unit test of your helper functions failed"),
    "grader error": mark("the grader itself failed: this is not your fault, please report it"),
}


class GradeFailure(Exception):
    """A test failure with a kind from KINDS and a message for the student."""

    def __init__(self, kind, message, details=""):
        assert kind in KINDS, kind
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.details = details

    def __str__(self):
        return self.message


class PartialCredit(GradeFailure):
    """A failure that still earns a share of the test's points: some of a
    unit test group's cases passed (fraction = passed / run)."""

    def __init__(self, fraction, kind, message, details=""):
        super().__init__(kind, message, details)
        self.fraction = fraction


class TestTimeout(GradeFailure):
    """Raised when a test, or a wait inside it, runs out of time."""

    __test__ = False  # not a pytest test class

    def __init__(self, message, details="", cause=""):
        """cause, when known, is why the program was silent (see
        context.why_silent); it ends the message, and callers that add to
        what was waited for keep it last by building a new TestTimeout
        from said and cause."""
        super().__init__("timeout", message + cause, details)
        self.said = message
        self.cause = cause


def classify(exc):
    """Returns (kind, message) for any exception that ended a test."""
    if isinstance(exc, GradeFailure):
        return exc.kind, exc.message
    if isinstance(exc, ConnectionResetError):
        return "connection reset", "the connection was reset by the program (RST)"
    if isinstance(exc, BrokenPipeError):
        return "broken pipe", "the program closed the connection while the test was sending"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused", "the connection was refused: nothing listens on that port"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout", "a socket operation timed out"
    if isinstance(exc, AssertionError):
        return "wrong output", str(exc) or "a check in the test failed"
    return "grader error", f"{type(exc).__name__}: {exc}"
