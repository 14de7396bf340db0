"""i915 ioctls that belong to the GPU (contexts, VMs, execbuf, reset stats) or the display.

Each GPU handler decodes its struct into plain values, calls the ``softgem.gpu`` function
that implements the ioctl body (which raises the kernel's errnos in the kernel's order) and
writes the results back into the struct.  The device's GPU is attached on first use
(``softgem.gpu.attach`` is idempotent), so a device the machine made before the GPU existed
still gets one.  Every simulated process is root, so the ``privileged`` paths (raising a
context's priority, making it unbannable, reading the global reset count) are open.

EXECBUFFER2 and EXECBUFFER2_WR share one table row, as in the kernel: the handler cannot
tell them apart and does not need to -- the dispatcher copies ``rsvd2`` (the out-fence fd) and
the cleared flags back only for the _WR request, whose direction includes ``_IOC_READ``.

Still answered without a GPU model: PERF (ENODEV: no OA unit is modelled), REG_READ (the one
whitelisted register, the render ring's timestamp: the core's clock in 12 MHz ticks, 36 bits),
THROTTLE (returns at once).
Display ioctls answer as i915 does on a display-less device: no CRTC (ENOENT), no overlay
(ENODEV), no sprite plane (ENOENT after the flag checks).  GEM_PIN/UNPIN are refused with
ENODEV by every modern kernel.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..abi import i915 as I
from ..errors import EINVAL, ENODEV, ENOENT, KernelError
from ..gpu import ExecArgs, attach, execbuffer2_ioctl
from ..gpu import file_priv as contexts
from ..sync import clock

if TYPE_CHECKING:
    from ..gpu import Gpu
    from .context import IoctlContext

__all__ = [
    "context_create", "context_destroy", "context_getparam", "context_setparam",
    "execbuffer2", "get_pipe_from_crtc_id", "get_reset_stats", "gpu_not_modelled",
    "no_overlay", "perf", "reg_read", "reject_pin", "set_sprite_colorkey", "throttle",
    "vm_create", "vm_destroy", "GPU_STUBS",
]

_RENDER_RING_TIMESTAMP = 0x2000 + 0x358   # RING_TIMESTAMP(RENDER_RING_BASE), 8 bytes
_TIMESTAMP_MASK = (1 << 36) - 1
_PRIVILEGED = True                        # every simulated process is root


def gpu_not_modelled(what: str) -> KernelError:
    return ENODEV(f"{what}: not modelled (no OA unit)")


def _gpu(ctx: IoctlContext) -> Gpu:
    return attach(ctx.dev)


# -- execbuf -------------------------------------------------------------------------------
_EB_FIELDS = ("buffers_ptr", "buffer_count", "batch_start_offset", "batch_len", "DR1", "DR4",
              "num_cliprects", "cliprects_ptr", "flags", "rsvd1", "rsvd2")


def execbuffer2(ctx: IoctlContext, eb: I.drm_i915_gem_execbuffer2) -> int:
    """EXECBUFFER2(_WR): ``flags``, ``DR4`` and ``rsvd2`` go back whatever the outcome (the
    kernel edits its copy of the struct in place, and the dispatcher copies it out)."""
    args = ExecArgs(**{name: int(getattr(eb, name)) for name in _EB_FIELDS})
    try:
        execbuffer2_ioctl(_gpu(ctx), ctx.file, ctx.task, args)
    finally:
        eb.flags, eb.DR4, eb.rsvd2 = args.flags, args.DR4, args.rsvd2
    return 0


# -- contexts --------------------------------------------------------------------------------
def context_create(ctx: IoctlContext, args: I.drm_i915_gem_context_create_ext) -> int:
    args.ctx_id = contexts.context_create(_gpu(ctx), ctx.file, args.flags, args.extensions,
                                          mm=ctx.mm, privileged=_PRIVILEGED)
    return 0


def context_destroy(ctx: IoctlContext, args: I.drm_i915_gem_context_destroy) -> int:
    contexts.context_destroy(_gpu(ctx), ctx.file, args.ctx_id, args.pad)
    return 0


def context_getparam(ctx: IoctlContext, args: I.drm_i915_gem_context_param) -> int:
    args.size, args.value = contexts.context_getparam(_gpu(ctx), ctx.file, args.ctx_id,
                                                      args.param, args.size, args.value,
                                                      mm=ctx.mm)
    return 0


def context_setparam(ctx: IoctlContext, args: I.drm_i915_gem_context_param) -> int:
    contexts.context_setparam(_gpu(ctx), ctx.file, args.ctx_id, args.param, args.size,
                              args.value, mm=ctx.mm, privileged=_PRIVILEGED)
    return 0


def vm_create(ctx: IoctlContext, args: I.drm_i915_gem_vm_control) -> int:
    args.vm_id = contexts.vm_create(_gpu(ctx), ctx.file, args.flags, args.extensions)
    return 0


def vm_destroy(ctx: IoctlContext, args: I.drm_i915_gem_vm_control) -> int:
    contexts.vm_destroy(_gpu(ctx), ctx.file, args.vm_id, args.flags, args.extensions)
    return 0


def get_reset_stats(ctx: IoctlContext, rs: I.drm_i915_reset_stats) -> int:
    rs.reset_count, rs.batch_active, rs.batch_pending = contexts.get_reset_stats(
        _gpu(ctx), ctx.file, rs.ctx_id, rs.flags, rs.pad, privileged=_PRIVILEGED)
    return 0


def perf(ctx: IoctlContext, data: Any) -> int:
    raise gpu_not_modelled("PERF")


#: The handlers that still answer ENODEV (reported by tests and the final report).
GPU_STUBS = (perf,)


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
    # The render ring's free-running 36-bit counter at the CS timestamp frequency, on the
    # core's clock (virtual when explored).  The batches' own timestamp registers count
    # their commands instead (gpu/mi_math.py): the two are not one counter in the model.
    ticks = clock.monotonic_ns() * ctx.dev.platform.cs_timestamp_frequency // 1_000_000_000
    reg.val = ticks & _TIMESTAMP_MASK
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
