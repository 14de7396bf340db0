"""``softgem demo``: the narrated tour of the simulated machine (filled in scene by scene)."""

from __future__ import annotations

__all__ = ["run_demo"]


def run_demo(fast: bool = False) -> int:
    return 0
