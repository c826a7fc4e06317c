"""Shared Streamlit helpers for the pages: language, active dataset, cached core calls, errors.

Pages stay thin: they read widgets, call a cached core function and draw what it returns. Caches are
keyed on the dataset's content fingerprint (a digest of every value), never on a sampled hash.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import streamlit as st

from crm_core.errors import CrmError
from crm_core.i18n import DEFAULT_LANG, t
from crm_core.store import Workspace
from crm_core.tables import Dataset

T = TypeVar("T")


def _leave_legacy_pages_mode() -> None:
    """Run every page inside the app frame, even on a fresh server's first visit to a page URL.

    Streamlit treats a ``pages/`` folder as a v1 multipage app until ``st.navigation`` runs once
    in the process; a first visit straight to ``/data`` would run the page without ``app.py``
    (no sidebar, no language). Switching the flag and rerunning puts ``app.py`` in charge.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_leave_legacy_pages_mode()

LANG_KEY = "lang"
DATASET_KEY = "dataset"
DATASET_REQUEST_KEY = "dataset_request"
FLASH_KEY = "flash_messages"


def lang() -> str:
    """The session's UI language."""
    return st.session_state.get(LANG_KEY, DEFAULT_LANG)


_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()<>#|~$])")


def md_escape(text: str) -> str:
    """Backslash-escape Markdown (and Streamlit's $math$ and :color[] syntax) in a user value."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text).replace(":", "\\:")


def tr(key: str, **params: Any) -> str:
    """Translate into the session's language; text parameters (dataset and file names, values
    from user data) are Markdown-escaped because most Streamlit text elements render Markdown."""
    escaped = {k: md_escape(v) if isinstance(v, str) else v for k, v in params.items()}
    return t(key, lang(), **escaped)


@st.cache_resource(max_entries=4)
def workspace(directory: str | None = None) -> Workspace:
    """One Workspace object per folder; it holds no user data, only the path."""
    return Workspace(Path(directory) if directory else None)


def get_workspace() -> Workspace:
    """The workspace of this server (``$CRM_WORKSPACE`` or ``./workspace``)."""
    return workspace(os.environ.get("CRM_WORKSPACE"))


@st.cache_data(max_entries=6, ttl=3600, show_spinner=False)
def _load_dataset(directory: str, name: str, fingerprint: str) -> Dataset:
    """Cached read; the fingerprint in the key makes any edit invalidate it."""
    return Workspace(Path(directory)).load_dataset(name)


def active_dataset() -> Dataset | None:
    """The dataset picked in the sidebar, or None when the workspace is empty."""
    name = st.session_state.get(DATASET_KEY)
    if not name:
        return None
    ws = get_workspace()
    try:
        info = ws.info(name)
    except CrmError:
        return None
    return _load_dataset(str(ws.directory), info.name, info.fingerprint)


def require_dataset() -> Dataset:
    """The active dataset, or a friendly stop that points to the Data page."""
    dataset = active_dataset()
    if dataset is None:
        st.info(tr("app.no_dataset"))
        st.stop()
    return dataset


def show_error(error: CrmError) -> None:
    """A typed core error as one translated sentence; never a traceback."""
    st.error(error.message(lang(), escape=md_escape))


def guarded(call: Callable[[], T]) -> T | None:
    """Run a core call; show its typed error in place and return None instead of raising."""
    try:
        return call()
    except CrmError as error:
        show_error(error)
        return None


def labels(options: Iterable[Any], describe: Callable[[Any], str]) -> Callable[[Any], str]:
    """A widget ``format_func`` whose texts are computed now, in this run's language.

    Streamlit (and AppTest) may call ``format_func`` later, outside the script run, where the
    session's language cannot be read; precomputed labels stay right.
    """
    texts = {option: describe(option) for option in options}
    return lambda option: texts.get(option, str(option))


def select_dataset(name: str | None, message: str | None = None) -> None:
    """Make ``name`` the active dataset and rerun.

    The sidebar picker is drawn before the page, so a page cannot set its value in the same run;
    the request is applied by ``app.py`` at the top of the next run. ``message`` survives it.
    """
    st.session_state[DATASET_REQUEST_KEY] = name or ""
    if message:
        st.session_state.setdefault(FLASH_KEY, []).append(message)
    st.rerun()


def apply_dataset_request(names: list[str]) -> None:
    """Run by ``app.py`` before the picker exists: apply a page's request, keep a valid value."""
    requested = st.session_state.pop(DATASET_REQUEST_KEY, None)
    if requested is not None:
        st.session_state[DATASET_KEY] = requested if requested in names else None
    if st.session_state.get(DATASET_KEY) not in names:
        st.session_state[DATASET_KEY] = "sample" if "sample" in names else (names or [None])[0]


def show_flashes() -> None:
    """Success messages carried over a rerun (see ``select_dataset``)."""
    for message in st.session_state.pop(FLASH_KEY, []):
        st.success(message)


# Widget keys with these prefixes keep their values when the user visits another page (Streamlit
# otherwise drops the state of widgets that were not drawn in a run). Buttons, uploaders and data
# editors cannot be assigned, so their keys never use these prefixes.
PERSISTED_PREFIXES = ("seg_", "val_", "bask_", "churn_", "fc_", "comm_", "camp_", "c360_", "file:")


def keep_widget_state() -> None:
    """Called by ``app.py`` on every run, before any page draws its widgets."""
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and key.startswith(PERSISTED_PREFIXES):
            st.session_state[key] = st.session_state[key]


XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def export_buttons(frame: Any, stem: str, key: str, slots: Sequence[Any] | None = None) -> None:
    """Formula-safe CSV and Excel downloads of ``frame`` (``stem``.csv / .xlsx), side by side."""
    from crm_core.export import to_csv_bytes, to_xlsx_bytes

    left, right = slots if slots is not None else st.columns(2)
    left.download_button(
        tr("seg.download_csv"), to_csv_bytes(frame), f"{stem}.csv", "text/csv", key=f"{key}:csv"
    )
    right.download_button(
        tr("seg.download_xlsx"), to_xlsx_bytes(frame), f"{stem}.xlsx", XLSX_MIME, key=f"{key}:xlsx"
    )
