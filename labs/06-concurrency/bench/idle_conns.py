#!/usr/bin/python3
"""idle_conns.py - hold many idle keep-alive connections open to a server.

    idle_conns.py HOST PORT TARGET [--batch N] [--timeout S] [--path P]
                  [--sources K]

Opens connections in batches. On each one it sends a single HTTP/1.1
request, reads the whole response, and then leaves the connection open
and silent: the idle keep-alive client a browser leaves behind. After
each batch it prints one line on stdout,

    open OPENED answered ANSWERED failed FAILED

and waits for a command on stdin: "more" opens the next batch, "stop"
stops opening. Once it stops (or reaches TARGET) it prints "holding N";
"check" then prints "alive N" (connections the server has not closed),
and "quit" or the end of stdin closes everything and exits. bench.py
drives it; by hand, type the commands.

A batch ends when every new connection has its response, or after
--timeout seconds: a server that cannot take more (a full thread pool, a
process limit) shows up as answered < opened, never as a hang. With
--sources K the connections come from K loopback addresses (127.0.0.1,
127.0.0.2, ...), each with its own range of ephemeral ports, for more
connections than one address has ports.
"""

import argparse
import errno
import resource
import selectors
import socket
import sys
import time

# Linux: bind() only the address and pick the port at connect(), so that
# many source addresses do not use up ports before connecting.
IP_BIND_ADDRESS_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
RECV_SIZE = 65536


def parse_args():
    p = argparse.ArgumentParser(description="hold idle keep-alive connections")
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("target", type=int, help="connections to open in all")
    p.add_argument("--batch", type=int, default=1000, help="connections per batch")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds a batch may take to be answered")
    p.add_argument("--path", default="/index.html")
    p.add_argument("--sources", type=int, default=1,
                   help="loopback source addresses to spread connections over")
    return p.parse_args()


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


class Conn:
    """One connection and how far its one response has come."""

    def __init__(self, sock):
        self.sock = sock
        self.got = b""
        self.need = None  # total response length once the head is in
        self.sent = False

    def feed(self, data):
        """Adds received bytes; returns True once the response is whole."""
        self.got += data
        if self.need is None:
            end = self.got.find(b"\r\n\r\n")
            if end < 0:
                return False
            length = 0
            for line in self.got[:end].split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            self.need = end + 4 + length
        return len(self.got) >= self.need


def open_batch(args, count, first_index, request, sel):
    """Opens count connections and waits (bounded) for their responses.
    Returns (answered Conns, number that failed, Conns still waiting)."""
    pending = {}
    failed = 0
    for i in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            if args.sources > 1:
                source = "127.0.0.%d" % (1 + (first_index + i) % args.sources)
                sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
                sock.bind((source, 0))
            err = sock.connect_ex((args.host, args.port))
        except OSError as e:
            err = e.errno
        if err not in (0, errno.EINPROGRESS):
            sock.close()
            failed += 1
            continue
        conn = Conn(sock)
        pending[sock.fileno()] = conn
        sel.register(sock, selectors.EVENT_WRITE, conn)

    answered = []
    deadline = time.monotonic() + args.timeout
    while pending and time.monotonic() < deadline:
        for key, mask in sel.select(timeout=max(0.0, deadline - time.monotonic())):
            conn = key.data
            done = False
            try:
                if not conn.sent:
                    # Writable after a non-blocking connect: it succeeded
                    # or failed; send() tells which.
                    conn.sock.send(request)
                    conn.sent = True
                    sel.modify(conn.sock, selectors.EVENT_READ, conn)
                    continue
                data = conn.sock.recv(RECV_SIZE)
                if not data:
                    raise ConnectionResetError("closed before the response ended")
                done = conn.feed(data)
            except OSError:
                sel.unregister(conn.sock)
                del pending[conn.sock.fileno()]
                conn.sock.close()
                failed += 1
                continue
            if done:
                sel.unregister(conn.sock)
                del pending[conn.sock.fileno()]
                answered.append(conn)
    # Unanswered connections stay open: the server may still hold them,
    # and closing them would hide that it does.
    for conn in pending.values():
        sel.unregister(conn.sock)
    return answered, failed, list(pending.values())


def count_alive(conns):
    """Connections the server has not closed (no EOF, no error, no data)."""
    alive = 0
    for conn in conns:
        try:
            data = conn.sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            alive += 1
            continue
        except OSError:
            continue
        if data:
            alive += 1  # unexpected bytes, but still open
    return alive


def main():
    args = parse_args()
    limit = raise_fd_limit()
    if args.target + 16 > limit:
        print("idle_conns: %d connections need more file descriptors than the "
              "limit of %d (ulimit -Hn)" % (args.target, limit), file=sys.stderr)
        return 2
    request = ("GET %s HTTP/1.1\r\nHost: %s:%d\r\n\r\n"
               % (args.path, args.host, args.port)).encode()
    sel = selectors.DefaultSelector()
    answered, unanswered, failed = [], [], 0
    while len(answered) + len(unanswered) < args.target:
        count = min(args.batch, args.target - len(answered) - len(unanswered))
        ok, bad, waiting = open_batch(args, count, len(answered) + len(unanswered),
                                      request, sel)
        answered += ok
        unanswered += waiting
        failed += bad
        print("open %d answered %d failed %d"
              % (len(answered) + len(unanswered), len(answered), failed), flush=True)
        if len(answered) + len(unanswered) >= args.target:
            break
        command = sys.stdin.readline().strip()
        if command != "more":
            break
    print("holding %d" % (len(answered) + len(unanswered)), flush=True)
    for line in sys.stdin:
        command = line.strip()
        if command == "check":
            print("alive %d" % count_alive(answered + unanswered), flush=True)
        elif command == "quit":
            break
    for conn in answered + unanswered:
        conn.sock.close()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (BrokenPipeError, KeyboardInterrupt):
        sys.exit(1)
