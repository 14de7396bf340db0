"""The test-wide conftest fails a test on an unclaimed lockdep report, and only then."""

from __future__ import annotations

import pathlib
import re
import shutil
import subprocess
import sys

CONFTEST = pathlib.Path(__file__).resolve().parent.parent / "conftest.py"

SUITE = '''
import pytest
from softgem.sync import Mutex, SpinLock, lockdep


def _abba(tag):
    a, b = Mutex(tag + ".a"), Mutex(tag + ".b")
    with a, b:
        pass
    with b, a:
        pass


def test_unclaimed_cycle():
    _abba("unclaimed")


def test_claimed_cycle():
    with lockdep.expect_reports("cycle"):
        _abba("claimed")


def test_clean():
    _abba_free = Mutex("clean.a")
    with _abba_free:
        pass


@pytest.fixture
def sleeps_in_atomic_at_teardown():
    yield
    with SpinLock("teardown.s"), Mutex("teardown.m"):
        pass


def test_report_from_fixture_teardown(sleeps_in_atomic_at_teardown):
    pass


def test_lockdep_is_on():
    assert lockdep.enabled
'''


def test_unclaimed_reports_fail_tests_and_claimed_ones_do_not(
        tmp_path: pathlib.Path) -> None:
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "test_suite.py").write_text(SUITE)
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120)
    out = proc.stdout
    outcomes = dict((m[1], m[0]) for m in re.findall(r"^(PASSED|FAILED|ERROR) \S+::(\w+)",
                                                      out, re.M))
    assert outcomes == {
        "test_unclaimed_cycle": "FAILED",
        "test_claimed_cycle": "PASSED",
        "test_clean": "PASSED",
        "test_report_from_fixture_teardown": "ERROR",
        "test_lockdep_is_on": "PASSED",
    }, out
    assert "circular locking dependency" in out
    assert "sleeping function called from atomic context" in out
