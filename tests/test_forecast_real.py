"""Forecasts on the public datasets in ../shared/datasets, imported as a user would import them.

Reference figures from ../shared/datasets/README.md and the folders' READMEs; times are never
asserted (see bench/bench_forecast.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_core.forecast import ALL, ForecastParams, run_forecast
from crm_core.importer import combine, prepare_table
from crm_core.tables import Dataset
from crm_core.timeseries import MODELS as MODELS_SHOWN


def _dataset(datasets_dir: Path, *relative: str) -> Dataset:
    prepared = []
    for name in relative:
        path = datasets_dir / name
        if not path.is_file():
            pytest.skip(f"{name} is missing")
        prepared.append(prepare_table(path.read_bytes(), path.name))
    return Dataset(name=relative[0], tables=combine(prepared))


@pytest.mark.slow
def test_online_retail_monthly_revenue_backtest_reports_mape_for_every_model(
    datasets_dir: Path,
) -> None:
    dataset = _dataset(datasets_dir, "online_retail/online_retail.csv.gz")
    result = run_forecast(dataset, ForecastParams(target="revenue", freq="M", horizon=3))
    group = result.group(ALL)
    history = group.history
    # 2010-12 .. 2011-11: the data end on 2011-12-09, so December 2011 is partial and left out
    assert history["period"].min() == pd.Timestamp("2010-12-01")
    assert history["period"].max() == pd.Timestamp("2011-11-01")
    tx = dataset.tables["transactions"]
    november = tx[(tx["date"] >= "2011-11-01") & (tx["date"] < "2011-12-01")]
    sales = november[(november["quantity"] > 0) & ~november["order_id"].str.startswith("C")]
    assert history["value"].iloc[-1] == pytest.approx(
        (sales["quantity"] * sales["unit_price"]).sum(), rel=1e-9
    )
    table = group.backtest.set_index("model")
    assert set(table.index) == set(MODELS_SHOWN)
    assert table["mape"].notna().all() and (table["mape"] > 0).all()
    assert (table["errors"] == 9).all()  # three origins, three months each
    assert group.chosen == table["mae"].idxmin()


@pytest.fixture(scope="module")
def olist(datasets_dir: Path) -> Dataset:
    return _dataset(
        datasets_dir,
        "olist/olist_orders_dataset_sample15k.csv.gz",
        "olist/olist_order_items_dataset_sample15k.csv.gz",
        "olist/olist_order_reviews_dataset_sample15k.csv.gz",
    )


def test_olist_monthly_review_score_forecast_runs(olist: Dataset) -> None:
    feedback = olist.tables["feedback"]
    assert feedback["score"].mean() == pytest.approx(4.0841, abs=1e-4)  # README figure
    result = run_forecast(olist, ForecastParams(target="satisfaction", horizon=3))
    group = result.group(ALL)
    assert result.scale == "1-5"
    # the months with enough reviews carry the README's mean (weighted by responses)
    trusted = group.history[~group.history["gap"]]
    weighted = np.average(trusted["value"], weights=trusted["responses"])
    assert weighted == pytest.approx(feedback["score"].mean(), abs=0.01)
    path = group.forecast[group.forecast["model"] == group.chosen]
    assert path["mean"].between(1, 5).all() and (path["upper"] >= path["lower"]).all()
    assert group.backtest["mae"].notna().all()


def test_olist_score_by_order_status_groups_through_the_order(olist: Dataset) -> None:
    result = run_forecast(
        olist, ForecastParams(target="satisfaction", horizon=2, by="order_status")
    )
    names = [g.group for g in result.groups]
    assert names[:2] == [ALL, "delivered"]


def test_amazon_monthly_rating_and_review_volume_with_a_backtest(datasets_dir: Path) -> None:
    dataset = _dataset(datasets_dir, "amazon_reviews/Musical_Instruments_5.csv.gz")
    feedback = dataset.tables["feedback"]
    assert len(feedback) == 10_261 and feedback["customer_id"].nunique() == 1_429
    rating = run_forecast(dataset, ForecastParams(target="satisfaction", horizon=6))
    volume = run_forecast(dataset, ForecastParams(target="responses", horizon=6))
    rating_group, volume_group = rating.group(ALL), volume.group(ALL)
    assert volume_group.history["value"].sum() == pytest.approx(
        len(feedback[feedback["date"] >= volume_group.history["period"].min()])
        - len(
            feedback[
                feedback["date"] >= volume_group.history["period"].max() + pd.offsets.MonthBegin(1)
            ]
        )
    )
    trusted = rating_group.history[~rating_group.history["gap"]]
    assert np.average(trusted["value"], weights=trusted["responses"]) == pytest.approx(
        4.4887, abs=0.02
    )
    for group in (rating_group, volume_group):
        assert (group.backtest["errors"] == 18).all()
        assert group.backtest["mae"].notna().all()
    # review volume grew strongly towards 2014: the chosen forecast stays well above 2010 levels
    path = volume_group.forecast[volume_group.forecast["model"] == volume_group.chosen]
    early = volume_group.history[volume_group.history["period"].dt.year == 2010]["value"].mean()
    assert path["mean"].mean() > early
