"""The Communications page driven with AppTest (through app.py and its sidebar).

Expected numbers come from ``crm_core.campaigns`` run on the same workspace data with the settings
the page shows, never from an earlier page run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import pytest
from streamlit.testing.v1 import AppTest

from crm_core.campaigns import ALL, CampaignParams, compare_strategies, run_campaigns
from crm_core.i18n import t
from crm_core.store import Workspace
from tests.apptest_helpers import run_page, untranslated

PAGE = "pages/communications.py"


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _figures(at: AppTest) -> list[go.Figure]:
    return [go.Figure(json.loads(chart.proto.spec)) for chart in at.get("plotly_chart")]


def _open(at: AppTest, key: str, lang: str = "en") -> AppTest:
    """Open a tab as a user clicks it (the page's tabs are lazy: only the open one runs)."""
    at.session_state["camp_tab"] = t(key, lang)
    return at.run()


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _dataset(workspace: Path, name: str = "sample"):
    ws = Workspace(workspace)
    return ws, ws.load_dataset(name)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_strategies_tab_names_the_planted_best_channel(sample_workspace: Path, lang: str) -> None:
    at = run_page(PAGE, lang)
    _ok(at)
    assert [tab.label for tab in at.tabs][:3] == [
        t("commpage.tab.strategies", lang),
        t("commpage.tab.ab", lang),
        t("commpage.tab.texts", lang),
    ]
    ws, dataset = _dataset(sample_workspace)
    result = run_campaigns(dataset, CampaignParams(), ws, lang)
    top = result.best.set_index("segment").loc[ALL]
    assert top["best"] == "WeChat" and top["status"] == "significant"
    assert len(at.success) == 1 and "WeChat" in at.success[0].value
    assert f"{top['rate']:.1%}" in at.success[0].value
    best = at.dataframe[0].value
    assert best.iloc[0][t("campaigns.column.best", lang)] == "WeChat"
    assert best.iloc[0][t("campaigns.column.status", lang)] == t(
        "campaigns.status.significant", lang
    )
    assert len(best) == len(result.best)  # every segment, thin ones as "not enough data"
    assert t("campaigns.status.not_enough_data", lang) in set(
        best[t("campaigns.column.status", lang)]
    )
    figures = _figures(at)
    assert len(figures) == 2  # rates by channel with intervals, frequency curve
    bars = figures[0].data[0]
    channel = result.tables["channel"]
    assert list(bars.x) == channel["value"].tolist()
    assert list(bars.y) == pytest.approx(channel["rate"].tolist())
    assert list(bars.error_y.array) == pytest.approx(
        (channel["ci_high"] - channel["rate"]).tolist()
    )
    if lang == "zh":
        assert untranslated(at) == []


def test_breakdown_by_weekday_in_chinese_shows_translated_days(sample_workspace: Path) -> None:
    at = run_page(PAGE, "zh")
    at.selectbox(key="camp_dimension").set_value("weekday").run()
    _ok(at)
    ws, dataset = _dataset(sample_workspace)
    table = run_campaigns(dataset, CampaignParams(), ws, "zh").tables["weekday"]
    bars = _figures(at)[0].data[0]
    assert list(bars.x) == ["星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"]
    assert list(bars.y) == pytest.approx(table["rate"].tolist())
    shown = at.dataframe[1].value
    assert shown[t("campaigns.column.n", "zh")].tolist() == table["n"].tolist()
    assert untranslated(at) == []


def test_ab_tab_compares_two_channels_as_the_core_does(sample_workspace: Path) -> None:
    at = _open(run_page(PAGE, "en"), "commpage.tab.ab")
    _ok(at)
    assert at.selectbox(key="camp_ab_dimension").value == "channel"
    at.selectbox(key="camp_ab_a_channel").set_value("WeChat")
    at.selectbox(key="camp_ab_b_channel").set_value("email").run()
    _ok(at)
    ws, dataset = _dataset(sample_workspace)
    ab = compare_strategies(
        dataset, ("channel", "WeChat"), ("channel", "email"), CampaignParams(), ws, effect=0.02
    )
    metrics = _metrics(at)
    assert metrics[t("commpage.ab.value_a", "en", name="WeChat")] == f"{ab.value_a:.1%}"
    assert metrics[t("commpage.ab.value_b", "en", name="email")] == f"{ab.value_b:.1%}"
    assert metrics[t("commpage.ab.diff", "en")] == f"{ab.diff:+.1%}"
    assert metrics[t("commpage.ab.p_value", "en")] == f"{ab.p_value:.3g}"
    assert [s.value for s in at.success] == [
        t("campaigns.verdict.a_better", "en", a="WeChat", b="email")
    ]
    assert any(f"{ab.needed_per_arm:,}" in i.value for i in at.info)
    interval = f"{ab.diff_low:.1%} – {ab.diff_high:.1%}"
    assert any(interval in c.value for c in at.caption)
    figure = _figures(at)[0]
    assert list(figure.data[0].y) == pytest.approx([ab.value_a, ab.value_b])

    # a larger effect to detect needs fewer contacts
    at.number_input(key="camp_ab_effect").set_value(5.0).run()
    _ok(at)
    smaller = compare_strategies(
        dataset, ("channel", "WeChat"), ("channel", "email"), CampaignParams(), ws, effect=0.05
    ).needed_per_arm
    assert smaller < ab.needed_per_arm
    assert any(f"{smaller:,}" in i.value for i in at.info)


def test_ab_tab_two_campaigns_without_a_difference(sample_workspace: Path) -> None:
    at = _open(run_page(PAGE, "zh"), "commpage.tab.ab", "zh")
    at.selectbox(key="camp_ab_dimension").set_value("campaign").run()
    at.selectbox(key="camp_ab_a_campaign").set_value("Spring Sale 2023")
    at.selectbox(key="camp_ab_b_campaign").set_value("Spring Sale 2024").run()
    _ok(at)
    ws, dataset = _dataset(sample_workspace)
    ab = compare_strategies(
        dataset,
        ("campaign", "Spring Sale 2023"),
        ("campaign", "Spring Sale 2024"),
        CampaignParams(),
        ws,
        "zh",
    )
    assert ab.verdict == "no_difference"
    expected = t(
        "campaigns.verdict.no_difference", "zh", a="Spring Sale 2023", b="Spring Sale 2024"
    )
    assert expected in [i.value for i in at.info]
    assert not at.success
    assert untranslated(at) == []


def test_thin_campaigns_never_show_a_winner(sample_workspace: Path) -> None:
    workspace = Workspace(sample_workspace)
    thin = pd.DataFrame(
        {
            "customer_id": [f"C{i:05d}" for i in range(1, 21)],
            "channel": ["SMS"] * 10 + ["email"] * 10,
            "responded": [1] * 8 + [0] * 2 + [0] * 10,
        }
    )
    workspace.save_dataset("thin", {"campaigns": thin})
    at = run_page(PAGE, "en", dataset="thin")
    _ok(at)
    assert [w.value for w in at.warning] == [t("commpage.best.not_enough_data", "en")]
    assert not at.success
    at = _open(at, "commpage.tab.ab")
    _ok(at)
    assert [w.value for w in at.warning] == [
        t("campaigns.verdict.not_enough_data", "en", a="SMS", b="email")
    ]


def test_a_dataset_without_contacts_says_what_is_missing(sample_workspace: Path) -> None:
    workspace = Workspace(sample_workspace)
    customers = workspace.load_dataset("sample").tables["customers"]
    workspace.save_dataset("only_customers", {"customers": customers})
    at = run_page(PAGE, "en", dataset="only_customers")
    _ok(at)
    assert t("commpage.needs", "en") in [i.value for i in at.info]
    at = _open(at, "commpage.tab.ab")
    _ok(at)
    assert t("commpage.needs", "en") in [i.value for i in at.info]


def test_only_the_open_tab_runs(sample_workspace: Path) -> None:
    """The Texts tab draws the text analysis (or says it is not there yet) and nothing of the
    strategy tabs: no best-channel headline, no strategy settings."""
    at = _open(run_page(PAGE, "en"), "commpage.tab.texts")
    assert not at.exception, [e.value for e in at.exception]
    assert not at.success
    assert "camp_min_contacts" not in [n.key for n in at.number_input]
    from importlib.util import find_spec

    if find_spec("pages._text_tab") is None:
        assert [i.value for i in at.info] == [t("commpage.texts_unavailable", "en")]
