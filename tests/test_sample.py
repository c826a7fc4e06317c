"""The sample generator: deterministic files, canonical tables, and planted truth you can measure.

Every structure the truth file promises is measured here from the shipped tables with plain
pandas/numpy/scikit-learn, the way a user checking the sample would, not with crm_core helpers.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler

from crm_core.errors import InputError
from crm_core.sample import (
    SAMPLE_DIR,
    generate,
    load_sample,
    load_segments,
    load_truth,
    write_sample,
)
from crm_core.tables import ROLES, TABLES

HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def generated():
    return generate()


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return load_sample().tables


@pytest.fixture(scope="module")
def truth() -> dict:
    return load_truth()


@pytest.fixture(scope="module")
def segment_of() -> pd.Series:
    return load_segments().set_index("customer_id")["segment"]


# ----------------------------------------------------------------------------- determinism


def test_generate_twice_gives_identical_frames_and_truth(generated) -> None:
    again = generate()
    assert again.truth == generated.truth
    for name in TABLES:
        pd.testing.assert_frame_equal(again.tables[name], generated.tables[name])
    pd.testing.assert_frame_equal(again.segments, generated.segments)


def test_another_seed_gives_different_data(generated) -> None:
    other = generate(seed=7)
    assert not other.tables["transactions"].equals(generated.tables["transactions"])


def test_write_sample_twice_is_byte_identical(tmp_path: Path) -> None:
    first = write_sample(tmp_path / "a")
    second = write_sample(tmp_path / "b")
    assert [p.name for p in first] == [p.name for p in second]
    for a, b in zip(first, second, strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
        if a.name.endswith(".gz"):
            header = a.read_bytes()[:10]
            assert header[4:8] == b"\0\0\0\0"  # mtime 0, so no timestamp leaks in


def test_shipped_files_equal_a_fresh_write(tmp_path: Path) -> None:
    """``crm sample`` regenerates the shipped sample_data/ byte for byte."""
    written = write_sample(tmp_path)
    for path in written:
        shipped = SAMPLE_DIR / path.name
        assert shipped.is_file(), f"{path.name} is missing from sample_data/"
        assert shipped.read_bytes() == path.read_bytes(), f"{path.name} differs from a fresh write"


def test_sample_data_is_small() -> None:
    total = sum(p.stat().st_size for p in SAMPLE_DIR.iterdir() if p.is_file())
    assert total < 4 * 1024 * 1024


# ----------------------------------------------------------------------------- canonical tables


def test_loaded_sample_equals_generated_tables(tables, generated) -> None:
    for name in TABLES:
        pd.testing.assert_frame_equal(tables[name], generated.tables[name])


def test_tables_use_canonical_roles_and_types(tables) -> None:
    dataset = load_sample()
    assert dataset.name == "sample"
    assert dataset.fingerprint
    assert set(tables) == set(TABLES)
    for name, frame in tables.items():
        roles = ROLES[name]
        assert set(frame.columns) <= set(roles), name
        for column in frame.columns:
            kind = roles[column]
            dtype = frame[column].dtype
            if kind == "date":
                assert pd.api.types.is_datetime64_dtype(dtype), (name, column)
            elif kind in ("number", "money"):
                assert dtype == np.float64, (name, column)
            elif kind == "label":
                assert set(frame[column].unique()) <= {0, 1}, (name, column)
            else:
                assert pd.api.types.is_string_dtype(dtype), (name, column)
            assert frame[column].notna().all(), (name, column)


def test_sizes_are_as_specified(tables) -> None:
    customers, tx = tables["customers"], tables["transactions"]
    assert 4500 <= len(customers) <= 5500
    assert customers["customer_id"].is_unique
    assert customers["customer_id"].str.fullmatch(r"C\d{5}").all()
    assert 90_000 <= len(tx) <= 110_000
    assert 250 <= tx["item"].nunique() <= 350
    assert 10 <= tx["category"].nunique() <= 14
    assert tx["date"].min() >= pd.Timestamp("2023-01-01")
    assert tx["date"].max() <= pd.Timestamp("2024-12-31")
    assert tx["date"].dt.to_period("M").nunique() == 24
    assert set(tx["customer_id"]) <= set(customers["customer_id"])
    assert np.allclose(tx["amount"], tx["quantity"] * tx["unit_price"], atol=0.005)
    assert not tx.duplicated(["order_id", "item"]).any()


def test_people_places_and_messages_are_mixed_languages(tables) -> None:
    customers, comms = tables["customers"], tables["communications"]
    chinese_names = customers["name"].str.contains(HAN).mean()
    assert 0.3 < chinese_names < 0.7
    assert {"Shanghai", "Beijing", "London", "Singapore"} <= set(customers["city"])
    chinese_texts = comms["text"].str.contains(HAN).mean()
    assert 0.25 < chinese_texts < 0.75
    assert set(comms["channel"]) == {"phone", "email", "WeChat", "in-store"}
    assert set(comms["direction"]) == {"inbound", "outbound"}
    assert set(comms["category"]) == {"complaint", "inquiry", "praise", "return"}
    feedback = tables["feedback"]
    assert feedback["score"].between(1, 5).all() and feedback["nps"].between(0, 10).all()
    assert set(tables["campaigns"]["channel"]) == {"email", "SMS", "WeChat", "phone"}


def test_load_sample_reports_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        load_sample(tmp_path)


# ----------------------------------------------------------------------------- association rules


def test_each_planted_rule_reaches_its_target_lift(tables, truth) -> None:
    tx = tables["transactions"]
    baskets = tx.groupby("order_id")["item"].agg(frozenset)
    n = len(baskets)
    assert len(truth["rules"]) >= 6
    for rule in truth["rules"]:
        antecedent = frozenset(rule["antecedent"])
        has_a = baskets.map(antecedent.issubset)
        has_b = baskets.map(lambda items, b=rule["consequent"]: b in items)
        n_a, n_b, n_ab = has_a.sum(), has_b.sum(), (has_a & has_b).sum()
        lift = n * n_ab / (n_a * n_b)
        assert abs(lift / rule["target_lift"] - 1) <= 0.10, rule
        assert 3 <= rule["target_lift"] <= 8
        assert lift == pytest.approx(rule["lift"], rel=1e-3)
        assert n_ab / n == pytest.approx(rule["support"], rel=1e-2)
        assert n_ab / n_a == pytest.approx(rule["confidence"], rel=1e-2)
        assert n_ab >= 50, "a planted rule should be backed by a useful number of orders"


# ----------------------------------------------------------------------------- churn


def _churn_levels(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    customers = tables["customers"].set_index("customer_id")
    out = pd.DataFrame({"churn": customers["churn"]})
    comms = tables["communications"]
    complaints = comms[comms["category"] == "complaint"]["customer_id"].value_counts()
    complaints = complaints.reindex(out.index, fill_value=0)
    out["complaints"] = np.where(complaints >= 2, "2+", complaints.astype(str))

    orders = tables["transactions"].drop_duplicates("order_id")
    in_2023 = orders[orders["date"] < "2024-01-01"]["customer_id"].value_counts()
    in_2024 = orders[orders["date"].between("2024-01-01", "2024-10-02")]["customer_id"]
    in_2023 = in_2023.reindex(out.index, fill_value=0)
    in_2024 = in_2024.value_counts().reindex(out.index, fill_value=0)
    ratio = (in_2024 / 276) / (in_2023 / 365)  # 2024-01-01..2024-10-02 is 276 days
    out["falling_frequency"] = np.where(
        in_2023 < 2, "no_history", np.where(ratio < 0.6, "falling", "steady")
    )
    score = tables["feedback"].groupby("customer_id")["score"].mean().reindex(out.index)
    out["satisfaction"] = np.select(
        [score.isna(), score < 3, score >= 4], ["no_survey", "low", "high"], "medium"
    )
    return out


def test_churn_flag_is_no_purchase_in_final_90_days(tables, truth) -> None:
    customers = tables["customers"].set_index("customer_id")
    tx = tables["transactions"]
    recent = set(tx[tx["date"] >= "2024-10-03"]["customer_id"])
    expected = pd.Series([0 if c in recent else 1 for c in customers.index], index=customers.index)
    pd.testing.assert_series_equal(customers["churn"], expected, check_names=False)
    assert truth["churn"]["churned_customers"] == int(expected.sum())
    assert 0.2 < expected.mean() < 0.45


@pytest.mark.parametrize(
    ("factor", "risky", "safe"),
    [
        ("complaints", "2+", "0"),
        ("falling_frequency", "falling", "steady"),
        ("satisfaction", "low", "high"),
    ],
)
def test_churn_rate_per_factor_level_is_as_designed(
    tables, truth, segment_of, factor: str, risky: str, safe: str
) -> None:
    levels = _churn_levels(tables)
    not_lapsed = levels.index.map(segment_of) != "lapsed"
    designed = truth["churn"]["factors"][factor]
    for subset, key, margin in (
        (levels, "levels", 0.3),
        (levels[not_lapsed], "levels_excluding_lapsed", 0.1),
    ):
        rates = subset.groupby(factor)["churn"].agg(["size", "mean"])
        # the designed gap between the risky and the safe level is there
        assert rates.loc[risky, "mean"] - rates.loc[safe, "mean"] >= margin, (key, rates)
        for level, row in rates.iterrows():
            recorded = designed[key][level]
            assert recorded["customers"] == row["size"]
            assert recorded["churn_rate"] == pytest.approx(row["mean"], abs=1e-4)
            # and each level churns at the rate the model planted, within sampling error
            expected = recorded["expected_rate"]
            se = np.sqrt(max(expected * (1 - expected), 0.01) / row["size"])
            assert abs(row["mean"] - expected) <= 3 * se + 0.01, (key, level)


def test_more_complaints_means_more_churn(tables) -> None:
    rates = _churn_levels(tables).groupby("complaints")["churn"].mean()
    assert rates["0"] < rates["1"] < rates["2+"]


# ----------------------------------------------------------------------------- satisfaction


def test_satisfaction_trends_are_as_designed(tables, truth, segment_of) -> None:
    fb = tables["feedback"]
    month = ((fb["date"].dt.year - 2023) * 12 + fb["date"].dt.month - 1).to_numpy(float)
    segment = fb["customer_id"].map(segment_of).to_numpy()
    slopes = {}
    for name, design in truth["satisfaction"]["segments"].items():
        if design["season_amplitude"] == 0:
            continue  # new customers are seen for a few months only; their season is flat
        mask = segment == name
        t, y = month[mask], fb["score"].to_numpy()[mask]
        angle = 2 * np.pi * (t % 12 + 1) / 12
        x = np.column_stack([np.ones_like(t), t, np.cos(angle), np.sin(angle)])
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        resid = y - x @ coef
        cov = resid @ resid / (len(y) - 4) * np.linalg.inv(x.T @ x)
        se = float(np.sqrt(cov[1, 1]))
        slopes[name] = coef[1]
        assert abs(coef[1] - design["slope_per_month"]) <= 3 * se + 0.002, name
        peak = (np.arctan2(coef[3], coef[2]) * 12 / (2 * np.pi)) % 12
        distance = abs(peak - design["peak_month"]) % 12
        assert min(distance, 12 - distance) <= 1.0, name
        assert np.hypot(coef[2], coef[3]) == pytest.approx(design["season_amplitude"], abs=0.1)
    assert slopes["vip"] > 0 > slopes["lapsed"]


# ----------------------------------------------------------------------------- campaigns


def test_one_campaign_channel_responds_best(tables, truth) -> None:
    camp = tables["campaigns"]
    rates = camp.groupby("channel")["responded"].agg(["size", "mean"])
    best = truth["campaigns"]["best_channel"]
    assert rates["mean"].idxmax() == best == "WeChat"
    for channel, row in rates.iterrows():
        designed = truth["campaigns"]["design_response_rate"][channel]
        assert abs(row["mean"] - designed) <= 3 * np.sqrt(designed * (1 - designed) / row["size"])
    # the gap to the runner-up is significant: a two-proportion z statistic well above 5
    runner = rates.drop(index=best)["mean"].idxmax()
    p1, n1 = rates.loc[best, "mean"], rates.loc[best, "size"]
    p2, n2 = rates.loc[runner, "mean"], rates.loc[runner, "size"]
    assert (p1 - p2) / np.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2) > 5
    assert (camp.loc[camp["responded"] == 0, "revenue"] == 0).all()
    assert (camp.loc[camp["responded"] == 1, "revenue"] > 0).all()


# ----------------------------------------------------------------------------- segments


def _customer_features(tables: dict[str, pd.DataFrame], categories: list[str]) -> pd.DataFrame:
    tx = tables["transactions"]
    orders = tx.groupby("order_id").agg(
        customer_id=("customer_id", "first"), date=("date", "first"), amount=("amount", "sum")
    )
    per = orders.groupby("customer_id").agg(
        last=("date", "max"), frequency=("amount", "size"), monetary=("amount", "sum")
    )
    features = pd.DataFrame(index=per.index)
    features["recency"] = (pd.Timestamp("2025-01-01") - per["last"]).dt.days
    features["frequency"] = per["frequency"]
    features["monetary"] = per["monetary"]
    features["aov"] = per["monetary"] / per["frequency"]
    lines = pd.crosstab(tx["customer_id"], tx["category"], normalize="index")
    for category in categories:
        features[category] = lines[category].reindex(features.index, fill_value=0.0)
    return features


def test_kmeans_recovers_the_planted_segments(tables, truth, segment_of) -> None:
    spec = truth["segments"]["clustering_features"]
    assert spec["reference_date"] == "2025-01-01"
    features = _customer_features(tables, spec["categories"])
    assert len(features) == len(tables["customers"])  # every customer bought something
    x = StandardScaler().fit_transform(np.log1p(features.to_numpy(float)))
    planted = features.index.map(segment_of)
    assert planted.nunique() == 5

    labels = KMeans(n_clusters=5, n_init=10, random_state=0).fit_predict(x)
    assert adjusted_rand_score(planted, labels) >= 0.9

    scores = {
        k: silhouette_score(x, KMeans(n_clusters=k, n_init=4, random_state=0).fit_predict(x))
        for k in range(2, 11)
    }
    assert max(scores, key=scores.get) == 5, scores


def test_segments_have_distinct_profiles(tables, truth, segment_of) -> None:
    features = _customer_features(tables, ["Groceries", "Electronics"])
    profile = features.groupby(features.index.map(segment_of)).median()
    assert profile["monetary"].idxmax() == "vip"
    assert profile["frequency"].idxmax() == "vip"
    assert profile["recency"].idxmax() == "lapsed"
    assert profile["aov"].idxmin() == "bargain_hunter"
    assert profile["Groceries"].idxmax() == "loyal_regular"
    assert profile["Electronics"].idxmax() == "new_promising"
    signup = tables["customers"].set_index("customer_id")["signup_date"]
    new = signup[signup.index.map(segment_of) == "new_promising"]
    assert (new >= "2024-01-01").all()
    recorded = {p["name"]: p["customers"] for p in truth["segments"]["profiles"]}
    assert recorded == segment_of.value_counts().to_dict()
