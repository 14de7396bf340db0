"""mmap, munmap and brk (``mm/mmap.c``), with Linux's argument checks in Linux's order.

Placement is x86-64's top-down allocator: a new mapping goes in the highest free gap below
``mm.mmap_base`` (randomised per mm), a free hint address is honoured, and when the space
below the base is full the search falls back to bottom-up above it.  Addresses below
``MMAP_MIN_ADDR`` (65536, the usual distro ``vm.mmap_min_addr``) are refused with EPERM for
MAP_FIXED, as for an unprivileged process.

``do_mmap`` ladder (first failure wins): no file and not MAP_ANONYMOUS -> EBADF; length 0 ->
EINVAL; page-aligned length overflows -> ENOMEM; pgoff overflows -> EOVERFLOW; too many
mappings -> ENOMEM; no room / fixed range beyond TASK_SIZE -> ENOMEM; fixed address not
page aligned -> EINVAL; fixed address below mmap_min_addr -> EPERM; MAP_FIXED_NOREPLACE over
a mapping -> EEXIST; bad map type -> EINVAL; then the file's own checks (EOPNOTSUPP for
unknown MAP_SHARED_VALIDATE flags, EACCES for modes the file was not opened with) and
``file.mmap(vma)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import EACCES, EBADF, EEXIST, EINVAL, ENOMEM, EOPNOTSUPP, EOVERFLOW, EPERM
from ..posix import (
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_FIXED_NOREPLACE,
    MAP_GROWSDOWN,
    MAP_LOCKED,
    MAP_NORESERVE,
    MAP_POPULATE,
    MAP_PRIVATE,
    MAP_SHARED,
    MAP_SHARED_VALIDATE,
    MAP_TYPE,
    PROT_EXEC,
    PROT_READ,
    PROT_WRITE,
)
from ..units import PAGE_MASK, PAGE_SHIFT, PAGE_SIZE, TASK_SIZE, page_align
from .events import ULONG_MAX
from .shmem import shmem_zero_setup
from .vma import (
    VM_ACCOUNT,
    VM_EXEC,
    VM_GROWSDOWN,
    VM_LOCKED,
    VM_MAYEXEC,
    VM_MAYREAD,
    VM_MAYSHARE,
    VM_MAYWRITE,
    VM_NORESERVE,
    VM_READ,
    VM_SHARED,
    VM_WRITE,
    Vma,
)
from .vmaops import MAX_MAP_COUNT, insert_vma, new_anon_or_merge
from .zap import do_munmap

if TYPE_CHECKING:
    from .mm import Mm
    from .vmops import MappableFile

__all__ = ["do_mmap", "sys_munmap", "get_unmapped_area", "do_brk", "MMAP_MIN_ADDR",
           "calc_vm_prot_bits", "VM_DATA_DEFAULT"]

MMAP_MIN_ADDR = 0x10000
MAP_HUGETLB = 0x40000
MAP_NONBLOCK = 0x10000
# Flags every file accepts under MAP_SHARED_VALIDATE (LEGACY_MAP_MASK).  MAP_FIXED_NOREPLACE
# is deliberately absent, as in the kernel.
LEGACY_MAP_MASK = (MAP_SHARED | MAP_PRIVATE | MAP_FIXED | MAP_ANONYMOUS | 0x0800 | 0x1000
                   | 0x4000000 | MAP_GROWSDOWN | MAP_LOCKED | MAP_NORESERVE | MAP_POPULATE
                   | MAP_NONBLOCK | 0x20000 | MAP_HUGETLB)
VM_DATA_DEFAULT = VM_READ | VM_WRITE | VM_MAYREAD | VM_MAYWRITE | VM_MAYEXEC


def calc_vm_prot_bits(prot: int) -> int:
    return ((VM_READ if prot & PROT_READ else 0) | (VM_WRITE if prot & PROT_WRITE else 0)
            | (VM_EXEC if prot & PROT_EXEC else 0))


def do_mmap(mm: Mm, addr: int, length: int, prot: int, flags: int,
            file: MappableFile | None, pgoff: int) -> int:
    if flags & MAP_ANONYMOUS:
        file = None
    elif file is None:
        raise EBADF("mmap of no file without MAP_ANONYMOUS")
    if flags & MAP_HUGETLB:
        if file is not None:
            raise EINVAL("MAP_HUGETLB with a file")
        raise ENOMEM("no huge pages reserved (vm.nr_hugepages = 0)")
    with mm.mmap_lock.write():
        addr, vm_flags = _do_mmap_locked(mm, addr, length, prot, flags, file, pgoff)
    if vm_flags & VM_LOCKED or flags & (MAP_POPULATE | MAP_NONBLOCK) == MAP_POPULATE:
        from .fault import populate
        populate(mm, addr, addr + page_align(length))
    return addr


def _do_mmap_locked(mm: Mm, addr: int, length: int, prot: int, flags: int,
                    file: MappableFile | None, pgoff: int) -> tuple[int, int]:
    if length == 0:
        raise EINVAL("length 0")
    if flags & MAP_FIXED_NOREPLACE:
        flags |= MAP_FIXED
    if not flags & MAP_FIXED:
        addr = _round_hint_to_min(addr)
    if length > ULONG_MAX - PAGE_SIZE + 1:
        raise ENOMEM("length overflows")
    length = page_align(length)
    if pgoff + (length >> PAGE_SHIFT) > ULONG_MAX:
        raise EOVERFLOW("pgoff + length overflows")
    if len(mm.tree) > MAX_MAP_COUNT:
        raise ENOMEM("vm.max_map_count reached")
    addr = get_unmapped_area(mm, addr, length, flags)
    if flags & MAP_FIXED_NOREPLACE and mm.tree.intersects(addr, addr + length):
        raise EEXIST(f"MAP_FIXED_NOREPLACE over a mapping at {addr:#x}")
    vm_flags = (calc_vm_prot_bits(prot) | (VM_GROWSDOWN if flags & MAP_GROWSDOWN else 0)
                | (VM_LOCKED if flags & MAP_LOCKED else 0) | VM_MAYREAD | VM_MAYWRITE
                | VM_MAYEXEC)
    if file is not None:
        vm_flags = _file_map_type(file, prot, flags, vm_flags)
    else:
        mtype = flags & MAP_TYPE
        if mtype == MAP_SHARED:
            if vm_flags & VM_GROWSDOWN:
                raise EINVAL("MAP_GROWSDOWN with MAP_SHARED")
            pgoff = 0
            vm_flags |= VM_SHARED | VM_MAYSHARE
        elif mtype == MAP_PRIVATE:
            pgoff = addr >> PAGE_SHIFT
        else:
            raise EINVAL(f"bad map type {mtype:#x}")
    if flags & MAP_NORESERVE:
        vm_flags |= VM_NORESERVE
    if vm_flags & (VM_NORESERVE | VM_SHARED | VM_WRITE) == VM_WRITE:
        vm_flags |= VM_ACCOUNT
    mmap_region(mm, file, addr, length, vm_flags, pgoff)
    return addr, vm_flags


def _file_map_type(file: MappableFile, prot: int, flags: int, vm_flags: int) -> int:
    writable = getattr(file, "writable", True)
    mtype = flags & MAP_TYPE
    if mtype in (MAP_SHARED, MAP_SHARED_VALIDATE):
        if mtype == MAP_SHARED:
            flags &= LEGACY_MAP_MASK
        supported = getattr(file, "mmap_supported_flags", 0)
        if flags & ~(LEGACY_MAP_MASK | supported):
            raise EOPNOTSUPP("flag not supported by this file under MAP_SHARED_VALIDATE")
        if prot & PROT_WRITE and not writable:
            raise EACCES("shared writable mapping of a file not open for writing")
        vm_flags |= VM_SHARED | VM_MAYSHARE
        if not writable:
            vm_flags &= ~(VM_MAYWRITE | VM_SHARED)
    elif mtype != MAP_PRIVATE:
        raise EINVAL(f"bad map type {mtype:#x}")
    if not getattr(file, "readable", True):
        raise EACCES("mapping of a file not open for reading")
    if vm_flags & VM_GROWSDOWN:
        raise EINVAL("MAP_GROWSDOWN with a file")
    return vm_flags


def _round_hint_to_min(hint: int) -> int:
    hint &= PAGE_MASK
    if hint and hint < MMAP_MIN_ADDR:
        return MMAP_MIN_ADDR
    return hint


def get_unmapped_area(mm: Mm, addr: int, length: int, flags: int) -> int:
    """Where a mapping of ``length`` bytes goes (``__get_unmapped_area``)."""
    if length > TASK_SIZE:
        raise ENOMEM("longer than the address space")
    if not flags & MAP_FIXED:
        addr = _top_down(mm, addr, length)
    if addr > TASK_SIZE - length:
        raise ENOMEM(f"[{addr:#x}, +{length:#x}) beyond TASK_SIZE")
    if addr & ~PAGE_MASK:
        raise EINVAL(f"address {addr:#x} not page aligned")
    if addr < MMAP_MIN_ADDR:
        raise EPERM(f"address {addr:#x} below vm.mmap_min_addr")
    return addr


def _top_down(mm: Mm, hint: int, length: int) -> int:
    if hint:
        hint = page_align(hint)
        if (TASK_SIZE - length >= hint and hint >= MMAP_MIN_ADDR
                and mm.tree.is_free(hint, hint + length)):
            return hint
    found = mm.tree.gap_top_down(length, MMAP_MIN_ADDR, mm.mmap_base)
    if found is None:
        found = mm.tree.gap_bottom_up(length, mm.mmap_base, TASK_SIZE)
    if found is None:
        raise ENOMEM("no free range large enough")
    return found


def mmap_region(mm: Mm, file: MappableFile | None, addr: int, length: int, vm_flags: int,
                pgoff: int) -> Vma:
    end = addr + length
    if mm.tree.intersects(addr, end):
        do_munmap(mm, addr, end)
    if file is None and not vm_flags & VM_SHARED:
        return new_anon_or_merge(mm, addr, end, vm_flags, pgoff)
    vma = Vma(mm, addr, end, vm_flags, pgoff, file)
    if file is not None:
        file.mmap(vma)
    else:
        shmem_zero_setup(mm, vma)
    insert_vma(mm, vma)
    return vma


def sys_munmap(mm: Mm, start: int, length: int) -> None:
    if start & ~PAGE_MASK or start > TASK_SIZE or length > TASK_SIZE - start:
        raise EINVAL(f"munmap({start:#x}, {length:#x})")
    end = start + page_align(length)
    if end == start:
        raise EINVAL("munmap of length 0")
    with mm.mmap_lock.write():
        do_munmap(mm, start, end)


def do_brk(mm: Mm, brk: int) -> int:
    """``sys_brk``: never fails with an errno; answers the break now in force."""
    with mm.mmap_lock.write():
        if brk < mm.start_brk:
            return mm.cur_brk
        newbrk, oldbrk = page_align(brk), page_align(mm.cur_brk)
        if newbrk == oldbrk:
            mm.cur_brk = brk
            return brk
        if brk <= mm.cur_brk:
            try:
                do_munmap(mm, newbrk, oldbrk)
            except ENOMEM:
                return mm.cur_brk
            mm.cur_brk = brk
            return brk
        nxt = mm.tree.find(oldbrk)
        if newbrk > TASK_SIZE or (nxt is not None and newbrk + PAGE_SIZE > nxt.start):
            return mm.cur_brk
        heap = mm.tree.lookup(oldbrk - 1) if oldbrk > mm.start_brk else None
        flags = VM_DATA_DEFAULT | VM_ACCOUNT
        if heap is not None and heap.flags == flags and heap.is_anonymous():
            mm.tree.occupy(oldbrk, newbrk)
            heap.end = newbrk
        else:
            insert_vma(mm, Vma(mm, oldbrk, newbrk, flags, oldbrk >> PAGE_SHIFT))
        mm.cur_brk = brk
        return brk
