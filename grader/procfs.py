"""What a running server holds, read from /proc (Linux).

Lab 06's tests look inside the server while it runs: its child processes
and whether any is a zombie, its threads, its open descriptors, and which
sockets each process holds. Every function takes a pid and returns plain
values; a process that has gone away reads as empty (no children, no
descriptors) rather than raising, because the tests ask "what is left?"
about processes that may exit at any moment.
"""

import os
import re
import socket
import struct

SOCKET_LINK = re.compile(r"^socket:\[(\d+)\]$")
TCP_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
TCP_LISTEN = "0A"          # the st column of /proc/net/tcp for LISTEN


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def memory_kib(pid, field):
    """A memory figure of a process from /proc/PID/status, in KiB: VmRSS
    (resident now) or VmHWM (the peak of VmRSS); None if there is none."""
    for line in (_read(f"/proc/{pid}/status") or "").splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def _stat_fields(pid):
    """The fields of /proc/PID/stat after the command name, or None.
    The name is in parentheses and may itself hold spaces and ')'."""
    text = _read(f"/proc/{pid}/stat")
    if text is None:
        return None
    return text.rsplit(")", 1)[1].split()


def state(pid):
    """The one-letter state of pid (R, S, D, Z, T...), or None if gone."""
    fields = _stat_fields(pid)
    return fields[0] if fields else None


def parent(pid):
    """The parent pid of pid, or None if gone."""
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def children(pid):
    """The pids of pid's children, zombies included, in increasing order.

    /proc/PID/task/TID/children is exact and cheap, but only on kernels
    built with CONFIG_PROC_CHILDREN; elsewhere every process's parent is
    read from /proc/*/stat.
    """
    task_dir = f"/proc/{pid}/task"
    try:
        tids = os.listdir(task_dir)
    except OSError:
        return []
    found = set()
    for tid in tids:
        text = _read(f"{task_dir}/{tid}/children")
        if text is None:
            return _children_by_scan(pid)
        found.update(int(word) for word in text.split())
    return sorted(found)


def pids():
    """The pids of every process this one can see."""
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _children_by_scan(pid):
    return sorted(kid for kid in pids() if parent(kid) == pid)


def pids_of_user(uid):
    """The pids of the processes whose real user is uid."""
    owned = []
    for pid in pids():
        try:
            if os.stat(f"/proc/{pid}").st_uid == uid:
                owned.append(pid)
        except OSError:
            continue
    return owned


def zombies(pid):
    """The children of pid that have exited but were never reaped."""
    return [child for child in children(pid) if state(child) == "Z"]


def cpu_seconds(pid):
    """CPU time pid has used so far (user and system, all its threads),
    in seconds; None if gone. A process that waits uses next to none; one
    that spins in a loop uses as much as it is given."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    # After the name: state is field 3 of stat(5), utime 14 and stime 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def busy_seconds(pid):
    """Time pid's threads have spent running or ready to run (waiting for
    a CPU) so far, in seconds; None if gone. Unlike cpu_seconds, this
    does not depend on what else the machine runs: a loop that never
    blocks is ready to run all the time, even on a CPU it must share,
    while a program that waits for input is neither.

    From /proc/PID/task/TID/schedstat (time on a CPU, time in a run
    queue, in ns); where the kernel keeps no such counts, the CPU time."""
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    total = 0
    for tid in tids:
        fields = (_read(f"/proc/{pid}/task/{tid}/schedstat") or "").split()
        if len(fields) < 2:
            continue           # the thread has exited meanwhile
        total += int(fields[0]) + int(fields[1])
    if total == 0:             # no schedstat kept here (or it never ran)
        return cpu_seconds(pid)
    return total / 1e9


def thread_count(pid):
    """How many threads pid has (1 for a single-threaded process), 0 if gone."""
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def fd_targets(pid):
    """{descriptor number: what it refers to} ('socket:[123]', a path,
    'pipe:[456]'...). Empty if pid is gone."""
    folder = f"/proc/{pid}/fd"
    try:
        names = os.listdir(folder)
    except OSError:
        return {}
    targets = {}
    for name in names:
        try:
            targets[int(name)] = os.readlink(f"{folder}/{name}")
        except OSError:
            pass  # closed while we looked
    return targets


def fd_count(pid):
    """How many descriptors pid has open (0 if gone)."""
    return len(fd_targets(pid))


def socket_inodes(pid):
    """The inode numbers of the sockets pid holds open."""
    inodes = set()
    for target in fd_targets(pid).values():
        match = SOCKET_LINK.match(target)
        if match:
            inodes.add(int(match.group(1)))
    return inodes


def _tcp_sockets():
    """(state, local port, remote port, receive queue, inode) for every TCP
    socket of this network namespace, IPv4 and IPv6. The receive queue of a
    listening socket is how many connections wait in its listen queue; of a
    connected one, how many bytes its owner has not read yet."""
    for table in TCP_TABLES:
        for line in (_read(table) or "").splitlines()[1:]:
            fields = line.split()
            if len(fields) < 10:
                continue
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            remote_port = int(fields[2].rsplit(":", 1)[1], 16)
            receive_queue = int(fields[4].split(":")[1], 16)
            yield fields[3], local_port, remote_port, receive_queue, int(fields[9])


def listener_inodes(port):
    """The inodes of the TCP sockets listening on port (IPv4 and IPv6)."""
    return {inode for st, local, _, _, inode in _tcp_sockets()
            if st == TCP_LISTEN and local == port}


def connection_progress(server_addr, client_addr):
    """How far the server listening on server_addr (host, port) has got
    with the connection from client_addr: (waiting, unread). waiting counts
    the connections in its listen queue, not yet taken by accept(); unread
    is how many bytes the server's end of this connection holds unread, or
    None while the kernel has no such end (the handshake is not through)."""
    listener, end = _server_sockets(server_addr, client_addr)
    return (listener[0] if listener else 0), (end[0] if end else None)


def listen_queue(server_addr):
    """How many connections wait in the listen queue of the server
    listening on server_addr (host, port), not yet taken by accept()."""
    return connection_progress(server_addr, (server_addr[0], 0))[0]


def connection_end(server_addr, client_addr):
    """(unread, inode) of the server's end of the connection from
    client_addr to server_addr, or None if the kernel has none. Inode 0:
    the connection still waits in the listen queue, as only accept()
    gives it a file."""
    _, end = _server_sockets(server_addr, client_addr)
    return end


def _server_sockets(server_addr, client_addr):
    """(listener, end): (receive queue, inode) of the socket listening on
    server_addr and of the server's end of the connection from
    client_addr, each None if there is none.

    Two exact lookups over sock_diag netlink, each as cheap as routing a
    packet: /proc/net/tcp prints every socket, thousands in TIME_WAIT
    after a few busy tests, and takes milliseconds each time. It is read
    only where netlink is refused (a container's seccomp, say)."""
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as nl:
            end = _diag_lookup(nl, server_addr, client_addr)
            # From a port no connection uses, a packet would reach the listener.
            listener = _diag_lookup(nl, server_addr, (client_addr[0], 0))
    except OSError:
        return _server_sockets_from_text(server_addr[1], client_addr[1])
    return ((listener[1:] if listener and listener[0] == TCP_STATE_LISTEN else None),
            (end[1:] if end and end[0] != TCP_STATE_LISTEN else None))


def _server_sockets_from_text(port, client_port):
    """_server_sockets() read from /proc/net/tcp: slower, same answer (the
    listen queues of an IPv4 and an IPv6 listener on port added up)."""
    listener = end = None
    for st, local, remote, queue, inode in _tcp_sockets():
        if local != port:
            continue
        if st == TCP_LISTEN:
            listener = (queue + (listener[0] if listener else 0), inode)
        elif remote == client_port:
            end = (queue, inode)
    return listener, end


# sock_diag (linux/sock_diag.h, linux/inet_diag.h)
NETLINK_SOCK_DIAG = 4
SOCK_DIAG_BY_FAMILY = 20
NLM_F_REQUEST = 0x1
NLMSG_ERROR = 2
TCP_STATE_LISTEN = 10
ALL_TCP_STATES = 0xFFF
NO_COOKIE = 0xFFFFFFFF
NLMSG_HEADER = struct.Struct("=IHHII")
# inet_diag_req_v2: family, protocol, ext, pad, states; then the sockid:
# ports (big-endian), two 16-byte addresses, interface, cookie.
DIAG_REQ_HEAD = struct.Struct("=BBBBI")
DIAG_PORTS = struct.Struct(">HH")
DIAG_IF_COOKIE = struct.Struct("=III")
# inet_diag_msg: family, state, ..., then (56 bytes in) expires, rqueue,
# wqueue, uid, inode.
DIAG_STATE = struct.Struct("=xB")
DIAG_RQUEUE = struct.Struct("=56xI")
DIAG_INODE = struct.Struct("=68xI")
DIAG_MSG_SIZE = 72


def _diag_lookup(nl, local, remote):
    """(state, receive queue, inode) of the socket that a packet from
    remote to local would reach: the connection's end if there is one,
    else the listener; None if neither."""
    family = socket.AF_INET6 if ":" in local[0] else socket.AF_INET
    sockid = (DIAG_PORTS.pack(local[1], remote[1])
              + socket.inet_pton(family, local[0]).ljust(16, b"\0")
              + socket.inet_pton(family, remote[0]).ljust(16, b"\0")
              + DIAG_IF_COOKIE.pack(0, NO_COOKIE, NO_COOKIE))
    request = DIAG_REQ_HEAD.pack(family, socket.IPPROTO_TCP, 0, 0, ALL_TCP_STATES) + sockid
    data = _diag_exchange(nl, request, DIAG_MSG_SIZE)
    if data is None:
        return None
    body = NLMSG_HEADER.size
    return (DIAG_STATE.unpack_from(data, body)[0], DIAG_RQUEUE.unpack_from(data, body)[0],
            DIAG_INODE.unpack_from(data, body)[0])


def _diag_exchange(nl, request, answer_size):
    """Sends one sock_diag request and returns its answer (the netlink
    header, then at least answer_size bytes), cut at the length the
    header gives; None if the kernel answered with an error (no such
    socket)."""
    nl.send(NLMSG_HEADER.pack(NLMSG_HEADER.size + len(request), SOCK_DIAG_BY_FAMILY,
                              NLM_F_REQUEST, 1, 0) + request)
    data = nl.recv(1 << 12)
    if len(data) < NLMSG_HEADER.size + answer_size:
        return None           # an NLMSG_ERROR: no such socket
    length, kind, _, _, _ = NLMSG_HEADER.unpack_from(data)
    if kind == NLMSG_ERROR or length < NLMSG_HEADER.size + answer_size:
        return None
    return data[:length]


def unix_connection_end(sock):
    """(unread, inode) of the server's end of the Unix-domain stream
    connection sock (the test's end), like connection_end(): inode 0 while
    the connection waits in the listen queue, as only accept() gives it a
    file. None if the kernel cannot tell (no sock_diag, or no peer).

    Two exact lookups by inode over sock_diag: this end's peer, then the
    peer's receive queue. The server's end lives in the connecting
    socket's network namespace, so it is found whatever the server's."""
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as nl:
            mine = _unix_diag_lookup(nl, os.fstat(sock.fileno()).st_ino, UDIAG_SHOW_PEER)
            if mine is None or UNIX_DIAG_PEER not in mine:
                return None
            # Once the server's end is closed, the peer left is a husk
            # without an inode, like a connection never accepted.
            if (mine.get(UNIX_DIAG_SHUTDOWN) or b"\0")[0] & RCV_SHUTDOWN:
                return None
            peer = UNIX_INODE.unpack(mine[UNIX_DIAG_PEER])[0]
            if peer == 0:
                return 0, 0
            theirs = _unix_diag_lookup(nl, peer, UDIAG_SHOW_RQLEN)
            if theirs is None or UNIX_DIAG_RQLEN not in theirs:
                return None
            return UNIX_RQLEN.unpack(theirs[UNIX_DIAG_RQLEN])[0], peer
    except (OSError, struct.error):   # no sock_diag here, or an answer of another shape
        return None


# unix_diag (linux/unix_diag.h): a request by inode, and the attributes
# of the answer that hold the peer's inode and the receive queue (bytes,
# for a stream socket; UNIX_DIAG_RQLEN's second field is the send queue).
UNIX_DIAG_REQ = struct.Struct("=BBHIIIII")
UNIX_DIAG_MSG_SIZE = 16
NLATTR_HEADER = struct.Struct("=HH")
UDIAG_SHOW_PEER = 0x04
UDIAG_SHOW_RQLEN = 0x10
UNIX_DIAG_PEER = 2
UNIX_DIAG_RQLEN = 4
UNIX_DIAG_SHUTDOWN = 6     # always sent: the socket's sk_shutdown bits
RCV_SHUTDOWN = 1           # this end will receive no more: the peer closed
UNIX_INODE = struct.Struct("=I")
UNIX_RQLEN = struct.Struct("=II")
ALL_UNIX_STATES = 0xFFFFFFFF


def _unix_diag_lookup(nl, inode, show):
    """{attribute type: payload} of the Unix-domain socket with inode,
    with the attributes show asks for; None if there is no such socket."""
    request = UNIX_DIAG_REQ.pack(socket.AF_UNIX, 0, 0, ALL_UNIX_STATES, inode, show,
                                 NO_COOKIE, NO_COOKIE)
    data = _diag_exchange(nl, request, UNIX_DIAG_MSG_SIZE)
    if data is None:
        return None
    attributes = {}
    at = NLMSG_HEADER.size + UNIX_DIAG_MSG_SIZE
    end = len(data)
    while at + NLATTR_HEADER.size <= end:
        size, kind = NLATTR_HEADER.unpack_from(data, at)
        if size < NLATTR_HEADER.size or at + size > end:
            break
        attributes[kind] = data[at + NLATTR_HEADER.size:at + size]
        at += (size + 3) & ~3     # attributes are 4-byte aligned
    return attributes


def describe_fds(pid, limit=12):
    """A few lines naming pid's descriptors, for a failure report."""
    targets = fd_targets(pid)
    lines = [f"fd {fd} -> {target}" for fd, target in sorted(targets.items())[:limit]]
    if len(targets) > limit:
        lines.append(f"... and {len(targets) - limit} more")
    return lines
