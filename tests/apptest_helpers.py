"""Helpers for driving the app with Streamlit's AppTest."""

from __future__ import annotations

import re
from pathlib import Path

from streamlit.testing.v1 import AppTest

from pages._nav import PAGES

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 120
CJK = re.compile(r"[\u3400-\u9fff]")
ENGLISH_WORD = re.compile(r"[A-Za-z]{3,}")


def run_page(page: str, lang: str = "en", **state: object) -> AppTest:
    """Run ``app.py`` on ``page`` in ``lang`` with extra session state."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state["lang"] = lang
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if page != PAGES[0].file:
        at.switch_page(page)
        at.run()
    return at


def visible_texts(at: AppTest) -> list[str]:
    """Every label-like text the user reads: titles, prose, messages, widget and metric labels."""
    texts: list[str] = []
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "info",
        "warning",
        "error",
        "success",
    ):
        texts.extend(str(el.value) for el in getattr(at, kind))
    for kind in ("metric",):
        texts.extend(str(el.label) for el in getattr(at, kind))
    for kind in (
        "button",
        "selectbox",
        "multiselect",
        "radio",
        "slider",
        "select_slider",
        "checkbox",
        "toggle",
        "number_input",
        "text_input",
        "text_area",
        "date_input",
        "download_button",
        "file_uploader",
        "tabs",
        "expander",
        "segmented_control",
    ):
        try:
            elements = getattr(at, kind)
        except (AttributeError, KeyError):
            continue
        texts.extend(str(el.label) for el in elements if getattr(el, "label", None))
    return [text for text in texts if text]


def untranslated(at: AppTest, allowed: set[str] = frozenset()) -> list[str]:
    """Texts shown in Chinese mode that carry English words but no Chinese at all."""
    return [
        text
        for text in visible_texts(at)
        if ENGLISH_WORD.search(text) and not CJK.search(text) and text not in allowed
    ]


def run_tab(module: str, lang: str = "en") -> AppTest:
    """Run one tab module's ``render`` alone on the workspace's sample dataset, as its page does
    inside a tab (``module`` is e.g. ``"_text_tab"`` under ``pages/``)."""
    script = (
        f"from pages.{module} import render\n"
        "from pages._ui import get_workspace\n"
        "render(get_workspace().load_dataset('sample'))\n"
    )
    at = AppTest.from_string(script, default_timeout=TIMEOUT)
    at.session_state["lang"] = lang
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at
