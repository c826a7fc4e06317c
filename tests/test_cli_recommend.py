"""``crm recommend`` as a user runs it: a real process on the sample workspace and a real file.

The recommendations must equal the core's for the same settings; mistakes end with exit code 2
and one line on stderr.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd

from crm_core.recommend import (
    METHODS,
    RecommendParams,
    evaluate_recommenders,
    fit_recommender,
    reason_texts,
    recommend,
)
from crm_core.store import Workspace
from tests.cli_helpers import assert_user_error, crm, ok


def _core(workspace: Path, method: str, customers: list[str] | None, n: int = 10) -> pd.DataFrame:
    dataset = Workspace(workspace).load_dataset("sample")
    model = fit_recommender(
        dataset.tables["transactions"],
        RecommendParams(method=method, n=n),
        dataset.tables["customers"]["customer_id"],
    )
    return recommend(model, customers, n)


def test_one_customer_as_json_equals_the_core(sample_workspace: Path) -> None:
    payload = json.loads(
        ok(
            crm(
                sample_workspace, "recommend", "sample", "--customer", "C00002", "--method", "rules"
            )
        ).stdout
    )
    expected = _core(sample_workspace, "rules", ["C00002"])
    rows = payload["recommendations"]
    assert [r["item"] for r in rows] == expected["item"].tolist()
    assert [r["reason"] for r in rows] == reason_texts(expected, "en").tolist()
    assert payload["customers"] == 1 and payload["rows"] == 10


def test_all_customers_to_csv_in_chinese(sample_workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "recs.csv"
    result = ok(
        crm(sample_workspace, "--lang", "zh", "recommend", "sample", "--n", "5", "--out", str(out))
    )
    assert json.loads(result.stdout)["customers"] == 5000
    text = out.read_bytes().decode("utf-8-sig")
    table = pd.read_csv(io.StringIO(text), dtype={"customer_id": str})
    expected = _core(sample_workspace, "itemknn", None, n=5)
    assert len(table) == len(expected) == 5 * 5000
    assert table["item"].tolist() == expected["item"].tolist()
    assert table["reason"].head(50).tolist() == reason_texts(expected.head(50), "zh").tolist()


def test_evaluate_prints_the_core_table(sample_workspace: Path) -> None:
    payload = json.loads(ok(crm(sample_workspace, "recommend", "sample", "--evaluate")).stdout)
    dataset = Workspace(sample_workspace).load_dataset("sample")
    expected = evaluate_recommenders(dataset.tables["transactions"], METHODS, 10)
    rows = payload["evaluation"]
    assert [r["method"] for r in rows] == list(METHODS)
    for row, (_, want) in zip(rows, expected.iterrows(), strict=True):
        assert row["customers"] == want["customers"]
        assert abs(row["hit_rate"] - want["hit_rate"]) < 1e-6


def test_mistakes_are_one_line(sample_workspace: Path, tmp_path: Path) -> None:
    line = assert_user_error(crm(sample_workspace, "recommend", "sample", "--customer", "C99999"))
    assert "C99999" in line
    no_categories = tmp_path / "orders.csv"
    no_categories.write_text(
        "customer_id,order_id,date,item,quantity,unit_price\n"
        "A,1,2024-01-01,<b>tea</b>,1,2.5\nA,2,2024-02-01,cup,1,4\nB,3,2024-01-05,<b>tea</b>,2,2.5\n",
        encoding="utf-8",
    )
    line = assert_user_error(
        crm(sample_workspace, "recommend", str(no_categories), "--method", "content")
    )
    assert "categories" in line
    payload = json.loads(
        ok(crm(sample_workspace, "recommend", str(no_categories), "--customer", "B")).stdout
    )
    assert [r["item"] for r in payload["recommendations"]] == ["cup"]  # names kept as text
    assert_user_error(crm(sample_workspace, "recommend", "sample", "--n", "0"))
