"""The Drivers tab (pages/_drivers_tab.py) driven with Streamlit's AppTest on the sample workspace.

The tab is drawn by a tiny script that calls ``render`` on the workspace's sample dataset, as the
satisfaction page does inside its "Drivers" tab. Expected figures come from the core run on the
same data with the parameters the widgets show (seeded, so equal inputs give equal numbers).
"""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from crm_core.drivers import DriverParams, DriverResult, run_drivers, what_if
from crm_core.i18n import t
from crm_core.segment_labels import RFM_CHOICE
from crm_core.store import Workspace
from tests.apptest_helpers import run_tab, untranslated

_RESULTS: dict[str, DriverResult] = {}


def _core(workspace: Path) -> DriverResult:
    """The result for the tab's default widgets: score, detected scale, boosting, RFM."""
    if "default" not in _RESULTS:
        ws = Workspace(workspace)
        params = DriverParams(segmentation=RFM_CHOICE)
        _RESULTS["default"] = run_drivers(ws.load_dataset("sample"), params, ws, "en")
    return _RESULTS["default"]


def _metric(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(m for m in at.metric if m.label == label)


def test_tab_shows_cross_validated_metrics_against_the_baseline(sample_workspace: Path) -> None:
    at = run_tab("_drivers_tab")
    result = _core(sample_workspace)
    mae = _metric(at, t("drivers.metric.mae", "en"))
    assert mae.value == f"{result.metrics['mae']:.3f}"
    gain = result.metrics["mae"] - result.baseline["mae"]
    assert mae.delta == t("drivers.tab.vs_baseline", "en", value=f"{gain:+.3f}")
    assert _metric(at, t("drivers.metric.r2", "en")).value == f"{result.metrics['r2']:.3f}"
    assert len(at.get("plotly_chart")) == 3  # importance, predicted vs given, what-if
    assert {b.label for b in at.get("download_button")} == {
        t("seg.download_csv", "en"),
        t("seg.download_xlsx", "en"),
    }


def test_what_if_follows_the_chosen_driver_and_value(sample_workspace: Path) -> None:
    at = run_tab("_drivers_tab")
    result = _core(sample_workspace)
    predicted = t("drivers.tab.predicted_regression", "en")
    at.selectbox(key="fc_drv_feature").set_value("customer.age").run()
    at.slider(key="fc_drv_value:customer.age").set_value(30.0).run()
    assert not at.exception
    metric = _metric(at, predicted)
    expected = what_if(result, "customer.age", 30.0)
    assert metric.value == f"{expected:.2f}"
    assert metric.delta == f"{expected - result.current:+.2f}"
    at.selectbox(key="fc_drv_feature").set_value("segment").run()
    level = at.selectbox(key="fc_drv_level:segment")
    choice = level.options[-1]
    level.set_value(choice).run()
    assert _metric(at, predicted).value == f"{what_if(result, 'segment', choice):.2f}"


def test_a_threshold_outside_the_scale_is_one_clear_message(sample_workspace: Path) -> None:
    at = run_tab("_drivers_tab")
    at.selectbox(key="fc_drv_target").set_value("satisfied")
    at.number_input(key="fc_drv_threshold").set_value(7.0)
    at.button[0].click().run()
    assert not at.exception
    assert len(at.error) == 1
    assert "7" in at.error[0].value and "1–5" in at.error[0].value
    assert not at.metric  # nothing from the previous run is shown as if it were this one


def test_tab_in_chinese_has_no_english_only_text(sample_workspace: Path) -> None:
    at = run_tab("_drivers_tab", "zh")
    assert untranslated(at) == []
    assert _metric(at, t("drivers.metric.mae", "zh"))
