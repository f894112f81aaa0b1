"""Lab 01 graded tests: the TCP echo server and client.

Each test talks to the built programs over real sockets on loopback.
Run them with "make grade" (add T=NAME for one test); the points and the
docs section explaining each behaviour are declared beside each test.
"""

import signal
import socket
import threading
import time

import pytest

from grader import EchoPeer, Faults, GradeFailure, Limits, describe_status, expect_bytes, graded
from grader.context import shell_printf
from grader.i18n import tr

SERVER = "echo_server"
CLIENT = "echo_client"
UNITS = "test_echo_util"
MIB = 1 << 20
REPRO_MAX_BYTES = 300       # longer inputs are not typed into "try it by hand"
PEER_POLL = 0.2             # how often the test's server checks whether to stop
PEER_LIFETIME = 30.0        # the test's server gives up after this long
PEER_BUFFER = 64 * 1024     # its socket buffers, pinned small (see grader/peers.py)


@pytest.fixture
def server(ctx):
    return ctx.start_server(SERVER, ["-p", "0"])


def echo_round_trip(ctx, server, data, what, **send_options):
    """Sends data on a new connection, checks it all comes back, closes."""
    conn = ctx.connect(server)
    if send_options:
        conn.send_pieces(data, **send_options)
    else:
        conn.send(data)
    conn.expect(data, what)
    conn.shutdown_write()
    conn.expect_eof("the server to close the connection after the client's end of stream")
    return conn


def expect_exit(result, expected, what):
    if result.timed_out:
        raise GradeFailure("timeout", f"{what}: the program did not finish and was killed "
                           "(see the note below)")
    if result.returncode != expected:
        raise GradeFailure("wrong exit code", f"{what}: expected exit status {expected}, "
                           f"but the program {describe_status(result.returncode)}")


# -- step 1: listening ---------------------------------------------------------

@graded(points=5, doc="00-network-basics.md#printing-an-address", step=1)
def test_unit_format_sockaddr(ctx):
    """unit: format_sockaddr prints IPv4 and IPv6 addresses with the port"""
    ctx.run_unit_tests(UNITS, "format_sockaddr")


@graded(points=10, doc="01-tcp.md#server-flow", step=1)
def test_announce_line(ctx):
    """server: prints 'listening on 127.0.0.1:PORT' and accepts connections on that port"""
    # First the port the kernel chooses (-p 0), then one the test chooses
    # (start_server's default): a port in the wrong byte order shows there.
    fixed = ctx.start_server(SERVER, ["-p", "0"])
    ctx.connect(fixed)
    server = ctx.start_server(SERVER, ["-p", "0"], port="zero")
    first_line = server.process.stdout.head().split(b"\n")[0].rstrip(b"\r")
    expected_prefix = b"listening on 127.0.0.1:"
    if not first_line.startswith(expected_prefix):
        raise GradeFailure("wrong output", "the first line on stdout must be "
                           f"'listening on 127.0.0.1:PORT'; it was {first_line!r}")
    if server.port == 0:
        raise GradeFailure("wrong output", "the announced port is 0: print the port the kernel "
                           "chose, read back with getsockname(), not the one you asked for")
    # The kernel completes the handshake for a listening socket by itself:
    # a refused connection here means bind() without listen(), or a port
    # announced that is not the one bound.
    ctx.connect(server)
    ctx.expect_alive(server, "after a client connected")


@graded(points=5, doc="README.md#conventions-every-lab-follows", step=1)
def test_bad_arguments(ctx):
    """both: bad arguments print a usage line and exit with status 2"""
    cases = [
        (SERVER, []), (SERVER, ["-p", "http"]), (SERVER, ["-p", "65536"]),
        (SERVER, ["-p", "-1"]), (SERVER, ["-p", "0", "-x"]), (SERVER, ["-p", "0", "extra"]),
        (SERVER, ["-a", "not-an-address", "-p", "0"]),
        (CLIENT, []), (CLIENT, ["-h", "127.0.0.1"]), (CLIENT, ["-p", "80"]),
        (CLIENT, ["-h", "127.0.0.1", "-p", "99999"]),
    ]
    # First, a valid command line must be accepted: a program that always
    # exits 2 would otherwise pass this test.
    ctx.start_server(SERVER, ["-p", "0"])
    for program, args in cases:
        result = ctx.run(program, args, timeout=2)
        shown = " ".join([program, *args])
        expect_exit(result, 2, f"'{shown}'")
        if "usage" not in result.stderr_text().lower():
            raise GradeFailure("wrong output", f"'{shown}' exited 2 but printed no usage line "
                               "on stderr (expected a line starting with 'usage:')")


# -- step 2: the echo ------------------------------------------------------------

@graded(points=5, doc="01-tcp.md#writing-partial-sends", step=2)
def test_unit_send_all(ctx):
    """unit: send_all loops over short sends and EINTR"""
    ctx.run_unit_tests(UNITS, "send_all")


@graded(points=5, doc="01-tcp.md#reading-recv-and-end-of-stream", step=2)
def test_echo_short_text(ctx, server):
    """server: echoes a line of text and closes after the client does"""
    echo_round_trip(ctx, server, b"hello, echo server\n", "echo of a line of text")


@graded(points=6, doc="01-tcp.md#binary-data-and-text-encodings", step=2)
def test_echo_binary(ctx, server):
    """server: echoes binary data, NUL bytes and multibyte text split mid-character"""
    conn = ctx.connect(server)
    every_byte = bytes(range(256)) * 4
    conn.send(every_byte)
    conn.expect(every_byte, "echo of all 256 byte values (NUL bytes included)")

    utf8 = "你好，世界\n".encode("utf-8")
    # Cut inside the first character (3 bytes in UTF-8), pause so the
    # halves arrive in different reads.
    conn.send_pieces(utf8, [1, 2, len(utf8) - 3], pause=0.05,
                     note="UTF-8 text, split inside a character")
    conn.expect(utf8, "echo of UTF-8 text split inside a character")

    gbk = "你好，世界\n".encode("gbk")
    conn.send_pieces(gbk, [3, len(gbk) - 3], pause=0.05, note="GBK text, split inside a character")
    conn.expect(gbk, "echo of GBK-encoded text")
    conn.shutdown_write()
    conn.expect_eof()


@graded(points=5, doc="01-tcp.md#reading-recv-and-end-of-stream", step=2)
def test_echo_one_byte_at_a_time(ctx, server):
    """server: echoes data that arrives one byte per segment"""
    conn = ctx.connect(server)
    data = b"one byte at a time: \x00\xff\r\n" * 4
    conn.send_bytewise(data, pause=0.001)
    conn.expect(data, "echo of bytes sent one at a time")
    conn.shutdown_write()
    conn.expect_eof()


@graded(points=5, doc="01-tcp.md#writing-partial-sends", step=2)
def test_echo_large_one_write(ctx, server):
    """server: echoes 8 MiB of random bytes sent in one write"""
    data = ctx.rng().randbytes(8 * MIB)
    conn = ctx.connect(server, timeout=15)
    got = conn.send_while_receiving(data, len(data))
    expect_bytes(data, got, f"echo of 8 MiB of random bytes (seed {ctx.seed})", conn.eof)
    conn.shutdown_write()
    conn.expect_eof()


@graded(points=5, doc="01-tcp.md#writing-partial-sends", step=2)
def test_echo_survives_short_sends_and_eintr(ctx):
    """server: echoes 1 MiB whole when its sends come up short and its calls are interrupted"""
    # On loopback send() moves everything at once and nothing interrupts
    # recv(): the shim makes both happen, at seeded calls, as a real
    # network and a signal handler would.
    server = ctx.start_server(SERVER, ["-p", "0"], faults=Faults(rate=30, kinds="si"))
    data = ctx.rng().randbytes(MIB)
    conn = ctx.connect(server, timeout=15)
    got = conn.send_while_receiving(data, len(data))
    expect_bytes(data, got, f"echo of 1 MiB of random bytes (seed {ctx.seed}) with short "
                 "sends and EINTR injected into the server", conn.eof)
    conn.shutdown_write()
    conn.expect_eof()


@graded(points=5, doc="01-tcp.md#server-flow", step=2)
def test_clients_served_in_turn(ctx, server):
    """server: a second client is served once the first leaves"""
    first = ctx.connect(server)
    first.send(b"first client\n")
    first.expect(b"first client\n", "echo to the first client")
    # The second client connects while the first is still being served:
    # the kernel queues it (listen backlog) until the server accepts it.
    second = ctx.connect(server)
    second.send(b"second client\n")
    first.shutdown_write()
    first.expect_eof("the end of the first client's stream")
    second.expect(b"second client\n", "echo to the second client, after the first left")
    second.shutdown_write()
    second.expect_eof()
    echo_round_trip(ctx, server, b"third client\n", "echo to a third client")


# -- step 3: a server that survives ------------------------------------------------

@graded(points=5, doc="01-tcp.md#connection-reset", step=3)
def test_survives_reset_client(ctx, server):
    """server: survives clients that reset or close the connection mid-stream"""
    # First a client the server is busy with: each piece is echoed before
    # the next is sent, so when the client resets, the server is waiting
    # for more, and its next recv() fails with ECONNRESET, every time.
    rude = ctx.connect(server)
    rng = ctx.rng()
    for i in range(1, 4):
        piece = rng.randbytes(4096)
        rude.send(piece, note=f"piece {i} of 3")
        rude.expect(piece, f"echo of piece {i} of 3 (the server must go on echoing until the "
                    "client closes)")
    rude.reset()
    echo_round_trip(ctx, server, b"still there?\n", "echo to the next client after the reset")
    # Then clients that leave while bytes are still moving: whether the
    # server meets the reset in recv() or in send() depends on timing, so
    # only its survival counts, not what became of their bytes.
    rude = ctx.connect(server)
    try:
        rude.send(ctx.rng(salt=1).randbytes(MIB), note="1 MiB, then a reset without reading "
                  "any of the echo")
    except GradeFailure as exc:
        if exc.kind not in ("connection reset", "broken pipe"):
            raise
        ctx.note(f"sending 1 MiB to the server ended early ({exc.kind}); only whether the "
                 "server survives counts here")
    rude.reset()
    gone = ctx.connect(server)
    gone.send(b"half a li", note="then the client closes without reading the echo")
    gone.close()
    # A sequential server reaches the next client only after it has dealt
    # with the ones before, so this echo is the proof that it survived.
    echo_round_trip(ctx, server, b"still there?\n", "echo to a client after three that left "
                    "mid-stream")
    ctx.expect_alive(server, "after clients reset or closed their connections")


@graded(points=5, doc="01-tcp.md#so_reuseaddr-and-time_wait", step=3)
def test_restart_same_port(ctx):
    """server: restarts on the same port at once (SO_REUSEADDR)"""
    first = ctx.start_server(SERVER, ["-p", "0"])
    port = first.port
    conn = ctx.connect(first)
    conn.send(b"before the restart\n")
    conn.expect(b"before the restart\n", "echo before the restart")
    # Stop the server while the connection is open: the server's side
    # closes first, so its end of the connection goes into TIME_WAIT.
    ctx.stop_server(first)
    conn.recv_until_eof(limit=1024, timeout=3)
    conn.close()
    ctx.note(f"the first server used port {port}; after it stopped, its side of the "
             "connection was left in TIME_WAIT, which blocks bind() without SO_REUSEADDR")
    second = ctx.start_server(SERVER, ["-p", str(port)])
    echo_round_trip(ctx, second, b"after the restart\n", "echo after the restart")


@graded(points=5, doc="01-tcp.md#exiting-on-a-signal", step=3)
def test_exits_cleanly_on_signals(ctx):
    """server: exits with status 0 on SIGTERM and on SIGINT"""
    for signo in (signal.SIGTERM, signal.SIGINT):
        server = ctx.start_server(SERVER, ["-p", "0"])
        echo_round_trip(ctx, server, b"about to stop\n", "echo before the signal")
        code = ctx.stop_server(server, signo)
        name = signal.Signals(signo).name
        if code is None:
            raise GradeFailure("timeout", f"the server was still running 3 s after {name}; "
                               "install a handler without SA_RESTART so accept() returns EINTR")
        if code != 0:
            raise GradeFailure("wrong exit code", f"after {name} the server should exit with "
                               f"status 0, but it {describe_status(code)}")


@graded(points=3, doc="00-network-basics.md#ip-addresses", step=3)
def test_ipv6(ctx):
    """server: listens on IPv6 with -a ::1"""
    ctx.require_ipv6()
    server = ctx.start_server(SERVER, ["-a", "::1", "-p", "0"])
    if not server.announce_line.startswith("listening on [::1]:"):
        raise GradeFailure("wrong output", "with -a ::1 the line must read "
                           f"'listening on [::1]:PORT'; it was '{server.announce_line}'")
    echo_round_trip(ctx, server, b"over IPv6\n", "echo over IPv6")


# -- step 4: the client ---------------------------------------------------------

def client_args(peer):
    return ["-h", peer.host, "-p", str(peer.port)]


def client_repro(ctx, data):
    """How to rerun a client test by hand against your own echo_server,
    with the test's own input when it is short enough to type."""
    if len(data) <= REPRO_MAX_BYTES:
        make_input = f"{shell_printf(data)} > input    # terminal 2"
    else:
        make_input = (f"head -c {len(data)} /dev/urandom > input    # terminal 2 (the test's "
                      f"{len(data)} bytes came from SEED {ctx.seed})")
    ctx.set_repro([
        f"{ctx.display_path(SERVER)} -p 5000    # terminal 1 (any echo server will do)",
        make_input,
        f"{ctx.display_path(CLIENT)} -h 127.0.0.1 -p 5000 < input > output; echo \"exit $?\"",
        "cmp input output",
    ])


def run_client(ctx, peer, data, timeout, valgrind=False, faults=None, limits=None,
               stall_after=3.0):
    """Runs echo_client against peer; stops it early once it stalls."""

    def progress():
        # Bytes moved so far, in both directions.
        return peer.received + peer.sent

    result = ctx.run(CLIENT, client_args(peer), stdin_data=data, timeout=timeout,
                     valgrind=valgrind, progress=progress, faults=faults, limits=limits,
                     stall_after=stall_after)
    ctx.note(peer.summary())
    return result


def check_client_copy(ctx, data, mode, timeout, what, faults=None):
    """Runs the client against a peer that swaps the case of each letter
    it sends back: only a client that sends stdin to the server and prints
    the replies gets both what the peer received and stdout right."""
    peer = EchoPeer(ctx.transcript, mode, swap_case=True).start()
    ctx.peers.append(peer)
    client_repro(ctx, data)
    result = run_client(ctx, peer, data, timeout, faults=faults)
    expect_exit(result, 0, what)
    peer.expect_received(data, what)
    expect_bytes(peer.reply_to(data), result.stdout_bytes(),
                 tr("{what}: the client's stdout, which must be what the test's server sent back "
                    "(each ASCII letter of the input in the other case)", what=what))


@graded(points=5, doc="01-tcp.md#client-flow", step=4)
def test_client_small(ctx):
    """client: copies a few lines to the server and the replies to stdout"""
    check_client_copy(ctx, b"first line\nsecond line\n\xe4\xbd\xa0\xe5\xa5\xbd\n", "stream", 5,
                      "echo_client with three lines on stdin")


@graded(points=5, doc="01-tcp.md#deadlock-when-both-sides-only-write", step=4)
def test_client_large_no_deadlock(ctx):
    """client: round-trips 16 MiB of random bytes without deadlock"""
    # 16 MiB is far more than the kernel buffers between the two programs
    # hold (the test's peer pins its own small), so a client that sends
    # everything before reading anything is sure to deadlock.
    data = ctx.rng().randbytes(16 * MIB)
    check_client_copy(ctx, data, "stream", 20, f"echo_client with 16 MiB of random bytes "
                      f"(seed {ctx.seed}) on stdin")


@graded(points=5, doc="01-tcp.md#half-close-shutdown-versus-close", step=4)
def test_client_half_close(ctx):
    """client: half-closes at end of input and still prints every reply"""
    data = ctx.rng().randbytes(256 * 1024)
    check_client_copy(ctx, data, "after_eof", 10, "echo_client against a server that replies "
                      "only after end of stream")


@graded(points=4, doc="01-tcp.md#writing-partial-sends", step=4)
def test_client_survives_short_sends_and_eintr(ctx):
    """client: copies 1 MiB whole when its sends come up short and its calls are interrupted"""
    # Loopback moves a whole send() at once and no signal interrupts a
    # recv(): the shim makes both happen to the client, at seeded calls.
    data = ctx.rng().randbytes(MIB)
    check_client_copy(ctx, data, "stream", 15, f"echo_client with 1 MiB of random bytes "
                      f"(seed {ctx.seed}) and faults injected into its socket calls and its "
                      "writes to stdout",
                      faults=Faults(rate=30, kinds="si"))


class ClosingPeer:
    """A server in the test that ends the connection early:

    "before_reply":  reads until the client's end of stream, then closes
                     without sending a byte;
    "mid_reply":     reads until end of stream, sends back the first
                     `keep` bytes (cut inside a line), then closes;
    "while_sending": half-closes (FIN) as soon as the client connects and
                     reads nothing more, while the client still has input.
    """

    def __init__(self, transcript, mode, keep=0):
        self.transcript, self.mode, self.keep = transcript, mode, keep
        self.channel = "test server"
        self.received = 0
        self.sent = 0
        self._stop = threading.Event()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, PEER_BUFFER)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, PEER_BUFFER)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(1)
        self._listener.settimeout(PEER_POLL)
        self.host, self.port = self._listener.getsockname()
        self._thread = threading.Thread(target=self._serve, name="closing-peer", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def summary(self):
        return (f"the test's server ({self.mode.replace('_', ' ')}) received {self.received} "
                f"bytes and sent {self.sent}")

    def _serve(self):
        deadline = time.monotonic() + PEER_LIFETIME
        conn = None
        while conn is None and not self._stop.is_set() and time.monotonic() < deadline:
            try:
                conn, _ = self._listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
        if conn is None:
            return
        conn.settimeout(PEER_POLL)
        try:
            if self.mode == "while_sending":
                conn.shutdown(socket.SHUT_WR)
                self.transcript.add(self.channel, "sent end of stream at once",
                                    note="and reads nothing more")
                self._stop.wait(deadline - time.monotonic())
                return
            kept = self._read_to_eof(conn, deadline)
            reply = kept[:self.keep] if self.mode == "mid_reply" else b""
            if reply:
                conn.sendall(reply)
                self.sent += len(reply)
                self.transcript.add(self.channel, "sent", reply, "only part of the echo")
            self.transcript.add(self.channel, "closed the connection")
        except OSError as exc:
            self.transcript.add(self.channel, "error", note=str(exc))
        finally:
            conn.close()

    def _read_to_eof(self, conn, deadline):
        kept = bytearray()
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                chunk = conn.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                self.transcript.add(self.channel, "got end of stream")
                break
            self.received += len(chunk)
            if len(kept) < self.keep + 1:
                kept += chunk
        return bytes(kept)


# How to play each closing server by hand (OpenBSD netcat, Debian's nc).
CLOSING_BY_HAND = {
    "before_reply": "nc -l 5000 > /dev/null    # terminal 1: reads everything, replies nothing",
    "mid_reply": "head -c {keep} input | nc -N -l 5000 > /dev/null    # terminal 1: sends back "
                 "only the first {keep} bytes, then closes",
    "while_sending": "nc -N -l 5000 < /dev/null > /dev/null    # terminal 1: closes its side at "
                     "once (nc still reads; the test's server read nothing more)",
}


def run_against_closing_peer(ctx, mode, data, keep=0):
    peer = ClosingPeer(ctx.transcript, mode, keep).start()
    ctx.peers.append(peer)
    client_repro(ctx, data)
    ctx.repro_lines[0] = CLOSING_BY_HAND[mode].format(keep=keep)
    # A client that spins instead of stopping is killed for its CPU time
    # (SIGXCPU: a second of it, long before the stall window ends even on a
    # busy machine), one that blocks for making no progress.
    return run_client(ctx, peer, data, timeout=15, stall_after=6.0,
                      limits=Limits(cpu_seconds=int(ctx.scaled(1))))


@graded(points=4, doc="01-tcp.md#half-close-shutdown-versus-close", step=4)
def test_client_server_closes_early(ctx):
    """client: stops at once when the server closes before replying, mid-reply, or mid-input"""
    lines = b"".join(b"line %04d of the input\n" % i for i in range(4000))
    result = run_against_closing_peer(ctx, "before_reply", b"three\nshort\nlines\n")
    expect_exit(result, 0, "echo_client against a server that read everything and closed "
                "without replying")
    expect_bytes(b"", result.stdout_bytes(), "the client's stdout when no reply came")

    keep = len(lines) // 2 + 7          # inside a line: the last one printed has no newline
    result = run_against_closing_peer(ctx, "mid_reply", lines, keep)
    expect_exit(result, 0, f"echo_client against a server that sent back {keep} of the "
                f"{len(lines)} bytes, ending inside a line, and closed")
    expect_bytes(lines[:keep], result.stdout_bytes(), "the client's stdout: every byte the "
                 "server sent, up to the half line it ended with")

    data = ctx.rng().randbytes(16 * MIB)
    result = run_against_closing_peer(ctx, "while_sending", data)
    expect_exit(result, 1, "echo_client with 16 MiB on stdin against a server that closed its "
                "side at once and read nothing (it must stop and exit 1: the replies to the "
                "rest of stdin can never come)")
    if not result.stderr_text().strip():
        raise GradeFailure("wrong output", "echo_client exited 1 without a word: say on stderr "
                           "that the server closed the connection before all of stdin was sent")


@graded(points=3, doc="01-tcp.md#client-flow", step=4)
def test_client_connection_refused(ctx):
    """client: says so and exits 1 when nothing listens"""
    # A bound socket that never listens: connecting to its port is refused.
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    try:
        port = holder.getsockname()[1]
        result = ctx.run(CLIENT, ["-h", "127.0.0.1", "-p", str(port)], timeout=5)
    finally:
        holder.close()
    expect_exit(result, 1, "echo_client to a port where nothing listens")
    if "refused" not in result.stderr_text().lower():
        raise GradeFailure("wrong output", "echo_client should print why it failed, e.g. "
                           "'echo_client: connect 127.0.0.1 port 5000: Connection refused'; "
                           f"its stderr was {result.stderr_text()[:200]!r}")


# -- valgrind and the sanitizers (steps 3 and 4) ------------------------------------

@graded(points=5, doc="01-tcp.md#checklist-for-lab-01", timeout=60, step=3)
def test_server_valgrind(ctx):
    """valgrind: the server has no memory errors or leaks"""
    server = ctx.start_server(SERVER, ["-p", "0"], valgrind=True)
    echo_round_trip(ctx, server, b"checked by valgrind\n" * 100, "echo under valgrind")
    rude = ctx.connect(server)
    rude.send(b"x" * 65536)
    rude.reset()
    echo_round_trip(ctx, server, bytes(range(256)), "echo after a reset, under valgrind")
    code = ctx.stop_server(server, grace=10)
    if code != 0:
        raise GradeFailure("wrong exit code", "under valgrind, the server should exit with "
                           f"status 0 on SIGTERM, but it {describe_status(code)}")
    ctx.check_valgrind(server.process)


@graded(points=3, doc="01-tcp.md#checklist-for-lab-01", timeout=60, step=4)
def test_client_valgrind(ctx):
    """valgrind: the client has no memory errors or leaks"""
    peer = EchoPeer(ctx.transcript, "stream").start()
    ctx.peers.append(peer)
    data = ctx.rng().randbytes(MIB)
    client_repro(ctx, data)
    result = run_client(ctx, peer, data, timeout=10, valgrind=True)
    expect_exit(result, 0, "echo_client under valgrind")
    peer.expect_received(data, "echo_client under valgrind")
    expect_bytes(data, result.stdout_bytes(), "echo_client's stdout under valgrind")
    ctx.check_valgrind(result.process)



@graded(points=5, doc="01-tcp.md#checklist-for-lab-01", timeout=60, step=3)
def test_server_sanitizers(ctx):
    """sanitizers: the server runs clean under AddressSanitizer and UBSan"""
    # ASan sees what valgrind cannot, such as a write one byte past the
    # end of a buffer on the stack. Full buffers and a reset exercise the
    # edges; LeakSanitizer checks for leaks when the server exits.
    server = ctx.start_server(SERVER, ["-p", "0"], sanitize=True)
    data = ctx.rng().randbytes(4 * MIB)
    conn = ctx.connect(server, timeout=10)
    got = conn.send_while_receiving(data, len(data))
    expect_bytes(data, got, "echo of 4 MiB under the sanitizers", conn.eof)
    conn.shutdown_write()
    conn.expect_eof()
    rude = ctx.connect(server)
    rude.send(b"x" * 65536)
    rude.reset()
    echo_round_trip(ctx, server, b"after a reset\n", "echo after a reset, under the sanitizers")
    code = ctx.stop_server(server)
    ctx.check_sanitizer(server.process)
    if code != 0:
        raise GradeFailure("wrong exit code", "built with the sanitizers, the server should exit "
                           f"with status 0 on SIGTERM, but it {describe_status(code)}")
