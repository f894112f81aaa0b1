"""Lab 05 graded tests: the HTTP/1.1 static-file server and http_get.

Every response the server sends is read through h11, a strict HTTP/1.1
parser written independently of this course (grader/http.py): a framing
or syntax mistake fails with the RFC 9112 rule it breaks, in words
(grader/explain.py), and h11's message. Real clients (curl, headless
Chromium) fetch from the server too. The client, http_get, is tested
against servers inside the grader that send responses in odd pieces.
"""

import os
import re
import shutil
import signal
import socket
import struct
import threading
import time
import zlib
from email.utils import parsedate_to_datetime

import pytest

from grader import (Faults, GradeFailure, Limits, describe_status, expect_bytes, graded,
                    split_sizes)
from grader.http import HttpPeer, HttpReader, check_status, media_type, open_reader
from grader.transcripts import preview

SERVER = "http_server"
CLIENT = "http_get"
PARSE_UNITS = "test_http_parse"
PATH_UNITS = "test_http_path"
MIB = 1 << 20
DOC = "05-http.md"
README = "labs/05-http-server/README.md"
IMF_FIXDATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|"
                         r"Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d:\d\d GMT$")
SECRET = b"TOP-SECRET: this file is outside the document root\n"

INDEX_HTML = (b"<!DOCTYPE html>\n<html><head><title>Lab 05</title>"
              b"<link rel=\"stylesheet\" href=\"style.css\"></head>\n"
              b"<body><h1>It works</h1><p id=\"result\">waiting</p>"
              b"<img id=\"pic\" src=\"image.png\" alt=\"a blue rectangle\">"
              b"<script src=\"app.js\"></script></body></html>\n")
STYLE_CSS = b"h1 { color: rgb(255, 0, 0); }\n"
APP_JS = (b"window.addEventListener('load', function () {\n"
          b"  var h1 = document.querySelector('h1');\n"
          b"  var img = document.getElementById('pic');\n"
          b"  document.getElementById('result').textContent =\n"
          b"    'css=' + getComputedStyle(h1).color +\n"
          b"    ' img=' + img.naturalWidth + 'x' + img.naturalHeight + ' script=ran';\n"
          b"});\n")


def png(width, height, rgb):
    """A small valid PNG of one colour."""
    raw = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    return (b"\x89PNG\r\n\x1a\n"
            + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


IMAGE_PNG = png(3, 2, (0, 0, 255))

# name -> (content, expected media type)
FILES = {
    "index.html": (INDEX_HTML, "text/html"),
    "style.css": (STYLE_CSS, "text/css"),
    "app.js": (APP_JS, "text/javascript"),
    "data.json": (b'{"lab": 5, "ok": true}\n', "application/json"),
    "notes.txt": (b"plain text\n", "text/plain"),
    "image.png": (IMAGE_PNG, "image/png"),
    "photo.JPG": (b"\xff\xd8\xff\xe0fake jpeg\xff\xd9", "image/jpeg"),
    "anim.gif": (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "image/gif"),
    "logo.svg": (b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n", "image/svg+xml"),
    "doc.pdf": (b"%PDF-1.4\n%%EOF\n", "application/pdf"),
    "mod.wasm": (b"\x00asm\x01\x00\x00\x00", "application/wasm"),
    "blob.bin": (bytes(range(256)), "application/octet-stream"),
    "README": (b"no extension\n", "application/octet-stream"),
    "hello world.txt": (b"a name with a space\n", "text/plain"),
    "empty.txt": (b"", "text/plain"),
    "sub/index.html": (b"<p>sub index</p>\n", "text/html"),
    "sub/page.html": (b"<p>sub page</p>\n", "text/html"),
    "nodex/file.txt": (b"in a folder without index.html\n", "text/plain"),
}


def make_docroot(ctx):
    """The document root for a test, with a secret file just outside it."""
    root = os.path.join(ctx.tmpdir, "www")
    for name, (content, _) in FILES.items():
        ctx.write_file(os.path.join(root, name), content)
    outside = os.path.join(ctx.tmpdir, "private")
    ctx.write_file(os.path.join(ctx.tmpdir, "secret.txt"), SECRET)
    ctx.write_file(os.path.join(outside, "secret.txt"), SECRET)
    ctx.symlink(os.path.join(ctx.tmpdir, "secret.txt"), os.path.join(root, "link-out.txt"))
    ctx.symlink(outside, os.path.join(root, "dir-out"))
    ctx.symlink("notes.txt", os.path.join(root, "link-in.txt"))
    return root


def start(ctx, extra=(), valgrind=False, limits=None):
    root = make_docroot(ctx)
    server = ctx.start_server(SERVER, ["-p", "0", "-d", root, *extra], valgrind=valgrind,
                              limits=limits)
    return server


def request(method, target, headers=None, version="HTTP/1.1", body=b""):
    """The bytes of a request; Host is added unless headers has one."""
    headers = list(headers or [])
    if not any(h.lower().startswith("host:") for h in headers) and version == "HTTP/1.1":
        headers.insert(0, "Host: lab05.test")
    if body and not any(h.lower().startswith("content-length:") for h in headers):
        headers.append(f"Content-Length: {len(body)}")
    head = f"{method} {target} {version}\r\n" + "".join(h + "\r\n" for h in headers) + "\r\n"
    return head.encode("latin-1") + body


def exchange(ctx, server, raw, method, what, close=False):
    """Sends one request on a new connection and reads its response."""
    conn, reader = open_reader(ctx, server)
    conn.send(raw)
    reader.request(method, close=close)
    return conn, reader, reader.response(what)


def check_common_headers(resp, what):
    """Content-Length, Date (IMF-fixdate, about now) and Server."""
    if resp.header("content-length") is None:
        raise GradeFailure("wrong output", f"{what}: every response must carry Content-Length",
                           resp.describe())
    date = resp.header("date")
    if date is None or not IMF_FIXDATE.match(date):
        raise GradeFailure("wrong output", f"{what}: the Date header must be an IMF-fixdate "
                           f"like 'Sun, 06 Nov 1994 08:49:37 GMT'; it was {date!r}",
                           resp.describe())
    age = abs(time.time() - parsedate_to_datetime(date).timestamp())
    if age > 3600:
        raise GradeFailure("wrong output", f"{what}: the Date header ({date}) is {age:.0f} s "
                           "away from now: use the current time in GMT (gmtime)")
    if not resp.header("server"):
        raise GradeFailure("wrong output", f"{what}: the response has no Server header",
                           resp.describe())


def check_file(resp, name, what):
    content, mime = FILES[name]
    check_status(resp, 200, what)
    check_common_headers(resp, what)
    expect_bytes(content, resp.body, f"body of {what}")
    if media_type(resp) != mime:
        raise GradeFailure("wrong output", f"{what}: Content-Type should be {mime} (from the "
                           f"extension), it was {resp.header('content-type')!r}")


def check_error_page(resp, status, what):
    check_status(resp, status, what)
    check_common_headers(resp, what)
    if media_type(resp) != "text/html" or b"<" not in resp.body:
        raise GradeFailure("wrong output", f"{what}: an error response needs a small HTML "
                           f"body (Content-Type text/html); got {resp.header('content-type')!r} "
                           f"and {len(resp.body)} bytes")


# -- unit tests of the pure pieces ------------------------------------------------

@graded(points=6, doc="05-http.md#the-request-byte-by-byte", step=1)
def test_unit_request_parser(ctx):
    """unit: http_parse_request, with every split point and bad input, and http_find_header"""
    ctx.run_unit_tests(PARSE_UNITS, "request")


@graded(points=1, doc="05-http.md#keep-alive-and-pipelining", step=5)
def test_unit_has_token(ctx):
    """unit: http_has_token finds a token in a comma-separated header value"""
    ctx.run_unit_tests(PARSE_UNITS, "token")


@graded(points=4, doc="05-http.md#chunked-request-bodies", step=8)
def test_unit_request_framing(ctx):
    """unit: http_parse_content_length and http_request_framing, by RFC 9112"""
    ctx.run_unit_tests(PARSE_UNITS, "framing")


@graded(points=4, doc="05-http.md#chunked-transfer-coding", step=8)
def test_unit_chunked(ctx):
    """unit: http_decode_chunked, fed in pieces of every size"""
    ctx.run_unit_tests(PARSE_UNITS, "chunked")


@graded(points=3, doc="05-http.md#from-target-to-file", step=3)
def test_unit_percent_decode(ctx):
    """unit: http_percent_decode"""
    ctx.run_unit_tests(PATH_UNITS, "percent_decode")


@graded(points=4, doc="05-http.md#path-traversal", step=3)
def test_unit_normalize_path(ctx):
    """unit: http_normalize_path removes dot segments and refuses to climb"""
    ctx.run_unit_tests(PATH_UNITS, "normalize")


@graded(points=2, doc="05-http.md#content-type", step=3)
def test_unit_mime(ctx):
    """unit: http_mime_type picks the type from the extension"""
    ctx.run_unit_tests(PATH_UNITS, "mime")


@graded(points=2, doc="05-http.md#the-response-byte-by-byte", step=10)
def test_unit_response_parser(ctx):
    """unit: http_parse_response reads a status line and its headers"""
    ctx.run_unit_tests(PARSE_UNITS, "response")


# -- the server: a first answer ------------------------------------------------------

@graded(points=4, doc="05-http.md#the-response-byte-by-byte", step=2)
def test_answers_200(ctx):
    """server: answers a GET with a whole 200 response: status line, Date, Server, Content-Length"""
    server = start(ctx)
    # Any 200 will do here (step 2 answers every request with a page of
    # its own): h11 checks the framing, check_common_headers the headers.
    _, _, resp = exchange(ctx, server, request("GET", "/"), "GET", "the response to GET /")
    check_status(resp, 200, "GET /")
    check_common_headers(resp, "GET /")
    if resp.header("content-length") != str(len(resp.body)):
        raise GradeFailure("wrong output", "Content-Length must count the bytes of the body: "
                           f"it said {resp.header('content-length')}, the body had "
                           f"{len(resp.body)}", resp.describe())


# -- the server: files -------------------------------------------------------------

@graded(points=5, doc="05-http.md#an-annotated-exchange", step=4)
def test_get_index(ctx):
    """server: GET / answers 200 with index.html, Date, Server and Content-Length"""
    server = start(ctx)
    _, _, resp = exchange(ctx, server, request("GET", "/"), "GET", "the response to GET /")
    check_file(resp, "index.html", "GET /")
    if resp.header("content-length") != str(len(INDEX_HTML)):
        raise GradeFailure("wrong output", "Content-Length of GET / should be "
                           f"{len(INDEX_HTML)}, it was {resp.header('content-length')}")


@graded(points=5, doc="05-http.md#content-type", step=5)
def test_get_files_types(ctx):
    """server: serves every file type with its Content-Type, on one connection"""
    server = start(ctx)
    conn, reader = open_reader(ctx, server)
    for name in FILES:
        if name.endswith("index.html") or " " in name:
            continue
        conn.send(request("GET", "/" + name))
        reader.request("GET")
        check_file(reader.response(f"GET /{name}"), name, f"GET /{name}")


@graded(points=4, doc="05-http.md#methods", step=7)
def test_head(ctx):
    """server: HEAD sends GET's headers and no body, for files, errors and redirects"""
    server = start(ctx)
    conn, reader = open_reader(ctx, server)
    conn.send(request("GET", "/style.css"))
    reader.request("GET")
    got = reader.response("GET /style.css")
    conn.send(request("HEAD", "/style.css"))
    reader.request("HEAD")
    head = reader.response("HEAD /style.css")
    check_status(head, 200, "HEAD /style.css")
    for name in ("content-length", "content-type"):
        if head.header(name) != got.header(name):
            raise GradeFailure("wrong output", f"HEAD /style.css: {name} should be the same "
                               f"as for GET ({got.header(name)!r}), it was {head.header(name)!r}")
    # A body after HEAD's head would be read as the start of the next response.
    conn.send(request("GET", "/notes.txt"))
    reader.request("GET")
    check_file(reader.response("GET /notes.txt after the HEAD (a body sent for HEAD would "
                               "show up here)"), "notes.txt", "GET /notes.txt after HEAD")
    # The same for the pages the server makes up: an error and a redirect.
    for target, status in (("/missing.html", 404), ("/sub", 301)):
        conn.send(request("HEAD", target) + request("GET", "/data.json"))
        reader.request("HEAD")
        check_status(reader.response(f"HEAD {target}"), status, f"HEAD {target}")
        reader.request("GET")
        check_file(reader.response(f"GET /data.json right after HEAD {target} (the {status} "
                                   "page's body, sent for a HEAD, would show up here)"),
                   "data.json", f"GET /data.json after HEAD {target}")


@graded(points=4, doc="05-http.md#message-framing", step=4)
def test_binary_file(ctx):
    """server: a 1 MiB random binary file arrives byte-exact"""
    root = make_docroot(ctx)
    data = ctx.rng().randbytes(MIB)
    ctx.write_file(os.path.join(root, "random.bin"), data)
    server = ctx.start_server(SERVER, ["-p", "0", "-d", root])
    _, _, resp = exchange(ctx, server, request("GET", "/random.bin"), "GET",
                          "GET /random.bin")
    check_status(resp, 200, "GET /random.bin")
    expect_bytes(data, resp.body, f"1 MiB of random bytes (seed {ctx.seed})")


@graded(points=5, doc="05-http.md#sending-a-large-file", step=4)
def test_large_file_streamed(ctx):
    """server: streams a 50 MiB file with a 48 MiB memory limit"""
    root = make_docroot(ctx)
    block = ctx.rng().randbytes(MIB)
    size = 50 * MIB
    ctx.write_file(os.path.join(root, "big.bin"),
                   b"".join(i.to_bytes(4, "big") + block[4:] for i in range(50)))
    server = ctx.start_server(SERVER, ["-p", "0", "-d", root],
                              limits=Limits(memory_bytes=48 * MIB))
    conn = ctx.connect(server, timeout=15)
    conn.send(request("GET", "/big.bin"))
    head = conn.recv_until(b"\r\n\r\n", 16384)
    if not head.startswith(b"HTTP/1.1 200 ") or f"\r\ncontent-length: {size}\r\n".encode() \
            not in head.lower():
        raise GradeFailure("wrong output", "GET of a 50 MiB file should answer 200 with "
                           f"Content-Length: {size}; the head was {head[:300]!r}")
    if b"\r\n\r\n" not in head:
        raise GradeFailure("wrong output", "the response head never ended: after "
                           f"{len(head)} bytes there was still no empty line (\\r\\n\\r\\n) "
                           "between the head and the body", f"the head so far: {head[:300]!r}")
    start = head.split(b"\r\n\r\n", 1)[1]
    body = start + conn.recv_exactly(size - len(start), timeout=20,
                                     waiting_for="the 50 MiB body")
    if len(body) < size:
        raise GradeFailure("wrong output", f"the server closed the connection after {len(body)} "
                           f"of the file's {size} bytes",
                           "a server that reads the whole file into memory before sending it "
                           "runs out of its 48 MiB here: read and send a chunk at a time")
    for i in range(50):
        piece = body[i * MIB:(i + 1) * MIB]
        expected = i.to_bytes(4, "big") + block[4:]
        if piece != expected:
            expect_bytes(expected, piece, f"MiB number {i} of the 50 MiB file")
    ctx.expect_alive(server, "after sending the 50 MiB file")


@graded(points=4, doc="05-http.md#directories-and-redirects", step=5)
def test_directories(ctx):
    """server: /sub/ serves its index.html, /sub redirects with 301 to /sub/"""
    server = start(ctx)
    conn, reader = open_reader(ctx, server)
    conn.send(request("GET", "/sub/"))
    reader.request("GET")
    check_file(reader.response("GET /sub/"), "sub/index.html", "GET /sub/")
    conn.send(request("GET", "/sub?x=1"))
    reader.request("GET")
    resp = reader.response("GET /sub?x=1")
    check_status(resp, 301, "GET /sub (a directory without its slash)")
    location = resp.header("location") or ""
    if not location.split("?")[0].endswith("/sub/"):
        raise GradeFailure("wrong output", "the 301 for /sub needs 'Location: /sub/', "
                           f"it was {location!r}", resp.describe())
    conn.send(request("GET", "/nodex/"))
    reader.request("GET")
    resp = reader.response("GET /nodex/ (a folder without index.html)")
    if resp.status not in (403, 404):
        raise GradeFailure("wrong output", "a folder without index.html should get 403 or "
                           f"404 (no listing needed); got {resp.status}", resp.describe())


@graded(points=4, doc="05-http.md#from-target-to-file", step=5)
def test_query_and_percent(ctx):
    """server: ignores the query, decodes %20, serves a symlink inside the root"""
    server = start(ctx)
    conn, reader = open_reader(ctx, server)
    cases = [("/notes.txt?v=2&x=%2e%2e", "notes.txt"), ("/hello%20world.txt", "hello world.txt"),
             ("/%73ub/page.html", "sub/page.html"), ("/sub/./../data.json", "data.json"),
             ("/link-in.txt", "notes.txt"), ("http://lab05.test/style.css", "style.css")]
    for target, name in cases:
        conn.send(request("GET", target))
        reader.request("GET")
        resp = reader.response(f"GET {target}")
        check_status(resp, 200, f"GET {target}")
        expect_bytes(FILES[name][0], resp.body, f"body of GET {target} (the file {name})")


def traversal_served(target, resp):
    """Why a 200 to a traversal attempt that did not reach outside the
    root is still wrong, naming the file it served."""
    served = next((f"/{name}" for name, (content, _) in FILES.items()
                   if content == resp.body), f"{len(resp.body)} bytes")
    if "%00" in target:
        return (f"GET {target} got 200 ({served}): %00 decodes to a NUL byte, which no file "
                "name can hold, so the target must be refused (400). A 200 means the target "
                "was normalised before it was decoded: decode first, then remove the dot "
                "segments, or an escaped '..' (%2e%2e) is one that normalising never saw")
    return (f"GET {target} got 200 ({served}): a target that climbs above the document root "
            "names no file, and must be refused (403 or 404, or 400), not moved back inside")


@graded(points=6, doc="05-http.md#path-traversal", step=4)
def test_path_traversal(ctx):
    """server: never serves a byte from outside the document root"""
    server = start(ctx)
    targets = ["/../secret.txt", "/%2e%2e/secret.txt", "/%2E%2E%2Fsecret.txt",
               "/sub/../../secret.txt", "/./../private/secret.txt", "/..%2fsecret.txt",
               "/link-out.txt", "/dir-out/secret.txt", "/sub/%2e%2e/%2e%2e/secret.txt",
               "/%00/../notes.txt", "//../secret.txt"]
    for target in targets:
        _, _, resp = exchange(ctx, server, request("GET", target), "GET", f"GET {target}")
        if SECRET.strip() in resp.body:
            raise GradeFailure("wrong output", f"GET {target} reached the file outside the "
                               f"document root: expected 403 or 404 (or 400), got "
                               f"{resp.status} with its secret in the body", resp.describe())
        if resp.status == 200:
            raise GradeFailure("wrong output", traversal_served(target, resp), resp.describe())
        if resp.status not in (400, 403, 404):
            raise GradeFailure("wrong output", f"GET {target}: expected 403 or 404, got "
                               f"{resp.status} {resp.reason}", resp.describe())
    ctx.expect_alive(server, "after the traversal attempts")


@graded(points=3, doc="05-http.md#status-codes", step=5)
def test_not_found(ctx):
    """server: 404 with an HTML body, and the connection stays usable"""
    server = start(ctx)
    conn, reader = open_reader(ctx, server)
    for target in ("/missing.html", "/notes.txt/", "/sub/missing/"):
        conn.send(request("GET", target))
        reader.request("GET")
        check_error_page(reader.response(f"GET {target}"), 404, f"GET {target}")
    conn.send(request("GET", "/notes.txt"))
    reader.request("GET")
    check_file(reader.response("GET /notes.txt after the 404s"), "notes.txt",
               "GET /notes.txt after three 404s on the same connection")


# -- the server: errors -------------------------------------------------------------

def expect_error(ctx, server, raw, status, what, method="GET"):
    conn, reader, resp = exchange(ctx, server, raw, method, what)
    check_error_page(resp, status, what)
    conn.close()  # the server may be waiting for the client to leave
    return conn, reader, resp


def send_in_background(ctx, conn, data, note):
    """Sends data from a thread, ignoring errors: the server may answer and
    close before reading it all (it must still answer)."""
    ctx.transcript.add(conn.channel, "sending", note=f"{len(data)} bytes: {note}")

    def sender():
        try:
            conn.sock.sendall(data)
        except OSError:
            pass
    thread = threading.Thread(target=sender, daemon=True)
    thread.start()
    return thread


@graded(points=5, doc="05-http.md#status-codes", step=6)
def test_bad_requests(ctx):
    """server: malformed requests get 400 and the server survives"""
    server = start(ctx)
    cases = [
        (b"GET /\r\n\r\n", "a request line without a version"),
        (b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n", "two spaces after the method"),
        (b"GET / HTTP/1.1\r\nHost x\r\n\r\n", "a header line without a colon"),
        (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", "a space before the colon"),
        (b"GET / HTTP/1.1\r\n\r\n", "an HTTP/1.1 request without Host"),
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", "two Host headers"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n Folded: no\r\n\r\n", "a folded header line"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nBad\x00Name: y\r\n\r\n", "a NUL byte in a header"),
        (b"GET / HTTP/x.y\r\nHost: x\r\n\r\n", "a version that is not digits"),
    ]
    for raw, what in cases:
        expect_error(ctx, server, raw, 400, f"{what} ({raw[:40]!r})")
    ctx.expect_alive(server, "after the malformed requests")


@graded(points=4, doc="05-http.md#methods", step=6)
def test_unknown_and_disallowed_methods(ctx):
    """server: unknown method -> 501, DELETE/PUT/POST on a file -> 405 with Allow"""
    server = start(ctx)
    expect_error(ctx, server, request("BREW", "/"), 501, "BREW / (an unknown method)", "BREW")
    expect_error(ctx, server, request("get", "/"), 501, "get / (methods are case-sensitive)",
                 "get")
    for method in ("DELETE", "PUT", "POST"):
        body = b"x=1" if method != "DELETE" else b""
        _, _, resp = expect_error(ctx, server, request(method, "/notes.txt", body=body), 405,
                                  f"{method} /notes.txt", method)
        allow = resp.header("allow") or ""
        if "GET" not in allow or method in allow:
            raise GradeFailure("wrong output", f"405 for {method} /notes.txt needs an Allow "
                               f"header listing GET (and not {method}); it was {allow!r}")


@graded(points=3, doc="05-http.md#http10-versus-http11", step=6)
def test_version_not_supported(ctx):
    """server: HTTP/2.0 and HTTP/0.9 request lines get 505"""
    server = start(ctx)
    for version in ("HTTP/2.0", "HTTP/3.0", "HTTP/0.9"):
        expect_error(ctx, server, request("GET", "/", ["Host: x"], version=version), 505,
                     f"GET / {version}")


@graded(points=4, doc="05-http.md#limits", step=9)
def test_limits(ctx):
    """server: an over-long request line gets 414, an over-long head 431"""
    server = start(ctx)
    long_target = "/" + "a" * (64 * 1024)
    headers = [f"X-Filler-{i}: {'b' * 100}" for i in range(600)]
    many = [f"X-Many-{i}: {i}" for i in range(1000)]
    cases = [(request("GET", long_target), 414, "GET with a 64 KiB target"),
             (request("GET", "/", headers), 431, "GET with 60 KiB of headers"),
             (request("GET", "/", many), 431, "GET with 1000 short header lines")]
    for raw, status, what in cases:
        conn, reader = open_reader(ctx, server)
        thread = send_in_background(ctx, conn, raw, what)
        reader.request("GET")
        check_error_page(reader.response(what), status, what)
        conn.close()
        thread.join(timeout=5)
    _, _, resp = exchange(ctx, server, request("GET", "/notes.txt"), "GET",
                          "GET /notes.txt after the oversized requests")
    check_file(resp, "notes.txt", "GET /notes.txt after the oversized requests")


# -- the server: POST /echo ---------------------------------------------------------

@graded(points=6, doc="05-http.md#post-and-request-bodies", step=8)
def test_echo(ctx):
    """server: POST /echo returns the body, whole, in pieces, glued to the next request; a bad length gets 400"""
    server = start(ctx)
    rng = ctx.rng()
    conn, reader = open_reader(ctx, server)
    body = b"name=lab05&course=sockets"
    conn.send(request("POST", "/echo", ["Content-Type: application/x-www-form-urlencoded"],
                      body=body))
    reader.request("POST")
    resp = reader.response("POST /echo")
    check_status(resp, 200, "POST /echo")
    expect_bytes(body, resp.body, "the echoed body")
    if resp.header("content-type") != "application/x-www-form-urlencoded":
        raise GradeFailure("wrong output", "POST /echo should copy the request's Content-Type "
                           f"into the response; it was {resp.header('content-type')!r}")
    binary = rng.randbytes(200_000)
    raw = request("POST", "/echo", ["Content-Type: application/octet-stream"], body=binary)
    conn.send_random_pieces(raw, rng.randrange(1 << 30), max_piece=4096)
    reader.request("POST")
    resp = reader.response("POST /echo of 200000 random bytes sent in random pieces")
    expect_bytes(binary, resp.body, f"the echo of 200000 random bytes (seed {ctx.seed})")
    # Header names have no case (RFC 9110, 5.1): this one says them in
    # lower case, as HTTP/2 clients and many tools do.
    glued = request("POST", "/echo", ["content-type: text/plain", "content-length: 5"],
                    body=b"first") + request("GET", "/notes.txt")
    conn.send(glued, note="a POST whose body is followed at once by the next request; its "
              "header names in lower case")
    reader.request("POST")
    resp = reader.response("POST /echo glued to a GET, with 'content-length: 5' in lower case "
                           "(header names have no case)")
    expect_bytes(b"first", resp.body, "the echo of 'first' (sent with 'content-length: 5': "
                 "header names have no case)")
    reader.request("GET")
    check_file(reader.response("the GET glued after the POST body"), "notes.txt",
               "GET /notes.txt sent right after the POST's body")
    conn.close()
    # Without a valid length, nothing says where the body ends.
    raw = b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 12abc\r\n\r\n"
    expect_error(ctx, server, raw, 400, f"a Content-Length that is not a number ({raw!r})",
                 "POST")


@graded(points=4, doc="05-http.md#chunked-request-bodies", step=8)
def test_echo_chunked(ctx):
    """server: chunked request bodies are decoded, echoed and dropped; chunked not last -> 400"""
    server = start(ctx)
    rng = ctx.rng()
    conn, reader = open_reader(ctx, server)
    body = rng.randbytes(50_000)
    sizes, left = [], len(body)
    while left > 0:
        sizes.append(min(left, rng.randrange(1, 5000)))
        left -= sizes[-1]
    raw = request("POST", "/echo", ["Content-Type: application/octet-stream",
                                    "Transfer-Encoding: chunked"]) + chunked(body, sizes)
    conn.send_random_pieces(raw, rng.randrange(1 << 30), max_piece=4096)
    reader.request("POST")
    what = f"POST /echo of 50000 random bytes in chunks (seed {ctx.seed})"
    resp = reader.response(what)
    check_status(resp, 200, what)
    expect_bytes(body, resp.body, f"the echo of a chunked body of 50000 bytes (seed {ctx.seed})")

    # An extension, a trailer field, then the next request in the same write.
    glued = (request("POST", "/echo", ["Content-Type: text/plain",
                                       "Transfer-Encoding: chunked"])
             + b"5;note=first\r\nhello\r\n7\r\n, world\r\n0\r\nX-Checksum: 1\r\n\r\n"
             + request("GET", "/notes.txt"))
    conn.send(glued, note="a chunked POST with an extension and a trailer, then a GET")
    reader.request("POST")
    resp = reader.response("POST /echo of 'hello, world' in two chunks")
    expect_bytes(b"hello, world", resp.body, "the echo of the chunks 'hello' and ', world'")
    reader.request("GET")
    check_file(reader.response("the GET after the chunked body's trailer"), "notes.txt",
               "GET /notes.txt sent right after a chunked body")

    # A body that is not echoed is still read to its end: the GET follows it.
    dropped = (request("POST", "/notes.txt", ["Transfer-Encoding: chunked"])
               + chunked(b"x" * 3000, [1000, 2000]) + request("GET", "/data.json"))
    conn.send(dropped, note="a chunked POST to a file, then a GET")
    reader.request("POST")
    check_error_page(reader.response("POST /notes.txt with a chunked body"), 405,
                     "POST /notes.txt with a chunked body")
    reader.request("GET")
    check_file(reader.response("the GET after a dropped chunked body"), "data.json",
               "GET /data.json sent right after a chunked body that was dropped")
    conn.close()

    # RFC 9112 section 6.3: without chunked last, the body has no end.
    expect_error(ctx, server, request("POST", "/echo", ["Transfer-Encoding: gzip"]) + b"abc",
                 400, "POST /echo with 'Transfer-Encoding: gzip' (chunked is not the final "
                 "coding, so nothing says where the body ends)", "POST")


# -- the server: connections ----------------------------------------------------------

@graded(points=5, doc="05-http.md#keep-alive-and-pipelining", step=5)
def test_keep_alive_and_close(ctx):
    """server: keeps HTTP/1.1 connections open, honours Connection: close, closes HTTP/1.0"""
    server = start(ctx)
    conn, reader = open_reader(ctx, server)
    for name in ("notes.txt", "data.json", "style.css"):
        conn.send(request("GET", "/" + name))
        reader.request("GET")
        check_file(reader.response(f"GET /{name} on a kept-alive connection"), name,
                   f"GET /{name}, the same connection")
    conn.send(request("GET", "/notes.txt", ["Connection: close"]))
    reader.request("GET", close=True)
    resp = reader.response("GET with Connection: close")
    if "close" not in (resp.header("connection") or "").lower():
        raise GradeFailure("wrong output", "the answer to a request with 'Connection: close' "
                           "should say 'Connection: close' too", resp.describe())
    reader.expect_close("a response to 'Connection: close'")

    conn, reader = open_reader(ctx, server)
    conn.send(request("GET", "/notes.txt", ["CONNECTION: Close"]))
    reader.request("GET", close=True)
    check_file(reader.response("GET with 'CONNECTION: Close'"), "notes.txt",
               "GET /notes.txt with 'CONNECTION: Close'")
    reader.expect_close("a response to 'CONNECTION: Close' (header names and connection "
                        "options have no case)")

    conn, reader = open_reader(ctx, server)
    conn.send(request("GET", "/notes.txt", version="HTTP/1.0"))
    reader.request("GET", close=True)
    check_file(reader.response("GET / HTTP/1.0"), "notes.txt", "an HTTP/1.0 GET")
    reader.expect_close("the response to an HTTP/1.0 request without keep-alive")

    conn, reader = open_reader(ctx, server)
    for name in ("notes.txt", "data.json"):
        conn.send(request("GET", "/" + name, ["Connection: keep-alive"], version="HTTP/1.0"))
        reader.request("GET")
        resp = reader.response(f"HTTP/1.0 GET /{name} with Connection: keep-alive")
        check_file(resp, name, f"HTTP/1.0 GET /{name} with keep-alive")


@graded(points=5, doc="05-http.md#keep-alive-and-pipelining", step=8)
def test_pipelining(ctx):
    """server: answers requests sent in one write, in order"""
    server = start(ctx)
    conn, reader = open_reader(ctx, server)
    plan = [("GET", "/notes.txt"), ("HEAD", "/style.css"), ("GET", "/missing"),
            ("POST", "/echo"), ("GET", "/data.json")]
    raw = b"".join(request(m, t, body=b"echo me" if m == "POST" else b"") for m, t in plan)
    conn.send(raw, note="five requests in one write")
    for i, (method, target) in enumerate(plan):
        reader.request(method)
        resp = reader.response(f"response {i + 1} of 5 ({method} {target})")
        if target == "/notes.txt":
            check_file(resp, "notes.txt", f"response 1 ({method} {target})")
        elif method == "HEAD":
            check_status(resp, 200, "response 2 (HEAD /style.css)")
        elif target == "/missing":
            check_status(resp, 404, "response 3 (GET /missing)")
        elif method == "POST":
            expect_bytes(b"echo me", resp.body, "response 4 (POST /echo)")
        else:
            check_file(resp, "data.json", f"response 5 ({method} {target})")


@graded(points=2, doc="05-http.md#benchmark", step=5)
def test_small_responses_fast(ctx):
    """server: 100 small requests on one connection take well under 2 s"""
    server = start(ctx)
    conn, reader = open_reader(ctx, server)
    started = time.monotonic()
    count = 100
    for _ in range(count):
        conn.send(request("GET", "/notes.txt"))
        reader.request("GET")
        reader.response("a small file on a kept-alive connection")
    elapsed = time.monotonic() - started
    ctx.note(f"{count} requests took {elapsed:.2f} s")
    if elapsed > 2.0:
        raise GradeFailure("timeout", f"{count} small requests, one after another on one "
                           f"connection, took {elapsed:.1f} s ({elapsed * 1000 / count:.0f} ms "
                           "each): a response sent as a head and a body in two sends is held "
                           "back by Nagle's algorithm until the client's delayed ACK; set "
                           "TCP_NODELAY or send them in one piece")


@graded(points=4, doc="05-http.md#reading-a-request-from-a-stream", step=8)
def test_one_byte_at_a_time(ctx):
    """server: a request arriving one byte per segment is answered"""
    server = start(ctx)
    conn, reader = open_reader(ctx, server)
    conn.send_bytewise(request("POST", "/echo", ["Content-Type: text/plain"], body=b"slow"),
                       pause=0.001)
    reader.request("POST")
    resp = reader.response("POST /echo sent one byte at a time")
    check_status(resp, 200, "POST /echo sent one byte at a time")
    expect_bytes(b"slow", resp.body, "the echo of a request sent bytewise")
    conn.send_bytewise(request("GET", "/notes.txt"), pause=0.001)
    reader.request("GET")
    check_file(reader.response("GET sent bytewise"), "notes.txt", "GET sent one byte at a time")


@graded(points=3, doc="05-http.md#a-client-that-goes-away", step=8)
def test_client_closes_mid_request(ctx):
    """server: clients that leave in the middle of a head or a body; the next one is served"""
    server = start(ctx)
    echo_head = request("POST", "/echo", ["Content-Type: text/plain",
                                         "Content-Length: 1000"])
    drop_head = request("POST", "/notes.txt", ["Content-Length: 1000"])
    cases = [(b"GET /notes.txt HTTP/1.1\r\nHo", "half a request head"),
             (echo_head + b"only ten b", "a POST /echo head and 10 of its 1000 body bytes"),
             (drop_head + b"only ten b", "a POST /notes.txt head and 10 of its 1000 body "
              "bytes (a body the server must read and drop before its 405)")]
    for partial, what in cases:
        for how in ("close", "reset"):
            rude = ctx.connect(server)
            rude.send(partial, note=f"{what}, then a {'reset' if how == 'reset' else 'close'}")
            rude.reset() if how == "reset" else rude.close()
            # A sequential server reaches the next client only once it is
            # done with this one: the answer proves it survived.
            _, _, resp = exchange(ctx, server, request("GET", "/data.json"), "GET",
                                  f"GET /data.json from the next client, after one that sent "
                                  f"{what} and then {'reset' if how == 'reset' else 'closed'} "
                                  "the connection")
            check_file(resp, "data.json", f"GET /data.json after a client that left with {what}")
    ctx.expect_alive(server, "after clients left in the middle of their requests")


# The server's input buffer: a pipeline longer than this arrives in more
# than one read, and a body larger than it does too.
SERVER_BUFFER = 16 * 1024


@graded(points=4, doc="05-http.md#keep-alive-and-pipelining", step=8)
def test_pipeline_beyond_the_buffer(ctx):
    """server: 41 pipelined GETs in one write, then a 200 KB POST glued to a GET"""
    server = start(ctx)
    conn, reader = open_reader(ctx, server, timeout=10)
    names = ["notes.txt", "data.json", "style.css", "empty.txt"]
    filler = "X-Filler: " + "f" * 400     # about 480 bytes a request
    plan = [names[i % len(names)] for i in range(41)]
    raw = b"".join(request("GET", "/" + name, [filler]) for name in plan)
    assert len(raw) > SERVER_BUFFER
    conn.send(raw, note=f"41 GET requests in one write, {len(raw)} bytes: more than a "
              "16 KiB buffer holds")
    for i, name in enumerate(plan):
        reader.request("GET")
        check_file(reader.response(f"response {i + 1} of 41 pipelined GETs (/{name})"), name,
                   f"pipelined GET {i + 1} of 41 (/{name})")
    body = ctx.rng().randbytes(200_000)
    raw = (request("POST", "/echo", ["Content-Type: application/octet-stream"], body=body)
           + request("GET", "/notes.txt"))
    conn.send(raw, note="a POST /echo of 200000 random bytes and a GET, in one write")
    reader.request("POST")
    resp = reader.response("POST /echo of 200000 bytes, a GET glued after its body")
    check_status(resp, 200, "POST /echo of 200000 bytes")
    expect_bytes(body, resp.body, f"the echo of 200000 random bytes (seed {ctx.seed}), sent "
                 "in one write with a GET after them")
    reader.request("GET")
    check_file(reader.response("the GET glued after the 200000-byte body"), "notes.txt",
               "GET /notes.txt right after a 200000-byte body")


@graded(points=4, doc="05-http.md#timeouts", step=5)
def test_idle_and_slow_clients(ctx):
    """server: closes idle connections and does not wait forever for a slow client"""
    server = start(ctx, ["-t", "1"])
    idle = ctx.connect(server, timeout=4)
    idle.send(request("GET", "/notes.txt"))
    HttpReader(idle).request("GET")
    idle.recv_until(b"plain text\n", 4096)
    started = time.monotonic()
    idle.recv_until_eof(limit=0, timeout=4)
    ctx.note(f"the idle connection was closed after {time.monotonic() - started:.1f} s")

    slow = ctx.connect(server, timeout=4)
    slow.send(b"GET /notes.txt HTTP/1.1\r\nHo", note="half a request, then nothing")
    other = ctx.connect(server, timeout=6)
    other.send(request("GET", "/data.json"))
    reader = HttpReader(other)
    reader.request("GET")
    check_file(reader.response("GET from a second client while the first stalls (the server "
                               "should give up on the first after its timeout)", timeout=6),
               "data.json", "GET from a second client")


@graded(points=4, doc="05-http.md#a-client-that-goes-away", step=4)
def test_client_disconnects_mid_response(ctx):
    """server: survives a client that resets during a large response"""
    root = make_docroot(ctx)
    ctx.write_file(os.path.join(root, "big.bin"), ctx.rng().randbytes(8 * MIB))
    server = ctx.start_server(SERVER, ["-p", "0", "-d", root])
    for _ in range(2):
        rude = ctx.connect(server)
        rude.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        rude.send(request("GET", "/big.bin"))
        rude.recv_exactly(1000)
        rude.reset()
    ctx.expect_alive(server, "after clients reset their connection during an 8 MiB response")
    _, _, resp = exchange(ctx, server, request("GET", "/notes.txt"), "GET",
                          "GET from the next client")
    check_file(resp, "notes.txt", "GET after the resets")


@graded(points=3, doc="01-tcp.md#writing-partial-sends", step=4)
def test_survives_short_transfers_and_eintr(ctx):
    """server: whole responses when its sends come up short and its calls are interrupted"""
    # Loopback rarely cuts a send() short, and nothing interrupts recv():
    # the shim makes both happen, at seeded calls.
    root = make_docroot(ctx)
    data = ctx.rng().randbytes(MIB)
    ctx.write_file(os.path.join(root, "random.bin"), data)
    server = ctx.start_server(SERVER, ["-p", "0", "-d", root], faults=Faults(rate=30, kinds="si"))
    for target, name in [("/", "index.html"), ("/random.bin", None), ("/image.png", "image.png"),
                         ("/random.bin", None), ("/notes.txt", "notes.txt")]:
        what = f"GET {target} with short transfers and EINTR injected into the server"
        _, _, resp = exchange(ctx, server, request("GET", target), "GET", what)
        if name is None:
            check_status(resp, 200, what)
            expect_bytes(data, resp.body, f"1 MiB of random bytes (seed {ctx.seed}), {what}")
        else:
            check_file(resp, name, what)


@graded(points=3, doc="05-http.md#checklist-for-lab-05", step=2)
def test_exits_cleanly_on_signals(ctx):
    """server: exits with status 0 on SIGTERM and on SIGINT"""
    for signo in (signal.SIGTERM, signal.SIGINT):
        server = start(ctx) if signo == signal.SIGTERM else ctx.start_server(
            SERVER, ["-p", "0", "-d", os.path.join(ctx.tmpdir, "www")])
        conn, reader = open_reader(ctx, server)
        conn.send(request("GET", "/notes.txt"))
        reader.request("GET")
        reader.response("GET before the signal")
        code = ctx.stop_server(server, signo)
        name = signal.Signals(signo).name
        if code != 0:
            raise GradeFailure("wrong exit code" if code is not None else "timeout",
                               f"after {name} the server should exit with status 0, but it "
                               f"{describe_status(code) if code is not None else 'kept running'}")


@graded(points=3, doc="labs/05-http-server/README.md#build-run-and-grade", step=2)
def test_bad_arguments(ctx):
    """both: bad arguments print a usage line and exit with status 2"""
    root = make_docroot(ctx)
    ctx.start_server(SERVER, ["-p", "0", "-d", root])
    cases = [(SERVER, []), (SERVER, ["-p", "0"]), (SERVER, ["-d", root]),
             (SERVER, ["-p", "http", "-d", root]), (SERVER, ["-p", "0", "-d", root, "-x"]),
             (SERVER, ["-a", "nowhere", "-p", "0", "-d", root]),
             (CLIENT, []), (CLIENT, ["ftp://127.0.0.1/"]), (CLIENT, ["http://"]),
             (CLIENT, ["http://127.0.0.1:99999/"]), (CLIENT, ["http://127.0.0.1/", "-o"]),
             (CLIENT, ["127.0.0.1/index.html"])]
    for program, args in cases:
        result = ctx.run(program, args, timeout=3)
        shown = " ".join([program, *args])
        if result.timed_out or result.returncode != 2:
            raise GradeFailure("wrong exit code", f"'{shown}' should exit with status 2, but it "
                               f"{describe_status(result.returncode)}")
        if "usage" not in result.stderr_text().lower():
            raise GradeFailure("wrong output", f"'{shown}' exited 2 but printed no usage line")


@graded(points=2, doc="00-network-basics.md#ip-addresses", step=4)
def test_ipv6(ctx):
    """server: serves over IPv6 with -a ::1"""
    ctx.require_ipv6()
    server = start(ctx, ["-a", "::1"])
    _, _, resp = exchange(ctx, server, request("GET", "/notes.txt"), "GET", "GET over IPv6")
    check_file(resp, "notes.txt", "GET /notes.txt over IPv6")


# -- real clients ------------------------------------------------------------------

def need(tool):
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (make deps installs it)")
    return path


def run_tool(ctx, argv, timeout):
    shown = " ".join(argv)
    ctx.note(f"ran: {shown}")
    run = ctx.run_tool(argv, timeout)
    if run.returncode is None:
        raise GradeFailure("timeout", f"'{shown}' did not finish in {timeout} s")
    return run


def url(server, path):
    host = f"[{server.host}]" if ":" in server.host else server.host
    return f"http://{host}:{server.port}{path}"


@graded(points=4, doc="05-http.md#testing-with-curl-nc-and-a-browser", step=7)
def test_curl_get_and_head(ctx):
    """curl: fetches a binary file byte-exact and a HEAD"""
    curl = need("curl")
    server = start(ctx)
    out = os.path.join(ctx.tmpdir, "curl-out")
    run = run_tool(ctx, [curl, "-sS", "--fail", "-o", out, url(server, "/blob.bin")], 10)
    if run.returncode != 0:
        raise GradeFailure("wrong exit code", f"curl failed (status {run.returncode}): "
                           f"{run.stderr.decode(errors='replace').strip()}")
    expect_bytes(FILES["blob.bin"][0], ctx.read_file(out), "the file curl saved")
    run = run_tool(ctx, [curl, "-sS", "-I", "--max-time", "5", url(server, "/logo.svg")], 10)
    text = run.stdout.decode(errors="replace")
    if run.returncode != 0 or not text.startswith("HTTP/1.1 200") or \
            "image/svg+xml" not in text:
        raise GradeFailure("wrong output", "curl -I (HEAD) of /logo.svg should show 200 and "
                           f"Content-Type image/svg+xml; curl said:\n{text}"
                           f"{run.stderr.decode(errors='replace')}")


@graded(points=4, doc="05-http.md#keep-alive-and-pipelining", step=5)
def test_curl_reuses_connection(ctx):
    """curl: three URLs on one command reuse one connection"""
    curl = need("curl")
    server = start(ctx)
    run = run_tool(ctx, [curl, "-sS", "-v", "--max-time", "10", url(server, "/notes.txt"),
                         url(server, "/data.json"), url(server, "/style.css")], 15)
    err = run.stderr.decode(errors="replace")
    body = run.stdout
    expected = FILES["notes.txt"][0] + FILES["data.json"][0] + FILES["style.css"][0]
    if run.returncode != 0:
        raise GradeFailure("wrong exit code", f"curl failed (status {run.returncode})", err[-2000:])
    expect_bytes(expected, body, "what curl printed for the three URLs")
    reuses = err.count("Re-using existing connection")
    # A server that closes after each response can still be "re-used"
    # when its close has not reached curl yet: curl then finds the
    # connection dead and opens another. So the connections are counted.
    opened = err.count("* Connected to ")
    if reuses != 2 or opened != 1:
        raise GradeFailure("wrong output", "curl should say 'Re-using existing connection' "
                           f"twice and connect once (keep-alive); it re-used a connection "
                           f"{times(reuses)} and connected {times(opened)}", err[-2500:])


def times(count):
    return "once" if count == 1 else f"{count} times"


@graded(points=3, doc="05-http.md#post-and-request-bodies", step=8)
def test_curl_post_echo(ctx):
    """curl: POST --data-binary to /echo comes back"""
    curl = need("curl")
    server = start(ctx)
    data = ctx.rng().randbytes(3000)
    path = os.path.join(ctx.tmpdir, "post-data")
    ctx.write_file(path, data)
    run = run_tool(ctx, [curl, "-sS", "--fail", "--max-time", "10", "--data-binary", "@" + path,
                         "-H", "Content-Type: application/octet-stream",
                         url(server, "/echo")], 15)
    if run.returncode != 0:
        raise GradeFailure("wrong exit code", f"curl POST failed (status {run.returncode}): "
                           f"{run.stderr.decode(errors='replace').strip()}")
    expect_bytes(data, run.stdout, f"the echo of 3000 random bytes (seed {ctx.seed}) via curl")


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@graded(points=6, doc="05-http.md#how-a-browser-loads-a-page", timeout=40, step=4)
def test_chromium_renders_page(ctx):
    """chromium: loads a page with a stylesheet, a script and an image"""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        pytest.skip("chromium is not installed (make deps installs it; CI runs this test)")
    server = start(ctx, ["-t", "2"])
    profile = os.path.join(ctx.tmpdir, "chromium-profile")   # chromium makes it
    argv = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
            "--virtual-time-budget=5000", "--dump-dom", url(server, "/index.html")]
    run = run_tool(ctx, argv, 30)
    dom = run.stdout.decode(errors="replace")
    match = re.search(r'<p id="result">([^<]*)</p>', dom)
    expected = "css=rgb(255, 0, 0) img=3x2 script=ran"
    if match is None or match.group(1) != expected:
        raise GradeFailure("wrong output", "after Chromium loaded /index.html, its script "
                           f"should have written '{expected}' into the page (the stylesheet "
                           "applied, the image decoded); the page read "
                           f"{match.group(1) if match else 'nothing'!r}",
                           (dom[-1500:] or run.stderr.decode(errors="replace")[-1500:]))


# -- valgrind ----------------------------------------------------------------------

@graded(points=4, doc="05-http.md#checklist-for-lab-05", timeout=60, step=8)
def test_server_valgrind(ctx):
    """valgrind: the server has no memory errors or leaks"""
    server = start(ctx, valgrind=True)
    conn, reader = open_reader(ctx, server)
    for method, target, body in [("GET", "/", b""), ("HEAD", "/sub/", b""),
                                 ("GET", "/sub", b""), ("GET", "/../secret.txt", b""),
                                 ("POST", "/echo", b"under valgrind"), ("BREW", "/", b"")]:
        conn.send(request(method, target, body=body))
        reader.request(method)
        reader.response(f"{method} {target} under valgrind")
    conn, reader = open_reader(ctx, server)
    conn.send(b"GARBAGE\r\n\r\n")
    reader.request("GET")
    reader.response("a malformed request under valgrind")
    code = ctx.stop_server(server, grace=10)
    if code != 0:
        raise GradeFailure("wrong exit code", "under valgrind, the server should exit with "
                           f"status 0 on SIGTERM, but it {describe_status(code)}")
    ctx.check_valgrind(server.process)


@graded(points=5, doc="05-http.md#checklist-for-lab-05", timeout=40, step=9)
def test_server_sanitizers(ctx):
    """sanitizers: the server runs clean under AddressSanitizer and UBSan"""
    # ASan sees what valgrind cannot, such as a write one byte past the end
    # of a buffer on the stack. A file of several full read buffers, a
    # pipeline in pieces, errors, limits and a reset exercise the edges;
    # LeakSanitizer checks for leaks when the server exits.
    root = make_docroot(ctx)
    rng = ctx.rng()
    data = rng.randbytes(3 * 65536 + 1234)
    ctx.write_file(os.path.join(root, "chunks.bin"), data)
    server = ctx.start_server(SERVER, ["-p", "0", "-d", root], sanitize=True)
    conn, reader = open_reader(ctx, server, timeout=10)
    body = rng.randbytes(5000)
    plan = [("GET", "/chunks.bin", b""), ("HEAD", "/sub/", b""), ("GET", "/sub", b""),
            ("POST", "/echo", body), ("GET", "/%2e%2e/secret.txt", b""),
            ("GET", "/missing", b""), ("GET", "/hello%20world.txt?q=1", b"")]
    raw = b"".join(request(m, t, body=b) for m, t, b in plan)
    conn.send_pieces(raw, split_sizes(len(raw), rng, 700),
                     note=f"{len(plan)} requests in random pieces (seed {ctx.seed})")
    for method, target, _ in plan:
        reader.request(method)
        resp = reader.response(f"{method} {target} under the sanitizers")
        if target == "/chunks.bin":
            check_status(resp, 200, "GET /chunks.bin under the sanitizers")
            expect_bytes(data, resp.body, f"the {len(data)}-byte file under the sanitizers")
        elif method == "POST":
            expect_bytes(body, resp.body, "the echo of 5000 bytes under the sanitizers")
    for raw, status, what in [
            (request("GET", "/" + "a" * 5000), 414, "GET with a 5000-byte target"),
            (request("GET", "/", [f"X-Fill-{i}: {'f' * 60}" for i in range(200)]), 431,
             "GET with 14 KiB of headers"),
            (b"GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n", 400,
             "a header line without a colon")]:
        conn, reader = open_reader(ctx, server)
        thread = send_in_background(ctx, conn, raw, what)
        reader.request("GET")
        check_error_page(reader.response(f"{what}, under the sanitizers"), status, what)
        conn.close()
        thread.join(timeout=5)
    rude = ctx.connect(server)
    rude.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    rude.send(request("GET", "/chunks.bin"))
    rude.recv_exactly(1000)
    rude.reset()
    _, _, resp = exchange(ctx, server, request("GET", "/notes.txt"), "GET",
                          "GET /notes.txt after a reset, under the sanitizers")
    check_file(resp, "notes.txt", "GET /notes.txt after a reset, under the sanitizers")
    code = ctx.stop_server(server)
    ctx.check_sanitizer(server.process)
    if code != 0:
        raise GradeFailure("wrong exit code", "built with the sanitizers, the server should exit "
                           f"with status 0 on SIGTERM, but it {describe_status(code)}")


# -- the client --------------------------------------------------------------------

def response_bytes(body, headers=None, status="200 OK"):
    headers = headers if headers is not None else [f"Content-Length: {len(body)}"]
    return (f"HTTP/1.1 {status}\r\n" + "".join(h + "\r\n" for h in headers)
            + "\r\n").encode() + body


def chunked(body, sizes):
    out = bytearray()
    offset = 0
    for size in sizes:
        piece = body[offset:offset + size]
        offset += size
        out += f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    return bytes(out + b"0\r\n\r\n")


def cut(data, sizes):
    pieces, offset = [], 0
    for size in sizes:
        if offset >= len(data):
            break
        pieces.append(data[offset:offset + size])
        offset += size
    if offset < len(data):
        pieces.append(data[offset:])
    return pieces


def run_client(ctx, pieces, args=(), path="/file", pause=0.002, timeout=10, faults=None,
               peer_options=None):
    peer = HttpPeer(ctx.transcript, pieces, pause=pause, **(peer_options or {})).start()
    ctx.peers.append(peer)
    ctx.set_repro([f"{ctx.display_path(CLIENT)} {peer.url(path)} {' '.join(args)}".strip()
                   + "    # against any server, e.g. python3 -m http.server 5000"])
    result = ctx.run(CLIENT, [peer.url(path), *args], timeout=timeout,
                     progress=lambda: peer.received + peer.sent, faults=faults)
    ctx.note(peer.summary())
    return peer, result


def expect_client_exit(result, expected, what):
    if result.timed_out:
        raise GradeFailure("timeout", f"{what}: http_get did not finish and was killed")
    if result.returncode != expected:
        raise GradeFailure("wrong exit code", f"{what}: expected exit status {expected}, but "
                           f"http_get {describe_status(result.returncode)}; its stderr: "
                           f"{result.stderr_text()[-300:]!r}")


@graded(points=4, doc="05-http.md#writing-the-client", step=10)
def test_client_request_format(ctx):
    """client: sends GET with Host, User-Agent and Connection: close, prints the response head"""
    body = b"hello from the test server\n"
    peer, result = run_client(ctx, [response_bytes(body)], path="/dir/page.html?q=1")
    request_text = bytes(peer.request).decode("latin-1")
    lines = request_text.split("\r\n")
    if lines[0] != "GET /dir/page.html?q=1 HTTP/1.1":
        raise GradeFailure("wrong output", "the request line should be "
                           f"'GET /dir/page.html?q=1 HTTP/1.1'; it was {lines[0]!r}")
    names = {line.split(":", 1)[0].strip().lower(): line.split(":", 1)[1].strip()
             for line in lines[1:] if ":" in line}
    if names.get("host") != f"127.0.0.1:{peer.port}":
        raise GradeFailure("wrong output", f"the Host header should be '127.0.0.1:{peer.port}'; "
                           f"it was {names.get('host')!r}")
    if "user-agent" not in names or names.get("connection", "").lower() != "close":
        raise GradeFailure("wrong output", "the request needs User-Agent and 'Connection: "
                           f"close' headers; it was:\n{request_text}")
    if not request_text.endswith("\r\n\r\n"):
        raise GradeFailure("wrong output", "every request line and header line ends in CRLF, "
                           "and a blank line ends the head")
    # The body is step 11's (test_client_content_length_splits and others).
    if "HTTP/1.1 200 OK" not in result.stderr_text():
        raise GradeFailure("wrong output", "http_get should print the status line and headers "
                           "on stderr")


@graded(points=4, doc="05-http.md#message-framing", step=11)
def test_client_content_length_splits(ctx):
    """client: Content-Length bodies, sent one byte at a time and all in one write"""
    rng = ctx.rng()
    body = rng.randbytes(3000)
    raw = response_bytes(body, ["Content-Length: 3000", "Content-Type: application/x-test"])
    _, result = run_client(ctx, [raw + b"EXTRA BYTES AFTER THE BODY"])
    expect_client_exit(result, 0, "a response in one write")
    expect_bytes(body, result.stdout_bytes(), "the body (bytes after Content-Length ignored)")
    small = response_bytes(b"tiny body\x00\xff", ["Content-Length: 11"])
    _, result = run_client(ctx, cut(small, [1] * len(small)), pause=0.001)
    expect_client_exit(result, 0, "a response sent one byte per segment")
    expect_bytes(b"tiny body\x00\xff", result.stdout_bytes(), "the body sent bytewise")


@graded(points=5, doc="05-http.md#chunked-transfer-coding", step=11)
def test_client_chunked(ctx):
    """client: decodes chunked bodies cut at any point"""
    rng = ctx.rng()
    body = rng.randbytes(20000)
    sizes = [rng.randint(1, 3000) for _ in range(30)]
    raw = response_bytes(chunked(body, sizes), ["Transfer-Encoding: chunked"])
    pieces = cut(raw, [rng.randint(1, 40) for _ in range(600)])
    _, result = run_client(ctx, pieces, pause=0.0005)
    expect_client_exit(result, 0, "a chunked response in random pieces")
    expect_bytes(body, result.stdout_bytes(), f"the decoded chunked body (seed {ctx.seed})")
    fancy = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"5;name=value\r\nhello\r\nA\r\n, chunked!\r\n0\r\nX-Trailer: yes\r\n\r\n")
    _, result = run_client(ctx, cut(fancy, [1] * len(fancy)), pause=0.001)
    expect_client_exit(result, 0, "chunks with an extension and a trailer, bytewise")
    expect_bytes(b"hello, chunked!", result.stdout_bytes(), "the body with hex size A")


@graded(points=3, doc="05-http.md#message-framing", step=11)
def test_client_until_close(ctx):
    """client: a body without length runs until the server closes"""
    body = ctx.rng().randbytes(100_000)
    raw = b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n" + body
    _, result = run_client(ctx, cut(raw, [70, 1000, 30000]))
    expect_client_exit(result, 0, "a response framed by the connection closing")
    expect_bytes(body, result.stdout_bytes(), "the body read until the end of the stream")


@graded(points=3, doc="05-http.md#writing-the-client", step=11)
def test_client_output_file_and_status(ctx):
    """client: -o FILE gets the body; a 404 exits 1 and still saves its body"""
    body = bytes(range(256)) * 64
    out = os.path.join(ctx.tmpdir, "saved.bin")
    _, result = run_client(ctx, [response_bytes(body)], args=["-o", out])
    expect_client_exit(result, 0, "http_get URL -o FILE")
    expect_bytes(body, ctx.read_file(out), "the file written with -o")
    if result.stdout_bytes():
        raise GradeFailure("wrong output", "with -o FILE, nothing should go to stdout")
    page = b"<h1>Not Found</h1>\n"
    _, result = run_client(ctx, [response_bytes(page, status="404 Not Found")])
    expect_client_exit(result, 1, "a 404 response")
    expect_bytes(page, result.stdout_bytes(), "the body of the 404")
    interim = b"HTTP/1.1 100 Continue\r\n\r\n" + response_bytes(b"after 100\n")
    _, result = run_client(ctx, [interim])
    expect_client_exit(result, 0, "a 100 Continue before the real 200")
    expect_bytes(b"after 100\n", result.stdout_bytes(), "the body after an interim 100")


@graded(points=4, doc="05-http.md#writing-the-client", step=11)
def test_client_malformed(ctx):
    """client: malformed or truncated responses exit 1 with a message"""
    cases = [
        ([b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this much"],
         "a body shorter than its Content-Length"),
        ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"],
         "a chunk size that is not hex"),
        ([b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"],
         "a chunked body cut short"),
        ([b"SSH-2.0-OpenSSH_9.2\r\n\r\n"], "a reply that is not HTTP"),
        ([b"HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\nbody"], "a bad Content-Length"),
        ([b"HTTP/1.1 200 OK\r\nContent-Le"], "a head cut short"),
        ([], "no reply at all"),
    ]
    # First, a good response must succeed: a client that always exits 1
    # would otherwise pass this test.
    _, result = run_client(ctx, [response_bytes(b"a good body\n")])
    expect_client_exit(result, 0, "a well-formed 200 response (before the malformed ones)")
    for pieces, what in cases:
        _, result = run_client(ctx, pieces)
        expect_client_exit(result, 1, what)
        if not result.stderr_text().strip():
            raise GradeFailure("wrong output", f"{what}: http_get should say what was wrong on "
                               "stderr")


@graded(points=2, doc="01-tcp.md#writing-partial-sends", step=11)
def test_client_survives_short_transfers_and_eintr(ctx):
    """client: the request and the body whole when its calls come up short or are interrupted"""
    rng = ctx.rng()
    body = rng.randbytes(60_000)
    # Each run meets faults at other calls (its own fault seed): the
    # request goes out in one send(), so one run would test it only by luck.
    for run in range(8):
        chunked_run = run % 2 == 1
        raw = (response_bytes(chunked(body, [7000] * 9), ["Transfer-Encoding: chunked"])
               if chunked_run else response_bytes(body))
        faults = Faults(rate=50, kinds="si", seed=ctx.seed * 100 + run)
        what = (f"run {run + 1} of 8 ({'chunked' if chunked_run else 'Content-Length'}), with "
                f"short transfers and EINTR injected into http_get (fault seed {faults.seed})")
        peer, result = run_client(ctx, cut(raw, [1000, 20000, 3, 30000]), faults=faults)
        if not peer.request.endswith(b"\r\n\r\n") and not result.timed_out:
            expect_client_exit(result, 0, what)
        if not peer.request.endswith(b"\r\n\r\n"):
            raise GradeFailure("missing bytes", f"{what}: the test server got only "
                               f"{len(peer.request)} bytes of the request, without the empty "
                               "line that ends its head: a send() that came up short must be "
                               "followed by another for the rest", preview(bytes(peer.request)))
        expect_client_exit(result, 0, what)
        expect_bytes(body, result.stdout_bytes(), f"the body, {what}")


@graded(points=3, doc="05-http.md#message-framing", step=11)
def test_client_server_ends_early(ctx):
    """client: a server that closes unread, or resets mid-body: exit 1 with a message"""
    body = ctx.rng().randbytes(5000)
    cases = [
        (dict(read_request=False), [], "a server that closed the connection without reading "
         "the request"),
        # Read first, then closed: the client sees an end of stream, never a
        # reset, so a client that keeps reading after recv() returned 0 is
        # caught on every run.
        (dict(), [], "a server that read the request and closed without answering"),
        (dict(reset=True), [b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", body],
         "a body framed by the end of the connection, cut by a reset (RST) instead of a close: "
         "a reset is no end of the body"),
        (dict(reset=True), [response_bytes(body)[:-1000]], "a Content-Length body cut short by a "
         "reset (RST)"),
        (dict(), [b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n"], "a head announcing "
         "5000 bytes, then the end of the connection before any of them"),
    ]
    for options, pieces, what in cases:
        _, result = run_client(ctx, pieces, peer_options=options)
        expect_client_exit(result, 1, what)
        if not result.stderr_text().strip():
            raise GradeFailure("wrong output", f"{what}: http_get should say what went wrong "
                               "on stderr")


@graded(points=2, doc="05-http.md#writing-the-client", step=10)
def test_client_connection_refused(ctx):
    """client: says so and exits 1 when nothing listens"""
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    holder.bind(("127.0.0.1", 0))
    try:
        port = holder.getsockname()[1]
        result = ctx.run(CLIENT, [f"http://127.0.0.1:{port}/"], timeout=5)
    finally:
        holder.close()
    expect_client_exit(result, 1, "http_get to a port where nothing listens")
    if "refused" not in result.stderr_text().lower():
        raise GradeFailure("wrong output", "http_get should print why it failed (Connection "
                           f"refused); its stderr was {result.stderr_text()[:200]!r}")


@graded(points=3, doc="05-http.md#checklist-for-lab-05", timeout=60, step=11)
def test_client_valgrind(ctx):
    """valgrind: the client has no memory errors or leaks"""
    body = ctx.rng().randbytes(50_000)
    raw = response_bytes(chunked(body, [1000] * 50), ["Transfer-Encoding: chunked"])
    peer = HttpPeer(ctx.transcript, cut(raw, [777] * 100), pause=0.001).start()
    ctx.peers.append(peer)
    result = ctx.run(CLIENT, [peer.url("/")], timeout=10, valgrind=True)
    expect_client_exit(result, 0, "http_get under valgrind")
    expect_bytes(body, result.stdout_bytes(), "the body under valgrind")
    ctx.check_valgrind(result.process)


@graded(points=3, doc="05-http.md#writing-the-client", step=11)
def test_client_against_own_server(ctx):
    """both: http_get fetches a 1 MiB file from http_server byte-exact"""
    root = make_docroot(ctx)
    data = ctx.rng().randbytes(MIB)
    ctx.write_file(os.path.join(root, "one.bin"), data)
    server = ctx.start_server(SERVER, ["-p", "0", "-d", root])
    result = ctx.run(CLIENT, [url(server, "/one.bin")], timeout=10)
    expect_client_exit(result, 0, "http_get from http_server")
    expect_bytes(data, result.stdout_bytes(), "the 1 MiB file fetched by http_get")
