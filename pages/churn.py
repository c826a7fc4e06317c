"""Churn: who is about to leave, why, and what it is worth."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from crm_core.charts.churn import (
    calibration_chart,
    confusion_chart,
    gains_chart,
    importance_chart,
    partial_dependence_chart,
    pr_chart,
    risk_histogram,
    roc_chart,
)
from crm_core.churn import (
    MODELS,
    VALIDATIONS,
    ChurnLabelParams,
    ChurnModelParams,
    ChurnResult,
    compare_models,
    comparison_table,
    load_model,
    metrics_at_threshold,
    model_name,
    risk_list,
    score_dataset,
    serialize_model,
    target_list,
)
from crm_core.errors import CrmError
from crm_core.export import to_csv_bytes
from crm_core.tables import Dataset
from pages._ui import export_buttons, get_workspace, labels, lang, require_dataset, show_error, tr

MODEL_KIND = "churn"
DEFAULTS = ChurnModelParams()
DEPTHS = (4, 6, 8, 10, 12, 16, 20, 30, None)  # random forest; None: unlimited
WINDOW_DAYS = 90  # default inactivity window; also places a churn column's default as-of date


@st.cache_data(max_entries=8, ttl=3600, show_spinner=False)
def _train(
    fingerprint: str,
    key: str,
    _dataset: Dataset,
    _label: ChurnLabelParams,
    _model: ChurnModelParams,
) -> ChurnResult:
    return run_model(_dataset, _label, _model)


def run_model(dataset: Dataset, label: ChurnLabelParams, model: ChurnModelParams) -> ChurnResult:
    """One fit with a progress bar (kept out of the cached function's signature)."""
    from crm_core.churn import run_churn

    bar = st.progress(0.0, text=tr("churn.page.training"))
    try:
        return run_churn(dataset, label, model, progress=lambda f: bar.progress(min(max(f, 0), 1)))
    finally:
        bar.empty()


def _label_controls(dataset: Dataset) -> ChurnLabelParams | None:
    """Label source and dates. With transactions the derived label comes first (features
    strictly before its as-of date); a churn column then gets an as-of date too, because
    features that cover the period in which the column was decided leak the answer."""
    customers = dataset.get("customers")
    has_column = customers is not None and "churn" in customers.columns
    has_tx = dataset.has("transactions", "customer_id", "date")
    sources = [s for s, ok in (("derived", has_tx), ("column", has_column)) if ok]
    if not sources:
        st.info(tr("churn.page.needs"))
        return None
    source = st.radio(
        tr("churn.page.label_source"),
        sources,
        horizontal=True,
        key="churn_source",
        format_func=labels(sources, lambda s: tr(f"churn.page.source.{s}")),
    )
    if source == "column" and not has_tx:
        return ChurnLabelParams(label_column="churn")
    tx = dataset.tables["transactions"]
    first, last = tx["date"].min().date(), tx["date"].max().date()
    if source == "column":
        label_as_of = st.date_input(
            tr("churn.page.label_as_of"),
            value=_latest_as_of(first, last, WINDOW_DAYS),
            min_value=first + dt.timedelta(days=1),
            max_value=last + dt.timedelta(days=1),
            key="churn_label_as_of",
            help=tr("churn.page.label_as_of_help"),
        )
        return ChurnLabelParams(label_column="churn", as_of=pd.Timestamp(label_as_of))
    cols = st.columns(3)
    days = cols[1].slider(tr("churn.page.inactive_days"), 14, 365, WINDOW_DAYS, 1, key="churn_days")
    default_as_of = _latest_as_of(first, last, days)
    as_of = cols[0].date_input(
        tr("churn.page.as_of"),
        value=default_as_of,
        min_value=first + dt.timedelta(days=1),
        max_value=last,
        key="churn_as_of",
    )
    active = cols[2].number_input(
        tr("churn.page.active_days"),
        0,
        3650,
        0,
        30,
        key="churn_active",
        help=tr("churn.page.active_days_help"),
    )
    try:
        return ChurnLabelParams(
            inactive_days=int(days), as_of=pd.Timestamp(as_of), active_days=int(active) or None
        )
    except CrmError as error:
        show_error(error)
        return None


def _latest_as_of(first: dt.date, last: dt.date, days: int) -> dt.date:
    """The latest as-of date whose ``days``-day window still fits in the data."""
    return max(first + dt.timedelta(days=1), last - dt.timedelta(days=days - 1))


def _model_controls() -> ChurnModelParams | None:
    with st.form("churn_form", border=True):
        row = st.columns(4)
        model = row[0].selectbox(
            tr("churn.page.model"),
            MODELS,
            key="churn_model",
            format_func=labels(MODELS, lambda m: model_name(m, lang())),
        )
        validation = row[0].selectbox(
            tr("churn.page.validation"),
            VALIDATIONS,
            key="churn_validation",
            format_func=labels(VALIDATIONS, lambda v: tr(f"churn.page.validation.{v}")),
        )
        folds = row[1].slider(tr("churn.page.folds"), 2, 10, 5, key="churn_folds")
        balanced = row[1].toggle(
            tr("churn.page.balanced"),
            False,
            key="churn_balanced",
            help=tr("churn.page.balanced_help"),
        )
        c = row[2].select_slider(
            tr("churn.page.C"),
            (0.01, 0.1, 0.3, 1.0, 3.0, 10.0),
            1.0,
            key="churn_C",
            help=tr("churn.page.C_help"),
        )
        n_estimators = row[2].slider(
            tr("churn.page.n_estimators"), 20, 500, DEFAULTS.n_estimators, 10, key="churn_trees"
        )
        max_depth = row[2].select_slider(
            tr("churn.page.max_depth"),
            DEPTHS,
            DEFAULTS.max_depth,
            key="churn_depth",
            format_func=labels(
                DEPTHS, lambda d: tr("churn.page.unlimited") if d is None else str(d)
            ),
        )
        learning_rate = row[3].select_slider(
            tr("churn.page.learning_rate"),
            (0.01, 0.03, 0.05, 0.1, 0.2),
            DEFAULTS.learning_rate,
            key="churn_lr",
        )
        max_iter = row[3].slider(
            tr("churn.page.max_iter"), 20, 500, DEFAULTS.max_iter, 10, key="churn_rounds"
        )
        st.form_submit_button(tr("churn.page.train"), type="primary", icon=":material/play_arrow:")
    try:
        return ChurnModelParams(
            model=model,
            validation=validation,
            cv_folds=int(folds),
            class_weight="balanced" if balanced else None,
            C=float(c),
            svm_C=float(c) / 10,
            n_estimators=int(n_estimators),
            max_depth=None if max_depth is None else int(max_depth),
            learning_rate=float(learning_rate),
            max_iter=int(max_iter),
        )
    except CrmError as error:
        show_error(error)
        return None


def _evaluation(result: ChurnResult) -> None:
    m = result.metrics
    cols = st.columns(5)
    for col, key, fmt in zip(
        cols,
        ("roc_auc", "pr_auc", "f1", "brier", "top_decile_lift"),
        ("{:.3f}", "{:.3f}", "{:.3f}", "{:.3f}", "{:.2f}×"),
        strict=True,
    ):
        value = m.get(key)
        col.metric(
            tr(f"churn.page.metric.{key}"),
            "—" if value is None else fmt.format(value),
            help=tr(f"churn.page.metric.{key}_help"),
            border=True,
        )
    threshold = st.slider(
        tr("churn.page.threshold"), 0.01, 0.99, float(result.threshold), 0.01, key="churn_threshold"
    )
    at = metrics_at_threshold(result, threshold)
    cols = st.columns(4)
    cols[0].metric(tr("churn.page.precision"), f"{at['precision']:.1%}")
    cols[1].metric(tr("churn.page.recall"), f"{at['recall']:.1%}")
    cols[2].metric(tr("churn.page.flagged"), f"{int(at['flagged']):,}")
    cols[3].metric(tr("churn.page.f1_at"), f"{at['f1']:.3f}")
    left, right = st.columns(2)
    left.plotly_chart(confusion_chart(result, threshold, lang()), width="stretch")
    right.plotly_chart(roc_chart(result, lang()), width="stretch")
    left.plotly_chart(pr_chart(result, lang()), width="stretch")
    right.plotly_chart(gains_chart(result, lang()), width="stretch")
    left.plotly_chart(calibration_chart(result, lang()), width="stretch")
    right.plotly_chart(risk_histogram(result, threshold, lang()), width="stretch")
    baselines = result.baselines.copy()
    baselines["model"] = [model_name(x, lang()) for x in baselines["model"]]
    st.caption(tr("churn.page.baselines"))
    st.dataframe(baselines, hide_index=True, width="stretch")


def _comparison(dataset: Dataset, label: ChurnLabelParams, params: ChurnModelParams) -> None:
    st.caption(tr("churn.page.compare_help"))
    if not st.button(tr("churn.page.compare"), key="btn_churn_compare"):
        return
    bar = st.progress(0.0, text=tr("churn.page.training"))
    try:
        comparison = compare_models(
            dataset,
            label,
            [
                ChurnModelParams(
                    model=m,
                    validation=params.validation,
                    cv_folds=params.cv_folds,
                    class_weight=params.class_weight,
                    explain=False,
                )
                for m in MODELS
            ],
            progress=lambda f: bar.progress(min(max(f, 0.0), 1.0)),
        )
    except CrmError as error:
        show_error(error)
        return
    finally:
        bar.empty()
    st.dataframe(comparison_table(comparison, lang()), hide_index=True, width="stretch")
    st.plotly_chart(roc_chart(comparison, lang()), width="stretch")


def _risk(dataset: Dataset, result: ChurnResult) -> None:
    saved = [a.name for a in get_workspace().list_analyses(dataset.name, "segments")]
    segments = None
    if saved:
        choice = st.selectbox(
            tr("churn.page.segments"),
            ["", *saved],
            key="churn_segments",
            format_func=labels(["", *saved], lambda o: o or "—"),
        )
        if choice:
            frame = get_workspace().load_analysis(dataset.name, "segments", choice)
            segments = frame.set_index("customer_id")["segment_name"]
    risk = risk_list(result, segments=segments)
    factors = f"factors_{lang()}"
    shown = risk.drop(
        columns=[c for c in risk.columns if c.startswith("factors_") and c != factors]
    )
    st.dataframe(
        shown.head(500),
        hide_index=True,
        width="stretch",
        column_config={
            factors: st.column_config.TextColumn(tr("churn.page.factors"), width="large")
        },
    )
    st.subheader(tr("churn.page.targets"))
    cols = st.columns(3)
    budget = cols[0].number_input(
        tr("churn.page.budget_n"), 0, max(len(risk), 1), min(100, len(risk)), key="churn_budget"
    )
    cost = cols[1].number_input(tr("churn.page.cost"), 0.0, 10_000.0, 1.0, 0.5, key="churn_cost")
    save_rate = cols[2].slider(
        tr("churn.page.save_rate"), 0.0, 1.0, 0.2, 0.05, key="churn_save_rate"
    )
    try:
        targets = target_list(
            risk, budget_n=int(budget), cost_per_contact=float(cost), save_rate=float(save_rate)
        )
    except CrmError as error:
        show_error(error)
        return
    st.dataframe(
        targets.drop(
            columns=[c for c in targets.columns if c.startswith("factors_") and c != factors]
        ),
        hide_index=True,
        width="stretch",
    )
    export = risk.drop(
        columns=[c for c in risk.columns if c.startswith("factors_") and c != factors]
    )
    export_buttons(export, "churn_risk", "churn")


def _models(dataset: Dataset, result: ChurnResult | None) -> None:
    workspace = get_workspace()
    if result is not None:
        cols = st.columns([3, 1])
        # A keyed text input keeps its first value, so offer the name again for a new model,
        # dataset or language (a name the user typed stays while those do not change).
        default = f"{dataset.name} · {model_name(result.name, lang())}"
        if (
            st.session_state.get("churn_model_name_default") != default
            or "churn_model_name" not in st.session_state
        ):
            st.session_state["churn_model_name_default"] = default
            st.session_state["churn_model_name"] = default
        name = cols[0].text_input(tr("churn.page.model_name"), key="churn_model_name")
        if cols[1].button(tr("churn.page.save_model"), key="btn_churn_save"):
            try:
                payload = serialize_model(result, key=workspace.model_key)
                workspace.save_model(
                    name,
                    MODEL_KIND,
                    payload,
                    {
                        "dataset": dataset.name,
                        "fingerprint": dataset.fingerprint,
                        "model": result.name,
                        "metrics": result.metrics,
                    },
                )
                st.success(tr("churn.page.model_saved", name=name))
            except CrmError as error:
                show_error(error)
    saved = workspace.list_models(MODEL_KIND)
    if not saved:
        return
    names = [m["name"] for m in saved]
    choice = st.selectbox(tr("churn.page.score_with"), names, key="churn_score_model")
    if st.button(tr("churn.page.score"), key="btn_churn_score"):
        try:
            model = load_model(workspace.load_model_bytes(choice), key=workspace.model_key)
            scores = score_dataset(model, dataset)
        except CrmError as error:
            show_error(error)
            return
        st.dataframe(scores.head(500), width="stretch")
        st.download_button(
            tr("seg.download_csv"),
            to_csv_bytes(scores.reset_index()),
            "churn_scores.csv",
            "text/csv",
            key="churn:scores",
        )


st.title(tr("churn.page.title"))
st.caption(tr("churn.page.intro"))
dataset = require_dataset()
label_params = _label_controls(dataset)
if label_params is None:
    st.stop()
model_params = _model_controls()
if model_params is None:
    st.stop()
try:
    result = _train(
        dataset.fingerprint, repr((label_params, model_params)), dataset, label_params, model_params
    )
except CrmError as error:
    show_error(error)
    st.stop()
st.info(result.definition.get(lang(), result.definition.get("en", "")))
st.caption(
    tr(
        "churn.page.rate",
        rate=f"{result.churn_rate:.1%}",
        customers=f"{result.n_customers:,}",
        validation=tr(f"churn.page.validation.{result.validation}"),
    )
)
for note in result.notes:
    st.warning(note.text(lang()))
eval_tab, why_tab, risk_tab, compare_tab, models_tab = st.tabs(
    [
        tr("churn.page.tab.evaluation"),
        tr("churn.page.tab.why"),
        tr("churn.page.tab.risk"),
        tr("churn.page.tab.compare"),
        tr("churn.page.tab.models"),
    ]
)
with eval_tab:
    _evaluation(result)
with why_tab:
    st.caption(tr("churn.page.why_help"))
    left, right = st.columns(2)
    left.plotly_chart(importance_chart(result, lang()), width="stretch")
    right.plotly_chart(partial_dependence_chart(result, lang()), width="stretch")
with risk_tab:
    _risk(dataset, result)
with compare_tab:
    _comparison(dataset, label_params, model_params)
with models_tab:
    _models(dataset, result)
