"""Satisfaction and demand over time: period series per group, forecasts, early warnings.

Targets:

* ``satisfaction`` — mean feedback score per period (scale 1–5, 0–10 or satisfied 0/1, detected
  or stated; scores outside the scale are left out and counted);
* ``nps`` — Net Promoter Score per period, % promoters (9–10) − % detractors (0–6), from the
  ``nps`` column, or from a 0–10 score;
* ``responses`` — the number of feedback responses per period (review volume);
* ``revenue``, ``orders``, ``units`` — demand from transactions (returns and cancellations left
  out; orders are distinct order ids, or customer-days without them; units are quantities, or
  lines without a quantity column).

Series are regular (every period from the first to the last is present). Score periods with fewer
than ``min_responses`` responses are gaps: they are shown (with their count) but interpolated for
the models, so one angry response does not move a forecast. Demand periods at either end that
the data covers for less than 90 % of their days are dropped, so a half-month does not look like
a collapse. Each group (segment, channel, category or another attribute) gets its own series and
forecast, as does the whole ("All"). See :mod:`crm_core.timeseries` for the models.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crm_core.errors import DataRequirementError, ParameterError
from crm_core.schema import cancellation_mask
from crm_core.segment_labels import segment_labels
from crm_core.segmentation import Note
from crm_core.timeseries import MODELS, SEASONS, SeriesSettings, forecast_series

if TYPE_CHECKING:
    from crm_core.store import Workspace
    from crm_core.tables import Dataset

TARGETS: tuple[str, ...] = ("satisfaction", "nps", "responses", "revenue", "orders", "units")
SCORE_TARGETS = ("satisfaction", "nps")
FEEDBACK_TARGETS = ("satisfaction", "nps", "responses")
FREQS: tuple[str, ...] = ("M", "W")
SCALES: dict[str, tuple[float, float]] = {"1-5": (1, 5), "0-10": (0, 10), "binary": (0, 1)}
ALL = "__all__"
SEGMENT = "segment"
MIN_PERIODS = 4
MAX_GROUP_VALUES = 50  # a grouping column with more distinct values is an id or free text
EDGE_COVERAGE = 0.9
DEFAULT_THRESHOLDS: dict[str, float] = {"1-5": 3.5, "0-10": 7.0, "binary": 0.8, "nps": 0.0}
DEFAULT_DROP = -0.10  # demand: warn when the forecast falls 10 % below the recent level


@dataclass(frozen=True)
class ForecastParams:
    """What to forecast and how. ``by`` is None, ``"segment"`` or a column to group by."""

    target: str = "revenue"
    freq: str = "M"
    horizon: int = 6
    by: str | None = None
    segmentation: str | None = None  # saved segmentation (or segment_labels.RFM_CHOICE)
    model: str = "auto"
    interval: float = 0.95
    n_origins: int = 3
    ma_window: int = 3
    min_responses: int = 5
    scale: str = "auto"
    max_groups: int = 12
    threshold: float | None = None  # absolute level (scores) ...
    drop: float | None = None  # ... or relative change vs the recent level (demand)


@dataclass
class GroupForecast:
    """One group's series, every model's forecast and the backtest."""

    group: str
    history: pd.DataFrame  # period, value, responses, gap, fitted_value
    forecast: pd.DataFrame  # period, model, mean, lower, upper
    backtest: pd.DataFrame  # model, mae, rmse, mape, errors
    chosen: str
    detail: str


@dataclass
class ForecastResult:
    """Forecasts per group plus the early-warning table."""

    params: ForecastParams
    scale: str | None
    groups: list[GroupForecast]
    warnings: pd.DataFrame  # group, recent, forecast_min, first_below, change, threshold
    threshold: float | None
    notes: list[Note] = field(default_factory=list)

    def group(self, name: str) -> GroupForecast:
        """The forecast of one group (``ALL`` for the whole)."""
        for item in self.groups:
            if item.group == name:
                return item
        raise KeyError(name)

    def summary(self) -> pd.DataFrame:
        """One row per group: chosen model, its backtest MAE/MAPE, last value, forecast end."""
        rows = []
        for g in self.groups:
            chosen = g.backtest.set_index("model").reindex([g.chosen])
            path = g.forecast[g.forecast["model"] == g.chosen]
            observed = g.history.dropna(subset=["value"])
            rows.append(
                {
                    "group": g.group,
                    "model": g.chosen,
                    "detail": g.detail,
                    "periods": len(g.history),
                    "last_value": float(observed["value"].iloc[-1]) if len(observed) else np.nan,
                    "forecast_end": float(path["mean"].iloc[-1]) if len(path) else np.nan,
                    "mae": float(chosen["mae"].iloc[0]),
                    "mape": float(chosen["mape"].iloc[0]),
                }
            )
        return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------
# Which groupings a dataset offers
# ---------------------------------------------------------------------------------------------


def _source_table(target: str) -> str:
    return "feedback" if target in FEEDBACK_TARGETS else "transactions"


def groupable_columns(dataset: Dataset, target: str) -> list[str]:
    """Columns that can split the target into groups: the table's own low-cardinality
    categories, customer attributes (through the customer id) and, for feedback, the order's
    (through the order id). ``"segment"`` first when customers can be segmented."""
    table = dataset.get(_source_table(target))
    if table is None:
        return []
    found: list[str] = []
    if "customer_id" in table.columns:
        found.append(SEGMENT)
    candidates = [table]
    if "customer_id" in table.columns and dataset.get("customers") is not None:
        candidates.append(dataset.tables["customers"])
    if (
        target in FEEDBACK_TARGETS
        and "order_id" in table.columns
        and dataset.has("transactions", "order_id")
    ):
        candidates.append(dataset.tables["transactions"])
    for frame in candidates:
        for column in frame.columns:
            if column in found or column in _NOT_GROUPS:
                continue
            if _is_grouping(frame[column]):
                found.append(str(column))
    return found


_NOT_GROUPS = frozenset(
    {"customer_id", "order_id", "date", "text", "name", "item", "score", "nps", "churn"}
)


def _is_grouping(column: pd.Series) -> bool:
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_datetime64_any_dtype(column):
        return False
    distinct = column.nunique(dropna=True)
    return 2 <= distinct <= MAX_GROUP_VALUES


def _group_values(
    dataset: Dataset,
    frame: pd.DataFrame,
    params: ForecastParams,
    workspace: Workspace | None,
    lang: str,
) -> pd.Series:
    """The group of each row of ``frame`` (missing → not in any group)."""
    by = params.by
    allowed = groupable_columns(dataset, params.target)
    if by not in allowed:
        raise ParameterError(
            "forecast.error.unknown_group", column=str(by), allowed=", ".join(allowed) or "-"
        )
    if by == SEGMENT:
        if "customer_id" not in frame.columns:
            raise DataRequirementError("forecast.error.no_customer_for_segment")
        labels = segment_labels(dataset, params.segmentation, workspace, lang)
        return frame["customer_id"].astype(str).map(labels)
    if by in frame.columns:
        return frame[by].astype("str").where(frame[by].notna())
    customers = dataset.get("customers")
    if customers is not None and by in customers.columns and "customer_id" in frame.columns:
        lookup = customers.drop_duplicates("customer_id").set_index("customer_id")[by]
        return frame["customer_id"].map(lookup).astype("str").where(lambda s: s != "nan")
    tx = dataset.get("transactions")
    if tx is not None and by in tx.columns and "order_id" in frame.columns:
        lookup = tx.dropna(subset=[by]).drop_duplicates("order_id").set_index("order_id")[by]
        return frame["order_id"].map(lookup).astype("str").where(lambda s: s != "nan")
    raise ParameterError("forecast.error.unknown_group", column=str(by), allowed=", ".join(allowed))


# ---------------------------------------------------------------------------------------------
# Rows -> per-period values
# ---------------------------------------------------------------------------------------------


def period_starts(dates: pd.Series, freq: str) -> pd.Series:
    """Start of each date's period: the 1st of the month, or the Monday of the week."""
    if freq == "M":
        return dates.dt.to_period("M").dt.start_time
    return dates.dt.to_period("W-SUN").dt.start_time


def _period_range(first: pd.Timestamp, last: pd.Timestamp, freq: str) -> pd.DatetimeIndex:
    return pd.date_range(first, last, freq="MS" if freq == "M" else "W-MON")


def _period_end(start: pd.Timestamp, freq: str) -> pd.Timestamp:
    return start + (pd.offsets.MonthBegin(1) if freq == "M" else pd.Timedelta(days=7))


def detect_scale(scores: pd.Series) -> str:
    """1-5, 0-10 or binary from the values; anything else is a typed error."""
    values = scores.dropna()
    if values.empty:
        raise DataRequirementError("forecast.error.no_scores")
    low, high = float(values.min()), float(values.max())
    if set(np.unique(values)) <= {0.0, 1.0}:
        return "binary"
    if low >= 1 and high <= 5:
        return "1-5"
    if low >= 0 and high <= 10:
        return "0-10"
    raise ParameterError("forecast.error.unknown_scale", low=f"{low:g}", high=f"{high:g}")


def _score_rows(dataset: Dataset, params: ForecastParams, notes: list[Note]) -> tuple:
    """Feedback rows with a usable value: (frame, value column, scale)."""
    feedback = dataset.get("feedback")
    if feedback is None or "date" not in feedback.columns or not len(feedback):
        raise DataRequirementError("forecast.error.no_feedback")
    frame = feedback[feedback["date"].notna()].copy()
    if params.target == "nps":
        if "nps" in frame.columns and frame["nps"].notna().any():
            raw = pd.to_numeric(frame["nps"], errors="coerce")
        elif "score" in frame.columns and params.scale in ("0-10", "auto"):
            raw = pd.to_numeric(frame["score"], errors="coerce")
            if params.scale == "auto" and detect_scale(raw) != "0-10":
                raise DataRequirementError("forecast.error.no_nps")
        else:
            raise DataRequirementError("forecast.error.no_nps")
        scale = "0-10"
    else:
        if "score" not in frame.columns:
            raise DataRequirementError("forecast.error.no_scores")
        raw = pd.to_numeric(frame["score"], errors="coerce")
        scale = detect_scale(raw) if params.scale == "auto" else params.scale
        if scale not in SCALES:
            raise ParameterError(
                "forecast.error.bad_param", name="scale", value=scale, allowed=", ".join(SCALES)
            )
    low, high = SCALES[scale]
    outside = raw.notna() & ((raw < low) | (raw > high))
    if outside.any():
        notes.append(
            Note(
                "forecast.note.outside_scale",
                {"count": int(outside.sum()), "scale": scale.replace("-", "–")},
            )
        )
    keep = raw.notna() & ~outside
    if not keep.any():
        raise DataRequirementError("forecast.error.no_scores")
    frame = frame[keep]
    frame["_value"] = raw[keep].astype(float)
    if params.target == "nps":
        frame["_promoter"] = (frame["_value"] >= 9).astype(float)
        frame["_detractor"] = (frame["_value"] <= 6).astype(float)
    return frame, scale


def _response_rows(dataset: Dataset) -> pd.DataFrame:
    """Feedback rows with a date: each one is a response (review volume)."""
    feedback = dataset.get("feedback")
    if feedback is None or "date" not in feedback.columns or not feedback["date"].notna().any():
        raise DataRequirementError("forecast.error.no_feedback")
    return feedback[feedback["date"].notna()].assign(_value=1.0)


def _demand_rows(dataset: Dataset, params: ForecastParams, notes: list[Note]) -> pd.DataFrame:
    """Transaction rows that are purchases, with the target's value per row."""
    tx = dataset.get("transactions")
    if tx is None or "date" not in tx.columns or not len(tx):
        raise DataRequirementError("forecast.error.no_transactions")
    frame = tx[tx["date"].notna()]
    returned = cancellation_mask(frame)
    if returned.any():
        notes.append(Note("forecast.note.returns_left_out", {"count": int(returned.sum())}))
        frame = frame[~returned.to_numpy()]
    frame = frame.copy()
    if params.target == "revenue":
        amount = frame["amount"] if "amount" in frame.columns else None
        if "quantity" in frame.columns and "unit_price" in frame.columns:
            product = frame["quantity"] * frame["unit_price"]
            amount = product if amount is None else amount.fillna(product)
        if amount is None:
            raise DataRequirementError(
                "forecast.error.missing_roles", roles="amount (or quantity × unit_price)"
            )
        frame["_value"] = amount.astype(float)
    elif params.target == "units":
        if "quantity" in frame.columns:
            frame["_value"] = frame["quantity"].astype(float)
        else:
            notes.append(Note("forecast.note.units_are_lines"))
            frame["_value"] = 1.0
    else:  # orders: distinct order ids (customer-days without them), counted per period
        if "order_id" in frame.columns:
            frame["_order"] = frame["order_id"].astype("str")
        elif "customer_id" in frame.columns:
            frame["_order"] = (
                frame["customer_id"].astype("str") + "|" + frame["date"].dt.normalize().astype(str)
            )
        else:
            frame["_order"] = np.arange(len(frame)).astype(str)
        frame["_value"] = 1.0
    return frame


def _aggregate(frame: pd.DataFrame, params: ForecastParams, periods: pd.Series) -> pd.DataFrame:
    """Per period: the target's value and the number of rows (responses) behind it."""
    grouped = frame.groupby(periods.to_numpy(), sort=True)
    out = pd.DataFrame({"responses": grouped.size()})
    if params.target == "satisfaction":
        out["value"] = grouped["_value"].mean()
    elif params.target == "nps":
        out["value"] = (grouped["_promoter"].mean() - grouped["_detractor"].mean()) * 100
    elif params.target == "orders":
        out["value"] = grouped["_order"].nunique().astype(float)
    else:
        out["value"] = grouped["_value"].sum()
    return out


def _regular(
    values: pd.DataFrame,
    periods: pd.DatetimeIndex,
    params: ForecastParams,
) -> pd.DataFrame:
    """Every period present; gaps marked (scores) or zero (demand); gaps interpolated for fit."""
    history = values.reindex(periods)
    history.index.name = "period"
    history["responses"] = history["responses"].fillna(0).astype(int)
    if params.target in SCORE_TARGETS:
        history["gap"] = history["responses"] < params.min_responses
        fit = history["value"].where(~history["gap"])
        history["fitted_value"] = fit.interpolate(limit_direction="both")
    else:
        history["value"] = history["value"].fillna(0.0)
        history["gap"] = False
        history["fitted_value"] = history["value"]
    return history.reset_index()


def _edge_periods(
    dates: pd.Series, freq: str, notes: list[Note]
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last period to keep for demand: drop thinly covered end periods."""
    first_day, last_day = dates.min().normalize(), dates.max().normalize()
    first = period_starts(pd.Series([first_day]), freq).iloc[0]
    last = period_starts(pd.Series([last_day]), freq).iloc[0]
    first_length = (_period_end(first, freq) - first).days
    if (_period_end(first, freq) - first_day).days < EDGE_COVERAGE * first_length:
        notes.append(Note("forecast.note.partial_period", {"period": first.strftime("%Y-%m-%d")}))
        first = _period_end(first, freq)
    last_length = (_period_end(last, freq) - last).days
    if (last_day - last).days + 1 < EDGE_COVERAGE * last_length:
        notes.append(Note("forecast.note.partial_period", {"period": last.strftime("%Y-%m-%d")}))
        last = last - (pd.offsets.MonthBegin(1) if freq == "M" else pd.Timedelta(days=7))
    return first, last


# ---------------------------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------------------------


def _check(params: ForecastParams) -> None:
    checks: list[tuple[str, Any, bool, str]] = [
        ("target", params.target, params.target in TARGETS, ", ".join(TARGETS)),
        ("freq", params.freq, params.freq in FREQS, ", ".join(FREQS)),
        ("horizon", params.horizon, 1 <= params.horizon <= 104, "1-104"),
        ("model", params.model, params.model in ("auto", *MODELS), "auto, " + ", ".join(MODELS)),
        ("interval", params.interval, 0.5 <= params.interval < 1, "0.5-0.99"),
        ("ma_window", params.ma_window, 1 <= params.ma_window <= 52, "1-52"),
        ("n_origins", params.n_origins, 1 <= params.n_origins <= 12, "1-12"),
        ("min_responses", params.min_responses, 1 <= params.min_responses <= 1000, "1-1000"),
        ("max_groups", params.max_groups, 1 <= params.max_groups <= 100, "1-100"),
    ]
    for name, value, ok, allowed in checks:
        if not ok:
            raise ParameterError(
                "forecast.error.bad_param", name=name, value=value, allowed=allowed
            )


def _bounds(target: str, scale: str | None) -> tuple[float | None, float | None]:
    if target == "nps":
        return -100.0, 100.0
    if target == "satisfaction" and scale:
        return SCALES[scale]
    return 0.0, None


def run_forecast(
    dataset: Dataset,
    params: ForecastParams,
    workspace: Workspace | None = None,
    lang: str = "en",
) -> ForecastResult:
    """Series per group, every model backtested, forecasts with intervals, early warnings."""
    _check(params)
    notes: list[Note] = []
    scale: str | None = None
    if params.target in SCORE_TARGETS:
        frame, scale = _score_rows(dataset, params, notes)
    elif params.target == "responses":
        frame = _response_rows(dataset)
    else:
        frame = _demand_rows(dataset, params, notes)
    dates = frame["date"]
    if params.target in SCORE_TARGETS:
        first = period_starts(pd.Series([dates.min()]), params.freq).iloc[0]
        last = period_starts(pd.Series([dates.max()]), params.freq).iloc[0]
    else:
        first, last = _edge_periods(dates, params.freq, notes)
    periods = _period_range(first, last, params.freq)
    frame = frame[(dates >= first) & (dates < _period_end(last, params.freq))]
    if len(periods) < MIN_PERIODS:
        raise DataRequirementError(
            "forecast.error.too_few_periods", periods=len(periods), needed=MIN_PERIODS
        )
    period_of_row = period_starts(frame["date"], params.freq)
    groups: list[tuple[str, pd.DataFrame, pd.Series]] = [(ALL, frame, period_of_row)]
    if params.by:
        values = _group_values(dataset, frame, params, workspace, lang)
        groups += _split(frame, values, period_of_row, params, notes)
    settings = SeriesSettings(
        horizon=params.horizon,
        season=SEASONS[params.freq],
        model=params.model,
        ma_window=params.ma_window,
        interval=params.interval,
        n_origins=params.n_origins,
        lower=_bounds(params.target, scale)[0],
        upper=_bounds(params.target, scale)[1],
    )
    results = []
    for name, rows, row_periods in groups:
        history = _regular(_aggregate(rows, params, row_periods), periods, params)
        observed = history["fitted_value"].notna() & ~history["gap"]
        if int(observed.sum()) < MIN_PERIODS:
            notes.append(
                Note("forecast.note.group_too_thin", {"group": _shown(name), "needed": MIN_PERIODS})
            )
            continue
        history = _trim_unobserved(history)
        results.append(_forecast_group(name, history, settings, params, notes))
    if not results:
        raise DataRequirementError("forecast.error.too_few_periods", periods=0, needed=MIN_PERIODS)
    gaps = int(results[0].history["gap"].sum())
    if gaps and params.target in SCORE_TARGETS:
        notes.append(
            Note("forecast.note.gaps", {"count": gaps, "min_responses": params.min_responses})
        )
    threshold, warnings = early_warnings(results, params, scale)
    return ForecastResult(params, scale, results, warnings, threshold, _unique(notes))


def _shown(name: str) -> str:
    return "All" if name == ALL else name


def _unique(notes: list[Note]) -> list[Note]:
    seen, out = set(), []
    for note in notes:
        key = (note.key, tuple(sorted(note.params.items())))
        if key not in seen:
            seen.add(key)
            out.append(note)
    return out


def _split(
    frame: pd.DataFrame,
    values: pd.Series,
    periods: pd.Series,
    params: ForecastParams,
    notes: list[Note],
) -> list[tuple[str, pd.DataFrame, pd.Series]]:
    """The largest ``max_groups`` groups (by rows, or by revenue for revenue)."""
    values = values.reindex(frame.index)
    weights = frame["_value"] if params.target == "revenue" else pd.Series(1.0, index=frame.index)
    size = weights.groupby(values).sum().sort_values(ascending=False, kind="stable")
    if len(size) > params.max_groups:
        notes.append(
            Note(
                "forecast.note.groups_capped",
                {"shown": params.max_groups, "total": len(size)},
            )
        )
    out = []
    for name in size.index[: params.max_groups]:
        mask = (values == name).to_numpy()
        out.append((str(name), frame[mask], periods[mask]))
    return out


def _trim_unobserved(history: pd.DataFrame) -> pd.DataFrame:
    """Drop leading gap periods (a group that started later); trailing ones stay, carried
    forward, so every group forecasts the same future periods."""
    observed = np.flatnonzero(~history["gap"].to_numpy())
    return history.iloc[observed[0] :].reset_index(drop=True)


def _forecast_group(
    name: str,
    history: pd.DataFrame,
    settings: SeriesSettings,
    params: ForecastParams,
    notes: list[Note],
) -> GroupForecast:
    y = history["fitted_value"].to_numpy(dtype=float)
    result = forecast_series(y, settings)
    for key, values in result.notes:
        notes.append(Note(key, values))
    step = pd.offsets.MonthBegin(1) if params.freq == "M" else pd.Timedelta(days=7)
    future = pd.DatetimeIndex(
        [history["period"].iloc[-1] + step * (i + 1) for i in range(params.horizon)]
    )
    rows = []
    for model, path in result.forecasts.items():
        rows.append(
            pd.DataFrame(
                {
                    "period": future,
                    "model": model,
                    "mean": path.mean,
                    "lower": path.lower,
                    "upper": path.upper,
                }
            )
        )
    forecast = pd.concat(rows, ignore_index=True)
    detail = result.forecasts[result.chosen].detail
    return GroupForecast(name, history, forecast, result.backtest, result.chosen, detail)


def early_warnings(
    groups: list[GroupForecast], params: ForecastParams, scale: str | None
) -> tuple[float | None, pd.DataFrame]:
    """Groups whose chosen forecast falls below the warning level, worst first.

    Scores: an absolute level (default 3.5 on 1–5, 7 on 0–10, 80 % satisfied, NPS 0). Demand: a
    relative drop (default −10 %) against the same periods one season earlier when the history
    has them (so a seasonal low is not an alarm), else against the mean of the recent periods.
    """
    relative = params.target not in SCORE_TARGETS
    if relative:
        limit = params.drop if params.drop is not None else DEFAULT_DROP
    elif params.threshold is not None:
        limit = params.threshold
    else:
        limit = DEFAULT_THRESHOLDS["nps" if params.target == "nps" else (scale or "1-5")]
    season = SEASONS[params.freq]
    rows = []
    for g in groups:
        path = g.forecast[g.forecast["model"] == g.chosen].reset_index(drop=True)
        values = g.history["fitted_value"].to_numpy(dtype=float)
        n, h = len(values), len(path)
        if relative and n >= season:
            # the same periods one season earlier (the last ones when the horizon > a season)
            base = np.array([values[n - season + (i % season)] for i in range(h)])
        else:
            base = np.full(h, values[-min(n, max(h, 3)) :].mean())
        levels = base * (1 + limit) if relative else np.full(h, limit)
        mean = path["mean"].to_numpy(dtype=float)
        below = mean < levels
        if not below.any():
            continue
        first = int(np.flatnonzero(below)[0])
        reference = float(base.mean())
        rows.append(
            {
                "group": g.group,
                "recent": reference,
                "forecast_mean": float(mean.mean()),
                "forecast_min": float(mean.min()),
                "first_below": path["period"].iloc[first],
                "change": float(mean.mean() / reference - 1) if reference else np.nan,
                "threshold": float(levels[first]),
            }
        )
    columns = [
        "group",
        "recent",
        "forecast_mean",
        "forecast_min",
        "first_below",
        "change",
        "threshold",
    ]
    table = pd.DataFrame(rows, columns=columns)
    if len(table):
        key = "change" if relative else "forecast_min"
        table = table.sort_values(key, kind="stable").reset_index(drop=True)
    return limit, table


def forecast_payload(result: ForecastResult, lang: str = "en") -> dict[str, Any]:
    """A JSON-friendly summary (what ``crm forecast`` prints)."""

    def plain(value: Any) -> Any:
        if isinstance(value, pd.Timestamp):
            return value.strftime("%Y-%m-%d")
        if hasattr(value, "item"):
            value = value.item()
        if isinstance(value, float):
            return None if not np.isfinite(value) else round(value, 6)
        return value

    def records(frame: pd.DataFrame) -> list[dict]:
        return [{k: plain(v) for k, v in row.items()} for row in frame.to_dict("records")]

    p = result.params
    groups = []
    for g in result.groups:
        groups.append(
            {
                "group": _shown(g.group),
                "chosen_model": g.chosen,
                "detail": g.detail,
                "history": records(g.history[["period", "value", "responses", "gap"]]),
                "forecast": records(g.forecast[g.forecast["model"] == g.chosen]),
                "backtest": records(g.backtest),
            }
        )
    warnings = result.warnings.assign(group=result.warnings["group"].map(_shown))
    return {
        "target": p.target,
        "freq": p.freq,
        "horizon": p.horizon,
        "by": p.by,
        "model": p.model,
        "interval": p.interval,
        "scale": result.scale,
        "threshold": plain(result.threshold),
        "threshold_kind": "relative" if p.target not in SCORE_TARGETS else "absolute",
        "early_warnings": records(warnings),
        "groups": groups,
        "notes": [note.text(lang) for note in result.notes],
    }
