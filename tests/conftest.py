"""Shared test fixtures (keep this file small).

Out: `tritonc`, a fixture that runs the command line in-process and returns (exit code, stdout, stderr).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from triton_dsl.cli import main


@pytest.fixture
def tritonc(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """`tritonc("check", "x.triton")` → (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
