"""The userptr_client.c scenario, step for step, in the simulated machine."""

from __future__ import annotations

from softgem import Machine, igt, uapi
from softgem.machine import Process
from softgem.posix import MAP_ANONYMOUS, MAP_FIXED, MAP_PRIVATE, PROT_READ, PROT_WRITE

SZ = 64 << 10
PG = 4096
ANON = MAP_PRIVATE | MAP_ANONYMOUS
RW = PROT_READ | PROT_WRITE


def _userptr(p: Process, fd: int, ptr: int, size: int, flags: int) -> tuple[int, int]:
    return igt.__gem_userptr(p, fd, ptr, size, flags)


def _validate(p: Process, fd: int, handle: int) -> int:
    return igt.__gem_set_domain(p, fd, handle, uapi.I915_GEM_DOMAIN_CPU, 0)


def play(machine: Machine) -> dict[str, int]:
    p = machine.spawn("client")
    steps: dict[str, int] = {}
    fd = p.open("/dev/dri/card0")
    steps["open"] = 0
    heap = p.mmap(0, SZ, RW, ANON)  # posix_memalign in C: any page-aligned private memory
    p.write(heap, b"\1" * SZ)
    steps["create_malloc"], h_malloc = _userptr(p, fd, heap, SZ, 0)
    steps["validate_malloc"] = _validate(p, fd, h_malloc)
    m = p.mmap(0, SZ, RW, ANON)
    steps["create_mmap"], h_mmap = _userptr(p, fd, m, SZ, 0)
    steps["validate_mmap"] = _validate(p, fd, h_mmap)
    p.munmap(m + PG, PG)
    steps["validate_after_munmap"] = _validate(p, fd, h_mmap)
    steps["probe_over_hole"], _ = _userptr(p, fd, m, SZ, uapi.I915_USERPTR_PROBE)
    p.mmap(m + PG, PG, RW, ANON | MAP_FIXED)
    steps["validate_after_map_fixed"] = _validate(p, fd, h_mmap)
    steps["probe_mapped"], _ = _userptr(p, fd, m, SZ, uapi.I915_USERPTR_PROBE)
    ro = p.mmap(0, SZ, PROT_READ, ANON)
    steps["create_read_only"], h_ro = _userptr(p, fd, ro, SZ, uapi.I915_USERPTR_READ_ONLY)
    steps["validate_read_only"] = _validate(p, fd, h_ro)
    steps["create_rw_on_ro"], h_rw = _userptr(p, fd, ro, SZ, 0)
    steps["validate_rw_on_ro"] = _validate(p, fd, h_rw)
    steps["bad_flags"], _ = _userptr(p, fd, m, SZ, 0x4)
    steps["unaligned"], _ = _userptr(p, fd, m + 1, SZ, 0)
    steps["zero_size"], _ = _userptr(p, fd, m, 0, 0)
    steps["unsynchronized"], _ = _userptr(p, fd, m, SZ, uapi.I915_USERPTR_UNSYNCHRONIZED)
    steps["null_created"], h_null = _userptr(p, fd, 0, SZ, 0)
    steps["null_validate"] = _validate(p, fd, h_null)
    child = p.fork()
    steps["child_validate_parent_userptr"] = _validate(child, fd, h_mmap)
    child.exit()
    steps["parent_validate_after_fork"] = _validate(p, fd, h_mmap)
    p.exit()  # without closing anything
    return steps
