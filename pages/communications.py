"""Communications: which contact strategies work (Strategies, A/B test) and what customers write
(Texts). Only the open tab runs; the core calls are cached on the data's fingerprint and every
setting, so switching tabs or languages never recomputes what is already known."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd
import streamlit as st

from crm_core.campaigns import (
    ABResult,
    Arm,
    CampaignParams,
    CampaignResult,
    compare_strategies,
    run_campaigns,
)
from crm_core.charts.campaigns import (
    ab_chart,
    dimension_name,
    frequency_chart,
    level_name,
    rates_chart,
)
from crm_core.errors import CrmError
from crm_core.segment_labels import RFM_CHOICE, segment_choices
from crm_core.store import Workspace
from crm_core.tables import Dataset
from pages._ui import export_buttons, get_workspace, labels, lang, require_dataset, show_error, tr

SOURCES = ("campaigns", "communications")
ALPHAS = (0.01, 0.05, 0.1)
POWERS = (0.7, 0.8, 0.9, 0.95)


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def _run(
    fingerprint: str,
    key: str,
    directory: str,
    language: str,
    _dataset: Dataset,
    _params: CampaignParams,
) -> CampaignResult:
    """Cached on the data's fingerprint and ``key`` (every setting and the saved segmentation's
    version); RFM segment names depend on the language."""
    return run_campaigns(_dataset, _params, Workspace(directory), language)


@st.cache_data(max_entries=32, ttl=3600, show_spinner=False)
def _compare(
    fingerprint: str,
    key: str,
    directory: str,
    language: str,
    a: tuple[str, str],
    b: tuple[str, str],
    metric: str,
    effect: float | None,
    power: float,
    _dataset: Dataset,
    _params: CampaignParams,
) -> ABResult:
    """Cached A/B comparison (same key scheme as :func:`_run`)."""
    return compare_strategies(
        _dataset,
        Arm(*a),
        Arm(*b),
        _params,
        Workspace(directory),
        language,
        metric=metric,
        effect=effect,
        power=power,
    )


def _key(params: CampaignParams, workspace: Workspace, dataset: Dataset) -> str:
    """Settings plus when the chosen (or newest) saved segmentation was written."""
    saved = []
    if workspace.exists(dataset.name):
        saved = workspace.list_analyses(dataset.name, "segments")
    wanted = params.segmentation
    version = next(
        (str(s.created_at) for s in saved if wanted in (None, s.name) and wanted != RFM_CHOICE),
        "",
    )
    return f"{params!r}|{version}"


def _choice(key: str, options: list[Any], default: Any) -> None:
    """Reset a remembered choice that the current data no longer offers."""
    if key in st.session_state and st.session_state[key] not in options:
        st.session_state[key] = default


def _number(cell: Any, name: str, low: int, high: int, default: int) -> int:
    """A whole-number setting with its label and help from ``commpage.<name>``."""
    value = cell.number_input(
        tr(f"commpage.{name}"),
        low,
        high,
        default,
        key=f"camp_{name}",
        help=tr(f"commpage.{name}_help"),
    )
    return int(value)


def _settings(dataset: Dataset, workspace: Workspace) -> CampaignParams | None:
    """The analysis settings both strategy tabs share (same keys: only one tab runs at a time)."""
    sources = [s for s in SOURCES if dataset.has(s)]
    if not sources:
        st.info(tr("commpage.needs"))
        return None
    choices = segment_choices(workspace, dataset)
    with st.expander(tr("commpage.settings")):
        row = st.columns(4)
        _choice("camp_source", sources, sources[0])
        source = row[0].selectbox(
            tr("commpage.source"),
            sources,
            key="camp_source",
            format_func=labels(sources, lambda s: tr(f"table.{s}")),
            help=tr("commpage.source_help"),
        )
        min_contacts = _number(row[1], "min_contacts", 1, 1_000_000, 100)
        min_responses = _number(row[2], "min_responses", 0, 1_000_000, 10)
        alpha = row[3].select_slider(
            tr("commpage.alpha"), ALPHAS, 0.05, key="camp_alpha", help=tr("commpage.alpha_help")
        )
        row = st.columns(3)
        retention_days = _number(row[0], "retention_days", 1, 730, 30)
        satisfaction_days = _number(row[1], "satisfaction_days", 1, 730, 30)
        segmentation = None
        if choices:
            _choice("camp_segmentation", choices, choices[0])
            segmentation = row[2].selectbox(
                tr("commpage.segmentation"),
                choices,
                key="camp_segmentation",
                format_func=labels(
                    choices, lambda c: tr("seglabels.rfm") if c == RFM_CHOICE else c
                ),
            )
    return CampaignParams(
        source=source,
        retention_days=int(retention_days),
        satisfaction_days=int(satisfaction_days),
        min_contacts=int(min_contacts),
        min_responses=int(min_responses),
        alpha=float(alpha),
        segmentation=segmentation,
    )


def _result(
    dataset: Dataset, workspace: Workspace, params: CampaignParams
) -> CampaignResult | None:
    """The cached analysis, or None after showing the core's typed error."""
    try:
        with st.spinner(tr("commpage.running")):
            return _run(
                dataset.fingerprint,
                _key(params, workspace, dataset),
                str(workspace.directory),
                lang(),
                dataset,
                params,
            )
    except CrmError as error:
        show_error(error)
        return None


def _with_dimension(
    dataset: Dataset,
    workspace: Workspace,
    params: CampaignParams,
    result: CampaignResult,
    dimension: str,
) -> CampaignResult | None:
    """The result with ``dimension`` broken down too (other columns are computed on demand)."""
    if dimension in result.tables:
        return result
    return _result(dataset, workspace, replace(params, by=(*result.tables, dimension)))


def _percent(value: float) -> str:
    return "–" if pd.isna(value) else f"{value:.1%}"


def _interval(low: float, high: float, percent: bool = True) -> str:
    if pd.isna(low) or pd.isna(high):
        return "–"
    return f"{low:.1%} – {high:.1%}" if percent else f"{low:.2f} – {high:.2f}"


def _intervals(low: pd.Series, high: pd.Series, percent: bool = True) -> list[str]:
    return [_interval(lo, hi, percent) for lo, hi in zip(low, high, strict=True)]


def _breakdown_view(table: pd.DataFrame, dimension: str, metrics: list[str]) -> pd.DataFrame:
    """The breakdown as a user reads it: names, percentages and intervals, translated headers."""
    column = lambda name: tr(f"campaigns.column.{name}")  # noqa: E731
    view = pd.DataFrame(
        {column("value"): [level_name(dimension, v, lang()) for v in table["value"]]}
    )
    if "response" in metrics:
        view[column("n")] = table["n"].to_numpy()
        view[column("responses")] = table["responses"].to_numpy()
        view[column("rate")] = table["rate"].map(_percent).to_numpy()
        view[column("ci")] = _intervals(table["ci_low"], table["ci_high"])
        view[column("enough")] = table["enough"].to_numpy()
        if table["revenue_per_contact"].notna().any():
            view[column("revenue_per_contact")] = table["revenue_per_contact"].round(2).to_numpy()
    if "retention" in metrics:
        view[column("retention_n")] = table["retention_n"].to_numpy()
        view[column("retention")] = table["retention"].map(_percent).to_numpy()
        view[column("retention_ci")] = _intervals(table["retention_low"], table["retention_high"])
    if "satisfaction" in metrics:
        view[column("satisfaction_n")] = table["satisfaction_n"].to_numpy()
        view[column("satisfaction")] = table["satisfaction"].round(2).to_numpy()
        view[column("satisfaction_ci")] = _intervals(
            table["satisfaction_low"], table["satisfaction_high"], percent=False
        )
    return view


def _best_view(best: pd.DataFrame) -> pd.DataFrame:
    column = lambda name: tr(f"campaigns.column.{name}")  # noqa: E731
    return pd.DataFrame(
        {
            column("segment"): [level_name("segment", s, lang()) for s in best["segment"]],
            column("best"): [level_name("channel", b, lang()) if b else "–" for b in best["best"]],
            column("rate"): best["rate"].map(_percent),
            column("ci"): _intervals(best["ci_low"], best["ci_high"]),
            column("runner_up"): [
                level_name("channel", r, lang()) if isinstance(r, str) else "–"
                for r in best["runner_up"]
            ],
            column("diff"): best["diff"].map(lambda v: "–" if pd.isna(v) else f"{v:+.1%}"),
            column("p_adjusted"): best["p_adjusted"].map(
                lambda v: "–" if pd.isna(v) else f"{v:.2g}"
            ),
            column("status"): best["status"].map(lambda s: tr(f"campaigns.status.{s}")),
            column("eligible"): best["eligible"],
        }
    )


def _overview(result: CampaignResult) -> None:
    overall = result.overall
    cells = st.columns(4)
    cells[0].metric(tr("commpage.contacts"), f"{result.n_contacts:,}")
    for cell, metric in zip(cells[1:], ("response", "retention", "satisfaction"), strict=True):
        if metric in result.metrics:
            value = overall["rate" if metric == "response" else metric]
            shown = f"{value:.2f}" if metric == "satisfaction" else _percent(value)
            cell.metric(tr(f"campaigns.metric.{metric}"), shown)


def _best_headline(result: CampaignResult) -> None:
    if result.best.empty:
        return
    top = result.best.iloc[0]
    status = top["status"]
    if status == "not_enough_data":
        st.warning(tr("commpage.best.not_enough_data"))
        return
    text = tr(
        f"commpage.best.{status}",
        channel=level_name("channel", top["best"], lang()),
        rate=_percent(top["rate"]),
        interval=_interval(top["ci_low"], top["ci_high"]),
        runner=level_name("channel", top["runner_up"], lang()),
        p=f"{top['p_adjusted']:.2g}",
    )
    (st.success if status == "significant" else st.info)(text)


def _metric_choice(cell: Any, result: CampaignResult, key: str, label: str) -> str:
    """Response, retention or satisfaction: whichever the data offers."""
    metrics = result.metrics
    _choice(key, metrics, metrics[0])
    return cell.radio(
        tr(label),
        metrics,
        key=key,
        horizontal=True,
        format_func=labels(metrics, lambda m: tr(f"campaigns.metric.{m}")),
    )


def _analysis(dataset: Dataset) -> tuple[Workspace, CampaignParams, CampaignResult] | None:
    """Settings and the cached analysis both strategy tabs start from (None: a message shown)."""
    workspace = get_workspace()
    params = _settings(dataset, workspace)
    result = None if params is None else _result(dataset, workspace, params)
    return None if params is None or result is None else (workspace, params, result)


def _strategies_tab(dataset: Dataset) -> None:
    ready = _analysis(dataset)
    if ready is None:
        return
    workspace, params, result = ready
    for note in result.notes:
        st.caption(note.text(lang()))
    _overview(result)
    _best_headline(result)
    if len(result.best):
        st.subheader(tr("commpage.best_title"))
        st.dataframe(_best_view(result.best), hide_index=True, width="stretch")
        st.caption(tr("commpage.best_caption"))
    st.subheader(tr("commpage.breakdown_title"))
    row = st.columns([2, 2])
    dimensions = result.dimensions
    _choice("camp_dimension", dimensions, dimensions[0])
    dimension = row[0].selectbox(
        tr("commpage.dimension"),
        dimensions,
        key="camp_dimension",
        format_func=labels(dimensions, lambda d: dimension_name(d, lang())),
    )
    metric = _metric_choice(row[1], result, "camp_metric", "commpage.metric")
    result = _with_dimension(dataset, workspace, params, result, dimension)
    if result is None:
        return
    table = result.tables[dimension]
    st.plotly_chart(rates_chart(table, dimension, metric, lang(), params.alpha), width="stretch")
    test = result.tests.get(dimension)
    if test is not None:
        st.caption(tr("commpage.homogeneity", levels=test["levels"], p=f"{test['p_value']:.2g}"))
    st.dataframe(
        _breakdown_view(table, dimension, result.metrics), hide_index=True, width="stretch"
    )
    export_buttons(table, f"campaigns_{dimension}", "strategy_export")
    if len(result.frequency) >= 2:
        st.subheader(tr("commpage.frequency_title"))
        st.plotly_chart(frequency_chart(result.frequency, lang(), params.alpha), width="stretch")
        if result.trend is not None:
            trend = result.trend
            st.caption(
                tr(
                    "commpage.trend",
                    odds=f"{trend['odds_ratio']:.3f}",
                    low=f"{trend['ci_low']:.3f}",
                    high=f"{trend['ci_high']:.3f}",
                    p=f"{trend['p_value']:.2g}",
                )
            )


def _ab_controls(
    dataset: Dataset, workspace: Workspace, params: CampaignParams, result: CampaignResult
) -> tuple[Arm, Arm, str, float, float] | None:
    dimensions = result.dimensions
    row = st.columns([2, 2, 2])
    default = "channel" if "channel" in dimensions else dimensions[0]
    _choice("camp_ab_dimension", dimensions, default)
    dimension = row[0].selectbox(
        tr("commpage.ab.dimension"),
        dimensions,
        index=dimensions.index(default),
        key="camp_ab_dimension",
        format_func=labels(dimensions, lambda d: dimension_name(d, lang())),
    )
    full = _with_dimension(dataset, workspace, params, result, dimension)
    if full is None:
        return None
    table = full.tables[dimension]
    levels = table.loc[table["n"] + table["retention_n"] + table["satisfaction_n"] > 0, "value"]
    levels = levels.astype(str).tolist()
    if len(levels) < 2:
        st.info(tr("commpage.ab.one_level"))
        return None
    names = labels(levels, lambda v: level_name(dimension, v, lang()))
    key_a, key_b = f"camp_ab_a_{dimension}", f"camp_ab_b_{dimension}"
    _choice(key_a, levels, levels[0])
    _choice(key_b, levels, levels[1])
    a = row[1].selectbox(tr("commpage.ab.a"), levels, index=0, key=key_a, format_func=names)
    b = row[2].selectbox(tr("commpage.ab.b"), levels, index=1, key=key_b, format_func=names)
    row = st.columns([2, 2, 2])
    metric = _metric_choice(row[0], result, "camp_ab_metric", "commpage.ab.metric")
    effect = row[1].number_input(
        tr("commpage.ab.effect"),
        0.1,
        50.0,
        2.0,
        0.5,
        key="camp_ab_effect",
        help=tr("commpage.ab.effect_help"),
        disabled=metric == "satisfaction",
    )
    power = row[2].select_slider(tr("commpage.ab.power"), POWERS, 0.8, key="camp_ab_power")
    return Arm(dimension, a), Arm(dimension, b), metric, float(effect) / 100, float(power)


def _ab_result(ab: ABResult) -> None:
    percent = ab.metric != "satisfaction"
    shown = _percent if percent else (lambda v: "–" if pd.isna(v) else f"{v:.2f}")
    name_a = level_name(ab.a.dimension, ab.a.value, lang())
    name_b = level_name(ab.b.dimension, ab.b.value, lang())
    cells = st.columns(4)
    cells[0].metric(tr("commpage.ab.value_a", name=name_a), shown(ab.value_a))
    cells[1].metric(tr("commpage.ab.value_b", name=name_b), shown(ab.value_b))
    diff = f"{ab.diff:+.1%}" if percent else f"{ab.diff:+.2f}"
    cells[2].metric(tr("commpage.ab.diff"), diff)
    cells[3].metric(tr("commpage.ab.p_value"), f"{ab.p_value:.3g}")
    st.caption(
        tr(
            "commpage.ab.details",
            n_a=f"{ab.n_a:,}",
            n_b=f"{ab.n_b:,}",
            a=_interval(ab.low_a, ab.high_a, percent),
            b=_interval(ab.low_b, ab.high_b, percent),
            diff=_interval(ab.diff_low, ab.diff_high, percent),
            level=f"{1 - ab.alpha:.0%}",
        )
    )
    verdict = tr(f"campaigns.verdict.{ab.verdict}", a=name_a, b=name_b)
    if ab.verdict in ("a_better", "b_better"):
        st.success(verdict)
    elif ab.verdict == "no_difference":
        st.info(verdict)
    else:
        st.warning(verdict)
    for note in ab.notes:
        st.caption(note.text(lang()))
    st.plotly_chart(ab_chart(ab, lang()), width="stretch")
    if ab.needed_per_arm is not None and ab.effect is not None:
        st.info(
            tr(
                "commpage.ab.sample_size",
                effect=f"{abs(ab.effect) * 100:.1f}",
                base=_percent(ab.value_b),
                power=f"{ab.target_power:.0%}",
                needed=f"{ab.needed_per_arm:,}",
                n_a=f"{ab.n_a:,}",
                n_b=f"{ab.n_b:,}",
            )
        )
        if ab.power is not None:
            st.caption(tr("commpage.ab.power_now", power=f"{ab.power:.0%}"))


def _ab_tab(dataset: Dataset) -> None:
    ready = _analysis(dataset)
    if ready is None:
        return
    workspace, params, result = ready
    chosen = _ab_controls(dataset, workspace, params, result)
    if chosen is None:
        return
    a, b, metric, effect, power = chosen
    if a == b:
        st.info(tr("commpage.ab.same"))
        return
    try:
        ab = _compare(
            dataset.fingerprint,
            _key(params, workspace, dataset),
            str(workspace.directory),
            lang(),
            tuple(a),
            tuple(b),
            metric,
            effect if metric != "satisfaction" else None,
            power,
            dataset,
            params,
        )
    except CrmError as error:
        show_error(error)
        return
    _ab_result(ab)


def _texts_tab(dataset: Dataset) -> None:
    """The text analysis lives in its own module (built alongside this page)."""
    try:
        from pages import _text_tab
    except ModuleNotFoundError as error:
        if error.name != "pages._text_tab":
            raise
        st.info(tr("commpage.texts_unavailable"))
        return
    _text_tab.render(dataset)


st.title(tr("commpage.title"))
st.caption(tr("commpage.intro"))
dataset = require_dataset()
# Only the open tab runs: text models cost seconds, a strategy setting should not wait for them.
strategies_tab, ab_tab, texts_tab = st.tabs(
    [tr("commpage.tab.strategies"), tr("commpage.tab.ab"), tr("commpage.tab.texts")],
    key="camp_tab",
    on_change="rerun",
)
with strategies_tab:
    if strategies_tab.open:
        _strategies_tab(dataset)
with ab_tab:
    if ab_tab.open:
        _ab_tab(dataset)
with texts_tab:
    if texts_tab.open:
        _texts_tab(dataset)
