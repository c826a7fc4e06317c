"""Customer 360 core: a profile's figures are the core modules' own numbers; search by id prefix
and by name in either script; unknown ids are typed errors."""

from __future__ import annotations

import pandas as pd
import pytest

from crm_core.customer360 import (
    CHURN_INLINE_MAX,
    customer_context,
    customer_profile,
    search_customers,
)
from crm_core.errors import NotFoundError
from crm_core.sample import load_sample
from crm_core.segmentation import run_rfm, segment_name
from crm_core.tables import Dataset
from crm_core.value import run_clv

CUSTOMER = "C00002"


@pytest.fixture(scope="module")
def sample() -> Dataset:
    return load_sample()


@pytest.fixture(scope="module")
def context(sample: Dataset):
    return customer_context(sample, lang="en")


def test_profile_figures_are_the_core_modules_numbers(sample: Dataset, context) -> None:
    from crm_core.churn import ChurnLabelParams, ChurnModelParams, run_churn

    profile = customer_profile(sample, CUSTOMER, lang="zh", context=context)
    transactions = sample.tables["transactions"]
    rfm = run_rfm(transactions).customers.loc[CUSTOMER]
    clv = run_clv(transactions).customers.loc[CUSTOMER]
    churn = run_churn(sample, ChurnLabelParams(), ChurnModelParams(model="logreg")).scores
    f = profile.figures
    assert (f["r"], f["f"], f["m"], f["segment"]) == (rfm["r"], rfm["f"], rfm["m"], rfm["segment"])
    assert f["segment_name"] == segment_name(rfm["segment"], "zh")
    assert f["monetary"] == pytest.approx(rfm["monetary"])
    assert f["clv"] == pytest.approx(clv["clv"]) and f["p_alive"] == pytest.approx(clv["p_alive"])
    assert f["churn_probability"] == pytest.approx(churn.loc[CUSTOMER, "probability"])
    assert profile.churn_factors == churn.loc[CUSTOMER, "factors_zh"]

    own = transactions[transactions["customer_id"] == CUSTOMER]
    assert f["orders"] == own["order_id"].nunique()
    assert f["revenue"] == pytest.approx(own["amount"].sum())
    feedback = sample.tables["feedback"]
    latest = feedback[feedback["customer_id"] == CUSTOMER].sort_values("date").iloc[-1]
    assert f["satisfaction"] == latest["score"] and f["satisfaction_date"] == latest["date"]
    customer = sample.tables["customers"].set_index("customer_id").loc[CUSTOMER]
    assert profile.name == customer["name"] == "宋佳怡"
    assert profile.attributes["city"] == customer["city"]


def test_timeline_holds_every_order_contact_and_response(sample: Dataset, context) -> None:
    profile = customer_profile(sample, CUSTOMER, context=context)
    timeline = profile.timeline
    counts = timeline["kind"].value_counts().to_dict()
    tables = {k: sample.tables[k] for k in ("transactions", "communications", "feedback")}
    mine = {k: v[v["customer_id"] == CUSTOMER] for k, v in tables.items()}
    assert counts == {
        "order": mine["transactions"]["order_id"].nunique(),
        "communication": len(mine["communications"]),
        "feedback": len(mine["feedback"]),
    }
    assert timeline["date"].is_monotonic_decreasing
    orders = timeline[timeline["kind"] == "order"]
    assert orders["value"].sum() == pytest.approx(mine["transactions"]["amount"].sum())


def test_category_mix_against_the_segment_average(sample: Dataset, context) -> None:
    profile = customer_profile(sample, CUSTOMER, context=context)
    mix = profile.categories.set_index("category")
    transactions = sample.tables["transactions"]
    own = transactions[transactions["customer_id"] == CUSTOMER]
    expected = own.groupby("category")["amount"].sum() / own["amount"].sum()
    pd.testing.assert_series_equal(
        mix["customer"][mix["customer"] > 0].sort_index(),
        expected.sort_index(),
        check_names=False,
    )
    rfm = run_rfm(transactions).customers
    peers = rfm.index[rfm["segment"] == profile.figures["segment"]]
    spend = transactions[transactions["customer_id"].isin(peers)]
    shares = spend.pivot_table(
        index="customer_id", columns="category", values="amount", aggfunc="sum", fill_value=0
    )
    shares = shares.div(shares.sum(axis=1), axis=0)
    assert mix["segment"].sum() == pytest.approx(1.0)
    for category in mix.index:
        assert mix.loc[category, "segment"] == pytest.approx(shares[category].mean())


def test_search_by_id_prefix_and_by_name_in_either_script(sample: Dataset, context) -> None:
    by_id = search_customers(sample, "c0000", 20, context)
    assert by_id["customer_id"].tolist() == [f"C0000{i}" for i in range(1, 10)]
    exact = search_customers(sample, "C00012", 5, context)
    assert exact["customer_id"].iloc[0] == "C00012"
    chinese = search_customers(sample, "佳怡", 50, context)
    assert CUSTOMER in set(chinese["customer_id"])
    assert chinese["name"].str.contains("佳怡").all() and len(chinese) > 1
    english = search_customers(sample, "daniel wal", 50, context)
    assert "C00001" in set(english["customer_id"])
    assert english["name"].str.casefold().str.contains("daniel wal").all()
    assert search_customers(sample, "no such person", 5, context).empty
    assert len(search_customers(sample, "", 7, context)) == 7


def test_unknown_customer_is_a_typed_error(sample: Dataset, context) -> None:
    with pytest.raises(NotFoundError) as caught:
        customer_profile(sample, "C99999", context=context)
    assert caught.value.key == "recommend.error.unknown_customer"


def test_a_small_dataset_without_categories_or_feedback_still_profiles() -> None:
    transactions = pd.DataFrame(
        {
            "customer_id": ["A", "A", "B"],
            "order_id": ["1", "2", "3"],
            "date": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-01-05"]),
            "item": ["x", "y", "x"],
            "amount": [5.0, 7.0, 3.0],
        }
    )
    dataset = Dataset("tiny", {"transactions": transactions})
    profile = customer_profile(dataset, "B")
    keys = {note.key for note in profile.notes}
    assert "recommend.profile.note.one_purchase" in keys
    assert profile.categories.empty and profile.figures["orders"] == 1
    assert profile.figures["satisfaction"] is None
    assert CHURN_INLINE_MAX >= 5000  # the sample's churn model is fitted inline
