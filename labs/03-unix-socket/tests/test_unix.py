"""Lab 03 graded tests: the Unix-domain server and client.

Each test talks to the built programs over a real AF_UNIX socket whose
file lives in the test's own temporary folder. Run them with "make grade"
(add T=NAME for one test); the points and the docs section explaining
each behaviour are declared beside each test. The tests whose titles
start with "stretch:" grade the optional SCM_RIGHTS part (step 6).
"""

import os
import signal
import socket
import stat
import time

from grader import (Faults, GradeFailure, Limits, UNIX_ANNOUNCE, describe_status, expect_bytes,
                    graded, split_sizes)
from grader import procfs
from grader.context import shell_printf
from grader.peers import ListeningPeer
from grader.transcripts import preview

SERVER = "unix_server"
CLIENT = "unix_client"
UNITS = "test_unix_proto"
SUN_PATH_MAX = 108          # sizeof(sun_path) on Linux, NUL included
LINE_MAX = 4096             # PROTO_LINE_MAX in unix_proto.h
README = "labs/03-unix-socket/README.md"
NL = b"\n"
REPLY_LIMIT = 1 << 20       # most bytes a test reads while waiting for one reply
PEER_LIFETIME = 30.0        # the test peer gives up after this long
REPRO_MAX_BYTES = 600       # longer exchanges are not typed into "try it by hand"
IDLE_WINDOW = 0.5           # seconds the server is watched while it should wait
IDLE_BUSY_MAX = 0.1         # of them, seconds a waiting server may run or be ready to run


def sock_path(ctx, name="lab03.sock"):
    """A socket path inside the test's folder (it must fit in sun_path)."""
    path = os.path.join(ctx.tmpdir, name)
    if len(os.fsencode(path)) >= SUN_PATH_MAX:
        raise GradeFailure("grader error", f"the test's socket path is too long: {path}")
    return path


def start(ctx, path=None, **options):
    path = path or sock_path(ctx)
    server = ctx.start_server(SERVER, ["-s", path], announce=UNIX_ANNOUNCE, **options)
    # The generated "try it by hand" lines are for TCP (nc HOST PORT), and
    # would name the test's own folder, gone once it ends.
    ctx.set_repro([
        f"{ctx.display_path(SERVER)} -s /tmp/lab03.sock    # terminal 1",
        "nc -U /tmp/lab03.sock    # terminal 2: type requests (PING, ECHO hi, WHO), "
        "one per line",
    ])
    return server


def repro_exchange(ctx, conn):
    """Puts what conn sent into "try it by hand", when it is short enough
    to type: the failing input, not just a way to send one."""
    sent = conn.sent_log
    if not sent or len(sent) > REPRO_MAX_BYTES:
        return
    ctx.set_repro([
        f"{ctx.display_path(SERVER)} -s /tmp/lab03.sock    # terminal 1",
        f"{shell_printf(bytes(sent))} | nc -N -U /tmp/lab03.sock | od -c    # terminal 2: "
        f"what the test sent on {conn.channel}",
    ])


def request(ctx, conn, line, reply, what=None):
    """Sends one request line and checks its one reply line."""
    conn.send(line + NL)
    what = what or f"the reply to {preview(line + NL)}"
    try:
        # Up to the first end of line, so that a wrong reply shows at once.
        got = conn.recv_until(NL, limit=len(reply) + 1)
        expect_bytes(reply + NL, got, what, conn.eof)
    except GradeFailure:
        repro_exchange(ctx, conn)
        raise


def expect_replies(ctx, conn, expected, what, timeout=None):
    """Checks that the replies to everything sent on conn are expected."""
    try:
        conn.expect(expected, what, timeout)
    except GradeFailure:
        repro_exchange(ctx, conn)
        raise


def expect_idle(ctx, server, after):
    """Fails if the server keeps the CPU busy while it should be waiting:
    a loop that goes on after recv() returned 0, for one. Time spent
    ready to run counts as busy, so that a spinning server is seen however
    many other programs share the CPUs."""
    pid = server.process.pid
    before = procfs.busy_seconds(pid)
    time.sleep(IDLE_WINDOW)
    used = procfs.busy_seconds(pid)
    if before is None or used is None or used - before < IDLE_BUSY_MAX:
        return
    ctx.note(f"{server.process.name} was running, or ready to run, {used - before:.2f} s of the "
             f"{IDLE_WINDOW:g} s {after}")
    raise GradeFailure("timeout", f"{after}, the server should wait for the next client, but "
                       "it kept the CPU busy: a loop that never waits. Does it stop when recv() "
                       "returns 0 (the client closed its side)?")


def expect_exit(result, expected, what):
    if result.timed_out:
        raise GradeFailure("timeout", f"{what}: the program did not finish and was killed "
                           "(see the note below)")
    if result.returncode != expected:
        raise GradeFailure("wrong exit code", f"{what}: expected exit status {expected}, "
                           f"but the program {describe_status(result.returncode)}")


def expect_accepting(ctx, server, what):
    """A client can connect on the socket file: a socket is bound there and
    listening (the kernel accepts the connection into the backlog). Step 2
    needs no more than that; the protocol is step 3's."""
    ctx.connect(server)
    ctx.note(f"a client connected on {server.path}: {what}")
    ctx.expect_alive(server, f"after a client connected ({what})")


def expect_socket_file(path, what):
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise GradeFailure("wrong output", f"{what}: there is no file at {path}; bind() "
                           "creates the socket file") from None
    if not stat.S_ISSOCK(st.st_mode):
        raise GradeFailure("wrong output", f"{what}: {path} exists but is not a socket")
    return st


def random_text(rng, words=6):
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return " ".join("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 9)))
                    for _ in range(words))


def recv_reply_with_fds(conn, what, timeout=3.0):
    """Receives one reply line with recvmsg, keeping passed descriptors.

    Returns (line without its newline, list of descriptors). The caller
    owns the descriptors.
    """
    deadline = time.monotonic() + timeout
    data = bytearray()
    fds = []
    while b"\n" not in data and len(data) < REPLY_LIMIT:
        left = deadline - time.monotonic()
        if left <= 0:
            for fd in fds:
                os.close(fd)
            raise GradeFailure("timeout", f"waited {timeout:g} s for {what}; got "
                               f"{preview(bytes(data))} so far")
        conn.sock.settimeout(left)
        try:
            chunk, got_fds, _flags, _addr = socket.recv_fds(conn.sock, 4096, 4)
        except socket.timeout:
            continue
        fds += got_fds
        if not chunk:
            conn.transcript.add(conn.channel, "end of stream", note="the program closed its side")
            break
        note = f"with {len(got_fds)} descriptor(s) (SCM_RIGHTS)" if got_fds else ""
        conn.transcript.add(conn.channel, "received", chunk, note)
        data += chunk
    line, _, rest = bytes(data).partition(b"\n")
    if rest:
        for fd in fds:
            os.close(fd)
        raise GradeFailure("extra bytes", f"{what}: more than one line arrived: "
                           f"{preview(bytes(data))}")
    return line, fds


def read_all_fd(fd, limit=64 << 20):
    out = bytearray()
    while len(out) <= limit:
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        out += chunk
    return bytes(out)


# -- step 1: the protocol helpers (unit tests) --------------------------------------

@graded(points=3, doc="labs/03-unix-socket/README.md#step-1--the-protocol-helpers", step=1)
def test_unit_next_line(ctx):
    """unit: proto_next_line finds one request, at every split point"""
    ctx.run_unit_tests(UNITS, "next_line")


@graded(points=3, doc="labs/03-unix-socket/README.md#step-1--the-protocol-helpers", step=1)
def test_unit_parse(ctx):
    """unit: proto_parse knows PING, ECHO, WHO, SEND and nothing else"""
    ctx.run_unit_tests(UNITS, "parse")


@graded(points=2, doc="03-unix-sockets.md#peer-credentials", step=1)
def test_unit_format_who(ctx):
    """unit: proto_format_who writes the WHO reply and respects the buffer size"""
    ctx.run_unit_tests(UNITS, "format_who")


@graded(points=2, doc="03-unix-sockets.md#struct-sockaddr_un-and-the-path-length-limit", step=1)
def test_unit_make_addr(ctx):
    """unit: proto_make_unix_addr fills sockaddr_un and refuses too long paths"""
    ctx.run_unit_tests(UNITS, "make_addr")


# -- step 2: the socket file ------------------------------------------------------

@graded(points=4, doc="03-unix-sockets.md#server-flow-on-a-socket-file", step=2)
def test_announce_and_socket_file(ctx):
    """server: prints 'listening on PATH' and accepts clients on the socket file"""
    path = sock_path(ctx)
    server = start(ctx, path)
    if server.path != path:
        raise GradeFailure("wrong output", f"started with -s {path}, the server announced "
                           f"'{server.announce_line}'; expected 'listening on {path}'")
    expect_socket_file(path, "once the server announced itself")
    expect_accepting(ctx, server, "the server listens on its socket file")


@graded(points=4, doc="03-unix-sockets.md#permissions", step=2)
def test_socket_file_permissions(ctx):
    """server: creates its socket file with mode 0600 (owner only)"""
    path = sock_path(ctx)
    # With umask 0 the file would be 0777 unless the server sees to it.
    old = os.umask(0)
    try:
        server = start(ctx, path)
    finally:
        os.umask(old)
    mode = stat.S_IMODE(expect_socket_file(path, "after start").st_mode)
    if mode != 0o600:
        raise GradeFailure("wrong output", f"the socket file has mode {mode:04o}, expected 0600 "
                           "(srw-------): anyone who may write to the socket file may "
                           "connect; set the umask to 0177 around bind()")
    ctx.note("the server was started with umask 000")
    expect_accepting(ctx, server, "the server listens on its 0600 socket file")


@graded(points=5, doc="03-unix-sockets.md#stale-socket-files", step=2)
def test_stale_file_takeover(ctx):
    """server: removes a stale socket file and binds in its place"""
    path = sock_path(ctx)
    # A socket file with nobody listening: what a crashed server leaves.
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ctx.bind_unix(stale, path)
    stale.close()
    ctx.note(f"the test left a stale socket file at {path} (bound, then closed)")
    server = start(ctx, path)
    expect_accepting(ctx, server, "the server took over the stale socket file")

    # The same after a server that was killed (SIGKILL cannot be caught,
    # so its socket file stays behind).
    server.process.kill()
    expect_socket_file(path, "after SIGKILL (the killed server cannot remove its file)")
    ctx.note("then the server was killed with SIGKILL and started again on the same path")
    again = start(ctx, path)
    expect_accepting(ctx, again, "restarted over the file left by a killed server")


@graded(points=5, doc="03-unix-sockets.md#stale-socket-files", step=2)
def test_refuses_live_server(ctx):
    """server: refuses a path a live server answers on, and leaves it alone"""
    path = sock_path(ctx)
    first = start(ctx, path)
    before = os.lstat(path)
    result = ctx.run(SERVER, ["-s", path], timeout=3)
    if result.timed_out:
        raise GradeFailure("timeout", "a second server on the path of a running one should "
                           "exit 1 at once, but it was still running after 3 s (did it remove "
                           "the live server's socket file and bind its own?)")
    expect_exit(result, 1, "a second server on the path of a running one")
    if "in use" not in result.stderr_text().lower():
        raise GradeFailure("wrong output", "the second server should say why it exits, e.g. "
                           f"'unix_server: {path} is already in use'; its stderr was "
                           f"{result.stderr_text()[:200]!r}")
    after = expect_socket_file(path, "after the second server gave up")
    if (after.st_dev, after.st_ino) != (before.st_dev, before.st_ino):
        raise GradeFailure("wrong output", "the second server replaced the running server's "
                           "socket file: a socket file that a server answers on is not stale")
    expect_accepting(ctx, first, "the first server still listens on its socket file")


@graded(points=4, doc="03-unix-sockets.md#stale-socket-files", step=2)
def test_refuses_non_socket(ctx):
    """server: refuses a path that is not a socket, and leaves it alone"""
    # First the server must start at all: a program that always exits 1
    # would otherwise pass.
    start(ctx, sock_path(ctx, "ok.sock"))
    path = sock_path(ctx, "notes.txt")
    content = ctx.rng().randbytes(1000)
    ctx.write_file(path, content)
    folder = sock_path(ctx, "a-folder")
    ctx.make_dirs(folder)
    result = ctx.run(SERVER, ["-s", path], timeout=3)
    expect_exit(result, 1, f"unix_server -s on a regular file ({path})")
    if ctx.lstat(path) is None:
        raise GradeFailure("wrong output", f"the server deleted the regular file {path}: only "
                           "a stale socket file may be removed, never someone's data")
    if ctx.read_file(path) != content:
        raise GradeFailure("wrong output", f"the server changed the regular file {path}")

    result = ctx.run(SERVER, ["-s", folder], timeout=3)
    expect_exit(result, 1, f"unix_server -s on a directory ({folder})")
    info = ctx.lstat(folder)
    if info is None or not stat.S_ISDIR(info.st_mode):
        raise GradeFailure("wrong output", f"the server removed the directory {folder}")


@graded(points=5, doc="03-unix-sockets.md#removing-the-socket-file", step=3)
def test_cleanup_on_signals(ctx):
    """server: on SIGTERM and SIGINT removes its socket file and exits 0"""
    for signo, busy in ((signal.SIGTERM, True), (signal.SIGINT, False)):
        name = signal.Signals(signo).name
        path = sock_path(ctx, f"{name.lower()}.sock")
        server = start(ctx, path)
        conn = ctx.connect(server)
        request(ctx, conn, b"PING", b"PONG")
        if busy:
            ctx.note(f"{name} was sent while a client was connected and idle")
        else:
            conn.close()
            expect_idle(ctx, server, "once its client had closed the connection")
        code = ctx.stop_server(server, signo)
        if code is None:
            raise GradeFailure("timeout", f"the server was still running 3 s after {name}")
        if code != 0:
            raise GradeFailure("wrong exit code", f"after {name} the server should exit with "
                               f"status 0, but it {describe_status(code)}")
        if os.path.lexists(path):
            raise GradeFailure("wrong output", f"after {name} the socket file {path} is still "
                               "there: remove it (unlink) before exiting, or the next start "
                               "finds a stale file")


@graded(points=3, doc="README.md#conventions-every-lab-follows", step=2)
def test_bad_arguments(ctx):
    """both: bad arguments print a usage line and exit with status 2"""
    long_path = "/tmp/" + "x" * SUN_PATH_MAX
    ok = sock_path(ctx, "ok.sock")
    cases = [
        (SERVER, []), (SERVER, ["-s"]), (SERVER, ["-x"]), (SERVER, ["-s", ok, "extra"]),
        (SERVER, ["-p", "5000"]), (SERVER, ["-s", long_path]),
        (CLIENT, []), (CLIENT, ["-s"]), (CLIENT, ["-s", ok, "extra"]),
        (CLIENT, ["-s", long_path]),
    ]
    start(ctx, ok)
    for program, args in cases:
        result = ctx.run(program, args, timeout=2)
        shown = " ".join([program, *args])
        if len(shown) > 70:
            shown = shown[:40] + f"... ({len(long_path)}-byte path)"
        expect_exit(result, 2, f"'{shown}'")
        if "usage" not in result.stderr_text().lower():
            raise GradeFailure("wrong output", f"'{shown}' exited 2 but printed no usage line "
                               "on stderr (expected a line starting with 'usage:')")


# -- step 3: the protocol ---------------------------------------------------------

@graded(points=3, doc="labs/03-unix-socket/README.md#step-3--the-protocol", step=3)
def test_ping(ctx):
    """server: answers PING with PONG, again and again"""
    conn = ctx.connect(start(ctx))
    for _ in range(3):
        request(ctx, conn, b"PING", b"PONG")


@graded(points=5, doc="labs/03-unix-socket/README.md#step-3--the-protocol", step=3)
def test_echo(ctx):
    """server: ECHO sends back its text: spaces, UTF-8, empty, 4000 bytes"""
    conn = ctx.connect(start(ctx))
    rng = ctx.rng()
    request(ctx, conn, b"ECHO hello", b"hello")
    text = random_text(rng).encode()
    request(ctx, conn, b"ECHO " + text, text, f"the echo of random words (seed {ctx.seed})")
    request(ctx, conn, b"ECHO   two spaces  ", b"  two spaces  ",
            "the echo, spaces kept as they are")
    utf8 = "你好，世界".encode()
    request(ctx, conn, b"ECHO " + utf8, utf8, "the echo of UTF-8 text")
    request(ctx, conn, b"ECHO PING", b"PING", "the echo of the word PING (it is text here)")
    request(ctx, conn, b"ECHO ", b"", "an empty line, the echo of nothing")
    long_text = random_text(rng, words=LINE_MAX).encode()[:LINE_MAX - 100]
    request(ctx, conn, b"ECHO " + long_text, long_text,
            f"the echo of {len(long_text)} bytes (requests up to {LINE_MAX} bytes are allowed)")


@graded(points=3, doc="labs/03-unix-socket/README.md#step-3--the-protocol", step=3)
def test_unknown_commands(ctx):
    """server: anything else gets 'ERR unknown command'"""
    conn = ctx.connect(start(ctx))
    for line in (b"HELLO", b"ping", b"PINGPONG", b"", b"WHO am i", b"ECHOES x", b"\x00\xff"):
        request(ctx, conn, line, b"ERR unknown command",
                f"the reply to the unknown request {preview(line + NL)}")
    request(ctx, conn, b"PING", b"PONG", "PONG after the unknown requests")


# A second process that connects, sends WHO and prints its own ids, then
# the reply.
WHO_CHILD = """
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(3)
s.connect(sys.argv[1])
s.sendall(b"WHO\\n")
data = b""
while b"\\n" not in data and len(data) < 4096:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print(f"pid={os.getpid()} uid={os.getuid()} gid={os.getgid()}")
print(data.decode(errors="replace").strip())
"""


@graded(points=6, doc="03-unix-sockets.md#peer-credentials", step=3)
def test_who(ctx):
    """server: WHO gives the connected peer's pid, uid and gid (SO_PEERCRED)"""
    server = start(ctx)
    conn = ctx.connect(server)
    me = f"pid={os.getpid()} uid={os.getuid()} gid={os.getgid()}".encode()
    request(ctx, conn, b"WHO", me, "the test process's own credentials")
    conn.close()
    # Another process, another pid: the server must ask the kernel about
    # each connection, not remember an earlier answer. It runs as the
    # programs' own user, whose uid and gid differ, so that a reply with
    # the two swapped shows.
    child = ctx.run_tool(["/usr/bin/python3", "-c", WHO_CHILD, server.path], 10)
    lines = child.stdout.decode(errors="replace").splitlines() + ["", ""]
    want, got = lines[0], lines[1]
    ctx.transcript.add("second process", "received", got.encode() + NL,
                       note=f"it connected and sent WHO; it is {want}")
    if got != want:
        raise GradeFailure("wrong bytes", f"a second process ({want}) connected and sent WHO, "
                           f"and got {got!r}: expected its own ids. "
                           + who_mistake(parse_ids(want), parse_ids(got)))


def parse_ids(line):
    """{"pid": ..., "uid": ..., "gid": ...} from a WHO reply (what parses)."""
    return dict(part.split("=", 1) for part in line.split() if "=" in part)


def who_mistake(want, got):
    """The likely mistake behind a wrong WHO reply to the second process."""
    if (want.get("uid") != want.get("gid") and got.get("uid") == want.get("gid")
            and got.get("gid") == want.get("uid")):
        return ("Its uid and gid are swapped: struct ucred holds pid, uid, gid in that order, "
                "and WHO prints them in that order too")
    if got.get("pid") == str(os.getpid()):
        return (f"The pid is the test process's (pid={os.getpid()}), which connected first: read "
                "SO_PEERCRED on each accepted socket, not once")
    return "Read SO_PEERCRED on each accepted socket, and print its pid, uid and gid in order"


@graded(points=8, doc="03-unix-sockets.md#a-stream-has-no-message-boundaries", step=3)
def test_split_and_coalesced(ctx):
    """server: replies once per request, in order, however the bytes arrive"""
    server = start(ctx)
    rng = ctx.rng()
    lines, replies = [], []
    me = f"pid={os.getpid()} uid={os.getuid()} gid={os.getgid()}".encode()
    for _ in range(40):
        kind = rng.randrange(4)
        if kind == 0:
            lines.append(b"PING"), replies.append(b"PONG")
        elif kind == 1:
            text = random_text(rng, rng.randint(1, 4)).encode()
            lines.append(b"ECHO " + text), replies.append(text)
        elif kind == 2:
            lines.append(b"WHO"), replies.append(me)
        else:
            lines.append(b"NOPE " + random_text(rng, 1).encode())
            replies.append(b"ERR unknown command")
    data = b"".join(line + b"\n" for line in lines)
    expected = b"".join(reply + b"\n" for reply in replies)

    conn = ctx.connect(server)
    conn.send(data, note=f"{len(lines)} requests in one write (seed {ctx.seed})")
    expect_replies(ctx, conn, expected, f"the {len(lines)} replies, in order, to requests sent "
                   "in one write")
    conn.close()  # the server serves one client at a time

    conn = ctx.connect(server)
    conn.send_bytewise(b"ECHO one byte at a time\nPING\n", pause=0.002)
    expect_replies(ctx, conn, b"one byte at a time\nPONG\n", "the replies to requests sent one "
                   "byte per write")
    conn.close()

    conn = ctx.connect(server)
    sizes = split_sizes(len(data), rng, 13)
    conn.send_pieces(data, sizes, pause=0.001,
                     note=f"random pieces of 1..13 bytes (seed {ctx.seed})")
    conn.expect(expected, "the replies to requests cut into random pieces")
    conn.close()

    conn = ctx.connect(server)
    conn.send(b"PING\r\nECHO crlf\r\n", note="CRLF line ends, as 'nc -C' sends")
    expect_replies(ctx, conn, b"PONG\ncrlf\n", "the replies to requests ending in \\r\\n")


@graded(points=5, doc="labs/03-unix-socket/README.md#step-3--the-protocol", step=3)
def test_client_disconnects_mid_request(ctx):
    """server: survives clients that leave mid-request or without reading"""
    server = start(ctx)
    half = ctx.connect(server)
    half.send(b"ECHO half a requ", note="no end of line, then the client closes")
    half.close()
    expect_idle(ctx, server, "after a client sent half a request and closed")

    rude = ctx.connect(server)
    rude.send(b"PING\nECHO x", note="then a reset")
    rude.reset()

    no_reader = ctx.connect(server)
    many = b"PING\n" * 6000
    no_reader.send(many, note="6000 requests; the client closes without reading a reply")
    no_reader.close()

    flood = ctx.connect(server)
    flood.send(b"E" * (64 * 1024), note="64 KiB without an end of line, then the client closes")
    flood.close()

    conn = ctx.connect(server)
    request(ctx, conn, b"PING", b"PONG", "PONG to a new client after all that (a leftover "
            "'ECHO half a requ' would turn this PING into an unknown command)")
    ctx.expect_alive(server, "after clients that left mid-request")


@graded(points=5, doc="03-unix-sockets.md#a-stream-has-no-message-boundaries", step=3)
def test_survives_short_transfers_and_eintr(ctx):
    """server: answers every request when its recv() and send() come up short or are interrupted"""
    # Loopback hands over whole writes and nothing interrupts a call: the
    # shim cuts the server's transfers short and interrupts them (EINTR)
    # at seeded calls, as a busy network and a signal handler would.
    server = start(ctx, faults=Faults(rate=30, kinds="si"))
    rng = ctx.rng()
    me = f"pid={os.getpid()} uid={os.getuid()} gid={os.getgid()}".encode()
    lines, replies = [], []
    for _ in range(60):
        kind = rng.randrange(3)
        if kind == 0:
            text = random_text(rng, rng.randint(1, 80)).encode()[:LINE_MAX - 10]
            lines.append(b"ECHO " + text), replies.append(text)
        elif kind == 1:
            lines.append(b"WHO"), replies.append(me)
        else:
            lines.append(b"PING"), replies.append(b"PONG")
    # One request at a time first, so that each is a recv() of its own
    # (each one a chance for a fault), then all of them at once, in pieces.
    conn = ctx.connect(server, timeout=10)
    for i, (line, reply) in enumerate(zip(lines, replies), 1):
        request(ctx, conn, line, reply, f"the reply to request {i} of {len(lines)} (seed "
                f"{ctx.seed}), with short transfers and EINTR injected into the server")
    data = b"".join(line + NL for line in lines)
    expected = b"".join(reply + NL for reply in replies)
    conn.send_pieces(data, split_sizes(len(data), rng, 2000),
                     note=f"{len(lines)} requests in random pieces (seed {ctx.seed})")
    expect_replies(ctx, conn, expected, f"the {len(lines)} replies, in order, to requests sent "
                   "all at once, with short transfers and EINTR injected into the server")


# -- step 4: the client -----------------------------------------------------------

class ProtoPeer(ListeningPeer):
    """A stand-in server inside the grader, for testing unix_client.

    Accepts one connection and answers each request line with respond(line),
    which returns (reply bytes, descriptor to pass or None). Replies are cut
    into small pieces with short pauses, so the client must reassemble them.
    """

    thread_name = "unix-peer"

    def __init__(self, ctx, path, respond, seed):
        self.transcript = ctx.transcript
        self.channel = "test server"
        self.respond = respond
        self.rng = ctx.rng(salt=seed)
        self.requests = []
        self.received = 0
        self.sent = 0
        self.error = None
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        ctx.bind_unix(listener, path)
        super().__init__(listener)

    def summary(self):
        return (f"the test server got {len(self.requests)} request(s) "
                f"({self.received} bytes) and sent {self.sent} bytes")

    def _serve(self):
        conn = self._accept(time.monotonic() + PEER_LIFETIME)
        if conn is None:
            return
        deadline = time.monotonic() + PEER_LIFETIME
        buf = b""
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    chunk = conn.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    self.transcript.add(self.channel, "end of stream", note="the client closed")
                    return
                self.received += len(chunk)
                self.transcript.add(self.channel, "received", chunk)
                buf += chunk
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    self.requests.append(line)
                    reply, fd = self.respond(line)
                    if isinstance(reply, Hangup):
                        self._hang_up(conn, reply.partial)
                        return
                    self._reply(conn, reply, fd)
        except OSError as exc:
            self.error = exc
            self.transcript.add(self.channel, "error", note=str(exc))
        finally:
            conn.close()

    def _hang_up(self, conn, partial):
        if partial:
            conn.sendall(partial)
            self.sent += len(partial)
            self.transcript.add(self.channel, "sent", partial, "part of a reply")
        self.transcript.add(self.channel, "closed the connection", note="without replying"
                            + (" in full" if partial else ""))

    def _reply(self, conn, reply, fd):
        if fd is not None:
            # The descriptor rides on the first byte; the rest follows later.
            socket.send_fds(conn, [reply[:1]], [fd])
            self.transcript.add(self.channel, "sent", reply[:1], "with a file descriptor "
                                "(SCM_RIGHTS)")
            self.sent += 1
            reply = reply[1:]
            time.sleep(0.002)
        offset = 0
        for size in split_sizes(len(reply), self.rng, 4):
            conn.sendall(reply[offset:offset + size])
            offset += size
            time.sleep(0.001)
        self.transcript.add(self.channel, "sent", reply, "in pieces of 1..4 bytes")
        self.sent += len(reply)


class Hangup:
    """What respond() returns to make the test server close the connection
    instead of replying, after sending partial (the start of a reply)."""

    def __init__(self, partial=b""):
        self.partial = partial


FAKE_WHO = b"pid=4242 uid=1000 gid=1000"


def basic_reply(line):
    """The protocol as the test server answers it (no SEND)."""
    if line == b"PING":
        return b"PONG\n", None
    if line.startswith(b"ECHO "):
        return line[5:] + b"\n", None
    if line == b"WHO":
        return FAKE_WHO + b"\n", None
    return b"ERR unknown command\n", None


def start_peer(ctx, respond, name="peer.sock"):
    path = sock_path(ctx, name)
    peer = ProtoPeer(ctx, path, respond, seed=len(ctx.peers) + 1).start()
    ctx.peers.append(peer)
    return path, peer


def run_client(ctx, path, peer, stdin, timeout=5, valgrind=False, faults=None, limits=None,
               stall_after=3.0):
    result = ctx.run(CLIENT, ["-s", path], stdin_data=stdin, timeout=timeout,
                     valgrind=valgrind, progress=lambda: peer.received + peer.sent,
                     faults=faults, limits=limits, stall_after=stall_after)
    ctx.note(peer.summary())
    return result


def client_repro(ctx, stdin, server_line=None):
    ctx.set_repro([
        server_line or f"{ctx.display_path(SERVER)} -s /tmp/lab03.sock    # terminal 1 (the "
        "reference works too)",
        f"{shell_printf(stdin)} | {ctx.display_path(CLIENT)} -s /tmp/lab03.sock; "
        "echo \"exit $?\"    # terminal 2",
    ])


def check_client_output(result, expected, what):
    expect_bytes(expected, result.stdout_bytes(), f"{what}: the client's stdout")


@graded(points=6, doc="labs/03-unix-socket/README.md#step-4--the-client", step=4)
def test_client_requests(ctx):
    """client: sends each stdin line, prints each reply"""
    text = random_text(ctx.rng()).encode()
    stdin = b"PING\nECHO " + text + b"\nWHO\nHELLO\nECHO a NUL \x00 byte\nECHO last line, " \
        b"no newline"
    expected = b"PONG\n" + text + b"\n" + FAKE_WHO + b"\nERR unknown command\n" \
        + b"a NUL \x00 byte\nlast line, no newline\n"
    path, peer = start_peer(ctx, basic_reply)
    client_repro(ctx, stdin)
    result = run_client(ctx, path, peer, stdin)
    expect_exit(result, 0, "unix_client with six request lines on stdin")
    sent = [b"PING", b"ECHO " + text, b"WHO", b"HELLO", b"ECHO a NUL \x00 byte",
            b"ECHO last line, no newline"]
    if peer.requests != sent:
        raise GradeFailure("wrong bytes", f"the server should have got the requests {sent!r}, "
                           f"one per stdin line, but got {peer.requests!r}")
    check_client_output(result, expected, "six replies, each cut into pieces by the server")


@graded(points=4, doc="labs/03-unix-socket/README.md#step-4--the-client", step=4)
def test_client_survives_short_transfers_and_eintr(ctx):
    """client: every reply when its sends and receives come up short or are interrupted"""
    rng = ctx.rng()
    lines, replies = [], []
    for i in range(40):
        if i % 3 == 0:
            lines.append(b"PING"), replies.append(b"PONG")
        else:
            text = random_text(rng, rng.randint(2, 8)).encode()
            lines.append(b"ECHO " + text), replies.append(text)
    stdin = b"".join(line + NL for line in lines)
    path, peer = start_peer(ctx, basic_reply)
    client_repro(ctx, stdin)
    result = run_client(ctx, path, peer, stdin, timeout=15, faults=Faults(rate=30, kinds="si"))
    expect_exit(result, 0, "unix_client with 40 requests and faults injected into its socket "
                "calls")
    if peer.requests != lines:
        i = next((i for i, (a, b) in enumerate(zip(peer.requests, lines)) if a != b),
                 min(len(peer.requests), len(lines)))
        got = preview(peer.requests[i] + NL) if i < len(peer.requests) else "nothing"
        want = preview(lines[i] + NL) if i < len(lines) else "nothing more"
        raise GradeFailure("wrong bytes", f"request {i + 1} should have been {want}, but the "
                           f"server got {got}. Is a short send() followed by a send() of the "
                           "rest?")
    check_client_output(result, b"".join(reply + NL for reply in replies),
                        "40 replies with faults injected into the client")


@graded(points=4, doc="labs/03-unix-socket/README.md#step-4--the-client", step=4)
def test_client_server_closes_early(ctx):
    """client: stops with status 1 when the server closes before replying or mid-reply"""
    cases = [
        ("before its first reply", b"WHO\n", [b"WHO"], b""),
        ("before its second reply", b"PING\nPING\n", [b"PING", b"PING"], b"PONG\n"),
        ("after half a reply line", b"PING\nECHO hello\n", [b"PING", b"ECHO hello"],
         b"PONG\n"),
    ]
    # The request the server hangs up on is the last one: a client that
    # takes the end of the stream for the end of its work exits 0.
    for i, (when, stdin, asked, printed) in enumerate(cases):
        def respond(line, n_asked=len(asked)):
            if len(peer.requests) < n_asked:
                return basic_reply(line)
            return Hangup(b"hel" if line.startswith(b"ECHO") else b""), None

        path, peer = start_peer(ctx, respond, name=f"early-{i}.sock")
        client_repro(ctx, stdin, "(a server that closes on cue is easiest written in Python; the "
                     "transcript above shows what the test's did)")
        # A client that spins on recv() returning 0 is killed for its CPU
        # time (SIGXCPU: a second of it, long before the stall window ends
        # even on a busy machine), one that blocks for making no progress.
        result = run_client(ctx, path, peer, stdin, timeout=10, stall_after=6.0,
                            limits=Limits(cpu_seconds=int(ctx.scaled(1))))
        what = f"unix_client when the server closes the connection {when}"
        if result.timed_out or result.returncode != 1:
            expect_exit(result, 1, f"{what} (it must stop and exit 1: the reply can never come)")
        if not result.stderr_text().strip():
            raise GradeFailure("wrong output", f"{what}: the client exited 1 without a word; "
                               "say on stderr that the server closed the connection before "
                               "replying")
        got = result.stdout_bytes()
        if not got.startswith(printed) or len(got) > len(printed) + len(b"hel\n"):
            expect_bytes(printed, got, f"{what}: the client's stdout (the replies that came "
                         "in full)")


@graded(points=4, doc="labs/03-unix-socket/README.md#step-4--the-client", step=4)
def test_client_nothing_listening(ctx):
    """client: says so and exits non-zero when nothing listens at PATH"""
    path, peer = start_peer(ctx, basic_reply)
    result = run_client(ctx, path, peer, b"PING\n")
    expect_exit(result, 0, "unix_client talking to a working server (before the real test)")

    missing = sock_path(ctx, "nobody-here.sock")
    stale = sock_path(ctx, "stale.sock")
    holder = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ctx.bind_unix(holder, stale)
    holder.close()
    for target, why in ((missing, "no file at all"), (stale, "a socket file nobody listens on")):
        result = ctx.run(CLIENT, ["-s", target], stdin_data=b"PING\n", timeout=3)
        if result.timed_out or result.returncode <= 0:
            shown = "did not finish" if result.timed_out else describe_status(result.returncode)
            raise GradeFailure("wrong exit code", f"unix_client -s {target} ({why}) should exit "
                               f"with a non-zero status, but it {shown}")
        if target not in result.stderr_text():
            raise GradeFailure("wrong output", f"unix_client -s {target} ({why}) should say what "
                               f"failed, naming the path, e.g. 'unix_client: connect {target}: "
                               f"No such file or directory'; its stderr was "
                               f"{result.stderr_text()[:200]!r}")


# -- valgrind and the sanitizers (steps 3 and 4) ------------------------------------

@graded(points=4, doc="03-unix-sockets.md#checklist-for-lab-03", timeout=60, step=3)
def test_server_valgrind(ctx):
    """valgrind: the server has no memory errors or leaks"""
    server = start(ctx, valgrind=True)
    conn = ctx.connect(server)
    conn.send_pieces(b"PING\nECHO under valgrind\nWHO\nNOPE\n", [3, 7, 1, 9], pause=0.01)
    me = f"pid={os.getpid()} uid={os.getuid()} gid={os.getgid()}".encode()
    conn.expect(b"PONG\nunder valgrind\n" + me + b"\nERR unknown command\n",
                "the replies under valgrind")
    conn.send(b"ECHO half")
    conn.close()
    request(ctx, ctx.connect(server), b"PING", b"PONG",
            "PONG to the next client under valgrind")
    code = ctx.stop_server(server, grace=10)
    if code != 0:
        raise GradeFailure("wrong exit code", "under valgrind, the server should exit with "
                           f"status 0 on SIGTERM, but it {describe_status(code)}")
    ctx.check_valgrind(server.process)


@graded(points=4, doc="03-unix-sockets.md#checklist-for-lab-03", timeout=60, step=4)
def test_client_valgrind(ctx):
    """valgrind: the client has no memory errors or leaks"""
    text = random_text(ctx.rng(), words=300).encode()[:3000]
    stdin = b"PING\nECHO " + text + b"\nWHO\n"
    path, peer = start_peer(ctx, basic_reply)
    client_repro(ctx, b"PING\nWHO\n")
    result = run_client(ctx, path, peer, stdin, timeout=20, valgrind=True)
    expect_exit(result, 0, "unix_client under valgrind")
    check_client_output(result, b"PONG\n" + text + b"\n" + FAKE_WHO + b"\n",
                        "the replies under valgrind")
    ctx.check_valgrind(result.process)


@graded(points=5, doc="03-unix-sockets.md#checklist-for-lab-03", timeout=40, step=3)
def test_server_sanitizers(ctx):
    """sanitizers: the server runs clean under AddressSanitizer and UBSan"""
    # ASan sees what valgrind cannot, such as a write one byte past the end
    # of a buffer on the stack. The longest request (with CRLF, so that the
    # request buffer fills exactly), a line too long, a reset and a client
    # leaving mid-request exercise the edges; LeakSanitizer checks for
    # leaks when the server exits.
    server = start(ctx, sanitize=True)
    rng = ctx.rng()
    conn = ctx.connect(server)
    longest = random_text(rng, words=LINE_MAX).encode()[:LINE_MAX - len(b"ECHO ") - 1] + b"."
    raw = b"ECHO " + longest + b"\r\n"
    conn.send_pieces(raw, split_sizes(len(raw), rng, 1500),
                     note=f"a {LINE_MAX}-byte request in random pieces (seed {ctx.seed})")
    got = conn.recv_until(NL, limit=len(longest) + 1)
    expect_bytes(longest + NL, got, f"the echo of {len(longest)} bytes (a request of exactly "
                 f"{LINE_MAX} bytes) under the sanitizers", conn.eof)
    me = f"pid={os.getpid()} uid={os.getuid()} gid={os.getgid()}".encode()
    conn.send(b"WHO\nPING\nECHO \nNOPE\n" + b"L" * (2 * LINE_MAX) + b"\nPING\n")
    conn.expect(me + b"\nPONG\n\nERR unknown command\nERR line too long\nPONG\n",
                "the replies to WHO, PING, an empty ECHO, an unknown command and a line "
                "too long, under the sanitizers")
    conn.close()
    rude = ctx.connect(server)
    rude.send(b"PING\nECHO cut sho", note="then a reset")
    rude.reset()
    request(ctx, ctx.connect(server), b"PING", b"PONG",
            "PONG after a reset, under the sanitizers")
    code = ctx.stop_server(server)
    ctx.check_sanitizer(server.process)
    if code != 0:
        raise GradeFailure("wrong exit code", "built with the sanitizers, the server should exit "
                           f"with status 0 on SIGTERM, but it {describe_status(code)}")


# -- step 5 (stretch): passing a descriptor with SCM_RIGHTS -------------------------

@graded(points=5, doc="03-unix-sockets.md#passing-descriptors-scm_rights", step=5)
def test_stretch_server_passes_fd(ctx):
    """stretch: SEND passes the open file to the client (SCM_RIGHTS)"""
    # A low descriptor limit: a server that forgets to close its copy of
    # each file it passes runs out of descriptors within the loop below.
    server = start(ctx, limits=Limits(open_files=24))
    content = ctx.rng().randbytes(64 * 1024)
    path = os.path.join(ctx.tmpdir, "data.bin")
    ctx.write_file(path, content)
    want_ino = ctx.lstat(path).st_ino
    conn = ctx.connect(server)
    for i in range(40):
        conn.send(f"SEND {path}\n".encode())
        line, fds = recv_reply_with_fds(conn, f"the reply to SEND number {i + 1}")
        try:
            if line != b"OK":
                raise GradeFailure("wrong bytes", f"SEND number {i + 1} of {path}: expected "
                                   f"the reply 'OK' with the open file, got {preview(line)}"
                                   + (" (out of descriptors? close your copy after sendmsg)"
                                      if i > 0 else ""))
            if len(fds) != 1:
                raise GradeFailure("wrong bytes", f"the reply 'OK' to SEND should carry exactly "
                                   f"one descriptor (SCM_RIGHTS), it carried {len(fds)}")
            st = os.fstat(fds[0])
            if not stat.S_ISREG(st.st_mode) or st.st_ino != want_ino:
                raise GradeFailure("wrong bytes", "the descriptor passed is not the file "
                                   f"{path} (another file, or not a regular file)")
            if i == 0:
                got = read_all_fd(fds[0])
                if got != content:
                    raise GradeFailure("wrong bytes", "reading the passed descriptor gave "
                                       f"{len(got)} bytes that differ from the file's "
                                       f"{len(content)} (open it fresh, at offset 0)")
        finally:
            for fd in fds:
                os.close(fd)
    request(ctx, conn, b"PING", b"PONG", "PONG after 40 SENDs")


@graded(points=2, doc="03-unix-sockets.md#passing-descriptors-scm_rights", step=5)
def test_stretch_server_send_errors(ctx):
    """stretch: SEND of a missing file or a directory replies 'ERR ...', no descriptor"""
    conn = ctx.connect(start(ctx))
    for target, why in ((os.path.join(ctx.tmpdir, "no-such-file"), "a missing file"),
                        (ctx.tmpdir, "a directory")):
        conn.send(f"SEND {target}\n".encode())
        line, fds = recv_reply_with_fds(conn, f"the reply to SEND of {why}")
        for fd in fds:
            os.close(fd)
        if not line.startswith(b"ERR "):
            raise GradeFailure("wrong bytes", f"SEND of {why} ({target}) should get "
                               f"'ERR <reason>', but the reply was {preview(line)}")
        if fds:
            raise GradeFailure("wrong bytes", f"the error reply to SEND of {why} carried a "
                               "descriptor; only 'OK' carries one")
    request(ctx, conn, b"PING", b"PONG", "PONG after the failed SENDs")



# Said when the client of the descriptor test fails: the first thing to
# check when a descriptor "never came".
PASSED_FD_HINT = (". The test's server sent its \"OK\\n\" with the file's descriptor attached "
                  "(SCM_RIGHTS) to its first byte. A descriptor arrives only through recvmsg() "
                  "with room for control data (msg_control); recv() and read() drop it, and the "
                  "kernel closes it")


@graded(points=5, doc="03-unix-sockets.md#passing-descriptors-scm_rights", step=5)
def test_stretch_client_reads_fd(ctx):
    """stretch: the client prints a SENT file by reading the passed descriptor"""
    content = ctx.rng().randbytes(100 * 1024)
    # The file is deleted once open: only the descriptor leads to it, so a
    # client that opens the path itself finds nothing.
    secret = os.path.join(ctx.tmpdir, "secret.bin")
    ctx.write_file(secret, content)
    fd = ctx.open_file(secret)
    ctx.unlink(secret)
    fake_path = "/nonexistent/lab03/secret.bin"

    def respond(line):
        if line == f"SEND {fake_path}".encode():
            return b"OK\n", fd
        return basic_reply(line)

    try:
        path, peer = start_peer(ctx, respond)
        client_repro(ctx, f"SEND {fake_path}\nPING\n".encode())
        result = run_client(ctx, path, peer, f"SEND {fake_path}\nPING\n".encode())
        try:
            expect_exit(result, 0, "unix_client sending SEND, then PING")
        except GradeFailure as failure:
            raise GradeFailure(failure.kind, failure.message + PASSED_FD_HINT,
                               failure.details) from None
        check_client_output(result, content + b"PONG\n", "the 100 KiB file read through the "
                            "passed descriptor, then PONG")
    finally:
        os.close(fd)
