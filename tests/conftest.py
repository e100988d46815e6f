"""Shared test fixtures (keep this file small).

Out: `tritonc`, a fixture that runs the command line in-process and returns (exit code, stdout, stderr);
and, for the whole session, a private compile cache (`TRITON_DSL_CACHE_DIR`), so that tests never read
entries an older build left in the user's cache nor write into it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from triton_dsl.cli import main


@pytest.fixture(scope="session", autouse=True)
def private_compile_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    previous = os.environ.get("TRITON_DSL_CACHE_DIR")
    os.environ["TRITON_DSL_CACHE_DIR"] = str(tmp_path_factory.mktemp("compile-cache"))
    yield
    if previous is None:
        os.environ.pop("TRITON_DSL_CACHE_DIR", None)
    else:
        os.environ["TRITON_DSL_CACHE_DIR"] = previous


@pytest.fixture
def tritonc(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """`tritonc("check", "x.triton")` → (exit code, stdout, stderr)."""

    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run
