"""The Customer value page (Historical value / Lifetime value / CLV vs RFM) driven with AppTest.

Every run goes through ``app.py`` with its sidebar (see ``_apptest_runs_through_app_py`` in
conftest.py). Expected figures come from ``crm_core.value`` run on the same workspace data with the
settings the page shows, never from a previous page run.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from crm_core.i18n import t
from crm_core.segmentation import RfmParams, run_rfm
from crm_core.store import Workspace
from crm_core.value import (
    CLVParams,
    CLVResult,
    compare_with_rfm,
    run_clv,
    run_value,
    suggest_calibration_end,
    tier_names,
)
from tests.apptest_helpers import run_page, untranslated

PAGE = "pages/value.py"


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _tab(at: AppTest, key: str, lang: str = "en") -> Block:
    label = t(key, lang)
    matches = [tab for tab in at.tabs if tab.label == label]
    assert len(matches) == 1, [tab.label for tab in at.tabs]
    return matches[0]


def _metrics(block: Block | AppTest) -> dict[str, str]:
    return {m.label: m.value for m in block.metric}


def _submit(at: AppTest) -> AppTest:
    buttons = [b for b in at.button if b.form_id == "clv_form"]
    assert len(buttons) == 1, [b.label for b in at.button]
    buttons[0].click()
    at.run()
    _ok(at)
    return at


def _transactions(workspace: Path) -> pd.DataFrame:
    return Workspace(workspace).load_dataset("sample").tables["transactions"]


def _page_params(transactions: pd.DataFrame, **changes: object) -> CLVParams:
    """The form's defaults: holdout check on, suggested calibration end, BG/NBD in weeks, one year,
    10 % a year, full margin."""
    params = {
        "calibration_end": suggest_calibration_end(transactions),
        "time_unit": "weeks",
        "horizon_days": 365,
        "discount_rate": 0.10,
        "model": "bgnbd",
        "margin_rate": 1.0,
        **changes,
    }
    return CLVParams(**params)


def _clv_metrics(at: AppTest) -> dict[str, str]:
    return _metrics(_tab(at, "valpage.tab.clv"))


def _total(at: AppTest) -> float:
    return float(_clv_metrics(at)[t("value.metric.clv_total", "en")].replace(",", ""))


def _purchases(at: AppTest) -> float:
    label = t("value.metric.expected_purchases_total", "en")
    return float(_clv_metrics(at)[label].replace(",", ""))


def _assert_clv_metrics(at: AppTest, result: CLVResult) -> None:
    m = result.metrics
    assert _clv_metrics(at) == {
        t("value.metric.clv_total", "en"): f"{m['clv_total']:,.0f}",
        t("value.metric.clv_mean", "en"): f"{m['clv_mean']:,.2f}",
        t("value.metric.p_alive_mean", "en"): f"{m['p_alive_mean']:.1%}",
        t("value.metric.expected_purchases_total", "en"): f"{m['expected_purchases_total']:,.0f}",
    }


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_renders_in_both_languages(sample_workspace: Path, lang: str) -> None:
    at = run_page(PAGE, lang)
    _ok(at)
    assert [tab.label for tab in at.tabs][:3] == [
        t("valpage.tab.history", lang),
        t("valpage.tab.clv", lang),
        t("valpage.tab.compare", lang),
    ]
    assert t("value.metric.clv_total", lang) in _metrics(at)
    assert t("valpage.flagged", lang) in _metrics(at)
    assert len(_tab(at, "valpage.tab.history", lang).get("plotly_chart")) == 2
    if lang == "zh":
        assert untranslated(at) == []
    texts = [str(m.value) for m in at.markdown] + list(_metrics(at))
    assert not [text for text in texts if "valpage." in text or "value." in text]


def test_historical_tab_shows_the_core_figures(sample_workspace: Path) -> None:
    history = run_value(_transactions(sample_workspace))
    at = run_page(PAGE, "en")
    _ok(at)
    m = history.metrics
    tab = _tab(at, "valpage.tab.history")
    assert _metrics(tab) == {
        t("value.metric.customers", "en"): f"{int(m['customers']):,}",
        t("value.metric.revenue", "en"): f"{m['revenue']:,.0f}",
        t("valpage.top20", "en"): f"{m['top_20_revenue_share']:.0%}",
        t("value.metric.gini", "en"): f"{m['gini']:.2f}",
    }
    assert m["customers"] == 5000
    table = tab.dataframe[0].value
    assert len(table) == 1000  # the first 1,000 of 5,000 customers
    names = tier_names(history.params.tiers, "en")
    expected = history.customers.head(1000)
    assert table.index.tolist() == expected.index.tolist()
    assert table.iloc[:, -1].tolist() == expected["tier"].map(names).tolist()
    assert {d.key for d in tab.download_button} == {"hist:csv", "hist:xlsx"}


def test_shorter_horizon_lowers_clv_and_expected_purchases(sample_workspace: Path) -> None:
    transactions = _transactions(sample_workspace)
    at = run_page(PAGE, "en")
    _ok(at)
    assert at.slider(key="val_horizon").value == 365
    assert at.checkbox(key="val_split").value is True
    year = run_clv(transactions, _page_params(transactions))
    _assert_clv_metrics(at, year)
    total_year, purchases_year = _total(at), _purchases(at)

    # inside the form: moving the slider alone does not refit
    at.slider(key="val_horizon").set_value(90)
    at.run()
    _ok(at)
    assert _total(at) == total_year

    at.slider(key="val_horizon").set_value(90)  # AppTest drops unsubmitted form values
    _submit(at)
    quarter = run_clv(transactions, _page_params(transactions, horizon_days=90))
    _assert_clv_metrics(at, quarter)
    assert _total(at) < total_year
    assert _purchases(at) < purchases_year
    # the fitted model is the same, only the horizon differs
    assert quarter.purchase_fit.params == pytest.approx(year.purchase_fit.params)
    expected_help = t("valpage.expected_help", "en", days=90)
    label = t("value.metric.expected_purchases_total", "en")
    assert [m.help for m in at.metric if m.label == label] == [expected_help]


def test_parameter_table_names_every_parameter(sample_workspace: Path) -> None:
    transactions = _transactions(sample_workspace)
    result = run_clv(transactions, _page_params(transactions))
    at = run_page(PAGE, "en")
    _ok(at)
    tab = _tab(at, "valpage.tab.clv")
    column = t("valpage.param.parameter", "en")
    tables = [d.value for d in tab.dataframe if column in d.value.columns]
    assert len(tables) == 1
    table = tables[0]
    assert list(table.columns) == [
        t(f"valpage.param.{c}", "en")
        for c in ("stage", "model", "parameter", "estimate", "std_error", "ci_low", "ci_high")
    ]
    assert set(table[column]) == {"r", "alpha", "a", "b", "p", "q", "v"}
    assert table[column].tolist() == result.parameters["parameter"].tolist()
    estimates = table[t("valpage.param.estimate", "en")]
    assert estimates.tolist() == pytest.approx(result.parameters["estimate"].tolist())
    assert (estimates > 0).all()
    assert set(table[t("valpage.param.model", "en")]) == {
        t("value.model.bgnbd", "en"),
        t("value.model.gamma_gamma", "en"),
    }


def test_clv_vs_rfm_tab_counts_the_core_disagreements(sample_workspace: Path) -> None:
    transactions = _transactions(sample_workspace)
    result = run_clv(transactions, _page_params(transactions))
    table = compare_with_rfm(result, run_rfm(transactions, RfmParams()))
    flagged = int(table["flag"].sum())
    assert flagged > 0
    at = run_page(PAGE, "en")
    _ok(at)
    tab = _tab(at, "valpage.tab.compare")
    assert _metrics(tab) == {t("valpage.flagged", "en"): f"{flagged:,}"}
    shown = tab.dataframe[0].value
    assert len(shown) == flagged
    assert sorted(shown.index) == sorted(table.index[table["flag"]])
    assert {d.key for d in tab.download_button} == {"cmp:csv", "cmp:xlsx"}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_dataset_without_transactions_shows_what_is_needed(
    sample_workspace: Path, lang: str
) -> None:
    people = pd.DataFrame(
        {
            "customer_id": [f"P{i:02d}" for i in range(30)],
            "age": [20 + i for i in range(30)],
            "city": ["Leeds"] * 30,
        }
    )
    Workspace(sample_workspace).save_dataset("people", {"customers": people})
    at = run_page(PAGE, lang, dataset="people")
    _ok(at)
    assert [i.value for i in at.info] == [t("valpage.needs", lang)]
    assert not at.tabs and not at.metric
    if lang == "zh":
        assert untranslated(at) == []
