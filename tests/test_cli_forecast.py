"""``crm forecast`` as a user runs it: a real process on the sample workspace and a real file.

The numbers must equal what the page's core call gives for the same settings; user mistakes end
with exit code 2 and one line on stderr.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from crm_core.forecast import ForecastParams, run_forecast
from crm_core.store import Workspace
from tests.cli_helpers import assert_user_error, crm, ok


def test_forecast_json_and_csv_equal_the_core(sample_workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "forecast.csv"
    result = ok(
        crm(
            sample_workspace,
            "forecast",
            "sample",
            "--target",
            "satisfaction",
            "--by",
            "channel",
            "--horizon",
            "4",
            "--out",
            str(out),
        )
    )
    payload = json.loads(result.stdout)
    workspace = Workspace(sample_workspace)
    expected = run_forecast(
        workspace.load_dataset("sample"),
        ForecastParams(target="satisfaction", by="channel", horizon=4),
        workspace,
    )
    assert payload["scale"] == "1-5" and payload["threshold"] == 3.5
    assert [g["group"] for g in payload["groups"]] == [
        "All" if g.group == "__all__" else g.group for g in expected.groups
    ]
    for shown, core in zip(payload["groups"], expected.groups, strict=True):
        assert shown["chosen_model"] == core.chosen
        path = core.forecast[core.forecast["model"] == core.chosen]
        assert [row["mean"] for row in shown["forecast"]] == pytest.approx(path["mean"].tolist())
        assert [row["model"] for row in shown["backtest"]] == core.backtest["model"].tolist()
    data = out.read_bytes()
    assert data.startswith("\ufeffperiod,model,mean,lower,upper,group,chosen".encode())
    table = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig")
    assert table["chosen"].sum() == 4 * len(expected.groups)
    assert set(table["model"]) == {"snaive", "ma", "trend", "ets"}


def test_forecast_reads_a_file_path_and_writes_json(
    datasets_dir: Path, workspace_dir: Path, tmp_path: Path
) -> None:
    path = datasets_dir / "amazon_reviews" / "Musical_Instruments_5.csv.gz"
    target = tmp_path / "out.json"
    ok(crm(workspace_dir, "forecast", str(path), "--target", "responses", "--json", str(target)))
    payload = json.loads(target.read_text(encoding="utf-8"))
    group = payload["groups"][0]
    assert payload["target"] == "responses"
    assert {row["model"] for row in group["backtest"]} == {"snaive", "ma", "trend", "ets"}
    assert all(row["mape"] is not None for row in group["backtest"])


def test_forecast_mistakes_are_one_line(sample_workspace: Path) -> None:
    line = assert_user_error(
        crm(sample_workspace, "forecast", "sample", "--target", "revenue", "--by", "order_id")
    )
    assert "order_id" in line and "segment" in line
    line = assert_user_error(crm(sample_workspace, "forecast", "sample", "--horizon", "0"))
    assert "horizon" in line
    line = assert_user_error(crm(sample_workspace, "forecast", "nosuch", "--target", "revenue"))
    assert "nosuch" in line


def test_drivers_json_equals_the_core_and_writes_importance(
    sample_workspace: Path, tmp_path: Path
) -> None:
    from crm_core.drivers import DriverParams, run_drivers

    out = tmp_path / "drivers.csv"
    result = ok(
        crm(
            sample_workspace,
            "drivers",
            "sample",
            "--model",
            "linear",
            "--cv",
            "3",
            "--out",
            str(out),
        )
    )
    payload = json.loads(result.stdout)
    workspace = Workspace(sample_workspace)
    expected = run_drivers(
        workspace.load_dataset("sample"), DriverParams(model="linear", cv_folds=3), workspace
    )
    assert payload["metrics"]["mae"] == pytest.approx(expected.metrics["mae"], abs=1e-6)
    assert payload["metrics"]["mae"] < payload["baseline"]["mae"]
    table = pd.read_csv(out, encoding="utf-8-sig")
    assert table["feature"].tolist() == [row["feature"] for row in payload["importance"]]
    assert table["feature"].iloc[0] == expected.importance["feature"].iloc[0]


def test_drivers_mistakes_are_one_line(sample_workspace: Path) -> None:
    line = assert_user_error(
        crm(
            sample_workspace,
            "drivers",
            "sample",
            "--scale",
            "0-10",
            "--target",
            "satisfied",
            "--threshold",
            "11",
        )
    )
    assert "11" in line
