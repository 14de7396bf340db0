"""softgem.machine: the simulated Machine and its Processes (the public Python API)."""

from __future__ import annotations

from .files import FdTable, FileBase, OpenFile
from .machine import DEVICE_PATHS, Counters, Machine
from .process import Process

__all__ = ["DEVICE_PATHS", "Counters", "FdTable", "FileBase", "Machine", "OpenFile", "Process"]
