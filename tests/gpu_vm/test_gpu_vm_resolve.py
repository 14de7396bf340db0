"""The GPU's view of an address space: resolve, read, write, scratch, read-only PTEs."""

from __future__ import annotations

import numpy as np
from gpu_vm_env import GpuVmEnv, pattern

from softgem.gem.userptr import I915_USERPTR_READ_ONLY
from softgem.gpu import PIN_OFFSET_FIXED, SCRATCH
from softgem.units import PAGE_SIZE


def test_a_contiguous_object_resolves_to_one_run(gpu_env: GpuVmEnv) -> None:
    obj = gpu_env.bo(8 * PAGE_SIZE)
    vma = gpu_env.vm.instance(obj)
    vma.pin()
    segments = obj.pages.segments if obj.pages is not None else []
    runs = gpu_env.vm.resolve(vma.start, obj.size)
    assert len(runs) == len(segments)
    assert sum(n for _, n, _ in runs) == obj.size
    first = segments[0]
    assert runs[0][0] == (first.pfn - gpu_env.phys.base_pfn) * PAGE_SIZE
    vma.unpin()


def test_unbound_ranges_resolve_to_scratch_around_a_binding(gpu_env: GpuVmEnv) -> None:
    obj = gpu_env.bo(PAGE_SIZE)
    vma = gpu_env.vm.instance(obj)
    vma.pin(flags=PIN_OFFSET_FIXED, offset=4 * PAGE_SIZE)
    runs = gpu_env.vm.resolve(2 * PAGE_SIZE, 4 * PAGE_SIZE)
    assert [(off == SCRATCH, n) for off, n, _ in runs] == [
        (True, 2 * PAGE_SIZE), (False, PAGE_SIZE), (True, PAGE_SIZE)]
    vma.unpin()


def test_reads_of_scratch_are_zero_and_writes_to_it_vanish(gpu_env: GpuVmEnv) -> None:
    vm = gpu_env.vm
    vm.write(0x10000, b"\xff" * 64)
    assert not vm.read(0x10000, 64).any()
    assert gpu_env.phys.nr_used() == 0


def test_writes_land_in_the_objects_pages_across_page_boundaries(gpu_env: GpuVmEnv) -> None:
    obj = gpu_env.bo(3 * PAGE_SIZE)
    vma = gpu_env.vm.instance(obj)
    vma.pin()
    data = pattern(PAGE_SIZE + 100, seed=1)
    gpu_env.vm.write(vma.start + PAGE_SIZE - 50, data)
    assert gpu_env.vm.read(vma.start + PAGE_SIZE - 50, len(data)).tobytes() == data
    assert obj.pages is not None
    page1 = gpu_env.phys.page(obj.pages.page(1))
    assert page1[:PAGE_SIZE].tobytes() == data[50:50 + PAGE_SIZE]
    vma.unpin()


def test_a_read_spanning_two_bindings_and_a_hole_is_stitched_in_order(
        gpu_env: GpuVmEnv) -> None:
    a, b = gpu_env.bo(PAGE_SIZE), gpu_env.bo(PAGE_SIZE)
    va, vb = gpu_env.vm.instance(a), gpu_env.vm.instance(b)
    va.pin(flags=PIN_OFFSET_FIXED, offset=0)
    vb.pin(flags=PIN_OFFSET_FIXED, offset=2 * PAGE_SIZE)
    gpu_env.vm.write(0, b"A" * PAGE_SIZE)
    gpu_env.vm.write(2 * PAGE_SIZE, b"B" * PAGE_SIZE)
    out = gpu_env.vm.read(PAGE_SIZE - 2, PAGE_SIZE + 4).tobytes()
    assert out == b"AA" + bytes(PAGE_SIZE) + b"BB"
    va.unpin()
    vb.unpin()


def test_gpu_writes_through_read_only_ptes_are_dropped(gpu_env: GpuVmEnv) -> None:
    addr, obj = gpu_env.userptr(2 * PAGE_SIZE, I915_USERPTR_READ_ONLY, b"cpu data")
    vma = gpu_env.vm.instance(obj)
    assert vma.readonly
    vma.pin()
    runs = gpu_env.vm.resolve(vma.start, obj.size, write=True)
    assert all(not w for _, _, w in runs)
    gpu_env.vm.write(vma.start, b"gpu data")
    assert gpu_env.vm.read(vma.start, 8).tobytes() == b"cpu data"
    assert gpu_env.mm.cpu_read(addr, 8) == b"cpu data"
    vma.unpin()


def test_the_ggtt_has_no_read_only_ptes(gpu_env: GpuVmEnv) -> None:
    _, obj = gpu_env.userptr(PAGE_SIZE, I915_USERPTR_READ_ONLY)
    vma = gpu_env.gpu.ggtt.instance(obj)
    vma.pin()
    gpu_env.gpu.ggtt.write(vma.start, b"x")
    assert gpu_env.gpu.ggtt.read(vma.start, 1).tobytes() == b"x"
    vma.unpin()
    vma.unbind()


def test_gpu_writes_to_a_userptr_are_seen_by_the_process(gpu_env: GpuVmEnv) -> None:
    addr, obj = gpu_env.userptr(4 * PAGE_SIZE)
    vma = gpu_env.vm.instance(obj)
    vma.pin()
    data = np.arange(4 * PAGE_SIZE, dtype=np.uint32).astype(np.uint8)
    gpu_env.vm.write(vma.start, data)
    assert gpu_env.mm.cpu_read(addr, len(data)) == data.tobytes()
    vma.unpin()


def test_vma_at_finds_only_bound_vmas(gpu_env: GpuVmEnv) -> None:
    obj = gpu_env.bo(2 * PAGE_SIZE)
    vma = gpu_env.vm.instance(obj)
    vma.pin()
    assert gpu_env.vm.vma_at(vma.start + PAGE_SIZE) is vma
    assert gpu_env.vm.vma_at(vma.start + 2 * PAGE_SIZE) is None
    vma.unpin()
    vma.unbind()
    assert gpu_env.vm.vma_at(vma.node.start) is None
