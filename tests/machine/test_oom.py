"""A CPU access whose fault runs out of memory: the OOM killer kills the process.

VM_FAULT_OOM from a user-mode fault goes to the OOM killer (``mm_fault_error`` ->
``pagefault_out_of_memory``; the allocation that failed already ran ``out_of_memory``), which
kills with SIGKILL.  No errno ever leaves ``Process.read`` / ``Process.write``.
"""

from __future__ import annotations

import errno
import signal
from collections.abc import Iterator

import pytest

import softgem
from softgem import igt
from softgem.posix import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE
from softgem.units import PAGE_SIZE

RW = PROT_READ | PROT_WRITE
MEMORY = 8 << 20


@pytest.fixture
def machine() -> Iterator[softgem.Machine]:
    m = softgem.Machine(memory=MEMORY)
    yield m
    m.shutdown()
    assert m.counters().leaks() == {}


def assert_oom_killed(proc: softgem.Process) -> None:
    assert not proc.alive
    assert proc.term_signal == signal.SIGKILL
    assert proc.exit_status == 128 + signal.SIGKILL
    with pytest.raises(OSError) as info:
        proc.read(0, 1)
    assert info.value.errno == errno.ESRCH


def test_an_anonymous_fault_out_of_memory_kills_the_process(machine: softgem.Machine) -> None:
    proc = machine.spawn()
    bystander = machine.spawn()
    keep = bystander.mmap(0, PAGE_SIZE, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    bystander.write(keep, b"alive")
    big = proc.mmap(0, 2 * MEMORY, RW, MAP_PRIVATE | MAP_ANONYMOUS)
    with pytest.raises(softgem.OomKilled) as info:
        proc.write(big, b"\1" * (2 * MEMORY))
    assert info.value.write and big <= info.value.addr < big + 2 * MEMORY
    assert_oom_killed(proc)
    assert bystander.read(keep, 5) == b"alive"      # the victim's memory came back
    bystander.exit()


def test_a_gem_mmap_fault_whose_get_pages_is_enomem_kills_the_process(
        machine: softgem.Machine) -> None:
    proc = machine.spawn()
    fd = igt.drm_open_driver(proc)
    bo = igt.gem_create(proc, fd, 2 * MEMORY)           # creation allocates nothing
    wb = igt.gem_mmap__wb(proc, fd, bo, 2 * MEMORY)
    with pytest.raises(softgem.OomKilled) as info:
        proc.read(wb, 1)
    assert not info.value.write
    assert_oom_killed(proc)
