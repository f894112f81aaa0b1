"""Socket helpers for tests: send in chosen pieces, receive with bounds.

A Conn wraps one TCP connection. Every operation has a deadline, every
buffer has a size bound, and everything sent and received is recorded in
the test's transcript. Socket errors become GradeFailures that say what
the test was doing when they happened.
"""

import errno
import random
import socket
import struct
import threading
import time

from .i18n import tr
from .explain import explain_bytes
from .failures import GradeFailure, TestTimeout
from .transcripts import diff_bytes, preview

DEFAULT_TIMEOUT = 3.0     # loopback replies take microseconds; valgrind scales this
RECV_CHUNK = 65536
SENDER_GRACE = 2.0        # seconds a finished transfer's sender may take to return


def ipv6_loopback_missing():
    """Why this machine cannot use the IPv6 loopback (::1), or None when
    it can. Asked once, before any program runs: a program can fill ::1's
    ports (TIME_WAIT outlives it), and a bind that fails then is no sign
    that IPv6 is missing."""
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def split_sizes(total, rng, max_piece):
    """Random piece sizes (1..max_piece) that add up to total."""
    sizes = []
    left = total
    while left > 0:
        piece = min(left, rng.randint(1, max_piece))
        sizes.append(piece)
        left -= piece
    return sizes


class Conn:
    """A TCP connection from the test to the program under test."""

    def __init__(self, sock, channel, transcript, timeout=DEFAULT_TIMEOUT):
        self.sock = sock
        self.channel = channel
        self.transcript = transcript
        self.timeout = timeout
        self.total_received = 0
        self.sent_log = bytearray()   # what was sent, for "try it by hand"
        self.eof = False
        # Set by the test's context: a sentence on why the program has
        # sent nothing (as the kernel sees it), added to a timeout.
        self.explain_silence = None

    @classmethod
    def open(cls, host, port, channel, transcript, timeout=DEFAULT_TIMEOUT):
        """A TCP connection to host:port (IPv4 or IPv6)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        return cls._open(family, (host, port), f"{host}:{port}", channel, transcript, timeout)

    @classmethod
    def open_unix(cls, path, channel, transcript, timeout=DEFAULT_TIMEOUT):
        """A stream connection to a Unix-domain socket at path."""
        return cls._open(socket.AF_UNIX, path, path, channel, transcript, timeout)

    @classmethod
    def _open(cls, family, address, label, channel, transcript, timeout):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError as exc:
            sock.close()
            transcript.add(channel, "connect failed", note=f"{label}: {exc.strerror or exc}")
            raise _as_failure(exc, f"connecting to {label}") from exc
        except (ValueError, OverflowError) as exc:
            # The address came from the program's announce line: a port
            # past 65535, a NUL byte in a path. The program's mistake.
            sock.close()
            transcript.add(channel, "connect failed", note=f"{label[:80]}: {exc}")
            raise GradeFailure("wrong output", tr(
                "the test could not connect to {address}, the address the program announced: "
                "{error}", address=label[:80], error=exc)) from exc
        transcript.add(channel, "connected", note=f"to {label}")
        return cls(sock, channel, transcript, timeout)

    # -- sending ---------------------------------------------------------

    def send(self, data, note=""):
        """Sends all of data in one sendall call."""
        self._sendall(data, note)

    def send_pieces(self, data, sizes, pause=0.0, note=""):
        """Sends data cut into pieces of the given sizes, pausing between."""
        offset = 0
        for size in sizes:
            self._sendall(data[offset: offset + size], note)
            offset += size
            if pause and offset < len(data):
                time.sleep(pause)
        if offset < len(data):
            self._sendall(data[offset:], note)

    def send_bytewise(self, data, pause=0.0, note="one byte per send"):
        """Sends one byte per send() call, with TCP_NODELAY so they leave apart."""
        if self.sock.family != socket.AF_UNIX:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.send_pieces(data, [1] * len(data), pause, note)

    def send_random_pieces(self, data, seed, max_piece=64, note=None):
        rng = random.Random(seed)
        self.send_pieces(data, split_sizes(len(data), rng, max_piece),
                         note=note or f"random pieces of 1..{max_piece} bytes, seed {seed}")

    def _sendall(self, data, note):
        self.sock.settimeout(self.timeout)
        try:
            self.sock.sendall(data)
        except socket.timeout as exc:
            self.transcript.add(self.channel, "send timed out", note=f"{len(data)} bytes")
            raise TestTimeout(tr("sending {len} bytes took over {timeout:g} s: the program "
                                 "stopped reading from its socket",
                                 len=len(data), timeout=self.timeout)) from exc
        except OSError as exc:
            self.transcript.add(self.channel, "send failed", note=exc.strerror or str(exc))
            raise _as_failure(exc, "sending") from exc
        self.transcript.add(self.channel, "sent", data, note)
        if self.sent_log is not None:
            self.sent_log += data
            if len(self.sent_log) > 4096:
                self.sent_log = None  # too long to retype by hand

    def send_while_receiving(self, data, count, timeout=None, sizes=None):
        """Sends data from a thread while receiving count bytes here.

        For large transfers: a test that sends everything before reading
        would deadlock against an echo server once the buffers fill.
        Returns the bytes received (fewer than count if the stream ended).
        """
        failure = []

        def sender():
            try:
                if sizes:
                    self.send_pieces(data, sizes)
                else:
                    self._sendall(data, "")
            except Exception as exc:  # reported below, in the test's thread
                failure.append(exc)

        thread = threading.Thread(target=sender, name="test-sender", daemon=True)
        thread.start()
        try:
            got = self.recv_exactly(count, timeout, waiting_for=f"{count} bytes back")
        finally:
            # Once everything came back the sender has finished or is about
            # to: give it a moment before deciding that it is stuck.
            thread.join(timeout=SENDER_GRACE)
            if thread.is_alive():
                # Stuck in a send: unblock it, the test is over either way.
                try:
                    self.sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                thread.join(timeout=SENDER_GRACE)
        if failure and len(got) < count:
            raise failure[0]
        return got

    def shutdown_write(self):
        """Half-closes: the program reads end of stream, can still reply."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError as exc:
            self.transcript.add(self.channel, "end of stream failed", note=exc.strerror or str(exc))
            raise _as_failure(exc, "sending the end of the stream") from exc
        self.transcript.add(self.channel, "sent end of stream", note="shutdown(SHUT_WR)")

    def reset(self):
        """Closes abruptly with RST instead of FIN (SO_LINGER with 0 time)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()
        self.transcript.add(self.channel, "reset the connection", note="RST")

    def close(self):
        if self.sock.fileno() >= 0:
            self.sock.close()
            self.transcript.add(self.channel, "closed")

    # -- receiving -------------------------------------------------------

    def _recv_once(self, deadline, waiting_for):
        left = deadline - time.monotonic()
        if left <= 0:
            raise self._timeout(waiting_for)
        self.sock.settimeout(left)
        try:
            chunk = self.sock.recv(RECV_CHUNK)
        except socket.timeout:
            raise self._timeout(waiting_for) from None
        except OSError as exc:
            self.transcript.add(self.channel, "receive failed", note=exc.strerror or str(exc))
            raise _as_failure(exc, f"waiting for {waiting_for}") from exc
        if chunk:
            self.total_received += len(chunk)
            self.transcript.add(self.channel, "received", chunk)
        else:
            self.eof = True
            self.transcript.add(self.channel, "end of stream", note="the program closed its side")
        return chunk

    def _timeout(self, waiting_for):
        self.transcript.add(self.channel, "timed out", note=f"waiting for {waiting_for}")
        why = self.explain_silence() if self.explain_silence else ""
        return TestTimeout(tr("waited {timeout:g} s for {waiting_for}; this connection had "
                              "received {total_received} bytes in all",
                              timeout=self.timeout, waiting_for=waiting_for,
                              total_received=self.total_received), cause=why)

    def recv_exactly(self, count, timeout=None, waiting_for=None):
        """Receives exactly count bytes; fewer only if the stream ends."""
        deadline = time.monotonic() + (timeout or self.timeout)
        what = waiting_for or f"{count} bytes"
        out = bytearray()
        while len(out) < count:
            try:
                chunk = self._recv_once(deadline, what)
            except TestTimeout as exc:
                exc.received = bytes(out)   # for expect() to explain
                raise
            if not chunk:
                break
            out += chunk
        return bytes(out)

    def recv_until(self, delimiter, limit, timeout=None):
        """Receives until delimiter (included), end of stream, or limit bytes."""
        deadline = time.monotonic() + (timeout or self.timeout)
        out = bytearray()
        while delimiter not in out and len(out) < limit:
            chunk = self._recv_once(deadline, f"a reply ending in {preview(delimiter)}")
            if not chunk:
                break
            out += chunk
        return bytes(out)

    def recv_until_eof(self, limit, timeout=None):
        """Receives until the program closes its side (at most limit bytes)."""
        deadline = time.monotonic() + (timeout or self.timeout)
        out = bytearray()
        while len(out) <= limit:
            chunk = self._recv_once(deadline, "the end of the stream (the program closing its side)")
            if not chunk:
                return bytes(out)
            out += chunk
        raise GradeFailure("extra bytes", tr("received over {limit} bytes without the stream ending",
                                             limit=limit))

    # -- checking --------------------------------------------------------

    def expect(self, expected, what, timeout=None):
        """Receives len(expected) bytes and checks they are exactly expected.
        When time runs out first, the failure says what was wrong with the
        bytes that did come."""
        try:
            got = self.recv_exactly(len(expected), timeout, waiting_for=what)
        except TestTimeout as exc:
            explained = explain_bytes(expected, getattr(exc, "received", b""))
            if explained is None or not getattr(exc, "received", b""):
                raise
            # What came is about the bytes; why the program stopped
            # (exc.cause) stays last.
            raise TestTimeout(tr("{message}; of what came: {value}",
                                 message=exc.said, value=explained[1]),
                              exc.details, cause=exc.cause) from exc
        expect_bytes(expected, got, what, stream_ended=self.eof)
        return got

    def expect_eof(self, what="the end of the stream", timeout=None):
        """Checks that nothing more arrives before the program closes."""
        deadline = time.monotonic() + (timeout or self.timeout)
        chunk = self._recv_once(deadline, what)
        if chunk:
            raise GradeFailure("extra bytes",
                               tr("expected {what}, but {len} more bytes arrived: {preview}",
                                  what=what, len=len(chunk), preview=preview(chunk)))


def expect_bytes(expected, got, what, stream_ended=False):
    """Raises a GradeFailure naming the first broken rule (explain.py),
    with a view of the first difference as details, if they differ.
    what names the bytes checked ("the echo of a line"); the sentence is
    "<what>: <rule>", which reads right whatever words what starts with."""
    result = diff_bytes(expected, got)
    if result is None:
        return
    _, lines = result
    kind, rule = explain_bytes(expected, got, stream_ended)
    raise GradeFailure(kind, tr("{what}: {rule}", what=what, rule=rule), "\n".join(lines[1:]))


def _as_failure(exc, doing):
    if isinstance(exc, ConnectionResetError):
        return GradeFailure("connection reset",
                            tr("the program reset the connection (RST) while the test was "
                               "{doing}",
                               doing=doing))
    if isinstance(exc, BrokenPipeError):
        return GradeFailure("broken pipe",
                            tr("the program had closed the connection while the test was {doing}",
                               doing=doing))
    if isinstance(exc, ConnectionRefusedError):
        return GradeFailure("connection refused", tr("connection refused while {doing}: is the program listening on "
                                                     "the port it announced?",
                                                     doing=doing))
    if exc.errno == errno.ENOTCONN:
        return GradeFailure("connection reset", tr("the connection was already gone while the test was {doing}: the "
                                                   "program had reset or closed it",
                                                   doing=doing))
    return GradeFailure("connection reset", tr("socket error while {doing}: {exc}",
                                               doing=doing, exc=exc))
