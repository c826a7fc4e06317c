"""Roles, header synonyms, auto-mapping, typing and validation of uploaded tables.

``crm_core.io`` hands over raw frames whose cells are all text. This module decides which column
plays which canonical role (``crm_core.tables.ROLES``), types the values with detected and shown
formats (never silent guesses: an ambiguous date column is flagged, not parsed), and lists every
problem at once so the user can fix a file in one pass. Nothing here mutates its input.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from crm_core.errors import ParameterError
from crm_core.store import row_hashes
from crm_core.tables import ROLES, TABLES, Dataset

# --------------------------------------------------------------------------------------------
# Header synonyms
# --------------------------------------------------------------------------------------------


def _w(text: str) -> tuple[str, ...]:
    """Split a ``|``-separated synonym list (kept compact so the lists stay readable)."""
    return tuple(w.strip() for w in text.split("|") if w.strip())


# Primary synonyms: an exact (normalized) match is strong evidence (confidence 0.95).
_PRIMARY: dict[str, tuple[str, ...]] = {
    "customer_id": _w(
        "customer id|customerid|customer|cust id|cust no|customer no"
        "|customer number|customer code|client id|client|member id|member no"
        "|membership id|user id|buyer id|account id|shopper id|reviewer id|客户编号"
        "|客户ID|客户号|客户代码|会员号|会员编号|会员ID|用户ID|用户编号|顾客编号|顾客ID|买家ID"
    ),
    "name": _w(
        "name|customer name|full name|client name|contact name|姓名|客户名称|客户姓名|名字"
        "|顾客姓名|会员姓名"
    ),
    "gender": _w("gender|sex|genre|customer gender|性别|客户性别"),
    "age": _w("age|customer age|client age|年龄|客户年龄"),
    "city": _w("city|town|customer city|城市|所在城市|城市名称"),
    "signup_date": _w(
        "signup date|sign up date|registration date|register date|join date"
        "|joined|created at|customer since|member since|注册日期|注册时间|入会日期|开户日期"
    ),
    "churn": _w(
        "churn|churned|exited|attrition|attrition flag|is churn|left|是否流失|流失|流失标记|已流失"
    ),
    "order_id": _w(
        "order id|order|order no|order number|invoice|invoice no|invoice id"
        "|invoice number|transaction id|txn id|receipt no|receipt id|basket id"
        "|订单号|订单编号|订单ID|发票号|发票编号|单号|交易编号|交易号|流水号"
    ),
    "date": _w(
        "date|invoice date|order date|purchase date|transaction date|timestamp"
        "|datetime|time|order time|purchase time|created|date of purchase"
        "|review date|review time|event date|order purchase timestamp|日期|下单时间"
        "|下单日期|购买日期|交易日期|交易时间|订单日期|时间|购买时间|评价日期|评论时间"
    ),
    "item": _w(
        "item|product|products|product name|item name|description"
        "|item description|product description|goods|商品|产品|商品名称|产品名称|品名|货品|商品名"
    ),
    "category": _w(
        "category|product category|category name|product category name"
        "|department|product type|ticket type|品类|类别|分类|类目|商品类别|产品类别"
    ),
    "quantity": _w(
        "quantity|qty|units|unit count|number of items|number of cds|pieces|数量|件数|购买数量|销量"
    ),
    "unit_price": _w("unit price|price|price each|sale price|list price|单价|价格|售价|商品单价"),
    "amount": _w(
        "amount|sales|revenue|total|total amount|total price|order value"
        "|dollar value|payment value|spend|spent|line total|subtotal|gmv|金额|销售额"
        "|总金额|订单金额|实付金额|消费金额|总价|支付金额|营业额"
    ),
    "cost": _w("cost|cogs|unit cost|cost price|成本|进价"),
    "channel": _w(
        "channel|contact|contact type|medium|source|ticket channel"
        "|communication channel|sales channel|渠道|联系方式|触达渠道|沟通渠道|来源渠道|媒介"
    ),
    "direction": _w("direction|inbound outbound|call direction|方向|呼叫方向"),
    "text": _w(
        "text|comment|comments|review|review text|content|message|body|feedback"
        "|note|notes|remark|remarks|ticket description|内容|评论|评论内容|备注|留言|评价|评价内容"
        "|反馈|文本|工单内容"
    ),
    "outcome": _w("outcome|result|status|resolution|ticket status|disposition|结果|状态|处理结果"),
    "score": _w(
        "score|rating|ratings|review score|satisfaction|satisfaction score|csat"
        "|stars|star rating|overall|customer satisfaction rating|满意度|评分|打分|星级"
        "|满意度评分"
    ),
    "nps": _w(
        "nps|net promoter score|likelihood to recommend|recommend score|推荐值|净推荐值|NPS评分"
    ),
    "campaign": _w(
        "campaign|campaign name|campaign id|promotion|promo|offer|活动|活动名称|营销活动"
        "|活动编号|促销活动"
    ),
    "contacts": _w(
        "contacts|number of contacts|contact count|calls|touches|联系次数|触达次数|接触次数"
    ),
    "responded": _w(
        "responded|response|converted|conversion|y|subscribed|accepted|是否响应|响应"
        "|是否转化|转化|是否购买"
    ),
    "revenue": _w("revenue|sales|amount|campaign revenue|收入|销售额|营收|金额"),
}

# Secondary synonyms: plausible but weaker (0.8); a primary match elsewhere wins the role.
_SECONDARY: dict[str, tuple[str, ...]] = {
    "item": _w(
        "stock code|sku|product id|item id|product code|item code|asin|商品编码"
        "|商品编号|产品编号|货号"
    ),
    "category": _w("type|类型"),
    "quantity": _w("count|计数"),
    "amount": _w("value|价值"),
    "text": _w("description|summary|描述|摘要"),
    # bank-marketing style: "campaign" holds the number of contacts in this campaign.
    "contacts": _w("campaign|活动次数"),
}

# Suffixes: "review_creation_date", "customer_city" (0.75).
_SUFFIXES: dict[str, tuple[str, ...]] = {
    "customer_id": _w("customer id|client id|member id|user id|客户编号|客户ID|会员号|用户ID"),
    "name": _w("customer name|客户名称|姓名"),
    "gender": _w("gender|性别"),
    "age": _w("年龄"),
    "city": _w("city|城市"),
    "churn": _w("churn|流失"),
    "order_id": _w("order id|invoice no|invoice id|订单号|订单编号"),
    "date": _w("date|timestamp|datetime|日期|时间"),
    "item": _w("product name|item name|description|商品名称|产品名称"),
    "quantity": _w("quantity|qty|数量"),
    "unit_price": _w("unit price|price|单价"),
    "amount": _w("amount|金额|销售额"),
    "channel": _w("channel|渠道"),
    "text": _w("comment|comments|message|review text|评论|内容|备注"),
    "score": _w("score|rating|评分|满意度"),
    "campaign": _w("campaign name|活动名称"),
}

_CONF_EXACT = 0.95
_CONF_SECONDARY = 0.8
_CONF_SUFFIX = 0.75
_CONF_FUZZY = 0.7
_CONF_VALUES = 0.6
_FUZZY_CUTOFF = 0.9

# How much a matched role says about the table (shared roles like customer_id say little).
_TABLE_WEIGHTS: dict[str, dict[str, float]] = {
    "customers": {"customer_id": 0.5, "city": 0.8, "churn": 1.5},
    "transactions": {"customer_id": 0.5, "date": 0.5, "category": 0.5, "cost": 0.5},
    "communications": {
        "customer_id": 0.5,
        "date": 0.5,
        "channel": 0.8,
        "text": 0.7,
        "category": 0.5,
        "outcome": 0.8,
    },
    "feedback": {
        "customer_id": 0.5,
        "order_id": 0.3,
        "date": 0.5,
        "score": 1.5,
        "nps": 1.5,
        "text": 0.8,
        "channel": 0.3,
    },
    "campaigns": {
        "customer_id": 0.5,
        "campaign": 1.2,
        "date": 0.3,
        "channel": 0.6,
        "responded": 1.5,
        "revenue": 0.7,
    },
}

_GENERIC_HEADER = re.compile(
    r"^(?:column|col|field|var|variable|unnamed|attr|x|v|c|f|列|字段)?\d*$"
)


def normalize_header(header: object) -> str:
    """Header key for matching: NFKC (full-width → half-width), lowercase, no spaces,
    underscores, hyphens or units in parentheses, so ``Customer ID (k$)`` meets ``customerid``."""
    text = unicodedata.normalize("NFKC", str(header)).replace("\ufeff", "").strip().lower()
    text = re.sub(r"\([^)]*\)|\[[^\]]*\]|【[^】]*】", "", text)
    return re.sub(r"[\s_\-./:#'\"·,;]+", "", text)


def snake_case(header: object) -> str:
    """A clean attribute name for an unmapped column (``InvoiceNo`` → ``invoice_no``)."""
    text = unicodedata.normalize("NFKC", str(header)).replace("\ufeff", "").strip()
    text = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text)
    text = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", text)
    text = re.sub(r"[^\w]+", "_", text.lower(), flags=re.UNICODE)
    return re.sub(r"_+", "_", text).strip("_")


def _build_synonyms() -> dict[str, dict[str, tuple[str, ...]]]:
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for table, roles in ROLES.items():
        out[table] = {}
        for role in roles:
            words = (role, *_PRIMARY.get(role, ()), *_SECONDARY.get(role, ()))
            out[table][role] = tuple(dict.fromkeys(words))
    return out


SYNONYMS: dict[str, dict[str, tuple[str, ...]]] = _build_synonyms()
"""table -> role -> header synonyms (English and Chinese), as written; matching normalizes."""

_NORM_PRIMARY = {r: {normalize_header(w) for w in (r, *ws)} for r, ws in _PRIMARY.items()}
_NORM_SECONDARY = {r: {normalize_header(w) for w in ws} for r, ws in _SECONDARY.items()}
_NORM_SUFFIX = {r: tuple(normalize_header(w) for w in ws) for r, ws in _SUFFIXES.items()}


def _is_latin(text: str) -> bool:
    return text.isascii()


def header_score(header: object, role: str) -> tuple[float, str]:
    """How strongly a header names ``role``: (confidence, how) with how in exact/suffix/fuzzy."""
    return _header_score_norm(normalize_header(header), role)


@lru_cache(maxsize=8192)
def _header_score_norm(norm: str, role: str) -> tuple[float, str]:
    if not norm:
        return 0.0, ""
    if norm in _NORM_PRIMARY.get(role, {role}):
        return _CONF_EXACT, "exact"
    if norm in _NORM_SECONDARY.get(role, set()):
        return _CONF_SECONDARY, "exact"
    for suffix in _NORM_SUFFIX.get(role, ()):
        if norm.endswith(suffix) and len(norm) > len(suffix):
            return _CONF_SUFFIX, "suffix"
    if _is_latin(norm) and len(norm) >= 5:
        for word in _NORM_PRIMARY.get(role, {role}):
            if len(word) >= 5 and _is_latin(word):
                matcher = difflib.SequenceMatcher(None, norm, word)
                if matcher.real_quick_ratio() < _FUZZY_CUTOFF:
                    continue
                if matcher.quick_ratio() >= _FUZZY_CUTOFF and matcher.ratio() >= _FUZZY_CUTOFF:
                    return _CONF_FUZZY, "fuzzy"
    return 0.0, ""


def is_generic_header(header: object) -> bool:
    """Headers that say nothing (``column_1``, ``Unnamed: 0``, a number read as header)."""
    norm = normalize_header(header)
    return bool(_GENERIC_HEADER.fullmatch(norm)) or bool(re.fullmatch(r"[\d.,eE+-]+", norm))


# --------------------------------------------------------------------------------------------
# Problems
# --------------------------------------------------------------------------------------------

SEVERITIES: tuple[str, ...] = ("error", "warning", "info")


@dataclass(frozen=True)
class Problem:
    """One finding about a table: severity, i18n key and parameters (column, count, examples).

    ``examples`` is a list of ``{"row": n, "value": v}`` with 1-based data-row numbers.
    """

    severity: str
    key: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def column(self) -> str | None:
        """The column the problem is about, if any."""
        return self.params.get("column")

    @property
    def count(self) -> int:
        """How many rows or values are affected (0 when not countable)."""
        return int(self.params.get("count", 0) or 0)

    def message(self, lang: str = "en") -> str:
        """The translated sentence, with examples rendered as ``row 3: 'abc'``."""
        from crm_core.i18n import has_key, t

        params = dict(self.params)
        examples = params.get("examples") or []
        params["examples"] = ", ".join(
            t("schema.word.example", lang, row=e["row"], value=repr(e["value"])) for e in examples
        )
        for name in ("count", "rows"):
            if isinstance(params.get(name), int) and not isinstance(params.get(name), bool):
                params[name] = f"{params[name]:,}"
        if isinstance(params.get("matches"), list | tuple):
            params["matches"] = ", ".join(repr(m) for m in params["matches"]) or "-"
        if isinstance(params.get("formats"), list | tuple):
            params["formats"] = " / ".join(params["formats"])
        for name, prefix in (("table", "table"), ("role", "role"), ("kind", "kind")):
            value = params.get(name)
            if isinstance(value, str) and has_key(f"schema.{prefix}.{value}"):
                params[name] = t(f"schema.{prefix}.{value}", lang)
        return t(self.key, lang, **params)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"severity": self.severity, "key": self.key, "params": _jsonable(self.params)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, pd.Timestamp | date):
        return value.isoformat()
    return value


def _examples(values: pd.Series, mask: pd.Series | np.ndarray, limit: int = 5) -> list[dict]:
    """First ``limit`` flagged values with their 1-based row numbers (positions, not labels)."""
    positions = np.flatnonzero(np.asarray(mask, dtype=bool))[:limit]
    out = []
    for pos in positions:
        value = values.iloc[int(pos)]
        if isinstance(value, pd.Timestamp):
            value = value.isoformat(sep=" ")
        elif isinstance(value, np.generic):
            value = value.item()
        elif value is None or (isinstance(value, float) and np.isnan(value)):
            value = ""
        out.append(
            {"row": int(pos) + 1, "value": value if isinstance(value, int | float) else str(value)}
        )
    return out


# --------------------------------------------------------------------------------------------
# Mapping
# --------------------------------------------------------------------------------------------

REASONS: tuple[str, ...] = ("header", "values", "user")


@dataclass(frozen=True)
class Mapping:
    """Which source header plays which role in one canonical table.

    Saved with the dataset (``to_json``) and offered again for files with the same layout.
    ``confidence`` and ``reasons`` are keyed by role.
    """

    table: str
    columns: dict[str, str] = field(default_factory=dict)
    confidence: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.table not in ROLES:
            raise ParameterError("schema.error.unknown_table", table=self.table)
        seen: dict[str, str] = {}
        for source, role in self.columns.items():
            if role not in ROLES[self.table]:
                raise ParameterError("schema.error.unknown_role", role=role, table=self.table)
            if role in seen:
                raise ParameterError(
                    "schema.error.role_twice", role=role, first=seen[role], second=source
                )
            seen[role] = source

    def __hash__(self) -> int:
        return hash(self.to_json())

    @property
    def roles(self) -> dict[str, str]:
        """role -> source header."""
        return {role: source for source, role in self.columns.items()}

    def assign(self, source: str, role: str | None) -> Mapping:
        """A new mapping with ``source`` mapped to ``role`` (None unmaps), marked as the user's."""
        columns = {s: r for s, r in self.columns.items() if s != source and r != role}
        confidence = {r: c for r, c in self.confidence.items() if r in columns.values()}
        reasons = {r: why for r, why in self.reasons.items() if r in columns.values()}
        if role is not None:
            columns[source] = role
            confidence[role] = 1.0
            reasons[role] = "user"
        return Mapping(self.table, columns, confidence, reasons)

    def to_json(self) -> str:
        """Stable JSON text (sorted keys) for the workspace store."""
        return json.dumps(
            {
                "version": 1,
                "table": self.table,
                "columns": self.columns,
                "confidence": self.confidence,
                "reasons": self.reasons,
            },
            ensure_ascii=False,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Mapping:
        """Parse ``to_json`` output; malformed text or unknown roles raise ParameterError."""
        try:
            data = json.loads(text)
            table = str(data["table"])
            columns = {str(k): str(v) for k, v in dict(data.get("columns", {})).items()}
            confidence = {str(k): float(v) for k, v in dict(data.get("confidence", {})).items()}
            reasons = {str(k): str(v) for k, v in dict(data.get("reasons", {})).items()}
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ParameterError("schema.error.bad_mapping_json", detail=str(exc)) from exc
        return cls(table, columns, confidence, reasons)


def layout_signature(columns: Iterable[object]) -> str:
    """Hash of the normalized header list, so a saved mapping can be offered for the next file
    with the same layout (case, spacing and full-width differences do not matter)."""
    text = "\x1f".join(normalize_header(c) for c in columns)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


# --------------------------------------------------------------------------------------------
# Value parsing: numbers, dates, labels, ids
# --------------------------------------------------------------------------------------------

_NULL_TOKENS = frozenset({"na", "n/a", "nan", "null", "none", "-", "--", "—", "#n/a", "?", "nil"})
_CURRENCY = re.compile(r"[¥$€£₩₹]|元|円|(?i:\b(?:rmb|cny|usd|eur|gbp|jpy|hkd)\b)")
_DOT_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?(?:[eE][+-]?\d+)?|[+-]?\.\d+")
_COMMA_NUMBER = re.compile(r"[+-]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d*)?|[+-]?,\d+")
_COMMA_DECIMAL_VOTE = re.compile(r"[+-]?\d+,\d{1,2}|[+-]?\d+,\d{4,}|[+-]?\d{1,3}(?:\.\d{3})+,\d+")
_DOT_DECIMAL_VOTE = re.compile(r"[+-]?\d+\.\d{1,2}|[+-]?\d+\.\d{4,}|[+-]?\d{1,3}(?:,\d{3})+\.\d+")


def _as_str(series: pd.Series) -> pd.Series:
    """The column as pandas ``str`` (unchanged when it already is)."""
    if not pd.api.types.is_string_dtype(series) or pd.api.types.is_object_dtype(series):
        series = series.astype("str")
    return series


def _as_text(series: pd.Series) -> pd.Series:
    """Stripped text with empty strings as missing, whatever dtype came in."""
    stripped = _as_str(series).str.strip()
    return _blank_out(stripped, stripped == "")


def _blank_out(text: pd.Series, mask: pd.Series) -> pd.Series:
    """``text.mask(mask)``, without copying every cell when nothing is masked (the usual case)."""
    return text.mask(mask) if mask.any() else text


def _factorize_text(series: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """``pd.factorize(_as_text(series))`` with the stripping done on the distinct raw values
    only: one hash pass over a long column instead of a stripped copy of every cell. Codes and
    the order of the distinct values are exactly those of the direct call."""
    raw_codes, raw_distinct = pd.factorize(_as_str(series))
    stripped = _as_text(pd.Series(raw_distinct, dtype="str"))
    codes, distinct = pd.factorize(stripped)
    if len(codes):
        codes = np.where(raw_codes >= 0, codes[np.maximum(raw_codes, 0)], -1)
    else:
        codes = raw_codes  # no distinct raw value, so every code is already -1
    return codes.astype(np.intp, copy=False), pd.Series(distinct, dtype="str")


_NULL_TOKEN_CHARS = max(len(token) for token in _NULL_TOKENS)


def _null_tokens(text: pd.Series) -> pd.Series:
    """Cells such as ``N/A`` or ``null`` (any case). Only cells as short as the longest token
    are lower-cased and looked up: lower-casing never shortens a cell, and a long column of ids
    or timestamps then costs one length pass instead of a lower-cased copy of every cell."""
    short = (text.str.len() <= _NULL_TOKEN_CHARS).fillna(False).astype(bool)
    if not short.any():
        return pd.Series(False, index=text.index)
    if short.all():
        return text.str.lower().isin(_NULL_TOKENS).fillna(False).astype(bool)
    found = np.zeros(len(text), dtype=bool)
    found[short.to_numpy()] = text[short].str.lower().isin(_NULL_TOKENS).to_numpy(dtype=bool)
    return pd.Series(found, index=text.index)


def detect_decimal(text: pd.Series) -> str:
    """``","`` when values look like ``1.234,50`` or ``12,5``, else ``"."`` (comma = thousands)."""
    values = text.dropna()
    if values.empty or not values.str.contains(",", regex=False).any():
        return "."
    cleaned = values.str.replace(_CURRENCY, "", regex=True).str.replace(r"\s", "", regex=True)
    comma = int(cleaned.str.fullmatch(_COMMA_DECIMAL_VOTE).sum())
    dot = int(cleaned.str.fullmatch(_DOT_DECIMAL_VOTE).sum())
    return "," if comma > dot else "."


@dataclass(frozen=True)
class NumberParse:
    """Parsed floats plus which non-empty cells failed, and the decimal mark used."""

    values: pd.Series
    bad: pd.Series
    decimal: str


_DEDUP_MIN_ROWS = 20_000


def parse_numbers(series: pd.Series, decimal: str = "auto") -> NumberParse:
    """Parse numbers written by people: ``1,234.50``, ``¥1,200``, ``1.234,5`` (decimal comma),
    ``(12.50)`` (negative), ``12元``. Unparseable cells become NaN and are marked in ``bad``;
    empty cells and tokens like ``N/A`` are missing, not bad."""
    if decimal not in ("auto", ".", ","):
        raise ParameterError("schema.error.bad_decimal", decimal=decimal)
    if len(series) > _DEDUP_MIN_ROWS:
        codes, distinct = _factorize_text(series)
        if len(distinct) < len(series) // 4:
            # Long columns repeat few values (prices, quantities): parse each distinct value once.
            parsed = parse_numbers(distinct, decimal)
            values = np.where(codes >= 0, parsed.values.to_numpy()[codes], np.nan)
            bad = np.where(codes >= 0, parsed.bad.to_numpy()[codes], False)
            return NumberParse(
                pd.Series(values, index=series.index, dtype="float64"),
                pd.Series(bad, index=series.index, dtype=bool),
                parsed.decimal,
            )
    text = _as_text(series)
    missing = text.isna() | _null_tokens(text)
    text = _blank_out(text, missing)
    fast = pd.to_numeric(text, errors="coerce")
    if decimal == "auto":
        decimal = detect_decimal(text)
    if decimal == ",":
        slow_mask = text.notna() & text.str.contains(r"[.,]", regex=True).fillna(False).astype(bool)
        slow_mask = slow_mask | (text.notna() & fast.isna())
    else:
        slow_mask = text.notna() & fast.isna()
    values = fast.astype("float64")
    if slow_mask.any():
        values = values.copy()
        values[slow_mask] = _parse_slow(text[slow_mask], decimal)
    bad = text.notna() & values.isna()
    return NumberParse(values.astype("float64"), bad.astype(bool), decimal)


def _parse_slow(text: pd.Series, decimal: str) -> pd.Series:
    t = text.str.normalize("NFKC").str.replace("−", "-", regex=False).str.strip()
    negative = t.str.fullmatch(r"\(.*\)").fillna(False).astype(bool)
    t = t.str.replace(r"^\((.*)\)$", r"\1", regex=True)
    t = t.str.replace(_CURRENCY, "", regex=True)
    t = t.str.replace(r"[\s'’]", "", regex=True)
    if decimal == ",":
        valid = t.str.fullmatch(_COMMA_NUMBER).fillna(False).astype(bool)
        t = t.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        valid = t.str.fullmatch(_DOT_NUMBER).fillna(False).astype(bool)
        t = t.str.replace(",", "", regex=False)
    out = pd.to_numeric(t.where(valid), errors="coerce").astype("float64")
    out[negative] = -out[negative].abs()
    return out


# Candidate formats, most specific first; ties go to the earlier one.
DATE_FORMATS: tuple[str, ...] = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y.%m.%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
    "%Y%m%d",
    "%d/%m/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M:%S",
    "%d/%m/%Y %H:%M",
    "%m/%d/%Y %H:%M",
    "%d/%m/%Y",
    "%m/%d/%Y",
    "%d-%m-%Y",
    "%m-%d-%Y",
    "%d.%m.%Y",
    "%d/%m/%y",
    "%m/%d/%y",
    "%d %b %Y",
    "%d-%b-%Y",
    "%b %d, %Y",
    "%B %d, %Y",
    "%d %B %Y",
    "%m %d, %Y",
    "ISO8601",
)
NUMERIC_DATE_FORMATS: tuple[str, ...] = ("excel", "unix", "unix_ms")
_DAY_MONTH_TWINS: dict[str, str] = {}
for _fmt in DATE_FORMATS:
    if "%d" in _fmt and "%m" in _fmt and _fmt.index("%d") < _fmt.index("%m"):
        _twin = _fmt.replace("%d", "\0").replace("%m", "%d").replace("\0", "%m")
        if _twin in DATE_FORMATS:
            _DAY_MONTH_TWINS[_fmt] = _twin
            _DAY_MONTH_TWINS[_twin] = _fmt
_NS_MIN = pd.Timestamp("1677-09-22")
_NS_MAX = pd.Timestamp("2262-04-10")


@dataclass(frozen=True)
class DateGuess:
    """The detected date format (None when unknown or ambiguous) and how well it fits."""

    format: str | None
    rate: float
    ambiguous: bool = False
    alternatives: tuple[str, ...] = ()


# Zero-padded ISO layouts parsed from the bytes by :func:`_iso_dates` ("0" marks a digit).
_ISO_LAYOUTS: dict[str, str] = {
    "%Y-%m-%d %H:%M:%S": "0000-00-00 00:00:00",
    "%Y-%m-%dT%H:%M:%S": "0000-00-00T00:00:00",
    "%Y-%m-%d %H:%M": "0000-00-00 00:00",
    "%Y-%m-%d": "0000-00-00",
}
_ISO_FAST_MIN_ROWS = 10_000
_ISO_YEARS = (_NS_MIN.year + 1, _NS_MAX.year - 1)


def _convert_dates(text: pd.Series, fmt: str) -> pd.Series:
    """Parse unique-ish text with one format into naive datetime64[us] (NaT on failure)."""
    if fmt in _ISO_LAYOUTS and len(text) >= _ISO_FAST_MIN_ROWS:
        return _iso_dates(text, fmt)
    return _pandas_dates(text, fmt)


def _pandas_dates(text: pd.Series, fmt: str) -> pd.Series:
    """``_convert_dates`` through pandas: numeric formats, ISO8601 and strptime formats."""
    if fmt in NUMERIC_DATE_FORMATS:
        num = pd.to_numeric(text, errors="coerce")
        if fmt == "excel":
            num = num.where((num >= 1) & (num < 2958466))
            out = pd.to_datetime(num, unit="D", origin="1899-12-30", errors="coerce")
        else:
            unit = "s" if fmt == "unix" else "ms"
            out = pd.to_datetime(num, unit=unit, errors="coerce")
        return out.astype("datetime64[us]")
    if fmt == "ISO8601":
        out = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
        return out.dt.tz_convert(None).astype("datetime64[us]")
    try:
        out = pd.to_datetime(text, format=fmt, errors="coerce")
    except (ValueError, TypeError) as exc:
        raise ParameterError("schema.error.bad_date_format", format=fmt) from exc
    if fmt == "%Y%m%d":
        out = out.where(text.str.fullmatch(r"\d{8}").fillna(False).astype(bool))
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert(None)
    return out.astype("datetime64[us]")


def _iso_dates(text: pd.Series, fmt: str) -> pd.Series:
    """``_convert_dates`` for a zero-padded ISO layout, computed from the bytes with numpy.

    pandas turns every cell into a Python string and runs strptime on it (about 1.5 s for five
    million timestamps); here each character position is one vectorised column. Only cells of
    exactly the layout's shape that name a real calendar time inside pandas' nanosecond range
    are decided here: every other cell (another width, a ``t`` separator, 2023-02-30, year 1500)
    goes to pandas, so each value gets exactly the result pandas gives it.
    """
    layout = _ISO_LAYOUTS[fmt]
    filled = text.notna().to_numpy()
    values = pa.chunked_array(pa.array(text.array))
    if not filled.all():
        values = values.filter(pa.array(filled))
    values = values.combine_chunks().cast(pa.large_string())
    fits = pc.binary_length(values).to_numpy(zero_copy_only=False) == len(layout)
    if not fits.all():
        values = values.filter(pa.array(fits))
    decided = np.zeros(len(values), dtype=bool)
    stamps = np.zeros(len(values), dtype="datetime64[us]")
    if len(values):
        offsets = np.frombuffer(values.buffers()[1], dtype=np.int64)
        first = int(offsets[values.offset])
        data = np.frombuffer(values.buffers()[2], dtype=np.uint8)
        grid = data[first : first + len(values) * len(layout)].reshape(len(values), len(layout))
        decided, stamps = _iso_grid(grid, layout)
    if decided.all() and len(decided) == len(text):
        return pd.Series(stamps, index=text.index, dtype="datetime64[us]")  # the usual case
    out = np.full(len(text), np.datetime64("NaT", "us"), dtype="datetime64[us]")
    positions = np.flatnonzero(filled)[fits][decided]
    out[positions] = stamps[decided]
    undecided = filled.copy()
    undecided[positions] = False
    rest = np.flatnonzero(undecided)
    if len(rest):
        out[rest] = _pandas_dates(text.iloc[rest], fmt).to_numpy()
    return pd.Series(out, index=text.index, dtype="datetime64[us]")


_ISO_BLOCK_ROWS = 1 << 16


def _iso_grid(grid: np.ndarray, layout: str) -> tuple[np.ndarray, np.ndarray]:
    """(decided, stamps) for the rows of a fixed-width byte grid laid out like ``layout``, in
    blocks of rows small enough that every temporary array stays in the CPU cache."""
    decided = np.empty(len(grid), dtype=bool)
    stamps = np.empty(len(grid), dtype="datetime64[us]")
    for start in range(0, len(grid), _ISO_BLOCK_ROWS):
        block = slice(start, start + _ISO_BLOCK_ROWS)
        decided[block], stamps[block] = _iso_block(grid[block], layout)
    return decided, stamps


_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)


def _iso_block(grid: np.ndarray, layout: str) -> tuple[np.ndarray, np.ndarray]:
    """(decided, stamps) for the rows of a fixed-width byte grid laid out like ``layout``:
    decided where every digit and separator is in place and the date and time are real.
    Days since 1970 use the proleptic Gregorian days-from-civil formula (integer arithmetic;
    numpy's own month/day conversions are several times slower)."""
    columns = np.ascontiguousarray(grid.T)  # one row per character position: contiguous passes
    ok = np.ones(len(grid), dtype=bool)
    zero = np.uint8(ord("0"))
    for i, ch in enumerate(layout):
        ok &= (columns[i] - zero <= 9) if ch == "0" else (columns[i] == ord(ch))

    def field(first: int, size: int) -> np.ndarray:
        value = np.zeros(len(grid), dtype=np.int32)  # int32 halves the memory touched
        for k in range(first, min(first + size, len(layout))):  # no time part: midnight
            value *= 10
            value += columns[k] - zero
        return value

    year, month, day = field(0, 4), field(5, 2), field(8, 2)
    hour, minute, second = field(11, 2), field(14, 2), field(17, 2)
    ok &= (year >= _ISO_YEARS[0]) & (year <= _ISO_YEARS[1]) & (month >= 1) & (month <= 12)
    ok &= (hour <= 23) & (minute <= 59) & (second <= 59)
    month = np.where(ok, month, 1)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    ok &= (day >= 1) & (day <= _DAYS_IN_MONTH[month] + (leap & (month == 2)))
    shifted = year - (month <= 2)
    era = shifted // 400
    of_era = shifted - era * 400
    of_year = (153 * (month + np.where(month > 2, -3, 9)) + 2) // 5 + day - 1
    days = era * 146097 + of_era * 365 + of_era // 4 - of_era // 100 + of_year - 719468
    seconds = days.astype(np.int64) * 86400 + (hour * 3600 + minute * 60 + second)
    seconds *= 1_000_000
    return ok, seconds.view("datetime64[us]")


def _numeric_date_format(sample: pd.Series) -> str | None:
    num = pd.to_numeric(sample, errors="coerce")
    if num.notna().mean() < 0.95:
        return None
    num = num.dropna()
    if sample.str.fullmatch(r"\d{8}").mean() >= 0.95:
        return None  # yyyymmdd is tried as a text format
    if ((num >= 10000) & (num < 100000)).mean() >= 0.95:
        return "excel"
    if ((num >= 1e8) & (num < 9.2e9) & (num == num.round())).mean() >= 0.95:
        return "unix"
    if ((num >= 1e11) & (num < 9.2e12) & (num == num.round())).mean() >= 0.95:
        return "unix_ms"
    return None


_DATE_DETECT_ROWS = 50_000


def detect_date_format(
    series: pd.Series, *, allow_numeric: bool = True, dayfirst: bool | None = None
) -> DateGuess:
    """Find the one format that parses the most values. When a day-first and a month-first
    format fit equally well (every day and month <= 12) the column is ambiguous: no guess,
    unless ``dayfirst`` says which convention the file uses."""
    return _detect_text_format(_as_text(series), allow_numeric, dayfirst)


def _format_literals(fmt: str) -> frozenset[str]:
    """The characters a value must contain to match ``fmt`` (directives and spaces removed,
    lower-cased: pandas matches literals ignoring case, and any run of spaces for a space)."""
    return frozenset(ch.lower() for ch in re.sub(r"%.", "", fmt) if not ch.isspace())


_LITERALS: dict[str, frozenset[str]] = {
    fmt: _format_literals(fmt) for fmt in DATE_FORMATS if fmt != "ISO8601"
}


def _sample_rates(sample: pd.Series) -> dict[str, float]:
    """Parse rate of every candidate format on the sample. A format whose separators appear in
    no sampled value (``/`` for ISO dates) cannot parse any of them, so it scores 0 unparsed."""
    present = set("".join(sample.tolist()).lower())
    return {
        fmt: float(_convert_dates(sample, fmt).notna().mean())
        if _LITERALS.get(fmt, frozenset()) <= present
        else 0.0
        for fmt in DATE_FORMATS
    }


def _detect_text_format(
    stripped: pd.Series, allow_numeric: bool, dayfirst: bool | None
) -> DateGuess:
    """:func:`detect_date_format` on text that is already stripped (empty cells missing)."""
    text = stripped.dropna() if stripped.isna().any() else stripped
    # Formats are ranked on distinct values from an evenly spread slice of the column, so a
    # five-million-row file costs what a fifty-thousand-row one does.
    if len(text) > _DATE_DETECT_ROWS:
        spread = np.linspace(0, len(text) - 1, _DATE_DETECT_ROWS).astype(int)
        uniq = pd.Series(pd.unique(text.iloc[spread]), dtype="str")
    else:
        uniq = pd.Series(pd.unique(text), dtype="str")
    if uniq.empty:
        return DateGuess(None, 0.0)
    if len(uniq) > 400:
        sample = uniq.iloc[np.linspace(0, len(uniq) - 1, 400).astype(int)].reset_index(drop=True)
    else:
        sample = uniq
    if allow_numeric:
        numeric = _numeric_date_format(sample)
        if numeric is not None:
            rate = float(_convert_dates(uniq, numeric).notna().mean())
            return DateGuess(numeric, rate)
    rates = _sample_rates(sample)
    best = max(rates.values())
    if best == 0:
        return DateGuess(None, 0.0)
    contenders = [f for f in DATE_FORMATS if rates[f] >= best * 0.5][:6]
    if len(uniq) > len(sample):
        rates = {f: float(_convert_dates(uniq, f).notna().mean()) for f in contenders}
    best = max(rates[f] for f in contenders)
    winner = next(f for f in contenders if rates[f] == best)
    twin = _DAY_MONTH_TWINS.get(winner)
    if twin is not None:
        twin_rate = rates.get(twin)
        if twin_rate is None:
            twin_rate = float(_convert_dates(uniq, twin).notna().mean())
        if twin_rate == best and len(text) > _DATE_DETECT_ROWS:
            # Ambiguous on the slice: one day above 12 anywhere in the column settles it.
            every = pd.Series(pd.unique(text), dtype="str")
            rates_all = {f: float(_convert_dates(every, f).notna().mean()) for f in (winner, twin)}
            best, twin_rate = max(rates_all.values()), rates_all[twin]
            winner = winner if rates_all[winner] >= twin_rate else twin
            twin = _DAY_MONTH_TWINS.get(winner)
        if twin_rate == best:
            day_first = winner if winner.index("%d") < winner.index("%m") else twin
            month_first = twin if day_first == winner else winner
            if dayfirst is None:
                return DateGuess(None, best, ambiguous=True, alternatives=(day_first, month_first))
            winner = day_first if dayfirst else month_first
    return DateGuess(winner, best)


_UNIQUE_SAMPLE = 10_000


def _mostly_unique(text: pd.Series) -> bool:
    """Whether a long column is mostly distinct values (then parsing each distinct value once
    saves nothing), judged on an evenly spread sample and on a run of neighbouring rows (rows
    of one order share a timestamp, which a spread sample would miss). Short columns: no."""
    if len(text) <= _DEDUP_MIN_ROWS:
        return False
    middle = len(text) // 2
    spread = np.linspace(0, len(text) - 1, _UNIQUE_SAMPLE).astype(int)
    for sample in (text.iloc[spread], text.iloc[middle : middle + _UNIQUE_SAMPLE]):
        sample = sample.dropna()
        if sample.empty or sample.nunique() <= len(sample) // 2:
            return False
    return True


def _in_ns_range(parsed: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """datetime64[ns] values with NaT outside pandas' nanosecond range, and where that was."""
    in_range = parsed.isna() | ((parsed >= _NS_MIN) & (parsed <= _NS_MAX))
    outside = ~in_range.to_numpy(dtype=bool)
    return parsed.where(in_range).astype("datetime64[ns]").to_numpy(), outside


@dataclass(frozen=True)
class DateParse:
    """Parsed naive datetime64[ns] values, the format used and which non-empty cells failed."""

    values: pd.Series
    bad: pd.Series
    guess: DateGuess
    out_of_range: int = 0


def parse_dates(
    series: pd.Series,
    fmt: str | None = None,
    *,
    dayfirst: bool | None = None,
    allow_numeric: bool = True,
) -> DateParse:
    """Parse a date column with an explicit or detected format; failures are counted, never
    guessed. Values outside pandas' nanosecond range are failures too."""
    text = _as_text(series)
    text = _blank_out(text, _null_tokens(text))
    guess = DateGuess(fmt, 1.0) if fmt else _detect_text_format(text, allow_numeric, dayfirst)
    if guess.format is None:
        values = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
        bad = text.notna()
        return DateParse(values, bad.astype(bool), guess)
    if _mostly_unique(text):
        # Timestamps to the second are nearly all distinct: factorising would hash every cell
        # only to parse almost as many values, so the column is parsed as it is.
        result, outside = _in_ns_range(_convert_dates(text, guess.format))
        out_of_range = int(outside.sum())
    else:
        codes, uniq = pd.factorize(text)
        distinct = _convert_dates(pd.Series(uniq, dtype="str"), guess.format)  # once per value
        parsed_ns, outside = _in_ns_range(distinct)
        result = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[ns]")
        valid = codes >= 0
        result[valid] = parsed_ns[codes[valid]]
        out_of_range = int(outside[codes[valid]].sum()) if len(uniq) else 0
    values = pd.Series(result, index=series.index, dtype="datetime64[ns]")
    bad = text.notna() & values.isna()
    if fmt:
        rate = float(1 - bad.sum() / max(int(text.notna().sum()), 1))
        guess = DateGuess(fmt, rate)
    return DateParse(values, bad.astype(bool), guess, out_of_range)


_TRUE_LABELS = frozenset(
    {
        "1",
        "1.0",
        "yes",
        "y",
        "true",
        "t",
        "是",
        "有",
        "churned",
        "churn",
        "exited",
        "left",
        "流失",
        "已流失",
        "responded",
        "converted",
        "subscribed",
        "positive",
    }
)
_FALSE_LABELS = frozenset(
    {
        "0",
        "0.0",
        "no",
        "n",
        "false",
        "f",
        "否",
        "无",
        "retained",
        "stayed",
        "active",
        "not churned",
        "未流失",
        "negative",
    }
)


def parse_labels(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """0/1 ``Int8`` from Yes/No, 是/否, 1/0, true/false, y/n, churned/retained; others are bad."""
    text = _as_text(series)
    lowered = text.str.lower()
    values = pd.Series(pd.NA, index=series.index, dtype="Int8")
    values[lowered.isin(_TRUE_LABELS).fillna(False).astype(bool)] = 1
    values[lowered.isin(_FALSE_LABELS).fillna(False).astype(bool)] = 0
    bad = text.notna() & values.isna()
    return values, bad.astype(bool)


def parse_ids(series: pd.Series) -> pd.Series:
    """IDs as stripped text: leading zeros kept, Excel's ``12345.0`` back to ``12345``."""
    text = _as_text(series)
    text = _blank_out(text, _null_tokens(text))
    # Only cells with a '.' can end in '.0': a long id column without any skips the regex.
    dotted = text.str.contains(".", regex=False).fillna(False).astype(bool)
    if dotted.any():
        text = text.mask(dotted, text[dotted].str.replace(r"^(\d+)\.0+$", r"\1", regex=True))
    return text.astype("str")


def parse_text(series: pd.Series) -> pd.Series:
    """Text and categories: whitespace stripped, empty cells missing."""
    return _as_text(series).astype("str")


# --------------------------------------------------------------------------------------------
# Value profiles (for columns whose headers say nothing)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Profile:
    n: int
    numeric_rate: float = 0.0
    integer_rate: float = 0.0
    leading_zero: bool = False
    distinct: int = 0
    distinct_ratio: float = 0.0
    date_rate: float = 0.0
    date_format: str | None = None
    label_rate: float = 0.0
    mean_len: float = 0.0
    space_rate: float = 0.0
    min_value: float = float("nan")
    max_value: float = float("nan")


_DATE_SHAPE = re.compile(
    r"\d{1,4}[-/.年 ]\d{1,2}[-/.月 ,]+\d{1,4}.*|\d{8}|\d{1,2}[ -][A-Za-z]{3,9}[ -]\d{4}|"
    r"[A-Za-z]{3,9} \d{1,2}, \d{4}|\d{4}-\d{2}-\d{2}T.*"
)


def _profile(series: pd.Series, limit: int = 2000) -> _Profile:
    """Value statistics on at most ``limit`` filled cells spread evenly over the column.

    A long column is first thinned to an even spread of ``4 * limit`` cells, so detection costs
    the same for a million rows as for ten thousand; a column too sparse to fill the sample from
    that spread is read in full."""
    text = None
    if len(series) > 4 * limit:
        spread = np.linspace(0, len(series) - 1, 4 * limit).astype(int)
        text = _as_text(series.iloc[spread]).dropna()
        if len(text) < limit:
            text = None
    if text is None:
        text = _as_text(series).dropna()
    if text.empty:
        return _Profile(0)
    if len(text) > limit:
        text = text.iloc[np.linspace(0, len(text) - 1, limit).astype(int)]
    n = len(text)
    short = text.str.len() <= 40
    nums = pd.Series(np.nan, index=text.index)
    if short.any():
        nums[short] = parse_numbers(text[short], decimal=".").values
    numeric = nums.notna()
    integer = numeric & (nums == nums.round())
    plain_int = text.str.fullmatch(r"[+-]?\d+").fillna(False).astype(bool)
    lowered = text.str.lower()
    label_values = set(lowered.unique())
    label_rate = float(lowered.isin(_TRUE_LABELS | _FALSE_LABELS).mean())
    if len(label_values) > 2:
        label_rate = 0.0
    date_rate, date_format = 0.0, None
    if text.str.fullmatch(_DATE_SHAPE).mean() >= 0.5:
        guess = _detect_text_format(text, allow_numeric=False, dayfirst=None)
        date_rate, date_format = guess.rate, guess.format
        if guess.ambiguous:
            date_format = guess.alternatives[0]
    distinct = int(text.nunique())
    return _Profile(
        n=n,
        numeric_rate=float(numeric.mean()),
        integer_rate=float((integer & plain_int).mean()),
        leading_zero=bool(text.str.match(r"0\d").any()),
        distinct=distinct,
        distinct_ratio=distinct / n,
        date_rate=date_rate,
        date_format=date_format,
        label_rate=label_rate,
        mean_len=float(text.str.len().mean()),
        space_rate=float(text.str.contains(" ", regex=False).mean()),
        min_value=float(nums.min()) if numeric.any() else float("nan"),
        max_value=float(nums.max()) if numeric.any() else float("nan"),
    )


def _compat(kind: str, profile: _Profile) -> float:
    """How well the values fit a role's kind (multiplies the header confidence)."""
    if profile.n == 0:
        return 1.0
    if kind in ("number", "money"):
        return 1.0 if profile.numeric_rate >= 0.9 else 0.4
    if kind == "date":
        if profile.date_rate >= 0.8:
            return 1.0
        return 0.9 if profile.numeric_rate >= 0.9 else 0.5
    if kind == "label":
        return 1.0 if profile.label_rate >= 0.9 else 0.5
    if kind == "category" and profile.numeric_rate >= 0.95 and profile.distinct > 20:
        return 0.8
    return 1.0


# --------------------------------------------------------------------------------------------
# Auto-mapping
# --------------------------------------------------------------------------------------------


def _profiles(frame: pd.DataFrame) -> list[_Profile]:
    return [_profile(frame.iloc[:, i]) for i in range(frame.shape[1])]


def _header_assign(
    headers: Sequence[str], profiles: Sequence[_Profile], table: str
) -> list[tuple[int, str, float]]:
    """Greedy one-to-one assignment of columns to roles by header confidence × value fit."""
    candidates: list[tuple[float, int, str]] = []
    counts = Counter(headers)
    for pos, header in enumerate(headers):
        if counts[header] > 1:
            continue  # duplicate headers are an error, never mapped silently
        for role, kind in ROLES[table].items():
            conf, _how = header_score(header, role)
            if conf > 0:
                candidates.append((round(conf * _compat(kind, profiles[pos]), 3), pos, role))
    candidates.sort(key=lambda c: (-c[0], c[1]))
    used_cols: set[int] = set()
    used_roles: set[str] = set()
    out: list[tuple[int, str, float]] = []
    for conf, pos, role in candidates:
        if pos in used_cols or role in used_roles or conf < 0.3:
            continue
        used_cols.add(pos)
        used_roles.add(role)
        out.append((pos, role, conf))
    return out


def _id_like(p: _Profile) -> bool:
    if p.n == 0 or p.date_rate >= 0.9:
        return False
    if p.leading_zero and p.integer_rate >= 0.95:
        return True
    if p.integer_rate >= 0.99 and p.distinct >= 50 and p.distinct_ratio >= 0.02:
        return True
    return (
        p.numeric_rate < 0.5 and p.space_rate < 0.1 and p.mean_len >= 4 and p.distinct_ratio >= 0.3
    )


def _value_assign(
    positions: Sequence[int], profiles: Sequence[_Profile], table: str, taken: set[str]
) -> list[tuple[int, str, float]]:
    """Roles from value patterns alone (date parse rate, id-likeness, numbers, labels, text)."""
    roles = ROLES[table]
    out: list[tuple[int, str, float]] = []

    def take(pos: int, role: str) -> bool:
        if role in roles and role not in taken:
            taken.add(role)
            out.append((pos, role, _CONF_VALUES))
            return True
        return False

    remaining = []
    for pos in positions:
        p = profiles[pos]
        if p.n and p.date_rate >= 0.9 and (take(pos, "date") or take(pos, "signup_date")):
            continue
        remaining.append(pos)
    rest = []
    for pos in remaining:
        p = profiles[pos]
        if p.n and p.label_rate >= 0.95 and (take(pos, "churn") or take(pos, "responded")):
            continue
        rest.append(pos)
    numbers = []
    for pos in rest:
        p = profiles[pos]
        if _id_like(p):
            if take(pos, "customer_id") or take(pos, "order_id"):
                continue
        elif p.n and p.numeric_rate >= 0.95:
            numbers.append(pos)
        elif p.n and p.mean_len >= 30 and p.space_rate >= 0.5:
            take(pos, "text")
    for pos in numbers:
        p = profiles[pos]
        if table == "transactions":
            if p.integer_rate >= 0.99 and take(pos, "quantity"):
                continue
            if take(pos, "amount") or take(pos, "unit_price"):
                continue
        elif table == "feedback" and p.min_value >= 0 and p.max_value <= 10:
            take(pos, "score")
    return out


def _all_generic(headers: Sequence[str], matches_by_table: dict[str, list]) -> bool:
    return all(not m for m in matches_by_table.values()) or all(
        is_generic_header(h) for h in headers
    )


def _guess_from_values(profiles: Sequence[_Profile]) -> tuple[str, float]:
    has_date = any(p.n and p.date_rate >= 0.9 for p in profiles)
    has_label = any(p.n and p.label_rate >= 0.95 for p in profiles)
    numbers = sum(1 for p in profiles if p.n and p.numeric_rate >= 0.95 and not _id_like(p))
    if has_date and numbers:
        return "transactions", 0.5
    if has_label and not has_date:
        return "customers", 0.4
    return "transactions", 0.2


def guess_table(frame: pd.DataFrame) -> tuple[str, float]:
    """Which canonical table a file most likely holds, with a confidence in 0..1."""
    headers = [str(c) for c in frame.columns]
    profiles = _profiles(frame)
    return _guess_table(headers, profiles)


def _guess_table(headers: Sequence[str], profiles: Sequence[_Profile]) -> tuple[str, float]:
    matches = {t: _header_assign(headers, profiles, t) for t in TABLES}
    if _all_generic(headers, matches):
        return _guess_from_values(profiles)
    scores = {
        t: sum(conf * _TABLE_WEIGHTS[t].get(role, 1.0) for _pos, role, conf in m)
        for t, m in matches.items()
    }
    ranked = sorted(TABLES, key=lambda t: (-scores[t], TABLES.index(t)))
    best, second = scores[ranked[0]], scores[ranked[1]]
    share = best / (best + second) if best + second > 0 else 0.0
    confidence = share * min(1.0, best / 2.0)
    return ranked[0], round(min(0.99, confidence), 2)


def auto_map(frame: pd.DataFrame, table: str | None = None) -> Mapping:
    """Propose a mapping from header synonyms (exact 0.95, suffix 0.75, fuzzy 0.7, each scaled by
    how well the values fit) and, for columns whose headers say nothing, from value patterns."""
    headers = [str(c) for c in frame.columns]
    profiles = _profiles(frame)
    if table is None:
        table, _conf = _guess_table(headers, profiles)
    elif table not in ROLES:
        raise ParameterError("schema.error.unknown_table", table=table)
    matches = _header_assign(headers, profiles, table)
    generic_all = not matches or all(is_generic_header(h) for h in headers)
    if generic_all:
        matches = []
    taken = {role for _pos, role, _conf in matches}
    used = {pos for pos, _role, _conf in matches}
    counts = Counter(headers)
    open_positions = [
        pos
        for pos, header in enumerate(headers)
        if pos not in used and counts[header] == 1 and (generic_all or is_generic_header(header))
    ]
    value_matches = _value_assign(open_positions, profiles, table, taken)
    # A date column is worth finding even under an unhelpful header.
    if "date" in ROLES[table] and "date" not in taken:
        used |= {pos for pos, _r, _c in value_matches}
        others = [p for p in range(len(headers)) if p not in used and counts[headers[p]] == 1]
        for pos in others:
            if profiles[pos].n and profiles[pos].date_rate >= 0.95:
                value_matches.append((pos, "date", _CONF_VALUES - 0.05))
                break
    columns: dict[str, str] = {}
    confidence: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for pos, role, conf in sorted([*matches, *value_matches], key=lambda m: m[0]):
        columns[headers[pos]] = role
        confidence[role] = round(float(conf), 2)
        reasons[role] = "values" if (pos, role, conf) in value_matches else "header"
    return Mapping(table, columns, confidence, reasons)


# --------------------------------------------------------------------------------------------
# Typing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TypingOptions:
    """How to read values where detection should not decide alone.

    ``date_formats``: source header or role -> strptime format, ``ISO8601``, ``excel``, ``unix``
    or ``unix_ms``. ``dayfirst`` settles dd/mm vs mm/dd for every ambiguous date column.
    ``decimal``: ``auto``, ``.`` or ``,``. ``extra_kinds``: source header -> kind for unmapped
    columns (default text). ``infer_extras``: type unmapped all-numeric columns (without
    leading zeros) as float.
    """

    date_formats: dict[str, str] = field(default_factory=dict)
    dayfirst: bool | None = None
    decimal: str = "auto"
    extra_kinds: dict[str, str] = field(default_factory=dict)
    infer_extras: bool = False

    def __post_init__(self) -> None:
        if self.decimal not in ("auto", ".", ","):
            raise ParameterError("schema.error.bad_decimal", decimal=self.decimal)
        kinds = {"id", "text", "category", "number", "money", "date", "label"}
        for source, kind in self.extra_kinds.items():
            if kind not in kinds:
                raise ParameterError("schema.error.unknown_kind", kind=kind, column=source)


@dataclass
class TypedTable:
    """A canonical table: typed role columns plus extra attributes, and what typing found."""

    frame: pd.DataFrame
    mapping: Mapping
    date_formats: dict[str, str | None] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)
    derived: tuple[str, ...] = ()
    source_columns: tuple[str, ...] = ()

    @property
    def table(self) -> str:
        """The canonical table name."""
        return self.mapping.table


def _find_source(headers: Sequence[str], source: str) -> int | None:
    if source in headers and headers.count(source) == 1:
        return headers.index(source)
    norm = normalize_header(source)
    hits = [i for i, h in enumerate(headers) if normalize_header(h) == norm]
    return hits[0] if len(hits) == 1 else None


def _type_column(
    raw: pd.Series, kind: str, column: str, source: str, options: TypingOptions
) -> tuple[pd.Series, list[Problem], str | None]:
    """Type one column by kind; returns values, problems and the date format used."""
    problems: list[Problem] = []
    fmt_used: str | None = None
    if kind == "id":
        return parse_ids(raw), problems, None
    if kind in ("text", "category"):
        return parse_text(raw), problems, None
    if kind in ("number", "money"):
        parsed = parse_numbers(raw, options.decimal)
        values = parsed.values
        if parsed.decimal == "," and options.decimal == "auto":
            problems.append(Problem("info", "schema.problem.decimal_comma", {"column": column}))
        inf = np.isinf(values.to_numpy())
        if inf.any():
            problems.append(
                Problem(
                    "warning",
                    "schema.problem.infinite",
                    {"column": column, "count": int(inf.sum()), "examples": _examples(raw, inf)},
                )
            )
            values = values.mask(inf)
        _bad_problem(problems, raw, parsed.bad, column, kind)
        return values, problems, None
    if kind == "date":
        explicit = options.date_formats.get(source) or options.date_formats.get(column)
        parsed = parse_dates(raw, explicit, dayfirst=options.dayfirst)
        fmt_used = parsed.guess.format
        # Only a column without a usable format needs its filled cells (for the examples).
        filled = _as_text(raw).notna().to_numpy() if fmt_used is None else None
        if parsed.guess.ambiguous and filled is not None:
            problems.append(
                Problem(
                    "error",
                    "schema.problem.ambiguous_date",
                    {
                        "column": column,
                        "formats": list(parsed.guess.alternatives),
                        "examples": _examples(raw, filled),
                    },
                )
            )
        elif filled is not None and filled.any():
            problems.append(
                Problem(
                    "error",
                    "schema.problem.unknown_date_format",
                    {"column": column, "examples": _examples(raw, filled)},
                )
            )
        else:
            if fmt_used in NUMERIC_DATE_FORMATS:
                problems.append(
                    Problem(
                        "info",
                        "schema.problem.numeric_dates",
                        {"column": column, "format": fmt_used},
                    )
                )
            if parsed.out_of_range:
                problems.append(
                    Problem(
                        "warning",
                        "schema.problem.date_out_of_range",
                        {"column": column, "count": parsed.out_of_range},
                    )
                )
            _bad_problem(problems, raw, parsed.bad, column, kind, fmt_used)
        return parsed.values, problems, fmt_used
    if kind == "label":
        values, bad = parse_labels(raw)
        _bad_problem(problems, raw, bad, column, kind)
        return values, problems, None
    raise ParameterError("schema.error.unknown_kind", kind=kind, column=column)


def _bad_problem(
    problems: list[Problem],
    raw: pd.Series,
    bad: pd.Series,
    column: str,
    kind: str,
    fmt: str | None = None,
) -> None:
    count = int(bad.sum())
    if not count:
        return
    filled = int(_as_text(raw).notna().sum())
    severity = "error" if count == filled else "warning"
    params: dict[str, Any] = {
        "column": column,
        "kind": kind,
        "count": count,
        "examples": _examples(raw, bad.to_numpy()),
    }
    if fmt:
        params["format"] = fmt
    problems.append(Problem(severity, "schema.problem.unparseable", params))


def _looks_numeric(raw: pd.Series) -> bool:
    """At least 98% of the values are numbers (judged on distinct values, weighted by count)."""
    counts = _as_text(raw).dropna().value_counts()
    if counts.empty:
        return False
    distinct = pd.Series(counts.index, dtype="str")
    if distinct.str.match(r"0\d").any():
        return False
    parsed = parse_numbers(distinct, decimal=".")
    numeric = counts.to_numpy()[parsed.values.notna().to_numpy()].sum()
    return numeric / counts.sum() >= 0.98


def header_problems(headers: Sequence[object]) -> list[Problem]:
    """Duplicate headers (an error: the file must be fixed, nothing is renamed silently),
    pandas-style renamed duplicates (``x`` and ``x.1``) and headers that differ only in case,
    spaces or symbols."""
    names = [str(h) for h in headers]
    problems: list[Problem] = []
    counts = Counter(names)
    for header, count in counts.items():
        if count > 1:
            problems.append(
                Problem(
                    "error", "schema.problem.duplicate_header", {"column": header, "count": count}
                )
            )
    present = set(names)
    for header in names:
        match = re.fullmatch(r"(.+)\.(\d+)", header)
        if match and match.group(1) in present:
            problems.append(
                Problem(
                    "warning",
                    "schema.problem.renamed_header",
                    {"column": header, "original": match.group(1)},
                )
            )
    by_norm: dict[str, list[str]] = {}
    for header in dict.fromkeys(names):
        by_norm.setdefault(normalize_header(header), []).append(header)
    for norm, group in by_norm.items():
        if len(group) > 1 and norm:
            problems.append(
                Problem("warning", "schema.problem.similar_headers", {"columns": ", ".join(group)})
            )
    return problems


def apply_mapping(
    frame: pd.DataFrame, mapping: Mapping, options: TypingOptions | None = None
) -> TypedTable:
    """Type the raw text frame into a canonical table. Role columns get their kind's dtype;
    unmapped columns are kept as text attributes under a snake_case name. Never mutates."""
    options = options or TypingOptions()
    table = mapping.table
    headers = [str(c) for c in frame.columns]
    problems = header_problems(headers)
    counts = Counter(headers)

    role_pos: dict[str, int] = {}
    for source, role in mapping.columns.items():
        pos = _find_source(headers, source)
        if pos is None:
            problems.append(
                Problem(
                    "error",
                    "schema.problem.mapped_column_missing",
                    {"column": source, "role": role},
                )
            )
        else:
            role_pos[role] = pos

    columns: dict[str, pd.Series] = {}
    date_formats: dict[str, str | None] = {}
    for role, kind in ROLES[table].items():
        if role not in role_pos:
            continue
        pos = role_pos[role]
        raw = frame.iloc[:, pos].reset_index(drop=True)
        values, found, fmt = _type_column(raw, kind, role, headers[pos], options)
        columns[role] = values
        problems.extend(found)
        if kind == "date":
            date_formats[role] = fmt

    attributes: dict[str, str] = {}
    mapped_pos = set(role_pos.values())
    reserved = set(ROLES[table])
    for pos, header in enumerate(headers):
        if pos in mapped_pos or (counts[header] > 1 and headers.index(header) != pos):
            continue
        name = snake_case(header) or f"column_{pos + 1}"
        if name in reserved:
            name = f"{name}_attr"
        base, n = name, 2
        while name in columns:
            name = f"{base}_{n}"
            n += 1
        raw = frame.iloc[:, pos].reset_index(drop=True)
        kind = options.extra_kinds.get(header) or options.extra_kinds.get(name)
        if kind is None and options.infer_extras and _looks_numeric(raw):
            kind = "number"
        if kind is None:
            values = parse_text(raw)
        else:
            values, found, fmt = _type_column(raw, kind, name, header, options)
            problems.extend(found)
            if kind == "date":
                date_formats[name] = fmt
        columns[name] = values
        attributes[header] = name

    derived: tuple[str, ...] = ()
    if (
        table == "transactions"
        and "amount" not in columns
        and "quantity" in columns
        and "unit_price" in columns
    ):
        columns["amount"] = (columns["quantity"] * columns["unit_price"]).astype("float64")
        derived = ("amount",)
        problems.append(Problem("info", "schema.problem.derived_amount", {"column": "amount"}))

    order = [r for r in ROLES[table] if r in columns] + [
        c for c in columns if c not in ROLES[table]
    ]
    out = pd.DataFrame({c: columns[c] for c in order}, index=pd.RangeIndex(len(frame)))
    return TypedTable(
        frame=out,
        mapping=mapping,
        date_formats=date_formats,
        problems=problems,
        attributes=attributes,
        derived=derived,
        source_columns=tuple(headers),
    )


# --------------------------------------------------------------------------------------------
# Requirements per analysis
# --------------------------------------------------------------------------------------------

REQUIREMENTS: dict[str, dict[str, Any]] = {
    "rfm": {
        "label": "schema.analysis.rfm",
        "options": (
            {"table": "transactions", "roles": ("customer_id", "date", "amount")},
            {"table": "transactions", "roles": ("customer_id", "date", "quantity", "unit_price")},
        ),
    },
    "clv": {
        "label": "schema.analysis.clv",
        "options": (
            {"table": "transactions", "roles": ("customer_id", "date", "amount")},
            {"table": "transactions", "roles": ("customer_id", "date", "quantity", "unit_price")},
        ),
    },
    "segmentation": {
        "label": "schema.analysis.segmentation",
        "options": (
            {"table": "transactions", "roles": ("customer_id", "date", "amount")},
            {"table": "transactions", "roles": ("customer_id", "date", "quantity", "unit_price")},
            {"table": "customers", "roles": ("customer_id",)},
        ),
    },
    "baskets": {
        "label": "schema.analysis.baskets",
        "options": (
            {"table": "transactions", "roles": ("item", "order_id")},
            {"table": "transactions", "roles": ("item", "customer_id", "date")},
        ),
    },
    "recommend": {
        "label": "schema.analysis.recommend",
        "options": ({"table": "transactions", "roles": ("customer_id", "item")},),
    },
    "satisfaction": {
        "label": "schema.analysis.satisfaction",
        "options": ({"table": "feedback", "roles": ("date", "score")},),
    },
    "text": {
        "label": "schema.analysis.text",
        "options": (
            {"table": "feedback", "roles": ("text",)},
            {"table": "communications", "roles": ("text",)},
        ),
    },
    "campaigns": {
        "label": "schema.analysis.campaigns",
        "options": (
            {"table": "campaigns", "roles": ("channel", "responded")},
            {"table": "campaigns", "roles": ("campaign", "responded")},
        ),
    },
    "churn": {
        "label": "schema.analysis.churn",
        "options": (
            {"table": "customers", "roles": ("customer_id", "churn")},
            {"table": "transactions", "roles": ("customer_id", "date")},
        ),
    },
}


def _requirement(analysis: str) -> dict[str, Any]:
    if analysis not in REQUIREMENTS:
        raise ParameterError("schema.error.unknown_analysis", analysis=analysis)
    return REQUIREMENTS[analysis]


def missing_for(dataset: Dataset, analysis: str) -> list[str]:
    """What ``analysis`` lacks in ``dataset`` as ``table.role`` strings (empty when it can run).
    When no option fits, the option with the fewest missing roles is reported."""
    best: list[str] | None = None
    for option in _requirement(analysis)["options"]:
        table, roles = option["table"], option["roles"]
        frame = dataset.get(table)
        if frame is None or len(frame) == 0:
            missing = [f"{table}.{r}" for r in roles]
        else:
            missing = [f"{table}.{r}" for r in roles if r not in frame.columns]
        if not missing:
            return []
        if best is None or len(missing) < len(best):
            best = missing
    return best or []


def required_roles_for(analysis: str, table: str, columns: Iterable[str] = ()) -> list[str]:
    """The roles ``analysis`` needs from ``table``: the option closest to ``columns``."""
    present = set(columns)
    options = [o for o in _requirement(analysis)["options"] if o["table"] == table]
    if not options:
        return []
    best = min(options, key=lambda o: sum(1 for r in o["roles"] if r not in present))
    return list(best["roles"])


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------

_MONEY_FOR_OUTLIERS = ("amount", "unit_price", "revenue", "cost")
_NONPOSITIVE_ROLES = ("amount", "unit_price")


def cancellation_mask(frame: pd.DataFrame) -> pd.Series:
    """Rows that are cancellations or returns: an order id of the form ``C123`` (only when such
    ids are a minority, so ids like ``CA-2016-…`` are not all flagged), or a negative quantity
    or amount."""
    mask = pd.Series(False, index=frame.index)
    if "order_id" in frame.columns:
        mask = mask | cancelled_order_mask(frame)
    for role in ("quantity", "amount"):
        if role in frame.columns and pd.api.types.is_numeric_dtype(frame[role]):
            mask = mask | (frame[role] < 0).fillna(False).astype(bool)
    return mask


def cancelled_order_mask(frame: pd.DataFrame) -> pd.Series:
    """Rows whose order id is a cancellation id (see :func:`cancellation_ids`)."""
    if "order_id" not in frame.columns:
        return pd.Series(False, index=frame.index)
    return cancellation_ids(_as_text(frame["order_id"]))


def cancellation_ids(ids: pd.Series) -> pd.Series:
    """``C`` + digits marks a cancellation (Online Retail's ``C536379``) only where plain-digit
    ids are at least as common: then ``C`` is a flag, not the id format (``CA-2016-…`` or
    ``C0001`` everywhere are ordinary ids). Dropping the flagged rows never flags new ones, so
    the rule gives the same answer when applied twice."""
    text = ids.astype("str")
    # Cheap passes instead of two regexes over every id: the C pattern is tried only on ids
    # that start with C, and "digits only" is Arrow's ASCII-decimal test on ASCII ids (the
    # regex's Unicode \d is needed only for the rare non-ASCII ones).
    starts = text.str.startswith(("C", "c")).fillna(False).astype(bool).to_numpy()
    flagged = np.zeros(len(text), dtype=bool)
    if starts.any():
        flagged[starts] = text[starts].str.fullmatch(r"[Cc]\d+").fillna(False).to_numpy(bool)
    values = pa.array(text.array)
    ascii_digits = pc.and_(pc.string_is_ascii(values), pc.ascii_is_decimal(values))
    plain = int(pc.sum(pc.fill_null(ascii_digits, False)).as_py() or 0)
    other = pc.invert(pc.fill_null(pc.string_is_ascii(values), True)).to_numpy(zero_copy_only=False)
    if other.any():
        plain += int(text[other].str.fullmatch(r"\d+").fillna(False).astype(bool).sum())
    if plain == 0 or plain < int(flagged.sum()):
        return pd.Series(False, index=ids.index)
    return pd.Series(flagged, index=ids.index)


def _robust_z(values: pd.Series) -> pd.Series:
    """(value - median) / (1.4826 × MAD), or the mean absolute deviation when the MAD is 0.
    Computed on the numpy array: the same medians and mean pandas would give, without its
    per-call overhead and copies on a five-million-row column."""
    array = values.to_numpy(dtype="float64", na_value=np.nan)
    finite = array[np.isfinite(array)]
    if finite.size == 0:
        return pd.Series(0.0, index=values.index)
    median = float(np.median(finite))
    deviations = np.abs(finite - median)
    mad = float(np.median(deviations))
    if mad > 0:
        scale = 1.4826 * mad
    else:
        mean_ad = float(deviations.mean())
        if mean_ad == 0:
            return pd.Series(0.0, index=values.index)
        scale = 1.2533 * mean_ad
    return pd.Series((array - median) / scale, index=values.index)


def _close_matches(role: str, headers: Sequence[str], limit: int = 3) -> list[str]:
    scored = []
    words = {normalize_header(w) for w in (role, *_PRIMARY.get(role, ()))}
    for header in dict.fromkeys(headers):
        norm = normalize_header(header)
        if not norm:
            continue
        best = max(difflib.SequenceMatcher(None, norm, w).ratio() for w in words)
        raw = difflib.SequenceMatcher(None, str(header).strip().lower(), role).ratio()
        score = max(best, raw, header_score(header, role)[0])
        if score >= 0.75:
            scored.append((score, header))
    scored.sort(key=lambda s: -s[0])
    return [h for _s, h in scored[:limit]]


def validate(
    typed: TypedTable | pd.DataFrame,
    table: str | None = None,
    required_roles: Sequence[str] | None = None,
    *,
    today: date | None = None,
    outlier_z: float = 5.0,
    hashes: np.ndarray | None = None,
) -> list[Problem]:
    """Every problem at once (lazy validation): typing problems, missing required roles with
    close header matches, cancellations and returns, duplicate rows and ids, empty customer ids,
    missing values, future dates, non-positive amounts, infinite values and outliers.
    ``hashes``: the frame's row hashes, when the caller keeps them for its fingerprint too."""
    if isinstance(typed, TypedTable):
        frame = typed.frame
        table = table or typed.table
        problems = list(typed.problems)
        headers: Sequence[str] = typed.source_columns or tuple(frame.columns)
        derived = set(typed.derived)
    else:
        frame = typed
        headers = [str(c) for c in frame.columns]
        problems = [p for p in header_problems(headers) if p.severity == "error"]
        if frame.columns.duplicated().any():
            frame = frame.loc[:, ~frame.columns.duplicated()]
            hashes = None  # they were the hashes of the frame with every column
        derived = set()
    if table not in ROLES:
        raise ParameterError("schema.error.unknown_table", table=table)
    roles = ROLES[table]

    for role in required_roles or ():
        if role not in roles:
            raise ParameterError("schema.error.unknown_role", role=role, table=table)
        if role not in frame.columns:
            problems.append(
                Problem(
                    "error",
                    "schema.problem.missing_role",
                    {"role": role, "table": table, "matches": _close_matches(role, headers)},
                )
            )

    n = len(frame)
    if n == 0:
        problems.append(Problem("error", "schema.problem.no_rows", {}))
        return problems

    if "customer_id" in frame.columns:
        empty = _as_text(frame["customer_id"]).isna()
        if empty.any():
            problems.append(
                Problem(
                    "warning",
                    "schema.problem.empty_customer",
                    {"column": "customer_id", "count": int(empty.sum())},
                )
            )
        if table == "customers":
            ids = frame["customer_id"]
            dup = ids.duplicated(keep=False) & ids.notna()
            if dup.any():
                problems.append(
                    Problem(
                        "warning",
                        "schema.problem.duplicate_ids",
                        {
                            "column": "customer_id",
                            "count": int(ids[dup].nunique()),
                            "rows": int(dup.sum()),
                            "examples": _examples(ids, dup.to_numpy()),
                        },
                    )
                )

    for column in frame.columns:
        if column == "customer_id" or column in derived:
            continue
        kind = roles.get(column)
        series = frame[column]
        missing = int(series.isna().sum())
        if missing:
            severity = "warning" if kind in ("id", "date", "number", "money", "label") else "info"
            problems.append(
                Problem(
                    severity, "schema.problem.missing_values", {"column": column, "count": missing}
                )
            )

    cancelled = cancelled_order_mask(frame)
    if cancelled.any():
        problems.append(
            Problem(
                "warning",
                "schema.problem.cancellations",
                {"column": "order_id", "count": int(cancelled.sum())},
            )
        )
    negative = pd.Series(False, index=frame.index)
    for role in ("quantity", "amount"):
        if role in frame.columns and pd.api.types.is_numeric_dtype(frame[role]):
            negative = negative | (frame[role] < 0).fillna(False).astype(bool)
    returns = negative & ~cancelled
    if returns.any():
        problems.append(Problem("warning", "schema.problem.returns", {"count": int(returns.sum())}))

    duplicates = duplicated_rows(frame, hashes)
    if duplicates.any():
        problems.append(
            Problem("warning", "schema.problem.duplicate_rows", {"count": int(duplicates.sum())})
        )

    limit = pd.Timestamp(today or date.today()) + pd.Timedelta(days=1)
    for column in frame.columns:
        series = frame[column]
        if pd.api.types.is_datetime64_any_dtype(series):
            future = (series >= limit).fillna(False).astype(bool)
            if future.any():
                problems.append(
                    Problem(
                        "warning",
                        "schema.problem.future_dates",
                        {
                            "column": column,
                            "count": int(future.sum()),
                            "examples": _examples(series, future.to_numpy()),
                        },
                    )
                )
        elif pd.api.types.is_float_dtype(series):
            inf = np.isinf(series.to_numpy(dtype="float64", na_value=np.nan))
            if inf.any():
                problems.append(
                    Problem(
                        "warning",
                        "schema.problem.infinite",
                        {"column": column, "count": int(inf.sum())},
                    )
                )

    for role in _NONPOSITIVE_ROLES:
        if role in frame.columns and pd.api.types.is_numeric_dtype(frame[role]):
            nonpos = (frame[role] <= 0).fillna(False).astype(bool)
            if nonpos.any():
                problems.append(
                    Problem(
                        "warning",
                        "schema.problem.nonpositive",
                        {"column": role, "count": int(nonpos.sum())},
                    )
                )

    for role in _MONEY_FOR_OUTLIERS:
        if role in frame.columns and pd.api.types.is_numeric_dtype(frame[role]):
            values = frame[role].astype("float64")
            z = _robust_z(values)
            outliers = (z.abs() > outlier_z).fillna(False).astype(bool)
            if outliers.any():
                problems.append(
                    Problem(
                        "warning",
                        "schema.problem.outliers",
                        {"column": role, "count": int(outliers.sum()), "threshold": outlier_z},
                    )
                )
    return problems


def has_errors(problems: Iterable[Problem]) -> bool:
    """Whether any problem blocks using the table as it is."""
    return any(p.severity == "error" for p in problems)


def duplicated_rows(frame: pd.DataFrame, hashes: np.ndarray | None = None) -> pd.Series:
    """Exact ``DataFrame.duplicated()`` in a fraction of its time on long tables: rows are
    compared by a 64-bit hash first, and only rows whose hash repeats are compared in full.
    ``hashes`` are the frame's :func:`~crm_core.store.row_hashes` when the caller has them."""
    if len(frame) < 50_000:
        return frame.duplicated()
    hashes = pd.Series(row_hashes(frame) if hashes is None else hashes, index=frame.index)
    candidates = hashes.duplicated(keep=False).to_numpy()
    result = pd.Series(False, index=frame.index)
    if candidates.any():
        result[candidates] = frame[candidates].duplicated().to_numpy()
    return result
