"""Market-basket core on small constructed data: baskets, mining, rules, statistics, guards."""

from __future__ import annotations

import itertools
import json
from collections import Counter

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import fisher_exact
from statsmodels.stats.multitest import multipletests

from crm_core.baskets import (
    RULE_COLUMNS,
    RULES_CAP,
    BasketParams,
    Baskets,
    RuleParams,
    adjust_pvalues,
    baskets_from_onehot,
    build_baskets,
    compare_segments,
    consequents_for,
    estimate_explosion,
    fisher_pvalues,
    min_count_for,
    rule_metrics,
    rule_sentence,
    rules_for_export,
    run_rules,
)
from crm_core.charts.baskets import (
    grouped_matrix,
    item_frequency_chart,
    rules_network,
    rules_scatter,
    segment_lift_heatmap,
)
from crm_core.errors import DataRequirementError, InputError, ParameterError
from crm_core.export import to_csv_bytes, to_xlsx_bytes
from crm_core.i18n import has_key


def tx_from(baskets: list[list[str]], **extra: list) -> pd.DataFrame:
    """Canonical transactions: one row per (order, item)."""
    rows = [(f"O{i:03d}", item) for i, b in enumerate(baskets) for item in b]
    frame = pd.DataFrame(rows, columns=["order_id", "item"]).astype("str")
    for name, values in extra.items():
        per_order = dict(zip([f"O{i:03d}" for i in range(len(baskets))], values, strict=True))
        frame[name] = frame["order_id"].map(per_order)
    return frame


def onehot(baskets: list[list[str]]) -> pd.DataFrame:
    items = sorted({i for b in baskets for i in b})
    return pd.DataFrame([[i in b for i in items] for b in baskets], columns=items)


def brute_itemsets(baskets: list[list[str]], min_count: int, max_len: int) -> dict:
    counts: Counter = Counter()
    for b in baskets:
        unique = sorted(set(b))
        for k in range(1, min(max_len, len(unique)) + 1):
            counts.update(itertools.combinations(unique, k))
    return {s: c for s, c in counts.items() if c >= min_count}


GROCERY = [
    ["bread", "butter", "milk"],
    ["bread", "butter", "milk"],
    ["bread", "butter", "milk", "jam"],
    ["bread", "butter"],
    ["bread", "milk"],
    ["milk"],
    ["beer", "chips"],
    ["beer", "chips", "milk"],
    ["beer"],
    ["bread", "jam"],
]


# ------------------------------------------------------------------------------ baskets


def test_build_baskets_is_sparse_and_counts_single_item_baskets() -> None:
    baskets = build_baskets(tx_from(GROCERY))
    assert sp.issparse(baskets.matrix) and baskets.matrix.format == "csr"
    assert baskets.matrix.dtype == bool
    assert baskets.n_baskets == 10 and baskets.n_items == 6
    assert list(baskets.items) == sorted({i for b in GROCERY for i in b})
    assert baskets.single_item_baskets == 2
    milk = list(baskets.items).index("milk")
    assert baskets.item_counts[milk] == 6


def test_returns_cancellations_and_missing_values_are_excluded() -> None:
    frame = pd.DataFrame(
        {
            "order_id": ["1", "1", "2", "2", "C3", "4", "4"],
            "item": ["a", "b", "a", "b", "a", "a", None],
            "quantity": [1.0, 2.0, 1.0, -1.0, 1.0, 0.0, 1.0],
        }
    )
    baskets = build_baskets(frame)
    assert baskets.n_baskets == 2  # order 1 {a, b}, order 2 {a}; C3 and the zero line dropped
    assert baskets.info()["excluded_rows"] == {"returns": 3, "missing_values": 1}
    assert baskets.single_item_baskets == 1


def test_basket_units_levels_dates_attribute_and_customers() -> None:
    frame = pd.DataFrame(
        {
            "customer_id": ["c1", "c1", "c1", "c2", "c2", "c3"],
            "order_id": ["o1", "o2", "o3", "o4", "o4", "o5"],
            "date": pd.to_datetime(
                [
                    "2024-01-01 09:00",
                    "2024-01-01 18:00",
                    "2024-02-01 10:00",
                    "2024-01-05 10:00",
                    "2024-01-05 10:00",
                    "2024-03-01 00:00",
                ]
            ),
            "item": ["a", "b", "c", "a", "b", "a"],
            "category": ["X", "Y", "X", "X", "Y", "X"],
            "country": ["FR", "FR", "FR", "DE", "DE", "FR"],
        }
    )
    assert build_baskets(frame, BasketParams(unit="order")).n_baskets == 5
    day = build_baskets(frame, BasketParams(unit="customer_day"))
    assert day.n_baskets == 4 and int(day.basket_sizes.max()) == 2
    assert build_baskets(frame, BasketParams(unit="customer")).n_baskets == 3
    cat = build_baskets(frame, BasketParams(unit="customer", level="category"))
    assert list(cat.items) == ["X", "Y"]
    jan = build_baskets(frame, BasketParams(start="2024-01-01", end="2024-01-05"))
    assert jan.n_baskets == 3  # end is inclusive: the whole of 5 January
    assert jan.info()["excluded_rows"]["outside_dates"] == 2
    fr = build_baskets(frame, BasketParams(attribute="country", values=["FR"]))
    assert fr.n_baskets == 4
    subset = build_baskets(frame, BasketParams(customers=pd.Index(["c2"])))
    assert subset.n_baskets == 1 and subset.basket_sizes.tolist() == [2]


def test_missing_columns_and_empty_filters_are_typed_errors() -> None:
    frame = tx_from(GROCERY)
    with pytest.raises(DataRequirementError) as info:
        build_baskets(frame, BasketParams(unit="customer"))
    assert "customer_id" in info.value.message("en")
    with pytest.raises(DataRequirementError):
        build_baskets(frame, BasketParams(level="category"))
    with pytest.raises(DataRequirementError) as empty:
        build_baskets(frame, BasketParams(attribute="item", values=["nothing"]))
    assert empty.value.key == "baskets.error.no_baskets"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"min_support": 0},
        {"min_support": 1.5},
        {"max_len": 9},
        {"max_len": 0},
        {"min_len": 1},
        {"min_confidence": 1.2},
        {"min_lift": -1},
        {"max_p": 0},
        {"max_rules": RULES_CAP + 1},
        {"rank_by": "beauty"},
        {"correction": "bonferroni"},
        {"engine": "spark"},
        {"min_count": 0},
        {"time_limit": -1},
    ],
)
def test_out_of_range_rule_params_raise_parameter_error(kwargs: dict) -> None:
    with pytest.raises(ParameterError) as info:
        RuleParams(**kwargs)
    assert info.value.key == "baskets.error.bad_param"
    assert has_key(info.value.key)


def test_bad_basket_params_raise_parameter_error() -> None:
    with pytest.raises(ParameterError):
        BasketParams(unit="week")
    with pytest.raises(ParameterError):
        BasketParams(start="2024-02-01", end="2024-01-01")


def test_onehot_input_accepts_bool_and_01_and_rejects_other_values() -> None:
    frame = onehot(GROCERY)
    as_int = frame.astype(int)
    sparse = frame.astype(pd.SparseDtype(bool, False))
    for table in (frame, as_int, sparse):
        result = run_rules(table, rule_params=RuleParams(min_support=0.2, min_lift=0))
        assert len(result.rules) > 0
    counts = frame.astype(int)
    counts.loc[0, "milk"] = 2
    with pytest.raises(InputError) as info:
        run_rules(counts)
    assert info.value.key == "baskets.error.not_binary" and "milk" in info.value.message()
    with pytest.raises(InputError):
        baskets_from_onehot(frame.astype(float).where(frame, np.nan))


# ------------------------------------------------------------------------------ mining and rules


def test_min_count_matches_mlxtend_float_threshold() -> None:
    assert min_count_for(0.006, 9835) == 60  # arules' "59" is printed, 60 is applied
    assert min_count_for(0.01, 1000) == 10
    assert min_count_for(0.07, 392) == 28
    assert min_count_for(1.0, 7) == 7


def test_rules_metrics_and_counts_on_a_known_example() -> None:
    result = run_rules(tx_from(GROCERY), rule_params=RuleParams(min_support=0.2, min_lift=0))
    rules = result.rules
    assert list(rules.columns) == list(RULE_COLUMNS)
    row = rules[(rules["antecedent"] == "bread, butter") & (rules["consequent"] == "milk")].iloc[0]
    assert row["count"] == 3 and row["antecedent_count"] == 4 and row["consequent_count"] == 6
    assert row["support"] == pytest.approx(0.3)
    assert row["confidence"] == pytest.approx(0.75)
    assert row["lift"] == pytest.approx(0.75 / 0.6)
    assert row["leverage"] == pytest.approx(0.3 - 0.4 * 0.6)
    assert row["conviction"] == pytest.approx((1 - 0.6) / (1 - 0.75))
    zhang = (0.3 - 0.4 * 0.6) / max(0.3 * (1 - 0.4), 0.4 * (0.6 - 0.3))
    assert row["zhangs_metric"] == pytest.approx(zhang)
    assert row["antecedent_items"] == ("bread", "butter")
    assert row["length"] == 3
    full = result.itemsets
    assert set(full.columns) == {"itemset", "items", "length", "count", "support"}
    assert full.loc[full["itemset"] == "bread, butter, milk", "count"].item() == 3
    assert result.item_frequency.iloc[0].to_dict() == {"item": "bread", "count": 6, "support": 0.6}
    assert row["conviction"] > 0 and rules["conviction"].max() == np.inf  # confidence 1 → inf


def test_single_consequent_and_any_consequent() -> None:
    any_c = run_rules(
        tx_from(GROCERY),
        rule_params=RuleParams(
            min_support=0.2, min_lift=0, min_confidence=0, single_consequent=False
        ),
    )
    single = run_rules(
        tx_from(GROCERY), rule_params=RuleParams(min_support=0.2, min_lift=0, min_confidence=0)
    )
    assert (single.rules["consequent_items"].map(len) == 1).all()
    assert (any_c.rules["consequent_items"].map(len) > 1).any()
    # every itemset of k items gives k single-consequent rules, 2^k - 2 rules in all
    sizes = single.itemsets.loc[single.itemsets["length"] >= 2, "length"]
    assert len(single.rules) == int(sizes.sum())
    assert len(any_c.rules) == int((2**sizes - 2).sum())


def test_item_constraints_exclusion_and_ranking() -> None:
    tx = tx_from(GROCERY)
    base = {"min_support": 0.2, "min_lift": 0, "min_confidence": 0}
    only = run_rules(tx, rule_params=RuleParams(**base, antecedent_items=["bread"]))
    assert len(only.rules) and only.rules["antecedent_items"].map(lambda a: "bread" in a).all()
    milk = run_rules(tx, rule_params=RuleParams(**base, consequent_items="milk"))
    assert (milk.rules["consequent"] == "milk").all()
    without = run_rules(tx, rule_params=RuleParams(**base, exclude_items=["milk"]))
    assert not without.itemsets["items"].map(lambda s: "milk" in s).any()
    assert without.n_baskets == 10  # baskets stay; only the item is gone
    for metric in ("confidence", "support", "leverage", "count"):
        ranked = run_rules(tx, rule_params=RuleParams(**base, rank_by=metric)).rules
        assert ranked[metric].is_monotonic_decreasing
    by_p = run_rules(tx, rule_params=RuleParams(**base, rank_by="p_adjusted")).rules
    assert by_p["p_adjusted"].is_monotonic_increasing
    unknown = run_rules(tx, rule_params=RuleParams(**base, antecedent_items=["caviar"]))
    assert unknown.empty and "baskets.note.unknown_items" in [n.key for n in unknown.notes]


def test_empty_result_has_a_note_not_an_exception() -> None:
    result = run_rules(tx_from(GROCERY), rule_params=RuleParams(min_support=0.9))
    assert result.empty and result.itemsets.empty
    assert list(result.rules.columns) == list(RULE_COLUMNS)
    assert [n.key for n in result.notes][-1] == "baskets.note.no_itemsets"
    text = result.messages("en")[-1]
    assert "No itemsets reach this support" in text and "bread" in text
    assert result.messages("zh")[-1].startswith("没有项集")
    for engine in ("native", "mlxtend"):
        pairs = run_rules(tx_from(GROCERY), rule_params=RuleParams(min_support=0.5, engine=engine))
        assert pairs.empty and len(pairs.itemsets) == 2  # bread and milk alone
        assert pairs.notes[-1].key == "baskets.note.no_itemsets_len"
    strict = run_rules(tx_from(GROCERY), rule_params=RuleParams(min_support=0.2, min_lift=50))
    assert strict.empty and strict.notes[-1].key == "baskets.note.no_rules"


def test_one_item_baskets_only() -> None:
    result = run_rules(
        tx_from([["a"], ["b"], ["a"], ["c"]]), rule_params=RuleParams(min_support=0.2)
    )
    assert result.empty
    keys = [n.key for n in result.notes]
    assert "baskets.note.single_item_baskets" in keys
    assert result.baskets["single_item_baskets"] == 4
    assert "4 of 4 baskets hold a single item" in result.messages()[0]


def random_baskets(seed: int, n: int = 300, m: int = 12, p: float = 0.3) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    rows = rng.random((n, m)) < p
    rows[:, 1] |= rows[:, 0] & (rng.random(n) < 0.6)  # a planted association
    return [[f"i{j:02d}" for j in np.flatnonzero(r)] for r in rows]


@pytest.mark.parametrize("engine_a, engine_b", [("native", "mlxtend"), ("native", "native")])
@pytest.mark.parametrize("algorithm", ["fpgrowth", "apriori"])
def test_engines_give_identical_itemsets_and_rules(
    engine_a: str, engine_b: str, algorithm: str
) -> None:
    baskets = build_baskets(tx_from(random_baskets(1)))
    kwargs = {"min_support": 0.03, "min_lift": 0, "min_confidence": 0.1, "max_len": 4}
    a = run_rules(baskets, rule_params=RuleParams(**kwargs, engine=engine_a, algorithm=algorithm))
    b = run_rules(baskets, rule_params=RuleParams(**kwargs, engine=engine_b, algorithm=algorithm))
    assert a.engine.startswith(engine_a) and b.engine.startswith(engine_b)
    pd.testing.assert_frame_equal(a.itemsets, b.itemsets)
    pd.testing.assert_frame_equal(a.rules, b.rules)
    assert len(a.rules) > 100


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.lists(
        st.lists(st.sampled_from("abcdefg"), min_size=1, max_size=6), min_size=1, max_size=40
    ),
    min_count=st.integers(1, 4),
    max_len=st.integers(1, 5),
)
def test_native_miner_matches_brute_force(
    data: list[list[str]], min_count: int, max_len: int
) -> None:
    expected = brute_itemsets(data, min_count, max_len)
    params = RuleParams(min_count=min_count, max_len=max_len, min_len=2)
    result = run_rules(tx_from(data), rule_params=replace_engine(params, "native"))
    found = {
        tuple(items): int(c)
        for items, c in zip(result.itemsets["items"], result.itemsets["count"], strict=True)
    }
    assert found == expected


def replace_engine(params: RuleParams, engine: str) -> RuleParams:
    from dataclasses import replace

    return replace(params, engine=engine)


def test_results_are_deterministic() -> None:
    tx = tx_from(random_baskets(5))
    runs = [run_rules(tx, rule_params=RuleParams(min_support=0.03, min_lift=0)) for _ in range(2)]
    shuffled = tx.sample(frac=1.0, random_state=3)
    runs.append(run_rules(shuffled, rule_params=RuleParams(min_support=0.03, min_lift=0)))
    for other in runs[1:]:
        pd.testing.assert_frame_equal(runs[0].rules, other.rules)
        pd.testing.assert_frame_equal(runs[0].itemsets, other.itemsets)


# ------------------------------------------------------------------------------ statistics


def test_fisher_pvalues_equal_scipy_fisher_exact() -> None:
    rng = np.random.default_rng(7)
    for n in (20, 500, 20_000):
        for _ in range(40):
            n_a, n_c = int(rng.integers(1, n)), int(rng.integers(1, n))
            low, high = max(0, n_a + n_c - n), min(n_a, n_c)
            n_ac = int(rng.integers(low, high + 1))
            table = [[n_ac, n_a - n_ac], [n_c - n_ac, n - n_a - n_c + n_ac]]
            expected = fisher_exact(table, alternative="greater").pvalue
            got = fisher_pvalues(np.array([n_ac]), np.array([n_a]), np.array([n_c]), n)[0]
            assert got == pytest.approx(expected, rel=1e-8, abs=1e-14)


def test_rule_pvalue_is_fisher_on_its_2x2_table() -> None:
    result = run_rules(
        tx_from(random_baskets(2)), rule_params=RuleParams(min_support=0.05, min_lift=0)
    )
    n = result.n_baskets
    for _, row in result.rules.head(20).iterrows():
        a, c, ac = row["antecedent_count"], row["consequent_count"], row["count"]
        table = [[ac, a - ac], [c - ac, n - a - c + ac]]
        assert row["p_value"] == pytest.approx(
            fisher_exact(table, alternative="greater").pvalue, rel=1e-9
        )


def test_benjamini_hochberg_and_holm_match_hand_and_statsmodels() -> None:
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    # BH by hand: sorted 0.005 0.01 0.03 0.04 0.5 -> 0.025 0.025 0.05 0.05 0.5
    assert adjust_pvalues(p, "fdr_bh") == pytest.approx([0.025, 0.05, 0.05, 0.025, 0.5])
    # Holm by hand: 5*0.005, 4*0.01, 3*0.03, 2*0.04, 1*0.5 (running max)
    assert adjust_pvalues(p, "holm") == pytest.approx([0.04, 0.09, 0.09, 0.025, 0.5])
    many = np.random.default_rng(1).random(300) ** 3
    for ours, theirs in (("fdr_bh", "fdr_bh"), ("holm", "holm")):
        expected = multipletests(many, method=theirs)[1]
        assert adjust_pvalues(many, ours) == pytest.approx(expected)
    assert adjust_pvalues(many, "none").tolist() == many.tolist()


def test_adjusted_p_filter_uses_the_tested_rules() -> None:
    tx = tx_from(random_baskets(3))
    loose = run_rules(tx, rule_params=RuleParams(min_support=0.03, min_lift=0))
    strict = run_rules(tx, rule_params=RuleParams(min_support=0.03, min_lift=0, max_p=0.01))
    assert loose.tests == len(loose.rules)
    assert (strict.rules["p_adjusted"] <= 0.01).all()
    assert len(strict.rules) == int((loose.rules["p_adjusted"] <= 0.01).sum())
    assert 0 < len(strict.rules) < len(loose.rules)
    holm = run_rules(tx, rule_params=RuleParams(min_support=0.03, min_lift=0, correction="holm"))
    assert (holm.rules["p_adjusted"] >= holm.rules["p_value"]).all()


def test_redundancy_pruning_drops_rules_a_general_rule_explains() -> None:
    # {a} -> c has confidence 1; {a, b} -> c adds nothing and must go.
    # {d} -> c has confidence 0.5 while {d, e} -> c has 1.0: that one stays.
    data = (
        [["a", "b", "c"]] * 4
        + [["a", "c"]] * 4
        + [["d", "e", "c"]] * 4
        + [["d"]] * 4
        + [["b"], ["e"], ["x"], ["x"]]
    )
    base = {"min_support": 0.1, "min_lift": 0, "min_confidence": 0, "consequent_items": ["c"]}
    full = run_rules(tx_from(data), rule_params=RuleParams(**base))
    pruned = run_rules(tx_from(data), rule_params=RuleParams(**base, prune_redundant=True))
    keys = set(pruned.rules["antecedent"])
    assert "a, b" in set(full.rules["antecedent"]) and "a, b" not in keys
    assert {"a", "d", "d, e"} <= keys
    assert pruned.notes[-1].key == "baskets.note.pruned"
    removed = len(full.rules) - len(pruned.rules)
    assert pruned.notes[-1].params["count"] == removed >= 1


# ------------------------------------------------------------------------------ guardrails


def dense_baskets(n: int = 200, m: int = 40, seed: int = 0) -> Baskets:
    rng = np.random.default_rng(seed)
    matrix = sp.csr_matrix(rng.random((n, m)) < 0.5)
    return Baskets(matrix, pd.Index([f"i{j}" for j in range(m)], dtype="str"))


def test_estimate_explosion_warns_on_tiny_support_for_dense_data() -> None:
    dense = dense_baskets()
    boom = estimate_explosion(dense, min_support=0.01, max_len=5)
    assert boom.warn and boom.total > 100_000
    assert boom.notes[0].key == "baskets.note.explosion"
    assert "frequent itemsets" in boom.notes[0].message("en")
    calm = estimate_explosion(build_baskets(tx_from(GROCERY)), min_support=0.2, max_len=3)
    assert not calm.warn and calm.frequent_items == 6 and calm.frequent_pairs == 5
    for k, estimate in boom.estimated.items():
        assert estimate <= boom.upper_bound[k]


def test_caps_truncate_with_a_note() -> None:
    tx = tx_from(random_baskets(4))
    capped = run_rules(tx, rule_params=RuleParams(min_support=0.02, min_lift=0, max_rules=25))
    assert len(capped.rules) == 25 and capped.truncated
    note = capped.notes[-1]
    assert note.key == "baskets.note.rules_cap" and note.params["cap"] == 25
    assert note.params["count"] > 25
    full = run_rules(tx, rule_params=RuleParams(min_support=0.02, min_lift=0))
    pd.testing.assert_frame_equal(capped.rules, full.rules.head(25))
    few = run_rules(
        dense_baskets(),
        rule_params=RuleParams(min_support=0.05, max_itemsets=1000, engine="native"),
    )
    assert few.truncated and len(few.itemsets) == 1000
    assert "baskets.note.itemsets" in [n.key for n in few.notes]
    # truncated itemsets still have exact counts, so the rules are exact
    assert (few.rules["confidence"] == few.rules["count"] / few.rules["antecedent_count"]).all()


def test_cooperative_stop_and_progress() -> None:
    calls: list[float] = []
    polls = iter(range(10_000))

    def stop_after_some() -> bool:
        return next(polls) > 3

    result = run_rules(
        dense_baskets(),
        rule_params=RuleParams(min_support=0.1, engine="native"),
        should_stop=stop_after_some,
        progress=calls.append,
    )
    assert result.stopped and result.truncated
    assert "baskets.note.stopped" in [n.key for n in result.notes]
    assert calls == sorted(calls) and calls[-1] == 1.0
    # what was kept is exact
    for _, row in result.rules.head(50).iterrows():
        assert row["confidence"] == pytest.approx(row["count"] / row["antecedent_count"])
    stopped_at_once = run_rules(dense_baskets(), should_stop=lambda: True)
    assert stopped_at_once.stopped and stopped_at_once.empty
    timed = run_rules(
        dense_baskets(), rule_params=RuleParams(min_support=0.05, engine="native", time_limit=1e-6)
    )
    assert timed.stopped and "baskets.note.time" in [n.key for n in timed.notes]


def test_mlxtend_engine_refuses_inputs_it_would_densify(monkeypatch: pytest.MonkeyPatch) -> None:
    import crm_core.baskets as baskets_module

    monkeypatch.setattr(baskets_module, "MLXTEND_MAX_CELLS", 50)
    with pytest.raises(ParameterError) as info:
        run_rules(dense_baskets(), rule_params=RuleParams(engine="mlxtend"))
    assert info.value.key == "baskets.error.too_large_for_mlxtend"
    assert "automatic engine" in info.value.message("en")


# ------------------------------------------------------------------------------ reading rules


def test_rule_sentence_in_both_languages() -> None:
    row = {
        "antecedent_items": ("bread", "butter"),
        "consequent_items": ("milk",),
        "confidence": 0.62,
        "lift": 3.1,
    }
    assert rule_sentence(row, "en") == (
        "Customers who buy bread and butter also buy milk in 62% of cases"
        " — 3.1× more often than average"
    )
    zh = {**row, "antecedent_items": ("面包", "黄油"), "consequent_items": ("牛奶",)}
    assert (
        rule_sentence(zh, "zh")
        == "购买面包和黄油的顾客中，有 62% 也会购买牛奶，是平均水平的 3.1 倍"
    )
    three = {**row, "antecedent_items": ("a", "b", "c"), "lift": 0.5}
    assert "a, b and c" in rule_sentence(three, "en") and "0.50×" in rule_sentence(three, "en")
    assert "a、b和c" in rule_sentence(three, "zh")
    assert "about as often" in rule_sentence({**row, "lift": 1.0}, "en")


def test_consequents_for_and_rule_metrics() -> None:
    result = run_rules(tx_from(GROCERY), rule_params=RuleParams(min_support=0.2, min_lift=0))
    bread = consequents_for(result, "bread", top=3)
    assert 0 < len(bread) <= 3
    assert bread["antecedent_items"].map(lambda a: "bread" in a).all()
    assert bread["lift"].is_monotonic_decreasing
    assert consequents_for(result, "caviar").empty
    counted = rule_metrics(
        build_baskets(tx_from(GROCERY)), [("bread", "butter"), ("x",)], [("milk",), ("milk",)]
    )
    assert counted.loc[0, "count"] == 3 and counted.loc[0, "confidence"] == pytest.approx(0.75)
    assert counted.loc[1, "count"] == 0 and np.isnan(counted.loc[1, "lift"])


def test_compare_segments_side_by_side() -> None:
    a = [["tea", "cake"]] * 6 + [["tea"]] * 2 + [["coffee"]] * 2
    b = [["coffee", "cake"]] * 6 + [["coffee"]] * 2 + [["tea"]] * 2
    baskets = a + b
    customers = [f"A{i}" for i in range(len(a))] + [f"B{i}" for i in range(len(b))]
    tx = tx_from(baskets, customer_id=customers)
    labels = pd.Series(["alpha"] * len(a) + ["beta"] * len(b), index=customers)
    progress: list[float] = []
    comparison = compare_segments(
        tx, labels, rule_params=RuleParams(min_support=0.2, min_lift=0), progress=progress.append
    )
    assert set(comparison.results) == {"alpha", "beta"}
    assert list(comparison.lift.columns) == ["alpha", "beta"]
    lift = comparison.lift
    assert lift.loc["tea → cake", "alpha"] == pytest.approx(6 / 8 / (6 / 10))
    assert lift.loc["tea → cake", "beta"] == pytest.approx(0.0)
    table = comparison.table
    top = table[(table["segment"] == "beta") & (table["antecedent"] == "coffee")]
    assert top["in_top"].any()
    assert progress[-1] == 1.0 and progress == sorted(progress)


# ------------------------------------------------------------------ markup, export, charts

NASTY = ["<b>bold</b>", "=SUM(A1:A9)", "$x$ and $y$", "<img src=x onerror=alert(1)>", "+cmd"]


def nasty_result():
    data = [NASTY[:3]] * 5 + [NASTY[2:]] * 5 + [["plain", NASTY[0]]] * 3
    return run_rules(tx_from(data), rule_params=RuleParams(min_support=0.1, min_lift=0))


def test_markup_and_formula_item_names_survive_as_data_and_export_safely() -> None:
    result = nasty_result()
    items = {i for row in result.rules["antecedent_items"] for i in row}
    assert set(NASTY) <= items | {i for row in result.rules["consequent_items"] for i in row}
    export = rules_for_export(result)
    assert "antecedent_items" not in export.columns
    csv = to_csv_bytes(export).decode("utf-8-sig")
    assert "'=SUM(A1:A9)" in csv and "\n=SUM" not in csv and ",=SUM" not in csv
    assert to_xlsx_bytes(export)[:2] == b"PK"
    sentence = rule_sentence(result.rules.iloc[0], "en")
    assert any(n in sentence for n in NASTY)


@pytest.mark.parametrize("chart", [rules_scatter, grouped_matrix, rules_network])
def test_charts_escape_user_text(chart) -> None:
    fig = chart(nasty_result().rules, "en")
    text = json.dumps(fig.to_plotly_json(), ensure_ascii=False, default=str)
    assert "<b>bold" not in text and "<img" not in text and "$x$" not in text
    assert "‹b›bold" in text
    assert fig.layout.title.text


def test_charts_in_chinese_and_empty_inputs() -> None:
    result = run_rules(tx_from(GROCERY), rule_params=RuleParams(min_support=0.2, min_lift=0))
    assert rules_scatter(result.rules, "zh").layout.title.text.startswith("规则")
    freq = item_frequency_chart(result.item_frequency, "zh", top=3)
    assert list(freq.data[0].y) == ["butter", "milk", "bread"]  # top at the top
    empty = result.rules.iloc[0:0]
    for chart in (rules_scatter, grouped_matrix, rules_network):
        fig = chart(empty, "en")
        assert fig.layout.annotations[0].text == "No rules to show"
    assert segment_lift_heatmap(pd.DataFrame(), "en").layout.annotations
    heat = segment_lift_heatmap(pd.DataFrame({"<b>s</b>": [1.5]}, index=["a → b"]), "en")
    assert list(heat.data[0].x) == ["‹b›s‹/b›"]


def test_network_layout_is_deterministic() -> None:
    rules = run_rules(tx_from(random_baskets(6)), rule_params=RuleParams(min_support=0.05)).rules
    one, two = rules_network(rules, top=15), rules_network(rules, top=15)
    assert one.to_json() == two.to_json()
    positions = np.array([list(one.data[2].x), list(one.data[2].y)])
    assert np.isfinite(positions).all() and np.abs(positions).max() <= 1.0 + 1e-9
