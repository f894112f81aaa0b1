"""The grading sandbox: how everything a submission controls is run.

A submission controls its build and every program a test starts. Each of
them runs in layers, each cheap and each checked once per grader (the
report's header names the ones that hold, results.json lists them all):

1. privilege: as root, the grader runs them as a uid and gid of their
   own (one per grader, so per submission in batch mode), taken from a
   reserved range, with no capabilities and no_new_privs (setpriv). As an
   ordinary user they run as that user, in a user namespace without
   capabilities (bubblewrap).
2. view: a mount namespace (bubblewrap) that shows the system read-only,
   the program's own build and working folder, and nothing else of the
   course: no solution/, no tests/hidden/, no grader, no other
   submission. /tmp, /var/tmp and /dev/shm are small private tmpfs.
3. network: the grader itself runs in a network namespace with only a
   loopback interface (see enclosure.py); its programs share it.
4. processes: the grader is process 1 of a PID namespace of its own
   (enclosure.py), so nothing of a submission outlives it; each program
   also runs in cgroups that cap its tasks and memory (cgroups.py).
5. results: the grader hands its results to whoever started it over a
   pipe no program can reach (the results channel in __main__.py), never
   through a file.
6. seccomp: a filter (seccomp.py, loaded by bubblewrap) denies the system
   calls that reach what the namespaces leave shared: keyrings, new
   namespaces, socket families beyond Unix and IP, io_uring, bpf.

Where a layer cannot be had (no bubblewrap, no user namespaces in a
container, a read-only cgroup tree) the grader says which is missing;
batch and Gradescope modes refuse to grade as root without layers 1, 2
and 5 unless told --unsafe.
"""

import atexit
import contextlib
import fcntl
import json
import os
import platform
import pwd
import grp
import shutil
import signal
import stat
import subprocess
import threading
import time
from dataclasses import dataclass, field

from .i18n import mark, tr
from . import cgroups, procfs, seccomp

# Box accounts: uid BOX_UID_BASE + slot, gid BOX_GID_BASE + slot. Both
# ranges sit in Debian's "allocated on demand" range (60000-64999), below
# systemd's dynamic users (61184 and up) and its homed range ends
# (60513): no account owns them. A uid that has a passwd entry is skipped.
# The gid differs from the uid, so that a program that mixes them up shows.
BOX_UID_BASE = 60600
BOX_GID_BASE = 60900
SLOTS = 280
SLOT_ENV = "GRADER_SLOT"          # set by the enclosure: this grader's slot
WORK_ROOT_ENV = "GRADER_WORK_ROOT"  # set by the enclosure: its private tmpfs
ENCLOSURE_ENV = "GRADER_ENCLOSURE"  # set by the enclosure: what it could do

# Private tmpfs sizes, in bytes, inside each sandbox.
TMP_BYTES = 128 << 20
SMALL_TMP_BYTES = 16 << 20
# The whole build (compiler included): wall time (GRADER_BUILD_SECONDS
# changes it) and memory.
BUILD_SECONDS = int(os.environ.get("GRADER_BUILD_SECONDS", "180"))
BUILD_MEMORY = 2 << 30
# The build's messages (compiler warnings and errors), at most: a source
# file can ask for millions of warnings, and the build is stopped past
# this many bytes. Of what it printed, the first and last 64 KiB are kept.
BUILD_OUTPUT_BYTES = int(os.environ.get("GRADER_BUILD_OUTPUT_BYTES", str(4 << 20)))
BUILD_TASKS = 256

SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
SYSTEM_DIRS = ("/usr", "/etc")
# Environment a sandboxed program gets (it sees nothing else of ours).
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "TMPDIR": "/tmp"}


class SandboxError(Exception):
    """The sandbox could not be set up: the grader's fault, never the student's."""


# -- the runtime folder and this grader's slot ------------------------------------


def runtime_dir():
    """A folder only this user can write, shared by every grader of this
    user on this machine: slot locks live there."""
    if os.geteuid() == 0 and os.access("/run", os.W_OK):
        path = "/run/lab-grader"
    else:
        base = os.environ.get("XDG_RUNTIME_DIR") or "/tmp"
        path = os.path.join(base, f"lab-grader-{os.geteuid()}")
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid() or info.st_mode & 0o022:
        raise SandboxError(tr("{path} is not a private folder of this user: remove it", path=path))
    return path


class Slot:
    """A number from 0 to SLOTS-1 that this grader holds alone while it runs
    (an flock on runtime_dir()/slot-N.lock): it names the grader's cgroup
    and, as root, its box account. A slot whose lock is free belongs to no
    running grader."""

    def __init__(self, number, lock_fd):
        self.number = number
        self._fd = lock_fd

    @classmethod
    def acquire(cls):
        directory = runtime_dir()
        for number in range(SLOTS):
            if os.geteuid() == 0 and _account_exists(number):
                continue
            fd = os.open(os.path.join(directory, f"slot-{number}.lock"),
                         os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                continue
            return cls(number, fd)
        raise SandboxError(tr("all {SLOTS} grader slots are taken: too many graders at once",
                              SLOTS=SLOTS))

    @classmethod
    def inherited(cls, text):
        """The slot an enclosure acquired and holds for us (SLOT_ENV)."""
        return cls(int(text), None)

    def fd(self):
        return self._fd

    @property
    def uid(self):
        return BOX_UID_BASE + self.number

    @property
    def gid(self):
        return BOX_GID_BASE + self.number

    @property
    def cgroup_name(self):
        return f"{cgroups.GROUP_PREFIX}slot{self.number}"


def _account_exists(number):
    """Whether the box uid or gid of a slot belongs to a real account."""
    for lookup, value in ((pwd.getpwuid, BOX_UID_BASE + number),
                          (grp.getgrgid, BOX_GID_BASE + number)):
        try:
            lookup(value)
            return True
        except KeyError:
            pass
    return False


@contextlib.contextmanager
def stale_slot(group_name):
    """True, with the slot's lock held until the block ends, when a cgroup
    named grader-slotN belongs to no running grader; else False."""
    number = group_name.removeprefix(f"{cgroups.GROUP_PREFIX}slot")
    if not number.isdigit():
        yield False      # not one of ours
        return
    try:
        fd = os.open(os.path.join(runtime_dir(), f"slot-{number}.lock"),
                     os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    except (OSError, SandboxError):
        yield False
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False  # a running grader holds it
            return
        yield True
    finally:
        os.close(fd)     # releases the lock


# -- what the sandbox can do here ------------------------------------------------


LAYER_NAMES = [mark("privilege"), mark("view"), mark("network"), mark("processes"),
               mark("seccomp")]


@dataclass
class Layer:
    name: str
    holds: bool
    how: str

    def to_json(self):
        return {"holds": self.holds, "how": self.how}


@dataclass
class Sandbox:
    """How this grader runs untrusted commands, found once per process."""

    slot: Slot
    as_root: bool
    bwrap: str = None                # path of bwrap, when it works here
    bwrap_problem: str = ""
    setpriv: str = None
    groups: object = None            # cgroups.ProgramGroups, or None
    enclosure: dict = field(default_factory=dict)   # what the enclosure did
    work_root: str = None            # private tmpfs for test folders, or None
    exposed: list = field(default_factory=list)     # secrets the box user could read
    seccomp_filter: bytes = None     # the filter each sandbox loads, when it works here
    seccomp_problem: str = ""
    _shim_dir: str = None

    # -- the layers, for the report ---------------------------------------

    def layers(self):
        if self.as_root:
            privilege = Layer("privilege", self.setpriv is not None,
                              tr("own user (uid {uid}, gid {gid}), no capabilities, "
                                 "no_new_privs", uid=self.slot.uid, gid=self.slot.gid)
                              if self.setpriv else
                              tr("NOT dropped: setpriv is missing (util-linux)"))
        else:
            privilege = Layer("privilege", self.bwrap is not None,
                              tr("your user, no capabilities, no_new_privs") if self.bwrap
                              else tr("your user (no bubblewrap: {why})",
                                      why=self.bwrap_problem))
        if self.bwrap:
            view = Layer("view", True, tr("read-only system, own build and working folder "
                                          "only, private /tmp"))
        elif self.as_root and self.setpriv and not self.exposed:
            view = Layer("view", True, tr("by permissions only: the course's secrets are "
                                          "unreadable by the box user ({why})",
                                          why=self.bwrap_problem))
        else:
            exposed = (tr("; readable: {paths}", paths=", ".join(self.exposed[:3]))
                       if self.exposed else "")
            view = Layer("view", False, tr("NOT isolated: {why}", why=self.bwrap_problem) +
                         exposed)
        net = self.enclosure.get("net")
        network = Layer("network", bool(net), self._network_words() if net else
                        tr("shared with this machine ({why})",
                           why=self.enclosure.get("why", tr("no enclosure"))))
        kinds = []
        if self.enclosure.get("pid"):
            kinds.append(tr("PID namespace"))
        if self.groups is not None:
            kinds.append(self.groups.describe())
        elif not self.as_root:
            kinds.append(tr("rlimits"))
        elif self.setpriv:
            kinds.append(tr("rlimits (RLIMIT_NPROC binds the box user)"))
        else:
            kinds.append(tr("rlimits (NOT binding root)"))
        processes = Layer("processes", bool(self.enclosure.get("pid")) or self.groups is not None,
                          ", ".join(kinds))
        return [privilege, view, network, processes, self._seccomp_layer()]

    def _network_words(self):
        buckets = self.enclosure.get("time_wait")
        if buckets is None:
            return tr("loopback only")
        return tr("loopback only, at most {count} connections in TIME_WAIT", count=buckets)

    def _seccomp_layer(self):
        if self.seccomp_filter is not None:
            return Layer("seccomp", True, tr("no keyrings, namespaces, io_uring or bpf; "
                                             "sockets: Unix and IP only"))
        return Layer("seccomp", False, tr("no filter: {why}", why=self.seccomp_problem))

    def summary(self):
        """One line for the report's header."""
        parts = [tr("{layer}: {how}", layer=tr(layer.name), how=layer.how)
                 for layer in self.layers()]
        return tr("sandbox: {layers}", layers=tr("; ").join(parts))

    def missing(self, names):
        """The layers among names that do not hold here."""
        return [layer for layer in self.layers() if layer.name in names and not layer.holds]

    # -- folders the box may write ------------------------------------------

    def give_to_box(self, path, mode=0o700):
        """Makes a path the grader created the box user's (a folder: with
        mode). Never follows a link: a link itself is left as it is (its
        owner and mode mean nothing to the kernel)."""
        if self.as_root and self.setpriv:
            if stat.S_ISLNK(os.lstat(path).st_mode):
                return
            os.chown(path, self.slot.uid, self.slot.gid, follow_symlinks=False)
            if mode is not None:
                _chmod_folder(path, mode)

    def box_owner(self):
        """(uid, gid) the programs run as, when they are not the grader's."""
        if self.as_root and self.setpriv:
            return self.slot.uid, self.slot.gid
        return None

    def make_work_dir(self, prefix):
        """A fresh folder a sandboxed program may write (its working folder),
        in the enclosure's private tmpfs when there is one."""
        import tempfile
        path = tempfile.mkdtemp(prefix=prefix, dir=self.work_root)
        self.give_to_box(path)
        return path

    def shim_dir(self):
        """A private folder of this grader's, for what it builds for itself."""
        with _lock_dirs:
            if self._shim_dir is None:
                self._shim_dir = self.make_private_dir("grader-own-")
                os.chmod(self._shim_dir, 0o755)    # the shim is shown to the programs
                atexit.register(shutil.rmtree, self._shim_dir, True)
            return self._shim_dir

    def make_private_dir(self, prefix):
        """A fresh folder for the grader's own files: never shown to a program."""
        import tempfile
        return tempfile.mkdtemp(prefix=prefix, dir=self.work_root)

    # -- commands ---------------------------------------------------------------

    def wrap(self, argv, binds, workdir, env=None, status_fd=None):
        """argv run inside the sandbox: read-only binds (paths shown at the
        same place), writable ones, and workdir as the current folder.
        binds is [(path, "ro"|"rw"|"hide")]: "hide" puts an empty folder
        over a path (after the binds above it). env adds to BASE_ENV.
        status_fd receives bubblewrap's JSON status (see ProgramStatus).
        Without bubblewrap, only the privilege drop applies.
        Returns (command, fds): the caller passes fds to the command
        (pass_fds) and closes them once it has started."""
        full_env = dict(BASE_ENV, HOME=workdir, **(env or {}))
        inner = list(argv)
        if self.as_root and self.setpriv:
            inner = [self.setpriv, f"--reuid={self.slot.uid}", f"--regid={self.slot.gid}",
                     "--clear-groups", "--no-new-privs", "--inh-caps=-all",
                     "--bounding-set=-all", "--", *inner]
        if self.bwrap is None:
            return ["env", "-i", *[f"{k}={v}" for k, v in full_env.items()], *inner], []
        outer = [self.bwrap, *self._namespaces(), "--die-with-parent", "--new-session"]
        outer += _system_view()
        outer += ["--proc", "/proc", "--dev", "/dev"]
        for path, size in (("/tmp", TMP_BYTES), ("/var/tmp", SMALL_TMP_BYTES),
                           ("/dev/shm", SMALL_TMP_BYTES)):
            outer += ["--perms", "1777", "--size", str(size), "--tmpfs", path]
        outer += _parent_dirs([path for path, _ in binds] + [workdir])
        for path, mode in binds:
            if mode == "hide":
                outer += ["--tmpfs", path]
            else:
                outer += ["--bind" if mode == "rw" else "--ro-bind", path, path]
        outer += ["--chdir", workdir, "--clearenv"]
        for key, value in full_env.items():
            outer += ["--setenv", key, value]
        if status_fd is not None:
            outer += ["--json-status-fd", str(status_fd)]
        fds = []
        if self.seccomp_filter is not None:
            fds.append(seccomp.program_fd(self.seccomp_filter))
            outer += ["--seccomp", str(fds[-1])]
        return [*outer, "--", *inner], fds

    def _namespaces(self):
        """The namespaces each sandbox gets of its own. Network and PIDs are
        the enclosure's (shared with the grader, so that the tests reach
        the programs and peer credentials name real processes)."""
        spaces = ["--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try"]
        if not self.as_root:
            spaces = ["--unshare-user", "--disable-userns", *spaces]
        return spaces

    # -- the probe -------------------------------------------------------------

    def probe(self):
        """Runs `true` in the sandbox once; '' if it works, else the reason."""
        workdir = self.make_work_dir("probe-")
        fds = []
        try:
            argv, fds = self.wrap(["/bin/true"], [(workdir, "rw")], workdir)
            done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  timeout=20, text=True, errors="replace", pass_fds=fds)
            if done.returncode == 0:
                return ""
            return (done.stderr.strip().splitlines() or ["exit status "
                                                          f"{done.returncode}"])[-1]
        except (OSError, subprocess.TimeoutExpired) as exc:
            return str(exc)
        finally:
            for fd in fds:
                os.close(fd)
            shutil.rmtree(workdir, ignore_errors=True)


def _chmod_folder(path, mode):
    """chmod of a folder, never of what a link there points to (Linux has
    no lchmod: the folder is opened without following one)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)


def _system_view():
    """Read-only binds of the system: /usr, /etc and the /bin-style links."""
    args = []
    for path in SYSTEM_DIRS:
        args += ["--ro-bind", path, path]
    for path in SYSTEM_LINKS:
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    return args


def _parent_dirs(paths):
    """--dir arguments for every folder above paths, made traversable:
    bubblewrap would make them 0700, which only root may cross."""
    args, made = [], {"/"}
    for path in paths:
        parents = []
        parent = os.path.dirname(os.path.abspath(path))
        while parent not in made:
            parents.append(parent)
            made.add(parent)
            parent = os.path.dirname(parent)
        for folder in reversed(parents):
            if folder in ("/tmp", "/var/tmp", "/dev", "/dev/shm", "/proc", "/usr", "/etc"):
                continue
            args += ["--perms", "0755", "--dir", folder]
    return args


class ProgramStatus(threading.Thread):
    """Reads bubblewrap's JSON status (--json-status-fd): the program's pid
    as soon as it is forked, and its exit code once it has run. bubblewrap
    writes an exit code only for a command it managed to start, so a
    missing one means the sandbox failed, not the program."""

    def __init__(self, read_fd):
        super().__init__(name="bwrap-status", daemon=True)
        self._fd = read_fd
        self._got_pid = threading.Event()
        self.child_pid = None
        self.exit_code = None
        self.finished = threading.Event()

    def run(self):
        data = b""
        with os.fdopen(self._fd, "rb") as stream:
            while True:
                chunk = stream.read1(4096)
                if not chunk:
                    break
                data += chunk
                self._parse(data)
        self._parse(data)
        self._got_pid.set()
        self.finished.set()

    def _parse(self, data):
        decoder = json.JSONDecoder()
        text, index = data.decode("utf-8", "replace"), 0
        while True:
            while index < len(text) and text[index].isspace():
                index += 1
            try:
                value, index = decoder.raw_decode(text, index)
            except ValueError:
                return
            if "child-pid" in value and self.child_pid is None:
                self.child_pid = int(value["child-pid"])
                self._got_pid.set()
            if "exit-code" in value:
                self.exit_code = int(value["exit-code"])

    def wait_for_pid(self, timeout):
        self._got_pid.wait(timeout)
        return self.child_pid


# -- finding what works, once per grader process -------------------------------------

_lock = threading.Lock()
_lock_dirs = threading.Lock()
_current = []


def current():
    """This grader process's Sandbox, set up on first use."""
    with _lock:
        if not _current:
            _current.append(_set_up())
        return _current[0]


def course_secrets():
    """What no submission may read: every lab's solution/ and hidden tests,
    the catalogue of mutants, and the repository's history."""
    from .labs import LABS_DIR, ROOT
    found = [ROOT / ".git", ROOT / "grader" / "mutants"]
    for lab in sorted(LABS_DIR.glob("[0-9][0-9]-*")):
        found += [lab / "solution", lab / "tests" / "hidden"]
    return [str(path) for path in found if path.exists()]


def box_can_read(path, uid, gid):
    """Whether a user with uid and gid (and no other group) could read
    path, by the permission bits of path and of every folder above it."""
    path = os.path.abspath(path)
    parts = path.split(os.sep)
    for depth in range(1, len(parts) + 1):
        current = os.sep.join(parts[:depth]) or os.sep
        try:
            info = os.stat(current)
        except OSError:
            return False
        if info.st_uid == uid:
            bits = (info.st_mode >> 6) & 7
        elif info.st_gid == gid:
            bits = (info.st_mode >> 3) & 7
        else:
            bits = info.st_mode & 7
        last = depth == len(parts)
        needed = 4 if last else 1      # read the target, cross the folders above
        if not bits & needed:
            return False
    return True


def preflight(secrets=()):
    """A Sandbox for checking layers before grading (no cgroups made):
    batch and Gradescope modes refuse to start without the essential ones."""
    return _set_up(make_groups=False, secrets=secrets)


def _set_up(make_groups=True, secrets=()):
    as_root = os.geteuid() == 0
    inherited = os.environ.get(SLOT_ENV)
    slot = Slot.inherited(inherited) if inherited else Slot.acquire()
    enclosure = {}
    try:
        enclosure = json.loads(os.environ.get(ENCLOSURE_ENV, "{}"))
    except ValueError:
        pass
    work_root = os.environ.get(WORK_ROOT_ENV) or None
    if work_root and not os.path.isdir(work_root):
        work_root = None
    box = Sandbox(slot=slot, as_root=as_root, enclosure=enclosure, work_root=work_root)
    if as_root:
        box.setpriv = shutil.which("setpriv")
    if make_groups:
        box.groups = cgroups.create(slot.cgroup_name, stale_slot)
    found = shutil.which("bwrap")
    if found is None:
        box.bwrap_problem = "bubblewrap is not installed (make deps installs it)"
    elif os.environ.get("GRADER_SANDBOX", "1") == "0":
        box.bwrap_problem = "switched off (GRADER_SANDBOX=0)"
    else:
        box.bwrap = found
        problem = _probe_with_seccomp(box)
        if problem:
            box.bwrap, box.bwrap_problem = None, f"bubblewrap cannot run here: {problem}"
    if box.bwrap is None:
        box.seccomp_filter, box.seccomp_problem = None, tr("no bubblewrap to load it")
    if box.bwrap is None and as_root:
        box.exposed = [path for path in [*course_secrets(), *map(str, secrets)]
                       if box_can_read(path, slot.uid, slot.gid)]
    return box


def _probe_with_seccomp(box):
    """Gives box its seccomp filter where one can be had, and probes the
    sandbox: '' if it works, else why. A filter that makes the probe fail
    is dropped and the probe run again without it: it costs the filter,
    not the whole view."""
    if seccomp.switched_off():
        box.seccomp_problem = tr("switched off ({switch}=0)", switch=seccomp.SWITCH)
        return box.probe()
    if not seccomp.supported():
        box.seccomp_problem = tr("not written for this architecture ({arch})",
                                 arch=platform.machine())
        return box.probe()
    box.seccomp_filter = seccomp.program()
    problem = box.probe()
    if problem:
        box.seccomp_filter = None
        box.seccomp_problem = tr("bubblewrap could not load it: {problem}", problem=problem)
        problem = box.probe()
    return problem


@dataclass
class Finished:
    returncode: int
    output: str
    timed_out: bool
    flooded: bool = False     # stopped for printing more than output_cap bytes


def run_sandboxed(box, argv, binds, workdir, seconds, memory, tasks,
                  output_cap=BUILD_OUTPUT_BYTES):
    """Runs argv to completion in the sandbox, in a cgroup of its own with
    tasks and memory capped, output (stdout and stderr) captured: its
    first and last bytes, in buffers of a fixed size. After seconds, or
    once it has printed more than output_cap bytes, everything it started
    is killed. A sandbox that fails before argv runs raises SandboxError."""
    from .processes import Limits, OutputCollector    # processes imports this module
    limits = Limits(cpu_seconds=seconds, memory_bytes=memory, processes=tasks,
                    open_files=1024)
    status_read = status_write = group = None
    pass_fds = []
    try:
        if box.bwrap:
            status_read, status_write = os.pipe()
            pass_fds.append(status_write)
        wrapped, wrap_fds = box.wrap(argv, binds, workdir, status_fd=status_write)
        pass_fds += wrap_fds
        full = limits.prlimit_argv() + wrapped
        group = box.groups.new_group(tasks, memory) if box.groups else None
        if box.groups and group is None:
            raise SandboxError(tr("could not make the cgroups to run {value} in",
                                  value=argv[0]))
        if group is not None:
            full = group.wrap(full)
        proc = subprocess.Popen(full, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, cwd=workdir,
                                pass_fds=pass_fds)
    except BaseException:
        if status_read is not None:
            os.close(status_read)
        if group is not None:
            box.groups.discard(group)
        raise
    finally:
        for fd in pass_fds:
            os.close(fd)
    status = None
    if status_read is not None:
        status = ProgramStatus(status_read)
        status.start()
    collector = OutputCollector(proc.stdout, f"{argv[0]}-output")
    collector.start()
    try:
        timed_out, flooded = _wait_within(proc, collector, seconds, output_cap)
        if timed_out or flooded:
            if group is not None:
                group.kill_all()
            proc.kill()
            proc.wait()
    finally:
        if group is not None:
            box.groups.discard(group)
    collector.join(timeout=5)
    proc.stdout.close()
    text = _collected_text(collector)
    if status is not None:
        status.finished.wait(5)
        if status.exit_code is None and not timed_out and not flooded:
            raise SandboxError(f"the sandbox could not run {argv[0]}: "
                               + (text.strip().splitlines() or ["no message"])[-1])
    return Finished(proc.returncode, text, timed_out, flooded)


def _wait_within(proc, collector, seconds, output_cap):
    """Waits for proc to end; (timed out?, printed past output_cap?)."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            proc.wait(timeout=0.1)
            return False, False
        except subprocess.TimeoutExpired:
            pass
        if collector.total > output_cap:
            return False, True
        if time.monotonic() >= deadline:
            return True, False


def _collected_text(collector):
    """What a collector kept: all of it, or its head and tail."""
    head, tail = collector.head(), collector.tail()
    rest = collector.total - len(head)      # what came after the head
    if rest <= len(tail):                   # all kept: the tail's end is the rest
        return (head + tail[len(tail) - rest:]).decode("utf-8", "replace")
    middle = f"\n... ({rest - len(tail)} bytes left out) ...\n"
    return (head + middle.encode() + tail).decode("utf-8", "replace")


def kill_box_processes(uid):
    """SIGKILLs every process of a box user left by a grader that was
    killed (only where no PID namespace took them with it)."""
    killed = 0
    for pid in procfs.pids_of_user(uid):
        try:
            os.kill(pid, signal.SIGKILL)
            killed += 1
        except ProcessLookupError:
            continue
    return killed
