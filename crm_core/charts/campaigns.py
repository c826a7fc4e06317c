"""Campaign charts: rates with interval bars per dimension, the frequency curve, A vs B.

Every bar carries its interval, so a reader sees at once whether two channels overlap. Levels with
too few contacts to win are drawn grey. Level names come from user data and go through
:func:`safe_label`.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from crm_core.campaigns import ALL, DIMENSIONS, PROPORTION_METRICS, WEEKDAYS, ABResult
from crm_core.charts import safe_label
from crm_core.i18n import t

ENOUGH_COLOR = "#636EFA"
THIN_COLOR = "#B0B0B0"
FIT_COLOR = "#EF553B"
A_COLOR = "#636EFA"
B_COLOR = "#00CC96"
_COLUMNS = {  # metric -> value, low, high
    "response": ("rate", "ci_low", "ci_high"),
    "retention": ("retention", "retention_low", "retention_high"),
    "satisfaction": ("satisfaction", "satisfaction_low", "satisfaction_high"),
}


def dimension_name(dimension: str, lang: str = "en") -> str:
    """Display name of a dimension (an extra column keeps its own name)."""
    if dimension in DIMENSIONS:
        return t(f"campaigns.dimension.{dimension}", lang)
    return safe_label(dimension)


def level_name(dimension: str, value: object, lang: str = "en") -> str:
    """Display name of a level: weekdays translated, the whole as "All customers"."""
    if value == ALL:
        return t("campaigns.segment.all", lang)
    if dimension == "weekday" and value in WEEKDAYS:
        return t(f"campaigns.weekday.{value}", lang)
    return safe_label(value)


def _errors(values: pd.Series, low: pd.Series, high: pd.Series) -> dict:
    """Asymmetric error bars as plain lists (readable back from the figure's JSON)."""
    return {
        "type": "data",
        "symmetric": False,
        "array": (high - values).clip(lower=0).fillna(0).tolist(),
        "arrayminus": (values - low).clip(lower=0).fillna(0).tolist(),
        "thickness": 1.5,
    }


def _interval_note(fig: go.Figure, lang: str, alpha: float) -> go.Figure:
    """Say above the plot which interval the bars show."""
    fig.add_annotation(
        text=t("campaigns.chart.ci", lang, level=1 - alpha),
        xref="paper",
        yref="paper",
        x=1,
        y=1.08,
        showarrow=False,
        font={"size": 11, "color": "#666"},
    )
    return fig


def _percent(metric: str) -> bool:
    return metric in PROPORTION_METRICS


def rates_chart(
    table: pd.DataFrame,
    dimension: str,
    metric: str = "response",
    lang: str = "en",
    alpha: float = 0.05,
) -> go.Figure:
    """One bar per level with its interval; for responses, levels without enough data are grey."""
    value, low, high = _COLUMNS[metric]
    rows = table[table[value].notna()]
    names = [level_name(dimension, v, lang) for v in rows["value"]]
    colors = [
        ENOUGH_COLOR if (metric != "response" or enough) else THIN_COLOR
        for enough in rows["enough"]
    ]
    counts = rows["n" if metric == "response" else f"{metric}_n"]
    fig = go.Figure(
        go.Bar(
            x=names,
            y=rows[value].tolist(),
            marker_color=colors,
            error_y=_errors(rows[value], rows[low], rows[high]),
            customdata=counts.tolist(),
            name=t(f"campaigns.metric.{metric}", lang),
            hovertemplate=("%{x}: %{y:.1%}" if _percent(metric) else "%{x}: %{y:.2f}")
            + f" · %{{customdata:,}} {t('campaigns.chart.n', lang)}<extra></extra>",
        )
    )
    fig.update_layout(
        title=t(
            "campaigns.chart.by",
            lang,
            metric=t(f"campaigns.metric.{metric}", lang),
            dimension=dimension_name(dimension, lang),
        ),
        xaxis_title=dimension_name(dimension, lang),
        yaxis_title=t(f"campaigns.metric.{metric}", lang),
        yaxis_tickformat=".0%" if _percent(metric) else None,
        showlegend=False,
        margin={"t": 60, "b": 40},
    )
    return _interval_note(fig, lang, alpha)


def frequency_chart(frequency: pd.DataFrame, lang: str = "en", alpha: float = 0.05) -> go.Figure:
    """Response rate by number of contacts with intervals, and the logistic fit through it."""
    fig = go.Figure(
        go.Scatter(
            x=frequency["value"].astype(str).tolist(),
            y=frequency["rate"].tolist(),
            mode="markers+lines",
            name=t("campaigns.chart.observed", lang),
            line={"color": ENOUGH_COLOR},
            error_y=_errors(frequency["rate"], frequency["ci_low"], frequency["ci_high"]),
            customdata=frequency["n"].tolist(),
            hovertemplate="%{x}: %{y:.1%} · %{customdata:,} "
            + t("campaigns.chart.n", lang)
            + "<extra></extra>",
        )
    )
    if "fitted" in frequency.columns:
        fig.add_trace(
            go.Scatter(
                x=frequency["value"].astype(str).tolist(),
                y=frequency["fitted"].tolist(),
                mode="lines",
                name=t("campaigns.chart.fitted", lang),
                line={"color": FIT_COLOR, "dash": "dash"},
            )
        )
    fig.update_layout(
        title=t("campaigns.chart.frequency", lang),
        xaxis_title=t("campaigns.chart.contacts", lang),
        yaxis_title=t("campaigns.metric.response", lang),
        yaxis_tickformat=".0%",
        xaxis_type="category",
        legend={"orientation": "h", "y": -0.2},
    )
    return _interval_note(fig, lang, alpha)


def ab_chart(ab: ABResult, lang: str = "en") -> go.Figure:
    """A and B side by side with their intervals."""
    percent = _percent(ab.metric)
    names = [
        f"A · {level_name(ab.a.dimension, ab.a.value, lang)}",
        f"B · {level_name(ab.b.dimension, ab.b.value, lang)}",
    ]
    values = pd.Series([ab.value_a, ab.value_b])
    fig = go.Figure(
        go.Bar(
            x=names,
            y=values.tolist(),
            marker_color=[A_COLOR, B_COLOR],
            error_y=_errors(
                values, pd.Series([ab.low_a, ab.low_b]), pd.Series([ab.high_a, ab.high_b])
            ),
            customdata=[ab.n_a, ab.n_b],
            text=[f"{v:.1%}" if percent else f"{v:.2f}" for v in values],
            textposition="inside",
            insidetextanchor="middle",
            hovertemplate=("%{x}: %{y:.2%}" if percent else "%{x}: %{y:.3f}")
            + f" · %{{customdata:,}} {t('campaigns.chart.n', lang)}<extra></extra>",
        )
    )
    fig.update_layout(
        title=t("campaigns.chart.ab", lang, metric=t(f"campaigns.metric.{ab.metric}", lang)),
        yaxis_title=t(f"campaigns.metric.{ab.metric}", lang),
        yaxis_tickformat=".0%" if percent else None,
        showlegend=False,
    )
    return _interval_note(fig, lang, ab.alpha)
