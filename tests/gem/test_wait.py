"""BUSY and WAIT over the object's reservation, with engine fences standing in for requests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from softgem.errors import EINVAL, ENOENT, ETIME
from softgem.gem.create import gem_create
from softgem.gem.device import GemDevice
from softgem.gem.file import DrmFile
from softgem.gem.resv import Usage
from softgem.gem.wait import I915_ENGINE_CLASS_INVALID, busy, wait
from softgem.mm import PhysMem
from softgem.units import PAGE_SIZE

RENDER, COPY, VIDEO = 0, 1, 2


class Request:
    """An i915 request on an engine of ``uabi_class``; ``finish_on_wait`` completes it."""

    def __init__(self, uabi_class: int, *, done: bool = False,
                 finish_on_wait: bool = True) -> None:
        self.uabi_class = uabi_class
        self.done = done
        self.finish_on_wait = finish_on_wait
        self.waits: list[float | None] = []

    def signaled(self) -> bool:
        return self.done

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        self.done = self.done or self.finish_on_wait
        return self.done


class Foreign(Request):
    """A fence from another driver: no engine class."""

    def __init__(self) -> None:
        super().__init__(RENDER)
        del self.uabi_class


class Composite:
    """A fence array of a parallel submission."""

    def __init__(self, *children: Request) -> None:
        self.children = list(children)

    def signaled(self) -> bool:
        return all(c.signaled() for c in self.children)

    def wait(self, timeout: float | None = None) -> bool:
        return all(c.wait(timeout) for c in self.children)


class Clock:
    """A deterministic clock: each reading advances by ``step`` ns."""

    def __init__(self, step: int) -> None:
        self.now = 0
        self.step = step

    def __call__(self) -> int:
        self.now += self.step
        return self.now


@pytest.fixture
def dev() -> GemDevice:
    return GemDevice(PhysMem(16))


@pytest.fixture
def file(dev: GemDevice) -> Iterator[DrmFile]:
    f = dev.open(0)
    yield f
    f.release()
    assert dev.counters()["objects"] == 0


@pytest.fixture
def handle(dev: GemDevice, file: DrmFile) -> int:
    return gem_create(dev, file, PAGE_SIZE)[0]


def _add(file: DrmFile, handle: int, fence: object, usage: Usage) -> None:
    obj = file.lookup(handle)
    obj.resv.add_fence(fence, usage)  # type: ignore[arg-type]
    obj.put()


# -- BUSY ----------------------------------------------------------------------------------------
def test_busy_of_a_bad_handle_is_enoent(dev: GemDevice, file: DrmFile) -> None:
    with pytest.raises(ENOENT):
        busy(dev, file, 1)


@pytest.mark.parametrize(("fences", "expect"), [
    ([], 0),
    ([(Request(RENDER), Usage.WRITE)], 0x00010001),
    ([(Request(COPY), Usage.READ)], 0x00020000),
    ([(Request(RENDER), Usage.READ), (Request(VIDEO), Usage.READ)], 0x00050000),
    ([(Request(COPY), Usage.WRITE), (Request(RENDER), Usage.READ)], 0x00030002),
    ([(Request(VIDEO), Usage.KERNEL)], 0x00040003),      # kernel fences are exclusive too
    ([(Request(RENDER), Usage.BOOKKEEP)], 0),             # not reported
    ([(Request(RENDER, done=True), Usage.WRITE)], 0),
    ([(Foreign(), Usage.WRITE)], 0),                      # only i915 requests are reported
    ([(Request(I915_ENGINE_CLASS_INVALID), Usage.WRITE)], 0xFFFFFFFF),
    ([(Request(I915_ENGINE_CLASS_INVALID), Usage.READ)], 0xFFFF0000),
    ([(Composite(Request(COPY, done=True), Request(VIDEO)), Usage.READ)], 0x00040000),
    ([(Composite(Request(COPY, done=True)), Usage.READ)], 0),
    ([(Composite(Foreign(), Request(VIDEO)), Usage.READ)], 0),
])
def test_busy_encodes_the_engines_of_pending_requests(
        dev: GemDevice, file: DrmFile, handle: int, fences: list[tuple[object, Usage]],
        expect: int) -> None:
    for fence, usage in fences:
        _add(file, handle, fence, usage)
    assert busy(dev, file, handle) == expect


# -- WAIT ----------------------------------------------------------------------------------------
def test_wait_flags_are_checked_before_the_handle(dev: GemDevice, file: DrmFile) -> None:
    with pytest.raises(EINVAL):
        wait(dev, file, 99, 1, 0)
    with pytest.raises(ENOENT):
        wait(dev, file, 99, 0, 0)


@pytest.mark.parametrize("timeout", [-1, 0, 1, 10**9])
def test_wait_on_an_idle_object_returns_the_timeout_untouched(
        dev: GemDevice, file: DrmFile, handle: int, timeout: int) -> None:
    clock = Clock(step=5)
    assert wait(dev, file, handle, 0, timeout, clock=clock) == timeout
    assert clock.now == 0        # an idle object never looks at the clock


def test_wait_with_a_zero_timeout_polls(dev: GemDevice, file: DrmFile, handle: int) -> None:
    rq = Request(RENDER)
    _add(file, handle, rq, Usage.READ)
    with pytest.raises(ETIME):
        wait(dev, file, handle, 0, 0)
    assert rq.waits == []


def test_wait_returns_the_time_left(dev: GemDevice, file: DrmFile, handle: int) -> None:
    rq = Request(COPY)
    _add(file, handle, rq, Usage.READ)
    assert wait(dev, file, handle, 0, 1000, clock=Clock(step=300)) == 700
    (bound,) = rq.waits
    assert bound is not None and bound <= 1e-6      # a bounded wait, never for ever


def test_wait_that_times_out_is_etime(dev: GemDevice, file: DrmFile, handle: int) -> None:
    _add(file, handle, Request(RENDER, finish_on_wait=False), Usage.WRITE)
    with pytest.raises(ETIME):
        wait(dev, file, handle, 0, 50, clock=Clock(step=100))


def test_a_negative_timeout_waits_for_ever(dev: GemDevice, file: DrmFile, handle: int) -> None:
    writer, reader = Request(RENDER), Request(COPY)
    _add(file, handle, writer, Usage.WRITE)
    _add(file, handle, reader, Usage.READ)
    assert wait(dev, file, handle, 0, -5) == -5
    assert writer.waits == [None] and reader.waits == [None]
    assert busy(dev, file, handle) == 0
