"""UDP in the grader: a datagram socket for tests, a UDP echo peer, and a
lossy relay.

DgramSocket is a test's UDP socket connected to the program under test:
every send is one datagram, every receive returns exactly one datagram,
and both are recorded in the transcript. Waits have deadlines, and a wait
ends early when the watched server has exited.

UdpEchoPeer is a UDP echo server inside the grader (or a silent one that
never answers), for testing clients without the student's server.

LossyRelay sits between a client and a server and forwards datagrams both
ways, dropping, duplicating, delaying and reordering them on purpose. Each
datagram's fate is drawn from a random generator seeded with the relay's
seed, the direction and the datagram's number in that direction, so a
seed (printed in the report) always treats the n-th request and the n-th
reply the same way. Tests can also pass a fate function of their own.

All three have stop(); register them in ctx.peers (the helpers at the end
do) so that ctx.cleanup() stops them whatever happened.
"""

import heapq
import random
import select
import socket
import time

from .i18n import tr
from .context import shell_printf
from .failures import GradeFailure, TestTimeout
from .peers import ThreadedPeer
from .processes import describe_status
from .sockets import DEFAULT_TIMEOUT, expect_bytes
from .transcripts import preview

RECV_SIZE = 65536           # more than any UDP payload (65507 on IPv4, 65527 on IPv6)
POLL_INTERVAL = 0.1         # how often waits look at the watched process and at stop()
SOCKET_BUFFER = 1 << 20     # asked for, so that bursts are not lost by the kernel
MAX_KEPT = 1000             # datagrams a peer remembers (it counts all of them)
MAX_RELAY_CLIENTS = 64      # client addresses a relay serves
MAX_RELAY_QUEUE = 1024      # datagrams a relay holds for later delivery
REPRO_MAX_BYTES = 200       # longer datagrams are not turned into a printf
REQUEST, REPLY = "request", "reply"   # the relay's two directions


def _family(host):
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def _bracketed(host):
    return f"[{host}]" if ":" in host else host


class DgramSocket:
    """A test's UDP socket, connected to one server address.

    Connecting a UDP socket sends nothing; it fixes the destination of
    send() and makes ICMP "port unreachable" visible, as ECONNREFUSED on
    the next receive, when nothing listens there any more.
    """

    def __init__(self, host, port, channel, transcript, timeout=DEFAULT_TIMEOUT, watch=None):
        self.host, self.port = host, port
        self.channel = channel
        self.transcript = transcript
        self.timeout = timeout
        self.watch = watch          # a processes.Process whose death ends waits early
        self.sent = 0               # datagrams sent
        self.received = 0           # datagrams received
        self.first_sent = None      # the first datagram, for "try it by hand"
        self.sock = socket.socket(_family(host), socket.SOCK_DGRAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
        self.sock.connect((host, port))

    # -- sending ---------------------------------------------------------

    def send(self, data, note=""):
        """Sends data as one datagram."""
        try:
            self.sock.send(data)
        except ConnectionRefusedError as exc:
            self.transcript.add(self.channel, "send failed", note="ICMP port unreachable")
            raise self._refused("sending a datagram") from exc
        self.sent += 1
        if self.first_sent is None:
            self.first_sent = bytes(data)
        self.transcript.add(self.channel, "sent datagram", bytes(data), note)

    def repro_line(self, port):
        """A shell line that sends the first datagram to port by hand, or None."""
        if self.first_sent is None or len(self.first_sent) > REPRO_MAX_BYTES:
            return None
        return (f"{shell_printf(self.first_sent)} | nc -u -w1 {_bracketed(self.host)} {port} "
                "| od -c    # terminal 2")

    # -- receiving -------------------------------------------------------

    def recv(self, waiting_for, timeout=None):
        """Receives one datagram; raises a GradeFailure when none comes."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            self._check_watched(waiting_for)
            left = deadline - time.monotonic()
            if left <= 0:
                self.transcript.add(self.channel, "timed out", note=f"waiting for {waiting_for}")
                raise TestTimeout(tr("waited {value:g} s for {waiting_for}, but no datagram came "
                                     "(this socket had sent {sent} and received {received}); UDP "
                                     "never says why: the datagram or its reply was lost, or never "
                                     "sent",
                                     value=timeout or self.timeout, waiting_for=waiting_for,
                                     sent=self.sent, received=self.received))
            self.sock.settimeout(min(left, POLL_INTERVAL))
            try:
                data = self.sock.recv(RECV_SIZE)
            except socket.timeout:
                continue
            except ConnectionRefusedError as exc:
                self.transcript.add(self.channel, "receive failed", note="ICMP port unreachable")
                raise self._refused(f"waiting for {waiting_for}") from exc
            self.received += 1
            self.transcript.add(self.channel, "received datagram", data)
            return data

    def expect(self, expected, what, timeout=None):
        """Receives one datagram and checks it is exactly expected."""
        got = self.recv(what, timeout)
        if got != expected and len(got) < len(expected) and expected.startswith(got):
            raise GradeFailure("missing bytes", tr("{what}: a {len}-byte datagram came back for a {len2}-byte "
                                                   "one; the reply must be one datagram with every byte (a receive "
                                                   "buffer that is too small cuts a datagram short, and the rest is "
                                                   "lost; a reply sent in pieces arrives as several datagrams)",
                                                   what=what, len=len(got), len2=len(expected)))
        expect_bytes(expected, got, what)
        return got

    def expect_nothing(self, within, what):
        """Checks that no datagram arrives within the given seconds."""
        deadline = time.monotonic() + within
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(min(left, POLL_INTERVAL))
            try:
                data = self.sock.recv(RECV_SIZE)
            except (socket.timeout, ConnectionRefusedError):
                continue
            self.transcript.add(self.channel, "received datagram", data, "not expected")
            raise GradeFailure("extra bytes", tr("{what}, but one more datagram arrived: {preview}",
                                                 what=what, preview=preview(data)))

    def _check_watched(self, waiting_for):
        if self.watch is None:
            return
        code = self.watch.wait(0)
        if code is not None:
            kind = "crash" if code < 0 else "wrong exit code"
            raise GradeFailure(kind, tr("while the test was waiting for {waiting_for}, {name} "
                                        "{describe_status}",
                                        waiting_for=waiting_for, name=self.watch.name,
                                        describe_status=describe_status(code)))

    def _refused(self, doing):
        return GradeFailure("connection refused",
                            tr("ICMP port unreachable while {doing}: no socket at "
                               "{bracketed}:{port} would take a datagram from this client; "
                               "either the server has exited, or its socket is connect()ed to "
                               "another address (a connected UDP socket only takes datagrams "
                               "from its peer)",
                               doing=doing, bracketed=_bracketed(self.host), port=self.port))

    def stop(self):
        if self.sock.fileno() >= 0:
            self.sock.close()


class UdpEchoPeer(ThreadedPeer):
    """A UDP server in the grader: echoes each datagram ("echo"), or
    never answers ("silent"). It remembers when each datagram came."""

    thread_name = "udp-peer"

    def __init__(self, transcript, mode="echo", channel="test server"):
        assert mode in ("echo", "silent")
        self.mode = mode
        self.transcript = transcript
        self.channel = channel
        self.received = 0
        self.sent = 0
        self.datagrams = []         # (time, bytes) of the first MAX_KEPT datagrams
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(POLL_INTERVAL)
        super().__init__(sock)
        self.host, self.port = sock.getsockname()

    def summary(self):
        what = "echoed each one" if self.mode == "echo" else "answered none (on purpose)"
        return f"the test's UDP server received {self.received} datagrams and {what}"

    def settled_count(self, at_least, timeout=1.0):
        """The number of datagrams received, after waiting up to timeout
        seconds for it to reach at_least (the last ones may still be in
        the socket's queue when a client exits)."""
        deadline = time.monotonic() + timeout
        while self.received < at_least and time.monotonic() < deadline:
            time.sleep(0.01)
        return self.received

    def gaps(self):
        """Seconds between consecutive datagrams received."""
        times = [t for t, _ in self.datagrams]
        return [b - a for a, b in zip(times, times[1:])]

    def _serve(self):
        while not self._stop.is_set():
            try:
                data, addr = self._sock.recvfrom(RECV_SIZE)
            except socket.timeout:
                continue
            except OSError:
                if self._stop.is_set():
                    return
                continue
            self.received += 1
            if len(self.datagrams) < MAX_KEPT:
                self.datagrams.append((time.monotonic(), data))
            self.transcript.add(self.channel, "received datagram", data)
            if self.mode == "echo":
                try:
                    self._sock.sendto(data, addr)
                    self.sent += 1
                except OSError as exc:
                    self.transcript.add(self.channel, "send failed", note=str(exc))


def random_fate(seed, drop=0.0, duplicate=0.0, max_delay=0.0, reorder=0.0, hold=0.05):
    """A fate function: each datagram is dropped with probability drop;
    otherwise it is delivered after a delay of 0..max_delay seconds, held
    back hold seconds more with probability reorder (so later datagrams
    overtake it), and sent a second time with probability duplicate."""

    def fate(direction, index, data):
        rng = random.Random(f"{seed}/{direction}/{index}")
        # Always draw all four numbers: a fate never depends on another's.
        lost, late, twice, delay = rng.random(), rng.random(), rng.random(), rng.random()
        if lost < drop:
            return []
        first = delay * max_delay + (hold if late < reorder else 0.0)
        if twice < duplicate:
            return [first, first + rng.random() * max_delay + 0.001]
        return [first]

    return fate


class LossyRelay(ThreadedPeer):
    """Forwards datagrams between clients and one UDP server, and loses
    some on purpose.

    Clients send to (relay.host, relay.port); each client address gets a
    socket of its own towards the server, so the server sees one address
    per client, as it would without the relay. fate(direction, index,
    data) decides what happens to each datagram: a list of delays in
    seconds, one per copy to deliver ([] drops it). direction is REQUEST
    (client to server) or REPLY; index counts from 1 in each direction.
    """

    thread_name = "lossy-relay"

    def __init__(self, transcript, target, fate, description="", channel="relay",
                 max_queue=MAX_RELAY_QUEUE):
        self.transcript = transcript
        self.target = target                # (host, port) of the server
        self.fate = fate
        self.description = description
        self.channel = channel
        self.max_queue = max_queue
        self.counts = {REQUEST: 0, REPLY: 0}
        self.delivered = {REQUEST: 0, REPLY: 0}
        self.dropped = {REQUEST: 0, REPLY: 0}
        self.duplicated = {REQUEST: 0, REPLY: 0}
        self.overflowed = 0
        self.errors = 0
        self._queue = []                    # heap of (due, order, sock, addr, data, direction)
        self._order = 0
        # The front: the socket clients send to.
        self._front = socket.socket(_family(target[0]), socket.SOCK_DGRAM)
        self._front.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
        self._front.bind(("::1" if ":" in target[0] else "127.0.0.1", 0))
        self.host, self.port = self._front.getsockname()[:2]
        self._backs = {}                    # client address -> socket towards the server
        self._clients = {}                  # that socket -> client address
        super().__init__(self._front)

    @classmethod
    def random(cls, transcript, target, seed, drop=0.0, duplicate=0.0, max_delay=0.0,
               reorder=0.0, hold=0.05, **kwargs):
        """A relay whose fates come from random_fate() with this seed."""
        parts = [f"seed {seed}", f"drops {drop:.0%}", f"duplicates {duplicate:.0%}"]
        if max_delay:
            parts.append(f"delays 0-{max_delay * 1000:g} ms")
        if reorder:
            parts.append(f"holds back {reorder:.0%} by {hold * 1000:g} ms (reordering)")
        fate = random_fate(seed, drop, duplicate, max_delay, reorder, hold)
        return cls(transcript, target, fate, ", ".join(parts), **kwargs)

    def start(self):
        self.transcript.add(self.channel, "started",
                            note=f"{self.host}:{self.port} -> {self.target[0]}:{self.target[1]}"
                            + (f"; {self.description}" if self.description else ""))
        return super().start()

    def _close(self):
        for sock in [self._front, *self._backs.values()]:
            sock.close()

    @property
    def running(self):
        return self._thread.is_alive()

    def summary(self):
        def both(counts):
            return f"{counts[REQUEST]} requests, {counts[REPLY]} replies"
        text = (f"the lossy relay ({self.description or 'scripted'}) saw {both(self.counts)}; "
                f"dropped {both(self.dropped)}; duplicated {both(self.duplicated)}")
        if self.overflowed:
            text += f"; {self.overflowed} more lost because its queue was full"
        return text

    # -- the thread ------------------------------------------------------------

    def _serve(self):
        while not self._stop.is_set():
            now = time.monotonic()
            self._deliver_due(now)
            wait = POLL_INTERVAL
            if self._queue:
                wait = max(0.0, min(wait, self._queue[0][0] - now))
            try:
                readable, _, _ = select.select([self._front, *self._clients], [], [], wait)
            except (OSError, ValueError):
                return                      # a socket was closed under us: stopping
            for sock in readable:
                self._receive(sock)

    def _receive(self, sock):
        try:
            data, addr = sock.recvfrom(RECV_SIZE)
        except OSError:
            self.errors += 1                # e.g. ECONNREFUSED: the server went away
            return
        if sock is self._front:
            back = self._back_for(addr)
            if back is not None:
                self._route(REQUEST, data, back, None)
        else:
            self._route(REPLY, data, self._front, self._clients[sock])

    def _back_for(self, addr):
        back = self._backs.get(addr)
        if back is None:
            if len(self._backs) >= MAX_RELAY_CLIENTS:
                return None
            back = socket.socket(self._front.family, socket.SOCK_DGRAM)
            back.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_BUFFER)
            back.connect(self.target)
            self._backs[addr] = back
            self._clients[back] = addr
        return back

    def _route(self, direction, data, sock, addr):
        self.counts[direction] += 1
        index = self.counts[direction]
        delays = list(self.fate(direction, index, data))
        label = f"{direction} #{index}"
        if not delays:
            self.dropped[direction] += 1
            self.transcript.add(self.channel, "dropped", data, label)
            return
        if len(delays) > 1:
            self.duplicated[direction] += 1
        now = time.monotonic()
        for copy, delay in enumerate(delays):
            if len(self._queue) >= self.max_queue:
                self.overflowed += 1
                continue
            self._order += 1
            note = label + (f", copy {copy + 1}" if len(delays) > 1 else "") + \
                (f", {delay * 1000:.0f} ms late" if delay >= 0.001 else "")
            heapq.heappush(self._queue, (now + delay, self._order, sock, addr, data, direction,
                                         note))

    def _deliver_due(self, now):
        while self._queue and self._queue[0][0] <= now:
            _, _, sock, addr, data, direction, note = heapq.heappop(self._queue)
            try:
                if addr is None:
                    sock.send(data)
                else:
                    sock.sendto(data, addr)
            except OSError as exc:
                self.errors += 1
                self.transcript.add(self.channel, "could not forward", note=f"{note}: {exc}")
                continue
            self.delivered[direction] += 1
            self.transcript.add(self.channel, "forwarded", data, note)


# -- helpers for graded tests ----------------------------------------------------

def expect_reply_lines(lines, got, what):
    """A client's stdout (got) must hold the reply to each input line, in
    order, one per line; what names the run ("through the lossy relay").
    When the first wrong line is the reply to an earlier input line (a
    duplicate or late reply printed again), the failure says so, since a
    byte offset would not show it."""
    try:
        expect_bytes(b"".join(line + b"\n" for line in lines), got,
                     tr("{what}: the client's stdout (one reply per line, in order)", what=what))
    except GradeFailure as exc:
        stale = _earlier_reply(lines, got)
        if stale is None:
            raise
        raise GradeFailure(exc.kind, f"{what}: {stale}", exc.details) from None


def _earlier_reply(lines, got):
    """If the first wrong line of got is the reply to an earlier line of
    lines, a sentence that says so; else None."""
    for i, (want, printed) in enumerate(zip(lines, got.split(b"\n"))):
        if printed == want:
            continue
        earlier = [j for j in range(i) if lines[j] == printed]
        if not earlier:
            return None
        return tr("line {line} of the client's stdout is {printed}, the reply to line {earlier}, "
                  "where the reply to line {line} ({wanted}) belongs. A reply that arrives twice, "
                  "or after the client has moved on, must not be printed again: compare each "
                  "reply's sequence number with the one the request carried and drop the "
                  "datagrams that do not match",
                  line=i + 1, printed=preview(printed), earlier=earlier[-1] + 1,
                  wanted=preview(want))
    return None


def open_dgram(ctx, server, timeout=DEFAULT_TIMEOUT):
    """A DgramSocket to a started server, stopped when the test ends."""
    channel = f"socket {sum(isinstance(p, DgramSocket) for p in ctx.peers) + 1}"
    valgrind = server.process.valgrind_log is not None
    sock = DgramSocket(server.host, server.port, channel, ctx.transcript,
                       ctx.scaled(timeout, valgrind), watch=server.process)
    ctx.peers.append(sock)
    return sock


def start_udp_peer(ctx, mode="echo"):
    """A UdpEchoPeer, stopped when the test ends."""
    peer = UdpEchoPeer(ctx.transcript, mode).start()
    ctx.peers.append(peer)
    return peer


def start_relay(ctx, target, fate=None, seed=None, **random_options):
    """A LossyRelay in front of target (a peer or a Server), stopped when
    the test ends. With seed, fates are random (see LossyRelay.random);
    otherwise fate decides. Its description goes into the report."""
    address = (target.host, target.port)
    if seed is not None:
        relay = LossyRelay.random(ctx.transcript, address, seed, **random_options)
    else:
        relay = LossyRelay(ctx.transcript, address, fate, random_options.get("description", ""))
    ctx.peers.append(relay)
    relay.start()
    if seed is not None:
        ctx.note(tr("lossy relay: {description} (rerun with the same SEED to get the "
                    "same fates)",
                    description=relay.description))
    return relay
