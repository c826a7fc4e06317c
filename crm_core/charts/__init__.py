"""Plotly figures built from core results (no Streamlit), one module per feature.

User-provided strings (customer ids, product and segment names) reach plotly as text, and plotly
reads a small HTML subset (``<b>``, ``<a href>``, ``<br>``) and, with MathJax, ``$...$`` inside
labels. :func:`safe_label` neutralises that markup, so every chart runs user text through it.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["empty_figure", "safe_label"]


def safe_label(value: Any) -> str:
    """``value`` as plain display text: ``<``/``>`` become ``‹``/``›``, ``$`` pairs ``＄``.

    Look-alike characters keep the text readable while plotly can no longer see tags, and a
    string with two dollar signs can no longer be typeset as a formula.
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = str(value).replace("<", "‹").replace(">", "›")
    if text.count("$") >= 2:
        text = text.replace("$", "＄")
    return text


def empty_figure(title: str, note: str) -> Any:
    """A chart with no axes and one centred sentence, for "nothing to show" (no rows, one class),
    so a page keeps its layout instead of drawing an empty grid."""
    import plotly.graph_objects as go

    hidden = {"visible": False}
    fig = go.Figure(layout={"xaxis": hidden, "yaxis": hidden})
    fig.add_annotation(text=note, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(title=title, margin={"l": 50, "r": 20, "t": 60, "b": 50})
    return fig
