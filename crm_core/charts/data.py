"""Charts of the Data page: missing values, activity over time, distributions."""

from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from crm_core.i18n import t


def _escape(text: object) -> str:
    """Plotly renders a subset of HTML in labels; user headers must show as plain text."""
    return str(text).replace("<", "‹").replace(">", "›")


def missing_values_chart(missing: pd.DataFrame, lang: str = "en") -> go.Figure:
    """Horizontal bars: share of missing values per column, worst first."""
    shown = missing[missing["missing"] > 0].copy()
    shown["label"] = [
        f"{_escape(t('table.' + table, lang))} · {_escape(column)}"
        for table, column in zip(shown["table"], shown["column"], strict=True)
    ]
    shown = shown.sort_values("share")
    figure = px.bar(
        shown,
        x="share",
        y="label",
        orientation="h",
        text=shown["missing"].map("{:,}".format),
        labels={"share": t("data.chart.missing_share", lang), "label": ""},
    )
    figure.update_layout(
        title=t("data.chart.missing_title", lang),
        xaxis_tickformat=".0%",
        height=max(260, 28 * len(shown) + 120),
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return figure


def activity_chart(activity: pd.DataFrame, lang: str = "en") -> go.Figure:
    """Rows per month for every table with dates."""
    frame = activity.copy()
    frame["table"] = [t("table." + name, lang) for name in frame["table"]]
    figure = px.line(
        frame,
        x="month",
        y="rows",
        color="table",
        markers=True,
        labels={
            "month": t("data.chart.month", lang),
            "rows": t("data.chart.rows", lang),
            "table": t("data.chart.table", lang),
        },
    )
    figure.update_layout(title=t("data.chart.activity_title", lang), hovermode="x unified")
    return figure


def distribution_chart(values: pd.Series, column: str, lang: str = "en") -> go.Figure:
    """Histogram of one numeric column (clipped at the 1st/99th percentile for readability)."""
    clean = pd.to_numeric(values, errors="coerce").dropna()
    if len(clean) > 20:
        low, high = clean.quantile([0.01, 0.99])
        clean = clean.clip(low, high)
    figure = px.histogram(x=clean, nbins=50, labels={"x": _escape(column)})
    figure.update_layout(
        title=t("data.chart.distribution_title", lang, column=_escape(column)),
        yaxis_title=t("data.chart.rows", lang),
        bargap=0.05,
    )
    return figure
