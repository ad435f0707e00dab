"""The system calls a jailed process may not make: a seccomp filter, installed as the jail closes.

The jail's namespaces and limits bound what student code can reach through
files, processes and the network. A few system calls reach around them, and
each is refused here (``EPERM``) for the jailed process and everything it starts:

* **memory outside any address space**: ``memfd_create``, ``memfd_secret``,
  System V shared memory, message queues and semaphores (``shmget``, ``msgget``,
  ``semget``) and POSIX message queues (``mq_open``). Their pages count against
  no process's address-space limit; the jail's one tmpfs (``/tmp``, ``/dev/shm``,
  its home, its working folder) is where RAM-backed files may live, and it has a
  size. Socket buffers stay at the system's default size (``setsockopt`` of
  ``SO_SNDBUF``/``SO_RCVBUF`` is refused), so each open socket holds little;
* **sockets of other families** than Unix, IPv4, IPv6 and netlink (each
  confined by the jail's namespaces): ``AF_VSOCK`` reaches a virtual machine's
  host whatever the network namespace, and the rest are kernel attack surface;
* **new namespaces and mounts**: ``unshare``, ``setns``, ``clone`` with any
  ``CLONE_NEW*`` flag, and every mount call. A user namespace would give student
  code the right to mount a tmpfs of its own, with no size the grader chose;
* **the kernel's key store**: ``add_key``, ``keyctl``, ``request_key``. The
  grader's session keyring can hold Kerberos tickets and passwords; the jail
  joins a fresh one as well (:func:`.jail.enter`), and cannot use either;
* **other ways around the walls**: ``ptrace``, ``bpf``, ``userfaultfd``,
  ``perf_event_open``, ``io_uring_setup``.

``clone3`` answers ``ENOSYS``, which makes the C library fall back to ``clone``,
whose flags the filter can read. A system call of another ABI (32-bit calls on
x86_64) ends the process. Only x86_64 and aarch64 are known here; elsewhere the
jail cannot be set up and grading says so.

Imports only the standard library: the kernel launcher runs it.
"""
from __future__ import annotations

import ctypes
import errno
import platform
import struct

#: System call numbers, by machine, of everything the filter refuses (clone and clone3 apart).
DENIED = {
    "x86_64": {"memfd_create": 319, "memfd_secret": 447, "shmget": 29, "msgget": 68, "semget": 64, "mq_open": 240,
               "unshare": 272, "setns": 308, "mount": 165, "umount2": 166, "pivot_root": 155,
               "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
               "fspick": 433, "mount_setattr": 442, "add_key": 248, "request_key": 249,
               "keyctl": 250, "ptrace": 101, "bpf": 321, "userfaultfd": 323,
               "perf_event_open": 298, "io_uring_setup": 425},
    "aarch64": {"memfd_create": 279, "memfd_secret": 447, "shmget": 194, "msgget": 186, "semget": 190,
                "mq_open": 180,
                "unshare": 97, "setns": 268, "mount": 40, "umount2": 39, "pivot_root": 41,
                "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
                "fspick": 433, "mount_setattr": 442, "add_key": 217, "request_key": 218,
                "keyctl": 219, "ptrace": 117, "bpf": 280, "userfaultfd": 282,
                "perf_event_open": 241, "io_uring_setup": 425},
}
CLONE = {"x86_64": 56, "aarch64": 220}
CLONE3 = 435
SOCKET = {"x86_64": 41, "aarch64": 198}
SETSOCKOPT = {"x86_64": 54, "aarch64": 208}
#: Socket families allowed: AF_UNIX, AF_INET, AF_INET6, AF_NETLINK.
FAMILIES = (1, 2, 10, 16)
#: setsockopt(SOL_SOCKET, ...) options refused: SO_SNDBUF, SO_RCVBUF and their FORCE forms.
BUFFER_OPTIONS = (7, 8, 32, 33)
SOL_SOCKET = 1
#: The audit architecture a system call must come from (anything else is killed).
ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
#: x86_64's x32 ABI sets this bit in the call number.
X32_BIT = 0x40000000
#: clone flags that make a namespace (CLONE_NEWNS, CGROUP, UTS, IPC, USER, PID, NET).
NEW_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000

# Classic BPF, as seccomp reads it.
_LD_ABS_W, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW, _KILL_PROCESS, _ERRNO = 0x7FFF0000, 0x80000000, 0x00050000
_NR, _ARCH_OFFSET, _ARG0, _ARG1, _ARG2 = 0, 4, 16, 24, 32
PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 22, 2


class Unsupported(RuntimeError):
    """No filter is known for this machine."""


def program(machine: str | None = None) -> list[tuple[int, int, int, int]]:
    """The filter as (code, jump if true, jump if false, k) instructions."""
    machine = machine or platform.machine()
    if machine not in DENIED:
        raise Unsupported(f"no system-call filter is known for {machine} (only for {', '.join(DENIED)})")
    # Written with labels ("allow", "refuse", "nosys", "next:N") and assembled below.
    code: list[tuple] = [(_LD_ABS_W, 0, 0, _ARCH_OFFSET), (_JEQ, 1, 0, ARCH[machine]), (_RET, 0, 0, _KILL_PROCESS),
                         (_LD_ABS_W, 0, 0, _NR)]
    if machine == "x86_64":
        code.append((_JGE, "nosys", 0, X32_BIT))
    code += [(_JEQ, "refuse", 0, number) for number in sorted(DENIED[machine].values())]
    code.append((_JEQ, "nosys", 0, CLONE3))
    # clone: no new namespace.
    code += [(_JEQ, 0, "next:clone", CLONE[machine]), (_LD_ABS_W, 0, 0, _ARG0),
             (_JSET, "refuse", "allow", NEW_NAMESPACES), ("label", "next:clone")]
    # socket: only the families the namespaces confine.
    code += [(_JEQ, 0, "next:socket", SOCKET[machine]), (_LD_ABS_W, 0, 0, _ARG0)]
    code += [(_JEQ, "allow", 0, family) for family in FAMILIES]
    code += [(_RET, 0, 0, _ERRNO | errno.EAFNOSUPPORT), ("label", "next:socket")]
    # setsockopt: socket buffers stay at their default size.
    code += [(_JEQ, 0, "allow", SETSOCKOPT[machine]), (_LD_ABS_W, 0, 0, _ARG1), (_JEQ, 0, "allow", SOL_SOCKET),
             (_LD_ABS_W, 0, 0, _ARG2)]
    code += [(_JEQ, "refuse", 0, option) for option in BUFFER_OPTIONS]
    code += [("label", "allow"), (_RET, 0, 0, _ALLOW), ("label", "refuse"), (_RET, 0, 0, _ERRNO | errno.EPERM),
             ("label", "nosys"), (_RET, 0, 0, _ERRNO | errno.ENOSYS)]
    return _assemble(code)


def _assemble(code: list[tuple]) -> list[tuple[int, int, int, int]]:
    """Resolve label jumps into the forward offsets classic BPF takes (0 means the next one)."""
    places, index = {}, 0
    for item in code:
        if item[0] == "label":
            places[item[1]] = index
        else:
            index += 1
    out = []
    for item in code:
        if item[0] == "label":
            continue
        here = len(out)
        jumps = [places[j] - here - 1 if isinstance(j, str) else j for j in item[1:3]]
        if any(not 0 <= j < 256 for j in jumps):
            raise ValueError(f"a jump out of reach in the filter: {item}")
        out.append((item[0], *jumps, item[3]))
    return out


def install(machine: str | None = None) -> None:
    """Filter this thread's (a freshly forked process's) system calls, and its children's, for good.

    Needs ``no_new_privs`` set first (or CAP_SYS_ADMIN). Raises OSError if the
    kernel refuses, :class:`Unsupported` where no filter is known.
    """
    instructions = program(machine)
    raw = b"".join(struct.pack("HBBI", *instruction) for instruction in instructions)
    buffer = ctypes.create_string_buffer(raw, len(raw))

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = Program(len(instructions), ctypes.cast(buffer, ctypes.c_void_p))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"seccomp: {errno.errorcode.get(code, code)}")
