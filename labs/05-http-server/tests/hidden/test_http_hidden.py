"""Lab 05 hidden tests: variations of the public ones with other data,
splits and seeds, so that a program tuned to the public tests' exact
inputs does not pass. Instructors only: handouts leave this folder out.

Self-contained: pytest puts tests/hidden on sys.path, not tests/, so the
few helpers needed are repeated here; responses are read through h11
(grader.http).
"""

import os
import socket
import threading
from urllib.parse import quote

from grader import GradeFailure, expect_bytes, graded, split_sizes
from grader.http import media_type, open_reader

SERVER = "http_server"
MIB = 1 << 20


def request(method, target, headers=(), version="HTTP/1.1", body=b""):
    """The bytes of a request, with Host (HTTP/1.1) and Content-Length."""
    lines = [f"{method} {target} {version}"]
    if version == "HTTP/1.1":
        lines.append("Host: hidden.lab05")
    lines += list(headers)
    if body or method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def write_tree(ctx, root, files):
    for name, content in files.items():
        ctx.write_file(os.path.join(root, *name.split("/")), content)


def start(ctx, files, extra=()):
    root = os.path.join(ctx.tmpdir, "site")
    ctx.make_dirs(root)
    write_tree(ctx, root, files)
    return ctx.start_server(SERVER, ["-p", "0", "-d", root, *extra])


def check(resp, status, what, body=None, mime=None):
    if resp.status != status:
        raise GradeFailure("wrong output", f"{what}: expected status {status}, got "
                           f"{resp.status} {resp.reason}", resp.describe())
    if resp.header("content-length") is None:
        raise GradeFailure("wrong output", f"{what}: every response must carry Content-Length",
                           resp.describe())
    if body is not None:
        expect_bytes(body, resp.body, f"the body of {what}")
    if mime is not None and media_type(resp) != mime:
        raise GradeFailure("wrong output", f"{what}: Content-Type should be {mime}, it was "
                           f"{resp.header('content-type')!r}", resp.describe())


# name -> (content, media type); names that need percent-encoding in a URL,
# several folders deep.
NESTED = {
    "docs/2024 report/summary.txt": (b"the summary, two folders down\n", "text/plain"),
    "docs/2024 report/data/figures #1.json": (b'{"figure": 1}\n', "application/json"),
    "docs/2024 report/data/100% done?.txt": (b"percent, question mark\n", "text/plain"),
    "docs/caf\u00e9/men\u00fc.html": ("<p>caf\u00e9</p>\n".encode(), "text/html"),
    "docs/caf\u00e9/index.html": (b"<p>the cafe index</p>\n", "text/html"),
    "a/b/c/d/e/deep.css": (b"p { margin: 0 }\n", "text/css"),
    "a/b/c/d/e/index.html": (b"<p>five folders down</p>\n", "text/html"),
    "plus+and&amp;.svg": (b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n", "image/svg+xml"),
    "UPPER/IMAGE.PNG": (b"\x89PNG\r\n\x1a\nnot really", "image/png"),
}


def encode_path(name, rng, lower_hex):
    """The URL path of a file: every byte that needs it percent-encoded
    (UTF-8, space, '#', '%', '?'), and a few letters that do not (%61 is
    'a' too), in upper or lower case hex."""
    out = []
    for b in name.encode():
        c = chr(b)
        plain = c.isascii() and (c.isalnum() or c in "/-._~+&;")
        if not plain or (c.isalpha() and rng.random() < 0.15):
            digits = f"{b:02X}"
            out.append("%" + (digits.lower() if lower_hex else digits))
        else:
            out.append(c)
    return "/" + "".join(out)


@graded(points=5, doc="05-http.md#from-target-to-file", step=5)
def test_hidden_nested_tree_percent_names(ctx):
    """server (hidden): another docroot: nested folders, names needing percent-encoding"""
    rng = ctx.rng()
    server = start(ctx, {name: content for name, (content, _) in NESTED.items()})
    conn, reader = open_reader(ctx, server)
    names = list(NESTED)
    rng.shuffle(names)
    for i, name in enumerate(names):
        content, mime = NESTED[name]
        target = encode_path(name, rng, lower_hex=i % 2 == 1)
        conn.send(request("GET", target))
        reader.request("GET")
        check(reader.response(f"GET {target}"), 200, f"GET {target} (the file '{name}')",
              content, mime)
    cases = [
        ("/a/b/c/d/e/", "a/b/c/d/e/index.html"),
        ("/a/./b//c/d/../d/e/deep.css?x=/../../", "a/b/c/d/e/deep.css"),
        ("/docs/caf%C3%A9/", "docs/caf\u00e9/index.html"),
        ("/docs/2024%20report/data/../summary.txt", "docs/2024 report/summary.txt"),
    ]
    for target, name in cases:
        conn.send(request("GET", target))
        reader.request("GET")
        content, mime = NESTED[name]
        check(reader.response(f"GET {target}"), 200, f"GET {target} (the file '{name}')",
              content, mime)
    for target in ("/a/b/c/d/e", "/docs/caf%C3%A9"):
        conn.send(request("GET", target))
        reader.request("GET")
        resp = reader.response(f"GET {target} (a folder without its slash)")
        check(resp, 301, f"GET {target} (a folder without its slash)")
        location = resp.header("location") or ""
        if not location.split("?")[0].lower().endswith(target.rsplit("/", 1)[1].lower() + "/"):
            raise GradeFailure("wrong output", f"the 301 for {target} needs a Location ending "
                               f"in '{target.rsplit('/', 1)[1]}/', it was {location!r}",
                               resp.describe())
    # A bad escape, a wrong case, a file taken for a folder, a climb out.
    for target in ("/docs/2024%2report/summary.txt",
                   "/docs/2024%20report/Summary.txt", "/a/b/c/d/e/deep.css/",
                   "/a/b/c/d/e/../../../../../../deep.css"):
        conn.send(request("GET", target))
        reader.request("GET")
        resp = reader.response(f"GET {target}")
        if resp.status not in (400, 403, 404):
            raise GradeFailure("wrong output", f"GET {target} names no file: expected 400, 403 "
                               f"or 404, got {resp.status} {resp.reason}", resp.describe())
        if resp.header("connection") and "close" in resp.header("connection").lower():
            break   # the server may close after a 400; nothing more to ask on it


def send_while_reading(conn, data, sizes, note, read_responses):
    """Sends data in pieces from a thread while read_responses() reads the
    answers: a client that sent everything first could fill the buffers
    of both directions (large echoes) and stall."""
    failure = []

    def sender():
        try:
            conn.send_pieces(data, sizes, note=note)
        except Exception as exc:  # reported below, in the test's thread
            failure.append(exc)
    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    try:
        read_responses()
    finally:
        if thread.is_alive():
            # The test failed early: unblock the sender, the test is over.
            try:
                conn.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        thread.join(timeout=5)
    if failure:
        raise failure[0]


def pipeline_plan(rng, files, count):
    """(method, target, request bytes, expected status, expected body) x count."""
    plan = []
    names = sorted(files)
    for _ in range(count):
        kind = rng.randrange(5)
        if kind in (0, 1):
            name = rng.choice(names)
            method = "GET" if kind == 0 else "HEAD"
            target = "/" + quote(name)
            plan.append((method, target, request(method, target), 200,
                         files[name] if method == "GET" else b""))
        elif kind == 2:
            body = rng.randbytes(rng.choice([0, 1, 17, 1000, 6000]))
            plan.append(("POST", "/echo", request("POST", "/echo",
                                                  ["Content-Type: application/x-hidden"],
                                                  body=body), 200, body))
        elif kind == 3:
            target = f"/nothing-{rng.randrange(1000)}.txt"
            plan.append(("GET", target, request("GET", target), 404, None))
        else:
            target = f"/nothing-{rng.randrange(1000)}.txt"
            plan.append(("HEAD", target, request("HEAD", target), 404, b""))
    return plan


@graded(points=5, doc="05-http.md#keep-alive-and-pipelining", step=8)
def test_hidden_pipelined_mixed_random_splits(ctx):
    """server (hidden): 40 pipelined GET/HEAD/POST requests cut at random points"""
    rng = ctx.rng()
    files = {f"f{i}.{ext}": rng.randbytes(rng.randint(0, 3000))
             for i, ext in enumerate(["txt", "bin", "json", "css", "html", "js"])}
    server = start(ctx, files)
    for round_no, max_piece in enumerate((rng.randint(3, 40), rng.randint(500, 5000)), 1):
        plan = pipeline_plan(rng, files, 20)
        # The last request asks to close: the server must answer it, then close.
        method, target, raw, status, body = plan[-1]
        raw = raw.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
        plan[-1] = (method, target, raw, status, body)
        data = b"".join(p[2] for p in plan)
        conn, reader = open_reader(ctx, server, timeout=5)
        sizes = split_sizes(len(data), rng, max_piece)

        def read_responses():
            for i, (method, target, _, status, body) in enumerate(plan):
                reader.request(method, close=i == len(plan) - 1)
                what = f"round {round_no}, response {i + 1} of {len(plan)} ({method} {target})"
                check(reader.response(what), status, what, body)
            reader.expect_close("the request with 'Connection: close'")
        send_while_reading(conn, data, sizes, f"round {round_no}: {len(plan)} requests in "
                           f"pieces of 1..{max_piece} bytes (seed {ctx.seed})", read_responses)


@graded(points=5, doc="05-http.md#sending-a-large-file", timeout=40, step=7)
def test_hidden_large_file_head_then_get(ctx):
    """server (hidden): HEAD, then GET, of a 7 MiB file of odd size, checked by h11"""
    rng = ctx.rng()
    size = 7 * MIB + rng.randint(1, 65535)
    data = rng.randbytes(size)
    name = "big data/archive v2.BIN"
    server = start(ctx, {name: data, "tiny.txt": b"t\n"})
    target = "/big%20data/archive%20v2.BIN"
    conn, reader = open_reader(ctx, server, timeout=15)
    conn.send(request("HEAD", target))
    reader.request("HEAD")
    head = reader.response(f"HEAD {target}")
    check(head, 200, f"HEAD {target}", b"", "application/octet-stream")
    if head.header("content-length") != str(size):
        raise GradeFailure("wrong output", f"HEAD of a {size}-byte file: Content-Length should "
                           f"be {size}, it was {head.header('content-length')!r}", head.describe())
    # If HEAD sent a body, h11 reads it as the start of this next response.
    conn.send(request("GET", target) + request("HEAD", "/tiny.txt"))
    reader.request("GET")
    got = reader.response(f"GET {target} after the HEAD", timeout=20)
    check(got, 200, f"GET {target}", mime="application/octet-stream")
    expect_bytes(data, got.body, f"the {size}-byte file (seed {ctx.seed})")
    reader.request("HEAD")
    check(reader.response("HEAD /tiny.txt pipelined after the big GET"), 200,
          "HEAD /tiny.txt after the big GET", b"", "text/plain")
    # The same file again over HTTP/1.0: the server closes after it.
    conn, reader = open_reader(ctx, server, timeout=15)
    conn.send(request("GET", target, version="HTTP/1.0"))
    reader.request("GET", close=True)
    got = reader.response(f"GET {target} HTTP/1.0", timeout=20)
    check(got, 200, f"GET {target} HTTP/1.0")
    if got.body != data:
        expect_bytes(data, got.body, f"the {size}-byte file over HTTP/1.0")
    reader.expect_close("the response to an HTTP/1.0 request")


def chunked_request(rng, target, body):
    """A chunked POST of body: random chunk sizes, hex in either case,
    sometimes an extension, sometimes trailer fields."""
    head = (f"POST {target} HTTP/1.1\r\nHost: hidden.lab05\r\n"
            "Content-Type: application/x-hidden\r\nTransfer-Encoding: chunked\r\n\r\n")
    out = bytearray(head.encode())
    offset = 0
    while offset < len(body):
        size = min(len(body) - offset, rng.randint(1, 3000))
        digits = f"{size:x}" if rng.random() < 0.5 else f"{size:X}"
        ext = ";part=%d" % offset if rng.random() < 0.3 else ""
        out += f"{digits}{ext}\r\n".encode() + body[offset:offset + size] + b"\r\n"
        offset += size
    out += b"0\r\n"
    if rng.random() < 0.5:
        out += b"X-Hidden-Trailer: yes\r\n"
    return bytes(out + b"\r\n")


@graded(points=4, doc="05-http.md#chunked-request-bodies", step=8)
def test_hidden_chunked_bodies_pipelined(ctx):
    """server (hidden): chunked POSTs among GETs, cut at random; chunked not last -> 400"""
    rng = ctx.rng()
    files = {"page.txt": rng.randbytes(500)}
    server = start(ctx, files)
    plan = []
    for _ in range(12):
        if rng.random() < 0.5:
            body = rng.randbytes(rng.choice([1, 15, 16, 255, 4000, 20000]))
            plan.append(("POST", "/echo", chunked_request(rng, "/echo", body), 200, body))
        elif rng.random() < 0.5:
            body = rng.randbytes(rng.randint(1, 2000))
            plan.append(("POST", "/page.txt", chunked_request(rng, "/page.txt", body), 405,
                         None))
        else:
            plan.append(("GET", "/page.txt", request("GET", "/page.txt"), 200,
                         files["page.txt"]))
    data = b"".join(p[2] for p in plan)
    conn, reader = open_reader(ctx, server, timeout=5)

    def read_responses():
        for i, (method, target, _, status, body) in enumerate(plan):
            reader.request(method)
            what = f"response {i + 1} of {len(plan)} ({method} {target}, seed {ctx.seed})"
            resp = reader.response(what)
            if resp.status != status:
                raise GradeFailure("wrong output", f"{what}: expected status {status}, got "
                                   f"{resp.status} {resp.reason}", resp.describe())
            if body is not None:
                expect_bytes(body, resp.body, f"the body of {what}")
    send_while_reading(conn, data, split_sizes(len(data), rng, 700),
                       f"{len(plan)} requests in random pieces (seed {ctx.seed})",
                       read_responses)
    conn.close()

    for coding in ("gzip", "chunked, gzip", "chunked, identity"):
        conn, reader = open_reader(ctx, server, timeout=5)
        conn.send(request("POST", "/echo", [f"Transfer-Encoding: {coding}"])
                  .replace(b"Content-Length: 0\r\n", b"") + b"5\r\nhello\r\n0\r\n\r\n")
        reader.request("POST", close=True)
        what = f"POST /echo with 'Transfer-Encoding: {coding}' (chunked is not the last coding)"
        resp = reader.response(what)
        if resp.status != 400:
            raise GradeFailure("wrong output", f"{what}: RFC 9112 section 6.3 says 400, then "
                               f"close; got {resp.status} {resp.reason}", resp.describe())
        reader.expect_close(f"the 400 for {what}")
        conn.close()
