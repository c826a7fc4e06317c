"""Customer features: definitions on hand-made data, real-data checks, attribute handling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_core.errors import DataRequirementError
from crm_core.features import (
    FEATURE_LABELS,
    MAX_CATEGORY_SHARES,
    attribute_features,
    categorical_features,
    customer_features,
    default_as_of,
    feature_label,
    numeric_features,
    rfm_table,
)
from crm_core.i18n import has_key

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
RETAIL = DATASETS / "online_retail" / "online_retail.csv.gz"
MALL = DATASETS / "mall_customers" / "Mall_Customers.csv.gz"
TELCO = DATASETS / "telco_churn" / "WA_Fn-UseC_-Telco-Customer-Churn.csv.gz"


def tx(rows: list[tuple]) -> pd.DataFrame:
    """Transactions from (customer, order, date, quantity, unit_price, category) tuples."""
    frame = pd.DataFrame(
        rows, columns=["customer_id", "order_id", "date", "quantity", "unit_price", "category"]
    )
    frame["date"] = pd.to_datetime(frame["date"])
    frame["customer_id"] = frame["customer_id"].astype("str")
    frame["order_id"] = frame["order_id"].astype("str")
    return frame


@pytest.fixture
def small() -> pd.DataFrame:
    return tx(
        [
            ("001", "o1", "2024-01-01 10:00", 2, 10.0, "toys"),
            ("001", "o1", "2024-01-01 10:00", 1, 5.0, "books"),
            ("001", "o2", "2024-01-11 09:00", 1, 20.0, "toys"),
            ("001", "C9", "2024-01-12 09:00", -1, 20.0, "toys"),
            ("002", "o3", "2024-03-30 12:00", 4, 2.5, "books"),
            ("1", "o4", "2024-02-01 08:00", 1, 100.0, "garden"),
            ("003", "C10", "2024-02-01 08:00", -2, 3.0, "toys"),
        ]
    )


def test_behaviour_features_on_hand_made_data(small: pd.DataFrame) -> None:
    f = customer_features(small)
    # leading zeros kept: "001" and "1" are different customers
    assert list(f.index) == ["001", "002", "003", "1"]
    assert f.index.name == "customer_id"
    assert f.attrs["as_of"] == pd.Timestamp("2024-03-31")  # day after the last date, midnight
    a = f.loc["001"]
    assert a["frequency"] == 2  # the cancellation C9 is not an order
    assert a["monetary"] == pytest.approx(45.0)
    assert a["avg_order_value"] == pytest.approx(22.5)
    assert a["recency_days"] == 79  # 2024-01-11 09:00 -> 2024-03-31: 79.6 days, whole days
    assert a["tenure_days"] == 89
    assert a["items_per_order"] == pytest.approx(2.0)
    assert a["days_between_purchases"] == pytest.approx(9 + 23 / 24)
    assert a["return_rate"] == pytest.approx(0.25)
    assert a["share_toys"] == pytest.approx(40 / 45)
    assert a["share_books"] == pytest.approx(5 / 45)
    b = f.loc["002"]
    assert np.isnan(b["days_between_purchases"])  # single purchase
    assert b["recency_days"] == 0
    # a customer with only a return: no purchases, but still a row
    c = f.loc["003"]
    assert c["frequency"] == 0 and c["monetary"] == 0
    assert np.isnan(c["recency_days"]) and c["return_rate"] == 1.0


def test_amount_is_quantity_times_price_when_missing(small: pd.DataFrame) -> None:
    with_amount = small.assign(amount=[99.0, np.nan, np.nan, np.nan, np.nan, np.nan, np.nan])
    f = customer_features(with_amount)
    assert f.loc["001", "monetary"] == pytest.approx(99 + 5 + 20)
    only_amount = small.drop(columns=["quantity", "unit_price"]).assign(
        amount=[1.0, 2.0, 3.0, -3.0, 4.0, 5.0, -6.0]
    )
    g = customer_features(only_amount)
    assert g.loc["001", "monetary"] == pytest.approx(6.0)
    assert g.loc["003", "return_rate"] == 1.0


def test_as_of_filters_later_transactions(small: pd.DataFrame) -> None:
    f = customer_features(small, as_of=pd.Timestamp("2024-01-05"))
    assert list(f.index) == ["001"]
    assert f.loc["001", "frequency"] == 1
    assert f.loc["001", "recency_days"] == 3


def test_without_order_id_an_order_is_a_customer_day() -> None:
    frame = tx(
        [
            ("a", "x", "2024-01-01 09:00", 1, 1.0, "t"),
            ("a", "x", "2024-01-01 18:00", 1, 1.0, "t"),
            ("a", "x", "2024-01-03 09:00", 1, 1.0, "t"),
        ]
    ).drop(columns=["order_id"])
    f = customer_features(frame)
    assert f.loc["a", "frequency"] == 2


def test_cancellation_prefix_ignored_when_it_is_the_id_format() -> None:
    frame = tx(
        [
            ("a", "C1", "2024-01-01", 1, 1.0, "t"),
            ("a", "C2", "2024-01-02", 1, 1.0, "t"),
            ("b", "C3", "2024-01-02", 1, 1.0, "t"),
        ]
    )
    f = customer_features(frame)
    assert f["frequency"].sum() == 3
    assert f["return_rate"].sum() == 0


def test_trend_compares_last_90_days_with_earlier_average() -> None:
    frame = tx(
        [
            ("up", "1", "2023-01-10", 1, 10.0, "t"),
            ("up", "2", "2023-12-20", 1, 100.0, "t"),
            ("down", "3", "2023-01-10", 1, 100.0, "t"),
            ("down", "4", "2023-12-20", 1, 1.0, "t"),
            ("new", "5", "2023-12-01", 1, 5.0, "t"),
            ("gone", "6", "2023-02-01", 1, 5.0, "t"),
        ]
    )
    f = customer_features(frame, as_of=pd.Timestamp("2024-01-01"))
    assert f.loc["up", "trend_90d"] > 0.5
    assert f.loc["down", "trend_90d"] < 0
    assert np.isnan(f.loc["new", "trend_90d"])  # no history before the window
    assert f.loc["gone", "trend_90d"] == -1.0
    assert f["trend_90d"].dropna().between(-1, 1).all()


def test_category_shares_are_capped() -> None:
    rows = [("a", str(i), "2024-01-01", 1, float(i + 1), f"cat{i:02d}") for i in range(20)]
    f = customer_features(tx(rows))
    shares = [c for c in f.columns if c.startswith("share_") and c != "share_other"]
    assert len(shares) == MAX_CATEGORY_SHARES
    assert "share_cat19" in shares and "share_cat00" not in shares  # top by revenue
    assert f[[*shares, "share_other"]].sum(axis=1).iloc[0] == pytest.approx(1.0)


def test_customers_table_is_left_joined(small: pd.DataFrame) -> None:
    customers = pd.DataFrame(
        {
            "customer_id": ["001", "002", "009"],
            "gender": ["F", "M", "F"],
            "age": [30, 40, 50],
            "name": ["Ann", "Bob", "Cy"],
            "frequency": [7, 8, 9],
        }
    )
    f = customer_features(small, customers)
    assert "009" in f.index  # no transactions, kept
    row = f.loc["009"]
    assert row["frequency"] == 0 and row["monetary"] == 0 and np.isnan(row["recency_days"])
    assert row["age"] == 50
    assert f.loc["001", "attr_frequency"] == 7  # clash with a behaviour name
    assert isinstance(f["gender"].dtype, pd.CategoricalDtype)
    assert "customer_id" not in f.columns and "name" not in f.columns


def test_customers_without_any_transactions_before_as_of(small: pd.DataFrame) -> None:
    customers = pd.DataFrame({"customer_id": ["001", "777"], "age": [1, 2]})
    f = customer_features(small, customers, as_of=pd.Timestamp("2000-01-01"))
    assert set(f.index) == {"001", "777"}
    assert (f["frequency"] == 0).all()


def test_missing_roles_and_no_transactions_raise() -> None:
    with pytest.raises(DataRequirementError) as info:
        customer_features(pd.DataFrame({"customer_id": ["a"], "date": [pd.Timestamp("2024")]}))
    assert info.value.key == "segments.error.missing_roles"
    with pytest.raises(DataRequirementError):
        customer_features(pd.DataFrame({"customer_id": ["a"], "amount": [1.0]}))
    empty = pd.DataFrame(
        {"customer_id": pd.Series([], dtype="str"), "date": pd.Series([], dtype="datetime64[ns]")}
    ).assign(amount=pd.Series([], dtype=float))
    with pytest.raises(DataRequirementError) as info:
        customer_features(empty)
    assert info.value.key == "segments.error.no_transactions"
    with pytest.raises(DataRequirementError):
        default_as_of(pd.Series([pd.NaT]))


def test_attribute_features_never_one_hot_the_table() -> None:
    n = 30
    customers = pd.DataFrame(
        {
            "CustomerID": [f"{i:04d}" for i in range(n)],
            "RowNumber": range(1, n + 1),
            "客户编号": [f"K{i}" for i in range(n)],
            "user_id": range(100, 100 + n),
            "city": ["Rome", "Oslo", "Lima"] * 10,
            "age": [20 + i % 7 for i in range(n)],
            "vip": [True, False] * 15,
            "charges": [" "] + [f"{i}.5" for i in range(1, n)],
            "comment": [f"free text {i}" for i in range(n)],
            "signup": pd.date_range("2024-01-01", periods=n),
            "paid_amount": [float(i % 5) for i in range(n)],
        }
    )
    a = attribute_features(customers)
    assert list(a.index[:2]) == ["0000", "0001"]
    assert set(a.columns) == {"city", "age", "vip", "charges", "signup_days", "paid_amount"}
    assert isinstance(a["city"].dtype, pd.CategoricalDtype)
    assert a["charges"].isna().sum() == 1 and a["charges"].iloc[1] == 1.5
    assert a["vip"].tolist()[:2] == [1.0, 0.0]
    assert numeric_features(a) == ["age", "vip", "charges", "signup_days", "paid_amount"]
    assert categorical_features(a) == ["city"]


def test_feature_labels_exist_in_both_languages() -> None:
    for key in FEATURE_LABELS.values():
        assert has_key(key), key
    assert feature_label("monetary", "zh") == "消费金额"
    assert "toys" in feature_label("share_toys", "en")
    assert feature_label("Annual Income (k$)", "zh") == "Annual Income (k$)"


def test_segments_catalogs_have_the_same_keys() -> None:
    root = Path(__file__).resolve().parents[1] / "crm_core" / "i18n" / "locales"
    en = json.loads((root / "en" / "segments.json").read_text(encoding="utf-8"))
    zh = json.loads((root / "zh" / "segments.json").read_text(encoding="utf-8"))
    assert en.keys() == zh.keys()
    assert all(v for v in zh.values())


@pytest.mark.skipif(not MALL.exists(), reason="shared datasets missing")
def test_mall_attributes() -> None:
    mall = pd.read_csv(MALL, dtype={"CustomerID": str})
    a = attribute_features(mall)
    assert len(a) == 200 and a.index[0] == "0001"
    assert list(a.columns) == ["Genre", "Age", "Annual Income (k$)", "Spending Score (1-100)"]


@pytest.mark.skipif(not TELCO.exists(), reason="shared datasets missing")
def test_telco_attributes() -> None:
    telco = pd.read_csv(TELCO)
    a = attribute_features(telco)
    assert "customerID" not in a.columns and len(a) == 7043
    assert pd.api.types.is_float_dtype(a["TotalCharges"])
    assert a["TotalCharges"].isna().sum() == 11  # the 11 blank TotalCharges
    assert isinstance(a["Contract"].dtype, pd.CategoricalDtype)


def read_retail() -> pd.DataFrame:
    raw = pd.read_csv(
        RETAIL,
        dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": "Int64"},
        parse_dates=["InvoiceDate"],
    )
    raw = raw[raw["CustomerID"].notna()]
    return pd.DataFrame(
        {
            "customer_id": raw["CustomerID"].astype("str"),
            "order_id": raw["InvoiceNo"],
            "date": raw["InvoiceDate"],
            "item": raw["StockCode"],
            "category": raw["Country"],
            "quantity": raw["Quantity"].astype(float),
            "unit_price": raw["UnitPrice"],
        }
    )


@pytest.mark.slow
@pytest.mark.skipif(not RETAIL.exists(), reason="shared datasets missing")
def test_online_retail_features_match_reference_rfm() -> None:
    """Purchases = README's cleaning (qty > 0, not C, price > 0), so RFM means must match."""
    transactions = read_retail()
    f = customer_features(transactions)
    assert len(f) == 4372  # every customer with an id, returns-only customers included
    assert f.attrs["as_of"] == pd.Timestamp("2011-12-10")
    buyers = f[f["frequency"] > 0]
    assert len(buyers) == 4338
    assert buyers["recency_days"].mean() == pytest.approx(92.06, abs=0.005)
    assert buyers["recency_days"].median() == 50
    assert buyers["frequency"].mean() == pytest.approx(4.27, abs=0.005)
    assert buyers["monetary"].mean() == pytest.approx(2054.27, abs=0.005)
    assert buyers["monetary"].median() == pytest.approx(674.485)
    table = rfm_table(transactions)
    assert table["frequency"].median() == 2 and len(table) == 4338
