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


def supported():
    """Whether this module can build a filter for this machine."""
    return platform.machine() == ARCH


def switched_off():
    return os.environ.get(SWITCH, "1") == "0"


def program():
    """The filter, as the bytes of a struct sock_filter array."""
    code = []

    def load(offset):
        code.append((LD_W_ABS, 0, 0, offset))

    def jump_if(op, value, target):
        code.append((op, target, None, value))       # true: target, false: next

    def give(value):
        code.append((RET_K, 0, 0, value))

    def label(name):
        code.append(name)

    load(ARCH_OFFSET)
    code.append((JEQ_K, None, "kill", AUDIT_ARCH_X86_64))   # true: next, false: kill
    load(NR_OFFSET)
    jump_if(JGE_K, X32_SYSCALL_BIT, "enosys")
    jump_if(JEQ_K, SYSCALLS["clone3"], "enosys")
    jump_if(JEQ_K, SYSCALLS["socket"], "socket")
    jump_if(JEQ_K, SYSCALLS["socketpair"], "socket")
    jump_if(JEQ_K, SYSCALLS["clone"], "clone")
    for name in DENIED:
        jump_if(JEQ_K, SYSCALLS[name], "eperm")
    give(RET_ALLOW)

    label("socket")
    load(arg_low(0))
    for family in (AF_UNIX, AF_INET, AF_INET6):
        jump_if(JEQ_K, family, "allow")
    # What a kernel built without the family says: programs take it so.
    give(RET_ERRNO | errno.EAFNOSUPPORT)

    label("clone")
    load(arg_low(0))
    jump_if(JSET_K, CLONE_NEW_FLAGS, "eperm")
    label("allow")
    give(RET_ALLOW)
    label("eperm")
    give(RET_ERRNO | errno.EPERM)
    label("enosys")
    give(RET_ERRNO | errno.ENOSYS)
    label("kill")
    give(RET_KILL_PROCESS)
    return _assemble(code)


def _assemble(code):
    """Resolves the labels of code (names, and None for "the next
    instruction") into classic BPF's relative jumps."""
    where, count = {}, 0
    for item in code:
        if isinstance(item, str):
            where[item] = count
        else:
            count += 1
    if count > MAX_INSTRUCTIONS:
        raise ValueError(f"the seccomp filter has {count} instructions")
    out, index = [], 0
    for item in code:
        if isinstance(item, str):
            continue
        op, true, false, value = item
        offsets = []
        for target in (true, false):
            if target is None or target == 0:
                offsets.append(0)
                continue
            offset = where[target] - index - 1
            if not 0 <= offset <= 255:
                raise ValueError(f"a jump to {target} spans {offset} instructions")
            offsets.append(offset)
        out.append(struct.pack("<HBBI", op, offsets[0], offsets[1], value))
        index += 1
    return b"".join(out)


def program_fd(filter_bytes):
    """A pipe's read end holding filter_bytes, for bubblewrap's --seccomp
    (it reads to the end of the pipe; each program needs its own)."""
    read_end, write_end = os.pipe()
    try:
        # The filter is far below a pipe's capacity: this never blocks.
        os.write(write_end, filter_bytes)
    finally:
        os.close(write_end)
    return read_end
