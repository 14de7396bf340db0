"""PRIME: sharing objects as dma-buf file descriptors (``drm_prime.c`` + ``i915_gem_dmabuf.c``).

A :class:`DmaBuf` is an open file (it fits the machine's OpenFile protocol: ``kref``, ``name``,
``ioctl``, ``mmap_file``, ``release``) that holds a reference on the exported object.  There is
one dma-buf per object while the object has handles: ``obj.dma_buf`` points to it and holds a
reference on it, dropped by ``DrmFile.handle_put`` (``exporter_handle_gone``) with the last
handle, which breaks the object <-> dma-buf cycle.  Each file remembers which dma-buf stands
for which of its handles (``file.prime_handles``) so that re-importing gives the same handle.

References, who holds them and when they are dropped:

=====================  ===============================================================================
holder                 of what / dropped when
=====================  ===============================================================================
an fd                  the dma-buf; the fd is closed (the fd table's put)
obj.dma_buf            the dma-buf; the object's last handle goes (``exporter_handle_gone``)
the dma-buf            the object; the dma-buf's last reference goes (``release``)
file.prime_handles     nothing: an entry lives only as long as its handle, and while the object
                       has a handle ``obj.dma_buf`` keeps the dma-buf alive
=====================  ===============================================================================

Importing a dma-buf of this device gives back the object itself (a new handle on it, or the
handle this file already got for that dma-buf), as the kernel does for self-imports.  Locks:
the per-file prime lock, then ``dev.object_name_lock``, then the handle table's spinlock.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import trace
from ..abi import (  # the uAPI header's names
    DMA_BUF_IOCTL_SYNC,
    DMA_BUF_SYNC_END,
    DMA_BUF_SYNC_RW,
    DMA_BUF_SYNC_WRITE,
    DRM_CLOEXEC,
    DRM_RDWR,
)
from ..errors import EFAULT, EINVAL, ENODEV, ENOENT, ENOTTY, KernelError, SimBug
from ..sync import Kref, Mutex
from ..units import PAGE_SHIFT
from .domain import set_to_cpu_domain, set_to_gtt_domain
from .mman_legacy import ShmemFilp, shmem_filp
from .ops import ObjectFlags

if TYPE_CHECKING:
    from ..mm import Vma
    from .device import GemDevice
    from .file import DrmFile
    from .object import GemObject

__all__ = ["DmaBuf", "DRM_CLOEXEC", "DRM_RDWR", "handle_to_fd", "fd_to_handle"]



class DmaBuf:
    """An exported object as an open file (``struct dma_buf`` + its ``struct file``)."""

    name = "dmabuf"

    def __init__(self, obj: GemObject, flags: int) -> None:
        self.kref = Kref()            # the reference dma_buf_fd installs
        self.obj: GemObject | None = obj.get()
        self.dev = obj.dev
        self.size = obj.size
        self.flags = flags

    def __repr__(self) -> str:
        return f"<DmaBuf of {self.obj!r}>"

    def get(self) -> DmaBuf:
        self.kref.get()
        return self

    def put(self) -> None:
        self.kref.put(self.release)

    def mmap_file(self) -> DmaBufMapping:
        """``dma_buf_mmap_internal`` + ``i915_gem_dmabuf_mmap``: the object's shmem file, at
        object-relative offsets, for a dma-buf opened as it was exported (DRM_RDWR or not)."""
        obj = self.object()
        if not obj.flags & ObjectFlags.HAS_FILP:
            raise ENODEV(f"{obj!r} has no shmem file to map")
        return DmaBufMapping(self, shmem_filp(obj))

    def ioctl(self, proc: Any, request: int, arg: Any) -> int:
        """``dma_buf_ioctl``: DMA_BUF_IOCTL_SYNC brackets CPU access to a mapping; the rest
        (SET_NAME, EXPORT/IMPORT_SYNC_FILE) answers ENOTTY here."""
        if request & 0xFFFFFFFF != DMA_BUF_IOCTL_SYNC:
            raise ENOTTY(f"dma-buf ioctl {request:#x}")
        if isinstance(arg, int):
            try:
                raw = proc.mm.copy_from_user(arg, 8)
            except KernelError:
                raise EFAULT(f"dma_buf_sync {arg:#x}") from None
        else:
            raw = bytes(arg)[:8]
        flags = int.from_bytes(raw, "little")
        if flags & ~(DMA_BUF_SYNC_RW | DMA_BUF_SYNC_END):
            raise EINVAL(f"dma_buf_sync flags {flags:#x}")
        if not flags & DMA_BUF_SYNC_RW:
            raise EINVAL("dma_buf_sync without READ or WRITE")
        obj = self.object()
        with obj.lock:
            obj.pin_pages_locked()
            try:
                if flags & DMA_BUF_SYNC_END:        # i915_gem_dmabuf_end_cpu_access
                    set_to_gtt_domain(obj, False)
                else:                               # i915_gem_dmabuf_begin_cpu_access
                    set_to_cpu_domain(obj, bool(flags & DMA_BUF_SYNC_WRITE))
            finally:
                obj.unpin_pages_locked()
        return 0

    def release(self) -> None:
        """The last reference went: drop the exported object (``drm_gem_dmabuf_release``)."""
        obj, self.obj = self.obj, None
        if obj is None:
            raise SimBug("dma-buf released twice")
        if trace.enabled:
            trace.emit("gem", "dmabuf_release", obj=obj.id)
        obj.put()

    def exporter_handle_gone(self) -> None:
        """The object's last handle went: drop the reference ``obj.dma_buf`` held."""
        self.put()

    def object(self) -> GemObject:
        if self.obj is None:
            raise SimBug("use of a released dma-buf")
        return self.obj


# -- the per-file prime lock (drm_prime_file_private.lock) ------------------------------------------


def _prime_lock(file: DrmFile) -> Mutex:
    return file.prime_lock


class DmaBufMapping:
    """A MappableFile: a dma-buf's view of its object's shmem file."""

    __slots__ = ("buf", "filp", "mapping", "readable", "writable")

    def __init__(self, buf: DmaBuf, filp: ShmemFilp) -> None:
        self.buf = buf
        self.filp = filp
        self.mapping = filp.mapping
        self.readable = True
        self.writable = bool(buf.flags & DRM_RDWR)   # O_RDONLY unless exported DRM_RDWR

    def mmap(self, vma: Vma) -> None:
        if vma.pgoff + vma.nr_pages > self.buf.size >> PAGE_SHIFT:
            raise EINVAL(f"dma-buf mmap of pages [{vma.pgoff:#x}, +{vma.nr_pages:#x}) past "
                         f"{self.buf.size:#x} bytes")
        self.filp.mmap(vma)


def _handle_for(file: DrmFile, buf: DmaBuf) -> int | None:
    for handle, b in file.prime_handles.items():
        if b is buf:
            return handle
    return None


# -- export ----------------------------------------------------------------------------------------
def _export_locked(dev: GemDevice, file: DrmFile, obj: GemObject, handle: int,
                   flags: int) -> DmaBuf:
    """Find or make the object's dma-buf; a new reference for the caller (name lock held)."""
    buf: DmaBuf | None = obj.dma_buf
    if buf is not None:
        buf.get()
    else:
        if obj.handle_count == 0:
            raise ENOENT(f"{obj!r} lost its last handle")   # a racing GEM_CLOSE won
        obj.ops.dmabuf_export(obj)
        buf = DmaBuf(obj, flags)
        obj.dma_buf = buf.get()
        if trace.enabled:
            trace.emit("gem", "dmabuf_export", obj=obj.id, handle=handle)
    file.prime_handles[handle] = buf
    return buf


def handle_to_fd(dev: GemDevice, file: DrmFile, handle: int, flags: int,
                 fd_install: Callable[[DmaBuf, int], int]) -> int:
    """DRM_IOCTL_PRIME_HANDLE_TO_FD: a dma-buf fd for the object (one dma-buf per object).

    ``fd_install(buf, flags)`` puts the dma-buf in the caller's fd table, taking over one
    reference; ``flags`` is O_CLOEXEC when DRM_CLOEXEC was asked (``dma_buf_fd``).
    Raises EINVAL for flags beyond DRM_CLOEXEC|DRM_RDWR, ENOENT for a bad handle, the kind's
    refusal (userptr: EINVAL), what ``fd_install`` raises (EMFILE).
    """
    if flags & ~(DRM_CLOEXEC | DRM_RDWR):
        raise EINVAL(f"prime flags {flags:#x}")
    with _prime_lock(file):
        obj = file.lookup(handle)
        try:
            buf: DmaBuf | None = file.prime_handles.get(handle)
            if buf is not None:
                buf.get()
            else:
                with dev.object_name_lock:
                    buf = _export_locked(dev, file, obj, handle, flags)
            try:
                return fd_install(buf, flags & DRM_CLOEXEC)
            except BaseException:
                buf.put()
                raise
        finally:
            obj.put()


# -- import ----------------------------------------------------------------------------------------
def _import_locked(dev: GemDevice, file: DrmFile, buf: DmaBuf) -> GemObject:
    """The object behind ``buf`` with a new reference (``i915_gem_prime_import``)."""
    obj = buf.object()
    if obj.dev is not dev:
        raise EINVAL("importing another device's dma-buf is not modelled")
    obj.get()
    if obj.dma_buf is None:
        obj.dma_buf = buf.get()
    return obj


def fd_to_handle(dev: GemDevice, file: DrmFile, fd: int, fd_get: Callable[[int], Any],
                 fd_put: Callable[[Any], None]) -> int:
    """DRM_IOCTL_PRIME_FD_TO_HANDLE: a handle in ``file`` for the dma-buf behind ``fd``.

    ``fd_get`` returns the open file with a reference (EBADF for a bad fd), ``fd_put`` drops
    it.  Raises EINVAL when the fd is not a dma-buf.  A dma-buf this file already has a handle
    for gives that handle back.
    """
    f = fd_get(fd)
    try:
        if not isinstance(f, DmaBuf):
            raise EINVAL(f"fd {fd} is not a dma-buf")
        with _prime_lock(file):
            handle = _handle_for(file, f)
            if handle is not None:
                return handle
            with dev.object_name_lock:
                obj = _import_locked(dev, file, f)
            try:
                # drm_gem_handle_create_tail runs under object_name_lock in the kernel;
                # DrmFile.handle_create takes that lock itself.
                handle = file.handle_create(obj)
            finally:
                obj.put()
            file.prime_handles[handle] = f
            if trace.enabled:
                trace.emit("gem", "dmabuf_import", obj=obj.id, handle=handle)
            return handle
    finally:
        fd_put(f)
