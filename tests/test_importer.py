"""The import pipeline (prepare_table, combine, save_prepared) on real files imported as they are.

Every real file is passed as the bytes of its ``.gz`` file, exactly as a user would upload it.
Expected figures are the reference figures of each dataset's README (../shared/datasets), or are
recomputed here from the raw file with plain pandas, independently of crm_core.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pandas as pd
import pytest

from crm_core.cleaning import CleaningStep, Recipe
from crm_core.errors import CrmError, InputError, ParameterError
from crm_core.importer import MAX_FILES, PreparedTable, prepare_table, save_prepared
from crm_core.quality import match_rates
from crm_core.schema import auto_map
from crm_core.store import Workspace
from crm_core.tables import Dataset

CJK = re.compile(r"[\u3400-\u9fff]")

# The README's "typical RFM cleaning" of Online Retail as a replayable recipe.
RETAIL_RECIPE = Recipe(
    (
        CleaningStep("drop_missing_customer"),
        CleaningStep("drop_cancellations"),
        CleaningStep("drop_nonpositive", {"column": "quantity"}),
        CleaningStep("drop_nonpositive", {"column": "unit_price"}),
    )
)


def _file(datasets_dir: Path, relative: str) -> Path:
    path = datasets_dir / relative
    if not path.is_file():
        pytest.skip(f"{relative} is missing")
    return path


def _prepare(path: Path, **kwargs: object) -> PreparedTable:
    """One real file through the pipeline, from the raw bytes of the .gz file."""
    return prepare_table(path.read_bytes(), path.name, **kwargs)


def _problem_counts(prepared: PreparedTable) -> dict[str, int]:
    counts: dict[str, int] = {}
    for problem in prepared.problems:
        counts[problem.key] = counts.get(problem.key, 0) + problem.count
    return counts


# ------------------------------------------------------------------------------ Online Retail


@pytest.fixture(scope="module")
def retail(datasets_dir: Path) -> PreparedTable:
    """Online Retail read once per module, cleaned with the README's recipe."""
    return _prepare(_file(datasets_dir, "online_retail/online_retail.csv.gz"), recipe=RETAIL_RECIPE)


@pytest.fixture(scope="module")
def retail_workspace(retail: PreparedTable, tmp_path_factory: pytest.TempPathFactory) -> Workspace:
    """The cleaned Online Retail saved once into its own workspace."""
    workspace = Workspace(tmp_path_factory.mktemp("retail_ws"))
    save_prepared(workspace, "Online Retail", [retail])
    return workspace


@pytest.mark.slow
def test_online_retail_roles_are_guessed_and_every_row_is_read(retail: PreparedTable) -> None:
    assert retail.table == "transactions"
    assert retail.mapping_source == "auto"
    assert retail.mapping.columns == {
        "InvoiceNo": "order_id",
        "Description": "item",
        "Quantity": "quantity",
        "InvoiceDate": "date",
        "UnitPrice": "unit_price",
        "CustomerID": "customer_id",
    }
    assert retail.load.report.rows_read == 541_909
    # Nothing is dropped before the user's recipe runs: the typed table still has every row.
    assert len(retail.typed.frame) == 541_909
    first = retail.typed.frame.iloc[0]
    assert first["order_id"] == "536365"
    assert first["customer_id"] == "17850"  # an id, not the number 17850.0
    assert first["date"] == pd.Timestamp("2010-12-01 08:26:00")
    assert first["quantity"] == 6 and first["unit_price"] == pytest.approx(2.55)
    # Unmapped columns are kept as attributes.
    assert {"stock_code", "country"} <= set(retail.typed.frame.columns)


@pytest.mark.slow
def test_online_retail_problems_report_the_readme_counts(retail: PreparedTable) -> None:
    counts = _problem_counts(retail)
    assert counts["schema.problem.empty_customer"] == 135_080
    assert counts["schema.problem.cancellations"] == 9_288
    assert counts["schema.problem.duplicate_rows"] == 5_268


@pytest.mark.slow
def test_online_retail_readme_cleaning_recipe(retail: PreparedTable) -> None:
    cleaned = retail.cleaned
    assert len(cleaned) == 397_884
    assert cleaned["customer_id"].nunique() == 4_338
    assert cleaned["amount"].sum() == pytest.approx(8_911_407.90, abs=0.01)
    # The README's intermediate counts: rows with a CustomerID, then those with Quantity > 0.
    steps = [(log.step.op, log.rows_before, log.rows_after) for log in retail.step_logs]
    assert steps[0] == ("drop_missing_customer", 541_909, 406_829)
    assert steps[1][2] == 397_924
    assert steps[-1][2] == 397_884
    summary = retail.summary()
    assert summary["rows_read"] == 541_909 and summary["rows_kept"] == 397_884
    assert [s["after"] for s in summary["cleaning"]][-1] == 397_884


@pytest.mark.slow
def test_online_retail_saved_and_read_back(retail_workspace: Workspace) -> None:
    info = retail_workspace.info("Online Retail")
    assert info.rows == {"transactions": 397_884}
    stored = retail_workspace.load_dataset("Online Retail").tables["transactions"]
    assert stored["customer_id"].nunique() == 4_338
    assert stored["amount"].sum() == pytest.approx(8_911_407.90, abs=0.01)
    assert pd.api.types.is_datetime64_any_dtype(stored["date"])
    meta = retail_workspace.table_meta("Online Retail")["transactions"]
    assert meta["mapping"][0]["columns"]["CustomerID"] == "customer_id"
    assert [step["op"] for step in meta["recipe"][0]["steps"]] == [s.op for s in RETAIL_RECIPE]
    assert meta["load_report"][0]["rows_read"] == 541_909


# ------------------------------------------------------------------------------ single real files


def test_telco_churn_customers_with_labels_and_numbers(datasets_dir: Path, tmp_path: Path) -> None:
    prepared = _prepare(_file(datasets_dir, "telco_churn/WA_Fn-UseC_-Telco-Customer-Churn.csv.gz"))
    assert prepared.table == "customers"
    assert prepared.mapping.columns["customerID"] == "customer_id"
    assert prepared.mapping.columns["Churn"] == "churn"
    frame = prepared.cleaned
    assert len(frame) == 7_043
    assert frame["customer_id"].is_unique
    assert int(frame["churn"].sum()) == 1_869
    assert int((frame["churn"] == 0).sum()) == 5_174
    for column, mean in (("tenure", 32.371), ("monthly_charges", 64.7617)):
        assert pd.api.types.is_numeric_dtype(frame[column]), column
        assert frame[column].mean() == pytest.approx(mean, abs=1e-3)
    # TotalCharges holds a blank in 11 rows: a number column with 11 missing values.
    assert pd.api.types.is_numeric_dtype(frame["total_charges"])
    assert int(frame["total_charges"].isna().sum()) == 11

    workspace = Workspace(tmp_path / "ws")
    save_prepared(workspace, "telco", [prepared])
    stored = workspace.load_dataset("telco").tables["customers"]
    assert int(stored["churn"].sum()) == 1_869
    assert pd.api.types.is_numeric_dtype(stored["tenure"])
    assert pd.api.types.is_numeric_dtype(stored["monthly_charges"])


def test_bank_marketing_semicolon_file_becomes_campaign_responses(datasets_dir: Path) -> None:
    prepared = _prepare(_file(datasets_dir, "bank_marketing/bank-full.csv.gz"))
    assert prepared.load.report.delimiter == ";"
    assert prepared.table == "campaigns"
    assert prepared.mapping.columns["y"] == "responded"
    frame = prepared.cleaned
    assert len(frame) == 45_211
    assert int(frame["responded"].sum()) == 5_289
    assert int((frame["responded"] == 0).sum()) == 39_922
    assert frame["age"].min() >= 18  # numbers, not text


def test_groceries_basket_file_becomes_transactions(datasets_dir: Path) -> None:
    prepared = _prepare(_file(datasets_dir, "groceries/groceries.csv.gz"))
    assert prepared.load.report.kind == "basket"
    assert prepared.table == "transactions"
    assert set(prepared.mapping.columns.values()) >= {"order_id", "item"}
    frame = prepared.cleaned
    assert frame["order_id"].nunique() == 9_835
    assert frame["item"].nunique() == 169
    assert len(frame) == 43_367
    assert int((frame["item"] == "whole milk").sum()) == 2_513
    assert frame.groupby("order_id").size().max() == 32


def test_mall_customers_keep_zero_padded_ids(datasets_dir: Path, tmp_path: Path) -> None:
    prepared = _prepare(_file(datasets_dir, "mall_customers/Mall_Customers.csv.gz"))
    assert prepared.table == "customers"
    assert prepared.mapping.columns["CustomerID"] == "customer_id"
    assert prepared.mapping.columns["Genre"] == "gender"
    frame = prepared.cleaned
    assert frame["customer_id"].tolist() == [f"{i:04d}" for i in range(1, 201)]
    assert int((frame["gender"] == "Female").sum()) == 112
    workspace = Workspace(tmp_path / "ws")
    save_prepared(workspace, "mall", [prepared])
    stored = workspace.load_dataset("mall").tables["customers"]
    assert stored["customer_id"].iloc[0] == "0001"
    assert stored["customer_id"].iloc[-1] == "0200"


def test_chinese_reviews_map_the_review_text(datasets_dir: Path) -> None:
    path = _file(datasets_dir, "chinese_reviews/online_shopping_10_cats.csv.gz")
    prepared = _prepare(path)
    assert prepared.table == "feedback"
    assert prepared.mapping.columns["review"] == "text"
    frame = prepared.cleaned
    assert len(frame) == 62_774
    raw = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert frame["text"].iloc[1] == raw["review"].iloc[1]
    assert CJK.search(frame["text"].iloc[1])
    assert frame["cat"].value_counts()["热水器"] == 575
    assert int(frame["label"].sum()) == 31_728


def test_cdnow_whitespace_separated_text(datasets_dir: Path) -> None:
    path = _file(datasets_dir, "cdnow/CDNOW_master.txt.gz")
    prepared = _prepare(path)
    assert prepared.load.report.kind == "whitespace"
    assert prepared.table == "transactions"
    assert {"customer_id", "date"} <= set(prepared.mapping.columns.values())
    frame = prepared.cleaned
    assert len(frame) == 69_659
    assert frame["customer_id"].iloc[0] == "00001"
    assert frame["customer_id"].nunique() == 23_570
    assert frame["date"].iloc[0] == pd.Timestamp("1997-01-01")  # 19970101, not a number
    assert frame["date"].min() == pd.Timestamp("1997-01-01")
    assert frame["date"].max() == pd.Timestamp("1998-06-30")
    assert frame["amount"].sum() == pytest.approx(2_500_315.63, abs=0.01)
    assert frame["quantity"].sum() == 167_881


# ------------------------------------------------------------------------- Olist: several files

OLIST_FILES = (
    "olist_orders_dataset_sample15k.csv.gz",
    "olist_order_items_dataset_sample15k.csv.gz",
    "olist_customers_dataset.csv.gz",
    "olist_order_reviews_dataset_sample15k.csv.gz",
)


@pytest.fixture(scope="module")
def olist(datasets_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """Four Olist files imported together as one dataset, plus the raw files read by pandas."""
    paths = [_file(datasets_dir, f"olist/{name}") for name in OLIST_FILES]
    prepared = [_prepare(path) for path in paths]
    workspace = Workspace(tmp_path_factory.mktemp("olist_ws"))
    save_prepared(workspace, "olist", prepared)
    raw = {
        name: pd.read_csv(path, dtype=str) for name, path in zip(OLIST_FILES, paths, strict=True)
    }
    return {
        "prepared": prepared,
        "dataset": workspace.load_dataset("olist"),
        "orders": raw[OLIST_FILES[0]],
        "items": raw[OLIST_FILES[1]],
        "reviews": raw[OLIST_FILES[3]],
    }


def test_olist_files_feed_the_right_tables(olist: dict) -> None:
    tables = [p.table for p in olist["prepared"]]
    assert tables == ["transactions", "transactions", "customers", "feedback"]
    orders, items, _customers, reviews = olist["prepared"]
    assert orders.mapping.columns["customer_id"] == "customer_id"
    assert orders.mapping.columns["order_id"] == "order_id"
    assert items.mapping.columns["order_id"] == "order_id"
    assert items.mapping.columns["price"] == "unit_price"
    assert reviews.mapping.columns["review_score"] == "score"
    assert reviews.mapping.columns["review_comment_message"] == "text"
    dataset: Dataset = olist["dataset"]
    assert set(dataset.tables) == {"customers", "transactions", "feedback"}
    assert len(dataset.tables["customers"]) == 99_441
    assert len(dataset.tables["transactions"]) == 17_071  # one row per order item
    assert len(dataset.tables["feedback"]) == 14_944
    assert dataset.tables["feedback"]["score"].mean() == pytest.approx(4.0841, abs=1e-4)
    assert dataset.tables["transactions"]["unit_price"].sum() == pytest.approx(
        2_030_270.94, abs=0.01
    )


def test_olist_order_items_get_customer_ids_through_the_orders_file(olist: dict) -> None:
    transactions = olist["dataset"].tables["transactions"]
    owner = olist["orders"].set_index("order_id")["customer_id"]
    expected = olist["items"]["order_id"].map(owner)
    assert expected.notna().all()  # every item's order is in the orders file
    assert (transactions["customer_id"] == transactions["order_id"].map(owner)).all()
    assert sorted(transactions["order_id"]) == sorted(olist["items"]["order_id"])
    assert transactions["order_status"].notna().all()  # order columns were joined on


def test_olist_reviews_get_customer_ids_through_order_id(olist: dict) -> None:
    feedback = olist["dataset"].tables["feedback"]
    owner = olist["orders"].set_index("order_id")["customer_id"]
    expected = olist["reviews"]["order_id"].map(owner)
    assert expected.notna().all()  # every sampled review belongs to a sampled order
    # Every review has its order's customer, including reviews of orders without items.
    assert feedback["customer_id"].isna().sum() == 0
    pairs = set(zip(feedback["order_id"], feedback["customer_id"], strict=True))
    assert pairs == set(zip(olist["reviews"]["order_id"], expected, strict=True))


def test_olist_match_rates(olist: dict) -> None:
    rates = {rate.table: rate for rate in match_rates(olist["dataset"])}
    assert set(rates) == {"transactions", "feedback"}
    owner = olist["orders"].set_index("order_id")["customer_id"]
    # Recomputed from the raw files: the customers of the ordered items, and of the reviews.
    item_customers = olist["items"]["order_id"].map(owner).nunique()
    review_customers = olist["reviews"]["order_id"].map(owner).nunique()
    assert item_customers == 14_885  # README: items cover 14,885 orders, one customer each
    assert review_customers == 14_872  # README: 14,872 distinct reviewed orders
    # README: every sampled orders.customer_id is in the customers table.
    for table, customers in (("transactions", item_customers), ("feedback", review_customers)):
        rate = rates[table]
        assert (rate.customers, rate.matched, rate.unmatched_rows) == (customers, customers, 0)
        assert rate.unmatched_share == 0.0


def test_olist_transaction_dates_are_purchase_dates(olist: dict) -> None:
    transactions = olist["dataset"].tables["transactions"]
    purchase = pd.to_datetime(
        olist["orders"].set_index("order_id")["order_purchase_timestamp"]
    ).to_dict()
    expected = transactions["order_id"].map(purchase)
    assert (transactions["date"] == expected).all()


# ------------------------------------------------------------------------------ saved mappings


def _german_orders(rows: list[tuple[str, str, str, int, float]]) -> bytes:
    lines = ["kunde;tag;artikel;menge;preis"]
    lines += [f"{c};{d};{a};{m};{str(p).replace('.', ',')}" for c, d, a, m, p in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_saved_mapping_is_offered_again_for_the_same_layout(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    first = _german_orders(
        [("0007", "2024-03-01", "Tee", 2, 3.5), ("0008", "2024-03-02", "Brot", 1, 2.0)]
    )
    guessed = prepare_table(first, "januar.csv", table="transactions", workspace=workspace)
    assert guessed.mapping_source == "auto"
    # The user's mapping: every German header gets its role.
    chosen = guessed.mapping
    for source, role in {
        "kunde": "customer_id",
        "tag": "date",
        "artikel": "item",
        "menge": "quantity",
        "preis": "unit_price",
    }.items():
        chosen = chosen.assign(source, role)
    confirmed = prepare_table(first, "januar.csv", mapping=chosen, workspace=workspace)
    assert confirmed.mapping_source == "given"
    save_prepared(workspace, "januar", [confirmed])

    second = _german_orders([("0009", "2024-04-01", "Milch", 3, 1.25)])
    # Guessing alone does not find this mapping, so a match below can only come from the store.
    guessed_again = auto_map(prepare_table(second, "x.csv").load.frame, "transactions")
    assert guessed_again.columns != chosen.columns
    again = prepare_table(second, "februar.csv", workspace=workspace)
    assert again.mapping_source == "saved"
    assert again.table == "transactions"
    assert again.mapping.columns == chosen.columns
    assert again.cleaned["customer_id"].tolist() == ["0009"]
    assert again.cleaned["unit_price"].tolist() == [1.25]
    # Without the workspace the same file is only guessed.
    assert prepare_table(second, "februar.csv").mapping_source == "auto"


def test_saved_mapping_matches_headers_up_to_case_and_spacing(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    data = b"Customer ID,Order Date,Amount\n001,2024-01-01,5\n"
    prepared = prepare_table(data, "a.csv")
    save_prepared(workspace, "a", [prepared])
    again = prepare_table(
        b"customer id , order date,amount\n002,2024-01-02,6\n", "b.csv", workspace=workspace
    )
    assert again.mapping_source == "saved"  # same layout up to case and spacing
    # Every saved role is applied, under this file's own spelling of the headers.
    assert sorted(again.mapping.columns.values()) == ["amount", "customer_id", "date"]
    assert set(again.mapping.columns) <= {str(c) for c in again.load.frame.columns}
    assert again.cleaned["customer_id"].tolist() == ["002"]
    assert again.cleaned["date"].tolist() == [pd.Timestamp("2024-01-02")]


# ------------------------------------------------------------------------------ failures


def _snapshot(workspace: Workspace) -> dict[str, object]:
    return {
        "infos": [
            (i.name, i.version, i.fingerprint, i.rows, i.updated_at)
            for i in workspace.list_datasets()
        ],
        "history": len(workspace.history()),
        "frames": {
            name: {t: f.copy() for t, f in workspace.load_dataset(name).tables.items()}
            for name in workspace.dataset_names()
        },
    }


def _assert_same(before: dict[str, object], after: dict[str, object]) -> None:
    assert after["infos"] == before["infos"]
    assert after["history"] == before["history"]
    for name, tables in before["frames"].items():
        for table, frame in tables.items():
            pd.testing.assert_frame_equal(after["frames"][name][table], frame)


SHOP = b"customer_id,order_id,date,amount\n00001,A1,2024-01-01,10\n00002,A2,2024-01-02,20\n"
REFUNDS = b"customer,order,day,total\n00003,R1,2024-02-01,-5\n00004,R2,2024-02-02,-7\n"


def test_failed_imports_leave_the_workspace_unchanged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    workspace = Workspace(tmp_path / "ws")
    save_prepared(workspace, "shop", [prepare_table(SHOP, "shop.csv")])
    before = _snapshot(workspace)
    refunds = prepare_table(REFUNDS, "refunds.csv")

    # 1. The name is taken and the user did not ask to replace.
    with pytest.raises(ParameterError):
        save_prepared(workspace, "shop", [refunds])
    # 2. The recipe removes every row.
    everything_removed = prepare_table(
        REFUNDS,
        "refunds.csv",
        recipe=Recipe((CleaningStep("drop_nonpositive", {"column": "amount"}),)),
    )
    assert len(everything_removed.cleaned) == 0
    for mode in ("new", "replace"):
        with pytest.raises(InputError):
            save_prepared(
                workspace,
                "shop" if mode == "replace" else "refunds",
                [everything_removed],
                mode=mode,
            )
    # 3. The file cannot be read at all.
    with pytest.raises(InputError):
        prepare_table(b"\x00\x01\x02\xff" * 200, "orders.csv")
    with pytest.raises(InputError):
        prepare_table(b"", "orders.csv")
    # 4. Too many files at once, and no files.
    with pytest.raises(InputError):
        save_prepared(workspace, "many", [refunds] * (MAX_FILES + 1))
    with pytest.raises(InputError):
        save_prepared(workspace, "none", [])
    with pytest.raises(ParameterError):
        save_prepared(workspace, "bad mode", [refunds], mode="overwrite")

    # 5. The database fails in the middle of replacing the dataset.
    def disk_full(*_args: object, **_kwargs: object) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(Workspace, "_fingerprint_in", disk_full)
    with pytest.raises(OSError):
        save_prepared(workspace, "shop", [refunds], mode="replace")
    monkeypatch.undo()

    _assert_same(before, _snapshot(workspace))
    # None of the failed files' layouts was remembered as a confirmed mapping.
    assert workspace.recall_mapping(refunds.layout) is None
    assert workspace.exists("refunds") is False


def test_every_failure_is_a_typed_error_with_a_message() -> None:
    for data, name in (
        (b"", "empty.csv"),
        (b"a,b\n", "header_only.csv"),
        (b"PK\x03\x04zz", "x.xlsx"),
    ):
        with pytest.raises(CrmError) as caught:
            prepare_table(data, name)
        assert caught.value.message("en").strip()
        assert CJK.search(caught.value.message("zh"))


# ------------------------------------------------------------------------------ Chinese GBK file


def test_chinese_header_gbk_csv(tmp_path: Path) -> None:
    rows = [
        ("00123", "2024-01-05 10:00", "苹果", 2, 3.5),
        ("00124", "2024-01-06 11:30", "牛奶", 1, 6.0),
        ("00123", "2024-02-01 09:15", "面包", 3, 4.25),
        ("00125", "2024-02-03 18:45", "香蕉", 5, 1.2),
    ]
    text = "客户编号,下单时间,商品名称,数量,单价,金额\n" + "".join(
        f"{c},{d},{item},{n},{p},{n * p:.2f}\n" for c, d, item, n, p in rows
    )
    data = text.encode("gbk")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # really not UTF-8
    prepared = prepare_table(data, "订单.csv")
    assert prepared.load.report.encoding in {"gbk", "gb2312", "gb18030"}
    assert prepared.table == "transactions"
    assert prepared.mapping.columns == {
        "客户编号": "customer_id",
        "下单时间": "date",
        "商品名称": "item",
        "数量": "quantity",
        "单价": "unit_price",
        "金额": "amount",
    }
    frame = prepared.cleaned
    assert frame["customer_id"].tolist() == [r[0] for r in rows]
    assert frame["item"].tolist() == [r[2] for r in rows]
    assert frame["date"].tolist() == [pd.Timestamp(r[1]) for r in rows]
    assert frame["amount"].tolist() == pytest.approx([r[3] * r[4] for r in rows])

    workspace = Workspace(tmp_path / "ws")
    save_prepared(workspace, "中文订单", [prepared])
    stored = workspace.load_dataset("中文订单").tables["transactions"]
    assert stored["customer_id"].tolist() == ["00123", "00124", "00123", "00125"]
    assert stored["item"].iloc[0] == "苹果"


def test_gzip_of_a_gbk_file_reads_the_same(tmp_path: Path) -> None:
    text = "客户编号,下单时间,金额\n00123,2024-01-05,7.00\n00124,2024-01-06,6.00\n"
    plain = prepare_table(text.encode("gbk"), "orders.csv")
    zipped = prepare_table(gzip.compress(text.encode("gbk")), "orders.csv.gz")
    pd.testing.assert_frame_equal(plain.cleaned, zipped.cleaned)
    assert zipped.cleaned["customer_id"].tolist() == ["00123", "00124"]


def _shop_csv(rows: int = 60_000) -> bytes:
    """A long transactions file with duplicates, cancellations, gaps and negative amounts."""
    lines = ["customer_id,order_id,date,item,quantity,unit_price"]
    for i in range(rows):
        order = f"C{5000 + i % 97}" if i % 41 == 0 else str(5000 + i // 3)
        customer = "" if i % 53 == 0 else f"{i % 900:05d}"
        quantity = -1 if i % 67 == 0 else 1 + i % 4
        lines.append(
            f"{customer},{order},2024-01-{1 + i % 28:02d} 10:{i % 60:02d}:00,P{i % 50},"
            f"{quantity},{(i % 13) * 0.75:.2f}"
        )
    lines += lines[1:200]  # exact duplicate rows
    return ("\n".join(lines) + "\n").encode()


@pytest.mark.parametrize(
    "steps",
    [
        (),
        (CleaningStep("drop_missing_customer"), CleaningStep("drop_cancellations")),
        (
            CleaningStep("drop_exact_duplicates"),
            CleaningStep("drop_nonpositive", {"column": "unit_price"}),
        ),
        (CleaningStep("fill_missing", {"column": "customer_id", "method": "drop"}),),
        (CleaningStep("fill_missing", {"column": "unit_price", "method": "median"}),),
        (CleaningStep("clip_outliers", {"column": "unit_price"}),),
    ],
)
def test_reused_row_hashes_give_the_fingerprint_of_the_stored_rows(
    tmp_path: Path, steps: tuple
) -> None:
    """The import hashes each row once (duplicate check, then fingerprint): the stored digest
    must be exactly the digest of the cleaned frame computed from scratch."""
    from crm_core.store import frame_fingerprint

    ws = Workspace(tmp_path)
    prepared = prepare_table(_shop_csv(), "shop.csv", recipe=Recipe(steps))
    assert {"schema.problem.duplicate_rows", "schema.problem.cancellations"} <= {
        p.key for p in prepared.problems
    }
    rewrites = any(s.op == "clip_outliers" or s.params.get("method") == "median" for s in steps)
    assert (prepared.row_hashes is None) == rewrites  # changed values are hashed again
    save_prepared(ws, "shop", [prepared])
    with ws._connect() as con:
        stored = con.execute("SELECT fingerprint FROM dataset_tables").fetchone()[0]
    assert stored == frame_fingerprint(prepared.cleaned)


def test_stacked_files_are_fingerprinted_as_stored(tmp_path: Path) -> None:
    from crm_core.importer import combine
    from crm_core.store import frame_fingerprint

    ws = Workspace(tmp_path)
    first = prepare_table(_shop_csv(1_000), "a.csv")
    second = prepare_table(_shop_csv(1_500), "b.csv")
    save_prepared(ws, "shop", [first, second])
    with ws._connect() as con:
        stored = con.execute("SELECT fingerprint FROM dataset_tables").fetchone()[0]
    assert stored == frame_fingerprint(combine([first, second])["transactions"])
