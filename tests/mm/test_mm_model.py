"""A Hypothesis state machine comparing Mm with a byte-level reference model.

The model knows, per page, the protection and where the bytes live (a private buffer, or
page ``pgoff`` of a shared anonymous object); it predicts the result of every CPU access,
errno for errno, and the bytes read.  VMA boundaries are implementation detail, so for
mremap the model asks the real mm where the VMA around the old address ends (before the
call) -- everything else is predicted independently.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import hypothesis.strategies as st
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from softgem.errors import EFAULT, EINVAL, ENOMEM, KernelError, Segfault, Sigbus
from softgem.mm import Mm, PhysMem
from softgem.posix import (
    MADV_DONTNEED,
    MAP_ANONYMOUS,
    MAP_FIXED,
    MAP_PRIVATE,
    MAP_SHARED,
    MREMAP_FIXED,
    MREMAP_MAYMOVE,
    PROT_NONE,
    PROT_READ,
    PROT_WRITE,
)
from softgem.units import PAGE_SIZE as P

BASE = 0x7000_0000_0000
WINDOW = 16  # pages
PROTS = [PROT_NONE, PROT_READ, PROT_WRITE, PROT_READ | PROT_WRITE]


@dataclass
class Page:
    prot: int
    shm: int | None        # shared object id, or None for private memory
    pgoff: int = 0


class Model:
    """One address space: pages and private bytes; shared bytes live in ``World``."""

    def __init__(self) -> None:
        self.pages: dict[int, Page] = {}
        self.private: dict[int, bytearray] = {}

    def copy(self) -> Model:
        m = Model()
        m.pages = {a: Page(p.prot, p.shm, p.pgoff) for a, p in self.pages.items()}
        m.private = {a: bytearray(b) for a, b in self.private.items()}
        return m

    def unmap(self, start: int, npages: int) -> None:
        for i in range(npages):
            self.pages.pop(start + i * P, None)
            self.private.pop(start + i * P, None)


class World:
    def __init__(self) -> None:
        self.shm_size: dict[int, int] = {}
        self.shm_data: dict[tuple[int, int], bytearray] = {}
        self.next_id = 0

    def buffer(self, m: Model, addr: int) -> bytearray | None:
        """The bytes behind ``addr``; None when a shared page lies past its object."""
        page = m.pages[addr]
        if page.shm is None:
            return m.private.setdefault(addr, bytearray(P))
        if page.pgoff >= self.shm_size[page.shm]:
            return None
        return self.shm_data.setdefault((page.shm, page.pgoff), bytearray(P))


class MmMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.phys = PhysMem(2048, rng=random.Random(5))
        self.world = World()
        self.mms: list[tuple[Mm, Model]] = [(Mm(self.phys, rng=random.Random(6)), Model())]

    # -- helpers --------------------------------------------------------------------------
    def pick(self, i: int) -> tuple[Mm, Model]:
        return self.mms[i % len(self.mms)]

    def known_page(self, model: Model, k: int) -> int:
        """Mostly a mapped page (where things happen), sometimes any window page."""
        if k < 32 and model.pages:
            pages = sorted(model.pages)
            return pages[k % len(pages)]
        return BASE + (k % WINDOW) * P

    # -- rules ----------------------------------------------------------------------------
    @initialize(byte=st.integers(1, 255))
    def populate(self, byte: int) -> None:
        """Start with written private and shared memory, so every step has work to do."""
        self.mmap_fixed(0, 0, 6, PROT_READ | PROT_WRITE, False)
        self.mmap_fixed(0, 8, 4, PROT_READ | PROT_WRITE, True)
        self.write(0, 0, 100, 6 * P, byte)
        self.write(0, 6, 0, 4 * P, byte ^ 0xFF)

    @rule(i=st.integers(0, 3), page=st.integers(0, WINDOW - 1), n=st.integers(1, 6),
          prot=st.sampled_from(PROTS), shared=st.booleans())
    def mmap_fixed(self, i: int, page: int, n: int, prot: int, shared: bool) -> None:
        mm, model = self.pick(i)
        n = min(n, WINDOW - page)
        addr = BASE + page * P
        flags = MAP_FIXED | MAP_ANONYMOUS | (MAP_SHARED if shared else MAP_PRIVATE)
        assert mm.mmap(addr, n * P, prot, flags) == addr
        model.unmap(addr, n)
        shm = None
        if shared:
            shm = self.world.next_id
            self.world.next_id += 1
            self.world.shm_size[shm] = n
        for j in range(n):
            model.pages[addr + j * P] = Page(prot, shm, j)

    @rule(i=st.integers(0, 3), page=st.integers(0, WINDOW - 1), n=st.integers(1, 6))
    def munmap(self, i: int, page: int, n: int) -> None:
        mm, model = self.pick(i)
        mm.munmap(BASE + page * P, n * P)
        model.unmap(BASE + page * P, n)

    @rule(i=st.integers(0, 3), k=st.integers(0, 40), n=st.integers(1, 6),
          prot=st.sampled_from(PROTS))
    def mprotect(self, i: int, k: int, n: int, prot: int) -> None:
        mm, model = self.pick(i)
        start = self.known_page(model, k)
        expect_error = False
        for j in range(n):
            page = model.pages.get(start + j * P)
            if page is None:
                expect_error = True
                break
            page.prot = prot
        if expect_error:
            try:
                mm.mprotect(start, n * P, prot)
            except ENOMEM:
                return
            raise AssertionError("mprotect over a hole succeeded")
        mm.mprotect(start, n * P, prot)

    @rule(i=st.integers(0, 3), k=st.integers(0, 40), n=st.integers(1, 6))
    def madvise_dontneed(self, i: int, k: int, n: int) -> None:
        mm, model = self.pick(i)
        start = self.known_page(model, k)
        hole = False
        for j in range(n):
            addr = start + j * P
            page = model.pages.get(addr)
            if page is None:
                hole = True
            elif page.shm is None:
                model.private.pop(addr, None)
        try:
            mm.madvise(start, n * P, MADV_DONTNEED)
            assert not hole, "madvise over a hole succeeded"
        except ENOMEM:
            assert hole

    @rule(i=st.integers(0, 3), k=st.integers(0, 40), old=st.integers(1, 4),
          new=st.integers(1, 6), fixed=st.booleans(), dest=st.integers(0, WINDOW - 1))
    def mremap(self, i: int, k: int, old: int, new: int, fixed: bool, dest: int) -> None:
        mm, model = self.pick(i)
        addr = self.known_page(model, k)
        vma = mm.vma_lookup(addr)
        t = BASE + dest * P
        flags = MREMAP_MAYMOVE | (MREMAP_FIXED if fixed else 0)
        try:
            got = mm.mremap(addr, old * P, new * P, flags, t if fixed else 0)
        except KernelError as e:
            self._expect_mremap_error(model, e, vma, addr, old, new, fixed, t)
            return
        assert vma is not None
        self._apply_mremap(model, addr, old, new, got, fixed, t)

    def _expect_mremap_error(self, model: Model, e: KernelError, vma: object, addr: int,
                             old: int, new: int, fixed: bool, t: int) -> None:
        if vma is None:
            assert isinstance(e, EFAULT)
        elif fixed and addr + old * P > t and t + new * P > addr:
            assert isinstance(e, EINVAL)
        else:
            # the only later refusal: the old range crosses the end of its mapping (fixed
            # moves have already unmapped their target, and shrunk the source, by then)
            assert isinstance(e, EFAULT), e
            if fixed:
                model.unmap(t, new)
                if old > new:
                    model.unmap(addr + new * P, old - new)

    def _apply_mremap(self, model: Model, addr: int, old: int, new: int, got: int,
                      fixed: bool, t: int) -> None:
        if fixed:
            model.unmap(t, new)
        keep = min(old, new)
        if old > new:
            model.unmap(addr + new * P, old - new)
        if got == addr:             # resized in place
            first = model.pages[addr]
            for j in range(keep, new):
                model.pages[addr + j * P] = Page(first.prot, first.shm, first.pgoff + j)
            return
        first = model.pages[addr]
        moved = [(model.pages.pop(addr + j * P), model.private.pop(addr + j * P, None))
                 for j in range(keep)]
        for j, (page, data) in enumerate(moved):
            model.pages[got + j * P] = page
            if data is not None:
                model.private[got + j * P] = data
        for j in range(keep, new):
            model.pages[got + j * P] = Page(first.prot, first.shm, first.pgoff + j)

    @rule(i=st.integers(0, 3), k=st.integers(0, 40), off=st.integers(0, P - 1),
          n=st.integers(1, 2 * P), byte=st.integers(1, 255))
    def write(self, i: int, k: int, off: int, n: int, byte: int) -> None:
        mm, model = self.pick(i)
        addr = self.known_page(model, k) + off
        fail = self._walk(model, addr, n, write=True, byte=byte)
        try:
            mm.cpu_write(addr, bytes([byte]) * n)
            assert fail is None, f"write should have failed at {fail}"
        except Segfault as e:
            assert fail is not None and (e.addr, isinstance(e, Sigbus)) == fail

    @rule(i=st.integers(0, 3), k=st.integers(0, 40), off=st.integers(0, P - 1),
          n=st.integers(1, 2 * P))
    def read(self, i: int, k: int, off: int, n: int) -> None:
        mm, model = self.pick(i)
        addr = self.known_page(model, k) + off
        expected = bytearray()
        fail = self._walk(model, addr, n, write=False, out=expected)
        try:
            got = mm.cpu_read(addr, n)
            assert fail is None and got == bytes(expected)
        except Segfault as e:
            assert fail is not None and (e.addr, isinstance(e, Sigbus)) == fail

    def _walk(self, model: Model, addr: int, n: int, write: bool, byte: int = 0,
              out: bytearray | None = None) -> tuple[int, bool] | None:
        """Apply/collect an access page by page; the (address, sigbus) where it stops."""
        pos, end = addr, addr + n
        while pos < end:
            page_addr = pos & ~(P - 1)
            stop = min(end, page_addr + P)
            page = model.pages.get(page_addr)
            need = PROT_WRITE if write else (PROT_READ | PROT_WRITE)
            if page is None or not page.prot & need:
                return pos, False
            buf = self.world.buffer(model, page_addr)
            if buf is None:
                return pos, True
            lo, hi = pos - page_addr, stop - page_addr
            if write:
                buf[lo:hi] = bytes([byte]) * (hi - lo)
            else:
                assert out is not None
                out += buf[lo:hi]
            pos = stop
        return None

    @precondition(lambda self: len(self.mms) < 3)
    @rule(i=st.integers(0, 3))
    def fork(self, i: int) -> None:
        mm, model = self.pick(i)
        self.mms.append((mm.fork(), model.copy()))

    @precondition(lambda self: len(self.mms) > 1)
    @rule(i=st.integers(1, 3))
    def exit(self, i: int) -> None:
        mm, _ = self.mms.pop(1 + (i - 1) % (len(self.mms) - 1))
        mm.exit_mmap()

    # -- invariants -----------------------------------------------------------------------
    @invariant()
    def mappings_match_the_model(self) -> None:
        for mm, model in self.mms:
            real: dict[int, int] = {}
            for v in mm.vmas():
                for a in range(v.start, v.end, P):
                    real[a] = v.flags & 0x3
            assert real == {a: p.prot & 0x3 for a, p in model.pages.items()}

    @invariant()
    def every_readable_page_holds_the_models_bytes(self) -> None:
        for mm, model in self.mms:
            for addr, page in model.pages.items():
                if not page.prot & (PROT_READ | PROT_WRITE):
                    continue
                if page.shm is None:
                    want = bytes(model.private.get(addr, bytes(P)))
                elif page.pgoff < self.world.shm_size[page.shm]:
                    want = bytes(self.world.shm_data.get((page.shm, page.pgoff), bytes(P)))
                else:
                    continue
                assert mm.cpu_read(addr, P) == want, f"page {addr:#x}"

    def teardown(self) -> None:
        for mm, _ in self.mms:
            mm.exit_mmap()
        assert self.phys.nr_used() == 0 and self.phys.nr_pinned() == 0


MmMachine.TestCase.settings = settings(
    max_examples=60, stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestMmAgainstModel = MmMachine.TestCase
