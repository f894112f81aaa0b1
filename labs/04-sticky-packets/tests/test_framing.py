"""Lab 04 graded tests: message framing over TCP (sticky packets).

Each server test talks to the built frame_server over loopback, sends
messages cut and glued in chosen ways, and checks the replies one by one:
message n of a connection must come back as one message "n:<payload>".

The server under test is frame_server unless the environment variable
FRAME_SERVER names another program of the lab. The handout's warm-up
runs the sticky tests against the provided naive_server like this:

    make lab04 && make grade LAB=04 T=test_sticky FRAME_SERVER=naive_server
"""

import os
import select
import signal
import socket
import struct
import threading
import time

from grader import (Faults, GradeFailure, TestTimeout, describe_status, expect_bytes, graded,
                    procfs, split_sizes)
from grader.transcripts import preview

SERVER = os.environ.get("FRAME_SERVER") or "frame_server"
CLIENT = "frame_client"
UNITS = "test_frame"
DOC = "04-sticky-packets.md"
README = "labs/04-sticky-packets/README.md"
KIB = 1 << 10
MIB = 1 << 20
LEN_MAX = MIB          # payload limit of the length-prefixed framing
LINE_MAX = 64 * KIB    # payload limit of the line framing
HEADER = 4
REPLY_SLACK = 32       # "<n>:" or "ERR " before a reply's payload
MODES = ("len", "line")
MEMORY_GROWTH = 32 * MIB  # how much the server may grow while a client does not read
MEMORY_SENT_CAP = 160 * MIB


def frame(mode, payload):
    """payload as one message on the wire."""
    if mode == "len":
        return struct.pack(">I", len(payload)) + payload
    assert b"\n" not in payload
    return payload + b"\n"


def frames(mode, payloads):
    return b"".join(frame(mode, p) for p in payloads)


def numbered(payloads, first=1):
    """The replies the server owes: b"1:..." , b"2:..." ..."""
    return [b"%d:%s" % (first + i, p) for i, p in enumerate(payloads)]


def start(ctx, mode, **kwargs):
    args = ["-p", "0"] + (["-m", mode] if mode != "len" else [])
    return ctx.start_server(SERVER, args, **kwargs)


def sticky_hint():
    return ("A reply that holds several of your messages glued together, or a piece "
            "of one, means the server took what one recv() returned to be one message: "
            "TCP keeps no boundaries between sends (sticky and half packets).")


def split_reply(reply):
    """(number, payload) of a reply "<n>:<payload>", or (None, reply)."""
    head, sep, rest = reply.partition(b":")
    if sep and head.isdigit():
        return int(head), rest
    return None, reply


def reply_hint(got, wanted, index):
    """What wrong reply number index says about the bug, or None: the
    sticky-packets hint only for a reply that holds a piece of the
    expected one or more than it (glued messages), or that is a piece of
    an earlier one (no number of its own); a word on numbering when only
    the number is wrong."""
    got_number, got_payload = split_reply(got)
    want_number, want_payload = split_reply(wanted)
    if got_number is None and index > 1:
        return sticky_hint()
    if got_number is None:
        return "a reply is '<n>:<payload>': this one does not start with its number"
    if got_payload == want_payload and got_number != want_number:
        return (f"the payload is right but the number is {got_number}, not {want_number}: "
                "n counts the messages of this connection, from 1 (a count kept across "
                "connections, or one bumped per recv() instead of per message, gives this)")
    if got_payload != want_payload and (want_payload.startswith(got_payload) or
                                        got_payload.startswith(want_payload)):
        return sticky_hint()
    return None


class ReplyReader:
    """Reads a server's reply stream one message at a time.

    Keeps what it read past the current message for the next call, and
    the decoded replies so far, to show them when something is wrong.
    """

    def __init__(self, conn, mode):
        self.conn = conn
        self.mode = mode
        self.buf = bytearray()
        self.replies = []

    def _fill(self, deadline, what):
        chunk = self.conn._recv_once(deadline, what)
        self.buf += chunk
        return bool(chunk)

    def next(self, longest, what, timeout=None, wanted=None):
        """The next reply's payload, or None if the stream ended first.

        longest bounds the payload the test will accept: a reply that
        announces (or runs) longer is reported at once, not waited for;
        wanted, the reply expected, says whether it looks glued.
        """
        deadline = time.monotonic() + (timeout or self.conn.timeout)
        if self.mode == "len":
            while len(self.buf) < HEADER:
                if not self._fill(deadline, what):
                    return self._end(what)
            size = struct.unpack(">I", bytes(self.buf[:HEADER]))[0]
            if size > longest:
                self._read_on(HEADER + min(size, 2 * longest))
                raise GradeFailure(
                    "wrong bytes", f"{what}: the reply's header {bytes(self.buf[:HEADER]).hex(' ')} "
                    f"announces {size} bytes, but the expected reply is at most {longest} "
                    "bytes; the reply starts "
                    f"{preview(bytes(self.buf[HEADER:HEADER + 2 * longest]))}. Is the length "
                    "big-endian (htonl), and the length of this one reply's payload?",
                    self.context(hint=self._glued_hint(self.buf[HEADER:], wanted)))
            while len(self.buf) < HEADER + size:
                if not self._fill(deadline, what):
                    return self._end(what)
            payload = bytes(self.buf[HEADER:HEADER + size])
            del self.buf[:HEADER + size]
        else:
            while b"\n" not in self.buf:
                if len(self.buf) > longest:
                    raise GradeFailure(
                        "wrong bytes", f"{what}: over {longest} bytes arrived without the "
                        f"'\\n' that ends a reply: {preview(bytes(self.buf))}",
                        self.context(hint=self._glued_hint(self.buf, wanted)))
                if not self._fill(deadline, what):
                    return self._end(what)
            end = self.buf.index(b"\n")
            payload = bytes(self.buf[:end])
            del self.buf[:end + 1]
        self.replies.append(payload)
        return payload

    def _read_on(self, want, grace=0.5):
        """Reads on for at most grace s, until want bytes are held: a
        report about a reply needs more of it than its header."""
        end = time.monotonic() + grace
        while len(self.buf) < want and not self.conn.eof:
            left = end - time.monotonic()
            if left <= 0 or not select.select([self.conn.sock], [], [], left)[0]:
                return
            try:
                if not self._fill(end + 1, "the rest of the reply"):
                    return
            except (GradeFailure, TestTimeout):
                return

    def _glued_hint(self, start, wanted):
        """The sticky-packets hint for a reply too long to be the expected
        one that starts as it should: several replies glued in one."""
        if wanted is not None and bytes(start).startswith(wanted):
            return sticky_hint()
        return None

    def _end(self, what):
        if self.buf:
            raise GradeFailure("missing bytes", f"{what}: the server closed the connection in "
                               f"the middle of a reply: {preview(bytes(self.buf))}",
                               self.context())
        return None

    def context(self, wanted=None, hint=None):
        """The last replies, decoded, for a failure's details, and the
        hint that fits the failure, if any."""
        lines = []
        if wanted is not None:
            lines.append(f"expected: {preview(wanted)}")
        shown = self.replies[-6:]
        first = len(self.replies) - len(shown) + 1
        if shown:
            lines.append(f"the replies as the test decoded them ({self.mode} framing):")
            for i, reply in enumerate(shown):
                lines.append(f"  reply {first + i}: {preview(reply)}")
        if hint:
            lines.append(hint)
        return "\n".join(lines)

    def expect(self, wanted, what, timeout=None):
        got = self.next(len(wanted) + REPLY_SLACK, what, timeout, wanted)
        number = len(self.replies)
        if got is None:
            raise GradeFailure("missing bytes", f"{what}: the server closed the connection "
                               f"after {len(self.replies)} replies; expected "
                               f"{preview(wanted)}", self.context())
        if got != wanted:
            raise GradeFailure("wrong bytes", f"{what}: reply {number} should be "
                               f"{preview(wanted)}, but it was {preview(got)}",
                               self.context(wanted, reply_hint(got, wanted, number)))

    def expect_all(self, wanted_list, what, timeout=None):
        for i, wanted in enumerate(wanted_list):
            self.expect(wanted, f"{what} (reply {i + 1} of {len(wanted_list)})", timeout)

    def expect_error_and_close(self, what, timeout=None):
        """An "ERR <reason>" reply, then the end of the connection."""
        try:
            got = self.next(LEN_MAX, what, timeout)
        except GradeFailure as exc:
            if exc.kind != "connection reset":
                raise
            got = None
        if got is None:
            raise GradeFailure("missing bytes", f"{what}: expected one message 'ERR <reason>' "
                               "before the server closed the connection; none came",
                               self.context())
        if not got.startswith(b"ERR "):
            raise GradeFailure("wrong bytes", f"{what}: expected a message 'ERR <reason>', "
                               f"got {preview(got)}", self.context())
        self.expect_closed(f"{what}: after the ERR message")
        self.conn.close()   # a server that lingers after the ERR may stop now
        return got

    def expect_closed(self, what):
        """End of stream (a reset is accepted too) and nothing more."""
        if self.buf:
            raise GradeFailure("extra bytes", f"{what}, expected the connection to close, but "
                               f"more bytes came: {preview(bytes(self.buf))}")
        try:
            self.conn.expect_eof(what)
        except GradeFailure as exc:
            if exc.kind != "connection reset":
                raise


class BackgroundSender:
    """Sends data on conn from a thread while the test reads replies.

    finish() waits for the last byte to be handed to the kernel; abort()
    unblocks and ends the thread when the test has already failed.
    """

    def __init__(self, conn, data, sizes=None, note=""):
        self.conn = conn
        self.failure = []
        self.thread = threading.Thread(target=self._run, args=(data, sizes, note),
                                       name="test-sender", daemon=True)
        self.thread.start()

    def _run(self, data, sizes, note):
        try:
            if sizes:
                self.conn.send_pieces(data, sizes, note=note)
            else:
                self.conn.send(data, note=note)
        except Exception as exc:  # reported by finish() or abort()
            self.failure.append(exc)

    def finish(self, timeout=10):
        self.thread.join(timeout)
        if self.thread.is_alive():
            self.abort()
            raise GradeFailure("timeout", f"the test could not send all its data within "
                               f"{timeout} s: the server stopped reading")
        if self.failure:
            raise self.failure[0]

    def abort(self):
        """Ends the sender (if it is blocked, by shutting the socket down)."""
        if self.thread.is_alive():
            try:
                self.conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.thread.join(timeout=5)
        return self.failure[0] if self.failure else None


def half_close(conn):
    """shutdown(SHUT_WR), as a failure of the program if it reset the connection."""
    try:
        conn.shutdown_write()
    except OSError as exc:
        conn.transcript.add(conn.channel, "shutdown failed", note=exc.strerror or str(exc))
        raise GradeFailure("connection reset", "the program had already reset or closed the "
                           "connection when the test ended its stream (shutdown(SHUT_WR) "
                           f"failed: {exc.strerror or exc})") from exc


def round_trip(ctx, server, mode, payloads, what, **connect_args):
    conn = ctx.connect(server, **connect_args)
    reader = ReplyReader(conn, mode)
    conn.send(frames(mode, payloads))
    reader.expect_all(numbered(payloads), what)
    half_close(conn)
    reader.expect_closed(f"{what}: after the client's end of stream")
    return conn


def text_payloads(rng, count, longest, mode):
    """count random payloads of 0..longest bytes (any bytes but '\\n' for lines)."""
    out = []
    for _ in range(count):
        n = rng.randint(0, longest)
        data = rng.randbytes(n)
        if mode == "line":
            data = data.replace(b"\n", b".")
        out.append(data)
    return out


def expect_exit(result, expected, what):
    if result.timed_out:
        raise GradeFailure("timeout", f"{what}: the program did not finish and was killed")
    if result.returncode != expected:
        raise GradeFailure("wrong exit code", f"{what}: expected exit status {expected}, "
                           f"but the program {describe_status(result.returncode)}")


# -- unit tests of frame.c (steps 1 and 2) ---------------------------------------------

@graded(points=7, doc=f"{DOC}#a-length-header", step=1)
def test_unit_len_decoder(ctx):
    """unit: length-prefixed decoder: glued, split at every point, zero-length"""
    ctx.run_unit_tests(UNITS, "len")


@graded(points=9, doc=f"{DOC}#an-end-marker", step=2)
def test_unit_line_decoder(ctx):
    """unit: line decoder: glued, split at every point, empty lines, \\r kept, the 64 KiB limit"""
    ctx.run_unit_tests(UNITS, "line")


@graded(points=5, doc=f"{DOC}#maximum-sizes", step=1)
def test_unit_limits(ctx):
    """unit: the 1 MiB length limit, errors are final, argument checks"""
    ctx.run_unit_tests(UNITS, "limits")


@graded(points=4, doc=f"{DOC}#keeping-memory-bounded", step=1)
def test_unit_buffer(ctx):
    """unit: frame_wrap, space/commit, a long random stream in a minimal buffer"""
    ctx.run_unit_tests(UNITS, "buffer")


# -- step 3: the server ----------------------------------------------------------------

@graded(points=4, doc=f"{README}#the-protocol", step=3)
def test_round_trip(ctx):
    """server: announces itself and numbers the messages, in both framings"""
    for mode in MODES:
        server = start(ctx, mode)
        if server.port == 0:
            raise GradeFailure("wrong output", "the announced port is 0: print the port the "
                               "kernel chose (net_announce does)")
        round_trip(ctx, server, mode, [b"hello"], f"{mode} framing: the reply to one message")
        round_trip(ctx, server, mode, [b"first", b"second"],
                   f"{mode} framing: a new connection counts from 1 again")


@graded(points=8, doc=f"{DOC}#sticky-packets-and-half-packets", step=3)
def test_sticky_many_in_one_write(ctx):
    """server: many messages glued in one write get one reply each"""
    for mode in MODES:
        server = start(ctx, mode)
        payloads = [b"alpha", b"beta", b"", b"gamma delta", b"\x00\x01\xff" if mode == "len"
                    else b"tab\there", b"last"] * 5
        conn = ctx.connect(server)
        reader = ReplyReader(conn, mode)
        conn.send(frames(mode, payloads), note=f"{len(payloads)} messages in one write")
        reader.expect_all(numbered(payloads), f"{mode} framing, {len(payloads)} messages "
                          "sent in one write")
        half_close(conn)
        reader.expect_closed(f"{mode} framing: after the client's end of stream")


@graded(points=7, doc=f"{DOC}#sticky-packets-and-half-packets", step=3)
def test_sticky_one_byte_writes(ctx):
    """server: a message sent one byte per write gets one reply"""
    for mode in MODES:
        server = start(ctx, mode)
        payload = b"one byte at a time \x01" if mode == "len" else b"one byte at a time"
        conn = ctx.connect(server)
        reader = ReplyReader(conn, mode)
        conn.send_bytewise(frame(mode, payload), pause=0.002)
        # Half a second message, then the rest: the first reply must be
        # out before the second message is complete.
        second = frame(mode, b"second")
        conn.send_bytewise(second[:3], pause=0.002)
        reader.expect(b"1:" + payload, f"{mode} framing: the reply to a message sent "
                      "one byte per write")
        conn.send_bytewise(second[3:], pause=0.002)
        reader.expect(b"2:second", f"{mode} framing: the reply to a second message, "
                      "also sent bytewise")
        half_close(conn)
        reader.expect_closed(f"{mode} framing: after the client's end of stream")


def random_split_round(ctx, mode, count, longest, salt):
    server = start(ctx, mode)
    rng = ctx.rng(salt)
    payloads = text_payloads(rng, count, longest, mode)
    data = frames(mode, payloads)
    sizes = []
    left = len(data)
    while left > 0:
        size = min(left, rng.randint(1, 3 * longest))
        sizes.append(size)
        left -= size
    expected = numbered(payloads)
    conn = ctx.connect(server, timeout=10)
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ctx.note(f"{mode} framing: {count} messages of 0..{longest} random bytes "
             f"(seed {ctx.seed}), sent in {len(sizes)} random pieces of 1..{3 * longest} bytes")
    reader = ReplyReader(conn, mode)
    # Send from a thread while checking the replies here, one by one, so
    # that the first wrong reply ends the test at once.
    sender = BackgroundSender(conn, data, sizes, note=f"random pieces (seed {ctx.seed})")
    try:
        for i, wanted in enumerate(expected):
            reader.expect(wanted, f"{mode} framing, random splits (seed {ctx.seed}), "
                          f"reply {i + 1} of {count}")
    except GradeFailure as exc:
        failure = sender.abort()
        if exc.kind == "timeout" and failure is not None:
            raise failure from exc  # the replies stopped because sending failed
        raise
    sender.finish()
    half_close(conn)
    reader.expect_closed(f"{mode} framing: after the client's end of stream")


@graded(points=8, doc=f"{DOC}#a-decoder-as-a-state-machine", step=3)
def test_sticky_random_splits(ctx):
    """server: thousands of messages cut at random points, checked reply by reply"""
    random_split_round(ctx, "len", 3000, 120, salt=1)
    random_split_round(ctx, "line", 2000, 120, salt=2)


@graded(points=6, doc=f"{DOC}#maximum-sizes", step=3)
def test_large_message(ctx):
    """server: answers a 1 MiB message and a 64 KiB line (the limits)"""
    rng = ctx.rng()
    for mode, size in (("len", LEN_MAX), ("line", LINE_MAX)):
        server = start(ctx, mode)
        payload = rng.randbytes(size)
        if mode == "line":
            payload = payload.replace(b"\n", b" ")
        conn = ctx.connect(server, timeout=10)
        reader = ReplyReader(conn, mode)
        sender = BackgroundSender(conn, frame(mode, payload))
        try:
            reader.expect(b"1:" + payload, f"{mode} framing: the reply to a message of "
                          f"exactly the limit, {size} random bytes (seed {ctx.seed})")
        except GradeFailure:
            sender.abort()
            raise
        sender.finish()
        half_close(conn)
        reader.expect_closed(f"{mode} framing: after the client's end of stream")


@graded(points=4, doc=f"{README}#the-protocol", step=3)
def test_zero_length(ctx):
    """server: answers zero-length messages and empty lines"""
    for mode in MODES:
        server = start(ctx, mode)
        round_trip(ctx, server, mode, [b""], f"{mode} framing: a zero-length message alone")
        round_trip(ctx, server, mode, [b"x", b"", b"", b"y", b""],
                   f"{mode} framing: zero-length messages among others")


@graded(points=6, doc=f"{DOC}#protocol-errors-and-closing-politely", step=3)
def test_length_over_limit(ctx):
    """server: a length over 1 MiB gets 'ERR ...' and the connection closed"""
    server = start(ctx, "len")
    for header in (LEN_MAX + 1, 0xFFFFFFFF, 0x80000000):
        conn = ctx.connect(server)
        reader = ReplyReader(conn, "len")
        conn.send(frame("len", b"fine"))
        reader.expect(b"1:fine", "the reply to a valid message before the bad one")
        conn.send(struct.pack(">I", header), note=f"a header announcing {header} bytes, "
                  "and no payload")
        reader.expect_error_and_close(f"after a header announcing {header} bytes (the limit "
                                      f"is {LEN_MAX}); the server must not wait for the "
                                      "payload")
    round_trip(ctx, server, "len", [b"still there?"], "the next connection after the errors")


@graded(points=5, doc=f"{DOC}#maximum-sizes", step=3)
def test_line_over_limit(ctx):
    """server: a line over 64 KiB gets 'ERR ...' and the connection closed"""
    server = start(ctx, "line")
    conn = ctx.connect(server)
    reader = ReplyReader(conn, "line")
    conn.send(frame("line", b"fine"))
    reader.expect(b"1:fine", "the reply to a valid line before the long one")
    conn.send(b"L" * (LINE_MAX + 1), note=f"{LINE_MAX + 1} bytes and no '\\n'")
    reader.expect_error_and_close(f"after {LINE_MAX + 1} bytes without a '\\n' (the limit "
                                  f"is {LINE_MAX}); the server must not wait for the end of "
                                  "the line")
    round_trip(ctx, server, "line", [b"still there?"], "the next connection after the error")


@graded(points=3, doc=f"{DOC}#protocol-errors-and-closing-politely", step=3)
def test_truncated_message(ctx):
    """server: a message cut short by the end of stream gets 'ERR ...'"""
    for mode, partial in (("len", b"\x00\x00\x00\x10half"), ("line", b"no newline")):
        server = start(ctx, mode)
        conn = ctx.connect(server)
        reader = ReplyReader(conn, mode)
        conn.send(frame(mode, b"whole") + partial, note="a whole message, then part of one")
        reader.expect(b"1:whole", f"{mode} framing: the reply to the whole message")
        half_close(conn)
        reader.expect_error_and_close(f"{mode} framing: the client ended its stream in the "
                                      f"middle of a message ({preview(partial)})")


@graded(points=5, doc=f"{DOC}#half-close-after-the-last-message", step=3)
def test_half_close(ctx):
    """server: all replies arrive after the client half-closes"""
    rng = ctx.rng()
    for mode in MODES:
        server = start(ctx, mode)
        payloads = text_payloads(rng, 200, 300, mode)
        conn = ctx.connect(server, timeout=5)
        reader = ReplyReader(conn, mode)
        conn.send(frames(mode, payloads), note="200 messages")
        half_close(conn)
        reader.expect_all(numbered(payloads), f"{mode} framing: 200 messages, then end of "
                          f"stream at once (seed {ctx.seed})")
        reader.expect_closed(f"{mode} framing: after the last reply")


def memory_kib(pid, field):
    """A memory figure of the server, in KiB (see procfs.memory_kib)."""
    value = procfs.memory_kib(pid, field)
    if value is None:
        raise GradeFailure("grader error", f"no {field} in /proc/{pid}/status")
    return value


def send_until_stalled(sock, data, stall, cap):
    """Sends data without blocking until no byte goes out for stall seconds
    (or cap bytes are sent, or 20 stalls' time has passed).

    Returns the number of bytes sent.
    """
    sock.setblocking(False)
    view = memoryview(data)
    sent = 0
    deadline = time.monotonic() + 20 * stall
    try:
        while sent < cap and time.monotonic() < deadline:
            _, writable, _ = select.select([], [sock], [], stall)
            if not writable:
                break
            try:
                sent += sock.send(view[sent % len(data):])
            except BlockingIOError:
                continue
    finally:
        sock.setblocking(True)
    return sent


@graded(points=6, doc=f"{DOC}#keeping-memory-bounded", timeout=40, step=3)
def test_slow_reader_memory(ctx):
    """server: memory stays bounded while a client sends a lot and reads nothing"""
    server = start(ctx, "len")
    # Measured from after a first exchange, so that what the program
    # needs anyway (and valgrind, with VALGRIND=1) is not counted.
    round_trip(ctx, server, "len", [b"warm-up"], "the reply before the test")
    baseline = memory_kib(server.process.pid, "VmRSS") * KIB
    rng = ctx.rng()
    payload = rng.randbytes(64 * KIB)
    message = frame("len", payload)
    # Enough whole messages that the sender can loop over them.
    block = message * 16
    conn = ctx.connect(server, timeout=15)
    sent = send_until_stalled(conn.sock, block, stall=1.0, cap=MEMORY_SENT_CAP)
    conn.transcript.add(conn.channel, "sent", note=f"{sent} bytes of 64 KiB messages, "
                        "without reading any reply")
    peak = memory_kib(server.process.pid, "VmHWM") * KIB
    growth = max(0, peak - baseline)
    ctx.note(f"the test sent {sent} bytes ({sent // len(message)} messages of 64 KiB) "
             "without reading, until the server stopped taking them for 1 s; the server's "
             f"resident memory was {baseline // KIB} KiB before, and peaked at {peak // KIB} KiB "
             "(VmRSS and VmHWM in /proc/PID/status)")
    if sent >= MEMORY_SENT_CAP or growth > MEMORY_GROWTH:
        raise GradeFailure("wrong output", f"while the client read nothing, the server took "
                           f"{sent // MIB} MiB and grew by {growth // MIB} MiB (allowed: "
                           f"{MEMORY_GROWTH // MIB} MiB): it keeps replies (or input) in memory "
                           "without bound. Stop reading while a reply cannot be sent: the "
                           "kernel's buffers then push back on the client.")
    # Now read: every message started must be answered, in order.
    started = -(-sent // len(message))
    rest = started * len(message) - sent
    tail = message[len(message) - rest:] if rest else b""
    expected = frames("len", [b"%d:%s" % (i + 1, payload) for i in range(started)])
    sender = BackgroundSender(conn, tail) if tail else None
    try:
        got = conn.recv_exactly(len(expected), timeout=20)
    except GradeFailure as failure:
        if sender is not None:
            sender.abort()
        came = getattr(failure, "received", b"")
        if came and not expected.startswith(came):
            # Bytes were lost or wrong: the replies could never be whole,
            # and the wait was only the symptom.
            expect_bytes(expected, came, "the replies, once the client started reading")
        raise
    if sender is not None:
        sender.finish()
    if got != expected:
        reader = ReplyReader(conn, "len")
        reader.buf = bytearray(got)
        for i in range(started):
            reader.expect(b"%d:%s" % (i + 1, payload), "after the client started reading")
    half_close(conn)
    conn.expect_eof("the end of the stream after the last reply")


@graded(points=4, doc=f"{README}#step-3--the-server", step=3)
def test_misbehaving_clients(ctx):
    """server: survives resets, silent and half-sent clients; counts per connection"""
    server = start(ctx, "len")
    rude = ctx.connect(server)
    rude.send(b"\x00\x00\x10\x00" + b"r" * 100, note="part of a 4 KiB message, then a reset")
    rude.reset()
    silent = ctx.connect(server)
    silent.close()
    reset_mid_reply = ctx.connect(server)
    reset_mid_reply.send(frames("len", [b"y" * 1000] * 200), note="200 messages")
    reset_mid_reply.reset()
    # The server takes connections in turn: this client is answered only
    # after the server has run into the resets above.
    round_trip(ctx, server, "len", [b"a", b"b", b"c"], "a well-behaved client after the "
               "rude ones (its count starts at 1)")
    ctx.expect_alive(server, "after serving the clients")


@graded(points=4, doc="01-tcp.md#writing-partial-sends", step=3)
def test_survives_short_transfers_and_eintr(ctx):
    """server: every reply whole when its sends come up short and its calls are interrupted"""
    # On loopback send() takes everything and nothing interrupts recv():
    # the shim makes both happen, at seeded calls, as a real network and
    # a signal handler would.
    rng = ctx.rng()
    for mode in MODES:
        server = start(ctx, mode, faults=Faults(rate=30, kinds="si"))
        payloads = text_payloads(rng, 300, 3000, mode)
        data = frames(mode, payloads)
        expected = frames(mode, numbered(payloads))
        conn = ctx.connect(server, timeout=10)
        got = conn.send_while_receiving(data, len(expected),
                                        sizes=split_sizes(len(data), rng, 8000))
        if got != expected:
            reader = ReplyReader(conn, mode)
            reader.buf = bytearray(got)
            reader.expect_all(numbered(payloads), f"{mode} framing with short transfers and "
                              f"EINTR injected (seed {ctx.seed})")
        half_close(conn)
        conn.expect_eof(f"{mode} framing: the end of the stream after the last reply")


@graded(points=3, doc=f"{README}#build-run-and-grade", step=3)
def test_bad_arguments(ctx):
    """both: bad arguments print a usage line and exit with status 2"""
    cases = [
        (SERVER, []), (SERVER, ["-p", "http"]), (SERVER, ["-p", "65536"]),
        (SERVER, ["-p", "0", "-m", "xml"]), (SERVER, ["-p", "0", "-m"]),
        (SERVER, ["-p", "0", "extra"]), (SERVER, ["-a", "nowhere", "-p", "0"]),
        (CLIENT, []), (CLIENT, ["-h", "127.0.0.1"]), (CLIENT, ["-p", "80"]),
        (CLIENT, ["-h", "127.0.0.1", "-p", "80", "-m", "lines"]),
    ]
    start(ctx, "line")   # a valid command line must be accepted
    for program, args in cases:
        result = ctx.run(program, args, timeout=2)
        shown = " ".join([program, *args])
        expect_exit(result, 2, f"'{shown}'")
        if "usage" not in result.stderr_text().lower():
            raise GradeFailure("wrong output", f"'{shown}' exited 2 but printed no usage line "
                               "on stderr (expected a line starting with 'usage:')")


@graded(points=3, doc="01-tcp.md#exiting-on-a-signal", step=3)
def test_exits_cleanly_on_signals(ctx):
    """server: exits with status 0 on SIGTERM and SIGINT, even mid-message"""
    for signo in (signal.SIGTERM, signal.SIGINT):
        server = start(ctx, "len")
        conn = ctx.connect(server)
        reader = ReplyReader(conn, "len")
        conn.send(frame("len", b"before the signal") + b"\x00\x00",
                  note="a message, then half a header")
        reader.expect(b"1:before the signal", "the reply before the signal")
        code = ctx.stop_server(server, signo)
        name = signal.Signals(signo).name
        if code is None:
            raise GradeFailure("timeout", f"the server was still running 3 s after {name}, "
                               "with a client connected")
        if code != 0:
            raise GradeFailure("wrong exit code", f"after {name} the server should exit with "
                               f"status 0, but it {describe_status(code)}")


# -- step 4: the client ----------------------------------------------------------------

class FramePeer:
    """A frame server inside the test, for testing frame_client.

    "after_eof": reads until the client half-closes, then sends all the
                 replies glued in one write, or in tiny pieces ("bytewise")
                 so that the client must reassemble them.
    "stream":    replies to each message as soon as it is whole, with a
                 blocking send and small buffers: a client that sends all
                 its input before reading deadlocks against it.

    end says how it ends, if not politely: "fin_after_first" closes its
    sending side after the first whole message, without a reply, and reads
    nothing more; "cut_reply" (after_eof) sends every reply but the second
    half of the last one, then closes.
    """

    def __init__(self, transcript, mode, style, pieces="glued", end=None):
        self.mode = mode
        self.style = style
        self.pieces = pieces
        self.end = end
        self.transcript = transcript
        self.received = 0
        self.sent = 0
        self.messages = 0
        self.send_blocked_since = None  # set while a send waits for room
        self._stop = threading.Event()
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * KIB)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 * KIB)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(0.2)
        self.host, self.port = self.listener.getsockname()
        self.thread = threading.Thread(target=self._serve, name="frame-peer", daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self._stop.set()
        self.thread.join(timeout=5)
        self.listener.close()

    def summary(self):
        text = (f"the test's frame server ({self.mode} framing) received {self.received} "
                f"bytes ({self.messages} whole messages) and sent {self.sent} bytes")
        since = self.send_blocked_since
        blocked = 0 if since is None else time.monotonic() - since
        if blocked >= 1:
            text += (f"; it has been blocked for {blocked:.0f} s sending a "
                     "reply that the client does not read")
        return text

    def _serve(self):
        conn = None
        while conn is None and not self._stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
        if conn is None:
            return
        conn.settimeout(0.2)
        self.transcript.add("test peer", "accepted a connection")
        try:
            self._talk(conn)
        except OSError as exc:
            self.transcript.add("test peer", "error", note=str(exc))
        finally:
            conn.close()

    def _recv(self, conn):
        while not self._stop.is_set():
            try:
                return conn.recv(65536)
            except socket.timeout:
                continue
        return b""

    def _send(self, conn, data):
        view = memoryview(data)
        while view and not self._stop.is_set():
            try:
                n = conn.send(view)
            except socket.timeout:
                if self.send_blocked_since is None:
                    self.send_blocked_since = time.monotonic()
                continue
            self.send_blocked_since = None
            self.sent += n
            view = view[n:]

    def _take_messages(self, buf):
        out = []
        while True:
            if self.mode == "len":
                if len(buf) < HEADER:
                    break
                size = struct.unpack(">I", bytes(buf[:HEADER]))[0]
                if len(buf) < HEADER + size:
                    break
                out.append(bytes(buf[HEADER:HEADER + size]))
                del buf[:HEADER + size]
            else:
                if b"\n" not in buf:
                    break
                end = buf.index(b"\n")
                out.append(bytes(buf[:end]))
                del buf[:end + 1]
        return out

    def _talk(self, conn):
        buf = bytearray()
        pending = []
        while True:
            chunk = self._recv(conn)
            if not chunk:
                break
            self.received += len(chunk)
            self.transcript.add("test peer", "received", chunk)
            buf += chunk
            for payload in self._take_messages(buf):
                if self.end == "fin_after_first":
                    self._fin_and_wait(conn)
                    return
                self.messages += 1
                reply = frame(self.mode, b"%d:%s" % (self.messages, payload))
                if self.style == "stream":
                    self._send(conn, reply)
                else:
                    pending.append(reply)
        self.transcript.add("test peer", "got end of stream")
        data = b"".join(pending)
        if self.end == "cut_reply" and pending:
            data = data[:len(data) - len(pending[-1]) // 2]
        if self.pieces == "glued":
            self._send(conn, data)
        else:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            for i in range(0, len(data), 3):
                self._send(conn, data[i:i + 3])
                time.sleep(0.0005)
        if data:
            self.transcript.add("test peer", "sent", data,
                                note="all replies glued" if self.pieces == "glued"
                                else "all replies, 3 bytes per write")
        if self.end == "cut_reply":
            self.transcript.add("test peer", "closed the connection",
                                note="in the middle of the last reply")

    def _fin_and_wait(self, conn):
        """Ends its side of the stream and reads nothing more, so that the
        client is left with input it cannot send."""
        conn.shutdown(socket.SHUT_WR)
        self.transcript.add("test peer", "closed its sending side",
                            note="after the first message, without a reply; it reads no more")
        self._stop.wait(30)


def run_client(ctx, mode, stdin, style="after_eof", pieces="glued", timeout=10,
               valgrind=False, stall_after=3.0, end=None, faults=None):
    peer = FramePeer(ctx.transcript, mode, style, pieces, end).start()
    ctx.peers.append(peer)
    args = ["-h", "127.0.0.1", "-p", str(peer.port)] + (["-m", mode] if mode != "len" else [])
    ctx.set_repro([
        f"{ctx.display_path('frame_server')} -p 5000{' -m line' if mode == 'line' else ''}"
        "    # terminal 1",
        f"printf 'hello\\nworld\\n' | {ctx.display_path(CLIENT)} -h 127.0.0.1 -p 5000"
        f"{' -m line' if mode == 'line' else ''}    # terminal 2",
    ])
    result = ctx.run(CLIENT, args, stdin_data=stdin, timeout=timeout, valgrind=valgrind,
                     progress=lambda: peer.received + peer.sent, stall_after=stall_after,
                     faults=faults)
    ctx.note(peer.summary())
    return result


def check_client_output(result, lines, what):
    expect_exit(result, 0, what)
    wanted = b"".join(b"%d:%s\n" % (i + 1, line) for i, line in enumerate(lines))
    got = result.stdout_bytes()
    if got != wanted:
        got_count = got.count(b"\n")
        got_lines = got.split(b"\n")
        want_lines = wanted.split(b"\n")
        first = next((i for i in range(min(len(got_lines), len(want_lines)))
                      if got_lines[i] != want_lines[i]), min(len(got_lines), len(want_lines)))
        raise GradeFailure("wrong output", f"{what}: stdout line {first + 1} should be "
                           f"{preview(want_lines[first]) if first < len(want_lines) else 'absent'}"
                           f", but it was "
                           f"{preview(got_lines[first]) if first < len(got_lines) else 'absent'}",
                           f"expected {len(lines)} lines, got {got_count}")


@graded(points=4, doc=f"{README}#step-4--the-client", step=4)
def test_client_len(ctx):
    """client: sends each line as a length-prefixed message, prints the replies"""
    lines = [b"hello", b"", b"with\ttab", b"\xe4\xbd\xa0\xe5\xa5\xbd", b"last"]
    result = run_client(ctx, "len", b"\n".join(lines) + b"\n")
    check_client_output(result, lines, "frame_client -m len, replies glued in one write")
    result = run_client(ctx, "len", b"no newline at the end", pieces="bytewise")
    check_client_output(result, [b"no newline at the end"],
                        "frame_client -m len, a last line without '\\n', reply in 3-byte pieces")


@graded(points=3, doc=f"{README}#step-4--the-client", step=4)
def test_client_line(ctx):
    """client: line framing, replies cut into 3-byte pieces"""
    lines = [b"one", b"two", b"", b"four"]
    result = run_client(ctx, "line", b"\n".join(lines) + b"\n", pieces="bytewise")
    check_client_output(result, lines, "frame_client -m line, replies in 3-byte pieces")


@graded(points=3, doc="01-tcp.md#deadlock-when-both-sides-only-write", step=4)
def test_client_many_lines(ctx):
    """client: 30000 long lines (16 MB) against a server that answers at once, no deadlock"""
    rng = ctx.rng()
    # 16 MB is far more than the kernel buffers between the two programs
    # hold: the peer pins its own small, and the client's send buffer
    # autotunes to at most tcp_wmem's maximum (4 MiB by default). So a
    # client that sends all of stdin before reading any reply is sure to
    # deadlock. Short lines would not do: 2 MB of them fit, replies and
    # all, in the client's autotuned buffers, and such a client passes.
    lines = [b"line %d %s" % (i, rng.randbytes(256).hex().encode()) for i in range(30000)]
    # A segment dropped by a full receive queue is resent after a timeout
    # that doubles while the queue stays full; on a busy machine the flow
    # can pause for seconds, so a longer stall window than run_client's
    # 3 s. A client that deadlocks still moves nothing for all of it.
    result = run_client(ctx, "len", b"\n".join(lines) + b"\n", style="stream", timeout=30,
                        stall_after=10.0)
    check_client_output(result, lines, f"frame_client with 30000 long lines (seed {ctx.seed})")


@graded(points=2, doc="01-tcp.md#writing-partial-sends", step=4)
def test_client_survives_short_transfers_and_eintr(ctx):
    """client: every message whole when its sends come up short and its calls are interrupted"""
    rng = ctx.rng()
    for mode in MODES:
        lines = [rng.randbytes(rng.randint(0, 3000)).replace(b"\n", b".") for _ in range(400)]
        result = run_client(ctx, mode, b"\n".join(lines) + b"\n",
                            faults=Faults(rate=30, kinds="si"))
        check_client_output(result, lines, f"frame_client -m {mode} with short sends and EINTR "
                            f"injected, 400 random lines (seed {ctx.seed})")


def expect_failed_with_message(result, what):
    """Exit status 1 and a line on stderr: a client that stops early says so."""
    if result.timed_out:
        raise GradeFailure("timeout", f"{what}: frame_client did not finish: once the server "
                           "has closed, there is nothing left to wait for")
    if result.returncode != 1:
        raise GradeFailure("wrong exit code", f"{what}: frame_client should exit with status 1 "
                           "and say what went wrong, but it "
                           f"{describe_status(result.returncode)}: a client that stops early "
                           "must not look like one that got every reply")
    if not result.stderr_text().strip():
        raise GradeFailure("wrong output", f"{what}: frame_client exited 1 but wrote nothing "
                           "on stderr: say what went wrong")


@graded(points=3, doc=f"{DOC}#protocol-errors-and-closing-politely", step=4)
def test_client_server_ends_early(ctx):
    """client: a server that closes before all input is sent, or mid-reply: exit 1, replies kept"""
    rng = ctx.rng()
    lines = [b"line %d %s" % (i, rng.randbytes(100).hex().encode()) for i in range(40000)]
    # 8 MB: more than the kernel's buffers hold, so the client still has
    # input to send when the server closes its side.
    result = run_client(ctx, "len", b"\n".join(lines) + b"\n", end="fin_after_first")
    expect_failed_with_message(result, "the server closed its side after the first message, "
                               "before frame_client had sent all of its 40000 lines")
    if result.stdout_bytes():
        raise GradeFailure("wrong output", "the server sent no reply before it closed, but "
                           "frame_client printed "
                           f"{preview(result.stdout_bytes()[:80])}")
    for mode in MODES:
        lines = [b"first", b"second", b"the last one, whose reply is cut"]
        result = run_client(ctx, mode, b"\n".join(lines) + b"\n", end="cut_reply")
        what = (f"-m {mode}: the server sent two replies and half of the third, then closed "
                "the connection")
        expect_failed_with_message(result, what)
        whole = b"1:first\n2:second\n"
        if result.stdout_bytes() != whole:
            raise GradeFailure("wrong output", f"{what}: stdout should hold the two whole "
                               f"replies {preview(whole)}, nothing of the cut one; it was "
                               f"{preview(result.stdout_bytes()[:200])}")


# -- valgrind and the sanitizers (steps 3 and 4) ---------------------------------------

@graded(points=4, doc=f"{DOC}#checklist-for-lab-04", timeout=60, step=3)
def test_server_valgrind(ctx):
    """valgrind: the server has no memory errors or leaks"""
    server = start(ctx, "len", valgrind=True)
    round_trip(ctx, server, "len", [b"checked", b"", b"by valgrind"] * 20,
               "replies under valgrind")
    bad = ctx.connect(server)
    reader = ReplyReader(bad, "len")
    bad.send(struct.pack(">I", LEN_MAX + 1))
    reader.expect_error_and_close("an over-limit header under valgrind")
    rude = ctx.connect(server)
    rude.send(b"\x00\x00\x00\x10abc")
    rude.reset()
    round_trip(ctx, server, "len", [b"after a reset"], "replies after a reset, under valgrind")
    code = ctx.stop_server(server, grace=10)
    if code != 0:
        raise GradeFailure("wrong exit code", "under valgrind, the server should exit with "
                           f"status 0 on SIGTERM, but it {describe_status(code)}")
    ctx.check_valgrind(server.process)


@graded(points=2, doc=f"{DOC}#checklist-for-lab-04", timeout=60, step=4)
def test_client_valgrind(ctx):
    """valgrind: the client has no memory errors or leaks"""
    lines = [b"under", b"valgrind", b""] * 50
    result = run_client(ctx, "line", b"\n".join(lines) + b"\n", valgrind=True, timeout=20)
    check_client_output(result, lines, "frame_client under valgrind")
    ctx.check_valgrind(result.process)


@graded(points=5, doc=f"{DOC}#checklist-for-lab-04", timeout=60, step=3)
def test_server_sanitizers(ctx):
    """sanitizers: the server runs clean under AddressSanitizer and UBSan"""
    # ASan sees what valgrind cannot, such as a write one byte past the
    # end of a buffer on the stack, and checks every run, not only the
    # valgrind one. The edges: the decoder's buffer filled to its last
    # byte, messages straddling its end (moved to the front), a message
    # over many small feeds, an over-limit length and an over-limit line.
    rng = ctx.rng()
    for mode in MODES:
        server = start(ctx, mode, sanitize=True)
        if mode == "len":
            payloads = [rng.randbytes(LEN_MAX), b"", rng.randbytes(LEN_MAX - 1)]
        else:
            payloads = [rng.randbytes(LINE_MAX).replace(b"\n", b" "), b"", b"x" * (LINE_MAX - 1)]
        # Enough random messages, cut at random points, that the stream
        # wraps round the buffer several times with a message straddling it.
        payloads += text_payloads(rng, 400, LINE_MAX // 8, mode)
        data = frames(mode, payloads)
        expected = frames(mode, numbered(payloads))
        conn = ctx.connect(server, timeout=20)
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        got = conn.send_while_receiving(data, len(expected),
                                        sizes=split_sizes(len(data), rng, 40000))
        if got != expected:
            reader = ReplyReader(conn, mode)
            reader.buf = bytearray(got)
            reader.expect_all(numbered(payloads), f"{mode} framing under the sanitizers "
                              f"(seed {ctx.seed})")
        half_close(conn)
        conn.expect_eof(f"{mode} framing: the end of the stream after the last reply")
        slow = ctx.connect(server)
        slow.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = ReplyReader(slow, mode)
        slow.send_pieces(frame(mode, b"one piece after another"), [1, 2, 3, 1, 5, 4, 2] * 4,
                         note="a message in 28 small pieces")
        reader.expect(b"1:one piece after another", f"{mode} framing: the reply to a "
                      "message sent in small pieces, under the sanitizers")
        if mode == "len":
            slow.send(struct.pack(">I", LEN_MAX + 1) + b"z" * 10000,
                      note="a header announcing one byte over the limit")
        else:
            slow.send(b"L" * (LINE_MAX + 4000), note="a line over the limit, no '\\n'")
        reader.expect_error_and_close(f"{mode} framing: over the limit, under the sanitizers")
        round_trip(ctx, server, mode, [b"after the error"], f"{mode} framing: the next "
                   "connection after an error, under the sanitizers")
        code = ctx.stop_server(server)
        ctx.check_sanitizer(server.process)
        if code != 0:
            raise GradeFailure("wrong exit code", "built with the sanitizers, the server should "
                               f"exit with status 0 on SIGTERM, but it {describe_status(code)}")
