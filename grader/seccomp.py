"""A seccomp filter for everything a submission runs: its build and its
programs (bubblewrap's --seccomp loads it just before the exec).

The namespaces and the box user leave a few kernel objects shared with
the rest of the machine, and the filter closes the system calls that
reach them; none of them has a use in a course on sockets:

- keys: a user's keyrings belong to the uid, not to a namespace, and
  outlive the program (add_key, request_key, keyctl);
- socket families other than Unix, IPv4 and IPv6: AF_VSOCK, say, is not
  confined by the network namespace, and netlink reaches kernel code no
  lab needs (glibc's getaddrinfo does without it: it then assumes both
  IPv4 and IPv6 exist);
- new namespaces (unshare, setns, clone with a CLONE_NEW* flag): a user
  namespace gives a program capabilities over kernel code that
  unprivileged users never reach otherwise. clone3 passes its flags in
  memory, which a filter cannot read: it fails with ENOSYS, and glibc
  falls back to clone, whose flags the filter checks;
- whole kernel subsystems: io_uring, bpf, perf_event_open, userfaultfd,
  mounting, modules, kexec, swap, reboot, accounting, quotas, the
  kernel log.

ptrace and process_vm_readv stay allowed: LeakSanitizer stops the
program's threads with ptrace to look for leaks.

The filter is classic BPF for x86_64, the only architecture whose system
call numbers this module knows: elsewhere there is none, and the
report's header says so. A call made through another ABI (i386's int
0x80) kills the process; x32's calls fail with ENOSYS, as on a kernel
built without x32. GRADER_SECCOMP=0 switches the filter off, for
debugging.
"""

import errno
import os
import platform
import struct

SWITCH = "GRADER_SECCOMP"
ARCH = "x86_64"
AUDIT_ARCH_X86_64 = 0xC000003E    # EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE
X32_SYSCALL_BIT = 0x40000000

# x86_64 system call numbers (a stable ABI; the self-check compares them
# with <asm/unistd_64.h>).
SYSCALLS = {
    "socket": 41, "socketpair": 53, "clone": 56, "syslog": 103, "pivot_root": 155,
    "chroot": 161, "acct": 163, "mount": 165, "umount2": 166, "swapon": 167,
    "swapoff": 168, "reboot": 169, "init_module": 175, "delete_module": 176,
    "quotactl": 179, "kexec_load": 246, "add_key": 248, "request_key": 249,
    "keyctl": 250, "unshare": 272, "perf_event_open": 298, "setns": 308,
    "finit_module": 313, "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323,
    "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
    "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
    "fspick": 433, "clone3": 435, "mount_setattr": 442, "quotactl_fd": 443,
    "open_tree_attr": 467,
}

# Fail with EPERM, whatever the arguments.
DENIED = (
    "add_key", "request_key", "keyctl",
    "unshare", "setns",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "bpf", "perf_event_open", "userfaultfd",
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
    "mount", "umount2", "pivot_root", "chroot", "open_tree", "open_tree_attr", "move_mount",
    "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "swapon", "swapoff", "reboot", "acct", "quotactl", "quotactl_fd", "syslog",
)

AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10
# Every CLONE_NEW* flag clone(2) takes (CLONE_NEWTIME exists for clone3
# and unshare only: in clone's flags its bit is the exit signal's).
CLONE_NEW_FLAGS = (0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 |
                   0x20000000 | 0x40000000)

# struct seccomp_data: nr, arch, instruction_pointer, args[6] (little-endian).
NR_OFFSET, ARCH_OFFSET = 0, 4


def arg_low(index):
    """Offset of the low 32 bits of argument index."""
    return 16 + 8 * index


# Classic BPF opcodes (linux/filter.h) and seccomp's return values.
LD_W_ABS = 0x20
JEQ_K, JGE_K, JSET_K = 0x15, 0x35, 0x45
RET_K = 0x06
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
MAX_INSTRUCTIONS = 4096     # BPF_MAXINSNS
PIPE_BUF = 4096             # bytes a pipe takes in one write, whatever else it holds


def supported():
    """Whether this module can build a filter for this machine."""
    return platform.machine() == ARCH


def switched_off():
    return os.environ.get(SWITCH, "1") == "0"


def program():
    """The filter, as the bytes of a struct sock_filter array."""
    code = _Code()
    code.load(ARCH_OFFSET)
    code.jump_unless(JEQ_K, AUDIT_ARCH_X86_64, "kill")
    code.load(NR_OFFSET)
    code.jump_if(JGE_K, X32_SYSCALL_BIT, "enosys")
    code.jump_if(JEQ_K, SYSCALLS["clone3"], "enosys")
    code.jump_if(JEQ_K, SYSCALLS["socket"], "socket")
    code.jump_if(JEQ_K, SYSCALLS["socketpair"], "socket")
    code.jump_if(JEQ_K, SYSCALLS["clone"], "clone")
    for name in DENIED:
        code.jump_if(JEQ_K, SYSCALLS[name], "eperm")
    code.give(RET_ALLOW)

    code.label("socket")
    code.load(arg_low(0))            # the family
    for family in (AF_UNIX, AF_INET, AF_INET6):
        code.jump_if(JEQ_K, family, "allow")
    # What a kernel built without the family says: programs take it so.
    code.give(RET_ERRNO | errno.EAFNOSUPPORT)

    code.label("clone")
    code.load(arg_low(0))            # the flags
    code.jump_if(JSET_K, CLONE_NEW_FLAGS, "eperm")
    code.label("allow")
    code.give(RET_ALLOW)
    code.label("eperm")
    code.give(RET_ERRNO | errno.EPERM)
    code.label("enosys")
    code.give(RET_ERRNO | errno.ENOSYS)
    code.label("kill")
    code.give(RET_KILL_PROCESS)
    return code.assemble()


class _Code:
    """Classic BPF written with named labels: a jump names where it goes
    when its test holds (jump_if) or fails (jump_unless), and otherwise
    falls through to the next instruction."""

    def __init__(self):
        self.items = []      # (op, true label, false label, k), or a label's name

    def load(self, offset):
        self.items.append((LD_W_ABS, None, None, offset))

    def jump_if(self, op, value, target):
        self.items.append((op, target, None, value))

    def jump_unless(self, op, value, target):
        self.items.append((op, None, target, value))

    def give(self, value):
        self.items.append((RET_K, None, None, value))

    def label(self, name):
        self.items.append(name)

    def assemble(self):
        """The instructions' bytes, each label turned into the relative
        jump classic BPF takes (0 to 255 instructions forward)."""
        where, count = {}, 0
        for item in self.items:
            if isinstance(item, str):
                where[item] = count
            else:
                count += 1
        if count > MAX_INSTRUCTIONS:
            raise ValueError(f"the seccomp filter has {count} instructions")
        out = []
        for item in self.items:
            if isinstance(item, str):
                continue
            op, true, false, value = item
            index = len(out)
            true_skip, false_skip = (_skip(where, target, index) for target in (true, false))
            out.append(struct.pack("<HBBI", op, true_skip, false_skip, value))
        return b"".join(out)


def _skip(where, target, index):
    """How many instructions a jump at index skips to reach target."""
    if target is None:
        return 0
    skip = where[target] - index - 1
    if not 0 <= skip <= 255:
        raise ValueError(f"a jump to {target} spans {skip} instructions")
    return skip


def program_fd(filter_bytes):
    """A pipe's read end holding filter_bytes, for bubblewrap's --seccomp
    (it reads to the end of the pipe; each program needs its own)."""
    if len(filter_bytes) > PIPE_BUF:
        raise ValueError(f"a seccomp filter of {len(filter_bytes)} bytes")
    read_end, write_end = os.pipe()
    try:
        # Up to PIPE_BUF bytes go into an empty pipe whole, at once.
        os.write(write_end, filter_bytes)
    finally:
        os.close(write_end)
    return read_end
