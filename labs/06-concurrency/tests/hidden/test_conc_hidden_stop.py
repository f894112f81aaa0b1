"""Lab 06 hidden tests: SIGTERM with 50 idle keep-alive connections and
5 large responses in flight. Instructors only: handouts leave this folder
out.

Self-contained: pytest puts tests/hidden on sys.path, not tests/, so the
few helpers needed are repeated here.
"""

import os
import signal
import socket

import pytest

from grader import GradeFailure, Limits, describe_status, expect_bytes, graded, procfs

SERVER = "conc_server"
MODELS = {
    "fork": ["-m", "fork"],
    "thread": ["-m", "thread"],
    "pool": ["-m", "thread", "-w", "64"],   # room for every connection at once
    "epoll": ["-m", "epoll"],
}
# The handout's step after which each model stops gracefully (test_conc.py).
STOP_STEP = {"fork": 2, "thread": 3, "pool": 4, "epoll": 6}
IDLE = 50
IN_FLIGHT = 5
BIG = 6 << 20
RCVBUF = 256 << 10   # fixed, and well under the file: the response stalls


def request(name):
    return f"GET /{name} HTTP/1.1\r\nHost: hidden.lab06\r\n\r\n".encode()


def recv_head(sock):
    buf = bytearray()
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise GradeFailure("missing bytes", "the connection ended inside a response head")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    return head, rest


def recv_exactly(sock, count):
    out = bytearray()
    while len(out) < count:
        chunk = sock.recv(min(count - len(out), 1 << 20))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def at_eof(sock, timeout):
    """True if the server closes within timeout s, sending nothing more."""
    sock.settimeout(timeout)
    try:
        return sock.recv(1) == b""
    except socket.timeout:
        return False
    except ConnectionResetError:
        return True


@pytest.mark.parametrize("model", [
    pytest.param(m, marks=graded(points=3, doc="06-concurrency.md#stopping-gracefully", timeout=40,
                                 step=STOP_STEP[m]))
    for m in MODELS])
def test_hidden_sigterm_with_idle_and_in_flight(ctx, model):
    """server: SIGTERM with 50 idle keep-alive connections and 5 responses in flight"""
    root = os.path.join(ctx.tmpdir, "site")
    data = ctx.rng().randbytes(BIG)
    ctx.write_file(os.path.join(root, "big.bin"), data)
    ctx.write_file(os.path.join(root, "small.txt"), b"small\n")
    server = ctx.start_server(SERVER, ["-p", "0", "-d", root, *MODELS[model]],
                              limits=Limits(processes=256, open_files=1024))
    pid = server.process.pid
    idle, slow = [], []
    try:
        for _ in range(IDLE):
            sock = socket.create_connection((server.host, server.port), timeout=5)
            idle.append(sock)
            sock.sendall(request("small.txt"))
            head, rest = recv_head(sock)
            if not head.startswith(b"HTTP/1.1 200 ") or rest + recv_exactly(
                    sock, 6 - len(rest)) != b"small\n":
                raise GradeFailure("wrong output", f"GET /small.txt: {head[:60]!r}")
        for _ in range(IN_FLIGHT):
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            sock.settimeout(10)
            sock.connect((server.host, server.port))
            slow.append(sock)
            sock.sendall(request("big.bin"))
            ctx.wait_admitted(server, sock)   # one at a time: no race decides
        firsts = [recv_head(sock)[1] for sock in slow]
        ctx.transcript.add("clients", f"{IDLE} idle after a response, {IN_FLIGHT} in the middle "
                           f"of {BIG >> 20} MiB each")
        server.process.signal_group(signal.SIGTERM)
        ctx.transcript.add(SERVER, "got SIGTERM")
        open_after = [i + 1 for i, sock in enumerate(idle) if not at_eof(sock, 3)]
        if open_after:
            raise GradeFailure("timeout", f"{len(open_after)} of {IDLE} idle keep-alive "
                               "connections were still open 3 s after SIGTERM (the first: "
                               f"connection {open_after[0]})")
        for i, sock in enumerate(slow):
            body = firsts[i] + recv_exactly(sock, BIG - len(firsts[i]))
            expect_bytes(data, body, f"response {i + 1} of {IN_FLIGHT} in flight at SIGTERM")
    except socket.timeout:
        raise GradeFailure("timeout", "a client waited 10 s for the server during the stop") \
            from None
    except OSError as exc:
        raise GradeFailure("connection reset", f"during the stop: {exc.strerror or exc}") \
            from None
    finally:
        for sock in idle + slow:
            sock.close()
    code = server.process.wait(5)
    if code != 0:
        raise GradeFailure("wrong exit code" if code is not None else "timeout",
                           "after SIGTERM, with every response finished, the server should exit "
                           f"0 within 5 s; it {describe_status(code)}")
    left = [p for p in procfs.children(os.getpid()) if p != pid and procfs.state(p) != "Z"]
    if left:
        raise GradeFailure("wrong output", f"the server exited but left {len(left)} process(es) "
                           "running")

