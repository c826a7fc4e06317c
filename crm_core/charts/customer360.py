"""Customer 360 charts: the customer's timeline, categories vs the segment, recommender scores.

Item, category, channel and message texts come from user data and go through
:func:`safe_label`, so markup in a product name is shown as text, never rendered.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from crm_core.charts import safe_label
from crm_core.customer360 import TIMELINE_KINDS
from crm_core.i18n import t

KIND_COLORS = {"order": "#636EFA", "communication": "#FFA15A", "feedback": "#00CC96"}
CUSTOMER_COLOR = "#636EFA"
SEGMENT_COLOR = "#B0B0B0"
METRIC_COLORS = {"hit_rate": "#636EFA", "precision": "#EF553B", "coverage": "#00CC96"}
HOVER_CHARS = 120


def _empty(text: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(xaxis_visible=False, yaxis_visible=False, height=220)
    return fig


def _short(text: str) -> str:
    text = safe_label(text)
    return text if len(text) <= HOVER_CHARS else text[: HOVER_CHARS - 1] + "…"


def timeline_chart(timeline: pd.DataFrame, lang: str = "en") -> go.Figure:
    """One row per kind (orders, contacts, feedback), one marker per event; orders sized by
    amount, hover shows the detail."""
    if timeline.empty:
        return _empty(t("recommend.chart.no_events", lang))
    fig = go.Figure()
    for kind in TIMELINE_KINDS:
        rows = timeline[timeline["kind"] == kind]
        if rows.empty:
            continue
        label = t(f"recommend.profile.kind.{kind}", lang)
        values = pd.to_numeric(rows["value"], errors="coerce")
        if kind == "order" and values.notna().any():
            top = float(values.max()) or 1.0
            size = (8 + 16 * np.sqrt(values.fillna(0).clip(lower=0) / top)).to_numpy()
        else:
            size = np.full(len(rows), 10.0)
        hover = [
            f"{d:%Y-%m-%d} · {_short(c)}<br>{_short(x)}" + (f"<br>{v:,.2f}" if pd.notna(v) else "")
            for d, c, x, v in zip(
                rows["date"], rows["channel"], rows["detail"], values, strict=True
            )
        ]
        fig.add_trace(
            go.Scatter(
                x=rows["date"],
                y=[label] * len(rows),
                mode="markers",
                name=label,
                marker={"size": size, "color": KIND_COLORS[kind], "opacity": 0.75},
                hovertext=hover,
                hoverinfo="text",
            )
        )
    fig.update_layout(
        title=t("recommend.chart.timeline", lang),
        height=280,
        showlegend=False,
        margin={"l": 10, "r": 10, "t": 50, "b": 30},
    )
    return fig


def category_chart(categories: pd.DataFrame, lang: str = "en") -> go.Figure:
    """The customer's share of spend per category beside their segment's average share."""
    if categories.empty:
        return _empty(t("recommend.chart.no_categories", lang))
    labels = [safe_label(c) for c in categories["category"]]
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            y=labels,
            x=categories["customer"],
            name=t("recommend.chart.this_customer", lang),
            orientation="h",
            marker_color=CUSTOMER_COLOR,
            hovertemplate="%{y}: %{x:.1%}<extra></extra>",
        )
    )
    if categories["segment"].notna().any():
        fig.add_trace(
            go.Bar(
                y=labels,
                x=categories["segment"],
                name=t("recommend.chart.segment_average", lang),
                orientation="h",
                marker_color=SEGMENT_COLOR,
                hovertemplate="%{y}: %{x:.1%}<extra></extra>",
            )
        )
    fig.update_layout(
        title=t("recommend.chart.categories", lang),
        barmode="group",
        height=max(260, 40 + 34 * len(labels)),
        xaxis={"tickformat": ".0%"},
        yaxis={"autorange": "reversed"},
        legend={"orientation": "h", "y": -0.15},
        margin={"l": 10, "r": 10, "t": 50, "b": 30},
    )
    return fig


def evaluation_chart(table: pd.DataFrame, lang: str = "en") -> go.Figure:
    """Hit rate, precision and catalogue coverage at k per recommender (methods that could not
    run are left out)."""
    shown = table.dropna(subset=["hit_rate"])
    if shown.empty:
        return _empty(t("recommend.chart.no_evaluation", lang))
    names = [t(f"recommend.method.{m}", lang) for m in shown["method"]]
    fig = go.Figure()
    for metric, color in METRIC_COLORS.items():
        fig.add_trace(
            go.Bar(
                x=names,
                y=shown[metric],
                name=t(f"recommend.column.{metric}", lang),
                marker_color=color,
                hovertemplate="%{x}: %{y:.1%}<extra></extra>",
            )
        )
    fig.update_layout(
        title=t("recommend.chart.evaluation", lang),
        barmode="group",
        height=340,
        yaxis={"tickformat": ".0%"},
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 10, "r": 10, "t": 50, "b": 30},
    )
    return fig
