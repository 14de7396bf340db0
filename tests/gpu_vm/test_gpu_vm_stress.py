"""Threads pinning, activating, evicting and unbinding in one small address space.

Every object's pages hold its own id, so a pinned vma that translates to anything else is
caught at once; at the end the allocator, the page pins and the counters must agree.
"""

from __future__ import annotations

import itertools
import queue
import random
import threading

from gpu_vm_env import GpuVmEnv

from softgem.errors import EAGAIN, EBUSY, EINVAL, ENOSPC
from softgem.gem.object import GemObject
from softgem.gpu import PIN_NONBLOCK, PIN_OFFSET_FIXED, AddressSpace
from softgem.sync import Fence
from softgem.units import PAGE_SIZE

P = PAGE_SIZE
THREADS, ROUNDS, OBJECTS = 4, 150, 8


def _fill(env: GpuVmEnv, obj: GemObject, value: int) -> None:
    with obj.lock:
        pages = obj.pin_pages_locked()
        for pfn in pages:
            env.phys.page(pfn)[:] = value
        obj.unpin_pages_locked()


def _worker(seed: int, vm: AddressSpace, objs: list[GemObject], errors: list[str],
            fences: queue.Queue[Fence | None]) -> None:
    try:
        _rounds(random.Random(seed), vm, objs, errors, fences)
    except BaseException as exc:
        errors.append(f"thread {seed}: {exc!r}")


def _rounds(rng: random.Random, vm: AddressSpace, objs: list[GemObject], errors: list[str],
            fences: queue.Queue[Fence | None]) -> None:
    for _ in range(ROUNDS):
        obj = rng.choice(objs)
        vma = vm.instance(obj)
        try:
            if rng.random() < 0.2:
                # EINVAL: pinned elsewhere by another thread, or past the end of the space.
                vma.pin(flags=PIN_OFFSET_FIXED | PIN_NONBLOCK, offset=rng.randrange(8) * P)
            else:
                vma.pin(flags=PIN_NONBLOCK if rng.random() < 0.5 else 0)
        except (ENOSPC, EINVAL):
            continue
        try:
            got = vm.read(vma.start, obj.size)
            if not (got == obj.id & 0xFF).all():
                errors.append(f"{vma!r} reads {set(got.tolist())}, not {obj.id}")
            if rng.random() < 0.3:
                fence = Fence("rq")
                vma.move_to_active(fence, hold_pin=rng.random() < 0.5)
                fences.put(fence)         # the "GPU" completes it later, in order
        finally:
            vma.unpin()
        if rng.random() < 0.2:
            try:
                vma.unbind(wait=False)
            except (EAGAIN, EBUSY):
                pass


def _complete(fences: queue.Queue[Fence | None]) -> None:
    """Signal fences in submission order until told to stop."""
    while (fence := fences.get()) is not None:
        fence.signal()


def test_concurrent_pins_and_evictions_keep_translations_right(gpu_env: GpuVmEnv) -> None:
    vm = AddressSpace(gpu_env.gpu, "stress", 8 * P, has_read_only=True)
    objs = [gpu_env.bo(P * (1 + i % 2)) for i in range(OBJECTS)]
    for obj in objs:
        _fill(gpu_env, obj, obj.id & 0xFF)
    errors: list[str] = []
    fences: queue.Queue[Fence | None] = queue.Queue()
    gpu = threading.Thread(target=_complete, args=(fences,), daemon=True)
    gpu.start()
    threads = [threading.Thread(target=_worker, args=(n, vm, objs, errors, fences),
                                daemon=True) for n in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    fences.put(None)
    gpu.join(10)
    assert not any(t.is_alive() for t in [*threads, gpu])
    assert errors == []
    vmas = [v for v in vm.vmas() if v.bound]
    spans = sorted((v.node.start, v.node.end) for v in vmas)
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    assert all(v.pin_count == 0 and not v.active for v in vm.vmas())
    for obj in objs:
        assert obj.pages_pin_count == sum(1 for v in vmas if v.obj is obj)
    assert gpu_env.gpu.nr_bindings() == len(vmas)
    assert vm.nr_evictions > 0           # the space really ran full
    gpu_env.gpu.vm_put(vm)
