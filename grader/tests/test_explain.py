"""Unit tests of grader/explain.py: one rule, one sentence, exact offsets;
and a lab 05 server whose lines end in a bare \\n is told so."""

import shutil
import socket
import threading

import pytest

from conftest import grade
from grader import labs
from grader.failures import GradeFailure, TestTimeout
from grader.http import HttpReader, h11
from grader.sockets import Conn
from grader.transcripts import Transcript
from grader.explain import (explain_bytes, extra_after_response, head_length,
                            response_head_problem, response_problem)

GOOD = (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n"
        b"hello")


def test_equal_bytes_break_no_rule():
    assert explain_bytes(b"same", b"same") is None


@pytest.mark.parametrize("expected,actual,kind,words", [
    (b"abcdef", b"abc", "missing bytes",
     "only the first 3 of the 6 expected bytes came (3 missing at the end)"),
    (b"abc", b"", "missing bytes", "none of the 3 expected bytes came"),
    (b"abc", b"abc\n", "extra bytes",
     "the 3 expected bytes came, then an extra byte '\\n' (0x0a) after them"),
    (b"abc", b"abcdef", "extra bytes", '3 extra bytes after them: "def"'),
    (b"HTTP/1.1 200 OK\r\nA: b\r\n", b"HTTP/1.1 200 OK\nA: b\n", "wrong bytes",
     "line 1 must end in \\r\\n; yours ends in a bare \\n at byte 15 (counting from 0) "
     "(every \\r\\n came as a bare \\n)"),
    (b"one\r\ntwo\r\n", b"one\r\ntwo\n", "wrong bytes",
     "line 2 must end in \\r\\n; yours ends in a bare \\n at byte 8 (counting from 0)"),
    (b"one\ntwo\n", b"one\r\ntwo\n", "wrong bytes",
     "line 1 must end in a bare \\n; yours has a \\r before it, at byte 3"),
    (bytes(range(256)) * 20, (bytes(range(256)) * 20)[:4096] + (bytes(range(256)) * 20)[4099:],
     "missing bytes", "3 bytes missing at byte 4096 (counting from 0): bytes 4096 to 4098"),
    (b"0123456789", b"01234abc56789", "extra bytes",
     '3 extra bytes "abc" at byte 5 (counting from 0)'),
    (b"0123456789", b"012343456789", "extra bytes",
     "(a repeat of the bytes just before them)"),
    (b"hello world\n", b"hello worle\n", "wrong bytes",
     "byte 10 (counting from 0) should be 'd' (0x64) but is 'e' (0x65)"),
    (b"abcd", b"xbcx", "wrong bytes", "; 2 of the 4 bytes differ"),
])
def test_byte_rules(expected, actual, kind, words):
    got_kind, sentence = explain_bytes(expected, actual)
    assert got_kind == kind
    assert words in sentence, sentence


def test_cut_short_says_when_the_program_closed():
    _, sentence = explain_bytes(b"hello", b"hel", stream_ended=True)
    assert sentence.endswith("then the program closed the connection")


def test_a_correct_head_breaks_no_rule():
    assert response_head_problem(GOOD) is None
    assert response_head_problem(GOOD[:20]) is None        # incomplete so far
    assert response_problem(GOOD, closed=True) is None
    assert head_length(GOOD) == len(GOOD) - 5


@pytest.mark.parametrize("raw,words", [
    (b"HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n",
     "the status line must end in \\r\\n; yours ends in a bare \\n at byte 15 of the "
     "response (counting from 0)"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 0\n\r\n",
     "line 2 of the head (the status line is line 1) must end in \\r\\n; yours ends in a "
     "bare \\n at byte 34"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\n",
     "the empty line that ends the head must end in \\r\\n"),
    (b"HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length 0\r\n\r\n",
     "header lines must be 'Name: value'; line 3 of the head (the status line is line 1) "
     '("Content-Length 0") has no \':\''),
    (b"HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n",
     "with no space before the ':'"),
    # The body right after the last header: the head was never ended.
    (b"HTTP/1.1 200 OK\r\nContent-Length: 16\r\n<!DOCTYPE html>\n<p>",
     'the head never ended: after line 2 came "<!DOCTYPE html>", which is no header line'),
    (b"HTTP/1.1 200 OK\r\n Folded: x\r\n\r\n", "starts with whitespace"),
    (b"HTTP/1.1 200\r\n\r\n", "needs a space after the status code"),
    (b"HTTP/1.1 2000 OK\r\n\r\n", "with a 3-digit code"),
    (b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n", "has a bare \\r at byte 21"),
    (b"HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n", "holds the control byte '\\x01' (0x01)"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 12x\r\n\r\n",
     'Content-Length must be a number of bytes (digits only); yours is "12x"'),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
     "Content-Length appears 2 times with different values (3 and 4)"),
    (b"\nHTTP/1.1 200 OK\r\n\r\n", 'an extra "\\n" came before the status line'),
    (b"<html>\nHTTP/1.1 200 OK\r\n\r\n", 'this one starts with "<html>\\nHTTP/1.1'),
])
def test_head_rules(raw, words):
    sentence = response_head_problem(raw)
    assert sentence is not None and words in sentence, sentence


def test_framing_rules():
    short = b"HTTP/1.1 200 OK\r\nContent-Length: 120\r\n\r\n" + b"x" * 98
    assert (response_problem(short, closed=True) ==
            "Content-Length says 120 but 98 body bytes came before the connection closed")
    assert (response_problem(short, waited=3) ==
            "Content-Length says 120 but 98 body bytes came in 3 s")
    assert response_problem(short) is None             # still coming, perhaps
    # raw may keep only the start of a long response: total counts it all.
    assert response_problem(short[:50], total=len(short), closed=True).endswith("98 body bytes "
                                                                               "came before "
                                                                               "the connection "
                                                                               "closed")
    unended = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n"
    assert response_problem(unended, waited=3).startswith(
        f"the head never ended: {len(unended)} bytes came in 3 s")
    assert response_problem(b"", closed=True) == ("no byte of the response came before the "
                                                  "connection closed")


def test_extra_bytes_after_a_response():
    assert (extra_after_response(b"\n", GOOD) == "an extra byte '\\n' (0x0a) came after the end "
            "of the response (its Content-Length said 5)")
    assert extra_after_response(b"abc", GOOD).startswith('3 extra bytes "abc" came after')


# -- the hooks: what a test sees ----------------------------------------------------

HOLD_OPEN = 2.0   # seconds a scripted server keeps a connection open


def scripted(reply, close):
    """A connection to a server that reads a request, sends reply, and
    closes (close=True) or stays silent."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve():
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(reply)
            if not close:
                done.wait(HOLD_OPEN)
        listener.close()

    threading.Thread(target=serve, daemon=True).start()
    conn = Conn.open("127.0.0.1", listener.getsockname()[1], "conn 1", Transcript(), 0.3)
    return conn, done


def read_response(reply, close=True):
    if h11 is None:
        pytest.skip("python3-h11 is not installed")
    conn, done = scripted(reply, close)
    try:
        reader = HttpReader(conn)
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        reader.request("GET")
        return reader, reader.response("GET /")
    finally:
        done.set()


@pytest.mark.parametrize("reply,close,failure,words", [
    # h11 rejects it: the rule, not h11's words, is the message
    (b"HTTP/1.1 200 OK\r\nContent-Length 2\r\n\r\nhi", True, GradeFailure,
     "GET /: header lines must be 'Name: value'; line 2 of the head"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", True, GradeFailure,
     "GET /: Content-Length says 10 but 3 body bytes came before the connection closed"),
    (b"", True, GradeFailure, "no byte of the response came before the connection closed"),
    # h11 waits for the rest: the timeout says what is missing
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", False, TestTimeout,
     "Content-Length says 10 but 3 body bytes came in 0.3 s"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n", False, TestTimeout, "the head never ended"),
    # h11 takes it: the grader's own check of the head
    (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", True, GradeFailure,
     "the status line must end in \\r\\n; yours ends in a bare \\n at byte 15"),
])
def test_http_reader_names_the_rule(reply, close, failure, words):
    with pytest.raises(failure) as err:
        read_response(reply, close)
    assert words in err.value.message, err.value.message
    if failure is GradeFailure and reply.startswith(b"HTTP/1.1 200 OK\r\nContent-Length 2"):
        assert "h11" in err.value.details


def test_http_reader_keeps_why_the_server_was_silent_last():
    """The kernel's sentence (context.why_silent) ends a timeout's
    message; the response rule the reader adds goes before it."""
    if h11 is None:
        pytest.skip("python3-h11 is not installed")
    conn, done = scripted(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n", close=False)
    conn.explain_silence = lambda: "; the server sent no more than the above"
    try:
        reader = HttpReader(conn)
        conn.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        reader.request("GET")
        with pytest.raises(TestTimeout) as err:
            reader.response("GET /")
    finally:
        done.set()
        conn.close()
    message = err.value.message
    assert message.endswith("; the server sent no more than the above"), message
    assert message.index("the head never ended") < message.index("the server sent no more"), message
    assert message.count("the server sent no more") == 1, message


def test_http_reader_names_an_extra_byte_after_the_response():
    reader, response = read_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi\n")
    assert response.body == b"hi"
    with pytest.raises(GradeFailure) as err:
        reader.expect_close("the response")
    assert ("an extra byte '\\n' (0x0a) came after the end of the response (its "
            "Content-Length said 2)") in err.value.message


def test_expect_timeout_explains_what_did_come():
    """What came is explained after what was waited for; why the server
    was silent (context.why_silent) stays last."""
    conn, done = scripted(b"0123" + b"6789", close=False)
    conn.explain_silence = lambda: ". The server sent no more than the above"
    try:
        conn.send(b"go")
        with pytest.raises(TestTimeout) as err:
            conn.expect(b"0123456789", "the digits")
    finally:
        done.set()
    assert ("of what came: 2 bytes missing at byte 4 (counting from 0): bytes 4 to 5 of the "
            "10 expected never came, the ones after them did. The server sent no more than the "
            "above") in err.value.message
    assert err.value.message.count("The server sent no more") == 1, err.value.message


# -- the rules reach the report -------------------------------------------------------

LAB05 = labs.get_lab("05")
STATUS_LINE_C = 'head_add(h, "HTTP/1.1 %d %s\\r\\n", status, http_reason_phrase(status));'


def test_lab05_bare_newline_status_line_is_named_in_the_report(tmp_path):
    """A server whose status line ends in \\n alone: h11 and curl accept it,
    the grader names the rule and the byte."""
    src = tmp_path / "src"
    shutil.copytree(LAB05.dir / "solution", src)
    server_c = src / "http_server.c"
    code = server_c.read_text()
    assert code.count(STATUS_LINE_C) == 1, "the reference's status line moved: update this test"
    server_c.write_text(code.replace(STATUS_LINE_C, STATUS_LINE_C.replace("\\r\\n", "\\n")))
    _, results, output = grade(LAB05, "-k", "test_get_index", src_dir=src,
                               out_dir=tmp_path / "out")
    (result,) = results["tests"]
    assert result["status"] == "failed" and result["kind"] == "wrong output", output
    assert ("the status line must end in \\r\\n; yours ends in a bare \\n at byte 15 of the "
            "response (counting from 0)") in result["message"], output
