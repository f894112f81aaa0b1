"""Lab 06 hidden tests: 500 keep-alive connections open at once, each
making three requests. Instructors only: handouts leave this folder out.

Self-contained: pytest puts tests/hidden on sys.path, not tests/, so the
few helpers needed are repeated here.
"""

import os
import resource
import socket
import time

import pytest

from grader import GradeFailure, Limits, graded

SERVER = "conc_server"
MODELS = {
    "fork": ["-m", "fork"],
    "thread": ["-m", "thread"],
    "pool": ["-m", "thread", "-w", "8"],
    "epoll": ["-m", "epoll"],
}
# The handout's step that writes each model (test_conc.py explains).
MODEL_STEP = {"fork": 1, "thread": 3, "pool": 4, "epoll": 5}
COUNT = 500
ROUNDS = 3
BOUND = 30.0
FILES = {f"page{i}.txt": f"page {i} of the hidden site\n".encode() * (i + 1) for i in range(7)}


def request(name, close):
    return (f"GET /{name} HTTP/1.1\r\nHost: hidden.lab06\r\n"
            + ("Connection: close\r\n" if close else "") + "\r\n").encode()


def read_one(sock, pending):
    """Reads one whole response from sock; returns (head, body, leftover)."""
    buf = bytearray(pending)
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise GradeFailure("missing bytes", "the connection ended inside a response head "
                               f"({bytes(buf[:100])!r})")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            if not value.strip().isdigit():
                raise GradeFailure("wrong bytes", f"a response's Content-Length is not a number: "
                                   f"{line[:80]!r}")
            length = int(value)
    body = bytearray(rest)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise GradeFailure("missing bytes", f"the connection ended after {len(body)} of "
                               f"{length} body bytes")
        body += chunk
    return head, bytes(body[:length]), bytes(body[length:])


def check(head, body, name, where):
    if not head.startswith(b"HTTP/1.1 200 ") or body != FILES[name]:
        raise GradeFailure("wrong output", f"{where}: GET /{name} should be 200 with the file's "
                           f"{len(FILES[name])} bytes; got {head[:40]!r} and {len(body)} bytes")


@pytest.mark.parametrize("model", [
    pytest.param(m, marks=graded(points=3, doc="06-concurrency.md#threads", timeout=60,
                                 step=MODEL_STEP[m]))
    for m in MODELS])
def test_hidden_500_keep_alive_connections(ctx, model):
    """server: 500 keep-alive connections open at once, three requests each"""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < COUNT + 100 <= hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (COUNT + 100, hard))
    root = os.path.join(ctx.tmpdir, "site")
    for name, content in FILES.items():
        ctx.write_file(os.path.join(root, name), content)
    server = ctx.start_server(SERVER, ["-p", "0", "-d", root, *MODELS[model]],
                              limits=Limits(processes=COUNT + 100, open_files=4 * COUNT,
                                            memory_bytes=4 << 30))
    names = sorted(FILES)
    deadline = time.monotonic() + BOUND
    socks = []
    try:
        for _ in range(COUNT):
            socks.append(socket.create_connection((server.host, server.port), timeout=5))
            if model != "pool":   # a pool leaves the rest in the listen queue
                ctx.wait_admitted(server, socks[-1])   # one at a time: no race decides
        ctx.transcript.add("500 conns", "connected", note=f"{COUNT} connections")
        pending = [b""] * COUNT
        if model == "pool":
            # Eight workers: each connection in turn makes its three
            # requests and closes, while the others wait in the queue.
            for i, sock in enumerate(socks):
                for r in range(ROUNDS):
                    name = names[(i + r) % len(names)]
                    sock.settimeout(max(0.1, deadline - time.monotonic()))
                    sock.sendall(request(name, close=(r == ROUNDS - 1)))
                    head, body, pending[i] = read_one(sock, pending[i])
                    check(head, body, name, f"connection {i + 1}, request {r + 1}")
                sock.close()
        else:
            for r in range(ROUNDS):
                for i, sock in enumerate(socks):
                    sock.sendall(request(names[(i + r) % len(names)], close=(r == ROUNDS - 1)))
                for i, sock in enumerate(socks):
                    sock.settimeout(max(0.1, deadline - time.monotonic()))
                    name = names[(i + r) % len(names)]
                    head, body, pending[i] = read_one(sock, pending[i])
                    check(head, body, name, f"round {r + 1}, connection {i + 1}")
                ctx.transcript.add("500 conns", f"round {r + 1} answered")
    except socket.timeout:
        raise GradeFailure("timeout", f"{COUNT} keep-alive connections making {ROUNDS} requests "
                           f"each were not all answered within {BOUND:g} s") from None
    except OSError as exc:
        raise GradeFailure("connection reset", f"with {COUNT} keep-alive connections open: "
                           f"{exc.strerror or exc}") from None
    finally:
        for sock in socks:
            sock.close()
    ctx.expect_alive(server, f"after {COUNT} keep-alive connections")
