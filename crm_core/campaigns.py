"""Campaign and contact strategies: which channel, frequency, day, content and segment get answers.

Contacts. One row of the campaigns table is one contact (a customer targeted by a campaign); without
a campaigns table (or with ``source="communications"``) every outbound message of the
communications table is one (all messages when there is no direction column).

Metrics per contact:

* ``response`` — the campaigns table's ``responded`` (0/1), or a communications ``outcome`` whose
  values read as yes/no labels;
* ``retention`` — the customer bought again (a transaction that is not a return) on one of the
  ``retention_days`` days after the contact day. Contacts whose window runs past the last
  transaction date cannot be judged and are left out (counted in a note);
* ``satisfaction`` — the mean feedback score the customer gave on the ``satisfaction_days`` days
  after the contact day (contacts without feedback in that window are not counted).

Dimensions: channel, campaign, contact frequency (the ``contacts`` column binned, ``10+`` from
``max_contacts`` up, or the number of contacts a customer got in the table), day of week, content
category, segment (a saved segmentation or RFM, :mod:`crm_core.segment_labels`) and any other
low-cardinality category column of the contact table.

Statistics. Rates carry Wilson score intervals; a difference of two rates is tested with the pooled
two-proportion z-test (equal to Pearson's chi-square on the 2×2 table without continuity
correction) and gets Newcombe's hybrid score interval (method 10); mean scores get Student-t
intervals and are compared with Welch's test. The best channel per segment must beat every other
channel that has enough data, with Holm-adjusted p-values (one family per segment). A level with
fewer than ``min_contacts`` contacts or ``min_responses`` responses never wins ("not enough data").
Sample sizes use Cohen's arcsine effect size and the normal approximation (as statsmodels'
``NormalIndPower`` with ``proportion_effectsize``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from crm_core.errors import DataRequirementError, ParameterError
from crm_core.schema import cancellation_mask, parse_labels
from crm_core.segment_labels import segment_labels
from crm_core.segmentation import Note

if TYPE_CHECKING:
    from crm_core.store import Workspace
    from crm_core.tables import Dataset

SOURCES: tuple[str, ...] = ("auto", "campaigns", "communications")
DIMENSIONS: tuple[str, ...] = ("channel", "campaign", "contacts", "weekday", "category", "segment")
METRICS: tuple[str, ...] = ("response", "retention", "satisfaction")
PROPORTION_METRICS: tuple[str, ...] = ("response", "retention")
VERDICTS: tuple[str, ...] = ("a_better", "b_better", "no_difference", "not_enough_data")
STATUSES: tuple[str, ...] = ("significant", "not_significant", "not_enough_data")
WEEKDAYS: tuple[str, ...] = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
ALL = "__all__"
MAX_LEVELS = 50  # a column with more distinct values is an id or free text, not a dimension
LABEL_RATE = 0.9  # share of outcomes that must read as yes/no for them to count as responses
_NOT_DIMENSIONS = frozenset(
    {"customer_id", "order_id", "date", "text", "name", "responded", "outcome", "revenue"}
)
_DAY_NS = 86_400 * 10**9
ROLE_COLUMNS = frozenset({"contacts", "direction", "channel", "campaign", "category"})
_METRIC_COLUMNS = ("_response", "_retained", "_satisfaction")


@dataclass(frozen=True)
class CampaignParams:
    """Which contacts, which breakdowns, which windows and how much data a winner needs."""

    source: str = "auto"  # "auto" (campaigns, else communications) | "campaigns" | ...
    by: tuple[str, ...] = ()  # dimensions to break down by; () = every standard one available
    retention_days: int = 30
    satisfaction_days: int = 30
    min_contacts: int = 100  # per arm/level before it can be declared a winner
    min_responses: int = 10
    alpha: float = 0.05  # test level; intervals are 1 - alpha
    max_contacts: int = 10  # contact counts from this up form one bin ("10+")
    segmentation: str | None = None  # saved segmentation or segment_labels.RFM_CHOICE


class Arm(NamedTuple):
    """One strategy of an A/B comparison: the contacts whose ``dimension`` equals ``value``."""

    dimension: str
    value: str


@dataclass
class ContactTable:
    """One row per contact: dimension columns (text) and metric columns ``_response``,
    ``_retained`` (0/1, NaN when unknown) and ``_satisfaction`` (mean score, NaN when none)."""

    frame: pd.DataFrame
    source: str
    dimensions: list[str]  # every dimension the rows offer (standard first, then extra columns)
    metrics: list[str]  # metrics with at least one known value
    notes: list[Note] = field(default_factory=list)

    def levels(self, dimension: str) -> list[str]:
        """The values of a dimension, in display order."""
        return _ordered_levels(self.frame[dimension], dimension)


@dataclass
class CampaignResult:
    """Breakdowns per dimension, the frequency curve and the best channel per segment."""

    params: CampaignParams
    source: str
    n_contacts: int
    metrics: list[str]
    dimensions: list[str]  # every dimension the data offers (for A/B choices)
    tables: dict[str, pd.DataFrame]  # dimension -> one row per level
    tests: dict[str, dict[str, Any]]  # dimension -> chi-square across levels with enough data
    frequency: pd.DataFrame  # contacts, n, responses, rate, ci_low, ci_high, fitted
    trend: dict[str, float] | None  # odds ratio per extra contact, its CI and p-value
    best: pd.DataFrame  # one row per segment (ALL first): best channel and its status
    comparisons: pd.DataFrame  # per segment: best vs each other channel, raw and Holm p
    overall: dict[str, float]
    notes: list[Note] = field(default_factory=list)


@dataclass
class ABResult:
    """Two strategies side by side: rates with intervals, the difference, the test, the power."""

    metric: str
    a: Arm
    b: Arm
    n_a: int
    x_a: float  # responses (or retained customers, or the score sum)
    value_a: float  # rate or mean score
    low_a: float
    high_a: float
    n_b: int
    x_b: float
    value_b: float
    low_b: float
    high_b: float
    diff: float  # a - b
    diff_low: float
    diff_high: float
    statistic: float  # z (proportions) or Welch t (scores)
    p_value: float
    alpha: float
    enough: bool
    verdict: str  # one of VERDICTS
    power: float | None  # chance to detect the observed difference with these sizes
    effect: float | None  # difference the sample size is planned for (absolute)
    target_power: float
    needed_per_arm: int | None
    notes: list[Note] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------------------------


def _z(alpha: float) -> float:
    return float(stats.norm.ppf(1 - alpha / 2))


def wilson_interval(
    successes: np.ndarray | float, n: np.ndarray | float, alpha: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a proportion, vectorised; NaN where ``n`` is 0.

    Wilson rather than Wald: it stays inside 0–1 and keeps its coverage at small counts and at
    rates near 0, which is where campaign response rates live."""
    x = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    z = _z(alpha)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = x / n
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    low, high = centre - half, centre + half
    low = np.where(n > 0, np.clip(low, 0.0, 1.0), np.nan)
    high = np.where(n > 0, np.clip(high, 0.0, 1.0), np.nan)
    return low, high


def two_proportion_test(x1: float, n1: float, x2: float, n2: float) -> tuple[float, float]:
    """Pooled two-proportion z-test: (z, two-sided p). Its z² is Pearson's chi-square on the
    2×2 table without continuity correction; p is 1 when nobody (or everybody) responded."""
    if n1 <= 0 or n2 <= 0:
        return float("nan"), float("nan")
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return 0.0, 1.0
    z = (x1 / n1 - x2 / n2) / math.sqrt(variance)
    return float(z), float(2 * stats.norm.sf(abs(z)))


def newcombe_interval(
    x1: float, n1: float, x2: float, n2: float, alpha: float = 0.05
) -> tuple[float, float]:
    """Newcombe's hybrid score interval (method 10) of ``p1 - p2`` from the two Wilson intervals:
    unlike Wald it behaves at small counts and rates near 0 or 1."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = (float(v) for v in wilson_interval(x1, n1, alpha))
    l2, u2 = (float(v) for v in wilson_interval(x2, n2, alpha))
    d = p1 - p2
    return (
        d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
        d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
    )


def _effect_size(p1: float, p2: float) -> float:
    """Cohen's h (statsmodels' ``proportion_effectsize``)."""
    return 2 * math.asin(math.sqrt(p1)) - 2 * math.asin(math.sqrt(p2))


def sample_size(p1: float, p2: float, alpha: float = 0.05, power: float = 0.8) -> int:
    """Contacts needed per arm to detect ``p1`` vs ``p2`` with a two-sided test at ``alpha``
    with the given power (arcsine effect size, normal approximation, equal arms)."""
    for name, value in (("p1", p1), ("p2", p2)):
        if not 0 < value < 1:
            raise ParameterError("campaigns.error.bad_param", name=name, value=value, allowed="0-1")
    if not 0 < alpha < 0.5:
        raise ParameterError(
            "campaigns.error.bad_param", name="alpha", value=alpha, allowed="0-0.5"
        )
    if not 0.5 <= power < 1:
        raise ParameterError(
            "campaigns.error.bad_param", name="power", value=power, allowed="0.5-1"
        )
    h = abs(_effect_size(p1, p2))
    if h == 0:
        raise ParameterError("campaigns.error.no_effect")
    # each arm's 2·asin(√p) has variance 1/n, so their difference has variance 2/n
    n = 2 * ((_z(alpha) + float(stats.norm.ppf(power))) / h) ** 2
    return math.ceil(n - 1e-9)


def achieved_power(p1: float, p2: float, n1: int, n2: int, alpha: float = 0.05) -> float | None:
    """Power of the two-sided test for a true difference ``p1`` vs ``p2`` at these sizes."""
    if not (0 < p1 < 1 and 0 < p2 < 1) or n1 <= 0 or n2 <= 0:
        return None
    shift = abs(_effect_size(p1, p2)) / math.sqrt(1 / n1 + 1 / n2)
    z = _z(alpha)
    return float(stats.norm.sf(z - shift) + stats.norm.cdf(-z - shift))


def _t_interval(mean: float, sd: float, n: int, alpha: float) -> tuple[float, float]:
    if n < 2 or not np.isfinite(sd):
        return float("nan"), float("nan")
    half = float(stats.t.ppf(1 - alpha / 2, n - 1)) * sd / math.sqrt(n)
    return mean - half, mean + half


def _holm(p_values: list[float]) -> list[float]:
    """Holm step-down adjusted p-values (statsmodels' ``multipletests(method="holm")``)."""
    from statsmodels.stats.multitest import multipletests

    if not p_values:
        return []
    return [float(p) for p in multipletests(p_values, method="holm")[1]]


# ---------------------------------------------------------------------------------------------
# Contacts
# ---------------------------------------------------------------------------------------------


def _bad(name: str, value: Any, allowed: str) -> ParameterError:
    return ParameterError("campaigns.error.bad_param", name=name, value=str(value), allowed=allowed)


def _check(params: CampaignParams) -> None:
    checks: list[tuple[str, Any, bool, str]] = [
        ("source", params.source, params.source in SOURCES, ", ".join(SOURCES)),
        ("retention_days", params.retention_days, 1 <= params.retention_days <= 730, "1-730"),
        (
            "satisfaction_days",
            params.satisfaction_days,
            1 <= params.satisfaction_days <= 730,
            "1-730",
        ),
        ("min_contacts", params.min_contacts, 1 <= params.min_contacts <= 1_000_000, ">= 1"),
        ("min_responses", params.min_responses, 0 <= params.min_responses <= 1_000_000, ">= 0"),
        ("alpha", params.alpha, 0.001 <= params.alpha <= 0.2, "0.001-0.2"),
        ("max_contacts", params.max_contacts, 2 <= params.max_contacts <= 100, "2-100"),
    ]
    for name, value, ok, allowed in checks:
        if not ok:
            raise _bad(name, value, allowed)


def contact_source(dataset: Dataset, source: str = "auto") -> str | None:
    """The table whose rows are contacts: campaigns first, then communications; None if neither."""
    if source == "auto":
        for name in ("campaigns", "communications"):
            if dataset.has(name):
                return name
        return None
    return source if dataset.has(source) else None


def _is_dimension(column: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
        return False
    return 2 <= column.nunique(dropna=True) <= MAX_LEVELS


def _responses(table: pd.DataFrame, source: str, notes: list[Note]) -> pd.Series:
    """0/1 per contact (NaN unknown), or all NaN when the table holds no response."""
    unknown = pd.Series(np.nan, index=table.index)
    column = "responded" if source == "campaigns" else "outcome"
    if column not in table.columns:
        notes.append(Note("campaigns.note.no_response", {"table": source}))
        return unknown
    raw = table[column]
    if pd.api.types.is_numeric_dtype(raw):
        values = pd.to_numeric(raw, errors="coerce").astype(float)
    else:
        values = parse_labels(raw)[0].astype("Float64").astype(float)
    known = values.notna()
    if raw.notna().sum() and known.sum() < LABEL_RATE * raw.notna().sum():
        notes.append(Note("campaigns.note.outcome_not_binary", {"column": column}))
        return unknown
    bad = known & ~values.isin([0.0, 1.0])
    if bad.any():
        notes.append(Note("campaigns.note.bad_responses", {"count": int(bad.sum())}))
        values = values.where(~bad)
    return values


def _day_numbers(dates: pd.Series) -> np.ndarray:
    """Whole days since 1970 (NaT → a large negative sentinel that never matches)."""
    values = pd.to_datetime(dates).to_numpy(dtype="datetime64[ns]").astype(np.int64)
    days = np.floor_divide(values, _DAY_NS)
    return np.where(pd.isna(dates).to_numpy(), np.iinfo(np.int64).min // 4, days)


def _window_counts(
    contact_ids: pd.Series,
    contact_days: np.ndarray,
    event_ids: pd.Series,
    event_days: np.ndarray,
    days: int,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per contact: the number (and weight sum) of the same customer's events on the ``days``
    days after the contact day, by binary search over (customer, day) keys — no join."""
    codes, _uniques = pd.factorize(pd.concat([contact_ids, event_ids], ignore_index=True))
    contact_codes = codes[: len(contact_ids)].astype(np.int64)
    event_codes = codes[len(contact_ids) :].astype(np.int64)
    span = 1 << 22  # days since 1970 fit easily; keys stay far below the int64 limit
    offset = span // 2
    event_keys = event_codes * span + np.clip(event_days + offset, 0, span - 1)
    order = np.argsort(event_keys, kind="stable")
    event_keys = event_keys[order]
    base = contact_codes * span + np.clip(contact_days + offset, 0, span - 1)
    low = np.searchsorted(event_keys, base, side="right")
    high = np.searchsorted(event_keys, base + days, side="right")
    counts = high - low
    if weights is None:
        return counts, np.zeros(len(counts))
    cumulative = np.concatenate([[0.0], np.cumsum(np.asarray(weights, dtype=float)[order])])
    return counts, cumulative[high] - cumulative[low]


def _retention(
    dataset: Dataset, table: pd.DataFrame, params: CampaignParams, notes: list[Note]
) -> pd.Series:
    unknown = pd.Series(np.nan, index=table.index)
    if not (
        "customer_id" in table.columns
        and "date" in table.columns
        and dataset.has("transactions", "customer_id", "date")
    ):
        return unknown
    tx = dataset.tables["transactions"]
    tx = tx[tx["customer_id"].notna() & tx["date"].notna()]
    tx = tx[~cancellation_mask(tx).to_numpy()]
    if tx.empty:
        return unknown
    tx_days = _day_numbers(tx["date"])
    last_day = int(tx_days.max())
    contact_days = _day_numbers(table["date"])
    known = table["customer_id"].notna().to_numpy() & table["date"].notna().to_numpy()
    counts, _ = _window_counts(
        table["customer_id"].astype(str),
        contact_days,
        tx["customer_id"].astype(str),
        tx_days,
        params.retention_days,
    )
    observable = known & (contact_days + params.retention_days <= last_day)
    censored = int((known & ~observable).sum())
    if censored:
        notes.append(
            Note(
                "campaigns.note.retention_censored",
                {"count": censored, "days": params.retention_days},
            )
        )
    return pd.Series(np.where(observable, (counts > 0).astype(float), np.nan), index=table.index)


def _satisfaction(dataset: Dataset, table: pd.DataFrame, params: CampaignParams) -> pd.Series:
    unknown = pd.Series(np.nan, index=table.index)
    if not (
        "customer_id" in table.columns
        and "date" in table.columns
        and dataset.has("feedback", "customer_id", "date", "score")
    ):
        return unknown
    feedback = dataset.tables["feedback"]
    scores = pd.to_numeric(feedback["score"], errors="coerce")
    keep = feedback["customer_id"].notna() & feedback["date"].notna() & scores.notna()
    feedback, scores = feedback[keep], scores[keep]
    if feedback.empty:
        return unknown
    counts, sums = _window_counts(
        table["customer_id"].astype(str),
        _day_numbers(table["date"]),
        feedback["customer_id"].astype(str),
        _day_numbers(feedback["date"]),
        params.satisfaction_days,
        scores.to_numpy(dtype=float),
    )
    known = table["customer_id"].notna().to_numpy() & table["date"].notna().to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(known & (counts > 0), sums / np.maximum(counts, 1), np.nan)
    return pd.Series(means, index=table.index)


def _contact_bins(table: pd.DataFrame, params: CampaignParams) -> pd.Series | None:
    """Contact frequency per contact as text bins ``1``, ``2``, …, ``10+``."""
    if "contacts" in table.columns:
        counts = pd.to_numeric(table["contacts"], errors="coerce").round()
        counts = counts.where(counts >= 1)
    elif "customer_id" in table.columns:
        keys = ["customer_id", "campaign"] if "campaign" in table.columns else ["customer_id"]
        counts = table.groupby(keys, dropna=False, sort=False)["customer_id"].transform("size")
        counts = counts.where(table["customer_id"].notna()).astype(float)
    else:
        return None
    if not counts.notna().any():
        return None
    capped = counts.clip(upper=params.max_contacts)
    names = {
        v: f"{params.max_contacts}+" if v >= params.max_contacts else str(int(v))
        for v in capped.dropna().unique()
    }
    return capped.map(names).astype("str").where(counts.notna())


def contact_table(
    dataset: Dataset,
    params: CampaignParams = CampaignParams(),
    workspace: Workspace | None = None,
    lang: str = "en",
) -> ContactTable:
    """The contacts of the dataset with every dimension and metric (see the module docstring)."""
    _check(params)
    source = contact_source(dataset, params.source)
    if source is None:
        raise DataRequirementError("campaigns.error.no_contacts")
    notes: list[Note] = []
    table = dataset.tables[source]
    if source == "communications" and "direction" in table.columns:
        direction = table["direction"].astype("str").str.lower()
        outbound = direction.isin(["outbound", "out", "outgoing", "sent", "呼出", "外呼", "发出"])
        if outbound.any():
            notes.append(Note("campaigns.note.outbound_only", {"count": int(outbound.sum())}))
            table = table[outbound.to_numpy()]
    table = table.reset_index(drop=True)
    frame = pd.DataFrame(index=table.index)
    for name in ("channel", "campaign", "category"):
        if name in table.columns and table[name].notna().any():
            frame[name] = table[name].astype("str").where(table[name].notna())
    bins = _contact_bins(table, params)
    if bins is not None:
        frame["contacts"] = bins
    if "date" in table.columns and pd.api.types.is_datetime64_any_dtype(table["date"]):
        weekday = table["date"].dt.day_of_week
        frame["weekday"] = (
            weekday.map(dict(enumerate(WEEKDAYS))).astype("str").where(weekday.notna())
        )
    if "customer_id" in table.columns:
        try:
            labels = segment_labels(dataset, params.segmentation, workspace, lang)
        except DataRequirementError:
            notes.append(Note("campaigns.note.no_segments"))
        else:
            frame["segment"] = table["customer_id"].astype("str").map(labels)
    dimensions = [d for d in DIMENSIONS if d in frame.columns and frame[d].notna().any()]
    for column in table.columns:
        if column in frame.columns or column in _NOT_DIMENSIONS or column in ROLE_COLUMNS:
            continue
        if _is_dimension(table[column]):
            frame[str(column)] = table[column].astype("str").where(table[column].notna())
            dimensions.append(str(column))
    frame["_response"] = _responses(table, source, notes)
    frame["_retained"] = _retention(dataset, table, params, notes)
    frame["_satisfaction"] = _satisfaction(dataset, table, params)
    frame["_revenue"] = (
        pd.to_numeric(table["revenue"], errors="coerce").astype(float)
        if "revenue" in table.columns
        else np.nan
    )
    metrics = [m for m, c in zip(METRICS, _METRIC_COLUMNS, strict=True) if frame[c].notna().any()]
    if not metrics:
        raise DataRequirementError("campaigns.error.no_metrics", table=source)
    return ContactTable(frame, source, dimensions, metrics, notes)


def _ordered_levels(values: pd.Series, dimension: str) -> list[str]:
    """Natural order for frequency and weekdays, otherwise most contacts first."""
    present = values.dropna()
    if dimension == "weekday":
        return [d for d in WEEKDAYS if (present == d).any()]
    if dimension == "contacts":
        unique = present.unique().tolist()
        return sorted(unique, key=lambda v: int(str(v).rstrip("+")))
    counts = present.value_counts(sort=False)
    order = sorted(counts.index, key=lambda v: (-int(counts[v]), str(v)))
    return [str(v) for v in order]


# ---------------------------------------------------------------------------------------------
# Breakdowns
# ---------------------------------------------------------------------------------------------


def _enough(n: np.ndarray | float, x: np.ndarray | float, params: CampaignParams) -> Any:
    return (np.asarray(n) >= params.min_contacts) & (np.asarray(x) >= params.min_responses)


def breakdown(contacts: ContactTable, dimension: str, params: CampaignParams) -> pd.DataFrame:
    """One row per level of ``dimension``: contacts, responses, rate and Wilson CI, whether the
    level has enough data to win, revenue per contact, retention and satisfaction with CIs."""
    frame = contacts.frame
    values = frame[dimension]
    rows = frame[values.notna()]
    grouped = rows.groupby(rows[dimension], sort=False)
    out = pd.DataFrame(index=pd.Index(_ordered_levels(values, dimension), name="value"))
    out["n"] = grouped["_response"].count().reindex(out.index).fillna(0).astype(int)
    out["responses"] = grouped["_response"].sum().reindex(out.index).fillna(0).astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["rate"] = np.where(out["n"] > 0, out["responses"] / out["n"].clip(lower=1), np.nan)
    out["ci_low"], out["ci_high"] = wilson_interval(out["responses"], out["n"], params.alpha)
    out["enough"] = _enough(out["n"], out["responses"], params)
    out["revenue_per_contact"] = grouped["_revenue"].mean().reindex(out.index)
    out["retention_n"] = grouped["_retained"].count().reindex(out.index).fillna(0).astype(int)
    out["retained"] = grouped["_retained"].sum().reindex(out.index).fillna(0).astype(int)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["retention"] = np.where(
            out["retention_n"] > 0, out["retained"] / out["retention_n"].clip(lower=1), np.nan
        )
    out["retention_low"], out["retention_high"] = wilson_interval(
        out["retained"], out["retention_n"], params.alpha
    )
    counts = grouped["_satisfaction"].count().reindex(out.index).fillna(0).astype(int)
    means = grouped["_satisfaction"].mean().reindex(out.index)
    sds = grouped["_satisfaction"].std().reindex(out.index)
    out["satisfaction_n"] = counts
    out["satisfaction"] = means
    bounds = [
        _t_interval(float(m), float(s), int(c), params.alpha)
        for m, s, c in zip(means, sds, counts, strict=True)
    ]
    out["satisfaction_low"] = [b[0] for b in bounds]
    out["satisfaction_high"] = [b[1] for b in bounds]
    return out.reset_index()


def _homogeneity(table: pd.DataFrame) -> dict[str, Any] | None:
    """Chi-square test that the levels with enough data share one response rate."""
    eligible = table[table["enough"]]
    if len(eligible) < 2:
        return None
    observed = np.column_stack(
        [eligible["responses"], eligible["n"] - eligible["responses"]]
    ).astype(float)
    if (observed.sum(axis=0) == 0).any():
        return None
    chi2, p, dof, _ = stats.chi2_contingency(observed, correction=False)
    return {"levels": len(eligible), "chi2": float(chi2), "dof": int(dof), "p_value": float(p)}


def _frequency_trend(
    frame: pd.DataFrame, params: CampaignParams
) -> tuple[dict[str, float] | None, np.ndarray | None]:
    """Logistic regression of response on the number of contacts (capped): the odds ratio per
    extra contact with its CI and p-value, and the fitted rate per bin."""
    import statsmodels.api as sm

    counts = frame["contacts"].dropna().str.rstrip("+").astype(int)
    rows = frame.loc[counts.index]
    responded = rows["_response"]
    known = responded.notna()
    if known.sum() == 0:
        return None, None
    grouped = (
        pd.DataFrame({"k": counts[known], "y": responded[known]})
        .groupby("k")["y"]
        .agg(["sum", "count"])
    )
    if len(grouped) < 2 or grouped["sum"].sum() in (0, grouped["count"].sum()):
        return None, None
    endog = np.column_stack([grouped["sum"], grouped["count"] - grouped["sum"]])
    exog = sm.add_constant(grouped.index.to_numpy(dtype=float))
    fit = sm.GLM(endog, exog, family=sm.families.Binomial()).fit()
    slope, se = float(fit.params[1]), float(fit.bse[1])
    z = _z(params.alpha)
    trend = {
        "odds_ratio": math.exp(slope),
        "ci_low": math.exp(slope - z * se),
        "ci_high": math.exp(slope + z * se),
        "p_value": float(fit.pvalues[1]),
    }
    fitted = fit.predict(sm.add_constant(grouped.index.to_numpy(dtype=float)))
    return trend, np.asarray(fitted, dtype=float)


def _best_channels(
    contacts: ContactTable, params: CampaignParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Best channel overall and per segment; significant only when it beats every other channel
    with enough data after Holm's adjustment (one family per segment)."""
    frame = contacts.frame
    columns = [
        "segment",
        "best",
        "n",
        "responses",
        "rate",
        "ci_low",
        "ci_high",
        "runner_up",
        "runner_up_rate",
        "diff",
        "p_value",
        "p_adjusted",
        "status",
        "eligible",
        "thin",
    ]
    comparison_columns = [
        "segment",
        "best",
        "other",
        "best_rate",
        "other_rate",
        "diff",
        "diff_low",
        "diff_high",
        "z",
        "p_value",
        "p_adjusted",
        "significant",
    ]
    if "channel" not in frame.columns or "response" not in contacts.metrics:
        return pd.DataFrame(columns=columns), pd.DataFrame(columns=comparison_columns)
    groups: list[tuple[str, pd.DataFrame]] = [(ALL, frame)]
    if "segment" in frame.columns:
        for name in _ordered_levels(frame["segment"], "segment"):
            groups.append((name, frame[frame["segment"] == name]))
    rows, comparisons = [], []
    for name, rows_of in groups:
        sub = ContactTable(rows_of, contacts.source, contacts.dimensions, contacts.metrics)
        table = breakdown(sub, "channel", params)
        table = table[table["n"] > 0]
        eligible = table[table["enough"]].sort_values(
            ["rate", "n", "value"], ascending=[False, False, True], kind="stable"
        )
        row: dict[str, Any] = {c: np.nan for c in columns}
        row.update(
            segment=name, eligible=len(eligible), thin=int((~table["enough"]).sum()), best=None
        )
        if len(eligible) < 2:
            row["status"] = "not_enough_data"
            if len(eligible) == 1:
                top = eligible.iloc[0]
                row.update(best=top["value"], n=int(top["n"]), responses=int(top["responses"]))
                row.update(rate=top["rate"], ci_low=top["ci_low"], ci_high=top["ci_high"])
            rows.append(row)
            continue
        top = eligible.iloc[0]
        others = eligible.iloc[1:]
        tests = []
        for _, other in others.iterrows():
            z, p = two_proportion_test(top["responses"], top["n"], other["responses"], other["n"])
            low, high = newcombe_interval(
                top["responses"], top["n"], other["responses"], other["n"], params.alpha
            )
            tests.append((other, z, p, low, high))
        adjusted = _holm([t[2] for t in tests])
        for (other, z, p, low, high), p_adj in zip(tests, adjusted, strict=True):
            comparisons.append(
                {
                    "segment": name,
                    "best": top["value"],
                    "other": other["value"],
                    "best_rate": top["rate"],
                    "other_rate": other["rate"],
                    "diff": top["rate"] - other["rate"],
                    "diff_low": low,
                    "diff_high": high,
                    "z": z,
                    "p_value": p,
                    "p_adjusted": p_adj,
                    "significant": bool(p_adj < params.alpha),
                }
            )
        runner = others.iloc[0]
        significant = all(p_adj < params.alpha for p_adj in adjusted)
        row.update(
            best=top["value"],
            n=int(top["n"]),
            responses=int(top["responses"]),
            rate=top["rate"],
            ci_low=top["ci_low"],
            ci_high=top["ci_high"],
            runner_up=runner["value"],
            runner_up_rate=runner["rate"],
            diff=top["rate"] - runner["rate"],
            p_value=tests[0][2],
            p_adjusted=max(adjusted),
            status="significant" if significant else "not_significant",
        )
        rows.append(row)
    return (
        pd.DataFrame(rows, columns=columns),
        pd.DataFrame(comparisons, columns=comparison_columns),
    )


def run_campaigns(
    dataset: Dataset,
    params: CampaignParams = CampaignParams(),
    workspace: Workspace | None = None,
    lang: str = "en",
) -> CampaignResult:
    """Every breakdown, the frequency curve and the best channel per segment (same numbers in the
    app, the CLI and the JSON)."""
    contacts = contact_table(dataset, params, workspace, lang)
    notes = list(contacts.notes)
    standard = [d for d in contacts.dimensions if d in DIMENSIONS]
    wanted = list(params.by) if params.by else standard
    unknown = [d for d in wanted if d not in contacts.dimensions]
    if unknown:
        raise ParameterError(
            "campaigns.error.unknown_dimension",
            dimension=", ".join(unknown),
            allowed=", ".join(contacts.dimensions) or "-",
        )
    tables = {d: breakdown(contacts, d, params) for d in wanted}
    tests = {d: _homogeneity(tables[d]) for d in wanted}
    frequency = pd.DataFrame(columns=["value", "n", "responses", "rate", "ci_low", "ci_high"])
    trend = None
    if "contacts" in contacts.frame.columns and "response" in contacts.metrics:
        frequency = breakdown(contacts, "contacts", params)[
            ["value", "n", "responses", "rate", "ci_low", "ci_high", "enough"]
        ]
        trend, fitted = _frequency_trend(contacts.frame, params)
        if fitted is not None and len(fitted) == len(frequency):
            frequency = frequency.assign(fitted=fitted)
    best, comparisons = _best_channels(contacts, params)
    if len(best) and (best["status"] == "not_enough_data").any():
        notes.append(
            Note(
                "campaigns.note.thin",
                {"contacts": params.min_contacts, "responses": params.min_responses},
            )
        )
    frame = contacts.frame
    overall = {
        "contacts": len(frame),
        "n": int(frame["_response"].count()),
        "responses": int(frame["_response"].sum()),
        "rate": float(frame["_response"].mean()) if frame["_response"].count() else float("nan"),
        "retention": float(frame["_retained"].mean()),
        "retention_n": int(frame["_retained"].count()),
        "satisfaction": float(frame["_satisfaction"].mean()),
        "satisfaction_n": int(frame["_satisfaction"].count()),
    }
    return CampaignResult(
        params=params,
        source=contacts.source,
        n_contacts=len(frame),
        metrics=contacts.metrics,
        dimensions=contacts.dimensions,
        tables=tables,
        tests=tests,
        frequency=frequency,
        trend=trend,
        best=best,
        comparisons=comparisons,
        overall=overall,
        notes=notes,
    )


# ---------------------------------------------------------------------------------------------
# A/B comparison
# ---------------------------------------------------------------------------------------------


def _arm_mask(contacts: ContactTable, arm: Arm) -> pd.Series:
    if arm.dimension not in contacts.dimensions:
        raise ParameterError(
            "campaigns.error.unknown_dimension",
            dimension=arm.dimension,
            allowed=", ".join(contacts.dimensions) or "-",
        )
    values = contacts.frame[arm.dimension]
    mask = values == str(arm.value)
    if not mask.any():
        raise ParameterError(
            "campaigns.error.unknown_value", dimension=arm.dimension, value=str(arm.value)
        )
    return mask.fillna(False).astype(bool)


def compare_strategies(
    dataset: Dataset,
    a: Arm | tuple[str, str],
    b: Arm | tuple[str, str],
    params: CampaignParams = CampaignParams(),
    workspace: Workspace | None = None,
    lang: str = "en",
    metric: str = "response",
    effect: float | None = None,
    power: float = 0.8,
) -> ABResult:
    """Strategy A vs strategy B on one metric: rates (or mean scores) with intervals, the
    difference with its interval, the test, the verdict, and the contacts per arm needed to
    detect ``effect`` (absolute, over B's rate; the observed difference when None)."""
    a, b = Arm(*a), Arm(*b)
    if metric not in METRICS:
        raise _bad("metric", metric, ", ".join(METRICS))
    if a == b:
        raise ParameterError("campaigns.error.same_arms")
    contacts = contact_table(dataset, params, workspace, lang)
    if metric not in contacts.metrics:
        raise DataRequirementError(f"campaigns.error.no_{metric}")
    mask_a, mask_b = _arm_mask(contacts, a), _arm_mask(contacts, b)
    if (mask_a & mask_b).any():
        raise ParameterError("campaigns.error.overlap", count=int((mask_a & mask_b).sum()))
    column = dict(zip(METRICS, _METRIC_COLUMNS, strict=True))[metric]
    values_a = contacts.frame.loc[mask_a, column].dropna().to_numpy(dtype=float)
    values_b = contacts.frame.loc[mask_b, column].dropna().to_numpy(dtype=float)
    n_a, n_b = len(values_a), len(values_b)
    if n_a == 0 or n_b == 0:
        raise DataRequirementError(f"campaigns.error.no_{metric}")
    alpha = params.alpha
    notes: list[Note] = []
    if metric in PROPORTION_METRICS:
        x_a, x_b = float(values_a.sum()), float(values_b.sum())
        p_a, p_b = x_a / n_a, x_b / n_b
        low_a, high_a = (float(v) for v in wilson_interval(x_a, n_a, alpha))
        low_b, high_b = (float(v) for v in wilson_interval(x_b, n_b, alpha))
        statistic, p_value = two_proportion_test(x_a, n_a, x_b, n_b)
        diff_low, diff_high = newcombe_interval(x_a, n_a, x_b, n_b, alpha)
        enough = bool(_enough(n_a, x_a, params) and _enough(n_b, x_b, params))
        observed_power = achieved_power(p_a, p_b, n_a, n_b, alpha) if p_a != p_b else None
        planned = effect if effect is not None else p_a - p_b
        target = min(max(p_b + planned, 1e-6), 1 - 1e-6)
        needed = sample_size(target, p_b, alpha, power) if planned and 0 < p_b < 1 else None
    else:
        x_a, x_b = float(values_a.sum()), float(values_b.sum())
        p_a, p_b = float(values_a.mean()), float(values_b.mean())
        low_a, high_a = _t_interval(p_a, float(np.std(values_a, ddof=1)), n_a, alpha)
        low_b, high_b = _t_interval(p_b, float(np.std(values_b, ddof=1)), n_b, alpha)
        diff_low, diff_high, statistic, p_value = _welch(values_a, values_b, alpha)
        enough = n_a >= params.min_contacts and n_b >= params.min_contacts
        observed_power, needed, planned = None, None, effect
    if not enough:
        verdict = "not_enough_data"
        notes.append(
            Note(
                "campaigns.note.thin_arms",
                {"contacts": params.min_contacts, "responses": params.min_responses},
            )
        )
    elif p_value < alpha:
        verdict = "a_better" if p_a > p_b else "b_better"
    else:
        verdict = "no_difference"
    return ABResult(
        metric=metric,
        a=a,
        b=b,
        n_a=n_a,
        x_a=x_a,
        value_a=p_a,
        low_a=low_a,
        high_a=high_a,
        n_b=n_b,
        x_b=x_b,
        value_b=p_b,
        low_b=low_b,
        high_b=high_b,
        diff=p_a - p_b,
        diff_low=diff_low,
        diff_high=diff_high,
        statistic=statistic,
        p_value=p_value,
        alpha=alpha,
        enough=enough,
        verdict=verdict,
        power=observed_power,
        effect=planned,
        target_power=power,
        needed_per_arm=needed,
        notes=notes,
    )


def parse_compare(text: str) -> tuple[Arm, Arm]:
    """``channel:WeChat,email`` → the two arms (what ``crm campaigns --compare`` takes)."""
    dimension, _, values = str(text).partition(":")
    parts = [part.strip() for part in values.split(",")]
    if not dimension.strip() or len(parts) != 2 or not all(parts):
        raise ParameterError("campaigns.error.bad_compare", value=str(text))
    return Arm(dimension.strip(), parts[0]), Arm(dimension.strip(), parts[1])


def _welch(a: np.ndarray, b: np.ndarray, alpha: float) -> tuple[float, float, float, float]:
    """Welch's t-test of two means and the interval of their difference."""
    if len(a) < 2 or len(b) < 2:
        return float("nan"), float("nan"), float("nan"), float("nan")
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0:
        return 0.0, 0.0, 0.0, 1.0
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    diff = float(a.mean() - b.mean())
    half = float(stats.t.ppf(1 - alpha / 2, dof)) * se
    t_stat = diff / se
    return diff - half, diff + half, t_stat, float(2 * stats.t.sf(abs(t_stat), dof))


# ---------------------------------------------------------------------------------------------
# JSON
# ---------------------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 6)
    return value


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{str(k): _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _shown(name: Any) -> Any:
    return "All" if name == ALL else name


def ab_payload(ab: ABResult, lang: str = "en") -> dict[str, Any]:
    """A JSON-friendly A/B comparison."""
    payload = {k: _plain(v) for k, v in asdict(ab).items() if k not in ("a", "b", "notes")}
    payload["a"] = {"dimension": ab.a.dimension, "value": ab.a.value}
    payload["b"] = {"dimension": ab.b.dimension, "value": ab.b.value}
    payload["notes"] = [note.text(lang) for note in ab.notes]
    return payload


def campaigns_payload(result: CampaignResult, lang: str = "en") -> dict[str, Any]:
    """A JSON-friendly summary (what ``crm campaigns`` prints)."""
    p = result.params
    best = result.best.assign(segment=result.best["segment"].map(_shown))
    comparisons = result.comparisons.assign(segment=result.comparisons["segment"].map(_shown))
    return {
        "source": result.source,
        "contacts": result.n_contacts,
        "metrics": result.metrics,
        "dimensions": result.dimensions,
        "params": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(p).items()},
        "overall": {k: _plain(v) for k, v in result.overall.items()},
        "breakdowns": {d: _records(table) for d, table in result.tables.items()},
        "tests": {
            d: (None if test is None else {k: _plain(v) for k, v in test.items()})
            for d, test in result.tests.items()
        },
        "frequency": _records(result.frequency),
        "frequency_trend": (
            None if result.trend is None else {k: _plain(v) for k, v in result.trend.items()}
        ),
        "best_channel": _records(best),
        "best_channel_comparisons": _records(comparisons),
        "multiple_comparisons": "holm",
        "notes": [note.text(lang) for note in result.notes],
    }
