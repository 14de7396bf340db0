"""I915_GETPARAM: every parameter ``i915_getparam_ioctl`` (v6.8) answers, for a gen9 LLC part.

Values come from the platform table where it has them (chipset id, revision, fences, LLC, EU
and subslice counts, timestamp frequency); the rest are the facts of a Skylake GT2 running
execlists without GuC, each named below.  The answer is written with ``put_user`` to the
``int __user *value`` the argument carries: an unwritable pointer gives EFAULT *after* the
parameter was recognised, so an unknown parameter is EINVAL even with a bad pointer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ..abi import i915 as I
from ..errors import EINVAL, ENODEV, EOPNOTSUPP

if TYPE_CHECKING:
    from ..abi import drm_i915_getparam
    from ..gem import Platform
    from .context import IoctlContext

__all__ = ["I915_PARAM_OA_TIMESTAMP_FREQUENCY", "I915_PARAM_PXP_STATUS", "KNOWN_PARAMS",
           "getparam", "param_value"]

# Newer than the libdrm header softgem.uapi is checked against (v6.3 and v6.7 additions).
I915_PARAM_OA_TIMESTAMP_FREQUENCY = 57
I915_PARAM_PXP_STATUS = 58

# The old UMS/DRI1 parameters the kernel rejects outright.
_UMS_ONLY = frozenset({I.I915_PARAM_IRQ_ACTIVE, I.I915_PARAM_ALLOW_BATCHBUFFER,
                       I.I915_PARAM_LAST_DISPATCH, I.I915_PARAM_HAS_EXEC_CONSTANTS})

# "For the time being all of these are always true" in i915_getparam.c.
_ALWAYS_TRUE = frozenset({
    I.I915_PARAM_MMAP_VERSION, I.I915_PARAM_HAS_GEM, I.I915_PARAM_HAS_PAGEFLIPPING,
    I.I915_PARAM_HAS_EXECBUF2, I.I915_PARAM_HAS_RELAXED_FENCING,
    I.I915_PARAM_HAS_COHERENT_RINGS, I.I915_PARAM_HAS_RELAXED_DELTA,
    I.I915_PARAM_HAS_GEN7_SOL_RESET, I.I915_PARAM_HAS_WAIT_TIMEOUT,
    I.I915_PARAM_HAS_PRIME_VMAP_FLUSH, I.I915_PARAM_HAS_PINNED_BATCHES,
    I.I915_PARAM_HAS_EXEC_NO_RELOC, I.I915_PARAM_HAS_EXEC_HANDLE_LUT,
    I.I915_PARAM_HAS_COHERENT_PHYS_GTT, I.I915_PARAM_HAS_EXEC_SOFTPIN,
    I.I915_PARAM_HAS_EXEC_ASYNC, I.I915_PARAM_HAS_EXEC_FENCE, I.I915_PARAM_HAS_EXEC_CAPTURE,
    I.I915_PARAM_HAS_EXEC_BATCH_FIRST, I.I915_PARAM_HAS_EXEC_FENCE_ARRAY,
    I.I915_PARAM_HAS_EXEC_SUBMIT_FENCE, I.I915_PARAM_HAS_EXEC_TIMELINE_FENCES,
    I.I915_PARAM_HAS_USERPTR_PROBE,
})

# Execlists on gen9: priorities, preemption, semaphores and busy stats on every engine.
_SCHEDULER_CAPS = (I.I915_SCHEDULER_CAP_ENABLED | I.I915_SCHEDULER_CAP_PRIORITY
                   | I.I915_SCHEDULER_CAP_PREEMPTION | I.I915_SCHEDULER_CAP_SEMAPHORES
                   | I.I915_SCHEDULER_CAP_ENGINE_BUSY_STATS)
# uabi classes with a recorded default context image: render, copy, video, video-enhance.
_ISOLATED_CLASSES = 0b1111
_CMD_PARSER_VERSION = 10   # gen9 parses the copy engine's batches ("ppgtt based BLIT parser")
_PERF_REVISION = 7
_MMAP_GTT_VERSION = 4


def _nonzero(value: int, what: str) -> int:
    if not value:
        raise ENODEV(f"{what} unknown on this platform")
    return value


def _huc_status(p: Platform) -> int:
    raise EOPNOTSUPP("HuC firmware loading is disabled on gen9 (enable_guc=0)")


def _pxp_status(p: Platform) -> int:
    raise ENODEV("no PXP on gen9")


_Answer = Callable[["Platform"], int]

_ANSWERS: dict[int, _Answer] = {
    I.I915_PARAM_CHIPSET_ID: lambda p: p.chipset_id,
    I.I915_PARAM_REVISION: lambda p: p.revision,
    I.I915_PARAM_NUM_FENCES_AVAIL: lambda p: p.num_fences,
    I.I915_PARAM_HAS_OVERLAY: lambda p: 0,
    I.I915_PARAM_HAS_BSD: lambda p: 1,             # vcs0
    I.I915_PARAM_HAS_BLT: lambda p: 1,             # bcs0
    I.I915_PARAM_HAS_VEBOX: lambda p: 1,           # vecs0
    I.I915_PARAM_HAS_BSD2: lambda p: 0,            # GT2 has a single video engine
    I.I915_PARAM_HAS_LLC: lambda p: int(p.has_llc),
    I.I915_PARAM_HAS_WT: lambda p: 0,              # no eDRAM on GT2
    I.I915_PARAM_HAS_ALIASING_PPGTT: lambda p: I.I915_GEM_PPGTT_FULL,
    I.I915_PARAM_HAS_SEMAPHORES: lambda p: 1,
    # HAS_SECURE_BATCHES(i915) is GRAPHICS_VER < 6 (and CAP_SYS_ADMIN): 0 on gen9, which
    # is also why execbuf refuses I915_EXEC_SECURE with EPERM there.
    I.I915_PARAM_HAS_SECURE_BATCHES: lambda p: int(p.graphics_ver < 6),
    I.I915_PARAM_CMD_PARSER_VERSION: lambda p: _CMD_PARSER_VERSION,
    I.I915_PARAM_SUBSLICE_TOTAL: lambda p: _nonzero(p.subslice_total, "subslice total"),
    I.I915_PARAM_EU_TOTAL: lambda p: _nonzero(p.eu_total, "EU total"),
    I.I915_PARAM_HAS_GPU_RESET: lambda p: 2,       # full GPU reset and per-engine reset
    I.I915_PARAM_HAS_RESOURCE_STREAMER: lambda p: 0,
    I.I915_PARAM_HAS_POOLED_EU: lambda p: 0,       # Broxton only
    I.I915_PARAM_MIN_EU_IN_POOL: lambda p: 0,
    I.I915_PARAM_HUC_STATUS: _huc_status,
    I915_PARAM_PXP_STATUS: _pxp_status,
    I.I915_PARAM_MMAP_GTT_VERSION: lambda p: _MMAP_GTT_VERSION,
    I.I915_PARAM_HAS_SCHEDULER: lambda p: _SCHEDULER_CAPS,
    I.I915_PARAM_HAS_CONTEXT_ISOLATION: lambda p: _ISOLATED_CLASSES,
    I.I915_PARAM_SLICE_MASK: lambda p: 0b1,
    I.I915_PARAM_SUBSLICE_MASK: lambda p: _nonzero((1 << p.subslice_total) - 1,
                                                   "subslice mask"),
    I.I915_PARAM_CS_TIMESTAMP_FREQUENCY: lambda p: p.cs_timestamp_frequency,
    I.I915_PARAM_MMAP_GTT_COHERENT: lambda p: 1,   # big-core gen9 has a coherent GGTT
    I.I915_PARAM_PERF_REVISION: lambda p: _PERF_REVISION,
    I915_PARAM_OA_TIMESTAMP_FREQUENCY: lambda p: p.cs_timestamp_frequency,
}

#: Every parameter number the kernel recognises (whatever it answers for it).
KNOWN_PARAMS = frozenset(_ANSWERS) | _UMS_ONLY | _ALWAYS_TRUE


def param_value(platform: Platform, param: int) -> int:
    """The value GETPARAM reports for ``param`` (raises its errno when it has none)."""
    if param in _UMS_ONLY:
        raise ENODEV(f"UMS parameter {param}")
    if param in _ALWAYS_TRUE:
        return 1
    answer = _ANSWERS.get(param)
    if answer is None:
        raise EINVAL(f"unknown parameter {param}")
    return answer(platform)


def getparam(ctx: IoctlContext, gp: drm_i915_getparam) -> int:
    # The kernel's last step is ``if (put_user(value, param->value)) return -EFAULT;``.
    ctx.put_user_last(gp.value, (param_value(ctx.dev.platform, gp.param)
                                 & 0xFFFFFFFF).to_bytes(4, "little"))
    return 0
