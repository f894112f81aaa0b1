"""Lab 02 hidden tests: variations of the public ones with other sizes,
seeds and edge cases, so that a program tuned to the public tests' exact
inputs does not pass. Instructors only: handouts leave this folder out.
"""

from grader import GradeFailure, describe_status, expect_bytes, graded
from grader.udp import REQUEST, expect_reply_lines, open_dgram, start_relay, start_udp_peer


def client_args(target, *extra):
    return ["-h", target.host, "-p", str(target.port), *extra]


@graded(points=5, doc="02-udp.md#many-clients-one-socket", step=1)
def test_hidden_random_sizes_four_clients(ctx):
    """server (hidden): four clients, 60 datagrams of random sizes, interleaved"""
    server = ctx.start_server("udp_server", ["-p", "0"])
    rng = ctx.rng()
    socks = [open_dgram(ctx, server) for _ in range(4)]
    for round_number in range(15):
        sent = []
        for sock in socks:
            # At most 4 x 30000 bytes wait at once: a default receive
            # buffer (about 208 KiB) holds that, but not 4 x 65507.
            size = rng.choice([0, 1, rng.randint(2, 2000), rng.randint(2000, 30000)])
            data = rng.randbytes(size)
            sock.send(data)
            sent.append(data)
        for i, (sock, data) in enumerate(zip(socks, sent)):
            sock.expect(data, f"round {round_number}: the {len(data)}-byte echo to client {i} "
                        f"(seed {ctx.seed})")


@graded(points=5, doc="labs/02-udp/README.md#step-4--timeouts-and-retransmission", step=4)
def test_hidden_client_edges(ctx):
    """client (hidden): -r 0 sends once; a last line without newline; empty input"""
    silent = start_udp_peer(ctx, "silent")
    result = ctx.run("udp_client", client_args(silent, "-t", "50", "-r", "0"),
                     stdin_data=b"once\n", timeout=5)
    received = silent.settled_count(1)
    if result.timed_out or result.returncode != 1 or received != 1:
        raise GradeFailure("wrong exit code", "with -r 0 and no reply the client should send "
                           f"once and exit 1; it sent {received} datagram(s) and "
                           f"{describe_status(result.returncode)}")
    peer = start_udp_peer(ctx)
    result = ctx.run("udp_client", client_args(peer), stdin_data=b"one\nno newline", timeout=5)
    if result.timed_out or result.returncode != 0:
        raise GradeFailure("wrong exit code", "with input 'one\\nno newline' the client should "
                           f"exit 0, but it {describe_status(result.returncode)}")
    expect_bytes(b"one\nno newline\n", result.stdout_bytes(), "the client's stdout for a last "
                 "line without a newline")
    empty = start_udp_peer(ctx)
    result = ctx.run("udp_client", client_args(empty), stdin_data=b"", timeout=5)
    if result.timed_out or result.returncode != 0 or result.stdout_bytes() or empty.received:
        raise GradeFailure("wrong output", "with empty input the client should send nothing, "
                           f"print nothing and exit 0; it sent {empty.received} datagram(s) and "
                           f"{describe_status(result.returncode)}")


@graded(points=5, doc="02-udp.md#testing-with-a-lossy-relay", timeout=40, step=5)
def test_hidden_client_harsher_relay(ctx):
    """client (hidden): 40% loss, 20% duplicates, more reordering, other data"""
    peer = start_udp_peer(ctx)
    relay = start_relay(ctx, peer, seed=ctx.seed + 7919, drop=0.4, duplicate=0.2,
                        max_delay=0.02, reorder=0.2, hold=0.1)
    rng = ctx.rng()
    lines = [bytes(rng.randrange(1, 256) for _ in range(rng.randint(0, 300))).replace(b"\n", b".")
             for _ in range(10)]
    stdin = b"".join(line + b"\n" for line in lines)
    result = ctx.run("udp_client", client_args(relay, "-t", "80", "-r", "40"), stdin_data=stdin,
                     timeout=30, progress=lambda: relay.counts[REQUEST], stall_after=5)
    ctx.note(relay.summary())
    if result.timed_out or result.returncode != 0:
        raise GradeFailure("wrong exit code", "through the harsher relay the client should exit "
                           f"0, but it {describe_status(result.returncode)}")
    expect_reply_lines(lines, result.stdout_bytes(), f"through the harsher relay (seed {ctx.seed})")
