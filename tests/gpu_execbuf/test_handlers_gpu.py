"""The GPU ioctls reach the GPU: contexts, VMs and reset stats through the real table."""

from __future__ import annotations

import errno

import pytest
from gpuscene import Gem

from softgem import uapi
from softgem.uapi import handlers_gpu


def raw(gem: Gem, request: int, arg: object) -> int:
    try:
        gem.proc.ioctl(gem.fd, request, arg)
    except OSError as err:
        return -(err.errno or 0)
    return 0


def test_only_perf_is_still_a_stub() -> None:
    assert (handlers_gpu.perf,) == handlers_gpu.GPU_STUBS


def test_contexts_are_created_queried_and_destroyed(gem: Gem) -> None:
    old = uapi.drm_i915_gem_context_create()                  # the 8-byte legacy form
    assert raw(gem, uapi.DRM_IOCTL_I915_GEM_CONTEXT_CREATE, old) == 0
    ext = uapi.drm_i915_gem_context_create_ext()
    assert raw(gem, uapi.DRM_IOCTL_I915_GEM_CONTEXT_CREATE_EXT, ext) == 0
    assert (old.ctx_id, ext.ctx_id) == (1, 2)
    param = uapi.drm_i915_gem_context_param(ctx_id=2, param=uapi.I915_CONTEXT_PARAM_GTT_SIZE)
    assert raw(gem, uapi.DRM_IOCTL_I915_GEM_CONTEXT_GETPARAM, param) == 0
    assert (param.size, param.value) == (0, 1 << 48)
    prio = uapi.drm_i915_gem_context_param(ctx_id=2, param=uapi.I915_CONTEXT_PARAM_PRIORITY,
                                           value=5)
    assert raw(gem, uapi.DRM_IOCTL_I915_GEM_CONTEXT_SETPARAM, prio) == 0    # root may
    for ctx_id in (1, 2):
        assert raw(gem, uapi.DRM_IOCTL_I915_GEM_CONTEXT_DESTROY,
                   uapi.drm_i915_gem_context_destroy(ctx_id=ctx_id)) == 0


@pytest.mark.parametrize("ctx_id, pad, expected", [(0, 0, errno.ENOENT), (9, 0, errno.ENOENT),
                                                   (1, 1, errno.EINVAL)])
def test_context_destroy_ladder(gem: Gem, ctx_id: int, pad: int, expected: int) -> None:
    assert raw(gem, uapi.DRM_IOCTL_I915_GEM_CONTEXT_DESTROY,
               uapi.drm_i915_gem_context_destroy(ctx_id=ctx_id, pad=pad)) == -expected


def test_create_flags_outside_the_known_ones_are_einval(gem: Gem) -> None:
    ext = uapi.drm_i915_gem_context_create_ext(flags=1 << 5)
    assert raw(gem, uapi.DRM_IOCTL_I915_GEM_CONTEXT_CREATE_EXT, ext) == -errno.EINVAL


def test_vms_are_created_and_destroyed(gem: Gem) -> None:
    vm = uapi.drm_i915_gem_vm_control()
    assert raw(gem, uapi.DRM_IOCTL_I915_GEM_VM_CREATE, vm) == 0
    assert vm.vm_id == 1
    assert raw(gem, uapi.DRM_IOCTL_I915_GEM_VM_CREATE,
               uapi.drm_i915_gem_vm_control(flags=1)) == -errno.EINVAL
    assert raw(gem, uapi.DRM_IOCTL_I915_GEM_VM_DESTROY, vm) == 0
    assert raw(gem, uapi.DRM_IOCTL_I915_GEM_VM_DESTROY, vm) == -errno.ENOENT


def test_reset_stats_of_the_default_context_start_at_zero(gem: Gem) -> None:
    rs = uapi.drm_i915_reset_stats(ctx_id=0, reset_count=5, batch_active=5, batch_pending=5)
    assert raw(gem, uapi.DRM_IOCTL_I915_GET_RESET_STATS, rs) == 0
    assert (rs.batch_active, rs.batch_pending) == (0, 0)
    assert raw(gem, uapi.DRM_IOCTL_I915_GET_RESET_STATS,
               uapi.drm_i915_reset_stats(ctx_id=3)) == -errno.ENOENT
    assert raw(gem, uapi.DRM_IOCTL_I915_GET_RESET_STATS,
               uapi.drm_i915_reset_stats(flags=1)) == -errno.EINVAL


def test_perf_is_not_modelled(gem: Gem) -> None:
    arg = uapi.drm_i915_perf_open_param()
    assert raw(gem, uapi.DRM_IOCTL_I915_PERF_OPEN, arg) == -errno.ENODEV
