"""Running programs under ``softgem run`` as a user would, output captured."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest


def softgem_run(*argv: str, env: dict[str, str] | None = None,
                trace: bool = False) -> subprocess.CompletedProcess[str]:
    """``softgem run [--trace] -- argv`` with its output captured."""
    cmd = [sys.executable, "-m", "softgem.cli", "run", *(["--trace"] if trace else []), "--",
           *argv]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def require_program(path: str, package: str) -> str:
    found = shutil.which(path)
    if found is None:
        pytest.fail(f"{path} is missing: run scripts/setup (Debian package {package})")
    return found
