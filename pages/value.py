"""Customer value: historical value tiers and predictive lifetime value (BG/NBD + Gamma-Gamma)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from crm_core.charts.value import (
    alive_heatmap,
    clv_histogram,
    holdout_chart,
    pareto_chart,
    segment_value_chart,
    tier_chart,
    top_customers_chart,
)
from crm_core.errors import CrmError
from crm_core.i18n import t
from crm_core.segmentation import RfmParams, run_rfm, segment_name
from crm_core.tables import Dataset
from crm_core.value import (
    CLVParams,
    CLVResult,
    HistoricalValue,
    ValueParams,
    clv_by_segment,
    compare_with_rfm,
    run_clv,
    run_value,
    suggest_calibration_end,
    tier_names,
)
from pages._ui import export_buttons, get_workspace, labels, lang, require_dataset, show_error, tr

MODELS = ("bgnbd", "paretonbd")
TIME_UNITS = ("weeks", "days")


@st.cache_data(max_entries=8, ttl=3600, show_spinner=False)
def _historical(fingerprint: str, _dataset: Dataset) -> HistoricalValue:
    return run_value(_dataset.tables["transactions"], ValueParams())


@st.cache_data(max_entries=12, ttl=3600, show_spinner=False)
def _clv(fingerprint: str, key: str, _dataset: Dataset, _params: CLVParams) -> CLVResult:
    return run_clv(_dataset.tables["transactions"], _params)


def _money(value: float) -> str:
    return f"{value:,.0f}"


def _historical_tab(dataset: Dataset) -> None:
    try:
        history = _historical(dataset.fingerprint, dataset)
    except CrmError as error:
        show_error(error)
        return
    metrics = history.metrics
    cols = st.columns(4)
    cols[0].metric(tr("value.metric.customers"), f"{int(metrics['customers']):,}", border=True)
    cols[1].metric(tr("value.metric.revenue"), _money(metrics["revenue"]), border=True)
    cols[2].metric(
        tr("valpage.top20"),
        f"{metrics['top_20_revenue_share']:.0%}",
        border=True,
        help=tr("valpage.top20_help"),
    )
    cols[3].metric(
        tr("value.metric.gini"), f"{metrics['gini']:.2f}", border=True, help=tr("valpage.gini_help")
    )
    left, right = st.columns(2)
    left.plotly_chart(pareto_chart(history.pareto, lang()), width="stretch")
    right.plotly_chart(tier_chart(history.tiers, history.params.tiers, lang()), width="stretch")
    names = tier_names(history.params.tiers, lang())
    customers = history.customers.copy()
    customers["tier"] = customers["tier"].map(names)
    customers.columns = [_column(c) for c in customers.columns]
    customers.index.name = tr("schema.role.customer_id")
    st.dataframe(customers.head(1000), width="stretch")
    export_buttons(customers.reset_index(), "customer_value", "hist")


def _column(name: str) -> str:
    key = f"value.column.{name}"
    text = t(key, lang())
    return text if text != key else name


def _clv_controls(dataset: Dataset) -> CLVParams | None:
    tx = dataset.tables["transactions"]
    first, last = tx["date"].min().date(), tx["date"].max().date()
    try:
        suggested = suggest_calibration_end(tx).date()
    except CrmError:
        suggested = last
    with st.form("clv_form", border=True):
        row = st.columns(3)
        split = row[0].checkbox(
            tr("valpage.check_holdout"),
            value=True,
            key="val_split",
            help=tr("valpage.check_holdout_help"),
        )
        calibration_end = row[0].date_input(
            tr("valpage.calibration_end"),
            value=suggested,
            min_value=first,
            max_value=last - dt.timedelta(days=1),
            key="val_cal_end",
        )
        model = row[1].selectbox(
            tr("valpage.model"),
            MODELS,
            key="val_model",
            format_func=labels(MODELS, lambda m: tr(f"value.model.{m}")),
        )
        unit = row[1].selectbox(
            tr("valpage.time_unit"),
            TIME_UNITS,
            key="val_unit",
            format_func=labels(TIME_UNITS, lambda u: tr(f"value.unit.{u}")),
        )
        horizon = row[2].slider(tr("valpage.horizon"), 30, 1095, 365, 5, key="val_horizon")
        discount = row[2].number_input(
            tr("valpage.discount"),
            0.0,
            100.0,
            10.0,
            0.5,
            key="val_discount",
            help=tr("valpage.discount_help"),
        )
        margin = row[0].number_input(
            tr("valpage.margin"), 1, 100, 100, 1, key="val_margin", help=tr("valpage.margin_help")
        )
        st.form_submit_button(tr("valpage.run"), type="primary", icon=":material/play_arrow:")
    return CLVParams(
        calibration_end=pd.Timestamp(calibration_end) if split else None,
        time_unit=unit,
        horizon_days=int(horizon),
        discount_rate=float(discount) / 100,
        model=model,
        margin_rate=float(margin) / 100,
    )


def _lifetime_tab(dataset: Dataset) -> None:
    params = _clv_controls(dataset)
    if params is None:
        return
    st.session_state["val_last_params"] = params
    try:
        with st.spinner(tr("valpage.fitting")):
            result = _clv(dataset.fingerprint, repr(params), dataset, params)
    except CrmError as error:
        show_error(error)
        return
    for note in result.notes:
        st.info(tr(note))
    m = result.metrics
    cols = st.columns(4)
    cols[0].metric(tr("value.metric.clv_total"), _money(m["clv_total"]), border=True)
    cols[1].metric(tr("value.metric.clv_mean"), f"{m['clv_mean']:,.2f}", border=True)
    cols[2].metric(tr("value.metric.p_alive_mean"), f"{m['p_alive_mean']:.1%}", border=True)
    cols[3].metric(
        tr("value.metric.expected_purchases_total"),
        f"{m['expected_purchases_total']:,.0f}",
        border=True,
        help=tr("valpage.expected_help", days=params.horizon_days),
    )
    if "holdout_actual_total" in m:
        st.caption(
            tr(
                "valpage.holdout_summary",
                predicted=f"{m['holdout_predicted_total']:,.0f}",
                actual=f"{m['holdout_actual_total']:,.0f}",
                error=f"{m['holdout_total_error']:+.1%}",
                mae=f"{m['holdout_mae']:.3f}",
                naive=f"{m['holdout_mae_naive']:.3f}",
            )
        )
    st.subheader(tr("valpage.parameters"))
    parameters = result.parameters.copy()
    parameters["model"] = [tr(f"value.model.{x}") for x in parameters["model"]]
    parameters.columns = [tr(f"valpage.param.{c}") for c in parameters.columns]
    st.dataframe(parameters, hide_index=True, width="stretch")
    left, right = st.columns(2)
    if result.holdout is not None:
        left.plotly_chart(holdout_chart(result.holdout, lang()), width="stretch")
    right.plotly_chart(
        alive_heatmap(result.alive_matrix, params.time_unit, lang()), width="stretch"
    )
    left.plotly_chart(clv_histogram(result.customers["clv"], lang()), width="stretch")
    right.plotly_chart(top_customers_chart(result.top, lang()), width="stretch")
    _segments(dataset, result)
    customers = result.customers.copy()
    customers.columns = [_column(c) for c in customers.columns]
    customers.index.name = tr("schema.role.customer_id")
    st.dataframe(customers.sort_values(_column("clv"), ascending=False).head(1000), width="stretch")
    export_buttons(customers.reset_index(), "clv", "clv")


def _segments(dataset: Dataset, result: CLVResult) -> None:
    """CLV per saved segmentation (or RFM), side by side."""
    workspace = get_workspace()
    saved = [a.name for a in workspace.list_analyses(dataset.name, "segments")]
    options = ["__rfm__", *saved]
    choice = st.selectbox(
        tr("valpage.by_segment"),
        options,
        key="val_segments",
        format_func=labels(options, lambda o: tr("seg.compare.rfm") if o == "__rfm__" else o),
    )
    try:
        if choice == "__rfm__":
            rfm = run_rfm(dataset.tables["transactions"], RfmParams())
            segment_labels = rfm.customers["segment"].map(lambda s: segment_name(s, lang()))
        else:
            frame = workspace.load_analysis(dataset.name, "segments", choice)
            segment_labels = frame.set_index("customer_id")["segment_name"]
        by_segment = clv_by_segment(result, segment_labels)
    except CrmError as error:
        show_error(error)
        return
    st.plotly_chart(segment_value_chart(by_segment, lang=lang()), width="stretch")


def _compare_tab(dataset: Dataset) -> None:
    params = st.session_state.get("val_last_params")
    try:
        result = _clv(
            dataset.fingerprint, repr(params or CLVParams()), dataset, params or CLVParams()
        )
        rfm = run_rfm(dataset.tables["transactions"], RfmParams())
    except CrmError as error:
        show_error(error)
        return
    table = compare_with_rfm(result, rfm)
    flagged = table[table["flag"]].copy()
    st.metric(tr("valpage.flagged"), f"{len(flagged):,}", help=tr("valpage.flagged_help"))
    flagged["segment"] = flagged["segment"].map(lambda s: segment_name(s, lang()))
    flagged["reason"] = flagged["reason"].map(lambda r: tr(f"value.reason.{r}"))
    flagged = flagged.drop(columns=["flag"])
    flagged.columns = [_column(c) for c in flagged.columns]
    flagged.index.name = tr("schema.role.customer_id")
    st.dataframe(flagged, width="stretch")
    export_buttons(flagged.reset_index(), "clv_vs_rfm", "cmp")


st.title(tr("valpage.title"))
st.caption(tr("valpage.intro"))
dataset = require_dataset()
if not dataset.has("transactions", "customer_id", "date"):
    st.info(tr("valpage.needs"))
    st.stop()
history_tab, clv_tab, compare_tab = st.tabs(
    [tr("valpage.tab.history"), tr("valpage.tab.clv"), tr("valpage.tab.compare")]
)
with history_tab:
    _historical_tab(dataset)
with clv_tab:
    _lifetime_tab(dataset)
with compare_tab:
    _compare_tab(dataset)
