"""The host-mode address space as the core sees it: :class:`HostUserMm` (the ``UserMm``
protocol of softgem.mm over a real process).

* ``copy_from_user`` / ``copy_to_user`` go through ``process_vm_readv/writev`` (EFAULT when
  the target memory is not there); a read that ``process_vm_readv`` refuses in a mapping the
  program may write or execute but not read goes through ``/proc/PID/mem``, as x86's PTEs
  make such pages readable to the kernel's copy.
* gup walks ``/proc/PID/maps`` + smaps VmFlags exactly as the kernel walks VMAs: a hole, a
  VM_PFNMAP or VM_IO mapping, a write pin of a mapping without write permission or a read pin
  of one without read permission stop the pin (EFAULT if it is the first page).
* A pinned page is a frame of the host device's PhysMem (the only memory the GPU model
  addresses), filled from the program's page at pin time.  With a :class:`UserFrames`
  (``softgem run``) the frame is a live view: refreshed before the GPU reads it, the GPU's
  writes written back, a private copy only once the program unmapped it (userframes.py).
* A write pin of a ``PROT_WRITE``-only mapping pins as the kernel's FOLL_WRITE does (it
  needs VM_WRITE only): the first fill reads through ``/proc/PID/mem`` (FOLL_FORCE), since
  ``process_vm_readv`` refuses pages without read permission.
* Notifier events arrive from the supervisor's ``mm_event`` (before the system call runs);
  the backend keeps the range under invalidation until the call is over (syscall_exit.py).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .. import trace
from ..errors import EFAULT, ENODEV, error_for
from ..gem import ShmemFilp
from ..mm import MappableFile, PhysMem
from ..mm.notify import NotifierSubscriptions
from ..sync import RwSem
from ..units import PAGE_SIZE, TASK_SIZE, Pfn
from .devmmap import Mirrors, map_into
from .inject import InjectFailed
from .procmem import HostVma, read_forced, read_mem, vmas_covering, write_mem, write_vec
from .task import TracedMm

if TYPE_CHECKING:
    from .userframes import UserFrames

__all__ = ["HostUserMm", "current"]

_SYS_MADVISE = 28
_MADV_POPULATE_WRITE = 23

# The trapped call each thread is serving (``CoreBackend.ioctl`` sets it): a read of the
# target's memory is followed by SECCOMP_IOCTL_NOTIF_ID_VALID before anything acts on what it
# read, and the first write of a call is preceded by it, so a recycled pid is never touched.
class _Serving(threading.local):
    task: Any = None


current = _Serving()


class HostUserMm:
    """``UserMm`` over one traced address space."""

    def __init__(self, host: TracedMm, phys: PhysMem, mirrors: Mirrors | None = None,
                 frames: UserFrames | None = None) -> None:
        self.host = host
        self.mirrors = mirrors
        self.frames = frames
        self.tgid = host.tgid
        self.phys = phys
        self.name = f"host-{host.tgid}"
        self.mmap_lock = RwSem("mm.mmap_lock")
        self.notifier_subscriptions: NotifierSubscriptions | None = None
        self.exited = False

    def __repr__(self) -> str:
        return f"<HostUserMm {self.name}>"

    # -- user copies (procmem refuses ranges outside user space with EFAULT) -------------------
    def access_ok(self, addr: int, size: int) -> bool:
        return addr >= 0 and size >= 0 and addr + size <= TASK_SIZE

    def copy_from_user(self, addr: int, n: int) -> bytes:
        if n <= 0:
            return b""
        try:
            data = read_mem(self.tgid, addr, n)
        except EFAULT:
            data = self._read_unreadable(addr, n)
        task = current.task
        if task is not None:
            task.check_valid()
        return data

    def _read_unreadable(self, addr: int, n: int) -> bytes:
        """What ``process_vm_readv`` refuses but the kernel's copy_from_user reads: on x86 a
        page the program may only write (or only execute) is readable through its PTE, so
        the copy faults it in and succeeds; only a hole or a PROT_NONE mapping is EFAULT."""
        with self.mmap_lock.read():
            vmas = vmas_covering(self.host.vmas(), addr, addr + n)
        if not vmas or any(v.perms[:3] == "---" for v in vmas):
            raise EFAULT(f"copy_from_user [{addr:#x}, +{n:#x}): no access")
        return read_forced(self.tgid, addr, n)

    def copy_to_user(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        if not len(data):
            return
        task = current.task
        if task is not None and not task.checked:
            task.check_valid()
        write_mem(self.tgid, addr, data)

    def copy_to_user_vec(self, pieces: Sequence[tuple[int, bytes | bytearray | memoryview]]
                         ) -> int:
        """Several copy_to_user in one process_vm_writev (see usercopy.copy_to_user_seq)."""
        task = current.task
        if task is not None and not task.checked:
            task.check_valid()
        return write_vec(self.tgid, pieces)

    # -- legacy GEM_MMAP: vm_mmap of the object's shmem file ---------------------------------
    def mmap(self, addr: int, length: int, prot: int, flags: int,
             file: MappableFile | None = None, pgoff: int = 0) -> int:
        """The calling thread maps the object's mirror itself (devmmap.py); the address."""
        task = current.task
        if not isinstance(file, ShmemFilp) or self.mirrors is None or task is None \
                or task.injector is None:
            raise ENODEV("host mode maps only GEM objects' shmem files, from an ioctl")
        obj = file.obj
        with obj.lock:
            fd = self.mirrors.fd_of(obj)
        got = map_into(task, task.injector, fd, addr, length, prot, flags, pgoff * PAGE_SIZE,
                       gem_mapping=False)
        if got < 0:
            raise error_for(-got, f"GEM_MMAP of {obj!r}")
        if trace.enabled:
            trace.emit("host", "gem_mmap", pid=task.pid, obj=obj.id, addr=got, length=length)
        return got

    # -- gup --------------------------------------------------------------------------------
    def probe_range(self, start: int, length: int) -> None:
        """EFAULT on a hole or a VM_PFNMAP/VM_MIXEDMAP mapping; permissions are not checked."""
        with self.mmap_lock.read():
            vmas = self.host.vmas(with_flags=True)
        for vma in vmas_covering(vmas, start, start + length):
            if vma.pfnmap or vma.mixedmap:
                raise EFAULT(f"probe hit a PFN mapping at {vma.start:#x}")

    def pin_user_pages(self, start: int, nr_pages: int, write: bool) -> list[Pfn]:
        """Pin up to ``nr_pages`` from ``start``: the pages pinned before the first refusal;
        EFAULT when the very first page is refused."""
        with self.mmap_lock.read():
            vmas = self.host.vmas(with_flags=True)
            count = _pinnable_pages(vmas, start, nr_pages, write)
            if count == 0:
                raise EFAULT(f"cannot pin {start:#x}")
            try:
                data = read_mem(self.tgid, start, count * PAGE_SIZE)
            except EFAULT:
                if not write:
                    raise
                data = self._read_write_only(start, count * PAGE_SIZE)
        pfns = self._snapshot(data, count)
        if self.frames is not None:
            self.frames.pinned(self, start, pfns)
        return pfns

    def _read_write_only(self, start: int, length: int) -> bytes:
        """A FOLL_WRITE pin of memory the program may only write: ``/proc/PID/mem`` reads
        present pages; missing pages of a userfaultfd-registered range fault there without
        waiting for the handler, so the calling thread populates them itself first
        (``MADV_POPULATE_WRITE``, which waits for the program's handler as the kernel's gup
        does) and the read is tried again."""
        try:
            return read_forced(self.tgid, start, length)
        except EFAULT:
            task = current.task
            if task is None or task.injector is None:
                raise
        try:
            held = task.injector.held(task.pid)
            if held is None:
                held, _ = task.injector.hold(task.nid, task.pid, task.tgid)
            if held.syscall(_SYS_MADVISE, start, length, _MADV_POPULATE_WRITE) != 0:
                raise EFAULT(f"cannot populate {start:#x}+{length:#x} for writing")
        except InjectFailed as exc:
            raise EFAULT(f"cannot populate {start:#x}: {exc}") from exc
        return read_forced(self.tgid, start, length)

    def _snapshot(self, data: bytes, count: int) -> list[Pfn]:
        phys = self.phys
        pfns: list[Pfn] = []
        try:
            for i in range(count):
                pfn = phys.alloc_page()
                pfns.append(pfn)
                phys.write(pfn, 0, data[i * PAGE_SIZE:(i + 1) * PAGE_SIZE])
                phys.pin_page(pfn)
                phys.put_page(pfn)  # the pin holds the frame now
        except BaseException:
            for pfn in pfns:
                if phys.page_maybe_dma_pinned(pfn):
                    phys.unpin_page(pfn)
                else:
                    phys.put_page(pfn)
            raise
        return pfns


def _pinnable_pages(vmas: list[HostVma], start: int, nr_pages: int, write: bool) -> int:
    """How many pages from ``start`` the kernel's gup walk would accept."""
    addr, end = start, start + nr_pages * PAGE_SIZE
    for vma in vmas:
        if vma.end <= addr:
            continue
        if vma.start > addr or vma.pfnmap or vma.io:
            break
        if (write and not vma.writable) or (not write and not vma.readable):
            break
        addr = min(vma.end, end)
        if addr >= end:
            break
    return (addr - start) // PAGE_SIZE
