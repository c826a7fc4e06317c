"""Exports: formula injection neutralised (SAFETY 39-41), values otherwise unchanged."""

from __future__ import annotations

import io

import openpyxl
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from crm_core.export import DANGEROUS_PREFIXES, escape_cell, to_csv_bytes, to_xlsx_bytes

HOSTILE = [
    '=HYPERLINK("http://evil","x")',
    "+1+1",
    "-2+3",
    "@SUM(A1)",
    "\tcmd",
    "\r=1",
    "\n=1",
    "|calc",
    "%0A",
    " =1",
]


def test_every_dangerous_prefix_is_quoted_in_csv() -> None:
    frame = pd.DataFrame({"name": HOSTILE, "amount": [-5.0] * len(HOSTILE)})
    text = to_csv_bytes(frame).decode("utf-8-sig")
    back = pd.read_csv(io.StringIO(text, newline=""), dtype={"name": str}, keep_default_na=False)
    assert back["name"].tolist() == ["'" + v for v in HOSTILE]
    assert back["amount"].tolist() == [-5.0] * len(HOSTILE)


def test_real_negatives_and_plain_text_are_unchanged() -> None:
    assert escape_cell("-12.5") == "-12.5"
    assert escape_cell("+3") == "+3"
    assert escape_cell("Hello") == "Hello"
    assert escape_cell("客户") == "客户"
    assert escape_cell(None) is None
    assert escape_cell(-3.0) == -3.0


def test_headers_are_escaped_and_chinese_survives_with_bom() -> None:
    frame = pd.DataFrame({"=cmd|' /C calc'!A0": ["张三"], "城市": ["上海"]})
    data = to_csv_bytes(frame)
    assert data.startswith(b"\xef\xbb\xbf")
    text = data.decode("utf-8-sig")
    assert text.splitlines()[0].startswith("'=cmd")
    assert "张三" in text and "上海" in text


def test_xlsx_keeps_hostile_strings_as_strings() -> None:
    frame = pd.DataFrame({"name": HOSTILE, "n": range(len(HOSTILE))})
    workbook = openpyxl.load_workbook(io.BytesIO(to_xlsx_bytes(frame)))
    sheet = workbook["data"]
    cells = [sheet.cell(row=i + 2, column=1) for i in range(len(HOSTILE))]
    assert [c.data_type for c in cells] == ["s"] * len(HOSTILE)
    # openpyxl leaves the OOXML escape of a carriage return (_x000D_) as it is; all else is equal.
    assert [c.value.replace("_x000D_", "\r") for c in cells] == HOSTILE
    assert [sheet.cell(row=i + 2, column=2).value for i in range(len(HOSTILE))] == list(
        range(len(HOSTILE))
    )


@given(st.text(max_size=30))
def test_escaped_cells_never_start_with_a_formula_prefix(value: str) -> None:
    escaped = escape_cell(value)
    if escaped and escaped.startswith(DANGEROUS_PREFIXES):
        assert (
            escaped.lstrip("+-").replace(".", "", 1).replace("e", "").isdigit() or escaped == value
        )
