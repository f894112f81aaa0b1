"""Lab 02 graded tests: the UDP echo server and the retransmitting client.

Server tests talk to udp_server with the test's own UDP sockets. Client
tests run udp_client against a UDP echo server inside the grader, most of
them through a relay that drops, duplicates, delays or reorders chosen
datagrams, so that what the client must cope with happens on cue. Run
them with "make grade" (T=NAME for one test, SEED=N to fix the random
ones); the points and the docs section for each behaviour are declared
beside each test.
"""

import signal
import socket
import struct
import time

import pytest

from grader import Faults, GradeFailure, describe_status, graded
from grader.context import shell_printf
from grader.peers import ThreadedPeer
from grader.udp import (REPLY, REQUEST, expect_reply_lines, open_dgram, start_relay,
                        start_udp_peer)

SERVER = "udp_server"
CLIENT = "udp_client"
UNITS = "test_udp_proto"
MAX_IPV4_PAYLOAD = 65507
DOC = "02-udp.md"
README = "labs/02-udp/README.md"
REPRO_MAX_BYTES = 300       # longer inputs are not typed into "try it by hand"
HEADER = struct.Struct("!I")  # the client's sequence number (udp_proto.h)


@pytest.fixture
def server(ctx):
    return ctx.start_server(SERVER, ["-p", "0"])


def server_repro(ctx, sock):
    line = sock.repro_line(5000)    # the port of the server line above
    if line:
        ctx.repro_lines.append(line)


def round_trip(ctx, server, data, what, sock=None):
    """Sends one datagram, checks that the same bytes come back as one."""
    sock = sock or open_dgram(ctx, server)
    sock.send(data)
    server_repro(ctx, sock)
    sock.expect(data, what)
    return sock


def expect_exit(result, expected, what):
    if result.timed_out:
        raise GradeFailure("timeout", f"{what}: the program did not finish and was killed "
                           "(see the note below)")
    if result.returncode != expected:
        raise GradeFailure("wrong exit code", f"{what}: expected exit status {expected}, "
                           f"but the program {describe_status(result.returncode)}")


# -- step 2: the header and helpers (unit tests) --------------------------------

@graded(points=5, doc="labs/02-udp/README.md#step-2--the-request-header", step=2)
def test_unit_encode(ctx):
    """unit: udp_proto_encode writes the sequence number big-endian, then the body"""
    ctx.run_unit_tests(UNITS, "encode")


@graded(points=5, doc="labs/02-udp/README.md#step-2--the-request-header", step=2)
def test_unit_decode(ctx):
    """unit: udp_proto_decode reads the header back and rejects short datagrams"""
    ctx.run_unit_tests(UNITS, "decode")


@graded(points=3, doc="labs/02-udp/README.md#step-2--the-request-header", step=2)
def test_unit_parse_count(ctx):
    """unit: udp_parse_count accepts whole numbers in range and nothing else"""
    ctx.run_unit_tests(UNITS, "parse_count")


# -- step 1: the server -------------------------------------------------------------

@graded(points=4, doc="02-udp.md#server-flow", step=1)
def test_announce_and_echo(ctx):
    """server: prints 'listening on 127.0.0.1:PORT' and echoes a datagram there"""
    # A port the test chooses (start_server's default; a port in the wrong
    # byte order shows there), then the one the kernel chooses (-p 0).
    round_trip(ctx, ctx.start_server(SERVER, ["-p", "0"]), b"fixed port\n",
               "echo on the port the test chose")
    server = ctx.start_server(SERVER, ["-p", "0"], port="zero")
    if not server.announce_line.startswith("listening on 127.0.0.1:"):
        raise GradeFailure("wrong output", "the first line on stdout must be "
                           f"'listening on 127.0.0.1:PORT'; it was '{server.announce_line}'")
    if server.port == 0:
        raise GradeFailure("wrong output", "the announced port is 0: print the port the kernel "
                           "chose (net_announce() reads it back with getsockname())")
    round_trip(ctx, server, b"hello, udp\n", "echo of a line of text")


@graded(points=5, doc="02-udp.md#empty-datagrams", step=1)
def test_empty_datagram(ctx, server):
    """server: answers an empty datagram with an empty datagram"""
    sock = round_trip(ctx, server, b"", "reply to an empty (0-byte) datagram")
    round_trip(ctx, server, b"after the empty one", "echo of the next datagram", sock)


@graded(points=5, doc="02-udp.md#maximum-sizes", step=1)
def test_sizes_up_to_65507(ctx, server):
    """server: echoes datagrams of every size up to 65507 bytes whole"""
    rng = ctx.rng()
    sock = open_dgram(ctx, server)
    # Just past the buffer sizes people pick, and the largest IPv4 payload.
    for size in (1, 1025, 4097, 8193, 16385, 32769, 65000, MAX_IPV4_PAYLOAD):
        data = rng.randbytes(size)
        round_trip(ctx, server, data, f"echo of a {size}-byte datagram of random bytes "
                   f"(seed {ctx.seed})", sock)


@graded(points=4, doc="02-udp.md#sendto-and-recvfrom", step=1)
def test_binary_bytes(ctx, server):
    """server: echoes NUL bytes and all 256 byte values unchanged"""
    sock = open_dgram(ctx, server)
    round_trip(ctx, server, b"\x00starts with NUL", "echo of a datagram that starts with NUL",
               sock)
    round_trip(ctx, server, bytes(range(256)), "echo of all 256 byte values", sock)
    round_trip(ctx, server, "你好，世界".encode("utf-8"), "echo of UTF-8 text", sock)


@graded(points=5, doc="02-udp.md#message-boundaries", step=1)
def test_boundaries_kept(ctx, server):
    """server: three datagrams sent back to back come back as three"""
    sock = open_dgram(ctx, server)
    messages = [b"one", b"two two", b"three three three"]
    for data in messages:
        sock.send(data, note="before reading any reply")
    server_repro(ctx, sock)
    for i, data in enumerate(messages, 1):
        sock.expect(data, f"reply {i} of 3, one datagram per datagram sent")
    sock.expect_nothing(0.2, "three datagrams were sent and three replies came")


@graded(points=6, doc="02-udp.md#many-clients-one-socket", step=1)
def test_two_clients_interleaved(ctx, server):
    """server: two clients at once each get their own replies"""
    first, second = open_dgram(ctx, server), open_dgram(ctx, server)
    why = "(replies go to the address each datagram came from)"
    # Turn by turn: each datagram arrives after the other client's reply.
    for i in range(1, 3):
        round_trip(ctx, server, b"first client, turn %d" % i,
                   f"reply to the first client's turn {i} {why}", first)
        round_trip(ctx, server, b"second client, turn %d" % i,
                   f"reply to the second client's turn {i} {why}", second)
    # All at once: the datagrams of both wait in the server's queue together.
    for i in range(1, 4):
        first.send(b"first client, message %d" % i)
        second.send(b"second client, message %d" % i)
    for i in range(1, 4):
        first.expect(b"first client, message %d" % i, f"reply {i} to the first client {why}")
        second.expect(b"second client, message %d" % i, f"reply {i} to the second client {why}")


@graded(points=4, doc="02-udp.md#server-flow", step=1)
def test_survives_eintr(ctx):
    """server: echoes every datagram when its recvfrom() and sendto() are interrupted (EINTR)"""
    # A datagram is never cut short, so only EINTR is injected: recvfrom()
    # and sendto() then fail as if a signal handler had run. Nothing was
    # received or sent by such a call: the datagram waits to be read, and
    # the reply must be sent again.
    server = ctx.start_server(SERVER, ["-p", "0"], faults=Faults(rate=30, kinds="i"))
    rng = ctx.rng()
    socks = [open_dgram(ctx, server) for _ in range(2)]
    for i in range(40):
        sock = socks[i % 2]
        data = rng.randbytes(rng.choice([0, 1, 100, 1400, 9000]))
        round_trip(ctx, server, data, f"echo {i + 1} of 40 ({len(data)} bytes, seed "
                   f"{ctx.seed}) with EINTR injected into the server's calls", sock)


@graded(points=5, doc="02-udp.md#icmp-errors-and-a-vanished-client", step=1)
def test_survives_vanished_clients(ctx, server):
    """server: survives clients that vanish before their reply arrives"""
    for i in range(5):
        # A client that is answered once, then sends again and is gone
        # before the second reply: that reply bounces (ICMP port unreachable).
        gone = open_dgram(ctx, server)
        round_trip(ctx, server, b"hello from client %d" % i, f"reply to vanishing client {i}",
                   gone)
        gone.send(b"goodbye from client %d" % i, note="and closed at once")
        gone.stop()
    for i in range(20):
        burst = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        burst.sendto(b"reply to nobody %d" % i, (server.host, server.port))
        burst.close()
    ctx.transcript.add("test", "20 more sockets sent a datagram each and closed at once")
    sock = open_dgram(ctx, server)
    for i in range(3):
        round_trip(ctx, server, b"still there? %d" % i,
                   "echo to a new client after 25 clients vanished", sock)
    ctx.expect_alive(server, "after clients vanished before their replies")


@graded(points=4, doc="02-udp.md#exiting-on-a-signal-without-a-race", step=1)
def test_exits_cleanly_on_signals(ctx):
    """server: exits with status 0 on SIGTERM and on SIGINT"""
    for signo in (signal.SIGTERM, signal.SIGINT):
        server = ctx.start_server(SERVER, ["-p", "0"])
        round_trip(ctx, server, b"about to stop", "echo before the signal")
        code = ctx.stop_server(server, signo)
        name = signal.Signals(signo).name
        if code is None:
            raise GradeFailure("timeout", f"the server was still running 3 s after {name}; "
                               "install the handler without SA_RESTART (net_install_stop_handlers "
                               "does) and wait with ppoll so the wait ends with EINTR")
        if code != 0:
            raise GradeFailure("wrong exit code", f"after {name} the server should exit with "
                               f"status 0, but it {describe_status(code)}")


@graded(points=3, doc="02-udp.md#so_reuseaddr-on-a-udp-socket", step=1)
def test_busy_port_refused(ctx):
    """server: a second server on a port in use exits 1 with 'Address already in use'"""
    first = ctx.start_server(SERVER, ["-p", "0"])
    port = str(first.port)
    program = ctx.display_path(SERVER)
    ctx.set_repro([f"{program} -p 5000    # terminal 1",
                   f"{program} -p 5000; echo \"exit $?\"    # terminal 2: must fail at once"])
    # The first server must hold the port, serving, before the second tries.
    sock = round_trip(ctx, first, b"the first server's", "echo from the first server")
    result = ctx.run(SERVER, ["-p", port], timeout=3)
    if result.timed_out:
        raise GradeFailure("timeout", f"a second server on port {port}, where the first one "
                           "runs, should fail to bind and exit 1 at once, but it was still "
                           "running after 3 s: its bind() succeeded. Does the socket set "
                           "SO_REUSEADDR? On a UDP socket that lets a second server share the "
                           "port and take the first one's datagrams")
    expect_exit(result, 1, f"a second server on port {port}, already in use")
    if "address already in use" not in result.stderr_text().lower():
        raise GradeFailure("wrong output", "the second server should say why it exits, e.g. "
                           f"'udp_server: bind 127.0.0.1 port {port}: Address already in use'; "
                           f"its stderr was {result.stderr_text()[:200]!r}")
    round_trip(ctx, first, b"still the first server's", "echo from the first server after "
               "the second one gave up", sock)


@graded(points=3, doc="00-network-basics.md#ip-addresses", step=1)
def test_ipv6(ctx):
    """server: works on IPv6 with -a ::1"""
    ctx.require_ipv6()
    server = ctx.start_server(SERVER, ["-a", "::1", "-p", "0"])
    if not server.announce_line.startswith("listening on [::1]:"):
        raise GradeFailure("wrong output", "with -a ::1 the line must read "
                           f"'listening on [::1]:PORT'; it was '{server.announce_line}'")
    round_trip(ctx, server, b"over IPv6", "echo over IPv6")


@graded(points=5, doc="README.md#conventions-every-lab-follows", step=1)
def test_bad_arguments(ctx):
    """both: bad arguments print a usage line and exit with status 2"""
    host = ["-h", "127.0.0.1"]
    cases = [
        (SERVER, []), (SERVER, ["-p", "http"]), (SERVER, ["-p", "65536"]),
        (SERVER, ["-p", "-1"]), (SERVER, ["-p", "0", "-x"]), (SERVER, ["-p", "0", "extra"]),
        (SERVER, ["-a", "not-an-address", "-p", "0"]),
        (CLIENT, []), (CLIENT, host), (CLIENT, ["-p", "5000"]),
        (CLIENT, [*host, "-p", "99999"]), (CLIENT, [*host, "-p", "5000", "-t", "0"]),
        (CLIENT, [*host, "-p", "5000", "-t", "fast"]), (CLIENT, [*host, "-p", "5000", "-t", "-5"]),
        (CLIENT, [*host, "-p", "5000", "-r", "-1"]), (CLIENT, [*host, "-p", "5000", "-r", "x"]),
        (CLIENT, [*host, "-p", "5000", "extra"]),
    ]
    # First, a valid command line must be accepted: a program that always
    # exits 2 would otherwise pass this test.
    ctx.start_server(SERVER, ["-p", "0"])
    for program, args in cases:
        result = ctx.run(program, args, stdin_data=b"", timeout=2)
        shown = " ".join([program, *args])
        expect_exit(result, 2, f"'{shown}'")
        if "usage" not in result.stderr_text().lower():
            raise GradeFailure("wrong output", f"'{shown}' exited 2 but printed no usage line "
                               "on stderr (expected a line starting with 'usage:')")


# -- steps 3 to 5: the client -----------------------------------------------------

def lines_of(lines):
    return b"".join(line + b"\n" for line in lines)


def client_repro(ctx, stdin, extra_args=()):
    if len(stdin) <= REPRO_MAX_BYTES:
        make_input = f"{shell_printf(stdin)} > input    # terminal 2: the test's input"
    else:
        make_input = (f"(the test's input is {len(stdin)} bytes; SEED={ctx.seed} makes the same "
                      "again) > input    # terminal 2")
    ctx.set_repro([
        f"{ctx.display_path(SERVER)} -p 5000    # terminal 1 (your own server will do)",
        make_input,
        " ".join([ctx.display_path(CLIENT), "-h 127.0.0.1 -p 5000", *extra_args,
                  "< input > output; echo \"exit $?\""]),
        "cat output    # the replies, one per line",
        "(a lossy network is harder to make by hand: `tc qdisc add dev lo root netem loss 30%` "
        "needs root; the grader's relay does the same without it)",
    ])


def run_client(ctx, target, stdin, extra_args=(), timeout=10, valgrind=False, faults=None):
    """Runs udp_client against target (a peer or a relay); stops it early
    if it stalls (no datagram moves for a while)."""
    def progress():
        return getattr(target, "counts", {}).get(REQUEST, 0) + getattr(target, "received", 0) \
            + getattr(target, "stale_sent", 0)

    client_repro(ctx, stdin, extra_args)
    args = ["-h", target.host, "-p", str(target.port), *extra_args]
    return ctx.run(CLIENT, args, stdin_data=stdin, timeout=timeout, valgrind=valgrind,
                   progress=progress, stall_after=3.0, faults=faults)


def check_replies(ctx, result, lines, what, notes=(), stdin_ended_with_newline=True):
    for note in notes:
        ctx.note(note)
    expect_exit(result, 0, what)
    expected = lines_of(lines)
    got = result.stdout_bytes()
    if got != expected:
        got_lines = got.split(b"\n")
        extra = len(got_lines) - 1 - len(lines)
        if extra > 0:
            ctx.note(f"the client printed {extra} line(s) more than it was given: a reply "
                     "printed twice, or a stale reply taken for the current one")
        if lines and got == lines_of(lines[:-1]) and not stdin_ended_with_newline:
            ctx.note("every line came back but the last one, which had no newline after it "
                     "in the input: it is a line all the same (getline() returns it)")
    expect_reply_lines(lines, got, what)


def check_requests(peer, lines):
    """Each request datagram must carry one line (after the client's header)."""
    for i, (line, (_, data)) in enumerate(zip(lines, peer.datagrams), 1):
        if not data.endswith(line):
            raise GradeFailure("wrong bytes", f"request {i} should be one datagram holding line "
                               f"{i} ({len(line)} bytes, without its newline) after your header; "
                               f"the test's server received {len(data)} bytes: "
                               f"{data[:60]!r}{'...' if len(data) > 60 else ''}")


@graded(points=6, doc="labs/02-udp/README.md#step-3--the-client-one-request-one-reply", step=3)
def test_client_replies_in_order(ctx):
    """client: one datagram per line, the last even without a newline; each reply on a line"""
    peer = start_udp_peer(ctx)
    lines = [b"first line", b"", "你好，世界".encode("utf-8"), b"tab\tand  spaces ",
             b"last line, no newline after it"]
    # The input's last line has no newline: it is a line, and its reply is
    # printed with one, like the others.
    result = run_client(ctx, peer, lines_of(lines)[:-1])
    check_replies(ctx, result, lines, "udp_client with five lines (one empty, the last without "
                  "a newline) on stdin", [peer.summary()], stdin_ended_with_newline=False)
    received = peer.settled_count(len(lines))
    if received != len(lines):
        raise GradeFailure("wrong output", f"{len(lines)} lines should make {len(lines)} "
                           f"request datagrams when nothing is lost, but the test's server "
                           f"received {received}")
    check_requests(peer, lines)


@graded(points=3, doc="02-udp.md#maximum-sizes", step=3)
def test_client_binary_and_long_lines(ctx):
    """client: handles NUL bytes in a line and a 60000-byte line"""
    peer = start_udp_peer(ctx)
    rng = ctx.rng()
    long_line = bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(60000))
    lines = [b"a \x00 NUL byte inside", long_line, b"short again"]
    result = run_client(ctx, peer, lines_of(lines))
    check_replies(ctx, result, lines, "udp_client with a NUL byte in a line and a "
                  f"60000-byte line (seed {ctx.seed})", [peer.summary()])
    check_requests(peer, lines)


@graded(points=4, doc="02-udp.md#timeouts-with-poll-or-so_rcvtimeo", step=3)
def test_client_survives_eintr(ctx):
    """client: every reply once and in order when its send() and recv() are interrupted (EINTR)"""
    peer = start_udp_peer(ctx)
    rng = ctx.rng()
    lines = [b"line %02d: " % i + bytes(rng.choice(b"abcdefghij klmnop") for _ in
                                        range(rng.randint(0, 60)))
             for i in range(1, 31)]
    result = run_client(ctx, peer, lines_of(lines), faults=Faults(rate=30, kinds="i"))
    check_replies(ctx, result, lines, f"udp_client with 30 lines (seed {ctx.seed}) and EINTR "
                  "injected into its calls", [peer.summary()])


@graded(points=7, doc="02-udp.md#retransmission", step=4)
def test_client_retransmits(ctx):
    """client: resends a request when the request or its reply is lost"""
    peer = start_udp_peer(ctx)

    def fate(direction, index, data):
        if (direction, index) in ((REQUEST, 1), (REPLY, 2)):
            return []                # lose line 1's request, then line 2's reply
        return [0.0]

    relay = start_relay(ctx, peer, fate, description="drops request #1 and reply #2")
    lines = [b"line one", b"line two", b"line three"]
    result = run_client(ctx, relay, lines_of(lines), ["-t", "200"])
    check_replies(ctx, result, lines, "udp_client -t 200 when the first request and the second "
                  "reply are lost", [relay.summary(), peer.summary()])
    if relay.counts[REQUEST] < 5:
        raise GradeFailure("wrong output", "with two datagrams lost, three lines need at least "
                           f"5 requests, but the client sent {relay.counts[REQUEST]}")


@graded(points=6, doc="02-udp.md#why-sequence-numbers-are-needed", step=5)
def test_client_ignores_duplicate_replies(ctx):
    """client: prints a reply once even when it arrives twice"""
    peer = start_udp_peer(ctx)

    def fate(direction, index, data):
        # A reply's second copy comes 10 ms after the first, while the
        # next request is still on its way (30 ms): a client that takes
        # any datagram as the answer prints the copy as the next reply.
        return [0.0, 0.01] if direction == REPLY else [0.03]

    relay = start_relay(ctx, peer, fate, description="every reply twice; requests 30 ms late")
    lines = [b"alpha", b"bravo", b"charlie", b"delta"]
    result = run_client(ctx, relay, lines_of(lines))
    check_replies(ctx, result, lines, "udp_client when every reply arrives twice",
                  [relay.summary(), peer.summary()])


@graded(points=6, doc="02-udp.md#why-sequence-numbers-are-needed", step=5)
def test_client_ignores_late_replies(ctx):
    """client: never prints a late reply to an earlier line as the current one"""
    peer = start_udp_peer(ctx)

    def fate(direction, index, data):
        if (direction, index) == (REPLY, 1):
            return [0.3]             # line 1's first reply, after the resend's reply
        if (direction, index) == (REQUEST, 3):
            return [0.5]             # line 2's first request, slow too
        return [0.0]

    relay = start_relay(ctx, peer, fate, description="reply #1 300 ms late, request #3 500 ms "
                        "late")
    lines = [b"first", b"second", b"third"]
    result = run_client(ctx, relay, lines_of(lines), ["-t", "200"])
    check_replies(ctx, result, lines, "udp_client -t 200 when line 1's first reply arrives "
                  "while it waits for line 2's", [relay.summary(), peer.summary()])


STALE_EVERY = 0.04          # seconds between two stale replies
STALE_FOR = 3.0             # how long the stale replies go on, at most


class StaleReplyPeer(ThreadedPeer):
    """A UDP echo server in the test that answers the first copy of
    request 2 with nothing but stale replies: a copy of reply 1 every
    STALE_EVERY seconds, until request 2 comes again (or STALE_FOR
    seconds have passed). Every other request is echoed at once. It
    records when each request and each copy of it arrived."""

    thread_name = "stale-peer"

    def __init__(self, transcript):
        self.transcript = transcript
        self.channel = "test server"
        self.received = 0
        self.stale_sent = 0
        self.arrivals = {}          # sequence number -> [time of each copy]
        self._replies = {}          # sequence number -> reply
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(STALE_EVERY / 4)
        super().__init__(sock)
        self.host, self.port = sock.getsockname()

    def summary(self):
        return (f"the test's UDP server received {self.received} datagrams and sent "
                f"{self.stale_sent} stale copies of reply 1 while line 2 waited")

    def _serve(self):
        deadline = time.monotonic() + 30
        stale = None                # (client address, when the next copy is due, until)
        while not self._stop.is_set() and time.monotonic() < deadline:
            now = time.monotonic()
            if stale and (now >= stale[2] or len(self.arrivals.get(2, [])) > 1):
                stale = None
            if stale and now >= stale[1]:
                self._send(self._replies[1], stale[0], "a stale copy of reply 1")
                self.stale_sent += 1
                stale = (stale[0], stale[1] + STALE_EVERY, stale[2])
            try:
                data, addr = self._sock.recvfrom(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            self.received += 1
            self.transcript.add(self.channel, "received datagram", data)
            seq = HEADER.unpack(data[:HEADER.size])[0] if len(data) >= HEADER.size else None
            copies = self.arrivals.setdefault(seq, [])
            copies.append(time.monotonic())
            self._replies.setdefault(seq, data)
            if seq == 2 and len(copies) == 1 and 1 in self._replies:
                stale = (addr, time.monotonic(), time.monotonic() + STALE_FOR)
                self.transcript.add(self.channel, "does not answer request 2",
                                    note=f"sends reply 1 again every {STALE_EVERY * 1000:g} ms")
                continue
            self._send(data, addr, "")

    def _send(self, data, addr, note):
        try:
            self._sock.sendto(data, addr)
            self.transcript.add(self.channel, "sent datagram", data, note)
        except OSError as exc:
            self.transcript.add(self.channel, "send failed", note=str(exc))


@graded(points=5, doc="02-udp.md#timeouts-with-poll-or-so_rcvtimeo", step=5)
def test_client_stale_replies_do_not_delay_resend(ctx):
    """client: resends on time while stale replies keep arriving faster than its timeout"""
    peer = StaleReplyPeer(ctx.transcript).start()
    ctx.peers.append(peer)
    lines = [b"first", b"second", b"third"]
    timeout_ms = 200
    result = run_client(ctx, peer, lines_of(lines), ["-t", str(timeout_ms), "-r", "3"])
    ctx.repro_lines[0] = ("(no ready-made server sends stale replies on cue: the transcript above "
                          "shows what the test's server did)")
    ctx.note(peer.summary())
    check_replies(ctx, result, lines, f"udp_client -t {timeout_ms} -r 3 while stale copies of "
                  "reply 1 arrive as it waits for reply 2")
    copies = peer.arrivals.get(2, [])
    if not copies:
        # The scenario never began: no request numbered 2 reached the
        # server, so nothing can be said of the client's timeout.
        numbers = ", ".join(str(n) for n in sorted(peer.arrivals)[:5]) or "none"
        raise GradeFailure("wrong output", "the test's server never received a request "
                           f"numbered 2 (the numbers it read: {numbers}): the sequence number "
                           "travels in network byte order, its most significant byte first")
    waited = copies[1] - copies[0] if len(copies) > 1 else None
    # The reply to the first copy never comes: the resend is due 200 ms
    # after it, however many other datagrams arrive meanwhile.
    if waited is None or waited > 5 * timeout_ms / 1000:
        shown = f"{waited:.1f} s" if waited is not None else "for ever"
        raise GradeFailure("wrong output", f"with -t {timeout_ms}, line 2 should be sent again "
                           f"{timeout_ms} ms after its first send, but the client waited {shown}: "
                           f"stale replies to line 1 arrived every {STALE_EVERY * 1000:g} ms "
                           "meanwhile. Does each datagram that is not the reply start the "
                           "timeout again? Keep one deadline per send and poll() for what is "
                           "left of it")


@graded(points=6, doc="02-udp.md#retransmission", step=4)
def test_client_gives_up(ctx):
    """client: sends 1 + RETRIES times, then says so on stderr and exits 1"""
    peer = start_udp_peer(ctx, "silent")
    result = run_client(ctx, peer, b"anybody there?\nsecond line\n", ["-t", "100", "-r", "2"])
    ctx.note(peer.summary())
    expect_exit(result, 1, "udp_client -t 100 -r 2 against a server that never answers")
    received = peer.settled_count(3)
    if received != 3:
        raise GradeFailure("wrong output", "with -r 2 the client should send the first line 3 "
                           "times (once, then 2 retries) and then give up, but the test's "
                           f"server received {received} datagrams")
    if result.stdout_bytes():
        raise GradeFailure("wrong output", "no reply came, so nothing should be printed on "
                           f"stdout, but the client printed {result.stdout_bytes()[:80]!r}")
    if not result.stderr_text().strip():
        raise GradeFailure("wrong output", "the client gave up without a word: print on stderr "
                           "why it exits (no reply from HOST port PORT after N tries)")


@graded(points=3, doc="labs/02-udp/README.md#step-4--timeouts-and-retransmission", step=4)
def test_client_defaults(ctx):
    """client: waits 500 ms per try and retries 5 times by default"""
    peer = start_udp_peer(ctx, "silent")
    result = run_client(ctx, peer, b"one\n", ["-t", "30"])
    expect_exit(result, 1, "udp_client -t 30 (default retries) against a silent server")
    received = peer.settled_count(6)
    if received != 6:
        raise GradeFailure("wrong output", "by default the client should retry 5 times (6 "
                           f"sends), but the test's server received {received} datagrams")
    peer = start_udp_peer(ctx, "silent")
    result = run_client(ctx, peer, b"one\n", ["-r", "1"])
    expect_exit(result, 1, "udp_client -r 1 (default timeout) against a silent server")
    received = peer.settled_count(2)
    gaps = peer.gaps()
    if received != 2 or not 0.35 <= gaps[0] <= 1.5:
        shown = f"{gaps[0] * 1000:.0f} ms apart" if gaps else "no resend"
        raise GradeFailure("wrong output", "with -r 1 and the default timeout the client should "
                           "send twice, about 500 ms apart; the test's server received "
                           f"{received} datagram(s), {shown}")


@graded(points=10, doc="02-udp.md#testing-with-a-lossy-relay", timeout=40, step=5)
def test_client_lossy_relay(ctx):
    """client: every reply once and in order through 30% loss, duplicates and reordering"""
    peer = start_udp_peer(ctx)
    relay = start_relay(ctx, peer, seed=ctx.seed, drop=0.3, duplicate=0.1, max_delay=0.01,
                        reorder=0.1, hold=0.08)
    rng = ctx.rng()
    lines = [b"line %02d: " % i + bytes(rng.choice(b"abcdefghij klmnop") for _ in
                                        range(rng.randint(0, 40)))
             for i in range(1, 21)]
    result = run_client(ctx, relay, lines_of(lines), ["-t", "60", "-r", "25"], timeout=30)
    check_replies(ctx, result, lines, "udp_client -t 60 -r 25 through the lossy relay",
                  [relay.summary(), peer.summary()])


# -- valgrind -------------------------------------------------------------------------

@graded(points=4, doc="02-udp.md#checklist-for-lab-02", timeout=60, step=1)
def test_server_valgrind(ctx):
    """valgrind: the server has no memory errors or leaks"""
    server = ctx.start_server(SERVER, ["-p", "0"], valgrind=True)
    sock = open_dgram(ctx, server)
    round_trip(ctx, server, b"checked by valgrind", "echo under valgrind", sock)
    round_trip(ctx, server, b"", "reply to an empty datagram under valgrind", sock)
    round_trip(ctx, server, ctx.rng().randbytes(MAX_IPV4_PAYLOAD),
               "echo of 65507 bytes under valgrind", sock)
    code = ctx.stop_server(server, grace=10)
    if code != 0:
        raise GradeFailure("wrong exit code", "under valgrind, the server should exit with "
                           f"status 0 on SIGTERM, but it {describe_status(code)}")
    ctx.check_valgrind(server.process)


@graded(points=4, doc="02-udp.md#checklist-for-lab-02", timeout=60, step=4)
def test_client_valgrind(ctx):
    """valgrind: the client has no memory errors or leaks"""
    peer = start_udp_peer(ctx)

    def fate(direction, index, data):
        return [] if (direction, index) == (REQUEST, 2) else [0.0]

    relay = start_relay(ctx, peer, fate, description="drops request #2")
    lines = [b"checked", b"by", b"valgrind"]
    result = run_client(ctx, relay, lines_of(lines), ["-t", "300"], timeout=30, valgrind=True)
    check_replies(ctx, result, lines, "udp_client under valgrind", [relay.summary()])
    ctx.check_valgrind(result.process)


@graded(points=5, doc="02-udp.md#checklist-for-lab-02", timeout=60, step=1)
def test_server_sanitizers(ctx):
    """sanitizers: the server runs clean under AddressSanitizer and UBSan"""
    # ASan sees what valgrind cannot, such as a write one byte past the
    # end of a buffer on the stack. The edges: empty datagrams, datagrams
    # of exactly the largest IPv4 payload, and several clients at once.
    server = ctx.start_server(SERVER, ["-p", "0"], sanitize=True)
    rng = ctx.rng()
    socks = [open_dgram(ctx, server) for _ in range(3)]
    for size in (0, MAX_IPV4_PAYLOAD, 1, MAX_IPV4_PAYLOAD - 1, 0, MAX_IPV4_PAYLOAD):
        # Small datagrams of all clients wait in the server's queue
        # together; big ones go turn by turn, as several 64 KiB datagrams
        # may not fit in a default receive buffer.
        turn_by_turn = size > 30000
        sent = []
        for i, sock in enumerate(socks, 1):
            data = rng.randbytes(size)
            sock.send(data)
            sent.append(data)
            if turn_by_turn:
                sock.expect(data, f"the {size}-byte echo to client {i} of 3 under the "
                            f"sanitizers (seed {ctx.seed})")
        for i, (sock, data) in enumerate(zip(socks, sent), 1):
            if not turn_by_turn:
                sock.expect(data, f"the {size}-byte echo to client {i} of 3 under the "
                            f"sanitizers (seed {ctx.seed})")
    gone = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    gone.sendto(b"reply to nobody", (server.host, server.port))
    gone.close()
    round_trip(ctx, server, b"still there", "echo after a client vanished, under the "
               "sanitizers", socks[0])
    code = ctx.stop_server(server)
    ctx.check_sanitizer(server.process)
    if code != 0:
        raise GradeFailure("wrong exit code", "built with the sanitizers, the server should exit "
                           f"with status 0 on SIGTERM, but it {describe_status(code)}")
