"""Recommenders: each method on small frames, reasons, bad input, the sample's planted rules and
Online Retail's last baskets (item-item CF against the popularity baseline)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import crm_core.recommend as R
from crm_core.errors import DataRequirementError, NotFoundError, ParameterError
from crm_core.recommend import (
    METHODS,
    RecommendParams,
    evaluate_recommenders,
    fit_recommender,
    reason_text,
    reason_texts,
    recommend,
)

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
ONLINE_RETAIL = DATASETS / "online_retail" / "online_retail.csv.gz"
MARKUP = "<img src=x onerror=alert(1)>"


def _tx(rows: list[tuple[str, str, str, str, str]]) -> pd.DataFrame:
    """(customer, order, date, item, category) rows as canonical transactions."""
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "date", "item", "category"])
    frame["date"] = pd.to_datetime(frame["date"])
    frame["quantity"] = 1.0
    frame["amount"] = 10.0
    return frame


@pytest.fixture()
def shop() -> pd.DataFrame:
    """Tea buyers also buy cups; coffee buyers also buy filters; 'bread' is bought by nearly all."""
    rows = []
    for i in range(6):
        c = f"T{i}"
        rows += [
            (c, f"{c}-1", "2024-01-01", "tea", "drinks"),
            (c, f"{c}-1", "2024-01-01", "bread", "food"),
        ]
        if i < 4:
            rows.append((c, f"{c}-2", "2024-02-01", "cup", "kitchen"))
    for i in range(5):
        c = f"K{i}"
        rows += [
            (c, f"{c}-1", "2024-01-03", "coffee", "drinks"),
            (c, f"{c}-1", "2024-01-03", "bread", "food"),
        ]
        if i < 4:
            rows.append((c, f"{c}-2", "2024-02-03", "filter", "kitchen"))
    rows.append(("ONE", "ONE-1", "2024-03-01", "tea", "drinks"))
    rows.append(("M", "M-1", "2024-03-02", MARKUP, "toys"))
    rows.append(("M", "M-1", "2024-03-02", "bread", "food"))
    return _tx(rows)


@pytest.mark.parametrize("method", METHODS)
def test_every_method_recommends_n_new_items_per_customer(shop: pd.DataFrame, method: str) -> None:
    model = fit_recommender(shop, RecommendParams(method=method, n=3))
    recs = recommend(model)
    assert list(recs.columns) == list(R.REC_COLUMNS)
    bought = shop.groupby("customer_id")["item"].agg(set)
    for customer, group in recs.groupby("customer_id"):
        assert group["rank"].tolist() == list(range(1, len(group) + 1))
        assert not set(group["item"]) & bought[customer], (method, customer)
        # the catalogue has 7 items: 3 slots fit everyone but the customer who bought 3
        assert len(group) == min(3, 7 - len(bought[customer]))
    assert (recs["method"] == method).all()


def test_exclude_purchased_can_be_switched_off(shop: pd.DataFrame) -> None:
    model = fit_recommender(shop, RecommendParams(method="popular", n=2, exclude_purchased=False))
    recs = recommend(model, ["T0"])
    assert recs["item"].tolist() == ["bread", "tea"]  # bought by 12 and 7 of 13 customers
    assert recs["score"].tolist() == pytest.approx([12 / 13, 7 / 13])
    assert reason_text(recs.iloc[0]) == "Bought by 92% of all customers"


def test_item_knn_follows_co_purchases_and_says_why(shop: pd.DataFrame) -> None:
    model = fit_recommender(shop, RecommendParams(method="itemknn", n=2))
    first = recommend(model, ["ONE", "K4"]).groupby("customer_id").head(1).set_index("customer_id")
    assert first.loc["ONE", "item"] == "cup"  # the one tea buyer gets what tea buyers bought
    assert first.loc["ONE", "reason_item"] == "tea"
    assert first.loc["ONE", "reason_share"] == pytest.approx(4 / 7)  # 4 of 7 tea buyers
    assert reason_text(first.loc["ONE"]) == "Bought by 57% of customers who bought tea"
    assert reason_text(first.loc["ONE"], "zh") == "购买过 tea 的客户中有 57% 也购买了"
    assert first.loc["K4", "item"] == "filter"


def test_rules_recommend_the_consequent_with_the_rule_as_reason(shop: pd.DataFrame) -> None:
    model = fit_recommender(shop, RecommendParams(method="rules", n=2, min_support=0.05))
    first = recommend(model, ["ONE"]).iloc[0]
    # 7 of 21 baskets hold tea, 6 of them bread too; bread is in 12 of 21 baskets
    assert first["item"] == "bread" and first["reason_item"] == "tea"
    assert first["reason_share"] == pytest.approx(6 / 7)
    assert first["reason_lift"] == pytest.approx((6 / 7) / (12 / 21))
    assert reason_text(first) == "In 86% of baskets holding tea (1.5× the usual rate)"


def test_content_uses_categories_and_says_so_without_them(shop: pd.DataFrame) -> None:
    model = fit_recommender(shop, RecommendParams(method="content", n=1))
    recs = recommend(model, ["T0"]).iloc[0]
    assert recs["item"] == "coffee"  # drinks, like half of T0's purchase lines
    assert recs["reason_item"] == "drinks" and recs["reason_share"] == pytest.approx(1 / 3)
    assert "drinks" in reason_text(recs) and "33%" in reason_text(recs)
    with pytest.raises(DataRequirementError) as caught:
        fit_recommender(shop.drop(columns=["category"]), RecommendParams(method="content"))
    assert caught.value.key == "recommend.error.no_categories"
    table = evaluate_recommenders(shop.drop(columns=["category"]), ("content", "popular"), k=3)
    assert table.set_index("method").loc["content", "note"] == "recommend.error.no_categories"
    assert np.isnan(table.set_index("method").loc["content", "hit_rate"])


def test_unknown_customer_and_bad_parameters_are_typed_errors(shop: pd.DataFrame) -> None:
    model = fit_recommender(shop, RecommendParams(method="popular"))
    with pytest.raises(NotFoundError) as caught:
        recommend(model, ["T0", "nobody"])
    assert caught.value.key == "recommend.error.unknown_customer"
    assert "nobody" in caught.value.message("en")
    for bad in ({"method": "magic"}, {"n": 0}, {"neighbours": 0}, {"min_support": 0}):
        with pytest.raises(ParameterError):
            RecommendParams(**bad)
    with pytest.raises(DataRequirementError):
        fit_recommender(shop.drop(columns=["item"]))


def test_one_purchase_customer_and_a_customer_without_purchases(shop: pd.DataFrame) -> None:
    model = fit_recommender(shop, RecommendParams(method="itemknn", n=3), customers=["NEW"])
    one = recommend(model, ["ONE"])
    assert len(one) == 3 and one.iloc[0]["reason_item"] == "tea"
    new = recommend(model, ["NEW"])
    assert new["reason_key"].eq("recommend.reason.popular").all()
    assert new["item"].tolist() == ["bread", "tea", "coffee"]  # most bought, then by name


def test_markup_in_item_names_stays_plain_text(shop: pd.DataFrame) -> None:
    from crm_core.charts.customer360 import evaluation_chart, timeline_chart
    from crm_core.customer360 import customer_profile
    from crm_core.tables import Dataset

    model = fit_recommender(shop, RecommendParams(method="itemknn", n=10))
    recs = recommend(model, ["T0"])
    assert MARKUP in set(recs["item"])  # the name is kept exactly, as text
    dataset = Dataset("shop", {"transactions": shop})
    profile = customer_profile(dataset, "M")
    figure = timeline_chart(profile.timeline)
    hover = " ".join(" ".join(trace.hovertext) for trace in figure.data)
    assert "<img" not in hover and "‹img src=x onerror=alert(1)›" in hover
    table = evaluate_recommenders(shop, ("itemknn", "popular"), k=3)
    assert len(evaluation_chart(table).data) == 3


def test_blocks_and_row_order_do_not_change_the_result(
    shop: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    for method in METHODS:
        params = RecommendParams(method=method, n=4, min_support=0.05)
        whole = recommend(fit_recommender(shop, params))
        shuffled = shop.sample(frac=1.0, random_state=3)
        with monkeypatch.context() as patch:
            patch.setattr(R, "BLOCK_CELLS", 8)  # one customer per block
            blocked = recommend(fit_recommender(shuffled, params))
        pd.testing.assert_frame_equal(whole, blocked)


def test_evaluation_holds_out_the_last_basket() -> None:
    rows = []
    for i in range(4):  # tea first, a cup in the next (held-out) basket
        rows += [(f"T{i}", f"T{i}-1", "2024-01-01", "tea", "drinks")]
        rows += [(f"T{i}", f"T{i}-2", "2024-02-01", "cup", "kitchen")]
    for i in range(3):  # one basket with both: training data only
        rows += [(f"U{i}", f"U{i}-1", "2024-01-05", "tea", "drinks")]
        rows += [(f"U{i}", f"U{i}-1", "2024-01-05", "cup", "kitchen")]
    for i in range(10):  # the most popular item, never with tea
        rows += [(f"W{i}", f"W{i}-1", "2024-01-07", "bag", "kitchen")]
    rows += [("W0", "W0-2", "2024-03-01", "bag", "kitchen")]  # two baskets, nothing new
    table = evaluate_recommenders(_tx(rows), ("itemknn", "popular"), k=1).set_index("method")
    # evaluated: customers with two baskets and a new item in the last one (the four T's)
    assert table["customers"].tolist() == [4, 4]
    # item-item: tea -> cup for every one of them; popularity offers the bag
    assert table.loc["itemknn", ["hit_rate", "precision", "recall"]].tolist() == [1.0, 1.0, 1.0]
    assert table.loc["popular", "hit_rate"] == 0.0
    assert table.loc["itemknn", "coverage"] == pytest.approx(1 / 3)  # cup of tea, cup, bag
    assert table.loc["popular", "coverage"] == pytest.approx(1 / 3)


def test_reasons_render_in_both_languages(shop: pd.DataFrame) -> None:
    recs = recommend(fit_recommender(shop, RecommendParams(method="itemknn", n=3)), ["ONE"])
    for lang in ("en", "zh"):
        texts = reason_texts(recs, lang)
        assert texts.str.len().gt(0).all()
        assert not texts.str.contains("recommend.").any()


# ------------------------------------------------------------------------------- sample truth


def test_planted_rules_reach_the_antecedent_buyers_top_10() -> None:
    """Every customer who bought a planted rule's antecedent (and not yet its consequent) gets
    the consequent in the rules method's top 10; item-item CF reaches most of them too."""
    from crm_core.sample import load_sample, load_truth

    transactions = load_sample().tables["transactions"]
    bought = transactions.groupby("customer_id")["item"].agg(set)
    recs = {
        m: recommend(fit_recommender(transactions, RecommendParams(method=m)))
        for m in ("rules", "itemknn")
    }
    shares = []
    for rule in load_truth()["rules"]:
        antecedent, consequent = set(rule["antecedent"]), rule["consequent"]
        buyers = {
            c for c, items in bought.items() if antecedent <= items and consequent not in items
        }
        assert len(buyers) >= 100
        for method, table in recs.items():
            got = set(table.loc[table["item"] == consequent, "customer_id"]) & buyers
            if method == "rules":
                assert got == buyers, (rule["antecedent"], len(got), len(buyers))
            else:
                shares.append(len(got) / len(buyers))
    assert min(shares) > 0.5, shares  # item-item CF: 66-98% of them per rule on the sample


# -------------------------------------------------------------------------------- real data


@pytest.mark.slow
def test_online_retail_item_knn_beats_popularity_on_the_last_basket() -> None:
    if not ONLINE_RETAIL.is_file():
        pytest.skip("online_retail.csv.gz is not in ../shared/datasets")
    from crm_core.cleaning import CleaningStep, Recipe
    from crm_core.importer import prepare_table

    recipe = Recipe(
        (
            CleaningStep("drop_missing_customer"),
            CleaningStep("drop_cancellations"),
            CleaningStep("drop_nonpositive", {"column": "quantity"}),
            CleaningStep("drop_nonpositive", {"column": "unit_price"}),
        )
    )
    transactions = prepare_table(ONLINE_RETAIL.read_bytes(), ONLINE_RETAIL.name, recipe=recipe)
    table = evaluate_recommenders(transactions.cleaned, ("itemknn", "popular"), k=10)
    table = table.set_index("method")
    knn, popular = table.loc["itemknn"], table.loc["popular"]
    figures = (
        f"itemknn hit rate@10 {knn['hit_rate']:.3f} vs popular {popular['hit_rate']:.3f}; "
        f"precision@10 {knn['precision']:.4f} vs {popular['precision']:.4f}; "
        f"coverage {knn['coverage']:.3f} vs {popular['coverage']:.3f}; "
        f"{int(knn['customers'])} customers"
    )
    assert knn["customers"] > 2000, figures
    assert knn["hit_rate"] >= 1.25 * popular["hit_rate"], figures
    assert knn["hit_rate"] - popular["hit_rate"] >= 0.05, figures
    assert knn["precision"] > popular["precision"], figures
    assert knn["coverage"] > 5 * popular["coverage"], figures
