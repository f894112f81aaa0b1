"""Lab 03 hidden tests: variations of the public ones with other data,
splits and seeds, so that a program tuned to the public tests' exact
inputs does not pass. Instructors only: handouts leave this folder out.

Self-contained: pytest puts tests/hidden on sys.path, not tests/, so the
few helpers needed are repeated here.
"""

import os
import select
import subprocess
import sys
import time

from grader import GradeFailure, UNIX_ANNOUNCE, expect_bytes, graded, split_sizes
from grader.transcripts import preview

SERVER = "unix_server"
SUN_PATH_MAX = 108          # sizeof(sun_path) on Linux, NUL included
LINE_MAX = 4096             # PROTO_LINE_MAX in unix_proto.h
NL = b"\n"
TOO_LONG = b"ERR line too long"
UNKNOWN = b"ERR unknown command"


def start(ctx, name="hidden.sock"):
    path = os.path.join(ctx.tmpdir, name)
    if len(os.fsencode(path)) >= SUN_PATH_MAX:
        raise GradeFailure("grader error", f"the test's socket path is too long: {path}")
    server = ctx.start_server(SERVER, ["-s", path], announce=UNIX_ANNOUNCE)
    ctx.set_repro([
        f"{ctx.display_path(SERVER)} -s /tmp/lab03.sock    # terminal 1",
        "nc -U /tmp/lab03.sock    # terminal 2: type requests, one per line",
    ])
    return server


def my_ids():
    return f"pid={os.getpid()} uid={os.getuid()} gid={os.getgid()}".encode()


def words(rng, count, alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"):
    return " ".join("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 12)))
                    for _ in range(count))


@graded(points=5, doc="03-unix-sockets.md#a-stream-has-no-message-boundaries", step=3)
def test_hidden_mixed_requests_random_cuts(ctx):
    """server (hidden): 80 mixed requests (LF and CRLF) cut at random points, three ways"""
    server = start(ctx)
    rng = ctx.rng()
    me = my_ids()
    near_misses = [b"PING ", b" PING", b"WHO?", b"who", b"ECHOx", b"ECH", b"SENDX /etc",
                   b"PINGWHO", b"\tECHO x", b"WHO WHO"]
    lines, replies = [], []
    for _ in range(80):
        kind = rng.randrange(6)
        if kind == 0:
            lines.append(b"PING"), replies.append(b"PONG")
        elif kind == 1:
            # Spaces, tabs and UTF-8 inside the text, kept as they are.
            text = (words(rng, rng.randint(1, 6)) + rng.choice(["", "\t", "  ", " é ü ∑"])
                    ).encode()
            lines.append(b"ECHO " + text), replies.append(text)
        elif kind == 2:
            lines.append(b"ECHO"), replies.append(b"")
        elif kind == 3:
            lines.append(b"WHO"), replies.append(me)
        elif kind == 4:
            lines.append(b"ECHO " + b"x" * rng.randint(100, 600)), replies.append(lines[-1][5:])
        else:
            lines.append(rng.choice(near_misses)), replies.append(UNKNOWN)
    data = b"".join(line + rng.choice([b"\n", b"\r\n"]) for line in lines)
    expected = b"".join(reply + NL for reply in replies)
    for round_no, max_piece in enumerate((rng.randint(2, 5), rng.randint(40, 90),
                                          rng.randint(700, 3000)), 1):
        conn = ctx.connect(server)
        sizes = split_sizes(len(data), rng, max_piece)
        conn.send_pieces(data, sizes, note=f"round {round_no}: pieces of 1..{max_piece} bytes "
                              f"(seed {ctx.seed})")
        got = conn.recv_exactly(len(expected), timeout=5,
                                waiting_for=f"the {len(lines)} replies of round {round_no}")
        expect_bytes(expected, got, f"round {round_no}: the {len(lines)} replies, in order, to "
                     f"requests cut into pieces of 1..{max_piece} bytes (seed {ctx.seed})",
                     conn.eof)
        conn.close()


@graded(points=5, doc="labs/03-unix-socket/README.md#step-3--the-protocol", step=3)
def test_hidden_longest_echo_binary(ctx):
    """server (hidden): ECHO of binary text at the 4096-byte limit, then lines just over it"""
    server = start(ctx)
    rng = ctx.rng()
    room = LINE_MAX - len(b"ECHO ")
    # Every byte value but '\n', NUL included; no '\r' at the end (it
    # would be taken for part of the line end).
    alphabet = bytes(b for b in range(256) if b != 0x0A)
    text = bytes(rng.choice(alphabet) for _ in range(room - 1)) + b"~"
    text2 = bytes(rng.choice(alphabet) for _ in range(room - 1)) + b"\x00"
    over = b"ECHO " + bytes(rng.choice(b"0123456789abcdef") for _ in range(room + 1))
    flood = b"ECHO " + b"Z" * rng.randint(3 * LINE_MAX, 5 * LINE_MAX)
    steps = [
        (b"ECHO " + text + b"\r\n", text + NL, f"a {LINE_MAX}-byte request with CRLF"),
        (b"ECHO " + text2 + NL, text2 + NL, f"a {LINE_MAX}-byte request ending in a NUL byte"),
        (over + NL, TOO_LONG + NL, f"a {len(over)}-byte request (one byte too long)"),
        (flood + NL, TOO_LONG + NL, f"a {len(flood)}-byte request (one reply, not several)"),
        (b"PING\nECHO still here\n", b"PONG\nstill here\n", "requests after the long lines"),
    ]
    conn = ctx.connect(server)
    for raw, reply, what in steps:
        conn.send_pieces(raw, split_sizes(len(raw), rng, rng.choice([97, 1000, 4099])),
                         note=f"{what}, in random pieces (seed {ctx.seed})")
        got = conn.recv_exactly(len(reply), timeout=5, waiting_for=f"the reply to {what}")
        expect_bytes(reply, got, f"the reply to {what}", conn.eof)
    # Nothing more may come: a second "ERR line too long" for the flood
    # would arrive here instead of PONG.
    conn.send(b"PING\n")
    conn.expect(b"PONG\n", "PONG at the end (a line that is too long gets one error reply)")


CHILD = r"""
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(8)
s.connect(sys.argv[1])
print("connected", flush=True)
tag = sys.argv[2].encode()
s.sendall(b"ECHO " + tag + b"\nWH")
s.sendall(b"O\n")
data = b""
while data.count(b"\n") < 2 and len(data) < 4096:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(f"pid={os.getpid()} uid={os.getuid()} gid={os.getgid()}")
sys.stdout.write(data.decode(errors="replace"))
"""


def wait_for_line(proc, deadline, what):
    """Reads one line of a child's stdout, with a deadline."""
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0:
            raise GradeFailure("timeout", f"{what}: the helper process printed nothing in time")
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            byte = os.read(proc.stdout.fileno(), 1)
            if not byte:
                break
            line += byte
    return line


@graded(points=5, doc="03-unix-sockets.md#peer-credentials", step=3)
def test_hidden_who_queued_processes(ctx):
    """server (hidden): three processes queued behind a client each get their own WHO"""
    server = start(ctx)
    first = ctx.connect(server)
    first.send(b"WHO\n")
    first.expect(my_ids() + NL, "WHO from the first client (the test itself)")
    children = []
    try:
        for i in range(3):
            tag = f"child-{i}-{ctx.rng(salt=i).randrange(10**6)}"
            proc = subprocess.Popen([sys.executable, "-c", CHILD, server.path, tag],
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            children.append((proc, tag))
        deadline = time.monotonic() + 10
        for proc, tag in children:
            if wait_for_line(proc, deadline, f"{tag} connecting") != b"connected\n":
                raise GradeFailure("missing bytes", f"a second process ({tag}) could not "
                                   "connect while the first client was being served")
        ctx.note("three processes connected and sent 'ECHO <tag>' and 'WHO' while the "
                 "first client was still being served")
        # The first client is still served while the others wait.
        first.send(b"PING\nWHO\n")
        first.expect(b"PONG\n" + my_ids() + NL, "the first client's replies while three more "
                     "processes wait")
        first.close()
        for proc, tag in children:
            try:
                out, _ = proc.communicate(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                raise GradeFailure("timeout", f"{tag} got no replies to 'ECHO {tag}' and "
                                   "'WHO' after the first client left") from None
            lines = out.decode(errors="replace").splitlines() + ["", "", ""]
            own, echo, who = lines[0], lines[1], lines[2]
            ctx.transcript.add(tag, "received", (echo + "\n" + who + "\n").encode(),
                               note=f"it is {own}")
            if echo != tag:
                raise GradeFailure("wrong bytes", f"{tag} sent 'ECHO {tag}' and got "
                                   f"{preview(echo.encode())}")
            if who != own:
                raise GradeFailure("wrong bytes", f"{tag} ({own}) sent WHO and got {who!r}: "
                                   "each accepted connection has its own peer, read "
                                   "SO_PEERCRED on it (the test process is "
                                   f"pid={os.getpid()})")
    finally:
        for proc, _ in children:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stdout:
                proc.stdout.close()
