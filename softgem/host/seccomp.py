"""The seccomp user-notification ABI for x86-64: structs, ioctls, a tiny BPF assembler, probes.

Everything here is the kernel's ABI spelled in ctypes (``include/uapi/linux/seccomp.h``,
``linux/filter.h``), plus the one filter shape host mode needs: "notify the supervisor for
these system calls (some only when an argument matches), allow everything else, and kill a
process that is not a native x86-64 one" -- an x32 or i386 entry would use other syscall
numbers and slip past the table.

Rejected alternative: a seccomp binding from PyPI.  ``pyseccomp`` (ctypes over libseccomp,
last released 2021) and the libseccomp bindings know nothing of ADDFD or the CONTINUE flag,
and libseccomp itself is not needed for a filter of this size.
"""

from __future__ import annotations

import ctypes
import errno
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

__all__ = [
    "AUDIT_ARCH_X86_64", "ArgTest", "Features", "HostUnsupported",
    "SECCOMP_ADDFD_FLAG_SEND", "SECCOMP_ADDFD_FLAG_SETFD",
    "SECCOMP_FILTER_FLAG_NEW_LISTENER", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
    "SECCOMP_GET_ACTION_AVAIL", "SECCOMP_GET_NOTIF_SIZES",
    "SECCOMP_IOCTL_NOTIF_ADDFD", "SECCOMP_IOCTL_NOTIF_ID_VALID", "SECCOMP_IOCTL_NOTIF_RECV",
    "SECCOMP_IOCTL_NOTIF_SEND", "SECCOMP_IOCTL_NOTIF_SET_FLAGS",
    "SECCOMP_RET_ALLOW", "SECCOMP_RET_KILL_PROCESS", "SECCOMP_RET_USER_NOTIF",
    "SECCOMP_SET_MODE_FILTER", "SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP",
    "SECCOMP_USER_NOTIF_FLAG_CONTINUE",
    "libc", "probe_kernel", "probe_listener", "seccomp_data", "seccomp_notif",
    "seccomp_notif_addfd", "seccomp_notif_resp", "seccomp_notif_sizes", "sock_filter",
    "sock_fprog", "trap_filter",
]

libc = ctypes.CDLL(None, use_errno=True)

# --- operations and flags of seccomp(2) ---
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_GET_ACTION_AVAIL = 2
SECCOMP_GET_NOTIF_SIZES = 3
SECCOMP_FILTER_FLAG_NEW_LISTENER = 1 << 3
SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV = 1 << 5

SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_USER_NOTIF = 0x7FC00000
SECCOMP_RET_ALLOW = 0x7FFF0000

SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1
SECCOMP_ADDFD_FLAG_SETFD = 1
SECCOMP_ADDFD_FLAG_SEND = 2
SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP = 1

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000
NR_SECCOMP = 317


class seccomp_data(ctypes.Structure):
    _fields_ = [("nr", ctypes.c_int32), ("arch", ctypes.c_uint32),
                ("instruction_pointer", ctypes.c_uint64), ("args", ctypes.c_uint64 * 6)]


class seccomp_notif(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint64), ("pid", ctypes.c_uint32),
                ("flags", ctypes.c_uint32), ("data", seccomp_data)]


class seccomp_notif_resp(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint64), ("val", ctypes.c_int64),
                ("error", ctypes.c_int32), ("flags", ctypes.c_uint32)]


class seccomp_notif_addfd(ctypes.Structure):
    _fields_ = [("id", ctypes.c_uint64), ("flags", ctypes.c_uint32),
                ("srcfd", ctypes.c_uint32), ("newfd", ctypes.c_uint32),
                ("newfd_flags", ctypes.c_uint32)]


class seccomp_notif_sizes(ctypes.Structure):
    _fields_ = [("seccomp_notif", ctypes.c_uint16), ("seccomp_notif_resp", ctypes.c_uint16),
                ("seccomp_data", ctypes.c_uint16)]


class sock_filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]


class sock_fprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(sock_filter))]


def _ioc(direction: int, nr: int, size: int) -> int:
    return (direction << 30) | (size << 16) | (ord("!") << 8) | nr


_IOW, _IOWR = 1, 3
SECCOMP_IOCTL_NOTIF_RECV = _ioc(_IOWR, 0, ctypes.sizeof(seccomp_notif))
SECCOMP_IOCTL_NOTIF_SEND = _ioc(_IOWR, 1, ctypes.sizeof(seccomp_notif_resp))
SECCOMP_IOCTL_NOTIF_ID_VALID = _ioc(_IOW, 2, 8)
SECCOMP_IOCTL_NOTIF_ADDFD = _ioc(_IOW, 3, ctypes.sizeof(seccomp_notif_addfd))
SECCOMP_IOCTL_NOTIF_SET_FLAGS = _ioc(_IOW, 4, 8)

# --- classic BPF ---
_LD_W_ABS = 0x00 | 0x00 | 0x20     # BPF_LD | BPF_W | BPF_ABS
_ALU_AND_K = 0x04 | 0x50 | 0x00    # BPF_ALU | BPF_AND | BPF_K
_JEQ_K = 0x05 | 0x10 | 0x00        # BPF_JMP | BPF_JEQ | BPF_K
_JGE_K = 0x05 | 0x30 | 0x00        # BPF_JMP | BPF_JGE | BPF_K
_RET_K = 0x06 | 0x00               # BPF_RET | BPF_K
_OFF_NR, _OFF_ARCH, _OFF_ARGS = 0, 4, 16


@dataclass(frozen=True, slots=True)
class ArgTest:
    """Notify only when ``(low 32 bits of args[arg]) & mask`` is one of ``values``."""

    arg: int
    mask: int
    values: tuple[int, ...]


class _Asm:
    """Straight-line BPF with forward jumps to named labels, resolved in :meth:`assemble`."""

    def __init__(self) -> None:
        self.code: list[tuple[int, str | int, str | int, int]] = []
        self.labels: dict[str, int] = {}

    def op(self, code: int, k: int, jt: str | int = 0, jf: str | int = 0) -> None:
        self.code.append((code, jt, jf, k & 0xFFFFFFFF))

    def label(self, name: str) -> None:
        self.labels[name] = len(self.code)

    def _offset(self, at: int, target: str | int) -> int:
        if isinstance(target, int):
            return target
        off = self.labels[target] - at - 1
        if not 0 <= off <= 255:
            raise ValueError(f"BPF jump to {target} out of range ({off})")
        return off

    def assemble(self) -> bytes:
        arr = (sock_filter * len(self.code))()
        for i, (code, jt, jf, k) in enumerate(self.code):
            arr[i] = sock_filter(code, self._offset(i, jt), self._offset(i, jf), k)
        return bytes(arr)


def trap_filter(always: Iterable[int], when: Mapping[int, ArgTest]) -> bytes:
    """A filter program (an array of ``sock_filter``) that notifies for ``always`` and for
    ``when`` (if its argument test matches), allows the rest, and kills foreign arches."""
    asm = _Asm()
    asm.op(_LD_W_ABS, _OFF_ARCH)
    asm.op(_JEQ_K, AUDIT_ARCH_X86_64, 0, "kill")
    asm.op(_LD_W_ABS, _OFF_NR)
    asm.op(_JGE_K, X32_SYSCALL_BIT, "kill", 0)
    for nr in sorted(set(always)):
        asm.op(_JEQ_K, nr, "notify", 0)
    for nr in sorted(when):
        asm.op(_JEQ_K, nr, f"test{nr}", 0)
    asm.op(_RET_K, SECCOMP_RET_ALLOW)
    for nr, test in sorted(when.items()):
        asm.label(f"test{nr}")
        asm.op(_LD_W_ABS, _OFF_ARGS + 8 * test.arg)   # little endian: the low word first
        if test.mask != 0xFFFFFFFF:
            asm.op(_ALU_AND_K, test.mask)
        for value in test.values:
            asm.op(_JEQ_K, value, "notify", 0)
        asm.op(_RET_K, SECCOMP_RET_ALLOW)
    asm.label("notify")
    asm.op(_RET_K, SECCOMP_RET_USER_NOTIF)
    asm.label("kill")
    asm.op(_RET_K, SECCOMP_RET_KILL_PROCESS)
    return asm.assemble()


# --- probing ---

class HostUnsupported(RuntimeError):
    """This kernel cannot run host mode (the message says which feature is missing)."""


@dataclass(frozen=True, slots=True)
class Features:
    notif_size: int
    resp_size: int
    sync_wake_up: bool


def _seccomp(op: int, flags: int, arg: object) -> int:
    ret = int(libc.syscall(NR_SECCOMP, op, flags, arg))
    return ret if ret >= 0 else -ctypes.get_errno()


def probe_kernel() -> seccomp_notif_sizes:
    """Check, before starting anything, that seccomp user notification exists at all."""
    sizes = seccomp_notif_sizes()
    ret = _seccomp(SECCOMP_GET_NOTIF_SIZES, 0, ctypes.byref(sizes))
    if ret < 0:
        raise HostUnsupported(
            "host mode needs seccomp user notification (Linux 5.0+, CONFIG_SECCOMP_FILTER): "
            f"seccomp(SECCOMP_GET_NOTIF_SIZES) failed: {os.strerror(-ret)}")
    action = ctypes.c_uint32(SECCOMP_RET_USER_NOTIF)
    ret = _seccomp(SECCOMP_GET_ACTION_AVAIL, 0, ctypes.byref(action))
    if ret < 0:
        raise HostUnsupported("host mode needs SECCOMP_RET_USER_NOTIF, which this kernel "
                              f"does not offer: {os.strerror(-ret)}")
    if sizes.seccomp_data != ctypes.sizeof(seccomp_data):
        raise HostUnsupported(f"unexpected struct seccomp_data size {sizes.seccomp_data}")
    return sizes


def _ioctl_errno(fd: int, request: int, arg: object) -> int:
    ret = int(libc.ioctl(fd, ctypes.c_ulong(request), arg))
    return 0 if ret >= 0 else ctypes.get_errno()


def probe_listener(listener: int, sizes: seccomp_notif_sizes) -> Features:
    """Probe CONTINUE and ADDFD(+SEND) on a live listener with a notification id that cannot
    exist: a kernel that knows the request answers ENOENT (no such notification), one that
    does not answers EINVAL (unknown flag) or ENOTTY (unknown ioctl)."""
    resp = seccomp_notif_resp(id=0, val=0, error=0, flags=SECCOMP_USER_NOTIF_FLAG_CONTINUE)
    err = _ioctl_errno(listener, SECCOMP_IOCTL_NOTIF_SEND, ctypes.byref(resp))
    if err != errno.ENOENT:
        raise HostUnsupported("host mode needs SECCOMP_USER_NOTIF_FLAG_CONTINUE (Linux 5.5+): "
                              f"the probe answered {errno.errorcode.get(err, err)}")
    addfd = seccomp_notif_addfd(id=0, flags=SECCOMP_ADDFD_FLAG_SEND, srcfd=listener,
                                newfd=0, newfd_flags=0)
    err = _ioctl_errno(listener, SECCOMP_IOCTL_NOTIF_ADDFD, ctypes.byref(addfd))
    if err != errno.ENOENT:
        raise HostUnsupported("host mode needs SECCOMP_IOCTL_NOTIF_ADDFD with "
                              "SECCOMP_ADDFD_FLAG_SEND (Linux 5.14+): the probe answered "
                              f"{errno.errorcode.get(err, err)}")
    # Optional (Linux 6.6+): wake the target on the supervisor's CPU, which halves the
    # latency of a round trip.  Missing is fine.
    sync = int(libc.ioctl(listener, ctypes.c_ulong(SECCOMP_IOCTL_NOTIF_SET_FLAGS),
                          ctypes.c_ulong(SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP))) == 0
    return Features(max(sizes.seccomp_notif, ctypes.sizeof(seccomp_notif)),
                    max(sizes.seccomp_notif_resp, ctypes.sizeof(seccomp_notif_resp)), sync)
