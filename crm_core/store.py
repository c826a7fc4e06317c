"""The workspace: one DuckDB file holding datasets, mappings, recipes, history and saved analyses.

Why DuckDB: an embedded, single-file columnar database that reads pandas frames without copies and
survives restarts. Every write runs in one transaction, so a failed import leaves the workspace
exactly as it was. Names users choose (dataset names, headers) are only ever bound as parameters or
kept inside registered frames; physical table names are built from integer ids and a fixed list.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from crm_core.errors import InputError, NotFoundError, ParameterError, WorkspaceError
from crm_core.tables import TABLES, Dataset

WORKSPACE_ENV = "CRM_WORKSPACE"
DB_FILENAME = "workspace.duckdb"
MAX_NAME_LENGTH = 80
_LOCK_RETRIES = 20

_SCHEMA = (
    "CREATE SEQUENCE IF NOT EXISTS seq_ids START 1",
    """CREATE TABLE IF NOT EXISTS datasets (
        id INTEGER PRIMARY KEY, name VARCHAR UNIQUE NOT NULL, created_at TIMESTAMP NOT NULL,
        updated_at TIMESTAMP NOT NULL, version INTEGER NOT NULL, fingerprint VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS dataset_tables (
        dataset_id INTEGER NOT NULL, table_name VARCHAR NOT NULL, n_rows BIGINT NOT NULL,
        mapping JSON, recipe JSON, load_report JSON, fingerprint VARCHAR,
        PRIMARY KEY (dataset_id, table_name))""",
    """CREATE TABLE IF NOT EXISTS saved_mappings (
        layout VARCHAR PRIMARY KEY, table_name VARCHAR NOT NULL, mapping JSON NOT NULL,
        updated_at TIMESTAMP NOT NULL, recipe JSON)""",
    # Workspaces made by earlier versions gain the newer columns.
    "ALTER TABLE saved_mappings ADD COLUMN IF NOT EXISTS recipe JSON",
    "ALTER TABLE dataset_tables ADD COLUMN IF NOT EXISTS fingerprint VARCHAR",
    """CREATE TABLE IF NOT EXISTS history (
        id INTEGER PRIMARY KEY, happened_at TIMESTAMP NOT NULL, dataset_name VARCHAR NOT NULL,
        action VARCHAR NOT NULL, detail JSON)""",
    """CREATE TABLE IF NOT EXISTS models (
        name VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL,
        meta JSON, payload BLOB NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS analyses (
        id INTEGER PRIMARY KEY, dataset_id INTEGER NOT NULL, kind VARCHAR NOT NULL,
        name VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, meta JSON,
        UNIQUE (dataset_id, kind, name))""",
)


@dataclass(frozen=True)
class DatasetInfo:
    """What the dataset picker shows: name, row counts per table, version and fingerprint."""

    id: int
    name: str
    version: int
    fingerprint: str
    updated_at: datetime
    rows: dict[str, int]

    @property
    def total_rows(self) -> int:
        """All rows across the dataset's tables."""
        return sum(self.rows.values())


@dataclass(frozen=True)
class AnalysisInfo:
    """A saved analysis (for example segment labels) attached to a dataset."""

    id: int
    kind: str
    name: str
    created_at: datetime
    meta: dict[str, Any]


def default_workspace_dir() -> Path:
    """``$CRM_WORKSPACE`` or ``./workspace``."""
    return Path(os.environ.get(WORKSPACE_ENV, "workspace"))


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per row over every cell, in row order.

    DuckDB hashes an Arrow view of the frame with vectorised, multi-threaded code: several times
    faster than ``pandas.util.hash_pandas_object``, which turns every text cell into a Python
    object and factorises it (3.5 s for one 5-million-row id column). Categories are hashed by
    their values, not their codes. A frame Arrow cannot hold (mixed Python objects in one
    column) falls back to pandas, so every frame still gets a hash of every cell.
    """
    if frame.shape[1] == 0:
        return np.zeros(len(frame), dtype=np.uint64)
    # Positional names: headers are user text and may repeat; they never reach the SQL.
    positional = frame.set_axis([f"c{i}" for i in range(frame.shape[1])], axis=1)
    try:
        table = pa.Table.from_pandas(positional, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
    for i, column in enumerate(table.schema):
        if pa.types.is_dictionary(column.type):
            table = table.set_column(i, column.name, table.column(i).cast(column.type.value_type))
    with duckdb.connect() as con:
        con.register("rows_to_hash", table)
        result = con.execute(f"SELECT hash({', '.join(table.column_names)}) AS h FROM rows_to_hash")
        return np.asarray(result.fetchnumpy()["h"], dtype=np.uint64)


def frame_fingerprint(frame: pd.DataFrame, hashes: np.ndarray | None = None) -> str:
    """A digest of every value, so one edited cell changes it (unlike a sampled hash).
    ``hashes``: the frame's :func:`row_hashes`, when the caller computed them already."""
    digest = hashlib.sha256()
    digest.update(json.dumps([str(c) for c in frame.columns]).encode())
    digest.update(json.dumps([str(t) for t in frame.dtypes]).encode())
    if len(frame):
        if hashes is None or len(hashes) != len(frame):
            hashes = row_hashes(frame)
        digest.update(np.asarray(hashes, dtype=np.uint64).tobytes())
    return digest.hexdigest()


def dataset_fingerprint(tables: dict[str, pd.DataFrame]) -> str:
    """Digest of all tables of a dataset, in canonical table order."""
    return _combine_fingerprints({name: frame_fingerprint(frame) for name, frame in tables.items()})


def _combine_fingerprints(per_table: dict[str, str]) -> str:
    """One dataset digest from per-table digests, so a change to one table rehashes only it."""
    digest = hashlib.sha256()
    for name in TABLES:
        if name in per_table:
            digest.update(name.encode())
            digest.update(per_table[name].encode())
    return digest.hexdigest()[:32]


def clean_dataset_name(name: str) -> str:
    """Trim and check a user-chosen dataset name; it is stored as data, never as SQL."""
    cleaned = " ".join(str(name).split())
    if not cleaned:
        raise ParameterError("store.name_empty")
    if len(cleaned) > MAX_NAME_LENGTH:
        raise ParameterError("store.name_too_long", limit=MAX_NAME_LENGTH)
    return cleaned


def _physical(dataset_id: int, table: str) -> str:
    """Physical table name from an integer id and a whitelisted table name only."""
    if table not in TABLES:
        raise ParameterError("store.unknown_table", table=table, tables=", ".join(TABLES))
    return f"t_{int(dataset_id)}_{table}"


def _analysis_table(analysis_id: int) -> str:
    return f"a_{int(analysis_id)}"


def _prepare_for_storage(frame: pd.DataFrame) -> pd.DataFrame:
    """Make a frame storable: string column names, no index, timezone-naive timestamps."""
    out = frame.reset_index(drop=True)  # copy-on-write: the caller's frame is never changed
    out.columns = [str(c) for c in out.columns]
    if out.columns.duplicated().any():
        dupes = sorted(set(out.columns[out.columns.duplicated()]))
        raise InputError("store.duplicate_columns", columns=", ".join(dupes))
    for column in out.columns:
        series = out[column]
        if isinstance(series.dtype, pd.DatetimeTZDtype):
            out[column] = series.dt.tz_localize(None)
    return out


def _create_from(con: duckdb.DuckDBPyConnection, physical: str, frame: pd.DataFrame) -> None:
    """``CREATE TABLE physical`` holding the frame's rows. ``physical`` comes from
    :func:`_physical` or :func:`_analysis_table` only; the frame is registered, never spliced."""
    view = _arrow_view(frame)
    con.register("incoming_frame", frame if view is None else view)
    try:
        con.execute(f"CREATE TABLE {physical} AS SELECT * FROM incoming_frame")
    finally:
        con.unregister("incoming_frame")


def _arrow_view(frame: pd.DataFrame) -> pa.Table | None:
    """The frame as an Arrow table (zero-copy for text and numbers), which DuckDB stores with
    about a quarter less work than the pandas frame and with the same column types; None for
    categoricals (from pandas they become ENUM columns, from Arrow they would become text) and
    for mixed Python objects (DuckDB's pandas scanner turns them into text)."""
    try:
        table = pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowException, TypeError, ValueError):
        return None
    if any(pa.types.is_dictionary(column.type) for column in table.schema):
        return None
    return table


class Workspace:
    """A workspace folder with one DuckDB file; every method opens a short-lived connection."""

    def __init__(self, directory: Path | str | None = None) -> None:
        self.directory = Path(directory) if directory is not None else default_workspace_dir()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / DB_FILENAME
        with self._connect() as con:
            for statement in _SCHEMA:
                con.execute(statement)

    @contextmanager
    def _connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the database, waiting briefly if another process holds the write lock."""
        last_error: Exception | None = None
        for attempt in range(_LOCK_RETRIES):
            try:
                con = duckdb.connect(str(self.path))
                break
            except duckdb.IOException as exc:  # another process holds the file lock
                last_error = exc
                time.sleep(0.1 * (attempt + 1))
        else:
            raise WorkspaceError("store.locked", path=str(self.path)) from last_error
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All-or-nothing: any exception rolls every statement back."""
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException:
                con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    # ----------------------------------------------------------------- datasets
    def list_datasets(self) -> list[DatasetInfo]:
        """Every dataset with its row counts, newest first."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT id, name, version, fingerprint, updated_at FROM datasets "
                "ORDER BY updated_at DESC, id DESC"
            ).fetchall()
            counts = con.execute(
                "SELECT dataset_id, table_name, n_rows FROM dataset_tables"
            ).fetchall()
        per_dataset: dict[int, dict[str, int]] = {}
        for dataset_id, table, n_rows in counts:
            per_dataset.setdefault(dataset_id, {})[table] = int(n_rows)
        return [
            DatasetInfo(
                id=r[0],
                name=r[1],
                version=r[2],
                fingerprint=r[3],
                updated_at=r[4],
                rows={
                    t: per_dataset.get(r[0], {})[t]
                    for t in TABLES
                    if t in per_dataset.get(r[0], {})
                },
            )
            for r in rows
        ]

    def dataset_names(self) -> list[str]:
        """Names only, for pickers and CLI completion."""
        return [info.name for info in self.list_datasets()]

    def info(self, name: str) -> DatasetInfo:
        """One dataset's info, or NotFoundError."""
        for item in self.list_datasets():
            if item.name == name:
                return item
        raise NotFoundError("store.dataset_not_found", name=name)

    def exists(self, name: str) -> bool:
        """Whether a dataset of that name exists."""
        with self._connect() as con:
            return bool(
                con.execute("SELECT count(*) FROM datasets WHERE name = ?", [name]).fetchone()[0]
            )

    def save_dataset(
        self,
        name: str,
        tables: dict[str, pd.DataFrame],
        *,
        mappings: dict[str, Any] | None = None,
        recipes: dict[str, Any] | None = None,
        load_reports: dict[str, Any] | None = None,
        replace: bool = False,
        merge: bool = False,
        remember: Sequence[tuple[str, str, Any, Any]] = (),
        hashes: dict[str, np.ndarray] | None = None,
    ) -> DatasetInfo:
        """Store tables under ``name`` atomically.

        ``replace`` swaps the whole dataset; ``merge`` replaces only the given tables and keeps the
        others (adding a feedback file to an existing dataset). Without either, an existing name is
        an error so nothing is overwritten by accident. ``remember`` holds (layout, table, mapping,
        recipe) to keep for the next file of each layout, written in the same transaction (one
        connection and one commit instead of one per file). ``hashes``: table -> the row hashes
        of that frame as given (the import computed them for its duplicate check), reused for the
        fingerprint.
        """
        name = clean_dataset_name(name)
        unknown = [t for t in tables if t not in TABLES]
        if unknown:
            raise ParameterError(
                "store.unknown_table", table=", ".join(unknown), tables=", ".join(TABLES)
            )
        if not tables or all(len(f) == 0 for f in tables.values()):
            raise InputError("store.no_rows")
        prepared = {t: _prepare_for_storage(f) for t, f in tables.items()}
        # Storage turns timezone-aware times naive (other values): their old hashes do not fit.
        known = {
            t: h
            for t, h in (hashes or {}).items()
            if t in tables and not any(isinstance(d, pd.DatetimeTZDtype) for d in tables[t].dtypes)
        }
        now = datetime.now()
        with self._transaction() as con:
            row = con.execute("SELECT id, version FROM datasets WHERE name = ?", [name]).fetchone()
            if row and not (replace or merge):
                raise ParameterError("store.name_taken", hint="hint.generic", name=name)
            if row:
                dataset_id, version = int(row[0]), int(row[1]) + 1
                dropping = TABLES if replace else tuple(prepared)
                for table in dropping:
                    con.execute(f"DROP TABLE IF EXISTS {_physical(dataset_id, table)}")
                    con.execute(
                        "DELETE FROM dataset_tables WHERE dataset_id = ? AND table_name = ?",
                        [dataset_id, table],
                    )
            else:
                dataset_id = int(con.execute("SELECT nextval('seq_ids')").fetchone()[0])
                version = 1
                con.execute(
                    "INSERT INTO datasets VALUES (?, ?, ?, ?, ?, ?)",
                    [dataset_id, name, now, now, version, ""],
                )
            for table, frame in prepared.items():
                _create_from(con, _physical(dataset_id, table), frame)
                con.execute(
                    "INSERT INTO dataset_tables VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        dataset_id,
                        table,
                        len(frame),
                        _json((mappings or {}).get(table)),
                        _json((recipes or {}).get(table)),
                        _json((load_reports or {}).get(table)),
                        frame_fingerprint(frame, known.get(table)),
                    ],
                )
            fingerprint = self._fingerprint_in(con, dataset_id)
            con.execute(
                "UPDATE datasets SET version = ?, updated_at = ?, fingerprint = ? WHERE id = ?",
                [version, now, fingerprint, dataset_id],
            )
            action = "replace" if row and replace else "merge" if row else "import"
            self._log(con, name, action, {"tables": {t: len(f) for t, f in prepared.items()}})
            for layout, table, mapping, recipe in remember:
                self._remember_in(con, layout, table, mapping, recipe)
            counts = dict(
                con.execute(
                    "SELECT table_name, n_rows FROM dataset_tables WHERE dataset_id = ?",
                    [dataset_id],
                ).fetchall()
            )
        rows = {t: int(counts[t]) for t in TABLES if t in counts}
        return DatasetInfo(dataset_id, name, version, fingerprint, now, rows)

    def _fingerprint_in(self, con: duckdb.DuckDBPyConnection, dataset_id: int) -> str:
        """The dataset digest from the stored per-table digests (no table is read again)."""
        rows = con.execute(
            "SELECT table_name, fingerprint FROM dataset_tables WHERE dataset_id = ?", [dataset_id]
        ).fetchall()
        return _combine_fingerprints({table: digest or "" for table, digest in rows})

    def _dataset_id(self, con: duckdb.DuckDBPyConnection, name: str) -> int:
        row = con.execute("SELECT id FROM datasets WHERE name = ?", [name]).fetchone()
        if not row:
            raise NotFoundError("store.dataset_not_found", name=name)
        return int(row[0])

    def load_dataset(self, name: str, tables: tuple[str, ...] | None = None) -> Dataset:
        """Read a dataset's tables back as typed frames."""
        with self._connect() as con:
            dataset_id = self._dataset_id(con, name)
            fingerprint = con.execute(
                "SELECT fingerprint FROM datasets WHERE id = ?", [dataset_id]
            ).fetchone()[0]
            stored = [
                r[0]
                for r in con.execute(
                    "SELECT table_name FROM dataset_tables WHERE dataset_id = ?", [dataset_id]
                ).fetchall()
            ]
            frames = {
                t: con.execute(f"SELECT * FROM {_physical(dataset_id, t)}").df()
                for t in TABLES
                if t in stored and (tables is None or t in tables)
            }
        return Dataset(name=name, tables=frames, fingerprint=fingerprint)

    def table_meta(self, name: str) -> dict[str, dict[str, Any]]:
        """Mapping, recipe and load report kept with each table."""
        with self._connect() as con:
            dataset_id = self._dataset_id(con, name)
            rows = con.execute(
                "SELECT table_name, n_rows, mapping, recipe, load_report FROM dataset_tables "
                "WHERE dataset_id = ?",
                [dataset_id],
            ).fetchall()
        return {
            r[0]: {
                "rows": int(r[1]),
                "mapping": _unjson(r[2]),
                "recipe": _unjson(r[3]),
                "load_report": _unjson(r[4]),
            }
            for r in rows
        }

    def rename_dataset(self, old: str, new: str) -> DatasetInfo:
        """Rename; the new name must be free."""
        new = clean_dataset_name(new)
        with self._transaction() as con:
            dataset_id = self._dataset_id(con, old)
            taken = con.execute("SELECT count(*) FROM datasets WHERE name = ?", [new]).fetchone()[0]
            if taken and new != old:
                raise ParameterError("store.name_taken", hint="hint.generic", name=new)
            con.execute("UPDATE datasets SET name = ? WHERE id = ?", [new, dataset_id])
            self._log(con, new, "rename", {"from": old})
        return self.info(new)

    def delete_dataset(self, name: str) -> None:
        """Delete a dataset, its tables and its saved analyses."""
        with self._transaction() as con:
            dataset_id = self._dataset_id(con, name)
            for table in TABLES:
                con.execute(f"DROP TABLE IF EXISTS {_physical(dataset_id, table)}")
            for (analysis_id,) in con.execute(
                "SELECT id FROM analyses WHERE dataset_id = ?", [dataset_id]
            ).fetchall():
                con.execute(f"DROP TABLE IF EXISTS {_analysis_table(analysis_id)}")
            con.execute("DELETE FROM analyses WHERE dataset_id = ?", [dataset_id])
            con.execute("DELETE FROM dataset_tables WHERE dataset_id = ?", [dataset_id])
            con.execute("DELETE FROM datasets WHERE id = ?", [dataset_id])
            self._log(con, name, "delete", {})

    def history(self, limit: int = 200) -> pd.DataFrame:
        """The import history, newest first."""
        with self._connect() as con:
            return con.execute(
                "SELECT happened_at, dataset_name, action, detail FROM history "
                "ORDER BY id DESC LIMIT ?",
                [int(limit)],
            ).df()

    def _log(self, con: duckdb.DuckDBPyConnection, name: str, action: str, detail: dict) -> None:
        next_id = con.execute("SELECT nextval('seq_ids')").fetchone()[0]
        con.execute(
            "INSERT INTO history VALUES (?, ?, ?, ?, ?)",
            [next_id, datetime.now(), name, action, _json(detail)],
        )

    # ----------------------------------------------------------------- customer records
    def upsert_customer(self, name: str, customer_id: str, values: dict[str, Any]) -> DatasetInfo:
        """Add or edit one customer record; values are checked against the column types."""
        customer_id = str(customer_id).strip()
        if not customer_id:
            raise InputError("store.customer_id_empty")
        with self._transaction() as con:
            dataset_id = self._dataset_id(con, name)
            physical = _physical(dataset_id, "customers")
            has_table = con.execute(
                "SELECT count(*) FROM dataset_tables WHERE dataset_id = ? AND table_name = ?",
                [dataset_id, "customers"],
            ).fetchone()[0]
            customers = (
                con.execute(f"SELECT * FROM {physical}").df()
                if has_table
                else pd.DataFrame({"customer_id": pd.Series(dtype="str")})
            )
            unknown = [c for c in values if c not in customers.columns]
            if unknown:
                raise ParameterError("store.unknown_columns", columns=", ".join(map(str, unknown)))
            typed = {c: _coerce_value(customers[c], v, c) for c, v in values.items()}
            mask = customers["customer_id"].astype("str") == customer_id
            if mask.any():
                for column, value in typed.items():
                    customers.loc[mask, column] = value
                action = "edit_customer"
            else:
                new_row = pd.DataFrame([{"customer_id": customer_id, **typed}])
                new_row = new_row.astype({c: customers[c].dtype for c in new_row.columns})
                customers = pd.concat([customers, new_row], ignore_index=True)
                action = "add_customer"
            con.execute(f"DROP TABLE IF EXISTS {physical}")
            _create_from(con, physical, customers)
            if has_table:
                con.execute(
                    "UPDATE dataset_tables SET n_rows = ?, fingerprint = ? "
                    "WHERE dataset_id = ? AND table_name = ?",
                    [len(customers), frame_fingerprint(customers), dataset_id, "customers"],
                )
            else:
                con.execute(
                    "INSERT INTO dataset_tables (dataset_id, table_name, n_rows, fingerprint) "
                    "VALUES (?, ?, ?, ?)",
                    [dataset_id, "customers", len(customers), frame_fingerprint(customers)],
                )
            fingerprint = self._fingerprint_in(con, dataset_id)
            con.execute(
                "UPDATE datasets SET version = version + 1, updated_at = ?, fingerprint = ? "
                "WHERE id = ?",
                [datetime.now(), fingerprint, dataset_id],
            )
            self._log(con, name, action, {"customer_id": customer_id, "columns": list(values)})
        return self.info(name)

    # ----------------------------------------------------------------- mappings
    def remember_mapping(
        self, layout: str, table: str, mapping: dict[str, Any], recipe: Any = None
    ) -> None:
        """Keep a confirmed mapping (and its cleaning recipe) so the next file with the same
        headers gets them again."""
        with self._transaction() as con:
            self._remember_in(con, layout, table, mapping, recipe)

    def _remember_in(
        self, con: duckdb.DuckDBPyConnection, layout: str, table: str, mapping: Any, recipe: Any
    ) -> None:
        con.execute(
            "INSERT OR REPLACE INTO saved_mappings (layout, table_name, mapping, updated_at, "
            "recipe) VALUES (?, ?, ?, ?, ?)",
            [layout, table, _json(mapping), datetime.now(), _json(recipe)],
        )

    def recall_recipe(self, layout: str) -> Any:
        """The cleaning recipe last used for this header layout, if any."""
        with self._connect() as con:
            row = con.execute(
                "SELECT recipe FROM saved_mappings WHERE layout = ?", [layout]
            ).fetchone()
        return _unjson(row[0]) if row else None

    def recall_mapping(self, layout: str) -> dict[str, Any] | None:
        """The mapping saved for this header layout, if any."""
        with self._connect() as con:
            row = con.execute(
                "SELECT mapping FROM saved_mappings WHERE layout = ?", [layout]
            ).fetchone()
        return _unjson(row[0]) if row else None

    # ----------------------------------------------------------------- saved analyses
    def save_analysis(
        self,
        dataset: str,
        kind: str,
        name: str,
        frame: pd.DataFrame,
        meta: dict[str, Any] | None = None,
    ) -> AnalysisInfo:
        """Save a result table (for example segment labels) under a name; replaces same name."""
        name = clean_dataset_name(name)
        prepared = _prepare_for_storage(frame)
        with self._transaction() as con:
            dataset_id = self._dataset_id(con, dataset)
            old = con.execute(
                "SELECT id FROM analyses WHERE dataset_id = ? AND kind = ? AND name = ?",
                [dataset_id, kind, name],
            ).fetchone()
            if old:
                con.execute(f"DROP TABLE IF EXISTS {_analysis_table(old[0])}")
                con.execute("DELETE FROM analyses WHERE id = ?", [old[0]])
            analysis_id = int(con.execute("SELECT nextval('seq_ids')").fetchone()[0])
            con.execute(
                "INSERT INTO analyses VALUES (?, ?, ?, ?, ?, ?)",
                [analysis_id, dataset_id, kind, name, datetime.now(), _json(meta or {})],
            )
            _create_from(con, _analysis_table(analysis_id), prepared)
            self._log(con, dataset, f"save_{kind}", {"name": name})
        return next(a for a in self.list_analyses(dataset, kind) if a.name == name)

    def list_analyses(self, dataset: str, kind: str | None = None) -> list[AnalysisInfo]:
        """Saved analyses of a dataset, newest first."""
        with self._connect() as con:
            dataset_id = self._dataset_id(con, dataset)
            rows = con.execute(
                "SELECT id, kind, name, created_at, meta FROM analyses WHERE dataset_id = ? "
                "AND (? IS NULL OR kind = ?) ORDER BY created_at DESC, id DESC",
                [dataset_id, kind, kind],
            ).fetchall()
        return [AnalysisInfo(r[0], r[1], r[2], r[3], _unjson(r[4]) or {}) for r in rows]

    def load_analysis(self, dataset: str, kind: str, name: str) -> pd.DataFrame:
        """The saved result table."""
        for item in self.list_analyses(dataset, kind):
            if item.name == name:
                with self._connect() as con:
                    return con.execute(f"SELECT * FROM {_analysis_table(item.id)}").df()
        raise NotFoundError("store.analysis_not_found", name=name, dataset=dataset)

    # ----------------------------------------------------------------- saved models
    @property
    def model_key(self) -> bytes:
        """HMAC key that signs models saved in this workspace; a model file from anywhere else
        fails the check before anything is unpickled."""
        return _workspace_key(self.directory)

    def save_model(self, name: str, kind: str, payload: bytes, meta: dict[str, Any]) -> None:
        """Keep a trained model (the studio's own signed bytes) under a name; replaces it."""
        name = clean_dataset_name(name)
        with self._transaction() as con:
            con.execute("DELETE FROM models WHERE name = ?", [name])
            con.execute(
                "INSERT INTO models VALUES (?, ?, ?, ?, ?)",
                [name, kind, datetime.now(), _json(meta), payload],
            )
            self._log(con, name, f"save_model_{kind}", {"bytes": len(payload)})

    def list_models(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Saved models, newest first: name, kind, created_at, meta."""
        with self._connect() as con:
            rows = con.execute(
                "SELECT name, kind, created_at, meta FROM models WHERE (? IS NULL OR kind = ?) "
                "ORDER BY created_at DESC",
                [kind, kind],
            ).fetchall()
        return [
            {"name": r[0], "kind": r[1], "created_at": r[2], "meta": _unjson(r[3]) or {}}
            for r in rows
        ]

    def load_model_bytes(self, name: str) -> bytes:
        """The stored bytes of a saved model."""
        with self._connect() as con:
            row = con.execute("SELECT payload FROM models WHERE name = ?", [name]).fetchone()
        if not row:
            raise NotFoundError("store.model_not_found", name=name)
        return bytes(row[0])

    def delete_analysis(self, dataset: str, kind: str, name: str) -> None:
        """Remove a saved analysis."""
        for item in self.list_analyses(dataset, kind):
            if item.name == name:
                with self._transaction() as con:
                    con.execute(f"DROP TABLE IF EXISTS {_analysis_table(item.id)}")
                    con.execute("DELETE FROM analyses WHERE id = ?", [item.id])
                return
        raise NotFoundError("store.analysis_not_found", name=name, dataset=dataset)


MODEL_KEY_FILE = "models.key"


def _workspace_key(directory: Path) -> bytes:
    """This workspace's secret for signing saved models (created on first use, never exported)."""
    path = directory / MODEL_KEY_FILE
    if not path.exists():
        path.write_bytes(os.urandom(32))
        path.chmod(0o600)
    return path.read_bytes()


def _coerce_value(column: pd.Series, value: Any, name: str) -> Any:
    """Type one edited value like its column; a bad value is an InputError naming the column."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        if pd.api.types.is_bool_dtype(column.dtype):
            return bool(value)
        if pd.api.types.is_integer_dtype(column.dtype):
            number = float(str(value).strip())
            if not number.is_integer():
                raise ValueError(value)
            return int(number)
        if pd.api.types.is_float_dtype(column.dtype):
            number = float(str(value).strip().replace(",", ""))
            if not np.isfinite(number):
                raise ValueError(value)
            return number
        if pd.api.types.is_datetime64_any_dtype(column.dtype):
            return pd.Timestamp(str(value).strip()).tz_localize(None)
    except (TypeError, ValueError) as exc:
        raise InputError("store.bad_value", column=name, value=str(value)[:50]) from exc
    return str(value).strip()


def _json(value: Any) -> str | None:
    if value is None:
        return None
    if hasattr(value, "to_dict"):
        value = value.to_dict()
    return json.dumps(value, ensure_ascii=False, default=str)


def _unjson(value: Any) -> Any:
    if value is None:
        return None
    return json.loads(value) if isinstance(value, str) else value
