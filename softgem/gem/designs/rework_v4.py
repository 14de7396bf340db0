"""rework-v4: the v5.13 design as posted in v4 of the series (October 2020), with the
submit_done loop the review caught (seed 003, Thomas Hellstrom: "Aren't we missing index 0
here?"): ``for (i = count - 1; i; i--)`` never checks the first execbuf object, so a userptr
at index 0 invalidated between submit_init and submit_done runs on its old pages.

The v4 callback also waited for the object's GPU work when the task was exiting: v5 of the
series added the PF_EXITING skip ("Do not wait when process is exiting to fix
gem_ctx_persistence.userptr"), so an exiting process here waits for its own batches.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from . import register
from .v5_13 import V5_13

if TYPE_CHECKING:
    from ..object import GemObject

__all__ = ["ReworkV4"]


class ReworkV4(V5_13):
    name = "rework-v4"
    skip_wait_on_exit = False

    def submit_done_all(self, objs: Sequence[GemObject]) -> None:
        with self.notifier_read():
            for i in range(len(objs) - 1, 0, -1):      # stops before index 0
                if self.is_userptr(objs[i]):
                    self.submit_done(objs[i])


register("rework-v4", ReworkV4)
