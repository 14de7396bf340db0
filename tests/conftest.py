"""Test-wide settings: lockdep watches every test, Hypothesis runs without deadlines.

Every test runs with lockdep enabled and a fresh dependency graph.  A lockdep report the test
did not claim with ``lockdep.expect_reports(...)`` fails it: made during the test body it
fails the test itself (``pytest_runtest_call`` below); made during fixture setup/teardown it
fails at teardown.  Lockdep never raises inside the locking primitives, so a bad order is
reported even though the run did not deadlock.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
from collections.abc import Callable, Generator, Iterator

import pytest
from hypothesis import settings

from softgem.sync import lockdep


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fuzz-seconds", type=float, default=2.0,
                     help="time budget of the fuzzing campaign test (tests/uapi)")


@pytest.fixture
def fuzz_seconds(request: pytest.FixtureRequest) -> float:
    return float(request.config.getoption("--fuzz-seconds"))


settings.register_profile("ci", deadline=None)
settings.load_profile("ci")


def _describe(reports: list[lockdep.LockdepReport]) -> str:
    head = f"{len(reports)} unexpected lockdep report(s) (claim deliberate ones with " \
           "lockdep.expect_reports(...)):"
    return "\n\n".join([head, *(r.message for r in reports)])


@pytest.fixture(autouse=True)
def _lockdep_watch() -> Iterator[None]:
    lockdep.reset()
    lockdep.enable()
    yield
    left = lockdep.reports()
    lockdep.disable()
    lockdep.reset()
    if left:
        pytest.fail(_describe(left), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    try:
        result = yield
    except BaseException:
        left = lockdep.reports()
        if left:      # the test failed anyway: show the reports too, as its own output
            print(_describe(left))
            lockdep.clear_reports()
        raise
    left = lockdep.reports()
    if left:
        lockdep.clear_reports()
        pytest.fail(_describe(left), pytrace=False)
    return result


@pytest.fixture(scope="session")
def build_c(tmp_path_factory: pytest.TempPathFactory) -> Callable[[pathlib.Path], str]:
    """Compile one C client against Debian's libdrm (scripts/setup installs gcc, pkg-config
    and libdrm-dev; a missing one fails the test with that instruction); its path."""
    def build(source: pathlib.Path) -> str:
        if shutil.which("gcc") is None or shutil.which("pkg-config") is None:
            pytest.fail("gcc and pkg-config are needed: run scripts/setup")
        flags = subprocess.run(["pkg-config", "--cflags", "--libs", "libdrm"],
                               capture_output=True, text=True)
        if flags.returncode != 0:
            pytest.fail("libdrm-dev is missing: run scripts/setup")
        out = tmp_path_factory.mktemp(source.stem)
        exe = out / source.stem
        subprocess.run(["gcc", "-O2", "-Wall", "-pthread", "-o", str(exe), str(source),
                        *flags.stdout.split()], check=True)
        os.chmod(out, 0o755)
        return str(exe)

    return build


# -- userptr designs by era (softgem.gem.designs) ---------------------------------------------
# A test marked ``@pytest.mark.userptr_era(ERA)`` that takes a ``design`` argument runs once
# per registered design of ERA (``design_names()`` filtered by the predicate below), so a new
# design joins every test of its era by registering.  The predicates, on a fresh design:
#   "rework": the mmu_interval_notifier rework and after (v5.13 .. today: submit_init pins
#             without driver locks and answers EAGAIN on a collision, submit_done re-checks,
#             today's creation ladder) -- the design is a V6_8 (the seam's base of that era)
#             and does not say ``rework_era = False`` (a pre-2021 design reusing its code);
#   "e2big":  "rework", and get_pages answers E2BIG for a page count over 32 bits (v6.3+:
#             not a TruncatingUserptrOps, the pre-v6.3 page list).
def _design_in_era(name: str, era: str) -> bool:
    from softgem.gem.designs import make_design
    from softgem.gem.designs.sg_trunc import TruncatingUserptrOps
    from softgem.gem.designs.v6_8 import V6_8

    d = make_design(name)
    rework = isinstance(d, V6_8) and getattr(d, "rework_era", True)
    if era == "rework":
        return rework
    if era == "e2big":
        return rework and not isinstance(d.ops, TruncatingUserptrOps)
    raise ValueError(f"unknown userptr era {era!r}")


def userptr_designs(era: str) -> list[str]:
    from softgem.gem.designs import design_names

    return [n for n in design_names() if _design_in_era(n, era)]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "userptr_era(era): run once per userptr design of the "
                            "era (tests/conftest.py: the predicates)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    mark = metafunc.definition.get_closest_marker("userptr_era")
    if mark is not None and "design" in metafunc.fixturenames:
        metafunc.parametrize("design", userptr_designs(*mark.args))
