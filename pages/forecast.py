"""Satisfaction and demand: where scores and sales are heading, per group, and what drives them."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from crm_core.charts.forecast import (
    backtest_chart,
    forecast_chart,
    group_name,
    groups_chart,
    history_table,
)
from crm_core.errors import CrmError
from crm_core.forecast import (
    ALL,
    DEFAULT_DROP,
    DEFAULT_THRESHOLDS,
    SCORE_TARGETS,
    SEGMENT,
    ForecastParams,
    ForecastResult,
    groupable_columns,
    run_forecast,
)
from crm_core.i18n import t
from crm_core.segment_labels import RFM_CHOICE, segment_choices
from crm_core.store import Workspace
from crm_core.tables import Dataset
from crm_core.timeseries import MODELS
from pages import _drivers_tab
from pages._ui import export_buttons, get_workspace, labels, lang, require_dataset, show_error, tr

FREQS = ("M", "W")


@st.cache_data(max_entries=24, ttl=3600, show_spinner=False)
def _forecast(
    fingerprint: str,
    key: str,
    directory: str,
    language: str,
    _dataset: Dataset,
    _params: ForecastParams,
) -> ForecastResult:
    """Cached on the data's fingerprint and every setting (``key`` also names the saved
    segmentation's version, so re-saving it recomputes; RFM segment names depend on the
    language)."""
    return run_forecast(_dataset, _params, Workspace(directory), language)


def _targets(dataset: Dataset) -> list[str]:
    targets = []
    feedback = dataset.get("feedback")
    if feedback is not None and len(feedback) and "date" in feedback.columns:
        score = feedback["score"] if "score" in feedback.columns else None
        if score is not None:
            targets.append("satisfaction")
        if "nps" in feedback.columns or (score is not None and score.max() > 5):
            targets.append("nps")
        targets.append("responses")
    if dataset.has("transactions", "date"):
        targets += ["revenue", "orders", "units"]
    return targets


def _segmentation_version(workspace: Workspace, dataset: Dataset, choice: str | None) -> str:
    if not choice or choice == RFM_CHOICE or not workspace.exists(dataset.name):
        return str(choice)
    for item in workspace.list_analyses(dataset.name, "segments"):
        if item.name == choice:
            return f"{choice}@{item.created_at}"
    return str(choice)


def _controls(dataset: Dataset, workspace: Workspace) -> ForecastParams | None:
    targets = _targets(dataset)
    if not targets:
        st.info(tr("fcpage.needs"))
        return None
    row = st.columns([2, 1, 2, 2])
    target = row[0].selectbox(
        tr("fcpage.target"),
        targets,
        key="fc_target",
        format_func=labels(targets, lambda x: tr(f"forecast.target.{x}")),
    )
    freq = row[1].radio(
        tr("fcpage.freq"),
        FREQS,
        key="fc_freq",
        format_func=labels(FREQS, lambda f: tr(f"forecast.freq.{f}")),
    )
    horizon = row[2].slider(tr("fcpage.horizon"), 1, 24, 6, key="fc_horizon")
    groupings = ["", *groupable_columns(dataset, target)]
    by = row[3].selectbox(
        tr("fcpage.by"),
        groupings,
        key="fc_by",
        format_func=labels(
            groupings,
            lambda g: (
                tr("fcpage.by_none")
                if g == ""
                else (tr("forecast.group.segment") if g == SEGMENT else g)
            ),
        ),
    )
    segmentation = None
    if by == SEGMENT:
        choices = segment_choices(workspace, dataset)
        if not choices:
            st.info(tr("seglabels.error.none"))
            return None
        segmentation = st.selectbox(
            tr("fcpage.segmentation"),
            choices,
            key="fc_segmentation",
            format_func=labels(choices, lambda c: tr("seglabels.rfm") if c == RFM_CHOICE else c),
        )
    row = st.columns([2, 2, 2])
    models = ("auto", *MODELS)
    model = row[0].selectbox(
        tr("fcpage.model"),
        models,
        key="fc_model",
        format_func=labels(models, lambda m: tr(f"forecast.model.{m}")),
        help=tr("fcpage.model_help"),
    )
    threshold = drop = None
    if target in SCORE_TARGETS:
        default = DEFAULT_THRESHOLDS["nps"] if target == "nps" else DEFAULT_THRESHOLDS["1-5"]
        threshold = row[1].number_input(
            tr("fcpage.threshold"),
            value=float(default),
            step=0.1 if target == "satisfaction" else 5.0,
            key=f"fc_threshold_{target}",
            help=tr("fcpage.threshold_help"),
        )
    else:
        drop = (
            row[1].slider(
                tr("fcpage.drop"),
                -50,
                0,
                int(DEFAULT_DROP * 100),
                1,
                key="fc_drop",
                format="%d%%",
                help=tr("fcpage.drop_help"),
            )
            / 100
        )
    interval = row[2].select_slider(
        tr("fcpage.interval"), [0.8, 0.9, 0.95, 0.99], 0.95, key="fc_interval"
    )
    with st.expander(tr("fcpage.advanced")):
        cols = st.columns(3)
        origins = cols[0].slider(
            tr("fcpage.origins"), 1, 12, 3, key="fc_origins", help=tr("fcpage.origins_help")
        )
        window = cols[1].slider(tr("fcpage.ma_window"), 1, 12, 3, key="fc_window")
        min_responses = cols[2].number_input(
            tr("fcpage.min_responses"),
            1,
            1000,
            5,
            key="fc_min_responses",
            help=tr("fcpage.min_responses_help"),
        )
    return ForecastParams(
        target=target,
        freq=freq,
        horizon=int(horizon),
        by=by or None,
        segmentation=segmentation,
        model=model,
        interval=float(interval),
        n_origins=int(origins),
        ma_window=int(window),
        min_responses=int(min_responses),
        threshold=threshold,
        drop=drop,
    )


def _column(name: str) -> str:
    key = f"forecast.column.{name}"
    text = t(key, lang())
    return text if text != key else name


def _shown(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    if "group" in frame.columns:
        frame["group"] = frame["group"].map(lambda g: group_name(g, lang()))
    if "model" in frame.columns:
        frame["model"] = frame["model"].map(lambda m: tr(f"forecast.model.{m}"))
    for column in ("period", "first_below"):
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column]).dt.strftime("%Y-%m-%d")
    frame.columns = [_column(c) for c in frame.columns]
    return frame


def _warnings(result: ForecastResult) -> None:
    table = result.warnings
    if table.empty:
        st.success(tr("fcpage.no_warnings"))
        return
    st.warning(tr("fcpage.warnings", count=len(table)), icon=":material/warning:")
    shown = table.copy()
    relative = result.params.target not in SCORE_TARGETS
    if relative:
        shown["change"] = shown["change"].map(lambda v: f"{v:+.1%}")
        shown = shown.rename(columns={"recent": "recent_same"})
    else:
        shown = shown.drop(columns=["change"])
    st.dataframe(_shown(shown), hide_index=True, width="stretch")


def _forecast_tab(dataset: Dataset) -> None:
    workspace = get_workspace()
    params = _controls(dataset, workspace)
    if params is None:
        return
    key = f"{params!r}|{_segmentation_version(workspace, dataset, params.segmentation)}"
    try:
        with st.spinner(tr("fcpage.running")):
            result = _forecast(
                dataset.fingerprint, key, str(workspace.directory), lang(), dataset, params
            )
    except CrmError as error:
        show_error(error)
        return
    _warnings(result)
    for note in result.notes:
        st.info(note.text(lang()))
    names = [g.group for g in result.groups]
    row = st.columns([2, 2])
    shown_group = row[0].selectbox(
        tr("fcpage.group"),
        names,
        key="fc_group_view",
        format_func=labels(names, lambda g: group_name(g, lang())),
    )
    group = result.group(shown_group if shown_group in names else ALL)
    available = [m for m in MODELS if m in set(group.forecast["model"])]
    view_model = row[1].selectbox(
        tr("fcpage.show_model"),
        ["", *available],
        key="fc_view_model",
        format_func=labels(
            ["", *available],
            lambda m: (
                tr("fcpage.chosen", model=tr(f"forecast.model.{group.chosen}"))
                if m == ""
                else tr(f"forecast.model.{m}")
            ),
        ),
    )
    threshold = result.threshold if params.target in SCORE_TARGETS else None
    st.plotly_chart(
        forecast_chart(
            group,
            params.target,
            lang(),
            model=view_model or None,
            interval=params.interval,
            threshold=threshold,
        ),
        width="stretch",
    )
    st.caption(
        tr("fcpage.chosen_caption", model=group.detail, group=group_name(group.group, lang()))
    )
    left, right = st.columns([3, 2])
    backtest = group.backtest.copy()
    left.dataframe(_shown(backtest), hide_index=True, width="stretch")
    right.plotly_chart(backtest_chart(group, lang()), width="stretch")
    if params.by:
        st.subheader(tr("fcpage.by_group"))
        st.plotly_chart(groups_chart(result, lang()), width="stretch")
    summary = result.summary()
    st.dataframe(_shown(summary), hide_index=True, width="stretch")
    table = history_table(group)
    st.dataframe(_shown(table), hide_index=True, width="stretch")
    export_buttons(
        pd.concat(
            [g.forecast.assign(group=group_name(g.group, "en")) for g in result.groups],
            ignore_index=True,
        ),
        f"forecast_{params.target}",
        "forecast_export",
    )


st.title(tr("fcpage.title"))
st.caption(tr("fcpage.intro"))
dataset = require_dataset()
# Only the open tab runs: the drivers' models cost seconds, a forecast change should not.
forecast_tab, drivers_tab = st.tabs(
    [tr("fcpage.tab.forecast"), tr("fcpage.tab.drivers")], key="forecast_tabs", on_change="rerun"
)
with forecast_tab:
    if forecast_tab.open:
        _forecast_tab(dataset)
with drivers_tab:
    if drivers_tab.open:
        _drivers_tab.render(dataset)
