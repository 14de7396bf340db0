"""CPU mappings of GEM objects in host mode: a program's own page tables over the model's frames.

Every shmem object that a program maps gets a *mirror*: a memfd of the object's size (its shmem
file, as ``obj->base.filp`` is in the kernel) whose pages are mapped, ``MAP_SHARED|MAP_FIXED``,
over the PhysMem rows that hold the object's store.  The program maps the same memfd, so its
loads and stores, the model's pread/pwrite and the software GPU all touch the same physical
pages: coherent with no copy and no trap (the ``host-mmap`` figure is the program's own speed).

==========================  ==================================================================
kernel behaviour            host mode
==========================  ==================================================================
mmap(fd, MMAP_OFFSET)       the checks of ``i915_gem_mmap`` (EINVAL no node / length past it,
                            EACCES not open to this file) run in the core; then the thread
                            maps the memfd itself (inject.py) and marks it VM_DONTDUMP
                            (``i915_gem_mmap`` sets it too), which is how gup here tells a
                            GEM mapping (a userptr over it fails with EFAULT) from legacy
GEM_MMAP                    the same memfd, without the mark: gup may pin through it
mapping outlives GEM_CLOSE  the program's mapping holds the memfd; after the object is freed
and close(fd)               the pages live on in it, unconnected to any object
put_pages / shrink          the store keeps its frames (shmem.py), so revoke + refault of the
                            kernel changes nothing visible; nothing to do
purge (DONTNEED + shrink)   the memfd is truncated to 0: the next access is SIGBUS, as the
                            kernel's fault of a purged object is
GTT of a tiled object       a linear view (the kernel detiles through a fence): host mode
                            cannot run a fault handler per access, see docs/host-mmap.md
==========================  ==================================================================

Objects other than shmem (userptr never mmaps; imported dma-bufs of this device are their
shmem object) would need another mirror: ENODEV.  Creating a mirror instantiates the whole
store (the kernel's first fault pins every page of the object too); a store larger than the
model's RAM fails the mmap with ENOMEM where the kernel would fail the first fault.
"""

from __future__ import annotations

import ctypes
import mmap as _mmap
import os
from dataclasses import dataclass, field

from .. import trace
from ..errors import ENODEV, ENOMEM, KernelError, error_for
from ..gem import GemObject, is_shmem
from ..mm import PhysMem
from ..posix import MAP_FIXED
from ..units import PAGE_SHIFT, PAGE_SIZE
from .inject import InjectFailed, Injector
from .task import HostTask

__all__ = ["MIRROR_NAME", "Mirror", "Mirrors", "map_into"]

#: memfd name prefix of mirrors; ``/proc/PID/maps`` shows "/memfd:softgem-gem#N (deleted)"
MIRROR_NAME = "softgem-gem"      # procmem.GEM_MAP_PATH depends on it

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long]
_MAP_FAILED = ctypes.c_void_p(-1).value
_RW = _mmap.PROT_READ | _mmap.PROT_WRITE
_SYS_MMAP, _SYS_CLOSE, _SYS_MADVISE = 9, 3, 28
_MADV_DONTDUMP = 16


def _map_fixed(addr: int, length: int, flags: int, fd: int, offset: int) -> None:
    got = _libc.mmap(addr, length, _RW, flags | MAP_FIXED, fd, offset)
    if got == _MAP_FAILED or got != addr:
        raise error_for(ctypes.get_errno() or 12, f"mapping a mirror at {addr:#x}")


@dataclass
class Mirror:
    """The memfd of one object and the runs of rows it is mapped over: (row, pgoff, count)."""

    obj_id: int
    fd: int
    size: int
    runs: list[tuple[int, int, int]] = field(default_factory=list)


class Mirrors:
    """The device's :class:`~softgem.gem.StoreMirror`: every live mirror, by object."""

    def __init__(self, phys: PhysMem) -> None:
        self.phys = phys
        self._by_obj: dict[GemObject, Mirror] = {}

    def __len__(self) -> int:
        return len(self._by_obj)

    def fd_of(self, obj: GemObject) -> int:
        """The memfd backing ``obj`` for CPU mappings (created on first use); the caller
        holds ``obj.lock``.  Raises ENODEV (no shmem store), ENOMEM (store over RAM)."""
        found = self._by_obj.get(obj)
        if found is not None:
            return found.fd
        if not is_shmem(obj):
            raise ENODEV(f"{obj!r}: host mode maps shmem objects only")
        fd = os.memfd_create(f"{MIRROR_NAME}#{obj.id}", os.MFD_CLOEXEC)
        mirror = Mirror(obj.id, fd, obj.size)
        try:
            os.ftruncate(fd, obj.size)
            try:
                pages = obj.pin_pages_locked()
            except KernelError as err:
                if err.errno == ENOMEM.errno:
                    raise
                # Purgeable or purged: a mapping of no pages, every access is SIGBUS.
                os.ftruncate(fd, 0)
                return fd
            try:
                self._share(mirror, [self.phys.index(p) for p in pages.pfns.tolist()])
            finally:
                obj.unpin_pages_locked()
        except BaseException:
            self._unshare(mirror)
            os.close(fd)
            raise
        self._by_obj[obj] = mirror
        if trace.enabled:
            trace.emit("host", "mirror", obj=obj.id, size=obj.size, runs=len(mirror.runs))
        return fd

    def _share(self, mirror: Mirror, rows: list[int]) -> None:
        """Copy the store into the memfd, then map the memfd over the rows, run by run."""
        flat, start = self.phys.flat, 0
        while start < len(rows):
            end = start + 1
            while end < len(rows) and rows[end] == rows[end - 1] + 1:
                end += 1
            row, count = rows[start], end - start
            os.pwrite(mirror.fd, flat[row * PAGE_SIZE:(row + count) * PAGE_SIZE],
                      start << PAGE_SHIFT)
            _map_fixed(self.phys.row_address(row), count * PAGE_SIZE, _mmap.MAP_SHARED,
                       mirror.fd, start << PAGE_SHIFT)
            mirror.runs.append((row, start, count))
            start = end

    def _unshare(self, mirror: Mirror) -> None:
        for row, _pgoff, count in mirror.runs:
            _map_fixed(self.phys.row_address(row), count * PAGE_SIZE,
                       _mmap.MAP_PRIVATE | _mmap.MAP_ANONYMOUS, -1, 0)
        mirror.runs.clear()

    def store_freed(self, obj: GemObject, truncated: bool) -> None:
        """The store's frames go back to PhysMem: they stop being the memfd's pages first."""
        mirror = self._by_obj.pop(obj, None)
        if mirror is None:
            return
        self._unshare(mirror)
        if truncated:
            os.ftruncate(mirror.fd, 0)          # the program's next access: SIGBUS
        os.close(mirror.fd)
        if trace.enabled:
            trace.emit("host", "revoke", obj=obj.id,
                       why="purged: later accesses SIGBUS" if truncated else "freed")

    def close(self) -> None:
        for obj in list(self._by_obj):
            self.store_freed(obj, truncated=False)


def map_into(task: HostTask, injector: Injector, fd: int, addr: int, length: int, prot: int,
             flags: int, offset: int, *, gem_mapping: bool) -> int:
    """Make ``task``'s thread map ``fd`` (see inject.py); the address or ``-errno``.

    The thread stays held (its trapped call unanswered) until the supervisor completes the
    call with :meth:`Injector.release`.  ``gem_mapping`` marks the new mapping VM_DONTDUMP.
    """
    held = injector.held(task.pid)
    try:
        if held is None:
            held, theirs = injector.hold(task.nid, task.pid, task.tgid, give=fd)
        else:
            raise InjectFailed("one mapping per held call")
        got = held.syscall(_SYS_MMAP, addr, length, prot, flags, theirs, offset)
        if got >= 0 and gem_mapping:
            held.syscall(_SYS_MADVISE, got, length, _MADV_DONTDUMP)
        held.syscall(_SYS_CLOSE, theirs)
    except InjectFailed as exc:
        raise ENODEV(f"cannot map in thread {task.pid}: {exc}") from exc
    return got
