"""i915 ioctls that belong to the GPU (contexts, execbuf, VMs, perf) or to the display.

Contexts, VMs, execbuf and perf are the GPU issue's: until ``softgem.gpu`` exists they give
ENODEV with a detail saying so (:func:`gpu_not_modelled`), *after* the dispatcher's copy-in and
permission checks, so EFAULT/EACCES behave as they will later.  Two of them are answered now
because their result does not depend on GPU state: REG_READ (the one whitelisted register, the
render ring's timestamp, reads 0 on an idle GPU that has never run) and GET_RESET_STATS for the
default context 0 (no resets have ever happened).

Display ioctls answer as i915 does on a display-less device: no CRTC (ENOENT), no overlay
(ENODEV), no sprite plane (ENOENT after the flag checks).  GEM_PIN/UNPIN are refused with
ENODEV by every modern kernel; THROTTLE has no requests to wait for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import EINVAL, ENODEV, ENOENT, KernelError
from . import i915 as I

if TYPE_CHECKING:
    from .table import IoctlContext

__all__ = [
    "context_create", "context_destroy", "context_getparam", "context_setparam",
    "execbuffer2", "get_pipe_from_crtc_id", "get_reset_stats", "gpu_not_modelled",
    "no_overlay", "perf", "reg_read", "reject_pin", "set_sprite_colorkey", "throttle",
    "vm_create", "vm_destroy", "GPU_STUBS",
]

_RENDER_RING_TIMESTAMP = 0x2000 + 0x358   # RING_TIMESTAMP(RENDER_RING_BASE), 8 bytes


def gpu_not_modelled(what: str) -> KernelError:
    return ENODEV(f"{what}: the GPU (contexts, VMs, execbuf, perf) is not modelled yet")


def execbuffer2(ctx: IoctlContext, data: Any) -> int:
    raise gpu_not_modelled("EXECBUFFER2")


def context_create(ctx: IoctlContext, data: Any) -> int:
    raise gpu_not_modelled("CONTEXT_CREATE")


def context_destroy(ctx: IoctlContext, data: Any) -> int:
    raise gpu_not_modelled("CONTEXT_DESTROY")


def context_getparam(ctx: IoctlContext, data: Any) -> int:
    raise gpu_not_modelled("CONTEXT_GETPARAM")


def context_setparam(ctx: IoctlContext, data: Any) -> int:
    raise gpu_not_modelled("CONTEXT_SETPARAM")


def vm_create(ctx: IoctlContext, data: Any) -> int:
    raise gpu_not_modelled("VM_CREATE")


def vm_destroy(ctx: IoctlContext, data: Any) -> int:
    raise gpu_not_modelled("VM_DESTROY")


def perf(ctx: IoctlContext, data: Any) -> int:
    raise gpu_not_modelled("PERF")


#: The handlers that still wait for the GPU issue (reported by tests and the final report).
GPU_STUBS = (execbuffer2, context_create, context_destroy, context_getparam,
             context_setparam, vm_create, vm_destroy, perf)


def reject_pin(ctx: IoctlContext, data: Any) -> int:
    raise ENODEV("GEM_PIN/UNPIN are rejected since the GTT is managed by the kernel")


def throttle(ctx: IoctlContext, data: Any) -> int:
    """Wait for this file's requests older than 20 ms: there are none without a GPU."""
    return 0


def reg_read(ctx: IoctlContext, reg: I.drm_i915_reg_read) -> int:
    if reg.offset & ~7 != _RENDER_RING_TIMESTAMP:
        raise EINVAL(f"register {reg.offset:#x} is not whitelisted")
    if reg.offset & 7 not in (0, I.I915_REG_READ_8B_WA):
        raise EINVAL(f"register read flags {reg.offset & 7:#x}")
    reg.val = 0
    return 0


def get_reset_stats(ctx: IoctlContext, rs: I.drm_i915_reset_stats) -> int:
    if rs.flags or rs.pad:
        raise EINVAL("reset stats flags/pad must be 0")
    if rs.ctx_id != 0:
        raise ENOENT(f"context {rs.ctx_id}")
    rs.reset_count = 0      # root sees the global count
    rs.batch_active = 0
    rs.batch_pending = 0
    return 0


def get_pipe_from_crtc_id(ctx: IoctlContext, data: Any) -> int:
    raise ENOENT("no CRTC on a display-less device")


def no_overlay(ctx: IoctlContext, data: Any) -> int:
    raise ENODEV("no overlay on gen9")


def set_sprite_colorkey(ctx: IoctlContext, ck: I.drm_intel_sprite_colorkey) -> int:
    both = I.I915_SET_COLORKEY_DESTINATION | I.I915_SET_COLORKEY_SOURCE
    ck.flags &= ~I.I915_SET_COLORKEY_NONE & 0xFFFFFFFF
    if ck.flags & ~both:
        raise EINVAL(f"colorkey flags {ck.flags:#x}")
    if ck.flags & both == both:
        raise EINVAL("source and destination colorkey at once")
    raise ENOENT(f"no sprite plane {ck.plane_id} on a display-less device")
