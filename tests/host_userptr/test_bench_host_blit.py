"""The host-blit benchmark's program blits and checks its bytes under softgem run, and the
floor moves every byte (no timing is asserted)."""

from __future__ import annotations

from softgem.bench import host_blit


def test_the_blit_program_and_the_floor_run() -> None:
    cpu, gpu = host_blit.measure(1)      # the program exits non-zero if dst != src
    assert 0 < cpu < 10 and 0 < gpu < 60
    assert 0 < host_blit.floor(1) < 60   # raises if a move was short
