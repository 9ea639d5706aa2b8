"""scripts/bootstrap.sh: .venv comes from uv.lock, and a stale one is rebuilt."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.pgfixtures import ROOT


def _bootstrap(project: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
    return subprocess.run(["bash", "scripts/bootstrap.sh", "run"], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600, check=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """What bootstrap needs of a clone, in another folder; uv comes from ours."""
    copy = tmp_path / "clone"
    copy.mkdir()
    for name in ("pyproject.toml", "uv.lock", "README.md"):
        shutil.copy(ROOT / name, copy / name)
    for name in ("scripts", "api"):
        shutil.copytree(ROOT / name, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(ROOT / ".tools" / "uv", copy / ".tools" / "uv")
    return copy


@pytest.mark.parametrize("made_for", ["/somewhere/else/.venv", "another python"])
def test_a_venv_made_elsewhere_is_rebuilt_from_the_lock(project: Path, made_for: str) -> None:
    # a .venv copied or moved from another folder (or made by another Python)
    subprocess.run(["python3", "-m", "venv", "--without-pip", str(project / ".venv")],
                   check=True, timeout=120)
    (project / ".venv" / ".made-for").write_text(made_for + "\n")

    first = _bootstrap(project)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "rebuilding .venv" in first.stdout
    made = (project / ".venv" / ".made-for").read_text()
    assert made.startswith(f"{project.resolve()}/.venv ")
    script = (project / ".venv" / "bin" / "metrics-rpc").read_text().splitlines()[0]
    assert script == f"#!{project.resolve()}/.venv/bin/python", "scripts point into this folder"

    again = _bootstrap(project)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout == "", "an up-to-date .venv is left alone"


def test_a_stale_lock_is_refused_with_the_command_that_fixes_it(project: Path) -> None:
    pyproject = project / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        'dependencies = [\n', 'dependencies = [\n    "six>=1.16",\n', 1))
    result = _bootstrap(project)
    assert result.returncode != 0
    assert "make lock" in result.stderr
