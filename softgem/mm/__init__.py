"""softgem.mm (L0): physical frames, address spaces, VMAs, page tables, faults, fork, gup.

The simulated memory system with Linux semantics.  Upper layers see an address space
through :class:`UserMm` (``usermm.py``); drivers map their objects into one through
:class:`MappableFile` / :class:`VmOperations` (``vmops.py``) and revoke mappings through
:class:`FileMapping` (``filemap.py``); every change to page tables is announced through
:mod:`softgem.mm.notify`, which the notifier layer implements.
"""

from __future__ import annotations

from .filemap import FileMapping
from .gup import get_user_pages_fast_only, pin_user_pages, probe_range, unpin_user_pages
from .mm import Mm
from .notify import (
    HasNotifierSubscriptions,
    NotifierRange,
    NotifierSubscriptions,
    NotifyEvent,
    invalidate_range_end,
    invalidate_range_start,
)
from .phys import PhysMem
from .shmem import ShmemFile
from .usermm import UserMm
from .vma import (
    VM_ACCESS_FLAGS,
    VM_ACCOUNT,
    VM_DONTCOPY,
    VM_DONTDUMP,
    VM_DONTEXPAND,
    VM_EXEC,
    VM_GROWSDOWN,
    VM_HUGEPAGE,
    VM_IO,
    VM_LOCKED,
    VM_MAYEXEC,
    VM_MAYREAD,
    VM_MAYSHARE,
    VM_MAYWRITE,
    VM_MERGEABLE,
    VM_MIXEDMAP,
    VM_NOHUGEPAGE,
    VM_NONE,
    VM_NORESERVE,
    VM_PFNMAP,
    VM_RAND_READ,
    VM_READ,
    VM_SEQ_READ,
    VM_SHARED,
    VM_SOFTDIRTY,
    VM_SPECIAL,
    VM_WIPEONFORK,
    VM_WRITE,
    AnonVma,
    Vma,
    is_cow_mapping,
)
from .vmops import MappableFile, VmFault, VmFaultOps, VmOperations

__all__ = [
    "invalidate_range_end",
    "invalidate_range_start",
    "AnonVma", "FileMapping", "HasNotifierSubscriptions", "MappableFile", "Mm",
    "NotifierRange", "NotifierSubscriptions", "NotifyEvent", "PhysMem", "ShmemFile",
    "UserMm", "Vma", "VmFault", "VmFaultOps", "VmOperations", "is_cow_mapping",
    "get_user_pages_fast_only", "pin_user_pages", "probe_range", "unpin_user_pages",
    "VM_ACCESS_FLAGS", "VM_ACCOUNT", "VM_DONTCOPY", "VM_DONTDUMP", "VM_DONTEXPAND",
    "VM_EXEC", "VM_GROWSDOWN", "VM_HUGEPAGE", "VM_IO", "VM_LOCKED", "VM_MAYEXEC",
    "VM_MAYREAD", "VM_MAYSHARE", "VM_MAYWRITE", "VM_MERGEABLE", "VM_MIXEDMAP",
    "VM_NOHUGEPAGE", "VM_NONE", "VM_NORESERVE", "VM_PFNMAP", "VM_RAND_READ", "VM_READ",
    "VM_SEQ_READ", "VM_SHARED", "VM_SOFTDIRTY", "VM_SPECIAL", "VM_WIPEONFORK", "VM_WRITE",
]
