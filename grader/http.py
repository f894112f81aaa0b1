"""HTTP helpers for the labs' tests (lab 05 on).

HttpReader reads the responses of a program under test through h11, an
independent and strict HTTP/1.1 parser, and checks each head against the
rules of RFC 9112 that h11 lets pass (it accepts a bare \n as a line
end): any framing or syntax mistake fails the test with the rule it
breaks (explain.py), and h11's own words in the details. HttpPeer is a server
inside the grader that answers one request with a scripted response, cut
into chosen pieces, for testing HTTP clients.
"""

import socket
import struct
import time

from . import explain
from .failures import GradeFailure, TestTimeout
from .peers import ListeningPeer, tcp_listener
from .transcripts import preview

try:
    import h11
except ImportError:  # reported by the tests that need it
    h11 = None

H11_MISSING = "python3-h11 is not installed; run make deps"
RESPONSE_LIMIT = 256 << 20
RAW_KEPT = 128 << 10        # bytes of each response kept for explaining it


class HttpResponse:
    """One response as h11 parsed it."""

    def __init__(self, status, reason, version, headers, body):
        self.status = status
        self.reason = reason
        self.version = version
        self.headers = headers          # [(lowercase name, value)] as str
        self.body = body

    def header(self, name):
        """The value of the first header called name (any case), or None."""
        name = name.lower()
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def status_line(self):
        return f"HTTP/{self.version} {self.status} {self.reason}"

    def describe(self):
        lines = [self.status_line()] + [f"{k}: {v}" for k, v in self.headers]
        return "\n".join(lines) + f"\n(body: {len(self.body)} bytes: {preview(self.body)})"


class HttpReader:
    """Reads the responses arriving on a Conn, checking them with h11.

    Tell it about each request as it is sent (request()), then read its
    response (response()). Pipelined requests: call request() for the
    next one only after reading the previous response.
    """

    def __init__(self, conn):
        if h11 is None:
            raise GradeFailure("grader error", H11_MISSING)
        self.conn = conn
        self.h11 = h11.Connection(our_role=h11.CLIENT, max_incomplete_event_size=64 << 10)
        self.count = 0
        self._raw = bytearray()     # the start of the response being read
        self._raw_total = 0         # how many bytes of it came

    def request(self, method, close=False):
        """Records (for h11) that a request with this method was sent."""
        if self.count > 0:
            try:
                self.h11.start_next_cycle()
            except h11.LocalProtocolError as exc:
                raise GradeFailure("wrong output", "the previous response ended the "
                                   f"connection (Connection: close) but another request "
                                   f"was expected to be answered: {exc}") from exc
        headers = [("Host", "lab05")]
        if close:
            headers.append(("Connection", "close"))
        if method in ("POST", "PUT"):
            headers.append(("Content-Length", "0"))
        self.h11.send(h11.Request(method=method, target="/", headers=headers))
        self.h11.send(h11.EndOfMessage())
        self.count += 1

    def _start_raw(self):
        """Starts keeping the bytes of the next response: from those that
        came already and h11 has not parsed yet."""
        pending = self.h11.trailing_data[0]
        self._raw = bytearray(pending[:RAW_KEPT])
        self._raw_total = len(pending)

    def _keep_raw(self, chunk):
        self._raw += chunk[: max(0, RAW_KEPT - len(self._raw))]
        self._raw_total += len(chunk)

    def _broken_rule(self, what, exc):
        """The failure for a response h11 rejected: the rule it breaks."""
        rule = explain.response_problem(bytes(self._raw), self._raw_total, closed=self.conn.eof)
        rule = rule or "the response is not valid HTTP/1.1"
        return GradeFailure("wrong output", f"{what}: {rule}",
                            f"h11, a strict HTTP/1.1 parser, says: {exc}\n"
                            "see the transcript below for the bytes received")

    def _check_head(self, what):
        """Fails on a head that h11 took but RFC 9112 does not allow."""
        rule = explain.response_head_problem(bytes(self._raw))
        if rule:
            raise GradeFailure("wrong output", f"{what}: {rule}",
                               "the head as received:\n" +
                               "\n".join(explain.describe_head(bytes(self._raw))))

    def _event(self, deadline, what):
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise self._broken_rule(what, exc) from exc
            if event is not h11.NEED_DATA:
                return event
            try:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self.conn._timeout(what)
                chunk = self.conn._recv_once(deadline, what)
            except TestTimeout as exc:
                rule = explain.response_problem(bytes(self._raw), self._raw_total,
                                                waited=self.conn.timeout)
                if rule is None:
                    raise
                # The rule goes with what was received; why the server
                # was silent (sockets.Conn._timeout) stays last.
                raise TestTimeout(f"{exc.said}; {rule}", exc.details, cause=exc.cause) from exc
            self._keep_raw(chunk)
            self.h11.receive_data(chunk)

    def response(self, what="the response", timeout=None):
        """Reads one complete response (interim 1xx ones are skipped)."""
        deadline = time.monotonic() + (timeout or self.conn.timeout)
        body = bytearray()
        head = None
        self._start_raw()
        while True:
            event = self._event(deadline, what)
            if isinstance(event, h11.InformationalResponse):
                self._check_head(what)
                self._start_raw()
                continue
            if isinstance(event, h11.Response):
                self._check_head(what)
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > RESPONSE_LIMIT:
                    raise GradeFailure("extra bytes", f"{what}: the body is over "
                                       f"{RESPONSE_LIMIT} bytes")
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise GradeFailure("missing bytes", f"{what}: the connection closed "
                                   "before a complete response arrived")
        headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in head.headers]
        return HttpResponse(head.status_code, head.reason.decode("latin-1"),
                            head.http_version.decode(), headers, bytes(body))

    def expect_close(self, what):
        """Checks that the server closes the connection, sending nothing more."""
        leftover = self.h11.trailing_data[0]
        if leftover:
            raise GradeFailure("extra bytes", f"expected the server to close the connection "
                               f"after {what}, but "
                               f"{explain.extra_after_response(leftover, bytes(self._raw))}")
        self.conn.expect_eof(f"the server to close the connection after {what}")


# Reason phrases of RFC 9110 section 15 for the statuses the labs' servers
# send: a test that expects one of these statuses checks the phrase too.
REASONS = {200: "OK", 301: "Moved Permanently", 400: "Bad Request", 403: "Forbidden",
           404: "Not Found", 405: "Method Not Allowed", 408: "Request Timeout",
           414: "URI Too Long", 431: "Request Header Fields Too Large",
           501: "Not Implemented", 505: "HTTP Version Not Supported"}


def open_reader(ctx, server, timeout=None):
    """A new connection to server and an HttpReader on it."""
    conn = ctx.connect(server, **({"timeout": timeout} if timeout else {}))
    return conn, HttpReader(conn)


def media_type(resp):
    """The Content-Type without its parameters, in lower case, or None."""
    value = resp.header("content-type")
    return value.split(";")[0].strip().lower() if value else None


def check_status(resp, status, what):
    """Fails unless resp has this status and, if REASONS knows it, its phrase."""
    if resp.status != status:
        raise GradeFailure("wrong output", f"{what}: expected status {status} "
                           f"{REASONS.get(status, '')}, got {resp.status} {resp.reason}",
                           resp.describe())
    if status in REASONS and resp.reason != REASONS[status]:
        raise GradeFailure("wrong output", f"{what}: the reason phrase of {status} should be "
                           f"'{REASONS[status]}', it was '{resp.reason}'", resp.describe())


class HttpPeer(ListeningPeer):
    """Answers one HTTP request with a scripted response, then closes.

    pieces: the response, as a list of byte strings each sent with its own
    send() (TCP_NODELAY, pause seconds between them), so that a client
    sees them in separate reads. read_request=False closes without reading
    the request at all; reset=True ends with a reset (RST) instead of a
    close (FIN).
    """

    thread_name = "http-peer"

    def __init__(self, transcript, pieces, pause=0.005, channel="test server",
                 close=True, read_request=True, reset=False):
        self.transcript = transcript
        self.pieces = pieces
        self.pause = pause
        self.channel = channel
        self.close_after = close
        self.read_request = read_request
        self.reset = reset
        self.request = bytearray()
        self.received = 0
        self.sent = 0
        self.error = None
        super().__init__(tcp_listener())
        self.host, self.port = self._sock.getsockname()

    def url(self, path="/"):
        return f"http://{self.host}:{self.port}{path}"

    def summary(self):
        return (f"the test's HTTP server received {self.received} bytes and sent "
                f"{self.sent} of the {sum(map(len, self.pieces))} bytes of its response")

    def _serve(self):
        conn = self._accept()
        if conn is None:
            return
        self.transcript.add(self.channel, "accepted a connection")
        try:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if not self.read_request:
                self.transcript.add(self.channel, "closed the connection",
                                    note="at once, without reading the request")
                return
            self._read_request(conn)
            for i, piece in enumerate(self.pieces):
                if self._stop.is_set():
                    return
                if i > 0 and self.pause:
                    time.sleep(self.pause)
                conn.settimeout(5)
                conn.sendall(piece)
                self.sent += len(piece)
                self.transcript.add(self.channel, "sent", piece)
            if self.reset:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.transcript.add(self.channel, "reset the connection (RST)")
            elif self.close_after:
                self.transcript.add(self.channel, "closed the connection")
        except OSError as exc:
            self.error = exc
            self.transcript.add(self.channel, "error", note=str(exc))
        finally:
            conn.close()

    def _read_request(self, conn):
        deadline = time.monotonic() + 10
        while b"\r\n\r\n" not in self.request and len(self.request) < 65536:
            if self._stop.is_set() or time.monotonic() > deadline:
                return
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                return
            self.received += len(chunk)
            self.request += chunk
            self.transcript.add(self.channel, "received", chunk)
