"""Unit tests of grader/udp.py: the datagram socket, the UDP echo peer and
the lossy relay, all on loopback inside this process."""

import socket
import time

import pytest

from grader.failures import GradeFailure, TestTimeout
from grader.udp import (REPLY, REQUEST, DgramSocket, LossyRelay, UdpEchoPeer, random_fate)
from grader.transcripts import Transcript


@pytest.fixture
def stoppers():
    """Things with stop(), stopped after the test like ctx.peers are."""
    items = []
    yield items
    for item in items:
        item.stop()


def echo_peer(stoppers, mode="echo"):
    peer = UdpEchoPeer(Transcript(), mode).start()
    stoppers.append(peer)
    return peer


def dgram(stoppers, target, timeout=1.0):
    sock = DgramSocket(target.host, target.port, "socket", Transcript(), timeout)
    stoppers.append(sock)
    return sock


def relay_to(stoppers, peer, fate):
    relay = LossyRelay(Transcript(), (peer.host, peer.port), fate).start()
    stoppers.append(relay)
    return relay


def eventually(condition, timeout=2.0):
    """Whether condition() becomes true within timeout seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


def deliver_all(direction, index, data):
    return [0.0]


def test_echo_peer_keeps_boundaries_and_empty_datagrams(stoppers):
    sock = dgram(stoppers, echo_peer(stoppers))
    for data in (b"one", b"", b"three" * 1000):
        sock.send(data)
    for data in (b"one", b"", b"three" * 1000):
        sock.expect(data, "the echo")
    sock.expect_nothing(0.1, "three datagrams were sent")


def test_largest_ipv4_datagram_round_trips(stoppers):
    data = bytes(range(256)) * 255 + bytes(227)
    assert len(data) == 65507
    sock = dgram(stoppers, relay_to(stoppers, echo_peer(stoppers), deliver_all))
    sock.send(data)
    sock.expect(data, "the echo of 65507 bytes")


def test_silent_peer_times_out_with_counts(stoppers):
    peer = echo_peer(stoppers, "silent")
    sock = dgram(stoppers, peer, timeout=0.2)
    sock.send(b"anyone?")
    with pytest.raises(TestTimeout) as err:
        sock.recv("a reply")
    assert "sent 1 and received 0" in err.value.message
    assert eventually(lambda: peer.received == 1)


def test_short_reply_is_missing_bytes(stoppers):
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    stoppers.append(type("S", (), {"stop": server.close})())
    host, port = server.getsockname()
    sock = DgramSocket(host, port, "socket", Transcript(), 1.0)
    stoppers.append(sock)
    sock.send(b"0123456789")
    data, addr = server.recvfrom(100)
    server.sendto(data[:4], addr)
    with pytest.raises(GradeFailure) as err:
        sock.expect(b"0123456789", "the echo")
    assert err.value.kind == "missing bytes"


def test_refused_when_nothing_listens(stoppers):
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    port = holder.getsockname()[1]
    holder.close()
    sock = DgramSocket("127.0.0.1", port, "socket", Transcript(), 1.0)
    stoppers.append(sock)
    sock.send(b"hello?")
    with pytest.raises(GradeFailure) as err:
        sock.recv("a reply")
    assert err.value.kind == "connection refused"


def test_relay_forwards_both_ways_one_address_per_client(stoppers):
    peer = echo_peer(stoppers)
    relay = relay_to(stoppers, peer, deliver_all)
    first, second = dgram(stoppers, relay), dgram(stoppers, relay)
    first.send(b"from the first")
    second.send(b"from the second")
    first.expect(b"from the first", "the first client's echo")
    second.expect(b"from the second", "the second client's echo")
    assert relay.counts == {REQUEST: 2, REPLY: 2}
    # The relay counts a delivery just after its send: the reply may be
    # here first.
    assert eventually(lambda: relay.delivered == {REQUEST: 2, REPLY: 2})
    assert len(relay._backs) == 2


def test_relay_drops_and_duplicates_as_told(stoppers):
    peer = echo_peer(stoppers)

    def fate(direction, index, data):
        if direction == REQUEST and index == 1:
            return []                    # the first request is lost
        if direction == REPLY:
            return [0.0, 0.01]           # every reply comes twice
        return [0.0]

    relay = relay_to(stoppers, peer, fate)
    sock = dgram(stoppers, relay, timeout=0.5)
    sock.send(b"lost")
    sock.send(b"kept")
    sock.expect(b"kept", "the first copy")
    sock.expect(b"kept", "the second copy")
    sock.expect_nothing(0.1, "one request got through")
    assert peer.received == 1
    assert relay.dropped[REQUEST] == 1 and relay.duplicated[REPLY] == 1


def test_relay_reorders_by_holding_back(stoppers):
    def fate(direction, index, data):
        return [0.15] if direction == REQUEST and index == 1 else [0.0]

    relay = relay_to(stoppers, echo_peer(stoppers), fate)
    sock = dgram(stoppers, relay)
    sock.send(b"first")
    sock.send(b"second")
    sock.expect(b"second", "the datagram sent second, which overtook the first")
    sock.expect(b"first", "the held-back datagram")


def test_relay_queue_is_bounded(stoppers):
    peer = echo_peer(stoppers)
    relay = LossyRelay(Transcript(), (peer.host, peer.port), lambda d, i, data: [5.0],
                       max_queue=3).start()
    stoppers.append(relay)
    sock = dgram(stoppers, relay)
    for i in range(10):
        sock.send(b"x%d" % i)
    assert eventually(lambda: relay.counts[REQUEST] == 10)
    assert eventually(lambda: relay.overflowed == 7)
    assert len(relay._queue) == 3


def test_relay_stop_ends_its_thread_and_closes_sockets(stoppers):
    relay = relay_to(stoppers, echo_peer(stoppers), deliver_all)
    sock = dgram(stoppers, relay)
    sock.send(b"ping")
    sock.expect(b"ping", "the echo")
    relay.stop()
    assert not relay.running
    assert relay._front.fileno() == -1
    relay.stop()                         # a second stop() is harmless


def test_random_fate_is_fixed_by_the_seed():
    def fates(seed):
        fate = random_fate(seed, drop=0.3, duplicate=0.1, max_delay=0.01, reorder=0.1)
        return [fate(d, i, b"") for d in (REQUEST, REPLY) for i in range(1, 200)]

    assert fates(7) == fates(7)
    assert fates(7) != fates(8)
    outcomes = fates(7)
    dropped = sum(1 for f in outcomes if not f)
    doubled = sum(1 for f in outcomes if len(f) == 2)
    assert 0.2 < dropped / len(outcomes) < 0.4
    assert 0.03 < doubled / len(outcomes) < 0.15
    assert all(0 <= d < 0.07 for f in outcomes for d in f)


def test_random_relay_describes_its_seed(stoppers):
    peer = echo_peer(stoppers)
    relay = LossyRelay.random(Transcript(), (peer.host, peer.port), 42, drop=0.3, duplicate=0.1,
                              max_delay=0.01, reorder=0.1, hold=0.08)
    stoppers.append(relay)
    assert "seed 42" in relay.description and "drops 30%" in relay.description
    assert "seed 42" in relay.summary()
