"""The enclosure: a grader in namespaces of its own.

    python -I ... grader.enclosure grade ARGS... --results-fd N

This process (the enclosure) holds the grader's slot (sandbox.Slot), then
moves into new namespaces and forks the grader:

- network: only a loopback interface, brought up here. Every test talks
  over loopback, so nothing is lost; a submission can reach no other
  machine and no other grader's programs. Few connections may wait in
  TIME_WAIT at once (TIME_WAIT_BUCKETS): the namespace's ports outlive
  each program, and a program that closed connections on every port
  would otherwise leave none to bind for the tests that follow.
- PID: the grader is process 1. When it exits, however it exits, the
  kernel kills every process left in the namespace, so nothing a
  submission started can outlive its grading.
- mount: a fresh /proc for that PID namespace, and a private tmpfs with a
  size cap for the tests' folders, gone when the grader is.
- user (only when not root): the namespaces above need it; the grader
  keeps its own uid inside.

The enclosure forwards SIGINT, SIGTERM and SIGHUP to the grader (which
then stops in order, see __main__.stop_like_ctrl_c) and exits as the
grader did. If the kernel refuses a namespace (a container without user
namespaces, say), the grader runs without it and its report says so.
"""

import ctypes
import errno
import fcntl
import json
import os
import signal
import socket
import struct
import sys
import tempfile

from . import launch, sandbox

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC = 2, 4, 8
MS_REC, MS_PRIVATE = 0x4000, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8913, 0x8914
IFF_UP = 0x1
IFREQ = "16sH22x"              # struct ifreq: name, then ifr_flags
WORK_ROOT_BYTES = 1 << 30      # the tests' folders, all together
# Connections in TIME_WAIT at once, in the grader's network namespace (the
# kernel's limit is per namespace): past it, a closed connection is freed
# at once. A few thousand leave TIME_WAIT to every connection an honest
# lab makes within a minute (a test of SO_REUSEADDR needs its one), and
# keep most of the 28,000 ephemeral ports free for the grader.
TIME_WAIT_BUCKETS = 4096
TIME_WAIT_SYSCTL = "/proc/sys/net/ipv4/tcp_max_tw_buckets"
FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"{what}: {os.strerror(code)}")


def _unshare(flags, what):
    _check(_libc.unshare(flags), what)


def _mount(source, target, fstype, flags, data=None):
    _check(_libc.mount(source.encode() if source else None, target.encode(),
                       fstype.encode() if fstype else None, flags,
                       data.encode() if data else None), f"mount {target}")


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _loopback_up():
    """ip link set lo up, by ioctl: a new network namespace starts with lo down."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack(IFREQ, b"lo", 0)
        _, flags = struct.unpack(IFREQ, fcntl.ioctl(sock, SIOCGIFFLAGS, request))
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack(IFREQ, b"lo", flags | IFF_UP))


def enter_namespaces():
    """Moves this (single-threaded) process into new namespaces; returns
    what it got, as the dict the grader reports (sandbox.ENCLOSURE_ENV)."""
    try:
        if os.geteuid() != 0:
            uid, gid = os.geteuid(), os.getegid()
            _unshare(CLONE_NEWUSER, "unshare(CLONE_NEWUSER)")
            _write("/proc/self/setgroups", "deny")
            _write("/proc/self/uid_map", f"{uid} {uid} 1\n")
            _write("/proc/self/gid_map", f"{gid} {gid} 1\n")
        _unshare(CLONE_NEWNET | CLONE_NEWNS | CLONE_NEWPID, "unshare(net, mount, pid)")
        _loopback_up()
    except OSError as exc:
        return {"why": f"the kernel refused: {exc.strerror}"}
    return {"net": True, "pid": True, "mount": True, "time_wait": _limit_time_wait()}


def _limit_time_wait():
    """Caps TIME_WAIT in this (new) network namespace: /proc/sys/net shows
    the namespace of whoever opens it. The cap, or None if refused."""
    try:
        _write(TIME_WAIT_SYSCTL, str(TIME_WAIT_BUCKETS))
    except OSError:
        return None
    return TIME_WAIT_BUCKETS


def prepare_grader(enclosure, work_root):
    """In the forked grader, before it execs: process 1 of the new PID
    namespace. Mounts its /proc, and a private tmpfs on work_root."""
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
    # Nothing mounted here may show outside, and nothing mounted outside
    # later need show here.
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    _mount("tmpfs", work_root, "tmpfs", MS_NOSUID | MS_NODEV,
           f"size={WORK_ROOT_BYTES},mode=0711")


def main(argv=None):
    args = sys.argv[1:] if argv is None else argv
    slot = sandbox.Slot.acquire()
    if os.geteuid() == 0:
        # Only a grader that had no PID namespace can leave processes.
        sandbox.kill_box_processes(slot.uid)
    if os.environ.get("GRADER_ENCLOSURE", "1") == "0":
        enclosure = {"why": "switched off (GRADER_ENCLOSURE=0)"}
    else:
        enclosure = enter_namespaces()
    env = dict(os.environ)
    env[sandbox.SLOT_ENV] = str(slot.number)
    env[sandbox.ENCLOSURE_ENV] = json.dumps(enclosure)
    command = launch.grader_command(*args)
    if not enclosure.get("pid"):
        # The grader itself holds the slot from here on.
        os.set_inheritable(slot.fd(), True)
        os.execve(command[0], command, env)
    # Short, under /tmp where it can: a test's Unix-domain socket lives in
    # it, and sun_path holds 108 bytes.
    work_root = tempfile.mkdtemp(prefix="gw-", dir="/tmp" if os.access("/tmp", os.W_OK)
                                 else None)
    pid = os.fork()
    if pid == 0:
        try:
            prepare_grader(enclosure, work_root)
            env[sandbox.WORK_ROOT_ENV] = work_root
            os.execve(command[0], command, env)
        except OSError as exc:
            print(f"grader: could not start the enclosed grader: {exc}", file=sys.stderr)
        os._exit(3)
    try:
        return _relay(pid)
    finally:
        # The tmpfs is gone with the grader's namespace only once nothing
        # uses it; this process is in the same mount namespace.
        _libc.umount2(work_root.encode(), MNT_DETACH)
        os.rmdir(work_root)


def _relay(pid):
    """Forwards stop signals to the grader until it exits; exits as it did."""
    def forward(signo, frame):
        try:
            os.kill(pid, signo)
        except ProcessLookupError:
            pass

    for signo in FORWARDED:
        signal.signal(signo, forward)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except OSError as exc:
            if exc.errno != errno.EINTR:
                raise
    if os.WIFSIGNALED(status):
        signo = os.WTERMSIG(status)
        signal.signal(signo, signal.SIG_DFL)
        os.kill(os.getpid(), signo)
    return os.waitstatus_to_exitcode(status)


if __name__ == "__main__":
    sys.exit(main())
