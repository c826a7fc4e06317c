"""crm_core.forecast on small made-up tables and on the sample's planted satisfaction trends."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_core.errors import DataRequirementError, ParameterError
from crm_core.forecast import ALL, ForecastParams, groupable_columns, run_forecast
from crm_core.store import Workspace
from crm_core.tables import Dataset

ROOT = Path(__file__).resolve().parents[1]


def _feedback(scores_by_month: dict[str, list[float]], **extra: list) -> Dataset:
    rows = []
    for month, scores in scores_by_month.items():
        for i, score in enumerate(scores):
            rows.append({"customer_id": f"c{i}", "date": pd.Timestamp(month), "score": score})
    frame = pd.DataFrame(rows)
    for column, values in extra.items():
        frame[column] = values
    return Dataset("fb", {"feedback": frame})


def _months(n: int, start: str = "2023-01-01") -> list[str]:
    return [d.strftime("%Y-%m-%d") for d in pd.date_range(start, periods=n, freq="MS")]


def test_satisfaction_is_the_mean_score_per_month_with_response_counts() -> None:
    data = {m: [4, 5, 3, 4, 4, 5] for m in _months(8)}
    data[_months(8)[3]] = [1, 2, 2, 1, 2, 2]
    result = run_forecast(_feedback(data), ForecastParams(target="satisfaction", horizon=2))
    history = result.group(ALL).history
    assert history["responses"].tolist() == [6] * 8
    assert history["value"].round(4).tolist()[3] == pytest.approx(10 / 6, abs=1e-4)
    assert history["value"].iloc[0] == pytest.approx(25 / 6)
    assert result.scale == "1-5"


def test_scores_outside_the_scale_are_left_out_and_counted() -> None:
    data = {m: [4, 5, 3, 4, 4, 5] for m in _months(8)}
    data[_months(8)[0]] = [4, 5, 3, 4, 4, 5, 9, 0]
    result = run_forecast(
        _feedback(data), ForecastParams(target="satisfaction", scale="1-5", horizon=2)
    )
    texts = [note.text() for note in result.notes]
    assert any("2 scores outside the 1–5 scale" in text for text in texts)
    assert result.group(ALL).history["responses"].iloc[0] == 6


def test_unknown_scale_is_a_clear_error() -> None:
    data = {m: [40, 75, 90] for m in _months(8)}
    with pytest.raises(ParameterError) as error:
        run_forecast(_feedback(data), ForecastParams(target="satisfaction"))
    assert "40 to 90" in error.value.message()


def test_a_single_response_month_is_shown_but_not_trusted() -> None:
    data = {m: [4, 4, 4, 4, 4, 4] for m in _months(10)}
    data[_months(10)[5]] = [1]  # one angry customer
    result = run_forecast(_feedback(data), ForecastParams(target="satisfaction", horizon=3))
    history = result.group(ALL).history
    assert bool(history["gap"].iloc[5]) and history["value"].iloc[5] == 1
    assert history["fitted_value"].iloc[5] == pytest.approx(4)  # interpolated for the models
    assert any(note.key == "forecast.note.gaps" for note in result.notes)


def test_months_without_responses_are_gaps_not_zeros() -> None:
    months = _months(12)
    data = {m: [3, 4, 5, 4, 4] for i, m in enumerate(months) if i not in (4, 5)}
    result = run_forecast(_feedback(data), ForecastParams(target="satisfaction", horizon=2))
    history = result.group(ALL).history
    assert len(history) == 12
    assert history["responses"].tolist()[4:6] == [0, 0]
    assert history["fitted_value"].notna().all() and history["fitted_value"].min() > 3.5


def test_nps_is_promoters_minus_detractors() -> None:
    months = _months(6)
    rows = []
    for month in months:
        for i, value in enumerate([10, 9, 9, 8, 7, 6, 3, 10, 10, 0]):
            rows.append({"customer_id": f"c{i}", "date": pd.Timestamp(month), "nps": value})
    data = Dataset("n", {"feedback": pd.DataFrame(rows)})
    history = run_forecast(data, ForecastParams(target="nps", horizon=2)).group(ALL).history
    # 5 promoters (9-10), 3 detractors (0-6) of 10 -> NPS 20
    assert history["value"].tolist() == pytest.approx([20.0] * 6)


def test_too_few_periods_and_missing_tables_are_typed_errors() -> None:
    with pytest.raises(DataRequirementError) as error:
        run_forecast(_feedback({m: [4, 5] for m in _months(3)}), ForecastParams("satisfaction"))
    assert "at least 4" in error.value.message()
    with pytest.raises(DataRequirementError):
        run_forecast(_feedback({m: [4] for m in _months(6)}), ForecastParams(target="revenue"))
    with pytest.raises(ParameterError):
        run_forecast(_feedback({m: [4] for m in _months(6)}), ForecastParams(horizon=0))


def _transactions(n_months: int = 30, returns: bool = True) -> Dataset:
    rng = np.random.default_rng(0)
    rows = []
    for i, month in enumerate(pd.date_range("2022-01-01", periods=n_months, freq="MS")):
        for j in range(20 + i):
            day = month + pd.Timedelta(days=int(rng.integers(0, 27)))
            rows.append(
                {
                    "customer_id": f"c{j % 15}",
                    "order_id": f"{i}-{j // 2}",
                    "date": day,
                    "quantity": 2.0,
                    "unit_price": 5.0,
                    "channel": "web" if j % 3 else "store",
                }
            )
    frame = pd.DataFrame(rows)
    if returns:
        frame.loc[len(frame)] = {
            "customer_id": "c1",
            "order_id": "C999",
            "date": pd.Timestamp("2022-03-05"),
            "quantity": -2.0,
            "unit_price": 5.0,
            "channel": "web",
        }
    return Dataset("tx", {"transactions": frame})


def test_demand_sums_purchases_per_month_and_leaves_returns_out() -> None:
    data = _transactions()
    frame = data.tables["transactions"]
    result = run_forecast(data, ForecastParams(target="revenue", horizon=3))
    history = result.group(ALL).history.set_index("period")["value"]
    purchases = frame[frame["quantity"] > 0]
    expected = (
        (purchases["quantity"] * purchases["unit_price"])
        .groupby(purchases["date"].dt.to_period("M").dt.start_time)
        .sum()
    )
    pd.testing.assert_series_equal(history, expected, check_names=False, check_freq=False)
    assert any(note.key == "forecast.note.returns_left_out" for note in result.notes)
    orders = run_forecast(data, ForecastParams(target="orders", horizon=3)).group(ALL).history
    assert (
        orders["value"].iloc[0] == purchases[purchases["date"] < "2022-02-01"]["order_id"].nunique()
    )


def test_growing_demand_forecast_keeps_growing_and_groups_are_forecast_separately() -> None:
    result = run_forecast(_transactions(), ForecastParams(target="units", horizon=6, by="channel"))
    assert [g.group for g in result.groups] == [ALL, "web", "store"]
    for group in result.groups:
        path = group.forecast[group.forecast["model"] == group.chosen]
        assert path["mean"].mean() > group.history["value"].tail(6).mean() * 0.95
    assert result.warnings.empty  # nothing falls 10 % below last year's same months


def test_partial_last_month_is_left_out_of_demand() -> None:
    data = _transactions(returns=False)
    frame = data.tables["transactions"]
    extra = frame.iloc[:3].assign(date=pd.Timestamp("2024-07-02"))
    data.tables["transactions"] = pd.concat([frame, extra], ignore_index=True)
    result = run_forecast(data, ForecastParams(target="revenue", horizon=2))
    assert result.group(ALL).history["period"].max() == pd.Timestamp("2024-06-01")
    assert any(note.key == "forecast.note.partial_period" for note in result.notes)


def test_demand_early_warning_compares_with_the_same_months_a_year_earlier() -> None:
    data = _transactions(returns=False)
    frame = data.tables["transactions"]
    # the store channel collapses in the last 8 months
    late = (frame["channel"] == "store") & (frame["date"] >= "2023-11-01")
    data.tables["transactions"] = frame[~late | (np.arange(len(frame)) % 4 == 0)]
    result = run_forecast(
        data, ForecastParams(target="revenue", horizon=6, by="channel", model="trend")
    )
    assert "store" in result.warnings["group"].tolist()
    assert "web" not in result.warnings["group"].tolist()
    row = result.warnings.set_index("group").loc["store"]
    assert row["change"] < -0.1


def test_grouping_options_name_what_can_split_the_target() -> None:
    data = _transactions()
    assert groupable_columns(data, "revenue") == ["segment", "channel"]
    with pytest.raises(ParameterError) as error:
        run_forecast(data, ForecastParams(target="revenue", by="order_id"))
    assert "channel" in error.value.message()


# ------------------------------------------------------------------ planted truth in the sample


@pytest.fixture(scope="module")
def planted_workspace(tmp_path_factory: pytest.TempPathFactory) -> tuple[Workspace, Dataset]:
    """The sample in a workspace with its planted segments saved as a segmentation."""
    from crm_core.cli import ensure_sample

    workspace = Workspace(tmp_path_factory.mktemp("fc_ws"))
    ensure_sample(workspace)
    planted = pd.read_csv(ROOT / "sample_data" / "planted_segments.csv.gz", dtype=str)
    workspace.save_analysis(
        "sample", "segments", "planted", planted.assign(segment_name=planted["segment"])
    )
    return workspace, workspace.load_dataset("sample")


def test_sample_planted_satisfaction_trends_are_recovered(planted_workspace) -> None:
    workspace, dataset = planted_workspace
    truth = json.loads((ROOT / "sample_data" / "planted_truth.json").read_text())
    planted = truth["satisfaction"]["segments"]
    params = ForecastParams(target="satisfaction", horizon=6, by="segment", segmentation="planted")
    result = run_forecast(dataset, params, workspace)
    checked = 0
    for name, design in planted.items():
        slope = design["slope_per_month"]
        if abs(slope) < 0.005 or design["measured"]["months_observed"] < 24:
            continue  # flat or too short to carry a year-on-year direction
        group = result.group(name)
        bt = group.backtest.set_index("model")["mae"]
        assert bt[group.chosen] < bt["snaive"], name  # beats seasonal naive on the holdout
        path = group.forecast[group.forecast["model"] == group.chosen]["mean"].to_numpy()
        same_months_last_year = group.history["fitted_value"].tail(12).head(6).to_numpy()
        change = float(np.mean(path - same_months_last_year))
        assert np.sign(change) == np.sign(slope), (name, change, slope)
        assert change == pytest.approx(12 * slope, abs=0.2)
        checked += 1
    assert checked == 3  # vip, loyal_regular, lapsed


def test_sample_low_satisfaction_segment_is_flagged(planted_workspace) -> None:
    workspace, dataset = planted_workspace
    params = ForecastParams(
        target="satisfaction", horizon=6, by="segment", segmentation="planted", threshold=3.2
    )
    result = run_forecast(dataset, params, workspace)
    flagged = result.warnings["group"].tolist()
    assert flagged[0] == "lapsed"  # the falling segment is at the top
    assert "vip" not in flagged


def test_sample_planted_season_peaks_are_recovered(planted_workspace) -> None:
    workspace, dataset = planted_workspace
    truth = json.loads((ROOT / "sample_data" / "planted_truth.json").read_text())
    params = ForecastParams(
        target="satisfaction", horizon=24, by="segment", segmentation="planted", model="trend"
    )
    result = run_forecast(dataset, params, workspace)
    checked = 0
    for name, design in truth["satisfaction"]["segments"].items():
        if design["season_amplitude"] < 0.2 or design["measured"]["months_observed"] < 24:
            continue
        path = result.group(name).forecast.query("model == 'trend'")
        values = path["mean"].to_numpy()
        slope = float(np.mean(values[12:] - values[:12])) / 12  # a year apart: same season
        cycle = values[:12] - slope * np.arange(12)
        peak = int(path["period"].iloc[int(np.argmax(cycle))].month)
        distance = min(abs(peak - design["peak_month"]), 12 - abs(peak - design["peak_month"]))
        assert distance <= 1, (name, peak, design["peak_month"])
        checked += 1
    assert checked == 4  # vip (Dec), loyal_regular (Jun), bargain_hunter (Nov), lapsed (Jan)
