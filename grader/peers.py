"""Servers that live inside the grader, for testing the labs' clients.

A client is tested against a peer whose behaviour the test controls, so
that a bug in the student's own server cannot fail the client's tests.
Every peer, here and in the labs' tests, is a ThreadedPeer (a stream
server a ListeningPeer): start(), stop() and the thread are written once.
"""

import socket
import threading
import time

from .i18n import tr
from .failures import GradeFailure
from .sockets import expect_bytes

PEER_LIMIT = 64 << 20       # most bytes a peer keeps or echoes
POLL_INTERVAL = 0.2         # how often a blocked peer checks for stop()
STOP_WAIT = 5.0             # seconds stop() waits for the peer's thread
# The peer's own socket buffers are pinned small: left to autotuning they
# grow to megabytes and can hide a client that never reads until it has
# sent everything. Setting them also turns autotuning off for them.
PEER_BUFFER = 64 * 1024
FINISH_GRACE = 2.0          # seconds a peer may take to finish once its client is gone


class ThreadedPeer:
    """A peer serving its socket from a thread of its own, from start()
    to stop(). A subclass writes _serve(); its loops wait on the socket
    with a timeout and check self._stop in between, so that stop() ends
    them within one wait."""

    thread_name = "test-peer"

    def __init__(self, sock):
        self._sock = sock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=self.thread_name, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=STOP_WAIT)
        self._close()

    def _close(self):
        self._sock.close()

    def _serve(self):
        raise NotImplementedError


class ListeningPeer(ThreadedPeer):
    """A ThreadedPeer on a stream listener (bound by the subclass), whose
    _serve() takes its connections from _accept()."""

    def __init__(self, listener):
        listener.listen(1)
        listener.settimeout(POLL_INTERVAL)
        super().__init__(listener)

    def _accept(self, deadline=None):
        """The next connection (polled every POLL_INTERVAL, like the
        listener), or None once stopped, past deadline (a monotonic time)
        or when the listener fails."""
        while not self._stop.is_set() and (deadline is None or time.monotonic() < deadline):
            try:
                conn, _ = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return None
            conn.settimeout(POLL_INTERVAL)
            return conn
        return None


def tcp_listener(buffer=None):
    """A TCP socket bound to a free loopback port, its buffers pinned to
    buffer bytes when given (accepted sockets inherit them)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if buffer:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, buffer)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, buffer)
    sock.bind(("127.0.0.1", 0))
    return sock


class EchoPeer(ListeningPeer):
    """Echoes one TCP connection, in one of two styles.

    "stream":    sends every chunk back as soon as it arrives, with a
                 blocking send, like a simple echo server. A client that
                 writes all its input before reading anything deadlocks
                 against it once both kernel buffers are full.
    "after_eof": keeps everything until the client half-closes (end of
                 stream), then sends it all back and closes. A client that
                 never calls shutdown(SHUT_WR) waits forever; one that
                 close()s instead of half-closing loses the reply.

    With swap_case, the reply is the input with each ASCII letter in the
    other case: a client prints what the server sent, so one that prints
    its own input instead shows. Either way the peer keeps what it
    received, for expect_received().
    """

    thread_name = "echo-peer"

    def __init__(self, transcript, mode="stream", channel="test peer", swap_case=False):
        assert mode in ("stream", "after_eof")
        self.mode = mode
        self.swap_case = swap_case
        self.got = bytearray()      # what the client sent, up to PEER_LIMIT
        self.transcript = transcript
        self.channel = channel
        self.received = 0
        self.sent = 0
        self.saw_eof = False
        self.error = None
        super().__init__(tcp_listener(PEER_BUFFER))
        self.host, self.port = self._sock.getsockname()

    def summary(self):
        if self.saw_eof:
            received = tr("the test's echo server received {count} bytes and then end of stream",
                          count=self.received)
        else:
            received = tr("the test's echo server received {count} bytes (no end of stream)",
                          count=self.received)
        if self.swap_case:
            sent = tr("sent {count} bytes back, each ASCII letter in the other case",
                      count=self.sent)
        else:
            sent = tr("sent {count} bytes back", count=self.sent)
        return tr("{received}, and {sent}", received=received, sent=sent)

    def reply_to(self, data):
        """What the peer sends back for data."""
        return data.swapcase() if self.swap_case else data

    def expect_received(self, data, what):
        """Fails unless the client sent exactly data, then ended its
        stream: printing the right bytes is not enough, they must have
        gone through the server."""
        self._thread.join(FINISH_GRACE)
        expect_bytes(data, bytes(self.got),
                     tr("{what}: what the test's server received from the client", what=what),
                     self.saw_eof)
        if not self.saw_eof:
            raise GradeFailure("wrong output", tr(
                "{what}: the test's server received all {count} bytes of stdin but never the end "
                "of the stream: at the end of stdin, shutdown(SHUT_WR) tells the server no more "
                "is coming (see docs/01-tcp.md#half-close-shutdown-versus-close)",
                what=what, count=len(data)))

    def _keep(self, chunk):
        self.received += len(chunk)
        self.transcript.add(self.channel, "received", chunk)
        if len(self.got) + len(chunk) > PEER_LIMIT:
            return False
        self.got += chunk
        return True

    def _serve(self):
        conn = self._accept()
        if conn is None:
            return
        self.transcript.add(self.channel, "accepted a connection")
        try:
            if self.mode == "stream":
                self._echo_stream(conn)
            else:
                self._echo_after_eof(conn)
        except OSError as exc:
            self.error = exc
            self.transcript.add(self.channel, "error", note=str(exc))
        finally:
            conn.close()

    def _recv(self, conn):
        """One chunk, b"" at end of stream, None when asked to stop."""
        while not self._stop.is_set():
            try:
                return conn.recv(65536)
            except socket.timeout:
                continue
        return None

    def _send(self, conn, data):
        view = memoryview(data)
        while view and not self._stop.is_set():
            try:
                n = conn.send(view)
            except socket.timeout:
                continue
            self.sent += n
            view = view[n:]

    def _echo_stream(self, conn):
        while True:
            chunk = self._recv(conn)
            if not chunk:
                self.saw_eof = chunk == b""
                break
            if not self._keep(chunk):
                break
            reply = self.reply_to(chunk)
            self._send(conn, reply)
            self.transcript.add(self.channel, "sent", reply)
        if self.saw_eof:
            self.transcript.add(self.channel, "got end of stream, closing")

    def _echo_after_eof(self, conn):
        while True:
            chunk = self._recv(conn)
            if not chunk:
                self.saw_eof = chunk == b""
                break
            if not self._keep(chunk):
                return
        if not self.saw_eof:
            return
        self.transcript.add(self.channel, "got end of stream", note="now echoing everything")
        reply = self.reply_to(bytes(self.got))
        self._send(conn, reply)
        self.transcript.add(self.channel, "sent", reply)
