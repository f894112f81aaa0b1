"""The lab suite's grader: a small library on top of pytest.

Lab tests (labs/NN-name/tests/test_*.py) use what is exported here:

    from grader import graded, expect_bytes, GradeFailure

    @graded(points=5, doc="01-tcp.md#reading-recv-and-end-of-stream")
    def test_echo_short_text(ctx):
        '''echoes a short line of text'''
        server = ctx.start_server("echo_server", ["-p", "0"])
        conn = ctx.connect(server)
        conn.send(b"hello\\n")
        conn.expect(b"hello\\n", "the echo of the line")

Modules: processes (starting and containing programs), sockets (talking
to them), transcripts (recording and showing bytes), context (a test's
toolbox), peers (servers inside the grader), scoring, reports, labs
(finding and building labs), plugin (pytest glue), __main__ (the CLI).
"""

from .context import TCP_ANNOUNCE, UNIX_ANNOUNCE
from .failures import GradeFailure, TestTimeout
from .faults import Faults
from .peers import EchoPeer
from .plugin import graded
from .processes import Limits, describe_status
from .sockets import expect_bytes, split_sizes

__all__ = ["graded", "Faults", "expect_bytes", "split_sizes", "GradeFailure", "TestTimeout",
           "EchoPeer", "Limits", "describe_status", "TCP_ANNOUNCE", "UNIX_ANNOUNCE"]
