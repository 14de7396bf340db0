"""softgem.fuzz: a structure-aware ioctl fuzzer with a victim process (top layer).

``run_campaign(seconds, seed)`` fuzzes fresh machines for a time budget and returns a
:class:`Report` (ioctls tried, errnos seen, failures with reproducers); ``softgem fuzz`` is
its command line.  A failure replays with ``replay(seed, calls)``.
"""

from .calls import ROWS as ROWS_COVERED
from .calls import Call, apply, draw_call
from .campaign import Failure, Report, replay, reproducer, run_campaign
from .world import World, build_world, check_world, release_world

__all__ = ["ROWS_COVERED", "Call", "Failure", "Report", "World", "apply", "build_world", "check_world",
           "draw_call", "release_world", "replay", "reproducer", "run_campaign"]
