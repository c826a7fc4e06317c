"""Customer value charts: Pareto curve, tiers, holdout check, P(alive) map, CLV distribution.

Every function takes a table from :mod:`crm_core.value` and returns a plotly Figure; titles and
axes go through ``t(key, lang)`` and user text (customer ids, segment labels) through
:func:`safe_label`. RFM segment keys are shown by their translated names without importing the
segmentation module (and scikit-learn with it).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from crm_core.charts import safe_label
from crm_core.i18n import has_key, t
from crm_core.value import DEFAULT_TIERS, tier_names

ACTUAL_COLOR = "#636EFA"
PREDICTED_COLOR = "#EF553B"
NEUTRAL_COLOR = "#B0B0B0"


def _layout(fig: go.Figure, title_key: str, lang: str, x: str = "", y: str = "") -> go.Figure:
    fig.update_layout(title=t(title_key, lang), margin={"l": 50, "r": 20, "t": 60, "b": 50})
    if x:
        fig.update_xaxes(title_text=x)
    if y:
        fig.update_yaxes(title_text=y)
    return fig


def _percent(value: float) -> str:
    return f"{value:.0%}"


def pareto_chart(pareto: pd.DataFrame, lang: str = "en", mark_share: float = 0.2) -> go.Figure:
    """Cumulative share of revenue against share of customers, with the equality line and the
    share held by the top ``mark_share`` of customers marked."""
    x = pareto["customer_share"].to_numpy(float)
    y = pareto["value_share"].to_numpy(float)
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            name=t("value.chart.pareto.equality", lang),
            line={"color": NEUTRAL_COLOR, "dash": "dash"},
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=y,
            mode="lines",
            name=t("value.chart.pareto.curve", lang),
            line={"color": ACTUAL_COLOR, "width": 3},
            hovertemplate="%{x:.0%} → %{y:.1%}<extra></extra>",
        )
    )
    if len(x) > 1 and 0 < mark_share < 1:
        value = float(np.interp(mark_share, x, y))
        fig.add_trace(
            go.Scatter(
                x=[mark_share],
                y=[value],
                mode="markers+text",
                marker={"color": PREDICTED_COLOR, "size": 10},
                text=[
                    t(
                        "value.chart.pareto.marker",
                        lang,
                        share=_percent(mark_share),
                        value=_percent(value),
                    )
                ],
                textposition="bottom right",
                showlegend=False,
                hoverinfo="skip",
            )
        )
    fig.update_xaxes(tickformat=".0%", range=[0, 1])
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02])
    return _layout(
        fig,
        "value.chart.pareto.title",
        lang,
        t("value.chart.pareto.x", lang),
        t("value.chart.pareto.y", lang),
    )


def tier_chart(
    tiers: pd.DataFrame, shares: tuple[float, ...] = DEFAULT_TIERS, lang: str = "en"
) -> go.Figure:
    """Share of customers beside share of revenue for each value tier (``run_value().tiers``)."""
    names = tier_names(shares, lang)
    labels = [safe_label(names.get(int(k), k)) for k in tiers.index]
    value_column = next(c for c in tiers.columns if c.endswith("_share") and c != "customer_share")
    fig = go.Figure()
    for column, key, color in (
        ("customer_share", "value.chart.tiers.customers", NEUTRAL_COLOR),
        (value_column, "value.chart.tiers.value", ACTUAL_COLOR),
    ):
        values = tiers[column].to_numpy(float)
        fig.add_trace(
            go.Bar(
                x=labels,
                y=values,
                name=t(key, lang),
                marker_color=color,
                text=[_percent(v) for v in values],
                textposition="outside",
            )
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return _layout(fig, "value.chart.tiers.title", lang, y=t("value.chart.tiers.y", lang))


def holdout_chart(holdout: pd.DataFrame, lang: str = "en") -> go.Figure:
    """Mean actual vs predicted holdout purchases by calibration frequency (0..6, 7+)."""
    x = [str(k) for k in holdout.index]
    fig = go.Figure()
    for column, key, color, dash in (
        ("actual", "value.chart.holdout.actual", ACTUAL_COLOR, "solid"),
        ("predicted", "value.chart.holdout.predicted", PREDICTED_COLOR, "dash"),
    ):
        fig.add_trace(
            go.Scatter(
                x=x,
                y=holdout[column].to_numpy(float),
                mode="lines+markers",
                name=t(key, lang),
                line={"color": color, "dash": dash},
                customdata=holdout["customers"].to_numpy(),
                hovertemplate="%{x}: %{y:.2f} (n = %{customdata})<extra></extra>",
            )
        )
    fig.update_xaxes(type="category")
    fig.update_yaxes(rangemode="tozero")
    return _layout(
        fig,
        "value.chart.holdout.title",
        lang,
        t("value.chart.holdout.x", lang),
        t("value.chart.holdout.y", lang),
    )


def alive_heatmap(matrix: pd.DataFrame, time_unit: str = "weeks", lang: str = "en") -> go.Figure:
    """P(alive) by repeat purchases (rows) and recency (columns), from ``alive_matrix``."""
    fig = go.Figure(
        go.Heatmap(
            z=matrix.to_numpy(float),
            x=matrix.columns.to_numpy(float),
            y=matrix.index.to_numpy(),
            zmin=0,
            zmax=1,
            colorscale="RdYlGn",
            colorbar={"title": {"text": t("value.chart.alive.colorbar", lang)}},
            hovertemplate="x = %{y}, t_x = %{x:.1f}: %{z:.2f}<extra></extra>",
        )
    )
    unit = t(f"value.unit.{time_unit}", lang)
    return _layout(
        fig,
        "value.chart.alive.title",
        lang,
        t("value.chart.alive.x", lang, unit=unit),
        t("value.chart.alive.y", lang),
    )


def clv_histogram(
    clv: pd.Series, lang: str = "en", bins: int = 50, clip_quantile: float = 0.99
) -> go.Figure:
    """Histogram of CLV; the long right tail beyond ``clip_quantile`` is left out and counted
    in a note, otherwise a handful of big customers squeeze everyone else into one bar."""
    values = clv.to_numpy(float)
    values = values[np.isfinite(values)]
    cut = float(np.quantile(values, clip_quantile)) if len(values) else 0.0
    shown = values[values <= cut] if len(values) and clip_quantile < 1 else values
    fig = go.Figure(go.Histogram(x=shown, nbinsx=bins, marker_color=ACTUAL_COLOR))
    hidden = len(values) - len(shown)
    if hidden:
        fig.add_annotation(
            text=t("value.chart.clv.clipped", lang, count=hidden, value=f"{cut:,.0f}"),
            xref="paper",
            yref="paper",
            x=1,
            y=1.05,
            showarrow=False,
            xanchor="right",
        )
    return _layout(
        fig,
        "value.chart.clv.title",
        lang,
        t("value.chart.clv.x", lang),
        t("value.chart.clv.y", lang),
    )


def _label(label: Hashable, names: Mapping[Hashable, str] | None, lang: str) -> str:
    if names is not None and label in names:
        return safe_label(names[label])
    if isinstance(label, str) and has_key(f"segments.rfm.{label}"):
        return safe_label(t(f"segments.rfm.{label}", lang))
    return safe_label(label)


def segment_value_chart(
    by_segment: pd.DataFrame, names: Mapping[Hashable, str] | None = None, lang: str = "en"
) -> go.Figure:
    """Total CLV per segment (``clv_by_segment``), largest first, with the mean in the hover."""
    frame = by_segment.sort_values("clv_total", ascending=False, kind="stable")
    labels = [_label(k, names, lang) for k in frame.index]
    fig = go.Figure(
        go.Bar(
            x=labels,
            y=frame["clv_total"].to_numpy(float),
            marker_color=ACTUAL_COLOR,
            customdata=np.column_stack(
                [frame["customers"].to_numpy(), frame["clv_mean"].to_numpy(float)]
            ),
            hovertemplate="%{x}: %{y:,.0f} (n = %{customdata[0]}, %{customdata[1]:,.1f})"
            "<extra></extra>",
        )
    )
    return _layout(fig, "value.chart.segments.title", lang, y=t("value.chart.segments.y", lang))


def top_customers_chart(top: pd.DataFrame, lang: str = "en") -> go.Figure:
    """Horizontal bars of the highest CLVs, labelled with the (escaped) customer ids."""
    frame = top.sort_values("clv", ascending=True, kind="stable")
    fig = go.Figure(
        go.Bar(
            x=frame["clv"].to_numpy(float),
            y=[safe_label(i) for i in frame.index],
            orientation="h",
            marker_color=ACTUAL_COLOR,
            hovertemplate="%{y}: %{x:,.0f}<extra></extra>",
        )
    )
    fig.update_yaxes(type="category")
    fig.update_layout(height=max(300, 24 * len(frame) + 120))
    return _layout(fig, "value.chart.top.title", lang, x=t("value.chart.top.x", lang))
