"""Lab 01 hidden tests: variations of the public ones with other data,
splits and seeds, so that a program tuned to the public tests' exact
inputs does not pass. Instructors only: handouts leave this folder out.
"""

from grader import EchoPeer, GradeFailure, describe_status, expect_bytes, graded

MIB = 1 << 20


@graded(points=5, doc="01-tcp.md#binary-data-and-text-encodings", step=2)
def test_hidden_random_binary_random_pieces(ctx):
    """server (hidden): echoes 2 MiB of random bytes sent in random pieces"""
    server = ctx.start_server("echo_server", ["-p", "0"])
    rng = ctx.rng()
    data = rng.randbytes(2 * MIB)
    conn = ctx.connect(server, timeout=10)
    sizes = []
    left = len(data)
    while left:
        piece = min(left, rng.choice([1, 7, 100, 1460, 4096, 65536, 300000]))
        sizes.append(piece)
        left -= piece
    got = conn.send_while_receiving(data, len(data), sizes=sizes)
    expect_bytes(data, got, f"echo of 2 MiB sent in {len(sizes)} random pieces "
                 f"(seed {ctx.seed})", conn.eof)
    conn.shutdown_write()
    conn.expect_eof()


@graded(points=5, doc="01-tcp.md#server-flow", step=2)
def test_hidden_three_clients_queued(ctx):
    """server (hidden): three clients waiting in the queue are served in turn"""
    server = ctx.start_server("echo_server", ["-p", "0"])
    messages = [f"client {i}: {'.' * (i * 1000)}\n".encode() for i in range(3)]
    conns = [ctx.connect(server) for _ in messages]
    for conn, message in zip(conns, messages):
        conn.send(message)
        conn.shutdown_write()
    for conn, message in zip(conns, messages):
        conn.expect(message, f"echo to {message[:8].decode()}", timeout=5)
        conn.expect_eof()


@graded(points=5, doc="01-tcp.md#half-close-shutdown-versus-close", step=4)
def test_hidden_client_binary_without_newline(ctx):
    """client (hidden): 3 MiB of binary input without a final newline, replies after EOF"""
    peer = EchoPeer(ctx.transcript, "after_eof", swap_case=True).start()
    ctx.peers.append(peer)
    data = ctx.rng().randbytes(3 * MIB).rstrip(b"\n")
    result = ctx.run("echo_client", ["-h", peer.host, "-p", str(peer.port)], stdin_data=data,
                     timeout=15, progress=lambda: peer.received + peer.sent)
    ctx.note(peer.summary())
    if result.timed_out or result.returncode != 0:
        raise GradeFailure("wrong exit code", "echo_client should exit 0 after printing every "
                           f"reply, but it {describe_status(result.returncode)}")
    peer.expect_received(data, "echo_client with 3 MiB on stdin")
    expect_bytes(peer.reply_to(data), result.stdout_bytes(), "the client's stdout")
