"""Eviction: a full address space gives up its least recently used idle, unpinned vmas."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from gpu_vm_env import GpuVmEnv

from softgem.errors import ENOSPC
from softgem.gpu import AddressSpace, GpuVma, evict_vm
from softgem.sync import Fence
from softgem.units import PAGE_SIZE

P = PAGE_SIZE


@pytest.fixture
def small(gpu_env: GpuVmEnv) -> Iterator[AddressSpace]:
    """A four-page address space, so a fifth page forces eviction."""
    vm = AddressSpace(gpu_env.gpu, "small", 4 * P, has_read_only=True)
    yield vm
    gpu_env.gpu.vm_put(vm)


def fill(env: GpuVmEnv, vm: AddressSpace, n: int = 4) -> list[GpuVma]:
    vmas = []
    for _ in range(n):
        vma = vm.instance(env.bo(P))
        vma.pin()
        vma.unpin()
        vmas.append(vma)
    return vmas


def test_the_least_recently_used_idle_vma_is_evicted(gpu_env: GpuVmEnv,
                                                     small: AddressSpace) -> None:
    vmas = fill(gpu_env, small)
    vmas[0].pin()                       # now the most recently used
    vmas[0].unpin()
    new = small.instance(gpu_env.bo(P))
    new.pin()
    assert [v.bound for v in vmas] == [True, False, True, True]
    assert new.start == vmas[1].node.start or not vmas[1].bound
    new.unpin()


def test_eviction_takes_the_fewest_neighbours_for_a_large_object(
        gpu_env: GpuVmEnv, small: AddressSpace) -> None:
    vmas = fill(gpu_env, small)
    new = small.instance(gpu_env.bo(2 * P))
    new.pin()
    assert sum(v.bound for v in vmas) == 2
    new.unpin()


def test_everything_pinned_means_enospc_and_nothing_changes(gpu_env: GpuVmEnv,
                                                           small: AddressSpace) -> None:
    vmas = fill(gpu_env, small)
    for v in vmas:
        v.pin()
    new = small.instance(gpu_env.bo(P))
    with pytest.raises(ENOSPC):
        new.pin()
    assert all(v.bound for v in vmas) and not new.bound
    assert new.obj.pages_pin_count == 0
    for v in vmas:
        v.unpin()


def test_an_object_larger_than_the_space_is_enospc_without_evicting(
        gpu_env: GpuVmEnv, small: AddressSpace) -> None:
    vmas = fill(gpu_env, small, 2)
    with pytest.raises(ENOSPC):
        small.instance(gpu_env.bo(5 * P)).pin()
    assert all(v.bound for v in vmas)


def test_a_busy_lru_victim_is_waited_for_then_evicted(gpu_env: GpuVmEnv,
                                                  small: AddressSpace) -> None:
    vmas = fill(gpu_env, small)
    fences = [Fence(f"rq{i}") for i in range(4)]
    for v, f in zip(vmas, fences, strict=True):
        v.move_to_active(f)
    new = small.instance(gpu_env.bo(P))
    done = threading.Event()
    t = threading.Thread(target=lambda: (new.pin(), done.set()), daemon=True)
    t.start()
    assert not done.wait(0.05)
    fences[0].signal()                  # the least recently used one is waited for
    t.join(5)
    assert done.is_set() and not vmas[0].bound and new.bound
    for f in fences:
        f.signal()
    new.unpin()


def test_closed_vmas_go_before_live_ones(gpu_env: GpuVmEnv, small: AddressSpace) -> None:
    vmas = fill(gpu_env, small)
    fence = Fence("rq")
    vmas[3].move_to_active(fence)
    with small.mutex:
        small.close_vma_locked(vmas[3])     # busy: stays bound, first in line
    fence.signal()
    new = small.instance(gpu_env.bo(P))
    new.pin()
    assert [v.bound for v in vmas] == [True, True, True, False]
    new.unpin()


def test_a_victim_whose_object_is_locked_elsewhere_is_skipped(
        gpu_env: GpuVmEnv, small: AddressSpace) -> None:
    vmas = fill(gpu_env, small)
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with vmas[0].obj.lock:
            held.set()
            release.wait(5)

    t = threading.Thread(target=hold, daemon=True)
    t.start()
    held.wait(5)
    try:
        new = small.instance(gpu_env.bo(P))
        new.pin()
        assert vmas[0].bound and not vmas[1].bound
        new.unpin()
    finally:
        release.set()
        t.join(5)


def test_evict_vm_unbinds_idle_unpinned_vmas_only(gpu_env: GpuVmEnv,
                                                  small: AddressSpace) -> None:
    vmas = fill(gpu_env, small)
    vmas[0].pin()
    fence = Fence("rq")
    vmas[1].move_to_active(fence)
    with small.mutex:
        assert evict_vm(small) == 2
    assert [v.bound for v in vmas] == [True, True, False, False]
    fence.signal()
    vmas[0].unpin()
