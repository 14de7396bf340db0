"""softgem.gpu exports its public names from its front door."""

from __future__ import annotations

import softgem.gpu as gpu

EXPECTED = {
    "AddressSpace", "Context", "DrmMM", "DrmMMNode", "Ggtt", "Gpu", "GpuFile", "GpuStatistics", "GpuVma",
    "Ppgtt", "attach", "context_create", "context_destroy", "context_getparam",
    "context_setparam", "lookup_context", "vm_create", "vm_destroy", "get_reset_stats",
    "PIN_USER", "PIN_OFFSET_FIXED", "SCRATCH",
}


def test_every_exported_name_exists_once() -> None:
    assert len(gpu.__all__) == len(set(gpu.__all__))
    assert all(hasattr(gpu, name) for name in gpu.__all__)


def test_the_address_space_binding_and_context_interfaces_are_exported() -> None:
    assert set(gpu.__all__) >= EXPECTED
