"""Kref: concurrent gets and puts, exactly one release."""

from __future__ import annotations

import pytest
from sync_threads import Threads

from softgem.errors import SimBug
from softgem.sync import Kref


def test_concurrent_gets_and_puts_release_exactly_once(threads: Threads) -> None:
    ref = Kref()
    released: list[int] = []

    def churn() -> None:
        for _ in range(500):
            ref.get()
            assert not ref.put(lambda: released.append(1))

    for i in range(4):
        threads.start(churn, f"c{i}")
    threads.join()
    assert ref.read() == 1 and released == []
    assert ref.put(lambda: released.append(1))
    assert released == [1]


def test_get_unless_zero_refuses_a_released_object() -> None:
    ref = Kref()
    assert ref.get_unless_zero() and ref.read() == 2
    ref.put()
    ref.put()
    assert not ref.get_unless_zero()


@pytest.mark.parametrize("op", ["get", "put"])
def test_touching_a_released_kref_is_a_bug(op: str) -> None:
    ref = Kref()
    ref.put()
    with pytest.raises(SimBug):
        getattr(ref, op)()
