"""crm_core.timeseries: the four models, intervals, backtest and automatic choice.

Reference: statsmodels' ETSModel (maximum likelihood) on the same series; the studio's ETS must
forecast as well as it does, so the fast vectorised fit is not a weaker model.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from crm_core.timeseries import MODELS, SeriesSettings, backtest_origins, forecast_series


def _seasonal(n: int, seed: int, slope: float = 1.5, noise: float = 3.0) -> np.ndarray:
    t = np.arange(n)
    rng = np.random.default_rng(seed)
    return 100 + slope * t + 10 * np.cos(2 * np.pi * t / 12) + rng.normal(0, noise, n)


def _statsmodels_backtest_mae(y: np.ndarray, horizon: int, origins: list[int]) -> float:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    errors = []
    for origin in origins:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = ETSModel(
                pd.Series(y[:origin]),
                error="add",
                trend="add",
                seasonal="add",
                seasonal_periods=12,
            ).fit(disp=False)
        actual = y[origin : origin + horizon]
        errors.append(actual - fit.forecast(horizon).to_numpy()[: len(actual)])
    return float(np.mean(np.abs(np.concatenate(errors))))


def test_ets_forecasts_as_well_as_statsmodels_on_seasonal_series() -> None:
    ours, reference = [], []
    for seed in range(8):
        y = _seasonal(48, seed)
        result = forecast_series(y, SeriesSettings(horizon=6, season=12, model="ets"))
        ours.append(result.backtest.set_index("model").loc["ets", "mae"])
        reference.append(_statsmodels_backtest_mae(y, 6, backtest_origins(48, 6, 3)))
    assert np.mean(ours) <= np.mean(reference) * 1.1
    # both are far better than ignoring the season (noise sd is 3)
    assert np.mean(ours) < 4


def test_point_forecast_matches_statsmodels_on_the_full_series() -> None:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    y = _seasonal(48, 1)
    ours = forecast_series(y, SeriesSettings(horizon=6, season=12, model="ets"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = ETSModel(
            pd.Series(y), error="add", trend="add", seasonal="add", seasonal_periods=12
        ).fit(disp=False)
    assert ours.forecasts["ets"].detail.startswith("ETS(A,A")
    np.testing.assert_allclose(ours.forecasts["ets"].mean, reference.forecast(6), rtol=0.02)


def test_auto_picks_the_lowest_backtest_error_and_reports_every_model() -> None:
    y = _seasonal(48, 2)
    result = forecast_series(y, SeriesSettings(horizon=6, season=12))
    table = result.backtest.set_index("model")
    assert set(table.index) == set(MODELS)
    assert (table["errors"] == 18).all()  # 3 origins x 6 periods
    assert result.chosen == table["mae"].idxmin()
    assert table.loc[result.chosen, "mae"] < table.loc["snaive", "mae"]
    assert set(result.forecasts) == set(MODELS)


def test_asked_model_is_used_even_when_another_backtests_better() -> None:
    result = forecast_series(_seasonal(48, 2), SeriesSettings(horizon=6, season=12, model="ma"))
    assert result.chosen == "ma"


def test_intervals_widen_with_the_horizon_and_cover_the_truth() -> None:
    covered, total = 0, 0
    for seed in range(20):
        full = _seasonal(54, seed)
        y, future = full[:48], full[48:]
        path = forecast_series(y, SeriesSettings(horizon=6, season=12, model="ets")).forecasts[
            "ets"
        ]
        covered += int(np.sum((future >= path.lower) & (future <= path.upper)))
        total += len(future)
        assert np.all(path.upper >= path.mean) and np.all(path.lower <= path.mean)
    assert covered / total >= 0.85  # 95 % intervals; a few misses in 120 are expected


def test_trend_model_recovers_a_planted_slope_and_season() -> None:
    y = _seasonal(30, 5, slope=0.8, noise=0.5)
    path = forecast_series(y, SeriesSettings(horizon=12, season=12, model="trend")).forecasts[
        "trend"
    ]
    assert path.detail == "trend+season"
    # one year ahead the forecast is one year of slope above the same months a year earlier
    assert np.mean(path.mean - y[-12:]) == pytest.approx(0.8 * 12, rel=0.15)


def test_short_series_fall_back_and_say_so() -> None:
    y = np.array([5.0, 6.0, 5.5, 6.5, 6.0, 7.0])
    result = forecast_series(y, SeriesSettings(horizon=3, season=12))
    assert result.forecasts["snaive"].detail == "naive"
    assert not result.forecasts["ets"].detail.endswith(",A)")
    assert any(key == "forecast.note.no_seasonal" for key, _ in result.notes)


def test_forecasts_are_clipped_to_the_scale() -> None:
    y = np.linspace(4.2, 4.95, 24)
    result = forecast_series(y, SeriesSettings(horizon=12, season=12, lower=1, upper=5))
    for path in result.forecasts.values():
        assert path.upper.max() <= 5 and path.lower.min() >= 1


def test_same_input_same_output() -> None:
    y = _seasonal(40, 9)
    first = forecast_series(y, SeriesSettings(horizon=6, season=12))
    second = forecast_series(y.copy(), SeriesSettings(horizon=6, season=12))
    pd.testing.assert_frame_equal(first.backtest, second.backtest)
    for model in MODELS:
        np.testing.assert_array_equal(first.forecasts[model].mean, second.forecasts[model].mean)


def test_backtest_origins_leave_a_horizon_to_test() -> None:
    assert backtest_origins(24, 6, 3) == [16, 17, 18]
    assert backtest_origins(8, 6, 3) == [4]  # tests fewer periods than the horizon
    assert backtest_origins(4, 6, 3) == []
