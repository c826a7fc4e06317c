"""The Customer 360 page driven with AppTest (through app.py and its sidebar).

Expected numbers come from the core (``crm_core.customer360``, ``crm_core.recommend``) run on
the same workspace data, never from an earlier page run.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from crm_core.customer360 import customer_profile
from crm_core.i18n import t
from crm_core.recommend import (
    METHODS,
    RecommendParams,
    evaluate_recommenders,
    fit_recommender,
    reason_texts,
    recommend,
)
from crm_core.store import Workspace
from tests.apptest_helpers import run_page, untranslated

PAGE = "pages/customer360.py"
CUSTOMER = "C00002"  # 宋佳怡


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _search(at: AppTest, query: str) -> AppTest:
    at.text_input(key="c360_query").input(query).run()
    _ok(at)
    return at


def _open(at: AppTest, tab: str, lang: str = "en") -> AppTest:
    at.session_state["c360_tab"] = t(f"c360page.tab.{tab}", lang)
    at.run()
    _ok(at)
    return at


def _metric(at: AppTest, key: str, lang: str) -> str:
    values = [m.value for m in at.metric if m.label == t(key, lang)]
    assert len(values) == 1, [m.label for m in at.metric]
    return values[0]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_search_and_profile_in_both_languages(sample_workspace: Path, lang: str) -> None:
    at = run_page(PAGE, lang)
    _ok(at)
    assert at.title[0].value == t("c360page.title", lang)
    _search(at, "佳怡")
    box = at.selectbox(key="c360_customer")
    assert box.value == CUSTOMER and "宋佳怡" in box.options[0]
    dataset = Workspace(sample_workspace).load_dataset("sample")
    profile = customer_profile(dataset, CUSTOMER, lang=lang)
    assert at.subheader[0].value.startswith("宋佳怡")
    figures = profile.figures
    assert _metric(at, "c360page.metric.segment", lang) == figures["segment_name"]
    assert _metric(at, "c360page.metric.clv", lang) == f"{figures['clv']:,.2f}"
    assert _metric(at, "c360page.metric.p_alive", lang) == f"{figures['p_alive']:.0%}"
    assert _metric(at, "c360page.metric.churn", lang) == f"{figures['churn_probability']:.0%}"
    assert _metric(at, "c360page.metric.orders", lang) == str(figures["orders"])
    factors = [el.value for el in at.text if profile.churn_factors in el.value]
    assert factors and profile.churn_factors
    assert len(at.get("plotly_chart")) == 2  # timeline, categories vs segment
    if lang == "zh":
        assert untranslated(at) == []


def test_recommendations_equal_the_core(sample_workspace: Path) -> None:
    at = run_page(PAGE, "en")
    _search(at, CUSTOMER)
    _open(at, "recommend")
    dataset = Workspace(sample_workspace).load_dataset("sample")
    transactions = dataset.tables["transactions"]
    customers = dataset.tables["customers"]["customer_id"]
    for method in ("itemknn", "rules"):
        at.radio(key="c360_method").set_value(method).run()
        _ok(at)
        model = fit_recommender(transactions, RecommendParams(method=method, n=10), customers)
        expected = recommend(model, [CUSTOMER], 10)
        shown = at.dataframe[-1].value
        assert shown[t("recommend.column.item", "en")].tolist() == expected["item"].tolist()
        assert shown[t("recommend.column.reason", "en")].tolist() == (
            reason_texts(expected, "en").tolist()
        )
    at.slider(key="c360_n").set_value(5).run()
    _ok(at)
    assert len(at.dataframe[-1].value) == 5


def test_content_method_without_categories_says_so(sample_workspace: Path) -> None:
    workspace = Workspace(sample_workspace)
    sample = workspace.load_dataset("sample")
    transactions = sample.tables["transactions"].drop(columns=["category"])
    workspace.save_dataset("no_categories", {"transactions": transactions})
    at = run_page(PAGE, "en", dataset="no_categories")
    _search(at, CUSTOMER)
    _open(at, "recommend")
    at.radio(key="c360_method").set_value("content").run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        t("recommend.error.no_categories", "en") + " " + t("recommend.hint.no_categories", "en")
    ]


def test_recommenders_tab_evaluation_and_batch_export(sample_workspace: Path) -> None:
    at = run_page(PAGE, "en")
    _open(at, "recommenders")
    dataset = Workspace(sample_workspace).load_dataset("sample")
    table = evaluate_recommenders(dataset.tables["transactions"], METHODS, 10)
    shown = at.dataframe[0].value
    hit_rate = t("recommend.column.hit_rate", "en")
    assert shown[hit_rate].tolist() == [f"{v:.1%}" for v in table["hit_rate"]]
    assert len(at.get("plotly_chart")) == 1
    assert {d.key for d in at.get("download_button")} == {"recs_export:csv", "recs_export:xlsx"}
    batch = at.dataframe[-1].value
    assert batch[t("recommend.column.customer_id", "en")].nunique() == 500 // 10


def test_edit_an_attribute_and_find_it_after_a_restart(sample_workspace: Path) -> None:
    at = run_page(PAGE, "en")
    _search(at, CUSTOMER)
    field = at.text_input(key=f"edit360:{CUSTOMER}:age")
    field.input("forty")
    at.button[-1].click()  # the form's submit button
    at.run()
    assert not at.exception
    assert len(at.error) == 1 and "forty" in at.error[0].value  # names the bad value
    workspace = Workspace(sample_workspace)
    customers = workspace.load_dataset("sample").tables["customers"].set_index("customer_id")
    assert customers.loc[CUSTOMER, "age"] == 36  # nothing stored

    at.text_input(key=f"edit360:{CUSTOMER}:age").input("41")
    at.text_input(key=f"edit360:{CUSTOMER}:city").input("Hangzhou <b>")
    at.button[-1].click()
    at.run()
    _ok(at)
    assert any(CUSTOMER in s.value for s in at.success)

    fresh = run_page(PAGE, "en")  # a new session on the same workspace
    _search(fresh, CUSTOMER)
    attributes = fresh.dataframe[1].value.set_index(t("c360page.attribute", "en"))
    value = t("c360page.value", "en")
    assert attributes.loc[t("schema.role.city", "en"), value] == "Hangzhou <b>"
    assert attributes.loc[t("schema.role.age", "en"), value] == "41"
    stored = Workspace(sample_workspace).load_dataset("sample").tables["customers"]
    assert stored.set_index("customer_id").loc[CUSTOMER, "city"] == "Hangzhou <b>"


def test_no_match_and_unknown_ids(sample_workspace: Path) -> None:
    at = run_page(PAGE, "en")
    _search(at, "zz-nobody")
    assert [i.value for i in at.info] == [t("c360page.no_match", "en", query="zz-nobody")]
    assert not at.tabs
