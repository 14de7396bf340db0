"""softgem.gem (L2): GEM objects, their backing kinds (shmem, userptr), handles, mmap offsets.

Functions here take plain arguments and raise :class:`~softgem.errors.KernelError`; the uAPI
layer above decodes the ioctl structs.
"""

from __future__ import annotations

from .designs import UserptrDesign, design_names, make_design
from .designs.v6_8 import V6_8
from .device import GemDevice, GemStatistics, GpuHooks, StoreMirror
from .faults import FaultPoints
from .file import RENDER_MINOR_BASE, DrmFile
from .master import MasterState
from .mman import DrmMappable, MmapOffset, gem_mmap_lookup, revoke_all_gtt_mmaps
from .mman_legacy import ShmemFilp
from .mmap_designs import MmapDesign, make_mmap_design, mmap_design_names
from .object import GemObject
from .ops import BackingOps, ObjectFlags
from .pages import Segment, SgTable
from .platform import DEFAULT_PLATFORM, Platform
from .prime import DmaBuf
from .resv import Reservation, Usage
from .shmem import is_shmem, shmem_create
from .tiling import tiled_offsets
from .userptr import UserptrState, is_userptr, submit_done, submit_init, userptr_create

__all__ = [
    "DEFAULT_PLATFORM",
    "RENDER_MINOR_BASE",
    "BackingOps",
    "DrmFile",
    "DmaBuf",
    "DrmMappable",
    "FaultPoints",
    "GemDevice",
    "GemObject",
    "GemStatistics",
    "GpuHooks",
    "MmapDesign",
    "MmapOffset",
    "MasterState",
    "ObjectFlags",
    "Platform",
    "Reservation",
    "Segment",
    "SgTable",
    "ShmemFilp",
    "StoreMirror",
    "Usage",
    "UserptrDesign",
    "UserptrState",
    "V6_8",
    "design_names",
    "make_design",
    "make_mmap_design",
    "mmap_design_names",
    "gem_mmap_lookup",
    "is_shmem",
    "is_userptr",
    "revoke_all_gtt_mmaps",
    "shmem_create",
    "submit_done",
    "submit_init",
    "tiled_offsets",
    "userptr_create",
]
