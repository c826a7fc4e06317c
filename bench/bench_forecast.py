"""Forecasts: backtesting every model on 100 monthly series, against statsmodels' ETS.

Target (issue "Satisfaction and demand"): backtesting all models on 100 monthly series within
10 s. The series are 36 months of demand per category: level, slope and seasonal phase differ per
series, with noise (seeded). ``forecast_series`` backtests seasonal naive, moving average, trend
and ETS (six forms chosen by AIC) at three rolling origins and forecasts 6 months ahead.

Baseline in the same run: statsmodels' ``ETSModel`` (additive error, trend and season, maximum
likelihood) on the first 10 series at the same origins — only the ETS part, one form — so the
ratio is per series. Its accuracy is reported beside ours (same origins, same errors) so a faster
model that forecasts worse would show. A second case runs ``run_forecast`` end to end on the
sample dataset per planted segment (what the page does on a parameter change).
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import measure, ratio, report

from crm_core.timeseries import SeriesSettings, backtest_origins, forecast_series

N_SERIES = 100
N_MONTHS = 36
HORIZON = 6
BASELINE_SERIES = 10


def series(n: int = N_SERIES, seed: int = 7) -> list[np.ndarray]:
    """Monthly demand per category: level, trend, an annual cycle with its own phase, noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(N_MONTHS)
    out = []
    for _ in range(n):
        level, slope = rng.uniform(50, 500), rng.normal(0, 2)
        amplitude, phase = rng.uniform(0, 0.2) * level, rng.uniform(0, 2 * np.pi)
        noise = rng.normal(0, 0.05 * level, N_MONTHS)
        out.append(level + slope * t + amplitude * np.cos(2 * np.pi * t / 12 + phase) + noise)
    return out


def ours(data: list[np.ndarray]) -> dict:
    settings = SeriesSettings(horizon=HORIZON, season=12)
    results = [forecast_series(y, settings) for y in data]
    ets_mae = [r.backtest.set_index("model").loc["ets", "mae"] for r in results]
    chosen = pd.Series([r.chosen for r in results]).value_counts().to_dict()
    return {"ets_mae_mean_first_10": float(np.mean(ets_mae[:BASELINE_SERIES])), "chosen": chosen}


def statsmodels_ets(data: list[np.ndarray]) -> dict:
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    maes = []
    for y in data:
        errors = []
        for origin in backtest_origins(len(y), HORIZON, 3):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = ETSModel(
                    pd.Series(y[:origin]),
                    error="add",
                    trend="add",
                    seasonal="add",
                    seasonal_periods=12,
                ).fit(disp=False)
            errors.append(y[origin : origin + HORIZON] - fit.forecast(HORIZON).to_numpy())
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ETSModel(
                pd.Series(y), error="add", trend="add", seasonal="add", seasonal_periods=12
            ).fit(disp=False).get_prediction(start=len(y), end=len(y) + HORIZON - 1)
        maes.append(float(np.mean(np.abs(np.concatenate(errors)))))
    return {"ets_mae_mean": float(np.mean(maes))}


def sample_page_case(dataset: object) -> dict:
    from crm_core.forecast import ForecastParams, run_forecast

    result = run_forecast(dataset, ForecastParams(target="satisfaction", horizon=6, by="channel"))
    return {"groups": len(result.groups)}


def main() -> None:
    data = series()
    studio = measure(lambda: ours(data))
    baseline = measure(lambda: statsmodels_ets(data[:BASELINE_SERIES]))
    per_series_ours = studio["seconds"] / N_SERIES
    per_series_sm = baseline["seconds"] / BASELINE_SERIES
    from crm_core.sample import load_sample

    sample = load_sample()
    page = measure(lambda: sample_page_case(sample))
    report(
        "forecast",
        {
            "backtest_100_monthly_series": {
                "series": N_SERIES,
                "months": N_MONTHS,
                "horizon": HORIZON,
                "origins": 3,
                "models": "snaive, ma, trend(+season), ets (6 forms by AIC)",
                "seconds": studio["seconds"],
                "peak_mb": studio["peak_mb"],
                "chosen_models": (studio["extra"] or {}).get("chosen"),
                "error": studio["error"],
                "target": "<= 10 s for all models on 100 monthly series",
                "statsmodels_ets_aaa_10_series_s": baseline["seconds"],
                "statsmodels_error": baseline["error"],
                "ratio_per_series_vs_statsmodels_ets_only": ratio(per_series_ours, per_series_sm),
                "ets_backtest_mae_ours_first_10": (studio["extra"] or {}).get(
                    "ets_mae_mean_first_10"
                ),
                "ets_backtest_mae_statsmodels_first_10": (baseline["extra"] or {}).get(
                    "ets_mae_mean"
                ),
            },
            "sample_satisfaction_by_channel": {
                "seconds": page["seconds"],
                "peak_mb": page["peak_mb"],
                "groups": (page["extra"] or {}).get("groups"),
                "error": page["error"],
            },
        },
    )


if __name__ == "__main__":
    main()
