"""Unit tests of grader/procfs.py against a helper process whose state
is known: a listener, a zombie child, a sleeping child, extra threads."""

import os
import socket
import subprocess
import sys
import time

import pytest

from grader import context, procfs, sockets, transcripts

# Prints "PORT ZOMBIE SLEEPER" once its state is set up, then waits for
# stdin to close.
HELPER = r"""
import os, socket, sys, threading, time
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(4)
zombie = os.fork()
if zombie == 0:
    os._exit(0)
# The sleeper tells the parent through a pipe once it has closed its copy
# of the listener; until then /proc would show the listener in both.
closed_r, closed_w = os.pipe()
sleeper = os.fork()
if sleeper == 0:
    listener.close()
    os.write(closed_w, b"x")
    time.sleep(30)
    os._exit(0)
os.read(closed_r, 1)
gate = threading.Event()
threads = [threading.Thread(target=gate.wait, daemon=True) for _ in range(3)]
for t in threads:
    t.start()
while open(f"/proc/{zombie}/stat").read().rsplit(")", 1)[1].split()[0] != "Z":
    time.sleep(0.01)
print(listener.getsockname()[1], zombie, sleeper, flush=True)
sys.stdin.read()
os.kill(sleeper, 9)
"""


@pytest.fixture
def helper():
    proc = subprocess.Popen([sys.executable, "-c", HELPER], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        port, zombie, sleeper = map(int, proc.stdout.readline().split())
        yield proc, port, zombie, sleeper
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


def test_children_and_zombies(helper):
    proc, _, zombie, sleeper = helper
    assert procfs.children(proc.pid) == sorted([zombie, sleeper])
    assert procfs.zombies(proc.pid) == [zombie]
    assert procfs.state(zombie) == "Z"
    assert procfs.state(sleeper) in ("S", "R")
    assert procfs.parent(sleeper) == proc.pid


def test_children_by_scan_agrees(helper):
    proc, _, zombie, sleeper = helper
    assert procfs._children_by_scan(proc.pid) == sorted([zombie, sleeper])


def test_threads(helper):
    proc = helper[0]
    assert procfs.thread_count(proc.pid) == 4
    assert procfs.thread_count(helper[3]) == 1


def test_listener_is_found_in_the_parent_only(helper):
    proc, port, _, sleeper = helper
    listening = procfs.listener_inodes(port)
    assert len(listening) == 1
    assert listening <= procfs.socket_inodes(proc.pid)
    assert not listening & procfs.socket_inodes(sleeper)


def test_fd_count_follows_open_and_close():
    before = procfs.fd_count(os.getpid())
    socks = [socket.socket() for _ in range(5)]
    try:
        assert procfs.fd_count(os.getpid()) == before + 5
        inodes = procfs.socket_inodes(os.getpid())
        assert {os.fstat(s.fileno()).st_ino for s in socks} <= inodes
    finally:
        for s in socks:
            s.close()
    assert procfs.fd_count(os.getpid()) == before
    assert any("socket:" not in line for line in procfs.describe_fds(os.getpid()))


def test_a_process_that_is_gone_reads_as_empty():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=10)  # reaped: its /proc entry is gone
    assert procfs.state(proc.pid) is None
    assert procfs.children(proc.pid) == []
    assert procfs.fd_count(proc.pid) == 0
    assert procfs.thread_count(proc.pid) == 0
    assert procfs.cpu_seconds(proc.pid) is None


def test_cpu_time_tells_a_spinning_process_from_a_waiting_one():
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        time.sleep(1.0)
        assert procfs.cpu_seconds(spinner.pid) > 0.2
        assert procfs.cpu_seconds(sleeper.pid) < 0.2
    finally:
        for proc in (spinner, sleeper):
            proc.kill()
            proc.wait(timeout=10)


def test_a_spinning_process_is_busy_however_many_share_the_cpus():
    """busy_seconds counts time ready to run: a spinner sharing the CPUs
    with more spinners than there are CPUs is still busy all the time, a
    process that waits is not."""
    crowd = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
             for _ in range(2 * (os.cpu_count() or 1) + 1)]
    sleeper = subprocess.Popen([sys.executable, "-c",
                                "import time\nwhile True: time.sleep(0.01)"])
    try:
        time.sleep(0.3)    # each has started (python itself takes a moment)
        spinner = crowd[0].pid
        busy = {pid: procfs.busy_seconds(pid) for pid in (spinner, sleeper.pid)}
        started = time.monotonic()
        time.sleep(1.0)
        elapsed = time.monotonic() - started
        share = {pid: (procfs.busy_seconds(pid) - busy[pid]) / elapsed for pid in busy}
        assert share[spinner] > 0.8, share
        assert share[sleeper.pid] < 0.5, share
    finally:
        for proc in (*crowd, sleeper):
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(params=["sock_diag", "/proc/net/tcp"])
def diag(request, monkeypatch):
    """connection_progress() as asked over netlink, and as read from /proc
    where netlink is refused."""
    if request.param == "/proc/net/tcp":
        refuse_netlink(monkeypatch)
    return request.param


def refuse_netlink(monkeypatch):
    """Makes procfs's netlink sockets fail as a container's seccomp would."""
    real = socket.socket

    def no_netlink(family=-1, *args, **kwargs):
        if family == socket.AF_NETLINK:
            raise PermissionError(1, "Operation not permitted")
        return real(family, *args, **kwargs)
    monkeypatch.setattr(procfs.socket, "socket", no_netlink)


def test_connection_progress_follows_accept_and_reads(diag):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        server = ("127.0.0.1", port)
        with socket.create_connection(server) as client:
            me = client.getsockname()
            client.sendall(b"hello")
            time.sleep(0.05)
            assert procfs.connection_progress(server, me) == (1, 5)
            assert procfs.connection_end(server, me) == (5, 0)   # no file before accept()
            served, _ = listener.accept()
            with served:
                assert procfs.connection_progress(server, me) == (0, 5)
                assert procfs.connection_end(server, me) == (5, os.fstat(served.fileno()).st_ino)
                assert served.recv(5) == b"hello"
                assert procfs.connection_progress(server, me) == (0, 0)
        assert procfs.connection_progress(("127.0.0.1", port), ("127.0.0.1", 1)) == (0, None)


def test_a_silent_server_is_told_where_it_stopped(diag):
    """why_silent() names the step a server never took: accept(), reading
    what was sent, sending something back."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        port = listener.getsockname()[1]
        server = context.Server(process=None, host="127.0.0.1", port=port, announce_line="",
                                unread_hint="Check the hand-over queue")
        conn = sockets.Conn(socket.create_connection(("127.0.0.1", port)), "conn 1",
                            transcripts.Transcript())
        with conn.sock:
            conn.sock.sendall(b"hello")
            time.sleep(0.05)
            assert "never accept()ed this connection" in context.why_silent(server, conn)
            served, _ = listener.accept()
            with served:
                said = context.why_silent(server, conn)
                assert "never read the last 5 bytes sent on it. Check the hand-over" in said
                served.recv(5)
                assert context.why_silent(server, conn).endswith("but sent nothing back")
                served.sendall(b"partial")
                conn.recv_exactly(7)
                assert context.why_silent(server, conn).endswith("sent no more than the above")
        # A connection the test has closed: nothing to say.
        assert context.why_silent(server, conn) == ""


@pytest.mark.parametrize("netlink", [True, False], ids=["sock_diag", "no netlink"])
def test_a_silent_unix_domain_server_is_told_where_it_stopped(netlink, tmp_path, monkeypatch):
    """The same steps for a Unix-domain server, from unix_diag; where
    netlink is refused there is no other source, and nothing is said."""
    if not netlink:
        refuse_netlink(monkeypatch)
    path = str(tmp_path / "server.sock")
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(path)
        listener.listen(4)
        server = context.Server(process=None, host="", port=0, announce_line="", path=path)
        conn = sockets.Conn.open_unix(path, "conn 1", transcripts.Transcript())
        with conn.sock:
            conn.sock.sendall(b"hello")
            if not netlink:
                assert context.why_silent(server, conn) == ""
                return

            def said():
                return context.why_silent(server, conn)
            assert said().endswith("never accept()ed this connection: it still waits in the "
                                   "listen queue")
            served, _ = listener.accept()
            with served:
                assert said().endswith("never read the last 5 bytes sent on it")
                assert served.recv(3) == b"hel"
                assert said().endswith("never read the last 2 bytes sent on it")
                served.recv(2)
                assert said().endswith("but sent nothing back")
                served.sendall(b"partial")
                conn.recv_exactly(7)
                assert said().endswith("sent no more than the above")
            # The server has closed its end: nothing to say (not "never accepted").
            assert said() == ""
