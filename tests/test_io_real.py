"""crm_core.io on the real public datasets in ../shared/datasets (counts from their READMEs).

Skipped when the folder is not beside the checkout. Times are never asserted (see bench/).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pytest

from crm_core.io import LoadResult, ReadOptions, read_file, read_path

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"

pytestmark = pytest.mark.skipif(not DATASETS.is_dir(), reason="../shared/datasets is missing")


def _read(relative: str, options: ReadOptions | None = None) -> LoadResult:
    path = DATASETS / relative
    if not path.is_file():
        pytest.skip(f"{relative} is missing")
    return read_path(path, options)


def _text_only(frame: pd.DataFrame) -> None:
    assert all(str(dtype) == "str" for dtype in frame.dtypes)


@pytest.mark.slow
def test_online_retail() -> None:
    result = _read("online_retail/online_retail.csv.gz")
    frame, report = result.frame, result.report
    assert (report.kind, report.delimiter, report.encoding) == ("csv", ",", "utf-8")
    assert report.compression == "gzip"
    assert frame.shape == (541_909, 8)
    assert report.rows_skipped == 0 and report.warnings == []
    _text_only(frame)
    assert frame["InvoiceNo"].nunique() == 25_900
    assert frame["StockCode"].nunique() == 4_070
    assert frame["Description"].nunique() == 4_223
    assert frame["CustomerID"].nunique() == 4_372
    assert frame["Country"].nunique() == 38
    assert frame["Description"].isna().sum() == 1_454
    assert frame["CustomerID"].isna().sum() == 135_080
    assert frame["InvoiceNo"].str.startswith("C").sum() == 9_288
    assert frame.iloc[0].tolist() == [
        "536365",
        "85123A",
        "WHITE HANGING HEART T-LIGHT HOLDER",
        "6",
        "2010-12-01 08:26:00",
        "2.55",
        "17850",
        "United Kingdom",
    ]
    assert frame.iloc[-1]["Description"] == "BAKING SET 9 PIECE RETROSPOT "  # spaces kept
    revenue = (frame["Quantity"].astype(float) * frame["UnitPrice"].astype(float)).sum()
    assert revenue == pytest.approx(9_747_747.934, abs=0.01)


def test_telco_churn() -> None:
    result = _read("telco_churn/WA_Fn-UseC_-Telco-Customer-Churn.csv.gz")
    frame = result.frame
    assert frame.shape == (7_043, 21)
    assert frame["customerID"].is_unique
    assert (frame["Churn"] == "Yes").sum() == 1_869
    assert (frame["TotalCharges"] == " ").sum() == 11  # blank strings stay as they are
    _text_only(frame)


def test_bank_marketing_semicolons() -> None:
    result = _read("bank_marketing/bank-full.csv.gz")
    assert result.report.delimiter == ";"
    assert result.frame.shape == (45_211, 17)
    assert result.report.columns[:3] == ["age", "job", "marital"]  # quotes removed
    assert (result.frame["y"] == "yes").sum() == 5_289
    assert result.report.decimal == "."
    additional = _read("bank_marketing/bank-additional-full.csv.gz")
    assert additional.frame.shape == (41_188, 21)
    assert (additional.frame["y"] == "yes").sum() == 4_640


def test_groceries_basket() -> None:
    result = _read("groceries/groceries.csv.gz")
    frame, report = result.frame, result.report
    assert report.kind == "basket"
    assert list(frame.columns) == ["order_id", "item"]
    assert frame["order_id"].nunique() == 9_835
    assert frame["item"].nunique() == 169
    assert len(frame) == 43_367
    assert frame["item"].value_counts().head(3).to_dict() == {
        "whole milk": 2_513,
        "other vegetables": 1_903,
        "rolls/buns": 1_809,
    }
    sizes = frame.groupby("order_id").size()
    assert sizes.max() == 32 and (sizes == 1).sum() == 2_159
    assert "cream cheese " in set(frame["item"])
    assert frame["order_id"].iloc[0] == "B000001"


def test_mall_customers_keep_zero_padded_ids() -> None:
    frame = _read("mall_customers/Mall_Customers.csv.gz").frame
    assert frame.shape == (200, 5)
    assert frame["CustomerID"].iloc[0] == "0001"
    assert frame["CustomerID"].iloc[-1] == "0200"
    assert (frame["Genre"] == "Female").sum() == 112


def test_chinese_reviews() -> None:
    result = _read("chinese_reviews/online_shopping_10_cats.csv.gz")
    frame = result.frame
    assert frame.shape == (62_774, 3)
    assert result.report.columns == ["cat", "label", "review"]
    assert frame["label"].value_counts().to_dict() == {"1": 31_728, "0": 31_046}
    assert (frame["cat"] == "平板").sum() == 10_000
    assert frame["review"].isna().sum() == 1  # the one empty review
    assert frame["review"].iloc[0].startswith("\ufeff做父母")  # a BOM inside data is data
    hotel = _read("chinese_reviews/ChnSentiCorp_htl_all.csv.gz").frame
    assert hotel.shape == (7_766, 2)
    waimai = _read("chinese_reviews/waimai_10k.csv.gz").frame
    assert (waimai["label"] == "1").sum() == 4_000


def test_real_chinese_text_reencoded_as_gb18030_and_gbk() -> None:
    path = DATASETS / "chinese_reviews" / "waimai_10k.csv.gz"
    if not path.is_file():
        pytest.skip("waimai_10k is missing")
    text = gzip.decompress(path.read_bytes()).decode("utf-8")
    reference = read_file(text.encode("utf-8"), "waimai.csv").frame
    as_gb = read_file(text.encode("gb18030"), "waimai_gb.csv")
    assert as_gb.report.encoding == "gb18030"
    pd.testing.assert_frame_equal(as_gb.frame, reference)
    # GBK cannot hold every character (emoji): keep the lines it can encode.
    lines = [ln for ln in text.splitlines() if _gbk_ok(ln)]
    gbk = "\n".join(lines).encode("gbk")
    result = read_file(gbk, "waimai_gbk.csv")
    assert result.report.encoding == "gb18030"
    assert len(result.frame) == len(lines) - 1
    assert result.frame["review"].iloc[0] == lines[1].split(",", 1)[1]


def _gbk_ok(line: str) -> bool:
    try:
        line.encode("gbk")
    except UnicodeEncodeError:
        return False
    return True


def test_cdnow_whitespace_master_and_sample() -> None:
    master = _read("cdnow/CDNOW_master.txt.gz")
    frame, report = master.frame, master.report
    assert report.kind == "whitespace"
    assert frame.shape == (69_659, 4)
    assert report.columns == ["customer_id", "date", "number_of_cds", "dollar_value"]
    assert frame["customer_id"].iloc[0] == "00001"
    assert frame["customer_id"].nunique() == 23_570
    assert frame["date"].min() == "19970101" and frame["date"].max() == "19980630"
    assert frame["dollar_value"].astype(float).sum() == pytest.approx(2_500_315.63, abs=0.01)
    assert frame["number_of_cds"].astype(int).sum() == 167_881
    sample = _read("cdnow/CDNOW_sample.txt.gz")
    assert sample.report.kind == "whitespace"
    assert sample.frame.shape == (6_919, 5)
    assert sample.report.columns == [f"column_{i}" for i in range(1, 6)]
    assert sample.frame["column_1"].iloc[0] == "00004"
    assert sample.frame["column_2"].nunique() == 2_357
    summary = _read("cdnow/cdnow_customers_summary.csv.gz")
    assert summary.frame.shape == (2_357, 4)


OLIST = {
    "olist_customers_dataset.csv.gz": (99_441, 5),
    "olist_order_payments_dataset.csv.gz": (103_886, 5),
    "olist_products_dataset.csv.gz": (32_951, 9),
    "olist_sellers_dataset.csv.gz": (3_095, 4),
    "product_category_name_translation.csv.gz": (71, 2),
    "olist_orders_dataset_sample15k.csv.gz": (15_000, 8),
    "olist_order_reviews_dataset_sample15k.csv.gz": (14_944, 7),
    "olist_order_items_dataset_sample15k.csv.gz": (17_071, 7),
}


@pytest.mark.parametrize(("name", "shape"), OLIST.items())
def test_olist_tables(name: str, shape: tuple[int, int]) -> None:
    result = _read(f"olist/{name}")
    assert result.frame.shape == shape
    assert result.report.rows_skipped == 0
    _text_only(result.frame)
    assert all("\ufeff" not in c for c in result.report.columns)


def test_olist_details() -> None:
    translation = _read("olist/product_category_name_translation.csv.gz")
    assert translation.report.encoding == "utf-8-sig"
    assert translation.report.columns[0] == "product_category_name"
    reviews = _read("olist/olist_order_reviews_dataset_sample15k.csv.gz").frame
    assert reviews["review_score"].value_counts().to_dict() == {
        "5": 8_597,
        "4": 2_887,
        "1": 1_701,
        "3": 1_281,
        "2": 478,
    }
    assert reviews["review_comment_message"].notna().sum() == 6_176
    assert reviews["review_comment_message"].str.contains("\n").sum() == 570  # quoted newlines
    customers = _read("olist/olist_customers_dataset.csv.gz").frame
    assert customers["customer_unique_id"].nunique() == 96_096
    sellers = _read("olist/olist_sellers_dataset.csv.gz").frame
    assert sellers["seller_zip_code_prefix"].iloc[0] == "13023"


def test_support_tickets_and_banking77() -> None:
    tickets = _read("support_tickets/customer_support_tickets.csv.gz")
    assert len(tickets.frame) == 8_469
    train = _read("banking77/train.csv.gz")
    assert len(train.frame) == 10_003
