"""Satisfaction drivers: what moves the score customers give, and by how much.

Driver table. One row per feedback response with a usable score. Its features are:

* the response itself: its channel and low-cardinality extra categoricals of the feedback table,
  the calendar month and the time index (months since the first response);
* the customer: attributes from the customers table (:func:`crm_core.features.
  attribute_features`: never ids, free text or outcome labels such as churn) and the customer's
  segment (:func:`crm_core.segment_labels.segment_labels`: a saved segmentation or RFM);
* the order, when the feedback and the transactions both carry an order id: order value,
  number of items, mean unit price, main category, extra numeric columns (a value repeated on
  every line of an order is taken once, a value that varies per line is summed), extra
  low-cardinality categoricals, and for extra columns that hold dates (nearly every value parses
  with one detected format): the days from the order date to each, and the difference in days
  between each pair, ``first − second`` in the table's column order.

Free text never becomes a feature; nothing is special-cased for a particular file.

Target. ``score`` (or ``nps``) as a number on its scale, or ``satisfied``: score at or above a
threshold (4 on 1–5, 9 = promoters on 0–10) as 0/1. ``auto`` scale: only 0 and 1 is binary, values
within 1–5 are 1–5, within 0–10 are 0–10, anything else is an error that names the range found.
With a stated scale, scores outside it are dropped and counted in a note.

Models. scikit-learn Pipelines (median imputation with missing indicators and scaling for numbers,
one-hot encoding of categories with rare levels pooled and unknown levels ignored) around ridge /
logistic regression, a random forest or histogram gradient boosting, all seeded. Evaluation is
k-fold cross-validation (stratified for ``satisfied``): every response's prediction comes from a
model that did not see it, compared with the same folds' baseline (the training mean, or the
base rate). Importance is permutation importance on the raw columns of the last fold's held-out
rows (increase in MAE, or drop in ROC-AUC), so a category counts once, whatever its levels.

What-if. :func:`what_if` is partial dependence at one point: the mean prediction of the final
model over a fixed, seeded sample of responses when every one of them gets the chosen value.
Regression predictions are clipped to the scale.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable, Hashable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import combinations
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    mean_absolute_error,
    mean_squared_error,
    r2_score,
    roc_auc_score,
)
from sklearn.model_selection import KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from crm_core.errors import DataRequirementError, ParameterError
from crm_core.features import MAX_ATTRIBUTE_CATEGORIES, _is_id_name, attribute_features
from crm_core.i18n import LANGUAGES, t
from crm_core.schema import detect_date_format, parse_dates
from crm_core.segmentation import Note
from crm_core.tables import ROLES, Dataset

if TYPE_CHECKING:
    from crm_core.store import Workspace

TARGETS: tuple[str, ...] = ("score", "satisfied", "nps")
SCALES: tuple[str, ...] = ("auto", "1-5", "0-10", "binary")
MODELS: tuple[str, ...] = ("linear", "rf", "hgb")
SCALE_RANGES: dict[str, tuple[float, float]] = {
    "1-5": (1.0, 5.0),
    "0-10": (0.0, 10.0),
    "binary": (0.0, 1.0),
}
DEFAULT_THRESHOLDS: dict[str, float] = {"1-5": 4.0, "0-10": 9.0, "binary": 1.0}
NO_SEGMENTS = "__none__"  # DriverParams.segmentation: leave the segment out

MIN_RESPONSES = 30
MAX_FOLDS = 20
MAX_ROWS = 20_000  # responses modelled at most (a seeded sample beyond)
MIN_CATEGORY_COUNT = 10  # rarer levels are pooled by the one-hot encoder
MAX_LEVELS = 30  # main-category levels kept; the rest become "(other)"
MAX_DATE_COLUMNS = 6  # extra date columns turned into day differences (15 pairs at most)
DATE_PARSE_RATE = 0.95  # share of non-empty values that must parse for a column to be a date
PI_ROWS = 2_000
PI_REPEATS = 3
PD_ROWS = 1_000  # responses averaged by partial dependence and what-if
PD_GRID = 20
PD_NUMERIC = 3
PD_CATEGORICAL = 2
PD_LEVELS = 20
MISSING = "(missing)"
OTHER = "(other)"
_DAY_NS = 86_400 * 10**9
_MONTH_DAYS = 30.4375

LOGREG_MAX_ITER = 2_000
RF_TREES = 100
RF_MAX_DEPTH = 12
RF_MAX_FEATURES = 0.3  # a share of the columns per split: fast, and as accurate on Olist
RF_MIN_SAMPLES_LEAF = 5
RF_MAX_SAMPLES = 5_000  # rows drawn per tree on larger data


@dataclass(frozen=True)
class DriverParams:
    """What to predict, on which scale, with which model; ``seed`` fixes every random step."""

    target: str = "score"  # "score" | "satisfied" | "nps"
    scale: str = "auto"  # "auto" | "1-5" | "0-10" | "binary"
    satisfied_threshold: float | None = None  # None: 4 on 1-5, 9 on 0-10 (promoters)
    model: str = "hgb"  # "linear" | "rf" | "hgb"
    cv_folds: int = 5
    seed: int = 42
    segmentation: str | None = None  # saved segmentation, RFM_CHOICE, NO_SEGMENTS; None: newest
    max_rows: int | None = MAX_ROWS


@dataclass
class DriverTable:
    """Model input: features ``X`` and target ``y`` per response, and how they were made."""

    X: pd.DataFrame
    y: pd.Series
    score: pd.Series  # the response's score on its scale (before a threshold)
    numeric: list[str]
    categorical: list[str]
    labels: dict[str, dict[str, str]]  # feature -> language -> label
    column: str  # feedback column of the score
    scale: str
    task: str  # "regression" or "classification"
    threshold: float | None
    notes: list[Note] = field(default_factory=list)
    dropped: int = 0  # responses outside the scale
    missing: int = 0  # responses without a score

    @property
    def features(self) -> list[str]:
        """Feature columns in pipeline order (numeric first)."""
        return [*self.numeric, *self.categorical]


@dataclass
class DriverResult:
    """One model's honest evaluation, importance, partial dependence and what-if sample."""

    params: DriverParams
    column: str
    scale: str
    task: str
    threshold: float | None
    table: pd.DataFrame  # the driver table: features + "target"
    numeric: list[str]
    categorical: list[str]
    labels: dict[str, dict[str, str]]
    metrics: dict[str, float]
    baseline: dict[str, float]
    predictions: pd.DataFrame  # per response: actual, predicted (out-of-fold), baseline
    importance: pd.DataFrame  # feature, label_en, label_zh, importance, std
    partial_dependence: dict[str, pd.DataFrame]  # feature -> value, predicted
    pipeline: Pipeline
    sample: pd.DataFrame  # responses that what-if averages over
    current: float  # mean prediction over the sample as it is
    notes: list[Note] = field(default_factory=list)
    dropped: int = 0
    missing: int = 0

    @property
    def features(self) -> list[str]:
        """Feature columns in pipeline order (numeric first)."""
        return [*self.numeric, *self.categorical]

    @property
    def n_responses(self) -> int:
        """Responses modelled."""
        return len(self.table)

    @property
    def bounds(self) -> tuple[float, float]:
        """Range of a prediction: the scale, or 0–1 for the share satisfied."""
        return (0.0, 1.0) if self.task == "classification" else SCALE_RANGES[self.scale]

    def label(self, feature: str, lang: str = "en") -> str:
        """Display label of a feature in ``lang``."""
        names = self.labels.get(feature, {})
        return names.get(lang, names.get("en", feature))


@dataclass
class DriverComparison:
    """Every model on the same responses and folds, side by side with the baseline."""

    results: dict[str, DriverResult]
    table: pd.DataFrame  # model, metrics...


# ---------------------------------------------------------------------------------------------
# Parameters and target
# ---------------------------------------------------------------------------------------------


def model_name(key: str, lang: str = "en") -> str:
    """Display name of a model key or of the baseline."""
    return t(f"drivers.model.{key}", lang)


def _bad(name: str, value: Any, allowed: str) -> ParameterError:
    return ParameterError("drivers.error.bad_param", name=name, value=str(value), allowed=allowed)


def _check_params(params: DriverParams) -> None:
    if params.target not in TARGETS:
        raise _bad("target", params.target, ", ".join(TARGETS))
    if params.scale not in SCALES:
        raise _bad("scale", params.scale, ", ".join(SCALES))
    if params.model not in MODELS:
        raise _bad("model", params.model, ", ".join(MODELS))
    if not 2 <= params.cv_folds <= MAX_FOLDS:
        raise _bad("cv_folds", params.cv_folds, f"2-{MAX_FOLDS}")
    if params.max_rows is not None and params.max_rows < MIN_RESPONSES:
        raise _bad("max_rows", params.max_rows, f">= {MIN_RESPONSES}")


def detect_scale(values: pd.Series) -> str:
    """``binary`` for 0/1 only, ``1-5`` within 1–5, ``0-10`` within 0–10; else a typed error."""
    finite = values[np.isfinite(values)]
    low, high = float(finite.min()), float(finite.max())
    if finite.isin([0.0, 1.0]).all():
        return "binary"
    if low >= 1 and high <= 5:
        return "1-5"
    if low >= 0 and high <= 10:
        return "0-10"
    raise ParameterError(
        "drivers.error.scale_unknown",
        hint="drivers.hint.scale",
        low=f"{low:g}",
        high=f"{high:g}",
    )


def _score_column(feedback: pd.DataFrame | None, target: str) -> str:
    """The feedback column holding the target's score (``satisfied`` falls back to nps)."""
    candidates = ("nps",) if target == "nps" else ("score", "nps")
    if feedback is not None and len(feedback):
        for column in candidates:
            if (
                column in feedback.columns
                and pd.to_numeric(feedback[column], "coerce").notna().any()
            ):
                return column
    raise DataRequirementError(
        "drivers.error.no_scores", hint="drivers.hint.map_scores", column=candidates[0]
    )


def _threshold(params: DriverParams, scale: str) -> float:
    threshold = params.satisfied_threshold
    if threshold is None:
        return DEFAULT_THRESHOLDS[scale]
    low, high = SCALE_RANGES[scale]
    if scale != "binary" and not low < threshold <= high:
        raise ParameterError(
            "drivers.error.bad_threshold",
            hint="drivers.hint.threshold",
            threshold=f"{threshold:g}",
            low=f"{low:g}",
            high=f"{high:g}",
        )
    return float(threshold)


def _check_target(y: np.ndarray, task: str, folds: int, threshold: float | None) -> None:
    """Enough responses, both classes (or more than one score), enough of each for the folds."""
    if len(y) < MIN_RESPONSES:
        raise DataRequirementError(
            "drivers.error.too_few",
            hint="drivers.hint.more_responses",
            rows=len(y),
            needed=MIN_RESPONSES,
        )
    if task == "regression":
        if np.unique(y).size < 2:
            raise DataRequirementError(
                "drivers.error.one_value", hint="drivers.hint.more_responses", value=f"{y[0]:g}"
            )
        return
    satisfied = int(np.sum(y == 1))
    other = len(y) - satisfied
    threshold_text = "1" if threshold is None else f"{threshold:g}"
    if satisfied == 0 or other == 0:
        raise DataRequirementError(
            "drivers.error.one_class",
            hint="drivers.hint.threshold",
            satisfied=satisfied,
            unsatisfied=other,
            threshold=threshold_text,
        )
    minority = min(satisfied, other)
    if minority < folds:
        error = DataRequirementError if minority < 2 else ParameterError
        raise error(
            "drivers.error.too_few_per_class",
            hint="drivers.hint.fewer_folds",
            count=minority,
            folds=folds,
        )


# ---------------------------------------------------------------------------------------------
# Driver table
# ---------------------------------------------------------------------------------------------


def _labels(key: str, **params: Any) -> dict[str, str]:
    """A feature label in every language."""
    return {lang: t(key, lang, **params) for lang in LANGUAGES}


def _categories(values: pd.Series) -> pd.Series | None:
    """Low-cardinality text as object strings (missing stays NaN); None for free text or keys."""
    text = values.astype("str").where(values.notna()).str.strip()
    text = text.where(text != "")
    present = int(text.notna().sum())
    distinct = text.nunique()
    if present == 0 or distinct < 2 or distinct > MAX_ATTRIBUTE_CATEGORIES:
        return None
    if distinct > max(present // 2, 2):
        return None  # nearly one value per row: an identifier or free text
    return text.astype(object)


def _response_features(
    feedback: pd.DataFrame,
) -> tuple[dict[str, pd.Series], dict[str, dict[str, str]]]:
    """Channel, extra low-cardinality categoricals, month and time index of each response."""
    out: dict[str, pd.Series] = {}
    labels: dict[str, dict[str, str]] = {}
    roles = set(ROLES["feedback"])
    if "channel" in feedback.columns:
        channel = _categories(feedback["channel"])
        if channel is not None:
            out["channel"] = channel
            labels["channel"] = _labels("drivers.feature.channel")
    for name in feedback.columns:
        if name in roles or _is_id_name(name):
            continue
        col = feedback[name]
        if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_datetime64_any_dtype(col):
            continue
        values = _categories(col)
        if values is not None:
            key = f"feedback.{name}"
            out[key] = values
            labels[key] = _labels("drivers.feature.response_attr", name=str(name))
    if "date" in feedback.columns:
        dates = pd.to_datetime(feedback["date"], errors="coerce")
        if dates.notna().any():
            month = dates.dt.month
            out["response.month"] = month.map(lambda m: f"{int(m):02d}", na_action="ignore").astype(
                object
            )
            labels["response.month"] = _labels("drivers.feature.month")
            first = dates.min()
            out["response.time"] = (dates - first).dt.days.astype(float) / _MONTH_DAYS
            labels["response.time"] = _labels("drivers.feature.time")
    return out, labels


def _customer_features(
    dataset: Dataset, customer_ids: pd.Series
) -> tuple[dict[str, pd.Series], dict[str, dict[str, str]]]:
    """Customer attributes (no ids, no free text, no outcome labels) for each response."""
    customers = dataset.get("customers")
    if customers is None or not len(customers) or "customer_id" not in customers.columns:
        return {}, {}
    outcome = [role for role, kind in ROLES["customers"].items() if kind == "label"]
    customers = customers.drop(columns=[c for c in outcome if c in customers.columns])
    attributes = attribute_features(customers)
    rows = attributes.reindex(customer_ids.astype("str").to_numpy())
    out: dict[str, pd.Series] = {}
    labels: dict[str, dict[str, str]] = {}
    for name in attributes.columns:
        col = rows[name]
        key = f"customer.{name}"
        if isinstance(col.dtype, pd.CategoricalDtype):
            out[key] = col.astype(object).where(col.notna())
        else:
            out[key] = col.astype(float)
        labels[key] = _labels("drivers.feature.customer_attr", name=str(name))
    return {k: v.set_axis(customer_ids.index) for k, v in out.items()}, labels


def _segment_feature(
    dataset: Dataset,
    params: DriverParams,
    workspace: Workspace | None,
    lang: str,
    customer_ids: pd.Series,
    notes: list[Note],
) -> tuple[dict[str, pd.Series], dict[str, dict[str, str]]]:
    """The customer's segment; none when switched off, or (with a note) when there is none."""
    if params.segmentation == NO_SEGMENTS:
        return {}, {}
    from crm_core.segment_labels import RFM_CHOICE, segment_labels

    try:
        segments = segment_labels(dataset, params.segmentation, workspace, lang)
    except DataRequirementError:
        if params.segmentation not in (None, RFM_CHOICE):
            raise  # a named segmentation that cannot be read is the user's to fix
        notes.append(Note("drivers.note.no_segments", {}))
        return {}, {}
    values = customer_ids.astype("str").map(segments).astype(object)
    values = values.where(values.notna())
    return {"segment": values}, {"segment": _labels("drivers.feature.segment")}


CONTACT_WINDOW_DAYS = 90
MAX_CONTACT_CATEGORIES = 8


def _contact_features(
    dataset: Dataset, rows: pd.DataFrame
) -> tuple[dict[str, pd.Series], dict[str, dict[str, str]]]:
    """The customer's contacts per category (complaint, inquiry, …) in the 90 days before each
    response, from the communications table: what customers told us before they scored us.

    Only contacts strictly before the response date count, so a complaint written after a bad
    score never explains it. One sorted (customer, day) key per category and two binary
    searches per response keep it linear in the rows.
    """
    comms = dataset.get("communications")
    needed = {"customer_id", "date", "category"}
    if comms is None or not needed <= set(comms.columns) or "date" not in rows.columns:
        return {}, {}
    comms = comms.dropna(subset=list(needed))
    if comms.empty:
        return {}, {}
    customers = pd.Index(pd.unique(comms["customer_id"].astype("str")))
    day = pd.Timestamp("1970-01-01")
    span = 10**6  # days: more than any calendar range the data can hold
    comm_code = customers.get_indexer(comms["customer_id"].astype("str"))
    comm_day = (pd.to_datetime(comms["date"]) - day).dt.days.to_numpy()
    response_code = customers.get_indexer(rows["customer_id"].astype("str"))
    response_day = (pd.to_datetime(rows["date"]) - day).dt.days.to_numpy()
    known = (response_code >= 0) & ~np.isnan(response_day.astype(float))
    top = comms["category"].astype("str").value_counts().index[:MAX_CONTACT_CATEGORIES]
    out: dict[str, pd.Series] = {}
    labels: dict[str, dict[str, str]] = {}
    for category in top:
        mask = (comms["category"].astype("str") == category).to_numpy()
        keys = np.sort(comm_code[mask].astype(np.int64) * span + comm_day[mask])
        end = response_code.astype(np.int64) * span + np.nan_to_num(response_day).astype(np.int64)
        counts = np.searchsorted(keys, end, "left") - np.searchsorted(
            keys, end - CONTACT_WINDOW_DAYS, "left"
        )
        key = f"contacts.{category}"
        out[key] = pd.Series(np.where(known, counts, 0).astype(float), index=rows.index)
        labels[key] = _labels(
            "drivers.feature.contacts", category=str(category), days=CONTACT_WINDOW_DAYS
        )
    return out, labels


def _date_values(col: pd.Series) -> pd.Series | None:
    """A column as dates when nearly all its non-empty values parse with one format."""
    if pd.api.types.is_datetime64_any_dtype(col):
        values = pd.to_datetime(col)
        if getattr(values.dt, "tz", None) is not None:
            values = values.dt.tz_localize(None)
        return values.astype("datetime64[ns]")
    if pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        return None
    present = int(col.notna().sum())
    if present == 0:
        return None
    guess = detect_date_format(col, allow_numeric=False)
    if guess.format is None or guess.rate < DATE_PARSE_RATE:
        return None
    parsed = parse_dates(col, guess.format)
    if parsed.values.notna().sum() < DATE_PARSE_RATE * present:
        return None
    return parsed.values


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (later - earlier) / pd.Timedelta(days=1)


def _order_value(tx: pd.DataFrame) -> pd.Series | None:
    """Line value: amount, else quantity × unit price, else the unit price (one unit a line)."""
    number = {
        c: pd.to_numeric(tx[c], errors="coerce")
        for c in ("amount", "quantity", "unit_price")
        if c in tx.columns
    }
    if "amount" in number:
        value = number["amount"]
        if "quantity" in number and "unit_price" in number:
            value = value.fillna(number["quantity"] * number["unit_price"])
        return value
    if "unit_price" in number:
        return number["unit_price"] * number.get("quantity", 1.0)
    return None


def _order_features(
    dataset: Dataset, order_ids: pd.Series, notes: list[Note]
) -> tuple[dict[str, pd.Series], dict[str, dict[str, str]]]:
    """Order-level features of each response's order (see the module docstring)."""
    tx = dataset.get("transactions")
    if tx is None or not len(tx) or "order_id" not in tx.columns:
        return {}, {}
    wanted = order_ids.astype("str").where(order_ids.notna())
    keys = tx["order_id"].astype("str").where(tx["order_id"].notna())
    tx = tx.loc[keys.isin(set(wanted.dropna())).to_numpy()]
    if tx.empty:
        notes.append(Note("drivers.note.no_orders", {}))
        return {}, {}
    order = keys.loc[tx.index]
    grouped: dict[str, pd.Series] = {}
    labels: dict[str, dict[str, str]] = {}

    def add(name: str, per_order: pd.Series, label: dict[str, str]) -> None:
        grouped[name] = per_order
        labels[name] = label

    value = _order_value(tx)
    if value is not None:
        add("order.value", value.groupby(order).sum(min_count=1), _labels("drivers.feature.value"))
    if "quantity" in tx.columns:
        items = pd.to_numeric(tx["quantity"], errors="coerce").groupby(order).sum(min_count=1)
    else:
        items = order.groupby(order).size().astype(float)
    add("order.items", items, _labels("drivers.feature.items"))
    if "unit_price" in tx.columns:
        price = pd.to_numeric(tx["unit_price"], errors="coerce").groupby(order).mean()
        add("order.unit_price", price, _labels("drivers.feature.unit_price"))
    if "category" in tx.columns:
        main = _main_level(tx["category"], order, pool=True)
        if main is not None:
            add("order.category", main, _labels("drivers.feature.category"))

    order_date = None
    if "date" in tx.columns:
        order_date = pd.to_datetime(tx["date"], errors="coerce").groupby(order).min()
    dates: dict[str, pd.Series] = {}
    for name in tx.columns:
        if name in ROLES["transactions"] or _is_id_name(name):
            continue
        col = tx[name]
        parsed = _date_values(col) if len(dates) < MAX_DATE_COLUMNS else None
        if parsed is not None:
            dates[str(name)] = parsed.groupby(order).min()
        elif pd.api.types.is_bool_dtype(col):
            add(
                f"order.{name}",
                col.astype(float).groupby(order).mean(),
                _labels("drivers.feature.order_attr", name=str(name)),
            )
        elif pd.api.types.is_numeric_dtype(col):
            _add_numeric(add, str(name), col.astype(float), order)
        else:
            main = _main_level(col, order)
            if main is not None:
                add(f"order.{name}", main, _labels("drivers.feature.order_attr", name=str(name)))
    if order_date is not None:
        for name, values in dates.items():
            add(
                f"{name} − order date (days)",
                _days(values, order_date),
                _labels("drivers.feature.days_from_order", name=name),
            )
    for first, second in combinations(dates, 2):
        add(
            f"{first} − {second} (days)",
            _days(dates[first], dates[second]),
            _labels("drivers.feature.days_between", first=first, second=second),
        )
    if dates:
        notes.append(Note("drivers.note.date_columns", {"columns": ", ".join(dates)}))
    out = {
        name: per_order.reindex(wanted.to_numpy()).set_axis(order_ids.index)
        for name, per_order in grouped.items()
    }
    return out, labels


def _add_numeric(
    add: Callable[[str, pd.Series, dict[str, str]], None],
    name: str,
    values: pd.Series,
    order: pd.Series,
) -> None:
    """An order-level number (the same on every line) once; a per-line number summed."""
    values = values.where(np.isfinite(values))
    if values.notna().sum() == 0:
        return
    per = values.groupby(order)
    if int(per.nunique().max()) <= 1:
        add(f"order.{name}", per.first(), _labels("drivers.feature.order_attr", name=name))
    else:
        add(
            f"order.{name}", per.sum(min_count=1), _labels("drivers.feature.order_total", name=name)
        )


def _main_level(col: pd.Series, order: pd.Series, pool: bool = False) -> pd.Series | None:
    """The most frequent level of a low-cardinality column per order (ties: alphabetical).
    With ``pool`` (the category role) any number of levels is fine: beyond ``MAX_LEVELS`` the
    rarer ones become "(other)"; otherwise more than ``MAX_ATTRIBUTE_CATEGORIES`` is free text."""
    text = col.astype("str").where(col.notna()).str.strip()
    text = text.where(text != "")
    distinct = text.nunique()
    if distinct < 2 or (not pool and distinct > MAX_ATTRIBUTE_CATEGORIES):
        return None
    if distinct > MAX_LEVELS:
        keep = text.value_counts().index[:MAX_LEVELS]
        text = text.where(~text.notna() | text.isin(keep), OTHER)
    counts = (
        pd.DataFrame({"order": order.to_numpy(), "level": text.to_numpy()})
        .dropna()
        .groupby(["order", "level"])
        .size()
        .rename("n")
        .reset_index()
        .sort_values(["order", "n", "level"], ascending=[True, False, True], kind="stable")
    )
    main = counts.drop_duplicates("order").set_index("order")["level"].astype(object)
    return main


def _model_matrix(
    features: dict[str, pd.Series], index: pd.Index
) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Numbers as float (inf → missing), categories as object strings; constant columns out."""
    numeric: dict[str, pd.Series] = {}
    categorical: dict[str, pd.Series] = {}
    for name, col in features.items():
        if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
            if col.nunique(dropna=False) >= 2:
                categorical[name] = col.astype(object)
        else:
            values = col.astype(float)
            values = values.where(np.isfinite(values))
            if values.nunique(dropna=False) >= 2 and values.notna().any():
                numeric[name] = values
    X = pd.DataFrame({**numeric, **categorical}, index=index)
    return X, list(numeric), list(categorical)


def build_driver_table(
    dataset: Dataset,
    params: DriverParams,
    workspace: Workspace | None = None,
    lang: str = "en",
) -> DriverTable:
    """Responses with a score on the scale, their target and their features (module docstring)."""
    _check_params(params)
    feedback = dataset.get("feedback")
    column = _score_column(feedback, params.target)
    assert feedback is not None
    values = pd.to_numeric(feedback[column], errors="coerce").astype(float)
    values = values.where(np.isfinite(values))
    notes: list[Note] = []
    missing = int(values.isna().sum())
    if missing:
        notes.append(Note("drivers.note.missing_scores", {"count": missing}))
    present = values.dropna()
    scale = detect_scale(present) if params.scale == "auto" else params.scale
    low, high = SCALE_RANGES[scale]
    inside = present.isin([0.0, 1.0]) if scale == "binary" else present.between(low, high)
    dropped = int((~inside).sum())
    if dropped:
        notes.append(Note("drivers.note.out_of_scale", {"count": dropped, "scale": scale}))
    present = present[inside]
    if params.max_rows is not None and len(present) > params.max_rows:
        rng = np.random.default_rng(params.seed)
        keep = np.sort(rng.choice(len(present), params.max_rows, replace=False))
        notes.append(Note("drivers.note.sampled", {"rows": params.max_rows, "total": len(present)}))
        present = present.iloc[keep]
    task = "classification" if params.target == "satisfied" or scale == "binary" else "regression"
    threshold = _threshold(params, scale) if task == "classification" else None
    if task == "classification":
        y = (present >= (threshold if scale != "binary" else 1.0)).astype(int)
    else:
        y = present
    _check_target(y.to_numpy(), task, params.cv_folds, threshold if scale != "binary" else None)

    rows = feedback.loc[present.index]
    features, labels = _response_features(rows)
    if "customer_id" in rows.columns:
        ids = rows["customer_id"]
        for part in (
            _customer_features(dataset, ids),
            _segment_feature(dataset, params, workspace, lang, ids, notes),
            _contact_features(dataset, rows),
        ):
            features.update(part[0])
            labels.update(part[1])
    if "order_id" in rows.columns:
        order_part = _order_features(dataset, rows["order_id"], notes)
        features.update(order_part[0])
        labels.update(order_part[1])
    X, numeric, categorical = _model_matrix(features, rows.index)
    if not numeric and not categorical:
        raise DataRequirementError("drivers.error.no_features", hint="drivers.hint.more_columns")
    return DriverTable(
        X=X,
        y=y.rename("target"),
        score=present.rename("score"),
        numeric=numeric,
        categorical=categorical,
        labels={name: labels[name] for name in X.columns},
        column=column,
        scale=scale,
        task=task,
        threshold=threshold,
        notes=notes,
        dropped=dropped,
        missing=missing,
    )


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------


def _objects(x: Any) -> np.ndarray:
    """Category columns as Python objects (missing as NaN) for the imputer and encoder."""
    frame = pd.DataFrame(x).astype(object)
    return frame.where(frame.notna(), np.nan).to_numpy(dtype=object)


def _estimator(model: str, task: str, seed: int, n_rows: int) -> Any:
    classify = task == "classification"
    if model == "linear":
        return LogisticRegression(max_iter=LOGREG_MAX_ITER) if classify else Ridge(alpha=1.0)
    if model == "rf":
        forest = RandomForestClassifier if classify else RandomForestRegressor
        return forest(
            n_estimators=RF_TREES,
            max_depth=RF_MAX_DEPTH,
            min_samples_leaf=RF_MIN_SAMPLES_LEAF,
            max_features=RF_MAX_FEATURES,
            max_samples=RF_MAX_SAMPLES if n_rows > RF_MAX_SAMPLES else None,
            random_state=seed,
        )
    boosting = HistGradientBoostingClassifier if classify else HistGradientBoostingRegressor
    return boosting(learning_rate=0.05, max_iter=300, max_leaf_nodes=15, random_state=seed)


def build_pipeline(
    model: str,
    task: str,
    numeric: Sequence[str],
    categorical: Sequence[str],
    seed: int = 42,
    n_rows: int = 0,
) -> Pipeline:
    """Preprocessing fitted on training rows only, then the model, as one Pipeline."""
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        number_steps = [
            ("impute", SimpleImputer(strategy="median", add_indicator=True)),
            ("scale", StandardScaler()),
        ]
        transformers.append(("num", Pipeline(number_steps), list(numeric)))
    if categorical:
        category_steps = [
            ("objects", FunctionTransformer(_objects, feature_names_out="one-to-one")),
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING)),
            (
                "onehot",
                OneHotEncoder(
                    handle_unknown="ignore",
                    min_frequency=MIN_CATEGORY_COUNT,
                    sparse_output=False,
                ),
            ),
        ]
        transformers.append(("cat", Pipeline(category_steps), list(categorical)))
    prep = ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)
    return Pipeline([("prep", prep), ("model", _estimator(model, task, seed, n_rows))])


def _fit(pipe: Pipeline, X: pd.DataFrame, y: np.ndarray, notes: list[Note]) -> Pipeline:
    """Fit; a convergence warning becomes one note, an unknown level in a fold is expected."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            pipe.fit(X, y)
        except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
            raise ParameterError(
                "drivers.error.fit_failed", detail=str(exc).split("\n")[0][:200]
            ) from exc
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            note = Note("drivers.note.convergence", {})
            if note not in notes:
                notes.append(note)
    return pipe


def _predict(pipe: Pipeline, X: pd.DataFrame, task: str, bounds: tuple[float, float]) -> np.ndarray:
    """Probability of "satisfied", or the score clipped to its scale."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*unknown categor", category=UserWarning)
        if task == "classification":
            return pipe.predict_proba(X)[:, 1]
        return np.clip(pipe.predict(X), *bounds)


def _threads() -> Any:
    """At most half the cores for OpenMP (gradient boosting) so a busy server stays usable."""
    return threadpool_limits(limits=max(1, (os.cpu_count() or 2) // 2), user_api="openmp")


def _metrics(y: np.ndarray, p: np.ndarray, task: str) -> dict[str, float]:
    if task == "classification":
        return {
            "roc_auc": float(roc_auc_score(y, p)) if np.unique(p).size > 1 else 0.5,
            "pr_auc": float(average_precision_score(y, p)),
            "brier": float(brier_score_loss(y, p)),
            "accuracy": float(np.mean((p >= 0.5) == (y == 1))),
            "satisfied_rate": float(np.mean(y)),
        }
    return {
        "mae": float(mean_absolute_error(y, p)),
        "rmse": float(np.sqrt(mean_squared_error(y, p))),
        "r2": float(r2_score(y, p)),
        "mean_score": float(np.mean(y)),
    }


def _folds(task: str, folds: int, seed: int) -> KFold | StratifiedKFold:
    kind = StratifiedKFold if task == "classification" else KFold
    return kind(n_splits=folds, shuffle=True, random_state=seed)


def _importance(
    pipe: Pipeline, X: pd.DataFrame, y: np.ndarray, task: str, seed: int
) -> pd.DataFrame:
    """Permutation importance of each raw column on held-out rows: MAE increase / AUC drop."""
    if len(X) > PI_ROWS:
        keep = np.sort(np.random.default_rng(seed).choice(len(X), PI_ROWS, replace=False))
        X, y = X.iloc[keep], y[keep]
    scoring = "roc_auc" if task == "classification" else "neg_mean_absolute_error"
    if task == "classification" and np.unique(y).size < 2:
        return pd.DataFrame({"feature": list(X.columns), "importance": 0.0, "std": 0.0})
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*unknown categor", category=UserWarning)
        result = permutation_importance(
            pipe, X, y, scoring=scoring, n_repeats=PI_REPEATS, random_state=seed
        )
    frame = pd.DataFrame(
        {
            "feature": list(X.columns),
            "importance": result.importances_mean,
            "std": result.importances_std,
        }
    )
    return frame.sort_values(
        ["importance", "feature"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)


def _evaluate(table: DriverTable, model: str, params: DriverParams, explain: bool) -> DriverResult:
    notes = list(table.notes)
    X, y = table.X, table.y.to_numpy()
    bounds = (0.0, 1.0) if table.task == "classification" else SCALE_RANGES[table.scale]
    predicted = np.zeros(len(y))
    baseline = np.zeros(len(y))
    pipe: Pipeline | None = None
    test = np.arange(0)
    for train, test in _folds(table.task, params.cv_folds, params.seed).split(X, y):
        pipe = build_pipeline(
            model, table.task, table.numeric, table.categorical, params.seed, len(train)
        )
        _fit(pipe, X.iloc[train], y[train], notes)
        predicted[test] = _predict(pipe, X.iloc[test], table.task, bounds)
        baseline[test] = float(np.mean(y[train]))
    assert pipe is not None
    if explain:
        importance = _importance(pipe, X.iloc[test], y[test], table.task, params.seed)
    else:
        importance = pd.DataFrame({"feature": list(X.columns), "importance": np.nan, "std": np.nan})
    for lang in LANGUAGES:
        importance[f"label_{lang}"] = [table.labels[f][lang] for f in importance["feature"]]
    importance = importance[
        ["feature", *(f"label_{lang}" for lang in LANGUAGES), "importance", "std"]
    ]
    final = build_pipeline(model, table.task, table.numeric, table.categorical, params.seed, len(y))
    _fit(final, X, y, notes)
    sample = X if len(X) <= PD_ROWS else X.sample(PD_ROWS, random_state=params.seed).sort_index()
    frame = X.assign(target=y)
    result = DriverResult(
        params=params,
        column=table.column,
        scale=table.scale,
        task=table.task,
        threshold=table.threshold,
        table=frame,
        numeric=list(table.numeric),
        categorical=list(table.categorical),
        labels=dict(table.labels),
        metrics=_metrics(y, predicted, table.task),
        baseline=_metrics(y, baseline, table.task),
        predictions=pd.DataFrame(
            {"actual": y, "predicted": predicted, "baseline": baseline, "score": table.score},
            index=X.index,
        ),
        importance=importance,
        partial_dependence={},
        pipeline=final,
        sample=sample,
        current=float(np.mean(_predict(final, sample, table.task, bounds))),
        notes=notes,
        dropped=table.dropped,
        missing=table.missing,
    )
    if explain:
        for name in _pd_features(result):
            result.partial_dependence[name] = what_if_curve(result, name)
    return result


def _pd_features(result: DriverResult) -> list[str]:
    """The top numeric and categorical drivers (positive importance), by importance."""
    positive = result.importance.loc[result.importance["importance"] > 0, "feature"].tolist()
    numeric = [f for f in positive if f in result.numeric][:PD_NUMERIC]
    categorical = [f for f in positive if f in result.categorical][:PD_CATEGORICAL]
    return [f for f in positive if f in numeric or f in categorical]


def run_drivers(
    dataset: Dataset,
    params: DriverParams | None = None,
    workspace: Workspace | None = None,
    lang: str = "en",
) -> DriverResult:
    """Build the driver table, evaluate the model by cross-validation and explain it."""
    params = params or DriverParams()
    table = build_driver_table(dataset, params, workspace, lang)
    with _threads():
        return _evaluate(table, params.model, params, explain=True)


def compare_driver_models(
    dataset: Dataset,
    params: DriverParams | None = None,
    models: Sequence[str] = MODELS,
    workspace: Workspace | None = None,
    lang: str = "en",
) -> DriverComparison:
    """Every model on the same responses and folds (no explanation), with the baseline row."""
    params = params or DriverParams()
    if not models:
        raise _bad("models", "", ", ".join(MODELS))
    for model in models:
        if model not in MODELS:
            raise _bad("model", model, ", ".join(MODELS))
    table = build_driver_table(dataset, params, workspace, lang)
    results: dict[str, DriverResult] = {}
    with _threads():
        for model in dict.fromkeys(models):
            results[model] = _evaluate(table, model, params, explain=False)
    rows = [{"model": key, **result.metrics} for key, result in results.items()]
    rows.append({"model": "baseline", **next(iter(results.values())).baseline})
    return DriverComparison(results=results, table=pd.DataFrame(rows))


# ---------------------------------------------------------------------------------------------
# What-if
# ---------------------------------------------------------------------------------------------


def _check_feature(result: DriverResult, feature: str) -> None:
    if feature not in result.features:
        raise ParameterError(
            "drivers.error.unknown_feature",
            hint="drivers.hint.pick_feature",
            feature=str(feature),
        )


def feature_grid(result: DriverResult, feature: str) -> list[Any]:
    """Values a what-if curve walks through: 5th–95th percentile (numbers), frequent levels."""
    _check_feature(result, feature)
    values = result.table[feature]
    if feature in result.categorical:
        counts = values.fillna(MISSING).value_counts()
        counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
        levels = [str(v) for v in counts.index[:PD_LEVELS]]
        if all(level.isdigit() for level in levels):  # months, codes: in their natural order
            levels.sort(key=int)
        return levels
    finite = values.dropna().to_numpy(dtype=float)
    grid = np.unique(np.quantile(finite, np.linspace(0.05, 0.95, PD_GRID)))
    return [float(v) for v in grid]


def feature_range(result: DriverResult, feature: str) -> tuple[float, float, float]:
    """1st percentile, 99th percentile and median of a numeric feature (for a slider)."""
    _check_feature(result, feature)
    finite = result.table[feature].dropna().to_numpy(dtype=float)
    low, high, median = np.quantile(finite, [0.01, 0.99, 0.5])
    return float(low), float(high), float(median)


def what_if_curve(
    result: DriverResult, feature: str, values: Sequence[Hashable] | None = None
) -> pd.DataFrame:
    """Mean prediction over the stored sample when every response gets each value in turn."""
    _check_feature(result, feature)
    grid = list(values) if values is not None else feature_grid(result, feature)
    if feature in result.categorical:
        grid = [MISSING if v is None else str(v) for v in grid]
    else:
        try:
            grid = [float(v) for v in grid]  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ParameterError(
                "drivers.error.bad_value", hint="drivers.hint.number", feature=feature
            ) from None
    if not grid:
        return pd.DataFrame({"value": [], "predicted": []})
    sample = result.sample
    column = np.repeat(np.asarray(grid, dtype=object), len(sample))
    batch = pd.concat([sample] * len(grid), ignore_index=True)
    batch[feature] = column if feature in result.categorical else column.astype(float)
    if feature in result.categorical:
        batch[feature] = batch[feature].astype(object)
    with _threads():
        predicted = _predict(result.pipeline, batch, result.task, result.bounds)
    means = predicted.reshape(len(grid), len(sample)).mean(axis=1)
    return pd.DataFrame({"value": grid, "predicted": means})


def what_if(result: DriverResult, feature: str, value: Any) -> float:
    """The mean predicted score (or share satisfied) if every response had ``value``."""
    return float(what_if_curve(result, feature, [value])["predicted"].iloc[0])


# ---------------------------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------------------------


def importance_table(result: DriverResult, lang: str = "en") -> pd.DataFrame:
    """Importance with the label in ``lang``, for display and export."""
    frame = result.importance
    return pd.DataFrame(
        {
            "feature": frame["feature"],
            "label": frame[f"label_{lang}" if lang in LANGUAGES else "label_en"],
            "importance": frame["importance"],
            "std": frame["std"],
        }
    )


def comparison_table(comparison: DriverComparison, lang: str = "en") -> pd.DataFrame:
    """The comparison with translated model names."""
    table = comparison.table.copy()
    table.insert(0, "name", [model_name(m, lang) for m in table["model"]])
    return table


def _number(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return None if not np.isfinite(value) else round(float(value), 6)
    if isinstance(value, np.integer):
        return int(value)
    return value


def drivers_payload(result: DriverResult, lang: str = "en") -> dict[str, Any]:
    """A JSON-friendly summary: target, scale, metrics vs baseline, importance, curves, notes."""
    importance = importance_table(result, lang)
    params = asdict(result.params)
    return {
        "target": result.params.target,
        "column": result.column,
        "scale": result.scale,
        "task": result.task,
        "threshold": result.threshold,
        "model": result.params.model,
        "params": {k: _number(v) for k, v in params.items()},
        "responses": result.n_responses,
        "dropped_out_of_scale": result.dropped,
        "missing_scores": result.missing,
        "features": [
            {
                "feature": f,
                "label": result.label(f, lang),
                "kind": "numeric" if f in result.numeric else "categorical",
            }
            for f in result.features
        ],
        "metrics": {k: _number(v) for k, v in result.metrics.items()},
        "baseline": {k: _number(v) for k, v in result.baseline.items()},
        "current_prediction": _number(result.current),
        "importance": [
            {k: _number(v) for k, v in row.items()} for row in importance.to_dict("records")
        ],
        "partial_dependence": {
            name: [
                {"value": _number(v), "predicted": _number(p)}
                for v, p in zip(curve["value"], curve["predicted"], strict=True)
            ]
            for name, curve in result.partial_dependence.items()
        },
        "notes": [note.text(lang) for note in result.notes],
    }
