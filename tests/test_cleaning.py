"""Tests for crm_core.cleaning: steps, recipes, replay, suggestions and the Online Retail recipe."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_core.cleaning import (
    IDEMPOTENT_OPS,
    OPS,
    CleaningStep,
    Recipe,
    StepLog,
    apply_recipe,
    describe_step,
    suggest_recipe,
)
from crm_core.errors import ParameterError
from crm_core.schema import Problem, apply_mapping, auto_map, validate

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def transactions() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(["a", "a", None, "b", "c", "d", " "], dtype="str"),
            "order_id": pd.Series(["1", "1", "2", "C3", "4", "5", "6"], dtype="str"),
            "quantity": [1.0, 1.0, 2.0, -1.0, 1.0, -2.0, np.nan],
            "unit_price": [10.0, 10.0, 5.0, 10.0, 0.0, 12.0, 3.0],
            "amount": [10.0, 10.0, 10.0, -10.0, 0.0, -24.0, np.nan],
        }
    )


def run(frame: pd.DataFrame, *steps: CleaningStep) -> tuple[pd.DataFrame, list[StepLog]]:
    return apply_recipe(frame, Recipe(steps))


# ---------------------------------------------------------------------------------- steps


def test_unknown_op_and_bad_params_raise() -> None:
    with pytest.raises(ParameterError) as err:
        CleaningStep("make_it_nice")
    assert err.value.key == "schema.error.unknown_op"
    with pytest.raises(ParameterError):
        CleaningStep("drop_nonpositive")  # column required
    with pytest.raises(ParameterError):
        CleaningStep("drop_nonpositive", {"column": "amount", "extra": 1})
    with pytest.raises(ParameterError):
        CleaningStep("fill_missing", {"column": "amount", "method": "magic"})
    with pytest.raises(ParameterError):
        CleaningStep("fill_missing", {"column": "amount", "method": "constant"})
    with pytest.raises(ParameterError):
        CleaningStep("clip_outliers", {"column": "amount", "lower": 0.9, "upper": 0.1})
    with pytest.raises(ParameterError):
        CleaningStep("clip_outliers", {"column": "amount", "upper": 1.5})


def test_defaults_are_filled_in() -> None:
    step = CleaningStep("clip_outliers", {"column": "amount"})
    assert step.params == {"column": "amount", "lower": 0.01, "upper": 0.99}
    assert CleaningStep("fill_missing", {"column": "x"}).params["method"] == "median"


def test_recipe_json_round_trip() -> None:
    recipe = Recipe(
        (
            CleaningStep("drop_missing_customer"),
            CleaningStep("drop_cancellations"),
            CleaningStep("fill_missing", {"column": "amount", "method": "constant", "value": 0}),
            CleaningStep("clip_outliers", {"column": "amount", "lower": None, "upper": 0.95}),
        )
    )
    text = recipe.to_json()
    assert Recipe.from_json(text) == recipe
    assert len(Recipe.from_json(text)) == 4
    assert [s.op for s in Recipe.from_json(json.dumps(json.loads(text)["steps"]))] == [
        "drop_missing_customer",
        "drop_cancellations",
        "fill_missing",
        "clip_outliers",
    ]


@pytest.mark.parametrize(
    "text",
    [
        '{"steps": [{"op": "drop_everything", "params": {}}]}',
        '{"steps": [{"params": {}}]}',
        '{"steps": [{"op": "drop_nonpositive", "params": []}]}',
        '{"steps": 3}',
        "not json",
    ],
)
def test_bad_recipe_json_raises_parameter_error(text: str) -> None:
    with pytest.raises(ParameterError):
        Recipe.from_json(text)


def test_drop_exact_duplicates() -> None:
    out, logs = run(transactions(), CleaningStep("drop_exact_duplicates"))
    assert len(out) == 6 and logs[0].rows_before == 7 and logs[0].removed == 1


def test_drop_and_keep_cancellations() -> None:
    out, logs = run(transactions(), CleaningStep("drop_cancellations"))
    assert out["order_id"].tolist() == ["1", "1", "2", "4", "6"]
    assert logs[0].removed == 2
    kept, logs = run(transactions(), CleaningStep("keep_cancellations"))
    assert len(kept) == 7 and logs[0].removed == 0


def test_drop_missing_customer_treats_blank_as_missing() -> None:
    out, logs = run(transactions(), CleaningStep("drop_missing_customer"))
    assert out["customer_id"].tolist() == ["a", "a", "b", "c", "d"]
    assert logs[0].removed == 2


def test_drop_nonpositive_keeps_missing_values() -> None:
    out, _ = run(transactions(), CleaningStep("drop_nonpositive", {"column": "quantity"}))
    assert out["quantity"].isna().sum() == 1
    assert (out["quantity"].dropna() > 0).all()


@pytest.mark.parametrize(
    ("method", "value", "expected"),
    [("median", None, 5.0), ("mode", None, 10.0), ("constant", 7, 7.0)],
)
def test_fill_missing(method: str, value, expected: float) -> None:
    params = {"column": "amount", "method": method}
    if value is not None:
        params["value"] = value
    out, logs = run(transactions(), CleaningStep("fill_missing", params))
    assert out["amount"].iloc[6] == expected
    assert logs[0].details["filled"] == 1 and logs[0].removed == 0


def test_fill_missing_drop_and_text_mode() -> None:
    out, logs = run(
        transactions(), CleaningStep("fill_missing", {"column": "amount", "method": "drop"})
    )
    assert len(out) == 6 and logs[0].removed == 1
    out, _ = run(
        transactions(), CleaningStep("fill_missing", {"column": "customer_id", "method": "mode"})
    )
    assert out["customer_id"].iloc[2] == "a"
    with pytest.raises(ParameterError):
        run(transactions(), CleaningStep("fill_missing", {"column": "customer_id"}))  # median


def test_clip_outliers() -> None:
    frame = pd.DataFrame({"amount": [float(i) for i in range(100)] + [10_000.0]})
    out, logs = run(
        frame, CleaningStep("clip_outliers", {"column": "amount", "lower": 0.0, "upper": 0.9})
    )
    assert out["amount"].max() == pytest.approx(frame["amount"].quantile(0.9))
    assert logs[0].details["changed"] == 10
    assert logs[0].removed == 0


def test_missing_or_non_numeric_columns_raise() -> None:
    with pytest.raises(ParameterError):
        run(transactions(), CleaningStep("drop_nonpositive", {"column": "nope"}))
    with pytest.raises(ParameterError):
        run(transactions(), CleaningStep("drop_nonpositive", {"column": "order_id"}))
    with pytest.raises(ParameterError):
        run(pd.DataFrame({"x": [1]}), CleaningStep("drop_missing_customer"))
    with pytest.raises(ParameterError):
        run(pd.DataFrame({"x": [1]}), CleaningStep("drop_cancellations"))


def test_apply_recipe_never_mutates_and_logs_each_step() -> None:
    frame = transactions()
    before = frame.copy()
    recipe = Recipe(
        (
            CleaningStep("drop_missing_customer"),
            CleaningStep("fill_missing", {"column": "amount", "method": "median"}),
            CleaningStep("clip_outliers", {"column": "unit_price"}),
            CleaningStep("drop_exact_duplicates"),
        )
    )
    out, logs = apply_recipe(frame, recipe)
    pd.testing.assert_frame_equal(frame, before)
    assert [log.step.op for log in logs] == [s.op for s in recipe]
    assert logs[0].rows_before == 7
    assert all(a.rows_after == b.rows_before for a, b in itertools.pairwise(logs))
    assert logs[-1].rows_after == len(out)
    assert out.index.tolist() == [0, 3, 4, 5]  # original labels kept for traceability


@pytest.mark.parametrize(
    "steps",
    [
        (),
        (CleaningStep("keep_cancellations"),),
        (CleaningStep("fill_missing", {"column": "amount", "method": "median"}),),
        (CleaningStep("clip_outliers", {"column": "unit_price"}),),
    ],
)
def test_editing_the_cleaned_frame_never_reaches_the_input(steps: tuple) -> None:
    """The copies are shallow (copy-on-write), so an edit of the result must stay there."""
    frame = transactions()
    before = frame.copy()
    out, _logs = apply_recipe(frame, Recipe(steps))
    assert out is not frame
    out.loc[out.index[0], "amount"] = 123456.0
    out.loc[out.index[0], "customer_id"] = "edited"
    out["extra"] = 1
    pd.testing.assert_frame_equal(frame, before)


def test_suggest_recipe_from_problems() -> None:
    frame = pd.DataFrame(
        {
            "customer_id": pd.Series(["a", "a", None, "b"], dtype="str"),
            "order_id": pd.Series(["1", "1", "2", "C3"], dtype="str"),
            "date": pd.to_datetime(["2024-01-01", "2024-01-01", None, "2024-01-02"]),
            "quantity": [1.0, 1.0, 2.0, -1.0],
            "unit_price": [10.0, 10.0, 0.0, 10.0],
            "amount": [10.0, 10.0, 0.0, -10.0],
        }
    )
    recipe = suggest_recipe(validate(frame, "transactions"))
    ops = [(s.op, s.params.get("column")) for s in recipe]
    assert ops == [
        ("drop_missing_customer", None),
        ("drop_cancellations", None),
        ("drop_nonpositive", "amount"),
        ("drop_nonpositive", "unit_price"),
        ("fill_missing", "date"),
        ("drop_exact_duplicates", None),
    ]
    cleaned, _ = apply_recipe(frame, recipe)
    assert len(cleaned) == 1
    assert suggest_recipe([]) == Recipe()
    outliers = Problem("warning", "schema.problem.outliers", {"column": "amount", "count": 3})
    assert len(suggest_recipe([outliers])) == 0


def test_describe_step_in_both_languages() -> None:
    step = CleaningStep("drop_nonpositive", {"column": "unit_price"})
    assert "unit_price" in describe_step(step, "en")
    assert "unit_price" in describe_step(step, "zh")
    for op in OPS:
        params = {"column": "x"} if "column" in OPS[op] else {}
        if op == "fill_missing":
            params["method"] = "drop"
        assert not describe_step(CleaningStep(op, params)).startswith("schema.")


# ---------------------------------------------------------------------------------- properties


@st.composite
def frames(draw) -> pd.DataFrame:
    n = draw(st.integers(min_value=0, max_value=25))
    cust = draw(st.lists(st.sampled_from(["a", "b", "c", None]), min_size=n, max_size=n))
    orders = draw(st.lists(st.sampled_from(["1", "2", "C3", "4"]), min_size=n, max_size=n))
    num = st.one_of(st.none(), st.sampled_from([-2.0, -1.0, 0.0, 1.0, 2.5, 3.0, 100.0]))
    qty = draw(st.lists(num, min_size=n, max_size=n))
    price = draw(st.lists(num, min_size=n, max_size=n))
    return pd.DataFrame(
        {
            "customer_id": pd.Series(cust, dtype="str"),
            "order_id": pd.Series(orders, dtype="str"),
            "quantity": pd.Series(qty, dtype="float64"),
            "unit_price": pd.Series(price, dtype="float64"),
        }
    )


IDEMPOTENT_STEPS = [
    CleaningStep("drop_exact_duplicates"),
    CleaningStep("drop_cancellations"),
    CleaningStep("keep_cancellations"),
    CleaningStep("drop_missing_customer"),
    CleaningStep("drop_nonpositive", {"column": "quantity"}),
    CleaningStep("fill_missing", {"column": "unit_price", "method": "median"}),
    CleaningStep("fill_missing", {"column": "unit_price", "method": "mode"}),
    CleaningStep("fill_missing", {"column": "quantity", "method": "constant", "value": 1}),
    CleaningStep("fill_missing", {"column": "customer_id", "method": "drop"}),
]


def test_idempotent_steps_cover_every_idempotent_op() -> None:
    assert {s.op for s in IDEMPOTENT_STEPS} == set(IDEMPOTENT_OPS)


@settings(max_examples=60, deadline=None)
@given(frame=frames(), step=st.sampled_from(IDEMPOTENT_STEPS))
def test_property_idempotent_steps_apply_twice_equals_once(frame, step) -> None:
    before = frame.copy()
    once, _ = run(frame, step)
    twice, logs = run(once, step)
    pd.testing.assert_frame_equal(once, twice)
    assert logs[0].removed == 0
    pd.testing.assert_frame_equal(frame, before)


@settings(max_examples=60, deadline=None)
@given(frame=frames(), steps=st.lists(st.sampled_from(IDEMPOTENT_STEPS), max_size=6))
def test_property_recipe_replays_from_json_and_never_mutates(frame, steps) -> None:
    before = frame.copy()
    recipe = Recipe(tuple(steps))
    first, logs = apply_recipe(frame, recipe)
    replayed, _ = apply_recipe(frame, Recipe.from_json(recipe.to_json()))
    pd.testing.assert_frame_equal(first, replayed)
    pd.testing.assert_frame_equal(frame, before)
    assert len(logs) == len(steps)
    assert all(log.rows_after <= log.rows_before for log in logs)
    assert set(first.index) <= set(frame.index)


# ---------------------------------------------------------------------------------- real data


@pytest.mark.slow
def test_online_retail_rfm_recipe() -> None:
    path = DATASETS / "online_retail" / "online_retail.csv.gz"
    if not path.exists():
        pytest.skip(f"dataset missing: {path}")
    raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
    typed = apply_mapping(raw, auto_map(raw))
    recipe = Recipe(
        (
            CleaningStep("drop_missing_customer"),
            CleaningStep("drop_cancellations"),
            CleaningStep("drop_nonpositive", {"column": "quantity"}),
            CleaningStep("drop_nonpositive", {"column": "unit_price"}),
        )
    )
    cleaned, logs = apply_recipe(typed.frame, recipe)
    assert logs[0].rows_after == 406_829
    assert len(cleaned) == 397_884
    assert cleaned["customer_id"].nunique() == 4_338
    assert cleaned["amount"].sum() == pytest.approx(8_911_407.90, abs=0.01)
    assert len(typed.frame) == 541_909  # input untouched
    suggested = suggest_recipe(validate(typed, "transactions"))
    assert {s.op for s in suggested} >= {
        "drop_missing_customer",
        "drop_cancellations",
        "drop_exact_duplicates",
    }
