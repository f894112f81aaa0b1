"""Servers that live inside the grader, for testing the labs' clients.

A client is tested against a peer whose behaviour the test controls, so
that a bug in the student's own server cannot fail the client's tests.
Every peer, here and in the labs' tests, is a ThreadedPeer (a stream
server a ListeningPeer): start(), stop() and the thread are written once.
"""

import socket
import threading
import time

PEER_LIMIT = 64 << 20       # most bytes a peer keeps or echoes
POLL_INTERVAL = 0.2         # how often a blocked peer checks for stop()
STOP_WAIT = 5.0             # seconds stop() waits for the peer's thread
# The peer's own socket buffers are pinned small: left to autotuning they
# grow to megabytes and can hide a client that never reads until it has
# sent everything. Setting them also turns autotuning off for them.
PEER_BUFFER = 64 * 1024


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
    """

    thread_name = "echo-peer"

    def __init__(self, transcript, mode="stream", channel="test peer"):
        assert mode in ("stream", "after_eof")
        self.mode = mode
        self.transcript = transcript
        self.channel = channel
        self.received = 0
        self.sent = 0
        self.saw_eof = False
        self.error = None
        super().__init__(tcp_listener(PEER_BUFFER))
        self.host, self.port = self._sock.getsockname()

    def summary(self):
        return (f"the test's echo server received {self.received} bytes"
                f"{' and then end of stream' if self.saw_eof else ' (no end of stream)'}"
                f", and sent {self.sent} bytes back")

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
            self.received += len(chunk)
            self.transcript.add(self.channel, "received", chunk)
            if self.sent + len(chunk) > PEER_LIMIT:
                break
            self._send(conn, chunk)
            self.transcript.add(self.channel, "sent", chunk)
        if self.saw_eof:
            self.transcript.add(self.channel, "got end of stream, closing")

    def _echo_after_eof(self, conn):
        kept = bytearray()
        while True:
            chunk = self._recv(conn)
            if not chunk:
                self.saw_eof = chunk == b""
                break
            self.received += len(chunk)
            self.transcript.add(self.channel, "received", chunk)
            if len(kept) + len(chunk) > PEER_LIMIT:
                return
            kept += chunk
        if not self.saw_eof:
            return
        self.transcript.add(self.channel, "got end of stream", note="now echoing everything")
        self._send(conn, bytes(kept))
        self.transcript.add(self.channel, "sent", bytes(kept))
