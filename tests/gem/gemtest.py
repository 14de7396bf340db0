"""Helpers for the GEM tests: one device, one DRM file and one address space, with mmap
shortcuts and a leak check.  Imported as ``gemtest`` (the ``gem_env`` fixture is in conftest)."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

from softgem.gem.create import gem_create
from softgem.gem.device import GemDevice
from softgem.gem.file import DrmFile
from softgem.gem.mman import DrmMappable, mmap_offset
from softgem.gem.platform import DEFAULT_PLATFORM
from softgem.mm import Mm, PhysMem
from softgem.posix import MAP_SHARED, PROT_READ, PROT_WRITE
from softgem.units import PAGE_SHIFT

__all__ = ["GemEnv"]


class GemEnv:
    """One device, one open file and one address space, with mmap shortcuts."""

    def __init__(self, nr_frames: int = 8192, mmap_design: str = "merged",
                 **platform: Any) -> None:
        self.phys = PhysMem(nr_frames, rng=random.Random(5))
        plat = dataclasses.replace(DEFAULT_PLATFORM, **platform)
        self.dev = GemDevice(self.phys, rng=random.Random(6), platform=plat,
                             mmap_design=mmap_design)
        self.file: DrmFile = self.dev.open(0)
        self.mm = Mm(self.phys, name="gem-test", rng=random.Random(7))
        self.mms = [self.mm]

    def create(self, size: int, file: DrmFile | None = None) -> int:
        handle, _ = gem_create(self.dev, file or self.file, size)
        return handle

    def offset(self, handle: int, mmap_type: int, file: DrmFile | None = None) -> int:
        return mmap_offset(self.dev, file or self.file, handle, mmap_type)

    def map(self, offset: int, length: int, prot: int = PROT_READ | PROT_WRITE,
            file: DrmFile | None = None, mm: Mm | None = None) -> int:
        """mmap(2) of the DRM fd at ``offset``."""
        return (mm or self.mm).mmap(0, length, prot, MAP_SHARED,
                                    file=DrmMappable(self.dev, file or self.file),
                                    pgoff=offset >> PAGE_SHIFT)

    def map_new(self, handle: int, mmap_type: int, length: int,
                prot: int = PROT_READ | PROT_WRITE) -> int:
        return self.map(self.offset(handle, mmap_type), length, prot)

    def teardown(self) -> None:
        for mm in self.mms:
            mm.exit_mmap()
        for f in list(self.dev.files):
            f.release()
        counters = self.dev.counters()
        assert counters["objects"] == 0, counters
        assert counters["offset_nodes"] == 0, counters
        assert self.phys.nr_pinned() == 0
        assert self.phys.nr_used() == 0
