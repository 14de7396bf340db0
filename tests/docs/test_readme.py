"""The README's Python example runs as written."""

from __future__ import annotations

import pathlib
import re

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


def test_readme_python_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README lost its Python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})


def test_readme_opens_with_the_two_commands() -> None:
    head = README.read_text().split("```sh\n", 1)[1].split("```", 1)[0].splitlines()
    assert head[0].startswith("pip install -e . && softgem demo")
    assert head[1].startswith("bash scripts/setup && bash scripts/test")
