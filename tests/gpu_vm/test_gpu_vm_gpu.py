"""The Gpu as GEM sees it: attach, the hooks, and the leak counters."""

from __future__ import annotations

import threading

from gpu_vm_env import GpuVmEnv, pattern

from softgem import trace
from softgem.gem.aperture_info import get_aperture
from softgem.gem.userptr import submit_init
from softgem.gpu import Gpu, attach, context_create, context_destroy, lookup_context
from softgem.posix import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE
from softgem.sync import Fence
from softgem.units import PAGE_SIZE

P = PAGE_SIZE


def test_attach_is_idempotent_and_plugs_the_hooks_in(gpu_env: GpuVmEnv) -> None:
    assert attach(gpu_env.dev) is gpu_env.gpu
    assert gpu_env.dev.gpu is gpu_env.gpu
    assert isinstance(gpu_env.gpu, Gpu)
    assert (0, 0) in gpu_env.gpu.engines and (1, 0) in gpu_env.gpu.engines


def test_bindings_are_counted_until_unbound(gpu_env: GpuVmEnv) -> None:
    obj = gpu_env.bo(P)
    vma = gpu_env.vm.instance(obj)
    assert gpu_env.dev.counters()["gpu_bindings"] == 0
    vma.pin()
    assert gpu_env.dev.counters()["gpu_bindings"] == 1
    vma.unpin()
    vma.unbind()
    assert gpu_env.dev.counters()["gpu_bindings"] == 0


def test_closing_the_handle_unbinds_that_files_idle_vmas(gpu_env: GpuVmEnv) -> None:
    handle = gpu_env.file.handle_create(gpu_env.bo(P))   # a second handle: one is closed
    obj = gpu_env.file.lookup(handle)
    vma = gpu_env.vm.instance(obj)
    vma.pin()
    vma.unpin()
    gpu_env.file.handle_delete(handle)
    assert not vma.bound and vma.closed
    assert gpu_env.vm.instance(obj) is not vma
    obj.put()


def test_closing_a_busy_objects_handle_unbinds_it_once_idle(gpu_env: GpuVmEnv) -> None:
    obj = gpu_env.bo(P)
    handle = gpu_env.file.handle_of(obj)
    assert handle is not None
    vma = gpu_env.vm.instance(obj)
    vma.pin()
    fence = Fence("rq")
    vma.move_to_active(fence)
    vma.unpin()
    gpu_env.file.handle_delete(handle)
    assert vma.bound and vma.closed                   # the GPU still uses it
    fence.signal()
    assert gpu_env.gpu.nr_bindings() == 0             # reaped once idle
    assert not vma.bound


def test_another_files_binding_survives_a_close_in_this_file(gpu_env: GpuVmEnv) -> None:
    other = gpu_env.dev.open(128)
    obj = gpu_env.bo(P)
    handle = other.handle_create(obj)
    theirs = lookup_context(other, 0).vm
    assert theirs is not None
    vma = theirs.instance(obj)
    vma.pin()
    vma.unpin()
    mine = gpu_env.vm.instance(obj)
    mine.pin()
    mine.unpin()
    own = gpu_env.file.handle_of(obj)
    assert own is not None
    gpu_env.file.handle_delete(own)
    assert vma.bound and not mine.bound
    other.handle_delete(handle)
    assert not vma.bound


def test_releasing_a_file_waits_for_its_gpu_work_and_unbinds_all(gpu_env: GpuVmEnv) -> None:
    f = gpu_env.dev.open(0)
    obj = gpu_env.bo(2 * P, file=f)
    ctx = lookup_context(f, context_create(gpu_env.gpu, f))
    assert ctx.vm is not None
    vma = ctx.vm.instance(obj)
    vma.pin()
    fence = Fence("rq")
    vma.move_to_active(fence, hold_pin=True)
    vma.unpin()
    timer = threading.Timer(0.05, fence.signal)
    timer.start()
    f.release()
    timer.join()
    assert ctx.closed and not vma.bound
    assert gpu_env.gpu.nr_bindings() == 0


def test_destroying_a_context_unbinds_its_space(gpu_env: GpuVmEnv) -> None:
    gpu, f = gpu_env.gpu, gpu_env.file
    ctx = lookup_context(f, context_create(gpu, f))
    assert ctx.vm is not None
    vma = ctx.vm.instance(gpu_env.bo(P))
    vma.pin()
    vma.unpin()
    context_destroy(gpu, f, ctx.id)
    assert not vma.bound and gpu.nr_bindings() == 0


def test_userptr_revalidation_after_an_invalidation_unbinds_the_old_pages(
        gpu_env: GpuVmEnv) -> None:
    data = pattern(2 * P, seed=3)
    addr, obj = gpu_env.userptr(2 * P, data=data)
    vma = gpu_env.vm.instance(obj)
    vma.pin()
    assert gpu_env.vm.read(vma.start, 2 * P).tobytes() == data
    vma.unpin()
    # Replace the memory behind the userptr: the notifier marks the object stale.
    gpu_env.mm.mmap(addr, 2 * P, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED)
    gpu_env.mm.cpu_write(addr, b"fresh")
    submit_init(obj, gpu_env.mm)                 # unbinds, unpins, pins the new pages
    assert not vma.bound
    vma.pin()
    assert gpu_env.vm.read(vma.start, 5).tobytes() == b"fresh"
    vma.unpin()


def test_get_aperture_counts_pinned_ggtt_bytes(gpu_env: GpuVmEnv) -> None:
    total, avail = get_aperture(gpu_env.dev)
    assert avail == total
    vma = gpu_env.gpu.ggtt.instance(gpu_env.bo(4 * P))
    vma.pin()
    assert get_aperture(gpu_env.dev) == (total, total - 4 * P)
    vma.unpin()
    assert get_aperture(gpu_env.dev) == (total, total)


def test_binding_life_is_traced(gpu_env: GpuVmEnv) -> None:
    events: list[trace.Event] = []
    stop = trace.subscribe(events.append)
    try:
        ctx = lookup_context(gpu_env.file, context_create(gpu_env.gpu, gpu_env.file))
        assert ctx.vm is not None
        vma = ctx.vm.instance(gpu_env.bo(P))
        vma.pin()
        fence = Fence("rq")
        vma.move_to_active(fence)
        vma.unpin()
        fence.signal()
        for _ in range(3):
            ctx.mark_guilty()
        context_destroy(gpu_env.gpu, gpu_env.file, ctx.id)
    finally:
        stop()
    names = [e.name for e in events if e.category == "gpu"]
    for name in ("context_create", "bind", "vma_retire", "context_ban", "context_close",
                 "unbind"):
        assert name in names, names
