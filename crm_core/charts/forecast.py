"""Forecast charts: history with forecast and interval, backtest errors, forecasts by group.

Thin periods (fewer responses than the minimum) are drawn as hollow markers and the number of
responses per period as faint bars, so a manager sees where a score rests on a handful of people.
Group names come from user data and go through :func:`safe_label`.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative

from crm_core.charts import safe_label
from crm_core.forecast import ALL, SCORE_TARGETS, ForecastResult, GroupForecast
from crm_core.i18n import t

HISTORY_COLOR = "#636EFA"
FORECAST_COLOR = "#EF553B"
BAND_COLOR = "rgba(239, 85, 59, 0.18)"
RESPONSES_COLOR = "rgba(120, 120, 120, 0.25)"
THRESHOLD_COLOR = "#D62728"
NEUTRAL_COLOR = "#B0B0B0"


def group_name(group: str, lang: str) -> str:
    """Display name of a group (the whole is "All" / "全部")."""
    return t("forecast.group.all", lang) if group == ALL else safe_label(group)


def forecast_chart(
    group: GroupForecast,
    target: str,
    lang: str = "en",
    model: str | None = None,
    interval: float = 0.95,
    threshold: float | None = None,
) -> go.Figure:
    """History, the forecast of ``model`` (the chosen one by default) and its interval band."""
    model = model or group.chosen
    history = group.history
    path = group.forecast[group.forecast["model"] == model]
    fig = go.Figure()
    score = target in SCORE_TARGETS
    if score:
        fig.add_trace(
            go.Bar(
                x=history["period"],
                y=history["responses"],
                name=t("forecast.chart.responses", lang),
                marker_color=RESPONSES_COLOR,
                yaxis="y2",
                hovertemplate="%{x|%Y-%m-%d}: %{y:,}<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=history["period"],
            y=history["value"],
            mode="lines+markers",
            name=t("forecast.chart.history", lang),
            line={"color": HISTORY_COLOR},
            marker={"size": 6},
        )
    )
    thin = history[history["gap"] & history["value"].notna()]
    if len(thin):
        fig.add_trace(
            go.Scatter(
                x=thin["period"],
                y=thin["value"],
                mode="markers",
                name=t("forecast.chart.thin", lang),
                marker={"symbol": "circle-open", "size": 11, "color": NEUTRAL_COLOR},
            )
        )
    band_x = list(path["period"]) + list(path["period"][::-1])
    band_y = list(path["upper"]) + list(path["lower"][::-1])
    fig.add_trace(
        go.Scatter(
            x=band_x,
            y=band_y,
            fill="toself",
            fillcolor=BAND_COLOR,
            line={"width": 0},
            name=t("forecast.chart.interval", lang, level=interval),
            hoverinfo="skip",
        )
    )
    last = history.dropna(subset=["fitted_value"]).iloc[-1]
    fig.add_trace(
        go.Scatter(
            x=[last["period"], *path["period"]],
            y=[last["fitted_value"], *path["mean"]],
            mode="lines+markers",
            name=f"{t('forecast.chart.forecast', lang)} · {t('forecast.model.' + model, lang)}",
            line={"color": FORECAST_COLOR, "dash": "dash"},
        )
    )
    if threshold is not None:
        fig.add_hline(
            y=threshold,
            line={"color": THRESHOLD_COLOR, "dash": "dot"},
            annotation_text=t("forecast.chart.threshold", lang),
        )
    fig.update_layout(
        title=f"{t('forecast.target.' + target, lang)} · {group_name(group.group, lang)}",
        margin={"l": 50, "r": 50, "t": 60, "b": 40},
        legend={"orientation": "h", "y": -0.15},
        hovermode="x unified",
    )
    if score:
        fig.update_layout(
            yaxis2={"overlaying": "y", "side": "right", "showgrid": False, "rangemode": "tozero"}
        )
    fig.update_xaxes(title_text=t("forecast.chart.period", lang))
    return fig


def backtest_chart(group: GroupForecast, lang: str = "en") -> go.Figure:
    """Backtest MAE per model; the chosen one in the forecast colour."""
    table = group.backtest.dropna(subset=["mae"])
    colors = [FORECAST_COLOR if m == group.chosen else NEUTRAL_COLOR for m in table["model"]]
    fig = go.Figure(
        go.Bar(
            x=[t(f"forecast.model.{m}", lang) for m in table["model"]],
            y=table["mae"],
            marker_color=colors,
            hovertemplate="%{x}: %{y:,.3f}<extra></extra>",
        )
    )
    fig.update_layout(
        title=t("forecast.chart.backtest_title", lang),
        margin={"l": 50, "r": 20, "t": 60, "b": 40},
    )
    return fig


def groups_chart(result: ForecastResult, lang: str = "en") -> go.Figure:
    """Each group's history (solid) and chosen forecast (dashed) in one colour per group."""
    fig = go.Figure()
    palette = qualitative.Plotly
    for index, group in enumerate(g for g in result.groups if g.group != ALL):
        color = palette[index % len(palette)]
        name = group_name(group.group, lang)
        fig.add_trace(
            go.Scatter(
                x=group.history["period"],
                y=group.history["fitted_value"],
                mode="lines",
                name=name,
                legendgroup=name,
                line={"color": color},
            )
        )
        path = group.forecast[group.forecast["model"] == group.chosen]
        last = group.history.iloc[-1]
        fig.add_trace(
            go.Scatter(
                x=[last["period"], *path["period"]],
                y=[last["fitted_value"], *path["mean"]],
                mode="lines",
                name=name,
                legendgroup=name,
                showlegend=False,
                line={"color": color, "dash": "dash"},
            )
        )
    fig.update_layout(
        title=t("forecast.chart.groups_title", lang),
        margin={"l": 50, "r": 20, "t": 60, "b": 40},
        legend={"orientation": "h", "y": -0.15},
    )
    fig.update_xaxes(title_text=t("forecast.chart.period", lang))
    fig.update_yaxes(title_text=t(f"forecast.target.{result.params.target}", lang))
    return fig


def history_table(group: GroupForecast) -> pd.DataFrame:
    """The history with the chosen forecast appended (for the table under the chart)."""
    path = group.forecast[group.forecast["model"] == group.chosen]
    return pd.concat(
        [
            group.history[["period", "value", "responses", "gap"]],
            path[["period", "mean", "lower", "upper"]],
        ],
        ignore_index=True,
    )
