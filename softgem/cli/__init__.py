"""The ``softgem`` command line: ``demo`` (the main job), ``bench NAME``, ``run -- PROGRAM``."""

from __future__ import annotations

from .main import main

__all__ = ["main"]
