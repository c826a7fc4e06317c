"""Bytes in, DataFrame + LoadReport out: the one place where user files are sniffed and read.

Why this module exists: every page and CLI command needs the same answers to "what is this file,
which encoding, which delimiter, which sheet and header row, which rows were dropped" - and the
same refusals for files that are too large, unsafe (zip/XML bombs, pickles) or unreadable. Every
column is read as text (pandas ``str``) so IDs such as ``00123`` keep their zeros; typing happens
later in ``crm_core.schema``. File names are kept for display only and never touch the filesystem.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
import zipfile
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from crm_core.errors import InputError

__all__ = [
    "DELIMITERS",
    "KINDS",
    "LoadReport",
    "LoadResult",
    "ReadOptions",
    "display_name",
    "read_file",
    "read_path",
    "sniff_kind",
]

KINDS: tuple[str, ...] = ("csv", "excel", "parquet", "basket", "whitespace")
DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
MB = 1_000_000
_SAMPLE_CHARS = 65_536
_SAMPLE_RECORDS = 200
_TITLE_SCAN = 20
_MAX_ZIP_ENTRIES = 10_000
_ZIP_RATIO_LIMIT = 100
_ZIP_RATIO_MIN_SIZE = 10 * MB
_LISTED_LINES = 20
_MAX_CELLS = 50_000_000
_HINT_OPTIONS = "hint.change_parameters"

_PICKLE_EXTS = frozenset({"pkl", "pickle", "joblib", "npy", "npz", "dill", "pt", "pth"})
_NOT_TABLE_EXTS = frozenset({"json", "jsonl", "ndjson", "xml", "html", "htm", "zip", "pdf"})
_REFUSED_EXTS = frozenset({"xls", "xlsm", "xlsb", "xltm", "ods", "numbers"})
_EXCEL_EXTS = frozenset({"xlsx", "xltx"})

_MAGIC_GZIP = b"\x1f\x8b"
_MAGIC_ZIP = b"PK\x03\x04"
_MAGIC_PARQUET = b"PAR1"
_MAGIC_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_MAGIC_NUMPY = b"\x93NUMPY"
_BINARY_MAGICS: tuple[tuple[bytes, str], ...] = (
    (b"%PDF", "PDF"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"7z\xbc\xaf\x27\x1c", "7-Zip"),
    (b"Rar!", "RAR"),
    (b"SQLite format 3\x00", "SQLite"),
    (b"ARROW1", "Arrow/Feather"),
    (b"\x89PNG", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
)

_NUMERIC = re.compile(r"[+-]?(?:\d+(?:[.,]\d+)*|\.\d+)(?:[eE][+-]?\d+)?")
_DECIMAL_COMMA = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+),\d+")
_DOT_DECIMAL = re.compile(r"[+-]?\d*\.\d+")
_NOT_BLANK = re.compile(rb"[^ \t\n\r\x0b\x0c]")  # what bytes.strip() keeps
_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")
_XML_DANGER = re.compile(rb"<!(?:DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclass(frozen=True)
class ReadOptions:
    """How to read one file; every field left as None is detected and shown in the report.

    ``header_row`` is 1-based, as editors and Excel number rows (lines for text files).
    ``sheet`` is a sheet name or a 0-based position. Caps protect memory and time.
    """

    delimiter: str | None = None
    encoding: str | None = None
    sheet: str | int | None = None
    header_row: int | None = None
    kind: str | None = None
    max_bytes: int = 500 * MB
    max_rows: int = 5_000_000
    max_columns: int = 2_000
    max_unzipped_bytes: int = 1_000 * MB

    def __post_init__(self) -> None:
        if self.delimiter == "\\t":
            object.__setattr__(self, "delimiter", "\t")
        delim = self.delimiter
        if delim is not None and (
            len(delim) != 1 or delim.isalnum() or delim in "\"'\r\n" or delim == " "
        ):
            _bad_option("io.error.bad_delimiter", delim)
        if self.kind is not None and self.kind not in KINDS:
            _bad_option("io.error.bad_kind", self.kind, kinds=", ".join(KINDS))
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise InputError(
                    "io.error.unknown_encoding",
                    hint="io.hint.encoding_names",
                    encoding=self.encoding,
                ) from None
        if self.header_row is not None and (
            not isinstance(self.header_row, int) or self.header_row < 1
        ):
            _bad_option("io.error.bad_header_row", self.header_row)
        for name in ("max_bytes", "max_rows", "max_columns", "max_unzipped_bytes"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                _bad_option("io.error.bad_limit", value, option=name)


@dataclass
class LoadReport:
    """What was read and how, so the default choices are never silent.

    ``header_row`` is 1-based; ``skipped_lines`` lists the first skipped line numbers (1-based).
    ``warnings`` holds (i18n key, params) pairs; translate them with :meth:`messages`.
    """

    filename: str
    kind: str = "csv"
    encoding: str | None = None
    delimiter: str | None = None
    decimal: str = "."
    sheet: str | None = None
    sheets: list[str] = field(default_factory=list)
    header_row: int | None = None
    rows_read: int = 0
    rows_skipped: int = 0
    skipped_lines: list[int] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    warnings: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    size_bytes: int = 0
    compression: str | None = None

    def warn(self, key: str, **params: Any) -> None:
        """Record a translated-later notice for the user."""
        self.warnings.append((key, params))

    def messages(self, lang: str = "en") -> list[str]:
        """The warnings as translated sentences."""
        from crm_core.i18n import t

        return [t(key, lang, **params) for key, params in self.warnings]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy (the workspace stores it next to the table)."""
        data = asdict(self)
        data["warnings"] = [[key, dict(params)] for key, params in self.warnings]
        return data


@dataclass
class LoadResult:
    """The frame (all columns text) and the report describing how it was read."""

    frame: pd.DataFrame
    report: LoadReport


@dataclass
class _Layout:
    """The shape of a delimited text: delimiter, header position and column count."""

    delimiter: str | None
    header_index: int
    header_line: int
    body_line: int
    ncols: int
    share: float
    matching: int = 0
    mismatched: int = 0
    trailing: bool = False
    header: list[str] = field(default_factory=list)


def _bad_option(key: str, value: Any, **params: Any) -> None:
    raise InputError(key, hint=_HINT_OPTIONS, value=repr(value), **params)


# ----------------------------------------------------------------------------------------------
# File names and kinds


def display_name(filename: str) -> str:
    """A file name safe to show: control/format characters removed, at most 200 characters.

    The name is user input (a browser sends whatever it likes), so it is only ever displayed.
    """
    text = "".join(
        ch
        for ch in str(filename)
        if unicodedata.category(ch) not in {"Cc", "Cf", "Cs", "Co", "Zl", "Zp"}
    ).strip()
    if len(text) > 200:
        text = text[:150] + "…" + text[-49:]
    return text or "unnamed"


def _extensions(filename: str) -> tuple[str, str]:
    """(outer, inner) lower-case extensions: 'data.csv.gz' -> ('gz', 'csv')."""
    base = re.split(r"[/\\]", filename)[-1].lower()
    parts = base.split(".")
    outer = parts[-1] if len(parts) > 1 else ""
    inner = parts[-2] if len(parts) > 2 else ""
    return outer, inner


def _content_ext(filename: str) -> str:
    outer, inner = _extensions(filename)
    return inner if outer == "gz" else outer


def _check_extension(ext: str) -> None:
    if ext in _PICKLE_EXTS:
        raise InputError("io.error.pickle", hint="io.hint.export_table", ext=ext)
    if ext in _REFUSED_EXTS:
        raise InputError("io.error.format_not_accepted", hint="io.hint.save_xlsx", ext=ext)
    if ext in _NOT_TABLE_EXTS:
        raise InputError("io.error.format_not_accepted", hint="io.hint.export_table", ext=ext)


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _binary_kind(head: bytes) -> str | None:
    """'excel'/'parquet' for supported binaries; raise for refused ones; None for text."""
    if head.startswith(_MAGIC_PARQUET):
        return "parquet"
    if head.startswith(_MAGIC_ZIP) or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head.startswith(_MAGIC_OLE2):
        raise InputError("io.error.legacy_office", hint="io.hint.save_xlsx")
    if head.startswith(_MAGIC_NUMPY) or (len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5):
        raise InputError("io.error.pickle", hint="io.hint.export_table", ext="pickle/npy")
    if head.startswith(_MAGIC_GZIP):
        raise InputError("io.error.nested_compression", hint="io.hint.export_table")
    for magic, name in _BINARY_MAGICS:
        if head.startswith(magic):
            raise InputError("io.error.binary_format", hint="io.hint.export_table", format=name)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None
    window = head[:8192]
    controls = sum(1 for b in window if b < 32 and b not in (9, 10, 12, 13, 26))
    if window and controls > max(0.05 * len(window), 8):
        offset = next(i for i, b in enumerate(window) if b < 32 and b not in (9, 10, 12, 13, 26))
        raise InputError("io.error.binary", hint="io.hint.export_table", offset=offset)
    return None


def _zip_kind(data: bytes) -> str:
    """Classify a zip: 'excel' for .xlsx; refuse macro workbooks, ODS and other archives."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = set(zf.namelist())
            if "mimetype" in names:
                with zf.open("mimetype") as member:
                    mime = member.read(200)
                if b"opendocument" in mime:
                    raise InputError(
                        "io.error.format_not_accepted", hint="io.hint.save_xlsx", ext="ods"
                    )
            if not any(n.startswith("xl/") for n in names):
                raise InputError("io.error.zip_archive", hint="io.hint.unzip")
            types = b""
            if "[Content_Types].xml" in names:
                with zf.open("[Content_Types].xml") as member:
                    types = member.read(1 << 20)
    except zipfile.BadZipFile as exc:
        raise InputError(
            "io.error.excel_corrupt", hint="io.hint.save_xlsx", detail=str(exc)
        ) from None
    if "xl/vbaProject.bin" in names or b"macroEnabled" in types:
        raise InputError("io.error.format_not_accepted", hint="io.hint.save_xlsx", ext="xlsm")
    return "excel"


def _gunzip(data: bytes, cap: int) -> bytes:
    """Decompress gzip (all members), refusing output larger than ``cap`` (gzip bombs)."""
    out = bytearray()
    rest = data
    try:
        while rest:
            engine = zlib.decompressobj(wbits=31)
            chunk = engine.decompress(rest, cap + 1 - len(out))
            if not out and engine.eof and not engine.unused_data:
                return chunk  # the common single-member file: no extra copy
            out += chunk
            if len(out) > cap:
                raise InputError(
                    "io.error.decompressed_too_large",
                    hint="io.hint.smaller_file",
                    limit_mb=_mb(cap),
                )
            if engine.unconsumed_tail:
                # Output limit hit exactly at the cap with input left: more data follows.
                raise InputError(
                    "io.error.decompressed_too_large",
                    hint="io.hint.smaller_file",
                    limit_mb=_mb(cap),
                )
            if not engine.eof:
                raise InputError("io.error.gzip_corrupt", detail="truncated")
            rest = engine.unused_data
            if rest and not rest.startswith(_MAGIC_GZIP):
                break
    except zlib.error as exc:
        raise InputError("io.error.gzip_corrupt", detail=str(exc)) from None
    return bytes(out)


def _mb(size: int) -> str:
    value = size / MB
    return f"{value:,.0f}" if value >= 10 else f"{value:,.2g}" if value < 1 else f"{value:,.1f}"


def sniff_kind(data: bytes, filename: str = "") -> str:
    """The kind of table in ``data``: 'csv', 'excel', 'parquet', 'basket' or 'whitespace'.

    Content beats extension; gzip is looked through. Refused formats raise InputError.
    """
    name = display_name(filename)
    _check_extension(_content_ext(name))
    if not data:
        raise InputError("io.error.empty", hint="io.hint.choose_file", filename=name)
    if data.startswith(_MAGIC_GZIP):
        try:
            data = zlib.decompressobj(wbits=31).decompress(data, 4 * _SAMPLE_CHARS)
        except zlib.error as exc:
            raise InputError("io.error.gzip_corrupt", detail=str(exc)) from None
        if not data:
            raise InputError("io.error.empty", hint="io.hint.choose_file", filename=name)
    kind = _binary_kind(data[:16384])
    if kind == "zip":
        return _zip_kind(data)
    if kind is not None:
        return kind
    head = data[: 4 * _SAMPLE_CHARS]
    text = _decode_prefix(head)
    if len(data) > len(head) and "\n" in text:
        text = text[: text.rfind("\n") + 1]  # never judge a line cut by the prefix
    return _text_kind(text, None)[0]


def _decode_prefix(head: bytes) -> str:
    """Decode a prefix for sniffing: strict, but a character cut at the end is not an error."""
    if head.startswith(codecs.BOM_UTF8):
        head = head[3:]
    candidates = (
        ("utf-16",)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
        else ("utf-8", "gb18030")
    )
    first: UnicodeDecodeError | None = None
    for encoding in candidates:
        try:
            return codecs.getincrementaldecoder(encoding)().decode(head, final=False)
        except UnicodeDecodeError as exc:
            first = first or exc
    assert first is not None
    raise InputError(
        "io.error.decode",
        hint="io.hint.choose_encoding",
        offset=first.start,
        line=_line_of(head, first.start),
    )


# ----------------------------------------------------------------------------------------------
# Public entry points


def read_path(path: str | Path, options: ReadOptions | None = None) -> LoadResult:
    """Read a file from disk (CLI convenience): size is checked before the bytes are loaded."""
    options = options or ReadOptions()
    path = Path(path)
    name = display_name(path.name)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise InputError("io.error.path_missing", hint="io.hint.choose_file", filename=name)
        if size > options.max_bytes:
            raise InputError(
                "io.error.too_large",
                hint="io.hint.smaller_file",
                size_mb=_mb(size),
                limit_mb=_mb(options.max_bytes),
            )
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(
            "io.error.path_missing", hint="io.hint.choose_file", filename=name
        ) from None
    except OSError as exc:
        raise InputError(
            "io.error.path_unreadable",
            hint="io.hint.choose_file",
            filename=name,
            detail=exc.strerror,
        ) from None
    return read_file(data, path.name, options)


def read_file(data: bytes, filename: str, options: ReadOptions | None = None) -> LoadResult:
    """Read one uploaded file into a text-only DataFrame plus a LoadReport.

    Raises InputError (with an i18n key) for anything that cannot or must not be read.
    """
    options = options or ReadOptions()
    name = display_name(filename)
    report = LoadReport(filename=name, size_bytes=len(data))
    if len(data) > options.max_bytes:
        raise InputError(
            "io.error.too_large",
            hint="io.hint.smaller_file",
            size_mb=_mb(len(data)),
            limit_mb=_mb(options.max_bytes),
        )
    ext = _content_ext(name)
    _check_extension(ext)
    if not data:
        raise InputError("io.error.empty", hint="io.hint.choose_file", filename=name)
    if data.startswith(_MAGIC_GZIP):
        data = _gunzip(data, options.max_bytes)
        report.compression = "gzip"
        if not data:
            raise InputError("io.error.empty", hint="io.hint.choose_file", filename=name)

    content = _binary_kind(data[:16384])
    if content == "zip":
        content = _zip_kind(data)
    if options.kind is not None:
        if content is not None and options.kind != content:
            raise InputError(
                "io.error.kind_mismatch", hint=_HINT_OPTIONS, kind=options.kind, actual=content
            )
        if content is None and options.kind in ("excel", "parquet"):
            raise InputError(
                "io.error.kind_mismatch", hint=_HINT_OPTIONS, kind=options.kind, actual="text"
            )

    if content == "excel":
        if ext and ext not in _EXCEL_EXTS:
            report.warn("io.warn.looks_like_excel", ext=ext)
        frame = _read_excel(data, report, options)
    elif content == "parquet":
        if ext and ext != "parquet":
            report.warn("io.warn.looks_like_parquet", ext=ext)
        frame = _read_parquet(data, report, options)
    else:
        if ext in _EXCEL_EXTS or ext == "parquet":
            report.warn("io.warn.looks_like_text", ext=ext)
        frame = _read_text(data, report, options)

    if len(frame) == 0:
        raise InputError("io.error.no_data_rows", hint="io.hint.add_rows", filename=name)
    if len(frame) > options.max_rows:
        raise InputError(
            "io.error.too_many_rows", hint="io.hint.smaller_file", limit=f"{options.max_rows:,}"
        )
    report.rows_read = len(frame)
    report.columns = [str(c) for c in frame.columns]
    return LoadResult(frame=frame, report=report)


# ----------------------------------------------------------------------------------------------
# Text: decoding


def _decode(data: bytes, report: LoadReport, options: ReadOptions) -> tuple[bytes, str]:
    """Return (UTF-8 payload, text) after a strict decode; never a lossy fallback."""
    if options.encoding:
        try:
            text = data.decode(options.encoding)
        except UnicodeDecodeError as exc:
            raise InputError(
                "io.error.decode_override",
                hint="io.hint.choose_encoding",
                encoding=options.encoding,
                offset=exc.start,
                line=_line_of(data, exc.start),
            ) from None
        report.encoding = codecs.lookup(options.encoding).name
        text = text.removeprefix("\ufeff")
        _check_nul_text(text)
        return text.encode("utf-8"), text
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(
                "io.error.decode_override",
                hint="io.hint.choose_encoding",
                encoding="UTF-16",
                offset=exc.start,
                line=_line_of(data, exc.start),
            ) from None
        report.encoding = "utf-16"
        text = text.removeprefix("\ufeff")
        _check_nul_text(text)
        return text.encode("utf-8"), text
    if data.startswith(codecs.BOM_UTF8):
        data = data[3:]
        report.encoding = "utf-8-sig"
    nul = data.find(b"\x00")
    if nul >= 0:
        raise InputError(
            "io.error.nul_byte", hint="io.hint.save_utf8", offset=nul, line=_line_of(data, nul)
        )
    try:
        text = data.decode("utf-8")
        report.encoding = report.encoding or "utf-8"
        return data, text
    except UnicodeDecodeError as exc:
        first = exc
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise InputError(
            "io.error.decode",
            hint="io.hint.choose_encoding",
            offset=first.start,
            line=_line_of(data, first.start),
        ) from None
    report.encoding = "gb18030"
    report.warn("io.warn.encoding_fallback", encoding="GB18030")
    text = text.removeprefix("\ufeff")
    return text.encode("utf-8"), text


def _check_nul_text(text: str) -> None:
    nul = text.find("\x00")
    if nul >= 0:
        raise InputError(
            "io.error.nul_byte",
            hint="io.hint.save_utf8",
            offset=nul,
            line=text.count("\n", 0, nul) + 1,
        )


# ----------------------------------------------------------------------------------------------
# Text: sniffing


def _sample(text: str) -> tuple[str, bool]:
    """The first ~64k characters cut at a line end; True when the sample is the whole text."""
    if len(text) <= _SAMPLE_CHARS:
        return text, True
    limit = _SAMPLE_CHARS
    while limit < len(text) and text.count("\n", 0, limit) < 30 and limit < 16 * _SAMPLE_CHARS:
        limit *= 2
    if limit >= len(text):
        return text, True
    head = text[:limit]
    cut = head.rfind("\n")
    return (head[: cut + 1] if cut > 0 else head), False


def _records(sample: str, delimiter: str, complete: bool) -> list[tuple[list[str], int, int]]:
    """Non-blank csv records of the sample with their (start, end) physical line numbers."""
    reader = csv.reader(io.StringIO(sample), delimiter=delimiter, quotechar='"', strict=False)
    out: list[tuple[list[str], int, int]] = []
    previous = 0
    try:
        for row in reader:
            end = reader.line_num
            if len(row) > 1 or (row and row[0].strip()):
                out.append((row, previous + 1, end))
            previous = end
            if len(out) > _SAMPLE_RECORDS:
                break
    except csv.Error:
        pass
    if not complete and len(out) > 1 and len(out) <= _SAMPLE_RECORDS:
        out.pop()  # the last record may be cut by the sample boundary
    return out


def _nonempty(row: list[str]) -> int:
    return sum(1 for cell in row if cell.strip())


def _header_index(rows: list[list[str]]) -> int:
    """First row that is not a title. A title row fills at most 2 cells, at most half of the
    widest row, and only its leading cells (a header with a few unnamed columns is no title)."""
    widths = [_nonempty(r) for r in rows[:50]]
    widest = max(widths, default=0)
    for i, width in enumerate(widths[:_TITLE_SCAN]):
        leading = all(cell.strip() for cell in rows[i][:width])
        if width * 2 > widest or width > 2 or not leading:
            return i
    return 0


def _layout(
    records: list[tuple[list[str], int, int]], delimiter: str, fixed_header: bool
) -> _Layout | None:
    """Header position (after title rows, unless the user fixed it) and field-count agreement."""
    if not records:
        return None
    rows = [r for r, _, _ in records]
    h = 0 if fixed_header else _header_index(rows)
    h = min(h, len(rows) - 1)
    header = rows[h]
    n = len(header)
    data = rows[h + 1 :]
    trailing = False
    matching = sum(1 for r in data if len(r) == n)
    extra = sum(1 for r in data if len(r) == n + 1 and not r[-1].strip())
    if extra > matching and extra >= 0.8 * len(data):
        matching, trailing = extra, True
    share = matching / len(data) if data else 1.0
    _, start, end = records[h]
    return _Layout(
        delimiter=delimiter,
        header_index=h,
        header_line=start,
        body_line=end + 1,
        ncols=n,
        share=share,
        matching=matching,
        mismatched=len(data) - matching,
        trailing=trailing,
        header=list(header),
    )


def _best_layout(
    sample: str, complete: bool, fixed_header: bool
) -> tuple[_Layout | None, _Layout | None]:
    """(consistent, fallback): the delimiter among , ; TAB | whose field counts agree with the
    header, and the best inconsistent candidate whose header still splits (for a clear error)."""
    best: tuple[tuple[Any, ...], _Layout] | None = None
    loose: tuple[tuple[Any, ...], _Layout] | None = None
    for priority, delimiter in enumerate(DELIMITERS):
        if delimiter not in sample:
            continue
        layout = _layout(_records(sample, delimiter, complete), delimiter, fixed_header)
        if layout is None or layout.ncols < 2:
            continue
        key = (-layout.header_index, round(layout.share, 2), layout.ncols, -priority)
        # Consistent: 80% of the sampled rows match the header, or a single stray row in a
        # small sample (one bad row is skipped and reported by the reader).
        if layout.share < 0.8 and not (layout.mismatched == 1 and layout.matching >= 2):
            if layout.header_index == 0 and (loose is None or key > loose[0]):
                loose = (key, layout)
        elif best is None or key > best[0]:
            best = (key, layout)
    return (best[1] if best else None), (loose[1] if loose else None)


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _is_basket(sample: str, complete: bool) -> bool:
    """Ragged comma rows without quotes: one basket per line (e.g. groceries.csv)."""
    lines = [ln for ln in _lines(sample) if ln.strip()]
    if not complete and len(lines) > 1:
        lines.pop()
    lines = lines[:_SAMPLE_RECORDS]
    if len(lines) < 3 or '"' in sample:
        return False
    counts = [ln.count(",") + 1 for ln in lines]
    with_comma = sum(1 for c in counts if c > 1)
    return with_comma * 2 >= len(lines) and len(set(counts)) >= 3


def _whitespace_layout(sample: str, complete: bool) -> tuple[int, bool] | None:
    """(columns, has_header) when lines are consistent whitespace-separated numbers (CDNOW)."""
    lines = [ln.split() for ln in _lines(sample) if ln.strip()]
    if not complete and len(lines) > 1:
        lines.pop()
    lines = lines[:_SAMPLE_RECORDS]
    if len(lines) < 2:
        return None
    first = lines[0]
    header = not any(_NUMERIC.fullmatch(tok) for tok in first)
    body = lines[1:] if header else lines
    counts = Counter(len(tokens) for tokens in body)
    width, freq = counts.most_common(1)[0]
    if width < 2 or freq < 0.9 * len(body):
        return None
    tokens = [tok for tokens in body for tok in tokens]
    numeric = sum(1 for tok in tokens if _NUMERIC.fullmatch(tok))
    if numeric * 2 < len(tokens):
        return None
    if header and not any(_NUMERIC.fullmatch(tok) for tokens in body for tok in tokens):
        return None
    return width, header


def _text_kind(text: str, options: ReadOptions | None) -> tuple[str, _Layout | None]:
    """Decide csv/basket/whitespace for decoded text and return the CSV layout when csv."""
    sample, complete = _sample(text)
    fixed_header = options is not None and options.header_row is not None
    if options is not None and options.kind in ("basket", "whitespace"):
        return options.kind, None
    if options is not None and options.delimiter is not None:
        records = _records(sample, options.delimiter, complete)
        return "csv", _layout(records, options.delimiter, fixed_header)
    layout, loose = _best_layout(sample, complete, fixed_header)
    forced = options is not None and options.kind == "csv"
    if layout is not None:
        return "csv", layout
    if not forced and _is_basket(sample, complete):
        return "basket", None
    if not forced and _whitespace_layout(sample, complete) is not None:
        return "whitespace", None
    # No consistent delimiter: a header that splits means ragged rows (reported with their
    # line numbers by the reader); otherwise the file is a single column.
    return "csv", loose


# ----------------------------------------------------------------------------------------------
# Text: reading


def _read_text(data: bytes, report: LoadReport, options: ReadOptions) -> pd.DataFrame:
    payload, text = _decode(data, report, options)
    if "\n" not in text[:_SAMPLE_CHARS] and "\r" in text[:_SAMPLE_CHARS]:
        text = text.replace("\r", "\n")  # classic Mac line ends
        payload = text.encode("utf-8")
    offset_line = 0
    if options.header_row is not None:
        start = _nth_line_start(payload, options.header_row)
        if start is None:
            raise InputError(
                "io.error.header_row",
                hint=_HINT_OPTIONS,
                row=options.header_row,
                rows=payload.count(b"\n") + 1,
            )
        offset_line = options.header_row - 1
        payload = payload[start:]
        text = payload.decode("utf-8")
    if not text or text.isspace():  # same as ``not text.strip()`` without copying the text
        raise InputError("io.error.no_data_rows", hint="io.hint.add_rows", filename=report.filename)
    kind, layout = _text_kind(text, options)
    report.kind = kind
    if kind == "basket":
        return _read_basket(text, report, options)
    if kind == "whitespace":
        return _read_whitespace(text, report, options, offset_line)
    del text
    return _read_csv(payload, layout, report, options, offset_line)


def _nth_line_start(payload: bytes, line: int) -> int | None:
    """Byte offset where 1-based ``line`` starts, or None when the text is shorter."""
    pos = 0
    for _ in range(line - 1):
        nxt = payload.find(b"\n", pos)
        if nxt < 0:
            return None
        pos = nxt + 1
    return pos


def _column_names(raw: list[str], report: LoadReport, options: ReadOptions) -> list[str]:
    """Header cells as names: empty ones become column_N (warned), duplicates are refused."""
    if len(raw) > options.max_columns:
        raise InputError(
            "io.error.too_many_columns",
            hint="io.hint.smaller_file",
            columns=f"{len(raw):,}",
            limit=f"{options.max_columns:,}",
        )
    names = [("" if cell is None else str(cell)).replace("\ufeff", "") for cell in raw]
    seen: dict[str, list[int]] = {}
    for i, nm in enumerate(names, start=1):
        if nm.strip():
            seen.setdefault(nm, []).append(i)
    dupes = {nm: pos for nm, pos in seen.items() if len(pos) > 1}
    if dupes:
        shown = list(dupes.items())[:5]
        raise InputError(
            "io.error.duplicate_columns",
            hint="io.hint.rename_columns",
            names=", ".join(f"“{nm}”" for nm, _ in shown),
            positions="; ".join(", ".join(str(p) for p in pos) for _, pos in shown),
        )
    generated = []
    used = set(seen)
    for i, nm in enumerate(names):
        if not nm.strip():
            new = f"column_{i + 1}"
            while new in used:
                new += "_"
            used.add(new)
            names[i] = new
            generated.append(new)
    if generated:
        report.warn("io.warn.empty_headers", count=len(generated), names=", ".join(generated[:10]))
    return names


def _read_csv(
    payload: bytes,
    layout: _Layout | None,
    report: LoadReport,
    options: ReadOptions,
    offset_line: int,
) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if layout is None:  # one column: no delimiter splits it
        sample, complete = _sample(_decode_prefix(payload[: 4 * _SAMPLE_CHARS]))
        complete = complete and len(payload) <= 4 * _SAMPLE_CHARS
        delimiter = next((d for d in ("\x1f", "\x1e", "\x1d") if d.encode() not in payload), ",")
        layout = _layout(_records(sample, delimiter, complete), delimiter, True)
        if layout is None:
            raise InputError(
                "io.error.no_data_rows", hint="io.hint.add_rows", filename=report.filename
            )
        report.delimiter = None
    else:
        report.delimiter = layout.delimiter
    delimiter = layout.delimiter or ","
    if layout.header_index > 0 and options.header_row is None:
        report.warn(
            "io.warn.title_rows", count=layout.header_line - 1, row=layout.header_line + offset_line
        )
    report.header_row = layout.header_line + offset_line
    names = _column_names(layout.header, report, options)
    if layout.trailing:
        names.append("\x00trailing")
        report.warn("io.warn.trailing_delimiter")
    body_start = _nth_line_start(payload, layout.body_line)
    if body_start is None:
        body_start = len(payload)
    first_line = layout.body_line + offset_line
    if not _NOT_BLANK.search(payload, body_start):
        return pd.DataFrame({nm: pd.Series([], dtype="str") for nm in names})

    # The body is read through a zero-copy view of the payload (a 250 MB file is not copied
    # again); pyarrow drops a UTF-8 BOM at the start of its input, and here that would be data,
    # so it is shielded with a blank line (blank lines are skipped and not counted in row numbers).
    if payload.startswith(codecs.BOM_UTF8, body_start):
        source = pa.py_buffer(b"\n" + payload[body_start:])
    else:
        source = pa.py_buffer(payload).slice(body_start)
    parse = {"delimiter": delimiter, "quote_char": '"', "double_quote": True}
    # large_string is what pandas' ``str`` dtype holds, so to_pandas() needs no cast.
    convert = pacsv.ConvertOptions(
        column_types={nm: pa.large_string() for nm in names},
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=True,
    )
    bad: list[tuple[int | None, int, str]] = []

    def on_bad(row: Any) -> str:
        bad.append((row.number, row.actual_columns, row.text))
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.BufferReader(source),
            read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 22),
            parse_options=pacsv.ParseOptions(newlines_in_values=True, **parse),
            convert_options=convert,
        )
    except pa.ArrowInvalid:
        try:
            table = pacsv.read_csv(
                pa.BufferReader(source),
                read_options=pacsv.ReadOptions(
                    column_names=names, use_threads=False, block_size=max(1 << 22, source.size + 1)
                ),
                parse_options=pacsv.ParseOptions(
                    newlines_in_values=True, invalid_row_handler=on_bad, **parse
                ),
                convert_options=convert,
            )
        except pa.ArrowInvalid as exc:
            raise InputError("io.error.csv_parse", detail=str(exc)[:300]) from None

    lines = _bad_row_lines(payload[body_start:], bad, first_line) if bad else []
    for (_number, _found, row_text), line in zip(bad, lines, strict=True):
        if "\n" in row_text and row_text.count('"') % 2 == 1:
            raise InputError("io.error.unclosed_quote", hint="io.hint.fix_quote", line=line)
    _check_swallowed_quote(table, payload, body_start, first_line)

    skipped = [(line, found) for (_, found, _), line in zip(bad, lines, strict=True)]
    _split_report(table.num_rows, layout.ncols, report, skipped)
    # One chunk per column: pyarrow takes from a many-chunked column by concatenating it first,
    # so every later sample (iloc) of a 5-million-row column would copy it again.
    frame = table.combine_chunks().to_pandas()
    if layout.trailing:
        extra = frame.pop("\x00trailing")
        if extra.notna().any():
            report.warn("io.warn.trailing_values", count=int(extra.notna().sum()))
    if delimiter != ",":
        _detect_decimal_comma(frame, report)
    return frame


def _bad_row_lines(
    body: bytes, bad: list[tuple[int | None, int, str]], first_line: int
) -> list[int]:
    """Physical line numbers of the skipped rows (pyarrow counts records, not lines).

    Each row's raw text is searched forward from the previous one, so this stays linear.
    """
    lines: list[int] = []
    offset, line = 0, first_line
    for number, _found, text in bad:
        raw = text.encode("utf-8")
        found = body.find(raw, offset) if raw else -1
        if found < 0:
            lines.append(first_line + (number or 1) - 1)
            continue
        line += body.count(b"\n", offset, found)
        lines.append(line)
        line += raw.count(b"\n")
        offset = found + len(raw)
    return lines


def _check_swallowed_quote(table: Any, payload: bytes, body_start: int, first_line: int) -> None:
    """A quote opened and never closed swallows the rest of the file into the last row."""
    if table.num_rows == 0:
        return
    last = table.slice(table.num_rows - 1).to_pylist()[0]
    multiline = [v for v in last.values() if isinstance(v, str) and ("\n" in v or "\r" in v)]
    if not multiline:
        return  # the common case: no copy of the body is made
    body = payload[body_start:]
    tail = body.rstrip(b"\r\n")
    for value in multiline:
        encoded = value.rstrip("\r\n").encode("utf-8")
        if tail.endswith(encoded) and not tail.endswith(b'"'):
            start = len(tail) - len(encoded) - 1
            raise InputError(
                "io.error.unclosed_quote",
                hint="io.hint.fix_quote",
                line=first_line + body.count(b"\n", 0, max(start, 0)),
            )


def _detect_decimal_comma(frame: pd.DataFrame, report: LoadReport) -> None:
    """Columns whose numbers use ',' as decimal mark (e.g. '1,5' in a ';' file) are reported."""
    found: list[str] = []
    example = ""
    head = frame.head(2000)
    for name in head.columns:
        values = head[name].dropna()
        values = values[values.str.strip() != ""].str.strip()
        if values.empty:
            continue
        comma = values.str.fullmatch(_DECIMAL_COMMA.pattern)
        dot = values.str.fullmatch(_DOT_DECIMAL.pattern)
        if comma.any() and not dot.any() and comma.mean() >= 0.5:
            found.append(str(name))
            example = example or str(values[comma].iloc[0])
    if found:
        report.decimal = ","
        report.warn(
            "io.warn.decimal_comma",
            columns=", ".join(f"“{c}”" for c in found[:8]),
            example=example,
        )


def _split_report(
    kept: int, width: int, report: LoadReport, skipped: list[tuple[int, int]]
) -> None:
    """Shared ragged-row policy: skip and report a minority of (line, fields) rows, refuse a
    majority (then the delimiter or header row is wrong, and skipping would hide it)."""
    if not skipped:
        return
    total = kept + len(skipped)
    if len(skipped) * 2 > total:
        raise InputError(
            "io.error.ragged",
            hint="io.hint.check_delimiter",
            expected=width,
            line=skipped[0][0],
            found=skipped[0][1],
        )
    numbers = [ln for ln, _ in skipped]
    report.rows_skipped = len(skipped)
    report.skipped_lines = numbers[:_LISTED_LINES]
    report.warn(
        "io.warn.rows_skipped",
        count=len(skipped),
        expected=width,
        lines=", ".join(str(x) for x in numbers[:10]) + (" …" if len(numbers) > 10 else ""),
    )


def _read_whitespace(
    text: str, report: LoadReport, options: ReadOptions, offset_line: int
) -> pd.DataFrame:
    """Columns separated by runs of spaces/tabs (CDNOW_master.txt); every token kept as text."""
    sample, complete = _sample(text)
    shape = _whitespace_layout(sample, complete)
    lines = _lines(text)
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is None:
        raise InputError("io.error.no_data_rows", hint="io.hint.add_rows", filename=report.filename)
    head_tokens = lines[first].split()
    has_header = shape[1] if shape else not any(_NUMERIC.fullmatch(t) for t in head_tokens)
    width = shape[0] if shape else len(head_tokens)
    start = first + 1 if has_header else first
    if has_header and len(head_tokens) == width:
        names = _column_names(head_tokens, report, options)
        report.header_row = first + 1 + offset_line
    else:
        names = _column_names([f"column_{i}" for i in range(1, width + 1)], report, options)
        report.warn("io.warn.no_header", count=width)
    rows: list[list[str]] = []
    skipped: list[tuple[int, int]] = []
    for index in range(start, len(lines)):
        tokens = lines[index].split()
        if not tokens:
            continue
        if len(tokens) == width:
            rows.append(tokens)
            if len(rows) > options.max_rows:
                break
        else:
            skipped.append((index + 1 + offset_line, len(tokens)))
    _split_report(len(rows), width, report, skipped)
    report.delimiter = "whitespace"
    return pd.DataFrame(rows, columns=names, dtype="str")


def _read_basket(text: str, report: LoadReport, options: ReadOptions) -> pd.DataFrame:
    """One basket per line -> long (order_id, item) rows with generated order ids."""
    delimiter = options.delimiter or ","
    report.delimiter = delimiter
    lines = _lines(text)
    baskets: list[list[str]] = []
    if '"' in text:
        try:
            parsed = csv.reader(lines, delimiter=delimiter, quotechar='"')
            baskets = [[it for it in row if it.strip()] for row in parsed]
        except csv.Error as exc:
            raise InputError("io.error.csv_parse", detail=str(exc)[:300]) from None
    else:
        baskets = [[it for it in ln.split(delimiter) if it.strip()] for ln in lines]
    baskets = [b for b in baskets if b]
    total_items = sum(len(b) for b in baskets)
    if total_items > options.max_rows:
        raise InputError(
            "io.error.too_many_rows", hint="io.hint.smaller_file", limit=f"{options.max_rows:,}"
        )
    width = max(6, len(str(len(baskets))))
    order_ids = [f"B{i:0{width}d}" for i, b in enumerate(baskets, start=1) for _ in b]
    items = [it for b in baskets for it in b]
    report.warn(
        "io.warn.basket",
        baskets=f"{len(baskets):,}",
        items=f"{total_items:,}",
        first=f"B{1:0{width}d}",
    )
    return pd.DataFrame({"order_id": order_ids, "item": items}, dtype="str")


# ----------------------------------------------------------------------------------------------
# Excel


def _check_zip_safety(data: bytes, options: ReadOptions) -> None:
    """Zip-bomb and XML-entity checks from the zip directory, before openpyxl sees the file."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise InputError(
            "io.error.excel_corrupt", hint="io.hint.save_xlsx", detail=str(exc)
        ) from None
    with zf:
        infos = zf.infolist()
        if len(infos) > _MAX_ZIP_ENTRIES:
            raise InputError(
                "io.error.zip_entries", hint="io.hint.save_xlsx", count=f"{len(infos):,}"
            )
        total = sum(info.file_size for info in infos)
        if total > options.max_unzipped_bytes:
            raise InputError(
                "io.error.zip_too_large",
                hint="io.hint.smaller_file",
                size_mb=_mb(total),
                limit_mb=_mb(options.max_unzipped_bytes),
            )
        for info in infos:
            ratio = info.file_size / max(info.compress_size, 1)
            if info.file_size > _ZIP_RATIO_MIN_SIZE and ratio > _ZIP_RATIO_LIMIT:
                raise InputError(
                    "io.error.zip_ratio",
                    hint="io.hint.save_xlsx",
                    part=display_name(info.filename),
                    ratio=f"{ratio:,.0f}",
                    limit=_ZIP_RATIO_LIMIT,
                )
        for info in infos:
            if info.filename.endswith((".xml", ".rels", ".vml")):
                try:
                    with zf.open(info) as member:
                        head = member.read(65_536)
                except (zipfile.BadZipFile, zlib.error, OSError, NotImplementedError) as exc:
                    raise InputError(
                        "io.error.excel_corrupt", hint="io.hint.save_xlsx", detail=str(exc)[:200]
                    ) from None
                if _XML_DANGER.search(head):
                    raise InputError(
                        "io.error.xml_unsafe",
                        hint="io.hint.save_xlsx",
                        part=display_name(info.filename),
                    )


def _cell_text(value: Any) -> str | None:
    """Excel cell value as text: ints without '.0', datetimes as ISO strings."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if value != "" else None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e16:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return str(value)


def _formula_parts(zf: zipfile.ZipFile, path: str | None) -> bool:
    """Whether the sheet XML holds any formula (<f> element), streamed in chunks."""
    members = set(zf.namelist())
    path = (path or "").lstrip("/")
    names = [path] if path in members else [n for n in members if n.startswith("xl/worksheets/")]
    for name in names:
        tail = b""
        with zf.open(name) as member:
            while chunk := member.read(1 << 20):
                if _FORMULA_TAG.search(tail + chunk):
                    return True
                tail = chunk[-16:]
    return False


def _read_excel(data: bytes, report: LoadReport, options: ReadOptions) -> pd.DataFrame:
    _check_zip_safety(data, options)
    report.kind = "excel"
    workbook = _open_workbook(data, data_only=True)
    try:
        sheets = list(workbook.sheetnames)
        report.sheets = sheets
        sheet = _choose_sheet(sheets, options)
        report.sheet = sheet
        if len(sheets) > 1 and options.sheet is None:
            report.warn(
                "io.warn.many_sheets",
                count=len(sheets),
                sheets=", ".join(f"“{s}”" for s in sheets[:10]),
                sheet=sheet,
            )
        ws = workbook[sheet]
        if not hasattr(ws, "iter_rows"):  # a chart sheet
            raise InputError("io.error.sheet_empty", hint="io.hint.pick_sheet", sheet=sheet)
        grid = [[_cell_text(v) for v in row] for row in _sheet_rows(ws, options)]
        path = getattr(ws, "_worksheet_path", None)
    finally:
        workbook.close()

    missing = 0
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        has_formulas = _formula_parts(zf, path)
    if has_formulas:
        formulas = _open_workbook(data, data_only=False)
        try:
            for r, row in enumerate(_sheet_rows(formulas[sheet], options)):
                if r >= len(grid):
                    break
                for c, value in enumerate(row):
                    is_formula = (isinstance(value, str) and value.startswith("=")) or type(
                        value
                    ).__name__ in ("ArrayFormula", "DataTableFormula")
                    if is_formula and c < len(grid[r]) and grid[r][c] is None:
                        missing += 1
        finally:
            formulas.close()
    if missing:
        report.warn("io.warn.formula_no_value", count=f"{missing:,}")
    return _grid_frame(grid, report, options, sheet)


def _sheet_rows(ws: Any, options: ReadOptions) -> Iterator[tuple[Any, ...]]:
    """Raw cell values row by row, within the row, column and cell caps.

    The declared sheet dimension is ignored (writers get it wrong, and trusting it can pad every
    row to 16,384 cells); each row is as wide as its last cell, checked against the column cap.
    """
    ws.reset_dimensions()
    cells = 0
    try:
        for index, row in enumerate(ws.iter_rows(values_only=True), start=1):
            if len(row) > options.max_columns:
                if any(v is not None for v in row[options.max_columns :]):
                    raise InputError(
                        "io.error.too_many_columns",
                        hint="io.hint.smaller_file",
                        columns=f"{len(row):,}",
                        limit=f"{options.max_columns:,}",
                    )
                row = row[: options.max_columns]
            cells += len(row)
            if index > options.max_rows + 1_000 or cells > _MAX_CELLS:
                raise InputError(
                    "io.error.too_many_rows",
                    hint="io.hint.smaller_file",
                    limit=f"{options.max_rows:,}",
                )
            yield row
    except InputError:
        raise
    except Exception as exc:  # the sheet XML is parsed lazily, so errors surface here
        raise _workbook_error(exc) from None


def _open_workbook(data: bytes, data_only: bool) -> Any:
    import openpyxl

    try:
        return openpyxl.load_workbook(
            io.BytesIO(data), read_only=True, data_only=data_only, keep_links=False
        )
    except Exception as exc:  # openpyxl raises many unrelated types for broken/hostile files
        raise _workbook_error(exc) from None


def _workbook_error(exc: BaseException) -> InputError:
    """Map an openpyxl/XML failure to a user error; defusedxml refusals are named as such."""
    cause: BaseException | None = exc
    while cause is not None:
        if type(cause).__module__.startswith("defusedxml"):
            return InputError("io.error.xml_unsafe", hint="io.hint.save_xlsx", part="XML")
        cause = cause.__cause__ or cause.__context__
    return InputError("io.error.excel_corrupt", hint="io.hint.save_xlsx", detail=str(exc)[:200])


def _choose_sheet(sheets: list[str], options: ReadOptions) -> str:
    if not sheets:
        raise InputError("io.error.sheet_empty", hint="io.hint.pick_sheet", sheet="")
    wanted = options.sheet
    if wanted is None:
        return sheets[0]
    if isinstance(wanted, int) and not isinstance(wanted, bool):
        if 0 <= wanted < len(sheets):
            return sheets[wanted]
    elif str(wanted) in sheets:
        return str(wanted)
    raise InputError(
        "io.error.sheet_not_found",
        hint="io.hint.pick_sheet",
        sheet=str(wanted),
        sheets=", ".join(f"“{s}”" for s in sheets[:20]),
    )


def _grid_frame(
    grid: list[list[str | None]], report: LoadReport, options: ReadOptions, sheet: str
) -> pd.DataFrame:
    """Header row chosen (auto: first non-title row), empty rows/columns trimmed, text frame."""

    def filled(row: list[str | None]) -> int:
        return sum(1 for v in row if v is not None and v.strip())

    while grid and not filled(grid[-1]):
        grid.pop()
    if not grid:
        raise InputError("io.error.sheet_empty", hint="io.hint.pick_sheet", sheet=sheet)
    if options.header_row is not None:
        h = options.header_row - 1
        if h >= len(grid):
            raise InputError(
                "io.error.header_row", hint=_HINT_OPTIONS, row=options.header_row, rows=len(grid)
            )
    else:
        h = _header_index([[v or "" for v in row] for row in grid])
        if h > 0:
            report.warn("io.warn.title_rows", count=h, row=h + 1)
    report.header_row = h + 1
    header = grid[h]
    body = [row for row in grid[h + 1 :] if filled(row)]
    width = max([_last_filled(header)] + [_last_filled(row) for row in body])
    if width > options.max_columns:
        raise InputError(
            "io.error.too_many_columns",
            hint="io.hint.smaller_file",
            columns=f"{width:,}+",
            limit=f"{options.max_columns:,}",
        )
    names = _column_names(
        [(header[i] if i < len(header) else None) for i in range(width)], report, options
    )
    rows = [(row + [None] * width)[:width] for row in body]
    return pd.DataFrame(rows, columns=names, dtype="str")


def _last_filled(row: list[str | None]) -> int:
    for i in range(len(row) - 1, -1, -1):
        if row[i] is not None and row[i].strip():
            return i + 1
    return 0


# ----------------------------------------------------------------------------------------------
# Parquet


def _read_parquet(data: bytes, report: LoadReport, options: ReadOptions) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    report.kind = "parquet"
    try:
        parquet = pq.ParquetFile(io.BytesIO(data))
        meta = parquet.metadata
        if meta.num_columns > options.max_columns:
            raise InputError(
                "io.error.too_many_columns",
                hint="io.hint.smaller_file",
                columns=f"{meta.num_columns:,}",
                limit=f"{options.max_columns:,}",
            )
        if meta.num_rows > options.max_rows:
            raise InputError(
                "io.error.too_many_rows", hint="io.hint.smaller_file", limit=f"{options.max_rows:,}"
            )
        unpacked = sum(meta.row_group(i).total_byte_size for i in range(meta.num_row_groups))
        if unpacked > options.max_unzipped_bytes:
            raise InputError(
                "io.error.zip_too_large",
                hint="io.hint.smaller_file",
                size_mb=_mb(unpacked),
                limit_mb=_mb(options.max_unzipped_bytes),
            )
        table = parquet.read()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(
            "io.error.parquet_corrupt", hint="io.hint.export_table", detail=str(exc)[:200]
        ) from None
    names = _column_names([str(n) for n in table.column_names], report, options)
    table = table.rename_columns([f"c{i}" for i in range(table.num_columns)])
    frame = table.to_pandas()
    frame.columns = names
    for name in names:
        frame[name] = _series_text(frame[name])
    return frame


def _series_text(series: pd.Series) -> pd.Series:
    """Any typed column as text; missing values stay missing, whole floats lose '.0'."""
    if pd.api.types.is_datetime64_any_dtype(series):
        values = series.dropna()
        midnight = values.empty or bool((values == values.dt.normalize()).all())
        fmt = "%Y-%m-%d" if midnight else "%Y-%m-%d %H:%M:%S"
        return series.dt.strftime(fmt).astype("str")
    if pd.api.types.is_float_dtype(series):
        values = series.dropna()
        if values.empty or bool(((values % 1 == 0) & (values.abs() < 1e15)).all()):
            return series.astype("Int64").astype("str")
    if pd.api.types.is_bool_dtype(series):
        return series.map({True: "TRUE", False: "FALSE"}).astype("str")
    return series.astype("str")
