"""Campaign strategy evaluation: the statistics against SciPy/statsmodels, thin samples, real
Bank Marketing data imported as a user would, and the sample's planted best channel.

Reference numbers come from independent code paths: statsmodels' interval and power functions,
SciPy's chi-square test, and plain pandas over the raw file.
"""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chi2_contingency, spearmanr
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportion_effectsize,
)

from crm_core.campaigns import (
    ALL,
    CampaignParams,
    achieved_power,
    campaigns_payload,
    compare_strategies,
    contact_table,
    newcombe_interval,
    run_campaigns,
    sample_size,
    two_proportion_test,
    wilson_interval,
)
from crm_core.errors import DataRequirementError, ParameterError
from crm_core.importer import combine, prepare_table
from crm_core.sample import load_sample
from crm_core.tables import Dataset

ROOT = Path(__file__).resolve().parents[1]
COUNTS = [(0, 10), (1, 10), (5, 10), (10, 10), (3, 250), (865, 4568), (4369, 29285)]
PAIRS = [((865, 4568), (342, 4504)), ((4369, 29285), (390, 2906)), ((3, 40), (9, 41))]


# ---------------------------------------------------------------- statistics


@pytest.mark.parametrize(("x", "n"), COUNTS)
@pytest.mark.parametrize("alpha", [0.05, 0.1])
def test_wilson_interval_equals_statsmodels(x: int, n: int, alpha: float) -> None:
    low, high = wilson_interval(x, n, alpha)
    expected = proportion_confint(x, n, alpha=alpha, method="wilson")
    assert (float(low), float(high)) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_two_proportion_z_test_equals_chi_square_without_correction(
    first: tuple[int, int], second: tuple[int, int]
) -> None:
    (x1, n1), (x2, n2) = first, second
    z, p = two_proportion_test(x1, n1, x2, n2)
    chi2, p_chi2, _, _ = chi2_contingency([[x1, n1 - x1], [x2, n2 - x2]], correction=False)
    assert p == pytest.approx(p_chi2, rel=1e-9)
    assert z**2 == pytest.approx(chi2, rel=1e-9)


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_newcombe_interval_equals_statsmodels(
    first: tuple[int, int], second: tuple[int, int]
) -> None:
    (x1, n1), (x2, n2) = first, second
    expected = confint_proportions_2indep(x1, n1, x2, n2, method="newcomb", compare="diff")
    assert newcombe_interval(x1, n1, x2, n2) == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("p1", "p2", "alpha", "power"),
    [
        (0.18, 0.08, 0.05, 0.8),
        (0.10, 0.12, 0.05, 0.8),
        (0.149, 0.134, 0.05, 0.9),
        (0.5, 0.45, 0.01, 0.8),
    ],
)
def test_sample_size_and_power_equal_statsmodels(
    p1: float, p2: float, alpha: float, power: float
) -> None:
    effect = proportion_effectsize(p1, p2)
    expected = NormalIndPower().solve_power(
        effect_size=effect, alpha=alpha, power=power, ratio=1.0, alternative="two-sided"
    )
    n = sample_size(p1, p2, alpha, power)
    assert n == math.ceil(expected)
    assert achieved_power(p1, p2, n, n, alpha) >= power
    assert achieved_power(p1, p2, 500, 700, alpha) == pytest.approx(
        NormalIndPower().power(effect_size=effect, nobs1=500, alpha=alpha, ratio=700 / 500),
        rel=1e-9,
    )


def test_sample_size_rejects_equal_rates_and_bad_settings() -> None:
    with pytest.raises(ParameterError):
        sample_size(0.1, 0.1)
    with pytest.raises(ParameterError):
        sample_size(0.1, 1.2)
    with pytest.raises(ParameterError):
        sample_size(0.1, 0.2, power=0.2)


# ---------------------------------------------------------------- thin samples


def _campaigns(rows: list[tuple[str, int, int]], **columns: list) -> Dataset:
    """A campaigns table with ``contacts`` contacts per channel of which ``responses`` responded."""
    channel, responded = [], []
    for name, contacts, responses in rows:
        channel += [name] * contacts
        responded += [1] * responses + [0] * (contacts - responses)
    frame = pd.DataFrame({"channel": channel, "responded": responded, **columns})
    return Dataset("thin", {"campaigns": frame})


def test_a_handful_of_contacts_never_declares_a_winner() -> None:
    dataset = _campaigns([("SMS", 10, 8), ("email", 10, 0), ("phone", 6, 1)])
    result = run_campaigns(dataset)
    best = result.best.set_index("segment").loc[ALL]
    assert best["status"] == "not_enough_data"
    assert pd.isna(best["best"])
    table = result.tables["channel"].set_index("value")
    assert not table["enough"].any()
    assert table.loc["SMS", "rate"] == pytest.approx(0.8)
    assert result.tests["channel"] is None  # no test across levels without enough data
    ab = compare_strategies(dataset, ("channel", "SMS"), ("channel", "email"))
    assert ab.p_value < 0.001  # a striking difference on paper ...
    assert ab.verdict == "not_enough_data"  # ... but no winner on ten contacts
    # the minimum holds for each arm: email's zero responses keep it "not enough" at 5 ...
    looser = CampaignParams(min_contacts=10, min_responses=5)
    assert compare_strategies(
        dataset, ("channel", "SMS"), ("channel", "email"), looser
    ).verdict == ("not_enough_data")
    # ... and a user who accepts ten contacts and no minimum of responses gets a winner
    loosest = CampaignParams(min_contacts=10, min_responses=0)
    ab = compare_strategies(dataset, ("channel", "SMS"), ("channel", "email"), loosest)
    assert ab.verdict == "a_better"


def test_a_thin_channel_with_a_high_rate_does_not_win() -> None:
    dataset = _campaigns([("SMS", 400, 40), ("email", 400, 80), ("fax", 5, 4)])
    best = run_campaigns(dataset).best.set_index("segment").loc[ALL]
    assert best["best"] == "email"
    assert best["status"] == "significant"
    assert best["eligible"] == 2 and best["thin"] == 1


def test_equal_channels_are_not_significant() -> None:
    dataset = _campaigns([("SMS", 1000, 100), ("email", 1000, 104)])
    best = run_campaigns(dataset).best.set_index("segment").loc[ALL]
    assert best["status"] == "not_significant"
    ab = compare_strategies(dataset, ("channel", "email"), ("channel", "SMS"), effect=0.02)
    assert ab.verdict == "no_difference"
    assert ab.needed_per_arm == sample_size(0.12, 0.10)


def test_errors_are_typed() -> None:
    dataset = _campaigns([("SMS", 200, 20), ("email", 200, 30)])
    with pytest.raises(ParameterError):
        compare_strategies(dataset, ("channel", "SMS"), ("channel", "SMS"))
    with pytest.raises(ParameterError):
        compare_strategies(dataset, ("channel", "SMS"), ("channel", "pigeon"))
    with pytest.raises(ParameterError):
        run_campaigns(dataset, CampaignParams(by=("weekday",)))
    with pytest.raises(ParameterError):
        run_campaigns(dataset, CampaignParams(min_contacts=0))
    with pytest.raises(DataRequirementError):
        run_campaigns(Dataset("x", {"customers": pd.DataFrame({"customer_id": ["1"]})}))
    with pytest.raises(DataRequirementError):
        compare_strategies(dataset, ("channel", "SMS"), ("channel", "email"), metric="retention")


# ---------------------------------------------------------------- retention, satisfaction


def test_retention_and_satisfaction_windows_follow_each_contact() -> None:
    day = pd.Timestamp("2024-01-01")
    campaigns = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "date": [day, day, day, day + pd.Timedelta(days=80)],
            "channel": ["SMS", "SMS", "email", "email"],
            "responded": [1, 0, 0, 1],
        }
    )
    transactions = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "c", "x"],
            "order_id": ["1", "2", "3", "4", "C5", "6"],
            "date": [day + pd.Timedelta(days=d) for d in (0, 5, 40, 30, 3, 90)],
            "amount": [10.0, 20.0, 30.0, 5.0, -5.0, 1.0],
        }
    )
    feedback = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c"],
            "date": [day + pd.Timedelta(days=2), day + pd.Timedelta(days=10), day, day],
            "score": [5.0, 3.0, 1.0, 2.0],
        }
    )
    dataset = Dataset(
        "w", {"campaigns": campaigns, "transactions": transactions, "feedback": feedback}
    )
    frame = contact_table(dataset, CampaignParams(retention_days=30)).frame
    # a bought on day 5 (same-day purchase does not count); b only on day 40; c on day 30
    # (the day-3 row is a return); d's window runs past the last purchase (day 90)
    assert frame["_retained"].tolist()[:3] == [1.0, 0.0, 1.0]
    assert math.isnan(frame["_retained"].iloc[3])
    # a gave 5 and 3 after the contact; b and c only on the contact day itself
    assert frame["_satisfaction"].iloc[0] == pytest.approx(4.0)
    assert frame["_satisfaction"].iloc[1:].isna().all()


# ---------------------------------------------------------------- real data: Bank Marketing


@pytest.fixture(scope="module")
def bank_file(datasets_dir: Path) -> Path:
    path = datasets_dir / "bank_marketing" / "bank-full.csv.gz"
    if not path.is_file():
        pytest.skip("bank-full.csv.gz is missing")
    return path


@pytest.fixture(scope="module")
def bank(bank_file: Path) -> Dataset:
    """bank-full imported as a user uploads it; the guessed roles are the ones this needs."""
    prepared = prepare_table(bank_file.read_bytes(), bank_file.name)
    assert prepared.table == "campaigns"
    assert prepared.mapping.columns == {
        "contact": "channel",
        "campaign": "contacts",
        "y": "responded",
    }
    return Dataset("bank", combine([prepared]))


@pytest.fixture(scope="module")
def raw_bank(bank_file: Path) -> pd.DataFrame:
    with gzip.open(bank_file, "rt") as handle:
        return pd.read_csv(handle, sep=";")


def test_bank_response_by_channel_equals_plain_pandas(
    bank: Dataset, raw_bank: pd.DataFrame
) -> None:
    result = run_campaigns(bank)
    assert result.n_contacts == 45_211
    assert result.overall["responses"] == 5_289
    table = result.tables["channel"].set_index("value")
    expected = raw_bank.groupby("contact")["y"].agg(
        n="size", responses=lambda y: int((y == "yes").sum())
    )
    for channel, row in expected.iterrows():
        assert table.loc[channel, "n"] == row["n"]
        assert table.loc[channel, "responses"] == row["responses"]
        assert table.loc[channel, "rate"] == pytest.approx(row["responses"] / row["n"])


def test_bank_cellular_vs_telephone_p_value_equals_scipy(
    bank: Dataset, raw_bank: pd.DataFrame
) -> None:
    ab = compare_strategies(bank, ("channel", "cellular"), ("channel", "telephone"))
    yes = raw_bank["y"] == "yes"
    rows = []
    for channel in ("cellular", "telephone"):
        mask = raw_bank["contact"] == channel
        rows.append([int((mask & yes).sum()), int((mask & ~yes).sum())])
    _, p, _, _ = chi2_contingency(rows, correction=False)
    assert ab.p_value == pytest.approx(p, rel=1e-9)
    assert (ab.n_a, ab.n_b) == (sum(rows[0]), sum(rows[1]))
    assert ab.diff == pytest.approx(rows[0][0] / sum(rows[0]) - rows[1][0] / sum(rows[1]))
    assert ab.diff_low < ab.diff < ab.diff_high
    assert ab.diff_low > 0  # the interval excludes 0, as p < 0.05 says
    assert ab.verdict == "a_better"


def test_bank_response_falls_as_contacts_grow(bank: Dataset, raw_bank: pd.DataFrame) -> None:
    result = run_campaigns(bank, CampaignParams(by=("contacts",)))
    frequency = result.frequency.set_index("value")
    assert frequency.index.tolist() == [*map(str, range(1, 10)), "10+"]
    once = raw_bank[raw_bank["campaign"] == 1]
    assert frequency.loc["1", "rate"] == pytest.approx((once["y"] == "yes").mean())
    assert frequency.loc["10+", "n"] == int((raw_bank["campaign"] >= 10).sum())
    rates = frequency["rate"].to_numpy()
    assert rates[0] > rates[2] > rates[4] > rates[-1]
    assert spearmanr(np.arange(len(rates)), rates).statistic < -0.9
    assert result.trend is not None
    assert result.trend["odds_ratio"] < 1 and result.trend["ci_high"] < 1
    assert result.trend["p_value"] < 1e-6
    assert result.tests["contacts"]["p_value"] < 1e-6


# ---------------------------------------------------------------- the sample's planted truth


@pytest.fixture(scope="module")
def sample() -> Dataset:
    return load_sample()


def test_sample_planted_best_channel_is_found_and_significant(sample: Dataset) -> None:
    planted = json.loads((ROOT / "sample_data" / "planted_truth.json").read_text())["campaigns"]
    result = run_campaigns(sample, CampaignParams(by=("channel",)))
    table = result.tables["channel"].set_index("value")
    for channel, measured in planted["measured"].items():
        assert table.loc[channel, "n"] == measured["contacts"]
        assert table.loc[channel, "responses"] == measured["responses"]
    best = result.best.set_index("segment").loc[ALL]
    assert best["best"] == planted["best_channel"] == "WeChat"
    assert best["status"] == "significant"
    versus = result.comparisons[result.comparisons["segment"] == ALL]
    assert set(versus["other"]) == {"SMS", "email", "phone"}
    assert versus["significant"].all()
    assert (versus["p_adjusted"] >= versus["p_value"]).all()  # Holm never makes p smaller
    assert (versus["diff_low"] > 0).all()
    # the planted design: WeChat 18 % against 7-9 % elsewhere
    assert table.loc["WeChat", "ci_low"] < 0.18 < table.loc["WeChat", "ci_high"]


def test_sample_best_channel_per_segment_and_other_breakdowns(sample: Dataset) -> None:
    result = run_campaigns(sample)
    assert {"channel", "campaign", "contacts", "weekday", "segment"} <= set(result.tables)
    best = result.best
    assert best["segment"].iloc[0] == ALL
    decided = best[best["status"] != "not_enough_data"]
    assert (decided["best"] == "WeChat").all()
    assert (best["status"] == "not_enough_data").any()  # small segments: no winner declared
    weekday = result.tables["weekday"]
    assert weekday["value"].tolist() == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert weekday["n"].sum() == 18_000
    channel = result.tables["channel"]
    assert (channel["retention_n"] > 0).all() and (channel["satisfaction_n"] > 0).all()
    assert (channel["retention_low"] <= channel["retention"]).all()
    assert (channel["satisfaction_low"] < channel["satisfaction"]).all()


def test_communications_source_uses_outbound_messages(sample: Dataset) -> None:
    contacts = contact_table(sample, CampaignParams(source="communications"))
    outbound = sample.tables["communications"]["direction"] == "outbound"
    assert len(contacts.frame) == int(outbound.sum())
    assert "category" in contacts.dimensions
    assert contacts.metrics == ["retention", "satisfaction"]  # no outcome column in the sample


def test_same_input_same_output_and_json(sample: Dataset) -> None:
    params = CampaignParams(by=("channel", "contacts"))
    first = campaigns_payload(run_campaigns(sample, params))
    second = campaigns_payload(run_campaigns(sample, params))
    assert first == second
    assert json.loads(json.dumps(first)) == first
    assert first["multiple_comparisons"] == "holm"
    assert first["best_channel"][0]["segment"] == "All"
