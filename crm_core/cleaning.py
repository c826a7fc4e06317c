"""Cleaning as a replayable recipe: a list of small, named steps saved with the dataset.

A recipe is data (JSON), not code, so the same cleaning can be shown, edited and replayed on the
next file with the same layout, and every step logs how many rows it removed. Steps compute their
thresholds (median, quantiles) from the frame they are applied to. Nothing mutates its input.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from crm_core.errors import ParameterError
from crm_core.schema import Problem, cancellation_mask, duplicated_rows

FILL_METHODS: tuple[str, ...] = ("median", "mode", "constant", "drop")

# op -> {param: default}; a default of ... means required.
OPS: dict[str, dict[str, Any]] = {
    "drop_exact_duplicates": {},
    "drop_cancellations": {},
    "keep_cancellations": {},
    "drop_missing_customer": {},
    "fill_missing": {"column": ..., "method": "median", "value": None},
    "clip_outliers": {"column": ..., "lower": 0.01, "upper": 0.99},
    "drop_nonpositive": {"column": ...},
}

# Steps whose second application changes nothing (used by tests and the UI's replay notice).
IDEMPOTENT_OPS: frozenset[str] = frozenset(
    {
        "drop_exact_duplicates",
        "drop_cancellations",
        "keep_cancellations",
        "drop_missing_customer",
        "fill_missing",
        "drop_nonpositive",
    }
)


@dataclass(frozen=True)
class CleaningStep:
    """One operation and its parameters; unknown ops or bad parameters raise ParameterError."""

    op: str
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.op not in OPS:
            raise ParameterError("schema.error.unknown_op", op=self.op)
        spec = OPS[self.op]
        unknown = set(self.params) - set(spec)
        if unknown:
            raise ParameterError(
                "schema.error.bad_step_param", op=self.op, param=sorted(unknown)[0]
            )
        full = {k: self.params.get(k, v) for k, v in spec.items()}
        for key, value in full.items():
            if value is ...:
                raise ParameterError("schema.error.bad_step_param", op=self.op, param=key)
        if "column" in full and (not isinstance(full["column"], str) or not full["column"]):
            raise ParameterError("schema.error.bad_step_param", op=self.op, param="column")
        if self.op == "fill_missing":
            if full["method"] not in FILL_METHODS:
                raise ParameterError("schema.error.bad_step_param", op=self.op, param="method")
            if full["method"] == "constant" and full["value"] is None:
                raise ParameterError("schema.error.bad_step_param", op=self.op, param="value")
        if self.op == "clip_outliers":
            lower, upper = full["lower"], full["upper"]
            for name, q in (("lower", lower), ("upper", upper)):
                if q is not None and (not isinstance(q, int | float) or not 0 <= q <= 1):
                    raise ParameterError("schema.error.bad_step_param", op=self.op, param=name)
            if lower is not None and upper is not None and lower >= upper:
                raise ParameterError("schema.error.bad_step_param", op=self.op, param="lower")
        object.__setattr__(self, "params", full)

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True, default=str))

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form: ``{"op": ..., "params": {...}}``."""
        return {"op": self.op, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: Any) -> CleaningStep:
        """Build from ``to_dict`` output; anything malformed raises ParameterError."""
        if not isinstance(data, dict) or "op" not in data:
            raise ParameterError("schema.error.bad_recipe_json", detail=repr(data)[:80])
        params = data.get("params") or {}
        if not isinstance(params, dict):
            raise ParameterError("schema.error.bad_recipe_json", detail=repr(params)[:80])
        return cls(str(data["op"]), dict(params))


@dataclass(frozen=True)
class Recipe:
    """An ordered list of cleaning steps."""

    steps: tuple[CleaningStep, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "steps", tuple(self.steps))
        for step in self.steps:
            if not isinstance(step, CleaningStep):
                raise ParameterError("schema.error.bad_recipe_json", detail=repr(step)[:80])

    def __iter__(self) -> Iterator[CleaningStep]:
        return iter(self.steps)

    def __len__(self) -> int:
        return len(self.steps)

    def append(self, step: CleaningStep) -> Recipe:
        """A new recipe with ``step`` added at the end."""
        return Recipe((*self.steps, step))

    def to_json(self) -> str:
        """Stable JSON text for the workspace store."""
        return json.dumps(
            {"version": 1, "steps": [s.to_dict() for s in self.steps]},
            ensure_ascii=False,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Recipe:
        """Parse ``to_json`` output (or a bare list of steps); unknown ops raise ParameterError."""
        try:
            data = json.loads(text)
        except (ValueError, TypeError) as exc:
            raise ParameterError("schema.error.bad_recipe_json", detail=str(exc)[:80]) from exc
        steps = data.get("steps") if isinstance(data, dict) else data
        if not isinstance(steps, list):
            raise ParameterError("schema.error.bad_recipe_json", detail=repr(data)[:80])
        return cls(tuple(CleaningStep.from_dict(s) for s in steps))


@dataclass(frozen=True)
class StepLog:
    """What one step did: rows before and after, plus step-specific details (fill value, …)."""

    step: CleaningStep
    rows_before: int
    rows_after: int
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def removed(self) -> int:
        """Rows the step removed."""
        return self.rows_before - self.rows_after


def _column(frame: pd.DataFrame, step: CleaningStep) -> pd.Series:
    column = step.params["column"]
    if column not in frame.columns:
        raise ParameterError("schema.error.missing_column", op=step.op, column=column)
    return frame[column]


def _numeric(series: pd.Series, step: CleaningStep) -> pd.Series:
    if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
        raise ParameterError("schema.error.not_numeric", op=step.op, column=series.name)
    return series


def _apply_step(frame: pd.DataFrame, step: CleaningStep) -> tuple[pd.DataFrame, dict[str, Any]]:
    op, params = step.op, step.params
    if op == "drop_exact_duplicates":
        return frame[~duplicated_rows(frame)], {}
    if op == "keep_cancellations":
        return frame, {}
    if op == "drop_cancellations":
        if not {"order_id", "quantity", "amount"} & set(frame.columns):
            raise ParameterError("schema.error.missing_column", op=op, column="order_id")
        return frame[~cancellation_mask(frame)], {}
    if op == "drop_missing_customer":
        if "customer_id" not in frame.columns:
            raise ParameterError("schema.error.missing_column", op=op, column="customer_id")
        ids = frame["customer_id"]
        empty = ids.isna()
        if pd.api.types.is_string_dtype(ids):
            empty = empty | (ids.astype("str").str.strip() == "").fillna(False).astype(bool)
        return frame[~empty], {}
    if op == "drop_nonpositive":
        series = _numeric(_column(frame, step), step)
        return frame[~(series <= 0).fillna(False).astype(bool)], {}
    if op == "clip_outliers":
        series = _numeric(_column(frame, step), step).astype("float64")
        lower = series.quantile(params["lower"]) if params["lower"] is not None else None
        upper = series.quantile(params["upper"]) if params["upper"] is not None else None
        clipped = series.clip(lower=lower, upper=upper)
        changed = int((clipped != series).fillna(False).astype(bool).sum())
        out = frame.copy(deep=False)  # copy-on-write: the column swap never reaches `frame`
        out[params["column"]] = clipped
        details = {"lower_value": _plain(lower), "upper_value": _plain(upper), "changed": changed}
        return out, details
    if op == "fill_missing":
        series = _column(frame, step)
        missing = series.isna()
        method = params["method"]
        if method == "drop":
            return frame[~missing], {"filled": 0}
        if not missing.any():
            return frame, {"filled": 0}
        if method == "median":
            _numeric(series, step)
            value = series.median()
            if pd.api.types.is_integer_dtype(series) and pd.notna(value):
                value = round(float(value))
        elif method == "mode":
            modes = series.mode(dropna=True)
            value = modes.iloc[0] if len(modes) else None
        else:
            value = params["value"]
            if pd.api.types.is_numeric_dtype(series):
                try:
                    value = float(value)
                except (TypeError, ValueError) as exc:
                    raise ParameterError(
                        "schema.error.bad_step_param", op=op, param="value"
                    ) from exc
            elif pd.api.types.is_datetime64_any_dtype(series):
                value = pd.Timestamp(value)
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return frame, {"filled": 0, "value": None}
        out = frame.copy(deep=False)  # copy-on-write: the column swap never reaches `frame`
        out[params["column"]] = series.fillna(value)
        return out, {"filled": int(missing.sum()), "value": _plain(value)}
    raise ParameterError("schema.error.unknown_op", op=op)  # pragma: no cover - checked on init


def _plain(value: Any) -> Any:
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def apply_recipe(
    frame: pd.DataFrame, recipe: Recipe | Iterable[CleaningStep]
) -> tuple[pd.DataFrame, list[StepLog]]:
    """Run the steps in order on a copy; returns the cleaned frame (original index kept, so rows
    stay traceable) and one log per step. The copies are shallow: pandas' copy-on-write keeps
    the input unchanged whatever a step does, without copying five million rows twice."""
    steps = recipe.steps if isinstance(recipe, Recipe) else tuple(recipe)
    current = frame.copy(deep=False)
    logs: list[StepLog] = []
    for step in steps:
        before = len(current)
        current, details = _apply_step(current, step)
        logs.append(StepLog(step, before, len(current), details))
    return current.copy(deep=False), logs


_KIND_DROP_MISSING = ("date", "amount", "unit_price", "quantity", "score", "churn", "responded")


def suggest_recipe(problems: Iterable[Problem]) -> Recipe:
    """A sensible default recipe from validation problems: drop rows without a customer,
    cancellations and returns, non-positive prices/amounts, exact duplicates, and rows missing a
    value an analysis needs. Outliers are reported, not clipped (big customers are real)."""
    found: dict[str, list[Problem]] = {}
    for problem in problems:
        found.setdefault(problem.key, []).append(problem)
    steps: list[CleaningStep] = []
    if "schema.problem.empty_customer" in found:
        steps.append(CleaningStep("drop_missing_customer"))
    if "schema.problem.cancellations" in found or "schema.problem.returns" in found:
        steps.append(CleaningStep("drop_cancellations"))
    for problem in found.get("schema.problem.nonpositive", []):
        if problem.column:
            steps.append(CleaningStep("drop_nonpositive", {"column": problem.column}))
    for problem in found.get("schema.problem.missing_values", []):
        if problem.column in _KIND_DROP_MISSING:
            steps.append(CleaningStep("fill_missing", {"column": problem.column, "method": "drop"}))
    if "schema.problem.duplicate_rows" in found:
        steps.append(CleaningStep("drop_exact_duplicates"))
    return Recipe(tuple(dict.fromkeys(steps)))


def describe_step(step: CleaningStep, lang: str = "en") -> str:
    """A one-line translated description of a step, for the recipe list on the Data page."""
    from crm_core.i18n import t

    return t(f"schema.step.{step.op}", lang, **step.params)
