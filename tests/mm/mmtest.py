"""Helpers for the mm tests: a recorder of notifier events and a fake device file that maps
its own frames with VM_PFNMAP (as a GEM mmap does).  Imported as ``mmtest``."""

from __future__ import annotations

from dataclasses import dataclass, field

from softgem.errors import EACCES, EINVAL
from softgem.mm import (
    VM_DONTEXPAND,
    VM_IO,
    VM_MAYWRITE,
    VM_PFNMAP,
    VM_WRITE,
    FileMapping,
    NotifierRange,
    NotifyEvent,
    PhysMem,
    Vma,
    VmFault,
)
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, MAP_SHARED, PROT_READ, PROT_WRITE
from softgem.units import PAGE_SHIFT, PAGE_SIZE

RW = PROT_READ | PROT_WRITE
ANON = MAP_PRIVATE | MAP_ANONYMOUS
SHARED_ANON = MAP_SHARED | MAP_ANONYMOUS
P = PAGE_SIZE


class Recorder:
    """A NotifierSubscriptions that records what the address space announced."""

    def __init__(self) -> None:
        self.log: list[tuple[str, NotifyEvent | None, int, int]] = []
        self.active = 0

    def invalidate_range_start(self, rng: NotifierRange) -> None:
        assert rng.start < rng.end
        self.active += 1
        self.log.append(("start", rng.event, rng.start, rng.end))

    def invalidate_range_end(self, rng: NotifierRange) -> None:
        self.active -= 1
        assert self.active >= 0
        self.log.append(("end", rng.event, rng.start, rng.end))

    def release(self, mm: object) -> None:
        self.log.append(("release", None, 0, 0))

    def starts(self) -> list[tuple[NotifyEvent, int, int]]:
        return [(e, s, t) for kind, e, s, t in self.log if kind == "start" and e is not None]

    def kinds(self) -> list[str]:
        return [kind if e is None else f"{kind}:{e.name}" for kind, e, _, _ in self.log]

    def clear(self) -> None:
        self.log.clear()


@dataclass
class DeviceOps:
    """vm_operations of the fake device: maps frame ``pgoff`` of the device on a fault."""

    dev: DeviceFile
    opened: int = 0
    closed: int = 0
    faults: list[tuple[int, bool]] = field(default_factory=list)

    def open(self, vma: Vma) -> None:
        self.opened += 1

    def close(self, vma: Vma) -> None:
        self.closed += 1

    def fault(self, vma: Vma, addr: int, write: bool) -> VmFault:
        self.faults.append((addr, write))
        if self.dev.broken:
            return VmFault.SIGBUS
        pgoff = vma.pgoff + ((addr - vma.start) >> PAGE_SHIFT)
        if pgoff >= len(self.dev.frames):
            return VmFault.SIGBUS
        vma.mm.insert_pfn(vma, addr, self.dev.frames[pgoff], writable=write)
        return VmFault.NOPAGE

    def mprotect(self, vma: Vma, prot: int) -> None:
        if self.dev.read_only and prot & PROT_WRITE:
            raise EACCES("read-only device")


class DeviceFile:
    """A MappableFile like a GEM mmap: VM_PFNMAP|VM_IO, its own frames, optionally
    read-only."""

    def __init__(self, phys: PhysMem, nr_pages: int, read_only: bool = False) -> None:
        self.phys = phys
        self.mapping = FileMapping("dev")
        self.frames = [phys.alloc_page() for _ in range(nr_pages)]
        self.read_only = read_only
        self.broken = False
        self.ops = DeviceOps(self)

    def mmap(self, vma: Vma) -> None:
        if self.read_only:
            if vma.flags & VM_WRITE:
                raise EINVAL("read-only object mapped writable")
            vma.flags &= ~VM_MAYWRITE
        vma.flags |= VM_PFNMAP | VM_IO | VM_DONTEXPAND
        vma.vm_ops = self.ops

    def free(self) -> None:
        self.phys.put_pages(self.frames)
        self.frames = []
