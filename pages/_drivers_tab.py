"""The "Drivers" tab of the satisfaction page: what moves the score, and what-if sliders.

``render(dataset)`` draws the tab; the page owns the title and the tabs around it. The core call
is cached on the dataset's content fingerprint, the parameters, the language (RFM segment names
are translated) and the version of the chosen saved segmentation. Widget keys start with
``fc_`` so their values survive a visit to another page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from crm_core.charts.drivers import fit_chart, importance_chart, what_if_chart
from crm_core.drivers import (
    MODELS,
    NO_SEGMENTS,
    SCALES,
    DriverParams,
    DriverResult,
    feature_grid,
    feature_range,
    importance_table,
    model_name,
    run_drivers,
    what_if,
    what_if_curve,
)
from crm_core.segment_labels import RFM_CHOICE, segment_choices
from crm_core.store import Workspace
from crm_core.tables import Dataset
from pages._ui import export_buttons, get_workspace, guarded, labels, lang, tr

PREFIX = "fc_drv_"
HEADLINE = {  # task -> (metric key, lower is better)
    "regression": (("mae", True), ("r2", False), ("rmse", True)),
    "classification": (("roc_auc", False), ("pr_auc", False), ("brier", True)),
}


@st.cache_data(max_entries=8, ttl=3600, show_spinner=False)
def _run(
    fingerprint: str,
    key: str,
    language: str,
    _dataset: Dataset,
    _params: DriverParams,
    _workspace: Workspace,
) -> DriverResult:
    """Cached core call; ``key`` holds repr(params) and the segmentation's version."""
    return run_drivers(_dataset, _params, _workspace, language)


def _targets(dataset: Dataset) -> list[str]:
    feedback = dataset.get("feedback")
    if feedback is None or not len(feedback):
        return []
    has = [column for column in ("score", "nps") if column in feedback.columns]
    return [*has, "satisfied"] if has else []


def _segmentation_version(workspace: Workspace, dataset: Dataset, choice: str) -> str:
    """When the chosen saved segmentation was written: re-saving it must refresh the cache."""
    if choice in (RFM_CHOICE, NO_SEGMENTS) or not workspace.exists(dataset.name):
        return ""
    for info in workspace.list_analyses(dataset.name, "segments"):
        if info.name == choice:
            return str(info.created_at)
    return ""


def _controls(dataset: Dataset, workspace: Workspace, targets: list[str]) -> DriverParams:
    choices = [*segment_choices(workspace, dataset), NO_SEGMENTS]

    def segment_text(choice: str) -> str:
        if choice == RFM_CHOICE:
            return tr("seglabels.rfm")
        if choice == NO_SEGMENTS:
            return tr("drivers.tab.no_segments")
        return choice

    with st.form("drivers_form", border=True):
        row = st.columns(5)
        target = row[0].selectbox(
            tr("drivers.tab.target"),
            targets,
            key=f"{PREFIX}target",
            format_func=labels(targets, lambda x: tr(f"drivers.target.{x}")),
        )
        scale = row[1].selectbox(
            tr("drivers.tab.scale"),
            SCALES,
            key=f"{PREFIX}scale",
            format_func=labels(SCALES, lambda x: tr(f"drivers.scale.{x}")),
            help=tr("drivers.tab.scale_help"),
        )
        model = row[2].selectbox(
            tr("drivers.tab.model"),
            MODELS,
            index=MODELS.index("hgb"),
            key=f"{PREFIX}model",
            format_func=labels(MODELS, lambda m: model_name(m, lang())),
        )
        segmentation = row[3].selectbox(
            tr("drivers.tab.segments"),
            choices,
            key=f"{PREFIX}segments",
            format_func=labels(choices, segment_text),
        )
        threshold = row[4].number_input(
            tr("drivers.tab.threshold"),
            min_value=0.0,
            max_value=10.0,
            value=None,
            step=1.0,
            key=f"{PREFIX}threshold",
            placeholder=tr("drivers.tab.threshold_auto"),
            help=tr("drivers.tab.threshold_help"),
        )
        st.form_submit_button(tr("drivers.tab.run"), type="primary", icon=":material/play_arrow:")
    return DriverParams(
        target=target,
        scale=scale,
        model=model,
        segmentation=segmentation,
        satisfied_threshold=None if threshold is None else float(threshold),
    )


def _format(result: DriverResult, value: float) -> str:
    return f"{value:.1%}" if result.task == "classification" else f"{value:.2f}"


def _delta(result: DriverResult, change: float) -> str:
    if result.task == "classification":
        return tr("drivers.tab.points", value=f"{100 * change:+.1f}")
    return f"{change:+.2f}"


def _evaluation(result: DriverResult) -> None:
    st.caption(
        tr(
            "drivers.tab.summary",
            responses=f"{result.n_responses:,}",
            column=result.column,
            scale=tr(f"drivers.scale.{result.scale}"),
            folds=result.params.cv_folds,
        )
    )
    for note in result.notes:
        st.warning(tr(note.key, **note.params))
    cols = st.columns(3)
    for col, (key, lower_better) in zip(cols, HEADLINE[result.task], strict=True):
        value, base = result.metrics[key], result.baseline[key]
        col.metric(
            tr(f"drivers.metric.{key}"),
            f"{value:.3f}",
            delta=tr("drivers.tab.vs_baseline", value=f"{value - base:+.3f}"),
            delta_color="inverse" if lower_better else "normal",
            help=tr(f"drivers.metric.{key}_help"),
            border=True,
        )
    st.caption(tr(f"drivers.tab.baseline_{result.task}"))
    left, right = st.columns(2)
    left.plotly_chart(importance_chart(result, lang()), width="stretch")
    right.plotly_chart(fit_chart(result, lang()), width="stretch")
    table = importance_table(result, lang())
    st.dataframe(table, hide_index=True, width="stretch")
    export_buttons(table, "drivers_importance", "drivers_importance")


def _forget_stale(key: str, valid: Callable[[Any], bool]) -> None:
    """Drop a kept widget value that no longer fits (another dataset or target since)."""
    if key in st.session_state and not valid(st.session_state[key]):
        del st.session_state[key]


def _what_if(result: DriverResult) -> None:
    st.subheader(tr("drivers.tab.whatif"))
    st.caption(tr("drivers.tab.whatif_help"))
    options = [str(f) for f in result.importance["feature"]]
    feature_key = f"{PREFIX}feature"
    _forget_stale(feature_key, lambda v: v in options)
    left, right = st.columns([1, 2])
    feature = left.selectbox(
        tr("drivers.tab.driver"),
        options,
        key=feature_key,
        format_func=labels(options, lambda f: result.label(f, lang())),
    )
    value: Any
    if feature in result.categorical:
        levels = feature_grid(result, feature)
        _forget_stale(f"{PREFIX}level:{feature}", lambda v: v in levels)
        value = left.selectbox(tr("drivers.tab.level"), levels, key=f"{PREFIX}level:{feature}")
    else:
        low, high, median = feature_range(result, feature)
        _forget_stale(f"{PREFIX}value:{feature}", lambda v: low <= v <= high)
        if high > low:
            value = left.slider(
                tr("drivers.tab.value"),
                min_value=low,
                max_value=high,
                value=min(max(median, low), high),
                step=max((high - low) / 100, 1e-6),
                key=f"{PREFIX}value:{feature}",
            )
        else:
            value = low
    predicted = what_if(result, feature, value)
    left.metric(
        tr(f"drivers.tab.predicted_{result.task}"),
        _format(result, predicted),
        delta=_delta(result, predicted - result.current),
        border=True,
    )
    left.caption(tr("drivers.tab.current", value=_format(result, result.current)))
    curve = result.partial_dependence.get(feature)
    if curve is None:
        curve = what_if_curve(result, feature)
    right.plotly_chart(what_if_chart(result, feature, value, lang(), curve=curve), width="stretch")


def render(dataset: Dataset) -> None:
    """Draw the Drivers tab for ``dataset`` (typed core errors are shown in place)."""
    st.caption(tr("drivers.tab.intro"))
    targets = _targets(dataset)
    if not targets:
        st.info(tr("drivers.tab.needs"))
        return
    workspace = get_workspace()
    params = guarded(lambda: _controls(dataset, workspace, targets))
    if params is None:
        return
    version = _segmentation_version(workspace, dataset, params.segmentation or "")
    with st.spinner(tr("drivers.tab.training")):
        result = guarded(
            lambda: _run(
                dataset.fingerprint,
                repr((params, version)),
                lang(),
                dataset,
                params,
                workspace,
            )
        )
    if result is None:
        return
    _evaluation(result)
    _what_if(result)
