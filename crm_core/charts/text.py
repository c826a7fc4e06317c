"""Text-classification charts: confusion matrix, F1 per category and keywords per category.

Every function takes a :class:`~crm_core.text.TextResult` and returns a plotly Figure. Titles and
axes go through ``t(key, lang)``; categories and terms (user data) through :func:`safe_label`.
"""

from __future__ import annotations

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from crm_core.charts import empty_figure, safe_label
from crm_core.i18n import t
from crm_core.text import TextResult

BAR_COLOR = "#636EFA"
KEYWORD_COLUMNS = 3
KEYWORDS_SHOWN = 8
MAX_KEYWORD_PANELS = 12


def _layout(fig: go.Figure, title: str, x: str = "", y: str = "") -> go.Figure:
    fig.update_layout(title=title, margin={"l": 50, "r": 20, "t": 60, "b": 50})
    fig.update_xaxes(title_text=x)
    fig.update_yaxes(title_text=y)
    return fig


def _empty(title: str, lang: str) -> go.Figure:
    return empty_figure(title, t("text.chart.empty", lang))


def confusion_chart(result: TextResult, lang: str = "en") -> go.Figure:
    """Holdout counts: actual category per row, predicted per column, share of the row as colour."""
    title = t("text.chart.confusion.title", lang)
    if result.confusion.empty:
        return _empty(title, lang)
    counts = result.confusion.to_numpy()
    totals = counts.sum(axis=1, keepdims=True)
    share = counts / totals.clip(min=1)
    names = [safe_label(c) for c in result.confusion.columns]
    fig = go.Figure(
        go.Heatmap(
            z=share,
            x=names,
            y=names,
            text=counts,
            texttemplate="%{text}",
            colorscale="Blues",
            zmin=0,
            zmax=1,
            colorbar={"title": t("text.chart.confusion.share", lang), "tickformat": ".0%"},
            hovertemplate=t("text.chart.confusion.hover", lang) + "<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    size = max(360, 40 * len(names) + 160)
    fig.update_layout(height=size)
    return _layout(
        fig,
        title,
        t("text.chart.confusion.predicted", lang),
        t("text.chart.confusion.actual", lang),
    )


def f1_chart(result: TextResult, lang: str = "en") -> go.Figure:
    """F1 on the holdout per category, weakest on top, with the macro average as a line."""
    title = t("text.chart.f1.title", lang)
    report = result.report
    if report.empty:
        return _empty(title, lang)
    report = report.sort_values(["f1", "category"], ascending=[False, True]).iloc[::-1]
    fig = go.Figure(
        go.Bar(
            x=report["f1"].astype(float),
            y=[safe_label(c) for c in report["category"]],
            orientation="h",
            marker_color=BAR_COLOR,
            customdata=report["support"],
            hovertemplate=t("text.chart.f1.hover", lang) + "<extra></extra>",
        )
    )
    macro = result.metrics.get("macro_f1")
    if macro is not None:
        fig.add_vline(
            x=macro,
            line_dash="dash",
            annotation_text=t("text.chart.f1.macro", lang, value=f"{macro:.3f}"),
        )
    fig.update_xaxes(range=[0, 1.05])
    fig.update_layout(height=max(320, 28 * len(report) + 120))
    return _layout(fig, title, t("text.chart.f1.x", lang))


def keywords_chart(result: TextResult, lang: str = "en") -> go.Figure:
    """Top weighted terms per category, one small panel each (the first categories only)."""
    title = t("text.chart.keywords.title", lang)
    keywords = result.keywords
    if keywords.empty:
        return _empty(title, lang)
    categories = [c for c in result.classes if c in set(keywords["category"])]
    categories = categories[:MAX_KEYWORD_PANELS]
    rows = -(-len(categories) // KEYWORD_COLUMNS)
    fig = make_subplots(
        rows=rows,
        cols=KEYWORD_COLUMNS,
        subplot_titles=[safe_label(c) for c in categories],
        horizontal_spacing=0.18,
        vertical_spacing=0.35 / rows,
    )
    for i, category in enumerate(categories):
        part = keywords[keywords["category"] == category].head(KEYWORDS_SHOWN).iloc[::-1]
        fig.add_trace(
            go.Bar(
                x=part["weight"],
                y=[safe_label(term) for term in part["term"]],
                orientation="h",
                marker_color=BAR_COLOR,
                showlegend=False,
                hovertemplate="%{y}: %{x:.3f}<extra></extra>",
            ),
            row=i // KEYWORD_COLUMNS + 1,
            col=i % KEYWORD_COLUMNS + 1,
        )
    fig.update_layout(height=max(320, 240 * rows + 80))
    return _layout(fig, title)
