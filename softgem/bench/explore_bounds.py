"""``softgem bench explore-bounds``: every catalog scenario within its stated DFS bound.

For each shipped scenario, the preemption-bounded search with sleep sets (``dpor``) runs
exhaustively within ``K`` preemptions (lockdep on, every checker on), and, where it is cheap
enough to finish, the same search without the reduction (plain CHESS DFS, ``dfs-plain``):
the table of docs/explore.md comes from here.  ``--quick`` runs only the scenarios the test
suite also runs (tests/explore/test_explore_dpor.py).

Also a command: ``python3 -m softgem.bench.explore_bounds [-k K] [--jobs J] [--plain]
[--limit N] [NAME ...]`` prints one markdown row per scenario.
"""

from __future__ import annotations

import argparse
import sys
import time

from ..explore import explore
from ..scenarios import all_scenarios, get
from .runner import BenchResult

__all__ = ["CHEAP", "bench_explore_bounds", "row"]

#: Scenarios whose reduced K=2 search is cheap enough for CI (a few seconds each).
CHEAP = ("stress-mm-invalidate-close", "mmap-offset-close-race")


def row(name: str, k: int, jobs: int, limit: int, plain: bool) -> str:
    """One markdown row: schedules and time of the reduced search (and of the plain one)."""
    cells = [name]
    for strategy in ("dpor", "dfs-plain") if plain else ("dpor",):
        t0 = time.perf_counter()
        r = explore(get(name), strategy, preemptions=k, schedules=limit, jobs=jobs)
        dt = time.perf_counter() - t0
        if r.failed:
            msg = r.message.splitlines()[0] if r.message else ""
            cells.append(f"FAILED {r.kind} at {r.found_at}: {r.original_token} (shrunk: "
                         f"{r.token}): {msg}")
        else:
            cut = f" (+{r.pruned:,} cut short)" if strategy == "dpor" else ""
            done = "all" if "complete" in r.guarantee else "stopped at"
            cells.append(f"{done} {r.schedules:,}{cut}, {dt:.0f} s")
    return "| " + " | ".join(cells) + " |"


def bench_explore_bounds(quick: bool) -> BenchResult:
    all_scenarios()
    res = BenchResult("softgem explore: catalog scenarios within K=2 preemptions, reduced")
    names = CHEAP if quick else tuple(sorted(all_scenarios()))
    for name in names:
        res.add(name, row(name, 2, 1, 1_000_000, plain=quick))
    res.notes.append("dpor: preemption-bounded DFS with sleep sets (docs/explore.md); "
                     "dfs-plain: the same tree without reduction; lockdep on.")
    return res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python3 -m softgem.bench.explore_bounds")
    ap.add_argument("names", nargs="*")
    ap.add_argument("-k", type=int, default=2, help="preemption bound K (default 2)")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--plain", action="store_true", help="also run the unreduced DFS")
    ap.add_argument("--limit", type=int, default=1_000_000, help="schedules at most")
    args = ap.parse_args(argv)
    names = args.names or sorted(all_scenarios())
    head = "| scenario | dpor K=" + str(args.k) + (" | plain DFS |" if args.plain else " |")
    print(head)
    print("|---" * (head.count("|") - 1) + "|")
    for name in names:
        print(row(name, args.k, args.jobs, args.limit, args.plain), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
