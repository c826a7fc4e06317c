"""crm_core.io: every reading case of SAFETY.md (1-16, 18, 19, 43) plus property tests.

Each test names the SAFETY item it covers. Files are built in memory; nothing is written to disk.
"""

from __future__ import annotations

import builtins
import codecs
import datetime as dt
import gzip
import io
import os
import random
import re
import sys
import zipfile
from collections.abc import Callable

import numpy as np
import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from crm_core.errors import InputError
from crm_core.i18n import catalog, t
from crm_core.io import (
    DELIMITERS,
    LoadReport,
    ReadOptions,
    display_name,
    read_file,
    read_path,
    sniff_kind,
)


def _error(data: bytes, filename: str = "data.csv", **options: object) -> InputError:
    with pytest.raises(InputError) as info:
        read_file(data, filename, ReadOptions(**options) if options else None)
    return info.value


def _xlsx(sheets: dict[str, list[list[object]]]) -> bytes:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in sheets.items():
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _rezip(data: bytes, replace: dict[str, bytes], extra: dict[str, bytes] | None = None) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            target.writestr(info.filename, replace.get(info.filename, source.read(info.filename)))
        for name, content in (extra or {}).items():
            target.writestr(name, content)
    return out.getvalue()


def _keys_exist(error: InputError) -> None:
    """Every raised key and hint is translated in both languages."""
    for lang in ("en", "zh"):
        assert error.key in catalog(lang), error.key
        assert error.hint in catalog(lang), error.hint
        assert "{" not in error.message(lang), error.message(lang)


# ----------------------------------------------------------------------------------------------
# 1-4: empty, header only, size cap, one file with bounded memory


def test_01_empty_file_is_refused() -> None:
    error = _error(b"", "empty.csv")
    assert error.key == "io.error.empty"
    assert "empty.csv" in error.message()
    _keys_exist(error)


def test_01_empty_gzip_and_blank_text_are_refused() -> None:
    assert _error(gzip.compress(b""), "x.csv.gz").key == "io.error.empty"
    assert _error(b"\n\n  \n", "blank.csv").key == "io.error.no_data_rows"


@pytest.mark.parametrize(
    "data",
    [b"a,b\n", b"a,b", b"a;b;c\r\n\r\n", b"\xef\xbb\xbfid,name\n\n", b"a,b\n \t\x0b\x0c\r\n  \n"],
)
def test_02_header_only_csv_has_no_data_rows(data: bytes) -> None:
    error = _error(data)
    assert error.key == "io.error.no_data_rows"
    _keys_exist(error)


def test_02_header_only_sheet_has_no_data_rows() -> None:
    assert _error(_xlsx({"S": [["a", "b"]]}), "x.xlsx").key == "io.error.no_data_rows"


def test_03_file_over_cap_is_refused_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    import crm_core.io as module

    def boom(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed a file over the cap")

    monkeypatch.setattr(module, "_read_text", boom)
    data = b"a,b\n" + b"1,2\n" * 300_000
    error = _error(data, max_bytes=1_000_000)
    assert error.key == "io.error.too_large"
    assert error.params["limit_mb"] == "1.0"
    assert "1.0 MB" in error.message() and "1.0 MB" in error.message("zh")
    _keys_exist(error)


def test_03_default_cap_is_500_mb_and_stated() -> None:
    assert ReadOptions().max_bytes == 500_000_000
    error = InputError("io.error.too_large", size_mb="612", limit_mb="500")
    assert "500 MB" in error.message()


def test_03_gzip_bomb_is_stopped_at_the_cap() -> None:
    bomb = gzip.compress(b"0" * 5_000_000)
    assert len(bomb) < 20_000
    error = _error(bomb, "bomb.csv.gz", max_bytes=1_000_000)
    assert error.key == "io.error.decompressed_too_large"
    _keys_exist(error)


def test_03_path_size_checked_before_reading(tmp_path: os.PathLike[str]) -> None:
    path = os.path.join(tmp_path, "big.csv")
    with open(path, "wb") as handle:
        handle.write(b"a,b\n" + b"1,2\n" * 1000)
    with pytest.raises(InputError) as info:
        read_path(path, ReadOptions(max_bytes=100))
    assert info.value.key == "io.error.too_large"
    assert read_path(path).report.rows_read == 1000
    with pytest.raises(InputError) as missing:
        read_path(os.path.join(tmp_path, "nope.csv"))
    assert missing.value.key == "io.error.path_missing"
    with pytest.raises(InputError) as directory:
        read_path(tmp_path)
    assert directory.value.key == "io.error.path_missing"


def test_04_one_file_per_call_and_no_reference_kept_to_the_input() -> None:
    data = b"id,amount\n" + b"".join(b"%05d,%d\n" % (i, i) for i in range(5000))
    before = sys.getrefcount(data)
    first = read_file(data, "a.csv")
    second = read_file(data, "a.csv")
    assert sys.getrefcount(data) == before  # the result holds no reference to the upload
    first.frame.loc[0, "id"] = "changed"
    assert second.frame.loc[0, "id"] == "00000"  # independent frames, no shared cache
    assert not hasattr(first, "data")


def test_04_row_and_column_caps() -> None:
    many_rows = b"a,b\n" + b"1,2\n" * 50
    assert _error(many_rows, max_rows=10).key == "io.error.too_many_rows"
    wide = ",".join(f"c{i}" for i in range(30)).encode() + b"\n" + b",".join([b"1"] * 30)
    error = _error(wide, max_columns=20)
    assert error.key == "io.error.too_many_columns"
    assert error.params["limit"] == "20"
    wide_sheet = _xlsx({"S": [[f"c{i}" for i in range(30)], list(range(30))]})
    assert _error(wide_sheet, "w.xlsx", max_columns=20).key == "io.error.too_many_columns"


# ----------------------------------------------------------------------------------------------
# 5: extension versus content


def test_05_xlsx_renamed_csv_is_read_as_excel_with_a_message() -> None:
    data = _xlsx({"S": [["id", "v"], ["001", 2]]})
    assert sniff_kind(data, "report.csv") == "excel"
    result = read_file(data, "report.csv")
    assert result.report.kind == "excel"
    assert result.report.warnings[0][0] == "io.warn.looks_like_excel"
    assert "Excel" in result.report.messages()[0]
    assert result.frame["id"].tolist() == ["001"]


def test_05_csv_renamed_xlsx_is_read_as_csv_with_a_warning() -> None:
    result = read_file(b"a,b\n1,2\n", "data.xlsx")
    assert result.report.kind == "csv"
    assert ("io.warn.looks_like_text", {"ext": "xlsx"}) in result.report.warnings


def test_05_parquet_detected_by_magic() -> None:
    buffer = io.BytesIO()
    pd.DataFrame({"id": ["007"], "n": [1]}).to_parquet(buffer)
    assert sniff_kind(buffer.getvalue(), "data.csv") == "parquet"
    result = read_file(buffer.getvalue(), "data.csv")
    assert result.report.kind == "parquet"
    assert result.report.warnings[0][0] == "io.warn.looks_like_parquet"


def test_05_random_bytes_are_refused() -> None:
    noise = random.Random(0).randbytes(4096)
    for name in ("x.csv", "x.xlsx", "x"):
        error = _error(noise, name)
        assert error.key in {"io.error.binary", "io.error.decode"}
        _keys_exist(error)


@pytest.mark.parametrize(
    ("data", "key"),
    [
        (b"%PDF-1.7\n...", "io.error.binary_format"),
        (b"SQLite format 3\x00" + b"\x00" * 100, "io.error.binary_format"),
        (
            gzip.compress(gzip.compress(b"a,b\n1,2\n", mtime=0), mtime=0),
            "io.error.nested_compression",
        ),
        (b"\x1f\x8b\x08\x00garbage", "io.error.gzip_corrupt"),
    ],
)
def test_05_other_binaries_are_refused(data: bytes, key: str) -> None:
    error = _error(data, "x.csv")
    assert error.key == key
    _keys_exist(error)


def test_05_plain_zip_archive_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("data.csv", "a,b\n1,2\n")
    assert _error(buffer.getvalue(), "data.zip.csv").key == "io.error.zip_archive"


# ----------------------------------------------------------------------------------------------
# 6-7: zip bombs and XML entity bombs


def test_06_zip_ratio_bomb_is_refused_before_openpyxl(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _xlsx({"S": [["a"], [1]]})
    bomb = _rezip(data, {}, {"xl/media/padding.bin": b" " * 12_000_000})
    assert len(bomb) < 200_000

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("openpyxl opened a zip bomb")

    monkeypatch.setattr(openpyxl, "load_workbook", refuse)
    error = _error(bomb, "bomb.xlsx")
    assert error.key == "io.error.zip_ratio"
    assert "padding.bin" in error.message()
    _keys_exist(error)


def test_06_total_uncompressed_size_cap() -> None:
    data = _xlsx({"S": [["a"], [1]]})
    error = _error(data, "x.xlsx", max_unzipped_bytes=1_000)
    assert error.key == "io.error.zip_too_large"
    _keys_exist(error)


def test_06_too_many_zip_entries() -> None:
    data = _xlsx({"S": [["a"], [1]]})
    bomb = _rezip(data, {}, {f"xl/junk/{i}.txt": b"" for i in range(10_001)})
    assert _error(bomb, "x.xlsx").key == "io.error.zip_entries"


_DTD = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
)


def _entity_bomb(padding: int = 0) -> bytes:
    data = _xlsx({"S": [["a", "b"], ["x", "y"]]})
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    head = _DTD[:21] + b"<!--" + b" " * padding + b"-->" + _DTD[21:] if padding else _DTD
    return _rezip(data, {"xl/worksheets/sheet1.xml": head + sheet.replace(b">x<", b">&lol2;<")})


def test_07_xml_entity_declarations_are_refused() -> None:
    error = _error(_entity_bomb(), "bomb.xlsx")
    assert error.key == "io.error.xml_unsafe"
    assert "sheet1.xml" in error.message()
    _keys_exist(error)


def test_07_defusedxml_makes_openpyxl_refuse_entities_itself() -> None:
    """The second line of defence: with defusedxml installed, openpyxl rejects the DTD."""
    import defusedxml  # noqa: F401  (installed via requirements.txt)

    assert openpyxl.DEFUSEDXML is True
    with pytest.raises(Exception) as info:
        openpyxl.load_workbook(io.BytesIO(_entity_bomb()), read_only=True)
    chain = []
    cause: BaseException | None = info.value
    while cause is not None:
        chain.append(type(cause).__module__)
        cause = cause.__cause__ or cause.__context__
    assert any(name.startswith("defusedxml") for name in chain)


def test_07_entity_hidden_after_a_long_comment_is_still_refused() -> None:
    assert _error(_entity_bomb(padding=100_000), "bomb.xlsx").key == "io.error.xml_unsafe"


# ----------------------------------------------------------------------------------------------
# 8: refused formats, pickle never parsed


@pytest.mark.parametrize("ext", ["pkl", "pickle", "joblib", "npy", "npz"])
def test_08_pickle_like_extensions_are_never_parsed(
    ext: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pickle

    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("pickle parsed"))
    monkeypatch.setattr(pd, "read_pickle", lambda *a, **k: pytest.fail("pickle parsed"))
    error = _error(pickle.dumps({"a": 1}), f"model.{ext}")
    assert error.key == "io.error.pickle"
    _keys_exist(error)


def test_08_pickle_content_with_csv_name_is_refused() -> None:
    import pickle

    error = _error(pickle.dumps(pd.DataFrame({"a": [1]})), "innocent.csv")
    assert error.key == "io.error.pickle"
    np_buffer = io.BytesIO()
    np.save(np_buffer, np.arange(3))
    assert _error(np_buffer.getvalue(), "x.csv").key == "io.error.pickle"


@pytest.mark.parametrize("ext", ["xlsm", "xls", "ods", "xlsb"])
def test_08_macro_legacy_and_ods_extensions_are_refused(ext: str) -> None:
    error = _error(_xlsx({"S": [["a"], [1]]}), f"book.{ext}")
    assert error.key == "io.error.format_not_accepted"
    assert error.params["ext"] == ext
    _keys_exist(error)


def test_08_legacy_ole_content_is_refused() -> None:
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512
    assert _error(ole, "old.xlsx").key == "io.error.legacy_office"
    assert _error(ole, "old.csv").key == "io.error.legacy_office"


def test_08_macro_and_ods_content_is_refused_whatever_the_name() -> None:
    macro = _rezip(_xlsx({"S": [["a"], [1]]}), {}, {"xl/vbaProject.bin": b"\x00VBA"})
    assert _error(macro, "innocent.xlsx").params["ext"] == "xlsm"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<x/>")
    assert _error(buffer.getvalue(), "sheet.xlsx").params["ext"] == "ods"


def test_08_json_is_not_a_table() -> None:
    assert _error(b'{"a": 1}\n', "x.json").key == "io.error.format_not_accepted"


# ----------------------------------------------------------------------------------------------
# 9-10: sheets, header rows, formulas


def _report_book() -> bytes:
    return _xlsx(
        {
            "Orders": [
                ["Sales report Q1"],
                [],
                ["id", "date", "amount", "qty", "flag", None, "total"],
                ["00123", dt.datetime(2024, 1, 2), 1.5, 3, True, None, "=C4*D4"],
                ["00124", dt.datetime(2024, 1, 2, 10, 30), 2.0, 4.0, False, "x", "=C5*D5"],
                [None] * 7,
            ],
            "Customers": [["customer_id", "city"], ["0001", "Shanghai"]],
        }
    )


def test_09_default_sheet_is_not_silent_and_title_rows_are_detected() -> None:
    result = read_file(_report_book(), "book.xlsx")
    report = result.report
    assert report.kind == "excel"
    assert report.sheets == ["Orders", "Customers"]
    assert report.sheet == "Orders"
    assert report.header_row == 3
    keys = [key for key, _ in report.warnings]
    assert "io.warn.many_sheets" in keys and "io.warn.title_rows" in keys
    assert "2 sheets" in " ".join(report.messages())
    assert "Customers" in " ".join(report.messages("zh"))
    assert list(result.frame.columns) == [
        "id",
        "date",
        "amount",
        "qty",
        "flag",
        "column_6",
        "total",
    ]
    assert report.rows_read == 2


def test_09_cells_are_read_as_text() -> None:
    frame = read_file(_report_book(), "book.xlsx").frame
    assert all(str(dtype) == "str" for dtype in frame.dtypes)
    assert frame["id"].tolist() == ["00123", "00124"]
    assert frame["date"].tolist() == ["2024-01-02", "2024-01-02 10:30:00"]
    assert frame["amount"].tolist() == ["1.5", "2"]
    assert frame["qty"].tolist() == ["3", "4"]
    assert frame["flag"].tolist() == ["TRUE", "FALSE"]
    assert frame["column_6"].isna().tolist() == [True, False]


def test_09_user_picks_sheet_and_header_row() -> None:
    by_name = read_file(_report_book(), "b.xlsx", ReadOptions(sheet="Customers"))
    assert by_name.report.sheet == "Customers"
    assert by_name.frame.to_dict("list") == {"customer_id": ["0001"], "city": ["Shanghai"]}
    assert not any(key == "io.warn.many_sheets" for key, _ in by_name.report.warnings)
    by_index = read_file(_report_book(), "b.xlsx", ReadOptions(sheet=1))
    assert by_index.report.sheet == "Customers"
    first_row = read_file(_report_book(), "b.xlsx", ReadOptions(header_row=1))
    assert first_row.report.header_row == 1
    assert first_row.frame.columns[0] == "Sales report Q1"
    missing = _error(_report_book(), "b.xlsx", sheet="Nope")
    assert missing.key == "io.error.sheet_not_found"
    assert "Customers" in missing.message()
    assert _error(_report_book(), "b.xlsx", header_row=99).key == "io.error.header_row"


def test_09_csv_title_rows_and_header_row_option() -> None:
    data = b"Monthly export\n\nid,name\n001,a\n002,b\n"
    result = read_file(data, "t.csv")
    assert result.report.header_row == 3
    assert result.frame.to_dict("list") == {"id": ["001", "002"], "name": ["a", "b"]}
    assert result.report.warnings[0][0] == "io.warn.title_rows"
    excel_style = read_file(b"Report,,\nid,a,b\n1,2,3\n", "t.csv")
    assert excel_style.report.header_row == 2
    chosen = read_file(b"junk;line\nid;v\n1;2\n", "t.csv", ReadOptions(header_row=2))
    assert chosen.frame.to_dict("list") == {"id": ["1"], "v": ["2"]}
    assert chosen.report.header_row == 2


def test_10_formula_cells_without_cached_values_are_counted() -> None:
    result = read_file(_report_book(), "book.xlsx")
    warnings = dict(result.report.warnings)
    assert warnings["io.warn.formula_no_value"] == {"count": "2"}
    assert "2 formula cells had no values" in " ".join(result.report.messages())
    assert result.frame["total"].isna().all()


def test_10_formulas_with_cached_values_are_read_without_warning() -> None:
    data = _xlsx({"S": [["a", "b", "t"], [1, 2, "=A2+B2"]]})
    cached = _patch_sheet(data, lambda x: x.replace(b"<f>A2+B2</f><v />", b"<f>A2+B2</f><v>3</v>"))
    result = read_file(cached, "c.xlsx")
    assert result.frame["t"].tolist() == ["3"]
    assert result.report.warnings == []
    assert read_file(data, "c.xlsx").report.warnings[0][0] == "io.warn.formula_no_value"


def test_10_no_formula_warning_for_plain_values() -> None:
    result = read_file(_xlsx({"S": [["a"], [1], [2]]}), "x.xlsx")
    assert result.report.warnings == []


def _patch_sheet(data: bytes, change: Callable[[bytes], bytes]) -> bytes:
    sheet = zipfile.ZipFile(io.BytesIO(data)).read("xl/worksheets/sheet1.xml")
    return _rezip(data, {"xl/worksheets/sheet1.xml": change(sheet)})


def test_09_wrong_declared_dimension_does_not_cut_columns() -> None:
    data = _xlsx({"S": [["a", "b", "c"], [1, 2, 3]]})
    lying = _patch_sheet(
        data, lambda x: re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1"', x)
    )
    assert b'<dimension ref="A1"' in zipfile.ZipFile(io.BytesIO(lying)).read(
        "xl/worksheets/sheet1.xml"
    )
    assert read_file(lying, "x.xlsx").frame.to_dict("list") == {"a": ["1"], "b": ["2"], "c": ["3"]}


def test_09_cell_in_the_last_column_hits_the_column_cap() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["a", "b"])
    sheet.append([1, 2])
    sheet["XFD2"] = "far away"
    buffer = io.BytesIO()
    workbook.save(buffer)
    error = _error(buffer.getvalue(), "wide.xlsx")
    assert error.key == "io.error.too_many_columns"


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: _patch_sheet(
            data, lambda x: x.replace(b"</sheetData>", b"<row><c></sheetData>")
        ),
    ],
)
def test_09_damaged_workbooks_give_a_clear_error(damage: Callable[[bytes], bytes]) -> None:
    error = _error(damage(_xlsx({"S": [["a"], [1], [2]]})), "broken.xlsx")
    assert error.key == "io.error.excel_corrupt"
    _keys_exist(error)


# ----------------------------------------------------------------------------------------------
# 11-13: encodings


def test_11_utf8_bom_never_reaches_headers() -> None:
    result = read_file(codecs.BOM_UTF8 + "客户编号,城市\n001,北京\n".encode(), "bom.csv")
    assert result.report.columns == ["客户编号", "城市"]
    assert result.report.encoding == "utf-8-sig"
    assert all("\ufeff" not in c for c in result.frame.columns)


def test_11_bom_character_inside_data_is_data() -> None:
    """Only the file's leading BOM is removed; U+FEFF starting a data cell is kept as text."""
    result = read_file(codecs.BOM_UTF8 + "a,b\n\ufeffx,1\n".encode(), "b.csv")
    assert result.frame.to_dict("list") == {"a": ["\ufeffx"], "b": ["1"]}


def test_11_utf16_with_bom_is_decoded() -> None:
    data = "id\tname\n001\t张三\n".encode("utf-16")
    result = read_file(data, "excel-unicode.txt")
    assert result.report.encoding == "utf-16"
    assert result.frame.to_dict("list") == {"id": ["001"], "name": ["张三"]}


@pytest.mark.parametrize("codec", ["gbk", "gb18030", "gb2312"])
def test_12_gbk_chinese_csv_is_decoded_and_reported(codec: str) -> None:
    text = "客户编号,姓名,城市,金额\n00017,张三,北京,12.5\n00018,李四,上海,7\n"
    result = read_file(text.encode(codec), "客户.csv")
    assert result.report.encoding == "gb18030"
    assert result.frame["姓名"].tolist() == ["张三", "李四"]
    assert result.frame["客户编号"].tolist() == ["00017", "00018"]
    assert result.report.warnings[0] == ("io.warn.encoding_fallback", {"encoding": "GB18030"})


def test_12_encoding_override() -> None:
    data = "name,city\nJosé,Málaga\n".encode("cp1252")
    result = read_file(data, "es.csv", ReadOptions(encoding="cp1252"))
    assert result.frame["name"].tolist() == ["José"]
    assert result.report.encoding == "cp1252"
    with pytest.raises(InputError) as info:
        ReadOptions(encoding="no-such-codec")
    assert info.value.key == "io.error.unknown_encoding"
    wrong = _error("名字\n张三\n".encode("gbk"), "x.csv", encoding="utf-8")
    assert wrong.key == "io.error.decode_override"
    assert wrong.params["offset"] == 0


def test_13_undecodable_bytes_name_the_offset_and_never_replace() -> None:
    data = b"id,name\n1,ok\n2,\xff\xff\xff\n"
    error = _error(data)
    assert error.key == "io.error.decode"
    assert error.params["offset"] == data.index(b"\xff")
    assert error.params["line"] == 3
    assert "offset 15" in error.message() and "line 3" in error.message()
    _keys_exist(error)


def test_13_no_latin1_or_replacement_fallback() -> None:
    """cp1252 text that is not GB18030 either fails loudly instead of turning into mojibake."""
    data = b"name\nna\xefve\x80\n"
    error = _error(data)
    assert error.key == "io.error.decode"


# ----------------------------------------------------------------------------------------------
# 14-16: delimiters, decimal comma, single column, broken rows


@pytest.mark.parametrize("delimiter", DELIMITERS)
def test_14_delimiter_is_sniffed(delimiter: str) -> None:
    rows = [["id", "name", "note"], ["001", "a b", "x"], ["002", "c", "y z"]]
    data = "\n".join(delimiter.join(r) for r in rows).encode()
    result = read_file(data, "x.txt")
    assert result.report.delimiter == delimiter
    assert result.frame["id"].tolist() == ["001", "002"]


def test_14_decimal_comma_is_detected_and_reported() -> None:
    data = b"kunde;betrag;anzahl;datum\n001;1,5;2;01.02.2024\n002;1.234,75;3;02.02.2024\n"
    result = read_file(data, "de.csv")
    assert result.report.delimiter == ";"
    assert result.report.decimal == ","
    key, params = result.report.warnings[0]
    assert key == "io.warn.decimal_comma"
    assert "betrag" in params["columns"] and "anzahl" not in params["columns"]
    assert result.frame["betrag"].tolist() == ["1,5", "1.234,75"]  # still text here


def test_14_delimiter_override_and_invalid_overrides() -> None:
    result = read_file(b"a:b\n1:2\n", "x.txt", ReadOptions(delimiter=":"))
    assert result.frame.to_dict("list") == {"a": ["1"], "b": ["2"]}
    assert ReadOptions(delimiter="\\t").delimiter == "\t"
    for bad in ("x", "ab", '"', "\n", "1"):
        with pytest.raises(InputError) as info:
            ReadOptions(delimiter=bad)
        assert info.value.key == "io.error.bad_delimiter"
        _keys_exist(info.value)
    for options in ({"kind": "pdf"}, {"header_row": 0}, {"max_rows": 0}):
        with pytest.raises(InputError):
            ReadOptions(**options)


@pytest.mark.parametrize(
    "data",
    [
        b"email\nanna@example.com\nbo@example.com\n",
        b"name\nSmith, John\nDoe\nLee, Ann\n",
        b"customer name\nJohn Smith\nJane Doe\nAl Bo\n",
        b"note\nuse; not split\nfine\n",
    ],
)
def test_15_single_column_is_not_mis_split(data: bytes) -> None:
    result = read_file(data, "one.csv")
    assert len(result.frame.columns) == 1
    assert result.report.rows_read == len(data.strip().split(b"\n")) - 1
    assert result.report.kind == "csv"


def test_16_unclosed_quote_names_the_line() -> None:
    for data in (b'a,b\n1,2\n3,"oops\n4,5\n6,7\n', b'a,b\n1,2\n3,"oops\n4,5\n'):
        error = _error(data)
        assert error.key == "io.error.unclosed_quote"
        assert error.params["line"] == 3
        assert "line 3" in error.message()
        _keys_exist(error)


def test_16_quoted_newlines_are_fine() -> None:
    result = read_file(b'id,comment\n1,"two\nlines"\n2,"say ""hi"""\n', "q.csv")
    assert result.frame["comment"].tolist() == ["two\nlines", 'say "hi"']


def test_16_ragged_rows_are_skipped_counted_and_located() -> None:
    lines = [b"id,name"] + [b"%03d,n%d" % (i, i) for i in range(20)]
    lines[5] += b",extra"
    lines[12] = b"lonely"
    result = read_file(b"\n".join(lines) + b"\n", "r.csv")
    report = result.report
    assert report.rows_skipped == 2
    assert report.skipped_lines == [6, 13]
    assert report.rows_read == 18
    assert report.warnings[0][0] == "io.warn.rows_skipped"
    assert "6, 13" in report.messages()[0]


def test_16_one_stray_row_in_a_small_file_is_skipped_not_misread() -> None:
    result = read_file(b"Title\na,b\n1,2\n1,2,3\n4,5\n", "small.csv")
    assert result.report.kind == "csv"
    assert result.report.header_row == 2
    assert result.report.skipped_lines == [4]
    assert result.frame.to_dict("list") == {"a": ["1", "4"], "b": ["2", "5"]}


def test_16_skipped_lines_are_physical_lines() -> None:
    data = b'a,b\r\n\r\n1,"multi\r\nline"\r\n4,5,6\r\n6,7\r\n8,9\r\n10,11\r\n4,5,6\r\n'
    assert read_file(data, "l.csv").report.skipped_lines == [5, 9]


def test_16_mostly_ragged_rows_are_an_error() -> None:
    error = _error(b"a,b\n1,2,3\n4,5,6\n7,8,9\n")
    assert error.key == "io.error.ragged"
    assert error.params == {"expected": 2, "line": 2, "found": 3}
    _keys_exist(error)


def test_16_nul_bytes_name_the_line() -> None:
    error = _error(b"a,b\n1,2\n3,\x004\n")
    assert error.key == "io.error.nul_byte"
    assert error.params == {"offset": 10, "line": 3}
    _keys_exist(error)


def test_16_trailing_delimiter_on_every_row_is_tolerated() -> None:
    result = read_file(b"a,b\n1,2,\n3,4,\n", "t.csv")
    assert result.frame.to_dict("list") == {"a": ["1", "3"], "b": ["2", "4"]}


def test_16_line_endings() -> None:
    for data in (b"a,b\r\n1,2\r\n", b"a,b\r1,2\r", b"a,b\n1,2"):
        assert read_file(data, "e.csv").frame.to_dict("list") == {"a": ["1"], "b": ["2"]}


# ----------------------------------------------------------------------------------------------
# 18-19: duplicate headers, identifiers as text


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (b"id,amount,amount\n1,2,3\n", "d.csv"),
        (b"id;id\n1;2\n", "d.csv"),
        (_xlsx({"S": [["x", "y", "x"], [1, 2, 3]]}), "d.xlsx"),
    ],
)
def test_18_duplicate_columns_are_refused_not_renamed(data: bytes, name: str) -> None:
    error = _error(data, name)
    assert error.key == "io.error.duplicate_columns"
    assert "," in error.params["positions"]  # both positions are named
    _keys_exist(error)


def test_18_empty_header_names_get_generated_names_and_a_warning() -> None:
    result = read_file(b"id,,name,\n1,2,3,4\n", "e.csv")
    assert result.report.columns == ["id", "column_2", "name", "column_4"]
    assert result.report.warnings == [
        ("io.warn.empty_headers", {"count": 2, "names": "column_2, column_4"})
    ]


def test_19_ids_keep_leading_zeros_and_nothing_is_typed() -> None:
    data = b"customer_id,zip,amount,flag\n00123,01234,1.50,NA\n123,1234,2,null\n0,00,,nan\n"
    frame = read_file(data, "ids.csv").frame
    assert frame["customer_id"].tolist() == ["00123", "123", "0"]
    assert frame["zip"].tolist() == ["01234", "1234", "00"]
    assert frame["amount"].tolist()[:2] == ["1.50", "2"]
    assert pd.isna(frame["amount"].iloc[2])  # only truly empty cells are missing
    assert frame["flag"].tolist() == ["NA", "null", "nan"]
    assert all(str(dtype) == "str" for dtype in frame.dtypes)
    assert frame["customer_id"].nunique() == 3


def test_19_parquet_columns_become_text_and_nulls_stay_missing() -> None:
    source = pd.DataFrame(
        {
            "id": ["001", "002", None],
            "n": [1, 2, 3],
            "whole": [17850.0, np.nan, 12680.0],
            "price": [1.5, 2.25, None],
            "when": pd.to_datetime(["2020-01-01 00:00", "2020-01-02 10:00", None]),
        }
    )
    buffer = io.BytesIO()
    source.to_parquet(buffer)
    result = read_file(buffer.getvalue(), "x.parquet")
    frame = result.frame
    assert result.report.kind == "parquet"
    assert all(str(dtype) == "str" for dtype in frame.dtypes)
    assert frame["id"].tolist()[:2] == ["001", "002"] and pd.isna(frame["id"].iloc[2])
    assert frame["n"].tolist() == ["1", "2", "3"]
    assert frame["whole"].tolist()[0] == "17850" and pd.isna(frame["whole"].iloc[1])
    assert frame["price"].tolist()[:2] == ["1.5", "2.25"]
    assert frame["when"].tolist()[:2] == ["2020-01-01 00:00:00", "2020-01-02 10:00:00"]
    assert _error(b"PAR1 not really", "x.parquet").key == "io.error.parquet_corrupt"


# ----------------------------------------------------------------------------------------------
# 43: file names are display-only


def test_43_file_names_are_display_only(monkeypatch: pytest.MonkeyPatch) -> None:
    read_file(b"a,b\n1,2\n", "warmup.csv")  # import lazily loaded modules first
    read_file(_xlsx({"S": [["a"], [1]]}), "warmup.xlsx")

    def no_filesystem(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"filesystem touched: {args!r}")

    names = ("../../etc/passwd.csv", "/dev/zero.csv", "C:\\Windows\\x.csv", "..\\..\\a.csv")
    book = _xlsx({"S": [["a"], [1]]})
    with monkeypatch.context() as patch:
        patch.setattr(builtins, "open", no_filesystem)
        patch.setattr(io, "open", no_filesystem)
        patch.setattr(os, "open", no_filesystem)
        results = [read_file(b"a,b\n1,2\n", name) for name in names]
        xlsx = read_file(book, "../../evil.xlsx")
    assert [r.report.filename for r in results] == list(names)
    assert xlsx.report.kind == "excel"


def test_43_odd_names_are_cleaned_and_truncated() -> None:
    odd = "report\x00\x1b[31m\u202egpj.csv\n" + "长" * 400 + ".csv"
    shown = display_name(odd)
    assert len(shown) <= 200
    assert not any(ch in shown for ch in "\x00\x1b\u202e\n")
    assert shown.endswith(".csv")
    result = read_file(b"a,b\n1,2\n", odd)
    assert result.report.filename == shown
    assert display_name("") == "unnamed"
    assert read_file(b"a,b\n1,2\n", "").report.filename == "unnamed"


# ----------------------------------------------------------------------------------------------
# Kinds: basket, whitespace, gzip, overrides


def test_basket_file_becomes_long_format() -> None:
    data = (
        b"citrus fruit,semi-finished bread,margarine\n"
        b"yogurt,coffee\nwhole milk\nbeer,soda,cream cheese ,x\n"
    )
    assert sniff_kind(data, "groceries.csv") == "basket"
    result = read_file(data, "groceries.csv")
    assert result.report.kind == "basket"
    assert list(result.frame.columns) == ["order_id", "item"]
    assert result.frame["order_id"].tolist()[:4] == ["B000001"] * 3 + ["B000002"]
    assert result.frame["order_id"].nunique() == 4
    assert "cream cheese " in result.frame["item"].tolist()
    assert result.report.warnings[0][0] == "io.warn.basket"


def test_basket_kind_override() -> None:
    result = read_file(b"a,b\nc,d\n", "b.csv", ReadOptions(kind="basket"))
    assert result.frame.to_dict("list") == {
        "order_id": ["B000001", "B000001", "B000002", "B000002"],
        "item": ["a", "b", "c", "d"],
    }


def test_whitespace_columns_keep_leading_zeros() -> None:
    data = (
        b" 00001 19970101  1   11.77\r\n"
        b" 00002 19970112  1   12.00\r\n"
        b" 00002 19970112  5   77.00\r\n"
    )
    assert sniff_kind(data, "CDNOW_master.txt") == "whitespace"
    result = read_file(data, "CDNOW_master.txt")
    assert result.report.kind == "whitespace"
    assert result.report.columns == ["column_1", "column_2", "column_3", "column_4"]
    assert result.frame["column_1"].tolist() == ["00001", "00002", "00002"]
    assert result.frame["column_4"].tolist() == ["11.77", "12.00", "77.00"]
    headed = read_file(b" customer_id  date amount\n 001 19970101 1.5\n 002 19970102 2\n", "h.txt")
    assert headed.report.columns == ["customer_id", "date", "amount"]
    assert headed.report.header_row == 1


def test_gzip_is_transparent() -> None:
    data = gzip.compress("id;名字\n007;王五\n".encode())
    assert sniff_kind(data, "x.csv.gz") == "csv"
    result = read_file(data, "x.csv.gz")
    assert result.report.compression == "gzip"
    assert result.frame.to_dict("list") == {"id": ["007"], "名字": ["王五"]}


def test_kind_override_must_match_content() -> None:
    assert _error(b"a,b\n1,2\n", "x.csv", kind="excel").key == "io.error.kind_mismatch"


def test_report_is_json_ready_and_translatable() -> None:
    import json

    result = read_file(b"a;b\n1,5;2\n", "x.csv")
    payload = json.loads(json.dumps(result.report.to_dict()))
    assert payload["delimiter"] == ";" and payload["warnings"][0][0] == "io.warn.decimal_comma"
    assert result.report.messages("zh")[0].startswith("列")
    assert isinstance(LoadReport(filename="x").warnings, list)


def test_every_io_key_is_translated() -> None:
    en, zh = catalog("en"), catalog("zh")
    io_keys = [key for key in en if key.startswith("io.")]
    assert len(io_keys) > 40
    for key in io_keys:
        assert key in zh and zh[key] != en[key]
    assert t("io.error.empty", "zh", filename="a.csv") == "文件“a.csv”是空的（0 字节）。"


# ----------------------------------------------------------------------------------------------
# Property tests

_HEADER_CHARS = st.sampled_from(
    list("abcdefghijklmnopqrstuvwxyzABCXYZ0123456789_ ") + list("客户金额城市")
)
_HEADERS = st.text(_HEADER_CHARS, min_size=1, max_size=8).filter(lambda s: s.strip() != "")
_VALUES = st.text(st.characters(blacklist_categories=("Cc", "Cs", "Co")), min_size=1, max_size=12)


@st.composite
def _frames(draw: st.DrawFn, values: st.SearchStrategy[str] = _VALUES) -> pd.DataFrame:
    ncols = draw(st.integers(min_value=2, max_value=5))
    names = draw(st.lists(_HEADERS, min_size=ncols, max_size=ncols, unique=True))
    nrows = draw(st.integers(min_value=1, max_value=15))
    columns = {name: draw(st.lists(values, min_size=nrows, max_size=nrows)) for name in names}
    return pd.DataFrame(columns, dtype="str")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=_frames(), delimiter=st.sampled_from(DELIMITERS), crlf=st.booleans())
def test_property_utf8_csv_round_trips(frame: pd.DataFrame, delimiter: str, crlf: bool) -> None:
    text = frame.to_csv(sep=delimiter, index=False, lineterminator="\r\n" if crlf else "\n")
    result = read_file(text.encode("utf-8"), "p.csv")
    assert result.report.delimiter == delimiter
    assert result.report.encoding == "utf-8"
    assert result.report.rows_skipped == 0
    pd.testing.assert_frame_equal(result.frame, frame, check_dtype=False)


_CJK_CHARS = list("客户张三李四王五北京上海金额订单数量退货满意度测试中文") + list("ab 1.")
_CJK = st.text(st.sampled_from(_CJK_CHARS), min_size=1, max_size=8)


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    frame=_frames(values=_CJK),
    delimiter=st.sampled_from(DELIMITERS),
    codec=st.sampled_from(["gb18030", "gbk"]),
)
def test_property_gb18030_csv_round_trips(frame: pd.DataFrame, delimiter: str, codec: str) -> None:
    data = frame.to_csv(sep=delimiter, index=False).encode(codec)
    assume(not _is_utf8(data))  # bytes valid in both encodings are genuinely ambiguous
    result = read_file(data, "p.csv")
    assert result.report.encoding == "gb18030"
    assert result.report.delimiter == delimiter
    pd.testing.assert_frame_equal(result.frame, frame, check_dtype=False)


@settings(max_examples=100, deadline=None)
@given(
    ids=st.lists(st.from_regex(r"0{1,4}[0-9]{1,6}", fullmatch=True), min_size=1, max_size=30),
    delimiter=st.sampled_from(DELIMITERS),
)
def test_property_leading_zero_ids_survive(ids: list[str], delimiter: str) -> None:
    data = ("customer_id" + delimiter + "n\n" + "".join(f"{i}{delimiter}1\n" for i in ids)).encode()
    assert read_file(data, "ids.csv").frame["customer_id"].tolist() == ids


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(
        st.text(st.sampled_from(list("abcXYZ019@._-客户")), min_size=1, max_size=10),
        min_size=1,
        max_size=30,
    )
)
def test_property_single_column_never_split(values: list[str]) -> None:
    data = ("value\n" + "\n".join(values) + "\n").encode()
    result = read_file(data, "one.csv")
    assert result.frame["value"].tolist() == values
    assert result.report.delimiter is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=3000))
def test_property_arbitrary_bytes_only_raise_input_error(data: bytes) -> None:
    try:
        result = read_file(data, "fuzz.csv")
    except InputError as error:
        assert error.key in catalog("en")
        return
    assert len(result.frame) > 0
    assert all(str(dtype) == "str" for dtype in result.frame.dtypes)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(st.sampled_from(list('ab1,;\t| "\n\r0.客')), max_size=300))
def test_property_arbitrary_delimited_text_only_raises_input_error(text: str) -> None:
    try:
        result = read_file(text.encode("utf-8"), "fuzz.csv")
    except InputError as error:
        assert error.key in catalog("en")
        return
    report = result.report
    assert report.delimiter in (*DELIMITERS, None, "whitespace")
    assert report.kind in ("csv", "basket", "whitespace")
    assert len(set(result.frame.columns)) == len(result.frame.columns)
