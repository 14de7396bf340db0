"""Benchmarks: each measures its subject and its baseline side by side in one run.

A benchmark is a function ``(quick: bool) -> BenchResult``; :func:`run` prints its figures and
a last line with the ratio and the target, and returns the process exit status (1 when the
target is missed).
"""

from __future__ import annotations

from .runner import BENCHMARKS, BenchResult, register, run

__all__ = ["BENCHMARKS", "BenchResult", "register", "run"]
