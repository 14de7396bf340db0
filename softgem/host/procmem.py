"""Another process's memory and address-space layout, as the kernel lets a supervisor see them.

Memory moves with ``process_vm_readv``/``process_vm_writev``: like ``copy_from_user`` and
``copy_to_user`` they honour the target's page protections (a write to a read-only page fails)
and any failure, partial transfers included, is ``EFAULT`` -- except a target that no longer
exists, which is ``ESRCH``.

The layout comes from ``/proc/PID/maps`` (addresses, permissions, backing) and, when asked,
``/proc/PID/smaps``'s ``VmFlags`` line, which is where ``VM_PFNMAP`` ("pf") and ``VM_IO``
("io") show; gup and ``I915_USERPTR_PROBE`` refuse both.
"""

from __future__ import annotations

import ctypes
import errno as _errno
import os
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass

from ..errors import EFAULT, ESRCH, KernelError, error_for
from ..units import PAGE_SIZE, TASK_SIZE

__all__ = ["HostVma", "move_frames", "read_cstring", "read_forced", "read_maps", "read_mem",
           "vmas_covering", "write_mem", "write_vec"]

#: how /proc/PID/maps names the mirrors of GEM objects (devmmap.MIRROR_NAME)
GEM_MAP_PATH = "/memfd:softgem-gem"

_libc = ctypes.CDLL(None, use_errno=True)
# Deliberately without argtypes: converting six arguments through argtypes costs twice the
# system call itself.  The two pointers are passed as prebuilt c_void_p objects.
_readv = _libc.process_vm_readv
_writev = _libc.process_vm_writev
_readv.restype = _writev.restype = ctypes.c_ssize_t
_IOVS = struct.Struct("<QQQQ")       # local iovec, remote iovec
_IOV = struct.Struct("<QQ")
_SCRATCH = 1 << 16
_VEC_MAX = 16                        # remote iovecs in one write_vec transfer


class _Scratch(threading.local):
    """Per-thread buffers, so a transfer is one foreign call and one copy (these calls are
    on every ioctl's path)."""

    def __init__(self) -> None:
        self.buf = bytearray(_SCRATCH)
        self.view = memoryview(self.buf)
        self.addr = ctypes.addressof((ctypes.c_char * _SCRATCH).from_buffer(self.buf))
        self.iov = bytearray(_IOVS.size)
        iov_addr = ctypes.addressof((ctypes.c_char * _IOVS.size).from_buffer(self.iov))
        self.local = ctypes.c_void_p(iov_addr)
        self.remote = ctypes.c_void_p(iov_addr + 16)
        self.vec = bytearray(_IOV.size * _VEC_MAX)
        self.vec_remote = ctypes.c_void_p(
            ctypes.addressof((ctypes.c_char * len(self.vec)).from_buffer(self.vec)))


_tls = _Scratch()


_USER_END = TASK_SIZE + PAGE_SIZE


def _fail(what: str, pid: int, addr: int, n: int, got: int) -> KernelError:
    if got < 0:
        code = ctypes.get_errno()
        if code == _errno.ESRCH:
            return ESRCH(f"{what}: pid {pid} is gone")
        if code not in (_errno.EFAULT, _errno.ENOMEM, _errno.EINVAL):
            return error_for(code, f"{what} pid {pid} at {addr:#x}")
    return EFAULT(f"{what} pid {pid} [{addr:#x}, +{n:#x}): {max(got, 0)} bytes moved")


def read_mem(pid: int, addr: int, n: int) -> bytes:
    """``n`` bytes of ``pid``'s memory at ``addr`` (all or EFAULT)."""
    if n <= 0:
        return b""
    if addr < 0 or addr + n > _USER_END:
        raise EFAULT(f"[{addr:#x}, +{n:#x}) is not a user range")
    s = _tls
    if n <= _SCRATCH:
        _IOVS.pack_into(s.iov, 0, s.addr, n, addr, n)
        got = _readv(pid, s.local, 1, s.remote, 1, 0)
        if got != n:
            raise _fail("read", pid, addr, n, got)
        return bytes(s.view[:n])
    big = ctypes.create_string_buffer(n)
    _IOVS.pack_into(s.iov, 0, ctypes.addressof(big), n, addr, n)
    got = _readv(pid, s.local, 1, s.remote, 1, 0)
    if got != n:
        raise _fail("read", pid, addr, n, got)
    return big.raw


def write_mem(pid: int, addr: int, data: bytes | bytearray | memoryview) -> None:
    """Store ``data`` at ``addr`` in ``pid`` (all or EFAULT; read-only pages refuse)."""
    n = len(data)
    if n == 0:
        return
    if addr < 0 or addr + n > _USER_END:
        raise EFAULT(f"[{addr:#x}, +{n:#x}) is not a user range")
    s = _tls
    if n <= _SCRATCH:
        s.view[:n] = data
        _IOVS.pack_into(s.iov, 0, s.addr, n, addr, n)
        got = _writev(pid, s.local, 1, s.remote, 1, 0)
    else:
        big = ctypes.create_string_buffer(bytes(data), n)
        _IOVS.pack_into(s.iov, 0, ctypes.addressof(big), n, addr, n)
        got = _writev(pid, s.local, 1, s.remote, 1, 0)
    if got != n:
        raise _fail("write", pid, addr, n, got)


def write_vec(pid: int, pieces: Sequence[tuple[int, bytes | bytearray | memoryview]]) -> int:
    """Store ``(addr, data)`` pieces in order with one ``process_vm_writev``; the number of
    leading pieces stored whole (``len(pieces)`` on success).  Stops at the first fault, which
    may leave that piece partly written, as copy_to_user does.  ESRCH if ``pid`` is gone."""
    s = _tls
    view, vec, at = s.view, s.vec, 0
    if len(pieces) <= _VEC_MAX:
        for k, (addr, data) in enumerate(pieces):
            n = len(data)
            end = at + n
            if addr < 0 or addr + n > _USER_END or end > _SCRATCH:
                break
            view[at:end] = data
            _IOV.pack_into(vec, k << 4, addr, n)
            at = end
        else:
            _IOV.pack_into(s.iov, 0, s.addr, at)
            got = _writev(pid, s.local, 1, s.vec_remote, len(pieces), 0)
            if got == at:
                return len(pieces)
            if got < 0 and ctypes.get_errno() == _errno.ESRCH:
                raise ESRCH(f"write: pid {pid} is gone")
            done, at = 0, 0
            for _addr, data in pieces:
                at += len(data)
                if at > got:
                    break
                done += 1
            return done
    done = 0
    for addr, data in pieces:      # too many or too big for one transfer: one each
        try:
            write_mem(pid, addr, data)
        except EFAULT:
            break
        done += 1
    return done


_IOV_MAX = 1024


def move_frames(pid: int, base: int, pieces: Sequence[tuple[int, int, int]], write: bool
                ) -> int:
    """Move ``(remote addr, local offset, n)`` pieces between ``pid`` and local memory at
    ``base`` (a frame array): ``process_vm_readv`` into it, or ``process_vm_writev`` out of it
    with ``write``.  Pieces contiguous on both sides merge into one iovec; one call carries
    up to IOV_MAX iovecs each side.  Answers the bytes moved before the first failure (a
    partial move is the caller's to finish piece by piece); ESRCH if ``pid`` is gone."""
    call = _writev if write else _readv
    done = 0
    merged: list[list[int]] = []
    for addr, off, n in pieces:
        if addr < 0 or addr + n > _USER_END:
            break
        if merged and merged[-1][0] + merged[-1][2] == addr and \
                merged[-1][1] + merged[-1][2] == off:
            merged[-1][2] += n
        else:
            merged.append([addr, off, n])
    for i in range(0, len(merged), _IOV_MAX):
        chunk = merged[i:i + _IOV_MAX]
        local = (ctypes.c_uint64 * (2 * len(chunk)))()
        remote = (ctypes.c_uint64 * (2 * len(chunk)))()
        total = 0
        for k, (addr, off, n) in enumerate(chunk):
            local[2 * k], local[2 * k + 1] = base + off, n
            remote[2 * k], remote[2 * k + 1] = addr, n
            total += n
        got = call(pid, local, len(chunk), remote, len(chunk), 0)
        if got < 0 and ctypes.get_errno() == _errno.ESRCH:
            raise ESRCH(f"pid {pid} is gone")
        done += max(got, 0)
        if got != total:
            break
    return done


def read_forced(pid: int, addr: int, n: int) -> bytes:
    """``n`` bytes at ``addr`` through ``/proc/PID/mem`` (FOLL_FORCE: a mapping without
    VM_READ but with VM_MAYREAD reads, as gup's FOLL_WRITE pin of a PROT_WRITE-only page does
    in the kernel); EFAULT on any failure."""
    try:
        fd = os.open(f"/proc/{pid}/mem", os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise ESRCH(f"pid {pid}: {exc}") from exc
    try:
        data = os.pread(fd, n, addr)
    except OSError as exc:
        raise EFAULT(f"forced read pid {pid} at {addr:#x}: {exc}") from exc
    finally:
        os.close(fd)
    if len(data) != n:
        raise EFAULT(f"forced read pid {pid} at {addr:#x}: {len(data)} of {n} bytes")
    return data


def read_cstring(pid: int, addr: int, limit: int = 4096) -> bytes:
    """A NUL-terminated string (without the NUL), read a page at a time so that a string
    ending just before an unmapped page still reads; EFAULT if unreadable.  A string with no
    NUL within ``limit`` bytes comes back ``limit`` long (the caller decides: ENAMETOOLONG)."""
    out = bytearray()
    while len(out) < limit:
        chunk = min(PAGE_SIZE - (addr % PAGE_SIZE), limit - len(out))
        data = read_mem(pid, addr, chunk)
        nul = data.find(b"\0")
        if nul >= 0:
            out += data[:nul]
            return bytes(out)
        out += data
        addr += chunk
    return bytes(out)


@dataclass(frozen=True, slots=True)
class HostVma:
    """One line of ``/proc/PID/maps`` (``[start, end)``), with smaps' VmFlags when read."""

    start: int
    end: int
    perms: str             # "rwxp" / "r--s" ...
    offset: int
    inode: int
    path: str
    flags: frozenset[str] = frozenset()

    @property
    def readable(self) -> bool:
        return self.perms[0] == "r"

    @property
    def writable(self) -> bool:
        return self.perms[1] == "w"

    @property
    def shared(self) -> bool:
        return self.perms[3] == "s"

    @property
    def pfnmap(self) -> bool:
        """VM_PFNMAP; host mode's own GEM mappings (MMAP_OFFSET and MMAP_GTT mirrors, marked
        VM_DONTDUMP as i915 marks them) count as the PFN mappings they stand for."""
        return "pf" in self.flags or ("dd" in self.flags and self.path.startswith(GEM_MAP_PATH))

    @property
    def io(self) -> bool:
        return "io" in self.flags

    @property
    def mixedmap(self) -> bool:
        return "mm" in self.flags


def _parse_header(line: str) -> HostVma:
    fields = line.split(None, 5)
    start, end = (int(x, 16) for x in fields[0].split("-"))
    path = fields[5].rstrip("\n") if len(fields) > 5 else ""
    return HostVma(start, end, fields[1], int(fields[2], 16), int(fields[4]), path)


def read_maps(pid: int, with_flags: bool = False) -> list[HostVma]:
    """The VMAs of ``pid`` in address order; ESRCH if the process is gone."""
    name = "smaps" if with_flags else "maps"
    try:
        with open(f"/proc/{pid}/{name}") as f:
            lines = f.readlines()
    except (FileNotFoundError, ProcessLookupError) as exc:
        raise ESRCH(f"pid {pid} is gone") from exc
    vmas: list[HostVma] = []
    for line in lines:
        if line[0] in "0123456789abcdef" and "-" in line.split(None, 1)[0]:
            vmas.append(_parse_header(line))
        elif line.startswith("VmFlags:") and vmas:
            last = vmas[-1]
            vmas[-1] = HostVma(last.start, last.end, last.perms, last.offset, last.inode,
                               last.path, frozenset(line.split()[1:]))
    return vmas


def vmas_covering(vmas: list[HostVma], start: int, end: int) -> list[HostVma]:
    """The VMAs that cover ``[start, end)`` with no hole between them, or EFAULT (the walk
    ``get_user_pages`` and the userptr probe do)."""
    if start >= end:
        return []
    out: list[HostVma] = []
    at = start
    for vma in vmas:
        if vma.end <= at:
            continue
        if vma.start > at:
            break
        out.append(vma)
        at = vma.end
        if at >= end:
            return out
    raise EFAULT(f"hole at {at:#x} in [{start:#x}, {end:#x})")
