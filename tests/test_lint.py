"""Lint and type checks run as part of the suite (as asyncpg does)."""

from __future__ import annotations

import subprocess
import sys

from tests.pgfixtures import ROOT


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *argv], capture_output=True, text=True, cwd=ROOT,
        timeout=600, check=False,
    )


def test_ruff_is_clean() -> None:
    result = _run("ruff", "check", "api", "tests", "bench")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = _run("mypy")
    assert result.returncode == 0, result.stdout + result.stderr
