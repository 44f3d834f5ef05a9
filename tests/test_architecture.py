"""The stages' import contracts (pyproject.toml, [tool.importlinter]) hold, and the check
fails when a one-way dependency is broken or a cycle is planted, function-level imports
included."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")

pytestmark = pytest.mark.skipif(not LINT.exists(), reason="import-linter is not installed")


def _lint(src: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([str(LINT), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_import_contracts_hold():
    r = _lint(ROOT / "src")
    assert r.returncode == 0, r.stdout[-2000:]
    assert "2 kept, 0 broken" in r.stdout


@pytest.mark.parametrize("module,planted,broken", [
    # io is below editing: a late (function-level) import upwards breaks the layers
    ("io/video.py", "def _planted():\n    from ned.editing import run  # noqa: F401\n",
     "stages import one way"),
    # plan <- loop already; loop <- plan closes a cycle inside the editing package
    ("editing/plan.py", "def _planted():\n    from ned.editing import loop  # noqa: F401\n",
     "no import cycle"),
])
def test_planted_violation_is_caught(tmp_path, module, planted, broken):
    src = tmp_path / "src"
    shutil.copytree(ROOT / "src" / "ned", src / "ned",
                    ignore=shutil.ignore_patterns("assets", "__pycache__"))
    with open(src / "ned" / module, "a") as fh:
        fh.write("\n\n" + planted)
    r = _lint(src)
    assert r.returncode != 0
    assert f"{broken}" in r.stdout and "BROKEN" in r.stdout
