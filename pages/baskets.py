"""Baskets: association rules worth acting on, with arulesViz-style views."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from crm_core.baskets import (
    BASKET_UNITS,
    CORRECTIONS,
    LEVELS,
    RANK_METRICS,
    BasketParams,
    Baskets,
    RuleParams,
    RulesResult,
    build_baskets,
    compare_segments,
    consequents_for,
    estimate_explosion,
    rule_sentence,
    rules_for_export,
    run_rules,
)
from crm_core.charts.baskets import (
    grouped_matrix,
    item_frequency_chart,
    rules_network,
    rules_scatter,
    segment_lift_heatmap,
)
from crm_core.errors import CrmError
from crm_core.tables import Dataset
from pages._ui import (
    export_buttons,
    get_workspace,
    labels,
    lang,
    md_escape,
    require_dataset,
    show_error,
    tr,
)

TIME_LIMIT_S = 60.0
TABLE_COLUMNS = (
    "antecedent",
    "consequent",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
    "zhangs_metric",
    "count",
    "p_adjusted",
)


@st.cache_data(max_entries=8, ttl=3600, show_spinner=False)
def _baskets(fingerprint: str, key: str, _dataset: Dataset, _params: BasketParams) -> Baskets:
    return build_baskets(_dataset.tables["transactions"], _params)


@st.cache_data(max_entries=12, ttl=3600, show_spinner=False)
def _rules(fingerprint: str, key: str, _baskets: Baskets, _params: RuleParams) -> RulesResult:
    return run_rules(_baskets, rule_params=_params)


def _segment_filter(dataset: Dataset) -> tuple[frozenset[str] | None, pd.Series | None, str]:
    """A saved segmentation: pick one segment to mine, or compare segments."""
    saved = [a.name for a in get_workspace().list_analyses(dataset.name, "segments")]
    if not saved:
        return None, None, ""
    options = ["", *saved]
    choice = st.selectbox(
        tr("bask.segmentation"),
        options,
        key="bask_segmentation",
        format_func=labels(options, lambda o: o or tr("bask.all_customers")),
    )
    if not choice:
        return None, None, ""
    frame = get_workspace().load_analysis(dataset.name, "segments", choice)
    segment_labels = frame.set_index("customer_id")["segment_name"]
    names = sorted(segment_labels.unique())
    segment = st.selectbox(
        tr("bask.segment"),
        ["", *names],
        key="bask_segment",
        format_func=labels(["", *names], lambda o: o or tr("bask.every_segment")),
    )
    if not segment:
        return None, segment_labels, choice
    return (
        frozenset(segment_labels.index[segment_labels == segment].astype(str)),
        segment_labels,
        choice,
    )


def _basket_controls(dataset: Dataset) -> BasketParams | None:
    tx = dataset.tables["transactions"]
    cols = st.columns(4)
    units = [u for u in BASKET_UNITS if u != "order" or "order_id" in tx.columns]
    unit = cols[0].selectbox(
        tr("bask.unit"),
        units,
        key="bask_unit",
        format_func=labels(units, lambda u: tr(f"bask.unit.{u}")),
    )
    levels = [lv for lv in LEVELS if lv != "category" or "category" in tx.columns]
    level = cols[1].selectbox(
        tr("bask.level"),
        levels,
        key="bask_level",
        format_func=labels(levels, lambda v: tr(f"bask.level.{v}")),
    )
    start = end = None
    if "date" in tx.columns and tx["date"].notna().any():
        first, last = tx["date"].min().date(), tx["date"].max().date()
        period = cols[2].date_input(
            tr("bask.period"), (first, last), min_value=first, max_value=last, key="bask_period"
        )
        if isinstance(period, tuple) and len(period) == 2:
            start, end = period
    attribute_columns = [
        c
        for c in tx.columns
        if c not in ("customer_id", "order_id", "item", "date", "category")
        and pd.api.types.is_string_dtype(tx[c])
        and 1 < tx[c].nunique() <= 300
    ]
    attribute = values = None
    if attribute_columns:
        attribute = cols[3].selectbox(
            tr("bask.filter"),
            ["", *attribute_columns],
            key="bask_attr",
            format_func=labels(["", *attribute_columns], lambda c: c or tr("bask.no_filter")),
        )
        if attribute:
            choices = sorted(tx[attribute].dropna().unique())
            values = st.multiselect(
                tr("bask.filter_values", column=attribute), choices, key=f"bask_values:{attribute}"
            )
    customers, _labels, _name = _segment_filter(dataset)
    try:
        return BasketParams(
            unit=unit,
            level=level,
            start=start,
            end=end,
            attribute=attribute or None,
            values=tuple(values or ()),
            customers=customers,
        )
    except CrmError as error:
        show_error(error)
        return None


def _suggested_support(baskets: Baskets) -> float:
    """A first support that shows rules on most data: about 30 baskets, between 0.1% and 1%."""
    return round(min(max(30 / max(baskets.n_baskets, 1), 0.001), 0.01), 4)


def _rule_controls(baskets: Baskets) -> RuleParams | None:
    items = list(baskets.items)
    with st.form("rules_form", border=True):
        row = st.columns(4)
        mode = row[0].radio(
            tr("bask.support_as"),
            ("share", "count"),
            horizontal=True,
            key="bask_support_mode",
            format_func=labels(("share", "count"), lambda m: tr(f"bask.support_as.{m}")),
        )
        min_support = row[0].number_input(
            tr("bask.min_support"),
            0.0001,
            1.0,
            _suggested_support(baskets),
            0.001,
            format="%.4f",
            key="bask_support",
            help=tr("bask.min_support_help"),
        )
        min_count = row[0].number_input(
            tr("bask.min_count"), 1, max(baskets.n_baskets, 1), 10, key="bask_count"
        )
        min_confidence = row[1].slider(
            tr("bask.min_confidence"), 0.0, 1.0, 0.25, 0.01, key="bask_confidence"
        )
        min_lift = row[1].number_input(tr("bask.min_lift"), 0.0, 100.0, 1.0, 0.1, key="bask_lift")
        max_len = row[2].slider(tr("bask.max_len"), 2, 6, 4, key="bask_max_len")
        single = row[2].toggle(
            tr("bask.single_consequent"),
            True,
            key="bask_single",
            help=tr("bask.single_consequent_help"),
        )
        rank_by = row[3].selectbox(
            tr("bask.rank_by"),
            RANK_METRICS,
            key="bask_rank",
            format_func=labels(RANK_METRICS, lambda m: tr(f"bask.metric.{m}")),
        )
        correction = row[3].selectbox(
            tr("bask.correction"),
            CORRECTIONS,
            key="bask_correction",
            format_func=labels(CORRECTIONS, lambda c: tr(f"bask.correction.{c}")),
        )
        max_p = row[3].select_slider(
            tr("bask.max_p"),
            (1.0, 0.1, 0.05, 0.01, 0.001),
            value=1.0,
            key="bask_max_p",
            help=tr("bask.max_p_help"),
        )
        prune = row[2].toggle(tr("bask.prune"), False, key="bask_prune", help=tr("bask.prune_help"))
        with st.expander(tr("bask.items")):
            antecedent = st.multiselect(tr("bask.antecedent_items"), items, key="bask_lhs")
            consequent = st.multiselect(tr("bask.consequent_items"), items, key="bask_rhs")
            exclude = st.multiselect(tr("bask.exclude_items"), items, key="bask_exclude")
        st.form_submit_button(tr("bask.run"), type="primary", icon=":material/play_arrow:")
    try:
        return RuleParams(
            min_support=float(min_support),
            min_count=int(min_count) if mode == "count" else None,
            min_confidence=float(min_confidence),
            min_lift=float(min_lift),
            max_len=int(max_len),
            single_consequent=bool(single),
            rank_by=rank_by,
            correction=correction,
            max_p=float(max_p),
            prune_redundant=bool(prune),
            antecedent_items=tuple(antecedent),
            consequent_items=tuple(consequent),
            exclude_items=tuple(exclude),
            time_limit=TIME_LIMIT_S,
        )
    except CrmError as error:
        show_error(error)
        return None


def _rules_table(result: RulesResult) -> None:
    rules = result.rules
    if rules.empty:
        return
    search = st.text_input(tr("bask.search"), key="bask_search", placeholder=tr("bask.search_hint"))
    shown = rules
    if search:
        needle = search.strip().lower()
        shown = rules[
            rules["antecedent"].str.lower().str.contains(needle, regex=False)
            | rules["consequent"].str.lower().str.contains(needle, regex=False)
        ]
    table = shown[list(TABLE_COLUMNS)].copy()
    table.insert(0, "sentence", [rule_sentence(row, lang()) for _, row in shown.iterrows()])
    st.dataframe(
        table,
        hide_index=True,
        width="stretch",
        column_config={
            "sentence": st.column_config.TextColumn(tr("bask.col.sentence"), width="large"),
            **{
                c: st.column_config.NumberColumn(tr(f"bask.metric.{c}"), format="%.4f")
                for c in ("support", "confidence", "leverage", "conviction", "zhangs_metric")
            },
            "lift": st.column_config.NumberColumn(tr("bask.metric.lift"), format="%.2f"),
            "count": st.column_config.NumberColumn(tr("bask.metric.count"), format="%d"),
            "p_adjusted": st.column_config.NumberColumn(
                tr("bask.metric.p_adjusted"), format="%.2e"
            ),
            "antecedent": st.column_config.TextColumn(tr("bask.col.antecedent")),
            "consequent": st.column_config.TextColumn(tr("bask.col.consequent")),
        },
    )
    export = rules_for_export(result)
    export_buttons(export, "rules", "bask")


def _what_goes_with(result: RulesResult) -> None:
    items = sorted({i for items in result.rules["antecedent_items"] for i in items})
    if not items:
        return
    st.subheader(tr("bask.goes_with"))
    item = st.selectbox(tr("bask.goes_with_item"), items, key="bask_goes_with")
    best = consequents_for(result, item)
    for _, row in best.iterrows():
        st.markdown("- " + rule_sentence(row, lang(), escape=md_escape))


def _segments(dataset: Dataset, basket_params: BasketParams, rule_params: RuleParams) -> None:
    saved = [a.name for a in get_workspace().list_analyses(dataset.name, "segments")]
    if not saved:
        st.info(tr("bask.segments_need"))
        return
    choice = st.selectbox(tr("bask.segmentation"), saved, key="bask_cmp_segmentation")
    if not st.button(tr("bask.compare_run"), key="btn_bask_compare"):
        return
    frame = get_workspace().load_analysis(dataset.name, "segments", choice)
    segment_labels = frame.set_index("customer_id")["segment_name"]
    bar = st.progress(0.0, text=tr("bask.mining"))
    try:
        comparison = compare_segments(
            dataset.tables["transactions"],
            segment_labels,
            basket_params,
            rule_params,
            progress=lambda f: bar.progress(min(max(f, 0.0), 1.0)),
        )
    except CrmError as error:
        show_error(error)
        return
    finally:
        bar.empty()
    st.plotly_chart(segment_lift_heatmap(comparison.lift, lang()), width="stretch")
    st.dataframe(
        comparison.table.drop(columns=["antecedent_items", "consequent_items"], errors="ignore"),
        hide_index=True,
        width="stretch",
    )


st.title(tr("bask.title"))
st.caption(tr("bask.intro"))
dataset = require_dataset()
if not dataset.has("transactions", "item"):
    st.info(tr("bask.needs"))
    st.stop()
basket_params = _basket_controls(dataset)
if basket_params is None:
    st.stop()
try:
    baskets = _baskets(dataset.fingerprint, repr(basket_params), dataset, basket_params)
except CrmError as error:
    show_error(error)
    st.stop()
info = baskets.info()
st.caption(
    tr(
        "bask.baskets_info",
        baskets=f"{info['baskets']:,}",
        items=f"{info['items']:,}",
        single=f"{info['single_item_baskets']:,}",
        mean=f"{info['mean_basket_size']:.1f}",
    )
)
rule_params = _rule_controls(baskets)
if rule_params is None:
    st.stop()
explosion = estimate_explosion(
    baskets, rule_params.min_support, rule_params.max_len, min_count=rule_params.min_count
)
if explosion.warn:
    st.warning(tr("bask.explosion", count=f"{explosion.total:,}"))
    if not st.checkbox(tr("bask.explosion_confirm"), key="bask_explosion_ok"):
        st.stop()
try:
    with st.spinner(tr("bask.mining")):
        result = _rules(
            dataset.fingerprint, repr((basket_params, rule_params)), baskets, rule_params
        )
except CrmError as error:
    show_error(error)
    st.stop()
for message in result.messages(lang()):
    st.info(message)
cols = st.columns(4)
cols[0].metric(tr("bask.m.baskets"), f"{info['baskets']:,}", border=True)
cols[1].metric(tr("bask.m.itemsets"), f"{len(result.itemsets):,}", border=True)
cols[2].metric(tr("bask.m.rules"), f"{len(result.rules):,}", border=True)
cols[3].metric(
    tr("bask.m.min_count"), f"{result.min_count:,}", border=True, help=tr("bask.m.min_count_help")
)
rules_tab, charts_tab, itemsets_tab, segments_tab = st.tabs(
    [tr("bask.tab.rules"), tr("bask.tab.charts"), tr("bask.tab.itemsets"), tr("bask.tab.segments")]
)
with rules_tab:
    _rules_table(result)
    _what_goes_with(result)
with charts_tab:
    left, right = st.columns(2)
    left.plotly_chart(rules_scatter(result.rules, lang()), width="stretch")
    right.plotly_chart(item_frequency_chart(result.item_frequency, lang()), width="stretch")
    left.plotly_chart(grouped_matrix(result.rules, lang()), width="stretch")
    right.plotly_chart(rules_network(result.rules, lang()), width="stretch")
with itemsets_tab:
    st.dataframe(
        result.itemsets.drop(columns=["items"], errors="ignore"), hide_index=True, width="stretch"
    )
with segments_tab:
    _segments(dataset, basket_params, rule_params)
