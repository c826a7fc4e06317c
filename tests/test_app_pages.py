"""Every built page renders in both languages, with no English left on screen in Chinese."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_core.i18n import t
from pages._nav import PAGES
from tests.apptest_helpers import run_page, untranslated

PAGE_FILES = [entry.file for entry in PAGES]


@pytest.mark.parametrize("page", PAGE_FILES)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_renders_without_exception(sample_workspace: Path, page: str, lang: str) -> None:
    at = run_page(page, lang)
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("page", PAGE_FILES)
def test_page_has_no_english_left_in_chinese(sample_workspace: Path, page: str) -> None:
    from crm_core.store import Workspace
    from pages._ui import md_escape

    at = run_page(page, "zh")
    assert not at.exception
    # customer names are data, not UI text (Customer 360 shows "Daniel Walker (C00001)")
    customers = Workspace(sample_workspace).load_dataset("sample").tables["customers"]
    names = {
        md_escape(f"{name} ({cid})")
        for cid, name in zip(customers["customer_id"], customers["name"], strict=True)
    }
    assert untranslated(at, allowed=names) == []


def test_navigation_lists_only_built_pages() -> None:
    for entry in PAGES:
        assert Path(entry.file).is_file()
        assert t(entry.title_key, "en") != entry.title_key


def test_home_shows_the_sample_key_figures(sample_workspace: Path) -> None:
    from crm_core.overview import key_figures
    from crm_core.store import Workspace

    figures = key_figures(Workspace(sample_workspace).load_dataset("sample"))
    at = run_page("pages/home.py", "en")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Customers"] == f"{figures.customers:,}"
    assert metrics["Orders"] == f"{figures.orders:,}"
    assert metrics["Revenue"] == f"{figures.revenue:,.0f}"
    at_zh = run_page("pages/home.py", "zh")
    assert {m.label for m in at_zh.metric} >= {"客户数", "订单数", "销售额"}


def test_empty_workspace_points_to_the_data_page(workspace_dir: Path) -> None:
    at = run_page("pages/home.py", "en")
    assert not at.exception
    assert any("Data page" in i.value for i in at.info)
