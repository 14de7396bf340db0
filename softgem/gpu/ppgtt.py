"""A per-process GTT (``struct i915_ppgtt``): a full 48-bit address space of its own.

Every context gets one (or shares one made by VM_CREATE).  Read-only PTEs exist where the
platform has them (gen8-gen10 in the kernel: ``vm.has_read_only``), which is what makes
``I915_USERPTR_READ_ONLY`` objects safe to hand to the GPU: its writes are discarded.
Unused ranges map the scratch page (see :mod:`softgem.gpu.vm`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .vm import AddressSpace

if TYPE_CHECKING:
    from .gpu import Gpu

__all__ = ["Ppgtt"]


class Ppgtt(AddressSpace):
    """``1 << platform.ppgtt_bits`` bytes (256 TiB on gen9 with 4-level tables)."""

    def __init__(self, gpu: Gpu, name: str) -> None:
        plat = gpu.dev.platform
        super().__init__(gpu, name, 1 << plat.ppgtt_bits,
                         has_read_only=plat.has_read_only_ptes)
