"""Many threads on one address space at once: every thread's data stays its own."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest
from mmtest import ANON, RW, SHARED_ANON, DeviceFile, P

from softgem.errors import Segfault
from softgem.mm import Mm, PhysMem, pin_user_pages, unpin_user_pages
from softgem.posix import MADV_DONTNEED, MAP_SHARED, PROT_READ


def _run(workers: list[Callable[[], None]]) -> None:
    start = threading.Barrier(len(workers))
    failures: list[BaseException] = []

    def wrap(fn: Callable[[], None]) -> Callable[[], None]:
        def body() -> None:
            start.wait()
            try:
                fn()
            except BaseException as e:      # reported to the test thread below
                failures.append(e)
        return body

    threads = [threading.Thread(target=wrap(w)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    if failures:
        raise failures[0]


def _writer(mm: Mm, seed: int) -> Callable[[], None]:
    """Random writes to its own mapping, dropped now and then, checked against a shadow."""
    def run() -> None:
        rng = random.Random(seed)
        a = mm.mmap(0, 8 * P, RW, ANON)
        shadow = bytearray(8 * P)
        for i in range(150):
            off = rng.randrange(8 * P - 64)
            data = bytes([seed, i & 0xFF]) * 32
            mm.cpu_write(a + off, data)
            shadow[off:off + 64] = data
            if i % 37 == 0:
                mm.madvise(a, 4 * P, MADV_DONTNEED)
                shadow[:4 * P] = bytes(4 * P)
            assert mm.cpu_read(a, 8 * P) == bytes(shadow)
        mm.munmap(a, 8 * P)
    return run


def test_readers_writers_unmappers_forkers_and_pinners_share_one_mm() -> None:
    phys = PhysMem(8192, rng=random.Random(1))
    mm = Mm(phys, rng=random.Random(2))
    dev = DeviceFile(phys, 4)
    devmap = mm.mmap(0, 4 * P, RW, MAP_SHARED, file=dev)
    shared = mm.mmap(0, 4 * P, RW, SHARED_ANON)

    def churner() -> None:
        a = mm.mmap(0, 2 * P, RW, ANON)
        for i in range(200):
            b = mm.mmap(0, 1000, RW, ANON)
            mm.cpu_write(b, b"tmp")
            mm.munmap(b, 1000)
            mm.mprotect(a, 2 * P, PROT_READ if i % 2 else RW)
        with pytest.raises(Segfault):
            mm.cpu_write(a, b"x")   # the last round (i = 199) left it read-only

    def forker() -> None:
        for _ in range(15):
            child = mm.fork()
            child.cpu_write(shared, b"child")
            child.exit_mmap()

    def pinner() -> None:
        a = mm.mmap(0, 4 * P, RW, ANON)
        for i in range(60):
            pfns = pin_user_pages(mm, a, 4, write=True)
            phys.write(pfns[i % 4], 0, b"dma%d" % i)
            assert mm.cpu_read(a + (i % 4) * P, 3 + len(str(i))) == b"dma%d" % i
            unpin_user_pages(phys, pfns, dirty=True)

    def revoker() -> None:
        for _ in range(100):
            dev.mapping.unmap_mapping_range()

    def device_reader() -> None:
        for i in range(150):
            mm.cpu_write(devmap + (i % 4) * P, b"d")
            assert mm.cpu_read(devmap + (i % 4) * P, 1) == b"d"

    _run([_writer(mm, 1), _writer(mm, 2), _writer(mm, 3), churner, forker, pinner, revoker, device_reader])
    mm.exit_mmap()
    dev.free()
    assert phys.nr_used() == 0 and phys.nr_pinned() == 0
