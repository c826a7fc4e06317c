"""Data: import files as they are, map and check them, clean them, and manage the workspace."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from crm_core.charts.data import activity_chart, distribution_chart, missing_values_chart
from crm_core.cleaning import CleaningStep, Recipe, describe_step, suggest_recipe
from crm_core.errors import CrmError
from crm_core.importer import MAX_FILES, PreparedTable, prepare_table, save_prepared
from crm_core.io import LoadResult, ReadOptions, display_name, read_file
from crm_core.quality import quality_report, unmatched_rows
from crm_core.schema import Mapping, TypingOptions
from crm_core.tables import ROLES, TABLES
from pages._ui import (
    DATASET_KEY,
    active_dataset,
    get_workspace,
    labels,
    lang,
    select_dataset,
    show_error,
    show_flashes,
    tr,
)

UPLOAD_LIMIT_MB = int(st.get_option("server.maxUploadSize"))
DELIMITERS = {"auto": None, ",": ",", ";": ";", "tab": "\t", "|": "|"}
ENCODINGS = ("auto", "utf-8", "gb18030")
KINDS = ("auto", "csv", "basket", "whitespace")
FILL_METHODS = ("median", "mode", "drop")
DATE_ORDERS = ("auto", "dayfirst", "monthfirst")
SAVE_MODES = ("new", "replace", "merge")
UPLOADS_KEY = "data_files"
SEVERITY_ICON = {"error": "⛔", "warning": "⚠️", "info": "ℹ️"}


@dataclass(frozen=True)
class StoredUpload:
    """An uploaded file kept in the session, so it survives a visit to another page."""

    name: str
    data: bytes

    def getvalue(self) -> bytes:
        """Same interface as Streamlit's UploadedFile."""
        return self.data


# Uploaded data is the user's own: caches are per session (no sharing, no copies) and bounded.
@st.cache_resource(max_entries=8, ttl=1800, show_spinner=False, scope="session")
def _read(digest: str, filename: str, options: ReadOptions, _data: bytes) -> LoadResult:
    """Cached read keyed on the file's SHA-256 and the read options (the bytes are not hashed)."""
    return read_file(_data, filename, options)


@st.cache_resource(max_entries=24, ttl=1800, show_spinner=False, scope="session")
def _prepare(
    digest: str, filename: str, key: str, _load: LoadResult, _kwargs: dict
) -> PreparedTable:
    """Cached pipeline run; ``key`` spells out mapping, typing options and recipe."""
    return prepare_table(b"", filename, load=_load, **_kwargs)


def _prepare_cached(
    digest: str, filename: str, load: LoadResult, **kwargs: object
) -> PreparedTable:
    key = repr(
        sorted(
            (name, value.to_json() if hasattr(value, "to_json") else repr(value))
            for name, value in kwargs.items()
            if name != "workspace"
        )
    )
    if "workspace" in kwargs:
        key += f"|ws:{get_workspace().directory}"
    return _prepare(digest, filename, key, load, kwargs)


def _remember_uploads() -> None:
    """on_change of the uploader: keep the current files (only these) in the session."""
    files = st.session_state.get("data_upload") or []
    st.session_state[UPLOADS_KEY] = [StoredUpload(f.name, f.getvalue()) for f in files]


def _role_label(role: str) -> str:
    return tr(f"schema.role.{role}") if role else "—"


def _read_options_widgets(key: str) -> ReadOptions:
    """Overrides for what the reader detects; 'auto' everywhere by default."""
    cols = st.columns(4)
    delimiter = cols[0].selectbox(
        tr("data.delimiter"),
        list(DELIMITERS),
        key=f"{key}:delim",
        format_func=labels(
            DELIMITERS,
            lambda d: tr("data.auto") if d == "auto" else tr("data.tab") if d == "tab" else d,
        ),
    )
    encoding = cols[1].selectbox(
        tr("data.encoding"),
        ENCODINGS,
        key=f"{key}:enc",
        format_func=labels(ENCODINGS, lambda e: tr("data.auto") if e == "auto" else e),
    )
    kind = cols[2].selectbox(
        tr("data.kind"),
        KINDS,
        key=f"{key}:kind",
        format_func=labels(KINDS, lambda k: tr(f"data.kind.{k}")),
    )
    header_row = cols[3].number_input(
        tr("data.header_row"),
        min_value=0,
        max_value=1000,
        value=0,
        step=1,
        key=f"{key}:hdr",
        help=tr("data.header_row_help"),
    )
    sheet = st.session_state.get(f"{key}:sheet")
    return ReadOptions(
        delimiter=DELIMITERS[delimiter],
        encoding=None if encoding == "auto" else encoding,
        kind=None if kind == "auto" else kind,
        header_row=int(header_row) or None,
        sheet=sheet,
        max_bytes=UPLOAD_LIMIT_MB * 1024 * 1024,
    )


def _mapping_editor(load: LoadResult, mapping: Mapping, key: str) -> Mapping:
    """Review the guessed roles in an editable table; the user's choice wins."""
    roles = ["", *ROLES[mapping.table]]
    by_source = mapping.columns
    frame = pd.DataFrame(
        {
            "column": [str(c) for c in load.frame.columns],
            "role": [by_source.get(str(c), "") for c in load.frame.columns],
            "confidence": [
                mapping.confidence.get(by_source.get(str(c), ""), None) for c in load.frame.columns
            ],
            "examples": [
                ", ".join(load.frame[c].dropna().astype(str).head(3).str.slice(0, 30))
                for c in load.frame.columns
            ],
        }
    )
    edited = st.data_editor(
        frame,
        key=f"editor:{key}:mapping:{mapping.table}",
        hide_index=True,
        disabled=["column", "confidence", "examples"],
        column_config={
            "column": st.column_config.TextColumn(tr("data.map.column")),
            "role": st.column_config.SelectboxColumn(
                tr("data.map.role"),
                options=roles,
                help=tr("data.map.role_help"),
                format_func=labels(roles, _role_label),
            ),
            "confidence": st.column_config.ProgressColumn(
                tr("data.map.confidence"), min_value=0.0, max_value=1.0, format="percent"
            ),
            "examples": st.column_config.TextColumn(tr("data.map.examples")),
        },
        width="stretch",
    )
    chosen = {
        str(row.column): str(row.role) for row in edited.itertuples() if row.role and str(row.role)
    }
    duplicated = pd.Series(list(chosen.values())).duplicated()
    if duplicated.any():
        role = list(chosen.values())[int(duplicated.idxmax())]
        st.error(tr("data.map.role_twice", role=_role_label(role)))
        return mapping
    if chosen == mapping.columns:
        return mapping
    result = Mapping(mapping.table)
    for source, role in chosen.items():
        result = result.assign(source, role)
    return result


def _recipe_widgets(prepared: PreparedTable, key: str, guessed: PreparedTable) -> Recipe:
    """Suggested cleaning steps as checkboxes (off by default: nothing is dropped silently);
    the steps used last time for this layout are offered for replay (on by default)."""
    chosen: list[CleaningStep] = []
    if (
        guessed.recipe_source == "saved"
        and len(guessed.recipe)
        and st.checkbox(
            tr(
                "data.clean.replay",
                steps="; ".join(describe_step(s, lang()) for s in guessed.recipe),
            ),
            value=True,
            key=f"{key}:replay",
        )
    ):
        chosen.extend(guessed.recipe)
    suggestions = [s for s in suggest_recipe(prepared.problems) if s not in chosen]
    if suggestions:
        st.caption(tr("data.clean.suggested"))
    for index, step in enumerate(suggestions):
        if st.checkbox(describe_step(step, lang()), key=f"{key}:step:{index}:{step.op}"):
            chosen.append(step)
    numeric = [
        c
        for c in prepared.typed.frame.columns
        if pd.api.types.is_numeric_dtype(prepared.typed.frame[c])
    ]
    with st.expander(tr("data.clean.more")):
        fill_col, fill_method = st.columns(2)
        column = fill_col.selectbox(
            tr("data.clean.fill_column"), ["", *prepared.typed.frame.columns], key=f"{key}:fillc"
        )
        method = fill_method.selectbox(
            tr("data.clean.fill_method"),
            FILL_METHODS,
            key=f"{key}:fillm",
            format_func=labels(FILL_METHODS, lambda m: tr(f"data.clean.method.{m}")),
        )
        if column:
            if method == "median" and column not in numeric:
                st.warning(tr("data.clean.median_numeric"))
            else:
                chosen.append(CleaningStep("fill_missing", {"column": column, "method": method}))
        clip = st.selectbox(tr("data.clean.clip_column"), ["", *numeric], key=f"{key}:clip")
        if clip:
            low, high = st.slider(
                tr("data.clean.clip_range"), 0.0, 1.0, (0.01, 0.99), 0.005, key=f"{key}:cliprange"
            )
            if low < high:
                chosen.append(
                    CleaningStep("clip_outliers", {"column": clip, "lower": low, "upper": high})
                )
    return Recipe(tuple(dict.fromkeys(chosen)))


def _show_report(load: LoadResult) -> None:
    report = load.report
    st.caption(
        tr(
            "data.report",
            rows=f"{report.rows_read:,}",
            skipped=f"{report.rows_skipped:,}",
            kind=tr(f"data.kind.{report.kind}"),
            encoding=report.encoding or "—",
            delimiter={"\t": "tab", None: "—"}.get(report.delimiter, report.delimiter),
            header=report.header_row or "—",
        )
    )
    if report.sheet:
        st.caption(tr("data.report_sheet", sheet=report.sheet, count=len(report.sheets)))
    for message in report.messages(lang()):
        st.warning(message)
    if report.skipped_lines:
        st.warning(tr("data.skipped_lines", lines=", ".join(map(str, report.skipped_lines[:10]))))


def _show_problems(prepared: PreparedTable) -> None:
    if not prepared.problems:
        st.success(tr("data.no_problems"))
        return
    table = pd.DataFrame(
        {
            "": [SEVERITY_ICON.get(p.severity, "") for p in prepared.problems],
            tr("data.problem"): [p.message(lang()) for p in prepared.problems],
        }
    )
    st.dataframe(table, hide_index=True, width="stretch")


def _prepare_file(uploaded: object, index: int) -> PreparedTable | None:
    """One uploaded file: read options, report, table, mapping, dates, problems, cleaning."""
    data: bytes = uploaded.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    key = f"file:{digest[:16]}"
    base_name = uploaded.name.replace("\\", "/").rsplit("/", 1)[-1]  # display only, never a path
    st.subheader(tr("data.file_heading", index=index + 1, name=display_name(base_name)))
    with st.expander(tr("data.read_options")):
        options = _read_options_widgets(key)
    try:
        load = _read(digest, uploaded.name, options, data)
    except CrmError as error:
        show_error(error)
        return None
    if load.report.sheets and len(load.report.sheets) > 1:
        st.selectbox(
            tr("data.sheet"),
            load.report.sheets,
            key=f"{key}:sheet",
            index=load.report.sheets.index(load.report.sheet) if load.report.sheet else 0,
        )
    _show_report(load)
    with st.expander(tr("data.preview"), expanded=False):
        st.dataframe(load.frame.head(200), width="stretch")
    try:
        with st.spinner(tr("data.mapping_progress", rows=f"{load.report.rows_read:,}")):
            guessed = _prepare_cached(digest, uploaded.name, load, workspace=get_workspace())
    except CrmError as error:
        show_error(error)
        return None
    if guessed.mapping_source == "saved":
        st.info(tr("data.mapping_saved"))
    table = st.selectbox(
        tr("data.table"),
        TABLES,
        index=TABLES.index(guessed.table),
        key=f"{key}:table",
        format_func=labels(TABLES, lambda name: tr(f"schema.table.{name}")),
    )
    mapping = (
        guessed.mapping
        if table == guessed.table
        else _prepare_cached(digest, uploaded.name, load, table=table).mapping
    )
    mapping = _mapping_editor(load, mapping, key)
    try:
        typing = _typing_widgets(digest, uploaded.name, load, mapping, guessed, key)
        prepared = _prepare_cached(
            digest, uploaded.name, load, mapping=mapping, typing_options=typing, recipe=Recipe()
        )
        st.markdown(f"**{tr('data.problems')}**")
        _show_problems(prepared)
        recipe = _recipe_widgets(prepared, key, guessed)
        if len(recipe):
            prepared = _prepare_cached(
                digest, uploaded.name, load, mapping=mapping, recipe=recipe, typing_options=typing
            )
            st.dataframe(
                pd.DataFrame(
                    {
                        tr("data.clean.step"): [
                            describe_step(log.step, lang()) for log in prepared.step_logs
                        ],
                        tr("data.clean.before"): [log.rows_before for log in prepared.step_logs],
                        tr("data.clean.after"): [log.rows_after for log in prepared.step_logs],
                    }
                ),
                hide_index=True,
                width="stretch",
            )
    except CrmError as error:
        show_error(error)
        return None
    return prepared


def _typing_widgets(
    digest: str,
    filename: str,
    load: LoadResult,
    mapping: Mapping,
    guessed: PreparedTable,
    key: str,
) -> TypingOptions:
    """Day/month order for ambiguous dates and a per-column date format the user can override."""
    dayfirst = None
    date_roles = [r for r in mapping.columns.values() if ROLES[mapping.table].get(r) == "date"]
    ambiguous = [p for p in guessed.problems if p.key == "schema.problem.ambiguous_date"]
    if ambiguous or date_roles:
        order = st.radio(
            tr("data.date_order"),
            DATE_ORDERS,
            key=f"{key}:dayfirst",
            horizontal=True,
            format_func=labels(DATE_ORDERS, lambda o: tr(f"data.date_order.{o}")),
        )
        dayfirst = {"auto": None, "dayfirst": True, "monthfirst": False}[order]
    typing = TypingOptions(dayfirst=dayfirst, infer_extras=True)
    if not date_roles:
        return typing
    detected = _prepare_cached(
        digest, filename, load, mapping=mapping, typing_options=typing, recipe=Recipe()
    ).typed.date_formats
    overrides: dict[str, str] = {}
    with st.expander(tr("data.date_formats_heading"), expanded=bool(ambiguous)):
        st.caption(tr("data.date_formats_help"))
        cols = st.columns(len(date_roles))
        for col, role in zip(cols, date_roles, strict=True):
            found = detected.get(role) or ""
            chosen = col.text_input(
                tr(f"schema.role.{role}"),
                value=found,
                key=f"{key}:fmt:{role}",
                placeholder="%d/%m/%Y",
            ).strip()
            if chosen and chosen != found:
                overrides[role] = chosen
    if overrides:
        typing = TypingOptions(date_formats=overrides, dayfirst=dayfirst, infer_extras=True)
    return typing


def _import_tab() -> None:
    st.write(tr("data.import_intro"))
    if st.button(tr("data.use_sample"), icon=":material/science:"):
        from crm_core.cli import SAMPLE_DATASET, ensure_sample

        with st.spinner(tr("data.loading_sample")):
            ensure_sample(get_workspace())
        select_dataset(SAMPLE_DATASET, tr("data.sample_ready"))
    files = st.file_uploader(
        tr("data.upload", mb=UPLOAD_LIMIT_MB),
        type=["csv", "tsv", "txt", "xlsx", "parquet", "gz"],
        accept_multiple_files=True,
        key="data_upload",
        help=tr("data.upload_help"),
        on_change=_remember_uploads,
    )
    if not files and st.session_state.get(UPLOADS_KEY):
        # Back from another page: the uploader starts empty, the session still has the files.
        files = st.session_state[UPLOADS_KEY]
        keep, clear = st.columns([4, 1])
        keep.info(tr("data.files_kept", names=", ".join(display_name(f.name) for f in files)))
        if clear.button(tr("data.clear_files")):
            st.session_state.pop(UPLOADS_KEY, None)
            st.rerun()
    if not files:
        return
    if len(files) > MAX_FILES:
        st.error(tr("data.too_many_files", limit=MAX_FILES))
        return
    prepared = []
    for index, uploaded in enumerate(files):
        with st.container(border=True):
            item = _prepare_file(uploaded, index)
        if item is not None:
            prepared.append(item)
    if len(prepared) != len(files):
        st.warning(tr("data.fix_files_first"))
        return
    base_name = files[0].name.replace("\\", "/").rsplit("/", 1)[-1]
    _save_form(prepared, base_name.split(".")[0])


def _save_form(prepared: list[PreparedTable], default_name: str) -> None:
    st.subheader(tr("data.save_heading"))
    existing = get_workspace().dataset_names()
    with st.form("save_dataset"):
        name = st.text_input(tr("data.dataset_name"), value=default_name[:80] or "dataset")
        mode = st.radio(
            tr("data.save_mode"),
            SAVE_MODES,
            horizontal=True,
            format_func=labels(SAVE_MODES, lambda m: tr(f"data.save_mode.{m}")),
        )
        submitted = st.form_submit_button(tr("data.save"), type="primary")
    if not submitted:
        return
    if mode == "new" and name.strip() in existing:
        st.error(tr("data.name_taken", name=name.strip()))
        return
    try:
        with st.spinner(tr("data.saving")):
            info = save_prepared(get_workspace(), name, prepared, mode=mode)
    except CrmError as error:
        show_error(error)
        return
    select_dataset(
        info.name,
        tr(
            "data.saved",
            name=info.name,
            rows=", ".join(f"{tr('table.' + t)} {n:,}" for t, n in info.rows.items()),
        ),
    )


def _quality_tab() -> None:
    dataset = active_dataset()
    if dataset is None:
        st.info(tr("app.no_dataset"))
        return
    report = quality_report(dataset)
    cols = st.columns(max(len(report.rows), 1))
    for col, (table, rows) in zip(cols, report.rows.items(), strict=False):
        col.metric(tr(f"schema.table.{table}"), f"{rows:,}", border=True)
    for rate in report.match_rates:
        text = tr(
            "data.match_rate",
            table=tr(f"table.{rate.table}"),
            share=f"{rate.unmatched_share:.0%}",
            rows=f"{rate.unmatched_rows:,}",
        )
        (st.warning if rate.unmatched_share > 0 else st.success)(text)
        if rate.unmatched_rows:
            with st.expander(tr("data.unmatched_rows", table=tr(f"table.{rate.table}"))):
                st.dataframe(unmatched_rows(dataset, rate.table).head(500), width="stretch")
    for table, count in report.duplicate_rows.items():
        if count:
            st.warning(tr("data.duplicates", table=tr(f"table.{table}"), count=f"{count:,}"))
    left, right = st.columns(2)
    if (report.missing["missing"] > 0).any():
        left.plotly_chart(missing_values_chart(report.missing, lang()), width="stretch")
    else:
        left.success(tr("data.no_missing"))
    if not report.monthly_activity.empty:
        right.plotly_chart(activity_chart(report.monthly_activity, lang()), width="stretch")
    numeric = [
        (table, column)
        for table, frame in dataset.tables.items()
        for column in frame.columns
        if pd.api.types.is_numeric_dtype(frame[column])
    ]
    if numeric:
        choice = st.selectbox(
            tr("data.distribution_of"),
            numeric,
            format_func=labels(numeric, lambda tc: f"{tr('table.' + tc[0])} · {tc[1]}"),
        )
        st.plotly_chart(
            distribution_chart(dataset.tables[choice[0]][choice[1]], choice[1], lang()),
            width="stretch",
        )
    if not report.numeric_summary.empty:
        st.dataframe(report.numeric_summary, hide_index=True, width="stretch")
    with st.expander(tr("data.stored_meta")):
        st.json(get_workspace().table_meta(dataset.name), expanded=False)


def _manage_tab() -> None:
    workspace = get_workspace()
    datasets = workspace.list_datasets()
    if not datasets:
        st.info(tr("app.no_datasets"))
        return
    st.dataframe(
        pd.DataFrame(
            {
                tr("data.col.name"): [d.name for d in datasets],
                tr("data.col.rows"): [
                    ", ".join(f"{tr('table.' + t)} {n:,}" for t, n in d.rows.items())
                    for d in datasets
                ],
                tr("data.col.version"): [d.version for d in datasets],
                tr("data.col.updated"): [d.updated_at for d in datasets],
            }
        ),
        hide_index=True,
        width="stretch",
    )
    names = [d.name for d in datasets]
    rename_col, delete_col = st.columns(2)
    with rename_col.form("rename_dataset"):
        st.markdown(f"**{tr('data.rename')}**")
        old = st.selectbox(tr("data.dataset"), names, key="rename_old")
        new = st.text_input(tr("data.new_name"), key="rename_new")
        if st.form_submit_button(tr("data.rename")):
            try:
                info = workspace.rename_dataset(old, new)
                active = st.session_state.get(DATASET_KEY)
                select_dataset(
                    info.name if active == old else active,
                    tr("data.renamed", old=old, new=info.name),
                )
            except CrmError as error:
                show_error(error)
    with delete_col.form("delete_dataset"):
        st.markdown(f"**{tr('data.delete')}**")
        target = st.selectbox(tr("data.dataset"), names, key="delete_target")
        confirm = st.checkbox(tr("data.delete_confirm"), key="delete_confirm")
        if st.form_submit_button(tr("data.delete"), type="primary"):
            if not confirm:
                st.warning(tr("data.delete_needs_confirm"))
            else:
                try:
                    workspace.delete_dataset(target)
                    active = st.session_state.get(DATASET_KEY)
                    select_dataset(
                        None if active == target else active, tr("data.deleted", name=target)
                    )
                except CrmError as error:
                    show_error(error)
    _customer_form()
    st.markdown(f"**{tr('data.history')}**")
    history = workspace.history()
    history.columns = [tr(f"data.history.{c}") for c in history.columns]
    st.dataframe(history, hide_index=True, width="stretch")


def _customer_form() -> None:
    """Add or edit one customer record; values are checked against the column's type."""
    dataset = active_dataset()
    if dataset is None or "customers" not in dataset.tables:
        return
    customers = dataset.tables["customers"]
    fields = [c for c in customers.columns if c != "customer_id"]
    if not fields:
        return
    with st.form("customer_record"):
        st.markdown(f"**{tr('data.customer_record', name=dataset.name)}**")
        cols = st.columns(3)
        customer_id = cols[0].text_input(tr("schema.role.customer_id"))
        field = cols[1].selectbox(tr("data.field"), fields)
        value = cols[2].text_input(tr("data.value"))
        if st.form_submit_button(tr("data.save_customer")):
            try:
                get_workspace().upsert_customer(dataset.name, customer_id, {field: value})
                st.success(tr("data.customer_saved", id=customer_id.strip()))
            except CrmError as error:
                show_error(error)


st.title(tr("data.title"))
show_flashes()
import_tab, quality_tab, manage_tab = st.tabs(
    [tr("data.tab.import"), tr("data.tab.quality"), tr("data.tab.manage")]
)
with import_tab:
    _import_tab()
with quality_tab:
    _quality_tab()
with manage_tab:
    _manage_tab()
