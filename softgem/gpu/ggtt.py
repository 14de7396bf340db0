"""The global GTT (``struct i915_ggtt``): one per GPU, with the CPU-visible aperture.

The first ``mappable_end`` bytes (``platform.mappable_size``) are the mappable aperture: a pin
with PIN_MAPPABLE is kept below it.  The GGTT has no read-only PTEs on gen9 (only Valleyview's
GGTT had them), so a read-only object bound here is writable by the GPU, as in the kernel.

GTT mmaps keep using ``softgem.gem.aperture.GgttAperture`` for now: that model decides when
user GTT mappings are revoked (views, fence registers, LRU) and needs no GPU addresses.  The
two are deliberately separate: binding a vma here does not take aperture space there.  Merging
them means moving the fault path's views into this space and is left for a later issue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .vm import AddressSpace

if TYPE_CHECKING:
    from .gpu import Gpu

__all__ = ["Ggtt"]


class Ggtt(AddressSpace):
    """The global GTT: ``platform.ggtt_size`` bytes, the mappable part at the bottom."""

    def __init__(self, gpu: Gpu) -> None:
        plat = gpu.dev.platform
        super().__init__(gpu, "ggtt", plat.ggtt_size, has_read_only=False, is_ggtt=True)
        self.mappable_end = plat.mappable_size
