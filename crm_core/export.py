"""Exports that are safe to open in Excel.

CSV: a text cell that a spreadsheet would run as a formula (it starts with ``= + - @``, a tab,
a carriage return, a line feed, ``|``, ``%`` or a leading space) gets a leading apostrophe; numbers
and real negative numbers stay as they are; headers get the same treatment. Encoded ``utf-8-sig`` so
Excel shows Chinese text correctly. XLSX: every string is written as a string, never as a formula or
link, so it round-trips unchanged.
"""

from __future__ import annotations

import io
import re

import pandas as pd

DANGEROUS_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%", " ")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def escape_cell(value: object) -> object:
    """Neutralise one value for CSV; non-strings and plain numbers pass unchanged."""
    if not isinstance(value, str) or not value:
        return value
    if value.startswith(DANGEROUS_PREFIXES) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def escape_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy with every text cell and header escaped; numeric columns untouched."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_string_dtype(series.dtype) or series.dtype == "object":
            out[column] = series.map(escape_cell, na_action="ignore")
    out.columns = [escape_cell(str(c)) for c in out.columns]
    return out


def to_csv_bytes(frame: pd.DataFrame, index: bool = False) -> bytes:
    """Formula-safe CSV encoded as UTF-8 with a byte-order mark."""
    safe = escape_frame(frame.reset_index() if index else frame)
    # CRLF line ends (as Excel writes) also make the writer quote any cell holding \r or \n.
    return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


def to_xlsx_bytes(frames: dict[str, pd.DataFrame] | pd.DataFrame) -> bytes:
    """An Excel workbook where strings stay strings (no formulas, no auto links)."""
    sheets = frames if isinstance(frames, dict) else {"data": frames}
    buffer = io.BytesIO()
    options = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}
    with pd.ExcelWriter(buffer, engine="xlsxwriter", engine_kwargs={"options": options}) as writer:
        for name, frame in sheets.items():
            sheet = re.sub(r"[\[\]:*?/\\]", "_", str(name))[:31] or "data"
            frame.to_excel(writer, sheet_name=sheet, index=False)
    return buffer.getvalue()
