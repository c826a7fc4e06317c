"""Browser: the Communications page in real Chromium: see the best channel, open the A/B tab, pick
two channels with the mouse and read the verdict; README screenshot."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser_helpers import SCREENSHOTS, app_server, browser_page, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]


def _pick(page: object, label: str, option: str) -> None:
    page.get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_idle(page)


def test_ab_tab_compares_two_channels(sample_workspace: Path) -> None:
    with app_server(sample_workspace) as url, browser_page() as page:
        page.goto(url)
        wait_idle(page)
        page.locator("[data-testid='stSidebarNavLink']", has_text="Communications").click()
        page.get_by_role("tab", name="Strategies").wait_for()
        wait_idle(page)
        page.get_by_text("Best channel: WeChat").wait_for(timeout=60_000)

        page.get_by_role("tab", name="A/B test").click()
        wait_idle(page)
        page.get_by_role("combobox", name="Strategy A").wait_for(timeout=60_000)
        _pick(page, "Strategy B", "phone")
        _pick(page, "Strategy A", "email")
        # email (7.6 %) vs phone (9.4 %): phone wins, B over A
        page.get_by_text("phone does better than email").wait_for(timeout=60_000)
        _pick(page, "Strategy A", "WeChat")
        page.get_by_text("WeChat does better than phone").wait_for(timeout=60_000)
        page.get_by_text("To detect a difference of 2.0 percentage points").wait_for()
        page.wait_for_function(
            "() => [...document.querySelectorAll('.js-plotly-plot')]"
            ".some(el => el.data && el.data[0].x.join('|') === 'A · WeChat|B · phone')",
            timeout=60_000,
        )

        page.set_viewport_size({"width": 1400, "height": 1500})
        wait_idle(page)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "communications.png"), full_page=True)


def test_texts_tab_finds_similar_records_for_a_typed_text(sample_workspace: Path) -> None:
    with app_server(sample_workspace) as url, browser_page() as page:
        page.goto(url)
        wait_idle(page)
        page.locator("[data-testid='stSidebarNavLink']", has_text="Communications").click()
        page.get_by_role("tab", name="Strategies").wait_for()
        wait_idle(page)
        page.get_by_role("tab", name="Texts").click()
        wait_idle(page)
        box = page.get_by_role("textbox", name="Type a text to find the closest past records")
        box.wait_for(timeout=120_000)
        caption = page.get_by_text("Cosine similarity of the TF-IDF vectors")
        assert caption.count() == 0  # nothing is searched before a text is typed
        box.fill("Please exchange this for a different size")
        box.press("Enter")
        wait_idle(page)
        caption.wait_for(timeout=60_000)
        section = page.locator("[data-testid='stVerticalBlock']").filter(has=caption).last
        assert section.locator("[data-testid='stDataFrame']").count() >= 1
