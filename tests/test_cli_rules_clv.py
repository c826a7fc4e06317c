"""``crm rules`` and ``crm clv`` as a user runs them: real processes on the public datasets.

Reference figures come from ../shared/datasets/*/README.md:

* Groceries: arules ``apriori(support=0.006, confidence=0.25, minlen=2)`` gives 463 rules,
  150/297/16 by length; with consequents of any size (mlxtend) 467.
* Online Retail, France recipe: 392 baskets, POSTAGE dropped after the baskets are built, support
  0.07, lift >= 1: 51 itemsets, 26 rules, the strongest GREEN -> RED alarm clock at lift 8.643.
* CDNOW 2,357-customer sample, calibration 1997-01-01 .. 1997-09-30 (39 weeks): BG/NBD r 0.243,
  alpha 4.414, a 0.793, b 2.426 (LL -9582.43); Gamma-Gamma on the 946 repeat customers p 6.25,
  q 3.74, v 15.44.

``crm clv`` fits the "calibration" stage (BG/NBD or Pareto/NBD) on the calibration period only,
and its "purchases" and "spend" stages on the whole period (to 1998-06-30), which is what scores
the customers. The published Gamma-Gamma figures are a calibration-period fit, so they are checked
through the core on the very transactions the CLI reads, and the CLI's own "spend" stage against
the core's whole-period fit.

User mistakes must end with exit code 2 and one line on stderr.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from crm_core.baskets import BasketParams, RuleParams, rules_for_export, run_rules
from crm_core.cli import load_dataset_arg
from crm_core.export import to_csv_bytes
from crm_core.store import Workspace
from crm_core.value import CLVParams, fit_gamma_gamma, rfm_summary, run_clv
from tests.cli_helpers import assert_user_error, crm, ok

GROCERIES_RULES = 463
GROCERIES_BY_LENGTH = {"2": 150, "3": 297, "4": 16}
GROCERIES_ANY_CONSEQUENT = 467
FRANCE_RULES = 26
FRANCE_ITEMSETS = 51
FRANCE_BASKETS = 392
FRANCE_TOP_LIFT = 8.643
CDNOW_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
CDNOW_BGNBD_LL = -9582.43
CDNOW_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "v": 15.44}
CDNOW_SAMPLE_CUSTOMERS = 2357
CDNOW_MASTER_CUSTOMERS = 23_570
ARULES_ARGS = ["--min-support", "0.006", "--min-confidence", "0.25"]
FRANCE_ARGS = [
    "--filter-column",
    "country",
    "--filter-values",
    "France",
    "--min-support",
    "0.07",
    "--min-confidence",
    "0",
    "--min-lift",
    "1",
    "--no-single-consequent",
]


def read_csv(path: Path) -> pd.DataFrame:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, so Excel reads non-ASCII names right
    return pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype={"customer_id": str})


def _need(path: Path) -> Path:
    if not path.is_file():
        pytest.skip(f"{path.name} is not in ../shared/datasets")
    return path


def _transactions_as_the_cli_reads_them(workspace: Path, path: Path) -> pd.DataFrame:
    dataset = load_dataset_arg(argparse.Namespace(workspace=str(workspace)), str(path))
    return dataset.tables["transactions"]


# ---------------------------------------------------------------------------------------------
# crm rules
# ---------------------------------------------------------------------------------------------


@pytest.fixture()
def groceries(datasets_dir: Path) -> Path:
    return _need(datasets_dir / "groceries" / "groceries.csv.gz")


@pytest.mark.parametrize("algorithm", ["apriori", "fpgrowth"])
def test_groceries_reproduces_arules_463_rules(
    workspace_dir: Path, groceries: Path, algorithm: str
) -> None:
    out, summary = workspace_dir.parent / "rules.csv", workspace_dir.parent / "rules.json"
    result = ok(
        crm(
            workspace_dir,
            "rules",
            str(groceries),
            *ARULES_ARGS,
            "--algorithm",
            algorithm,
            "--out",
            str(out),
            "--json",
            str(summary),
        )
    )
    assert result.stdout == ""  # --json PATH writes the file instead
    payload: dict[str, Any] = json.loads(summary.read_text(encoding="utf-8"))
    assert payload["baskets"]["baskets"] == 9835 and payload["baskets"]["items"] == 169
    assert payload["itemsets"] == 747  # README: 109 / 478 / 156 / 4
    assert payload["rules"] == GROCERIES_RULES
    assert payload["rules_by_length"] == GROCERIES_BY_LENGTH
    assert payload["truncated"] is False
    assert payload["out"] == str(out)

    rules = read_csv(out)
    assert len(rules) == GROCERIES_RULES
    # README ranges: support 0.006101 .. 0.074835, confidence 0.25 .. 0.66, lift 0.9932 .. 3.9565
    assert rules["support"].min() == pytest.approx(0.006101, abs=1e-6)
    assert rules["support"].max() == pytest.approx(0.074835, abs=1e-6)
    assert rules["confidence"].min() >= 0.25
    assert rules["confidence"].max() == pytest.approx(0.66, abs=0.005)
    assert rules["lift"].min() == pytest.approx(0.9932, abs=1e-4)
    assert (rules["count"].min(), rules["count"].max()) == (60, 736)
    top = rules.iloc[0]
    assert (top["antecedent"], top["consequent"]) == ("herbs", "root vegetables")
    assert top["lift"] == pytest.approx(3.956477, abs=1e-6)
    assert top["count"] == 69
    assert payload["top_rules"][0]["antecedent"] == "herbs"

    # the same rules, byte for byte, as the core on the same file with the same settings
    transactions = _transactions_as_the_cli_reads_them(workspace_dir, groceries)
    direct = run_rules(
        transactions,
        BasketParams(),
        RuleParams(min_support=0.006, min_confidence=0.25, min_lift=0.0, algorithm=algorithm),
    )
    assert out.read_bytes() == to_csv_bytes(rules_for_export(direct))


def test_groceries_any_consequent_gives_467_rules(workspace_dir: Path, groceries: Path) -> None:
    result = ok(crm(workspace_dir, "rules", str(groceries), *ARULES_ARGS, "--no-single-consequent"))
    payload = json.loads(result.stdout)
    assert payload["rules"] == GROCERIES_ANY_CONSEQUENT
    # the 4 extra rules have two items on the right; the 463 single-consequent ones stay
    assert payload["rules_by_length"] == {"2": 150, "3": 297, "4": 20}


@pytest.fixture()
def online_retail(datasets_dir: Path) -> Path:
    return _need(datasets_dir / "online_retail" / "online_retail.csv.gz")


@pytest.mark.slow
def test_online_retail_france_recipe(workspace_dir: Path, online_retail: Path) -> None:
    out = workspace_dir.parent / "france.csv"
    result = ok(
        crm(
            workspace_dir,
            "rules",
            str(online_retail),
            *FRANCE_ARGS,
            "--exclude",
            "POSTAGE",
            "--out",
            str(out),
        )
    )
    payload = json.loads(result.stdout)
    # --exclude drops the item after the baskets are built, as the README drops the POSTAGE
    # column of its basket matrix: 392 baskets (1,563 items with POSTAGE) behind every support
    assert payload["baskets"]["baskets"] == FRANCE_BASKETS
    assert payload["baskets"]["items"] == 1563
    assert payload["itemsets"] == FRANCE_ITEMSETS
    assert payload["rules"] == FRANCE_RULES
    rules = read_csv(out)
    assert len(rules) == FRANCE_RULES
    assert not rules["antecedent"].str.contains("POSTAGE").any()
    assert not rules["consequent"].str.contains("POSTAGE").any()
    assert rules["lift"].max() == pytest.approx(FRANCE_TOP_LIFT, abs=5e-4)
    assert (rules["lift"] >= 1).all()
    # README: 8 rules with lift >= 6 and confidence >= 0.8
    assert int(((rules["lift"] >= 6) & (rules["confidence"] >= 0.8)).sum()) == 8
    green = rules[
        (rules["antecedent"] == "ALARM CLOCK BAKELIKE GREEN")
        & (rules["consequent"] == "ALARM CLOCK BAKELIKE RED")
    ]
    assert len(green) == 1
    assert green.iloc[0]["support"] == pytest.approx(0.0791, abs=5e-5)
    assert green.iloc[0]["confidence"] == pytest.approx(0.8158, abs=5e-5)
    assert green.iloc[0]["lift"] == pytest.approx(FRANCE_TOP_LIFT, abs=5e-4)

    # without --exclude POSTAGE (in most French invoices) joins the itemsets and rules
    kept = json.loads(ok(crm(workspace_dir, "rules", str(online_retail), *FRANCE_ARGS)).stdout)
    assert kept["baskets"]["baskets"] == FRANCE_BASKETS
    assert kept["itemsets"] > FRANCE_ITEMSETS and kept["rules"] > FRANCE_RULES
    assert any("POSTAGE" in r["antecedent"] + r["consequent"] for r in kept["top_rules"])


def test_rules_csv_neutralises_formula_like_items(workspace_dir: Path, tmp_path: Path) -> None:
    formula, plus = '=HYPERLINK("http://x","y")', "+SUM(A1:A2)"
    lines = ["order_id,customer_id,date,item"]
    baskets = [[formula, plus, "Tea 茶"]] * 6 + [["Tea 茶", "Milk"]] * 4
    for number, items in enumerate(baskets, start=1):
        for item in items:
            quoted = '"' + item.replace('"', '""') + '"'
            lines.append(f"O{number:02d},C{number:02d},2024-03-{number:02d},{quoted}")
    source = tmp_path / "shop.csv"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "rules.csv"
    result = ok(crm(workspace_dir, "rules", str(source), "--min-support", "0.3", "--out", str(out)))
    payload = json.loads(result.stdout)
    assert payload["rules"] > 0
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfantecedent,consequent,")
    rules = read_csv(out)
    cells = rules[["antecedent", "consequent"]].to_numpy().ravel().tolist()
    assert "'" + formula in cells and "'" + plus in cells
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))]
    assert "Tea 茶" in cells  # Chinese survives the BOM-marked UTF-8
    # the JSON keeps the names as they are: it is data, not a spreadsheet
    named = {r["antecedent"] for r in payload["top_rules"]} | {
        r["consequent"] for r in payload["top_rules"]
    }
    assert formula in named
    # a file path does not create a dataset in the workspace
    assert Workspace(workspace_dir).list_datasets() == []


@pytest.mark.parametrize(("support", "shown"), [("0", "0.0"), ("2", "2.0"), ("-0.1", "-0.1")])
def test_support_outside_0_1_is_one_line_exit_2(
    workspace_dir: Path, groceries: Path, support: str, shown: str
) -> None:
    out = workspace_dir.parent / "never.csv"
    line = assert_user_error(
        crm(workspace_dir, "rules", str(groceries), "--min-support", support, "--out", str(out))
    )
    assert "min_support" in line and shown in line
    assert not out.exists()


def test_support_above_every_item_is_an_empty_result_with_a_note(
    workspace_dir: Path, groceries: Path
) -> None:
    payload = json.loads(
        ok(crm(workspace_dir, "rules", str(groceries), "--min-support", "0.9")).stdout
    )
    assert payload["rules"] == 0 and payload["itemsets"] == 0
    assert any("whole milk" in note for note in payload["notes"])  # the most frequent item


# ---------------------------------------------------------------------------------------------
# crm clv
# ---------------------------------------------------------------------------------------------


@pytest.fixture()
def cdnow_sample(datasets_dir: Path) -> Path:
    return _need(datasets_dir / "cdnow" / "CDNOW_sample.txt.gz")


def test_clv_on_the_cdnow_sample_reproduces_the_published_fit(
    workspace_dir: Path, cdnow_sample: Path
) -> None:
    out, params_json = workspace_dir.parent / "clv.csv", workspace_dir.parent / "params.json"
    args = ["--calibration-end", "1997-09-30", "--time-unit", "weeks"]
    result = ok(
        crm(
            workspace_dir,
            "clv",
            str(cdnow_sample),
            *args,
            "--out",
            str(out),
            "--json",
            str(params_json),
        )
    )
    assert result.stdout == ""
    payload: dict[str, Any] = json.loads(params_json.read_text(encoding="utf-8"))
    assert payload["model"] == "bgnbd" and payload["time_unit"] == "weeks"
    assert payload["calibration_end"] == "1997-09-30"
    assert payload["observation_end"] == "1998-06-30"

    stages = payload["parameters"]
    assert set(stages) == {"calibration", "purchases", "spend"}
    named = {
        stage: set(fit) - {"model", "std_errors", "log_likelihood"} for stage, fit in stages.items()
    }
    assert named == {
        "calibration": {"r", "alpha", "a", "b"},
        "purchases": {"r", "alpha", "a", "b"},
        "spend": {"p", "q", "v"},
    }
    for stage, fit in stages.items():
        assert set(fit["std_errors"]) == named[stage]
        assert all(value > 0 for value in fit["std_errors"].values())

    # the calibration stage is fitted on the 39 calibration weeks: the published BG/NBD
    calibration = stages["calibration"]
    assert calibration["model"] == "bgnbd"
    for name, value in CDNOW_BGNBD.items():
        assert calibration[name] == pytest.approx(value, rel=0.01), name
    assert calibration["log_likelihood"] == pytest.approx(CDNOW_BGNBD_LL, abs=0.01)

    # the spend stage is the whole-period Gamma-Gamma (1,139 repeat customers to 1998-06-30)
    transactions = _transactions_as_the_cli_reads_them(workspace_dir, cdnow_sample)
    full = rfm_summary(transactions, time_unit="weeks")
    whole = fit_gamma_gamma(full["frequency"], full["monetary_value"])
    assert stages["spend"]["model"] == "gamma_gamma"
    for name in ("p", "q", "v"):
        assert stages["spend"][name] == pytest.approx(whole.params[name], abs=1e-6)
    assert payload["metrics"]["spend_customers"] == whole.customers == 1139
    # ... and on the calibration period the same transactions give the published Gamma-Gamma
    cal = rfm_summary(transactions, "1997-09-30", time_unit="weeks")
    assert len(cal) == CDNOW_SAMPLE_CUSTOMERS and int((cal["frequency"] > 0).sum()) == 946
    published = fit_gamma_gamma(cal["frequency"], cal["monetary_value"])
    for name, value in CDNOW_GAMMA_GAMMA.items():
        assert published.params[name] == pytest.approx(value, rel=0.01), name

    # every figure is the core's on the same data with the same settings
    direct = run_clv(
        transactions, CLVParams(calibration_end=pd.Timestamp("1997-09-30"), time_unit="weeks")
    )
    for name, value in direct.purchase_fit.params.items():
        assert stages["purchases"][name] == pytest.approx(value, abs=1e-6)
    for key, value in direct.metrics.items():
        assert payload["metrics"][key] == pytest.approx(value, rel=1e-6, abs=1e-6), key
    assert payload["metrics"]["holdout_customers"] == CDNOW_SAMPLE_CUSTOMERS
    assert payload["notes"] == []

    customers = read_csv(out)
    assert len(customers) == CDNOW_SAMPLE_CUSTOMERS and customers["customer_id"].is_unique
    assert list(customers.columns) == ["customer_id", *direct.customers.columns]
    assert customers["clv"].sum() == pytest.approx(direct.metrics["clv_total"], rel=1e-9)
    assert customers["p_alive"].between(0, 1).all()
    assert customers["customer_id"].iloc[0] == "00004"  # zero-padded ids survive


def test_clv_on_the_cdnow_master_file(workspace_dir: Path, datasets_dir: Path) -> None:
    master = _need(datasets_dir / "cdnow" / "CDNOW_master.txt.gz")
    out = workspace_dir.parent / "master.csv"
    args = ["--calibration-end", "1997-09-30", "--time-unit", "weeks", "--out", str(out)]
    payload = json.loads(ok(crm(workspace_dir, "clv", str(master), *args)).stdout)
    assert payload["observation_end"] == "1998-06-30"
    # every one of the 23,570 customers first bought in Q1 1997, inside the calibration period
    assert payload["metrics"]["customers"] == CDNOW_MASTER_CUSTOMERS
    assert payload["metrics"]["holdout_customers"] == CDNOW_MASTER_CUSTOMERS
    assert set(payload["parameters"]["calibration"]) >= {"r", "alpha", "a", "b"}
    customers = read_csv(out)
    assert len(customers) == CDNOW_MASTER_CUSTOMERS and customers["customer_id"].is_unique


def test_a_shorter_horizon_and_a_higher_discount_lower_the_clv(
    workspace_dir: Path, cdnow_sample: Path
) -> None:
    totals = {}
    for horizon, discount in ((365, "0.1"), (90, "0.1"), (365, "0.5")):
        args = ["--horizon-days", str(horizon), "--discount", discount]
        payload = json.loads(ok(crm(workspace_dir, "clv", str(cdnow_sample), *args)).stdout)
        assert payload["calibration_end"] is None and "calibration" not in payload["parameters"]
        totals[(horizon, discount)] = payload["metrics"]["clv_total"]
    assert totals[(90, "0.1")] < totals[(365, "0.1")]
    assert totals[(365, "0.5")] < totals[(365, "0.1")]


@pytest.mark.parametrize(
    ("calibration_end", "needle"),
    [
        ("1999-01-01", "1999-01-01"),  # after the data
        ("1998-06-30", "1998-06-30"),  # the last day: no holdout left
        ("1996-12-31", "1996-12-31"),  # before the first purchase
        ("notadate", "notadate"),
    ],
)
def test_calibration_end_outside_the_data_is_one_line_exit_2(
    workspace_dir: Path, cdnow_sample: Path, calibration_end: str, needle: str
) -> None:
    out = workspace_dir.parent / "never.csv"
    line = assert_user_error(
        crm(
            workspace_dir,
            "clv",
            str(cdnow_sample),
            "--calibration-end",
            calibration_end,
            "--out",
            str(out),
        )
    )
    assert "calibration" in line and needle in line
    assert not out.exists()


@pytest.mark.parametrize("command", ["clv", "rules"])
def test_a_dataset_without_transactions_is_one_line_exit_2(
    workspace_dir: Path, tmp_path: Path, command: str
) -> None:
    people = tmp_path / "people.csv"
    people.write_text(
        "customer_id,age,city\n" + "".join(f"P{i},{20 + i},Leeds\n" for i in range(30)),
        encoding="utf-8",
    )
    out = tmp_path / "never.csv"
    line = assert_user_error(crm(workspace_dir, command, str(people), "--out", str(out)))
    assert "transactions" in line and "people.csv" in line
    assert not out.exists()


def test_unknown_dataset_and_bad_clv_settings(workspace_dir: Path, cdnow_sample: Path) -> None:
    assert_user_error(crm(workspace_dir, "clv", "no_such_dataset"))
    assert_user_error(crm(workspace_dir, "rules", "no_such_dataset"))
    line = assert_user_error(crm(workspace_dir, "clv", str(cdnow_sample), "--horizon-days", "0"))
    assert "horizon_days" in line
