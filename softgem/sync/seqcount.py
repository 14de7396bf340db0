"""SeqCount: a sequence counter for lockless readers of data guarded by a writer lock."""

from __future__ import annotations

from types import TracebackType

from ..errors import SimBug
from . import task as _task

__all__ = ["SeqCount"]


class SeqCount:
    """Even: stable; odd: a writer is inside.  Writers must be serialised by their own lock.

    ======  ===========================================
    seq     meaning
    ======  ===========================================
    even    no writer; a read section that starts and ends with this value is consistent
    odd     a writer is between ``write_begin`` and ``write_end``
    ======  ===========================================
    """

    __slots__ = ("name", "seq")

    def __init__(self, name: str) -> None:
        self.name = name
        self.seq = 0

    def write_begin(self) -> None:
        if _task.runtime is not None:
            _task.runtime.point("seqcount.write_begin", self)
        if self.seq & 1:
            raise SimBug(f"seqcount {self.name}: nested write_begin")
        self.seq += 1

    def write_end(self) -> None:
        if _task.runtime is not None:
            _task.runtime.point("seqcount.write_end", self)
        if not self.seq & 1:
            raise SimBug(f"seqcount {self.name}: write_end without write_begin")
        self.seq += 1

    def __enter__(self) -> SeqCount:
        """``with seq:`` -- a write section (``write_begin``/``write_end``)."""
        self.write_begin()
        return self

    def __exit__(self, t: type[BaseException] | None, v: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.write_end()

    def read_begin(self) -> int:
        """The current even sequence (callers spin on odd values with ``read_retry``)."""
        if _task.runtime is not None:
            _task.runtime.point("seqcount.read_begin", self)
        return self.seq & ~1

    def read_retry(self, start: int) -> bool:
        """True when a writer ran (or is running) since ``read_begin`` returned ``start``."""
        if _task.runtime is not None:
            _task.runtime.point("seqcount.read_retry", self)
        return self.seq != start
