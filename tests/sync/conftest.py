"""Fixtures for the sync tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sync_threads import Threads


@pytest.fixture
def threads() -> Iterator[Threads]:
    """Threads started by the test; joined (and their failures raised) at teardown."""
    ts = Threads()
    yield ts
    ts.join()
