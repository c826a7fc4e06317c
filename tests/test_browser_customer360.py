"""Browser: the Customer 360 page in real Chromium: search a customer as you type, open the
profile, see recommendations; edit an attribute, restart the server on the same workspace and
find the new value; README screenshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser_helpers import SCREENSHOTS, app_server, browser_page, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

CITY = "Hangzhou West Lake"


def _open_customer(page: object, url: str, query: str) -> None:
    page.goto(url)
    wait_idle(page)
    page.locator("[data-testid='stSidebarNavLink']", has_text="Customer 360").click()
    wait_idle(page)
    search = page.get_by_label("Find a customer by id or name")
    search.fill(query)  # live search: no Enter needed
    page.get_by_text("宋佳怡 (C00002)").wait_for(timeout=90_000)
    wait_idle(page)


def test_search_profile_recommendations_and_an_edit_that_survives_a_restart(
    sample_workspace: Path,
) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    with browser_page() as page:
        with app_server(sample_workspace) as url:
            _open_customer(page, url, "佳怡")
            page.get_by_text("Churn probability").wait_for(timeout=90_000)
            expect(page.get_by_text("RFM segment")).to_be_visible()
            assert page.locator(".js-plotly-plot").count() == 2

            page.get_by_role("tab", name="Recommendations").click()
            wait_idle(page)
            page.get_by_text("Item-item collaborative filtering").wait_for(timeout=60_000)
            expect(page.locator("[data-testid='stDataFrame']").first).to_be_visible()

            page.set_viewport_size({"width": 1400, "height": 1500})
            page.get_by_role("tab", name="Profile").click()
            wait_idle(page)
            page.get_by_text("Churn probability").wait_for(timeout=60_000)
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / "customer360.png"), full_page=True)

            city = page.get_by_label("City", exact=True)
            city.fill(CITY)
            page.get_by_role("button", name="Save to the workspace").click()
            page.get_by_text("Saved city for customer C00002.").wait_for(timeout=60_000)

        with app_server(sample_workspace) as url:  # a fresh server on the same workspace
            _open_customer(page, url, "C00002")
            expect(page.get_by_label("City", exact=True)).to_have_value(CITY, timeout=60_000)
