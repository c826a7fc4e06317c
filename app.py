"""CRM Insight Studio: the frame around every page (sidebar, language, datasets, navigation)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from crm_core.i18n import LANGUAGES, t
from pages._nav import PAGES
from pages._ui import (
    DATASET_KEY,
    LANG_KEY,
    apply_dataset_request,
    get_workspace,
    keep_widget_state,
    labels,
    lang,
    tr,
)

st.set_page_config(page_title="CRM Insight Studio", page_icon=":bar_chart:", layout="wide")

if LANG_KEY not in st.session_state:
    st.session_state[LANG_KEY] = "en"
keep_widget_state()

with st.sidebar:
    st.radio(
        t("app.language", lang()),
        options=list(LANGUAGES),
        format_func=LANGUAGES.__getitem__,
        key=LANG_KEY,
        horizontal=True,
    )
    datasets = get_workspace().list_datasets()
    names = [d.name for d in datasets]
    rows_by_name = {d.name: d.total_rows for d in datasets}
    apply_dataset_request(names)
    if names:
        st.selectbox(
            tr("app.dataset"),
            options=names,
            key=DATASET_KEY,
            # Language-neutral option text: the widget keeps it when the language changes.
            format_func=labels(names, lambda name: f"{name} · {rows_by_name[name]:,}"),
        )
        active = next(d for d in datasets if d.name == st.session_state[DATASET_KEY])
        st.caption(
            tr(
                "app.dataset_rows",
                details=", ".join(f"{tr('table.' + t)} {n:,}" for t, n in active.rows.items()),
            )
        )
    else:
        st.session_state.pop(DATASET_KEY, None)
        st.caption(tr("app.no_datasets"))

pages = [
    st.Page(Path(entry.file), title=tr(entry.title_key), icon=entry.icon, default=index == 0)
    for index, entry in enumerate(PAGES)
]
st.navigation(pages).run()
