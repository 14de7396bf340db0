"""The fuzzer's machine: a victim process to protect, a fuzzer process to attack from.

The *victim* opens the device first (so it is master), creates a shmem object with known
contents, a userptr over its own memory and a WB mapping of the object.  The *fuzzer* opens
card0 and renderD128, creates objects (shmem, a userptr, three batches: one ends at once, one
stores a dword, one is random words then the end), a GTT mapping, a scratch area (whose next
page is unmapped, so that a pointer near its end crosses into a hole) and a read-only page.

Everything is built from ``seed`` alone, so two worlds of one seed have the same addresses,
handles and contents: a recorded call replays exactly (:mod:`.calls`).

After a run of calls, :func:`check_world` asks that the machine still works for the fuzzer,
that the victim's data, mapping, userptr and memory are untouched, and that once both
processes exit every leak counter is back to zero.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .. import gpu, igt, uapi
from ..machine import Machine, Process
from ..posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from ..units import PAGE_SIZE

__all__ = ["SCRATCH_PAGES", "VICTIM_DATA", "World", "build_world", "check_world"]

RW = PROT_READ | PROT_WRITE
SCRATCH_PAGES = 8
VICTIM_DATA = b"victim data that nobody else may change" * 8
MI_BATCH_BUFFER_END = 0x0A << 23
MI_NOOP = 0
MI_STORE_DWORD_IMM = (0x20 << 23) | 2          # gen8+: address low, high, value


@dataclass
class World:
    seed: int
    machine: Machine
    victim: Process
    fuzzer: Process
    vfd: int = 0
    v_obj: int = 0
    v_map: int = 0
    v_userptr: int = 0
    v_mem: int = 0
    fds: list[int] = field(default_factory=list)
    handles: list[int] = field(default_factory=list)
    batches: list[int] = field(default_factory=list)
    victim_handles: list[int] = field(default_factory=list)
    scratch: int = 0
    readonly: int = 0
    uptr: int = 0
    gtt: int = 0

    @property
    def scratch_size(self) -> int:
        return SCRATCH_PAGES * PAGE_SIZE


def _anon(proc: Process, npages: int, prot: int = RW) -> int:
    return proc.mmap(0, npages * PAGE_SIZE, prot, MAP_PRIVATE | MAP_ANONYMOUS)


def _batch(words: list[int]) -> bytes:
    return b"".join((w & 0xFFFFFFFF).to_bytes(4, "little") for w in words)


def build_world(seed: int) -> World:
    """A fresh machine for one run of calls (see the module docstring)."""
    rng = random.Random(seed)
    m = Machine(memory=32 << 20, seed=seed)
    gpu.attach(m.device).hang_timeout = 0.2
    w = World(seed, m, m.spawn("victim"), m.spawn("fuzzer"))
    v = w.victim
    w.vfd = igt.drm_open_driver(v)
    w.v_obj = igt.gem_create(v, w.vfd, 2 * PAGE_SIZE)
    igt.gem_write(v, w.vfd, w.v_obj, 100, VICTIM_DATA)
    w.v_map = igt.gem_mmap__wb(v, w.vfd, w.v_obj, 2 * PAGE_SIZE)
    w.v_mem = _anon(v, 2)
    v.write(w.v_mem, VICTIM_DATA)
    w.v_userptr = igt.gem_userptr(v, w.vfd, w.v_mem, 2 * PAGE_SIZE)
    w.victim_handles = [w.v_obj, w.v_userptr]
    f = w.fuzzer
    w.fds = [igt.drm_open_driver(f), igt.drm_open_driver_render(f)]
    w.uptr = _anon(f, 2)
    w.handles = [igt.gem_create(f, w.fds[0], PAGE_SIZE),
                 igt.gem_userptr(f, w.fds[0], w.uptr, 2 * PAGE_SIZE),
                 igt.gem_create(f, w.fds[1], 3 * PAGE_SIZE)]
    w.gtt = igt.gem_mmap__gtt(f, w.fds[0], w.handles[0], PAGE_SIZE)
    garbage = [rng.getrandbits(32) for _ in range(rng.randrange(1, 32))]
    for words in ([MI_BATCH_BUFFER_END, MI_NOOP],
                  [MI_STORE_DWORD_IMM, 0x1000, 0, 0xDEADBEEF, MI_BATCH_BUFFER_END, MI_NOOP],
                  [*garbage, MI_BATCH_BUFFER_END, MI_NOOP]):
        h = igt.gem_create(f, w.fds[0], PAGE_SIZE)
        igt.gem_write(f, w.fds[0], h, 0, _batch(words))
        w.batches.append(h)
    w.handles += w.batches
    w.scratch = _anon(f, SCRATCH_PAGES + 1)
    f.munmap(w.scratch + SCRATCH_PAGES * PAGE_SIZE, PAGE_SIZE)   # a hole right after it
    f.write(w.scratch, rng.randbytes(SCRATCH_PAGES * PAGE_SIZE))
    w.readonly = _anon(f, 1, PROT_READ)
    return w


def _known_good_sequence(w: World) -> None:
    f = w.fuzzer
    fd = igt.drm_open_driver(f)
    h = igt.gem_create(f, fd, 2 * PAGE_SIZE)
    igt.gem_write(f, fd, h, 10, b"still works")
    assert igt.gem_read(f, fd, h, 10, 11) == b"still works", "pwrite/pread broke"
    ptr = _anon(f, 2)
    u = igt.gem_userptr(f, fd, ptr, 2 * PAGE_SIZE)
    assert igt.__gem_set_domain(f, fd, u, uapi.I915_GEM_DOMAIN_CPU, 0) == 0, "userptr broke"
    addr = igt.gem_mmap__wb(f, fd, h, 2 * PAGE_SIZE)
    assert f.read(addr + 10, 11) == b"still works", "mmap_offset broke"
    assert igt.gem_getparam(f, fd, uapi.I915_PARAM_CHIPSET_ID) > 0, "getparam broke"
    f.close(fd)


def _victim_untouched(w: World) -> None:
    v = w.victim
    assert igt.gem_read(v, w.vfd, w.v_obj, 100, len(VICTIM_DATA)) == VICTIM_DATA, \
        "the victim's object changed"
    assert v.read(w.v_map + 100, len(VICTIM_DATA)) == VICTIM_DATA, "the victim's mapping changed"
    assert v.read(w.v_mem, len(VICTIM_DATA)) == VICTIM_DATA, "the victim's memory changed"
    assert igt.__gem_set_domain(v, w.vfd, w.v_userptr, uapi.I915_GEM_DOMAIN_CPU, 0) == 0, \
        "the victim's userptr broke"


def check_world(w: World) -> None:
    """The end-of-run checks (AssertionError naming what broke); always frees the machine."""
    try:
        _known_good_sequence(w)
        _victim_untouched(w)
        w.fuzzer.exit()
        w.victim.exit()
        w.machine.shutdown()
        leaks = w.machine.counters().leaks()
        assert leaks == {}, f"leaked after exit: {leaks}"
    finally:
        release_world(w)


def release_world(w: World) -> None:
    """Stop the GPU's engine threads of ``w`` (idempotent)."""
    for proc in (w.fuzzer, w.victim):
        try:
            proc.exit()
        except Exception:        # already exited, or the check above found it broken
            pass
    try:
        w.machine.shutdown()
    except Exception:
        pass
    g = gpu.attach(w.machine.device)
    for engine in list(g.engines.values()):
        engine.fini()
    g.reap(wait=True)
