"""Lab 04 hidden tests: variations of the public ones with other data,
splits and seeds, so that a program tuned to the public tests' exact
inputs does not pass. Instructors only: handouts leave this folder out.

Self-contained: pytest puts tests/hidden on sys.path, not tests/, so the
few helpers needed are repeated here. Each test compares the whole reply
stream, which is fixed by what was sent: message n of a connection comes
back as one message "n:<payload>" in the same framing.
"""

import os
import socket
import struct
import threading
import time

from grader import expect_bytes, graded, split_sizes

SERVER = os.environ.get("FRAME_SERVER") or "frame_server"
DOC = "04-sticky-packets.md"
LEN_MAX = 1 << 20          # payload limit of the length-prefixed framing
LINE_MAX = 64 << 10        # payload limit of the line framing


def frame(mode, payload):
    if mode == "len":
        return struct.pack(">I", len(payload)) + payload
    assert b"\n" not in payload
    return payload + b"\n"


def frames(mode, payloads):
    return b"".join(frame(mode, p) for p in payloads)


def replies(mode, payloads):
    """The reply stream a connection is owed for these payloads."""
    return frames(mode, [b"%d:%s" % (i + 1, p) for i, p in enumerate(payloads)])


def start(ctx, mode):
    return ctx.start_server(SERVER, ["-p", "0"] + (["-m", "line"] if mode == "line" else []))


def expect_stream(conn, expected, what, timeout=15):
    """Receives len(expected) bytes, failing at the first wrong byte
    rather than after waiting for bytes that will never come."""
    deadline = time.monotonic() + timeout
    got = bytearray()
    while len(got) < len(expected):
        chunk = conn._recv_once(deadline, what)
        if not chunk:
            break
        got += chunk
        if expected[len(got) - len(chunk):len(got)] != chunk:
            break
    expect_bytes(expected, bytes(got), what, conn.eof)


def exchange(ctx, server, mode, payloads, sizes, what):
    """Sends the payloads framed, cut into pieces of the given sizes, from
    a thread while checking the replies here; then the end of the stream."""
    data = frames(mode, payloads)
    conn = ctx.connect(server, timeout=15)
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    failure = []

    def sender():
        try:
            conn.send_pieces(data, sizes)
        except Exception as exc:  # reported below, in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=sender, name="test-sender", daemon=True)
    thread.start()
    try:
        expect_stream(conn, replies(mode, payloads), f"{what} (seed {ctx.seed})")
    finally:
        thread.join(timeout=2)
        if thread.is_alive():     # stuck in a send: unblock it, the test is over
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            thread.join(timeout=2)
    if failure:
        raise failure[0]
    conn.shutdown_write()
    conn.expect_eof(f"{mode} framing: the end of the stream after the last reply")


@graded(points=5, doc=f"{DOC}#a-length-header", timeout=40, step=3)
def test_hidden_binary_len_random_pieces(ctx):
    """server (hidden): binary payloads full of '\\n', NUL and header-like bytes, random pieces"""
    server = start(ctx, "len")
    rng = ctx.rng()
    tricky = [b"\n", b"\x00", b"\r\n", b"\x00\x00\x00\x05", b"\xff\xff\xff\xff", b"1:"]
    payloads = []
    for _ in range(600):
        size = rng.choice([0, 1, 3, 4, 5, rng.randint(6, 300), rng.randint(300, 5000)])
        body = bytearray(rng.randbytes(size))
        for _ in range(size // 16):
            at = rng.randrange(size)
            body[at:at + 4] = rng.choice(tricky)
        payloads.append(bytes(body[:size]))
    payloads.insert(rng.randrange(len(payloads)), b"\n" * 7000)   # "lines" in len framing
    payloads.insert(rng.randrange(len(payloads)), b"\x00" * 9000)
    sizes = split_sizes(len(frames("len", payloads)), rng, 3000)
    ctx.note(f"len framing: {len(payloads)} binary messages in {len(sizes)} random pieces of "
             f"1..3000 bytes (seed {ctx.seed})")
    exchange(ctx, server, "len", payloads, sizes,
             f"replies to {len(payloads)} binary messages in random pieces")


@graded(points=5, doc=f"{DOC}#maximum-sizes", timeout=40, step=3)
def test_hidden_near_limits_mixed_with_empty(ctx):
    """server (hidden): messages at and just under the limits, among zero-length ones"""
    rng = ctx.rng()
    for mode, limit, piece in (("line", LINE_MAX, 20000), ("len", LEN_MAX, 300000)):
        server = start(ctx, mode)
        payloads = []
        for size in (limit - 1, 0, limit, 0, 0, limit - rng.randint(2, 4000), 1, 0,
                     rng.randint(limit // 2, limit), limit - 1, 0):
            data = rng.randbytes(size)
            if mode == "line":
                data = data.replace(b"\n", b"\r")
            payloads.append(data)
        sizes = split_sizes(len(frames(mode, payloads)), rng, piece)
        ctx.note(f"{mode} framing: messages of {[len(p) for p in payloads]} bytes in "
                 f"{len(sizes)} random pieces of 1..{piece} bytes (seed {ctx.seed})")
        exchange(ctx, server, mode, payloads, sizes,
                 f"{mode} framing: replies to messages near the {limit}-byte limit and "
                 "zero-length ones")


@graded(points=5, doc=f"{DOC}#sticky-packets-and-half-packets", timeout=40, step=3)
def test_hidden_two_connections_pieces_alternating(ctx):
    """server (hidden): two connections sent to in alternating pieces each count from 1"""
    rng = ctx.rng()
    for mode in ("line", "len"):
        server = start(ctx, mode)
        conns, payloads, pieces = [], [], []
        for who in range(2):
            mine = []
            for i in range(rng.randint(40, 80)):
                data = b"conn %d msg %d " % (who, i + 1) + rng.randbytes(rng.randint(0, 400))
                mine.append(data.replace(b"\n", b"_") if mode == "line" else data)
            data = frames(mode, mine)
            offsets = [0]
            for size in split_sizes(len(data), rng, 97):
                offsets.append(offsets[-1] + size)
            conn = ctx.connect(server, timeout=10)
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conns.append(conn)
            payloads.append(mine)
            pieces.append([data[a:b] for a, b in zip(offsets, offsets[1:])])
        # The server serves one connection at a time: the second one's
        # bytes wait in the kernel while the first is answered. Each
        # message is cut into pieces sent turn by turn on both.
        for turn in range(max(len(p) for p in pieces)):
            for conn, mine in zip(conns, pieces):
                if turn < len(mine):
                    conn.send(mine[turn])
        for who, (conn, mine) in enumerate(zip(conns, payloads)):
            expect_stream(conn, replies(mode, mine), f"{mode} framing: the replies on "
                          f"connection {who + 1} of 2, counted from 1 (seed {ctx.seed})")
            conn.shutdown_write()
            conn.expect_eof(f"{mode} framing: the end of connection {who + 1}")
