"""Run the real ``crm`` console script in a subprocess, as a user would, and check its output."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def _crm_command() -> list[str]:
    """The installed console script next to this interpreter, else ``python -m crm_core.cli``."""
    script = shutil.which("crm", path=str(Path(sys.executable).parent))
    return [script] if script else [sys.executable, "-m", "crm_core.cli"]


def crm(workspace: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``crm ARGS`` with ``CRM_WORKSPACE`` set to ``workspace``."""
    env = {**os.environ, "CRM_WORKSPACE": str(workspace), "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [*_crm_command(), *args],
        cwd=cwd or workspace.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def ok(result: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    """The command succeeded (its stderr is the failure message otherwise)."""
    assert result.returncode == 0, result.stderr
    return result


def assert_user_error(result: subprocess.CompletedProcess) -> str:
    """Exit code 2, nothing on stdout, exactly one line on stderr, no traceback."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("crm: ")
    return lines[0]
