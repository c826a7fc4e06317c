"""From uploaded files to a stored dataset: read, map, type, validate, clean, combine, save.

The Data page and ``crm import`` both run this pipeline, so a file gives the same dataset both ways.
Each file becomes one ``PreparedTable``; several files are combined per canonical table (joined on
a shared order id, or stacked when they share a layout) and tables that lack customer ids get them
through the order id, so a feedback file keyed by order still joins to its customers.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crm_core.cleaning import Recipe, StepLog, apply_recipe
from crm_core.errors import InputError, ParameterError
from crm_core.io import LoadResult, ReadOptions, read_file
from crm_core.schema import (
    REQUIREMENTS,
    Mapping,
    Problem,
    TypedTable,
    TypingOptions,
    apply_mapping,
    auto_map,
    layout_signature,
    missing_for,
    normalize_header,
    validate,
)
from crm_core.store import DatasetInfo, Workspace, row_hashes
from crm_core.tables import TABLES, Dataset

MAX_FILES = 8


@dataclass
class PreparedTable:
    """One file after reading, mapping, typing, validation and cleaning."""

    load: LoadResult
    mapping: Mapping
    mapping_source: str  # "auto", "saved" (same layout seen before) or "given"
    typed: TypedTable
    problems: list[Problem]
    recipe: Recipe
    cleaned: pd.DataFrame
    step_logs: list[StepLog] = field(default_factory=list)
    recipe_source: str = "given"  # "given", "saved" (replayed for this layout) or "none"
    row_hashes: np.ndarray | None = None  # of ``cleaned``, for its fingerprint when saved

    @property
    def table(self) -> str:
        """The canonical table this file feeds."""
        return self.mapping.table

    @property
    def layout(self) -> str:
        """Signature of the header layout, for offering the same mapping next time."""
        return layout_signature(self.load.frame.columns)

    def summary(self) -> dict[str, Any]:
        """JSON-ready summary for the CLI and the import history."""
        report = self.load.report
        return {
            "file": report.filename,
            "table": self.table,
            "kind": report.kind,
            "encoding": report.encoding,
            "delimiter": report.delimiter,
            "sheet": report.sheet,
            "rows_read": report.rows_read,
            "rows_skipped": report.rows_skipped,
            "rows_kept": len(self.cleaned),
            "mapping": self.mapping.columns,
            "mapping_source": self.mapping_source,
            "recipe_source": self.recipe_source,
            "confidence": self.mapping.confidence,
            "date_formats": self.typed.date_formats,
            "warnings": report.messages(),
            "problems": [
                {"severity": p.severity, "message": p.message(), "count": p.count}
                for p in self.problems
            ],
            "cleaning": [
                {
                    "op": log.step.op,
                    **log.step.params,
                    "before": log.rows_before,
                    "after": log.rows_after,
                }
                for log in self.step_logs
            ],
        }


def prepare_table(
    data: bytes,
    filename: str,
    *,
    read_options: ReadOptions | None = None,
    table: str | None = None,
    mapping: Mapping | None = None,
    typing_options: TypingOptions | None = None,
    recipe: Recipe | None = None,
    workspace: Workspace | None = None,
    load: LoadResult | None = None,
) -> PreparedTable:
    """Run one file through the pipeline. ``load`` reuses an earlier read (the page re-maps
    without re-reading); the mapping and cleaning recipe saved for the same header layout are
    reused when none is given (``recipe=Recipe()`` asks for no cleaning explicitly)."""
    load = load or read_file(data, filename, read_options)
    layout = layout_signature(load.frame.columns)
    source = "given"
    if mapping is None:
        saved = workspace.recall_mapping(layout) if workspace else None
        if saved is not None and (table is None or saved.get("table") == table):
            try:
                mapping = Mapping.from_json(json.dumps(saved, ensure_ascii=False))
                mapping = _only_present(mapping, load.frame.columns)
                source = "saved"
            except ParameterError:
                mapping = None
        if mapping is None:
            mapping = auto_map(load.frame, table)
            source = "auto"
    elif table is not None and mapping.table != table:
        mapping = Mapping(table, mapping.columns, mapping.confidence, mapping.reasons)
    # Unmapped all-numeric columns (tenure, charges) become numbers so analyses can use them.
    typed = apply_mapping(load.frame, mapping, typing_options or TypingOptions(infer_extras=True))
    # Every row is hashed once: for the duplicate check now and the fingerprint when saved.
    hashes = row_hashes(typed.frame)
    problems = validate(typed, hashes=hashes)
    recipe_source = "given"
    if recipe is None:
        recipe, recipe_source = Recipe(), "none"
        saved_recipe = workspace.recall_recipe(layout) if workspace and source == "saved" else None
        if saved_recipe:
            try:
                recipe = Recipe.from_json(json.dumps(saved_recipe, ensure_ascii=False))
                recipe_source = "saved"
            except ParameterError:
                recipe = Recipe()
    cleaned, logs = apply_recipe(typed.frame, recipe)
    # Steps that only drop rows keep the other rows' values, so their hashes still hold.
    kept = all(s.op in _ROW_DROPPING or s.params.get("method") == "drop" for s in recipe)
    return PreparedTable(
        load,
        mapping,
        source,
        typed,
        problems,
        recipe,
        cleaned.reset_index(drop=True),
        logs,
        recipe_source,
        hashes[cleaned.index.to_numpy()] if kept else None,
    )


_ROW_DROPPING = frozenset(
    (
        "drop_exact_duplicates",
        "drop_cancellations",
        "keep_cancellations",
        "drop_missing_customer",
        "drop_nonpositive",
    )
)


def _only_present(mapping: Mapping, columns: Sequence[object]) -> Mapping:
    """Drop mapped headers a file does not have (a saved mapping must never invent columns).

    The layout signature ignores case and spacing, so a saved header is matched the same way and
    kept under this file's spelling (the mapping editor looks headers up as they are written).
    """
    spellings: dict[str, list[str]] = {}
    for column in columns:
        spellings.setdefault(normalize_header(column), []).append(str(column))
    kept: dict[str, str] = {}
    for source, role in mapping.columns.items():
        hits = spellings.get(normalize_header(source), [])
        if source in hits:
            kept[source] = role
        elif len(hits) == 1:
            kept[hits[0]] = role
    return Mapping(
        mapping.table,
        kept,
        {r: c for r, c in mapping.confidence.items() if r in kept.values()},
        {r: w for r, w in mapping.reasons.items() if r in kept.values()},
    )


def combine(prepared: Sequence[PreparedTable]) -> dict[str, pd.DataFrame]:
    """One frame per canonical table from several files.

    Files for the same table are joined on ``order_id`` when each has it and they carry different
    roles (an orders file and an order-items file), otherwise stacked. A table without customer
    ids borrows them from the transactions through ``order_id``.
    """
    if len(prepared) > MAX_FILES:
        raise InputError("import.too_many_files", limit=MAX_FILES)
    grouped: dict[str, list[pd.DataFrame]] = {}
    for item in prepared:
        grouped.setdefault(item.table, []).append(item.cleaned)
    tables: dict[str, pd.DataFrame] = {}
    for name, frames in grouped.items():
        tables[name] = _combine_same_table(frames)
    # Owners come from every transactions file, not only from the joined table: an order that has
    # no item rows (cancelled, unavailable) still belongs to the customer of the orders file.
    borrowers = [
        name
        for name, frame in tables.items()
        if name != "transactions"
        and "order_id" in frame.columns
        and "customer_id" not in frame.columns
    ]
    owner_frames = [
        item.cleaned[["order_id", "customer_id"]]
        for item in prepared
        if item.table == "transactions" and {"order_id", "customer_id"} <= set(item.cleaned.columns)
    ]
    if borrowers and owner_frames:
        owners = (
            pd.concat(owner_frames, ignore_index=True)
            .dropna(subset=["order_id", "customer_id"])
            .drop_duplicates("order_id")
            .set_index("order_id")["customer_id"]
        )
        for name in borrowers:
            tables[name] = tables[name].assign(customer_id=tables[name]["order_id"].map(owners))
    return {name: tables[name] for name in TABLES if name in tables}


def _combine_same_table(frames: list[pd.DataFrame]) -> pd.DataFrame:
    result = frames[0]
    for frame in frames[1:]:
        shared = set(result.columns) & set(frame.columns)
        if "order_id" in shared and set(frame.columns) - shared:
            # Orders file + order-items file: the longer (item lines) keeps its rows; the shorter
            # (one row per order) supplies order-level values, and wins where both have a role
            # (an order's date is its purchase date, not an item's shipping deadline).
            many, one = (result, frame) if len(result) >= len(frame) else (frame, result)
            overlap = [c for c in shared if c != "order_id"]
            result = many.drop(columns=overlap).merge(
                one.drop_duplicates("order_id"), on="order_id", how="left"
            )
        else:
            result = pd.concat([result, frame], ignore_index=True)
    return result


def supported_analyses(tables: dict[str, pd.DataFrame]) -> dict[str, list[str]]:
    """Analysis -> missing ``table.role`` list (empty when the analysis can run)."""
    dataset = Dataset(name="", tables=tables)
    return {name: missing_for(dataset, name) for name in REQUIREMENTS}


def save_prepared(
    workspace: Workspace,
    name: str,
    prepared: Sequence[PreparedTable],
    *,
    mode: str = "new",
) -> DatasetInfo:
    """Store the combined tables atomically; ``mode``: new, replace or merge (add tables)."""
    if mode not in ("new", "replace", "merge"):
        raise ParameterError("import.bad_mode", mode=mode)
    if not prepared:
        raise InputError("import.no_files")
    tables = combine(prepared)
    empty = [t for t, f in tables.items() if len(f) == 0]
    if empty:
        raise InputError("import.all_rows_removed", tables=", ".join(empty))
    by_table: dict[str, list[PreparedTable]] = {}
    for item in prepared:
        by_table.setdefault(item.table, []).append(item)
    info = workspace.save_dataset(
        name,
        tables,
        mappings={t: [json_of(p.mapping) for p in items] for t, items in by_table.items()},
        recipes={t: [json_of(p.recipe) for p in items] for t, items in by_table.items()},
        load_reports={t: [p.load.report.to_dict() for p in items] for t, items in by_table.items()},
        replace=mode == "replace",
        merge=mode == "merge",
        remember=[
            (item.layout, item.table, json_of(item.mapping), json_of(item.recipe))
            for item in prepared
        ],
        hashes={
            item.table: item.row_hashes
            for item in prepared
            if item.row_hashes is not None and tables.get(item.table) is item.cleaned
        },
    )
    return info


def json_of(value: Mapping | Recipe) -> Any:
    """The stored JSON form of a mapping or recipe, as plain data."""
    return json.loads(value.to_json())
