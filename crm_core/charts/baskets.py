"""Market-basket charts: rules scatter, grouped matrix, rules network, item frequency, segments.

Every function takes frames from :mod:`crm_core.baskets` and returns a plotly Figure. Item names
are user data and reach plotly only through :func:`safe_label` (hover text and tick labels read
HTML); titles and axis names go through ``t(key, lang)``. Layouts are deterministic (fixed seed),
so the same rules always draw the same picture.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from crm_core.charts import safe_label
from crm_core.i18n import t

__all__ = [
    "grouped_matrix",
    "item_frequency_chart",
    "rules_network",
    "rules_scatter",
    "segment_lift_heatmap",
]

LIFT_SCALE = "Viridis"
ITEM_COLOR = "#636EFA"
ANTECEDENT_EDGE = "#B0B0B0"
CONSEQUENT_EDGE = "#EF553B"


def _items_text(items: Sequence[str] | str) -> str:
    if isinstance(items, str):
        return safe_label(items)
    return ", ".join(safe_label(i) for i in items)


def _rule_text(row: pd.Series) -> str:
    return f"{_items_text(row['antecedent_items'])} → {_items_text(row['consequent_items'])}"


def _layout(fig: go.Figure, title_key: str, lang: str, **axes: str) -> go.Figure:
    fig.update_layout(title=t(title_key, lang), margin={"l": 40, "r": 20, "t": 60, "b": 40})
    if "x" in axes:
        fig.update_xaxes(title_text=t(axes["x"], lang))
    if "y" in axes:
        fig.update_yaxes(title_text=t(axes["y"], lang))
    return fig


def _empty(title_key: str, lang: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(
        text=t("baskets.chart.empty", lang),
        showarrow=False,
        x=0.5,
        y=0.5,
        xref="paper",
        yref="paper",
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, title_key, lang)


def _hover(lang: str, *names: str) -> str:
    """Hover template: the rule on top, then one translated line per ``customdata`` column."""
    lines = ["%{customdata[0]}"]
    for position, name in enumerate(names, start=1):
        fmt = {"support": ":.2%", "confidence": ":.1%", "lift": ":.2f"}.get(name, "")
        lines.append(f"{t(f'baskets.chart.{name}', lang)}: %{{customdata[{position}]{fmt}}}")
    return "<br>".join(lines) + "<extra></extra>"


def rules_scatter(rules: pd.DataFrame, lang: str = "en", max_points: int = 5000) -> go.Figure:
    """Support x confidence, one point per rule coloured by lift; hover shows the rule."""
    title = "baskets.chart.scatter.title"
    if rules.empty:
        return _empty(title, lang)
    shown = rules.head(max_points)
    custom = np.column_stack(
        [
            [_rule_text(row) for _, row in shown.iterrows()],
            shown["support"].to_numpy(),
            shown["confidence"].to_numpy(),
            shown["lift"].to_numpy(),
            shown["count"].to_numpy(),
        ]
    )
    fig = go.Figure(
        go.Scatter(
            x=shown["support"],
            y=shown["confidence"],
            mode="markers",
            marker={
                "color": shown["lift"],
                "colorscale": LIFT_SCALE,
                "showscale": True,
                "size": 8,
                "opacity": 0.8,
                "colorbar": {"title": {"text": t("baskets.chart.lift", lang)}},
            },
            customdata=custom,
            hovertemplate=_hover(lang, "support", "confidence", "lift", "count"),
        )
    )
    fig.update_xaxes(tickformat=".1%")
    fig.update_yaxes(tickformat=".0%")
    return _layout(fig, title, lang, x="baskets.chart.support", y="baskets.chart.confidence")


def grouped_matrix(
    rules: pd.DataFrame, lang: str = "en", groups: int = 12, consequents: int = 12
) -> go.Figure:
    """arulesViz-style grouped matrix: antecedent groups (by their most common item) x
    consequents; bubble size = mean support, colour = mean lift of the rules in the cell."""
    title = "baskets.chart.matrix.title"
    if rules.empty:
        return _empty(title, lang)
    frame = rules[["antecedent_items", "consequent", "support", "lift"]].copy()
    top_cons = (
        frame.groupby("consequent", sort=True)
        .size()
        .sort_values(ascending=False, kind="stable")
        .head(consequents)
        .index
    )
    frame = frame[frame["consequent"].isin(top_cons)]
    seen = pd.Series([i for items in frame["antecedent_items"] for i in items], dtype="str")
    popularity = seen.value_counts()
    rank = {item: (-int(n), item) for item, n in popularity.items()}
    frame["lead"] = [min(items, key=rank.__getitem__) for items in frame["antecedent_items"]]
    sizes = frame.groupby("lead").size().sort_values(ascending=False, kind="stable")
    leads = sizes.head(groups).index
    frame = frame[frame["lead"].isin(leads)]
    others = {
        lead: len({i for items in part["antecedent_items"] for i in items} - {lead})
        for lead, part in frame.groupby("lead")
    }
    cells = (
        frame.groupby(["lead", "consequent"], sort=True)
        .agg(support=("support", "mean"), lift=("lift", "mean"), rules=("lift", "size"))
        .reset_index()
    )
    labels = {
        lead: t(
            "baskets.chart.group_label",
            lang,
            item=safe_label(lead),
            others=others.get(lead, 0),
            rules=int(sizes[lead]),
        )
        for lead in leads
    }
    cells["x"] = cells["lead"].map(labels)
    cells["y"] = cells["consequent"].map(safe_label)
    scale = cells["support"].max() or 1.0
    fig = go.Figure(
        go.Scatter(
            x=cells["x"],
            y=cells["y"],
            mode="markers",
            marker={
                "size": 8 + 32 * np.sqrt(cells["support"] / scale),
                "color": cells["lift"],
                "colorscale": LIFT_SCALE,
                "showscale": True,
                "colorbar": {"title": {"text": t("baskets.chart.lift", lang)}},
            },
            customdata=np.column_stack(
                [cells["x"] + " → " + cells["y"], cells["support"], cells["lift"], cells["rules"]]
            ),
            hovertemplate=_hover(lang, "support", "lift", "rules"),
        )
    )
    fig.update_xaxes(categoryorder="array", categoryarray=[labels[lead] for lead in leads])
    fig.update_yaxes(
        categoryorder="array", categoryarray=[safe_label(c) for c in reversed(top_cons)]
    )
    return _layout(fig, title, lang, x="baskets.chart.antecedent", y="baskets.chart.consequent")


def _spring_layout(
    n_nodes: int, edges: np.ndarray, seed: int = 7, iterations: int = 80
) -> np.ndarray:
    """Fruchterman-Reingold positions from a seeded circle start: same graph, same picture."""
    rng = np.random.default_rng(seed)
    angle = 2 * np.pi * np.arange(n_nodes) / max(n_nodes, 1)
    pos = np.column_stack([np.cos(angle), np.sin(angle)]) + rng.normal(0, 0.01, (n_nodes, 2))
    if n_nodes < 2:
        return pos
    k = np.sqrt(4.0 / n_nodes)
    temperature = 0.2
    for _ in range(iterations):
        delta = pos[:, None, :] - pos[None, :, :]
        dist = np.maximum(np.linalg.norm(delta, axis=2), 1e-3)
        force = (delta / dist[..., None]) * (k * k / dist)[..., None]
        move = force.sum(axis=1)
        if edges.size:
            d = pos[edges[:, 0]] - pos[edges[:, 1]]
            length = np.maximum(np.linalg.norm(d, axis=1), 1e-3)
            pull = d * (length / k)[:, None]
            np.add.at(move, edges[:, 0], -pull)
            np.add.at(move, edges[:, 1], pull)
        size = np.maximum(np.linalg.norm(move, axis=1), 1e-9)
        pos += move / size[:, None] * np.minimum(size, temperature)[:, None]
        temperature *= 0.95
    pos -= pos.mean(axis=0)
    return pos / (np.abs(pos).max() or 1.0)


def rules_network(rules: pd.DataFrame, lang: str = "en", top: int = 30, seed: int = 7) -> go.Figure:
    """The top rules as a graph: item nodes, one small node per rule (size support, colour
    lift), grey edges from what customers buy and red edges to what they also buy."""
    title = "baskets.chart.network.title"
    if rules.empty:
        return _empty(title, lang)
    shown = rules.head(top).reset_index(drop=True)
    items = sorted(
        {i for col in ("antecedent_items", "consequent_items") for r in shown[col] for i in r}
    )
    index = {item: i for i, item in enumerate(items)}
    n_items = len(items)
    edges: list[tuple[int, int, bool]] = []
    for r, row in shown.iterrows():
        node = n_items + int(r)
        edges += [(index[i], node, False) for i in row["antecedent_items"]]
        edges += [(node, index[i], True) for i in row["consequent_items"]]
    pairs = np.array([(a, b) for a, b, _ in edges], dtype=np.int64).reshape(-1, 2)
    pos = _spring_layout(n_items + len(shown), pairs, seed=seed)
    fig = go.Figure()
    for consequent, color, key in (
        (False, ANTECEDENT_EDGE, "baskets.chart.edge_buys"),
        (True, CONSEQUENT_EDGE, "baskets.chart.edge_also_buys"),
    ):
        xs: list[float | None] = []
        ys: list[float | None] = []
        for a, b, kind in edges:
            if kind == consequent:
                xs += [float(pos[a, 0]), float(pos[b, 0]), None]
                ys += [float(pos[a, 1]), float(pos[b, 1]), None]
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=ys,
                mode="lines",
                line={"color": color, "width": 1.5 if consequent else 1.0},
                hoverinfo="skip",
                name=t(key, lang),
            )
        )
    fig.add_trace(
        go.Scatter(
            x=pos[:n_items, 0],
            y=pos[:n_items, 1],
            mode="markers+text",
            text=[safe_label(i) for i in items],
            textposition="top center",
            marker={"size": 12, "color": ITEM_COLOR},
            hovertext=[safe_label(i) for i in items],
            hoverinfo="text",
            name=t("baskets.chart.items", lang),
        )
    )
    support = shown["support"].to_numpy()
    fig.add_trace(
        go.Scatter(
            x=pos[n_items:, 0],
            y=pos[n_items:, 1],
            mode="markers",
            marker={
                "size": 6 + 18 * np.sqrt(support / (support.max() or 1.0)),
                "color": shown["lift"],
                "colorscale": LIFT_SCALE,
                "showscale": True,
                "symbol": "diamond",
                "colorbar": {"title": {"text": t("baskets.chart.lift", lang)}},
            },
            customdata=np.column_stack(
                [
                    [_rule_text(row) for _, row in shown.iterrows()],
                    shown["support"],
                    shown["confidence"],
                    shown["lift"],
                ]
            ),
            hovertemplate=_hover(lang, "support", "confidence", "lift"),
            name=t("baskets.chart.rules", lang),
        )
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    fig.update_layout(legend={"orientation": "h", "y": -0.05})
    return _layout(fig, title, lang)


def item_frequency_chart(frequency: pd.DataFrame, lang: str = "en", top: int = 20) -> go.Figure:
    """Share of baskets holding each of the ``top`` most frequent items."""
    title = "baskets.chart.frequency.title"
    if frequency.empty:
        return _empty(title, lang)
    shown = frequency.head(top).iloc[::-1]
    labels = [safe_label(i) for i in shown["item"]]
    fig = go.Figure(
        go.Bar(
            x=shown["support"],
            y=labels,
            orientation="h",
            marker={"color": ITEM_COLOR},
            customdata=np.column_stack([labels, shown["count"]]),
            hovertemplate=(
                "%{customdata[0]}<br>"
                + t("baskets.chart.support", lang)
                + ": %{x:.2%}<br>"
                + t("baskets.chart.count", lang)
                + ": %{customdata[1]}<extra></extra>"
            ),
        )
    )
    fig.update_xaxes(tickformat=".0%")
    fig.update_layout(height=max(320, 22 * len(shown) + 120))
    return _layout(fig, title, lang, x="baskets.chart.support")


def segment_lift_heatmap(lift: pd.DataFrame, lang: str = "en") -> go.Figure:
    """Lift of each rule (rows) in each segment (columns), from ``compare_segments(...).lift``."""
    title = "baskets.chart.segments.title"
    if lift.empty:
        return _empty(title, lang)
    rows = [safe_label(r) for r in lift.index]
    cols = [safe_label(c) for c in lift.columns]
    values = lift.to_numpy(dtype=float)
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=cols,
            y=rows,
            colorscale=LIFT_SCALE,
            colorbar={"title": {"text": t("baskets.chart.lift", lang)}},
            hovertemplate="%{y}<br>%{x}: %{z:.2f}<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=max(320, 24 * len(rows) + 140))
    return _layout(fig, title, lang, x="baskets.chart.segment")
