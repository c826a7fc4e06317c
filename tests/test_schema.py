"""Tests for crm_core.schema: synonyms, auto-mapping, typing, validation and requirements."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_core.errors import ParameterError
from crm_core.i18n import catalog, has_key, t
from crm_core.schema import (
    DATE_FORMATS,
    REQUIREMENTS,
    SYNONYMS,
    Mapping,
    Problem,
    TypedTable,
    TypingOptions,
    apply_mapping,
    auto_map,
    cancellation_mask,
    detect_date_format,
    guess_table,
    has_errors,
    header_problems,
    header_score,
    is_generic_header,
    layout_signature,
    missing_for,
    normalize_header,
    parse_dates,
    parse_ids,
    parse_labels,
    parse_numbers,
    required_roles_for,
    snake_case,
    validate,
)
from crm_core.tables import ROLES, TABLES, Dataset

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
CJK = re.compile(r"[\u4e00-\u9fff]")


def text_frame(data: dict[str, list]) -> pd.DataFrame:
    """A raw frame as crm_core.io hands it over: every column text, missing as NaN."""
    return pd.DataFrame({k: pd.Series(v, dtype="str") for k, v in data.items()})


def keys(problems: list[Problem]) -> set[str]:
    return {p.key for p in problems}


def find(problems: list[Problem], key: str, column: str | None = None) -> Problem:
    for p in problems:
        if p.key == key and (column is None or p.column == column):
            return p
    raise AssertionError(f"{key} ({column}) not in {[(p.key, p.column) for p in problems]}")


def read_raw(relative: str, **kwargs) -> pd.DataFrame:
    path = DATASETS / relative
    if not path.exists():
        pytest.skip(f"dataset missing: {path}")
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], **kwargs)


# ---------------------------------------------------------------------------------- headers


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Customer ID", "customerid"),
        ("customer_id", "customerid"),
        ("  customer id  ", "customerid"),
        ("ＣｕｓｔｏｍｅｒＩＤ", "customerid"),
        ("Annual Income (k$)", "annualincome"),
        ("Spending Score (1-100)", "spendingscore"),
        ("\ufeffInvoiceNo", "invoiceno"),
        ("客户编号", "客户编号"),
        ("金额（元）", "金额"),
        ("order-date", "orderdate"),
    ],
)
def test_normalize_header(header: str, expected: str) -> None:
    assert normalize_header(header) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("InvoiceNo", "invoice_no"),
        ("StockCode", "stock_code"),
        ("customerID", "customer_id"),
        ("TotalCharges", "total_charges"),
        ("Annual Income (k$)", "annual_income_k"),
        ("Country", "country"),
        ("  Ship-To City ", "ship_to_city"),
        ("下单 渠道", "下单_渠道"),
    ],
)
def test_snake_case(header: str, expected: str) -> None:
    assert snake_case(header) == expected


def test_every_role_has_english_and_chinese_synonyms() -> None:
    for table in TABLES:
        assert set(SYNONYMS[table]) == set(ROLES[table])
        for role, words in SYNONYMS[table].items():
            assert any(w.isascii() for w in words), (table, role)
            assert any(CJK.search(w) for w in words), (table, role)


@pytest.mark.parametrize(
    ("header", "table", "role"),
    [
        ("customer id", "transactions", "customer_id"),
        ("CustomerID", "transactions", "customer_id"),
        ("cust_id", "transactions", "customer_id"),
        ("Client ID", "customers", "customer_id"),
        ("member id", "customers", "customer_id"),
        ("User ID", "feedback", "customer_id"),
        ("客户编号", "transactions", "customer_id"),
        ("客户ID", "customers", "customer_id"),
        ("会员号", "customers", "customer_id"),
        ("用户ID", "feedback", "customer_id"),
        ("顾客编号", "transactions", "customer_id"),
        ("Invoice", "transactions", "order_id"),
        ("InvoiceNo", "transactions", "order_id"),
        ("Order No", "transactions", "order_id"),
        ("订单号", "transactions", "order_id"),
        ("发票号", "transactions", "order_id"),
        ("单号", "transactions", "order_id"),
        ("InvoiceDate", "transactions", "date"),
        ("order date", "transactions", "date"),
        ("Purchase Date", "transactions", "date"),
        ("timestamp", "transactions", "date"),
        ("日期", "transactions", "date"),
        ("下单时间", "transactions", "date"),
        ("购买日期", "transactions", "date"),
        ("交易日期", "transactions", "date"),
        ("Product", "transactions", "item"),
        ("Description", "transactions", "item"),
        ("Item Name", "transactions", "item"),
        ("商品", "transactions", "item"),
        ("产品", "transactions", "item"),
        ("商品名称", "transactions", "item"),
        ("品类", "transactions", "category"),
        ("类别", "transactions", "category"),
        ("分类", "transactions", "category"),
        ("qty", "transactions", "quantity"),
        ("数量", "transactions", "quantity"),
        ("Price", "transactions", "unit_price"),
        ("UnitPrice", "transactions", "unit_price"),
        ("单价", "transactions", "unit_price"),
        ("Sales", "transactions", "amount"),
        ("Revenue", "transactions", "amount"),
        ("Total", "transactions", "amount"),
        ("dollar_value", "transactions", "amount"),
        ("金额", "transactions", "amount"),
        ("销售额", "transactions", "amount"),
        ("rating", "feedback", "score"),
        ("review_score", "feedback", "score"),
        ("satisfaction", "feedback", "score"),
        ("满意度", "feedback", "score"),
        ("评分", "feedback", "score"),
        ("渠道", "communications", "channel"),
        ("contact", "campaigns", "channel"),
        ("comment", "feedback", "text"),
        ("Review", "feedback", "text"),
        ("content", "communications", "text"),
        ("message", "communications", "text"),
        ("内容", "communications", "text"),
        ("评论", "feedback", "text"),
        ("备注", "communications", "text"),
        ("Churn", "customers", "churn"),
        ("churned", "customers", "churn"),
        ("Exited", "customers", "churn"),
        ("是否流失", "customers", "churn"),
        ("流失", "customers", "churn"),
        ("sex", "customers", "gender"),
        ("Genre", "customers", "gender"),
        ("性别", "customers", "gender"),
        ("年龄", "customers", "age"),
        ("城市", "customers", "city"),
        ("姓名", "customers", "name"),
        ("客户名称", "customers", "name"),
        ("注册日期", "customers", "signup_date"),
        ("y", "campaigns", "responded"),
        ("response", "campaigns", "responded"),
        ("converted", "campaigns", "responded"),
        ("活动", "campaigns", "campaign"),
        ("review_creation_date", "feedback", "date"),
        ("customer_city", "customers", "city"),
    ],
)
def test_header_synonyms(header: str, table: str, role: str) -> None:
    conf, how = header_score(header, role)
    assert conf >= 0.75, (header, role, conf, how)
    # and no other role of the table claims the header more strongly
    assert header_score(header, role)[0] == max(header_score(header, r)[0] for r in ROLES[table])


def test_exact_header_confidence_and_fuzzy_match() -> None:
    assert header_score("Customer ID", "customer_id") == (0.95, "exact")
    conf, how = header_score("Custmer_ID", "customer_id")
    assert how == "fuzzy" and 0.6 <= conf <= 0.8
    assert header_score("review_id", "customer_id")[0] == 0  # not "reviewer id"
    assert header_score("average", "age")[0] == 0  # no suffix match on short words


def test_generic_headers() -> None:
    for header in ("column_1", "Unnamed: 0", "col3", "", "00001", "19970101", "11.77", "V2"):
        assert is_generic_header(header), header
    for header in ("customer", "amount", "date"):
        assert not is_generic_header(header)


# ---------------------------------------------------------------------------------- mapping


def chinese_transactions() -> pd.DataFrame:
    return text_frame(
        {
            "客户编号": ["001", "002", "001", "003"],
            "下单时间": [
                "2024-03-05 10:00:00",
                "2024-03-06 11:30:00",
                "2024-04-01 09:00:00",
                "2024-04-02 18:45:10",
            ],
            "商品名称": ["苹果", "香蕉", "苹果", "橙子"],
            "数量": ["2", "1", "3", "5"],
            "单价": ["¥3.50", "2.00", "3.5", "1,200.00"],
            "金额": ["7.00元", "2.00", "10.50", "6,000.00"],
        }
    )


def test_chinese_headers_are_mapped() -> None:
    frame = chinese_transactions()
    assert guess_table(frame)[0] == "transactions"
    mapping = auto_map(frame)
    assert mapping.table == "transactions"
    assert mapping.columns == {
        "客户编号": "customer_id",
        "下单时间": "date",
        "商品名称": "item",
        "数量": "quantity",
        "单价": "unit_price",
        "金额": "amount",
    }
    assert all(mapping.reasons[r] == "header" for r in mapping.columns.values())
    assert all(mapping.confidence[r] >= 0.9 for r in mapping.columns.values())
    typed = apply_mapping(frame, mapping)
    out = typed.frame
    assert out["customer_id"].tolist() == ["001", "002", "001", "003"]
    assert out["unit_price"].tolist() == [3.5, 2.0, 3.5, 1200.0]
    assert out["amount"].tolist() == [7.0, 2.0, 10.5, 6000.0]
    assert typed.date_formats == {"date": "%Y-%m-%d %H:%M:%S"}
    assert not has_errors(typed.problems)


def test_full_width_and_spaced_headers_are_mapped() -> None:
    frame = text_frame(
        {"ＣｕｓｔｏｍｅｒＩＤ": ["1"], " Order Date ": ["2024-01-02"], "AMOUNT": ["5"]}
    )
    mapping = auto_map(frame, "transactions")
    assert mapping.roles == {
        "customer_id": "ＣｕｓｔｏｍｅｒＩＤ",
        "date": " Order Date ",
        "amount": "AMOUNT",
    }


@pytest.mark.parametrize(
    ("data", "table"),
    [
        ({"customerID": ["a"], "gender": ["Male"], "Churn": ["Yes"]}, "customers"),
        (
            {"InvoiceNo": ["1"], "StockCode": ["x"], "Quantity": ["1"], "UnitPrice": ["2"]},
            "transactions",
        ),
        (
            {"review_id": ["r"], "order_id": ["o"], "review_score": ["5"], "comment": ["ok"]},
            "feedback",
        ),
        ({"contact": ["cellular"], "campaign": ["1"], "y": ["no"]}, "campaigns"),
        (
            {"channel": ["phone"], "direction": ["inbound"], "message": ["hi"], "outcome": ["ok"]},
            "communications",
        ),
    ],
)
def test_guess_table(data: dict, table: str) -> None:
    guessed, confidence = guess_table(text_frame(data))
    assert guessed == table
    assert 0 < confidence <= 1


def test_values_based_mapping_for_generic_headers() -> None:
    rng = np.random.default_rng(0)
    n = 300
    ids = [f"{i:05d}" for i in rng.integers(1, 120, n)]
    dates = [
        (date(1997, 1, 1) + timedelta(days=int(d))).strftime("%Y%m%d")
        for d in rng.integers(0, 500, n)
    ]
    qty = [str(q) for q in rng.integers(1, 6, n)]
    amount = [f"{a:.2f}" for a in rng.uniform(5, 200, n)]
    frame = text_frame({"column_1": ids, "column_2": dates, "column_3": qty, "column_4": amount})
    table, _ = guess_table(frame)
    assert table == "transactions"
    mapping = auto_map(frame)
    assert mapping.columns == {
        "column_1": "customer_id",
        "column_2": "date",
        "column_3": "quantity",
        "column_4": "amount",
    }
    assert set(mapping.reasons.values()) == {"values"}
    assert all(c <= 0.7 for c in mapping.confidence.values())
    typed = apply_mapping(frame, mapping)
    assert typed.date_formats["date"] == "%Y%m%d"
    assert typed.frame["customer_id"].iloc[0] == ids[0]


def test_values_find_a_date_under_an_unhelpful_header() -> None:
    frame = text_frame(
        {"Customer": ["a", "b"], "when": ["2024-01-02", "2024-02-03"], "Amount": ["1", "2"]}
    )
    mapping = auto_map(frame, "transactions")
    assert mapping.columns["when"] == "date"
    assert mapping.reasons["date"] == "values"


def test_value_fit_breaks_header_ties() -> None:
    # bank-marketing: "campaign" holds contact counts, so it becomes contacts, not a category
    numeric = text_frame({"campaign": [str(i % 40 + 1) for i in range(200)], "y": ["no"] * 200})
    assert auto_map(numeric, "campaigns").columns["campaign"] == "contacts"
    named = text_frame({"campaign": ["Spring", "Summer"] * 100, "y": ["no"] * 200})
    assert auto_map(named, "campaigns").columns["campaign"] == "campaign"


def test_duplicate_headers_are_never_mapped_silently() -> None:
    frame = pd.DataFrame([["1", "2", "2024-01-01"]], columns=["amount", "amount", "date"])
    frame = frame.astype("str")
    mapping = auto_map(frame, "transactions")
    assert "amount" not in mapping.columns
    typed = apply_mapping(frame, mapping)
    problem = find(typed.problems, "schema.problem.duplicate_header")
    assert problem.severity == "error" and problem.params == {"column": "amount", "count": 2}
    assert list(typed.frame.columns).count("amount_attr") == 1


def test_renamed_and_similar_headers_are_reported() -> None:
    problems = header_problems(["amount", "amount.1", "Customer ID", "customer_id"])
    renamed = find(problems, "schema.problem.renamed_header")
    assert renamed.params == {"column": "amount.1", "original": "amount"}
    similar = find(problems, "schema.problem.similar_headers")
    assert similar.params["columns"] == "Customer ID, customer_id"
    assert not has_errors(problems)


def test_validate_rejects_duplicate_columns_in_a_plain_frame() -> None:
    frame = pd.DataFrame([[1.0, 2.0]], columns=["amount", "amount"])
    problem = find(validate(frame, "transactions"), "schema.problem.duplicate_header")
    assert problem.severity == "error"


def test_mapping_json_round_trip_and_errors() -> None:
    mapping = auto_map(chinese_transactions())
    again = Mapping.from_json(mapping.to_json())
    assert again == mapping
    assert hash(again) == hash(mapping)
    assert json.loads(mapping.to_json())["table"] == "transactions"
    with pytest.raises(ParameterError):
        Mapping.from_json("{not json")
    with pytest.raises(ParameterError):
        Mapping.from_json(json.dumps({"table": "nope", "columns": {}}))
    with pytest.raises(ParameterError):
        Mapping("transactions", {"a": "churn"})
    with pytest.raises(ParameterError):
        Mapping("transactions", {"a": "amount", "b": "amount"})


def test_mapping_assign_is_a_user_edit() -> None:
    mapping = Mapping(
        "transactions",
        {"A": "customer_id", "B": "amount"},
        {"customer_id": 0.95, "amount": 0.7},
        {"customer_id": "header", "amount": "header"},
    )
    edited = mapping.assign("C", "amount")
    assert edited.columns == {"A": "customer_id", "C": "amount"}
    assert edited.reasons["amount"] == "user" and edited.confidence["amount"] == 1.0
    assert mapping.columns == {"A": "customer_id", "B": "amount"}  # original unchanged
    assert edited.assign("A", None).columns == {"C": "amount"}


def test_layout_signature() -> None:
    a = layout_signature(["Customer ID", "Order Date", "Amount"])
    assert a == layout_signature(["customer_id", "order-date", "AMOUNT "])
    assert a == layout_signature(["ＣｕｓｔｏｍｅｒＩＤ", "Order Date", "Amount"])
    assert a != layout_signature(["Customer ID", "Amount", "Order Date"])
    assert re.fullmatch(r"[0-9a-f]{16}", a)


def test_saved_mapping_applies_to_a_file_with_the_same_layout() -> None:
    first = text_frame({"Customer ID": ["1"], "Amount": ["2"]})
    second = text_frame({"customer_id": ["7"], "AMOUNT": ["3"]})
    mapping = auto_map(first, "transactions")
    assert layout_signature(first.columns) == layout_signature(second.columns)
    typed = apply_mapping(second, mapping)
    assert typed.frame["customer_id"].tolist() == ["7"]
    assert typed.frame["amount"].tolist() == [3.0]


def test_mapped_column_missing_is_an_error() -> None:
    mapping = Mapping("transactions", {"Customer": "customer_id", "Gone": "amount"})
    typed = apply_mapping(text_frame({"Customer": ["1"]}), mapping)
    problem = find(typed.problems, "schema.problem.mapped_column_missing")
    assert problem.severity == "error" and problem.params["role"] == "amount"


# ---------------------------------------------------------------------------------- typing


def test_ids_keep_leading_zeros_and_fix_excel_floats() -> None:
    raw = pd.Series([" 0001", "12345.0", "A-7 ", "", None, "0042.00", "1.5"], dtype="str")
    ids = parse_ids(raw)
    assert pd.api.types.is_string_dtype(ids)
    assert ids.iloc[:3].tolist() == ["0001", "12345", "A-7"]
    assert ids.iloc[3:5].isna().all()
    assert ids.iloc[5:].tolist() == ["0042", "1.5"]


def test_ids_from_different_spellings_do_not_merge() -> None:
    frame = text_frame({"customer_id": ["001", "1", "01"], "amount": ["1", "2", "3"]})
    typed = apply_mapping(frame, auto_map(frame, "transactions"))
    assert typed.frame["customer_id"].nunique() == 3


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1,234.50", 1234.5),
        ("$1,234.50", 1234.5),
        ("¥1,200", 1200.0),
        ("￥1,200", 1200.0),
        ("12元", 12.0),
        ("€ 3.5", 3.5),
        ("£-2", -2.0),
        ("(12.50)", -12.5),
        ("-7", -7.0),
        ("1e3", 1000.0),
        (" 42 ", 42.0),
        ("１２３", 123.0),
        ("USD 10", 10.0),
        ("1 234.5", 1234.5),
    ],
)
def test_number_formats(text: str, value: float) -> None:
    parsed = parse_numbers(pd.Series([text], dtype="str"))
    assert parsed.values.iloc[0] == pytest.approx(value)
    assert not parsed.bad.iloc[0]


def test_decimal_comma_is_detected_for_the_column() -> None:
    raw = pd.Series(["1.234,50", "12,5", "3", "7,25"], dtype="str")
    parsed = parse_numbers(raw)
    assert parsed.decimal == ","
    assert parsed.values.tolist() == [1234.5, 12.5, 3.0, 7.25]
    thousands = parse_numbers(pd.Series(["1,234", "12,500.5", "3"], dtype="str"))
    assert thousands.decimal == "."
    assert thousands.values.tolist() == [1234.0, 12500.5, 3.0]


def test_unparseable_numbers_are_counted_with_row_numbers() -> None:
    frame = text_frame(
        {"customer_id": list("abcdefg"), "amount": ["1", "abc", "2", "", "N/A", "1,2,3", "12%"]}
    )
    typed = apply_mapping(frame, auto_map(frame, "transactions"))
    problem = find(typed.problems, "schema.problem.unparseable", "amount")
    assert problem.severity == "warning"
    assert problem.count == 3
    assert problem.params["examples"] == [
        {"row": 2, "value": "abc"},
        {"row": 6, "value": "1,2,3"},
        {"row": 7, "value": "12%"},
    ]
    assert typed.frame["amount"].isna().sum() == 5  # 3 bad + empty + N/A
    assert typed.frame["amount"].dtype == np.float64


def test_numbers_with_separators_are_never_categories() -> None:
    frame = text_frame({"customer id": ["1", "2"], "Sales": ["1,200.00", "¥3,400"]})
    typed = apply_mapping(frame, auto_map(frame, "transactions"))
    assert pd.api.types.is_float_dtype(typed.frame["amount"])
    assert typed.frame["amount"].sum() == 4600.0


def test_infinite_values_are_flagged_and_treated_as_missing() -> None:
    frame = text_frame({"customer_id": ["a", "b", "c"], "amount": ["1e309", "inf", "3"]})
    typed = apply_mapping(frame, auto_map(frame, "transactions"))
    problem = find(typed.problems, "schema.problem.infinite", "amount")
    assert problem.count == 2
    assert typed.frame["amount"].isna().sum() == 2
    direct = pd.DataFrame({"amount": [1.0, np.inf]})
    assert "schema.problem.infinite" in keys(validate(direct, "transactions"))


@pytest.mark.parametrize(
    ("values", "fmt", "expected"),
    [
        (["2024-03-05", "2024-12-25"], "%Y-%m-%d", ["2024-03-05", "2024-12-25"]),
        (
            ["2010-12-01 08:26:00", "2011-01-13 17:02:09"],
            "%Y-%m-%d %H:%M:%S",
            ["2010-12-01 08:26:00", "2011-01-13 17:02:09"],
        ),
        (["25/03/2024", "05/04/2024"], "%d/%m/%Y", ["2024-03-25", "2024-04-05"]),
        (["03/25/2024", "04/05/2024"], "%m/%d/%Y", ["2024-03-25", "2024-04-05"]),
        (["19970101", "19980630"], "%Y%m%d", ["1997-01-01", "1998-06-30"]),
        (["2024年3月5日", "2024年12月15日"], "%Y年%m月%d日", ["2024-03-05", "2024-12-15"]),
        (["2024/3/5", "2024/12/15"], "%Y/%m/%d", ["2024-03-05", "2024-12-15"]),
        (["45356", "45000.5"], "excel", ["2024-03-05", "2023-03-15 12:00:00"]),
        (["1393545600", "1363392000"], "unix", ["2014-02-28", "2013-03-16"]),
        (["02 28, 2014", "03 16, 2013"], "%m %d, %Y", ["2014-02-28", "2013-03-16"]),
        (
            ["2024-03-05T10:00:00+08:00", "2024-03-05T23:00:00Z"],
            "ISO8601",
            ["2024-03-05 02:00:00", "2024-03-05 23:00:00"],
        ),
    ],
)
def test_date_formats_are_detected(values: list[str], fmt: str, expected: list[str]) -> None:
    parsed = parse_dates(pd.Series(values, dtype="str"))
    assert parsed.guess.format == fmt
    assert parsed.values.dtype == "datetime64[ns]"
    assert parsed.values.dt.tz is None
    assert parsed.values.tolist() == [pd.Timestamp(v) for v in expected]
    assert not parsed.bad.any()


def test_ambiguous_dates_are_flagged_not_guessed() -> None:
    frame = text_frame(
        {
            "customer_id": ["a", "b", "c"],
            "date": ["01/02/2024", "03/04/2024", "12/11/2024"],
            "amount": ["1"] * 3,
        }
    )
    typed = apply_mapping(frame, auto_map(frame, "transactions"))
    problem = find(typed.problems, "schema.problem.ambiguous_date", "date")
    assert problem.severity == "error"
    assert problem.params["formats"] == ["%d/%m/%Y", "%m/%d/%Y"]
    assert typed.frame["date"].isna().all()
    assert typed.date_formats["date"] is None
    assert "01/02/2024" in problem.message("en")
    # an explicit per-column format settles it, by role or by source header
    for key in ("date", "Date"):
        renamed = frame.rename(columns={"date": "Date"}) if key == "Date" else frame
        opts = TypingOptions(date_formats={key: "%d/%m/%Y"})
        fixed = apply_mapping(renamed, auto_map(renamed, "transactions"), opts)
        assert fixed.frame["date"].iloc[0] == pd.Timestamp("2024-02-01")
        assert fixed.date_formats["date"] == "%d/%m/%Y"
        assert "schema.problem.ambiguous_date" not in keys(fixed.problems)
    us = apply_mapping(frame, auto_map(frame, "transactions"), TypingOptions(dayfirst=False))
    assert us.frame["date"].iloc[0] == pd.Timestamp("2024-01-02")


def test_one_unambiguous_value_decides_day_first() -> None:
    guess = detect_date_format(pd.Series(["01/02/2024", "25/12/2024"], dtype="str"))
    assert guess.format == "%d/%m/%Y" and not guess.ambiguous


def test_mixed_date_formats_count_failures_instead_of_guessing() -> None:
    frame = text_frame(
        {"date": ["2024-03-05", "2024-03-06", "2024-03-07", "07.03.2024"], "amount": ["1"] * 4}
    )
    typed = apply_mapping(frame, auto_map(frame, "transactions"))
    assert typed.date_formats["date"] == "%Y-%m-%d"
    problem = find(typed.problems, "schema.problem.unparseable", "date")
    assert problem.count == 1
    assert problem.params["examples"] == [{"row": 4, "value": "07.03.2024"}]
    assert problem.params["format"] == "%Y-%m-%d"


def test_unknown_date_format_is_an_error() -> None:
    frame = text_frame({"date": ["soon", "later"], "amount": ["1", "2"]})
    typed = apply_mapping(frame, Mapping("transactions", {"date": "date", "amount": "amount"}))
    assert find(typed.problems, "schema.problem.unknown_date_format").severity == "error"


def test_bad_explicit_date_format_raises() -> None:
    with pytest.raises(ParameterError):
        parse_dates(pd.Series(["2024-01-01"], dtype="str"), "%Q-%m")


def test_dates_out_of_nanosecond_range_are_failures() -> None:
    parsed = parse_dates(pd.Series(["2024-01-01", "9999-12-31"], dtype="str"))
    assert parsed.values.iloc[0] == pd.Timestamp("2024-01-01")
    assert pd.isna(parsed.values.iloc[1]) and parsed.out_of_range == 1


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["Yes", "No", "yes", " NO "], [1, 0, 1, 0]),
        (["是", "否"], [1, 0]),
        (["1", "0", "1.0"], [1, 0, 1]),
        (["true", "False", "T", "f"], [1, 0, 1, 0]),
        (["y", "n"], [1, 0]),
        (["churned", "retained"], [1, 0]),
    ],
)
def test_labels(values: list[str], expected: list[int]) -> None:
    labels, bad = parse_labels(pd.Series(values, dtype="str"))
    assert str(labels.dtype) == "Int8"
    assert labels.tolist() == expected
    assert not bad.any()


def test_unknown_label_values_are_flagged() -> None:
    frame = text_frame({"customerID": ["a", "b", "c"], "Churn": ["Yes", "maybe", ""]})
    typed = apply_mapping(frame, auto_map(frame, "customers"))
    problem = find(typed.problems, "schema.problem.unparseable", "churn")
    assert problem.count == 1 and problem.params["examples"] == [{"row": 2, "value": "maybe"}]
    assert typed.frame["churn"].tolist()[0] == 1


def test_extras_are_kept_as_text_under_snake_case_names() -> None:
    frame = text_frame(
        {
            "CustomerID": ["0001", "0002"],
            "Annual Income (k$)": ["15", "16"],
            "Country": [" UK ", "France"],
            "city": ["x", "y"],
        }
    )
    mapping = auto_map(frame, "customers").assign("city", None)
    typed = apply_mapping(frame, mapping)
    assert list(typed.frame.columns) == ["customer_id", "annual_income_k", "country", "city_attr"]
    assert typed.attributes == {
        "Annual Income (k$)": "annual_income_k",
        "Country": "country",
        "city": "city_attr",
    }
    assert pd.api.types.is_string_dtype(typed.frame["annual_income_k"])
    assert typed.frame["country"].tolist() == ["UK", "France"]
    inferred = apply_mapping(frame, mapping, TypingOptions(infer_extras=True))
    assert pd.api.types.is_float_dtype(inferred.frame["annual_income_k"])
    explicit = apply_mapping(frame, mapping, TypingOptions(extra_kinds={"Country": "category"}))
    assert explicit.frame["country"].tolist() == ["UK", "France"]
    with pytest.raises(ParameterError):
        TypingOptions(extra_kinds={"Country": "colour"})


def test_amount_is_derived_from_quantity_and_price() -> None:
    frame = text_frame({"customer_id": ["a", "b"], "qty": ["2", "3"], "price": ["1.5", "2"]})
    typed = apply_mapping(frame, auto_map(frame, "transactions"))
    assert typed.frame["amount"].tolist() == [3.0, 6.0]
    assert typed.derived == ("amount",)
    assert find(typed.problems, "schema.problem.derived_amount").severity == "info"


def test_apply_mapping_never_mutates_input() -> None:
    frame = chinese_transactions()
    before = frame.copy()
    apply_mapping(frame, auto_map(frame))
    pd.testing.assert_frame_equal(frame, before)


def test_apply_mapping_accepts_non_text_columns() -> None:
    frame = pd.DataFrame({"customer_id": [12345.0, np.nan], "amount": [1, 2]})
    typed = apply_mapping(frame, auto_map(frame, "transactions"))
    assert typed.frame["customer_id"].iloc[0] == "12345"
    assert typed.frame["amount"].tolist() == [1.0, 2.0]


# ---------------------------------------------------------------------------------- validation


def test_missing_roles_are_listed_with_close_matches() -> None:
    frame = text_frame({"ｃｕｓｔｏｍｅｒ ｉｄ ": ["1"], "Date": ["2024-01-01"], "Amount": ["1"]})
    mapping = Mapping("transactions", {"Date": "date", "Amount": "amount"})
    typed = apply_mapping(frame, mapping)
    problems = validate(typed, "transactions", ["customer_id", "date", "amount", "order_id"])
    missing = [p for p in problems if p.key == "schema.problem.missing_role"]
    assert [p.params["role"] for p in missing] == ["customer_id", "order_id"]
    assert missing[0].params["matches"] == ["ｃｕｓｔｏｍｅｒ ｉｄ "]
    assert all(p.severity == "error" for p in missing)
    misspelled = text_frame({"custmer_id": ["1"], "amount": ["2"]})
    typed = apply_mapping(misspelled, Mapping("transactions", {"amount": "amount"}))
    problem = find(validate(typed, "transactions", ["customer_id"]), "schema.problem.missing_role")
    assert problem.params["matches"] == ["custmer_id"]
    assert "custmer_id" in problem.message("en") and "custmer_id" in problem.message("zh")


def test_validate_reports_all_problems_at_once() -> None:
    frame = text_frame(
        {
            "customer_id": ["a", "a", "", "b", "c", "d", "e"],
            "order_id": ["1", "1", "2", "C3", "4", "5", "6"],
            "date": [
                "2024-01-01",
                "2024-01-01",
                "2024-01-02",
                "2024-01-03",
                "2099-01-01",
                "2024-01-04",
                "2024-01-05",
            ],
            "quantity": ["1", "1", "2", "-1", "1", "-2", "1"],
            "unit_price": ["10", "10", "5", "10", "0", "12", "bad"],
        }
    )
    typed = apply_mapping(frame, auto_map(frame, "transactions"))
    problems = validate(
        typed, "transactions", ["customer_id", "date", "amount"], today=date(2024, 6, 1)
    )
    found = keys(problems)
    for key in (
        "schema.problem.derived_amount",
        "schema.problem.unparseable",
        "schema.problem.empty_customer",
        "schema.problem.cancellations",
        "schema.problem.returns",
        "schema.problem.duplicate_rows",
        "schema.problem.future_dates",
        "schema.problem.nonpositive",
    ):
        assert key in found, key
    assert find(problems, "schema.problem.cancellations").count == 1
    assert find(problems, "schema.problem.returns").count == 1
    assert find(problems, "schema.problem.duplicate_rows").count == 1
    assert find(problems, "schema.problem.empty_customer").count == 1
    future = find(problems, "schema.problem.future_dates", "date")
    assert future.params["examples"] == [{"row": 5, "value": "2099-01-01 00:00:00"}]
    assert find(problems, "schema.problem.nonpositive", "unit_price").count == 1
    assert "schema.problem.missing_role" not in found
    assert not has_errors(problems)
    for problem in problems:  # every problem renders in both languages without a raw key
        for lang in ("en", "zh"):
            assert not problem.message(lang).startswith("schema.")


def test_cancellation_prefix_rule_ignores_ids_that_all_start_with_c() -> None:
    superstore = pd.DataFrame({"order_id": ["CA-2016-1", "CA-2016-2", "C1"]})
    assert not cancellation_mask(superstore).any()
    retail = pd.DataFrame(
        {"order_id": ["536365", "C536379", "536366"], "quantity": [1.0, -1.0, -2.0]}
    )
    assert cancellation_mask(retail).tolist() == [False, True, True]


def test_outliers_by_robust_z() -> None:
    values = [10.0 + (i % 5) for i in range(100)] + [10_000.0]
    frame = pd.DataFrame({"customer_id": [str(i) for i in range(101)], "amount": values})
    problem = find(validate(frame, "transactions"), "schema.problem.outliers", "amount")
    assert problem.count == 1 and problem.params["threshold"] == 5.0
    assert "schema.problem.outliers" not in keys(validate(frame.iloc[:100], "transactions"))


def test_duplicate_customer_rows_are_detected() -> None:
    frame = text_frame({"customer_id": ["1", "2", "2"], "age": ["30", "40", "41"]})
    typed = apply_mapping(frame, auto_map(frame, "customers"))
    problem = find(validate(typed, "customers"), "schema.problem.duplicate_ids")
    assert problem.count == 1 and problem.params["rows"] == 2


def test_validate_empty_table_and_unknown_inputs() -> None:
    empty = pd.DataFrame({"customer_id": pd.Series([], dtype="str")})
    assert find(validate(empty, "customers"), "schema.problem.no_rows").severity == "error"
    with pytest.raises(ParameterError):
        validate(empty, "nope")
    with pytest.raises(ParameterError):
        validate(empty, "customers", ["amount"])


def test_requirements_and_missing_for() -> None:
    assert set(REQUIREMENTS) >= {"rfm", "baskets", "satisfaction", "campaigns", "churn"}
    tx = pd.DataFrame(
        {
            "customer_id": ["a"],
            "date": [pd.Timestamp("2024-01-01")],
            "quantity": [1.0],
            "unit_price": [2.0],
            "item": ["x"],
        }
    )
    ds = Dataset("d", {"transactions": tx})
    assert missing_for(ds, "rfm") == []
    assert missing_for(ds, "baskets") == []
    assert missing_for(ds, "churn") == []
    assert missing_for(ds, "satisfaction") == ["feedback.date", "feedback.score"]
    assert missing_for(ds, "campaigns") in (
        ["campaigns.channel", "campaigns.responded"],
        ["campaigns.campaign", "campaigns.responded"],
    )
    only_customers = Dataset("c", {"transactions": tx[["customer_id", "item"]]})
    assert missing_for(only_customers, "rfm") == ["transactions.date", "transactions.amount"]
    assert missing_for(only_customers, "baskets") == ["transactions.order_id"]
    churn = Dataset("k", {"customers": pd.DataFrame({"customer_id": ["a"], "churn": [1]})})
    assert missing_for(churn, "churn") == []
    with pytest.raises(ParameterError):
        missing_for(ds, "astrology")
    assert required_roles_for("rfm", "transactions", ["customer_id", "date", "amount"]) == [
        "customer_id",
        "date",
        "amount",
    ]
    assert required_roles_for("baskets", "transactions", ["item", "customer_id", "date"]) == [
        "item",
        "customer_id",
        "date",
    ]
    assert required_roles_for("satisfaction", "transactions") == []


# ---------------------------------------------------------------------------------- i18n


def test_schema_catalogs_have_the_same_keys_and_cover_the_code() -> None:
    root = Path(__file__).resolve().parents[1] / "crm_core" / "i18n" / "locales"
    en = json.loads((root / "en" / "schema.json").read_text(encoding="utf-8"))
    zh = json.loads((root / "zh" / "schema.json").read_text(encoding="utf-8"))
    assert set(en) == set(zh)
    assert all(k.startswith("schema.") for k in en)
    sources = "".join(
        (root.parents[1] / name).read_text(encoding="utf-8")
        for name in ("schema.py", "cleaning.py")
    )
    used = set(re.findall(r"\"(schema\.(?:problem|error|word)\.[a-z_]+)\"", sources))
    assert used, "no keys found"
    for key in used:
        assert has_key(key), key
    for table in TABLES:
        assert has_key(f"schema.table.{table}")
        for role, kind in ROLES[table].items():
            assert has_key(f"schema.role.{role}") and has_key(f"schema.kind.{kind}")
    for name, spec in REQUIREMENTS.items():
        assert has_key(spec["label"]), name
    for key in en:  # placeholders agree between languages
        assert set(re.findall(r"{(\w+)}", en[key])) == set(re.findall(r"{(\w+)}", zh[key])), key
    assert catalog("zh")["schema.role.customer_id"] == "客户编号"


def test_problem_message_and_dict() -> None:
    problem = Problem(
        "warning",
        "schema.problem.unparseable",
        {
            "column": "amount",
            "kind": "money",
            "count": 12345,
            "examples": [{"row": 3, "value": "abc"}],
        },
    )
    assert problem.message("en") == (
        "12,345 values in 'amount' could not be read as money; they are left empty. "
        "Examples: row 3: 'abc'."
    )
    assert "第 3 行" in problem.message("zh")
    assert json.loads(json.dumps(problem.to_dict()))["params"]["count"] == 12345
    assert t("schema.problem.no_rows", "zh") != "schema.problem.no_rows"


# ---------------------------------------------------------------------------------- properties

money = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False).map(
    lambda x: round(x, 2)
)


def _fmt_plain(x: float) -> str:
    return f"{x:.2f}"


def _fmt_thousands(x: float) -> str:
    return f"{x:,.2f}"


def _fmt_currency(x: float) -> str:
    return f"-${abs(x):,.2f}" if x < 0 else f"${x:,.2f}"


def _fmt_yuan(x: float) -> str:
    return f"{x:.2f}元"


def _fmt_parentheses(x: float) -> str:
    return f"({abs(x):,.2f})" if x < 0 else f"{x:,.2f}"


def _fmt_decimal_comma(x: float) -> str:
    return f"{x:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(money, min_size=1, max_size=20),
    style=st.sampled_from([_fmt_plain, _fmt_thousands, _fmt_currency, _fmt_yuan, _fmt_parentheses]),
)
def test_property_number_formats_round_trip(values: list[float], style) -> None:
    raw = pd.Series([style(v) for v in values], dtype="str")
    parsed = parse_numbers(raw, decimal=".")
    assert not parsed.bad.any()
    np.testing.assert_allclose(parsed.values.to_numpy(), values, rtol=1e-12, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(values=st.lists(money, min_size=1, max_size=20))
def test_property_decimal_comma_round_trip(values: list[float]) -> None:
    raw = pd.Series([_fmt_decimal_comma(v) for v in values], dtype="str")
    parsed = parse_numbers(raw, decimal=",")
    assert not parsed.bad.any()
    np.testing.assert_allclose(parsed.values.to_numpy(), values, rtol=1e-12, atol=1e-9)
    # with two decimals always written, detection finds the comma too
    assert parse_numbers(raw).decimal == ","


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=12), max_size=30))
def test_property_number_parsing_never_raises(texts: list[str]) -> None:
    raw = pd.Series(texts, dtype="str")
    parsed = parse_numbers(raw)
    assert len(parsed.values) == len(texts)
    assert (parsed.bad & parsed.values.notna()).sum() == 0


TEXT_FORMATS = [f for f in DATE_FORMATS if f not in ("ISO8601",) and "%y" not in f]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    stamps=st.lists(
        st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2060, 12, 31)),
        min_size=1,
        max_size=25,
    ),
    fmt=st.sampled_from(TEXT_FORMATS),
)
def test_property_dates_round_trip_or_are_flagged(stamps: list[datetime], fmt: str) -> None:
    texts = [s.strftime(fmt) for s in stamps]
    parsed = parse_dates(pd.Series(texts, dtype="str"))
    expected = [pd.Timestamp(datetime.strptime(x, fmt)) for x in texts]
    day_month = "%d" in fmt and "%m" in fmt and "%Y%m%d" not in fmt and "年" not in fmt
    if parsed.guess.ambiguous:
        assert day_month
        assert all(s.day <= 12 for s in stamps)
        assert parsed.values.isna().all()
        return
    assert parsed.values.dtype == "datetime64[ns]"
    assert parsed.values.tolist() == expected
    assert not parsed.bad.any()


# ---------------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def online_retail() -> pd.DataFrame:
    return read_raw("online_retail/online_retail.csv.gz")


@pytest.mark.slow
def test_online_retail_mapping_typing_and_validation(online_retail: pd.DataFrame) -> None:
    frame = online_retail
    assert guess_table(frame)[0] == "transactions"
    mapping = auto_map(frame)
    assert mapping.table == "transactions"
    assert mapping.columns == {
        "InvoiceNo": "order_id",
        "Description": "item",
        "Quantity": "quantity",
        "InvoiceDate": "date",
        "UnitPrice": "unit_price",
        "CustomerID": "customer_id",
    }
    typed = apply_mapping(frame, mapping)
    out = typed.frame
    assert typed.date_formats == {"date": "%Y-%m-%d %H:%M:%S"}
    assert typed.attributes == {"StockCode": "stock_code", "Country": "country"}
    assert len(out) == 541_909
    assert out["date"].dtype == "datetime64[ns]"
    assert out["customer_id"].iloc[0] == "17850"
    assert out["customer_id"].nunique() == 4_372
    assert out["country"].nunique() == 38
    assert (out["quantity"] * out["unit_price"]).sum() == pytest.approx(9_747_747.934, abs=0.01)
    problems = validate(
        typed, "transactions", ["customer_id", "date", "amount"], today=date(2024, 1, 1)
    )
    assert find(problems, "schema.problem.cancellations").count == 9_288
    assert find(problems, "schema.problem.empty_customer").count == 135_080
    assert find(problems, "schema.problem.duplicate_rows").count == 5_268
    assert find(problems, "schema.problem.missing_values", "item").count == 1_454
    assert "schema.problem.unparseable" not in keys(problems)
    assert "schema.problem.future_dates" not in keys(problems)
    assert not has_errors(problems)


@pytest.mark.slow
def test_telco_churn() -> None:
    frame = read_raw("telco_churn/WA_Fn-UseC_-Telco-Customer-Churn.csv.gz")
    mapping = auto_map(frame)
    assert mapping.table == "customers"
    assert mapping.roles["customer_id"] == "customerID"
    assert mapping.roles["churn"] == "Churn"
    assert mapping.roles["gender"] == "gender"
    typed = apply_mapping(frame, mapping)
    assert str(typed.frame["churn"].dtype) == "Int8"
    assert int(typed.frame["churn"].sum()) == 1_869
    problems = validate(typed, "customers", ["customer_id", "churn"])
    assert find(problems, "schema.problem.missing_values", "total_charges").count == 11
    numeric = apply_mapping(frame, mapping, TypingOptions(extra_kinds={"TotalCharges": "money"}))
    assert numeric.frame["total_charges"].isna().sum() == 11
    assert numeric.frame["total_charges"].mean() == pytest.approx(2283.3004, abs=1e-3)
    inferred = apply_mapping(frame, mapping, TypingOptions(infer_extras=True))
    assert pd.api.types.is_float_dtype(inferred.frame["total_charges"])
    assert pd.api.types.is_float_dtype(inferred.frame["tenure"])
    assert pd.api.types.is_string_dtype(inferred.frame["contract"])


@pytest.mark.slow
def test_mall_customers() -> None:
    frame = read_raw("mall_customers/Mall_Customers.csv.gz")
    mapping = auto_map(frame)
    assert mapping.table == "customers"
    assert mapping.roles == {"customer_id": "CustomerID", "gender": "Genre", "age": "Age"}
    typed = apply_mapping(frame, mapping)
    assert typed.frame["customer_id"].iloc[0] == "0001"
    assert typed.frame["customer_id"].nunique() == 200
    assert typed.frame["gender"].value_counts().to_dict() == {"Female": 112, "Male": 88}
    assert typed.frame["age"].mean() == pytest.approx(38.85)
    assert "annual_income_k" in typed.frame.columns


@pytest.mark.slow
def test_bank_marketing() -> None:
    frame = read_raw("bank_marketing/bank-full.csv.gz", sep=";")
    mapping = auto_map(frame)
    assert mapping.table == "campaigns"
    assert mapping.roles["responded"] == "y"
    assert mapping.roles["channel"] == "contact"
    typed = apply_mapping(frame, mapping)
    assert int(typed.frame["responded"].sum()) == 5_289
    assert typed.frame["channel"].value_counts()["cellular"] == 29_285
    problems = validate(
        typed, "campaigns", required_roles_for("campaigns", "campaigns", typed.frame.columns)
    )
    assert not has_errors(problems)


@pytest.mark.slow
@pytest.mark.parametrize("headerless", [False, True])
def test_cdnow_master(headerless: bool) -> None:
    if headerless:
        names = ["column_1", "column_2", "column_3", "column_4"]
        frame = read_raw(
            "cdnow/CDNOW_master.txt.gz", sep=r"\s+", header=None, skiprows=1, names=names
        )
    else:
        frame = read_raw("cdnow/CDNOW_master.txt.gz", sep=r"\s+")
    mapping = auto_map(frame)
    assert mapping.table == "transactions"
    assert sorted(mapping.columns.values()) == ["amount", "customer_id", "date", "quantity"]
    if headerless:
        assert set(mapping.reasons.values()) == {"values"}
    typed = apply_mapping(frame, mapping)
    out = typed.frame
    assert typed.date_formats["date"] == "%Y%m%d"
    assert len(out) == 69_659
    assert out["customer_id"].iloc[0] == "00001"
    assert out["customer_id"].nunique() == 23_570
    assert out["date"].min() == pd.Timestamp("1997-01-01")
    assert out["date"].max() == pd.Timestamp("1998-06-30")
    assert out["amount"].sum() == pytest.approx(2_500_315.63, abs=0.01)
    assert out["quantity"].sum() == 167_881


@pytest.mark.slow
def test_olist_tables() -> None:
    customers = read_raw("olist/olist_customers_dataset.csv.gz")
    mapping = auto_map(customers)
    assert mapping.table == "customers"
    assert mapping.roles["customer_id"] == "customer_id"
    assert mapping.roles["city"] == "customer_city"
    typed = apply_mapping(customers, mapping)
    assert typed.attributes["customer_unique_id"] == "customer_unique_id"
    assert typed.frame["customer_unique_id"].nunique() == 96_096

    reviews = read_raw("olist/olist_order_reviews_dataset_sample15k.csv.gz")
    mapping = auto_map(reviews)
    assert mapping.table == "feedback"
    assert mapping.roles["score"] == "review_score"
    assert mapping.roles["order_id"] == "order_id"
    assert mapping.roles["date"] == "review_creation_date"
    assert "customer_id" not in mapping.roles  # review_id is not a customer
    typed = apply_mapping(reviews, mapping)
    assert typed.frame["score"].mean() == pytest.approx(4.0841, abs=1e-4)
    assert len(typed.frame) == 14_944
    assert missing_for(Dataset("o", {"feedback": typed.frame}), "satisfaction") == []

    orders = read_raw("olist/olist_orders_dataset_sample15k.csv.gz")
    mapping = auto_map(orders)
    assert mapping.table == "transactions"
    assert mapping.roles["date"] == "order_purchase_timestamp"
    typed = apply_mapping(orders, mapping)
    assert typed.frame["date"].min() == pd.Timestamp("2016-09-15 12:16:38")


def test_typed_table_type() -> None:
    typed = apply_mapping(chinese_transactions(), auto_map(chinese_transactions()))
    assert isinstance(typed, TypedTable)
    assert typed.table == "transactions"
    assert typed.source_columns[0] == "客户编号"


# --------------------------------------------------------------------------------------------
# Fast paths for long columns: each must give exactly what the plain path gives
# --------------------------------------------------------------------------------------------


def _awkward_texts(n: int, seed: int = 5) -> pd.Series:
    """Ids, numbers, null tokens, spaces, Unicode and blanks mixed, with repeats."""
    rng = np.random.default_rng(seed)
    pool = [
        "00123",
        "123.0",
        "123.00",
        "4.5",
        " 7 ",
        "",
        "  ",
        "N/A",
        "null",
        "NULL",
        "None",
        "—",
        "#N/A",
        "nİl",
        "nil",
        "Nan",
        "?",
        "-",
        "--",
        "C536379",
        "c12",
        "C",
        "Cx1",
        "١٢٣",
        "12",
        "１２",
        "ABC-01",
        "x.0",
        "1.0.0",
        "12.0 ",
        None,
        "10,5",
        "1,234.50",
        "¥1,200",
        "(12.50)",
    ]
    picks = rng.integers(0, len(pool), n)
    values = [pool[i] if i % 3 else f"{pool[i] or ''}{k % 997}" for k, i in enumerate(picks)]
    return pd.Series(values, dtype="str")


def test_null_tokens_match_lower_casing_every_cell() -> None:
    from crm_core.schema import _NULL_TOKENS, _null_tokens

    text = _awkward_texts(5_000)
    expected = text.str.lower().isin(_NULL_TOKENS).fillna(False).astype(bool)
    assert _null_tokens(text).tolist() == expected.tolist()
    long_only = pd.Series(["abcdef", None, "123456"], dtype="str")
    assert _null_tokens(long_only).tolist() == [False, False, False]


def test_ids_fast_path_equals_the_regex_on_every_cell() -> None:
    from crm_core.schema import _NULL_TOKENS, _as_text

    text = _awkward_texts(5_000)
    plain = _as_text(text)
    plain = plain.mask(plain.str.lower().isin(_NULL_TOKENS).fillna(False).astype(bool))
    expected = plain.str.replace(r"^(\d+)\.0+$", r"\1", regex=True).astype("str")
    pd.testing.assert_series_equal(parse_ids(text), expected)
    no_dots = pd.Series(["O0001", " 0002 ", None], dtype="str")
    assert parse_ids(no_dots).tolist()[:2] == ["O0001", "0002"]


def test_factorize_text_equals_factorizing_stripped_text() -> None:
    from crm_core.schema import _as_text, _factorize_text

    for text in (_awkward_texts(3_000), pd.Series([None, " "], dtype="str")):
        codes, distinct = _factorize_text(text)
        expected_codes, expected = pd.factorize(_as_text(text))
        assert codes.tolist() == expected_codes.tolist()
        assert distinct.tolist() == list(expected)


@pytest.mark.parametrize("decimal", [".", ","])
def test_long_number_columns_parse_like_short_ones(
    decimal: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import crm_core.schema as schema

    text = _awkward_texts(30_000)  # above the dedup threshold, few distinct values
    fast = parse_numbers(text, decimal)
    monkeypatch.setattr(schema, "_DEDUP_MIN_ROWS", 10**9)
    plain = parse_numbers(text, decimal)
    pd.testing.assert_series_equal(fast.values, plain.values)
    pd.testing.assert_series_equal(fast.bad, plain.bad)


def _timestamp_texts(n: int, fmt: str, seed: int = 3) -> pd.Series:
    rng = np.random.default_rng(seed)
    stamps = pd.Timestamp("1990-01-01") + pd.to_timedelta(rng.integers(0, 40 * 365 * 86400, n), "s")
    values = pd.Series(stamps.strftime(fmt), dtype=object)
    odd = [
        "2023-02-30 00:00:00",
        "2023-13-01 00:00:00",
        "2023-00-10 10:00:00",
        "2023-01-01 24:00:00",
        "2023-01-01 23:60:00",
        "2023-01-01 23:59:60",
        "1500-01-01 00:00:00",
        "2300-01-01",
        "2023-1-5 3:04:05",
        "2023-01-01t10:00:00",
        "2023-01-01T10:00:00",
        "abcd-ef-gh ij:kl:mn",
        "2024-02-29 12:00:00",
        "2023-02-29",
        "2023-01-01",
        "2023-01-01 10:00",
        None,
        "",
        "２０２３-01-01",
        "2023/01/01 00:00:00",
        "1677-09-22 00:00:00",
        "1678-01-01 00:00:00",
        "2262-04-10",
        "2261-12-31 23:59:59",
        "0000-01-01",
        "9999-12-31 23:59:59",
        "2023-01-01 00:00:00.5",
        "2023-01-01 10:00:00Z",
        "+023-01-01",
        "-023-01-01 00:00:00",
        "2023-01-01 10:0",
        "é023-01-01",
        "1900-02-29",
        "2000-02-29 00:00:00",
        "2100-02-29",
    ]
    positions = rng.choice(n, 4 * len(odd), replace=False)
    for k, pos in enumerate(positions):
        values[pos] = odd[k % len(odd)]
    return pd.Series(values, dtype="str")


@pytest.mark.parametrize(
    "fmt", ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d"]
)
def test_iso_dates_from_bytes_equal_pandas(fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    import crm_core.schema as schema
    from crm_core.schema import _ISO_FAST_MIN_ROWS, _as_text, _convert_dates, _pandas_dates

    monkeypatch.setattr(schema, "_ISO_BLOCK_ROWS", 4_096)  # several blocks, one cut mid-way

    text = _as_text(_timestamp_texts(_ISO_FAST_MIN_ROWS + 5_000, fmt))
    fast, plain = _convert_dates(text, fmt), _pandas_dates(text, fmt)
    assert fast.dtype == plain.dtype
    pd.testing.assert_series_equal(fast, plain)
    sliced = text.iloc[3:-7]  # an Arrow array with an offset
    pd.testing.assert_series_equal(_convert_dates(sliced, fmt), _pandas_dates(sliced, fmt))


def test_mostly_unique_dates_parse_like_factorised_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    import crm_core.schema as schema

    text = _timestamp_texts(40_000, "%Y-%m-%d %H:%M:%S")
    assert schema._mostly_unique(schema._as_text(text))
    direct = parse_dates(text)
    monkeypatch.setattr(schema, "_mostly_unique", lambda _text: False)
    factorised = parse_dates(text)
    pd.testing.assert_series_equal(direct.values, factorised.values)
    pd.testing.assert_series_equal(direct.bad, factorised.bad)
    assert (direct.guess, direct.out_of_range) == (factorised.guess, factorised.out_of_range)
    assert direct.out_of_range > 0  # 1500-01-01, 2300-01-01, … are counted on both paths


def test_rows_sharing_a_timestamp_are_not_mostly_unique() -> None:
    from crm_core.schema import _mostly_unique

    stamps = pd.date_range("2024-01-01", periods=5_000, freq="min").strftime("%Y-%m-%d %H:%M")
    repeated = pd.Series(np.repeat(stamps.to_numpy(), 8), dtype="str")  # eight lines per order
    assert not _mostly_unique(repeated)


def test_format_prefilter_never_drops_a_format_that_parses() -> None:
    from crm_core.schema import _convert_dates, _sample_rates

    stamp = datetime(2021, 3, 14, 15, 9, 26)
    rendered = [stamp.strftime(f) for f in DATE_FORMATS if f != "ISO8601"]
    variants = rendered + [v.upper() for v in rendered] + [v.lower() for v in rendered]
    variants += [v.replace(" ", "  ") for v in rendered] + ["2021-03-14T15:09:26Z", "20210314"]
    for value in variants:
        sample = pd.Series([value], dtype="str")
        rates = _sample_rates(sample)
        for fmt in DATE_FORMATS:
            assert rates[fmt] == float(_convert_dates(sample, fmt).notna().mean()), (value, fmt)


def test_long_columns_are_profiled_on_an_even_spread() -> None:
    rng = np.random.default_rng(2)
    n = 30_000
    frame = text_frame(
        {
            "col_a": [f"{i:07d}" for i in rng.integers(1, 5_000, n)],
            "col_b": pd.date_range("2023-01-01", periods=n, freq="7min").strftime("%d/%m/%Y %H:%M"),
            "col_c": [f"{v:.2f}" for v in rng.gamma(2.0, 10.0, n)],
            "col_d": [None] * (n - 100) + ["x"] * 100,  # too sparse for the spread: read in full
        }
    )
    short = auto_map(frame.iloc[::4].reset_index(drop=True))
    assert auto_map(frame) == short
    assert auto_map(frame).columns["col_b"] == "date"


def test_cancellation_ids_fast_path_equals_the_regexes() -> None:
    from crm_core.schema import cancellation_ids

    def reference(ids: pd.Series) -> list[bool]:
        text = ids.astype("str")
        flagged = text.str.fullmatch(r"[Cc]\d+").fillna(False).astype(bool)
        plain = int(text.str.fullmatch(r"\d+").fillna(False).astype(bool).sum())
        if plain == 0 or plain < int(flagged.sum()):
            return [False] * len(ids)
        return flagged.tolist()

    mixed = _awkward_texts(4_000)
    for ids in (mixed, mixed[mixed.str.startswith("C").fillna(False)], mixed.iloc[:0]):
        assert cancellation_ids(ids).tolist() == reference(ids)


def test_hashed_duplicates_equal_pandas_duplicated() -> None:
    from crm_core.schema import duplicated_rows

    rng = np.random.default_rng(4)
    n = 60_000
    frame = pd.DataFrame(
        {
            "customer_id": pd.Series([f"{i:05d}" for i in rng.integers(0, 300, n)], dtype="str"),
            "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 50, n), "D"),
            "amount": rng.choice([0.0, -0.0, 1.5, np.nan, np.inf], n),
            "label": pd.array(rng.choice([0, 1], n), dtype="Int8"),
        }
    )
    frame.loc[frame.index[::7], "customer_id"] = None
    found = duplicated_rows(frame)
    assert found.any()
    pd.testing.assert_series_equal(found, frame.duplicated())


def test_robust_z_on_arrays_equals_the_pandas_computation() -> None:
    from crm_core.schema import _robust_z

    def reference(values: pd.Series) -> pd.Series:
        finite = values[np.isfinite(values)]
        if finite.empty:
            return pd.Series(0.0, index=values.index)
        median = float(finite.median())
        mad = float((finite - median).abs().median())
        if mad > 0:
            scale = 1.4826 * mad
        else:
            mean_ad = float((finite - median).abs().mean())
            if mean_ad == 0:
                return pd.Series(0.0, index=values.index)
            scale = 1.2533 * mean_ad
        return (values - median) / scale

    rng = np.random.default_rng(8)
    cases = [
        pd.Series(rng.gamma(2.0, 10.0, 100_001).round(2)),
        pd.Series([1.0, 1.0, 1.0, 5.0, np.nan, np.inf, -np.inf], index=list("abcdefg")),
        pd.Series([2.0, 2.0, 2.0]),
        pd.Series([np.nan, np.inf]),
        pd.Series(rng.integers(-5, 5, 1_000)),
    ]
    for values in cases:
        pd.testing.assert_series_equal(_robust_z(values), reference(values.astype("float64")))
