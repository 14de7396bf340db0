"""``struct vm_area_struct``: one contiguous range of an address space with one set of rights.

Flag values are the kernel's (``include/linux/mm.h``) so traces read like the kernel's.  They
are plain ints, not an ``IntFlag``: ``vma.flags & VM_WRITE`` runs on every access.

A Vma is changed only with its mm's ``mmap_lock`` held for write (fields ``start``, ``end``,
``flags``, ``pgoff``, ``anon_vma``); fault paths read them under ``mmap_lock`` for read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..units import PAGE_SHIFT

if TYPE_CHECKING:
    from .mm import Mm
    from .vmops import MappableFile, VmFaultOps

__all__ = [
    "Vma", "AnonVma",
    "VM_NONE", "VM_READ", "VM_WRITE", "VM_EXEC", "VM_SHARED", "VM_MAYREAD", "VM_MAYWRITE",
    "VM_MAYEXEC", "VM_MAYSHARE", "VM_GROWSDOWN", "VM_PFNMAP", "VM_LOCKED", "VM_IO",
    "VM_SEQ_READ", "VM_RAND_READ", "VM_DONTCOPY", "VM_DONTEXPAND", "VM_ACCOUNT",
    "VM_NORESERVE", "VM_WIPEONFORK", "VM_DONTDUMP", "VM_SOFTDIRTY", "VM_MIXEDMAP",
    "VM_HUGEPAGE", "VM_NOHUGEPAGE", "VM_MERGEABLE", "VM_SPECIAL", "VM_ACCESS_FLAGS",
    "is_cow_mapping",
]

VM_NONE = 0x0
VM_READ = 0x1
VM_WRITE = 0x2
VM_EXEC = 0x4
VM_SHARED = 0x8
VM_MAYREAD = 0x10
VM_MAYWRITE = 0x20
VM_MAYEXEC = 0x40
VM_MAYSHARE = 0x80
VM_GROWSDOWN = 0x100
VM_PFNMAP = 0x400
VM_LOCKED = 0x2000
VM_IO = 0x4000
VM_SEQ_READ = 0x8000
VM_RAND_READ = 0x10000
VM_DONTCOPY = 0x20000
VM_DONTEXPAND = 0x40000
VM_ACCOUNT = 0x100000
VM_NORESERVE = 0x200000
VM_WIPEONFORK = 0x2000000
VM_DONTDUMP = 0x4000000
VM_SOFTDIRTY = 0x8000000
VM_MIXEDMAP = 0x10000000
VM_HUGEPAGE = 0x20000000
VM_NOHUGEPAGE = 0x40000000
VM_MERGEABLE = 0x80000000

VM_SPECIAL = VM_IO | VM_DONTEXPAND | VM_PFNMAP | VM_MIXEDMAP
VM_ACCESS_FLAGS = VM_READ | VM_WRITE | VM_EXEC


def is_cow_mapping(flags: int) -> bool:
    """Private and potentially writable: writes must copy (``is_cow_mapping``)."""
    return flags & (VM_SHARED | VM_MAYWRITE) == VM_MAYWRITE


class AnonVma:
    """Identity token of a set of anonymous pages (``struct anon_vma``).

    Only its identity matters: two private VMAs with different anon_vmas never merge, and a
    VMA with one has anonymous pages that fork must copy.
    """

    __slots__ = ()


class Vma:
    """One mapping.  ``[start, end)`` is page aligned; ``pgoff`` is in pages.

    ``file`` is the mapped object (a device file, or the shmem object behind a shared
    anonymous mapping); ``vm_ops`` its fault handler table (``None`` for private anonymous
    memory); ``private`` belongs to whoever set ``vm_ops``.
    """

    __slots__ = ("anon_vma", "end", "file", "flags", "mm", "pgoff", "private", "start",
                 "vm_ops")

    def __init__(self, mm: Mm, start: int, end: int, flags: int, pgoff: int = 0,
                 file: MappableFile | None = None) -> None:
        self.mm = mm
        self.start = start
        self.end = end
        self.flags = flags
        self.pgoff = pgoff
        self.file = file
        self.vm_ops: VmFaultOps | None = None
        self.private: Any = None
        self.anon_vma: AnonVma | None = None

    @property
    def nr_pages(self) -> int:
        return (self.end - self.start) >> PAGE_SHIFT

    def is_anonymous(self) -> bool:
        """No file and no ops: private anonymous memory (``vma_is_anonymous``)."""
        return self.file is None and self.vm_ops is None

    def pgoff_of(self, addr: int) -> int:
        """File page offset that ``addr`` (inside the vma) maps."""
        return self.pgoff + ((addr - self.start) >> PAGE_SHIFT)

    def contains(self, addr: int) -> bool:
        return self.start <= addr < self.end

    def __repr__(self) -> str:
        return (f"Vma({self.start:#x}-{self.end:#x} flags={self.flags:#x} pgoff={self.pgoff:#x}"
                f"{' file' if self.file is not None else ''})")
