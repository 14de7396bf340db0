"""Shared fixtures for the GEM tests.

``gem_env`` builds a device, a DRM file and an address space (see ``gemtest.GemEnv``) and
checks the leak counters when the test ends: every object freed, every offset node removed,
no frame used or pinned.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from gemtest import GemEnv


@pytest.fixture
def gem_env() -> Iterator[GemEnv]:
    env = GemEnv()
    yield env
    env.teardown()
