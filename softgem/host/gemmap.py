"""``mmap(2)`` of a device fd (or of a dma-buf fd) in host mode: the kernel's checks, then the caller maps the
object's mirror itself (devmmap.py, inject.py).

``do_mmap``'s own checks come first, in its order (zero length: EINVAL; an offset that is
not page aligned: EINVAL; a length that overflows when rounded up: ENOMEM); then
``i915_gem_mmap``'s, in the core (EINVAL: no node at the offset spanning the length; EACCES:
the node is not open to this file).  Flags and protections are the program's own: the real
mmap of the mirror judges them (an invalid flag combination fails there, with the kernel's
errno).  A MAP_FIXED mapping replaces what was there: the range is invalidated first, as for
any MAP_FIXED.
"""

from __future__ import annotations

import os

from ..errors import EINVAL, ENOMEM
from ..posix import MAP_FIXED, MAP_FIXED_NOREPLACE, PROT_WRITE
from ..units import PAGE_SHIFT, TASK_SIZE, page_align
from .devmmap import map_into
from .drmfile import HostFile
from .listener import Notification
from .services import Reply, Services

__all__ = ["device_mmap"]


def device_mmap(svc: Services, n: Notification, dfile: HostFile,
                unmap_first: object = None) -> Reply:
    addr, length, prot, flags, _fd, offset = n.args
    if length == 0 or offset & 0xFFF:
        raise EINVAL(f"mmap of a device fd: length {length:#x}, offset {offset:#x}")
    if page_align(length) > TASK_SIZE or page_align(length) == 0:
        raise ENOMEM(f"mmap length {length:#x}")
    task = svc.procs.task(n)
    task.check_valid()
    npages = page_align(length) >> PAGE_SHIFT
    if dfile.minor < 0:     # a file an ioctl made: a dma-buf maps its shmem file
        fd, at = svc.backend.dmabuf_mmap_target(dfile.file, offset >> PAGE_SHIFT, npages)
    else:
        fd, at = svc.backend.mmap_target(dfile.file, offset >> PAGE_SHIFT, npages,
                                         bool(prot & PROT_WRITE))
    if flags & MAP_FIXED and not flags & MAP_FIXED_NOREPLACE and callable(unmap_first):
        unmap_first()
    # do_mmap checks the *file's* mode: the thread gets a read-only opening of the mirror when
    # the drm file has no FMODE_WRITE, so the kernel itself refuses a shared writable mapping
    # and a later mprotect to PROT_WRITE (EACCES).
    try:
        if dfile.readonly:
            ro = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC)
            os.close(fd)
            fd = ro
        got = map_into(task, svc.injector, fd, addr, length, prot, flags, at,
                       gem_mapping=dfile.minor >= 0)
    finally:
        os.close(fd)
    if svc.trace:
        shown = f"{got:#x}" if got >= 0 else f"-{-got}"
        svc.trace(f"pid {n.pid}: mmap {dfile!r} offset {offset:#x} +{length:#x} -> {shown}")
    return got
