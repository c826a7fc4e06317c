"""Churn charts: ROC and precision-recall curves, confusion matrix, gains and lift, calibration,
permutation importance, partial dependence and the distribution of risk.

Every function takes results from :mod:`crm_core.churn` and returns a plotly Figure. Titles and
axes go through ``t(key, lang)``; feature names and category values (user data) through
:func:`safe_label`. Curves of several models accept a single result, a ``{name: result}`` mapping
or a :class:`~crm_core.churn.ChurnComparison`; each model keeps one colour across charts.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from crm_core.charts import safe_label
from crm_core.churn import (
    MODELS,
    ChurnComparison,
    ChurnResult,
    churn_feature_label,
    metrics_at_threshold,
    model_name,
)
from crm_core.i18n import t

MODEL_COLORS: dict[str, str] = {
    "logreg": "#636EFA",
    "rf": "#00CC96",
    "hgb": "#EF553B",
    "svm": "#AB63FA",
}
EXTRA_COLORS: tuple[str, ...] = ("#FFA15A", "#19D3F3", "#FF6692", "#B6E880", "#FECB52")
REFERENCE_COLOR = "#B0B0B0"
CHURN_COLOR = "#EF553B"

Results = ChurnResult | Mapping[str, ChurnResult] | ChurnComparison


def _results(results: Results) -> dict[str, ChurnResult]:
    if isinstance(results, ChurnResult):
        return {results.name: results}
    if isinstance(results, ChurnComparison):
        return dict(results.results)
    return dict(results)


def _name(key: str, lang: str) -> str:
    base = key if key in MODELS else key.rsplit("_", 1)[0]
    name = model_name(base, lang) if base in MODELS else key
    return safe_label(name if base == key else f"{name} ({key.rsplit('_', 1)[-1]})")


def _color(key: str, position: int) -> str:
    return MODEL_COLORS.get(key, EXTRA_COLORS[position % len(EXTRA_COLORS)])


def _layout(
    fig: go.Figure, title: str, lang: str, x: str | None = None, y: str | None = None
) -> go.Figure:
    fig.update_layout(
        title=title,
        margin={"l": 50, "r": 20, "t": 60, "b": 50},
        legend={"orientation": "h", "yanchor": "top", "y": -0.15, "x": 0.0},
    )
    if x:
        fig.update_xaxes(title_text=t(x, lang))
    if y:
        fig.update_yaxes(title_text=t(y, lang))
    return fig


def _empty(title: str, lang: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(
        text=t("churn.chart.empty", lang), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper"
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title, lang)


def roc_chart(results: Results, lang: str = "en") -> go.Figure:
    """ROC curves of one or several models, with the chance diagonal."""
    fig = go.Figure()
    for position, (key, result) in enumerate(_results(results).items()):
        auc = f"{result.metrics['roc_auc']:.3f}"
        fig.add_trace(
            go.Scatter(
                x=result.roc["fpr"],
                y=result.roc["tpr"],
                mode="lines",
                name=t("churn.chart.auc_name", lang, name=_name(key, lang), auc=auc),
                line={"color": _color(key, position)},
                customdata=result.roc[["threshold"]],
                hovertemplate="FPR %{x:.2f}, TPR %{y:.2f}<br>p ≥ %{customdata[0]:.2f}"
                "<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name=t("churn.chart.chance", lang),
            line={"color": REFERENCE_COLOR, "dash": "dash"},
        )
    )
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1.02])
    return _layout(
        fig, t("churn.chart.roc.title", lang), lang, "churn.chart.roc.x", "churn.chart.roc.y"
    )


def pr_chart(results: Results, lang: str = "en") -> go.Figure:
    """Precision-recall curves, with the churn rate (a random model's precision) as reference."""
    fig = go.Figure()
    items = _results(results)
    for position, (key, result) in enumerate(items.items()):
        ap = f"{result.metrics['pr_auc']:.3f}"
        fig.add_trace(
            go.Scatter(
                x=result.pr["recall"],
                y=result.pr["precision"],
                mode="lines",
                name=t("churn.chart.ap_name", lang, name=_name(key, lang), ap=ap),
                line={"color": _color(key, position)},
                hovertemplate="recall %{x:.2f}, precision %{y:.2f}<extra></extra>",
            )
        )
    if items:
        rate = next(iter(items.values())).metrics["base_rate"]
        fig.add_trace(
            go.Scatter(
                x=[0, 1],
                y=[rate, rate],
                mode="lines",
                name=t("churn.chart.pr.base", lang, rate=f"{rate:.1%}"),
                line={"color": REFERENCE_COLOR, "dash": "dash"},
            )
        )
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1.02])
    return _layout(
        fig, t("churn.chart.pr.title", lang), lang, "churn.chart.pr.x", "churn.chart.pr.y"
    )


def confusion_chart(
    result: ChurnResult, threshold: float | None = None, lang: str = "en"
) -> go.Figure:
    """Counts of actual x predicted class at ``threshold`` (default: the result's)."""
    threshold = result.threshold if threshold is None else threshold
    m = metrics_at_threshold(result, threshold)
    classes = [t("churn.chart.class.retained", lang), t("churn.chart.class.churned", lang)]
    z = np.array([[m["tn"], m["fp"]], [m["fn"], m["tp"]]])
    total = max(int(z.sum()), 1)
    text = [[f"{v:,}<br>{v / total:.1%}" for v in row] for row in z]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=classes,
            y=classes,
            text=text,
            texttemplate="%{text}",
            colorscale="Blues",
            showscale=False,
            hovertemplate="%{y} → %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    title = t("churn.chart.confusion.title", lang, threshold=f"{threshold:.2f}")
    return _layout(
        fig, title, lang, "churn.chart.confusion.predicted", "churn.chart.confusion.actual"
    )


def gains_chart(result: ChurnResult, lang: str = "en") -> go.Figure:
    """Cumulative gains (share of churners reached) and lift by share of customers contacted."""
    gains = result.gains
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.22)
    fig.add_trace(
        go.Scatter(
            x=gains["share_contacted"],
            y=gains["share_captured"],
            mode="lines",
            name=t("churn.chart.gains.model", lang),
            line={"color": _color(result.name, 0)},
            hovertemplate="%{x:.0%} → %{y:.0%}<extra></extra>",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name=t("churn.chart.gains.random", lang),
            line={"color": REFERENCE_COLOR, "dash": "dash"},
        ),
        row=1,
        col=1,
    )
    lift = gains[gains["share_contacted"] > 0]
    fig.add_trace(
        go.Scatter(
            x=lift["share_contacted"],
            y=lift["lift"],
            mode="lines",
            name=t("churn.chart.lift.y", lang),
            line={"color": CHURN_COLOR},
            hovertemplate="%{x:.0%}: %{y:.2f}×<extra></extra>",
        ),
        row=1,
        col=2,
    )
    fig.add_hline(y=1.0, line={"color": REFERENCE_COLOR, "dash": "dash"}, row=1, col=2)
    # Both panels share one x-axis title, written once under both: at half a page's width two
    # copies of it ran into each other. Three ticks keep the labels level in a narrow panel.
    fig.update_xaxes(tickformat=".0%", tickvals=[0, 0.5, 1], range=[0, 1])
    fig.add_annotation(
        text=t("churn.chart.gains.x", lang),
        x=0.5,
        y=0,
        xref="paper",
        yref="paper",
        xanchor="center",
        yanchor="top",
        yshift=-30,
        showarrow=False,
    )
    fig.update_yaxes(title_text=t("churn.chart.gains.y", lang), tickformat=".0%", row=1, col=1)
    fig.update_yaxes(title_text=t("churn.chart.lift.y", lang), row=1, col=2)
    fig = _layout(fig, t("churn.chart.gains.title", lang), lang)
    fig.update_layout(
        margin={"b": 100}, legend={"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0.0}
    )
    return fig


def calibration_chart(results: Results, lang: str = "en") -> go.Figure:
    """Mean predicted probability against the observed churn rate, per probability bin."""
    fig = go.Figure()
    for position, (key, result) in enumerate(_results(results).items()):
        cal = result.calibration
        fig.add_trace(
            go.Scatter(
                x=cal["predicted"],
                y=cal["observed"],
                mode="lines+markers",
                name=_name(key, lang),
                line={"color": _color(key, position)},
                hovertemplate="%{x:.2f} → %{y:.2f}<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name=t("churn.chart.calibration.perfect", lang),
            line={"color": REFERENCE_COLOR, "dash": "dash"},
        )
    )
    fig.update_xaxes(range=[0, 1])
    fig.update_yaxes(range=[0, 1])
    return _layout(
        fig,
        t("churn.chart.calibration.title", lang),
        lang,
        "churn.chart.calibration.x",
        "churn.chart.calibration.y",
    )


def importance_chart(result: ChurnResult, lang: str = "en", top: int = 15) -> go.Figure:
    """Permutation importance of the top features, largest on top, with its spread."""
    title = t("churn.chart.importance.title", lang)
    imp = result.importance.head(top)
    if imp.empty:
        return _empty(title, lang)
    imp = imp.iloc[::-1]
    labels = [safe_label(churn_feature_label(str(f), lang)) for f in imp["feature"]]
    fig = go.Figure(
        go.Bar(
            x=imp["importance"],
            y=labels,
            orientation="h",
            error_x={"type": "data", "array": imp["std"].astype(float)},
            marker_color=_color(result.name, 0),
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    fig.update_layout(height=max(320, 28 * len(imp) + 120))
    return _layout(fig, title, lang, "churn.chart.importance.x")


def partial_dependence_chart(result: ChurnResult, lang: str = "en") -> go.Figure:
    """Average predicted churn probability over each top feature's values, one panel each."""
    title = t("churn.chart.pdp.title", lang)
    curves = result.partial_dependence
    if not curves:
        return _empty(title, lang)
    names = list(curves)
    labels = [safe_label(churn_feature_label(n, lang)) for n in names]
    fig = make_subplots(rows=1, cols=len(names), subplot_titles=labels, shared_yaxes=True)
    for col, name in enumerate(names, start=1):
        frame = curves[name]
        categorical = not pd.api.types.is_numeric_dtype(frame["value"])
        x = [safe_label(v) for v in frame["value"]] if categorical else frame["value"]
        trace = (
            go.Bar(x=x, y=frame["probability"], marker_color=_color(result.name, 0))
            if categorical
            else go.Scatter(
                x=x, y=frame["probability"], mode="lines", line={"color": _color(result.name, 0)}
            )
        )
        trace.update(showlegend=False, hovertemplate="%{x}: %{y:.3f}<extra></extra>")
        fig.add_trace(trace, row=1, col=col)
    fig.update_yaxes(title_text=t("churn.chart.pdp.y", lang), row=1, col=1)
    return _layout(fig, title, lang)


def risk_histogram(
    result: ChurnResult | pd.DataFrame, threshold: float | None = None, lang: str = "en"
) -> go.Figure:
    """How many customers sit at each churn probability (scores or a risk list)."""
    title = t("churn.chart.risk.title", lang)
    scores = result.scores if isinstance(result, ChurnResult) else result
    if scores is None or not len(scores):
        return _empty(title, lang)
    fig = go.Figure(
        go.Histogram(
            x=scores["probability"],
            xbins={"start": 0.0, "end": 1.0, "size": 0.05},
            marker_color=CHURN_COLOR,
            hovertemplate="%{x}: %{y}<extra></extra>",
        )
    )
    if threshold is None and isinstance(result, ChurnResult):
        threshold = result.threshold
    if threshold is not None:
        fig.add_vline(
            x=threshold,
            line={"color": REFERENCE_COLOR, "dash": "dash"},
            annotation_text=t("churn.chart.threshold", lang, threshold=f"{threshold:.2f}"),
        )
    fig.update_xaxes(range=[0, 1])
    return _layout(fig, title, lang, "churn.chart.risk.x", "churn.chart.risk.y")
