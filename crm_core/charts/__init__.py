"""Plotly figures built from core results (no Streamlit), one module per feature.

User-provided strings (customer ids, product and segment names) reach plotly as text, and plotly
reads a small HTML subset (``<b>``, ``<a href>``, ``<br>``) and, with MathJax, ``$...$`` inside
labels. :func:`safe_label` neutralises that markup, so every chart runs user text through it.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["safe_label"]


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
