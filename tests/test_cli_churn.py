"""``crm churn`` as a user runs it: a real process on the Telco file and the sample workspace.

Telco (label column) must reach the README's logistic-regression baseline (ROC-AUC 0.8454) and
write a ranked risk list; on the sample, the derived label at the planted as-of date must give the
planted churn share; user mistakes end with exit code 2 and one line on stderr.
"""

from __future__ import annotations

import io
import json
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from crm_core.churn import ChurnLabelParams, build_churn_frame
from crm_core.store import Workspace
from tests.cli_helpers import assert_user_error, crm, ok

README_TELCO_AUC = 0.8454  # ../shared/datasets/telco_churn/README.md, 5-fold CV
TELCO_ROWS = 7043
TELCO_CHURNED = 1869  # README: Churn Yes 1,869
SAMPLE_TRUTH = Path(__file__).resolve().parents[1] / "sample_data" / "planted_truth.json"


def read_risk(path: Path) -> pd.DataFrame:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbfrank,customer_id,probability,")  # BOM for Excel
    return pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype={"customer_id": str})


def assert_ranked(risk: pd.DataFrame) -> None:
    """Rank 1..n, riskiest first, each customer once."""
    assert risk["rank"].tolist() == list(range(1, len(risk) + 1))
    assert risk["customer_id"].is_unique
    assert risk["probability"].between(0, 1).all()
    assert risk["probability"].is_monotonic_decreasing


@pytest.fixture(scope="module")
def telco(datasets_dir: Path) -> Path:
    path = datasets_dir / "telco_churn" / "WA_Fn-UseC_-Telco-Customer-Churn.csv.gz"
    if not path.is_file():
        pytest.skip("Telco file missing")
    return path


@pytest.fixture(scope="module")
def telco_ids(telco: Path) -> set[str]:
    return set(pd.read_csv(telco, usecols=["customerID"], dtype=str)["customerID"])


@pytest.fixture(scope="module")
def telco_logreg(
    telco: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[dict[str, Any], Path, subprocess.CompletedProcess]:
    """One logistic-regression run on the Telco file (shared by the tests below)."""
    workspace = tmp_path_factory.mktemp("telco") / "workspace"
    out, metrics = workspace.parent / "risk.csv", workspace.parent / "metrics.json"
    args = ["--label-column", "churn", "--model", "logreg", "--out", str(out)]
    result = ok(crm(workspace, "churn", str(telco), *args, "--json", str(metrics)))
    return json.loads(metrics.read_text(encoding="utf-8")), out, result


def test_telco_logreg_reaches_the_readme_baseline(
    telco_logreg: tuple[dict[str, Any], Path, subprocess.CompletedProcess], telco_ids: set[str]
) -> None:
    payload, out, result = telco_logreg
    assert result.stdout == ""  # --json PATH writes the file instead
    assert payload["model"] == "logreg"
    assert payload["validation"] == "cv"
    assert payload["customers"] == TELCO_ROWS
    assert payload["churn_rate"] == pytest.approx(TELCO_CHURNED / TELCO_ROWS, abs=1e-6)
    auc = payload["metrics"]["roc_auc"]
    assert auc >= 0.84, auc
    assert auc == pytest.approx(README_TELCO_AUC, abs=0.005)
    assert payload["metrics"]["customers"] == TELCO_ROWS
    assert payload["metrics"]["tp"] + payload["metrics"]["fn"] == TELCO_CHURNED
    baselines = {row["model"]: row for row in payload["baselines"]}
    assert baselines["baseline_majority"]["roc_auc"] == 0.5
    assert baselines["baseline_single"]["roc_auc"] < auc
    assert payload["top_features"][0]["feature"] in {"tenure", "contract"}
    assert payload["out"] == str(out)

    risk = read_risk(out)
    assert len(risk) == TELCO_ROWS
    assert set(risk["customer_id"]) == telco_ids
    assert_ranked(risk)
    assert int(risk["actual"].sum()) == TELCO_CHURNED
    assert "factors_en" in risk.columns and "factors_zh" not in risk.columns
    assert risk.head(100)["actual"].mean() > 0.6  # the riskiest customers mostly did churn


def test_telco_hgb_is_as_good_as_logreg(
    telco: Path,
    telco_logreg: tuple[dict[str, Any], Path, subprocess.CompletedProcess],
    tmp_path: Path,
) -> None:
    logreg = telco_logreg[0]["metrics"]["roc_auc"]
    workspace = tmp_path / "workspace"
    result = ok(crm(workspace, "churn", str(telco), "--label-column", "churn", "--model", "hgb"))
    payload = json.loads(result.stdout)
    assert payload["model"] == "hgb" and payload["customers"] == TELCO_ROWS
    assert payload["metrics"]["roc_auc"] >= logreg - 0.01, (payload["metrics"]["roc_auc"], logreg)
    assert "out" not in payload


def test_sample_derived_label_equals_the_planted_churners(sample_workspace: Path) -> None:
    out = sample_workspace.parent / "risk.csv"
    args = ["--inactive-days", "90", "--as-of", "2024-10-03", "--out", str(out)]
    payload = json.loads(ok(crm(sample_workspace, "churn", "sample", *args)).stdout)

    customers = Workspace(sample_workspace).load_dataset("sample").tables["customers"]
    planted = json.loads(SAMPLE_TRUTH.read_text(encoding="utf-8"))["churn"]
    assert planted["window_start"] == "2024-10-03"
    assert planted["churned_customers"] == int(customers["churn"].sum()) == 1673
    assert payload["customers"] == len(customers) == 5000
    assert payload["churn_rate"] == pytest.approx(customers["churn"].mean(), abs=1e-9)
    assert payload["churn_rate"] == planted["churn_rate"]
    assert payload["validation"] == "time"  # a derived label is checked on later data
    assert "2024-10-03" in payload["definition"] and "2024-12-31" in payload["definition"]
    assert payload["metrics"]["roc_auc"] > 0.9

    risk = read_risk(out)
    assert len(risk) == 5000 and set(risk["customer_id"]) == set(customers["customer_id"])
    assert_ranked(risk)
    # the risk list scores everyone at the end of the data; the planted churners rank first
    churned = set(customers.loc[customers["churn"] == 1, "customer_id"])
    assert risk.head(500)["customer_id"].isin(churned).mean() > 0.9


def test_label_column_with_as_of_limits_the_features(sample_workspace: Path) -> None:
    """--as-of beside --label-column is used (features before it), not silently dropped."""
    args = ["--label-column", "churn", "--as-of", "2024-10-03"]
    payload = json.loads(ok(crm(sample_workspace, "churn", "sample", *args)).stdout)
    dataset = Workspace(sample_workspace).load_dataset("sample")
    frame = build_churn_frame(dataset, ChurnLabelParams(label_column="churn", as_of="2024-10-03"))
    assert payload["definition"] == frame.definition["en"]
    assert "2024-10-03" in payload["definition"]
    assert payload["validation"] == "cv" and payload["customers"] == 5000
    # the final 90 days (which define the label) are out of the features: no perfect score
    assert 0.85 < payload["metrics"]["roc_auc"] < 0.995


def test_chinese_definition(sample_workspace: Path) -> None:
    args = ["--inactive-days", "90", "--as-of", "2024-10-03", "--model", "svm", "--cv", "3"]
    payload = json.loads(ok(crm(sample_workspace, "--lang", "zh", "churn", "sample", *args)).stdout)
    dataset = Workspace(sample_workspace).load_dataset("sample")
    frame = build_churn_frame(dataset, ChurnLabelParams(inactive_days=90, as_of="2024-10-03"))
    assert payload["definition"] == frame.definition["zh"]
    assert payload["model"] == "svm"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--as-of", "2024-13-45"], "2024-13-45"),
        (["--as-of", "not-a-date"], "not-a-date"),
        (["--as-of", "2030-01-01"], "2030-01-01"),
        (["--as-of", "2022-06-01"], "2022-06-01"),
        (["--as-of", "2024-12-01"], "2024-12-01"),  # the 90-day window runs past the data
        (["--label-column", "churn", "--as-of", "2022-06-01"], "2022-06-01"),
        (["--label-column", "city"], "city"),  # city names are no churn label
        (["--label-column", "no_such_column"], "no_such_column"),
        (["--inactive-days", "0"], "inactive_days"),
        (["--cv", "1"], "cv_folds"),
    ],
)
def test_bad_input_is_one_line_exit_2(sample_workspace: Path, args: list[str], needle: str) -> None:
    out = sample_workspace.parent / "never.csv"
    line = assert_user_error(crm(sample_workspace, "churn", "sample", *args, "--out", str(out)))
    assert needle in line
    assert not out.exists()


def test_label_column_with_odd_values_names_them(tmp_path: Path) -> None:
    rows = ["customer_id,age,plan,outcome"]
    for i in range(1, 41):
        value = {7: "maybe", 9: "maybe", 11: "2"}.get(i, "Yes" if i % 2 else "No")
        rows.append(f"C{i:02d},{20 + i},basic,{value}")
    path = tmp_path / "odd_labels.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    out = tmp_path / "never.csv"
    workspace = tmp_path / "workspace"
    line = assert_user_error(
        crm(workspace, "churn", str(path), "--label-column", "outcome", "--out", str(out))
    )
    assert "outcome" in line and "“maybe”" in line and "“2”" in line and " 3 " in line
    assert not out.exists()


def test_one_class_file_is_one_line_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "all_stay.csv"
    rows = ["customer_id,age,outcome", *(f"S{i:02d},{30 + i},No" for i in range(30))]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    line = assert_user_error(crm(tmp_path / "ws", "churn", str(path), "--label-column", "outcome"))
    assert "needs both churned and retained" in line
    assert "0 churned and 30 retained" in line
