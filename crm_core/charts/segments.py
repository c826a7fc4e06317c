"""Segment charts: RFM treemap and grid, k sweep, silhouette, k-distance, profiles and map.

Every function takes a result from :mod:`crm_core.segmentation` and returns a plotly Figure.
Colours are stable per segment (a fixed palette indexed by the label's position in sorted order,
noise grey), titles go through ``t(key, lang)`` and user text through :func:`safe_label`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from crm_core.charts import safe_label
from crm_core.features import feature_label
from crm_core.i18n import t
from crm_core.segmentation import (
    NOISE_LABEL,
    SEGMENTS,
    RfmResult,
    SegmentProfiles,
    label_sort_key,
    segment_name,
)

# Plotly's qualitative "Plotly" + "D3" sets without greys, so noise stays distinguishable.
PALETTE: tuple[str, ...] = (
    "#636EFA",
    "#EF553B",
    "#00CC96",
    "#AB63FA",
    "#FFA15A",
    "#19D3F3",
    "#FF6692",
    "#B6E880",
    "#FF97FF",
    "#FECB52",
    "#1F77B4",
    "#8C564B",
)
NOISE_COLOR = "#B0B0B0"
MAP_MAX_POINTS = 20_000


def segment_colors(labels: Iterable[Hashable]) -> dict[Hashable, str]:
    """Colour per label: palette position of the label in sorted order; noise (-1) grey.

    RFM segment keys use their fixed position in ``SEGMENTS``, so "champions" keeps its colour
    whichever segments a dataset happens to have.
    """
    colors: dict[Hashable, str] = {}
    ordered = sorted(set(labels), key=label_sort_key)
    position = 0
    for label in ordered:
        if label == NOISE_LABEL:
            colors[label] = NOISE_COLOR
        elif isinstance(label, str) and label in SEGMENTS:
            colors[label] = PALETTE[SEGMENTS.index(label) % len(PALETTE)]
        else:
            colors[label] = PALETTE[position % len(PALETTE)]
            position += 1
    return colors


def _display_names(
    labels: Iterable[Hashable], names: Mapping[Hashable, str] | None, lang: str
) -> dict[Hashable, str]:
    """Display name per label: given names, RFM names, "Noise" or "Segment n"; all escaped."""
    out: dict[Hashable, str] = {}
    for label in labels:
        if names is not None and label in names:
            text = names[label]
        elif label == NOISE_LABEL:
            text = t("segments.name.noise", lang)
        elif isinstance(label, str) and label in SEGMENTS:
            text = segment_name(label, lang)
        else:
            text = t("segments.chart.segment_n", lang, n=label)
        out[label] = safe_label(text)
    return out


def _layout(fig: go.Figure, title_key: str, lang: str, **axes: str) -> go.Figure:
    """Common title, axis labels (i18n keys) and margins."""
    fig.update_layout(
        title=t(title_key, lang),
        margin={"l": 40, "r": 20, "t": 60, "b": 40},
        legend_title_text=t("segments.chart.segment", lang),
    )
    if "x" in axes:
        fig.update_xaxes(title_text=t(axes["x"], lang))
    if "y" in axes:
        fig.update_yaxes(title_text=t(axes["y"], lang))
    return fig


def _legend_below(fig: go.Figure) -> go.Figure:
    """Segment names are long: a legend beside a half-width chart squeezes the plot to a sliver.

    Below the chart, one entry per line, the plot keeps the full width; the figure grows with the
    number of entries instead.
    """
    entries = len(fig.data)
    fig.update_layout(
        legend={
            "orientation": "h",
            "yanchor": "top",
            "y": -0.12,
            "xanchor": "left",
            "x": 0.0,
            "entrywidth": 1.0,
            "entrywidthmode": "fraction",
        },
        height=420 + 22 * entries,
        margin={"b": 40 + 22 * entries},
    )
    return fig


def rfm_treemap(rfm: RfmResult, lang: str = "en") -> go.Figure:
    """Segment sizes as a treemap; hover shows customer and revenue shares."""
    summary = rfm.summary
    colors = segment_colors(summary.index)
    names = _display_names(summary.index, None, lang)
    custom = np.column_stack(
        [summary["share"].to_numpy() * 100, summary["revenue_share"].fillna(0).to_numpy() * 100]
    )
    fig = go.Figure(
        go.Treemap(
            labels=[names[s] for s in summary.index],
            parents=[""] * len(summary),
            values=summary["count"].to_numpy(),
            marker={"colors": [colors[s] for s in summary.index]},
            customdata=custom,
            texttemplate="%{label}<br>%{value}",
            hovertemplate=(
                "%{label}<br>"
                + t("segments.chart.customers", lang)
                + ": %{value} (%{customdata[0]:.1f}%)<br>"
                + t("segments.chart.revenue_share", lang)
                + ": %{customdata[1]:.1f}%<extra></extra>"
            ),
        )
    )
    return _layout(fig, "segments.chart.rfm_treemap", lang)


def rfm_grid_heatmap(rfm: RfmResult, lang: str = "en") -> go.Figure:
    """R score (rows) x F score (columns), coloured by mean monetary value, counts as text."""
    table = rfm.customers
    scores = list(range(1, rfm.bins + 1))
    mean_m = table.pivot_table(index="r", columns="f", values="monetary", aggfunc="mean")
    count = table.pivot_table(index="r", columns="f", values="monetary", aggfunc="size")
    mean_m = mean_m.reindex(index=scores, columns=scores)
    count = count.reindex(index=scores, columns=scores).fillna(0).astype(int)
    fig = go.Figure(
        go.Heatmap(
            z=mean_m.to_numpy(),
            x=[str(s) for s in scores],
            y=[str(s) for s in scores],
            text=count.to_numpy(),
            texttemplate="%{text}",
            colorscale="Blues",
            colorbar={"title": {"text": t("segments.chart.mean_monetary", lang)}},
            hovertemplate=(
                "R %{y} · F %{x}<br>"
                + t("segments.chart.customers", lang)
                + ": %{text}<br>"
                + t("segments.chart.mean_monetary", lang)
                + ": %{z:,.2f}<extra></extra>"
            ),
        )
    )
    return _layout(
        fig, "segments.chart.rfm_grid", lang, x="segments.chart.f_score", y="segments.chart.r_score"
    )


def k_sweep_chart(sweep: pd.DataFrame, lang: str = "en") -> go.Figure:
    """Elbow (inertia) and silhouette against k on two y axes."""
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Scatter(
            x=sweep["k"],
            y=sweep["inertia"],
            mode="lines+markers",
            name=t("segments.chart.inertia", lang),
            line={"color": PALETTE[0]},
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=sweep["k"],
            y=sweep["silhouette"],
            mode="lines+markers",
            name=t("segments.chart.silhouette", lang),
            line={"color": PALETTE[1]},
        ),
        secondary_y=True,
    )
    _layout(fig, "segments.chart.k_sweep", lang, x="segments.chart.k")
    fig.update_yaxes(title_text=t("segments.chart.inertia", lang), secondary_y=False)
    fig.update_yaxes(title_text=t("segments.chart.silhouette", lang), secondary_y=True)
    fig.update_layout(legend_title_text="")
    return fig


def silhouette_chart(
    samples: pd.DataFrame, lang: str = "en", names: Mapping[Hashable, str] | None = None
) -> go.Figure:
    """Classic silhouette plot: each cluster's sorted values as a filled band, mean as a line."""
    fig = go.Figure()
    labels = sorted(samples["segment"].unique(), key=label_sort_key)
    colors = segment_colors(labels)
    display = _display_names(labels, names, lang)
    y0 = 0
    gap = max(1, len(samples) // 50)
    for label in labels:
        values = np.sort(samples.loc[samples["segment"] == label, "silhouette"].to_numpy())
        ys = np.arange(y0, y0 + len(values))
        fig.add_trace(
            go.Scatter(
                x=values,
                y=ys,
                fill="tozerox",
                mode="lines",
                line={"width": 0.5},
                fillcolor=colors[label],
                marker={"color": colors[label]},
                name=display[label],
                hovertemplate="%{fullData.name}: %{x:.3f}<extra></extra>",
            )
        )
        y0 += len(values) + gap
    mean = float(samples["silhouette"].mean())
    if np.isfinite(mean):
        fig.add_vline(x=mean, line_dash="dash", line_color="#444")
    fig.update_yaxes(showticklabels=False)
    return _layout(fig, "segments.chart.silhouette_plot", lang, x="segments.chart.silhouette")


def k_distance_chart(
    distances: Sequence[float] | np.ndarray, lang: str = "en", eps: float | None = None
) -> go.Figure:
    """Sorted k-th neighbour distances; the knee (optionally marked) suggests DBSCAN's eps."""
    d = np.asarray(distances, dtype=float)
    fig = go.Figure(
        go.Scatter(
            x=np.arange(len(d)),
            y=d,
            mode="lines",
            line={"color": PALETTE[0]},
            name=t("segments.chart.distance", lang),
        )
    )
    if eps is not None and np.isfinite(eps):
        fig.add_hline(
            y=eps,
            line_dash="dash",
            line_color=PALETTE[1],
            annotation_text=t("segments.chart.eps_line", lang, eps=f"{eps:.3g}"),
        )
    return _layout(
        fig,
        "segments.chart.k_distance",
        lang,
        x="segments.chart.points_sorted",
        y="segments.chart.distance",
    )


def _profile_columns(profiles: SegmentProfiles, features: Sequence[str] | None) -> list[str]:
    """Features to show: the given ones, else those with the largest z-score spread (max 12)."""
    if features:
        return [f for f in features if f in profiles.zscores.columns]
    spread = profiles.zscores.abs().max().sort_values(ascending=False)
    return list(spread.index[:12])


def zscore_heatmap(
    profiles: SegmentProfiles,
    lang: str = "en",
    names: Mapping[Hashable, str] | None = None,
    features: Sequence[str] | None = None,
) -> go.Figure:
    """Segments x features, coloured by z-score vs all customers; hover shows the real mean."""
    columns = _profile_columns(profiles, features)
    labels = list(profiles.zscores.index)
    display = _display_names(labels, names or profiles.names(lang), lang)
    z = profiles.zscores[columns].to_numpy()
    means = profiles.means[columns].to_numpy()
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=[safe_label(feature_label(c, lang)) for c in columns],
            y=[display[label] for label in labels],
            customdata=means,
            colorscale="RdBu",
            reversescale=True,
            zmid=0,
            zmin=-3,  # colour saturates at ±3 so one extreme cell does not wash out the rest
            zmax=3,
            colorbar={"title": {"text": "z"}},
            texttemplate="%{z:.1f}",
            hovertemplate=(
                "%{y}<br>%{x}<br>z = %{z:.2f}<br>"
                + t("segments.chart.mean", lang)
                + " = %{customdata:,.2f}<extra></extra>"
            ),
        )
    )
    fig.update_yaxes(autorange="reversed")
    return _layout(fig, "segments.chart.zscores", lang)


def radar_chart(
    profiles: SegmentProfiles,
    lang: str = "en",
    names: Mapping[Hashable, str] | None = None,
    features: Sequence[str] | None = None,
) -> go.Figure:
    """One polygon per segment over its z-scores (clipped to ±3), noise left out."""
    columns = _profile_columns(profiles, features)
    labels = [label for label in profiles.zscores.index if label != NOISE_LABEL]
    colors = segment_colors(profiles.zscores.index)
    display = _display_names(labels, names or profiles.names(lang), lang)
    theta = [safe_label(feature_label(c, lang)) for c in columns]
    fig = go.Figure()
    for label in labels:
        r = np.clip(profiles.zscores.loc[label, columns].to_numpy(dtype=float), -3, 3)
        fig.add_trace(
            go.Scatterpolar(
                r=np.append(r, r[:1]),
                theta=[*theta, theta[0]] if theta else [],
                name=display[label],
                line={"color": colors[label]},
                fill="none",
            )
        )
    fig.update_layout(polar={"radialaxis": {"range": [-3, 3]}})
    return _legend_below(_layout(fig, "segments.chart.radar", lang))


def segment_map(
    embedding: pd.DataFrame,
    labels: pd.Series,
    lang: str = "en",
    names: Mapping[Hashable, str] | None = None,
    max_points: int = MAP_MAX_POINTS,
    seed: int = 42,
) -> go.Figure:
    """2-D PCA scatter coloured by segment; hover shows the customer id (escaped).

    Large data is drawn from a seeded sample of ``max_points`` customers so the browser stays
    responsive.
    """
    frame = embedding[["pc1", "pc2"]].join(labels.rename("segment"), how="inner")
    if len(frame) > max_points:
        frame = frame.sample(n=max_points, random_state=seed)
    present = sorted(frame["segment"].unique(), key=label_sort_key)
    colors = segment_colors(labels.unique())
    display = _display_names(present, names, lang)
    fig = go.Figure()
    for label in present:
        part = frame[frame["segment"] == label]
        ids = np.array([safe_label(i) for i in part.index], dtype=object)
        fig.add_trace(
            go.Scattergl(
                x=part["pc1"],
                y=part["pc2"],
                mode="markers",
                name=display[label],
                marker={"color": colors[label], "size": 5, "opacity": 0.7},
                customdata=ids,
                hovertemplate=(
                    t("segments.chart.customer", lang)
                    + ": %{customdata}<br>%{fullData.name}<extra></extra>"
                ),
            )
        )
    _layout(fig, "segments.chart.map", lang, x="segments.chart.pc1", y="segments.chart.pc2")
    return _legend_below(fig)
