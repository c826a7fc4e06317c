"""The Satisfaction & demand page driven with AppTest (through app.py and its sidebar).

Expected numbers come from ``crm_core.forecast`` run on the same workspace data with the settings
the page shows, never from an earlier page run.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from crm_core.forecast import ForecastParams, run_forecast
from crm_core.i18n import t
from crm_core.store import Workspace
from tests.apptest_helpers import run_page, untranslated

PAGE = "pages/forecast.py"


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _figures(at: AppTest) -> list[go.Figure]:
    import json

    return [go.Figure(json.loads(chart.proto.spec)) for chart in at.get("plotly_chart")]


def _forecast_trace(figure: go.Figure) -> go.Scatter:
    traces = [t for t in figure.data if t.type == "scatter" and t.line.dash == "dash"]
    assert len(traces) == 1, [trace.name for trace in figure.data]
    return traces[0]


def _expected(workspace: Path, **changes: object):
    ws = Workspace(workspace)
    return run_forecast(ws.load_dataset("sample"), ForecastParams(**changes), ws)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_renders_in_both_languages(sample_workspace: Path, lang: str) -> None:
    at = run_page(PAGE, lang)
    _ok(at)
    assert [tab.label for tab in at.tabs][:2] == [
        t("fcpage.tab.forecast", lang),
        t("fcpage.tab.drivers", lang),
    ]
    assert at.selectbox(key="fc_target").value == "satisfaction"
    assert len(_figures(at)) == 2  # forecast with interval, backtest errors
    if lang == "zh":
        assert untranslated(at) == []
    texts = [str(m.value) for m in at.markdown] + [str(c.value) for c in at.caption]
    assert not [text for text in texts if "fcpage." in text or "forecast." in text]


def test_forecast_chart_shows_the_core_forecast_and_moves_with_the_horizon(
    sample_workspace: Path,
) -> None:
    at = run_page(PAGE, "en")
    _ok(at)
    expected = _expected(sample_workspace, target="satisfaction", horizon=6, threshold=3.5)
    group = expected.group("__all__")
    path = group.forecast[group.forecast["model"] == group.chosen]
    trace = _forecast_trace(_figures(at)[0])
    assert list(trace.y[1:]) == pytest.approx(path["mean"].tolist())
    assert len(trace.x) == 7  # last observed period + 6 ahead

    at.slider(key="fc_horizon").set_value(12).run()
    _ok(at)
    trace = _forecast_trace(_figures(at)[0])
    assert len(trace.x) == 13
    expected = _expected(sample_workspace, target="satisfaction", horizon=12, threshold=3.5)
    group = expected.group("__all__")
    path = group.forecast[group.forecast["model"] == group.chosen]
    assert list(trace.y[1:]) == pytest.approx(path["mean"].tolist())


def test_grouping_by_channel_adds_the_group_chart_and_group_choice(sample_workspace: Path) -> None:
    at = run_page(PAGE, "en")
    at.selectbox(key="fc_by").set_value("channel").run()
    _ok(at)
    expected = _expected(sample_workspace, target="satisfaction", by="channel", threshold=3.5)
    names = [g.group for g in expected.groups]
    assert at.selectbox(key="fc_group_view").options == ["All", *names[1:]]
    figures = _figures(at)
    assert len(figures) == 3
    group_lines = {trace.name for trace in figures[2].data}
    assert group_lines == set(names[1:])
    at.selectbox(key="fc_group_view").set_value(names[1]).run()
    _ok(at)
    group = expected.group(names[1])
    path = group.forecast[group.forecast["model"] == group.chosen]
    assert list(_forecast_trace(_figures(at)[0]).y[1:]) == pytest.approx(path["mean"].tolist())


def test_demand_target_and_early_warning_threshold(sample_workspace: Path) -> None:
    at = run_page(PAGE, "en")
    at.selectbox(key="fc_target").set_value("revenue").run()
    _ok(at)
    expected = _expected(sample_workspace, target="revenue", drop=-0.10)
    summary = at.dataframe[-2].value
    assert summary.iloc[0][t("forecast.column.model", "en")] == t(
        f"forecast.model.{expected.group('__all__').chosen}", "en"
    )
    assert {d.key for d in at.download_button} == {"forecast_export:csv", "forecast_export:xlsx"}
    at.slider(key="fc_drop").set_value(-50).run()
    _ok(at)
    assert any(t("fcpage.no_warnings", "en") in s.value for s in at.success) or at.warning


def test_a_dataset_without_feedback_or_dates_says_what_is_missing(sample_workspace: Path) -> None:
    workspace = Workspace(sample_workspace)
    customers = workspace.load_dataset("sample").tables["customers"]
    workspace.save_dataset("only_customers", {"customers": customers})
    at = run_page(PAGE, "en", dataset="only_customers")
    _ok(at)
    assert t("fcpage.needs", "en") in [i.value for i in at.info]


def test_saved_segmentation_splits_the_forecast(sample_workspace: Path) -> None:
    workspace = Workspace(sample_workspace)
    planted = pd.read_csv(
        Path(__file__).resolve().parents[1] / "sample_data" / "planted_segments.csv.gz", dtype=str
    )
    workspace.save_analysis(
        "sample", "segments", "planted", planted.assign(segment_name=planted["segment"])
    )
    at = run_page(PAGE, "en")
    at.selectbox(key="fc_by").set_value("segment").run()
    at.selectbox(key="fc_segmentation").set_value("planted").run()
    _ok(at)
    assert set(at.selectbox(key="fc_group_view").options) == {
        "All",
        "vip",
        "loyal_regular",
        "bargain_hunter",
        "new_promising",
        "lapsed",
    }
    warnings = at.dataframe[0].value
    assert "lapsed" in warnings[t("forecast.column.group", "en")].tolist()
