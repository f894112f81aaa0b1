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

Modules, one line each:

  Tests' toolbox
    context       the `ctx` fixture each graded test receives
    processes     starting the programs under test, containing them, cleaning up
    sockets       sending in chosen pieces, receiving with bounds
    transcripts   what went over the wire, and readable views of bytes
    explain       the first broken rule when bytes on the wire are wrong
    peers         servers inside the grader, for testing the labs' clients
    http          HTTP requests and responses for the tests of lab 05 on
    udp           a datagram socket, a UDP echo peer and a lossy relay
    procfs        what a running server holds, read from /proc
    faults        fault injection: what a test asks for, and the shim that does it
    failures      failure kinds a student can act on

  Grading
    __main__      the command line: grade, handout, gradescope, batch
    children      graders run as child processes, in every mode
    grading       the child grader's side of `grade`: build, test, report
    plugin        the pytest plugin behind "make grade"
    scoring       points, per-test results and the score
    reports       what the student reads: steps, failure reports, score
    i18n          the grader's messages in the student's language
    labs          where the labs are, what they build, and building them
    course        the course plan (course.toml): release and due weeks, weights

  Isolation
    sandbox       how everything a submission controls is run
    enclosure     a grader in namespaces of its own
    cgroups       control groups for a submission's build and programs
    boxfs         files in a folder the programs under test can write
    boot          starts a grader module isolated from the course tree
    launch        starting the grader's own Python processes through boot

  Publishing and bulk grading
    handout       writing or updating a student repository
    manifest      hashes of the published grader and tests
    gradescope    building an autograder package, and running it
    submissions   grading one submission in isolation (Gradescope, batch)
    batch         grading a folder of submissions, several at a time
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
