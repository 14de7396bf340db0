"""The i915 device: object accounting, global flink names, the mmap offset space, GPU hooks.

One ``GemDevice`` per machine (``drm_device`` + ``drm_i915_private``).  It knows nothing of
ioctl structs; the uAPI layer decodes arguments and calls the functions of this package.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Protocol

from ..errors import ENOENT
from ..mm import FileMapping, PhysMem
from ..sync import Mutex, SpinLock
from .faults import FaultPoints
from .platform import DEFAULT_PLATFORM, Platform

if TYPE_CHECKING:
    from .designs import UserptrDesign
    from .file import DrmFile
    from .mman_legacy import ShmemFilp
    from .mmap_designs import MmapDesign
    from .object import GemObject

__all__ = ["GemDevice", "GemStatistics", "GpuHooks", "StoreMirror"]


class StoreMirror(Protocol):
    """Who else maps the frames of shmem stores (host mode shares them with programs)."""

    def store_freed(self, obj: GemObject, truncated: bool) -> None:
        """``obj``'s store frames are about to be freed (``truncated``: the object was
        purged, so later CPU accesses of its mappings must fault with SIGBUS)."""


class GpuHooks(Protocol):
    """What the GPU layer (L3) plugs into the device once it exists."""

    def unbind_object(self, obj: GemObject, wait: bool) -> None:
        """Unbind ``obj`` from every address space, waiting for its GPU work if ``wait``."""

    def close_object(self, obj: GemObject, file: DrmFile) -> None:
        """A handle of ``file`` closed: drop that file's contexts' bindings of ``obj``."""

    def nr_bindings(self) -> int: ...

    def file_release(self, file: DrmFile) -> None:
        """The drm file is going away: destroy its contexts and VMs."""

    def ggtt_pinned_size(self) -> int:
        """Bytes of the GGTT pinned (GET_APERTURE subtracts them)."""


@dataclass(frozen=True, slots=True)
class GemStatistics:
    """What a device holds now (a snapshot; everything but ``files`` is a leak counter)."""

    objects: int
    handles: int
    offset_nodes: int
    gpu_bindings: int
    files: int


class GemDevice:
    def __init__(self, phys: PhysMem, *, rng: random.Random | None = None,
                 platform: Platform | None = None, userptr_design: str = "v6.8",
                 mmap_design: str = "merged") -> None:
        from .aperture import GgttAperture
        from .designs import make_design
        from .master import MasterState
        from .mmap_designs import make_mmap_design
        from .offsets import OffsetManager
        from .shrinker import ShrinkLists

        self.phys = phys
        self.rng = rng or random.Random(0)
        self.platform = platform or DEFAULT_PLATFORM
        self.gpu: GpuHooks | None = None
        self.store_mirror: StoreMirror | None = None
        # The address space every GEM mmap shares (dev->anon_inode->i_mapping).
        self.mapping = FileMapping("i915.gem")
        self.offsets = OffsetManager()
        self.object_name_lock = Mutex("drm.object_name_lock")
        self._names: dict[int, GemObject] = {}
        self._count_lock = SpinLock("gem.device_counters")
        self._next_id = 1
        self.nr_objects = 0
        self.files: list[DrmFile] = []
        # The userptr design (softgem.gem.designs): the one seam the core calls userptr through.
        self.userptr_design: UserptrDesign = make_design(userptr_design)
        # The mmap_offset design (softgem.gem.mmap_designs), the same kind of seam.
        self.mmap_design: MmapDesign = make_mmap_design(mmap_design)
        self.faults = FaultPoints()
        # Per-device state of other modules, here so that a dropped device frees it all.
        self.aperture = GgttAperture(self)
        self.shrink_lists = ShrinkLists()
        self.master_state = MasterState()
        self.shmem_filps: dict[int, ShmemFilp] = {}   # legacy GEM_MMAP files (mman_legacy)
        self.shmem_filps_lock = SpinLock("gem.shmem_filps")

    # -- files -------------------------------------------------------------------------------
    def open(self, minor: int) -> DrmFile:
        from .file import DrmFile

        f = DrmFile(self, minor)
        with self._count_lock:
            self.files.append(f)
        return f

    def file_released(self, f: DrmFile) -> None:
        with self._count_lock:
            self.files.remove(f)

    # -- objects -----------------------------------------------------------------------------
    def next_object_id(self) -> int:
        with self._count_lock:
            n = self._next_id
            self._next_id += 1
            return n

    def object_created(self, obj: GemObject) -> None:
        with self._count_lock:
            self.nr_objects += 1

    def object_freed(self, obj: GemObject) -> None:
        with self._count_lock:
            self.nr_objects -= 1

    # -- flink names (caller holds object_name_lock) --------------------------------------------
    def name_alloc(self, obj: GemObject) -> int:
        name = 1
        while name in self._names:
            name += 1
        self._names[name] = obj
        obj.name = name
        return name

    def name_remove(self, obj: GemObject) -> None:
        if obj.name:
            self._names.pop(obj.name, None)
            obj.name = 0

    def name_lookup(self, name: int) -> GemObject:
        obj = self._names.get(name)
        if obj is None:
            raise ENOENT(f"flink name {name}")
        return obj

    # -- mmap offsets (implemented in mman.py) ---------------------------------------------
    def release_mmap_offsets(self, obj: GemObject) -> None:
        from .mman import free_mmap_offsets

        free_mmap_offsets(obj)

    def release_mmap_cpu(self, obj: GemObject) -> None:
        from .mman import release_mmap_offset

        release_mmap_offset(obj)

    def release_mmap_gtt(self, obj: GemObject) -> None:
        from .mman import release_mmap_gtt

        release_mmap_gtt(obj)

    def revoke_mmap_offsets(self, obj: GemObject, file: DrmFile) -> None:
        from .mman import revoke_mmap_offsets

        revoke_mmap_offsets(obj, file)

    # -- accounting --------------------------------------------------------------------------
    def statistics(self) -> GemStatistics:
        with self._count_lock:
            files = list(self.files)
        return GemStatistics(
            objects=self.nr_objects,
            handles=sum(f.nr_handles() for f in files),
            offset_nodes=self.offsets.nr_nodes(),
            gpu_bindings=self.gpu.nr_bindings() if self.gpu is not None else 0,
            files=len(files),
        )

    def counters(self) -> dict[str, int]:
        """:meth:`statistics` as a dict (host mode's leak report)."""
        return asdict(self.statistics())
