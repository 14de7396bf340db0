"""Relocations: patching GPU addresses into objects once every object has its place.

An exec object with ``relocation_count`` points (``relocs_ptr``) at an array of
``struct drm_i915_gem_relocation_entry {u32 target_handle; u32 delta; u64 offset;
u64 presumed_offset; u32 read_domains; u32 write_domain}`` (32 bytes) in user memory.  For
each entry, in order (``eb_relocate_entry``), first failure wins:

===  ====================================================================  ======
#    condition                                                             errno
===  ====================================================================  ======
1    ``target_handle`` names no object of this execbuf (a LUT index out of  ENOENT
     range with HANDLE_LUT)
2    more than one write domain                                            EINVAL
3    a read or write domain outside the GPU domains                        EINVAL
--   a write domain marks the target EXEC_OBJECT_WRITE
--   ``presumed_offset`` already equals the target's (canonical) address:   skip
     nothing is written
4    ``offset`` past ``size - 8`` (gen8+ relocations are 64-bit)           EINVAL
5    ``offset`` not 4-byte aligned                                         EINVAL
--   write ``target + (s32)delta`` (canonical, two dwords) at ``offset``
     through the object's pages; the target's address is what goes back
     into the user's ``presumed_offset`` (a fault there is ignored)
===  ====================================================================  ======

User memory and object locks never meet, as in the kernel's slow path: the arrays are copied
in (:func:`read_relocs`) before execbuf takes the object locks, the entries are applied
under them (:func:`apply_relocs`, which touches only object pages), and the new presumed
offsets are stored back (:func:`write_presumed`) after the locks are dropped -- so arrays
that live in a GEM mmap or in a userptr's own pages (IGT's ``relocations`` subtest) fault
normally.  When an entry is refused, the kernel's slow path has copied every array and marked
all their ``presumed_offset`` fields invalid (``-1``) before failing the same way;
:func:`invalidate_presumed` reproduces that.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from .. import trace
from ..errors import EINVAL, ENOENT, KernelError, SimBug
from ..units import PAGE_SHIFT, PAGE_SIZE
from .execbuf_args import EXEC_OBJECT_WRITE, UserMemory, canonical
from .execbuf_copy import KVMALLOC_MAX, RawArray, check_relocations, copy_in, kvmalloc_array

if TYPE_CHECKING:
    from ..gem import GemObject

__all__ = ["GPU_DOMAINS", "RELOC_ENTRY_SIZE", "Presumed", "RelocEntry", "RelocTarget",
           "apply_relocs", "invalidate_presumed", "read_relocs", "write_presumed"]

# I915_GEM_DOMAIN_RENDER | SAMPLER | COMMAND | INSTRUCTION | VERTEX
GPU_DOMAINS = 0x02 | 0x04 | 0x08 | 0x10 | 0x20

_ENTRY = struct.Struct("<IIQQII")
RELOC_ENTRY_SIZE = _ENTRY.size
_PRESUMED_FIELD = 16              # offsetof(struct drm_i915_gem_relocation_entry, presumed)
_U64 = (1 << 64) - 1

#: ``(index of the entry, presumed offset to store)`` for one array.
Presumed = list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class RelocEntry:
    target_handle: int
    delta: int
    offset: int
    presumed_offset: int
    read_domains: int
    write_domain: int


class RelocTarget(Protocol):
    """An object of the execbuf as relocations see it: where it is, and its exec flags."""

    flags: int

    @property
    def gpu_start(self) -> int: ...


def read_relocs(mm: UserMemory, ptr: int, count: int) -> RawArray[RelocEntry]:
    """The ``count`` entries at ``ptr``, as the slow path copies them: EINVAL for a count
    past ``N_RELOC(ULONG_MAX)``; past what ``kvmalloc_array(size, 1)`` gives (INT_MAX bytes)
    EFAULT from ``check_relocations`` (access_ok, then one byte a page) or else ENOMEM; then
    the bytes in bounded chunks (EFAULT at the first bad one); entries are decoded as they
    are applied."""
    if count > _U64 // RELOC_ENTRY_SIZE:
        raise EINVAL(f"{count} relocations")
    size = count * RELOC_ENTRY_SIZE
    if size > KVMALLOC_MAX:
        # The walk decides between EFAULT and ENOMEM; below the limit the chunked copy
        # itself fails at the first bad page (same errno, no extra read per page).
        check_relocations(mm, ptr, size)
        kvmalloc_array(size, 1, "relocation array")
    return RawArray(copy_in(mm, ptr, size), _ENTRY, RelocEntry)


def _check_domains(r: RelocEntry) -> None:
    if r.write_domain & (r.write_domain - 1):
        raise EINVAL(f"relocation with several write domains {r.write_domain:#x}")
    if (r.write_domain | r.read_domains) & ~GPU_DOMAINS:
        raise EINVAL(f"relocation with non-GPU domains read {r.read_domains:#x} "
                     f"write {r.write_domain:#x}")


def _write_qword(obj: GemObject, offset: int, value: int) -> None:
    """Store ``value`` as two little-endian dwords at ``offset`` of ``obj``'s pages."""
    pages = obj.pages
    if pages is None:
        raise SimBug(f"{obj!r}: relocation into an object without pages")
    phys = obj.dev.phys
    for k, dword in ((0, value & 0xFFFFFFFF), (4, value >> 32)):
        at = offset + k
        phys.write(pages.page(at >> PAGE_SHIFT), at & (PAGE_SIZE - 1),
                   dword.to_bytes(4, "little"))
    obj.dirty = True


def apply_relocs(obj: GemObject, size: int, relocs: Sequence[RelocEntry],
                 lookup: Callable[[int], RelocTarget | None]) -> Presumed:
    """Apply ``relocs`` to ``obj`` (``size`` bytes in its vma, bound and locked); returns the
    presumed offsets to store back.  Raises the first refused entry's errno (module table).
    """
    updates: Presumed = []
    for i, r in enumerate(relocs):
        target = lookup(r.target_handle)
        if target is None:
            raise ENOENT(f"relocation target {r.target_handle}")
        _check_domains(r)
        if r.write_domain:
            target.flags |= EXEC_OBJECT_WRITE
        address = canonical(target.gpu_start)
        if address == r.presumed_offset:
            continue
        if r.offset > size - 8:
            raise EINVAL(f"relocation at {r.offset:#x} beyond the object ({size:#x})")
        if r.offset & 3:
            raise EINVAL(f"relocation at {r.offset:#x} not 4-byte aligned")
        delta = r.delta - (1 << 32) if r.delta & 0x80000000 else r.delta
        _write_qword(obj, r.offset, canonical(target.gpu_start + delta))
        updates.append((i, address))
    if updates and trace.enabled:
        trace.emit("gpu", "relocate", obj=obj.id, entries=len(relocs), written=len(updates))
    return updates


def write_presumed(mm: UserMemory, ptr: int, updates: Presumed) -> None:
    """Store the new presumed offsets into the user's array; a fault loses only the hint
    (the array was readable; the kernel ignores this write's failure too)."""
    for i, address in updates:
        try:
            mm.copy_to_user(ptr + i * RELOC_ENTRY_SIZE + _PRESUMED_FIELD,
                            address.to_bytes(8, "little"))
        except KernelError:
            pass


def invalidate_presumed(mm: UserMemory, arrays: list[tuple[int, int]]) -> None:
    """The slow path's copy: every ``presumed_offset`` of every ``(ptr, count)`` array set
    to -1, so the next execbuf relocates everything.  EFAULT if one cannot be written."""
    invalid = _U64.to_bytes(8, "little")
    for ptr, count in arrays:
        for i in range(count):
            mm.copy_to_user(ptr + i * RELOC_ENTRY_SIZE + _PRESUMED_FIELD, invalid)
