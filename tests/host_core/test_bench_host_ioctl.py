"""The host-ioctl benchmark's three contenders run and measure (no timing is asserted)."""

from __future__ import annotations

import pathlib

from softgem.bench import host_ioctl
from softgem.bench.host_floor import floor_round_trip


def test_bare_floor_and_getparam_each_time_their_own_loop(tmp_path: pathlib.Path) -> None:
    exe = host_ioctl._compile(str(tmp_path))
    out = str(tmp_path / "result")
    for run in (host_ioctl._bare, floor_round_trip, host_ioctl._getparam):
        ns = run(exe, 200, out)             # the program exits non-zero on a failed call
        assert 0 < ns < 1e9
