"""GpuVma: pin/unpin/unbind, activity, placement flags, and what a binding holds."""

from __future__ import annotations

import threading

import pytest
from gpu_vm_env import GpuVmEnv

from softgem.errors import EAGAIN, EBUSY, EINVAL, ENOENT, ENOSPC
from softgem.gpu import (
    PIN_HIGH,
    PIN_NONBLOCK,
    PIN_OFFSET_BIAS,
    PIN_OFFSET_FIXED,
    PIN_ZONE_4G,
)
from softgem.sync import Fence
from softgem.units import PAGE_SIZE

P = PAGE_SIZE


def test_pin_binds_and_pins_the_objects_pages(gpu_env: GpuVmEnv) -> None:
    obj = gpu_env.bo(4 * P)
    vma = gpu_env.vm.instance(obj)
    assert not vma.bound
    vma.pin()
    assert vma.bound and vma.pin_count == 1
    assert obj.pages_pin_count == 1
    assert vma.pages is obj.pages
    assert gpu_env.vm.instance(obj) is vma
    vma.unpin()
    assert vma.bound                         # an unpinned binding stays where it was
    assert obj.pages_pin_count == 1


def test_a_binding_keeps_its_object_alive_until_unbound(gpu_env: GpuVmEnv) -> None:
    obj = gpu_env.bo(P)
    refs = obj.kref.read()
    vma = gpu_env.vm.instance(obj)
    vma.pin()
    vma.unpin()
    assert obj.kref.read() == refs + 1
    vma.unbind()
    assert not vma.bound
    assert obj.pages_pin_count == 0
    assert obj.kref.read() == refs


def test_repinning_a_bound_vma_keeps_its_address(gpu_env: GpuVmEnv) -> None:
    obj = gpu_env.bo(P)
    vma = gpu_env.vm.instance(obj)
    vma.pin()
    start = vma.start
    vma.pin()
    assert vma.start == start and vma.pin_count == 2
    vma.unpin()
    vma.unpin()


def test_unbind_of_a_pinned_vma_is_eagain(gpu_env: GpuVmEnv) -> None:
    vma = gpu_env.vm.instance(gpu_env.bo(P))
    vma.pin()
    with pytest.raises(EAGAIN):
        vma.unbind()
    assert vma.bound
    vma.unpin()


def test_fixed_offset_places_the_object_exactly(gpu_env: GpuVmEnv) -> None:
    vma = gpu_env.vm.instance(gpu_env.bo(2 * P))
    vma.pin(flags=PIN_OFFSET_FIXED | (1 << 40))
    assert vma.start == 1 << 40
    vma.unpin()


@pytest.mark.parametrize(("offset", "alignment", "error"), [
    (P + 1, 0, EINVAL),              # not page aligned
    (0, 0, ENOSPC),                  # overlaps the pinned blocker at [P, 2P)
    ((1 << 48) - P, 0, EINVAL),      # runs past the end of the 48-bit space
    (3 * P, 2 * P, EINVAL),          # not aligned to the requested alignment
])
def test_fixed_offset_errors(gpu_env: GpuVmEnv, offset: int, alignment: int,
                             error: type[Exception]) -> None:
    blocker = gpu_env.vm.instance(gpu_env.bo(P))
    blocker.pin(flags=PIN_OFFSET_FIXED, offset=P)
    vma = gpu_env.vm.instance(gpu_env.bo(2 * P))
    with pytest.raises(error):
        vma.pin(alignment=alignment, flags=PIN_OFFSET_FIXED, offset=offset)
    assert not vma.bound
    blocker.unpin()


def test_fixed_offset_over_an_idle_binding_evicts_it(gpu_env: GpuVmEnv) -> None:
    old = gpu_env.vm.instance(gpu_env.bo(P))
    old.pin(flags=PIN_OFFSET_FIXED, offset=8 * P)
    old.unpin()
    new = gpu_env.vm.instance(gpu_env.bo(P))
    new.pin(flags=PIN_OFFSET_FIXED, offset=8 * P)
    assert new.start == 8 * P and not old.bound
    new.unpin()


def test_a_misplaced_binding_moves_when_unpinned(gpu_env: GpuVmEnv) -> None:
    vma = gpu_env.vm.instance(gpu_env.bo(P))
    vma.pin()
    vma.unpin()
    vma.pin(flags=PIN_OFFSET_FIXED, offset=16 * P)
    assert vma.start == 16 * P
    with pytest.raises(EINVAL):          # pinned elsewhere: a softpin cannot move it
        vma.pin(flags=PIN_OFFSET_FIXED, offset=32 * P)
    vma.unpin()


@pytest.mark.parametrize(("flags", "check"), [
    (PIN_ZONE_4G | PIN_HIGH, lambda s, e: e <= (1 << 32) - P and s > (1 << 31)),
    (PIN_HIGH, lambda s, e: e == 1 << 48),
    (PIN_OFFSET_BIAS | (1 << 36), lambda s, e: s >= 1 << 36),
])
def test_pin_flags_restrict_the_range(gpu_env: GpuVmEnv, flags: int, check: object) -> None:
    vma = gpu_env.vm.instance(gpu_env.bo(P))
    vma.pin(flags=flags)
    assert callable(check) and check(vma.node.start, vma.node.end)
    vma.unpin()


def test_unbind_waits_for_the_gpu_to_finish(gpu_env: GpuVmEnv) -> None:
    vma = gpu_env.vm.instance(gpu_env.bo(P))
    vma.pin()
    fence = Fence("rq")
    vma.move_to_active(fence)
    vma.unpin()
    with pytest.raises(EBUSY):
        vma.unbind(wait=False)
    done = threading.Event()

    def unbind() -> None:
        vma.unbind()
        done.set()

    t = threading.Thread(target=unbind, daemon=True)
    t.start()
    assert not done.wait(0.05)
    assert vma.bound
    fence.signal()
    t.join(5)
    assert done.is_set() and not vma.bound


def test_hold_pin_keeps_the_vma_pinned_until_the_fence_signals(gpu_env: GpuVmEnv) -> None:
    vma = gpu_env.vm.instance(gpu_env.bo(P))
    vma.pin()
    fence = Fence("rq")
    vma.move_to_active(fence, hold_pin=True)
    vma.unpin()
    assert vma.pin_count == 1 and vma.is_active()
    fence.signal()
    assert vma.pin_count == 0 and not vma.is_active()
    vma.unbind(wait=False)


def test_move_to_active_with_a_signalled_fence_retires_at_once(gpu_env: GpuVmEnv) -> None:
    vma = gpu_env.vm.instance(gpu_env.bo(P))
    vma.pin()
    fence = Fence("done")
    fence.signal()
    vma.move_to_active(fence, hold_pin=True)
    assert vma.pin_count == 1 and not vma.is_active()
    vma.unpin()


def test_unbind_object_unbinds_what_is_not_pinned_and_reports_the_rest(gpu_env: GpuVmEnv) -> None:
    obj = gpu_env.bo(P)
    ppgtt, ggtt = gpu_env.vm.instance(obj), gpu_env.gpu.ggtt.instance(obj)
    ppgtt.pin()
    ggtt.pin()
    ggtt.unpin()
    with obj.lock:
        obj.unbind(wait=False)
    assert ppgtt.bound and not ggtt.bound
    with obj.lock, pytest.raises(EAGAIN):
        obj.unbind(wait=True)           # pinned by a submission: the ioctl retries
    ppgtt.unpin()
    with obj.lock:
        obj.unbind(wait=True)
    assert not ppgtt.bound and obj.pages_pin_count == 0


def test_pinning_a_closed_vma_is_enoent(gpu_env: GpuVmEnv) -> None:
    obj = gpu_env.bo(P)
    vma = gpu_env.vm.instance(obj)
    with gpu_env.vm.mutex:
        gpu_env.vm.close_vma_locked(vma)
    with pytest.raises(ENOENT):
        vma.pin()
    assert gpu_env.vm.instance(obj) is not vma


def test_nonblocking_pin_refuses_to_wait_for_busy_victims(gpu_env: GpuVmEnv) -> None:
    busy = gpu_env.vm.instance(gpu_env.bo(P))
    busy.pin(flags=PIN_OFFSET_FIXED, offset=0)
    fence = Fence("rq")
    busy.move_to_active(fence)
    busy.unpin()
    vma = gpu_env.vm.instance(gpu_env.bo(P))
    with pytest.raises(ENOSPC):
        vma.pin(flags=PIN_OFFSET_FIXED | PIN_NONBLOCK, offset=0)
    fence.signal()
    vma.pin(flags=PIN_OFFSET_FIXED, offset=0)
    assert not busy.bound
    vma.unpin()
