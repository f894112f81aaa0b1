"""Lab 06 graded tests: one HTTP server, three concurrency models.

Most tests run once per model: test_x[fork] (a process per connection),
test_x[thread] (a thread per connection), test_x[pool] (-m thread -w 4, a
pool of four threads) and test_x[epoll] (one thread, an event loop).
Responses are read through h11 (grader/http.py) where one connection
matters, and through plain sockets where hundreds do. What the server
holds while it runs - child processes, zombies, threads, descriptors,
which process holds the listening socket - is read from /proc
(grader/procfs.py).
"""

import contextlib
import errno
import os
import signal
import socket
import threading
import time

import pytest

from grader import (Faults, GradeFailure, Limits, describe_status, expect_bytes, graded,
                    procfs)
from grader.http import HttpReader, check_status, media_type, open_reader
from grader.processes import describe_signal

SERVER = "conc_server"
MIB = 1 << 20
BIG_SIZE = 8 * MIB
POOL_WORKERS = 4

# The test id of each model, and the options that choose it.
MODELS = {
    "fork": ["-m", "fork"],
    "thread": ["-m", "thread"],
    "pool": ["-m", "thread", "-w", str(POOL_WORKERS)],
    "epoll": ["-m", "epoll"],
}
# The section of the notes that explains each model.
MODEL_DOCS = {
    "fork": "docs/06-concurrency.md#processes",
    "thread": "docs/06-concurrency.md#threads",
    "pool": "docs/06-concurrency.md#threads",
    "epoll": "docs/06-concurrency.md#event-loops-and-epoll",
}
# The handout's step that writes each model, and the step after which it
# also stops gracefully (for the event loop, the step of its timeouts too).
MODEL_STEP = {"fork": 1, "thread": 3, "pool": 4, "epoll": 5}
STOP_STEP = {"fork": 2, "thread": 3, "pool": 4, "epoll": 6}


def graded_per_model(points, doc, models=tuple(MODELS), steps=MODEL_STEP, **options):
    """Runs a test once per model (test_x[fork], test_x[epoll] ...), each
    case graded with the step of the handout that writes its model."""
    return pytest.mark.parametrize("model", [
        pytest.param(m, marks=graded(points=points, doc=doc, step=steps[m], **options))
        for m in models])

# Room for a child process or a thread per connection, and a descriptor
# per connection (the tests open up to 200 at once). The address-space
# limit is raised too: glibc gives threads malloc arenas of their own, each
# reserving 64 MiB (up to eight per core), so a few hundred threads that
# allocate reserve gigabytes they never touch.
ROOMY = Limits(processes=512, open_files=1024, memory_bytes=4 << 30)

INDEX_HTML = b"<!DOCTYPE html>\n<html><body><h1>Lab 06</h1></body></html>\n"
FILES = {
    "index.html": (INDEX_HTML, "text/html"),
    "notes.txt": (b"plain text, served concurrently\n", "text/plain"),
    "data.json": (b'{"lab": 6, "models": ["fork", "thread", "epoll"]}\n', "application/json"),
    "style.css": (b"h1 { color: rgb(0, 128, 0); }\n", "text/css"),
    "sub/index.html": (b"<p>the sub folder's index</p>\n", "text/html"),
}


# -- starting the server ----------------------------------------------------------

MEDIUM_SIZE = 300 * 1024   # several sendfile() rounds, cheap under valgrind


def make_site(ctx, big=False):
    """The document root, with medium.bin; with big, also big.bin (8 MiB of
    seeded random bytes, returned)."""
    root = os.path.join(ctx.tmpdir, "www")
    for name, (content, _) in FILES.items():
        ctx.write_file(os.path.join(root, name), content)
    ctx.write_file(os.path.join(root, "medium.bin"), ctx.rng(salt=3).randbytes(MEDIUM_SIZE))
    data = None
    if big:
        data = ctx.rng(salt=8).randbytes(BIG_SIZE)
        ctx.write_file(os.path.join(root, "big.bin"), data)
    return root, data


def start(ctx, model, extra=(), big=False, limits=None, **kwargs):
    """Starts conc_server with the model; returns (server, big.bin's bytes)."""
    root, data = make_site(ctx, big)
    ctx.note(f"the server ran with {' '.join(MODELS[model])}; {MODEL_DOCS[model]} explains "
             "that model")
    server = ctx.start_server(SERVER, ["-p", "0", "-d", root, *MODELS[model], *extra],
                              limits=limits or ROOMY, **kwargs)
    # Connections start one at a time (the grader's wait_admitted()):
    # only the tests written to make connections meet let them.
    server.admit_in_turn = True
    server.unread_hint = LOST_AFTER_ACCEPT[model]
    return server, data


# -- requests and responses ----------------------------------------------------------

def request(method, target, headers=(), version="HTTP/1.1"):
    lines = [f"{method} {target} {version}"]
    if version == "HTTP/1.1":
        lines.append("Host: lab06.test")
    lines += list(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def check_file(resp, name, what):
    content, mime = FILES[name]
    check_status(resp, 200, what)
    for header in ("date", "server", "content-length"):
        if not resp.header(header):
            raise GradeFailure("wrong output", f"{what}: the response has no {header} header",
                               resp.describe())
    expect_bytes(content, resp.body, f"body of {what}")
    if media_type(resp) != mime:
        raise GradeFailure("wrong output", f"{what}: Content-Type should be {mime}, it was "
                           f"{resp.header('content-type')!r}", resp.describe())


def get(ctx, server, name, what, timeout=None):
    """GET /name on a new connection; checks and returns the response."""
    conn, reader = open_reader(ctx, server, timeout)
    conn.send(request("GET", "/" + name))
    reader.request("GET")
    resp = reader.response(what, timeout=timeout)
    check_file(resp, name, what)
    return conn, resp


# A fixed receive buffer for the clients that stop reading: without one the
# kernel grows it while the test reads. Far smaller than big.bin, so that
# the response stalls in the server's send(); not smaller than a segment
# (64 KiB on loopback), or the sender waits on zero-window probes that
# back off to minutes, once the client reads again.
STALL_RCVBUF = 256 << 10
# For a client that reads a little and resets: small, so that the reset
# comes while most of the response is still to send.
RUDE_RCVBUF = 4096


def stalling_conn(ctx, server, timeout=None, rcvbuf=STALL_RCVBUF):
    """A connection whose receive buffer will not grow: a large response
    stalls in the server's send() as soon as the test stops reading."""
    conn = ctx.connect(server, **({"timeout": timeout} if timeout else {}))
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    return conn


def read_head(conn, what):
    """Reads a response head and returns (head, the body bytes after it)."""
    got = conn.recv_until(b"\r\n\r\n", 16384)
    if b"\r\n\r\n" not in got:
        raise GradeFailure("missing bytes", f"{what}: the connection ended before a whole "
                           f"response head arrived; got {got[:200]!r}")
    head, _, rest = got.partition(b"\r\n\r\n")
    return head, rest


def check_big_head(head, what):
    if not head.startswith(b"HTTP/1.1 200 ") or \
            f"\r\ncontent-length: {BIG_SIZE}".encode() not in head.lower():
        raise GradeFailure("wrong output", f"{what}: expected 200 with Content-Length: "
                           f"{BIG_SIZE}; the head was {head[:300]!r}")


# -- many connections at once, on plain sockets ------------------------------------------

def raw_fetch(host, port, raw, timeout):
    """Connects, sends raw, reads until the server closes; returns the bytes.
    Raises OSError (socket.timeout included) on trouble."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect((host, port))
        sock.sendall(raw)
        return recv_to_eof(sock)


def recv_to_eof(sock, limit=MIB):
    out = bytearray()
    while len(out) <= limit:
        chunk = sock.recv(65536)
        if not chunk:
            return bytes(out)
        out += chunk
    raise OSError(f"over {limit} bytes without the end of the stream")


def response_problem(got, name):
    """None if got is one whole 200 response with the file's body, else why not."""
    head, sep, body = got.partition(b"\r\n\r\n")
    if not sep:
        return f"no whole response head in {len(got)} bytes: {got[:120]!r}"
    if not head.startswith(b"HTTP/1.1 200 "):
        status_line = head.split(b"\r\n")[0][:80]
        return f"status line {status_line!r}, expected HTTP/1.1 200 OK"
    expected = FILES[name][0]
    if body != expected:
        return (f"the body of /{name} should be {len(expected)} bytes {expected[:40]!r}..., "
                f"got {len(body)} bytes {body[:40]!r}")
    return None


def fetch_problem(host, port, name, timeout):
    """None if GET /name (Connection: close) on a new connection is answered
    well and closed; else what went wrong, in words."""
    raw = request("GET", "/" + name, ["Connection: close"])
    try:
        got = raw_fetch(host, port, raw, timeout)
    except socket.timeout:
        return (f"no response and end of stream within {timeout:g} s of sending "
                f"GET /{name} with Connection: close")
    except OSError as exc:
        return f"GET /{name}: {exc.strerror or exc}"
    return response_problem(got, name)


def wait_for(condition, timeout, step=0.02):
    """Polls condition() until it is true or timeout s pass; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(step)


def plural(count, one, many):
    """'1 zombie child', '3 zombie children'."""
    return f"{count} {one if count == 1 else many}"


def medium_bin(ctx):
    """The bytes make_site wrote to medium.bin."""
    return ctx.rng(salt=3).randbytes(MEDIUM_SIZE)


# -- one connection: the HTTP subset, through every model ----------------------------------

@graded_per_model(points=2, doc="05-http.md#an-annotated-exchange")
def test_get_head_and_errors(ctx, model):
    """server: GET, HEAD, 404 and 301 on one connection"""
    server, _ = start(ctx, model)
    conn, reader = open_reader(ctx, server)
    conn.send(request("GET", "/index.html"))
    reader.request("GET")
    got = reader.response("GET /index.html")
    check_file(got, "index.html", "GET /index.html")
    conn.send(request("HEAD", "/index.html"))
    reader.request("HEAD")
    head = reader.response("HEAD /index.html")
    check_status(head, 200, "HEAD /index.html")
    for name in ("content-length", "content-type"):
        if head.header(name) != got.header(name):
            raise GradeFailure("wrong output", f"HEAD /index.html: {name} should be as for GET "
                               f"({got.header(name)!r}), it was {head.header(name)!r}")
    conn.send(request("GET", "/missing.html"))
    reader.request("GET")
    missing = reader.response("GET /missing.html (after the HEAD: a body sent for HEAD "
                              "would show up here)")
    check_status(missing, 404, "GET /missing.html")
    conn.send(request("GET", "/sub"))
    reader.request("GET")
    moved = reader.response("GET /sub")
    check_status(moved, 301, "GET /sub (a folder without its slash)")
    if not (moved.header("location") or "").endswith("/sub/"):
        raise GradeFailure("wrong output", "the 301 for /sub needs 'Location: /sub/'",
                           moved.describe())
    conn.send(request("GET", "/sub/"))
    reader.request("GET")
    check_file(reader.response("GET /sub/"), "sub/index.html", "GET /sub/")


@graded_per_model(points=2, doc="05-http.md#keep-alive-and-pipelining")
def test_keep_alive_and_pipelining(ctx, model):
    """server: two requests on one connection, then three in one send, in order"""
    server, _ = start(ctx, model)
    conn, reader = open_reader(ctx, server)
    for name in ("notes.txt", "data.json"):
        conn.send(request("GET", "/" + name))
        reader.request("GET")
        check_file(reader.response(f"GET /{name} on a kept-alive connection"), name,
                   f"GET /{name}, the same connection")
    plan = [("GET", "notes.txt"), ("HEAD", "style.css"), ("GET", "data.json")]
    conn.send(b"".join(request(m, "/" + n) for m, n in plan), note="three requests in one send")
    for i, (method, name) in enumerate(plan):
        reader.request(method)
        what = f"pipelined response {i + 1} of 3 ({method} /{name})"
        resp = reader.response(what)
        if method == "HEAD":
            check_status(resp, 200, what)
        else:
            check_file(resp, name, what)


@graded_per_model(points=2, doc="05-http.md#http10-versus-http11")
def test_close_ends_the_connection(ctx, model):
    """server: HTTP/1.0 and Connection: close get their response, then the end of the stream"""
    server, _ = start(ctx, model)
    cases = [(request("GET", "/notes.txt", version="HTTP/1.0"), "an HTTP/1.0 GET"),
             (request("GET", "/notes.txt", ["Connection: close"]),
              "a GET with Connection: close")]
    for raw, what in cases:
        conn, reader = open_reader(ctx, server)
        conn.send(raw)
        reader.request("GET", close=True)
        check_file(reader.response(what), "notes.txt", what)
        reader.expect_close(f"the response to {what}")


# -- slow clients ---------------------------------------------------------------------

class Dribbler(threading.Thread):
    """Sends a request one byte every `pause` s until told to stop."""

    def __init__(self, conn, data, pause):
        super().__init__(name="dribbler", daemon=True)
        self.conn, self.data, self.pause = conn, data, pause
        self.sent = 0
        self.stop = threading.Event()
        self.started_sending = threading.Event()
        self.error = None

    def run(self):
        try:
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while self.sent < len(self.data) and not self.stop.is_set():
                self.conn.sock.sendall(self.data[self.sent:self.sent + 1])
                self.sent += 1
                if self.sent >= 3:
                    self.started_sending.set()
                self.stop.wait(self.pause)
        except OSError as exc:
            self.error = exc
        finally:
            self.started_sending.set()

    def finish(self):
        """Stops dribbling and returns the bytes not sent yet."""
        self.stop.set()
        self.join(timeout=2)
        if self.error is not None:
            raise GradeFailure("connection reset", f"the slow client's connection failed while "
                               f"it sent its request a byte at a time: {self.error}")
        return self.data[self.sent:]


@graded_per_model(points=3, doc="06-concurrency.md#slow-clients")
def test_slow_clients_do_not_delay_others(ctx, model):
    """server: a client sending a byte per 100 ms and one stuck mid-head do not delay a third"""
    server, _ = start(ctx, model)
    bound = 2.0
    slow = ctx.connect(server, timeout=5)
    raw = request("GET", "/notes.txt")
    dribbler = Dribbler(slow, raw, pause=0.1)
    ctx.transcript.add(slow.channel, "sending", note="its request one byte every 100 ms")
    dribbler.start()
    dribbler.started_sending.wait(2)
    ctx.wait_admitted(server, slow.sock)
    stuck = ctx.connect(server)
    stuck.send(b"GET /data.json HTTP/1.1\r\nHost: lab", note="half a head, then nothing")
    ctx.wait_admitted(server, stuck.sock)
    started = time.monotonic()
    try:
        conn, reader = open_reader(ctx, server, timeout=bound)
        conn.send(request("GET", "/style.css"))
        reader.request("GET")
        resp = reader.response(f"the response to a third client, while the first sends a byte "
                               f"per 100 ms and the second sits on half a head (allowed: "
                               f"{bound:g} s)", timeout=bound)
    finally:
        rest = dribbler.finish()
    ctx.note(f"the third client was answered after {time.monotonic() - started:.2f} s")
    check_file(resp, "style.css", "GET /style.css from the third client")
    slow.send(rest, note="the rest of the slow request at once")
    slow_reader = HttpReader(slow)
    slow_reader.request("GET")
    check_file(slow_reader.response("the response to the slow client, once its request was "
                                    "complete"), "notes.txt", "GET /notes.txt sent slowly")


@graded_per_model(points=3, doc="06-concurrency.md#slow-clients")
def test_slow_reader_does_not_block_others(ctx, model):
    """server: others are served while 8 MiB wait on a client not reading; all 8 MiB arrive"""
    server, data = start(ctx, model, big=True)
    slow = stalling_conn(ctx, server, timeout=10)
    slow.send(request("GET", "/big.bin"))
    head, first = read_head(slow, "GET /big.bin")
    check_big_head(head, "GET /big.bin")
    bound = 2.0
    ctx.note("the client of /big.bin stops reading after its head: the server's send() "
             "cannot take more until it reads again")
    for name in ("notes.txt", "data.json"):
        get(ctx, server, name, f"GET /{name} from another client while a response of "
            f"8 MiB is stuck on a client that does not read (allowed: {bound:g} s)", bound)
    body = first + slow.recv_exactly(BIG_SIZE - len(first), timeout=10,
                                     waiting_for="the rest of the 8 MiB body")
    expect_bytes(data, body, f"8 MiB body of /big.bin (seed {ctx.seed})", stream_ended=slow.eof)


@graded_per_model(points=2, doc="06-concurrency.md#slow-clients")
def test_client_resets_mid_response(ctx, model):
    """server: survives clients that reset during an 8 MiB response"""
    server, _ = start(ctx, model, big=True)
    for _ in range(2):
        rude = stalling_conn(ctx, server, rcvbuf=RUDE_RCVBUF)
        rude.send(request("GET", "/big.bin"))
        rude.recv_exactly(1000)
        rude.reset()
    ctx.expect_alive(server, "after clients reset their connection during an 8 MiB response")
    get(ctx, server, "notes.txt", "GET /notes.txt from the next client, after the resets")


# The session's input buffer (http_session.c, IN_BUF_SIZE): a pipeline or a
# body longer than this takes more than one read, and an edge-triggered
# loop that stops before EAGAIN never hears about the rest.
SESSION_BUFFER = 16 * 1024


@graded_per_model(points=2, doc="06-concurrency.md#level-triggered-or-edge-triggered")
def test_pipelines_beyond_the_buffer(ctx, model):
    """server: clients that leave mid-request; 41 GETs in one write; a 200 KB POST then a GET"""
    # -t 10: a connection left hanging shows as the test's own timeout
    # (4 s), not as the server's idle close.
    server, _ = start(ctx, model, extra=["-t", "10"])
    for how in ("close", "reset"):
        rude = ctx.connect(server)
        rude.send(b"GET /notes.txt HTTP/1.1\r\nHost: lab", note=f"half a head, then a {how}")
        ctx.wait_admitted(server, rude.sock)
        rude.reset() if how == "reset" else rude.close()
    conn, reader = open_reader(ctx, server, timeout=4)
    names = ["notes.txt", "data.json", "style.css", "index.html"]
    filler = "X-Filler: " + "f" * 400     # about 480 bytes a request
    plan = [names[i % len(names)] for i in range(41)]
    raw = b"".join(request("GET", "/" + name, [filler]) for name in plan)
    assert len(raw) > SESSION_BUFFER
    conn.send(raw, note=f"41 GET requests in one write, {len(raw)} bytes: more than the "
              "session reads at once")
    for i, name in enumerate(plan):
        reader.request("GET")
        check_file(reader.response(f"response {i + 1} of 41 GETs sent in one write (/{name}); "
                                   "the requests past the first 16 KiB are answered only if "
                                   "the loop hears that they are there"),
                   name, f"pipelined GET {i + 1} of 41 (/{name})")
    body = ctx.rng(salt=5).randbytes(200_000)
    raw = (request("POST", "/notes.txt", [f"Content-Length: {len(body)}"]) + body
           + request("GET", "/data.json"))
    conn.send(raw, note="a POST /notes.txt with a 200000-byte body, then a GET, in one write")
    reader.request("POST")
    check_status(reader.response("POST /notes.txt with a 200000-byte body (405, its body "
                                 "read and dropped)"), 405, "POST /notes.txt")
    reader.request("GET")
    check_file(reader.response("the GET sent right after a 200000-byte body"),
               "data.json", "GET /data.json after a 200000-byte body")
    ctx.expect_alive(server, "after clients left mid-request and a long pipeline")


@graded_per_model(points=2, doc="01-tcp.md#writing-partial-sends")
def test_survives_short_transfers_and_eintr(ctx, model):
    """server: whole responses when its calls come up short, are interrupted or would block"""
    # The shim cuts sends and receives short and interrupts calls (accept()
    # too, where it blocks, as SIGCHLD would); on the event loop's
    # non-blocking sockets it also says EAGAIN when data is there.
    kinds = "sia" if model == "epoll" else "si"
    server, _ = start(ctx, model, faults=Faults(rate=30, kinds=kinds))
    names = list(FILES)
    for i in range(40):
        problem = fetch_problem(server.host, server.port, names[i % len(names)], 3.0)
        if problem:
            ctx.expect_alive(server, f"during short connection {i + 1} of 40")
            raise GradeFailure("wrong output", f"short connection {i + 1} of 40: {problem}")
    conn, reader = open_reader(ctx, server, timeout=10)
    plan = [("GET", "index.html"), ("GET", "medium.bin"), ("HEAD", "notes.txt"),
            ("GET", "data.json")]
    conn.send(b"".join(request(m, "/" + n) for m, n in plan), note="four requests in one send")
    for method, name in plan:
        reader.request(method)
        what = f"{method} /{name}, pipelined on one connection"
        resp = reader.response(what)
        if name == "medium.bin":
            check_status(resp, 200, what)
            expect_bytes(medium_bin(ctx), resp.body, f"the {MEDIUM_SIZE} bytes of /medium.bin")
        elif method == "GET":
            check_file(resp, name, what)
        else:
            check_status(resp, 200, what)


# -- many clients ------------------------------------------------------------------------

@contextlib.contextmanager
def stopped(ctx, server, why):
    """The server stopped (SIGSTOP) for the block, then continued."""
    pid = server.process.pid
    ctx.expect_alive(server, why)
    os.kill(pid, signal.SIGSTOP)
    ctx.transcript.add(SERVER, "stopped (SIGSTOP)", note=why)
    try:
        yield
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        ctx.transcript.add(SERVER, "continued (SIGCONT)")


@graded_per_model(points=3, doc="06-concurrency.md#threads")
def test_200_concurrent_clients(ctx, model):
    """server: 200 clients connect, then all send, then all read: every one is answered"""
    count = 200
    # A pool of four serves four at a time: the others wait their turn.
    bound = 15.0 if model == "pool" else 8.0
    server, _ = start(ctx, model)
    names = list(FILES)
    socks = []
    ctx.set_repro([f"{ctx.display_path(SERVER)} -p 5000 -d www {' '.join(MODELS[model])}"
                   "    # terminal 1",
                   "for i in $(seq 200); do curl -s -o /dev/null "
                   "http://127.0.0.1:5000/notes.txt & done; wait    # terminal 2"])
    deadline = time.monotonic() + bound
    try:
        # Made while the server is stopped, the connections wait together
        # in its listen queue: an event loop hears of them in one event, so
        # one that takes a single connection per event leaves the rest
        # there on every run, not only when they happen to arrive at once.
        with stopped(ctx, server, f"while {count} clients connect"):
            for i in range(count):
                sock = socket.create_connection((server.host, server.port), timeout=3)
                socks.append(sock)
        ctx.transcript.add("200 conns", "connected", note=f"{count} connections, made while "
                           "the server was stopped")
        for i, sock in enumerate(socks):
            sock.sendall(request("GET", "/" + names[i % len(names)], ["Connection: close"]))
        ctx.transcript.add("200 conns", "sent", note="GET with Connection: close on each")
        for i, sock in enumerate(socks):
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            name = names[i % len(names)]
            try:
                got = recv_to_eof(sock)
            except socket.timeout:
                raise GradeFailure("timeout", f"connection {i + 1} of {count} (GET /{name}) had "
                                   f"no whole response and end of stream {bound:g} s after the "
                                   f"{count} requests were sent; {i} connections were answered "
                                   "before it. The connections were made while the server was "
                                   "stopped (SIGSTOP), so they waited together in its listen "
                                   "queue" + why_unanswered(server, model)) from None
            except OSError as exc:
                raise GradeFailure("connection reset", f"connection {i + 1} of {count} "
                                   f"(GET /{name}): {exc.strerror or exc}") from None
            # Closed at once: a server that shut its side after the
            # response may wait for the client to close before it moves on.
            sock.close()
            problem = response_problem(got, name)
            if problem:
                raise GradeFailure("wrong output", f"connection {i + 1} of {count}: {problem}")
        ctx.transcript.add("200 conns", "received", note=f"{count} whole responses")
    except OSError as exc:
        raise GradeFailure("connection refused", f"opening connection {len(socks) + 1} of "
                           f"{count}: {exc.strerror or exc}") from None
    finally:
        for sock in socks:
            sock.close()
    ctx.expect_alive(server, f"after {count} concurrent clients")


def burst(server, total, workers, timeout):
    """total short connections, workers at a time; returns (answered,
    first problem or None)."""
    lock = threading.Lock()
    state = {"next": 0, "done": 0, "problem": None}
    names = list(FILES)

    def worker():
        while True:
            with lock:
                if state["next"] >= total or state["problem"]:
                    return
                i = state["next"]
                state["next"] += 1
            problem = fetch_problem(server.host, server.port, names[i % len(names)], timeout)
            with lock:
                if problem and not state["problem"]:
                    state["problem"] = f"connection {i + 1}: {problem}"
                elif not problem:
                    state["done"] += 1

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return state["done"], state["problem"]


# Zombies after a burst that mean the server does not reap (a few may be
# one SIGCHLD standing for several children: see the coalesced test).
ZOMBIE_PILE = 50


@graded_per_model(points=3, doc="06-concurrency.md#processes", timeout=40)
def test_burst_leaves_no_zombies_or_leaks(ctx, model):
    """server: after 1000 short connections, no pile of zombies, no leaked descriptor or thread"""
    total, slack = 1000, 3
    server, _ = start(ctx, model)
    pid = server.process.pid
    get(ctx, server, "notes.txt", "a first GET, before the burst")[0].close()
    wait_for(lambda: not procfs.children(pid) and procfs.thread_count(pid) <= 1 + POOL_WORKERS,
             2.0)
    fds_before = procfs.fd_count(pid)
    threads_before = procfs.thread_count(pid)
    ctx.set_repro([f"{ctx.display_path(SERVER)} -p 5000 -d www {' '.join(MODELS[model])}"
                   "    # terminal 1",
                   "for i in $(seq 1000); do curl -s -o /dev/null http://127.0.0.1:5000/; done"
                   "    # terminal 2",
                   "ls -l /proc/$(pgrep -o conc_server)/fd; ps -o pid,stat,cmd "
                   "--ppid $(pgrep -o conc_server)    # what the server holds"])
    started = time.monotonic()
    answered, problem = burst(server, total, workers=4, timeout=3.0)
    ctx.transcript.add("burst", f"{answered} of {total} connections answered",
                       note=f"in {time.monotonic() - started:.2f} s, four at a time")

    # The few zombies a reaper that takes one child per SIGCHLD leaves
    # depend on timing here; test_coalesced_child_exits_are_all_reaped
    # provokes that case on purpose. One that never reaps leaves hundreds.
    def settled():
        return (len(procfs.zombies(pid)) < ZOMBIE_PILE
                and procfs.fd_count(pid) <= fds_before + slack
                and (model == "fork" or procfs.thread_count(pid) <= threads_before))
    wait_for(settled, 2.0)
    zombies = procfs.zombies(pid)
    fds_after = procfs.fd_count(pid)
    threads_after = procfs.thread_count(pid)
    ctx.expect_alive(server, f"during a burst of {total} connections")
    if len(zombies) >= ZOMBIE_PILE:
        raise GradeFailure("wrong output", f"after {answered} short connections the server has "
                           f"{plural(len(zombies), 'zombie child', 'zombie children')}: child "
                           "processes that exited and were never reaped with waitpid()" +
                           (f" (and the burst stopped: {problem})" if problem else ""))
    if fds_after > fds_before + slack:
        raise GradeFailure("wrong output", f"the server had {fds_before} descriptors open before "
                           f"{answered} short connections and {fds_after} after them: every "
                           "connection's descriptor must be closed, in every process that has "
                           "a copy" + (f" (and the burst stopped: {problem})" if problem else ""),
                           "\n".join(procfs.describe_fds(pid)))
    if model != "fork" and threads_after > threads_before:
        raise GradeFailure("wrong output", f"the server had {threads_before} threads before the "
                           f"burst and still {threads_after} 2 s after its last connection "
                           "closed: a thread must end (or go back to the pool) with its "
                           "connection")
    if problem:
        unanswered = "within" in problem
        raise GradeFailure("timeout" if unanswered else "wrong output",
                           f"a burst of {total} short connections, four at a time: {answered} "
                           f"were answered, then {problem}"
                           + (why_unanswered(server, model) if unanswered else ""))


# Where an accepted connection can get lost, by model: said when every
# connection was accepted and one was never answered, or when one that
# was accepted was never read.
LOST_AFTER_ACCEPT = {
    "thread": "A common cause: the thread reads its descriptor from a variable (or one struct "
              "for all) that the next accept() overwrites, so two threads serve one "
              "connection and none serves this one. Give each thread its own copy",
    "pool": "A common cause: the queue that hands connections to the workers loses one "
            "(its indexes must wrap around; a full queue must make the acceptor wait)",
    "fork": "Once accepted, it is a child's to serve: check that each child serves the "
            "descriptor it was forked for, and answers before it exits",
    "epoll": "The loop took it and never served it: is it watched (EPOLL_CTL_ADD) once accepted?",
}


def why_unanswered(server, model):
    """Why connections went unanswered, as far as the kernel tells: ones
    still in the listen queue were never accepted; if none is there, one
    was accepted and lost."""
    waiting = procfs.listen_queue((server.host, server.port))
    if not waiting:
        return (". Every connection had been accepted (none waits in the listen queue), so "
                f"this one was lost after accept(). {LOST_AFTER_ACCEPT[model]}")
    why = (" With EPOLLET on the listener, one event can stand for several connections: "
           "accept until accept() fails with EAGAIN" if model == "epoll" else "")
    return (f". {plural(waiting, 'connection', 'connections')} still "
            f"{'waits' if waiting == 1 else 'wait'} in the server's listen queue, never "
            f"accepted: the server stopped calling accept() while clients waited.{why}")


@graded_per_model(points=2, doc="06-concurrency.md#descriptors-are-inherited-so-both-sides-close",
                  models=("fork",))
def test_child_does_not_hold_the_listener(ctx, model):
    """server: a child serving a connection has closed its copy of the listening socket"""
    server, _ = start(ctx, model)
    pid = server.process.pid
    conn, _ = get(ctx, server, "notes.txt", "GET /notes.txt on a connection kept open")
    children = wait_for(lambda: procfs.children(pid), 2.0)
    if not children:
        raise GradeFailure("wrong output", "with a connection open, -m fork should have a child "
                           "process serving it; /proc shows none")
    listener = procfs.listener_inodes(server.port) & procfs.socket_inodes(pid)
    if not listener:
        raise GradeFailure("grader error", f"could not find the listening socket of port "
                           f"{server.port} in /proc")
    for child in children:
        if listener & procfs.socket_inodes(child):
            raise GradeFailure("wrong output", f"child process {child} serves one connection but "
                               "still holds the listening socket: close it in the child right "
                               "after fork() - a child that keeps it keeps the port open after "
                               "the server is gone, and could accept clients itself",
                               "\n".join(procfs.describe_fds(child)))
    conn.close()


# Words that only an error line holds: every errno's text (perror's),
# and how report_child() says a child ended badly.
ERROR_WORDS = sorted({os.strerror(code) for code in errno.errorcode} |
                     {"exited with status", "killed by signal"}, key=len, reverse=True)


def error_lines(text):
    """The lines of a program's stderr that report an error."""
    return [line for line in text.splitlines()
            if any(word in line for word in ERROR_WORDS)]


def child_endings(log):
    """(pids forked, {pid: (status or None, signal or None)} reaped,
    {pid: status} of the processes that called exit() or _exit()) from the
    shim's log (grader/shim/faultinject.c)."""
    forked, reaped, exited = [], {}, {}
    for line in log.splitlines():
        word, _, rest = line.partition(" ")
        fields = {}
        for part in rest.split():
            name, _, value = part.partition("=")
            if value.lstrip("-").isdigit():
                fields[name] = int(value)
        if word == "fork" and "child" in fields:
            forked.append(fields["child"])
        elif word == "reaped" and "pid" in fields:
            reaped[fields["pid"]] = (fields.get("status"), fields.get("signal"))
        elif word == "exit" and "pid" in fields:
            exited[fields["pid"]] = fields.get("status")
    return forked, reaped, exited


@graded_per_model(points=2, doc="06-concurrency.md#exit-or-_exit-in-the-child", models=("fork",))
def test_children_exit_cleanly(ctx, model):
    """server: every child exits with status 0 after its connection; no error on stderr"""
    # The shim injects nothing here (rate 0): it only logs each fork() and
    # how each child ended, as the parent's waitpid() learned it.
    server, _ = start(ctx, model, faults=Faults(rate=0))
    proc = server.process
    conn, _ = get(ctx, server, "notes.txt", "GET /notes.txt (kept alive)")
    conn.send(request("GET", "/data.json", ["Connection: close"]))
    conn.recv_until_eof(limit=1 << 16, timeout=3)
    conn.close()
    for name in ("index.html", "style.css"):
        problem = fetch_problem(server.host, server.port, name, 3.0)
        if problem:
            raise GradeFailure("wrong output", problem)
    half = ctx.connect(server)
    half.send(b"GET /notes.txt HTTP/1.1\r\nHo", note="half a head, then a close")
    half.close()
    silent = ctx.connect(server)
    silent.close()
    get(ctx, server, "notes.txt", "GET /notes.txt, closed by the client")[0].close()

    def ended():
        forked, reaped, _ = child_endings(proc.fault_text())
        return forked and all(pid in reaped for pid in forked)
    wait_for(ended, 3.0)
    forked, reaped, exited = child_endings(proc.fault_text())
    ctx.note(f"the server forked {plural(len(forked), 'child', 'children')} and reaped "
             f"{len(reaped)} of them")
    errors = error_lines(proc.stderr.tail().decode("utf-8", "replace"))
    said = f" The server wrote: {errors[0]!r}." if errors else ""
    for pid in forked:
        status, signo = reaped.get(pid, (0, None))
        if signo is not None:
            raise GradeFailure("crash", f"child {pid} of the server was killed by "
                               f"{describe_signal(signo)} after its connection.{said}")
        back_in_accept = any("accept" in line for line in errors)
        if status not in (0, None) and exited.get(pid) == status and not back_in_accept:
            raise GradeFailure("wrong exit code", f"child {pid} of the server called exit() "
                               f"or _exit() with status {status} after serving its "
                               "connection, though every client behaved: a child whose "
                               f"connection is done must end with _exit(0).{said}")
        if status not in (0, None):
            raise GradeFailure("wrong exit code", f"child {pid} of the server exited with "
                               f"status {status} after serving its connection, without an "
                               "exit() or _exit() call of its own: it returned from the code "
                               "that serves, and so ran the parent's code, back in the accept "
                               "loop without the listener it had closed. A child must end with "
                               f"_exit(0) once its connection is done.{said}")
    running = [pid for pid in procfs.children(proc.pid) if procfs.state(pid) not in (None, "Z")]
    if running:
        raise GradeFailure("wrong output", f"{plural(len(running), 'child', 'children')} "
                           "still ran 3 s after every client had closed its connection: a "
                           "child must exit once its connection is done")
    if errors:
        raise GradeFailure("wrong output", "the server wrote an error on stderr while every "
                           f"client behaved: {errors[0]!r}")


@graded_per_model(points=2, doc="06-concurrency.md#zombies-sigchld-and-waitpid",
                  models=("fork",))
def test_coalesced_child_exits_are_all_reaped(ctx, model):
    """server: 12 children that end at the same moment are all reaped (one SIGCHLD for all)"""
    count = 12
    server, _ = start(ctx, model)
    pid = server.process.pid
    conns = [get(ctx, server, "notes.txt", f"GET /notes.txt on kept-alive connection {i + 1} "
                 f"of {count}")[0] for i in range(count)]
    if len(wait_for(lambda: procfs.children(pid) if len(procfs.children(pid)) >= count
                    else [], 2.0)) < count:
        raise GradeFailure("wrong output", f"with {count} connections open, -m fork should have "
                           f"{count} children serving them; /proc shows "
                           f"{len(procfs.children(pid))}")
    # Stopped, the parent cannot take a signal: the children's SIGCHLDs
    # merge into one pending signal, as they do when children end at once.
    ctx.expect_alive(server, f"with {count} connections open")
    try:
        os.kill(pid, signal.SIGSTOP)
    except ProcessLookupError:
        ctx.expect_alive(server, f"with {count} connections open")
        raise
    ctx.transcript.add(SERVER, "stopped (SIGSTOP)", note=f"while its {count} children end")
    try:
        for conn in conns:
            conn.close()
        wait_for(lambda: len(procfs.zombies(pid)) >= count, 3.0)
        ended = len(procfs.zombies(pid))
    finally:
        try:
            os.kill(pid, signal.SIGCONT)
        except ProcessLookupError:
            pass
        ctx.transcript.add(SERVER, "continued (SIGCONT)", note="one SIGCHLD is pending for all")
    if ended < count:
        raise GradeFailure("wrong output", f"{count} clients closed their connections, but only "
                           f"{ended} of the {count} children exited within 3 s: a child must "
                           "exit when its connection ends")
    wait_for(lambda: not procfs.zombies(pid), 2.0)
    left = procfs.zombies(pid)
    if left:
        zombies = plural(len(left), "zombie child", "zombie children")
        raise GradeFailure("wrong output", f"{count} children ended while the server was "
                           f"stopped; 2 s after it went on, {zombies} of them remain. "
                           "Signals do not queue: the SIGCHLDs of children that end together "
                           "arrive as one, so one waitpid() per signal leaves the others "
                           "unreaped. Call waitpid(-1, &status, WNOHANG) in a loop until it "
                           "returns 0")


@graded_per_model(points=2, doc="06-concurrency.md#detach-or-join", models=("thread", "pool"))
def test_threads_end_with_their_connections(ctx, model):
    """server: threads follow the model (one per connection, or a pool) and none is left over"""
    # A pool of four serves four kept-alive connections at once.
    count = POOL_WORKERS if model == "pool" else 10
    server, _ = start(ctx, model)
    pid = server.process.pid
    # The baseline once the model runs: the announce line comes before
    # the model starts its pool.
    get(ctx, server, "notes.txt", "a first GET, before the others")[0].close()
    before = wait_for(lambda: procfs.thread_count(pid) == (1 + POOL_WORKERS if model == "pool"
                                                           else 1) and procfs.thread_count(pid),
                      2.0) or procfs.thread_count(pid)
    conns = [get(ctx, server, "notes.txt", f"GET /notes.txt on kept-alive connection {i + 1}")[0]
             for i in range(count)]
    during = procfs.thread_count(pid)
    ctx.note(f"threads: {before} before, {during} with {count} connections open")
    if model == "thread" and during < before + count:
        raise GradeFailure("wrong output", f"-m thread should serve each connection in a thread "
                           f"of its own: with {count} connections open the server has {during} "
                           f"threads, {before} before they opened")
    if model == "pool" and during > before:
        raise GradeFailure("wrong output", f"-w {POOL_WORKERS} is a pool started once: the "
                           f"server went from {before} to {during} threads when {count} "
                           "connections opened")
    for conn in conns:
        conn.close()
    after = wait_for(lambda: procfs.thread_count(pid) <= before and procfs.thread_count(pid),
                     3.0) or procfs.thread_count(pid)
    if after > before:
        raise GradeFailure("wrong output", f"{count} connections closed, but 3 s later the server "
                           f"still has {after} threads ({before} before they opened): a "
                           "connection's thread must end when its connection does")


# -- timeouts and stopping ------------------------------------------------------------------

# The event loop's timeouts are its step 6; the other models have them
# from http_session_serve() as soon as they serve.
@graded_per_model(points=2, doc="06-concurrency.md#idle-connections-and-timeouts",
                  steps={**MODEL_STEP, "epoll": 6})
def test_idle_connections_time_out(ctx, model):
    """server: with -t 1, an idle keep-alive connection and a silent one are closed in time"""
    server, _ = start(ctx, model, extra=["-t", "1"])
    silent = ctx.connect(server, timeout=4)
    silent_since = time.monotonic()
    idle, _ = get(ctx, server, "notes.txt", "GET /notes.txt before going idle", timeout=4)
    idle_since = time.monotonic()
    for conn, since, what in [(idle, idle_since, "a kept-alive connection idle after a response"),
                              (silent, silent_since, "a connection that never sent a byte")]:
        left = since + 3.5 - time.monotonic()
        try:
            conn.recv_until_eof(limit=0, timeout=max(left, 0.1))
        except GradeFailure as failure:
            if failure.kind != "timeout":
                raise
            if model == "fork" and parent_holds(server, conn):
                raise GradeFailure("timeout", f"{what} was still open 3.5 s later, and the "
                                   "server's parent process still holds its copy of the "
                                   "connection's socket. A connection ends only when every "
                                   "copy is closed: after fork(), the parent must close() the "
                                   "connected socket, or the child's close() cannot end it"
                                   ) from None
            raise GradeFailure("timeout", f"{what} was still open 3.5 s later; with -t 1 the "
                               "server should close it after about 1 s") from None
        waited = time.monotonic() - since
        ctx.note(f"{what}: closed after {waited:.2f} s")
        if waited < 0.5:
            raise GradeFailure("wrong output", f"{what} was closed after only {waited:.2f} s; "
                               "with -t 1 it should stay open about 1 s")


def parent_holds(server, conn):
    """True if the server's own process (not a child) holds the server's
    end of conn."""
    end = procfs.connection_end((server.host, server.port), conn.sock.getsockname()[:2])
    return end is not None and end[1] in procfs.socket_inodes(server.process.pid)


def still_accepting(server):
    """True if a new client is answered; False if it is refused, reset or
    left unanswered for a moment."""
    try:
        got = raw_fetch(server.host, server.port, request("GET", "/notes.txt"), 0.3)
    except (socket.timeout, OSError):
        return False
    return got.startswith(b"HTTP/1.1 ")


@graded_per_model(points=3, doc="06-concurrency.md#stopping-gracefully", steps=STOP_STEP)
def test_sigterm_finishes_responses_in_flight(ctx, model):
    """server: SIGTERM: stop accepting, finish the 8 MiB in flight, close idle ones, exit 0"""
    server, data = start(ctx, model, big=True)
    pid = server.process.pid
    idle, _ = get(ctx, server, "notes.txt", "GET /notes.txt on a connection left idle")
    # A client that got its "Connection: close" response and the end of
    # the stream, but has not closed its side yet: nothing is in flight.
    done = ctx.connect(server)
    done.send(b"GET /notes.txt HTTP/1.0\r\n\r\n")
    done.recv_until_eof(limit=1 << 16, timeout=3)
    slow = stalling_conn(ctx, server, timeout=10)
    slow.send(request("GET", "/big.bin"))
    head, first = read_head(slow, "GET /big.bin")
    check_big_head(head, "GET /big.bin")
    children = procfs.children(pid)
    server.process.signal_group(signal.SIGTERM)
    ctx.transcript.add(SERVER, "got SIGTERM", note="with an 8 MiB response in flight and "
                       "an idle keep-alive connection")
    if wait_for(lambda: not still_accepting(server), 2.0, step=0.05) is False:
        raise GradeFailure("wrong output", "2 s after SIGTERM the server still answers new "
                           "clients: it should stop accepting at once (close the listening "
                           "socket) and only finish what is in flight")
    try:
        idle.recv_until_eof(limit=0, timeout=3)
    except GradeFailure as failure:
        if failure.kind != "timeout":
            raise
        raise GradeFailure("timeout", "an idle keep-alive connection was still open 3 s after "
                           "SIGTERM: on a stop, close the connections that wait between "
                           "requests") from None
    body = first + slow.recv_exactly(BIG_SIZE - len(first), timeout=10,
                                     waiting_for="the rest of the 8 MiB response after SIGTERM")
    expect_bytes(data, body, "the 8 MiB response in flight when SIGTERM came",
                 stream_ended=slow.eof)
    slow.recv_until_eof(limit=0, timeout=3)
    code = server.process.wait(3)
    if code is None:
        raise GradeFailure("timeout", "the response in flight was finished, but 3 s later "
                           "the server still ran after SIGTERM. One client left is done (it "
                           "had its HTTP/1.0 response and the end of the stream) but keeps its "
                           "socket open: a stop must not wait for such a client to close")
    ctx.transcript.add(SERVER, describe_status(code))
    if code != 0:
        raise GradeFailure("wrong exit code", f"after SIGTERM the server should exit with status "
                           f"0, but it {describe_status(code)}")
    left = [child for child in children + procfs.children(os.getpid())
            if procfs.state(child) not in (None, "Z") and child != pid]
    if left:
        raise GradeFailure("wrong output", f"the server exited but left {len(left)} process(es) "
                           f"running ({', '.join(map(str, left))}): wait for every child "
                           "before exiting")


# -- memory and threads, checked by tools ------------------------------------------------------

def mixed_traffic(ctx, server, what):
    """Keep-alive, pipelining, a 404, a redirect, a file of several send
    rounds read whole and one reset half-way, on a few connections at once."""
    conns = []
    for i in range(3):
        conn, reader = open_reader(ctx, server, timeout=10)
        conn.send(request("GET", "/index.html") + request("GET", "/missing") +
                  request("HEAD", "/sub") + request("GET", "/medium.bin"))
        ctx.wait_admitted(server, conn.sock)
        conns.append((conn, reader))
    rude = stalling_conn(ctx, server, rcvbuf=RUDE_RCVBUF)
    rude.send(request("GET", "/medium.bin"))
    rude.recv_exactly(1000)
    rude.reset()
    for i, (conn, reader) in enumerate(conns):
        for method, status in [("GET", 200), ("GET", 404), ("HEAD", 301), ("GET", 200)]:
            reader.request(method)
            check_status(reader.response(f"connection {i + 1}: a pipelined response {what}",
                                         timeout=20), status, f"a pipelined request {what}")
        conn.close()


def expect_clean_exit(ctx, server, what):
    code = ctx.stop_server(server, grace=10)
    if code != 0:
        how = describe_status(code) if code is not None else "kept running"
        raise GradeFailure("wrong exit code", f"{what}, the server should exit with status 0 on "
                           f"SIGTERM, but it {how}")


@graded_per_model(points=3, doc="06-concurrency.md#checklist-for-lab-06", timeout=60,
                  models=("fork", "epoll"), steps=STOP_STEP)
def test_valgrind(ctx, model):
    """valgrind: no memory errors or leaks, in the parent and in every child"""
    server, _ = start(ctx, model, valgrind=True)
    mixed_traffic(ctx, server, "under valgrind")
    expect_clean_exit(ctx, server, "under valgrind")
    ctx.check_valgrind(server.process)


@graded_per_model(points=4, doc="06-concurrency.md#data-races-and-threadsanitizer", timeout=120,
                  models=("thread", "pool"), steps=STOP_STEP)
def test_thread_sanitizer(ctx, model):
    """tsan: ThreadSanitizer finds no data race while 20 clients are served at once"""
    server, _ = start(ctx, model, tsan=True)
    clients, done, errors = 20, [], []

    def client(i):
        try:
            name = list(FILES)[i % len(FILES)]
            for _ in range(3):
                problem = fetch_problem(server.host, server.port, name, 10)
                if problem:
                    errors.append(problem)
                    return
            done.append(i)
        except Exception as exc:  # reported below, in the test's thread
            errors.append(str(exc))

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    mixed_traffic(ctx, server, "under ThreadSanitizer")
    for t in threads:
        t.join(timeout=30)
    ctx.check_sanitizer(server.process)
    if errors:
        raise GradeFailure("wrong output", f"under ThreadSanitizer, {len(errors)} of {clients} "
                           f"clients failed; the first: {errors[0]}")
    expect_clean_exit(ctx, server, "built with ThreadSanitizer")
    ctx.check_sanitizer(server.process)


@graded_per_model(points=2, doc="06-concurrency.md#checklist-for-lab-06", timeout=40,
                  steps=STOP_STEP)
def test_sanitizers(ctx, model):
    """sanitizers: AddressSanitizer and UBSan find nothing, and no leak at exit"""
    server, _ = start(ctx, model, sanitize=True)
    mixed_traffic(ctx, server, "under the sanitizers")
    conns = [get(ctx, server, "notes.txt", f"GET /notes.txt {i + 1} of 3, kept open")[0]
             for i in range(3)]
    expect_clean_exit(ctx, server, "built with the sanitizers, with three idle connections open")
    ctx.check_sanitizer(server.process)
    for conn in conns:
        conn.close()
