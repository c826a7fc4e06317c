"""Browser: the Churn page in real Chromium: open it from the sidebar, derive the label from
purchases, wait for the evaluation, move the threshold with the keyboard and see precision change,
download the risk list CSV; README screenshot of the page."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from crm_core.churn import (
    ChurnLabelParams,
    ChurnModelParams,
    metrics_at_threshold,
    risk_list,
    run_churn,
)
from crm_core.i18n import t
from crm_core.store import Workspace
from tests.browser_helpers import SCREENSHOTS, app_server, browser_page, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("browser")]

# the page's defaults: 90 days, as-of = the latest date whose window fits (the planted 2024-10-03)
DERIVED = ChurnLabelParams(inactive_days=90, as_of=pd.Timestamp("2024-10-03"))
PAGE_DEFAULTS = ChurnModelParams(model="logreg", cv_folds=5, C=1.0, svm_C=0.1)
CSV_HEADER = b"\xef\xbb\xbfrank,customer_id,probability,value,expected_loss,recency_days,"


def _metric_value(page: object, label: str) -> object:
    """The value element of the metric card labelled ``label``."""
    card = page.locator("[data-testid='stMetric']").filter(
        has=page.locator("[data-testid='stMetricLabel']", has_text=label)
    )
    return card.locator("[data-testid='stMetricValue']")


def en(key: str) -> str:
    return t(key, "en")


def _metric(page: object, label: str) -> str:
    return _metric_value(page, label).inner_text().strip()


def _move_slider(page: object, slider: object, target: float) -> None:
    """Arrow keys until the slider shows ``target`` and keeps it after the reruns settle (a key
    pressed while the app reruns may be lost on a busy machine, so the value is read back)."""
    for _ in range(100):
        value = round(float(slider.input_value()), 2)
        if value == target:
            wait_idle(page)
            if round(float(slider.input_value()), 2) == target:
                return
            continue
        slider.press("ArrowLeft" if value > target else "ArrowRight")
        page.wait_for_timeout(30)
    raise AssertionError(f"the slider did not reach {target}: {slider.input_value()}")


def test_threshold_moves_precision_and_risk_list_downloads(
    sample_workspace: Path, tmp_path: Path
) -> None:
    expect = pytest.importorskip("playwright.sync_api").expect
    dataset = Workspace(sample_workspace).load_dataset("sample")
    expected = run_churn(dataset, DERIVED, PAGE_DEFAULTS)

    with app_server(sample_workspace) as url, browser_page() as page:
        page.goto(url)
        wait_idle(page)
        page.locator("[data-testid='stSidebarNavLink']", has_text=en("nav.churn")).click()
        page.get_by_role("tab", name=en("churn.page.tab.evaluation")).wait_for()
        wait_idle(page)

        # the label derived from purchases is the default on data with transactions (clicking
        # it keeps it); the evaluation is a time-based holdout
        radio = page.locator("[data-testid='stRadio']").filter(
            has_text=en("churn.page.label_source")
        )
        radio.get_by_text(en("churn.page.source.derived")).click()
        info = page.locator("[data-testid='stAlertContentInfo']")
        expect(info).to_have_text(expected.definition["en"], timeout=90_000)
        wait_idle(page)
        roc = f"{expected.metrics['roc_auc']:.3f}"
        expect(_metric_value(page, en("churn.page.metric.roc_auc"))).to_have_text(roc)
        precision = en("churn.page.precision")
        at_half = metrics_at_threshold(expected, 0.5)
        assert _metric(page, precision) == f"{at_half['precision']:.1%}"

        # the threshold slider sits outside the form: each key press rescores at once
        slider = page.get_by_role("slider", name=en("churn.page.threshold"))
        assert float(slider.input_value()) == 0.5
        _move_slider(page, slider, 0.3)
        at_low = metrics_at_threshold(expected, 0.3)
        assert f"{at_low['precision']:.1%}" != f"{at_half['precision']:.1%}"
        expect(_metric_value(page, precision)).to_have_text(
            f"{at_low['precision']:.1%}", timeout=60_000
        )
        wait_idle(page)
        assert _metric(page, en("churn.page.flagged")) == f"{int(at_low['flagged']):,}"
        assert _metric(page, en("churn.page.metric.roc_auc")) == roc  # no refit

        # README screenshot
        page.set_viewport_size({"width": 1400, "height": 1800})
        slider.blur()
        page.locator("h1", has_text=en("churn.page.title")).scroll_into_view_if_needed()
        wait_idle(page)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / "churn.png"))
        page.set_viewport_size({"width": 1400, "height": 1000})

        # the risk list tab and its CSV
        page.get_by_role("tab", name=en("churn.page.tab.risk")).click()
        wait_idle(page)
        button = page.locator("[data-testid='stDownloadButton']").filter(
            has_text=en("seg.download_csv")
        )
        visible = [i for i in range(button.count()) if button.nth(i).is_visible()]
        assert len(visible) == 1
        with page.expect_download() as download_info:
            button.nth(visible[0]).click()
        download = download_info.value
        assert download.suggested_filename == "churn_risk.csv"
        path = tmp_path / download.suggested_filename
        download.save_as(path)

    data = path.read_bytes()
    assert data.startswith(CSV_HEADER)
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype={"customer_id": str})
    risk = risk_list(expected)
    assert list(frame.columns) == [
        c for c in risk.columns if not c.startswith("factors_") or c == "factors_en"
    ]
    assert len(frame) == 5000 and frame["customer_id"].is_unique
    assert frame["rank"].tolist() == list(range(1, 5001))
    assert frame["probability"].is_monotonic_decreasing
    assert frame["customer_id"].tolist() == risk["customer_id"].tolist()
    assert frame["probability"].tolist() == pytest.approx(risk["probability"].tolist())
