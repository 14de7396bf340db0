"""copy_from_user / copy_to_user for the ioctl layer, and the ioctl argument accessor.

The third argument of ``ioctl(2)`` reaches :func:`~softgem.uapi.table.drm_ioctl` in one of two
forms (design.md, public API):

* an ``int``: a user address in the calling process, read and written with the address space's
  ``copy_from_user`` / ``copy_to_user`` (EFAULT on a bad pointer), exactly as the kernel does;
* a ctypes object (a uapi struct, normally): the Python API's stand-in for "a pointer to the
  caller's struct".  It behaves as a user buffer of exactly ``sizeof(arg)`` bytes: the kernel
  reads its bytes and writes its result back into the same instance, and a request whose size
  field is larger than the object faults (EFAULT) instead of reading past it.

Pointers *inside* the structs (``getparam.value``, ``version.name``, ``query.items_ptr``...)
are always user addresses in the caller's address space, whichever form the argument took.

Only ``KernelError`` leaves these helpers: a size of 0 copies nothing and never faults (as in
the kernel), and an address outside ``[0, TASK_SIZE)`` is refused by ``access_ok`` before the
address space is touched.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence
from typing import Any, Protocol, TypeVar

from ..errors import EFAULT

__all__ = [
    "UserArg",
    "UserMemory",
    "copy_from_user",
    "copy_to_user",
    "copy_to_user_seq",
    "put_user_s32",
    "read_struct",
    "write_struct",
]

_U64 = (1 << 64) - 1
S = TypeVar("S", bound=ctypes.Structure)


class UserMemory(Protocol):
    """The part of an address space (``softgem.mm.Mm`` / ``UserMm``) the uapi layer uses."""

    def access_ok(self, addr: int, size: int) -> bool: ...

    def copy_from_user(self, addr: int, n: int) -> bytes: ...

    def copy_to_user(self, addr: int, data: bytes | bytearray | memoryview) -> None: ...

    def copy_to_user_vec(self, pieces: Sequence[tuple[int, bytes | bytearray | memoryview]]
                         ) -> int: ...


def copy_from_user(mm: UserMemory, addr: int, n: int) -> bytes:
    """``n`` bytes at user address ``addr`` (EFAULT if any of them is not readable)."""
    if n <= 0:
        return b""
    if not 0 <= addr <= _U64 or not mm.access_ok(addr, n):
        raise EFAULT(f"copy_from_user: bad user range {addr:#x}+{n:#x}")
    return mm.copy_from_user(addr, n)


def copy_to_user(mm: UserMemory, addr: int, data: bytes | bytearray | memoryview) -> None:
    """Store ``data`` at user address ``addr`` (EFAULT if any byte is not writable)."""
    n = len(data)
    if n == 0:
        return
    if not 0 <= addr <= _U64 or not mm.access_ok(addr, n):
        raise EFAULT(f"copy_to_user: bad user range {addr:#x}+{n:#x}")
    mm.copy_to_user(addr, data)


def copy_to_user_seq(mm: UserMemory, pieces: Sequence[tuple[int, bytes | bytearray | memoryview]]
                     ) -> list[int]:
    """Store each ``(addr, data)`` in order, as that many ``copy_to_user`` calls would: a
    fault stops its own piece only.  Returns the indices of the pieces that faulted.

    The address space's ``copy_to_user_vec`` (part of ``UserMm``) moves pieces that all pass
    ``access_ok`` in as few transfers as it can (host mode: one process_vm_writev, because
    every transfer there is a system call) and says how many leading pieces it stored whole."""
    ok = mm.access_ok
    if all(0 <= addr <= _U64 and ok(addr, len(data)) for addr, data in pieces):
        done = mm.copy_to_user_vec(pieces)
        if done == len(pieces):
            return []
        rest = copy_to_user_seq(mm, pieces[done + 1:])
        return [done, *(done + 1 + i for i in rest)]
    failed: list[int] = []
    for i, (addr, data) in enumerate(pieces):
        try:
            copy_to_user(mm, addr, data)
        except EFAULT:
            failed.append(i)
    return failed


def put_user_s32(mm: UserMemory, addr: int, value: int) -> None:
    """``put_user(int value, int __user *addr)``."""
    copy_to_user(mm, addr, (value & 0xFFFFFFFF).to_bytes(4, "little"))


def read_struct(mm: UserMemory, addr: int, cls: type[S]) -> S:
    """A fresh ``cls`` filled from user memory (``copy_from_user(&s, ptr, sizeof(s))``)."""
    return cls.from_buffer_copy(copy_from_user(mm, addr, ctypes.sizeof(cls)))


def write_struct(mm: UserMemory, addr: int, value: ctypes.Structure) -> None:
    copy_to_user(mm, addr, bytes(value))


def _is_ctypes_object(arg: Any) -> bool:
    """Whether ``arg`` is a ctypes instance (``sizeof`` refuses everything else)."""
    if isinstance(arg, type):
        return False
    try:
        ctypes.sizeof(arg)
    except TypeError:
        return False
    return True


class UserArg:
    """The ioctl's argument: a user address or a caller-owned ctypes object (see module doc)."""

    __slots__ = ("_addr", "_buf", "_mm")

    def __init__(self, mm: UserMemory, arg: Any) -> None:
        self._mm = mm
        self._buf: memoryview | None = None
        if type(arg) is int:        # a user address: every C caller, first
            self._addr = arg & _U64
            return
        self._addr = 0
        if isinstance(arg, bytearray) or _is_ctypes_object(arg):
            self._buf = memoryview(arg).cast("B")
        elif isinstance(arg, bool) or not isinstance(arg, int):
            # A C caller cannot pass anything else; the Python caller made a mistake that the
            # kernel would see as a pointer to nowhere.
            self._addr = -1
        else:
            self._addr = arg & _U64  # unsigned long, as the system call receives it

    def copy_in(self, n: int) -> bytes:
        """The first ``n`` bytes of the argument (EFAULT if it is shorter or unreadable)."""
        if n <= 0:
            return b""
        if self._buf is not None:
            if n > len(self._buf):
                raise EFAULT(f"argument object has {len(self._buf)} bytes, request wants {n}")
            return self._buf[:n].tobytes()
        if self._addr < 0:
            raise EFAULT("ioctl argument is neither a user address nor a ctypes object")
        return copy_from_user(self._mm, self._addr, n)

    def copy_out(self, data: bytes | bytearray | memoryview,
                 before: list[tuple[int, bytes]] | None = None) -> None:
        """Write the kernel's result back (EFAULT if it does not fit or is not writable).

        ``before``: the handler's last user writes, deferred so that they travel with the
        result (see ``IoctlContext.put_user_last``); they are stored first, in order, and a
        fault in any of them is EFAULT too -- after the result was still written back."""
        n = len(data)
        if before:
            if self._buf is None and self._addr >= 0 and n:
                failed = copy_to_user_seq(self._mm, [*before, (self._addr, data)])
                if failed:
                    raise EFAULT(f"copy_to_user of pieces {failed} faulted")
                return
            failed = copy_to_user_seq(self._mm, before)
            self.copy_out(data)       # its own fault is EFAULT as well
            if failed:
                raise EFAULT(f"put_user of deferred pieces {failed} faulted")
            return
        if n == 0:
            return
        if self._buf is not None:
            room = min(n, len(self._buf))
            self._buf[:room] = memoryview(data)[:room]
            if room < n:
                raise EFAULT(f"argument object has {len(self._buf)} bytes, kernel wrote {n}")
            return
        if self._addr < 0:
            raise EFAULT("ioctl argument is neither a user address nor a ctypes object")
        copy_to_user(self._mm, self._addr, data)
