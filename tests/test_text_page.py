"""The Texts tab (pages/_text_tab.py) driven with Streamlit's AppTest on the sample workspace.

The tab is drawn by a tiny script that calls ``render`` on the workspace's sample dataset, as the
communications page does inside its "Texts" tab. Expected figures come from the core run on the
same data with the parameters the widgets show (seeded, so equal inputs give equal numbers).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from crm_core.i18n import t
from crm_core.store import Workspace
from crm_core.text import TextParams, TextResult, run_text, similar
from tests.apptest_helpers import run_tab, untranslated

_RESULTS: dict[str, TextResult] = {}


def _core(workspace: Path) -> TextResult:
    """The result for the tab's default widgets: communications.text by category, linear SVM."""
    if "default" not in _RESULTS:
        params = TextParams(table="communications", test_size=0.2)
        _RESULTS["default"] = run_text(Workspace(workspace).load_dataset("sample"), params)
    return _RESULTS["default"]


def _metric(at: AppTest, label: str):  # type: ignore[no-untyped-def]
    return next(m for m in at.metric if m.label == label)


def test_tab_shows_holdout_metrics_report_and_charts(sample_workspace: Path) -> None:
    at = run_tab("_text_tab")
    result = _core(sample_workspace)
    macro = _metric(at, t("text.metric.macro_f1", "en"))
    assert macro.value == f"{result.metrics['macro_f1']:.3f}"
    accuracy = _metric(at, t("text.metric.accuracy", "en"))
    assert accuracy.value == f"{result.metrics['accuracy']:.3f}"
    assert len(at.get("plotly_chart")) == 3  # F1 per category, confusion matrix, keywords
    report = at.dataframe[0].value
    assert list(report[t("text.col.category", "en")]) == result.classes
    assert {b.label for b in at.get("download_button")} >= {
        t("seg.download_csv", "en"),
        t("seg.download_xlsx", "en"),
    }


@pytest.mark.parametrize(
    "query", ["I want to return this, it is broken", "物流太慢了，包裹还没到", "积分什么时候过期"]
)
def test_typing_a_text_lists_the_closest_records(sample_workspace: Path, query: str) -> None:
    at = run_tab("_text_tab")
    frames_before = len(at.dataframe)
    at.text_input(key="comm_text_query").input(query).run()
    assert not at.exception
    expected = similar(_core(sample_workspace), query, k=10)
    assert len(at.dataframe) == frames_before + 1
    shown = next(d.value for d in at.dataframe if t("text.col.similarity", "en") in d.value.columns)
    assert list(shown[t("text.col.row", "en")]) == list(expected["row"])
    assert list(shown[t("text.col.text", "en")]) == list(expected["text"])
    assert shown[t("text.col.similarity", "en")].is_monotonic_decreasing


def test_no_category_column_still_searches_and_finds_topics(sample_workspace: Path) -> None:
    at = run_tab("_text_tab")
    at.selectbox(key="comm_text_label").set_value("__none__")
    at.button[0].click().run()
    assert not at.exception
    assert not at.metric  # no classifier, so no macro-F1 or accuracy
    at.text_input(key="comm_text_query").input("退货").run()
    shown = [d.value for d in at.dataframe if t("text.col.similarity", "en") in d.value.columns]
    assert shown and len(shown[0]) > 0
    topics = [d.value for d in at.dataframe if t("text.col.words", "en") in d.value.columns]
    assert len(topics) == 1 and len(topics[0]) == 6


def test_tab_in_chinese_has_no_english_only_text(sample_workspace: Path) -> None:
    at = run_tab("_text_tab", "zh")
    at.text_input(key="comm_text_query").input("包裹损坏").run()
    assert not at.exception
    assert untranslated(at) == []
    assert _metric(at, t("text.metric.macro_f1", "zh"))
