"""Scaling a campaign out: local processes (``--jobs J``) or a Ray cluster (``--ray ADDR``).

Local workers claim chunks of schedule indices from a shared counter as they go (random,
PCT: disjoint seed ranges, the same per-schedule seeds as a local run, so tokens are
unchanged); on Ray, worker ``j`` of ``J`` runs the schedules ``i`` with ``i % J == j``.  Tree
searches are dealt out by subtree root (the first deviation from the default path, see
:mod:`dfs`): local ``dpor`` and ``dfs-plain`` workers claim each root from a shared counter
as they reach it, ``dfs`` (whose restarts renumber the roots) and Ray workers by a hash of
the root; disjoint, and together the whole bounded tree.  Results merge:
schedule counts add, distinct-trace digests unite, the failure of the lowest worker wins.

Local workers: the calling process is worker 0 and forks ``J - 1`` children (``os.fork``), each
running its whole share and sending back one pickled result over a pipe.  No pool, no task
queue, no idle parent: the scenario callable needs no pickling, every worker builds its
machines itself, and the only messages are the ``J - 1`` results (``softgem bench explore``
compares this with a pure-CPU control forked the same way).  Ray workers cannot share memory: they import the scenario from
``scenario_ref`` (``"module:function"`` returning the scenario by name), so only registered
scenarios run on Ray.  Ray is an optional extra (``pip install softgem[ray]``).
"""

from __future__ import annotations

import gc
import importlib
import multiprocessing
import os
import pickle
from collections.abc import Callable
from typing import Any

from .random import execution_seed

__all__ = ["run_parallel"]

_body: Callable[[], object] | None = None
_chunks: Any = None     # (next index, failed) in shared memory, its lock, total, chunk, seed
_roots: Any = None      # (the first subtree root nobody took, in shared memory), its lock


def _work(args: tuple[str, list[int], tuple[int, int], int | None, dict[str, Any]]) -> Any:
    from .campaign import run_slice

    strategy, seeds, split, limit, kwargs = args
    assert _body is not None
    refill = _claim if _chunks is not None and strategy in ("random", "pct") else None
    claim = _claim_root if _roots is not None and strategy in ("dfs-plain", "dpor") else None
    return run_slice(_body, strategy, seeds=seeds, split=split, limit=limit, refill=refill,
                     claim=claim, **kwargs)


def _claim_root(root: int) -> bool:
    """Take subtree ``root`` unless another worker has reached it first: workers meet the
    roots in one order, so the shared counter is the first root nobody has taken."""
    taken, lock = _roots
    with lock:
        if root < taken[0]:
            return False
        taken[0] = root + 1
        return True


def _claim(failed: bool) -> list[int]:
    """The next chunk of schedule indices, as seeds (none once a worker failed)."""
    state, lock, total, chunk, seed = _chunks
    with lock:
        if failed:
            state[1] = 1
        if state[1]:
            return []
        start = state[0]
        state[0] = min(total, start + chunk)
    return [execution_seed(seed, i) for i in range(start, min(total, start + chunk))]


def _shares(strategy: str, schedules: int, seed: int, jobs: int, kwargs: dict[str, Any]
            ) -> list[tuple[str, list[int], tuple[int, int], int | None, dict[str, Any]]]:
    out = []
    for j in range(jobs):
        seeds = [execution_seed(seed, i) for i in range(j, schedules, jobs)]
        limit = None if strategy not in ("dfs", "dfs-plain", "dpor") else -(-schedules // jobs)
        out.append((strategy, seeds, (j, jobs), limit, kwargs))
    return out


def _merge(parts: list[Any]) -> Any:
    from .campaign import Slice

    total = Slice(exhausted=True)
    # DFS workers pruned with what each learnt; the union is complete only if they agree.
    if len({p.shared for p in parts}) > 1:
        total.exhausted = False
    for p in parts:
        total.schedules += p.schedules
        total.pruned += p.pruned
        total.digests |= p.digests
        total.max_steps_seen = max(total.max_steps_seen, p.max_steps_seen)
        total.max_tasks = max(total.max_tasks, p.max_tasks)
        total.exhausted = total.exhausted and p.exhausted
        if p.failure_token and not total.failure_token:
            total.failure_token, total.failure_kind = p.failure_token, p.failure_kind
            total.found_at = p.found_at
    return total


def run_parallel(body: Callable[[], object], strategy: str, *, schedules: int, seed: int,
                 jobs: int, ray_address: str | None = None, scenario_ref: str = "",
                 **kwargs: Any) -> Any:
    global _body
    jobs = max(1, jobs)
    shares = _shares(strategy, schedules, seed, jobs, kwargs)
    if ray_address:
        return _merge(_run_ray(ray_address, scenario_ref, shares))
    _body = body
    global _chunks
    if strategy in ("random", "pct"):
        # Dynamic shares: each worker claims chunks of schedule indices as it goes, so one
        # that drew longer schedules does not keep the other idle at the end.  Schedule i
        # still has seed execution_seed(seed, i), as in a one-process run.
        ctx = multiprocessing.get_context("fork")
        chunk = max(4, schedules // (jobs * 16))
        _chunks = (ctx.RawArray("q", [0, 0]), ctx.Lock(), schedules, chunk, seed)
        for share in shares:
            share[1].clear()
    global _roots
    if strategy in ("dfs-plain", "dpor"):
        # Dynamic subtrees: a worker takes the next subtree root nobody has reached yet.
        ctx = multiprocessing.get_context("fork")
        _roots = (ctx.RawArray("q", [0]), ctx.Lock())
    try:
        parts = forked(_work, shares)
        for _ in range(4):      # DFS: rerun until every worker pruned with one sharing set
            union = frozenset().union(*(p.shared for p in parts))
            if all(p.shared == union for p in parts) or any(p.failure_token for p in parts):
                break
            for share in shares:
                share[4]["shared"] = union
            parts = forked(_work, shares)
    finally:
        _body = None
        _chunks = None
        _roots = None
    return _merge(parts)


def forked(fn: Callable[[Any], Any], args: list[Any]) -> list[Any]:
    """``[fn(a) for a in args]``: ``args[0]`` in this process, each other one in a forked
    child that pickles its result (or its exception) into a pipe and exits."""
    children: list[tuple[int, int]] = []
    gc.freeze()         # the children's collector then leaves the parent's pages unwritten
    for a in args[1:]:
        rd, wr = os.pipe()
        pid = os.fork()
        if pid == 0:                                    # the child: run, send, exit
            os.close(rd)
            code = 0
            try:
                try:
                    out: tuple[bool, Any] = (True, fn(a))
                except BaseException as exc:            # the parent re-raises it
                    out = (False, exc)
                with os.fdopen(wr, "wb") as w:
                    pickle.dump(out, w, protocol=pickle.HIGHEST_PROTOCOL)
            except BaseException:
                code = 1
            os._exit(code)
        os.close(wr)
        children.append((pid, rd))
    gc.unfreeze()
    try:
        results = [fn(args[0])] if args else []
    finally:
        got = []
        for pid, rd in children:
            with os.fdopen(rd, "rb") as r:
                data = r.read()
            os.waitpid(pid, 0)
            got.append(data)
    for data in got:
        if not data:
            raise RuntimeError("an explorer worker process died without a result")
        ok, value = pickle.loads(data)
        if not ok:
            raise value
        results.append(value)
    return results


def _resolve_ref(ref: str) -> Callable[[], object]:
    module, _, name = ref.partition(":")
    mod = importlib.import_module(module)
    scen = mod.get(name)
    fn: Callable[[], object] = scen.body
    return fn


def _ray_work(ref: str, share: Any) -> Any:
    global _body
    _body = _resolve_ref(ref)
    return _work(share)


def _run_ray(address: str, ref: str, shares: list[Any]) -> list[Any]:
    if not ref:
        raise ValueError("--ray needs a registered scenario (softgem.scenarios)")
    try:
        import ray
    except ImportError as exc:
        raise RuntimeError("Ray is not installed: pip install 'softgem[ray]'") from exc
    ray.init(address=address, ignore_reinit_error=True)
    remote = ray.remote(_ray_work)
    return list(ray.get([remote.remote(ref, s) for s in shares]))
