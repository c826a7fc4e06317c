"""Satisfaction-driver charts: importance, what-if (partial dependence) and predicted vs actual.

Every function takes a :class:`~crm_core.drivers.DriverResult` and returns a plotly Figure.
Titles and axes go through ``t(key, lang)``; feature names and category values (user data)
through :func:`safe_label`, so plotly never reads them as markup.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from crm_core.charts import empty_figure, safe_label
from crm_core.drivers import DriverResult, what_if, what_if_curve
from crm_core.i18n import t

DRIVER_COLOR = "#636EFA"
MARKER_COLOR = "#EF553B"
REFERENCE_COLOR = "#B0B0B0"
CALIBRATION_BINS = 10


def _layout(fig: go.Figure, title: str, x: str = "", y: str = "") -> go.Figure:
    fig.update_layout(
        title=title,
        margin={"l": 50, "r": 20, "t": 60, "b": 50},
        legend={"orientation": "h", "yanchor": "top", "y": -0.18, "x": 0.0},
    )
    fig.update_xaxes(title_text=x)
    fig.update_yaxes(title_text=y)
    return fig


def _empty(title: str, lang: str) -> go.Figure:
    return empty_figure(title, t("drivers.chart.empty", lang))


def _predicted_axis(result: DriverResult, lang: str) -> str:
    key = "share" if result.task == "classification" else "score"
    return t(f"drivers.chart.predicted_{key}", lang)


def importance_chart(result: DriverResult, lang: str = "en", top: int = 15) -> go.Figure:
    """Permutation importance of the top drivers, largest on top, with its spread."""
    title = t("drivers.chart.importance.title", lang)
    imp = result.importance.dropna(subset=["importance"]).head(top)
    if imp.empty:
        return _empty(title, lang)
    imp = imp.iloc[::-1]
    labels = [safe_label(result.label(str(f), lang)) for f in imp["feature"]]
    fig = go.Figure(
        go.Bar(
            x=imp["importance"],
            y=labels,
            orientation="h",
            error_x={"type": "data", "array": imp["std"].astype(float)},
            marker_color=DRIVER_COLOR,
            hovertemplate="%{y}: %{x:.4f}<extra></extra>",
        )
    )
    fig.update_layout(height=max(320, 28 * len(imp) + 120))
    metric = "auc" if result.task == "classification" else "mae"
    return _layout(fig, title, t(f"drivers.chart.importance.x_{metric}", lang))


def what_if_chart(
    result: DriverResult,
    feature: str,
    value: Any = None,
    lang: str = "en",
    curve: pd.DataFrame | None = None,
) -> go.Figure:
    """The mean prediction as one driver changes (a line, or bars for categories), with the
    current average as a dashed line and a marker at the chosen value."""
    label = safe_label(result.label(feature, lang))
    title = t("drivers.chart.whatif.title", lang, feature=label)
    curve = what_if_curve(result, feature) if curve is None else curve
    if curve.empty:
        return _empty(title, lang)
    categorical = feature in result.categorical
    x = [safe_label(v) for v in curve["value"]] if categorical else curve["value"]
    fig = go.Figure()
    if categorical:
        colors = [
            MARKER_COLOR if value is not None and str(v) == str(value) else DRIVER_COLOR
            for v in curve["value"]
        ]
        fig.add_trace(
            go.Bar(
                x=x,
                y=curve["predicted"],
                marker_color=colors,
                name=t("drivers.chart.whatif.curve", lang),
                hovertemplate="%{x}: %{y:.3f}<extra></extra>",
            )
        )
    else:
        fig.add_trace(
            go.Scatter(
                x=x,
                y=curve["predicted"],
                mode="lines",
                line={"color": DRIVER_COLOR},
                name=t("drivers.chart.whatif.curve", lang),
                hovertemplate="%{x:.2f}: %{y:.3f}<extra></extra>",
            )
        )
    if value is not None and not categorical:
        fig.add_trace(
            go.Scatter(
                x=[float(value)],
                y=[what_if(result, feature, value)],
                mode="markers",
                marker={"color": MARKER_COLOR, "size": 12},
                name=t("drivers.chart.whatif.chosen", lang),
                hovertemplate="%{x:.2f}: %{y:.3f}<extra></extra>",
            )
        )
    fig.add_hline(
        y=result.current,
        line={"color": REFERENCE_COLOR, "dash": "dash"},
        annotation_text=t("drivers.chart.whatif.current", lang),
    )
    return _layout(fig, title, label, _predicted_axis(result, lang))


def fit_chart(result: DriverResult, lang: str = "en") -> go.Figure:
    """Out-of-fold predictions against what customers said: the mean prediction per actual
    score (with its spread), or per probability bin the observed share satisfied."""
    pred = result.predictions
    if result.task == "classification":
        title = t("drivers.chart.calibration.title", lang)
        bins = pd.qcut(pred["predicted"], CALIBRATION_BINS, labels=False, duplicates="drop")
        grouped = pred.groupby(bins).agg(
            predicted=("predicted", "mean"), observed=("actual", "mean")
        )
        x, y = grouped["predicted"], grouped["observed"]
        spread = None
        axes = (t("drivers.chart.calibration.x", lang), t("drivers.chart.calibration.y", lang))
        reference = [0.0, 1.0]
    else:
        title = t("drivers.chart.fit.title", lang)
        grouped = pred.groupby("actual")["predicted"].agg(["mean", "std", "size"])
        x, y = grouped.index.to_numpy(dtype=float), grouped["mean"]
        spread = grouped["std"].fillna(0.0).astype(float)
        axes = (t("drivers.chart.fit.x", lang), t("drivers.chart.fit.y", lang))
        reference = [float(np.min(x)), float(np.max(x))]
    if len(x) == 0:
        return _empty(title, lang)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=x,
            y=y,
            mode="lines+markers",
            line={"color": DRIVER_COLOR},
            error_y=None if spread is None else {"type": "data", "array": spread},
            name=t("drivers.chart.fit.model", lang),
            hovertemplate="%{x:.2f} → %{y:.2f}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=reference,
            y=reference,
            mode="lines",
            line={"color": REFERENCE_COLOR, "dash": "dash"},
            name=t("drivers.chart.fit.perfect", lang),
        )
    )
    return _layout(fig, title, *axes)
