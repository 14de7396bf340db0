"""The fuzzing campaign (softgem.fuzz) and ``softgem fuzz``: every ioctl number, structure-
aware arguments, a victim process; a quick budget here, ``--fuzz-seconds N`` for a long one.

Each run of a campaign builds a fresh machine, issues 1-40 drawn calls, then checks that the
machine still works, that the victim's object, mapping, userptr and memory are unchanged
and that nothing leaks after exit (softgem/fuzz/world.py)."""

from __future__ import annotations

import random

import pytest
from click.testing import CliRunner

import softgem
from softgem.cli.main import main
from softgem.fuzz import (
    ROWS_COVERED,
    apply,
    build_world,
    draw_call,
    release_world,
    replay,
    reproducer,
    run_campaign,
)
from softgem.fuzz.campaign import errno_name
from softgem.uapi import handlers_getparam, table


def test_a_campaign_finds_every_ioctl_answering_with_an_errno(fuzz_seconds: float) -> None:
    report = run_campaign(fuzz_seconds, seed=12)
    assert report.failures == [], "\n\n".join(reproducer(f) for f in report.failures)
    assert report.ioctls > 100 and report.runs > 5
    assert {"OK", "EINVAL", "EFAULT"} <= report.errnos.keys()


def test_the_draw_reaches_self_looping_extensions() -> None:
    """A fixed draw (not time-bound): 600 calls of seed 7 meet E2BIG (an extension chain
    that loops onto itself stops at 512 links), successes and the common refusals."""
    w = build_world(7)
    rng = random.Random(7)
    seen = set()
    try:
        for _ in range(600):
            seen.add(errno_name(apply(w, draw_call(rng, w))))
    finally:
        release_world(w)
    assert {"E2BIG", "OK", "EINVAL", "EFAULT", "ENOENT", "EACCES"} <= seen


def test_the_draw_covers_every_row_of_the_table() -> None:
    assert (*table.CORE_IOCTLS, *table.I915_IOCTLS) == ROWS_COVERED


@pytest.fixture
def planted_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    """GETPARAM of a parameter it does not know crashes instead of answering its errno (a
    bug the fuzzer must find: the known-good check asks only for a known one)."""
    real = handlers_getparam.param_value

    def buggy(platform: object, param: int) -> int:
        try:
            return real(platform, param)   # type: ignore[arg-type]
        except softgem.errors.KernelError:
            raise RuntimeError("planted bug") from None

    monkeypatch.setattr(handlers_getparam, "param_value", buggy)


@pytest.mark.usefixtures("planted_bug")
def test_a_planted_bug_is_found_shrunk_and_its_reproducer_replays_it() -> None:
    report = run_campaign(0.5, seed=5, max_failures=1)
    assert len(report.failures) == 1
    failure = report.failures[0]
    assert failure.kind == "SimBug" and "planted bug" in failure.error
    assert len(failure.calls) <= 2, failure.calls
    snippet = reproducer(failure)
    with pytest.raises(softgem.errors.SimBug, match="planted bug"):
        exec(compile(snippet, "<reproducer>", "exec"), {})
    with pytest.raises(softgem.errors.SimBug):
        replay(failure.seed, failure.calls)


def test_softgem_fuzz_runs_a_campaign_and_prints_its_errnos() -> None:
    result = CliRunner().invoke(main, ["fuzz", "--seconds", "1", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "ioctls tried" in result.output and "errnos seen" in result.output
    assert "EINVAL" in result.output and "0 failure(s)" in result.output


@pytest.mark.usefixtures("planted_bug")
def test_softgem_fuzz_prints_a_failure_with_its_minimal_reproducer() -> None:
    result = CliRunner().invoke(main, ["fuzz", "--seconds", "0.5", "--seed", "5"])
    assert result.exit_code == 1, result.output
    assert "failure 1" in result.output and "planted bug" in result.output
    assert "minimal reproducer" in result.output and "replay(" in result.output
