"""softgem.gem (L2): GEM objects, their backing kinds (shmem, userptr), handles, mmap offsets.

Functions here take plain arguments and raise :class:`~softgem.errors.KernelError`; the uAPI
layer above decodes the ioctl structs.
"""

from __future__ import annotations

from .device import GemDevice, GemStatistics, GpuHooks
from .faults import FaultPoints
from .file import DrmFile
from .master import MasterState
from .object import GemObject
from .ops import BackingOps, ObjectFlags
from .pages import Segment, SgTable
from .platform import DEFAULT_PLATFORM, Platform
from .resv import Reservation, Usage

__all__ = [
    "DEFAULT_PLATFORM",
    "BackingOps",
    "DrmFile",
    "FaultPoints",
    "GemDevice",
    "GemObject",
    "GemStatistics",
    "GpuHooks",
    "MasterState",
    "ObjectFlags",
    "Platform",
    "Reservation",
    "Segment",
    "SgTable",
    "Usage",
]
