"""Shared fixtures: the test programs (tests/host/programs.c, built once per session with gcc)
and a helper that runs one mode under the supervisor with a FakeBackend."""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
from dataclasses import dataclass

import pytest

from softgem.host import FakeBackend, Supervisor

HERE = pathlib.Path(__file__).resolve().parent


@dataclass
class Outcome:
    status: int
    backend: FakeBackend
    supervisor: Supervisor
    values: dict[str, str]
    warnings: list[str]


@pytest.fixture(scope="session")
def programs(tmp_path_factory: pytest.TempPathFactory) -> str:
    if shutil.which("gcc") is None:
        pytest.fail("host-mode tests compile C programs: gcc is missing, run scripts/setup")
    out = tmp_path_factory.mktemp("host-programs")
    exe = out / "programs"
    subprocess.run(["gcc", "-O2", "-pthread", "-Wall", "-o", str(exe),
                    str(HERE / "programs.c")], check=True)
    os.chmod(out, 0o755)          # the unprivileged test runs it as nobody
    return str(exe)


@pytest.fixture
def run_mode(programs: str, tmp_path: pathlib.Path):
    """run_mode("version") -> Outcome: the program's key=value output and what the fake saw."""
    os.chmod(tmp_path, 0o777)

    def run(mode: str, *extra: str, trace: list[str] | None = None) -> Outcome:
        result = tmp_path / f"{mode}.out"
        backend = FakeBackend()
        warnings: list[str] = []
        sup = Supervisor(backend, warn=warnings.append,
                         trace=None if trace is None else trace.append)
        status = sup.run([programs, mode, str(result), *extra])
        values: dict[str, str] = {}
        if result.exists():
            for line in result.read_text().splitlines():
                key, _, value = line.partition("=")
                values[key] = value
        return Outcome(status, backend, sup, values, warnings)

    return run
