"""The ioctls of a sync_file fd (``sync_file_ioctl`` in ``drivers/dma-buf/sync_file.c``).

=====================  ==========================================================================
request                ladder, first failure wins
=====================  ==========================================================================
SYNC_IOC_MERGE         a descriptor reserved (EMFILE); argument copied in (EFAULT); ``flags`` or
                       ``pad`` set (EINVAL); ``fd2`` not a sync_file (ENOENT); the merged
                       sync_file's fd copied out (EFAULT), then installed
SYNC_IOC_FILE_INFO     argument copied in (EFAULT); ``flags`` or ``pad`` set (EINVAL);
                       ``num_fences`` 0: only the status, count and name come back; fewer slots
                       than fences (EINVAL); the per-fence array copied out (EFAULT)
SYNC_IOC_SET_DEADLINE  argument copied in (EFAULT); ``pad`` set (EINVAL); every pending fence
                       that keeps deadlines (a sw_sync point; i915's requests do not) is told
anything else          ENOTTY
=====================  ==========================================================================

``arg`` is what the caller passed: a user address (host mode, C programs) or a ctypes struct
of the right size (the simulated machine's ``proc.ioctl``), updated in place as the kernel's
copy_to_user would.  A fence's ``timestamp_ns`` is the core clock's when it signalled (0 while
pending), as ``sync_fill_fence_info`` reports it.
"""

from __future__ import annotations

import ctypes
import struct
from collections.abc import Callable
from typing import Any

from ..abi import SYNC_IOC_FILE_INFO, SYNC_IOC_MERGE
from ..errors import EFAULT, EINVAL, ENOENT, ENOTTY, KernelError
from .sync_file import SyncFile, driver_name, fence_status, sync_file_merge

__all__ = ["SYNC_IOC_FILE_INFO", "SYNC_IOC_MERGE", "SYNC_IOC_SET_DEADLINE", "copy_arg_in",
           "copy_arg_out", "install_new_fd", "sync_file_ioctl"]

_MERGE = struct.Struct("<32siiII")                 # struct sync_merge_data
_INFO = struct.Struct("<32siIIIQ")                 # struct sync_file_info
_FENCE_INFO = struct.Struct("<32s32siIQ")          # struct sync_fence_info
_DEADLINE = struct.Struct("<QQ")                   # struct sync_set_deadline (Linux 6.5)
SYNC_IOC_SET_DEADLINE = (1 << 30) | (_DEADLINE.size << 16) | (ord(">") << 8) | 5
_O_CLOEXEC = 0o2000000


def copy_arg_in(task: Any, arg: Any, size: int) -> bytes:
    """The ioctl's argument: ``size`` bytes at a user address, or a ctypes struct's."""
    if isinstance(arg, int):
        try:
            data: bytes = task.mm.copy_from_user(arg, size)
        except KernelError:
            raise EFAULT(f"ioctl argument {arg:#x}") from None
        return data
    return bytes(arg)[:size]


def copy_arg_out(task: Any, arg: Any, data: bytes) -> None:
    """Write the ioctl's argument back (copy_to_user, or into the ctypes struct)."""
    if isinstance(arg, int):
        try:
            task.mm.copy_to_user(arg, data)
        except KernelError:
            raise EFAULT(f"ioctl argument {arg:#x}") from None
    else:
        ctypes.memmove(ctypes.addressof(arg), data, len(data))


def install_new_fd(task: Any, build: Callable[[int], tuple[Any, Callable[[int], None]]]) -> int:
    """A new file's fd, the kernel's way: a number reserved first (EMFILE), ``build(fd)`` makes
    the file and a ``report(fd)`` that copies the number out, then the install.  Nothing is
    installed if building or reporting fails.  Host mode may install at another number (a
    thread of the program took it meanwhile): that one is reported."""
    fd = task.get_unused_fd_flags(_O_CLOEXEC)
    try:
        f, report = build(fd)
        report(fd)
    except BaseException:
        task.put_unused_fd(fd)
        raise
    installed = task.fd_install_reserved(fd, f)
    if installed != fd:
        report(installed)
    return 0


def _merge(sf: SyncFile, task: Any, arg: Any) -> int:
    def build(_fd: int) -> tuple[SyncFile, Callable[[int], None]]:
        name, fd2, _, flags, pad = _MERGE.unpack(copy_arg_in(task, arg, _MERGE.size))
        if flags or pad:
            raise EINVAL("sync_merge_data flags/pad")
        try:
            other = task.fd_get(fd2)
        except KernelError:
            raise ENOENT(f"fd {fd2} is not a sync_file") from None
        try:
            if not isinstance(other, SyncFile):
                raise ENOENT(f"fd {fd2} is not a sync_file")
            merged = sync_file_merge(sf.children() + other.children(),
                                     name.split(b"\0", 1)[0].decode(errors="replace"))
        finally:
            task.fd_put(other)
        return merged, lambda fd: copy_arg_out(task, arg, _MERGE.pack(name, fd2, fd, flags, pad))

    return install_new_fd(task, build)


def _fence_info(sf: SyncFile, task: Any, arg: Any) -> int:
    _, status, flags, num, pad, array = _INFO.unpack(copy_arg_in(task, arg, _INFO.size))
    if flags or pad:
        raise EINVAL("sync_file_info flags/pad")
    fences = sf.children()
    if not num:
        status = sf.status()
    else:
        if num < len(fences):
            raise EINVAL(f"{num} slots for {len(fences)} fences")
        status = 1
        infos = []
        for f in fences:
            st = fence_status(f)
            status = status if status <= 0 else st
            infos.append(_FENCE_INFO.pack(f.name.encode()[:31], driver_name(f).encode(), st, 0,
                                          f.timestamp if st else 0))
        try:
            task.mm.copy_to_user(array, b"".join(infos))
        except KernelError:
            raise EFAULT(f"sync_fence_info array {array:#x}") from None
    copy_arg_out(task, arg, _INFO.pack(sf.get_name().encode()[:31], status, flags, len(fences),
                                    pad, array))
    return 0


def _set_deadline(sf: SyncFile, task: Any, arg: Any) -> int:
    deadline, pad = _DEADLINE.unpack(copy_arg_in(task, arg, _DEADLINE.size))
    if pad:
        raise EINVAL("sync_set_deadline pad")
    for f in sf.children():         # a merge passes it on to each fence (dma_fence_array)
        set_deadline = getattr(f, "set_deadline", None)
        if set_deadline is not None and not f.signaled():
            set_deadline(deadline)
    return 0


def sync_file_ioctl(sf: SyncFile, task: Any, request: int, arg: Any) -> int:
    """``sync_file_ioctl``: ``task`` is the caller (its ``mm`` and fd table)."""
    request &= 0xFFFFFFFF
    if request == SYNC_IOC_MERGE:
        return _merge(sf, task, arg)
    if request == SYNC_IOC_FILE_INFO:
        return _fence_info(sf, task, arg)
    if request == SYNC_IOC_SET_DEADLINE:
        return _set_deadline(sf, task, arg)
    raise ENOTTY(f"sync_file ioctl {request:#x}")
