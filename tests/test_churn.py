"""Churn core: labels, bad input, metrics, determinism, explanations, lists, saving, charts.

Small generated datasets keep these fast; the bundled sample checks the derived label and the
planted drivers. Real public datasets are in test_churn_real.py.
"""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from sklearn.metrics import (
    confusion_matrix,
    f1_score,
    precision_score,
    recall_score,
    roc_auc_score,
)

from crm_core import churn as C
from crm_core.charts import churn as charts
from crm_core.errors import DataRequirementError, InputError, ParameterError
from crm_core.i18n import t
from crm_core.sample import load_sample
from crm_core.tables import Dataset

CJK = re.compile(r"[\u4e00-\u9fff]")
FAST = {"rf": {"n_estimators": 30}, "hgb": {"max_iter": 40}}


def _params(model: str = "logreg", **kw: object) -> C.ChurnModelParams:
    return C.ChurnModelParams(model=model, **{**FAST.get(model, {}), **kw})


def _contract_customers(n: int = 400, seed: int = 0, labels: tuple = ("Yes", "No")) -> pd.DataFrame:
    """Telco-like customers: short tenure and monthly contracts churn more."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 72, n).astype(float)
    charges = rng.normal(60, 20, n)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n)
    logit = -1 - 0.06 * (tenure - 36) + 1.5 * (contract == "Month-to-month") + 0.01 * charges
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    return pd.DataFrame(
        {
            "customer_id": [f"K{i:04d}" for i in range(n)],
            "tenure": tenure,
            "monthly_charges": charges,
            "contract": contract,
            "churn": np.where(churn, labels[0], labels[1]),
        }
    )


def _dataset(customers: pd.DataFrame, **tables: pd.DataFrame) -> Dataset:
    return Dataset("test", {"customers": customers, **tables}, fingerprint="fp-test")


def _shop(n: int = 160, seed: int = 3, stop: tuple[int, int] = (200, 270)) -> Dataset:
    """Purchases through 2024; odd customers stop (on a day in ``stop``) and complain more."""
    rng = np.random.default_rng(seed)
    rows, comms, feedback = [], [], []
    for i in range(n):
        cid = f"S{i:03d}"
        churner = i % 2 == 1
        last_day = rng.integers(*stop) if churner else 365
        gap = int(rng.integers(10, 40))
        for k, day in enumerate(range(int(rng.integers(0, 20)), int(last_day), gap)):
            rows.append((cid, f"{cid}-{k}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=day)))
        for _ in range(int(rng.poisson(2.0 if churner else 0.3))):
            day = int(rng.integers(0, 270))
            comms.append((cid, pd.Timestamp("2024-01-01") + pd.Timedelta(days=day), "complaint"))
        feedback.append((cid, pd.Timestamp("2024-03-01"), 2.0 if churner else 4.0))
    rows.append(("S000", "S000-last", pd.Timestamp("2024-12-31")))
    tx = pd.DataFrame(rows, columns=["customer_id", "order_id", "date"])
    tx["amount"] = np.round(rng.gamma(2.0, 20.0, len(tx)), 2)
    return Dataset(
        "shop",
        {
            "transactions": tx,
            "communications": pd.DataFrame(comms, columns=["customer_id", "date", "category"]),
            "feedback": pd.DataFrame(feedback, columns=["customer_id", "date", "score"]),
        },
        fingerprint="fp-shop",
    )


LABEL = C.ChurnLabelParams(label_column="churn")
DERIVED = C.ChurnLabelParams(as_of="2024-10-03", inactive_days=90)


@pytest.fixture(scope="module")
def contract() -> Dataset:
    return _dataset(_contract_customers())


@pytest.fixture(scope="module")
def logreg_result(contract: Dataset) -> C.ChurnResult:
    return C.run_churn(contract, LABEL, _params("logreg"))


@pytest.fixture(scope="module")
def hgb_result(contract: Dataset) -> C.ChurnResult:
    return C.run_churn(contract, LABEL, _params("hgb"))


# --------------------------------------------------------------------------- labels


@pytest.mark.parametrize(
    "labels", [("Yes", "No"), ("是", "否"), ("1", "0"), ("true", "false"), (1, 0), (True, False)]
)
def test_label_spellings_give_the_same_label(labels: tuple) -> None:
    frame = C.build_churn_frame(_dataset(_contract_customers(labels=labels)), LABEL)
    expected = C.build_churn_frame(_dataset(_contract_customers()), LABEL)
    pd.testing.assert_series_equal(frame.y, expected.y)
    assert set(frame.y.unique()) == {0, 1}
    assert "churn" not in frame.X.columns and "customer_id" not in frame.X.columns


def test_label_column_found_by_header_spelling() -> None:
    customers = _contract_customers().rename(columns={"churn": "Churn Flag"})
    frame = C.build_churn_frame(_dataset(customers), C.ChurnLabelParams(label_column="churn_flag"))
    assert len(frame.y) == 400
    assert "Churn Flag" not in frame.X.columns


def test_odd_label_values_are_named() -> None:
    customers = _contract_customers()
    customers.loc[[3, 7], "churn"] = "maybe"
    customers.loc[9, "churn"] = "2"
    with pytest.raises(InputError) as err:
        C.build_churn_frame(_dataset(customers), LABEL)
    message = err.value.message("en")
    assert "maybe" in message and "“2”" in message and "3 values" in message
    assert "Accepted: Yes/No, 是/否, 1/0, true/false" in message
    assert "是/否" in err.value.message("zh")


def test_numeric_label_with_other_numbers_is_refused() -> None:
    customers = _contract_customers(labels=(1, 0))
    customers.loc[0, "churn"] = 2
    with pytest.raises(InputError, match="“2”"):
        C.build_churn_frame(_dataset(customers), LABEL)


def test_empty_labels_are_left_out_and_counted() -> None:
    customers = _contract_customers()
    customers.loc[:9, "churn"] = None
    frame = C.build_churn_frame(_dataset(customers), LABEL)
    assert len(frame.y) == 390 and frame.unlabeled == 10
    assert any(n.key == "churn.note.unlabeled" for n in frame.notes)


def test_missing_label_column() -> None:
    with pytest.raises(DataRequirementError, match="no column “exited”"):
        C.build_churn_frame(
            _dataset(_contract_customers()), C.ChurnLabelParams(label_column="exited")
        )


def test_one_class_needs_both_kinds_of_customers() -> None:
    customers = _contract_customers()
    customers["churn"] = "No"
    with pytest.raises(DataRequirementError) as err:
        C.run_churn(_dataset(customers), LABEL, _params())
    assert "needs both churned and retained customers" in err.value.message("en")
    assert "流失客户和留存客户" in err.value.message("zh")


def test_too_few_churners_for_the_folds_suggests_fewer() -> None:
    customers = _contract_customers(n=100)
    customers["churn"] = "No"
    customers.loc[[1, 2, 3], "churn"] = "Yes"
    with pytest.raises(ParameterError) as err:
        C.run_churn(_dataset(customers), LABEL, _params(cv_folds=5))
    assert err.value.hint == "churn.hint.fewer_folds"
    assert "at most 3" in err.value.message("en")
    result = C.run_churn(_dataset(customers), LABEL, _params(cv_folds=3, explain=False))
    assert result.metrics["customers"] == 100


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"model": "xgboost"}, "model"),
        ({"C": 0.0}, "C"),
        ({"cv_folds": 1}, "cv_folds"),
        ({"threshold": 1.5}, "threshold"),
        ({"class_weight": "heavy"}, "class_weight"),
        ({"max_depth": 0}, "max_depth"),
        ({"validation": "holdout"}, "validation"),
    ],
)
def test_bad_model_parameters(contract: Dataset, change: dict, error: str) -> None:
    with pytest.raises(ParameterError, match=f"setting {error} ="):
        C.run_churn(contract, LABEL, C.ChurnModelParams(**change))


# --------------------------------------------------------------------------- derived label


def test_derived_label_and_definition() -> None:
    shop = _shop()
    frame = C.build_churn_frame(shop, DERIVED)
    expected = pd.Series([int(c[1:]) % 2 for c in frame.y.index], index=frame.y.index)
    assert (frame.y == expected).all()
    assert frame.definition["en"].startswith(
        "A customer is counted as churned when they made no purchase in the 90 days from "
        "2024-10-03 to 2024-12-31; features use only what happened before 2024-10-03."
    )
    assert "2024-10-03" in frame.definition["zh"] and CJK.search(frame.definition["zh"])
    assert frame.churn_rate == pytest.approx(0.5)
    assert {"contacts_complaint", "feedback_score_mean", "order_trend_180d"} <= set(frame.X)


def test_features_ignore_everything_from_the_as_of_date_on() -> None:
    shop = _shop()
    before = C.build_churn_frame(shop, DERIVED)
    tables = dict(shop.tables)
    late = tables["transactions"].sample(50, random_state=1).copy()
    late["date"] = pd.Timestamp("2024-10-03") + pd.to_timedelta(np.arange(50), unit="D")
    late["order_id"] = [f"late-{i}" for i in range(50)]
    late["amount"] = 1e6
    tx = pd.concat([tables["transactions"], late], ignore_index=True)
    after = tables["transactions"]["date"] >= "2024-10-03"
    tx.loc[tx.index[: len(after)][after.to_numpy()], "amount"] *= 3
    tables["transactions"] = tx
    comms = tables["communications"].copy()
    comms["date"] = comms["date"].where(comms["date"] < "2024-10-03", pd.Timestamp("2024-11-01"))
    tables["communications"] = pd.concat(
        [
            comms,
            pd.DataFrame(
                {
                    "customer_id": ["S001"] * 5,
                    "date": pd.Timestamp("2024-10-03"),
                    "category": "complaint",
                }
            ),
        ],
        ignore_index=True,
    )
    changed = C.build_churn_frame(Dataset("shop2", tables, "fp2"), DERIVED)
    pd.testing.assert_frame_equal(before.X, changed.X)


def test_context_features_count_before_as_of() -> None:
    shop = _shop()
    ctx = C.context_features(shop, "2024-06-01")
    comms = shop.tables["communications"]
    expected = comms[comms["date"] < "2024-06-01"].groupby("customer_id").size()
    assert ctx["contacts_complaint"].reindex(expected.index).tolist() == expected.tolist()
    assert set(ctx["feedback_score_mean"].dropna().unique()) <= {2.0, 4.0}
    feedback = shop.tables["feedback"]
    earlier = feedback[feedback["date"] < "2024-06-01"].sort_values("date", kind="stable")
    latest = earlier.groupby("customer_id")["score"].last().astype(float)
    assert ctx["feedback_score_latest"].reindex(latest.index).tolist() == latest.tolist()
    assert C.context_features(shop, "2024-01-01").empty


@pytest.mark.parametrize(
    ("as_of", "days", "text"),
    [
        ("2023-05-01", 90, "outside the data, which runs from 2024-01-01 to 2024-12-31"),
        ("2025-06-01", 90, "outside the data"),
        ("2024-11-01", 90, "runs past the end of the data (2024-01-01 to 2024-12-31)"),
    ],
)
def test_as_of_outside_the_data(as_of: str, days: int, text: str) -> None:
    params = C.ChurnLabelParams(as_of=as_of, inactive_days=days)
    with pytest.raises(ParameterError) as err:
        C.build_churn_frame(_shop(), params)
    assert text in err.value.message("en")
    assert "2024-10-03" in err.value.message("en")  # the latest as-of date that works


def test_default_as_of_is_the_latest_observable_date() -> None:
    frame = C.build_churn_frame(_shop(), C.ChurnLabelParams(inactive_days=30))
    assert frame.as_of == pd.Timestamp("2024-12-02")


def test_bad_date_and_no_transactions() -> None:
    with pytest.raises(ParameterError, match="not a date"):
        C.build_churn_frame(_shop(), C.ChurnLabelParams(as_of="someday"))
    with pytest.raises(DataRequirementError, match="needs transactions"):
        C.build_churn_frame(_dataset(_contract_customers()), DERIVED)


def test_derived_uses_time_holdout_or_says_why_not() -> None:
    shop = _shop()
    result = C.run_churn(shop, DERIVED, _params())
    assert result.validation == "time"
    assert result.scores.index.isin(result.evaluation.index).all()  # scored at the data's end
    early = _shop(stop=(100, 150))  # no history before 2024-06-01 - 180 days
    short = C.run_churn(early, C.ChurnLabelParams(as_of="2024-06-01", inactive_days=180), _params())
    assert short.validation == "cv"
    assert any(n.key == "churn.note.time_unavailable" for n in short.notes)


def test_active_days_restricts_customers() -> None:
    shop = _shop()
    everyone = C.build_churn_frame(shop, DERIVED)
    active = C.build_churn_frame(shop, replace(DERIVED, active_days=30))
    assert len(active.y) < len(everyone.y)
    assert (active.X["recency_days"] < 30).all()
    assert "bought in the 30 days before 2024-10-03" in active.definition["en"]


# --------------------------------------------------------------------------- metrics


def test_metrics_match_sklearn(logreg_result: C.ChurnResult) -> None:
    ev = logreg_result.evaluation
    y, p = ev["actual"].to_numpy(), ev["probability"].to_numpy()
    assert logreg_result.metrics["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    for threshold in (0.0, 0.2, 0.5, 0.8, 1.0):
        m = C.metrics_at_threshold(logreg_result, threshold)
        pred = (p >= threshold).astype(int)
        tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
        assert (m["tn"], m["fp"], m["fn"], m["tp"]) == (tn, fp, fn, tp)
        assert m["precision"] == pytest.approx(precision_score(y, pred, zero_division=0))
        assert m["recall"] == pytest.approx(recall_score(y, pred, zero_division=0))
        assert m["f1"] == pytest.approx(f1_score(y, pred, zero_division=0))
    with pytest.raises(ParameterError):
        C.metrics_at_threshold(logreg_result, -0.1)


def test_curves_gains_and_baselines(logreg_result: C.ChurnResult) -> None:
    r = logreg_result
    assert r.metrics["roc_auc"] > 0.75
    assert r.roc["fpr"].is_monotonic_increasing and r.roc.iloc[-1].tolist()[:2] == [1.0, 1.0]
    assert r.gains["share_captured"].is_monotonic_increasing
    assert r.gains["share_captured"].iloc[-1] == pytest.approx(1.0)
    assert r.metrics["top_decile_lift"] == pytest.approx(r.gains.loc[10, "lift"])
    assert len(r.calibration) >= 5
    base = r.baselines.set_index("model")
    assert base.loc["baseline_majority", "roc_auc"] == 0.5
    assert base.loc["baseline_single", "feature"] == "tenure"  # no transactions: best column
    assert r.metrics["roc_auc"] > base.loc["baseline_single", "roc_auc"]


def test_determinism(contract: Dataset, hgb_result: C.ChurnResult) -> None:
    again = C.run_churn(contract, LABEL, _params("hgb"))
    np.testing.assert_array_equal(
        again.evaluation["probability"].to_numpy(), hgb_result.evaluation["probability"].to_numpy()
    )
    pd.testing.assert_frame_equal(again.importance, hgb_result.importance)
    pd.testing.assert_frame_equal(again.scores, hgb_result.scores)
    first = C.run_churn(contract, LABEL, _params("rf", explain=False))
    second = C.run_churn(contract, LABEL, _params("rf", explain=False))
    pd.testing.assert_frame_equal(first.evaluation, second.evaluation)


def test_every_model_and_class_weight(contract: Dataset) -> None:
    params = [_params(m, explain=False) for m in C.MODELS]
    params.append(_params("logreg", class_weight="balanced", explain=False))
    seen: list[float] = []
    comparison = C.compare_models(contract, LABEL, params, progress=seen.append)
    table = comparison.table.set_index("model")
    assert list(table.index) == [*C.MODELS, "logreg_5", "baseline_majority", "baseline_single"]
    assert (table.loc[list(C.MODELS), "roc_auc"] > 0.7).all()
    balanced = comparison.results["logreg_5"].evaluation["probability"].mean()
    plain = comparison.results["logreg"].evaluation["probability"].mean()
    assert balanced > plain  # balanced weights lift the rarer class's probabilities
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    names = C.comparison_table(comparison, "zh")["name"].tolist()
    assert names[0] == "逻辑回归" and names[4] == "逻辑回归" and "tenure" in names[-1]


def test_comparison_gives_each_model_what_it_gives_alone(contract: Dataset) -> None:
    """A comparison shares the folds' preprocessing between models; the numbers stay the same."""
    params = [_params(m) for m in ("logreg", "hgb", "svm")]
    comparison = C.compare_models(contract, LABEL, params)
    for p in params:
        alone = C.run_churn(contract, LABEL, p)
        shared = comparison.results[p.model]
        pd.testing.assert_frame_equal(shared.evaluation, alone.evaluation)
        pd.testing.assert_frame_equal(shared.importance, alone.importance)
        pd.testing.assert_frame_equal(shared.scores, alone.scores)
        assert set(shared.timings) == {"evaluation", "final_fit", "explanation", "scores"}


def test_categories_unseen_or_missing_when_scoring_are_handled(
    contract: Dataset, hgb_result: C.ChurnResult
) -> None:
    """A contract type the model never saw counts as none of the known ones; a blank one is
    the "(missing)" category; both get a probability and a factor text."""
    customers = contract.tables["customers"].head(6).copy()
    customers.loc[customers.index[:2], "contract"] = "Three year"
    customers.loc[customers.index[2:4], "contract"] = None
    for result in (hgb_result, C.run_churn(contract, LABEL, _params("logreg"))):
        scores = C.score_dataset(result.model, _dataset(customers))
        assert scores["probability"].between(0, 1).all() and len(scores) == 6
        assert scores["factors_en"].str.len().gt(0).all()


def test_suspiciously_perfect_score_warns_of_a_leak() -> None:
    """The sample's churn column was decided in its last 90 days: with features from all the
    data the score is perfect, and a note says the label leaks; features before the planted
    date give a believable score and no such note."""
    sample = load_sample()
    fast = _params(explain=False)
    leaky = C.run_churn(sample, C.ChurnLabelParams(label_column="churn"), fast)
    assert leaky.metrics["roc_auc"] > 0.99
    note = leaky.notes[0]
    assert note.key == "churn.note.suspicious_auc_no_as_of"
    assert "leaks into the features" in note.text("en") and "as-of date" in note.text("en")
    assert "泄漏" in note.text("zh") and note.params["auc"] == f"{leaky.metrics['roc_auc']:.3f}"
    honest = C.run_churn(sample, C.ChurnLabelParams(label_column="churn", as_of="2024-10-03"), fast)
    assert 0.7 < honest.metrics["roc_auc"] < 0.99
    assert not [n for n in honest.notes if n.key.startswith("churn.note.suspicious_auc")]


def test_time_limit(contract: Dataset) -> None:
    with pytest.raises(ParameterError, match="limit"):
        C.run_churn(contract, LABEL, _params("rf", time_limit_s=1e-9))


# --------------------------------------------------------------------------- explanation


def test_importance_and_partial_dependence(logreg_result: C.ChurnResult) -> None:
    top = logreg_result.importance["feature"].head(2).tolist()
    assert set(top) == {"tenure", "contract"}
    curves = logreg_result.partial_dependence
    assert "tenure" in curves and len(curves["tenure"]) == C.PD_GRID
    assert curves["tenure"]["probability"].iloc[0] > curves["tenure"]["probability"].iloc[-1]
    assert set(curves["contract"]["value"]) == {"Month-to-month", "One year", "Two year"}


def test_linear_factors_add_up_to_the_logit(logreg_result: C.ChurnResult) -> None:
    model = logreg_result.model
    X = C.build_churn_frame(_dataset(_contract_customers()), LABEL).X
    prob, contrib = C._contributions(model, X)
    logit = np.log(prob / (1 - prob))
    centre = contrib.sum(axis=1) - logit
    assert np.allclose(centre, centre[0])  # logit = average customer's logit + contributions


def test_factor_texts(logreg_result: C.ChurnResult, hgb_result: C.ChurnResult) -> None:
    for result in (logreg_result, hgb_result):
        risky = result.scores.sort_values("probability").iloc[-1]
        assert "tenure" in risky["factors_en"] or "Month-to-month" in risky["factors_en"]
        assert CJK.search(risky["factors_zh"]) or "：" in risky["factors_zh"]
    assert logreg_result.scores["factors_en"].str.len().gt(0).all()


def test_sample_factor_texts() -> None:
    sample = load_sample()
    result = C.run_churn(sample, DERIVED, _params(explain=True))
    texts = " | ".join(result.scores["factors_en"])
    assert "no purchase for" in texts and "complaint contacts:" in texts
    assert "近" in " | ".join(result.scores["factors_zh"])


# --------------------------------------------------------------------------- risk and targets


def test_risk_list(logreg_result: C.ChurnResult) -> None:
    segments = pd.Series("A", index=logreg_result.scores.index)
    value = pd.Series(100.0, index=logreg_result.scores.index)
    risk = C.risk_list(logreg_result, segments=segments, value=value)
    assert risk["probability"].is_monotonic_decreasing
    assert risk["rank"].tolist() == list(range(1, len(risk) + 1))
    assert np.allclose(risk["expected_loss"], risk["probability"] * 100.0)
    assert {"segment", "factors_en", "factors_zh", "actual"} <= set(risk.columns)
    # out-of-fold probabilities, not the final model's fit on the same customers
    assert (
        risk.set_index("customer_id")["probability"]
        .sort_index()
        .equals(logreg_result.evaluation["probability"].sort_index())
    )


def _risk() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(10)],
            "probability": [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.05, 0.5],
            "value": [100.0] * 9 + [np.nan],
        }
    )


def test_target_list_budgets() -> None:
    risk = _risk()
    everyone = C.target_list(risk, cost_per_contact=5.0, save_rate=0.5)
    # saved = p * 100 * 0.5 > 5 <=> p > 0.1: c8 (p 0.05) and c9 (no value) drop out
    assert everyone["customer_id"].tolist() == [f"c{i}" for i in range(8)]
    assert everyone["expected_saved_value"].is_monotonic_decreasing
    assert C.target_list(risk, budget_n=3, cost_per_contact=5.0, save_rate=0.5).shape[0] == 3
    by_money = C.target_list(risk, budget_money=24.0, cost_per_contact=5.0, save_rate=0.5)
    assert len(by_money) == 4 and by_money["cumulative_cost"].iloc[-1] == 20.0
    both = C.target_list(risk, budget_n=2, budget_money=24.0, cost_per_contact=5.0, save_rate=0.5)
    assert len(both) == 2
    assert np.allclose(both["cumulative_net_value"], both["net_value"].cumsum())
    free = C.target_list(risk, budget_money=1.0, cost_per_contact=0.0, save_rate=0.5)
    assert len(free) == 9  # contacts cost nothing: the money budget does not bind
    assert C.target_list(risk, budget_n=0).empty


@pytest.mark.parametrize(
    "kwargs", [{"budget_n": -1}, {"budget_money": -5}, {"cost_per_contact": -1}, {"save_rate": 2}]
)
def test_target_list_bad_input(kwargs: dict) -> None:
    with pytest.raises(ParameterError):
        C.target_list(_risk(), **kwargs)


def test_target_list_needs_values(logreg_result: C.ChurnResult) -> None:
    with pytest.raises(DataRequirementError, match="no customer values"):
        C.target_list(C.risk_list(logreg_result))


# --------------------------------------------------------------------------- saving


def test_serialize_round_trip(contract: Dataset, hgb_result: C.ChurnResult) -> None:
    data = C.serialize_model(hgb_result)
    header = C.read_model_header(data)
    assert header["metadata"]["features"] == hgb_result.model.features
    assert header["metadata"]["data_fingerprint"] == "fp-test"
    assert header["metadata"]["metrics"]["roc_auc"] == pytest.approx(hgb_result.metrics["roc_auc"])
    model = C.load_model(data)
    scored = C.score_dataset(model, contract)
    expected = C.score_dataset(hgb_result.model, contract)
    pd.testing.assert_frame_equal(scored, expected)
    assert scored.index.name == "customer_id" and len(scored) == 400
    quick = C.score_dataset(model, contract, explain=False)
    np.testing.assert_allclose(quick["probability"], scored["probability"])


def test_tampered_or_foreign_bytes_are_refused(hgb_result: C.ChurnResult) -> None:
    data = C.serialize_model(hgb_result)
    flipped = bytearray(data)
    flipped[-100] ^= 0x01
    with pytest.raises(InputError, match="integrity"):
        C.load_model(bytes(flipped))
    with pytest.raises(InputError, match="integrity"):
        C.load_model(data[:-1])
    with pytest.raises(InputError, match="not a churn model"):
        C.load_model(b"\x80\x04K\x01.")  # a bare pickle
    with pytest.raises(InputError, match="not a churn model"):
        C.load_model(b"")
    bumped = data.replace(b'"version": 1', b'"version": 9', 1)
    with pytest.raises(InputError, match="format version 9"):
        C.load_model(bumped)
    keyed = C.serialize_model(hgb_result, key=b"workspace-secret")
    assert isinstance(C.load_model(keyed, key=b"workspace-secret"), C.TrainedModel)
    with pytest.raises(InputError, match="integrity"):
        C.load_model(keyed, key=b"other-secret")
    with pytest.raises(InputError, match="integrity"):
        C.load_model(data, key=b"workspace-secret")  # written without the key


def test_scoring_a_dataset_without_a_feature(hgb_result: C.ChurnResult) -> None:
    other = _contract_customers(n=50, seed=5).drop(columns=["tenure"])
    with pytest.raises(DataRequirementError) as err:
        C.score_dataset(hgb_result.model, _dataset(other))
    assert "tenure" in err.value.message("en")


def test_scoring_derived_model_on_other_dates() -> None:
    shop = _shop()
    result = C.run_churn(shop, DERIVED, _params(explain=False))
    early = C.score_dataset(result.model, shop, as_of="2024-06-01", explain=False)
    late = C.score_dataset(result.model, shop, explain=False)
    assert len(early) <= len(late) and early["probability"].between(0, 1).all()


# --------------------------------------------------------------------------- sample data


@pytest.fixture(scope="module")
def sample() -> Dataset:
    return load_sample()


def test_sample_derived_label_matches_planted_churners(sample: Dataset) -> None:
    frame = C.build_churn_frame(sample, DERIVED)
    planted = sample.tables["customers"].set_index("customer_id")["churn"]
    assert len(frame.y) == len(planted)  # every sample customer bought before 2024-10-03
    assert (frame.y == planted.reindex(frame.y.index)).all()
    assert frame.churn_rate == pytest.approx(0.3346, abs=1e-4)


@pytest.mark.parametrize("model", ["logreg", "hgb"])
def test_sample_planted_drivers_rank_high(sample: Dataset, model: str) -> None:
    """Complaints, falling order frequency and low satisfaction are planted churn drivers."""
    result = C.run_churn(sample, DERIVED, C.ChurnModelParams(model=model))
    top = result.importance["feature"].head(5).tolist()
    assert "contacts_complaint" in top
    assert {"order_trend_180d", "trend_90d"} & set(top)
    assert {"feedback_score_mean", "feedback_nps_mean"} & set(top)


# --------------------------------------------------------------------------- charts


def test_charts(logreg_result: C.ChurnResult, hgb_result: C.ChurnResult) -> None:
    both = {"logreg": logreg_result, "hgb": hgb_result}
    for lang, title in (("en", "ROC curve"), ("zh", "ROC 曲线")):
        figures = [
            charts.roc_chart(both, lang),
            charts.pr_chart(both, lang),
            charts.confusion_chart(logreg_result, 0.3, lang),
            charts.gains_chart(logreg_result, lang),
            charts.calibration_chart(both, lang),
            charts.importance_chart(logreg_result, lang),
            charts.partial_dependence_chart(logreg_result, lang),
            charts.risk_histogram(logreg_result, lang=lang),
            charts.risk_histogram(C.risk_list(logreg_result), 0.4, lang),
        ]
        assert all(isinstance(f, go.Figure) for f in figures)
        assert figures[0].layout.title.text == title
    zh = charts.confusion_chart(logreg_result, 0.3, "zh")
    assert "0.30" in zh.layout.title.text and list(zh.data[0].x) == ["留存", "流失"]
    m = C.metrics_at_threshold(logreg_result, 0.3)
    assert np.array(zh.data[0].z).tolist() == [[m["tn"], m["fp"]], [m["fn"], m["tp"]]]
    names = [trace.name for trace in charts.roc_chart(both).data]
    assert names[0].startswith("Logistic regression (AUC 0.")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_gains_chart_writes_its_shared_x_title_once(
    logreg_result: C.ChurnResult, lang: str
) -> None:
    """Both panels share "share of customers contacted": written once, centred under both (two
    copies at half a page's width ran into each other), and the legend sits below it."""
    fig = charts.gains_chart(logreg_result, lang)
    x_title = t("churn.chart.gains.x", lang)
    texts = [a.text for a in fig.layout.annotations]
    assert texts.count(x_title) == 1
    assert fig.layout.xaxis.title.text is None and fig.layout.xaxis2.title.text is None
    annotation = next(a for a in fig.layout.annotations if a.text == x_title)
    assert annotation.x == 0.5 and annotation.xref == "paper" and annotation.yanchor == "top"
    assert fig.layout.legend.y < 0 and fig.layout.margin.b >= 100
    assert fig.layout.xaxis.domain[1] < fig.layout.xaxis2.domain[0]


def test_charts_escape_user_feature_names() -> None:
    customers = _contract_customers().rename(columns={"tenure": "<b>tenure</b>"})
    result = C.run_churn(_dataset(customers), LABEL, _params())
    fig = charts.importance_chart(result)
    assert any("‹b›" in label for label in fig.data[0].y)
    assert not any("<b>" in label for label in fig.data[0].y)
    empty = replace(result, importance=result.importance.iloc[0:0], partial_dependence={})
    assert charts.importance_chart(empty).layout.annotations[0].text == "Nothing to show"
    assert (
        charts.partial_dependence_chart(empty, "zh").layout.annotations[0].text == "暂无可显示内容"
    )


def test_risk_list_exports_safely() -> None:
    from crm_core.export import to_csv_bytes, to_xlsx_bytes

    customers = _contract_customers(n=120)
    customers.loc[0, "customer_id"] = "=HYPERLINK(1)"
    result = C.run_churn(_dataset(customers), LABEL, _params(cv_folds=3))
    risk = C.risk_list(result, value=pd.Series(50.0, index=customers["customer_id"]))
    text = to_csv_bytes(risk).decode("utf-8-sig")
    assert "'=HYPERLINK(1)" in text and "factors_zh" in text
    assert to_xlsx_bytes({"risk": risk, "targets": C.target_list(risk)}).startswith(b"PK")
