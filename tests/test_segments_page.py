"""The Segments page (RFM / Clusters / Compare) driven with Streamlit's AppTest.

Every run goes through ``app.py`` with its sidebar, as in a running server (see
``_apptest_runs_through_app_py`` in conftest.py). Expected figures come from the core run on the
same workspace data, never from a previous page run.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from crm_core.errors import CrmError
from crm_core.features import dataset_features
from crm_core.i18n import t
from crm_core.segmentation import (
    ClusterParams,
    default_features,
    run_clustering,
    run_rfm,
    segment_name,
)
from crm_core.store import Workspace
from tests.apptest_helpers import run_page, untranslated

PAGE = "pages/segments.py"


def _tab(at: AppTest, key: str, lang: str = "en") -> Block:
    label = t(key, lang)
    matches = [tab for tab in at.tabs if tab.label == label]
    assert len(matches) == 1, [tab.label for tab in at.tabs]
    return matches[0]


def _metric(block: Block, key: str, lang: str = "en") -> str:
    label = t(key, lang)
    values = [m.value for m in block.metric if m.label == label]
    assert len(values) == 1, [m.label for m in block.metric]
    return values[0]


def _profile_table(block: Block) -> pd.DataFrame:
    """The editable segment table (label, name, customers, shares, description)."""
    tables = [d.value for d in block.dataframe if "description" in d.value.columns]
    assert len(tables) == 1
    return tables[0]


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _submit(at: AppTest) -> AppTest:
    buttons = [b for b in at.button if b.form_id == "cluster_form"]
    assert len(buttons) == 1, [b.label for b in at.button]
    buttons[0].click()
    at.run()
    _ok(at)
    return at


def _sample_features(workspace: Path) -> pd.DataFrame:
    return dataset_features(Workspace(workspace).load_dataset("sample"))


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_renders_in_both_languages(sample_workspace: Path, lang: str) -> None:
    at = run_page(PAGE, lang)
    _ok(at)
    assert not at.error, [e.value for e in at.error]
    assert [tab.label for tab in at.tabs][:2] == [
        t("seg.tab.rfm", lang),
        t("seg.tab.clusters", lang),
    ]
    assert t("seg.tab.compare", lang) in [tab.label for tab in at.tabs]
    if lang == "zh":
        assert untranslated(at) == []
    texts = [str(m.value) for m in at.markdown] + [m.label for m in at.metric]
    assert not [text for text in texts if "seg." in text or "segments." in text]


def test_rfm_tab_shows_charts_metrics_and_summary(sample_workspace: Path) -> None:
    rfm = run_rfm(Workspace(sample_workspace).load_dataset("sample").tables["transactions"])
    at = run_page(PAGE, "en")
    _ok(at)
    tab = _tab(at, "seg.tab.rfm")
    assert len(tab.get("plotly_chart")) == 2  # treemap + R x FM heatmap
    assert _metric(tab, "seg.rfm.frequency") == f"{rfm.stats.loc['frequency', 'mean']:,.2f}"
    assert _metric(tab, "seg.rfm.monetary") == f"{rfm.stats.loc['monetary', 'mean']:,.2f}"
    summaries = [d.value for d in tab.dataframe if t("seg.col.name", "en") in d.value.columns]
    assert len(summaries) == 1
    summary = summaries[0]
    expected = [segment_name(s, "en") for s in rfm.summary.index]
    assert summary[t("seg.col.name", "en")].tolist() == expected
    assert summary[t("seg.col.count", "en")].sum() == len(rfm.customers) == 5000
    assert {d.key for d in tab.get("download_button")} == {"rfm:csv", "rfm:xlsx"}


def test_changing_k_needs_the_submit_button_and_changes_the_profiles(
    sample_workspace: Path,
) -> None:
    at = run_page(PAGE, "en")
    _ok(at)
    clusters = _tab(at, "seg.tab.clusters")
    assert _metric(clusters, "seg.m.segments") == "5"
    before = _profile_table(clusters)
    assert len(before) == 5 and before["customers"].sum() == 5000

    # inside the form: moving the slider alone does not rerun the clustering
    at.slider(key="seg_k").set_value(7)
    at.run()
    _ok(at)
    assert _metric(_tab(at, "seg.tab.clusters"), "seg.m.segments") == "5"

    at.slider(key="seg_k").set_value(7)
    _submit(at)
    clusters = _tab(at, "seg.tab.clusters")
    assert _metric(clusters, "seg.m.segments") == "7"
    after = _profile_table(clusters)
    assert len(after) == 7 and after["customers"].sum() == 5000
    assert after["label"].tolist() == [str(i) for i in range(7)]
    assert after["name"].is_unique

    # the page shows what the core computes for the same settings
    features = _sample_features(sample_workspace)
    params = ClusterParams(
        k=7, features=default_features(features), scaler="log1p_standard", seed=42
    )
    result = run_clustering(features, params)
    assert after["customers"].tolist() == result.sizes.tolist()
    assert _metric(clusters, "seg.m.silhouette") == f"{result.metrics['silhouette']:,.3f}"


def test_hdbscan_shows_a_noise_share(sample_workspace: Path) -> None:
    pytest.importorskip("hdbscan")
    at = run_page(PAGE, "en")
    _ok(at)
    assert _metric(_tab(at, "seg.tab.clusters"), "seg.m.noise") == "0.0%"
    assert t("seg.algo.hdbscan", "en") in at.selectbox(key="seg_algorithm").options
    at.selectbox(key="seg_algorithm").set_value("hdbscan")
    at.run()
    _ok(at)
    assert {s.key for s in at.slider} >= {"seg_mcs", "seg_min_samples_h"}
    assert "seg_k" not in {s.key for s in at.slider}
    _submit(at)
    clusters = _tab(at, "seg.tab.clusters")

    features = _sample_features(sample_workspace)
    params = ClusterParams(
        algorithm="hdbscan",
        min_cluster_size=15,
        min_samples=5,
        features=default_features(features),
        scaler="log1p_standard",
    )
    result = run_clustering(features, params)
    noise = result.metrics["noise_share"]
    assert noise > 0
    assert _metric(clusters, "seg.m.noise") == f"{noise:.1%}"
    assert _metric(clusters, "seg.m.segments") == f"{int(result.metrics['n_clusters'])}"
    profile = _profile_table(clusters)
    assert "-1" in profile["label"].tolist()  # noise is its own row
    noise_row = profile[profile["label"] == "-1"].iloc[0]
    assert noise_row["name"] == t("segments.name.noise", "en")
    assert noise_row["customers"] == int((result.labels == -1).sum())


def _tiny_workspace(workspace: Path, customers: int) -> None:
    dates = pd.date_range("2024-01-01", periods=customers * 3, freq="5D")
    transactions = pd.DataFrame(
        {
            "customer_id": [f"T{i % customers:02d}" for i in range(customers * 3)],
            "order_id": [f"O{i:03d}" for i in range(customers * 3)],
            "date": dates,
            "amount": [10.0 + 7.5 * i for i in range(customers * 3)],
        }
    )
    Workspace(workspace).save_dataset("tiny", {"transactions": transactions})


def test_k_larger_than_customers_is_an_error_message(sample_workspace: Path) -> None:
    _tiny_workspace(sample_workspace, customers=8)
    at = run_page(PAGE, "en", dataset="tiny")
    _ok(at)
    assert not at.error, [e.value for e in at.error]
    assert _metric(_tab(at, "seg.tab.clusters"), "seg.m.segments") == "5"

    at.slider(key="seg_k").set_value(12)
    _submit(at)
    features = dataset_features(Workspace(sample_workspace).load_dataset("tiny"))
    params = ClusterParams(k=12, features=default_features(features), scaler="log1p_standard")
    with pytest.raises(CrmError) as raised:
        run_clustering(features, params)
    assert [e.value for e in at.error] == [raised.value.message("en")]
    assert "12" in at.error[0].value and "8" in at.error[0].value
    assert not [m for m in at.metric if m.label == t("seg.m.segments", "en")]
    # the RFM tab is unaffected
    assert len(_tab(at, "seg.tab.rfm").get("plotly_chart")) == 2


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_empty_feature_selection_is_an_error_message(sample_workspace: Path, lang: str) -> None:
    at = run_page(PAGE, lang)
    _ok(at)
    at.multiselect(key="seg_features").set_value([])
    _submit(at)
    features = _sample_features(sample_workspace)
    with pytest.raises(CrmError) as raised:
        run_clustering(features, ClusterParams(features=(), scaler="log1p_standard"))
    assert [e.value for e in at.error] == [raised.value.message(lang)]
    assert not [m for m in at.metric if m.label == t("seg.m.segments", lang)]
    if lang == "zh":
        assert untranslated(at) == []


def test_saving_a_segmentation_stores_it_in_the_workspace(sample_workspace: Path) -> None:
    workspace = Workspace(sample_workspace)
    assert workspace.list_analyses("sample", "segments") == []
    at = run_page(PAGE, "en")
    _ok(at)
    shown = _profile_table(_tab(at, "seg.tab.clusters"))

    at.text_input(key="clusters:save_name").set_value("Five groups")
    at.button(key="clusters:save").click()
    at.run()
    _ok(at)
    assert [s.value for s in at.success] == [t("seg.saved", "en", name="Five groups")]

    saved = workspace.list_analyses("sample", "segments")
    assert [item.name for item in saved] == ["Five groups"]
    frame = workspace.load_analysis("sample", "segments", "Five groups")
    assert list(frame.columns[:3]) == ["customer_id", "segment", "segment_name"]
    assert len(frame) == 5000 and frame["customer_id"].is_unique
    counts = frame["segment_name"].value_counts()
    assert counts.to_dict() == dict(zip(shown["name"], shown["customers"], strict=True))

    # the Compare tab (it runs once opened) now offers the saved segmentation
    at.session_state["seg_tab"] = t("seg.tab.compare", "en")
    at.run()
    _ok(at)
    options = at.selectbox(key="seg_cmp_a").options
    assert t("seg.compare.saved", "en", name="Five groups") in options


def test_rfm_and_compare_run_only_while_open(sample_workspace: Path) -> None:
    """A k change on the Clusters tab does not redraw the RFM tab (its Excel export costs more
    than the change); the Clusters tab always runs, so Compare offers its current result."""
    at = run_page(PAGE, "en", seg_tab=t("seg.tab.clusters", "en"))
    _ok(at)
    assert not _tab(at, "seg.tab.rfm").get("download_button")
    assert _metric(_tab(at, "seg.tab.clusters"), "seg.m.segments") == "5"
    at.session_state["seg_tab"] = t("seg.tab.compare", "en")
    at.run()
    _ok(at)
    assert at.selectbox(key="seg_cmp_a").options[:2] == [
        t("seg.compare.rfm", "en"),
        t("seg.compare.current", "en"),
    ]
    assert _tab(at, "seg.tab.compare").metric  # the ARI of RFM vs the current clusters
    at.session_state["seg_tab"] = t("seg.tab.rfm", "en")
    at.run()
    _ok(at)
    assert {d.key for d in _tab(at, "seg.tab.rfm").get("download_button")} == {
        "rfm:csv",
        "rfm:xlsx",
    }


def test_a_sampled_map_says_so(sample_workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Above the map's point limit the map draws a sample and a caption says how many."""
    import json

    from crm_core.charts import segments as charts

    monkeypatch.setattr(charts, "MAP_MAX_POINTS", 1_000)
    at = run_page(PAGE, "en")
    _ok(at)
    expected = t("seg.map_sampled", "en", shown="1,000", total="5,000")
    assert expected in [c.value for c in _tab(at, "seg.tab.clusters").caption]
    title = t("segments.chart.map", "en")
    maps = [c for c in at.get("plotly_chart") if title in c.proto.spec]
    assert len(maps) == 1
    traces = json.loads(maps[0].proto.spec)["data"]
    points = sum(len(trace["customdata"]) for trace in traces)  # one customer id per point
    assert points == 1_000


def test_settings_survive_a_visit_to_another_page(sample_workspace: Path) -> None:
    """SAFETY 34: after the Data page and back, k and the fitted segments are still there."""
    at = run_page(PAGE, "en")
    at.slider(key="seg_k").set_value(7)
    next(iter(at.get("form_submit_button"))).click()
    at.run()
    assert {m.label: m.value for m in at.metric}[t("seg.m.segments", "en")] == "7"
    at.switch_page("pages/data.py")
    at.run()
    at.switch_page(PAGE)
    at.run()
    assert not at.exception
    assert at.slider(key="seg_k").value == 7
    assert {m.label: m.value for m in at.metric}[t("seg.m.segments", "en")] == "7"


def test_diagnostics_open_on_demand_and_show_silhouette_and_k_distance(
    sample_workspace: Path,
) -> None:
    at = run_page(PAGE, "en")
    closed = len(at.get("plotly_chart"))
    at.session_state["diag_panel"] = True
    at.run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == closed  # the k sweep waits for its button
    for tab in ("seg.diag.silhouette", "seg.diag.kdist"):
        at.session_state["diag_tab"] = t(tab, "en")
        at.run()
        assert not at.exception
        assert len(at.get("plotly_chart")) == closed + 1, tab
    assert any(t("seg.diag.suggested_eps", "en", eps="")[:10] in c.value for c in at.caption)
