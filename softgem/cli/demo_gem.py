"""The GEM scenes of ``softgem demo`` (userptr, mmap_offset)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..machine import Machine
    from .demo import Narrator

__all__ = ["GEM_SCENES"]

GEM_SCENES: list[Callable[[Narrator, Machine], None]] = []
