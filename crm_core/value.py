"""Customer value: what customers have been worth (historical) and are likely to be worth (CLV).

Historical value (:func:`run_value`) follows the purchase rules of :mod:`crm_core.features`, so its
revenue and orders equal RFM's monetary and frequency: per customer revenue, margin (when a cost
column exists), orders and average order value; value tiers (top 20 % / next 30 % / rest by
default) with their share of revenue; and a Pareto curve.

Predictive value (:func:`run_clv`) fits "buy till you die" models by exact maximum likelihood:

* BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way") or Pareto/NBD
  (Schmittlein, Morrison & Colombo 1987, likelihood as in Fader & Hardie's 2005 note) for the
  number of purchases, and
* Gamma-Gamma (Fader, Hardie & Lee 2005, "RFM and CLV") for the average spend per purchase.

Parameters are optimised in log space (so they stay positive) with L-BFGS-B on the published
log-likelihoods, written with ``gammaln``/``betaln``/``hyp2f1`` and evaluated once per distinct
``(frequency, recency, T)`` triple. BG/NBD and Gamma-Gamma use analytic gradients; Pareto/NBD uses
finite differences. A fit whose gradient is not ~0 is polished (Nelder-Mead, then Newton steps on
a finite-difference Hessian); one that still does not converge, runs to a parameter bound, or has
a Hessian that is not negative definite raises a typed error instead of returning numbers.
Standard errors come from the inverse of that Hessian (taken in log space, mapped back to the
parameters by the delta method: se(theta) = theta * se(log theta)).

When the data show no dropout at all, the likelihood of BG/NBD / Pareto/NBD keeps rising towards
"nobody ever leaves" (a -> 0 or b -> inf; s -> 0 or beta -> inf) and has no interior maximum;
``lifetimes`` fails to converge there. The supremum is then the NBD model (gamma-distributed
purchase rates, no dropout), which is fitted exactly and returned with ``limit_of`` set and a
note for the user (UCI Online Retail up to September 2011 is such a case).

Summary conventions are those of the ``lifetimes`` package, which reproduce the published CDNOW
figures: purchases on the same day count once; ``frequency`` = purchase days - 1 (repeat purchase
days); ``recency`` = first to last purchase day and ``T`` = first purchase day to the end of the
period, both in ``time_unit`` (days, or days / 7 for weeks); ``monetary_value`` = mean value of the
repeat purchase days (the first purchase excluded, 0 without repeats). Period ends are inclusive
days: a purchase made on the calibration end date belongs to the calibration period. Every
non-return row is a purchase occasion, including free ones (amount 0): they are visits, but add
no spend (CDNOW has eight such rows, and the published summary counts them).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import optimize, special

from crm_core.errors import DataRequirementError, ParameterError
from crm_core.features import _cancellation_mask, default_as_of
from crm_core.i18n import t

if TYPE_CHECKING:  # segmentation imports scikit-learn; value needs only the result's shape
    from crm_core.segmentation import RfmResult

__all__ = [
    "MODELS",
    "MODEL_LABELS",
    "TIME_UNITS",
    "CLVParams",
    "CLVResult",
    "HistoricalValue",
    "ModelFit",
    "ValueParams",
    "alive_matrix",
    "bgnbd_log_likelihood",
    "calibration_holdout_table",
    "clv_by_segment",
    "compare_with_rfm",
    "customer_value",
    "discount_factors",
    "discounted_value",
    "expected_purchases",
    "expected_purchases_new",
    "expected_spend",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "fit_paretonbd",
    "gamma_gamma_log_likelihood",
    "monthly_rate",
    "p_alive",
    "pareto_curve",
    "paretonbd_log_likelihood",
    "predict_purchases",
    "rfm_summary",
    "run_clv",
    "run_value",
    "simulate_bgnbd",
    "suggest_calibration_end",
    "tier_names",
    "tier_summary",
    "top_customers",
    "value_tiers",
]

TIME_UNITS: dict[str, float] = {"days": 1.0, "weeks": 7.0}  # length of one unit in days
MODELS: tuple[str, ...] = ("bgnbd", "paretonbd")
PARAMETER_NAMES: dict[str, tuple[str, ...]] = {
    "bgnbd": ("r", "alpha", "a", "b"),
    "paretonbd": ("r", "alpha", "s", "beta"),
    "gamma_gamma": ("p", "q", "v"),
    "nbd": ("r", "alpha"),
}
MODEL_LABELS: dict[str, str] = {  # the papers' names, the same in every language
    "bgnbd": "BG/NBD",
    "paretonbd": "Pareto/NBD",
    "nbd": "NBD",
    "gamma_gamma": "Gamma-Gamma",
}
RATE_PERIODS: dict[str, float] = {"year": 12.0, "month": 1.0}  # months per rate period
MONTH_DAYS = 365.25 / 12
DEFAULT_TIERS: tuple[float, ...] = (0.2, 0.3)
HOLDOUT_MAX_FREQUENCY = 7  # calibration-vs-holdout rows 0..6 and "7+", as FHL 2005 plot them

# Fitting. Bounds keep log-parameters within exp(+-14) (8e-7 .. 1.2e6): an estimate that reaches
# one means the likelihood keeps improving towards 0 or infinity, i.e. the data cannot pin that
# parameter down. GRADIENT_TOL is on the mean log-likelihood per customer with respect to each
# log-parameter (fits typically end near 1e-9; on CDNOW and on 100,000 simulated customers the
# estimates agree with lifetimes' to better than 1e-6 relative).
LOG_BOUND = 14.0
GRADIENT_TOL = 1e-6
MIN_CUSTOMERS = 20
MIN_REPEAT_CUSTOMERS = 5
MIN_SPEND_CUSTOMERS = 10

# compare_with_rfm: disagreements worth a look.
CHAMPION_ALIVE_MIN = 0.5  # an RFM champion the model thinks is more likely gone than alive
DORMANT_ALIVE_MAX = 0.8  # a lost / hibernating customer the model thinks is very likely alive
CHURN_DISAGREEMENT = 0.5  # |churn probability - (1 - P(alive))| at or above this is flagged
DORMANT_SEGMENTS = ("lost", "hibernating")

_DAY_NS = 86_400 * 10**9


# ---------------------------------------------------------------------------------------------
# Transactions -> rows
# ---------------------------------------------------------------------------------------------


def _as_day(value: Any, name: str) -> pd.Timestamp:
    """A user date as midnight of its day; unreadable dates are a ParameterError."""
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ParameterError("value.error.bad_date", name=name, value=str(value)) from exc
    if pd.isna(stamp):
        raise ParameterError("value.error.bad_date", name=name, value=str(value))
    if stamp.tzinfo is not None:
        stamp = stamp.tz_localize(None)
    return stamp.normalize()


def _rows(transactions: pd.DataFrame) -> dict[str, Any]:
    """Validated transaction rows as numpy arrays (customer codes in sorted-id order).

    Returns and cancellations follow :mod:`crm_core.features`: negative quantity or amount, or a
    cancellation order id like ``C536379``.
    """
    if transactions is None or not {"customer_id", "date"} <= set(transactions.columns):
        raise DataRequirementError("value.error.missing_roles", roles="customer_id, date, amount")
    has_qp = "quantity" in transactions and "unit_price" in transactions
    if "amount" not in transactions and not has_qp:
        raise DataRequirementError(
            "value.error.missing_roles", roles="amount (or quantity × unit_price)"
        )
    dates = transactions["date"]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        dates = pd.to_datetime(dates, errors="coerce")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    keep = dates.notna().to_numpy() & transactions["customer_id"].notna().to_numpy()
    tx = transactions.loc[keep]
    if len(tx) == 0:
        raise DataRequirementError("value.error.no_transactions", hint="value.hint.more_data")
    date_ns = dates[keep].to_numpy(dtype="datetime64[ns]").astype(np.int64)

    def number(column: str) -> np.ndarray | None:
        if column not in tx:
            return None
        return pd.to_numeric(tx[column], errors="coerce").to_numpy(dtype=float)

    quantity = number("quantity")
    amount = number("amount")
    if amount is None:
        amount = np.full(len(tx), np.nan)
    if has_qp:
        amount = np.where(np.isnan(amount), quantity * number("unit_price"), amount)
    amount = np.where(np.isfinite(amount), amount, np.nan)
    returned = amount < 0
    if quantity is not None:
        returned |= quantity < 0

    day = date_ns // _DAY_NS
    if "order_id" in tx:
        order_codes, order_ids = pd.factorize(tx["order_id"])
        order_codes = order_codes.astype(np.int64)
        returned |= _cancellation_mask(order_codes, order_ids)
    else:
        order_codes = np.full(len(tx), -1, dtype=np.int64)
    cust, customers = pd.factorize(tx["customer_id"].astype("str"), sort=True)
    return {
        "cust": cust.astype(np.int64),
        "customers": pd.Index(customers, dtype="str", name="customer_id"),
        "date": date_ns,
        "day": day,
        "amount": amount,
        "quantity": quantity,
        "cost": number("cost"),
        "returned": returned,
        "order": order_codes,
    }


# ---------------------------------------------------------------------------------------------
# Historical value
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueParams:
    """Historical value settings.

    ``tiers``: shares of customers (by revenue, highest first) for every tier but the last, which
    takes the rest: the default (0.2, 0.3) gives top 20 %, next 30 %, rest 50 %. ``cost_basis``:
    ``line`` when the cost column is the cost of the whole line (like ``amount``), ``unit`` when it
    is per item (multiplied by quantity). ``as_of``: only transactions strictly before it count
    (default: the day after the last one, as for RFM).
    """

    as_of: pd.Timestamp | None = None
    tiers: tuple[float, ...] = DEFAULT_TIERS
    cost_basis: str = "line"
    pareto_points: int = 201


@dataclass
class HistoricalValue:
    """Per-customer value with its tier, the tier summary, the Pareto curve and headline facts."""

    customers: pd.DataFrame  # revenue, orders, avg_order_value, [cost, margin, margin_rate], tier
    tiers: pd.DataFrame  # per tier: customers, customer_share, revenue, revenue_share, ...
    pareto: pd.DataFrame  # customer_share, value_share (cumulative revenue, highest first)
    metrics: dict[str, float]
    params: ValueParams
    as_of: pd.Timestamp


def _check_tiers(tiers: tuple[float, ...]) -> None:
    if not tiers or any(not 0 < s < 1 for s in tiers) or sum(tiers) >= 1:
        raise ParameterError(
            "value.error.bad_param",
            name="tiers",
            value=", ".join(f"{s:g}" for s in tiers),
            allowed="shares in (0, 1) summing to less than 1",
        )


def customer_value(
    transactions: pd.DataFrame, as_of: pd.Timestamp | None = None, cost_basis: str = "line"
) -> pd.DataFrame:
    """Revenue, orders, average order value and (with a cost column) margin per customer.

    Purchase rules are those of :func:`crm_core.features.rfm_table` (returns and non-positive
    amounts are not revenue; an order is an order id, else a customer-day), so ``revenue`` and
    ``orders`` equal RFM's monetary and frequency for the same ``as_of``.
    """
    if cost_basis not in ("line", "unit"):
        raise ParameterError(
            "value.error.bad_param", name="cost_basis", value=cost_basis, allowed="line, unit"
        )
    rows = _rows(transactions)
    if as_of is None:
        as_of = default_as_of(pd.Series(rows["date"].view("datetime64[ns]")))
    as_of = pd.Timestamp(as_of)
    as_of_ns = as_of.to_datetime64().astype("datetime64[ns]").astype(np.int64)
    amount = rows["amount"]
    purchase = ~rows["returned"] & ~(amount <= 0) & (rows["date"] < as_of_ns)
    cust = rows["cust"][purchase]
    n = len(rows["customers"])
    revenue = np.bincount(cust, weights=np.nan_to_num(amount[purchase]), minlength=n)
    # order key: the order id's code, else the customer-day (negative, never clashes)
    day = rows["day"][purchase]
    order = rows["order"][purchase]
    key = np.where(order >= 0, order, -(day - (day.min() if len(day) else 0)) - 1)
    span = int(key.max() - key.min()) + 1 if len(key) else 1
    pairs = np.unique(cust * span + (key - (key.min() if len(key) else 0)))
    orders = np.bincount(pairs // span, minlength=n).astype(float)
    date = rows["date"][purchase]
    first = np.full(n, np.iinfo(np.int64).max)
    last = np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(first, cust, date)
    np.maximum.at(last, cust, date)
    has = orders > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        data: dict[str, Any] = {
            "revenue": revenue,
            "orders": orders,
            "avg_order_value": np.where(has, revenue / orders, np.nan),
        }
        if rows["cost"] is not None:
            cost = np.nan_to_num(rows["cost"][purchase])
            if cost_basis == "unit":
                quantity = rows["quantity"]
                cost = cost * (np.nan_to_num(quantity[purchase]) if quantity is not None else 1.0)
            total_cost = np.bincount(cust, weights=cost, minlength=n)
            data["cost"] = total_cost
            data["margin"] = revenue - total_cost
            data["margin_rate"] = np.where(revenue > 0, (revenue - total_cost) / revenue, np.nan)
    data["first_purchase"] = pd.to_datetime(np.where(has, first, 0)).where(has)
    data["last_purchase"] = pd.to_datetime(np.where(has, last, 0)).where(has)
    frame = pd.DataFrame(data, index=rows["customers"])[has]
    frame.attrs["as_of"] = as_of
    return frame


def value_tiers(values: pd.Series, tiers: tuple[float, ...] = DEFAULT_TIERS) -> pd.Series:
    """Tier 1..len(tiers)+1 per customer by value, highest first; ties broken by customer id.

    Tier k takes the customers whose rank (0-based, highest value first) divided by the number of
    customers falls in [sum of the first k-1 shares, sum of the first k shares).
    """
    _check_tiers(tiers)
    ordered = values.sort_index(kind="stable")
    position = np.empty(len(ordered), dtype=float)
    position[np.argsort(-ordered.to_numpy(dtype=float), kind="stable")] = np.arange(len(ordered))
    bounds = np.cumsum(tiers) * len(ordered)
    tier = np.searchsorted(bounds, position, side="right") + 1
    return pd.Series(tier, index=ordered.index, name="tier").reindex(values.index)


def tier_names(tiers: tuple[float, ...] = DEFAULT_TIERS, lang: str = "en") -> dict[int, str]:
    """Display names: "Top 20%", "Next 30%", "Rest (50%)"."""
    names = {1: t("value.tier.top", lang, share=f"{tiers[0]:.0%}")}
    for k, share in enumerate(tiers[1:], start=2):
        names[k] = t("value.tier.next", lang, share=f"{share:.0%}")
    names[len(tiers) + 1] = t("value.tier.rest", lang, share=f"{1 - sum(tiers):.0%}")
    return names


def tier_summary(customers: pd.DataFrame, value: str = "revenue") -> pd.DataFrame:
    """Per tier: customers and their share, value and its share, mean / min / max value."""
    grouped = customers.groupby("tier", sort=True)
    summary = grouped.agg(
        customers=(value, "size"),
        value=(value, "sum"),
        mean_value=(value, "mean"),
        min_value=(value, "min"),
        max_value=(value, "max"),
    )
    if "orders" in customers:
        summary["mean_orders"] = grouped["orders"].mean()
    if "margin" in customers:
        summary["margin"] = grouped["margin"].sum()
    summary.insert(1, "customer_share", summary["customers"] / summary["customers"].sum())
    total = summary["value"].sum()
    summary.insert(3, "value_share", summary["value"] / total if total else np.nan)
    summary = summary.rename(
        columns={
            "value": value,
            "value_share": f"{value}_share",
            "mean_value": f"mean_{value}",
            "min_value": f"min_{value}",
            "max_value": f"max_{value}",
        }
    )
    return summary


def pareto_curve(values: pd.Series | np.ndarray, points: int | None = 201) -> pd.DataFrame:
    """Cumulative share of value vs share of customers, highest value first, from (0, 0).

    With ``points`` the curve is sampled at that many evenly spaced customer shares (enough for a
    chart; the exact curve has one row per customer).
    """
    v = np.sort(np.clip(np.asarray(values, dtype=float), 0, None))[::-1]
    n = len(v)
    total = v.sum()
    customer_share = np.arange(n + 1) / max(n, 1)
    cumulative = np.cumsum(v)
    value_share = (
        np.concatenate([[0.0], cumulative / cumulative[-1]]) if total > 0 else customer_share
    )
    if points is not None and n + 1 > points:
        grid = np.linspace(0.0, 1.0, points)
        value_share = np.interp(grid, customer_share, value_share)
        customer_share = grid
    return pd.DataFrame({"customer_share": customer_share, "value_share": value_share})


def _share_of_top(values: np.ndarray, share: float) -> float:
    """Share of the total held by the top ``share`` of customers (interpolated)."""
    curve = pareto_curve(values, points=None)
    return float(np.interp(share, curve["customer_share"], curve["value_share"]))


def _gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values: 0 all equal, -> 1 one customer holds all."""
    v = np.sort(np.clip(values, 0, None))
    n, total = len(v), v.sum()
    if n == 0 or total <= 0:
        return float("nan")
    return float((2 * np.arange(1, n + 1) - n - 1) @ v / (n * total))


def run_value(transactions: pd.DataFrame, params: ValueParams | None = None) -> HistoricalValue:
    """Historical value per customer, value tiers and the Pareto curve."""
    params = params or ValueParams()
    _check_tiers(params.tiers)
    if params.pareto_points < 2:
        raise ParameterError(
            "value.error.bad_param",
            name="pareto_points",
            value=params.pareto_points,
            allowed=">= 2",
        )
    customers = customer_value(transactions, params.as_of, params.cost_basis)
    if customers.empty:
        raise DataRequirementError("value.error.no_transactions", hint="value.hint.more_data")
    as_of = customers.attrs["as_of"]
    customers = customers.assign(tier=value_tiers(customers["revenue"], params.tiers))
    customers.attrs = {}
    revenue = customers["revenue"].to_numpy()
    metrics = {
        "customers": float(len(customers)),
        "revenue": float(revenue.sum()),
        "orders": float(customers["orders"].sum()),
        "avg_order_value": float(revenue.sum() / customers["orders"].sum()),
        "top_20_revenue_share": _share_of_top(revenue, 0.2),
        "gini": _gini(revenue),
    }
    if "margin" in customers:
        metrics["margin"] = float(customers["margin"].sum())
    return HistoricalValue(
        customers=customers,
        tiers=tier_summary(customers),
        pareto=pareto_curve(revenue, params.pareto_points),
        metrics=metrics,
        params=params,
        as_of=as_of,
    )


# ---------------------------------------------------------------------------------------------
# Summary for the probability models
# ---------------------------------------------------------------------------------------------


def _check_unit(time_unit: str) -> float:
    if time_unit not in TIME_UNITS:
        raise ParameterError(
            "value.error.bad_param",
            name="time_unit",
            value=time_unit,
            allowed=", ".join(TIME_UNITS),
        )
    return TIME_UNITS[time_unit]


def _fmt(day: int) -> str:
    return str(pd.Timestamp(int(day) * _DAY_NS).date())


def rfm_summary(
    transactions: pd.DataFrame,
    calibration_end: Any = None,
    observation_end: Any = None,
    time_unit: str = "weeks",
) -> pd.DataFrame:
    """Frequency / recency / T / monetary value per customer, plus holdout counts when split.

    Without ``calibration_end`` the whole period up to ``observation_end`` (default: the last
    purchase day) is summarised. With it, only customers whose first purchase falls on or before
    ``calibration_end`` are rows, and ``frequency_holdout`` (purchase days in
    (calibration_end, observation_end]), ``monetary_value_holdout`` (their mean value) and
    ``duration_holdout`` are added. See the module docstring for the conventions.
    """
    unit = _check_unit(time_unit)
    rows = _rows(transactions)
    event = ~rows["returned"]
    if not event.any():
        raise DataRequirementError("value.error.no_transactions", hint="value.hint.more_data")
    day_all = rows["day"][event]
    first_day, last_day = int(day_all.min()), int(day_all.max())
    end_day = last_day
    if observation_end is not None:
        end_day = int(_as_day(observation_end, "observation_end").value // _DAY_NS)
    if end_day < first_day:
        raise ParameterError(
            "value.error.date_outside",
            hint="value.hint.dates",
            name="observation_end",
            value=_fmt(end_day),
            start=_fmt(first_day),
            end=_fmt(last_day),
        )
    cal_day = end_day
    if calibration_end is not None:
        cal = _as_day(calibration_end, "calibration_end")
        cal_day = int(cal.value // _DAY_NS)
        if not first_day <= cal_day < end_day:
            raise ParameterError(
                "value.error.date_outside",
                hint="value.hint.dates",
                name="calibration_end",
                value=_fmt(cal_day),
                start=_fmt(first_day),
                end=_fmt(min(end_day, last_day) - 1),
            )
    take = event & (rows["day"] <= end_day)
    cust, day = rows["cust"][take], rows["day"][take]
    amount = np.nan_to_num(rows["amount"][take])
    # one entry per customer-day, sorted by customer then day
    span = end_day - first_day + 1
    keys, inverse = np.unique(cust * span + (day - first_day), return_inverse=True)
    day_value = np.bincount(inverse, weights=amount, minlength=len(keys))
    k_cust, k_day = keys // span, keys % span + first_day
    n = len(rows["customers"])
    starts = np.searchsorted(k_cust, np.arange(n))
    present = np.bincount(k_cust, minlength=n) > 0
    first = np.where(present, k_day[np.minimum(starts, len(k_day) - 1)], 0)
    first_value = np.where(present, day_value[np.minimum(starts, len(k_day) - 1)], 0.0)
    in_cal = k_day <= cal_day
    cal_days = np.bincount(k_cust[in_cal], minlength=n)
    cal_value = np.bincount(k_cust[in_cal], weights=day_value[in_cal], minlength=n)
    last = np.full(n, np.iinfo(np.int64).min)
    np.maximum.at(last, k_cust[in_cal], k_day[in_cal])
    member = cal_days > 0
    frequency = np.maximum(cal_days - 1, 0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        monetary = np.where(frequency > 0, (cal_value - first_value) / frequency, 0.0)
    data: dict[str, np.ndarray] = {
        "frequency": frequency,
        "recency": np.where(member, last - first, 0) / unit,
        "T": (cal_day - first) / unit,
        "monetary_value": monetary,
    }
    if calibration_end is not None:
        out = ~in_cal
        hold_days = np.bincount(k_cust[out], minlength=n).astype(float)
        hold_value = np.bincount(k_cust[out], weights=day_value[out], minlength=n)
        with np.errstate(divide="ignore", invalid="ignore"):
            data["frequency_holdout"] = hold_days
            data["monetary_value_holdout"] = np.where(hold_days > 0, hold_value / hold_days, 0.0)
        data["duration_holdout"] = np.full(n, (end_day - cal_day) / unit)
    frame = pd.DataFrame(data, index=rows["customers"])[member]
    frame.attrs.update(
        calibration_end=pd.Timestamp(cal_day * _DAY_NS),
        observation_end=pd.Timestamp(end_day * _DAY_NS),
        data_start=pd.Timestamp(first_day * _DAY_NS),
        data_end=pd.Timestamp(last_day * _DAY_NS),
        time_unit=time_unit,
    )
    return frame


def suggest_calibration_end(
    transactions: pd.DataFrame, holdout_share: float = 0.25
) -> pd.Timestamp:
    """A calibration end leaving the last ``holdout_share`` of the data's days for the holdout."""
    if not 0 < holdout_share < 1:
        raise ParameterError(
            "value.error.bad_param", name="holdout_share", value=holdout_share, allowed="(0, 1)"
        )
    rows = _rows(transactions)
    day = rows["day"][~rows["returned"]]
    if len(day) == 0:
        raise DataRequirementError("value.error.no_transactions", hint="value.hint.more_data")
    first, last = int(day.min()), int(day.max())
    if last - first < 2:
        raise DataRequirementError(
            "value.error.short_period", hint="value.hint.more_data", days=last - first + 1
        )
    cal = last - max(round((last - first) * holdout_share), 1)
    return pd.Timestamp(cal * _DAY_NS)


# ---------------------------------------------------------------------------------------------
# Log-likelihoods (per customer)
# ---------------------------------------------------------------------------------------------


def _arrays(*values: Any) -> list[np.ndarray]:
    return [np.asarray(v, dtype=float) for v in values]


def _params(params: Mapping[str, float] | ModelFit, model: str) -> list[float]:
    values = params.params if isinstance(params, ModelFit) else params
    return [float(values[name]) for name in PARAMETER_NAMES[model]]


def _bgnbd_terms(
    r: float, alpha: float, a: float, b: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """FHL 2005 eq. 6 as log terms: constant part, log of both bracket terms, repeat mask."""
    # B(a, b + x) / B(a, b) through betaln: gammaln differences lose all digits for large b
    const = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.betaln(a, b + x)
        - special.betaln(a, b)
    )
    log_stay = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        log_drop = np.where(
            repeat,
            np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
            -np.inf,
        )
    return const, log_stay, log_drop, repeat


def bgnbd_log_likelihood(
    params: Mapping[str, float], frequency: Any, recency: Any, T: Any
) -> np.ndarray:
    """BG/NBD log-likelihood of each customer (FHL 2005, eq. 6)."""
    r, alpha, a, b = _params(params, "bgnbd")
    x, t_x, T_ = _arrays(frequency, recency, T)
    const, log_stay, log_drop, _ = _bgnbd_terms(r, alpha, a, b, x, t_x, T_)
    return const + _logaddexp(log_stay, log_drop)


def _hyp2f1_a1(b: np.ndarray | float, c: np.ndarray, z: np.ndarray) -> np.ndarray:
    """2F1(1, b; c; z) for 0 <= z < 1, b > 0, c > 1: SciPy, made fast and safe near z = 1.

    Near z = 1 SciPy's hyp2f1 gets slow (up to ~80 us a value, which made a Pareto/NBD fit
    drifting towards "no dropout" take minutes) and, when m = c - 1 - b is within ~1e-6 of an
    integer, wrong (inf, negative, or off by up to 30 %; checked against exact series sums).

    * z > 0.9, m < 3, b (1 - z) <= 0.5: the 1 - z connection formula with a = 1,
      F = (c - 1) / m 2F1(1, b; 1 - m; 1 - z) + (1 - z)^m z^(1-c) G(c) G(-m) / G(b),
      whose 2F1 has a small argument (fast, accurate to ~1e-9 in this range).
    * m within 5e-4 of an integer (there, and for SciPy's own z > 0.9 path): the function is
      smooth in c, so take the Richardson combination of c +- d and c +- 2d (d = 1e-3),
      (4 A(d) - A(2d)) / 3 with A(h) = (F(c + h) + F(c - h)) / 2, accurate to ~1e-9.
    """
    b, c, z = np.broadcast_arrays(np.asarray(b, float), np.asarray(c, float), np.asarray(z, float))
    b, c, z = b.ravel(), c.ravel(), z.ravel()
    out = np.empty(len(z))
    m = c - 1.0 - b
    near_one = z > 0.9
    connect = near_one & (m < 3) & (b * (1 - z) <= 0.5)
    plain = ~connect
    out[plain] = special.hyp2f1(1.0, b[plain], c[plain], z[plain])
    if connect.any():
        out[connect] = _hyp2f1_a1_connect(b[connect], c[connect], z[connect])
    risky = near_one & (np.abs(m - np.round(m)) < 5e-4)
    if risky.any():
        bb, cc, zz, cn = b[risky], c[risky], z[risky], connect[risky]
        d = 1e-3

        def f(cs: np.ndarray) -> np.ndarray:
            value = special.hyp2f1(1.0, bb, cs, zz)
            if cn.any():
                value[cn] = _hyp2f1_a1_connect(bb[cn], cs[cn], zz[cn])
            return value

        def pair(h: float) -> np.ndarray:
            return (f(cc + h) + f(cc - h)) / 2

        out[risky] = (4 * pair(d) - pair(2 * d)) / 3
    return out


def _hyp2f1_a1_connect(b: np.ndarray, c: np.ndarray, z: np.ndarray) -> np.ndarray:
    """2F1(1, b; c; z) by the 1 - z connection formula (m = c - 1 - b not an integer)."""
    m = c - 1.0 - b
    w = 1.0 - z
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):  # integer m: replaced
        first = (c - 1) / m * special.hyp2f1(1.0, b, 1 - m, w)
        log_coef = special.gammaln(c) + special.gammaln(-m) - special.gammaln(b)
        second = special.gammasgn(-m) * np.exp(m * np.log(w) + (1 - c) * np.log(z) + log_coef)
        return first + second


def _pnbd_log_a0(
    r: float, alpha: float, s: float, beta: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> np.ndarray:
    """log A0 of the Pareto/NBD likelihood (Fader & Hardie 2005 note, eq. 22-23).

    The 2F1 terms are rewritten with Euler's transformation, 2F1(a,b;c;z) =
    (1-z)^(c-a-b) 2F1(c-a,c-b;c;z), so the series has first parameter 1 and stays small for
    customers with many purchases (the plain form overflows near z = 1).
    """
    c = r + s + x + 1

    def log_term(t: np.ndarray) -> np.ndarray:
        if alpha >= beta:
            z = (alpha - beta) / (alpha + t)
            h = _hyp2f1_a1(r + x, c, z)
            return np.log(h) - s * np.log(beta + t) - (r + x) * np.log(alpha + t)
        z = (beta - alpha) / (beta + t)
        h = _hyp2f1_a1(s + 1.0, c, z)
        return np.log(h) + (1 - r - x) * np.log(alpha + t) - (s + 1) * np.log(beta + t)

    upper, lower = log_term(t_x), log_term(T)
    with np.errstate(divide="ignore"):
        return upper + np.log1p(-np.exp(np.minimum(lower - upper, 0.0)))


def _pnbd_parts(
    r: float, alpha: float, s: float, beta: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Constant, log "alive throughout" term and log "died after t_x" term of the likelihood."""
    const = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    log_alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    log_dead = np.log(s) - np.log(r + s + x) + _pnbd_log_a0(r, alpha, s, beta, x, t_x, T)
    return const, log_alive, log_dead


def paretonbd_log_likelihood(
    params: Mapping[str, float], frequency: Any, recency: Any, T: Any
) -> np.ndarray:
    """Pareto/NBD log-likelihood of each customer (Fader & Hardie 2005 note, eq. 22)."""
    r, alpha, s, beta = _params(params, "paretonbd")
    x, t_x, T_ = _arrays(frequency, recency, T)
    const, log_alive, log_dead = _pnbd_parts(r, alpha, s, beta, x, t_x, T_)
    return const + _logaddexp(log_alive, log_dead)


def gamma_gamma_log_likelihood(
    params: Mapping[str, float], frequency: Any, monetary_value: Any
) -> np.ndarray:
    """Gamma-Gamma log-likelihood of each repeat customer's mean spend (FHL 2005 "RFM and CLV").

    z-bar given x and nu is Gamma(p x, nu x); nu is Gamma(q, v) across customers.
    """
    p, q, v = _params(params, "gamma_gamma")
    x, m = _arrays(frequency, monetary_value)
    px = p * x
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(v + x * m)
    )


# ---------------------------------------------------------------------------------------------
# Maximum likelihood
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelFit:
    """A converged maximum-likelihood fit: estimates, standard errors and diagnostics."""

    model: str  # bgnbd | paretonbd | gamma_gamma
    params: dict[str, float]
    std_errors: dict[str, float]
    log_likelihood: float
    customers: int
    iterations: int
    gradient_max: float  # largest |d mean log-likelihood / d log(parameter)| at the optimum
    time_unit: str | None = None
    excluded: int = 0  # customers left out of the fit (Gamma-Gamma: no positive repeat spend)
    limit_of: str | None = None  # "bgnbd" / "paretonbd" when this NBD is their no-dropout limit

    def table(self) -> pd.DataFrame:
        """Estimate, standard error and a 95 % interval per parameter.

        The interval is Wald on the log scale (where the fit was done), exp(log theta +- 1.96
        se / theta): it stays positive, unlike theta +- 1.96 se for a skewed estimate.
        """
        names = list(self.params)
        est = np.array([self.params[k] for k in names])
        se = np.array([self.std_errors[k] for k in names])
        spread = np.exp(1.96 * se / est)
        return pd.DataFrame(
            {"estimate": est, "std_error": se, "ci_low": est / spread, "ci_high": est * spread},
            index=pd.Index(names, name="parameter"),
        )


@dataclass
class _Data:
    """Distinct customer rows with their counts: the likelihood is evaluated once per row.

    Terms that depend on the frequency alone (gamma / beta / digamma functions) are evaluated
    once per distinct frequency (``ux``, with total weights ``wx``); only logs of alpha + T and
    alpha + t_x are computed per row, and the dropout term only for repeat customers (``rep``).
    """

    columns: list[np.ndarray]
    weight: np.ndarray
    customers: int
    ux: np.ndarray = field(default_factory=lambda: np.empty(0))
    wx: np.ndarray = field(default_factory=lambda: np.empty(0))
    rep: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))


def _compress(*columns: np.ndarray) -> _Data:
    """Distinct rows (lexsort + run boundaries: faster than ``np.unique(axis=0)``)."""
    order = np.lexsort(columns[::-1])
    cols = [np.asarray(c, dtype=float)[order] for c in columns]
    change = np.zeros(len(order), dtype=bool)
    if len(order):
        change[0] = True
        for c in cols:
            change[1:] |= c[1:] != c[:-1]
    starts = np.flatnonzero(change)
    counts = np.diff(np.append(starts, len(order))).astype(float)
    unique = [c[starts] for c in cols]
    x = unique[0]
    ux, inverse = np.unique(x, return_inverse=True)
    wx = np.bincount(inverse, weights=counts, minlength=len(ux))
    return _Data(unique, counts, len(order), ux, wx, np.flatnonzero(x > 0))


def _logaddexp(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """log(exp(a) + exp(b)); numpy's ufunc is ~10x slower than these three steps here."""
    top = np.maximum(a, b)
    with np.errstate(invalid="ignore"):
        out = top + np.log1p(np.exp(-np.abs(a - b)))
    return np.where(np.isneginf(top), -np.inf, out)


def _dot(w: np.ndarray, v: np.ndarray) -> float:
    """Weighted sum without BLAS: OpenBLAS threads a long dot product, which on a busy
    two-core machine costs more than the sum itself."""
    return float(np.einsum("i,i->", w, v))


def _bgnbd_ll_grad(theta: np.ndarray, d: _Data) -> tuple[float, np.ndarray]:
    """Total BG/NBD log-likelihood and its analytic gradient in (r, alpha, a, b)."""
    r, alpha, a, b = theta
    x, t_x, T = d.columns
    w, ux, wx, rep = d.weight, d.ux, d.wx, d.rep
    psi = special.digamma
    # per distinct frequency: gamma-function parts of FHL eq. 6 and of its gradient
    const = (
        special.gammaln(r + ux)
        - special.gammaln(r)
        + r * np.log(alpha)
        + special.betaln(a, b + ux)
        - special.betaln(a, b)
    )
    psi_rx, psi_bx, psi_abx = psi(r + ux), psi(b + ux), psi(a + b + ux)
    # per row: the "still alive at T" term; for repeat customers also "left after t_x"
    log_alpha_T = np.log(alpha + T)
    log_stay = -(r + x) * log_alpha_T
    xr, wr = x[rep], w[rep]
    log_alpha_tx = np.log(alpha + t_x[rep])
    log_drop = np.log(a) - np.log(b + xr - 1) - (r + xr) * log_alpha_tx
    stay_rep = log_stay[rep]
    total_rep = _logaddexp(stay_rep, log_drop)
    drop_rep = np.exp(log_drop - total_rep)  # weight of "left after t_x" in the likelihood
    ll = _dot(wx, const) + _dot(w, log_stay) + _dot(wr, total_rep - stay_rep)
    sd_rep = wr * drop_rep
    # sums over rows of w * share_stay * f = sums of w * f minus the repeat rows' share_drop part
    g_r = _dot(wx, psi_rx - psi(r) + np.log(alpha)) - _dot(w, log_alpha_T)
    g_r += _dot(sd_rep, log_alpha_T[rep] - log_alpha_tx)
    inv_T = (r + x) / (alpha + T)
    g_alpha = r / alpha * wx.sum() - _dot(w, inv_T)
    g_alpha += _dot(sd_rep, inv_T[rep] - (r + xr) / (alpha + t_x[rep]))
    g_a = _dot(wx, psi(a + b) - psi_abx) + sd_rep.sum() / a
    g_b = _dot(wx, psi_bx - psi_abx - psi(b) + psi(a + b)) - _dot(sd_rep, 1.0 / (b + xr - 1))
    return float(ll), np.array([g_r, g_alpha, g_a, g_b])


def _gg_ll_grad(theta: np.ndarray, d: _Data) -> tuple[float, np.ndarray]:
    """Total Gamma-Gamma log-likelihood and its analytic gradient in (p, q, v)."""
    p, q, v = theta
    x, m = d.columns
    w, ux, wx = d.weight, d.ux, d.wx
    psi = special.digamma
    pu = p * ux
    # per distinct frequency
    const = special.gammaln(pu + q) - special.gammaln(pu) - special.gammaln(q) + pu * np.log(ux)
    psi_pq, psi_p = psi(pu + q), psi(pu)
    # per row
    log_m, log_vxm = np.log(m), np.log(v + x * m)
    px = p * x
    ll = _dot(wx, const) + wx.sum() * q * np.log(v) + _dot(w, (px - 1) * log_m - (px + q) * log_vxm)
    g_p = _dot(wx, ux * (psi_pq - psi_p + np.log(ux))) + _dot(w * x, log_m - log_vxm)
    g_q = _dot(wx, psi_pq - psi(q)) + wx.sum() * np.log(v) - _dot(w, log_vxm)
    g_v = q / v * wx.sum() - _dot(w, (px + q) / (v + x * m))
    return float(ll), np.array([g_p, g_q, g_v])


def _pnbd_ll(theta: np.ndarray, d: _Data) -> float:
    r, alpha, s, beta = theta
    x, t_x, T = d.columns
    const, log_alive, log_dead = _pnbd_parts(r, alpha, s, beta, x, t_x, T)
    return float(d.weight @ (const + _logaddexp(log_alive, log_dead)))


def _nbd_ll_grad(theta: np.ndarray, d: _Data) -> tuple[float, np.ndarray]:
    """Total NBD (no dropout) log-likelihood and its gradient in (r, alpha); t_x is unused."""
    r, alpha = theta
    x, _, T = d.columns
    w = d.weight
    ll = (
        special.gammaln(r + x)
        - special.gammaln(r)
        + r * np.log(alpha)
        - (r + x) * np.log(alpha + T)
    )
    g_r = special.digamma(r + x) - special.digamma(r) + np.log(alpha) - np.log(alpha + T)
    g_alpha = r / alpha - (r + x) / (alpha + T)
    return float(w @ ll), np.array([w @ g_r, w @ g_alpha])


def _numeric_grad(f: Callable[[np.ndarray], float], u: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Central-difference gradient in log space."""
    g = np.empty(len(u))
    for i in range(len(u)):
        step = np.zeros(len(u))
        step[i] = h
        g[i] = (f(u + step) - f(u - step)) / (2 * h)
    return g


def _numeric_hessian(
    f: Callable[[np.ndarray], float],
    grad: Callable[[np.ndarray], np.ndarray] | None,
    u: np.ndarray,
    h: float = 1e-4,
) -> np.ndarray:
    """Finite-difference Hessian: of the analytic gradient when there is one, else of ``f``."""
    k = len(u)
    eye = np.eye(k) * h
    if grad is not None:
        rows = [(grad(u + eye[i]) - grad(u - eye[i])) / (2 * h) for i in range(k)]
        hess = np.array(rows)
    else:
        hess = np.empty((k, k))
        f0 = f(u)
        for i in range(k):
            hess[i, i] = (f(u + eye[i]) - 2 * f0 + f(u - eye[i])) / h**2
            for j in range(i):
                hess[i, j] = hess[j, i] = (
                    f(u + eye[i] + eye[j])
                    - f(u + eye[i] - eye[j])
                    - f(u - eye[i] + eye[j])
                    + f(u - eye[i] - eye[j])
                ) / (4 * h * h)
    return (hess + hess.T) / 2


class _NotInterior(ParameterError):
    """No interior maximum was found; carries the best log-likelihood reached."""

    def __init__(
        self, key: str, log_likelihood: float, hint: str | None = None, **params: Any
    ) -> None:
        super().__init__(key, hint, **params)
        self.log_likelihood = float(log_likelihood) if np.isfinite(log_likelihood) else -np.inf


def _raise_at_bound(model: str, u: np.ndarray, log_likelihood: float) -> None:
    """A log-parameter at its bound: the estimate runs off to 0 or infinity."""
    names = PARAMETER_NAMES[model]
    at_bound = [names[i] for i in range(len(u)) if abs(u[i]) >= LOG_BOUND - 1e-3]
    if at_bound:
        raise _NotInterior(
            "value.error.unidentified",
            hint="value.hint.more_data",
            log_likelihood=log_likelihood,
            model=MODEL_LABELS[model],
            parameters=", ".join(at_bound),
        )


def _maximise(
    model: str,
    d: _Data,
    u0: np.ndarray,
    ll_grad: Callable[[np.ndarray, _Data], tuple[float, np.ndarray]] | None,
    ll: Callable[[np.ndarray, _Data], float] | None,
    time_unit: str | None,
    excluded: int = 0,
) -> ModelFit:
    """Maximise the mean log-likelihood over log-parameters; check it really converged.

    Mean (not total) so that tolerances do not depend on the number of customers.
    """
    n = float(d.weight.sum())
    names = PARAMETER_NAMES[model]

    def mean_ll(u: np.ndarray) -> float:
        theta = np.exp(u)
        with np.errstate(all="ignore"):
            value = ll_grad(theta, d)[0] if ll_grad is not None else ll(theta, d)  # type: ignore[misc]
        return value / n if np.isfinite(value) else -np.inf

    def mean_grad(u: np.ndarray) -> np.ndarray:
        if ll_grad is None:
            return _numeric_grad(mean_ll, u)
        theta = np.exp(u)
        with np.errstate(all="ignore"):
            return ll_grad(theta, d)[1] * theta / n

    def objective(u: np.ndarray) -> tuple[float, np.ndarray] | float:
        if ll_grad is None:
            value = mean_ll(u)
            return -value if np.isfinite(value) else 1e10
        theta = np.exp(u)
        with np.errstate(all="ignore"):
            total, grad = ll_grad(theta, d)
        if not np.isfinite(total):
            return 1e10, np.zeros(len(u))
        g = grad * theta / n
        return -total / n, -np.where(np.isfinite(g), g, 0.0)

    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(u0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = optimize.minimize(
            objective,
            u0,
            jac=ll_grad is not None,
            method="L-BFGS-B",
            bounds=bounds,
            options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10},
        )
        u = np.clip(res.x, -LOG_BOUND, LOG_BOUND)
        iterations = int(res.nit)
        _raise_at_bound(model, u, mean_ll(u) * n)
        g = mean_grad(u)
        if not np.all(np.isfinite(g)) or np.max(np.abs(g)) > GRADIENT_TOL:
            nm = optimize.minimize(
                lambda v: -mean_ll(v) if np.isfinite(mean_ll(v)) else 1e10,
                u,
                method="Nelder-Mead",
                bounds=bounds,
                options={"xatol": 1e-10, "fatol": 1e-15, "maxfev": 400 * len(u)},
            )
            iterations += int(nm.nit)
            if mean_ll(nm.x) >= mean_ll(u):
                u = nm.x
            _raise_at_bound(model, u, mean_ll(u) * n)
        # Newton polish on the finite-difference Hessian (also the one used for standard errors)
        for _ in range(8):
            g = mean_grad(u)
            if not np.all(np.isfinite(g)) or np.max(np.abs(g)) <= GRADIENT_TOL / 100:
                break
            hess = _numeric_hessian(mean_ll, mean_grad if ll_grad is not None else None, u)
            try:
                step = -np.linalg.solve(hess, g)
            except np.linalg.LinAlgError:
                break
            if not np.all(np.isfinite(step)) or np.any(np.linalg.eigvalsh(hess) >= 0):
                break
            base, scale = mean_ll(u), 1.0
            while scale > 1e-4 and not mean_ll(u + scale * step) >= base:
                scale /= 2
            if scale <= 1e-4:
                break
            u = np.clip(u + scale * step, -LOG_BOUND, LOG_BOUND)
            iterations += 1
        g = mean_grad(u)
        hess = _numeric_hessian(mean_ll, mean_grad if ll_grad is not None else None, u)
    value = mean_ll(u)
    gmax = float(np.max(np.abs(g))) if np.all(np.isfinite(g)) else float("inf")
    _raise_at_bound(model, u, value * n)
    if (
        not np.isfinite(value)
        or gmax > GRADIENT_TOL
        or not np.all(np.isfinite(hess))
        or np.any(np.linalg.eigvalsh(hess) >= 0)
    ):
        raise _NotInterior(
            "value.error.not_converged",
            hint="value.hint.more_data",
            log_likelihood=value * n,
            model=MODEL_LABELS[model],
            gradient=f"{gmax:.2g}",
        )
    cov_log = np.linalg.inv(-hess * n)
    theta = np.exp(u)
    se = theta * np.sqrt(np.clip(np.diag(cov_log), 0, None))  # delta method
    return ModelFit(
        model=model,
        params={k: float(v) for k, v in zip(names, theta, strict=True)},
        std_errors={k: float(v) for k, v in zip(names, se, strict=True)},
        log_likelihood=float(value * n),
        customers=d.customers,
        iterations=iterations,
        gradient_max=gmax,
        time_unit=time_unit,
        excluded=excluded,
    )


def _count_inputs(frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, ...]:
    """Validated (x, t_x, T) arrays for the purchase-count models."""
    x, t_x, T_ = _arrays(frequency, recency, T)
    if not (len(x) == len(t_x) == len(T_)):
        raise ParameterError("value.error.length_mismatch")
    bad = ~(np.isfinite(x) & np.isfinite(t_x) & np.isfinite(T_))
    bad |= (x < 0) | (x != np.round(x)) | (t_x < 0) | (t_x > T_ + 1e-9) | ((x == 0) & (t_x > 0))
    if bad.any():
        raise ParameterError("value.error.bad_summary", rows=int(bad.sum()))
    if len(x) < MIN_CUSTOMERS:
        raise DataRequirementError(
            "value.error.too_few_customers",
            hint="value.hint.more_data",
            customers=len(x),
            needed=MIN_CUSTOMERS,
        )
    repeaters = int((x > 0).sum())
    if repeaters < MIN_REPEAT_CUSTOMERS:
        raise DataRequirementError(
            "value.error.no_repeat",
            hint="value.hint.more_data",
            repeaters=repeaters,
            needed=MIN_REPEAT_CUSTOMERS,
        )
    return x, np.minimum(t_x, T_), T_


def _start_alpha(x: np.ndarray, T: np.ndarray) -> float:
    """alpha starts where the gamma mean rate r / alpha (r = 1) matches the observed rate."""
    return float(np.clip(max(T.sum(), 1e-3) / max(x.sum(), 1.0), 1e-3, 1e5))


def _with_no_dropout_limit(
    model: str, d: _Data, alpha0: float, time_unit: str | None, fit: Callable[[], ModelFit]
) -> ModelFit:
    """``fit()``, or its no-dropout limit when the data show no sign of customers leaving.

    When the dropout parameters run off to the edge (BG/NBD: a -> 0 or b -> inf; Pareto/NBD:
    s -> 0 or beta -> inf) the likelihood's supremum is the NBD model: purchases at a gamma-
    distributed rate, nobody leaves. That model is then fitted exactly and returned with
    ``limit_of`` set, so callers can say so; if it is not at least as likely as the best point
    the full model reached, the full model's error stands.
    """
    try:
        return fit()
    except _NotInterior as exc:
        try:
            nbd = _maximise("nbd", d, np.log([1.0, alpha0]), _nbd_ll_grad, None, time_unit)
        except _NotInterior:
            raise exc from None
        if nbd.log_likelihood < exc.log_likelihood - 1e-7 * d.weight.sum():
            raise
        return replace(nbd, limit_of=model)


def fit_bgnbd(frequency: Any, recency: Any, T: Any, time_unit: str | None = None) -> ModelFit:
    """Maximum-likelihood BG/NBD (parameters r, alpha, a, b) with standard errors.

    Returns the NBD limit (``model="nbd"``, ``limit_of="bgnbd"``) when the data show no dropout;
    see :func:`_with_no_dropout_limit`.
    """
    x, t_x, T_ = _count_inputs(frequency, recency, T)
    d = _compress(x, t_x, T_)
    alpha0 = _start_alpha(x, T_)
    u0 = np.log([1.0, alpha0, 1.0, 1.0])
    return _with_no_dropout_limit(
        "bgnbd",
        d,
        alpha0,
        time_unit,
        lambda: _maximise("bgnbd", d, u0, _bgnbd_ll_grad, None, time_unit),
    )


def fit_paretonbd(frequency: Any, recency: Any, T: Any, time_unit: str | None = None) -> ModelFit:
    """Maximum-likelihood Pareto/NBD (parameters r, alpha, s, beta) with standard errors.

    Starts from r = s = 1, beta = alpha; returns the NBD limit like :func:`fit_bgnbd`.
    """
    x, t_x, T_ = _count_inputs(frequency, recency, T)
    d = _compress(x, t_x, T_)
    alpha0 = _start_alpha(x, T_)
    u0 = np.log([1.0, alpha0, 1.0, alpha0])
    return _with_no_dropout_limit(
        "paretonbd",
        d,
        alpha0,
        time_unit,
        lambda: _maximise("paretonbd", d, u0, None, _pnbd_ll, time_unit),
    )


def fit_gamma_gamma(frequency: Any, monetary_value: Any) -> ModelFit:
    """Maximum-likelihood Gamma-Gamma (p, q, v) on repeat customers with positive spend.

    Customers without repeat purchases carry no spend information in this model; repeat
    customers whose mean spend is zero or negative (free items, net refunds) violate its gamma
    assumption and are left out, counted in ``ModelFit.excluded``.
    """
    x, m = _arrays(frequency, monetary_value)
    repeat = x > 0
    usable = repeat & np.isfinite(m) & (m > 0)
    excluded = int((repeat & ~usable).sum())
    if usable.sum() < MIN_SPEND_CUSTOMERS:
        raise DataRequirementError(
            "value.error.no_spend",
            hint="value.hint.more_data",
            customers=int(usable.sum()),
            needed=MIN_SPEND_CUSTOMERS,
            excluded=excluded,
        )
    xs, ms = x[usable], m[usable]
    if np.ptp(ms) <= 1e-12 * max(abs(ms.mean()), 1.0):
        raise DataRequirementError("value.error.constant_spend", hint="value.hint.more_data")
    d = _compress(xs, ms)
    mean, var = ms.mean(), ms.var()
    q0 = 2.0 + mean**2 / max(var, 1e-12)  # moment-style start: v / (q - 1) * p ~ mean
    u0 = np.log([1.0, min(q0, 1e4), mean * (q0 - 1)])
    return _maximise("gamma_gamma", d, u0, _gg_ll_grad, None, None, excluded=excluded)


# ---------------------------------------------------------------------------------------------
# Predictions
# ---------------------------------------------------------------------------------------------


def p_alive(fit: ModelFit, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """Probability that each customer is still active at the end of their period ``T``.

    BG/NBD: 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x)), so a
    customer without repeat purchases is always "alive" under BG/NBD (one can only drop out
    right after a purchase).
    """
    x, t_x, T_ = _arrays(frequency, recency, T)
    if fit.model == "nbd":
        return np.ones(np.broadcast(x, t_x, T_).shape)
    if fit.model == "bgnbd":
        r, alpha, a, b = _params(fit, "bgnbd")
        _, log_stay, log_drop, _ = _bgnbd_terms(r, alpha, a, b, x, t_x, T_)
    elif fit.model == "paretonbd":
        r, alpha, s, beta = _params(fit, "paretonbd")
        _, log_stay, log_drop = _pnbd_parts(r, alpha, s, beta, x, t_x, T_)
    else:
        raise ParameterError(
            "value.error.bad_param", name="model", value=fit.model, allowed="bgnbd, paretonbd"
        )
    return np.exp(log_stay - _logaddexp(log_stay, log_drop))


def expected_purchases(fit: ModelFit, t: Any, frequency: Any, recency: Any, T: Any) -> np.ndarray:
    """Expected purchases of each customer in the next ``t`` time units, given their history.

    ``t`` may be one horizon (result: one value per customer) or several (customers x horizons;
    P(alive) is then computed once). BG/NBD: FHL 2005 eq. 10, with Euler's transformation
    applied to its 2F1 so that customers with many purchases do not overflow:
    E = (a + b + x - 1) / (a - 1) [1 - (1 - z)^(a - 1) 2F1(a + b - 1 - r, a - 1; a + b + x - 1; z)]
    P(alive), z = t / (alpha + T + t). Pareto/NBD: (r + x)(beta + T) / ((alpha + T)(s - 1))
    [1 - ((beta + T) / (beta + T + t))^(s - 1)] P(alive). NBD (no dropout): (r + x) / (alpha + T) t.
    """
    x, t_x, T_ = _arrays(frequency, recency, T)
    alive = p_alive(fit, x, t_x, T_)
    horizons = np.atleast_1d(np.asarray(t, dtype=float))
    out = np.column_stack([_expected(fit, max(h, 0.0), x, T_) * alive for h in horizons])
    return out[:, 0] if np.ndim(t) == 0 else out


def _expected(fit: ModelFit, t: float, x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Expected purchases in the next ``t`` units for a customer who is alive."""
    if t <= 0:
        return np.zeros(len(x))
    if fit.model == "nbd":
        r, alpha = _params(fit, "nbd")
        return (r + x) / (alpha + T) * t
    if fit.model == "bgnbd":
        r, alpha, a, b = _params(fit, "bgnbd")
        if abs(a - 1) < 1e-8:  # the formula is 0/0 at a = 1 exactly
            a = 1 + 1e-8
        z = t / (alpha + T + t)
        bracket = 1 - (1 - z) ** (a - 1) * special.hyp2f1(a + b - 1 - r, a - 1, a + b + x - 1, z)
        return (a + b + x - 1) / (a - 1) * bracket
    r, alpha, s, beta = _params(fit, "paretonbd")
    log_ratio = -np.log1p(t / (beta + T))
    growth = -log_ratio if abs(s - 1) < 1e-10 else -np.expm1((s - 1) * log_ratio) / (s - 1)
    return (r + x) * (beta + T) / (alpha + T) * growth


def expected_purchases_new(fit: ModelFit, t: float) -> float:
    """Expected purchases of a new (just acquired) customer in their first ``t`` time units.

    BG/NBD: FHL 2005 eq. 9; Pareto/NBD: r beta / (alpha (s - 1)) [1 - (beta / (beta + t))^(s-1)].
    """
    if fit.model in ("bgnbd", "nbd"):
        return float(expected_purchases(fit, t, [0.0], [0.0], [0.0])[0])
    r, alpha, s, beta = _params(fit, "paretonbd")
    log_ratio = -math.log1p(t / beta)
    growth = -log_ratio if abs(s - 1) < 1e-10 else -math.expm1((s - 1) * log_ratio) / (s - 1)
    return r * beta / alpha * growth


def expected_spend(fit: ModelFit, frequency: Any, monetary_value: Any) -> np.ndarray:
    """Gamma-Gamma expected mean spend per purchase of each customer (FHL 2005 "RFM and CLV").

    E[Z | x, m] = p (v + x m) / (p x + q - 1): a weighted average of the population mean
    p v / (q - 1) and the customer's own mean m, shrinking more for few purchases. Customers
    without a usable mean (no repeats, or a non-positive one) get the population mean. Needs
    q > 1 (finite population mean), else a ParameterError.
    """
    p, q, v = _params(fit, "gamma_gamma")
    if q <= 1:
        raise ParameterError("value.error.heavy_tail", hint="value.hint.more_data", q=f"{q:.3g}")
    x, m = _arrays(frequency, monetary_value)
    usable = (x > 0) & np.isfinite(m) & (m > 0)
    own = p * (v + x * np.where(usable, m, 0)) / (p * x + q - 1)
    return np.where(usable, own, p * v / (q - 1))


def discount_factors(periods: int, rate: float) -> np.ndarray:
    """1 / (1 + rate)^k for k = 1..periods: cash in period k is valued at its end."""
    if rate <= -1:
        raise ParameterError(
            "value.error.bad_param", name="discount_rate", value=rate, allowed="> -1"
        )
    return 1.0 / (1.0 + rate) ** np.arange(1, periods + 1)


def discounted_value(increments: np.ndarray, spend: np.ndarray | float, rate: float) -> np.ndarray:
    """Sum over periods k of expected purchases in period k x spend / (1 + rate)^k.

    ``increments`` has one column per period (customers x periods); ``rate`` is per period.
    """
    inc = np.atleast_2d(np.asarray(increments, dtype=float))
    return (inc @ discount_factors(inc.shape[1], rate)) * np.asarray(spend, dtype=float)


def alive_matrix(
    fit: ModelFit, T: float, max_frequency: int = 20, recency_points: int = 40
) -> pd.DataFrame:
    """P(alive) for a customer observed for ``T`` units, by frequency (rows) and recency (cols).

    Frequency 0 has no recency (no repeat purchase): its row is the value at recency 0.
    """
    freq = np.arange(max_frequency + 1, dtype=float)
    rec = np.linspace(0.0, T, recency_points)
    xx, tt = np.meshgrid(freq, rec, indexing="ij")
    tt = np.where(xx == 0, 0.0, tt)
    values = p_alive(fit, xx.ravel(), tt.ravel(), np.full(xx.size, T)).reshape(xx.shape)
    frame = pd.DataFrame(
        values,
        index=pd.Index(freq.astype(int), name="frequency"),
        columns=pd.Index(np.round(rec, 2), name="recency"),
    )
    return frame


def calibration_holdout_table(
    frequency: Any, actual: Any, predicted: Any, max_frequency: int = HOLDOUT_MAX_FREQUENCY
) -> pd.DataFrame:
    """Mean actual vs predicted holdout purchases by calibration frequency 0..max-1 and max+."""
    x = np.minimum(np.asarray(frequency, dtype=float), max_frequency).astype(int)
    frame = pd.DataFrame({"bucket": x, "actual": actual, "predicted": predicted})
    table = frame.groupby("bucket").agg(
        customers=("actual", "size"), actual=("actual", "mean"), predicted=("predicted", "mean")
    )
    table = table.reindex(range(max_frequency + 1))
    table["customers"] = table["customers"].fillna(0).astype(int)
    table.index = pd.Index(
        [str(k) for k in range(max_frequency)] + [f"{max_frequency}+"], name="frequency"
    )
    return table


# ---------------------------------------------------------------------------------------------
# End to end
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CLVParams:
    """CLV settings.

    ``calibration_end``: last day (inclusive) of the calibration period; the days after it up to
    ``observation_end`` are the holdout the fitted model is checked against. None: no check, the
    model is only fitted on the whole period. Customers are always scored with a model refitted
    on the whole period (up to ``observation_end``, default the last purchase day), looking
    ``horizon_days`` ahead.

    Discounting: the horizon is cut into months (365.25 / 12 days; the last one may be shorter).
    ``discount_rate`` is per ``rate_period`` ("year": 0.1 = 10 % a year, applied monthly as
    (1.1)^(1/12) - 1; "month": per month), and

        clv = margin_rate * E[spend] * sum_k (E[N(t_k)] - E[N(t_k-1)]) / (1 + d_month)^k,

    with E[N(t)] the conditional expected purchases by time t from now. ``margin_rate`` turns
    revenue into profit (1.0 = revenue).
    """

    calibration_end: pd.Timestamp | None = None
    observation_end: pd.Timestamp | None = None
    time_unit: str = "weeks"
    horizon_days: int = 365
    discount_rate: float = 0.1
    rate_period: str = "year"
    model: str = "bgnbd"
    margin_rate: float = 1.0
    top_n: int = 20


@dataclass
class CLVResult:
    """Per-customer predictions, fitted models, the holdout check and summary tables."""

    params: CLVParams
    customers: pd.DataFrame  # frequency, recency, T, monetary_value, p_alive, expected_*, clv
    purchase_fit: ModelFit  # fitted on the whole period; scores the customers
    spend_fit: ModelFit
    parameters: pd.DataFrame  # stage, model, parameter, estimate, std_error, ci_low, ci_high
    alive_matrix: pd.DataFrame
    distribution: pd.DataFrame  # CLV quantiles
    top: pd.DataFrame
    metrics: dict[str, float]
    observation_end: pd.Timestamp
    calibration_fit: ModelFit | None = None
    validation: pd.DataFrame | None = None  # per calibration customer: actual vs predicted
    holdout: pd.DataFrame | None = None  # calibration_holdout_table
    calibration_end: pd.Timestamp | None = None
    notes: list[str] = field(default_factory=list)  # i18n keys of caveats to show


def _check_clv_params(params: CLVParams) -> None:
    checks: list[tuple[str, Any, bool, str]] = [
        ("model", params.model, params.model in MODELS, ", ".join(MODELS)),
        ("time_unit", params.time_unit, params.time_unit in TIME_UNITS, ", ".join(TIME_UNITS)),
        ("horizon_days", params.horizon_days, params.horizon_days > 0, "> 0"),
        ("discount_rate", params.discount_rate, -1 < params.discount_rate < 10, "(-1, 10)"),
        ("rate_period", params.rate_period, params.rate_period in RATE_PERIODS, "year, month"),
        ("margin_rate", params.margin_rate, 0 < params.margin_rate <= 1, "(0, 1]"),
        ("top_n", params.top_n, params.top_n >= 1, ">= 1"),
    ]
    for name, value, ok, allowed in checks:
        if not ok:
            raise ParameterError("value.error.bad_param", name=name, value=value, allowed=allowed)


def monthly_rate(rate: float, rate_period: str) -> float:
    """The per-month discount rate equivalent to ``rate`` per ``rate_period``."""
    return (1.0 + rate) ** (1.0 / RATE_PERIODS[rate_period]) - 1.0


def _fit_counts(model: str, summary: pd.DataFrame, time_unit: str) -> ModelFit:
    fit = fit_bgnbd if model == "bgnbd" else fit_paretonbd
    return fit(summary["frequency"], summary["recency"], summary["T"], time_unit)


def _clv(
    fit: ModelFit, spend: np.ndarray, summary: pd.DataFrame, params: CLVParams
) -> tuple[np.ndarray, np.ndarray]:
    """Expected purchases over the horizon and discounted value, period by period."""
    unit = TIME_UNITS[params.time_unit]
    periods = max(math.ceil(params.horizon_days / MONTH_DAYS - 1e-9), 1)
    ends = np.minimum(np.arange(1, periods + 1) * MONTH_DAYS, params.horizon_days) / unit
    x, t_x, T = (summary[c].to_numpy(float) for c in ("frequency", "recency", "T"))
    cumulative = expected_purchases(fit, ends, x, t_x, T)
    increments = np.diff(cumulative, axis=1, prepend=0.0)
    rate = monthly_rate(params.discount_rate, params.rate_period)
    value = discounted_value(increments, spend, rate) * params.margin_rate
    return cumulative[:, -1], value


def _parameters_frame(fits: dict[str, ModelFit]) -> pd.DataFrame:
    frames = []
    for stage, fit in fits.items():
        table = fit.table().reset_index()
        table.insert(0, "model", fit.model)
        table.insert(0, "stage", stage)
        frames.append(table)
    return pd.concat(frames, ignore_index=True)


def _distribution(clv: pd.Series) -> pd.DataFrame:
    q = [0.1, 0.25, 0.5, 0.75, 0.9, 0.99]
    values = clv.quantile(q)
    frame = pd.DataFrame(
        {"value": [*values.to_numpy(), clv.mean(), clv.sum()]},
        index=pd.Index([f"p{int(k * 100)}" for k in q] + ["mean", "total"], name="statistic"),
    )
    return frame


def run_clv(transactions: pd.DataFrame, params: CLVParams | None = None) -> CLVResult:
    """Fit, check on the holdout (when split) and score every customer.

    1. With ``calibration_end``: fit the purchase model on the calibration summary and compare
       its expected holdout purchases with the actual ones (totals, MAE per customer, the
       calibration-vs-holdout table; MAE of a naive "same rate as before" forecast for scale).
    2. Refit purchase and spend models on the whole period and compute, per customer, P(alive),
       expected purchases over ``horizon_days``, expected spend and discounted CLV.
    """
    params = params or CLVParams()
    _check_clv_params(params)
    unit = TIME_UNITS[params.time_unit]
    fits: dict[str, ModelFit] = {}
    metrics: dict[str, float] = {}
    notes: list[str] = []
    validation = holdout = None
    calibration_fit = None
    cal_end = None
    if params.calibration_end is not None:
        cal = rfm_summary(
            transactions, params.calibration_end, params.observation_end, params.time_unit
        )
        cal_end = cal.attrs["calibration_end"]
        calibration_fit = _fit_counts(params.model, cal, params.time_unit)
        fits["calibration"] = calibration_fit
        duration = float(cal["duration_holdout"].iloc[0])
        x, t_x, T = (cal[c].to_numpy(float) for c in ("frequency", "recency", "T"))
        predicted = expected_purchases(calibration_fit, duration, x, t_x, T)
        actual = cal["frequency_holdout"].to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            naive = np.where(T > 0, x / T * duration, 0.0)
        validation = cal[["frequency", "recency", "T", "frequency_holdout"]].assign(
            predicted_holdout=predicted
        )
        holdout = calibration_holdout_table(x, actual, predicted)
        metrics.update(
            holdout_customers=float(len(cal)),
            holdout_days=float(duration * unit),
            holdout_actual_total=float(actual.sum()),
            holdout_predicted_total=float(predicted.sum()),
            holdout_total_error=float(predicted.sum() / actual.sum() - 1)
            if actual.sum() > 0
            else float("nan"),
            holdout_mae=float(np.mean(np.abs(predicted - actual))),
            holdout_mae_naive=float(np.mean(np.abs(naive - actual))),
            holdout_rmse=float(np.sqrt(np.mean((predicted - actual) ** 2))),
            calibration_log_likelihood=calibration_fit.log_likelihood,
        )
    full = rfm_summary(transactions, None, params.observation_end, params.time_unit)
    observation_end = full.attrs["observation_end"]
    purchase_fit = _fit_counts(params.model, full, params.time_unit)
    fits["full"] = purchase_fit
    spend_fit = fit_gamma_gamma(full["frequency"], full["monetary_value"])
    fits["spend"] = spend_fit
    if purchase_fit.limit_of or (calibration_fit is not None and calibration_fit.limit_of):
        notes.append("value.note.no_dropout")
    if spend_fit.excluded:
        notes.append("value.note.spend_excluded")
    x, m = full["frequency"].to_numpy(float), full["monetary_value"].to_numpy(float)
    spend = expected_spend(spend_fit, x, m)
    repeat = (x > 0) & (m > 0)
    corr = float(np.corrcoef(x[repeat], m[repeat])[0, 1]) if repeat.sum() > 2 else float("nan")
    if abs(corr) >= 0.3:
        notes.append("value.note.spend_correlated")
    alive = p_alive(purchase_fit, x, full["recency"], full["T"])
    purchases, clv = _clv(purchase_fit, spend, full, params)
    if not (np.all(np.isfinite(alive)) and np.all(np.isfinite(clv))):
        # SciPy's hyp2f1 gives NaN for extreme inputs (hundreds of purchases at alpha >> beta)
        raise ParameterError("value.error.numerical", model=MODEL_LABELS[purchase_fit.model])
    customers = full.assign(
        p_alive=alive, expected_purchases=purchases, expected_spend=spend, clv=clv
    )
    customers.attrs = {}
    order = np.lexsort((customers.index.to_numpy(), -customers["clv"].to_numpy()))
    top = customers.iloc[order[: params.top_n]]
    max_freq = int(min(max(np.quantile(x, 0.99), 5), 40))
    metrics.update(
        customers=float(len(customers)),
        repeat_customers=float((x > 0).sum()),
        log_likelihood=purchase_fit.log_likelihood,
        spend_customers=float(spend_fit.customers),
        spend_excluded=float(spend_fit.excluded),
        spend_frequency_corr=corr,
        expected_purchases_total=float(purchases.sum()),
        clv_total=float(clv.sum()),
        clv_mean=float(clv.mean()),
        p_alive_mean=float(alive.mean()),
        monthly_discount_rate=monthly_rate(params.discount_rate, params.rate_period),
    )
    return CLVResult(
        params=params,
        customers=customers,
        purchase_fit=purchase_fit,
        spend_fit=spend_fit,
        parameters=_parameters_frame(fits),
        alive_matrix=alive_matrix(purchase_fit, float(full["T"].max()), max_freq),
        distribution=_distribution(customers["clv"]),
        top=top,
        metrics=metrics,
        observation_end=observation_end,
        calibration_fit=calibration_fit,
        validation=validation,
        holdout=holdout,
        calibration_end=cal_end,
        notes=notes,
    )


def simulate_bgnbd(
    params: Mapping[str, float], T: Any, seed: int = 0, with_times: bool = False
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Customers drawn from a BG/NBD model: their (frequency, recency, T) summary.

    For checks (parameter recovery in tests and the bench), not for analysis. Each customer buys
    at a Gamma(r, alpha) rate lambda and, after every repeat purchase, leaves with a Beta(a, b)
    probability p. With ``with_times`` also returns every repeat purchase (customer, time).
    """
    r, alpha, a, b = _params(params, "bgnbd")
    rng = np.random.default_rng(seed)
    T_ = np.asarray(T, dtype=float)
    n = len(T_)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    x, t_x, now = np.zeros(n), np.zeros(n), np.zeros(n)
    alive = lam > 0
    events: list[tuple[np.ndarray, np.ndarray]] = []
    while alive.any():
        idx = np.flatnonzero(alive)
        now[idx] += rng.exponential(1.0 / lam[idx])
        inside = now[idx] <= T_[idx]
        alive[idx[~inside]] = False
        buy = idx[inside]
        x[buy] += 1
        t_x[buy] = now[buy]
        if with_times:
            events.append((buy, now[buy].copy()))
        alive[buy[rng.random(len(buy)) < p[buy]]] = False
    summary = pd.DataFrame({"frequency": x, "recency": t_x, "T": T_})
    if not with_times:
        return summary
    cust = np.concatenate([e[0] for e in events]) if events else np.empty(0, int)
    times = np.concatenate([e[1] for e in events]) if events else np.empty(0)
    return summary, pd.DataFrame({"customer": cust, "time": times})


def predict_purchases(result: CLVResult, days: float) -> pd.Series:
    """Each scored customer's expected purchases in the next ``days`` days."""
    c = result.customers
    t_units = days / TIME_UNITS[result.params.time_unit]
    values = expected_purchases(result.purchase_fit, t_units, c["frequency"], c["recency"], c["T"])
    return pd.Series(values, index=c.index, name="expected_purchases")


def top_customers(result: CLVResult, n: int = 20) -> pd.DataFrame:
    """The ``n`` customers with the highest CLV (ties by id)."""
    c = result.customers
    order = np.lexsort((c.index.to_numpy(), -c["clv"].to_numpy()))
    return c.iloc[order[:n]]


def clv_by_segment(result: CLVResult, labels: pd.Series) -> pd.DataFrame:
    """Per label: customers, total / mean / median CLV, CLV share, mean P(alive).

    Customers without a label are grouped under NaN and dropped; labels of customers unknown to
    the CLV result are ignored.
    """
    c = result.customers
    lab = labels.copy()
    lab.index = lab.index.astype("str")
    joined = c[["clv", "p_alive", "expected_purchases"]].join(lab.rename("segment"), how="inner")
    joined = joined[joined["segment"].notna()]
    grouped = joined.groupby("segment", sort=True)
    summary = grouped.agg(
        customers=("clv", "size"),
        clv_total=("clv", "sum"),
        clv_mean=("clv", "mean"),
        clv_median=("clv", "median"),
        p_alive_mean=("p_alive", "mean"),
        expected_purchases_mean=("expected_purchases", "mean"),
    )
    total = summary["clv_total"].sum()
    summary.insert(3, "clv_share", summary["clv_total"] / total if total else np.nan)
    return summary.sort_values("clv_total", ascending=False, kind="stable")


def compare_with_rfm(
    clv_result: CLVResult, rfm_result: RfmResult, churn_probability: pd.Series | None = None
) -> pd.DataFrame:
    """CLV model vs RFM segment (and a churn model) per customer, flagging disagreements.

    Flags (reason column, "" when none): ``champion_not_alive`` (an RFM champion with P(alive)
    < 0.5), ``dormant_alive`` (an RFM lost / hibernating customer with P(alive) > 0.8) and
    ``churn_disagrees`` (|churn probability - (1 - P(alive))| >= 0.5). Rows are the CLV
    customers; ``segment`` is NaN for customers RFM did not score.
    """
    c = clv_result.customers[["p_alive", "expected_purchases", "clv"]].copy()
    rank = c["clv"].rank(ascending=False, method="first")
    c["clv_rank"] = rank.astype(int)
    segments = rfm_result.customers["segment"].copy()
    segments.index = segments.index.astype("str")
    c = c.join(segments, how="left")
    alive = c["p_alive"].to_numpy()
    segment = c["segment"].astype(object).to_numpy()
    reason = np.full(len(c), "", dtype=object)
    reason[(segment == "champions") & (alive < CHAMPION_ALIVE_MIN)] = "champion_not_alive"
    dormant = np.isin(segment, DORMANT_SEGMENTS) & (alive > DORMANT_ALIVE_MAX)
    reason[dormant] = "dormant_alive"
    if churn_probability is not None:
        churn = churn_probability.copy()
        churn.index = churn.index.astype("str")
        c["churn_probability"] = churn.reindex(c.index).astype(float).to_numpy()
        gap = np.abs(c["churn_probability"].to_numpy() - (1 - alive))
        reason[(reason == "") & (gap >= CHURN_DISAGREEMENT)] = "churn_disagrees"
    c["flag"] = reason != ""
    c["reason"] = reason.astype(str)
    return c
