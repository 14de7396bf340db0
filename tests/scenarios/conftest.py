"""Fixtures for the cross-layer scenarios: a machine with its GPU and a quick hang timeout.

Every scenario ends with every process exited and every leak counter at zero.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import softgem
import softgem.gpu


@pytest.fixture
def design() -> str:
    """The userptr design of ``machine``: today's, or each of an era for a test marked
    ``userptr_era`` (tests/conftest.py)."""
    return "v6.8"


@pytest.fixture
def machine(design: str) -> Iterator[softgem.Machine]:
    m = softgem.Machine(memory=96 << 20, userptr_design=design)
    gpu = softgem.gpu.attach(m.device)
    gpu.hang_timeout = 0.5
    yield m
    m.shutdown()
    leaks = m.counters().leaks()          # exact at once: exit waited for the GPU work
    quiesce(gpu)
    assert leaks == {}


def quiesce(gpu: softgem.gpu.Gpu) -> None:
    """Stop every engine's kernel thread (they are made again on the next submit) and reap,
    so no machine's threads outlive its test."""
    for engine in list(gpu.engines.values()):
        engine.fini()
    gpu.reap(wait=True)
