"""Every ioctl with huge counts and sizes in every field costs a bounded amount of memory
(issue 12, acceptance).

Hypothesis fills each integer field of each table row's struct with a huge value (2^31,
2^32 - 1, 2^63, 2^64 - 1, 0x4000000, ...), a small one, or noise, and each pointer field with
the address of a small valid buffer (two pages, then a hole), NULL or noise.  The bound: the
peak of Python and numpy allocations during one call (tracemalloc, which sees every thread)
stays under CALL_BOUND -- the kernel itself would refuse, fail at the hole, or allocate only
what the readable memory holds, and softgem's chunked copies hold at most 64 KiB at a time.
"""

from __future__ import annotations

import ctypes
import tracemalloc
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import softgem
from softgem import gpu, igt
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from softgem.uapi import table
from softgem.units import PAGE_SIZE

CALL_BOUND = 4 << 20
HUGE = [1 << 31, (1 << 32) - 1, 1 << 32, 0x4000000, 15_790_318, 1 << 40, 1 << 63,
        (1 << 64) - 1, (1 << 64) - PAGE_SIZE, (1 << 47) - PAGE_SIZE]
ROWS = [d for d in (*table.CORE_IOCTLS, *table.I915_IOCTLS) if d.struct is not None]
POINTERS = {"value", "name", "date", "desc", "unique", "data_ptr", "user_ptr", "items_ptr",
            "extensions", "buffers_ptr", "cliprects_ptr", "relocs_ptr", "properties_ptr",
            "handles", "points", "addr_ptr", "regions"}


class Bench:
    def __init__(self) -> None:
        self.machine = softgem.Machine(memory=32 << 20)
        gpu.attach(self.machine.device).hang_timeout = 0.2
        self.proc = self.machine.spawn("huge")
        self.fd = igt.drm_open_driver(self.proc)
        self.handle = igt.gem_create(self.proc, self.fd, PAGE_SIZE)
        self.buf = self.proc.mmap(0, 3 * PAGE_SIZE, PROT_READ | PROT_WRITE,
                                  MAP_PRIVATE | MAP_ANONYMOUS)
        self.proc.munmap(self.buf + 2 * PAGE_SIZE, PAGE_SIZE)
        self.worst = (0, "")

    def close(self) -> None:
        self.proc.exit()
        self.machine.shutdown()
        g = gpu.attach(self.machine.device)
        for engine in list(g.engines.values()):
            engine.fini()
        g.reap(wait=True)


@pytest.fixture(scope="module")
def bench() -> Iterator[Bench]:
    b = Bench()
    tracemalloc.start()
    yield b
    tracemalloc.stop()
    b.close()
    assert b.machine.counters().leaks() == {}
    print(f"largest peak of one call: {b.worst[0]} bytes ({b.worst[1]})")


def _value(data: st.DataObject, b: Bench, name: str, width: int) -> int:
    if name in POINTERS and width == 8:
        return int(data.draw(st.sampled_from([b.buf, b.buf + 2 * PAGE_SIZE - 8, 0,
                                              (1 << 64) - 1])))
    if name in ("handle", "bo_handle") and data.draw(st.booleans()):
        return b.handle
    return data.draw(st.one_of(st.sampled_from(HUGE), st.integers(0, 64),
                               st.integers(0, (1 << 64) - 1)))


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_one_ioctl_with_huge_fields_costs_a_bounded_amount_of_memory(
        bench: Bench, data: st.DataObject) -> None:
    desc = data.draw(st.sampled_from(ROWS), label="row")
    assert desc.struct is not None
    s = desc.struct()
    for spec in desc.struct._fields_:
        name, ctype = spec[0], spec[1]
        if isinstance(ctype, type) and issubclass(ctype, ctypes._SimpleCData):
            width = ctypes.sizeof(ctype)
            setattr(s, name, _value(data, bench, name, width) & ((1 << (8 * width)) - 1))
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    try:
        bench.proc.ioctl(bench.fd, desc.cmd, s)
    except OSError as err:
        assert isinstance(err.errno, int) and err.errno > 0
    _, top = tracemalloc.get_traced_memory()
    grew = top - base
    if grew > bench.worst[0]:
        bench.worst = (grew, desc.name)
    assert grew < CALL_BOUND, f"{desc.name} {s!r} peaked at {grew} bytes"
