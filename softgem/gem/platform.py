"""Platform facts, in one table (design.md: "Platform facts live in one table").

The default is a gen9-class integrated part with LLC (Skylake GT2): full 48-bit PPGTT with
read-only PTE support, a mappable aperture, PAT.  Tests build variants with
``dataclasses.replace(DEFAULT_PLATFORM, has_llc=False, has_snoop=False)`` and so on.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Platform", "DEFAULT_PLATFORM"]


@dataclass(frozen=True, slots=True)
class Platform:
    name: str = "skl-gt2"
    chipset_id: int = 0x1912
    revision: int = 7
    graphics_ver: int = 9
    is_dgfx: bool = False
    has_llc: bool = True
    has_snoop: bool = True
    has_wt: bool = False                 # write-through caching (HAS_WT: eDRAM parts only)
    has_read_only_ptes: bool = True      # vm->has_read_only on the default address space
    has_aperture: bool = True            # GTT mmaps go through the mappable aperture
    pat_enabled: bool = True             # WC and UC CPU mappings
    has_relocations: bool = True
    ppgtt_bits: int = 48
    ggtt_size: int = 4 << 30
    mappable_size: int = 256 << 20
    num_fences: int = 32
    # i915_sg_segment_size() without a bounce-buffer limit: UINT_MAX rounded down to a page.
    max_segment: int = 0xFFFFF000
    # Tiling on gen9: X tiles are 512B x 8 rows, Y tiles 128B x 32 rows, both 4 KiB.
    max_fence_stride: int = 256 * 1024
    eu_total: int = 24
    subslice_total: int = 3
    cs_timestamp_frequency: int = 12_000_000


DEFAULT_PLATFORM = Platform()
