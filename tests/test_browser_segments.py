"""Browser: the Segments page in real Chromium: choose an algorithm, move k with the keyboard,
find segments, see the map change, download the CSV; README screenshot of the page."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from tests.browser_helpers import SCREENSHOTS, app_server, browser_page, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

MAP_TITLE = "Segment map (2-D PCA)"


def _metric_value(page: object, label: str) -> object:
    """The value element of the metric card labelled ``label``."""
    card = page.locator("[data-testid='stMetric']").filter(
        has=page.locator("[data-testid='stMetricLabel']", has_text=label)
    )
    return card.locator("[data-testid='stMetricValue']")


def _metric(page: object, label: str) -> str:
    return _metric_value(page, label).inner_text().strip()


def _map_legend(page: object) -> list[str]:
    """Legend entries of the segment map (one per segment)."""
    plot = page.locator(".js-plotly-plot").filter(has=page.locator(".gtitle", has_text=MAP_TITLE))
    assert plot.count() == 1
    return plot.locator(".legendtext").evaluate_all("els => els.map(e => e.textContent)")


def test_find_segments_update_the_map_and_download_csv(
    sample_workspace: Path, tmp_path: Path
) -> None:
    with app_server(sample_workspace) as url, browser_page() as page:
        page.goto(url)
        wait_idle(page)
        page.locator("[data-testid='stSidebarNavLink']", has_text="Segments").click()
        page.get_by_role("tab", name="Clusters").wait_for()
        wait_idle(page)
        page.get_by_role("tab", name="Clusters").click()
        wait_idle(page)
        assert _metric(page, "Segments") == "5"
        assert len(_map_legend(page)) == 5

        # the algorithm selectbox sits outside the form: choosing reruns at once
        page.get_by_role("combobox", name="Algorithm").click()
        page.get_by_role("option", name="Gaussian mixture", exact=True).click()
        wait_idle(page)
        assert page.get_by_role("combobox", name="Algorithm").input_value() == "Gaussian mixture"
        page.get_by_text("Covariance", exact=False).first.wait_for()
        assert _metric(page, "Segments") == "5"

        # k: keyboard on the slider thumb; inside the form nothing runs until submitted
        slider = page.get_by_role("slider", name="Number of segments (k)")
        slider.focus()
        for _ in range(3):
            slider.press("ArrowRight")
        assert slider.input_value() == "8"
        wait_idle(page)
        assert _metric(page, "Segments") == "5"
        page.get_by_role("button", name="Find segments").click()
        expect = pytest.importorskip("playwright.sync_api").expect
        expect(_metric_value(page, "Segments")).to_have_text("8", timeout=60_000)
        wait_idle(page)
        assert _metric(page, "Segments") == "8"
        legend = _map_legend(page)
        assert len(legend) == 8 and len(set(legend)) == 8, legend

        # README screenshot: a taller viewport so the map is in the picture
        page.set_viewport_size({"width": 1400, "height": 2000})
        wait_idle(page)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "segments.png"), full_page=True)
        page.set_viewport_size({"width": 1400, "height": 1000})

        # the Clusters tab's CSV (the RFM tab has its own, hidden behind its tab)
        button = page.locator("[data-testid='stDownloadButton']").filter(has_text="CSV")
        visible = [i for i in range(button.count()) if button.nth(i).is_visible()]
        assert len(visible) == 1
        with page.expect_download() as info:
            button.nth(visible[0]).click()
        download = info.value
        assert download.suggested_filename == "clusters.csv"
        path = tmp_path / download.suggested_filename
        download.save_as(path)

    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfcustomer_id,segment,segment_name\r\n")
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str)
    assert list(frame.columns) == ["customer_id", "segment", "segment_name"]
    assert len(frame) == 5000 and frame["customer_id"].is_unique
    assert frame["segment"].nunique() == 8
    assert set(frame["segment_name"]) == set(legend)
