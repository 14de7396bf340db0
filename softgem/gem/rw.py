"""PREAD and PWRITE: copying between an object's pages and the caller's memory.

Both validate as the kernel does, first failure wins: (PREAD/PWRITE disabled on gen12+ other
than TGL: EOPNOTSUPP), size 0 -> 0 before anything else, a user range outside the address space
-> EFAULT (``access_ok``), a bad handle -> ENOENT, ``offset``/``size`` outside the object ->
EINVAL, (PWRITE into a read-only object -> EINVAL), then the kind may refuse (userptr: EINVAL).

The data path: the object lock is held only to pin the pages and set the CPU domain; the copy
runs unlocked with the pages pinned (a copy may fault, and faults take mmap_lock, which ranks
above the object lock), one ``copy_to_user``/``copy_from_user`` per physically contiguous run
of pages, as numpy slices of the frames.  A copy that faults stops there with EFAULT; what was
copied before stays copied (the uAPI leaves the buffer undefined on error).

PWRITE into a shmem object that has no page list yet goes straight into the shmem store
(``pwrite_pagecache``): only the pages written get frames.  The kernel retries a failed shmem
copy through the GTT aperture; that path fails the same way for every cause modelled here
(fault in the user buffer, purged object), so it is not modelled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from .. import trace
from ..errors import EFAULT, EINVAL, EOPNOTSUPP
from ..units import PAGE_SHIFT, PAGE_SIZE, page_offset
from .domain import prepare_read, prepare_write
from .wait import object_wait

if TYPE_CHECKING:
    from ..mm import UserMm
    from .device import GemDevice
    from .file import DrmFile
    from .object import GemObject
    from .pages import SgTable

__all__ = ["pread", "pwrite"]

_U64 = (1 << 64) - 1
_COPY_CHUNK = 1 << 20           # bytes of user memory held at once by a pwrite


def _check_platform(dev: GemDevice) -> None:
    plat = dev.platform
    if plat.graphics_ver >= 12 and plat.name != "tgl":
        raise EOPNOTSUPP("pread/pwrite are gone after TGL")


def _range_overflows(offset: int, size: int, limit: int) -> bool:
    """``range_overflows_t(u64, offset, size, limit)``."""
    return offset >= limit or size > limit - offset


def _runs(pages: SgTable, offset: int, size: int) -> Iterator[tuple[int, int, int]]:
    """``(first frame, byte offset in it, length)`` per physically contiguous run."""
    pfns = pages.pfns
    idx = offset >> PAGE_SHIFT
    pg = page_offset(offset)
    while size:
        need = (pg + size + PAGE_SIZE - 1) >> PAGE_SHIFT
        first = int(pfns[idx])
        n = 1
        while n < need and int(pfns[idx + n]) == first + n:
            n += 1
        length = min(size, n * PAGE_SIZE - pg)
        yield first, pg, length
        size -= length
        idx += n
        pg = 0


def _frames_view(dev: GemDevice, first: int, pg: int, length: int) -> npt.NDArray[np.uint8]:
    """A flat writable view of ``length`` bytes starting ``pg`` bytes into frame ``first``.

    Consecutive frame numbers are consecutive rows of ``phys.data``, so a physically
    contiguous run is one slice.
    """
    phys = dev.phys
    row = phys.index(first)
    npages = (pg + length + PAGE_SIZE - 1) >> PAGE_SHIFT
    view: npt.NDArray[np.uint8] = phys.data[row:row + npages].reshape(-1)[pg:pg + length]
    return view


def _copy_out(obj: GemObject, mm: UserMm, offset: int, size: int, user_ptr: int) -> None:
    assert obj.pages is not None
    for first, pg, length in _runs(obj.pages, offset, size):
        mm.copy_to_user(user_ptr, _frames_view(obj.dev, first, pg, length).data)
        user_ptr += length


def _copy_in(obj: GemObject, mm: UserMm, offset: int, size: int, user_ptr: int) -> None:
    """From user memory into the object, one run at a time, each run in pieces of at most
    ``_COPY_CHUNK`` bytes: the kernel copies a page at a time, so a large physically
    contiguous run must not become one allocation of its whole length."""
    assert obj.pages is not None
    for first, pg, length in _runs(obj.pages, offset, size):
        view = _frames_view(obj.dev, first, pg, length)
        for at in range(0, length, _COPY_CHUNK):
            n = min(_COPY_CHUNK, length - at)
            view[at:at + n] = np.frombuffer(mm.copy_from_user(user_ptr + at, n), dtype=np.uint8)
        user_ptr += length


def _with_pinned_pages(obj: GemObject, prepare: Callable[[GemObject], None],
                       copy: Callable[[], None]) -> None:
    """Pin + prepare under the object lock, copy unlocked, then unpin."""
    with obj.lock:
        prepare(obj)
    try:
        copy()
    finally:
        with obj.lock:
            obj.unpin_pages_locked()


def _lookup_in_range(file: DrmFile, handle: int, offset: int, size: int) -> GemObject:
    obj = file.lookup(handle)
    if _range_overflows(offset & _U64, size & _U64, obj.size):
        obj.put()
        raise EINVAL(f"[{offset:#x}, +{size:#x}) outside the {obj.size:#x}-byte object")
    return obj


def pread(dev: GemDevice, file: DrmFile, mm: UserMm, handle: int, offset: int, size: int,
          data_ptr: int) -> None:
    """I915_GEM_PREAD: copy ``size`` bytes at ``offset`` of the object to ``data_ptr``.

    Raises (in order) EFAULT for a bad user range, ENOENT, EINVAL for a range outside the
    object, the kind's refusal (userptr: EINVAL), EFAULT for a purgeable object or a fault
    while copying, ENOMEM when pages cannot be had.
    """
    _check_platform(dev)
    if size == 0:
        return
    if not mm.access_ok(data_ptr, size):
        raise EFAULT(f"pread buffer {data_ptr:#x}+{size:#x}")
    obj = _lookup_in_range(file, handle, offset, size)
    try:
        if trace.enabled:
            trace.emit("gem", "pread", obj=obj.id, offset=offset, size=size)
        obj.ops.pread(obj)
        object_wait(obj, all_fences=False)
        _with_pinned_pages(obj, prepare_read,
                           lambda: _copy_out(obj, mm, offset, size, data_ptr))
    finally:
        obj.put()


def pwrite(dev: GemDevice, file: DrmFile, mm: UserMm, handle: int, offset: int, size: int,
           data_ptr: int) -> None:
    """I915_GEM_PWRITE: copy ``size`` bytes from ``data_ptr`` into the object at ``offset``.

    Raises (in order) EFAULT for a bad user range, ENOENT, EINVAL for a range outside the
    object, EINVAL for a read-only object, the kind's refusal (userptr: EINVAL), EFAULT for a
    purgeable object or a fault while copying, ENOMEM when pages cannot be had.
    """
    _check_platform(dev)
    if size == 0:
        return
    if not mm.access_ok(data_ptr, size):
        raise EFAULT(f"pwrite buffer {data_ptr:#x}+{size:#x}")
    obj = _lookup_in_range(file, handle, offset, size)
    try:
        if obj.readonly:
            raise EINVAL(f"{obj!r} is read-only")
        if trace.enabled:
            trace.emit("gem", "pwrite", obj=obj.id, offset=offset, size=size)
        obj.ops.pwrite(obj)
        fast = getattr(obj.ops, "pwrite_pagecache", None)   # optional op, like ops->pwrite
        if fast is not None and fast(obj, mm, offset, data_ptr, size):
            return
        object_wait(obj, all_fences=True)
        _with_pinned_pages(obj, prepare_write,
                           lambda: _copy_in(obj, mm, offset, size, data_ptr))
    finally:
        obj.put()
