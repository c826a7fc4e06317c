"""Market-basket analysis: baskets from transactions, frequent itemsets, association rules.

Why this shape: baskets are kept as a sparse CSR matrix (baskets x items) because real data has
thousands of items and hundreds of thousands of baskets, where a dense one-hot table needs
gigabytes. Frequent itemsets come from a vectorised level-wise miner here (Eclat over the CSR
rows) or, on request, from mlxtend (FP-Growth or Apriori, ``engine="mlxtend"``); both give the same
itemsets and counts (tested on Groceries, Online Retail and the sample). ``engine="auto"`` uses the
native miner: bench/bench_baskets.py measured it faster than mlxtend at every size (Groceries 0.04
s vs 0.1-0.2 s, Online Retail invoices 0.3 s vs 3.5 s, a million baskets 0.4 s vs 25 s, where
mlxtend FP-Growth would densify 9 GB), and only it can be stopped, timed out and capped.
Rules are generated here from the itemset counts, so counts, single-item consequents and the
caps are exact and cheap. The miner checks a cooperative stop, a time limit and itemset/memory
caps between nodes, and a stopped run returns what it has: every kept itemset still has exact
counts and every rule exact metrics; the result is only incomplete (``truncated``).
"""

from __future__ import annotations

import itertools
import math
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import comb, gammaln

from crm_core.errors import DataRequirementError, InputError, ParameterError
from crm_core.schema import Problem, cancellation_mask

__all__ = [
    "ALGORITHMS",
    "BASKET_UNITS",
    "CORRECTIONS",
    "ENGINES",
    "ITEMSETS_CAP",
    "LEVELS",
    "MAX_LEN_CAP",
    "RANK_METRICS",
    "RULES_CAP",
    "RULE_COLUMNS",
    "BasketParams",
    "Baskets",
    "Explosion",
    "RuleParams",
    "RulesResult",
    "SegmentComparison",
    "adjust_pvalues",
    "baskets_from_onehot",
    "build_baskets",
    "compare_segments",
    "consequents_for",
    "estimate_explosion",
    "fisher_pvalues",
    "min_count_for",
    "rule_metrics",
    "rule_sentence",
    "rules_for_export",
    "run_rules",
]

BASKET_UNITS: tuple[str, ...] = ("order", "customer_day", "customer")
LEVELS: tuple[str, ...] = ("item", "category")
ALGORITHMS: tuple[str, ...] = ("fpgrowth", "apriori")
ENGINES: tuple[str, ...] = ("auto", "native", "mlxtend")
CORRECTIONS: tuple[str, ...] = ("fdr_bh", "holm", "none")
RANK_METRICS: tuple[str, ...] = (
    "lift",
    "confidence",
    "support",
    "leverage",
    "conviction",
    "zhangs_metric",
    "count",
    "p_adjusted",
)
MAX_LEN_CAP = 8  # longest itemset anyone can ask for
RULES_CAP = 10_000  # most rules a result holds (orange3-associate's maxRules)
ITEMSETS_CAP = 500_000  # most frequent itemsets a run may keep
CANDIDATES_CAP = 5_000_000  # most candidate rules generated from the itemsets
TIDS_BUDGET = 60_000_000  # basket ids held for the next level (int32: 240 MB)
# "auto" hands inputs of at most this many baskets x frequent items to mlxtend; 0 = never (the
# native miner was faster at every size measured, see the module docstring).
AUTO_MLXTEND_CELLS = 0
MLXTEND_MAX_CELLS = 100_000_000  # mlxtend densifies its input: refuse above this
EXPLOSION_WARN = 100_000  # estimated itemsets that earn a warning
_CHECK_EVERY = 32  # nodes between cooperative stop / time checks

RULE_COLUMNS: tuple[str, ...] = (
    "antecedent",
    "consequent",
    "antecedent_items",
    "consequent_items",
    "length",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
    "zhangs_metric",
    "antecedent_support",
    "consequent_support",
    "count",
    "antecedent_count",
    "consequent_count",
    "p_value",
    "p_adjusted",
)
_JOIN = ", "

ShouldStop = Callable[[], bool] | None
Progress = Callable[[float], None] | None


def _bad(name: str, value: Any, allowed: str) -> ParameterError:
    return ParameterError("baskets.error.bad_param", name=name, value=repr(value), allowed=allowed)


def _as_timestamp(value: Any, name: str) -> pd.Timestamp | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        stamp = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise _bad(name, value, "a date such as 2024-01-31") from None
    if pd.isna(stamp):
        return None
    return stamp.tz_localize(None) if stamp.tzinfo is not None else stamp


def _as_items(value: Any, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    try:
        return tuple(dict.fromkeys(str(v) for v in value))
    except TypeError:
        raise _bad(name, value, "a list of item names") from None


# ============================================================================================
# Parameters
# ============================================================================================


@dataclass(frozen=True)
class BasketParams:
    """What one basket is and which transaction rows feed it.

    ``unit``: ``order`` (one order id), ``customer_day`` (a customer's purchases on one calendar
    day, for data without order ids) or ``customer`` (everything a customer ever bought).
    ``level``: mine ``item`` names or their ``category``. ``start``/``end`` bound the date (both
    inclusive, whole days). ``attribute``/``values`` keep rows whose attribute column (e.g.
    ``country``) holds one of ``values``; ``customers`` keeps only those customer ids (a saved
    segment). Returns and cancellations are always excluded.
    """

    unit: str = "order"
    level: str = "item"
    start: Any = None
    end: Any = None
    attribute: str | None = None
    values: tuple[str, ...] = ()
    customers: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.unit not in BASKET_UNITS:
            raise _bad("unit", self.unit, ", ".join(BASKET_UNITS))
        if self.level not in LEVELS:
            raise _bad("level", self.level, ", ".join(LEVELS))
        start, end = _as_timestamp(self.start, "start"), _as_timestamp(self.end, "end")
        if start is not None and end is not None and end < start:
            raise _bad("end", str(self.end), f">= {start.date()}")
        object.__setattr__(self, "start", start)
        object.__setattr__(self, "end", end)
        attribute = str(self.attribute).strip() if self.attribute is not None else None
        object.__setattr__(self, "attribute", attribute or None)
        object.__setattr__(self, "values", _as_items(self.values, "values"))
        if self.customers is not None:
            if isinstance(self.customers, str):
                raise _bad("customers", self.customers, "a set of customer ids")
            object.__setattr__(self, "customers", frozenset(str(c) for c in self.customers))


@dataclass(frozen=True)
class RuleParams:
    """Mining and rule settings; every value is checked here (ParameterError when out of range).

    ``min_support`` is a share of baskets; ``min_count`` (when given) a basket count that
    replaces it. ``single_consequent`` keeps rules with one item on the right (arules' default).
    ``antecedent_items``/``consequent_items`` must all appear on that side; ``exclude_items`` are
    removed before mining (basket totals stay). P-values (Fisher's exact test, one-sided) are
    adjusted over the rules that pass support, confidence, lift and item constraints, as arules'
    ``is.significant`` does, then ``max_p`` filters on the adjusted value.
    """

    min_support: float = 0.01
    min_count: int | None = None
    max_len: int = 4
    min_len: int = 2
    algorithm: str = "fpgrowth"
    engine: str = "auto"
    min_confidence: float = 0.25
    min_lift: float = 1.0
    single_consequent: bool = True
    antecedent_items: tuple[str, ...] = ()
    consequent_items: tuple[str, ...] = ()
    exclude_items: tuple[str, ...] = ()
    rank_by: str = "lift"
    correction: str = "fdr_bh"
    max_p: float = 1.0
    prune_redundant: bool = False
    max_rules: int = RULES_CAP
    max_itemsets: int = 200_000
    time_limit: float | None = None

    def __post_init__(self) -> None:
        checks: list[tuple[str, bool, str]] = [
            ("min_support", _in(self.min_support, 0.0, 1.0, low_open=True), "0 < x <= 1"),
            ("max_len", _int_in(self.max_len, 1, MAX_LEN_CAP), f"1..{MAX_LEN_CAP}"),
            ("min_confidence", _in(self.min_confidence, 0.0, 1.0), "0..1"),
            ("min_lift", _in(self.min_lift, 0.0, math.inf), ">= 0"),
            ("max_p", _in(self.max_p, 0.0, 1.0, low_open=True), "0 < x <= 1"),
            ("max_rules", _int_in(self.max_rules, 1, RULES_CAP), f"1..{RULES_CAP:,}"),
            ("max_itemsets", _int_in(self.max_itemsets, 1, ITEMSETS_CAP), f"1..{ITEMSETS_CAP:,}"),
            ("algorithm", self.algorithm in ALGORITHMS, ", ".join(ALGORITHMS)),
            ("engine", self.engine in ENGINES, ", ".join(ENGINES)),
            ("rank_by", self.rank_by in RANK_METRICS, ", ".join(RANK_METRICS)),
            ("correction", self.correction in CORRECTIONS, ", ".join(CORRECTIONS)),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise _bad(name, getattr(self, name), allowed)
        if not _int_in(self.min_len, 2, max(self.max_len, 2)):
            raise _bad("min_len", self.min_len, f"2..{max(self.max_len, 2)}")
        if self.min_count is not None and not _int_in(self.min_count, 1, 2**31):
            raise _bad("min_count", self.min_count, "a whole number >= 1")
        if self.time_limit is not None and not _in(self.time_limit, 0.0, math.inf, low_open=True):
            raise _bad("time_limit", self.time_limit, "> 0 seconds")
        for name in ("antecedent_items", "consequent_items", "exclude_items"):
            object.__setattr__(self, name, _as_items(getattr(self, name), name))
        object.__setattr__(self, "single_consequent", bool(self.single_consequent))
        object.__setattr__(self, "prune_redundant", bool(self.prune_redundant))


def _in(value: Any, low: float, high: float, low_open: bool = False) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number):
        return False
    value = float(value)
    if math.isnan(value):
        return False
    return (value > low if low_open else value >= low) and value <= high


def _int_in(value: Any, low: int, high: int) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        return False
    return low <= int(value) <= high


def min_count_for(min_support: float, n_baskets: int) -> int:
    """Smallest basket count whose share ``count / n`` reaches ``min_support`` in floating point,
    so the threshold is exactly mlxtend's (``0.006 * 9835`` needs 60 baskets, like arules)."""
    if n_baskets <= 0:
        return 1
    count = max(1, math.ceil(min_support * n_baskets))
    while count > 1 and (count - 1) / n_baskets >= min_support:
        count -= 1
    while count / n_baskets < min_support:
        count += 1
    return count


# ============================================================================================
# Baskets
# ============================================================================================


@dataclass(frozen=True, eq=False)
class Baskets:
    """Sparse baskets: ``matrix`` is a CSR bool matrix (baskets x items) over ``items``.

    Baskets with a single item stay in (they count in every support denominator);
    ``excluded_rows`` says how many transaction rows were left out and why.
    """

    matrix: sp.csr_matrix
    items: pd.Index
    params: BasketParams = field(default_factory=BasketParams)
    rows_used: int = 0
    excluded_rows: Mapping[str, int] = field(default_factory=dict)

    @property
    def n_baskets(self) -> int:
        """Number of baskets (rows), including one-item baskets."""
        return int(self.matrix.shape[0])

    @property
    def n_items(self) -> int:
        """Number of distinct items (columns)."""
        return int(self.matrix.shape[1])

    @property
    def item_counts(self) -> np.ndarray:
        """Baskets holding each item (aligned with ``items``)."""
        return np.asarray(self.matrix.getnnz(axis=0), dtype=np.int64)

    @property
    def basket_sizes(self) -> np.ndarray:
        """Distinct items per basket."""
        return np.diff(self.matrix.indptr).astype(np.int64)

    @property
    def single_item_baskets(self) -> int:
        """Baskets with exactly one item: no rule can come from them, but they count in support."""
        return int((self.basket_sizes == 1).sum())

    def info(self) -> dict[str, Any]:
        """JSON-ready counts for the page and the CLI."""
        sizes = self.basket_sizes
        return {
            "unit": self.params.unit,
            "level": self.params.level,
            "baskets": self.n_baskets,
            "items": self.n_items,
            "single_item_baskets": self.single_item_baskets,
            "mean_basket_size": round(float(sizes.mean()), 3) if sizes.size else 0.0,
            "max_basket_size": int(sizes.max()) if sizes.size else 0,
            "rows_used": int(self.rows_used),
            "excluded_rows": {k: int(v) for k, v in self.excluded_rows.items()},
        }


_UNIT_COLUMNS: dict[str, tuple[str, ...]] = {
    "order": ("order_id",),
    "customer_day": ("customer_id", "date"),
    "customer": ("customer_id",),
}


def _blank(values: pd.Series) -> np.ndarray:
    """Missing or empty-text cells."""
    mask = values.isna().to_numpy(dtype=bool, copy=True)
    if pd.api.types.is_string_dtype(values.dtype) or values.dtype == object:
        text = values.astype("str")
        mask |= (text.str.strip() == "").fillna(True).to_numpy(dtype=bool)
    return mask


def build_baskets(transactions: pd.DataFrame, params: BasketParams | None = None) -> Baskets:
    """Baskets from canonical transactions (see ``crm_core.tables``), as a sparse matrix.

    Returns and cancellations (``C`` invoices, negative quantity or amount) and zero-quantity
    rows are dropped first, then the date range, attribute filter and customer subset apply.
    """
    params = params or BasketParams()
    frame = transactions
    item_col = params.level
    needed = [item_col, *_UNIT_COLUMNS[params.unit]]
    if params.start is not None or params.end is not None:
        needed.append("date")
    if params.customers is not None:
        needed.append("customer_id")
    if params.attribute is not None and params.values:
        needed.append(params.attribute)
    missing = [c for c in dict.fromkeys(needed) if c not in frame.columns]
    if missing:
        raise DataRequirementError("baskets.error.missing_columns", columns=", ".join(missing))

    n_rows = len(frame)
    keep = np.ones(n_rows, dtype=bool)
    excluded: dict[str, int] = {}

    def drop(reason: str, mask: np.ndarray) -> None:
        newly = mask & keep
        excluded[reason] = excluded.get(reason, 0) + int(newly.sum())
        keep[newly] = False

    returns = cancellation_mask(frame).to_numpy(dtype=bool)
    if "quantity" in frame.columns and pd.api.types.is_numeric_dtype(frame["quantity"]):
        returns = returns | (frame["quantity"] == 0).fillna(False).to_numpy(dtype=bool)
    drop("returns", returns)
    if params.start is not None or params.end is not None:
        dates = pd.to_datetime(frame["date"], errors="coerce")
        inside = dates.notna().to_numpy(dtype=bool, copy=True)
        if params.start is not None:
            inside &= (dates >= params.start).fillna(False).to_numpy(dtype=bool)
        if params.end is not None:
            end = params.end
            if end == end.normalize():
                inside &= (dates < end + pd.Timedelta(days=1)).fillna(False).to_numpy(dtype=bool)
            else:
                inside &= (dates <= end).fillna(False).to_numpy(dtype=bool)
        drop("outside_dates", ~inside)
    if params.attribute is not None and params.values:
        column = frame[params.attribute]
        chosen = column.astype("str").isin(params.values).fillna(False).to_numpy(dtype=bool)
        drop("attribute_filter", ~chosen | column.isna().to_numpy())
    if params.customers is not None:
        ids = frame["customer_id"].astype("str")
        member = ids.isin(params.customers).fillna(False).to_numpy(dtype=bool)
        drop("customer_subset", ~member | frame["customer_id"].isna().to_numpy())
    blank = _blank(frame[item_col])
    for column in _UNIT_COLUMNS[params.unit]:
        blank = blank | (
            frame[column].isna().to_numpy(dtype=bool) if column == "date" else _blank(frame[column])
        )
    drop("missing_values", blank)

    rows = frame.loc[keep]
    if rows.empty:
        raise DataRequirementError(
            "baskets.error.no_baskets", hint="baskets.hint.widen_filters", rows=n_rows
        )
    item_codes, items = pd.factorize(rows[item_col].astype("str"), sort=True)
    basket_codes = _basket_codes(rows, params.unit)
    n_items = len(items)
    pairs = np.sort(basket_codes.astype(np.int64) * n_items + item_codes.astype(np.int64))
    if pairs.size:  # dedupe by sort (numpy's hash-based unique is ~10x slower here)
        pairs = pairs[np.concatenate(([True], pairs[1:] != pairs[:-1]))]
    row_of, col_of = np.divmod(pairs, n_items)
    n_baskets = int(basket_codes.max()) + 1
    indptr = np.zeros(n_baskets + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_of, minlength=n_baskets), out=indptr[1:])
    matrix = sp.csr_matrix(
        (np.ones(pairs.size, dtype=bool), col_of.astype(np.int32), indptr),
        shape=(n_baskets, n_items),
    )
    return Baskets(
        matrix=matrix,
        items=pd.Index(items, dtype="str"),
        params=params,
        rows_used=len(rows),
        excluded_rows={k: v for k, v in excluded.items() if v},
    )


def _basket_codes(rows: pd.DataFrame, unit: str) -> np.ndarray:
    """0-based basket number per row, in order of first appearance."""
    if unit == "order":
        codes, _ = pd.factorize(rows["order_id"].astype("str"))
        return codes
    customers, _ = pd.factorize(rows["customer_id"].astype("str"))
    if unit == "customer":
        return customers
    days = pd.to_datetime(rows["date"]).to_numpy().astype("datetime64[D]").astype(np.int64)
    span = int(days.max() - days.min()) + 1
    codes, _ = pd.factorize(customers.astype(np.int64) * span + (days - days.min()))
    return codes


def baskets_from_onehot(frame: pd.DataFrame) -> Baskets:
    """Baskets from a one-hot table (rows = baskets, columns = items, values 0/1 or bool).

    Any other value (2, 0.5, NaN, text) is rejected with the offending columns named, since a
    quantity table read as one-hot would silently give wrong supports.
    """
    if frame.shape[1] == 0:
        raise InputError("baskets.error.not_binary", columns="-")
    bad: list[str] = []
    parts: list[sp.csc_matrix] = []
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.SparseDtype):
            array = column.array
            values = pd.Series(array.sp_values)
            ok = _binary(values) and _binary(pd.Series([array.fill_value]))
            if ok and not bool(array.fill_value):
                rows = array.sp_index.indices[values.to_numpy(dtype=bool)]
                part = sp.csc_matrix(
                    (np.ones(rows.size, dtype=bool), (rows, np.zeros(rows.size, dtype=np.int64))),
                    shape=(len(column), 1),
                )
            elif ok:
                part = sp.csc_matrix(column.to_numpy(dtype=bool).reshape(-1, 1))
        else:
            ok = _binary(column)
            if ok:
                part = sp.csc_matrix(column.to_numpy(dtype=bool).reshape(-1, 1))
        if not ok:
            bad.append(str(name))
        else:
            parts.append(part)
    if bad:
        raise InputError("baskets.error.not_binary", columns=", ".join(bad[:5]))
    matrix = sp.hstack(parts, format="csr").astype(bool) if parts else sp.csr_matrix(frame.shape)
    matrix.eliminate_zeros()
    matrix.sort_indices()
    return Baskets(
        matrix=matrix,
        items=pd.Index([str(c) for c in frame.columns], dtype="str"),
        params=BasketParams(),
        rows_used=len(frame),
    )


def _binary(column: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(column.dtype):
        return not column.isna().any()
    if not pd.api.types.is_numeric_dtype(column.dtype):
        return False
    values = column.to_numpy(dtype=float, na_value=np.nan)
    return bool(np.isin(values, (0.0, 1.0)).all())


_TRANSACTION_COLUMNS = frozenset({"order_id", "customer_id", "item", "category", "date"})


def _as_baskets(data: Any, params: BasketParams | None) -> Baskets:
    if isinstance(data, Baskets):
        return data
    if not isinstance(data, pd.DataFrame):
        raise InputError("baskets.error.not_a_table")
    if _TRANSACTION_COLUMNS & set(map(str, data.columns)):
        return build_baskets(data, params)
    return baskets_from_onehot(data)


# ============================================================================================
# Explosion estimate
# ============================================================================================


@dataclass(frozen=True)
class Explosion:
    """How many frequent itemsets settings are likely to give, before mining.

    ``estimated`` per length: exact for 1 and 2 items (pair counts from one sparse product), the
    number of triangles among frequent pairs for 3 (Apriori's candidates: an upper bound), then
    growing by the same pairs-to-triples ratio. Each is capped by ``upper_bound``, a true bound:
    a frequent k-itemset needs ``min_count`` baskets, and a basket with f frequent items holds
    C(f, k) of them. Cheap (well under a second on a million baskets), so pages can call it on
    every settings change.
    """

    min_count: int
    frequent_items: int
    frequent_pairs: int | None
    estimated: dict[int, int]
    upper_bound: dict[int, int]
    total: int
    warn: bool
    notes: tuple[Problem, ...] = ()


def estimate_explosion(
    baskets: Baskets,
    min_support: float = 0.01,
    max_len: int = 4,
    *,
    min_count: int | None = None,
) -> Explosion:
    """Estimated frequent itemsets per length, and a warning when settings would explode."""
    if not _int_in(max_len, 1, MAX_LEN_CAP):
        raise _bad("max_len", max_len, f"1..{MAX_LEN_CAP}")
    n = baskets.n_baskets
    if min_count is None:
        if not _in(min_support, 0.0, 1.0, low_open=True):
            raise _bad("min_support", min_support, "0 < x <= 1")
        min_count = min_count_for(float(min_support), n)
    counts = baskets.item_counts
    frequent = np.flatnonzero(counts >= min_count)
    f1 = int(frequent.size)
    estimated: dict[int, int] = {1: f1}
    bound: dict[int, int] = {1: f1}
    pairs: int | None = None
    if max_len >= 2 and f1 >= 2:
        sub = baskets.matrix[:, frequent]
        lengths = np.diff(sub.indptr).astype(np.float64)
        for k in range(2, max_len + 1):
            bound[k] = int(comb(lengths, k).sum() // min_count)
        graph: sp.csr_matrix | None = None
        if float((lengths * lengths).sum()) <= 2e8:
            product = (sub.T.astype(np.int32) @ sub.astype(np.int32)).tocsr()
            product.setdiag(0)
            graph = (product >= min_count).astype(np.int64).tocsr()
            pairs = int(graph.nnz // 2)
        estimated[2] = pairs if pairs is not None else min(bound[2], int(comb(f1, 2)))
        if max_len >= 3:
            if graph is not None and pairs is not None and pairs <= 200_000:
                triangles = float((graph @ graph).multiply(graph).sum() / 6)
            else:
                density = estimated[2] / comb(f1, 2)
                triangles = float(comb(f1, 3) * density**3)
            estimated[3] = int(min(triangles, bound[3]))
            growth = estimated[3] / max(estimated[2], 1)
            for k in range(4, max_len + 1):
                estimated[k] = int(min(estimated[k - 1] * growth, bound[k]))
    total = int(sum(estimated.values()))
    warn = total > EXPLOSION_WARN
    notes: tuple[Problem, ...] = ()
    if warn:
        notes = (
            Problem(
                "warning",
                "baskets.note.explosion",
                {"count": total, "support": _pct(min_count / max(n, 1)), "max_len": max_len},
            ),
        )
    return Explosion(min_count, f1, pairs, estimated, bound, total, warn, notes)


# ============================================================================================
# Mining
# ============================================================================================


@dataclass
class _Mined:
    """Frequent itemsets per length: sorted item-index rows and their basket counts."""

    levels: list[tuple[np.ndarray, np.ndarray]]
    engine: str
    truncated: str | None = None  # why mining stopped early: stopped, time, itemsets, memory
    at_length: int = 0


class _Checker:
    """Cooperative stop + time limit + throttled progress, shared by every mining step."""

    def __init__(self, should_stop: ShouldStop, progress: Progress, limit: float | None) -> None:
        self.should_stop = should_stop
        self.progress = progress
        self.deadline = time.monotonic() + limit if limit else None
        self.last = -1.0

    def stop_reason(self) -> str | None:
        if self.should_stop is not None and self.should_stop():
            return "stopped"
        if self.deadline is not None and time.monotonic() > self.deadline:
            return "time"
        return None

    def report(self, fraction: float) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        if self.progress is not None and (fraction >= 1.0 or fraction - self.last >= 0.01):
            self.last = fraction
            self.progress(fraction)


def _sorted_level(sets: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows sorted inside (item order) and across (lexicographic), for determinism."""
    sets = np.sort(sets, axis=1)
    order = np.lexsort(sets.T[::-1]) if sets.size else np.arange(0)
    return np.ascontiguousarray(sets[order]), np.asarray(counts, dtype=np.int64)[order]


def _mine_native(
    matrix: sp.csr_matrix, min_count: int, max_len: int, max_itemsets: int, checker: _Checker
) -> _Mined:
    """Level-wise Eclat over CSR rows: each frequent (k-1)-itemset keeps its basket ids; the
    items of those baskets that rank after its last item are counted in one ``bincount``.

    Items are ranked by ascending count (fewer, shorter tid lists deeper down). Every level is
    complete unless a cap or a stop cuts it, and then only the last level is partial.
    """
    n, m = matrix.shape
    counts = np.asarray(matrix.getnnz(axis=0), dtype=np.int64)
    frequent = np.flatnonzero(counts >= min_count)
    mined = _Mined([], "native")
    if frequent.size == 0:
        return mined
    mined.levels.append((frequent[:, None].astype(np.int64), counts[frequent]))
    mined.at_length = 1
    if frequent.size > max_itemsets:
        mined.truncated = "itemsets"
        return mined
    if max_len < 2 or frequent.size < 2:
        return mined
    order = frequent[np.lexsort((frequent, counts[frequent]))]  # rank -> item
    rank = np.full(m, -1, dtype=np.int64)
    rank[order] = np.arange(order.size)
    f = int(order.size)
    # Y: baskets x ranked frequent items, column indices sorted inside each row.
    ranked = rank[matrix.indices]
    keep = ranked >= 0
    row_of = np.repeat(np.arange(n, dtype=np.int64), np.diff(matrix.indptr))[keep]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(row_of, minlength=n), out=indptr[1:])
    y = sp.csr_matrix(
        (np.ones(int(keep.sum()), dtype=bool), ranked[keep].astype(np.int32), indptr), shape=(n, f)
    )
    y.has_sorted_indices = False
    y.sort_indices()
    yc = y.tocsc()
    yc.sort_indices()
    y_ptr, y_idx = y.indptr, y.indices

    total = int(frequent.size)
    node_sets: np.ndarray = np.arange(f, dtype=np.int64)[:, None]
    node_tids: list[np.ndarray] | None = None  # None: level-1 tids come from yc
    k = 1
    while k < max_len and node_sets.shape[0]:
        need_tids = k + 1 < max_len
        new_sets: list[np.ndarray] = []
        new_counts: list[np.ndarray] = []
        new_tids: list[np.ndarray] = []
        held = 0
        found_here = 0
        n_nodes = node_sets.shape[0]
        stop: str | None = None
        # Nodes sharing a parent Q are contiguous; their extensions can only be items of ext(Q),
        # so from level 2 on the rows are read from Q's projection onto ext(Q), built from the
        # siblings' own basket ids: far shorter rows than the full baskets.
        group_end = 0
        src_ptr, src_idx, src_rows = y_ptr, y_idx, None
        for position in range(n_nodes):
            if position % _CHECK_EVERY == 0:
                stop = checker.stop_reason()
                if stop:
                    break
                checker.report((k - 1 + position / n_nodes) / (max_len - 1))
            prefix = node_sets[position]
            if node_tids is None:
                tids = yc.indices[yc.indptr[prefix[0]] : yc.indptr[prefix[0] + 1]]
            else:
                tids = node_tids[position]
                if position >= group_end:
                    group_end = _group_end(node_sets, position)
                    src_ptr, src_idx, src_rows = _projection(
                        node_sets[position:group_end, -1], node_tids[position:group_end]
                    )
            if tids.size < min_count:
                continue
            last = int(prefix[-1])
            where = tids if src_rows is None else np.searchsorted(src_rows, tids)
            starts = src_ptr[where]
            lengths = src_ptr[where + 1] - starts
            size = int(lengths.sum())
            if size == 0:
                continue
            offsets = np.cumsum(lengths) - lengths
            cols = src_idx[np.repeat(starts - offsets, lengths) + np.arange(size)]
            after = cols > last
            cols = cols[after].astype(np.int64) - (last + 1)
            if cols.size < min_count:
                continue
            found = np.bincount(cols)
            ext = np.flatnonzero(found >= min_count)
            if ext.size == 0:
                continue
            room = max_itemsets - total - found_here
            if ext.size > room:
                ext = ext[:room]
                stop = "itemsets"
            if ext.size:
                block = np.empty((ext.size, k + 1), dtype=np.int64)
                block[:, :k] = prefix
                block[:, k] = ext + last + 1
                new_sets.append(block)
                new_counts.append(found[ext])
                found_here += int(ext.size)
            if need_tids and ext.size and stop is None:
                local = np.repeat(np.arange(tids.size, dtype=np.int64), lengths)[after]
                wanted = np.zeros(found.size, dtype=bool)
                wanted[ext] = True
                chosen = wanted[cols]
                picked_cols, picked_rows = cols[chosen], local[chosen]
                by_col = np.argsort(picked_cols, kind="stable")
                parts = np.split(tids[picked_rows[by_col]], np.cumsum(found[ext])[:-1])
                held += int(found[ext].sum())
                if held > TIDS_BUDGET:
                    need_tids = False
                    new_tids = []
                    stop = stop or "memory_next"
                else:
                    new_tids.extend(parts)
            if stop == "itemsets":
                break
        if new_sets:
            sets = np.concatenate(new_sets)
            found_counts = np.concatenate(new_counts)
            mined.levels.append((sets, found_counts))
            mined.at_length = k + 1
            total += int(found_counts.size)
        if stop == "memory_next":
            mined.truncated = "memory"
            break
        if stop:
            mined.truncated = stop
            break
        if not new_sets:
            break
        node_sets = mined.levels[-1][0]
        node_tids = new_tids
        k += 1
    # ranks back to item indices, rows sorted
    out = [mined.levels[0]]
    for sets, found_counts in mined.levels[1:]:
        out.append(_sorted_level(order[sets], found_counts))
    mined.levels = [_sorted_level(*out[0]), *out[1:]]
    return mined


def _group_end(node_sets: np.ndarray, start: int) -> int:
    """End of the run of nodes that share ``node_sets[start]``'s prefix (all but the last item)."""
    prefix = node_sets[start, :-1]
    end = start + 1
    step = 64
    while end < node_sets.shape[0]:
        chunk = node_sets[end : end + step, :-1]
        same = (chunk == prefix).all(axis=1)
        if not same.all():
            return end + int(np.argmin(same))
        end += chunk.shape[0]
        step *= 2
    return end


def _projection(
    items: np.ndarray, tids: list[np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR of the baskets of a parent itemset Q over its frequent extensions ``items``, from the
    basket ids of each Q + item: (row pointers, item per entry, sorted basket id per row)."""
    rows = np.concatenate(tids).astype(np.int64)
    cols = np.repeat(items.astype(np.int32), [t.size for t in tids])
    order = np.argsort(rows, kind="stable")  # items stay ascending inside each basket
    rows, cols = rows[order], cols[order]
    first = np.concatenate(([True], rows[1:] != rows[:-1])) if rows.size else np.zeros(0, bool)
    starts = np.flatnonzero(first)
    ptr = np.append(starts, rows.size).astype(np.int64)
    return ptr, cols, rows[starts]


def _mlxtend_functions() -> tuple[Any, Any]:
    """mlxtend's miners, imported lazily; its import calls ``warnings.simplefilter("always",
    DeprecationWarning)``, so the import runs inside ``catch_warnings`` to keep our filters."""
    with warnings.catch_warnings():
        from mlxtend.frequent_patterns import apriori, fpgrowth
    return apriori, fpgrowth


def _mine_mlxtend(
    matrix: sp.csr_matrix, min_count: int, max_len: int, algorithm: str, max_itemsets: int
) -> _Mined:
    """mlxtend FP-Growth or Apriori on a sparse DataFrame of the frequent items only."""
    n = matrix.shape[0]
    counts = np.asarray(matrix.getnnz(axis=0), dtype=np.int64)
    frequent = np.flatnonzero(counts >= min_count)
    mined = _Mined([], f"mlxtend-{algorithm}")
    if frequent.size == 0:
        return mined
    sub = matrix[:, frequent].tocsc()
    frame = pd.DataFrame.sparse.from_spmatrix(sub, columns=[str(i) for i in range(sub.shape[1])])
    apriori, fpgrowth = _mlxtend_functions()
    miner = fpgrowth if algorithm == "fpgrowth" else apriori
    found = miner(frame, min_support=min_count / n, use_colnames=False, max_len=max_len)
    by_len: dict[int, tuple[list[list[int]], list[int]]] = {}
    for support, itemset in zip(found["support"], found["itemsets"], strict=True):
        sets, cnts = by_len.setdefault(len(itemset), ([], []))
        sets.append(sorted(int(frequent[i]) for i in itemset))
        cnts.append(round(float(support) * n))
    total = 0
    for length in sorted(by_len):
        sets, cnts = by_len[length]
        level = _sorted_level(np.array(sets, dtype=np.int64), np.array(cnts, dtype=np.int64))
        if total + len(level[1]) > max_itemsets:
            room = max_itemsets - total
            mined.levels.append((level[0][:room], level[1][:room]))
            mined.truncated = "itemsets"
            mined.at_length = length
            break
        mined.levels.append(level)
        mined.at_length = length
        total += len(level[1])
    return mined


# ============================================================================================
# Rules
# ============================================================================================


class _Lookup:
    """Counts of equal-length itemsets found by value, vectorised: rows are encoded to int64
    keys (mixed radix over the item count) and binary-searched; too-wide rows use a MultiIndex."""

    def __init__(self, sets: np.ndarray, values: np.ndarray, radix: int) -> None:
        self.radix = max(int(radix), 2)
        self.width = sets.shape[1]
        self.encoded = self.radix**self.width < 2**62
        if self.encoded:
            keys = self._encode(sets)
            order = np.argsort(keys, kind="stable")
            self.keys = keys[order]
            self.values = np.asarray(values)[order]
        else:
            self.index = pd.MultiIndex.from_arrays(list(sets.T))
            self.values = np.asarray(values)

    def _encode(self, sets: np.ndarray) -> np.ndarray:
        keys = np.zeros(sets.shape[0], dtype=np.int64)
        for j in range(sets.shape[1]):
            keys = keys * self.radix + sets[:, j]
        return keys

    def get(self, query: np.ndarray, missing: Any = -1) -> np.ndarray:
        """Value per query row; ``missing`` where a row is absent."""
        if query.shape[0] == 0 or self.values.size == 0:
            return np.full(query.shape[0], missing, dtype=self.values.dtype)
        if self.encoded:
            keys = self._encode(query)
            pos = np.minimum(np.searchsorted(self.keys, keys), self.keys.size - 1)
            hit = self.keys[pos] == keys
        else:
            pos = self.index.get_indexer(pd.MultiIndex.from_arrays(list(query.T)))
            hit = pos >= 0
        return np.where(hit, self.values[np.where(hit, pos, 0)], missing)


@dataclass
class _Block:
    """Candidate rules with ``a`` antecedent and ``c`` consequent items."""

    ante: np.ndarray
    cons: np.ndarray
    n_ac: np.ndarray
    n_a: np.ndarray
    n_c: np.ndarray

    def take(self, mask: np.ndarray) -> _Block:
        return _Block(
            self.ante[mask], self.cons[mask], self.n_ac[mask], self.n_a[mask], self.n_c[mask]
        )


def _candidates(
    levels: list[tuple[np.ndarray, np.ndarray]],
    n_items: int,
    min_len: int,
    single: bool,
) -> tuple[dict[tuple[int, int], _Block], bool]:
    """Every rule A -> C from each frequent itemset (of at least ``min_len`` items) with exact
    counts of A, C and A+C looked up from lower levels (all subsets of a kept itemset are kept)."""
    lookups = {sets.shape[1]: _Lookup(sets, cnts, n_items) for sets, cnts in levels}
    blocks: dict[tuple[int, int], list[_Block]] = {}
    generated = 0
    truncated = False
    for sets, cnts in levels:
        k = sets.shape[1]
        if k < max(min_len, 2) or sets.shape[0] == 0:
            continue
        for c in range(1, 2 if single else k):
            for positions in itertools.combinations(range(k), c):
                if generated + sets.shape[0] > CANDIDATES_CAP:
                    truncated = True
                    break
                rest = [p for p in range(k) if p not in positions]
                cons = sets[:, list(positions)]
                ante = sets[:, rest]
                block = _Block(ante, cons, cnts, lookups[k - c].get(ante), lookups[c].get(cons))
                blocks.setdefault((k - c, c), []).append(block)
                generated += sets.shape[0]
    merged = {
        key: _Block(
            np.concatenate([b.ante for b in parts]),
            np.concatenate([b.cons for b in parts]),
            np.concatenate([b.n_ac for b in parts]),
            np.concatenate([b.n_a for b in parts]),
            np.concatenate([b.n_c for b in parts]),
        )
        for key, parts in sorted(blocks.items())
    }
    return merged, truncated


def _log_choose(n: np.ndarray, k: np.ndarray) -> np.ndarray:
    return gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)


def _tail(
    start: np.ndarray, a: np.ndarray, c: np.ndarray, n: float, stop: np.ndarray, upward: bool
) -> np.ndarray:
    """Sum of pmf(x) / pmf(start) from ``start`` towards ``stop``, by the exact term ratio;
    terms shrink geometrically away from the mode, so a few dozen steps reach 1e-17."""
    x = start.copy()
    term = np.ones(x.size)
    total = np.ones(x.size)
    active = np.flatnonzero(x < stop) if upward else np.flatnonzero(x > stop)
    while active.size:
        xa, aa, cc = x[active], a[active], c[active]
        if upward:
            ratio = (aa - xa) * (cc - xa) / ((xa + 1.0) * (n - aa - cc + xa + 1.0))
            x[active] += 1.0
        else:
            ratio = xa * (n - aa - cc + xa) / ((aa - xa + 1.0) * (cc - xa + 1.0))
            x[active] -= 1.0
        term[active] *= ratio
        total[active] += term[active]
        more = x[active] < stop[active] if upward else x[active] > stop[active]
        active = active[more & (term[active] > 1e-17 * total[active])]
    return total


def fisher_pvalues(
    n_ac: np.ndarray, n_a: np.ndarray, n_c: np.ndarray, n_baskets: int
) -> np.ndarray:
    """One-sided ('greater') Fisher exact test that A and C co-occur more than by chance.

    The value of ``scipy.stats.fisher_exact([[n_ac, n_a - n_ac], [n_c - n_ac, rest]],
    alternative="greater")`` (a hypergeometric upper tail), vectorised: scipy's own tail takes
    ~50 us per rule at 20,000 baskets, this sums the tail by term ratios from the log pmf and
    agrees to ~1e-9 relative (tested). Below the mode it sums the short lower tail instead.
    """
    k, a, c = np.broadcast_arrays(
        np.asarray(n_ac, dtype=np.float64),
        np.asarray(n_a, dtype=np.float64),
        np.asarray(n_c, dtype=np.float64),
    )
    n = float(n_baskets)
    low = np.maximum(0.0, a + c - n)
    high = np.minimum(a, c)
    mode = np.floor((a + 1.0) * (c + 1.0) / (n + 2.0))
    p = np.ones(k.shape, dtype=np.float64)
    p[k > high] = 0.0
    up = np.flatnonzero((k > mode) & (k <= high))
    if up.size:
        ku, au, cu = k[up], a[up], c[up]
        log_pmf = _log_choose(cu, ku) + _log_choose(n - cu, au - ku) - _log_choose(n, au)
        p[up] = np.exp(log_pmf) * _tail(ku, au, cu, n, high[up], upward=True)
    down = np.flatnonzero((k <= mode) & (k > low) & (k <= high))
    if down.size:
        kd, ad, cd = k[down] - 1.0, a[down], c[down]
        log_pmf = _log_choose(cd, kd) + _log_choose(n - cd, ad - kd) - _log_choose(n, ad)
        p[down] = 1.0 - np.exp(log_pmf) * _tail(kd, ad, cd, n, low[down], upward=False)
    return p.clip(0.0, 1.0)


def adjust_pvalues(pvalues: np.ndarray, method: str = "fdr_bh") -> np.ndarray:
    """Benjamini-Hochberg (``fdr_bh``) or Holm adjusted p-values; ``none`` returns a copy."""
    p = np.asarray(pvalues, dtype=np.float64)
    if method not in CORRECTIONS:
        raise _bad("correction", method, ", ".join(CORRECTIONS))
    m = p.size
    if m == 0 or method == "none":
        return p.copy()
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    if method == "fdr_bh":
        scaled = ranked * m / np.arange(1, m + 1)
        adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    else:
        scaled = ranked * (m - np.arange(m))
        adjusted = np.maximum.accumulate(scaled)
    out = np.empty(m, dtype=np.float64)
    out[order] = np.minimum(adjusted, 1.0)
    return out


def _metrics(block: _Block, n: int) -> dict[str, np.ndarray]:
    """mlxtend's rule metrics from counts (conviction inf at confidence 1, Zhang 0 on 0/0)."""
    s_ac = block.n_ac / n
    s_a = block.n_a / n
    s_c = block.n_c / n
    confidence = block.n_ac / block.n_a
    lift = confidence / s_c
    leverage = s_ac - s_a * s_c
    with np.errstate(divide="ignore", invalid="ignore"):
        conviction = np.where(confidence < 1.0, (1.0 - s_c) / (1.0 - confidence), np.inf)
        denominator = np.maximum(s_ac * (1.0 - s_a), s_a * (s_c - s_ac))
        zhang = np.where(denominator == 0, 0.0, leverage / denominator)
    return {
        "support": s_ac,
        "confidence": confidence,
        "lift": lift,
        "leverage": leverage,
        "conviction": conviction,
        "zhangs_metric": zhang,
        "antecedent_support": s_a,
        "consequent_support": s_c,
    }


def _contains_all(sets: np.ndarray, required: np.ndarray) -> np.ndarray:
    mask = np.ones(sets.shape[0], dtype=bool)
    for item in required:
        mask &= (sets == item).any(axis=1)
    return mask


def _redundant(blocks: dict[tuple[int, int], _Block], conf: dict[tuple[int, int], np.ndarray]):
    """Per block, rules with a more general rule (same consequent, antecedent a proper subset)
    of at least the same confidence in the set (arules' ``is.redundant``)."""
    lookups = {
        key: _Lookup(np.hstack([b.ante, b.cons]), conf[key], _radix(blocks))
        for key, b in blocks.items()
        if b.ante.shape[0]
    }
    out: dict[tuple[int, int], np.ndarray] = {}
    for (a, c), block in blocks.items():
        best = np.full(block.ante.shape[0], -np.inf)
        for s in range(1, a):
            general = lookups.get((s, c))
            if general is None:
                continue
            for positions in itertools.combinations(range(a), s):
                query = np.hstack([block.ante[:, list(positions)], block.cons])
                best = np.maximum(best, general.get(query, missing=-np.inf))
        out[(a, c)] = best >= conf[(a, c)]
    return out


def _radix(blocks: dict[tuple[int, int], _Block]) -> int:
    top = 1
    for b in blocks.values():
        if b.ante.size:
            top = max(top, int(b.ante.max()) + 1, int(b.cons.max()) + 1)
    return top


# ============================================================================================
# Result
# ============================================================================================


@dataclass
class RulesResult:
    """Itemsets, rules and the notes a page shows beside them.

    ``rules`` has :data:`RULE_COLUMNS`: readable ``antecedent``/``consequent`` strings (items
    joined with ", ") for display and export, and tuple columns ``antecedent_items`` /
    ``consequent_items`` for code. ``truncated`` is True when a cap, the time limit or a stop cut
    the result short (every rule shown still has exact metrics).
    """

    itemsets: pd.DataFrame
    rules: pd.DataFrame
    item_frequency: pd.DataFrame
    baskets: dict[str, Any]
    notes: list[Problem] = field(default_factory=list)
    truncated: bool = False
    stopped: bool = False
    engine: str = ""
    min_count: int = 0
    tests: int = 0
    rule_params: RuleParams = field(default_factory=RuleParams)
    basket_params: BasketParams = field(default_factory=BasketParams)

    @property
    def empty(self) -> bool:
        """No rules."""
        return self.rules.empty

    @property
    def n_baskets(self) -> int:
        """Baskets behind every support."""
        return int(self.baskets.get("baskets", 0))

    def messages(self, lang: str = "en") -> list[str]:
        """The notes as translated sentences."""
        return [note.message(lang) for note in self.notes]


def _empty_rules() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in RULE_COLUMNS})
    for column in ("antecedent", "consequent"):
        frame[column] = pd.Series(dtype="str")
    for column in ("antecedent_items", "consequent_items"):
        frame[column] = pd.Series(dtype="object")
    for column in ("length", "count", "antecedent_count", "consequent_count"):
        frame[column] = pd.Series(dtype="int64")
    return frame


def _empty_itemsets() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "itemset": pd.Series(dtype="str"),
            "items": pd.Series(dtype="object"),
            "length": pd.Series(dtype="int64"),
            "count": pd.Series(dtype="int64"),
            "support": pd.Series(dtype="float64"),
        }
    )


def _names(sets: np.ndarray, items: np.ndarray) -> list[tuple[str, ...]]:
    named = items[sets]
    return [tuple(row) for row in named.tolist()]


def _pct(share: float) -> str:
    if share >= 0.1:
        return f"{share:.0%}"
    if share >= 0.01:
        return f"{share:.1%}"
    return f"{share:.2%}"


def _item_frequency(baskets: Baskets) -> pd.DataFrame:
    counts = baskets.item_counts
    frame = pd.DataFrame(
        {
            "item": pd.Series(baskets.items, dtype="str"),
            "count": counts,
            "support": counts / max(baskets.n_baskets, 1),
        }
    )
    order = np.lexsort((np.arange(len(frame)), -counts))
    return frame.iloc[order].reset_index(drop=True)


def run_rules(
    data: pd.DataFrame | Baskets,
    basket_params: BasketParams | None = None,
    rule_params: RuleParams | None = None,
    *,
    should_stop: ShouldStop = None,
    progress: Progress = None,
) -> RulesResult:
    """Frequent itemsets and association rules for transactions, baskets or a one-hot table.

    Never raises for "nothing found": an empty result carries a note instead. ``should_stop``
    is polled between mining steps; a stop (or ``time_limit``) returns what was found so far
    with ``truncated`` and ``stopped`` set.
    """
    rp = rule_params or RuleParams()
    checker = _Checker(should_stop, progress, rp.time_limit)
    baskets = _as_baskets(data, basket_params)
    bp = baskets.params
    n = baskets.n_baskets
    info = baskets.info()
    notes: list[Problem] = []
    frequency = _item_frequency(baskets)
    if baskets.single_item_baskets:
        notes.append(
            Problem(
                "info",
                "baskets.note.single_item_baskets",
                {"count": baskets.single_item_baskets, "baskets": f"{n:,}"},
            )
        )

    names = np.asarray(baskets.items, dtype=object)
    keep_cols = ~np.isin(names.astype(str), rp.exclude_items) if rp.exclude_items else None
    matrix = baskets.matrix
    if keep_cols is not None and not keep_cols.all():
        matrix = matrix[:, np.flatnonzero(keep_cols)]
        names = names[keep_cols]
    unknown = [i for i in (*rp.antecedent_items, *rp.consequent_items) if i not in set(names)]
    min_count = rp.min_count if rp.min_count is not None else min_count_for(rp.min_support, n)

    def result(
        itemsets: pd.DataFrame, rules: pd.DataFrame, truncated: bool, stopped: bool, engine: str
    ) -> RulesResult:
        checker.report(1.0)
        return RulesResult(
            itemsets=itemsets,
            rules=rules,
            item_frequency=frequency,
            baskets=info,
            notes=notes,
            truncated=truncated,
            stopped=stopped,
            engine=engine,
            min_count=min_count,
            tests=tests,
            rule_params=rp,
            basket_params=bp,
        )

    tests = 0
    if min_count > n:
        notes.append(_no_itemsets(min_count, n, frequency))
        return result(_empty_itemsets(), _empty_rules(), False, False, "")
    stop = checker.stop_reason()
    if stop:
        notes.append(Problem("warning", f"baskets.note.{stop}", {"length": 0}))
        return result(_empty_itemsets(), _empty_rules(), True, True, "")

    engine = _choose_engine(rp, matrix, min_count)
    if engine == "native":
        mined = _mine_native(matrix, min_count, rp.max_len, rp.max_itemsets, checker)
    else:
        mined = _mine_mlxtend(matrix, min_count, rp.max_len, rp.algorithm, rp.max_itemsets)
    truncated = mined.truncated is not None
    stopped = mined.truncated in ("stopped", "time")
    if truncated:
        notes.append(
            Problem("warning", f"baskets.note.{mined.truncated}", {"length": mined.at_length})
        )
    itemsets = _itemsets_frame(mined.levels, names, n)
    longest = max((sets.shape[1] for sets, _ in mined.levels), default=0)
    if longest < max(rp.min_len, 2):
        at_len = max(rp.min_len, 2) if mined.levels else None
        notes.append(_no_itemsets(min_count, n, frequency, at_len=at_len))
        return result(itemsets, _empty_rules(), truncated, stopped, mined.engine)

    blocks, cut = _candidates(mined.levels, len(names), rp.min_len, rp.single_consequent)
    if cut:
        truncated = True
        notes.append(Problem("warning", "baskets.note.candidates", {"count": CANDIDATES_CAP}))
    if unknown:
        notes.append(
            Problem("warning", "baskets.note.unknown_items", {"items": _JOIN.join(unknown)})
        )
    index_of = {name: i for i, name in enumerate(names.tolist())}
    need_a = np.array([index_of.get(i, -1) for i in rp.antecedent_items], dtype=np.int64)
    need_c = np.array([index_of.get(i, -1) for i in rp.consequent_items], dtype=np.int64)

    kept: dict[tuple[int, int], _Block] = {}
    metrics: dict[tuple[int, int], dict[str, np.ndarray]] = {}
    for key, block in blocks.items():
        mask = _contains_all(block.ante, need_a) & _contains_all(block.cons, need_c)
        block = block.take(mask)
        values = _metrics(block, n)
        ok = (values["confidence"] >= rp.min_confidence) & (values["lift"] >= rp.min_lift)
        if ok.any():
            kept[key] = block.take(ok)
            metrics[key] = {name: v[ok] for name, v in values.items()}
    keys = list(kept)
    tests = int(sum(kept[k].n_ac.size for k in keys))
    if tests:
        pvals = fisher_pvalues(
            np.concatenate([kept[k].n_ac for k in keys]),
            np.concatenate([kept[k].n_a for k in keys]),
            np.concatenate([kept[k].n_c for k in keys]),
            n,
        )
        adjusted = adjust_pvalues(pvals, rp.correction)
        start = 0
        for key in keys:
            size = kept[key].n_ac.size
            metrics[key]["p_value"] = pvals[start : start + size]
            metrics[key]["p_adjusted"] = adjusted[start : start + size]
            start += size
    if rp.max_p < 1.0:
        for key in keys:
            ok = metrics[key]["p_adjusted"] <= rp.max_p
            kept[key] = kept[key].take(ok)
            metrics[key] = {name: v[ok] for name, v in metrics[key].items()}
    if rp.prune_redundant and kept:
        redundant = _redundant(kept, {k: metrics[k]["confidence"] for k in keys})
        pruned = int(sum(r.sum() for r in redundant.values()))
        for key in keys:
            ok = ~redundant[key]
            kept[key] = kept[key].take(ok)
            metrics[key] = {name: v[ok] for name, v in metrics[key].items()}
        if pruned:
            notes.append(Problem("info", "baskets.note.pruned", {"count": pruned}))

    rules, total = _rules_frame(kept, metrics, names, rp)
    if total > rp.max_rules:
        notes.append(
            Problem("warning", "baskets.note.rules_cap", {"count": total, "cap": rp.max_rules})
        )
        truncated = True
    if rules.empty:
        notes.append(Problem("info", "baskets.note.no_rules", {}))
    return result(itemsets, rules, truncated, stopped, mined.engine)


def _choose_engine(rp: RuleParams, matrix: sp.csr_matrix, min_count: int) -> str:
    """The native miner unless mlxtend is asked for (or small inputs are routed to it)."""
    n = matrix.shape[0]
    frequent = int((np.asarray(matrix.getnnz(axis=0)) >= min_count).sum())
    cells = n * frequent
    if rp.engine == "mlxtend":
        if cells > MLXTEND_MAX_CELLS:
            raise ParameterError(
                "baskets.error.too_large_for_mlxtend",
                hint="baskets.hint.engine_auto",
                cells=f"{cells:,}",
            )
        return "mlxtend"
    if rp.engine == "native" or AUTO_MLXTEND_CELLS == 0 or cells > AUTO_MLXTEND_CELLS:
        return "native"
    sub = Baskets(matrix=matrix, items=pd.RangeIndex(matrix.shape[1]).astype("str"))
    estimate = estimate_explosion(sub, max_len=rp.max_len, min_count=min_count)
    return "native" if estimate.total > 20_000 else "mlxtend"


def _no_itemsets(
    min_count: int, n: int, frequency: pd.DataFrame, at_len: int | None = None
) -> Problem:
    top = frequency.iloc[0] if len(frequency) else None
    return Problem(
        "info",
        "baskets.note.no_itemsets" if at_len is None else "baskets.note.no_itemsets_len",
        {
            "support": _pct(min_count / max(n, 1)),
            "min_count": min_count,
            "length": at_len or 1,
            "top_item": str(top["item"]) if top is not None else "-",
            "top_support": _pct(float(top["support"])) if top is not None else "0%",
        },
    )


def _itemsets_frame(
    levels: list[tuple[np.ndarray, np.ndarray]], names: np.ndarray, n: int
) -> pd.DataFrame:
    if not levels:
        return _empty_itemsets()
    parts = []
    for sets, cnts in levels:
        items = _names(sets, names)
        order = np.lexsort((np.arange(len(cnts)), -cnts))
        parts.append(
            pd.DataFrame(
                {
                    "itemset": pd.Series([_JOIN.join(i) for i in items], dtype="str").iloc[order],
                    "items": pd.Series(items, dtype="object").iloc[order],
                    "length": np.full(len(cnts), sets.shape[1], dtype=np.int64)[order],
                    "count": cnts[order],
                    "support": (cnts / n)[order],
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def _rules_frame(
    kept: dict[tuple[int, int], _Block],
    metrics: dict[tuple[int, int], dict[str, np.ndarray]],
    names: np.ndarray,
    rp: RuleParams,
) -> tuple[pd.DataFrame, int]:
    """The ranked rules (at most ``max_rules``) and how many there were before the cap.

    Item names are looked up only for the rows kept, so a large candidate set costs arrays,
    not Python tuples.
    """
    keys = [k for k in kept if kept[k].n_ac.size]
    if not keys:
        return _empty_rules(), 0
    value = {name: np.concatenate([metrics[k][name] for k in keys]) for name in metrics[keys[0]]}
    count = np.concatenate([kept[k].n_ac for k in keys]).astype(np.int64)
    block = np.concatenate([np.full(kept[k].n_ac.size, i) for i, k in enumerate(keys)])
    row = np.concatenate([np.arange(kept[k].n_ac.size) for k in keys])
    rank = count.astype(np.float64) if rp.rank_by == "count" else value[rp.rank_by]
    if rp.rank_by in ("p_value", "p_adjusted"):
        rank = -rank
    # deterministic: metric, then confidence, then support, then generation order (sorted sets)
    order = np.lexsort((np.arange(count.size), -value["support"], -value["confidence"], -rank))
    total = int(order.size)
    order = order[: rp.max_rules]
    parts = [kept[k] for k in keys]
    picks = list(zip(block[order].tolist(), row[order].tolist(), strict=True))
    picked_a = [tuple(names[parts[b].ante[r]].tolist()) for b, r in picks]
    picked_c = [tuple(names[parts[b].cons[r]].tolist()) for b, r in picks]
    n_a = np.concatenate([kept[k].n_a for k in keys]).astype(np.int64)
    n_c = np.concatenate([kept[k].n_c for k in keys]).astype(np.int64)
    sizes = np.array([sum(k) for k in keys], dtype=np.int64)
    frame = pd.DataFrame(
        {
            "antecedent": pd.Series([_JOIN.join(a) for a in picked_a], dtype="str"),
            "consequent": pd.Series([_JOIN.join(c) for c in picked_c], dtype="str"),
            "antecedent_items": pd.Series(picked_a, dtype="object"),
            "consequent_items": pd.Series(picked_c, dtype="object"),
            "length": sizes[block[order]],
            **{name: value[name][order] for name in value},
            "count": count[order],
            "antecedent_count": n_a[order],
            "consequent_count": n_c[order],
        }
    )
    return frame[list(RULE_COLUMNS)], total


# ============================================================================================
# Reading rules
# ============================================================================================


def _join_items(items: Iterable[str], lang: str, escape: Callable[[str], str] | None) -> str:
    from crm_core.i18n import t

    words = [escape(str(i)) if escape else str(i) for i in items]
    if len(words) <= 1:
        return "".join(words)
    return (
        t("baskets.sentence.list_sep", lang).join(words[:-1])
        + t("baskets.sentence.and", lang)
        + words[-1]
    )


def rule_sentence(
    row: Mapping[str, Any] | pd.Series, lang: str = "en", escape: Callable[[str], str] | None = None
) -> str:
    """One rule as a plain sentence, e.g. "Customers who buy bread and butter also buy milk in 62%
    of cases — 3.1× more often than average". Item names are user data: show the sentence as
    text, or pass ``escape`` (e.g. ``safe_label``) for an output that reads markup."""
    from crm_core.i18n import t

    ante = (
        row["antecedent_items"]
        if "antecedent_items" in row
        else str(row["antecedent"]).split(_JOIN)
    )
    cons = (
        row["consequent_items"]
        if "consequent_items" in row
        else str(row["consequent"]).split(_JOIN)
    )
    confidence = float(row["confidence"])
    lift = float(row["lift"])
    if lift >= 1.05:
        key = "baskets.sentence.more"
    elif lift <= 0.95:
        key = "baskets.sentence.less"
    else:
        key = "baskets.sentence.same"
    return t(
        key,
        lang,
        antecedent=_join_items(ante, lang, escape),
        consequent=_join_items(cons, lang, escape),
        confidence=f"{confidence:.0%}",
        lift=f"{lift:.1f}" if lift >= 1.05 else f"{lift:.2f}",
    )


def consequents_for(result: RulesResult, item: str, top: int = 10) -> pd.DataFrame:
    """ "What goes with X": the best rules (by the result's ranking) whose antecedent holds X."""
    rules = result.rules
    if rules.empty:
        return rules.copy()
    mask = rules["antecedent_items"].map(lambda items: item in items).to_numpy(dtype=bool)
    return rules.loc[mask].head(max(int(top), 0)).reset_index(drop=True)


def rules_for_export(rules: pd.DataFrame | RulesResult) -> pd.DataFrame:
    """The rules with the tuple columns dropped: every cell a string or a number, ready for
    ``crm_core.export`` (which neutralises formula-like text such as ``=SUM(...)``)."""
    frame = rules.rules if isinstance(rules, RulesResult) else rules
    return frame.drop(columns=["antecedent_items", "consequent_items"], errors="ignore").copy()


def rule_metrics(
    baskets: Baskets,
    antecedents: Iterable[Iterable[str]],
    consequents: Iterable[Iterable[str]],
) -> pd.DataFrame:
    """Support, confidence and lift of given rules counted on ``baskets`` (items it lacks count
    as absent), for comparing the same rules across segments or periods."""
    index = {name: i for i, name in enumerate(baskets.items.tolist())}
    csc = baskets.matrix.tocsc()
    n = baskets.n_baskets

    def tids(items: tuple[str, ...]) -> np.ndarray:
        out: np.ndarray | None = None
        for item in items:
            col = index.get(item)
            if col is None:
                return np.empty(0, dtype=np.int32)
            rows = csc.indices[csc.indptr[col] : csc.indptr[col + 1]]
            out = rows if out is None else np.intersect1d(out, rows, assume_unique=True)
        return out if out is not None else np.arange(n, dtype=np.int32)

    rows: list[dict[str, Any]] = []
    for ante_items, cons_items in zip(antecedents, consequents, strict=True):
        ante, cons = tuple(map(str, ante_items)), tuple(map(str, cons_items))
        a, c = tids(ante), tids(cons)
        n_a, n_c = int(a.size), int(c.size)
        n_ac = int(np.intersect1d(a, c, assume_unique=True).size)
        confidence = n_ac / n_a if n_a else math.nan
        lift = confidence * n / n_c if n_a and n_c else math.nan
        rows.append(
            {
                "antecedent": _JOIN.join(ante),
                "consequent": _JOIN.join(cons),
                "antecedent_items": ante,
                "consequent_items": cons,
                "baskets": n,
                "count": n_ac,
                "support": n_ac / n if n else math.nan,
                "confidence": confidence,
                "lift": lift,
            }
        )
    columns = [
        "antecedent",
        "consequent",
        "antecedent_items",
        "consequent_items",
        "baskets",
        "count",
        "support",
        "confidence",
        "lift",
    ]
    return pd.DataFrame(rows, columns=columns)


@dataclass
class SegmentComparison:
    """Rules per segment side by side.

    ``table``: one row per (segment, rule) for the union of every segment's top rules, with the
    rule's metrics counted in that segment and ``in_top`` when it is among that segment's own
    top rules. ``lift``: the same as a wide table (rule x segment). ``results``: each segment's
    full ``RulesResult``.
    """

    results: dict[str, RulesResult]
    table: pd.DataFrame
    lift: pd.DataFrame
    notes: list[Problem] = field(default_factory=list)


def compare_segments(
    transactions: pd.DataFrame,
    segment_labels: pd.Series,
    basket_params: BasketParams | None = None,
    rule_params: RuleParams | None = None,
    *,
    top: int = 10,
    should_stop: ShouldStop = None,
    progress: Progress = None,
) -> SegmentComparison:
    """Mine each segment's baskets (``segment_labels``: customer id -> segment), then count the
    union of their top rules in every segment, so a rule strong in one segment shows its lift in
    the others too."""
    bp = basket_params or BasketParams()
    rp = rule_params or RuleParams()
    labels = segment_labels.dropna()
    labels.index = labels.index.astype("str")
    segments = sorted(labels.astype("str").unique().tolist())
    results: dict[str, RulesResult] = {}
    segment_baskets: dict[str, Baskets] = {}
    notes: list[Problem] = []
    union: dict[tuple[tuple[str, ...], tuple[str, ...]], None] = {}
    tops: dict[str, set[tuple[tuple[str, ...], tuple[str, ...]]]] = {}
    for position, segment in enumerate(segments):
        if should_stop is not None and should_stop():
            notes.append(Problem("warning", "baskets.note.stopped", {"length": 0}))
            break
        members = frozenset(labels.index[labels.astype("str") == segment])
        if bp.customers is not None:
            members = members & bp.customers
        params = replace(bp, customers=members)
        try:
            baskets = build_baskets(transactions, params)
        except DataRequirementError:
            notes.append(Problem("info", "baskets.note.segment_empty", {"segment": segment}))
            continue

        def scaled(fraction: float, position: int = position) -> None:
            if progress is not None:
                progress((position + fraction) / len(segments))

        result = run_rules(baskets, rule_params=rp, should_stop=should_stop, progress=scaled)
        results[segment] = result
        segment_baskets[segment] = baskets
        best = result.rules.head(max(int(top), 0))
        keys = list(zip(best["antecedent_items"], best["consequent_items"], strict=True))
        tops[segment] = set(keys)
        union.update(dict.fromkeys(keys))
    rows = []
    pairs = list(union)
    for segment, baskets in segment_baskets.items():
        counted = rule_metrics(baskets, [a for a, _ in pairs], [c for _, c in pairs])
        counted.insert(0, "segment", segment)
        counted["in_top"] = [pair in tops[segment] for pair in pairs]
        rows.append(counted)
    table = (
        pd.concat(rows, ignore_index=True)
        if rows
        else rule_metrics(
            Baskets(sp.csr_matrix((0, 0), dtype=bool), pd.Index([], dtype="str")), [], []
        ).assign(segment=pd.Series(dtype="str"), in_top=pd.Series(dtype=bool))
    )
    if table.empty:
        lift = pd.DataFrame()
    else:
        table["rule"] = table["antecedent"] + " → " + table["consequent"]
        lift = table.pivot(index="rule", columns="segment", values="lift")
        lift = lift.reindex([f"{_JOIN.join(a)} → {_JOIN.join(c)}" for a, c in pairs])
        lift.columns.name = None
    if progress is not None:
        progress(1.0)
    return SegmentComparison(results=results, table=table, lift=lift, notes=notes)
