"""The "Texts" tab of the communications page: categories, keywords, similar records, topics.

``render(dataset)`` draws the tab; the page owns the title and the tabs around it. The core call is
cached on the dataset's content fingerprint and repr(params). Widget keys start with
``comm_text_`` so their values survive a visit to another page; the form and the download buttons
use other keys (they cannot be assigned).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import streamlit as st

from crm_core.charts.text import confusion_chart, f1_chart, keywords_chart
from crm_core.tables import Dataset
from crm_core.text import (
    LANGUAGE_MODES,
    MODELS,
    TEXT_TABLES,
    TextParams,
    TextResult,
    TopicResult,
    label_columns,
    similar,
    text_columns,
    topics,
)
from pages._ui import export_buttons, guarded, labels, lang, tr

PREFIX = "comm_text_"
NO_LABEL = "__none__"
WARNING_NOTES = ("text.note.empty", "text.note.no_tokenizer", "text.note.convergence")
TEST_SIZES = (0.1, 0.2, 0.3)


@st.cache_data(max_entries=6, ttl=3600, show_spinner=False)
def _run(fingerprint: str, key: str, _dataset: Dataset, _params: TextParams) -> TextResult:
    """Cached core call; ``key`` is repr(params)."""
    from crm_core.text import run_text

    return run_text(_dataset, _params)


@st.cache_data(max_entries=6, ttl=3600, show_spinner=False)
def _topics(fingerprint: str, key: str, _texts: list[str], n_topics: int, seed: int) -> TopicResult:
    """Cached topics; ``key`` names the run and the records the texts came from."""
    return topics(_texts, n_topics=n_topics, seed=seed)


def _forget_stale(key: str, valid: Callable[[Any], bool]) -> None:
    """Drop a kept widget value that no longer fits (another dataset or table since)."""
    if key in st.session_state and not valid(st.session_state[key]):
        del st.session_state[key]


def _renamed(frame: pd.DataFrame, result: TextResult) -> pd.DataFrame:
    """Display headers in the session's language; the user's own column names stay as they are."""
    names = {
        "category": tr("text.col.category"),
        "precision": tr("text.col.precision"),
        "recall": tr("text.col.recall"),
        "f1": tr("text.col.f1"),
        "support": tr("text.col.support"),
        "rank": tr("text.col.rank"),
        "term": tr("text.col.term"),
        "weight": tr("text.col.weight"),
        "row": tr("text.col.row"),
        "predicted": tr("text.col.predicted"),
        "confidence": tr("text.col.confidence"),
        "language": tr("text.col.language"),
        "similarity": tr("text.col.similarity"),
        "topic": tr("text.col.topic"),
        "words": tr("text.col.words"),
        "records": tr("text.col.records"),
        "customer_id": tr("text.col.customer_id"),
        "date": tr("text.col.date"),
        "channel": tr("text.col.channel"),
    }
    names[result.column] = tr("text.col.text")
    out = frame.copy()
    if "language" in out.columns:
        out["language"] = [tr(f"text.language.{x}") for x in out["language"]]
    return out.rename(columns={k: v for k, v in names.items() if k in out.columns})


def _controls(dataset: Dataset, tables: list[str]) -> TextParams | None:
    table = st.selectbox(
        tr("text.tab.table"),
        tables,
        key=f"{PREFIX}table",
        format_func=labels(tables, lambda x: tr(f"text.table.{x}")),
    )
    frame = dataset.tables[table]
    texts = text_columns(frame)
    if not texts:
        st.info(tr("text.tab.needs"))
        return None
    _forget_stale(f"{PREFIX}column", lambda v: v in texts)
    with st.form("text_form", border=True):
        row = st.columns(5)
        column = row[0].selectbox(tr("text.tab.text_column"), texts, key=f"{PREFIX}column")
        choices = [NO_LABEL, *label_columns(frame, column)]
        _forget_stale(f"{PREFIX}label", lambda v: v in choices)
        label = row[1].selectbox(
            tr("text.tab.label_column"),
            choices,
            index=1 if len(choices) > 1 else 0,
            key=f"{PREFIX}label",
            format_func=labels(choices, lambda c: tr("text.tab.no_label") if c == NO_LABEL else c),
        )
        model = row[2].selectbox(
            tr("text.tab.model"),
            MODELS,
            index=MODELS.index("svm"),
            key=f"{PREFIX}model",
            format_func=labels(MODELS, lambda m: tr(f"text.model.{m}")),
        )
        language = row[3].selectbox(
            tr("text.tab.language"),
            LANGUAGE_MODES,
            key=f"{PREFIX}language",
            format_func=labels(LANGUAGE_MODES, lambda m: tr(f"text.mode.{m}")),
        )
        test_size = row[4].selectbox(
            tr("text.tab.test_size"),
            TEST_SIZES,
            index=1,
            key=f"{PREFIX}test_size",
            format_func=lambda x: f"{x:.0%}",
        )
        st.form_submit_button(tr("text.tab.run"), type="primary", icon=":material/play_arrow:")
    return TextParams(
        text_column=column,
        label_column=None if label == NO_LABEL else label,
        table=table,
        model=model,
        language=language,
        test_size=float(test_size),
    )


def _summary(result: TextResult) -> None:
    values = {
        "records": f"{result.n_records:,}",
        "table": tr(f"text.table.{result.table}"),
        "column": result.column,
        "empty": f"{result.n_empty:,}",
    }
    if result.model is None:
        st.caption(tr("text.tab.summary_unlabeled", **values))
    else:
        st.caption(
            tr(
                "text.tab.summary",
                **values,
                labelled=f"{result.n_labelled:,}",
                unlabeled=f"{result.n_unlabeled:,}",
                test=f"{int(result.metrics['test_records']):,}",
            )
        )
    parts = [
        f"{tr(f'text.language.{row.language}')} {row.records:,}"
        for row in result.languages.itertuples()
    ]
    st.caption(tr("text.tab.languages", summary=", ".join(parts)))
    for note in result.notes:
        text = tr(note.key, **note.params)
        if note.key in WARNING_NOTES or note.key.startswith("text.note.ngram_cap"):
            st.warning(text)
        else:
            st.caption(text)


def _evaluation(result: TextResult) -> None:
    cols = st.columns(4)
    for col, key in zip(cols[:2], ("macro_f1", "accuracy"), strict=True):
        col.metric(
            tr(f"text.metric.{key}"),
            f"{result.metrics[key]:.3f}",
            help=tr(f"text.metric.{key}_help"),
            border=True,
        )
    cols[2].metric(tr("text.metric.labelled"), f"{result.n_labelled:,}", border=True)
    cols[3].metric(tr("text.metric.unlabeled"), f"{result.n_unlabeled:,}", border=True)
    left, right = st.columns(2)
    left.plotly_chart(f1_chart(result, lang()), width="stretch")
    right.plotly_chart(confusion_chart(result, lang()), width="stretch")
    st.subheader(tr("text.tab.report"))
    report = _renamed(result.report, result)
    st.dataframe(report, hide_index=True, width="stretch")
    export_buttons(report, "text_report", "text_report")
    st.subheader(tr("text.tab.keywords"))
    st.plotly_chart(keywords_chart(result, lang()), width="stretch")
    keywords = _renamed(result.keywords, result)
    st.dataframe(keywords, hide_index=True, width="stretch")
    export_buttons(keywords, "text_keywords", "text_keywords")
    st.subheader(tr("text.tab.predictions"))
    if result.predictions.empty:
        st.info(tr("text.tab.no_unlabeled"))
        return
    predictions = _renamed(result.predictions, result)
    st.dataframe(predictions, hide_index=True, width="stretch")
    export_buttons(predictions, "text_predictions", "text_predictions")


def _similar(result: TextResult) -> None:
    st.subheader(tr("text.tab.similar"))
    left, right = st.columns([4, 1])
    query = left.text_input(
        tr("text.tab.query"), key=f"{PREFIX}query", placeholder=tr("text.tab.query_placeholder")
    )
    k = right.number_input(tr("text.tab.k"), 1, 100, 10, key=f"{PREFIX}k")
    if not query.strip():
        return
    found = similar(result, query, k=int(k))
    if found.empty:
        st.info(tr("text.tab.no_match"))
        return
    st.caption(tr("text.tab.similar_caption"))
    st.dataframe(_renamed(found, result), hide_index=True, width="stretch")


def _topic_section(dataset: Dataset, result: TextResult) -> None:
    st.subheader(tr("text.tab.topics"))
    records = result.index.records
    if result.model is not None and len(result.predictions):
        rows = result.predictions["row"].sort_values().to_numpy()
        caption = tr("text.tab.topics_unlabeled", count=f"{len(rows):,}")
    else:
        rows = records["row"].to_numpy()
        caption = tr("text.tab.topics_all", count=f"{len(rows):,}")
    n_topics = st.number_input(tr("text.tab.n_topics"), 2, 20, 6, key=f"{PREFIX}topics")
    texts = [str(x) for x in dataset.tables[result.table][result.column].iloc[rows]]
    found = guarded(
        lambda: _topics(
            dataset.fingerprint,
            repr((result.params, "unlabeled" if result.model is not None else "all")),
            texts,
            int(n_topics),
            result.params.seed,
        )
    )
    if found is None:
        return
    st.caption(caption)
    table = _renamed(found.topics.drop(columns=["weight"]), result)
    st.dataframe(table, hide_index=True, width="stretch")
    export_buttons(table, "text_topics", "text_topics")


def render(dataset: Dataset) -> None:
    """Draw the Texts tab for ``dataset`` (typed core errors are shown in place)."""
    st.caption(tr("text.tab.intro"))
    tables = [
        name for name in TEXT_TABLES if dataset.has(name) and text_columns(dataset.tables[name])
    ]
    if not tables:
        st.info(tr("text.tab.needs"))
        return
    _forget_stale(f"{PREFIX}table", lambda v: v in tables)
    params = guarded(lambda: _controls(dataset, tables))
    if params is None:
        return
    with st.spinner(tr("text.tab.training")):
        result = guarded(lambda: _run(dataset.fingerprint, repr(params), dataset, params))
    if result is None:
        return
    _summary(result)
    if result.model is not None:
        _evaluation(result)
    _similar(result)
    _topic_section(dataset, result)
