"""Browser: the home page in real Chromium, language switch, README screenshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from crm_core.overview import key_figures
from crm_core.store import Workspace
from tests.browser_helpers import SCREENSHOTS, app_server, browser_page, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def test_home_figures_language_switch_and_screenshot(sample_workspace: Path) -> None:
    figures = key_figures(Workspace(sample_workspace).load_dataset("sample"))
    with app_server(sample_workspace) as url, browser_page() as page:
        page.goto(url)
        wait_idle(page)
        page.get_by_text("Customers", exact=True).wait_for()
        body = page.inner_text("body")
        assert f"{figures.customers:,}" in body
        assert f"{figures.orders:,}" in body
        assert f"{figures.revenue:,.0f}" in body
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "home.png"), full_page=True)

        page.get_by_text("简体中文", exact=True).click()
        page.get_by_text("客户数", exact=True).wait_for()
        wait_idle(page)
        body = page.inner_text("body")
        assert "CRM 洞察工作室" in body
        assert "Customers" not in body
        page.screenshot(path=str(SCREENSHOTS / "home_zh.png"), full_page=True)


def test_first_visit_straight_to_a_page_url_shows_the_app_frame(sample_workspace: Path) -> None:
    """A fresh server's first visit to /data must still get the sidebar, language and navigation."""
    with app_server(sample_workspace) as url, browser_page() as page:
        page.goto(f"{url}/data")
        wait_idle(page)
        page.get_by_text("Language", exact=True).wait_for()
        sidebar = page.inner_text("[data-testid='stSidebar']")
        assert "Segments" in sidebar and "Home" in sidebar
        assert "_ui" not in sidebar and "nav" not in sidebar.split()
        page.get_by_text("Upload your files as they are", exact=False).wait_for()
