"""Lab 06 hidden tests: a seeded random mix of slow, fast and pipelined
clients served at once, through every model. Instructors only: handouts
leave this folder out.

Self-contained: pytest puts tests/hidden on sys.path, not tests/, so the
few helpers needed are repeated here.
"""

import os
import socket
import threading
import time

import pytest

from grader import GradeFailure, Limits, graded, split_sizes

SERVER = "conc_server"
MODELS = {
    "fork": ["-m", "fork"],
    "thread": ["-m", "thread"],
    "pool": ["-m", "thread", "-w", "16"],
    "epoll": ["-m", "epoll"],
}
# The handout's step that writes each model (test_conc.py explains).
MODEL_STEP = {"fork": 1, "thread": 3, "pool": 4, "epoll": 5}
CLIENTS = 14
BOUND = 10.0


def request(method, target, close=False):
    head = f"{method} {target} HTTP/1.1\r\nHost: hidden.lab06\r\n"
    if close:
        head += "Connection: close\r\n"
    return (head + "\r\n").encode()


def site(ctx, rng):
    """Files of random sizes, from empty to several send rounds."""
    root = os.path.join(ctx.tmpdir, "site")
    files = {}
    for i, size in enumerate([0, 1, 100, 4096, 16385, 70000, 400000]):
        name = f"d/f{i}.bin" if i % 2 else f"f{i}.txt"
        files[name] = rng.randbytes(size)
        ctx.write_file(os.path.join(root, name), files[name])
    return root, files


def read_response(sock, method, pending):
    """(status, body, bytes after it) of one response, read through
    Content-Length; pending: bytes already received after the last one."""
    buf = bytearray(pending)
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise GradeFailure("missing bytes", f"the connection ended inside a response head "
                               f"({bytes(buf[:100])!r})")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise GradeFailure("wrong bytes", f"a response's status line has no status code: "
                           f"{head[:80]!r}")
    status = int(parts[1])
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            if not value.strip().isdigit():
                raise GradeFailure("wrong bytes", f"a response's Content-Length is not a number: "
                                   f"{line[:80]!r}")
            length = int(value)
    if method == "HEAD":
        return status, b"", rest
    body = bytearray(rest)
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            raise GradeFailure("missing bytes", f"the connection ended after {len(body)} of "
                               f"{length} body bytes")
        body += chunk
    return status, bytes(body[:length]), bytes(body[length:])


def open_admitted(ctx, server, admission, first):
    """A connection that sent first and was taken and read by the server
    before any other client could start one (ctx.wait_admitted)."""
    with admission:
        sock = socket.create_connection((server.host, server.port), timeout=BOUND)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(first)
        ctx.wait_admitted(server, sock)
    return sock


def run_client(ctx, server, admission, plan, rng, files):
    """One client: its requests sent as the plan says; checks every answer."""
    kind, names = plan
    methods = ["HEAD" if kind == "head" else "GET" for _ in names]
    raw = b"".join(request(m, "/" + n, close=(i == len(names) - 1))
                   for i, (m, n) in enumerate(zip(methods, names)))
    with open_admitted(ctx, server, admission, raw[:1]) as sock:
        raw = raw[1:]
        if kind == "slow":
            for b in raw:
                sock.sendall(bytes([b]))
                time.sleep(0.01)
        elif kind == "pipelined":
            for size in split_sizes(len(raw), rng, 30):
                sock.sendall(raw[:size])
                raw = raw[size:]
        else:
            sock.sendall(raw)
        pending = b""
        for method, name in zip(methods, names):
            status, body, pending = read_response(sock, method, pending)
            if status != 200:
                return f"{kind} client: {method} /{name} answered {status}, expected 200"
            if method == "GET" and body != files[name]:
                return (f"{kind} client: GET /{name}: {len(body)} bytes that differ from the "
                        f"file's {len(files[name])}")
    return None


@pytest.mark.parametrize("model", [
    pytest.param(m, marks=graded(points=3, doc="06-concurrency.md#slow-clients", timeout=40,
                                 step=MODEL_STEP[m]))
    for m in MODELS])
def test_hidden_random_mix_of_clients(ctx, model):
    """server: slow, fast, pipelined and HEAD clients at once, in a random mix"""
    rng = ctx.rng()
    root, files = site(ctx, rng)
    server = ctx.start_server(SERVER, ["-p", "0", "-d", root, *MODELS[model]],
                              limits=Limits(processes=256, open_files=1024))
    names = sorted(files)
    plans = [(rng.choice(["slow", "fast", "pipelined", "head"]),
              [rng.choice(names) for _ in range(rng.randint(1, 3))]) for _ in range(CLIENTS)]
    problems = []
    admission = threading.Lock()

    def client(i):
        try:
            problem = run_client(ctx, server, admission, plans[i], ctx.rng(salt=i + 1), files)
        except GradeFailure as failure:
            problem = f"client {i + 1} ({plans[i][0]}): {failure.message}"
        except OSError as exc:
            problem = f"client {i + 1} ({plans[i][0]}): {exc}"
        if problem:
            problems.append(problem)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=BOUND + 5)
    ctx.note(f"{CLIENTS} clients: " + ", ".join(f"{k}x{len(n)}" for k, n in plans))
    if any(t.is_alive() for t in threads):
        problems.append(f"some clients were still waiting after {BOUND + 5:g} s")
    if problems:
        raise GradeFailure("wrong output", f"{len(problems)} of {CLIENTS} clients in a random mix "
                           f"(seed {ctx.seed}) went wrong; the first: {problems[0]}",
                           "\n".join(problems[:10]))
    ctx.expect_alive(server, "after the random mix of clients")
