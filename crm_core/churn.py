"""Churn: who is likely to stop buying, why, and whom to contact first.

Label. Either a column of the customers table (Telco's ``Churn``: Yes/No, 是/否, 1/0, true/false)
or derived from transactions: with an as-of date T and a window of N days, a customer who bought
something before T is *churned* when they made no purchase in [T, T + N days). The window must lie
inside the data (T + N <= the day after the last transaction), so every label is observed.
Features use only what happened before T: behaviour from :func:`crm_core.features.
customer_features`, customer attributes (dates turned into days before T) and
:func:`context_features` (contacts per category and survey scores before T). ``active_days``
optionally restricts the customers to those who bought in the ``active_days`` before T.

Models. scikit-learn Pipelines: numeric columns imputed (median) and standardised, category
columns imputed and one-hot encoded (unknown categories ignored), identifiers never features;
then logistic regression, random forest, histogram gradient boosting or a linear SVM calibrated
by ``CalibratedClassifierCV`` (sigmoid fitted on 3-fold out-of-fold scores, one SVM on all
rows) for probabilities. Iterations are bounded. The preprocessing does not depend on the model,
so each fold's is fitted once and shared by the models of a comparison; models fit on the
preprocessed matrix and the saved pipeline joins the two.

Evaluation. With a label column: stratified k-fold cross-validation; every customer's
probability comes from the fold model that did not see them (what ``cross_val_predict`` does,
looped here so progress can be reported). With a derived label: a time-based holdout; the model
is trained on the frame at T - N (labels from [T - N, T), features before T - N) and tested on the
frame at T, so the test labels lie after everything the model saw. When that earlier frame has
too little history or one class, cross-validation is used and a note says so. Baselines:
"majority" (everyone gets the base rate: ROC-AUC 0.5) and "single feature": ``recency_days`` when
there are transactions, otherwise the numeric feature with the highest ROC-AUC on the evaluation
rows (its direction chosen on the same rows, so this baseline is optimistic).

Explanation (only for an explained run; a comparison skips it). Permutation importance (drop in
ROC-AUC) on held-out rows: the last fold's validation rows (cross-validation) or the held-out
part of the as-of frame (time holdout), a stratified sample of at most ``PI_ROWS`` rows,
``PI_REPEATS`` shuffles, seeded; shuffling a feature's preprocessed columns together equals
shuffling the feature, so no preprocessing runs per shuffle. Partial dependence of the top
features (grid of 20 between the 5th and 95th percentile; categories as they are; a seeded
sample of ``PD_ROWS`` customers). Per-customer factors come from the final model:

* logistic regression: each feature's contribution to the log-odds, coefficient x (transformed
  value - training mean), summed over a category's one-hot columns. Exact: the contributions add
  up to the customer's logit minus the logit of the average customer.
* the other models, "occlusion": the drop in predicted probability when one of the top features
  (by permutation importance) is set to its training median (most frequent category), computed
  for all customers at once on the transformed matrix (one prediction per feature).

The (at most three) features that raise a customer's risk most become the "factors" text, in
English and Chinese, from i18n templates ("no purchase for 120 days", "2 complaint contacts").

Risk. In cross-validation the risk list uses the out-of-fold probabilities (honest for customers
the model was trained on); with a derived label the final model (trained on the frame at T) scores
every customer at the end of the data (features before the day after the last transaction).

Saving. :func:`serialize_model` writes the studio's own format: a magic line, a JSON header
(format, version, SHA-256 of the payload, optional HMAC, metadata) and a pickle payload. Pickle
runs code when loaded, so :func:`load_model` is only for bytes the studio itself wrote into its
workspace; it checks magic, version and digest before unpickling and refuses anything else.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import pickle
import re
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from threadpoolctl import threadpool_limits

from crm_core.errors import DataRequirementError, InputError, ParameterError
from crm_core.features import (
    MAX_ATTRIBUTE_CATEGORIES,
    TREND_WINDOW_DAYS,
    attribute_features,
    customer_features,
    default_as_of,
    feature_label,
    rfm_table,
)
from crm_core.i18n import LANGUAGES, t
from crm_core.schema import parse_labels
from crm_core.segmentation import Note
from crm_core.tables import ROLES, Dataset

Progress = Callable[[float], None]

MODELS: tuple[str, ...] = ("logreg", "rf", "hgb", "svm")
VALIDATIONS: tuple[str, ...] = ("auto", "cv", "time")
MIN_CUSTOMERS = 20
MAX_FOLDS = 20
PI_ROWS = 2000  # held-out rows for permutation importance (a seeded, stratified sample)
PI_REPEATS = 3  # shuffles per feature, all predicted in one call
PD_ROWS = 1000  # rows averaged for partial dependence
PD_GRID = 20
PD_FEATURES = 3
OCCLUSION_FEATURES = 6  # top features explained per customer for non-linear models
TOP_FACTORS = 3
CURVE_POINTS = 400  # ROC / PR points kept for charts
GAIN_POINTS = 100
CALIBRATION_BINS = 10
MAX_CONTEXT_CATEGORIES = 8  # contacts_<category> columns; the rest are counted as "other"
LOGREG_MAX_ITER = 2000
SVM_MAX_ITER = 5000
RF_MIN_SAMPLES_LEAF = 20  # with unlimited depth: as good on Telco and the bench, 1.5x faster
RF_MAX_SAMPLES = 10_000  # rows drawn per tree on large data (keeps a forest on 100k rows fast)
SHARED_MATRIX_BYTES = 512 * 2**20  # fold matrices kept for the other models of a comparison
MISSING_CATEGORY = "(missing)"
SUSPICIOUS_AUC = 0.99  # held-out ROC-AUC above this: the label probably leaks into the features
LINEAR_EPS = 0.05  # log-odds: smaller contributions are not named as factors
OCCLUSION_EPS = 0.005  # probability points

ORDER_TREND_DAYS = 180  # order_trend_180d: order rate in the last 180 days vs before
ORDER_TREND_MIN_PRIOR_DAYS = 30  # less history before the window gives no trend (NaN)

FORMAT = "crm-studio-churn-model"
FORMAT_VERSION = 1
MAGIC = b"CRM-STUDIO-CHURN-MODEL\n"
MAX_HEADER_BYTES = 1_000_000

_DAY = pd.Timedelta(days=1)
_LABEL_ROLES = tuple(role for role, kind in ROLES["customers"].items() if kind == "label")


# ---------------------------------------------------------------------------------------------
# Parameters and results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChurnLabelParams:
    """Where the label comes from: a customers column, or inactivity after an as-of date.

    ``label_column`` set: that column is the label and ``as_of`` (optional) limits the features to
    data before it. ``label_column`` None: churned = no purchase in the ``inactive_days`` from
    ``as_of`` (default: the latest date whose window still fits in the data).
    """

    label_column: str | None = None
    inactive_days: int = 90
    as_of: pd.Timestamp | str | None = None
    active_days: int | None = None  # only customers who bought in the active_days before as_of
    context: bool = True  # add contacts and survey features when those tables exist

    @property
    def derived(self) -> bool:
        """Whether the label is derived from transactions rather than read from a column."""
        return self.label_column is None


@dataclass(frozen=True)
class ChurnModelParams:
    """Model choice and its main hyperparameters; ``seed`` makes every random step repeatable."""

    model: str = "logreg"
    C: float = 1.0  # logistic regression: inverse regularisation strength
    n_estimators: int = 60  # random forest (100 trees scored no better on Telco or the bench)
    max_depth: int | None = None  # random forest (None: unlimited; leaves keep >= 20 customers)
    learning_rate: float = 0.1  # gradient boosting
    max_iter: int = 60  # gradient boosting: boosting rounds (early stopping on large data)
    max_leaf_nodes: int = 8  # gradient boosting (small trees generalise better on CRM tables)
    svm_C: float = 0.1  # linear SVM
    class_weight: str | None = None  # None or "balanced"
    cv_folds: int = 5
    threshold: float = 0.5
    validation: str = "auto"  # auto: cv for a label column, time holdout for a derived label
    explain: bool = True
    n_jobs: int | None = None  # random forest trees in parallel (None: half the cores)
    time_limit_s: float | None = None  # checked between fits
    seed: int = 42


@dataclass
class ChurnFrame:
    """Model input: features ``X`` and label ``y`` (index customer_id), with how y was defined."""

    X: pd.DataFrame
    y: pd.Series
    definition: dict[str, str]  # language -> one sentence
    churn_rate: float
    as_of: pd.Timestamp | None
    label_params: ChurnLabelParams
    numeric: list[str]
    categorical: list[str]
    missing: dict[str, int]  # missing (imputed) values per numeric feature
    notes: list[Note] = field(default_factory=list)
    window_end: pd.Timestamp | None = None
    data_range: tuple[pd.Timestamp, pd.Timestamp] | None = None
    unlabeled: int = 0  # customers dropped for a missing label

    @property
    def features(self) -> list[str]:
        """Feature columns in pipeline order (numeric first)."""
        return [*self.numeric, *self.categorical]


@dataclass
class _Explainer:
    """What the per-customer factors need from the final model (picklable, numpy only)."""

    kind: str  # "linear" or "occlusion"
    features: list[str]  # every model feature, pipeline order
    explained: list[str]  # the features given contributions
    groups: np.ndarray  # transformed column -> index in ``features``
    center: np.ndarray  # linear: training mean of each transformed column
    coef: np.ndarray  # linear: coefficients per transformed column
    reference: np.ndarray  # occlusion: the transformed reference customer


@dataclass
class TrainedModel:
    """A fitted pipeline with what is needed to score, explain and describe it."""

    pipeline: Pipeline
    numeric: list[str]
    categorical: list[str]
    model_params: ChurnModelParams
    label_params: ChurnLabelParams
    metrics: dict[str, float]
    data_fingerprint: str
    created: str
    as_of: str | None
    validation: str
    definition: dict[str, str]
    explainer: _Explainer
    typical: dict[str, Any]  # training median / most frequent value per feature
    importance: dict[str, float]
    sklearn_version: str = sklearn.__version__

    @property
    def features(self) -> list[str]:
        """Input columns the pipeline needs, numeric first."""
        return [*self.numeric, *self.categorical]

    def metadata(self) -> dict[str, Any]:
        """JSON-ready description: features, data fingerprint, metrics, date, parameters."""
        label = asdict(self.label_params)
        label["as_of"] = None if label["as_of"] is None else str(label["as_of"])
        return {
            "model": self.model_params.model,
            "features": self.features,
            "numeric": self.numeric,
            "categorical": self.categorical,
            "data_fingerprint": self.data_fingerprint,
            "metrics": {k: _json_number(v) for k, v in self.metrics.items()},
            "created": self.created,
            "as_of": self.as_of,
            "validation": self.validation,
            "definition": self.definition,
            "model_params": asdict(self.model_params),
            "label_params": label,
            "sklearn_version": self.sklearn_version,
        }


@dataclass
class ChurnResult:
    """One model's evaluation, explanation and current risk scores."""

    name: str  # model key, e.g. "logreg"
    params: ChurnModelParams
    label_params: ChurnLabelParams
    definition: dict[str, str]
    churn_rate: float
    as_of: pd.Timestamp | None
    validation: str  # "cv" or "time"
    evaluation: pd.DataFrame  # index customer_id: actual (0/1), probability (held-out)
    threshold: float
    metrics: dict[str, float]
    roc: pd.DataFrame  # fpr, tpr, threshold
    pr: pd.DataFrame  # recall, precision, threshold
    gains: pd.DataFrame  # share_contacted, share_captured, lift
    calibration: pd.DataFrame  # predicted, observed
    baselines: pd.DataFrame  # model, feature, roc_auc, pr_auc, f1, brier, top_decile_lift
    importance: pd.DataFrame  # feature, importance, std (ROC-AUC drop)
    partial_dependence: dict[str, pd.DataFrame]  # feature -> value, probability
    scores: pd.DataFrame  # current customers: probability, factors_en, factors_zh, value...
    model: TrainedModel
    notes: list[Note] = field(default_factory=list)
    missing: dict[str, int] = field(default_factory=dict)
    n_customers: int = 0
    seconds: float = 0.0
    # seconds per stage: "evaluation" (cross-validation or holdout fits), "final_fit",
    # "explanation" (importance, partial dependence), "scores" (risk scores and factors)
    timings: dict[str, float] = field(default_factory=dict)

    def definition_text(self, lang: str = "en") -> str:
        """The label definition in ``lang``."""
        return self.definition.get(lang, self.definition["en"])


@dataclass
class ChurnComparison:
    """Several models on the same frame, side by side with the baselines."""

    results: dict[str, ChurnResult]
    table: pd.DataFrame  # model, roc_auc, pr_auc, f1, brier, top_decile_lift, seconds
    frame: ChurnFrame


def model_name(key: str, lang: str = "en") -> str:
    """Display name of a model key or baseline (``logreg`` -> Logistic regression)."""
    return t(f"churn.model.{key}", lang)


# ---------------------------------------------------------------------------------------------
# Label and features
# ---------------------------------------------------------------------------------------------


def _timestamp(value: Any) -> pd.Timestamp:
    """A user-given date as a midnight Timestamp (timezone dropped)."""
    try:
        stamp = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise ParameterError("churn.error.bad_date", value=str(value)) from exc
    if pd.isna(stamp):
        raise ParameterError("churn.error.bad_date", value=str(value))
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return stamp.normalize()


def _transaction_dates(dataset: Dataset) -> tuple[pd.DataFrame, pd.Series]:
    """The transactions and their parsed dates; a derived label cannot exist without them."""
    tx = dataset.get("transactions")
    if tx is None or not len(tx) or "customer_id" not in tx or "date" not in tx:
        raise DataRequirementError("churn.error.no_transactions", hint="churn.hint.label_column")
    dates = tx["date"]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        dates = pd.to_datetime(dates, errors="coerce")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    if dates.notna().sum() == 0:
        raise DataRequirementError("churn.error.no_transactions", hint="churn.hint.label_column")
    return tx, dates


def _date_text(stamp: pd.Timestamp) -> str:
    return pd.Timestamp(stamp).strftime("%Y-%m-%d")


def _check_label_params(params: ChurnLabelParams) -> None:
    if params.label_column is None and (
        not isinstance(params.inactive_days, int | np.integer)
        or not 1 <= params.inactive_days <= 3650
    ):
        raise ParameterError(
            "churn.error.bad_param",
            name="inactive_days",
            value=params.inactive_days,
            allowed="1-3650",
        )
    if params.active_days is not None and not 1 <= params.active_days <= 36500:
        raise ParameterError(
            "churn.error.bad_param", name="active_days", value=params.active_days, allowed=">= 1"
        )


def _resolve_as_of(
    params: ChurnLabelParams, dates: pd.Series
) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """As-of date, window end and data end (day after the last transaction) for a derived label.

    The default as-of is the latest date whose whole window is observed. A date before the first
    transaction or a window that runs past the data is refused, naming the data's range.
    """
    first, last = dates.min(), dates.max()
    data_end = pd.Timestamp(last).normalize() + _DAY
    window = pd.Timedelta(days=int(params.inactive_days))
    latest = data_end - window
    as_of = latest if params.as_of is None else _timestamp(params.as_of)
    rng = {"first": _date_text(first), "last": _date_text(last)}
    if as_of <= pd.Timestamp(first).normalize() or as_of > data_end:
        raise ParameterError(
            "churn.error.as_of_outside",
            hint="churn.hint.as_of_range",
            as_of=_date_text(as_of),
            latest=_date_text(max(latest, pd.Timestamp(first).normalize() + _DAY)),
            **rng,
        )
    if as_of + window > data_end:
        raise ParameterError(
            "churn.error.window_past_end",
            hint="churn.hint.as_of_range",
            as_of=_date_text(as_of),
            days=int(params.inactive_days),
            latest=_date_text(latest),
            **rng,
        )
    return as_of, as_of + window, data_end


def _customers_without_labels(dataset: Dataset, drop: Sequence[str]) -> pd.DataFrame | None:
    """The customers table without outcome labels (never features) and the chosen label."""
    customers = dataset.get("customers")
    if customers is None or not len(customers) or "customer_id" not in customers.columns:
        return None
    gone = [c for c in {*_LABEL_ROLES, *drop} if c in customers.columns and c != "customer_id"]
    return customers.drop(columns=gone)


def _dates_as_days(customers: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Date attributes as days before ``as_of`` (not before the column's own latest date, which
    would let customers added later move everyone's value)."""
    out = customers.copy()
    for name in customers.columns:
        col = customers[name]
        if name != "customer_id" and pd.api.types.is_datetime64_any_dtype(col):
            if getattr(col.dt, "tz", None) is not None:
                col = col.dt.tz_localize(None)
            out = out.drop(columns=name)
            out[f"{name}_days"] = (as_of - col).dt.days.astype(float)
    return out


def _slug(text: str) -> str:
    slug = re.sub(r"[^\w]+", "_", str(text).strip().lower()).strip("_")
    return slug or "blank"


def context_features(dataset: Dataset, as_of: pd.Timestamp | str | None = None) -> pd.DataFrame:
    """Per customer: contacts per category and survey scores, from rows dated before ``as_of``.

    ``contacts_<category>`` counts communications rows per category (the most frequent
    ``MAX_CONTEXT_CATEGORIES`` categories; the rest as ``contacts_other``; ``contacts_total``
    when there is no category). ``feedback_score_mean`` / ``feedback_nps_mean`` are mean survey
    answers, ``feedback_score_latest`` the latest score and ``feedback_count`` their number.
    With ``as_of``, rows without a date are left out
    (they cannot be placed before it). Customers without rows are absent; the caller fills counts
    with 0 and leaves means missing.
    """
    stamp = None if as_of is None else _timestamp(as_of)
    parts: list[pd.DataFrame] = []
    counts: list[str] = []
    comms = _before(dataset.get("communications"), stamp)
    if comms is not None and len(comms):
        ids = comms["customer_id"].astype("str")
        if "category" in comms.columns and comms["category"].notna().any():
            cats = comms["category"].astype("str").str.strip().str.lower()
            cats = cats.where(comms["category"].notna() & (cats != ""), "other")
            freq = cats.value_counts()
            freq = freq.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
            top = set(freq.index[:MAX_CONTEXT_CATEGORIES])
            names = cats.where(cats.isin(top), "other").map(lambda c: f"contacts_{_slug(c)}")
        else:
            names = pd.Series("contacts_total", index=comms.index)
        table = pd.crosstab(ids.to_numpy(), names.to_numpy()).astype(float)
        table = table.T.groupby(level=0).sum().T  # categories that slug alike are one column
        table = table[sorted(table.columns)]
        counts.extend(table.columns)
        parts.append(table)
    feedback = _before(dataset.get("feedback"), stamp)
    if feedback is not None and len(feedback):
        ids = feedback["customer_id"].astype("str")
        stats: dict[str, pd.Series] = {}
        for column in ("score", "nps"):
            if column in feedback.columns:
                values = pd.to_numeric(feedback[column], errors="coerce")
                if values.notna().any():
                    stats[f"feedback_{column}_mean"] = values.groupby(ids.to_numpy()).mean()
        if "score" in feedback.columns and "date" in feedback.columns:
            # the latest answer before the date: a customer's mood now, not their average
            scored = feedback.assign(_score=pd.to_numeric(feedback["score"], errors="coerce"))
            scored = scored.dropna(subset=["_score", "date"]).sort_values("date", kind="stable")
            if len(scored):
                latest = scored.groupby(scored["customer_id"].astype("str").to_numpy())["_score"]
                stats["feedback_score_latest"] = latest.last()
        stats["feedback_count"] = ids.groupby(ids.to_numpy()).size().astype(float)
        counts.append("feedback_count")
        parts.append(pd.DataFrame(stats))
    if not parts:
        frame = pd.DataFrame(index=pd.Index([], dtype="str", name="customer_id"))
    else:
        frame = pd.concat(parts, axis=1)
        frame.index = pd.Index(frame.index.astype("str"), name="customer_id")
        frame[counts] = frame[counts].fillna(0.0)
    frame.attrs["counts"] = counts
    return frame


def _before(frame: pd.DataFrame | None, as_of: pd.Timestamp | None) -> pd.DataFrame | None:
    """Rows of a dated table strictly before ``as_of`` with a customer id."""
    if frame is None or not len(frame) or "customer_id" not in frame.columns:
        return None
    keep = frame["customer_id"].notna()
    if as_of is not None:
        if "date" not in frame.columns:
            return None
        dates = frame["date"]
        if not pd.api.types.is_datetime64_any_dtype(dates):
            dates = pd.to_datetime(dates, errors="coerce")
        if getattr(dates.dt, "tz", None) is not None:
            dates = dates.dt.tz_localize(None)
        keep &= dates.notna() & (dates < as_of)
    return frame.loc[keep.to_numpy()]


def _feature_table(
    dataset: Dataset,
    as_of: pd.Timestamp | None,
    drop: Sequence[str] = (),
    context: bool = True,
) -> pd.DataFrame:
    """Every customer's features as of ``as_of``: behaviour, attributes and context."""
    customers = _customers_without_labels(dataset, drop)
    if customers is not None and as_of is not None:
        customers = _dates_as_days(customers, as_of)
    tx = dataset.get("transactions")
    if tx is not None and len(tx) and {"customer_id", "date"} <= set(tx.columns):
        frame = customer_features(tx, customers, as_of)
    elif customers is not None:
        frame = attribute_features(customers)
    else:
        raise DataRequirementError("churn.error.no_customers")
    frame.index = pd.Index(frame.index.astype("str"), name="customer_id")
    stamp = as_of if as_of is not None else frame.attrs.get("as_of")
    if "frequency" in frame.columns and stamp is not None and tx is not None:
        frame["order_trend_180d"] = _order_trend(tx, frame, pd.Timestamp(stamp))
    if context:
        extra = context_features(dataset, as_of)
        if len(extra.columns):
            extra = extra.rename(columns={c: f"ctx_{c}" for c in extra if c in frame.columns})
            counts = [c for c in extra.columns if c in extra.attrs["counts"]]
            frame = frame.join(extra, how="left")
            frame[counts] = frame[counts].fillna(0.0)
    frame.attrs = {}
    return frame


def _order_trend(tx: pd.DataFrame, frame: pd.DataFrame, as_of: pd.Timestamp) -> np.ndarray:
    """(recent - prior) / (recent + prior) of the order rate per day: the last 180 days before
    ``as_of`` against the customer's history before that. -1 stopped, 0 steady, +1 only recent;
    NaN with less than 30 days of history before the window (no rate to compare with)."""
    dates = tx["date"]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        dates = pd.to_datetime(dates, errors="coerce")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    start = as_of - pd.Timedelta(days=ORDER_TREND_DAYS)
    recent_ids = _purchasers(tx, dates, start, as_of, counts=True)
    recent = recent_ids.reindex(frame.index, fill_value=0.0).to_numpy(float)
    total = frame["frequency"].to_numpy(float)
    prior_days = frame["tenure_days"].to_numpy(float) - ORDER_TREND_DAYS
    with np.errstate(divide="ignore", invalid="ignore"):
        recent_rate = recent / ORDER_TREND_DAYS
        prior_rate = np.maximum(total - recent, 0.0) / prior_days
        both = recent_rate + prior_rate
        trend = np.where(both > 0, (recent_rate - prior_rate) / both, 0.0)
    return np.where((prior_days >= ORDER_TREND_MIN_PRIOR_DAYS) & (total > 0), trend, np.nan)


def _purchasers(
    tx: pd.DataFrame,
    dates: pd.Series,
    start: pd.Timestamp,
    end: pd.Timestamp,
    counts: bool = False,
) -> Any:
    """Customers with a purchase in [start, end), by the rules of the features (an Index), or
    with ``counts`` their number of orders in it (a Series)."""
    mask = ((dates >= start) & (dates < end)).to_numpy()
    empty = pd.Series(dtype=float) if counts else pd.Index([], dtype="str")
    if not mask.any():
        return empty
    try:
        table = rfm_table(tx.loc[mask], as_of=end)
    except DataRequirementError:
        return empty
    table.index = pd.Index(table.index.astype("str"), name="customer_id")
    return table["frequency"].astype(float) if counts else table.index


def _population(features: pd.DataFrame, active_days: int | None) -> pd.DataFrame:
    """Customers with a purchase before as-of (and within ``active_days`` of it when set)."""
    keep = features["frequency"].to_numpy() > 0
    if active_days is not None:
        keep &= features["recency_days"].to_numpy() < active_days
    return features.loc[keep]


def _derived_xy(
    dataset: Dataset,
    tx: pd.DataFrame,
    dates: pd.Series,
    as_of: pd.Timestamp,
    window_end: pd.Timestamp,
    params: ChurnLabelParams,
) -> tuple[pd.DataFrame, pd.Series]:
    """Features before ``as_of`` and 0/1 labels (no purchase in [as_of, window_end))."""
    features = _population(_feature_table(dataset, as_of, (), params.context), params.active_days)
    buyers = _purchasers(tx, dates, as_of, window_end)
    y = pd.Series(
        (~features.index.isin(buyers)).astype(np.int64), index=features.index, name="churn"
    )
    return features, y


def _label_values(customers: pd.DataFrame, column: str) -> tuple[pd.Series, pd.Series]:
    """0/1 labels of ``column`` (Int8, NA where empty) and a mask of values that are no label."""
    col = customers[column]
    if pd.api.types.is_bool_dtype(col):
        return col.astype("Int8"), pd.Series(False, index=col.index)
    if pd.api.types.is_numeric_dtype(col):
        numbers = pd.to_numeric(col, errors="coerce").astype(float)
        bad = numbers.notna() & ~numbers.isin([0.0, 1.0])
        return numbers.where(~bad).astype("Int8"), bad
    return parse_labels(col)


def _find_column(customers: pd.DataFrame, column: str) -> str:
    """The customers column named ``column`` (exactly, else ignoring case and spacing)."""
    if column in customers.columns:
        return column
    wanted = _slug(column)
    for name in customers.columns:
        if _slug(name) == wanted:
            return str(name)
    shown = ", ".join(str(c) for c in customers.columns[:12])
    raise DataRequirementError(
        "churn.error.no_label_column", hint="churn.hint.pick_label", column=column, columns=shown
    )


def _column_frame(dataset: Dataset, params: ChurnLabelParams) -> ChurnFrame:
    customers = dataset.get("customers")
    if customers is None or not len(customers) or "customer_id" not in customers.columns:
        raise DataRequirementError("churn.error.no_customers")
    column = _find_column(customers, str(params.label_column))
    values, bad = _label_values(customers, column)
    if bad.any():
        odd = customers.loc[bad.to_numpy(), column].astype("str").str.strip()
        shown = odd.value_counts().index[:5]
        raise InputError(
            "churn.error.bad_labels",
            hint="churn.hint.label_values",
            column=column,
            count=int(bad.sum()),
            values=", ".join(f"“{v}”" for v in shown),
        )
    ids = customers["customer_id"].astype("str")
    labels = pd.Series(values.to_numpy(), index=pd.Index(ids, name="customer_id"))
    labels = labels[~labels.index.duplicated(keep="first")]
    unlabeled = int(labels.isna().sum())
    labels = labels.dropna().astype(np.int64).rename("churn")
    as_of = None
    data_range = None
    tx = dataset.get("transactions")
    if params.as_of is not None:
        as_of = _timestamp(params.as_of)
        if tx is not None and len(tx) and "date" in tx:
            _, dates = _transaction_dates(dataset)
            first, last = dates.min(), dates.max()
            data_range = (first, last)
            if as_of <= pd.Timestamp(first).normalize() or as_of > last.normalize() + _DAY:
                raise ParameterError(
                    "churn.error.as_of_outside",
                    hint="churn.hint.as_of_range",
                    as_of=_date_text(as_of),
                    first=_date_text(first),
                    last=_date_text(last),
                    latest=_date_text(last.normalize() + _DAY),
                )
    features = _feature_table(dataset, as_of, (column,), params.context)
    features = features.reindex(labels.index)
    notes = []
    if unlabeled:
        notes.append(Note("churn.note.unlabeled", {"count": unlabeled, "column": column}))
    rate = float(labels.mean()) if len(labels) else float("nan")
    definition = {
        lang: t(
            "churn.definition.column" if as_of is None else "churn.definition.column_as_of",
            lang,
            column=column,
            as_of=_date_text(as_of) if as_of is not None else "",
            rate=_percent_text(rate),
            n=len(labels),
        )
        for lang in LANGUAGES
    }
    return _finish_frame(features, labels, definition, as_of, params, notes, unlabeled, data_range)


def _percent_text(value: float) -> str:
    return "–" if value != value else f"{value * 100:.1f}%"


def build_churn_frame(dataset: Dataset, params: ChurnLabelParams) -> ChurnFrame:
    """Features ``X`` (index customer_id) and label ``y``, with the definition and churn rate.

    A label column gives one row per labelled customer. A derived label gives one row per customer
    with a purchase before as-of (and within ``active_days`` of it when set); see the module
    docstring for the exact rule.
    """
    _check_label_params(params)
    if not params.derived:
        return _column_frame(dataset, params)
    tx, dates = _transaction_dates(dataset)
    as_of, window_end, _ = _resolve_as_of(params, dates)
    features, y = _derived_xy(dataset, tx, dates, as_of, window_end, params)
    rate = float(y.mean()) if len(y) else float("nan")
    key = "churn.definition.derived_active" if params.active_days else "churn.definition.derived"
    definition = {
        lang: t(
            key,
            lang,
            days=int(params.inactive_days),
            as_of=_date_text(as_of),
            end=_date_text(window_end - _DAY),
            active=params.active_days or 0,
            rate=_percent_text(rate),
            n=len(y),
        )
        for lang in LANGUAGES
    }
    frame = _finish_frame(features, y, definition, as_of, params, [], 0, (dates.min(), dates.max()))
    frame.window_end = window_end
    return frame


def _finish_frame(
    features: pd.DataFrame,
    y: pd.Series,
    definition: dict[str, str],
    as_of: pd.Timestamp | None,
    params: ChurnLabelParams,
    notes: list[Note],
    unlabeled: int,
    data_range: tuple[pd.Timestamp, pd.Timestamp] | None,
) -> ChurnFrame:
    """Typed model matrix, missing-value counts and notes."""
    X, numeric, categorical, dropped = _model_matrix(features)
    if dropped:
        notes.append(Note("churn.note.dropped_columns", {"columns": ", ".join(dropped)}))
    missing = {c: int(v) for c, v in X[numeric].isna().sum().items() if v}
    if missing:
        notes.append(
            Note(
                "churn.note.imputed",
                {"count": sum(missing.values()), "columns": ", ".join(missing)},
            )
        )
    rate = float(y.mean()) if len(y) else float("nan")
    return ChurnFrame(
        X=X,
        y=y,
        definition=definition,
        churn_rate=rate,
        as_of=as_of,
        label_params=params,
        numeric=numeric,
        categorical=categorical,
        missing=missing,
        notes=notes,
        data_range=data_range,
        unlabeled=unlabeled,
    )


def _model_matrix(features: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str], list[str]]:
    """Numeric columns as float (inf -> missing), low-cardinality text as text; others dropped."""
    out: dict[str, pd.Series] = {}
    numeric: list[str] = []
    categorical: list[str] = []
    dropped: list[str] = []
    for name in features.columns:
        col = features[name]
        if pd.api.types.is_bool_dtype(col) or (
            pd.api.types.is_numeric_dtype(col) and not isinstance(col.dtype, pd.CategoricalDtype)
        ):
            values = col.astype(float)
            values = values.where(np.isfinite(values))
            if values.isna().all():
                dropped.append(str(name))
                continue
            out[name] = values
            numeric.append(str(name))
        elif col.nunique(dropna=True) <= MAX_ATTRIBUTE_CATEGORIES and col.notna().any():
            out[name] = col.astype("str").where(col.notna())
            categorical.append(str(name))
        else:
            dropped.append(str(name))
    X = pd.DataFrame(out, index=features.index)
    X = X[[*numeric, *categorical]]
    X.attrs = {}
    return X, numeric, categorical, dropped


# ---------------------------------------------------------------------------------------------
# Pipelines
# ---------------------------------------------------------------------------------------------


def _as_text(x: Any) -> np.ndarray:
    """Category columns as an object array of Python strings (missing stays NaN for the
    imputer); text columns pass without a per-value conversion. (Used by models saved before
    :class:`_Categories`; kept so they still load.)"""
    frame = pd.DataFrame(x)
    columns = []
    for name in frame.columns:
        col = frame[name]
        if not isinstance(col.dtype, pd.StringDtype):
            col = col.astype("str").where(col.notna())
        columns.append(col.to_numpy(dtype=object, na_value=np.nan))
    if not columns:
        return np.empty((len(frame), 0), dtype=object)
    return np.column_stack(columns)


class _Categories(TransformerMixin, BaseEstimator):
    """One-hot encoding of category columns: missing is its own category ``(missing)``, a
    category not seen in training gets all zeros. The same matrix as text conversion +
    ``SimpleImputer`` + ``OneHotEncoder(handle_unknown="ignore")``, but each column is factorised
    once and only its few distinct values are looked up (not every cell), into one preallocated
    matrix: about 3x faster on a million customers."""

    def fit(self, X: Any, y: Any = None) -> _Categories:
        """Learn each column's categories (sorted, as OneHotEncoder)."""
        frame = pd.DataFrame(X)
        self.categories_ = []
        for j in range(frame.shape[1]):
            codes, texts = self._factorize(frame.iloc[:, j])
            found = set(texts) | ({MISSING_CATEGORY} if (codes < 0).any() else set())
            self.categories_.append(np.array(sorted(found), dtype=object))
        self.n_features_in_ = frame.shape[1]
        self.feature_names_in_ = np.asarray(frame.columns, dtype=object)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """0/1 indicator columns, one block per input column in ``categories_`` order."""
        frame = pd.DataFrame(X)
        widths = [len(c) for c in self.categories_]
        out = np.zeros((len(frame), sum(widths)))
        offset = 0
        for j, categories in enumerate(self.categories_):
            codes, texts = self._factorize(frame.iloc[:, j])
            position = {c: i for i, c in enumerate(categories)}
            # the last entry is for missing values (code -1)
            lookup = np.array([position.get(v, -1) for v in [*texts, MISSING_CATEGORY]])
            mapped = lookup[codes]
            rows = np.flatnonzero(mapped >= 0)
            out[rows, offset + mapped[rows]] = 1.0
            offset += widths[j]
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """``column_category`` for each indicator column."""
        return np.asarray(
            [
                f"{name}_{category}"
                for name, categories in zip(self.feature_names_in_, self.categories_, strict=True)
                for category in categories
            ],
            dtype=object,
        )

    @staticmethod
    def _factorize(col: pd.Series) -> tuple[np.ndarray, list[str]]:
        """Codes per row (-1 missing) and each code's text (as ``astype("str")`` gives it)."""
        codes, uniques = pd.factorize(col, use_na_sentinel=True)
        return codes, [str(v) for v in pd.Series(uniques, dtype=object).astype("str")]


def _check_model_params(params: ChurnModelParams) -> None:
    def bad(name: str, allowed: str) -> ParameterError:
        return ParameterError(
            "churn.error.bad_param", name=name, value=getattr(params, name), allowed=allowed
        )

    if params.model not in MODELS:
        raise bad("model", ", ".join(MODELS))
    if not params.C > 0:
        raise bad("C", "> 0")
    if not params.svm_C > 0:
        raise bad("svm_C", "> 0")
    if not 1 <= params.n_estimators <= 2000:
        raise bad("n_estimators", "1-2000")
    if params.max_depth is not None and not 1 <= params.max_depth <= 100:
        raise bad("max_depth", "1-100 or none")
    if not 0 < params.learning_rate <= 1:
        raise bad("learning_rate", "0-1")
    if not 1 <= params.max_iter <= 10_000:
        raise bad("max_iter", "1-10000")
    if not 2 <= params.max_leaf_nodes <= 1000:
        raise bad("max_leaf_nodes", "2-1000")
    if params.class_weight not in (None, "balanced"):
        raise bad("class_weight", "none, balanced")
    if not 2 <= params.cv_folds <= MAX_FOLDS:
        raise bad("cv_folds", f"2-{MAX_FOLDS}")
    if not 0 <= params.threshold <= 1:
        raise bad("threshold", "0-1")
    if params.validation not in VALIDATIONS:
        raise bad("validation", ", ".join(VALIDATIONS))


def _estimator(params: ChurnModelParams, n_rows: int) -> Any:
    cw = params.class_weight
    if params.model == "logreg":
        return LogisticRegression(C=params.C, max_iter=LOGREG_MAX_ITER, class_weight=cw)
    if params.model == "rf":
        return RandomForestClassifier(
            n_estimators=params.n_estimators,
            max_depth=params.max_depth,
            min_samples_leaf=RF_MIN_SAMPLES_LEAF,
            max_samples=RF_MAX_SAMPLES if n_rows > RF_MAX_SAMPLES else None,
            class_weight=cw,
            n_jobs=params.n_jobs if params.n_jobs is not None else _workers(),
            random_state=params.seed,
        )
    if params.model == "hgb":
        return HistGradientBoostingClassifier(
            learning_rate=params.learning_rate,
            max_iter=params.max_iter,
            max_leaf_nodes=params.max_leaf_nodes,
            class_weight=cw,
            random_state=params.seed,
        )
    svm = LinearSVC(
        C=params.svm_C, class_weight=cw, max_iter=SVM_MAX_ITER, random_state=params.seed
    )
    # ensemble=False: one SVM on all rows, calibrated on 3-fold out-of-fold scores; as good as
    # the 3-model ensemble on Telco and the bench, 30% faster to fit and 2x faster to score
    return CalibratedClassifierCV(svm, method="sigmoid", cv=3, ensemble=False)


def build_pipeline(
    params: ChurnModelParams, numeric: Sequence[str], categorical: Sequence[str], n_rows: int = 0
) -> Pipeline:
    """Preprocessing + model in one Pipeline, so fitting, scoring and saving treat data alike."""
    return Pipeline(
        [("prep", _preprocessor(numeric, categorical)), ("model", _estimator(params, n_rows))]
    )


def _preprocessor(numeric: Sequence[str], categorical: Sequence[str]) -> ColumnTransformer:
    """Impute + scale numbers, impute + one-hot categories. The same for every model, so a
    comparison fits it once per fold and shares the matrices (see :class:`_Prepared`)."""
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(
            (
                "num",
                Pipeline(
                    [
                        ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                        ("scale", StandardScaler()),
                    ]
                ),
                list(numeric),
            )
        )
    if categorical:
        transformers.append(("cat", _Categories(), list(categorical)))
    return ColumnTransformer(transformers, remainder="drop", verbose_feature_names_out=False)


def _quietly(fn: Callable[[], Any], notes: list[Note]) -> Any:
    """Run a fit, turning convergence warnings into one user note (other warnings pass on)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        result = fn()
    for w in caught:
        if issubclass(w.category, ConvergenceWarning):
            note = Note("churn.note.convergence", {})
            if note not in notes:
                notes.append(note)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return result


def _fit(params: ChurnModelParams, xt: np.ndarray, y: np.ndarray, notes: list[Note]) -> Any:
    """The model fitted on an already preprocessed matrix (failures as a typed error)."""
    estimator = _estimator(params, len(xt))
    try:
        return _quietly(lambda: estimator.fit(xt, y), notes)
    except (ValueError, FloatingPointError, np.linalg.LinAlgError) as exc:
        raise ParameterError(
            "churn.error.fit_failed", model=params.model, detail=str(exc).split("\n")[0][:200]
        ) from exc


def _check_classes(y: np.ndarray, folds: int | None) -> None:
    """Both classes, and enough of the rarer one for ``folds`` stratified folds."""
    churned = int(np.sum(y == 1))
    retained = int(np.sum(y == 0))
    if churned == 0 or retained == 0:
        raise DataRequirementError(
            "churn.error.one_class",
            hint="churn.hint.both_classes",
            churned=churned,
            retained=retained,
        )
    if len(y) < MIN_CUSTOMERS:
        raise DataRequirementError(
            "churn.error.too_few_customers",
            hint="churn.hint.more_data",
            rows=len(y),
            needed=MIN_CUSTOMERS,
        )
    minority = min(churned, retained)
    if folds is not None and minority < folds:
        if minority < 2:
            raise DataRequirementError(
                "churn.error.too_few_per_class",
                hint="churn.hint.more_data",
                count=minority,
                folds=folds,
            )
        raise ParameterError(
            "churn.error.too_few_per_class",
            hint="churn.hint.fewer_folds",
            count=minority,
            folds=folds,
            suggested=minority,
        )


# ---------------------------------------------------------------------------------------------
# Metrics
# ---------------------------------------------------------------------------------------------


def _counts_at(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    """Confusion counts and the rates derived from them (0 where a rate is undefined)."""
    pred = p >= threshold
    pos = y == 1
    tp = int(np.sum(pred & pos))
    fp = int(np.sum(pred & ~pos))
    fn = int(np.sum(~pred & pos))
    tn = int(np.sum(~pred & ~pos))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    n = len(y)
    return {
        "threshold": float(threshold),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "accuracy": (tp + tn) / n if n else 0.0,
        "flagged": tp + fp,
        "flagged_share": (tp + fp) / n if n else 0.0,
    }


def _gains(y: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    """Cumulative gains and lift at each percent of customers contacted, riskiest first."""
    order = np.argsort(-p, kind="stable")
    hits = np.cumsum(y[order] == 1)
    total = max(int(hits[-1]) if len(hits) else 0, 1)
    n = len(y)
    shares = np.arange(1, GAIN_POINTS + 1) / GAIN_POINTS
    taken = np.maximum(np.ceil(shares * n).astype(int), 1)
    captured = hits[taken - 1] / total
    frame = pd.DataFrame(
        {
            "share_contacted": np.concatenate([[0.0], shares]),
            "share_captured": np.concatenate([[0.0], captured]),
        }
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        lift = frame["share_captured"] / frame["share_contacted"]
    frame["lift"] = lift.where(frame["share_contacted"] > 0)
    return frame


def _thin(frame: pd.DataFrame, points: int = CURVE_POINTS) -> pd.DataFrame:
    """At most ``points`` evenly spaced rows, endpoints kept."""
    if len(frame) <= points:
        return frame.reset_index(drop=True)
    keep = np.unique(np.linspace(0, len(frame) - 1, points).round().astype(int))
    return frame.iloc[keep].reset_index(drop=True)


def _curves(y: np.ndarray, p: np.ndarray) -> dict[str, pd.DataFrame]:
    fpr, tpr, thr = roc_curve(y, p)
    roc = _thin(pd.DataFrame({"fpr": fpr, "tpr": tpr, "threshold": np.minimum(thr, 1.0)}))
    precision, recall, thr = precision_recall_curve(y, p)
    pr = pd.DataFrame(
        {"recall": recall, "precision": precision, "threshold": np.append(thr, 1.0)}
    ).iloc[::-1]
    observed, predicted = calibration_curve(y, p, n_bins=CALIBRATION_BINS, strategy="quantile")
    calibration = pd.DataFrame({"predicted": predicted, "observed": observed})
    return {"roc": roc, "pr": _thin(pr), "gains": _gains(y, p), "calibration": calibration}


def _metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    gains = _gains(y, p)
    decile = gains.loc[gains["share_contacted"].sub(0.1).abs().idxmin(), "lift"]
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "top_decile_lift": float(decile),
        "base_rate": float(np.mean(y)),
        "customers": len(y),
        **_counts_at(y, p, threshold),
    }


def _single_feature(X: pd.DataFrame, y: np.ndarray) -> tuple[str, np.ndarray] | None:
    """The "single feature" baseline score: recency_days, else the best numeric column."""
    if "recency_days" in X.columns and X["recency_days"].notna().any():
        values = X["recency_days"]
        return "recency_days", values.fillna(values.median()).to_numpy(float)
    best: tuple[float, str, np.ndarray] | None = None
    for name in X.columns:
        col = X[name]
        if not pd.api.types.is_numeric_dtype(col) or col.nunique() < 2:
            continue
        score = col.fillna(col.median()).to_numpy(float)
        auc = float(roc_auc_score(y, score))
        if auc < 0.5:
            auc, score = 1 - auc, -score
        if best is None or auc > best[0]:
            best = (auc, str(name), score)
    return None if best is None else (best[1], best[2])


def _baselines(
    single: tuple[str, np.ndarray] | None, y: np.ndarray, train_rate: float, threshold: float
) -> pd.DataFrame:
    """Majority and single-feature baselines on the evaluation rows (``single``: the feature
    and its score from :func:`_single_feature`, found once per frame)."""
    constant = np.full(len(y), train_rate)
    rows = [
        {
            "model": "baseline_majority",
            "feature": "",
            "roc_auc": 0.5,
            "pr_auc": float(np.mean(y)),
            "f1": _counts_at(y, constant, threshold)["f1"],
            "brier": float(brier_score_loss(y, constant)),
            "top_decile_lift": 1.0,
        }
    ]
    if single is not None:
        name, score = single
        gains = _gains(y, score)
        rows.append(
            {
                "model": "baseline_single",
                "feature": name,
                "roc_auc": float(roc_auc_score(y, score)),
                "pr_auc": float(average_precision_score(y, score)),
                "f1": float("nan"),
                "brier": float("nan"),
                "top_decile_lift": float(gains.loc[10, "lift"]),
            }
        )
    return pd.DataFrame(rows)


def metrics_at_threshold(result: ChurnResult, threshold: float) -> dict[str, float]:
    """Confusion matrix, precision, recall, F1 and accuracy at ``threshold`` (no refit).

    Computed on the held-out probabilities, so the page's slider costs one pass over them.
    """
    if not 0 <= threshold <= 1:
        raise ParameterError(
            "churn.error.bad_param", name="threshold", value=threshold, allowed="0-1"
        )
    ev = result.evaluation
    return _counts_at(ev["actual"].to_numpy(), ev["probability"].to_numpy(), float(threshold))


# ---------------------------------------------------------------------------------------------
# Explanation
# ---------------------------------------------------------------------------------------------


def _sample_rows(y: np.ndarray, size: int, seed: int) -> np.ndarray:
    """Indices of at most ``size`` rows, stratified by class, reproducibly (sorted)."""
    if len(y) <= size:
        return np.arange(len(y))
    try:
        keep, _ = train_test_split(
            np.arange(len(y)), train_size=size, stratify=y, random_state=seed
        )
    except ValueError:
        keep = np.random.default_rng(seed).choice(len(y), size, replace=False)
    return np.sort(keep)


def _groups(prep: ColumnTransformer, numeric: list[str], categorical: list[str]) -> np.ndarray:
    """For each transformed column, the index of its input feature (numeric first)."""
    widths = [1] * len(numeric)
    if categorical:
        widths += [len(c) for c in prep.named_transformers_["cat"].categories_]
    return np.repeat(np.arange(len(numeric) + len(categorical)), widths)


def _importance(
    estimator: Any,
    xt: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    features: list[str],
    seed: int,
    notes: list[Note],
) -> pd.DataFrame:
    """Permutation importance: mean ROC-AUC drop when one input feature is shuffled.

    Shuffling an input column and then preprocessing equals shuffling its transformed columns
    together (preprocessing works row by row), so this runs on the held-out matrix: no
    preprocessing per shuffle, and a feature's ``PI_REPEATS`` shuffles go into one prediction.
    """
    keep = _sample_rows(y, PI_ROWS, seed)
    xs, ys = xt[keep], y[keep]
    if len(np.unique(ys)) < 2:
        notes.append(Note("churn.note.no_importance", {}))
        return pd.DataFrame(columns=["feature", "importance", "std"])
    base = roc_auc_score(ys, estimator.predict_proba(xs)[:, 1])
    rng = np.random.default_rng(seed)
    n = len(ys)
    means, stds = [], []
    for j in range(len(features)):
        cols = np.flatnonzero(groups == j)
        stacked = np.tile(xs, (PI_REPEATS, 1))
        for r in range(PI_REPEATS):
            stacked[r * n : (r + 1) * n, cols] = xs[np.ix_(rng.permutation(n), cols)]
        prob = estimator.predict_proba(stacked)[:, 1].reshape(PI_REPEATS, n)
        drops = base - np.array([roc_auc_score(ys, p) for p in prob])
        means.append(float(drops.mean()))
        stds.append(float(drops.std()))
    frame = pd.DataFrame({"feature": list(features), "importance": means, "std": stds})
    return frame.sort_values(
        ["importance", "feature"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)


def _grid(values: pd.Series, categorical: bool) -> np.ndarray:
    """Partial dependence grid: every category, every value of a feature with few values, else
    ``PD_GRID`` points from the 5th to the 95th percentile (as scikit-learn's default)."""
    if categorical:
        return np.array(
            sorted(values.fillna(MISSING_CATEGORY).astype("str").unique()), dtype=object
        )
    numbers = values.dropna().to_numpy(float)
    uniques = np.unique(numbers)
    if len(uniques) < 2:
        return np.empty(0)
    if len(uniques) < PD_GRID:
        return uniques
    low, high = np.percentile(numbers, [5, 95])
    return uniques if low == high else np.linspace(low, high, PD_GRID)


def _partial_dependence(
    model: TrainedModel, X: pd.DataFrame, xt: np.ndarray, features: Sequence[str], seed: int
) -> dict[str, pd.DataFrame]:
    """Average predicted probability over a grid of each feature's values.

    A feature's transformed columns depend only on its own value, so the grid values are
    preprocessed once and written into a seeded sample of the customers' matrix; all grid points
    of a feature are predicted in one call.
    """
    rows = np.arange(len(X))
    if len(X) > PD_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(len(X), PD_ROWS, replace=False))
    xs = xt[rows]
    n = len(rows)
    prep = model.pipeline.named_steps["prep"]
    estimator = model.pipeline.named_steps["model"]
    out: dict[str, pd.DataFrame] = {}
    for name in features:
        grid = _grid(X[name].iloc[rows], name in model.categorical)
        if not len(grid):
            continue
        points = pd.DataFrame([model.typical] * len(grid), columns=model.features)
        points[name] = grid
        at = np.asarray(prep.transform(points), dtype=float)
        cols = np.flatnonzero(model.explainer.groups == model.features.index(name))
        stacked = np.tile(xs, (len(grid), 1))
        stacked[:, cols] = np.repeat(at[:, cols], n, axis=0)
        prob = estimator.predict_proba(stacked)[:, 1].reshape(len(grid), n).mean(axis=1)
        out[name] = pd.DataFrame({"value": grid, "probability": prob})
    return out


def _explainer(
    prep: ColumnTransformer,
    estimator: Any,
    xt: np.ndarray,
    numeric: list[str],
    categorical: list[str],
    typical: dict[str, Any],
    top: list[str],
) -> _Explainer:
    """Group transformed columns by input feature and keep what the factors need."""
    features = [*numeric, *categorical]
    groups = _groups(prep, numeric, categorical)
    if isinstance(estimator, LogisticRegression):
        center = xt.mean(axis=0)
        return _Explainer(
            "linear", features, features, groups, center, estimator.coef_[0].copy(), np.empty(0)
        )
    reference_row = pd.DataFrame([typical], columns=features)
    reference = np.asarray(prep.transform(reference_row), dtype=float)[0]
    explained = [f for f in top if f in features][:OCCLUSION_FEATURES] or features[
        :OCCLUSION_FEATURES
    ]
    return _Explainer("occlusion", features, explained, groups, np.empty(0), np.empty(0), reference)


def _typical(X: pd.DataFrame, numeric: list[str], categorical: list[str]) -> dict[str, Any]:
    """Median of each numeric feature, most frequent value of each category."""
    typical: dict[str, Any] = {}
    for name in numeric:
        median = X[name].median()
        typical[name] = float(median) if pd.notna(median) else 0.0
    for name in categorical:
        counts = X[name].value_counts()
        typical[name] = str(counts.index[0]) if len(counts) else MISSING_CATEGORY
    return typical


def _contributions(
    model: TrainedModel, X: pd.DataFrame, xt: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities and each explained feature's push on them (see the module docstring).

    ``xt`` is ``X`` already preprocessed by the model (the training run has it). Occlusion only
    predicts the customers whose value differs from the reference: for the others it is 0.
    """
    ex = model.explainer
    estimator = model.pipeline.named_steps["model"]
    if xt is None:
        xt = np.asarray(model.pipeline.named_steps["prep"].transform(X[model.features]), float)
    prob = estimator.predict_proba(xt)[:, 1]
    if ex.kind == "linear":
        weighted = (xt - ex.center) * ex.coef
        assign = np.zeros((len(ex.groups), len(ex.features)))
        assign[np.arange(len(ex.groups)), ex.groups] = 1.0
        return prob, weighted @ assign
    contrib = np.zeros((len(X), len(ex.explained)))
    for j, name in enumerate(ex.explained):
        cols = np.flatnonzero(ex.groups == ex.features.index(name))
        changed = np.flatnonzero(np.any(xt[:, cols] != ex.reference[cols], axis=1))
        if not len(changed):
            continue
        moved = xt[changed]
        moved[:, cols] = ex.reference[cols]
        contrib[changed, j] = prob[changed] - estimator.predict_proba(moved)[:, 1]
    return prob, contrib


# ----- factor texts -----


def churn_feature_label(name: str, lang: str = "en") -> str:
    """Human label of a churn feature (behaviour, context or attribute column)."""
    if name.startswith("contacts_"):
        category = name[len("contacts_") :]
        if category == "total":
            return t("churn.feature.contacts_total", lang)
        return t("churn.feature.contacts", lang, category=category.replace("_", " "))
    if name.startswith("feedback_") or name == "order_trend_180d":
        return t(f"churn.feature.{name}", lang)
    return feature_label(name, lang)


def _numbers(values: np.ndarray) -> np.ndarray:
    """Short number texts: whole numbers without decimals, others with up to two."""
    v = np.asarray(values, dtype=float)
    out = np.full(len(v), "–", dtype=object)
    finite = np.isfinite(v)
    whole = finite & ((np.abs(v) >= 100) | (np.abs(v - np.round(v)) < 1e-9))
    out[whole] = np.round(v[whole]).astype(np.int64).astype(str)
    rest = finite & ~whole
    out[rest] = np.round(v[rest], 2).astype(str)
    return out


def _fill(key: str, lang: str, n: int, **values: Any) -> np.ndarray:
    """Vectorised ``t(key, lang, **values)``: each value is a string or an array of n strings."""
    marks = {k: f"\x00{k}\x00" for k in values}
    parts = t(key, lang, **marks).split("\x00")
    out: Any = parts[0]
    for i in range(1, len(parts) - 1, 2):
        value = values.get(parts[i], "")
        out = out + (value if isinstance(value, str) else np.asarray(value, dtype=object))
        if parts[i + 1]:
            out = out + parts[i + 1]
    if isinstance(out, str):
        return np.full(n, out, dtype=object)
    return out


def _phrases(
    name: str, values: np.ndarray, typical: Any, lang: str, categorical: bool
) -> np.ndarray:
    """One factor phrase per customer for feature ``name`` at ``values``."""
    n = len(values)
    label = churn_feature_label(name, lang)
    if categorical:
        shown = np.where(pd.isna(values), t("churn.factor.unknown_value", lang), values)
        return _fill("churn.factor.category", lang, n, feature=label, value=shown.astype(str))
    v = np.asarray(values, dtype=float)
    missing = ~np.isfinite(v)
    if name == "recency_days":
        out = _fill("churn.factor.recency", lang, n, days=_numbers(v))
    elif name in ("trend_90d", "order_trend_180d"):
        days = str(TREND_WINDOW_DAYS if name == "trend_90d" else ORDER_TREND_DAYS)
        prefix = "churn.factor.trend" if name == "trend_90d" else "churn.factor.orders"
        with np.errstate(divide="ignore", invalid="ignore"):
            change = np.where(v < 1, 2 * v / (1 - v), np.inf) * 100
        pct = _numbers(np.minimum(np.abs(np.round(change)), 999))
        out = np.where(
            v <= -1,
            _fill(f"{prefix}_stopped", lang, n, days=days),
            np.where(
                v < 0,
                _fill(f"{prefix}_down", lang, n, days=days, pct=pct),
                _fill(f"{prefix}_up", lang, n, days=days, pct=pct),
            ),
        )
    elif name.startswith("contacts_") and name != "contacts_total":
        category = name[len("contacts_") :].replace("_", " ")
        out = _fill("churn.factor.contacts", lang, n, count=_numbers(v), category=category)
    else:
        out = _fill(
            "churn.factor.value",
            lang,
            n,
            feature=label,
            value=_numbers(v),
            typical=_numbers(np.array([typical]))[0],
        )
    unknown = _fill("churn.factor.unknown", lang, n, feature=label)
    return np.where(missing, unknown, out)


def _factor_texts(
    model: TrainedModel, X: pd.DataFrame, contrib: np.ndarray
) -> dict[str, np.ndarray]:
    """Per customer and language: the up-to-three features that raise the risk most."""
    ex = model.explainer
    n = len(X)
    eps = LINEAR_EPS if ex.kind == "linear" else OCCLUSION_EPS
    k = min(TOP_FACTORS, contrib.shape[1])
    order = np.argsort(-contrib, axis=1, kind="stable")[:, :k]
    strength = np.take_along_axis(contrib, order, axis=1)
    keep = strength > eps
    out: dict[str, np.ndarray] = {}
    for lang in LANGUAGES:
        slots = [np.full(n, "", dtype=object) for _ in range(k)]
        for j, name in enumerate(ex.explained):
            rows, slot = np.nonzero((order == j) & keep)
            if not len(rows):
                continue
            phrases = _phrases(
                name,
                X[name].to_numpy()[rows],
                model.typical.get(name),
                lang,
                name in model.categorical,
            )
            for s in range(k):
                pick = slot == s
                slots[s][rows[pick]] = phrases[pick]
        sep = t("churn.factor.separator", lang)
        text = np.full(n, t("churn.factor.none", lang), dtype=object)
        if k:
            first = keep[:, 0]
            text[first] = slots[0][first]
            for s in range(1, k):
                more = keep[:, s]
                text[more] = text[more] + (sep + slots[s][more])
        out[lang] = text
    return out


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------


def _workers() -> int:
    """Half the cores this process may run on (its CPU affinity, e.g. under ``taskset`` or a
    container's CPU set), at least one: a server or other sessions keep the rest busy."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 2
    return max(1, cores // 2)


def _threads() -> Any:
    """Cap OpenMP threads (gradient boosting) at half the cores, at least one: its loops slow
    down many-fold when they compete for cores that a server or other sessions keep busy."""
    return threadpool_limits(limits=_workers(), user_api="openmp")


class _Clock:
    """Progress in [start, end] of the caller's bar, plus the time limit."""

    def __init__(
        self, progress: Progress | None, start: float, end: float, limit: float | None
    ) -> None:
        self.progress, self.start, self.end, self.limit = progress, start, end, limit
        self.began = time.perf_counter()

    def __call__(self, fraction: float) -> None:
        if self.limit is not None and time.perf_counter() - self.began > self.limit:
            raise ParameterError(
                "churn.error.time_limit", hint="churn.hint.smaller_model", seconds=self.limit
            )
        if self.progress is not None:
            self.progress(self.start + (self.end - self.start) * min(max(fraction, 0.0), 1.0))


class _Prepared:
    """The frame of a run plus what every model of a comparison shares: for a derived label
    the training and current frames, and the preprocessing fitted per fold with its matrices
    (the preprocessing does not depend on the model, so it is fitted once per fold, not once
    per fold and model)."""

    def __init__(self, dataset: Dataset, frame: ChurnFrame, share: bool = False) -> None:
        self.dataset = dataset
        self.frame = frame
        self.share = share
        self._train: tuple[pd.DataFrame, pd.Series] | None = None
        self._train_built = False
        self._current: pd.DataFrame | None = None
        self._splits: dict[tuple[int, int], list[tuple[np.ndarray, np.ndarray]]] = {}
        self._matrices: dict[tuple, tuple[ColumnTransformer, list[np.ndarray]]] = {}
        self._kept_bytes = 0
        self._single: tuple[str, np.ndarray] | None = None
        self._single_built = False

    def train_frame(self) -> tuple[pd.DataFrame, pd.Series] | None:
        """Features before as_of - N and labels from [as_of - N, as_of); None when unusable."""
        if not self._train_built:
            self._train = self._build_train()
            self._train_built = True
        return self._train

    def _build_train(self) -> tuple[pd.DataFrame, pd.Series] | None:
        frame = self.frame
        params = frame.label_params
        if frame.as_of is None:
            return None
        tx, dates = _transaction_dates(self.dataset)
        as_of = frame.as_of - pd.Timedelta(days=int(params.inactive_days))
        if as_of <= pd.Timestamp(dates.min()).normalize():
            return None
        X, y = _derived_xy(self.dataset, tx, dates, as_of, frame.as_of, params)
        churned = int(y.sum())
        if len(y) < MIN_CUSTOMERS or min(churned, len(y) - churned) < 2:
            return None
        return _align(X, frame), y

    def current(self) -> pd.DataFrame:
        """Customers to score now: features before the day after the last transaction."""
        if self._current is None:
            params = self.frame.label_params
            _, dates = _transaction_dates(self.dataset)
            now = default_as_of(dates)
            features = _feature_table(self.dataset, now, (), params.context)
            self._current = _align(_population(features, params.active_days), self.frame)
        return self._current

    def single_feature(self) -> tuple[str, np.ndarray] | None:
        """The single-feature baseline's feature and score (the same for every model)."""
        if not self._single_built:
            self._single = _single_feature(self.frame.X, self.frame.y.to_numpy())
            self._single_built = True
        return self._single

    def splits(self, folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Stratified, shuffled, seeded folds: the same for every model of a comparison."""
        key = (folds, seed)
        if key not in self._splits:
            kfold = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
            self._splits[key] = list(kfold.split(self.frame.X, self.frame.y.to_numpy()))
        return self._splits[key]

    def matrices(
        self, key: tuple, fit: pd.DataFrame, *apply: pd.DataFrame
    ) -> tuple[ColumnTransformer, list[np.ndarray]]:
        """Preprocessing fitted on ``fit``, with ``fit`` and each of ``apply`` transformed by it.

        Kept under ``key`` for the next model when shared, up to ``SHARED_MATRIX_BYTES``.
        """
        if key in self._matrices:
            return self._matrices[key]
        prep = _preprocessor(self.frame.numeric, self.frame.categorical)
        first = np.asarray(prep.fit_transform(fit), dtype=float)
        out = [first, *(np.asarray(prep.transform(x), dtype=float) for x in apply)]
        size = sum(m.nbytes for m in out)
        if self.share and self._kept_bytes + size <= SHARED_MATRIX_BYTES:
            self._matrices[key] = (prep, out)
            self._kept_bytes += size
        return prep, out


def _align(features: pd.DataFrame, frame: ChurnFrame) -> pd.DataFrame:
    """Features in the frame's columns and types; a category or contact column a period lacks is
    0 (no spend, no contact), any other missing column is missing (imputed)."""
    out = pd.DataFrame(index=features.index)
    for name in frame.numeric:
        if name in features.columns:
            values = pd.to_numeric(features[name], errors="coerce").astype(float)
            out[name] = values.where(np.isfinite(values))
        else:
            zero = name.startswith(("share_", "contacts_")) or name == "feedback_count"
            out[name] = 0.0 if zero else np.nan
    for name in frame.categorical:
        if name in features.columns:
            col = features[name]
            out[name] = col.astype("str").where(col.notna())
        else:
            out[name] = pd.Series(np.nan, index=features.index, dtype="str")
    return out


def _prepare(dataset: Dataset, label_params: ChurnLabelParams, share: bool = False) -> _Prepared:
    frame = build_churn_frame(dataset, label_params)
    if not frame.features:
        raise DataRequirementError("churn.error.no_features")
    _check_classes(frame.y.to_numpy(), None)
    return _Prepared(dataset, frame, share)


def run_churn(
    dataset: Dataset,
    label_params: ChurnLabelParams,
    model_params: ChurnModelParams | None = None,
    progress: Progress | None = None,
) -> ChurnResult:
    """Build the label and features, evaluate one model, explain it and score customers."""
    model_params = model_params or ChurnModelParams()
    _check_model_params(model_params)
    prepared = _prepare(dataset, label_params)
    if progress is not None:
        progress(0.05)
    clock = _Clock(progress, 0.05, 1.0, model_params.time_limit_s)
    with _threads():
        return _run(prepared, model_params, clock)


def compare_models(
    dataset: Dataset,
    label_params: ChurnLabelParams,
    params_list: Sequence[ChurnModelParams],
    progress: Progress | None = None,
) -> ChurnComparison:
    """Every model on the same frame and folds, with the baselines, in one table.

    The folds' preprocessing is fitted once and shared by the models.
    """
    if not params_list:
        raise ParameterError("churn.error.no_models")
    for params in params_list:
        _check_model_params(params)
    prepared = _prepare(dataset, label_params, share=len(params_list) > 1)
    if progress is not None:
        progress(0.05)
    results: dict[str, ChurnResult] = {}
    step = 0.95 / len(params_list)
    for i, params in enumerate(params_list):
        clock = _Clock(progress, 0.05 + i * step, 0.05 + (i + 1) * step, params.time_limit_s)
        key = params.model if params.model not in results else f"{params.model}_{i + 1}"
        with _threads():
            results[key] = _run(prepared, params, clock)
    rows = []
    for key, result in results.items():
        m = result.metrics
        rows.append(
            {
                "model": key,
                "feature": "",
                "roc_auc": m["roc_auc"],
                "pr_auc": m["pr_auc"],
                "f1": m["f1"],
                "brier": m["brier"],
                "top_decile_lift": m["top_decile_lift"],
                "seconds": result.seconds,
            }
        )
    first = next(iter(results.values()))
    table = pd.concat([pd.DataFrame(rows), first.baselines], ignore_index=True)
    return ChurnComparison(results=results, table=table, frame=prepared.frame)


@dataclass
class _Evaluation:
    """Held-out probabilities, and a model with preprocessed held-out rows to explain."""

    kind: str  # "cv" or "time"
    prob: np.ndarray  # for every row of the frame
    train_rate: float
    explain_model: Any  # a fitted estimator (no preprocessing)
    explain_xt: np.ndarray  # held-out rows, preprocessed as that model's training rows
    explain_y: np.ndarray
    explain_groups: np.ndarray  # transformed column -> input feature


def _evaluate(
    prepared: _Prepared, params: ChurnModelParams, notes: list[Note], clock: _Clock
) -> _Evaluation:
    """Cross-validation or the time-based holdout (see the module docstring).

    The explanation needs a model of the same concept as the final one with rows it did not
    see: the last fold's model in cross-validation; in the time holdout (whose model learnt an
    earlier period's label) a model fitted on a stratified part of the as-of frame.
    """
    frame = prepared.frame
    numeric, categorical = frame.numeric, frame.categorical
    derived = frame.label_params.derived
    y = frame.y.to_numpy()
    use_time = params.validation == "time" or (params.validation == "auto" and derived)
    if use_time:
        train = prepared.train_frame() if derived else None
        if train is None:
            key = "churn.note.time_unavailable" if derived else "churn.note.time_needs_derived"
            notes.append(Note(key, {}))
        else:
            X_tr, y_tr = train
            prep, (xt_tr, xt) = prepared.matrices(("time",), X_tr, frame.X)
            model = _fit(params, xt_tr, y_tr.to_numpy(), notes)
            prob = model.predict_proba(xt)[:, 1]
            clock(0.35)
            if not params.explain:
                groups = _groups(prep, numeric, categorical)
                return _Evaluation("time", prob, float(y_tr.mean()), model, xt, y, groups)
            fit_idx, held_idx = _explain_split(y, params)
            prep, (xt_fit, xt_held) = prepared.matrices(
                ("twin", params.cv_folds, params.seed),
                frame.X.iloc[fit_idx],
                frame.X.iloc[held_idx],
            )
            twin = _fit(params, xt_fit, y[fit_idx], notes)
            clock(0.6)
            groups = _groups(prep, numeric, categorical)
            return _Evaluation("time", prob, float(y_tr.mean()), twin, xt_held, y[held_idx], groups)
    _check_classes(y, params.cv_folds)
    prob = np.zeros(len(y))
    splits = prepared.splits(params.cv_folds, params.seed)
    for i, (train_idx, test_idx) in enumerate(splits):
        prep, (xt_train, xt_test) = prepared.matrices(
            ("fold", params.cv_folds, params.seed, i),
            frame.X.iloc[train_idx],
            frame.X.iloc[test_idx],
        )
        model = _fit(params, xt_train, y[train_idx], notes)
        prob[test_idx] = model.predict_proba(xt_test)[:, 1]
        clock(0.6 * (i + 1) / params.cv_folds)
    groups = _groups(prep, numeric, categorical)
    return _Evaluation("cv", prob, float(np.mean(y)), model, xt_test, y[test_idx], groups)


def _explain_split(y: np.ndarray, params: ChurnModelParams) -> tuple[np.ndarray, np.ndarray]:
    """A stratified 1/cv_folds of the rows held out for the explanation, seeded."""
    rows = np.arange(len(y))
    try:
        fit_idx, held_idx = train_test_split(
            rows, test_size=1 / params.cv_folds, stratify=y, random_state=params.seed
        )
    except ValueError:
        fit_idx, held_idx = train_test_split(
            rows, test_size=1 / params.cv_folds, random_state=params.seed
        )
    return np.sort(fit_idx), np.sort(held_idx)


def _leak_note(frame: ChurnFrame, dataset: Dataset, roc_auc: float) -> Note | None:
    """A warning when held-out ROC-AUC is near perfect: real churn is never that predictable,
    so the label almost always leaks into the features (for example features that include
    the period in which a label column was decided)."""
    if not roc_auc > SUSPICIOUS_AUC:
        return None
    values = {"auc": f"{roc_auc:.3f}"}
    if not frame.label_params.derived and dataset.has("transactions", "customer_id", "date"):
        if frame.as_of is None:
            return Note("churn.note.suspicious_auc_no_as_of", values)
        return Note("churn.note.suspicious_auc_as_of", {**values, "as_of": _date_text(frame.as_of)})
    return Note("churn.note.suspicious_auc", values)


def _run(prepared: _Prepared, params: ChurnModelParams, clock: _Clock) -> ChurnResult:
    started = time.perf_counter()
    frame = prepared.frame
    notes = list(frame.notes)
    ev = _evaluate(prepared, params, notes, clock)
    y = frame.y.to_numpy()
    prob = ev.prob
    metrics = _metrics(y, prob, params.threshold)
    leak = _leak_note(frame, prepared.dataset, metrics["roc_auc"])
    if leak is not None:
        notes.insert(0, leak)
    curves = _curves(y, prob)
    baselines = _baselines(prepared.single_feature(), y, ev.train_rate, params.threshold)
    evaluation = pd.DataFrame({"actual": y, "probability": prob}, index=frame.X.index)
    evaluated = time.perf_counter()

    prep, (xt,) = prepared.matrices(("final",), frame.X)
    final = _fit(params, xt, y, notes)
    fitted = time.perf_counter()
    clock(0.75)
    if params.explain:
        importance = _importance(
            ev.explain_model,
            ev.explain_xt,
            ev.explain_y,
            ev.explain_groups,
            frame.features,
            params.seed,
            notes,
        )
        clock(0.85)
        top = [f for f in importance["feature"] if f in frame.features]
    else:
        importance = pd.DataFrame(columns=["feature", "importance", "std"])
        top = []
    typical = _typical(frame.X, frame.numeric, frame.categorical)
    model = TrainedModel(
        pipeline=Pipeline([("prep", prep), ("model", final)]),
        numeric=list(frame.numeric),
        categorical=list(frame.categorical),
        model_params=params,
        label_params=frame.label_params,
        metrics={k: float(v) for k, v in metrics.items()},
        data_fingerprint=prepared.dataset.fingerprint,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        as_of=None if frame.as_of is None else _date_text(frame.as_of),
        validation=ev.kind,
        definition=dict(frame.definition),
        explainer=_explainer(prep, final, xt, frame.numeric, frame.categorical, typical, top),
        typical=typical,
        importance=dict(zip(importance["feature"], importance["importance"], strict=True)),
    )
    pdep: dict[str, pd.DataFrame] = {}
    if params.explain:
        positive = importance.loc[importance["importance"] > 0, "feature"].tolist()
        pdep = _partial_dependence(model, frame.X, xt, positive[:PD_FEATURES], params.seed)
    explained = time.perf_counter()
    clock(0.9)
    # factors for every customer only when the model is explained (a comparison skips them)
    if frame.label_params.derived:
        current = prepared.current()
        scores = score_frame(model, current, explain=params.explain)
    else:
        current = frame.X
        scores = score_frame(model, current, explain=params.explain, xt=xt)
        scores["probability"] = prob  # out-of-fold: honest for customers the model saw
        scores["actual"] = frame.y.to_numpy()
    for column in ("monetary", "recency_days", "frequency"):
        if column in current.columns:
            scores[column] = current[column].to_numpy()
    clock(1.0)
    done = time.perf_counter()
    return ChurnResult(
        name=params.model,
        params=params,
        label_params=frame.label_params,
        definition=dict(frame.definition),
        churn_rate=frame.churn_rate,
        as_of=frame.as_of,
        validation=ev.kind,
        evaluation=evaluation,
        threshold=params.threshold,
        metrics=metrics,
        roc=curves["roc"],
        pr=curves["pr"],
        gains=curves["gains"],
        calibration=curves["calibration"],
        baselines=baselines,
        importance=importance,
        partial_dependence=pdep,
        scores=scores,
        model=model,
        notes=notes,
        missing=dict(frame.missing),
        n_customers=len(frame.y),
        seconds=round(done - started, 3),
        timings={
            "evaluation": round(evaluated - started, 3),
            "final_fit": round(fitted - evaluated, 3),
            "explanation": round(explained - fitted, 3),
            "scores": round(done - explained, 3),
        },
    )


# ---------------------------------------------------------------------------------------------
# Scoring, risk list, target list
# ---------------------------------------------------------------------------------------------


def score_frame(
    model: TrainedModel, X: pd.DataFrame, explain: bool = True, xt: np.ndarray | None = None
) -> pd.DataFrame:
    """Probability (and factors in every language) for each row of a model-ready frame.

    ``xt``: ``X`` already preprocessed by the model's own preprocessing (saves a pass).
    """
    if not len(X):
        columns = ["probability", *(f"factors_{lang}" for lang in LANGUAGES)]
        return pd.DataFrame(columns=columns, index=X.index)
    if not explain:
        if xt is None:
            prob = model.pipeline.predict_proba(X[model.features])[:, 1]
        else:
            prob = model.pipeline.named_steps["model"].predict_proba(xt)[:, 1]
        return pd.DataFrame({"probability": prob}, index=X.index)
    prob, contrib = _contributions(model, X, xt)
    texts = _factor_texts(model, X, contrib)
    out = pd.DataFrame({"probability": prob}, index=X.index)
    for lang, text in texts.items():
        out[f"factors_{lang}"] = pd.array(text, dtype="str")
    return out


def score_dataset(
    model: TrainedModel,
    dataset: Dataset,
    as_of: pd.Timestamp | str | None = None,
    explain: bool = True,
) -> pd.DataFrame:
    """Score another dataset with a trained model (index customer_id; probability, factors).

    Features are built the way the model was trained: a derived-label model scores customers
    with a purchase before ``as_of`` (default: the day after the last transaction). Feature
    columns the dataset cannot provide raise a DataRequirementError naming them.
    """
    lp = model.label_params
    if lp.derived:
        _, dates = _transaction_dates(dataset)
        stamp = default_as_of(dates) if as_of is None else _timestamp(as_of)
        features = _population(_feature_table(dataset, stamp, (), lp.context), lp.active_days)
    else:
        stamp = None if as_of is None else _timestamp(as_of)
        features = _feature_table(dataset, stamp, (str(lp.label_column),), lp.context)
    has_comms = dataset.has("communications", "customer_id")
    has_categories = dataset.has("transactions", "category")
    fillable = {
        name
        for name in model.numeric
        if (name.startswith("contacts_") and has_comms)
        or (name.startswith("share_") and has_categories)
    }
    missing = [c for c in model.features if c not in features.columns and c not in fillable]
    if missing:
        raise DataRequirementError(
            "churn.error.missing_features",
            hint="churn.hint.same_columns",
            columns=", ".join(missing[:20]),
        )
    X = pd.DataFrame(index=features.index)
    for name in model.numeric:
        values = (
            pd.to_numeric(features[name], errors="coerce").astype(float)
            if name in features.columns
            else pd.Series(0.0, index=features.index)
        )
        X[name] = values.where(np.isfinite(values))
    for name in model.categorical:
        col = features[name]
        X[name] = col.astype("str").where(col.notna())
    with _threads():
        return score_frame(model, X, explain=explain)


def risk_list(
    result: ChurnResult,
    segments: pd.Series | None = None,
    value: pd.Series | None = None,
) -> pd.DataFrame:
    """Customers ranked by churn probability, with segment, value, expected loss and factors.

    ``value`` defaults to the customer's revenue (``monetary``) when the data has transactions;
    expected loss = probability x value.
    """
    scores = result.scores
    frame = pd.DataFrame(index=scores.index)
    frame["probability"] = scores["probability"].astype(float)
    if segments is not None:
        seg = segments.copy()
        seg.index = seg.index.astype("str")
        frame["segment"] = seg.reindex(frame.index).astype("str").to_numpy()
    if value is not None:
        given = value.copy()
        given.index = given.index.astype("str")
        frame["value"] = pd.to_numeric(given.reindex(frame.index), errors="coerce").to_numpy()
    elif "monetary" in scores.columns:
        frame["value"] = scores["monetary"].astype(float).to_numpy()
    else:
        frame["value"] = np.nan
    frame["expected_loss"] = frame["probability"] * frame["value"]
    for column in ("actual", "recency_days", "frequency"):
        if column in scores.columns:
            frame[column] = scores[column].to_numpy()
    for lang in LANGUAGES:
        if f"factors_{lang}" in scores.columns:
            frame[f"factors_{lang}"] = scores[f"factors_{lang}"]
    frame.index.name = "customer_id"
    frame = frame.reset_index()
    frame = frame.sort_values(
        ["probability", "customer_id"], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)
    frame.insert(0, "rank", np.arange(1, len(frame) + 1))
    return frame


def target_list(
    risk: pd.DataFrame,
    budget_n: int | None = None,
    budget_money: float | None = None,
    cost_per_contact: float = 1.0,
    save_rate: float = 0.2,
) -> pd.DataFrame:
    """Whom to contact: customers by expected saved value = probability x value x save_rate.

    Only contacts worth more than they cost are kept (net value > 0). ``budget_n`` caps the number
    of contacts, ``budget_money`` the total contact cost (both may be given; the tighter wins).
    """
    if budget_n is not None and budget_n < 0:
        raise ParameterError(
            "churn.error.bad_param", name="budget_n", value=budget_n, allowed=">=0"
        )
    if budget_money is not None and budget_money < 0:
        raise ParameterError(
            "churn.error.bad_param", name="budget_money", value=budget_money, allowed=">= 0"
        )
    if not cost_per_contact >= 0:
        raise ParameterError(
            "churn.error.bad_param", name="cost_per_contact", value=cost_per_contact, allowed=">=0"
        )
    if not 0 <= save_rate <= 1:
        raise ParameterError(
            "churn.error.bad_param", name="save_rate", value=save_rate, allowed="0-1"
        )
    if "value" not in risk.columns or risk["value"].notna().sum() == 0:
        raise DataRequirementError("churn.error.no_value", hint="churn.hint.give_value")
    frame = risk[risk["value"].notna()].copy()
    frame["expected_saved_value"] = frame["probability"] * frame["value"] * save_rate
    frame["net_value"] = frame["expected_saved_value"] - cost_per_contact
    frame = frame[frame["net_value"] > 0]
    frame = frame.sort_values(
        ["expected_saved_value", "customer_id"], ascending=[False, True], kind="stable"
    )
    limit = len(frame)
    if budget_n is not None:
        limit = min(limit, int(budget_n))
    if budget_money is not None and cost_per_contact > 0:
        limit = min(limit, int(np.floor(budget_money / cost_per_contact + 1e-9)))
    frame = frame.head(limit).reset_index(drop=True)
    frame["cumulative_cost"] = cost_per_contact * np.arange(1, len(frame) + 1, dtype=float)
    frame["cumulative_net_value"] = frame["net_value"].cumsum()
    return frame


# ---------------------------------------------------------------------------------------------
# Saving and loading (the studio's own files only)
# ---------------------------------------------------------------------------------------------


def _json_number(value: Any) -> Any:
    if isinstance(value, float | np.floating):
        return None if not np.isfinite(value) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


def serialize_model(result: ChurnResult | TrainedModel, key: bytes | None = None) -> bytes:
    """The trained model as bytes in the studio's own format, for the studio's workspace.

    Layout: ``MAGIC``, a 4-byte header length, a JSON header (format, version, payload SHA-256,
    HMAC-SHA256 when ``key`` is given, metadata) and a pickle payload. The digest detects damage
    and edits; it does not make a foreign file safe to load (see :func:`load_model`).
    """
    model = result.model if isinstance(result, ChurnResult) else result
    payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    header: dict[str, Any] = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "payload_bytes": len(payload),
        "payload_sha256": hashlib.sha256(payload).hexdigest(),
        "metadata": model.metadata(),
    }
    if key is not None:
        header["payload_hmac"] = hmac.new(key, payload, hashlib.sha256).hexdigest()
    text = json.dumps(header, ensure_ascii=False, sort_keys=True, default=str).encode("utf-8")
    return MAGIC + len(text).to_bytes(4, "big") + text + payload


def read_model_header(data: bytes) -> dict[str, Any]:
    """The JSON header of a saved model (no unpickling); refuses bytes not in the format."""
    if not isinstance(data, bytes | bytearray) or not data.startswith(MAGIC):
        raise InputError("churn.error.not_a_model", hint="churn.hint.retrain")
    start = len(MAGIC) + 4
    if len(data) < start:
        raise InputError("churn.error.not_a_model", hint="churn.hint.retrain")
    size = int.from_bytes(data[len(MAGIC) : start], "big")
    if size > MAX_HEADER_BYTES or len(data) < start + size:
        raise InputError("churn.error.not_a_model", hint="churn.hint.retrain")
    try:
        header = json.loads(bytes(data[start : start + size]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError("churn.error.not_a_model", hint="churn.hint.retrain") from exc
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise InputError("churn.error.not_a_model", hint="churn.hint.retrain")
    if header.get("version") != FORMAT_VERSION:
        raise InputError(
            "churn.error.model_version",
            hint="churn.hint.retrain",
            version=str(header.get("version")),
            expected=FORMAT_VERSION,
        )
    header["_payload_offset"] = start + size
    return header


def load_model(data: bytes, key: bytes | None = None) -> TrainedModel:
    """Load a model written by :func:`serialize_model` into the studio's own workspace.

    NEVER call this on an uploaded or downloaded file: the payload is a pickle, and unpickling
    runs code. The checks below (magic, format version, payload length, SHA-256, HMAC when a key
    is given, scikit-learn version) refuse damaged, edited or foreign bytes before anything is
    unpickled, but only the studio writing the bytes itself makes them trustworthy.
    """
    header = read_model_header(data)
    payload = bytes(data[header["_payload_offset"] :])
    if len(payload) != header.get("payload_bytes"):
        raise InputError("churn.error.model_damaged", hint="churn.hint.retrain")
    digest = hashlib.sha256(payload).hexdigest()
    if not hmac.compare_digest(digest, str(header.get("payload_sha256", ""))):
        raise InputError("churn.error.model_damaged", hint="churn.hint.retrain")
    if key is not None:
        expected = hmac.new(key, payload, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, str(header.get("payload_hmac", ""))):
            raise InputError("churn.error.model_damaged", hint="churn.hint.retrain")
    saved_version = str(header.get("metadata", {}).get("sklearn_version", ""))
    if saved_version.split(".")[:2] != sklearn.__version__.split(".")[:2]:
        raise InputError(
            "churn.error.model_sklearn",
            hint="churn.hint.retrain",
            saved=saved_version,
            current=sklearn.__version__,
        )
    model = pickle.loads(payload)
    if not isinstance(model, TrainedModel):
        raise InputError("churn.error.not_a_model", hint="churn.hint.retrain")
    return model


def comparison_table(comparison: ChurnComparison, lang: str = "en") -> pd.DataFrame:
    """The comparison with translated model names, for display and export."""
    table = comparison.table.copy()
    names = []
    for key, feature in zip(table["model"], table["feature"], strict=True):
        base = key if key in MODELS or key.startswith("baseline") else key.rsplit("_", 1)[0]
        name = model_name(base, lang)
        if feature:
            name = f"{name} ({churn_feature_label(feature, lang)})"
        names.append(name)
    table.insert(0, "name", names)
    return table


def evaluation_summary(result: ChurnResult) -> Mapping[str, Any]:
    """Headline numbers for a card: customers, churn rate, validation and main metrics."""
    m = result.metrics
    return {
        "customers": result.n_customers,
        "churn_rate": result.churn_rate,
        "validation": result.validation,
        "roc_auc": m["roc_auc"],
        "pr_auc": m["pr_auc"],
        "brier": m["brier"],
        "top_decile_lift": m["top_decile_lift"],
    }
