"""The ``crm`` command as a user runs it: a real process, a workspace from $CRM_WORKSPACE, JSON out.

Errors a user can fix must end with exit code 2 and one line on stderr, never a traceback, and
must leave the workspace as it was.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from crm_core.quality import quality_report
from crm_core.sample import load_sample
from crm_core.store import Workspace
from tests.cli_helpers import assert_user_error, crm

CJK = re.compile(r"[\u3400-\u9fff]")
COMMANDS = ("sample", "init", "datasets", "import", "quality")


def ok_json(result: subprocess.CompletedProcess) -> Any:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture()
def ws(tmp_path: Path) -> Path:
    return tmp_path / "workspace"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


ORDERS = (
    "customer_id,order_id,date,amount\n"
    "00001,A1,2024-01-05,10.50\n"
    "00002,A2,2024-01-06,20.00\n"
    "00002,A3,2024-02-01,-4.00\n"
    "00003,A4,2024-02-03,7.25\n"
)
CUSTOMERS = "customer_id,name,city\n00001,Ann,Leeds\n00002,Bo,York\n"


# -------------------------------------------------------------------------- help, init, datasets


def test_help_lists_every_command(ws: Path) -> None:
    result = crm(ws, "--help")
    assert result.returncode == 0
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", result.stdout, re.MULTILINE), command
    assert crm(ws, "import", "--help").stdout.count("--mapping") >= 1


def test_init_loads_the_sample_once_and_datasets_lists_it(ws: Path) -> None:
    first = ok_json(crm(ws, "init"))
    assert first["sample_added"] is True
    assert Path(first["workspace"]).parent == ws
    second = ok_json(crm(ws, "init"))
    assert second["sample_added"] is False

    listed = ok_json(crm(ws, "datasets"))
    assert [d["name"] for d in listed] == ["sample"]
    sample = load_sample()
    assert listed[0]["rows"] == {name: len(frame) for name, frame in sample.tables.items()}
    assert listed[0]["version"] == 1  # the second init did not load it again
    assert listed[0]["fingerprint"] == Workspace(ws).info("sample").fingerprint


def test_datasets_of_an_empty_workspace_is_an_empty_list(ws: Path) -> None:
    assert ok_json(crm(ws, "datasets")) == []


# ------------------------------------------------------------------------------ import


def test_import_prints_a_json_summary(ws: Path, tmp_path: Path) -> None:
    orders = _write(tmp_path / "orders.csv", ORDERS)
    summary = ok_json(crm(ws, "import", str(orders), "--name", "shop"))
    assert summary["dataset"] == "shop"
    assert summary["version"] == 1
    assert summary["rows"] == {"transactions": 4}
    [file] = summary["files"]
    assert file["file"] == "orders.csv"
    assert file["table"] == "transactions"
    assert file["rows_read"] == 4 and file["rows_kept"] == 4  # nothing dropped silently
    assert file["mapping"] == {
        "customer_id": "customer_id",
        "order_id": "order_id",
        "date": "date",
        "amount": "amount",
    }
    assert file["mapping_source"] == "auto"
    assert isinstance(file["warnings"], list)
    assert any("negative" in p["message"] for p in file["problems"])

    stored = Workspace(ws).load_dataset("shop").tables["transactions"]
    assert stored["customer_id"].tolist() == ["00001", "00002", "00002", "00003"]
    assert ok_json(crm(ws, "datasets"))[0]["name"] == "shop"


def test_import_with_a_mapping_override_and_a_recipe(ws: Path, tmp_path: Path) -> None:
    odd = _write(
        tmp_path / "export.csv",
        "buyer,ref,when,total,remark\n"
        "7,R1,05/01/2024,10,ok\n"
        "8,R2,06/01/2024,-3,refund\n"
        "8,R3,07/01/2024,12,ok\n",
    )
    mapping = _write(
        tmp_path / "m.json",
        json.dumps(
            {
                "table": "transactions",
                "columns": {
                    "buyer": "customer_id",
                    "ref": "order_id",
                    "when": "date",
                    "total": "amount",
                },
            }
        ),
    )
    recipe = _write(
        tmp_path / "r.json",
        json.dumps({"steps": [{"op": "drop_nonpositive", "params": {"column": "amount"}}]}),
    )
    summary = ok_json(
        crm(
            ws,
            "import",
            str(odd),
            "--name",
            "odd",
            "--mapping",
            str(mapping),
            "--recipe",
            str(recipe),
        )
    )
    [file] = summary["files"]
    assert file["mapping_source"] == "given"
    assert file["mapping"] == {
        "buyer": "customer_id",
        "ref": "order_id",
        "when": "date",
        "total": "amount",
    }
    assert file["rows_read"] == 3 and file["rows_kept"] == 2
    assert file["cleaning"] == [
        {"op": "drop_nonpositive", "column": "amount", "before": 3, "after": 2}
    ]
    stored = Workspace(ws).load_dataset("odd").tables["transactions"]
    assert stored["order_id"].tolist() == ["R1", "R3"]
    assert stored["amount"].tolist() == [10.0, 12.0]
    assert stored["remark"].tolist() == ["ok", "ok"]  # unmapped columns are kept
    meta = Workspace(ws).table_meta("odd")["transactions"]
    assert meta["recipe"][0]["steps"][0]["op"] == "drop_nonpositive"


def test_import_add_and_replace(ws: Path, tmp_path: Path) -> None:
    orders = _write(tmp_path / "orders.csv", ORDERS)
    customers = _write(tmp_path / "customers.csv", CUSTOMERS)
    ok_json(crm(ws, "import", str(orders), "--name", "shop"))
    added = ok_json(crm(ws, "import", str(customers), "--name", "shop", "--add"))
    assert added["rows"] == {"customers": 2, "transactions": 4}
    assert added["version"] == 2
    replaced = ok_json(crm(ws, "import", str(customers), "--name", "shop", "--replace"))
    assert replaced["rows"] == {"customers": 2}


def test_an_excel_workbook_named_csv_is_read_as_excel(ws: Path, tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.append(["customer_id", "amount"])
    book.active.append(["007", 5])
    renamed = tmp_path / "really_excel.csv"
    book.save(renamed)
    summary = ok_json(crm(ws, "import", str(renamed), "--name", "xl"))
    [file] = summary["files"]
    assert file["kind"] == "excel"
    assert any("Excel" in w for w in file["warnings"])
    assert Workspace(ws).load_dataset("xl").tables["transactions"]["customer_id"].tolist() == [
        "007"
    ]


# ------------------------------------------------------------------------------ quality


def test_quality_prints_the_core_report(ws: Path, tmp_path: Path) -> None:
    orders = _write(tmp_path / "orders.csv", ORDERS)
    customers = _write(tmp_path / "customers.csv", CUSTOMERS)
    ok_json(crm(ws, "import", str(orders), "--name", "shop"))
    ok_json(crm(ws, "import", str(customers), "--name", "shop", "--add"))
    report = ok_json(crm(ws, "quality", "shop"))
    assert report["dataset"] == "shop"
    assert report["rows"] == {"customers": 2, "transactions": 4}
    # Customer 00003 bought but has no profile: 1 of 3 customers, 1 row.
    [rate] = report["match_rates"]
    assert rate == {
        "table": "transactions",
        "customers": 3,
        "matched": 2,
        "unmatched_share": round(1 / 3, 4),
        "unmatched_rows": 1,
    }
    assert {m["month"] for m in report["monthly_activity"]} == {"2024-01", "2024-02"}
    # The command prints exactly what the core computes (the app shows the same).
    expected = quality_report(Workspace(ws).load_dataset("shop")).to_dict()
    assert {k: v for k, v in report.items() if k != "dataset"} == json.loads(
        json.dumps(expected, default=str)
    )


def test_quality_of_the_sample(ws: Path) -> None:
    ok_json(crm(ws, "init"))
    report = ok_json(crm(ws, "quality", "sample", "--json", "-"))
    assert report["rows"] == Workspace(ws).info("sample").rows
    assert {r["table"] for r in report["match_rates"]} <= {
        "transactions",
        "communications",
        "feedback",
        "campaigns",
    }


# ------------------------------------------------------------------------------ bad input


def _state(ws: Path) -> list[tuple]:
    if not ws.exists():
        return []
    return [(i.name, i.version, i.fingerprint, i.rows) for i in Workspace(ws).list_datasets()]


@pytest.fixture()
def shop(ws: Path, tmp_path: Path) -> Path:
    ok_json(crm(ws, "import", str(_write(tmp_path / "orders.csv", ORDERS)), "--name", "shop"))
    return ws


def test_empty_file(shop: Path, tmp_path: Path) -> None:
    before = _state(shop)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    line = assert_user_error(crm(shop, "import", str(empty), "--name", "new"))
    assert "empty" in line and "empty.csv" in line
    assert _state(shop) == before


def test_missing_file(shop: Path, tmp_path: Path) -> None:
    before = _state(shop)
    line = assert_user_error(crm(shop, "import", str(tmp_path / "nope.csv"), "--name", "new"))
    assert "nope.csv" in line
    assert _state(shop) == before


@pytest.mark.parametrize("name", ["random.xlsx", "random.csv"])
def test_random_bytes(shop: Path, tmp_path: Path, name: str) -> None:
    before = _state(shop)
    garbage = tmp_path / name
    garbage.write_bytes(bytes(range(256)) * 20)
    assert_user_error(crm(shop, "import", str(garbage), "--name", "new"))
    assert _state(shop) == before


def test_zip_that_is_no_workbook_named_xlsx(shop: Path, tmp_path: Path) -> None:
    before = _state(shop)
    fake = tmp_path / "fake.xlsx"
    fake.write_bytes(b"PK\x03\x04" + bytes(500))
    assert_user_error(crm(shop, "import", str(fake), "--name", "new"))
    assert _state(shop) == before


def test_duplicate_dataset_name(shop: Path, tmp_path: Path) -> None:
    before = _state(shop)
    other = _write(tmp_path / "other.csv", "customer_id,amount\n9,1\n")
    line = assert_user_error(crm(shop, "import", str(other), "--name", "shop"))
    assert "shop" in line
    assert _state(shop) == before


def test_unknown_dataset(shop: Path) -> None:
    line = assert_user_error(crm(shop, "quality", "no such dataset"))
    assert "no such dataset" in line


def test_bad_mapping_and_recipe_files(shop: Path, tmp_path: Path) -> None:
    before = _state(shop)
    orders = str(tmp_path / "orders.csv")
    broken = _write(tmp_path / "broken.json", "{not json")
    wrong_role = _write(
        tmp_path / "wrong.json", json.dumps({"table": "transactions", "columns": {"a": "nope"}})
    )
    bad_step = _write(tmp_path / "step.json", json.dumps({"steps": [{"op": "rm -rf"}]}))
    for extra in (
        ["--mapping", str(broken)],
        ["--mapping", str(wrong_role)],
        ["--mapping", str(tmp_path / "absent.json")],
        ["--recipe", str(bad_step)],
    ):
        assert_user_error(crm(shop, "import", orders, "--name", "new", *extra))
    assert _state(shop) == before


def test_errors_follow_the_language_option(shop: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    line = assert_user_error(crm(shop, "--lang", "zh", "import", str(empty), "--name", "new"))
    assert CJK.search(line)
