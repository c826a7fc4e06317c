"""Shared fixtures: real datasets beside the checkout, temporary workspaces, the sample dataset."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"


@pytest.fixture(scope="session")
def datasets_dir() -> Path:
    """``../shared/datasets``; tests that need it skip when CI has no such folder."""
    if not DATASETS.is_dir():
        pytest.skip("../shared/datasets is not beside the checkout")
    return DATASETS


@pytest.fixture()
def workspace_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty workspace folder that the app and CLI will use."""
    directory = tmp_path / "workspace"
    monkeypatch.setenv("CRM_WORKSPACE", str(directory))
    return directory


@pytest.fixture(scope="session")
def sample_workspace_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace holding the bundled sample, built once per test session."""
    from crm_core.cli import ensure_sample
    from crm_core.store import Workspace

    directory = tmp_path_factory.mktemp("sample_ws")
    ensure_sample(Workspace(directory))
    return directory


@pytest.fixture()
def sample_workspace(
    sample_workspace_template: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """A private copy of the sample workspace, so a test may change it freely."""
    directory = tmp_path / "workspace"
    shutil.copytree(sample_workspace_template, directory)
    monkeypatch.setenv("CRM_WORKSPACE", str(directory))
    return directory


@pytest.fixture(autouse=True)
def _apptest_runs_through_app_py(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep AppTest out of Streamlit's legacy pages-directory mode on every run.

    AppTest resets ``PagesManager.uses_pages_directory`` before each run, so a rerun on a page
    would execute ``pages/x.py`` alone, without ``app.py``. A real server leaves that mode for
    good at its first ``st.navigation`` call (and ``pages/_ui.py`` forces that on a first visit
    to a page URL); this fixture gives AppTest the same behaviour.
    """
    from streamlit.runtime.pages_manager import PagesManager

    original = PagesManager.__init__

    def init(self: PagesManager, *args: object, **kwargs: object) -> None:
        original(self, *args, **kwargs)
        PagesManager.uses_pages_directory = False

    monkeypatch.setattr(PagesManager, "__init__", init)
