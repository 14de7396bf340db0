"""The callback tables a mapped file implements (``file_operations.mmap``, ``vm_operations``).

The mm layer calls up through these protocols, never by importing the layers above: a GEM
object's mmap is a :class:`MappableFile` whose ``mmap(vma)`` sets ``vma.vm_ops`` and flags.

Optional members, called only when present (as the kernel skips NULL members):

* ``VmOperations.open(vma)`` -- a new VMA now maps the file (split, fork, mremap copy);
* ``VmOperations.close(vma)`` -- a VMA stopped mapping it (munmap, exit).  A VMA whose ops
  have ``close`` never merges with a neighbour (``is_mergeable_vma``);
* ``VmOperations.mprotect(vma, prot)`` -- may refuse a protection change (raise EACCES);
* ``VmOperations.remap(vma)`` -- a :class:`Remap` when the bytes of a page of ``vma`` are not
  one frame (a GTT mmap of a tiled object: the fence detiles), else None.  A model device,
  not a kernel member: see :class:`Remap`;
* ``MappableFile.readable`` / ``writable`` (``f_mode``; default True): a shared writable
  mapping of a file not opened for writing fails with EACCES, as in ``do_mmap``;
* ``MappableFile.punch_hole(pgoff, nr_pages)`` -- what ``MADV_REMOVE`` calls (EOPNOTSUPP
  when absent, as ``vfs_fallocate`` without ``f_op->fallocate``).
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from .filemap import FileMapping
    from .vma import Vma

__all__ = ["VmFault", "VmFaultOps", "VmOperations", "MappableFile", "Remap"]


class VmFault(enum.Enum):
    """What a fault handler reports (the ``VM_FAULT_*`` codes the model needs)."""

    NOPAGE = "nopage"    # handled: the handler inserted the ptes itself
    SIGBUS = "sigbus"    # the access cannot be satisfied
    OOM = "oom"          # out of memory
    RETRY = "retry"      # locks were dropped; retry the access


class Remap(Protocol):
    """Where the bytes of a remapped page live: hardware between the CPU and memory that
    moves bytes around (a fence detiling the aperture), which a page table cannot express.

    The PTE still decides *whether* the access may happen (present, writable; faults and
    revocation work as for any PFNMAP page); this says *where* each byte goes.  Called by
    the CPU access path with the page-table lock held and the PTE of ``addr`` present, for
    ``[addr, addr + n)`` inside one page; returns one byte offset into ``phys.flat`` per
    byte, or -1 for a byte backed by nothing (reads as zero, a store is dropped).
    """

    def __call__(self, vma: Vma, addr: int, n: int) -> npt.NDArray[np.int64]: ...


class VmFaultOps(Protocol):
    """The one member every mapped file's ops must have."""

    def fault(self, vma: Vma, addr: int, write: bool) -> VmFault:
        """Resolve a fault at page-aligned ``addr``: insert ptes with ``vma.mm.insert_pfn``
        (VM_PFNMAP) or ``vma.mm.insert_page``, then return NOPAGE.  Runs with
        ``vma.mm.mmap_lock`` held for read; may take driver locks (mmap_lock is above them)."""
        ...


class VmOperations(VmFaultOps, Protocol):
    """A driver's full table (``vm_operations_struct``); see the module doc for ``mprotect``."""

    def open(self, vma: Vma) -> None:
        ...

    def close(self, vma: Vma) -> None:
        ...


class MappableFile(Protocol):
    """An open file that can be mmapped (``f_op->mmap`` plus ``f_mapping``).

    Optionally ``readable`` / ``writable`` (the open mode, ``FMODE_READ`` / ``FMODE_WRITE``):
    ``do_mmap`` refuses any mapping of a file not open for reading, and a writable shared one
    of a file not open for writing, and maps a read-only file's shared mapping without
    VM_MAYWRITE (so mprotect cannot add write later).  A file without them is open O_RDWR.
    """

    mapping: FileMapping

    def mmap(self, vma: Vma) -> None:
        """Set ``vma.vm_ops`` / ``vma.flags`` / ``vma.private``; raise a KernelError to refuse.
        Called with the mmap_lock held for write, before the VMA is visible."""
        ...
