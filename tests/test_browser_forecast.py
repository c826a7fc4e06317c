"""Browser: the Satisfaction & demand page in real Chromium: change the horizon with the keyboard
and the grouping with the mouse, see the forecast chart change; README screenshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser_helpers import SCREENSHOTS, app_server, browser_page, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _forecast_points(page: object) -> int:
    """Points on the dashed forecast line of the first chart (last observed + horizon)."""
    return page.locator(".js-plotly-plot").first.evaluate(
        "el => el.data.filter(t => (t.name || '').startsWith('Forecast ·'))[0].x.length"
    )


def _chart_titles(page: object) -> list[str]:
    return page.locator(".js-plotly-plot .gtitle").evaluate_all(
        "els => els.map(e => e.textContent)"
    )


def test_horizon_and_grouping_change_the_forecast(sample_workspace: Path) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    with app_server(sample_workspace) as url, browser_page() as page:
        page.goto(url)
        wait_idle(page)
        page.locator("[data-testid='stSidebarNavLink']", has_text="Satisfaction & demand").click()
        page.get_by_role("tab", name="Forecast").wait_for()
        wait_idle(page)
        page.locator(".js-plotly-plot").first.wait_for()
        assert _forecast_points(page) == 7
        assert "Satisfaction (mean score) · All" in _chart_titles(page)

        slider = page.get_by_role("slider", name="Periods ahead")
        slider.focus()
        slider.press("End")  # one rerun: the slider is live, not in a form
        wait_idle(page)
        expect(slider).to_have_value("24")
        page.wait_for_function(
            "() => { const el = document.querySelector('.js-plotly-plot');"
            " const path = el && el.data.filter(t => (t.name || '').startsWith('Forecast ·'));"
            " return path && path.length === 1 && path[0].x.length === 25 }",
            timeout=60_000,
        )
        assert _forecast_points(page) == 25

        page.get_by_role("combobox", name="Split by").click()
        page.get_by_role("option", name="channel", exact=True).click()
        wait_idle(page)
        page.get_by_text("Every group").wait_for(timeout=60_000)
        wait_idle(page)
        assert "Forecast by group" in _chart_titles(page)
        page.get_by_role("combobox", name="Show group").click()
        page.get_by_role("option", name="WeChat", exact=True).click()
        wait_idle(page)
        page.wait_for_function(
            "() => [...document.querySelectorAll('.js-plotly-plot .gtitle')]"
            ".some(e => e.textContent.includes('· WeChat'))",
            timeout=60_000,
        )

        page.set_viewport_size({"width": 1400, "height": 1900})
        wait_idle(page)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "forecast.png"), full_page=True)
