"""``kcmp(2)``: does a target's fd name a given open file?  (x86-64, CONFIG_KCMP.)

``KCMP_EPOLL_TFD`` compares a file descriptor of one process with the file registered in an
epoll instance of another under ``(tfd, toff)`` -- without either side holding a reference
to that file, which is what drmfile.py needs.  The call is made untyped on purpose: argtypes
conversion costs more than the system call; every argument is a small int except the slot,
passed as a prebuilt ``c_void_p`` (see :func:`slot_pointer`).
"""

from __future__ import annotations

import ctypes
import os

__all__ = ["KCMP_EPOLL_TFD", "KCMP_FILE", "NR_KCMP", "EpollSlot", "kcmp", "kcmp_works",
           "slot_pointer"]

NR_KCMP = 312
KCMP_FILE = 0
KCMP_EPOLL_TFD = 7

kcmp = ctypes.CDLL(None, use_errno=True).syscall
kcmp.restype = ctypes.c_long


class EpollSlot(ctypes.Structure):
    """``struct kcmp_epoll_slot``."""
    _fields_ = [("efd", ctypes.c_uint32), ("tfd", ctypes.c_uint32), ("toff", ctypes.c_uint32)]


def slot_pointer(slot: EpollSlot) -> ctypes.c_void_p:
    """The address to pass for ``slot`` (the caller keeps ``slot`` alive)."""
    return ctypes.c_void_p(ctypes.addressof(slot))


def kcmp_works() -> bool:
    """Whether this kernel answers kcmp (CONFIG_KCMP, and no seccomp/LSM refusing it)."""
    r, w = os.pipe2(os.O_CLOEXEC)
    try:
        me = os.getpid()
        return bool(kcmp(NR_KCMP, me, me, KCMP_FILE, r, r) == 0)
    finally:
        os.close(r)
        os.close(w)
