"""Contexts and VM ids: the CONTEXT_* and VM_* ioctl ladders, proto-contexts, bans."""

from __future__ import annotations

import struct

import pytest
from gpu_vm_env import GpuVmEnv

from softgem.errors import E2BIG, EFAULT, EINVAL, EIO, ENODEV, ENOENT, EPERM
from softgem.gpu import (
    BAN_AFTER_HANGS,
    context_create,
    context_destroy,
    context_getparam,
    context_setparam,
    get_reset_stats,
    lookup_context,
    vm_create,
    vm_destroy,
)
from softgem.gpu.context import (
    P_BAN_PERIOD,
    P_BANNABLE,
    P_ENGINES,
    P_GTT_SIZE,
    P_NO_ERROR_CAPTURE,
    P_NO_ZEROMAP,
    P_PERSISTENCE,
    P_PRIORITY,
    P_PROTECTED,
    P_RECOVERABLE,
    P_RINGSIZE,
    P_SSEU,
    P_VM,
    SSEU_SIZE,
)
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE

USE_EXTENSIONS, SINGLE_TIMELINE = 1, 2
U64 = (1 << 64) - 1


def user_mem(env: GpuVmEnv, data: bytes = b"", size: int = 4096) -> int:
    addr = env.mm.mmap(0, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS)
    if data:
        env.mm.cpu_write(addr, data)
    return addr


def setparam_ext(next_ext: int, param: int, value: int, size: int = 0, ctx_id: int = 0,
                 name: int = 0, flags: int = 0) -> bytes:
    """drm_i915_gem_context_create_ext_setparam."""
    return struct.pack("<QII16xIIQQ", next_ext, name, flags, ctx_id, size, param, value)


# -- create / destroy ---------------------------------------------------------------------
def test_context_ids_start_at_one_and_are_reused_lowest_first(gpu_env: GpuVmEnv) -> None:
    gpu, f = gpu_env.gpu, gpu_env.file
    ids = [context_create(gpu, f) for _ in range(3)]
    assert ids == [1, 2, 3]
    context_destroy(gpu, f, 2)
    assert context_create(gpu, f) == 2


@pytest.mark.parametrize(("ctx_id", "pad", "error"), [
    (1, 1, EINVAL),        # pad first
    (0, 0, ENOENT),        # the default context cannot be destroyed
    (7, 0, ENOENT),
])
def test_context_destroy_errors(gpu_env: GpuVmEnv, ctx_id: int, pad: int,
                                error: type[Exception]) -> None:
    context_create(gpu_env.gpu, gpu_env.file)
    with pytest.raises(error):
        context_destroy(gpu_env.gpu, gpu_env.file, ctx_id, pad)
    lookup_context(gpu_env.file, 1)


def test_unknown_create_flags_are_einval(gpu_env: GpuVmEnv) -> None:
    with pytest.raises(EINVAL):
        context_create(gpu_env.gpu, gpu_env.file, 1 << 2)


def test_a_banned_client_cannot_create_contexts(gpu_env: GpuVmEnv) -> None:
    gpu, f = gpu_env.gpu, gpu_env.file
    for _ in range(3):
        ctx = lookup_context(f, context_create(gpu, f))
        for _ in range(BAN_AFTER_HANGS):
            ctx.mark_guilty()
        assert ctx.banned
    with pytest.raises(EIO):
        context_create(gpu, f)


def test_each_context_has_its_own_full_ppgtt(gpu_env: GpuVmEnv) -> None:
    gpu, f = gpu_env.gpu, gpu_env.file
    a = lookup_context(f, context_create(gpu, f))
    b = lookup_context(f, context_create(gpu, f))
    assert a.vm is not None and b.vm is not None and a.vm is not b.vm
    assert a.vm.total == 1 << 48


def test_create_extensions_set_params_in_chain_order(gpu_env: GpuVmEnv) -> None:
    second = setparam_ext(0, P_RECOVERABLE, 0)
    base = user_mem(gpu_env)
    first = setparam_ext(base + 64, P_NO_ERROR_CAPTURE, 1)
    gpu_env.mm.cpu_write(base, first)
    gpu_env.mm.cpu_write(base + 64, second)
    ctx_id = context_create(gpu_env.gpu, gpu_env.file, USE_EXTENSIONS, base, mm=gpu_env.mm)
    ctx = lookup_context(gpu_env.file, ctx_id)
    assert ctx.no_error_capture and not ctx.recoverable


@pytest.mark.parametrize(("ext", "error"), [
    (setparam_ext(0, P_PRIORITY, 1, ctx_id=1), EINVAL),     # ctx_id must be 0
    (setparam_ext(0, P_PRIORITY, 1, name=1), EINVAL),       # CLONE is gone
    (setparam_ext(0, P_PRIORITY, 1, name=9), EINVAL),       # unknown extension
    (setparam_ext(0, P_PRIORITY, 1, flags=1), EINVAL),      # flags must be zero
    (setparam_ext(0, P_GTT_SIZE, 1), EINVAL),               # not settable
    (setparam_ext(0, P_PRIORITY, 1), EPERM),                # raising needs CAP_SYS_NICE
    (setparam_ext(0, P_VM, 5), ENOENT),
    (setparam_ext(0x10000, P_RECOVERABLE, 1), EFAULT),      # next points at nothing
])
def test_create_extension_errors(gpu_env: GpuVmEnv, ext: bytes,
                                 error: type[Exception]) -> None:
    addr = user_mem(gpu_env, ext)
    with pytest.raises(error):
        context_create(gpu_env.gpu, gpu_env.file, USE_EXTENSIONS, addr, mm=gpu_env.mm)
    assert context_create(gpu_env.gpu, gpu_env.file) == 1      # no id was used


def test_an_extension_loop_is_e2big(gpu_env: GpuVmEnv) -> None:
    addr = user_mem(gpu_env)
    gpu_env.mm.cpu_write(addr, setparam_ext(addr, P_RECOVERABLE, 1))
    with pytest.raises(E2BIG):
        context_create(gpu_env.gpu, gpu_env.file, USE_EXTENSIONS, addr, mm=gpu_env.mm)


# -- getparam / setparam ------------------------------------------------------------------
def test_defaults_read_back(gpu_env: GpuVmEnv) -> None:
    gpu, f = gpu_env.gpu, gpu_env.file
    expect = {P_GTT_SIZE: 1 << 48, P_BANNABLE: 1, P_RECOVERABLE: 1, P_PERSISTENCE: 1,
              P_NO_ERROR_CAPTURE: 0, P_PRIORITY: 0, P_PROTECTED: 0}
    for param, value in expect.items():
        assert context_getparam(gpu, f, 0, param) == (0, value), hex(param)


@pytest.mark.parametrize(("param", "size", "value", "privileged", "error"), [
    (P_NO_ERROR_CAPTURE, 8, 1, False, EINVAL),
    (P_BANNABLE, 0, 0, False, EPERM),
    (P_PRIORITY, 0, 1024, True, EINVAL),
    (P_PRIORITY, 0, (-1024) & U64, True, EINVAL),
    (P_PRIORITY, 0, 1, False, EPERM),
    (P_SSEU, 8, 0, False, EINVAL),
    (P_SSEU, SSEU_SIZE, 0, False, ENODEV),
    (P_VM, 0, 1, False, EINVAL),            # final contexts cannot change VM
    (P_ENGINES, 8, 0, False, EINVAL),
    (P_PROTECTED, 0, 1, False, EINVAL),
    (P_GTT_SIZE, 0, 1, False, EINVAL),
    (P_NO_ZEROMAP, 0, 1, False, EINVAL),
    (P_BAN_PERIOD, 0, 1, False, EINVAL),
    (P_RINGSIZE, 0, 1 << 16, False, EINVAL),
    (0x99, 0, 0, False, EINVAL),
])
def test_setparam_errors(gpu_env: GpuVmEnv, param: int, size: int, value: int,
                         privileged: bool, error: type[Exception]) -> None:
    with pytest.raises(error):
        context_setparam(gpu_env.gpu, gpu_env.file, 0, param, size, value,
                         privileged=privileged)


def test_setparam_on_an_unknown_context_is_enoent(gpu_env: GpuVmEnv) -> None:
    with pytest.raises(ENOENT):
        context_setparam(gpu_env.gpu, gpu_env.file, 3, P_RECOVERABLE, 0, 0)
    with pytest.raises(ENOENT):
        context_getparam(gpu_env.gpu, gpu_env.file, 3, P_RECOVERABLE)


def test_setparam_values_read_back(gpu_env: GpuVmEnv) -> None:
    gpu, f = gpu_env.gpu, gpu_env.file
    context_setparam(gpu, f, 0, P_PRIORITY, 0, (-5) & U64)
    context_setparam(gpu, f, 0, P_PRIORITY, 0, 7, privileged=True)
    context_setparam(gpu, f, 0, P_BANNABLE, 0, 0, privileged=True)
    context_setparam(gpu, f, 0, P_PERSISTENCE, 0, 0)
    assert context_getparam(gpu, f, 0, P_PRIORITY) == (0, 7)
    assert context_getparam(gpu, f, 0, P_BANNABLE) == (0, 0)
    assert context_getparam(gpu, f, 0, P_PERSISTENCE) == (0, 0)


def test_unreadable_params_are_einval(gpu_env: GpuVmEnv) -> None:
    for param in (P_NO_ZEROMAP, P_BAN_PERIOD, P_ENGINES, P_RINGSIZE, 0x99):
        with pytest.raises(EINVAL):
            context_getparam(gpu_env.gpu, gpu_env.file, 0, param)


def test_sseu_getparam_reports_its_size_then_the_render_configuration(
        gpu_env: GpuVmEnv) -> None:
    gpu, f = gpu_env.gpu, gpu_env.file
    assert context_getparam(gpu, f, 0, P_SSEU, 0, 0)[0] == SSEU_SIZE
    addr = user_mem(gpu_env, struct.pack("<HHI", 0, 0, 0))
    assert context_getparam(gpu, f, 0, P_SSEU, SSEU_SIZE, addr, mm=gpu_env.mm) == \
        (SSEU_SIZE, addr)
    fields = struct.unpack("<HHIQQHHI", gpu_env.mm.cpu_read(addr, SSEU_SIZE))
    assert fields[3] == 1 and fields[4] == 0b111 and fields[5] == fields[6] == 8
    bad = user_mem(gpu_env, struct.pack("<HHI", 1, 5, 0))       # no bcs1
    with pytest.raises(EINVAL):
        context_getparam(gpu, f, 0, P_SSEU, SSEU_SIZE, bad, mm=gpu_env.mm)
    with pytest.raises(EFAULT):
        context_getparam(gpu, f, 0, P_SSEU, SSEU_SIZE, 0x1000, mm=gpu_env.mm)


# -- VMs and proto-contexts ---------------------------------------------------------------
def test_vm_ids_start_at_one_and_destroy_is_enoent_for_unknown_ids(
        gpu_env: GpuVmEnv) -> None:
    gpu, f = gpu_env.gpu, gpu_env.file
    assert [vm_create(gpu, f), vm_create(gpu, f)] == [1, 2]
    vm_destroy(gpu, f, 1)
    with pytest.raises(ENOENT):
        vm_destroy(gpu, f, 1)
    with pytest.raises(EINVAL):
        vm_create(gpu, f, flags=1)
    with pytest.raises(EINVAL):
        vm_destroy(gpu, f, 2, extensions=8)
    with pytest.raises(EFAULT):
        vm_create(gpu, f, extensions=0x1000, mm=gpu_env.mm)
    with pytest.raises(EINVAL):
        vm_create(gpu, f, extensions=user_mem(gpu_env), mm=gpu_env.mm)
    assert vm_create(gpu, f) == 1               # the failed creates used no id


def test_a_proto_context_takes_a_vm_until_first_use(gpu_env: GpuVmEnv) -> None:
    gpu, f = gpu_env.gpu, gpu_env.file
    vm_id = vm_create(gpu, f)
    ctx_id = context_create(gpu, f)
    context_setparam(gpu, f, ctx_id, P_VM, 0, vm_id)
    vm_destroy(gpu, f, vm_id)                  # the context keeps the space alive
    ctx = lookup_context(f, ctx_id)            # finalizes
    assert ctx.vm is not None and not ctx.vm.closed
    with pytest.raises(EINVAL):
        context_setparam(gpu, f, ctx_id, P_VM, 0, vm_id)


@pytest.mark.parametrize(("value", "error"), [(1 << 32, ENOENT), (9, ENOENT)])
def test_proto_vm_param_errors(gpu_env: GpuVmEnv, value: int,
                               error: type[Exception]) -> None:
    ctx_id = context_create(gpu_env.gpu, gpu_env.file)
    with pytest.raises(error):
        context_setparam(gpu_env.gpu, gpu_env.file, ctx_id, P_VM, 0, value)


def test_getparam_vm_gives_the_contexts_space_a_new_id(gpu_env: GpuVmEnv) -> None:
    gpu, f = gpu_env.gpu, gpu_env.file
    _, vm_id = context_getparam(gpu, f, 0, P_VM)
    ctx_id = context_create(gpu, f)
    context_setparam(gpu, f, ctx_id, P_VM, 0, vm_id)
    assert lookup_context(f, ctx_id).vm is lookup_context(f, 0).vm


def test_proto_engine_map_is_read_from_user_memory(gpu_env: GpuVmEnv) -> None:
    gpu, f = gpu_env.gpu, gpu_env.file
    engines = struct.pack("<QHHHH", 0, 1, 0, 0xFFFF, 0xFFFF)   # bcs0, then an empty slot
    addr = user_mem(gpu_env, engines)
    ctx_id = context_create(gpu, f)
    context_setparam(gpu, f, ctx_id, P_ENGINES, len(engines), addr, mm=gpu_env.mm)
    assert lookup_context(f, ctx_id).user_engines == [(1, 0), None]
    other = context_create(gpu, f)
    bad = user_mem(gpu_env, struct.pack("<QHH", 0, 1, 3))
    with pytest.raises(ENOENT):
        context_setparam(gpu, f, other, P_ENGINES, 12, bad, mm=gpu_env.mm)
    with pytest.raises(EINVAL):
        context_setparam(gpu, f, other, P_ENGINES, 10, bad, mm=gpu_env.mm)


# -- hangs and reset stats ----------------------------------------------------------------
def test_a_context_is_banned_after_repeated_hangs_unless_unbannable(
        gpu_env: GpuVmEnv) -> None:
    gpu, f = gpu_env.gpu, gpu_env.file
    ctx = lookup_context(f, context_create(gpu, f))
    assert [ctx.mark_guilty() for _ in range(BAN_AFTER_HANGS)] == [False, False, True]
    tough = lookup_context(f, context_create(gpu, f))
    context_setparam(gpu, f, tough.id, P_BANNABLE, 0, 0, privileged=True)
    assert not any(tough.mark_guilty() for _ in range(5))
    fragile = lookup_context(f, context_create(gpu, f))
    context_setparam(gpu, f, fragile.id, P_RECOVERABLE, 0, 0)
    assert fragile.mark_guilty()
    assert get_reset_stats(gpu, f, ctx.id) == (0, BAN_AFTER_HANGS, 0)
    with pytest.raises(EINVAL):
        get_reset_stats(gpu, f, ctx.id, flags=1)
