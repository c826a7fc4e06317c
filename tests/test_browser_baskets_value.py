"""Browser: the Baskets and Customer value pages in real Chromium.

Baskets: lower the support inside the rules form, press "Find rules", see more rules, pick an item
in "What goes with…" and read its sentences. Customer value: move the horizon slider with the
keyboard, press "Fit and score", see the total CLV change. Both pages leave a README screenshot.
Expected figures come from the core run on the same sample data.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from crm_core.baskets import BasketParams, RuleParams, consequents_for, rule_sentence, run_rules
from crm_core.store import Workspace
from crm_core.value import CLVParams, run_clv, suggest_calibration_end
from tests.browser_helpers import SCREENSHOTS, app_server, browser_page, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

SCREENSHOT_VIEWPORT = {"width": 1400, "height": 1800}
ITEM = "Grated Parmesan 200g"


def _metric_value(page: object, label: str) -> object:
    """The value element of the metric card labelled exactly ``label``."""
    card = page.locator("[data-testid='stMetric']").filter(
        has=page.locator("[data-testid='stMetricLabel']").get_by_text(label, exact=True)
    )
    return card.locator("[data-testid='stMetricValue']")


def _metric(page: object, label: str) -> str:
    return _metric_value(page, label).inner_text().strip()


def _expect() -> object:
    return pytest.importorskip("playwright.sync_api").expect


def _transactions(workspace: Path) -> pd.DataFrame:
    return Workspace(workspace).load_dataset("sample").tables["transactions"]


def _choose(page: object, label: str, option: str) -> None:
    """Pick ``option`` in the selectbox ``label``; a click that lands while the script is still
    redrawing the widget can leave the list closed, so open it again until the option shows."""
    box = page.get_by_role("combobox", name=label, exact=True)
    choice = page.get_by_role("option", name=option, exact=True)
    for _ in range(5):
        wait_idle(page)
        box.click()
        try:
            choice.wait_for(timeout=10_000)
        except pytest.importorskip("playwright.sync_api").TimeoutError:
            page.keyboard.press("Escape")
            continue
        choice.click()
        return
    pytest.fail(f"the option {option!r} of {label!r} never showed")


def _screenshot(page: object, name: str) -> None:
    page.set_viewport_size(SCREENSHOT_VIEWPORT)
    wait_idle(page)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / name))
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_baskets_lower_support_find_rules_and_what_goes_with(sample_workspace: Path) -> None:
    transactions = _transactions(sample_workspace)

    def core(min_support: float) -> object:
        params = RuleParams(min_support=min_support, min_confidence=0.25, time_limit=60.0)
        return run_rules(transactions, BasketParams(), params)

    default, lower = core(0.001), core(0.0005)
    assert len(lower.rules) > len(default.rules) > 0

    with app_server(sample_workspace) as url, browser_page() as page:
        page.goto(url)
        wait_idle(page)
        page.locator("[data-testid='stSidebarNavLink']", has_text="Baskets").click()
        page.get_by_role("button", name="Find rules").wait_for()
        wait_idle(page)
        expect = _expect()
        expect(_metric_value(page, "Rules")).to_have_text(f"{len(default.rules):,}")

        # the support sits in the rules form: typing alone does not mine again
        support = page.get_by_role("spinbutton", name="Minimum support (share of baskets)")
        assert float(support.input_value()) == pytest.approx(0.001)
        support.fill("0.0005")
        support.press("Tab")
        wait_idle(page)
        assert _metric(page, "Rules") == f"{len(default.rules):,}"
        page.get_by_role("button", name="Find rules").click()
        expect(_metric_value(page, "Rules")).to_have_text(f"{len(lower.rules):,}", timeout=60_000)
        expect(_metric_value(page, "Frequent itemsets")).to_have_text(f"{len(lower.itemsets):,}")
        wait_idle(page)

        # "What goes with…": pick an item, read its rules as sentences
        _choose(page, "Item", ITEM)
        expect(page.get_by_role("combobox", name="Item", exact=True)).to_have_value(ITEM)
        wait_idle(page)
        best = consequents_for(lower, ITEM)
        assert len(best) >= 2
        sentences = [rule_sentence(row, "en") for _, row in best.iterrows()]
        assert all(s.startswith("Customers who buy") and ITEM in s for s in sentences)
        bullets = page.locator("[data-testid='stMarkdownContainer'] li")
        expect(bullets).to_have_text(sentences, timeout=60_000)
        _screenshot(page, "baskets.png")


def test_value_horizon_slider_and_fit_and_score(sample_workspace: Path) -> None:
    transactions = _transactions(sample_workspace)
    calibration_end = suggest_calibration_end(transactions)

    def total(horizon: int) -> str:
        params = CLVParams(calibration_end=calibration_end, horizon_days=horizon)
        return f"{run_clv(transactions, params).metrics['clv_total']:,.0f}"

    with app_server(sample_workspace) as url, browser_page() as page:
        page.goto(url)
        wait_idle(page)
        page.locator("[data-testid='stSidebarNavLink']", has_text="Customer value").click()
        page.get_by_role("tab", name="Lifetime value").wait_for()
        wait_idle(page)
        page.get_by_role("tab", name="Lifetime value").click()
        wait_idle(page)
        before = _metric(page, "Total CLV")
        assert before == total(365)

        # keyboard on the slider thumb; inside the form nothing runs until submitted
        slider = page.get_by_role("slider", name="Horizon (days)")
        thumb = page.locator("[data-testid='stSliderThumbValue']")
        assert thumb.inner_text() == "365"
        slider.focus()
        for _ in range(10):
            slider.press("ArrowLeft")
        horizon = int(thumb.inner_text())  # the value the user sees on the thumb
        assert 30 <= horizon < 365
        assert slider.get_attribute("aria-valuetext") == str(horizon)
        wait_idle(page)
        assert _metric(page, "Total CLV") == before
        page.get_by_role("button", name="Fit and score").click()
        expected = total(horizon)
        assert expected != before
        _expect()(_metric_value(page, "Total CLV")).to_have_text(expected, timeout=60_000)
        wait_idle(page)
        after = float(_metric(page, "Total CLV").replace(",", ""))
        assert after < float(before.replace(",", ""))  # a shorter horizon, less value
        _screenshot(page, "value.png")
