"""Unit tests of grader/sockets.py against small servers in this process."""

import random
import socket
import threading

import pytest

from grader.failures import GradeFailure, TestTimeout
from grader.sockets import Conn, expect_bytes, split_sizes
from grader.transcripts import Transcript


class OneShotServer:
    """Accepts one connection and runs handler(conn) in a thread."""

    def __init__(self, handler):
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.handler = handler
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        conn, _ = self.listener.accept()
        with conn:
            self.handler(conn)
        self.listener.close()


def echo_until_eof(conn):
    while chunk := conn.recv(65536):
        conn.sendall(chunk)


def connect(server, timeout=1.0):
    return Conn.open("127.0.0.1", server.port, "conn 1", Transcript(), timeout)


@pytest.mark.parametrize("seed", range(20))
def test_split_sizes_add_up_and_stay_in_bounds(seed):
    rng = random.Random(seed)
    total = rng.randint(0, 5000)
    sizes = split_sizes(total, rng, 64)
    assert sum(sizes) == total and all(1 <= s <= 64 for s in sizes)


def test_pieces_and_bytewise_sends_arrive_whole():
    conn = connect(OneShotServer(echo_until_eof))
    conn.send_bytewise(b"abc")
    conn.send_random_pieces(b"0123456789" * 50, seed=7, max_piece=13)
    conn.expect(b"abc" + b"0123456789" * 50, "the echo")
    conn.shutdown_write()
    conn.expect_eof()


def test_large_transfer_does_not_deadlock():
    data = random.Random(1).randbytes(4 << 20)
    conn = connect(OneShotServer(echo_until_eof), timeout=10)
    assert conn.send_while_receiving(data, len(data)) == data


def test_wrong_echo_is_reported_as_wrong_bytes():
    def corrupt(conn):
        conn.recv(100)
        conn.sendall(b"hellO")
    conn = connect(OneShotServer(corrupt))
    conn.send(b"hello")
    with pytest.raises(GradeFailure) as err:
        conn.expect(b"hello", "the echo")
    assert err.value.kind == "wrong bytes" and "byte 4" in err.value.message


def test_the_sentence_reads_right_whatever_the_words():
    """'what' is a noun phrase of the test's choosing ("the echo on the
    announced port"): the sentence must not put "wrong" before it."""
    with pytest.raises(GradeFailure) as err:
        expect_bytes(b"ping\n", b"pong\n", "the echo on the announced port")
    assert err.value.message.startswith("the echo on the announced port: byte 1"), \
        err.value.message
    assert "wrong the" not in err.value.message


def test_short_reply_then_close_is_missing_bytes():
    def short(conn):
        conn.recv(100)
        conn.sendall(b"hel")
    conn = connect(OneShotServer(short))
    conn.send(b"hello")
    with pytest.raises(GradeFailure) as err:
        conn.expect(b"hello", "the echo")
    assert err.value.kind == "missing bytes" and "closed the connection" in err.value.message


def test_silence_is_a_timeout_that_says_what_was_awaited():
    done = threading.Event()
    conn = connect(OneShotServer(lambda c: done.wait(5)), timeout=0.3)
    conn.send(b"hello")
    with pytest.raises(TestTimeout) as err:
        conn.expect(b"hello", "the echo of hello")
    done.set()
    assert "the echo of hello" in err.value.message


def test_reset_by_peer_is_connection_reset():
    def rst(conn):
        conn.recv(100)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    conn = connect(OneShotServer(rst))
    conn.send(b"hello")
    with pytest.raises(GradeFailure) as err:
        conn.recv_exactly(5)
    assert err.value.kind == "connection reset"


def test_connection_refused_is_reported():
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    with pytest.raises(GradeFailure) as err:
        Conn.open("127.0.0.1", port, "conn 1", Transcript(), 1.0)
    holder.close()
    assert err.value.kind == "connection refused"
