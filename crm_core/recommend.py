"""Next-best products per customer: association rules, item-item CF, content and popularity.

Why this shape: purchases are one sparse customer x item matrix (never dense; a block of a few
hundred customers is scored densely at a time, so memory stays bounded at any size). Every
method turns a customer's purchases into a score per item, then one shared step excludes what
the customer already bought, breaks ties by popularity (so zero-evidence slots are filled with
the most popular items, honestly labelled as such) and keeps the top ``n``:

* ``popular`` — share of customers who bought the item (the baseline);
* ``itemknn`` — item-item collaborative filtering: cosine similarity between item columns,
  each item keeping its ``neighbours`` most similar items, a customer's score for an item being
  the sum of its similarities to what they bought (Deshpande & Karypis 2004);
* ``rules`` — association rules mined with :mod:`crm_core.baskets` on baskets (orders, or
  customer-days without order ids); an item scores the best confidence of a rule whose
  antecedent the customer has bought entirely;
* ``content`` — items described by category and price band (and other item-level attributes);
  a customer's profile is the purchase-weighted mean of their items' descriptions, an item
  scores its cosine similarity to that profile. Needs categories.

Each recommendation carries a reason as an i18n key plus parameters (``reason_item``,
``reason_share``, ``reason_lift``), so it renders in either language. Same input + same
parameters -> same output: item order, ties and any evaluation sample are fixed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from crm_core.errors import DataRequirementError, NotFoundError, ParameterError
from crm_core.i18n import t
from crm_core.schema import cancellation_mask
from crm_core.segmentation import Note

__all__ = [
    "METHODS",
    "REC_COLUMNS",
    "RecommendParams",
    "Recommender",
    "evaluate_recommenders",
    "fit_recommender",
    "reason_text",
    "reason_texts",
    "recommend",
]

METHODS: tuple[str, ...] = ("rules", "itemknn", "content", "popular")
REC_COLUMNS: tuple[str, ...] = (
    "customer_id",
    "rank",
    "item",
    "score",
    "method",
    "reason_key",
    "reason_item",
    "reason_share",
    "reason_lift",
)
MAX_N = 100
BLOCK_CELLS = 4_000_000  # customers x items scored densely at once (32 MB of float64)
PRICE_BANDS = 5
PRICE_WEIGHT = 0.5  # a price band counts half as much as the category in content similarity
ATTRIBUTE_WEIGHT = 0.5
MAX_ATTRIBUTE_VALUES = 50
_TIE = 1e-6  # popularity tie-break: below any real difference in the methods' scores
_BLANK = ("", "nan", "none", "<na>")


def _bad(name: str, value: Any, allowed: str) -> ParameterError:
    return ParameterError(
        "recommend.error.bad_param", name=name, value=repr(value), allowed=allowed
    )


@dataclass(frozen=True)
class RecommendParams:
    """Method and settings; every value is checked here.

    ``neighbours``: similar items kept per item (itemknn). ``min_support`` / ``min_confidence``
    / ``max_len``: rule mining (share of baskets, confidence, longest itemset). ``basket``:
    ``auto`` (orders when there are order ids, else customer-days), ``order`` or
    ``customer_day``. ``max_eval_customers``: evaluation above this many customers uses a
    ``seed``-ed sample of them.
    """

    method: str = "itemknn"
    n: int = 10
    exclude_purchased: bool = True
    neighbours: int = 20
    min_support: float = 0.001
    min_confidence: float = 0.05
    max_len: int = 3
    basket: str = "auto"
    max_eval_customers: int = 20_000
    seed: int = 42

    def __post_init__(self) -> None:
        checks = [
            ("method", self.method in METHODS, ", ".join(METHODS)),
            ("n", _whole(self.n, 1, MAX_N), f"1..{MAX_N}"),
            ("neighbours", _whole(self.neighbours, 1, 10_000), "1..10000"),
            ("min_support", _share(self.min_support, open_low=True), "0 < x <= 1"),
            ("min_confidence", _share(self.min_confidence), "0..1"),
            ("max_len", _whole(self.max_len, 2, 4), "2..4"),
            (
                "basket",
                self.basket in ("auto", "order", "customer_day"),
                "auto, order, customer_day",
            ),
            ("max_eval_customers", _whole(self.max_eval_customers, 10, 10**7), ">= 10"),
            ("seed", _whole(self.seed, 0, 2**32 - 1), ">= 0"),
        ]
        for name, ok, allowed in checks:
            if not ok:
                raise _bad(name, getattr(self, name), allowed)
        object.__setattr__(self, "exclude_purchased", bool(self.exclude_purchased))


def _whole(value: Any, low: int, high: int) -> bool:
    return (
        isinstance(value, int | np.integer) and not isinstance(value, bool) and low <= value <= high
    )


def _share(value: Any, open_low: bool = False) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return (number > 0.0 if open_low else number >= 0.0) and number <= 1.0


# ============================================================================================
# Purchases as a sparse matrix
# ============================================================================================


@dataclass(frozen=True, eq=False)
class Purchases:
    """Cleaned purchase lines coded against fixed customer and item indexes.

    ``matrix`` is customers x items (purchase lines per pair, CSR); ``rows`` has one row per
    kept transaction line with integer ``customer``, ``item`` and ``basket`` codes and the
    ``date`` (NaT when none), in input order.
    """

    customers: pd.Index
    items: pd.Index
    matrix: sp.csr_matrix
    rows: pd.DataFrame
    categories: np.ndarray | None  # category per item ("" when unknown), None without any
    attributes: sp.csr_matrix | None  # items x descriptive features (content), None without
    basket_unit: str

    @property
    def binary(self) -> sp.csr_matrix:
        """Who bought what (1.0 per customer-item pair)."""
        out = self.matrix.copy()
        out.data = np.ones_like(out.data, dtype=np.float64)
        return out


def _blank(values: pd.Series) -> np.ndarray:
    text = values.astype("str").str.strip()
    return (values.isna() | text.str.lower().isin(_BLANK)).to_numpy(dtype=bool)


def _clean_rows(transactions: pd.DataFrame) -> pd.DataFrame:
    """Purchase lines: returns, cancellations, zero quantities and blank ids/items left out."""
    missing = [c for c in ("customer_id", "item") if c not in transactions.columns]
    if missing:
        raise DataRequirementError("recommend.error.missing_columns", columns=", ".join(missing))
    frame = transactions
    drop = cancellation_mask(frame).to_numpy(dtype=bool, copy=True)
    if "quantity" in frame.columns and pd.api.types.is_numeric_dtype(frame["quantity"]):
        drop |= (frame["quantity"] == 0).fillna(False).to_numpy(dtype=bool)
    drop |= _blank(frame["customer_id"]) | _blank(frame["item"])
    rows = frame.loc[~drop]
    if rows.empty:
        raise DataRequirementError("recommend.error.no_purchases", rows=len(frame))
    return rows


def _basket_unit(rows: pd.DataFrame, wanted: str) -> str:
    has_orders = "order_id" in rows.columns and not _blank(rows["order_id"]).all()
    has_dates = "date" in rows.columns and rows["date"].notna().any()
    if wanted == "order" or (wanted == "auto" and has_orders):
        if not has_orders:
            raise DataRequirementError("recommend.error.no_baskets")
        return "order"
    if not has_dates:
        raise DataRequirementError("recommend.error.no_baskets")
    return "customer_day"


def build_purchases(
    transactions: pd.DataFrame,
    customers: Iterable[Any] | None = None,
    basket: str = "auto",
) -> Purchases:
    """Code the transactions; ``customers`` adds ids without purchases (they get the popular
    items). Items and customers are sorted so the result never depends on row order."""
    rows = _clean_rows(transactions)
    ids = rows["customer_id"].astype("str").str.strip()
    names = rows["item"].astype("str").str.strip()
    known = pd.Index(ids.unique())
    if customers is not None:
        extra = pd.Index([str(c).strip() for c in customers])
        known = known.append(extra[extra != ""])
    customer_index = pd.Index(
        np.sort(known.unique().to_numpy(dtype=object)).astype(str), dtype="str"
    )
    item_index = pd.Index(np.sort(names.unique().to_numpy(dtype=object)).astype(str), dtype="str")
    cust = customer_index.get_indexer(ids)
    item = item_index.get_indexer(names)
    try:
        unit = _basket_unit(rows, basket)
        dates = (
            pd.to_datetime(rows["date"], errors="coerce")
            if "date" in rows.columns
            else pd.Series(pd.NaT, index=rows.index)
        )
        if unit == "order":
            baskets, _ = pd.factorize(rows["order_id"].astype("str"))
        else:
            day = dates.to_numpy().astype("datetime64[D]").astype(np.int64)
            baskets, _ = pd.factorize(cust.astype(np.int64) * (1 << 32) + day)
    except DataRequirementError:
        unit, baskets = "none", np.full(len(rows), -1, dtype=np.int64)
        dates = pd.Series(pd.NaT, index=rows.index)
    coded = pd.DataFrame(
        {
            "customer": cust.astype(np.int64),
            "item": item.astype(np.int64),
            "basket": np.asarray(baskets, dtype=np.int64),
            "date": dates.to_numpy(),
        }
    )
    matrix = sp.csr_matrix(
        (np.ones(len(coded)), (coded["customer"].to_numpy(), coded["item"].to_numpy())),
        shape=(len(customer_index), len(item_index)),
    )
    matrix.sum_duplicates()
    categories = _item_categories(rows, item)
    attributes = _item_attributes(rows, item, len(item_index), categories)
    return Purchases(customer_index, item_index, matrix, coded, categories, attributes, unit)


def _mode_per_item(values: pd.Series, item: np.ndarray, n_items: int) -> np.ndarray:
    """Most frequent non-blank value per item (ties: alphabetical), "" where none."""
    blank = _blank(values)
    frame = pd.DataFrame({"item": item[~blank], "value": values.astype("str").str.strip()[~blank]})
    out = np.full(n_items, "", dtype=object)
    if frame.empty:
        return out
    counts = frame.groupby(["item", "value"], sort=True).size().reset_index(name="n")
    counts = counts.sort_values(
        ["item", "n", "value"], ascending=[True, False, True], kind="stable"
    )
    first = counts.drop_duplicates("item")
    out[first["item"].to_numpy()] = first["value"].to_numpy(dtype=object)
    return out


def _item_categories(rows: pd.DataFrame, item: np.ndarray) -> np.ndarray | None:
    if "category" not in rows.columns or _blank(rows["category"]).all():
        return None
    return _mode_per_item(rows["category"], item, int(item.max()) + 1)


def _price_per_item(rows: pd.DataFrame, item: np.ndarray, n_items: int) -> np.ndarray | None:
    price = None
    if "unit_price" in rows.columns and pd.api.types.is_numeric_dtype(rows["unit_price"]):
        price = rows["unit_price"].to_numpy(dtype=float, na_value=np.nan)
    elif {"amount", "quantity"} <= set(rows.columns) and pd.api.types.is_numeric_dtype(
        rows["amount"]
    ):
        quantity = pd.to_numeric(rows["quantity"], errors="coerce").to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            price = rows["amount"].to_numpy(dtype=float, na_value=np.nan) / quantity
    if price is None:
        return None
    ok = np.isfinite(price) & (price > 0)
    if not ok.any():
        return None
    medians = pd.Series(price[ok]).groupby(item[ok]).median()
    out = np.full(n_items, np.nan)
    out[medians.index.to_numpy()] = medians.to_numpy()
    return out


def _item_attributes(
    rows: pd.DataFrame, item: np.ndarray, n_items: int, categories: np.ndarray | None
) -> sp.csr_matrix | None:
    """Item descriptions for content similarity: category, price band, and any other text
    column that is (almost) constant per item with few values (a brand, a department)."""
    if categories is None:
        return None
    blocks: list[sp.csr_matrix] = [_one_hot(categories, 1.0)]
    price = _price_per_item(rows, item, n_items)
    if price is not None and np.isfinite(price).sum() >= PRICE_BANDS:
        ranks = pd.Series(price).rank(method="first")
        bands = pd.qcut(ranks, PRICE_BANDS, labels=False).to_numpy()
        band_text = np.where(np.isnan(bands), "", bands.astype(str))
        blocks.append(_one_hot(band_text.astype(object), PRICE_WEIGHT))
    skip = {"customer_id", "item", "category", "order_id", "date", "stock_code"}
    for column in rows.columns:
        if column in skip or not (
            pd.api.types.is_string_dtype(rows[column]) or rows[column].dtype == object
        ):
            continue
        values = _mode_per_item(rows[column], item, n_items)
        distinct = set(values) - {""}
        if not 2 <= len(distinct) <= MAX_ATTRIBUTE_VALUES:
            continue
        per_item = pd.DataFrame({"item": item, "v": rows[column].astype("str")}).groupby("item")
        if (per_item["v"].nunique() > 1).mean() > 0.05:  # varies within items: not an attribute
            continue
        blocks.append(_one_hot(values, ATTRIBUTE_WEIGHT))
    return sp.hstack(blocks, format="csr")


def _one_hot(values: np.ndarray, weight: float) -> sp.csr_matrix:
    codes, uniques = pd.factorize(pd.Series(values, dtype="str"), sort=True)
    keep = codes >= 0
    keep &= np.asarray(uniques[np.maximum(codes, 0)] != "") if len(uniques) else keep
    rows = np.flatnonzero(keep)
    return sp.csr_matrix(
        (np.full(rows.size, weight), (rows, codes[keep])), shape=(len(values), max(len(uniques), 1))
    )


# ============================================================================================
# Models
# ============================================================================================


@dataclass(eq=False)
class Recommender:
    """A fitted recommender: the purchases it learnt from and the method's fitted state."""

    params: RecommendParams
    purchases: Purchases
    popularity: np.ndarray  # customers who bought each item
    similarity: sp.csr_matrix | None = None  # itemknn: items x neighbour items (cosine)
    cocounts: sp.csr_matrix | None = None  # itemknn: customers who bought both (same pattern)
    rules: pd.DataFrame | None = None  # rules: antecedent codes, consequent code, conf, lift
    antecedents: sp.csr_matrix | None = None  # rules x items (1 = in the antecedent)
    profile_features: sp.csr_matrix | None = None  # content: items x features (unit rows)
    notes: list[Note] = field(default_factory=list)

    @property
    def method(self) -> str:
        """The method this model recommends with."""
        return self.params.method

    @property
    def customers(self) -> pd.Index:
        """Customer ids the model can recommend for."""
        return self.purchases.customers

    @property
    def items(self) -> pd.Index:
        """The catalogue (every item bought at least once)."""
        return self.purchases.items


def fit_recommender(
    transactions: pd.DataFrame | Purchases,
    params: RecommendParams | None = None,
    customers: Iterable[Any] | None = None,
) -> Recommender:
    """Fit one method on the purchases; ``customers`` adds ids without purchases.

    Raises DataRequirementError when the data lacks what the method needs (content-based
    without categories, rules without orders or dates).
    """
    params = params or RecommendParams()
    purchases = (
        transactions
        if isinstance(transactions, Purchases)
        else build_purchases(transactions, customers, params.basket)
    )
    binary = purchases.binary
    popularity = np.asarray(binary.sum(axis=0)).ravel()
    model = Recommender(params, purchases, popularity)
    if params.method == "itemknn":
        model.similarity, model.cocounts = _item_neighbours(binary, params.neighbours)
    elif params.method == "rules":
        _fit_rules(model)
    elif params.method == "content":
        if purchases.attributes is None:
            raise DataRequirementError(
                "recommend.error.no_categories", hint="recommend.hint.no_categories"
            )
        features = purchases.attributes.astype(np.float64)
        norms = np.sqrt(np.asarray(features.multiply(features).sum(axis=1)).ravel())
        norms[norms == 0] = 1.0
        model.profile_features = sp.csr_matrix(sp.diags(1.0 / norms) @ features)
    return model


def _item_neighbours(binary: sp.csr_matrix, k: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Top-``k`` cosine neighbours per item from X^T X, built a block of items at a time so
    only items x block is ever dense."""
    n_items = binary.shape[1]
    counts = np.asarray(binary.sum(axis=0)).ravel()
    norms = np.sqrt(np.maximum(counts, 1.0))
    xt = binary.T.tocsr()
    xc = binary.tocsc()
    k = min(k, max(n_items - 1, 1))
    block = max(1, BLOCK_CELLS // max(n_items, 1))
    rows_out: list[np.ndarray] = []
    cols_out: list[np.ndarray] = []
    sims_out: list[np.ndarray] = []
    cos_out: list[np.ndarray] = []
    for start in range(0, n_items, block):
        stop = min(start + block, n_items)
        co = (xt @ xc[:, start:stop]).toarray()  # items x block: customers who bought both
        co[np.arange(start, stop), np.arange(stop - start)] = 0.0
        sim = co / norms[:, None] / norms[None, start:stop]
        if k < n_items:
            top = np.argpartition(-sim, k - 1, axis=0)[:k]
        else:
            top = np.broadcast_to(np.arange(n_items)[:, None], sim.shape)
        cols = np.broadcast_to(np.arange(start, stop)[None, :], top.shape)
        values = sim[top, cols - start]
        keep = values > 0
        # stored as item -> neighbour: row = the bought item, column = the candidate
        rows_out.append(cols[keep])
        cols_out.append(top[keep])
        sims_out.append(values[keep])
        cos_out.append(co[top, cols - start][keep])
    rows = np.concatenate(rows_out) if rows_out else np.zeros(0, dtype=np.int64)
    cols = np.concatenate(cols_out) if cols_out else np.zeros(0, dtype=np.int64)
    shape = (n_items, n_items)
    similarity = sp.csr_matrix((np.concatenate(sims_out) if sims_out else [], (rows, cols)), shape)
    cocounts = sp.csr_matrix((np.concatenate(cos_out) if cos_out else [], (rows, cols)), shape)
    similarity.sort_indices()
    cocounts.sort_indices()
    return similarity, cocounts


def _fit_rules(model: Recommender) -> None:
    from crm_core.baskets import BasketParams, Baskets, RuleParams, run_rules

    purchases, params = model.purchases, model.params
    rows = purchases.rows
    if purchases.basket_unit == "none":
        raise DataRequirementError("recommend.error.no_baskets")
    n_items = len(purchases.items)
    n_baskets = int(rows["basket"].max()) + 1
    matrix = sp.csr_matrix(
        (np.ones(len(rows), dtype=bool), (rows["basket"].to_numpy(), rows["item"].to_numpy())),
        shape=(n_baskets, n_items),
    )
    matrix.sum_duplicates()
    matrix.data[:] = True
    baskets = Baskets(matrix=matrix, items=purchases.items, params=BasketParams())
    result = run_rules(
        baskets,
        rule_params=RuleParams(
            min_support=params.min_support,
            min_confidence=params.min_confidence,
            min_lift=1.0,
            max_len=params.max_len,
            single_consequent=True,
            rank_by="confidence",
            correction="none",
        ),
    )
    model.notes.extend(
        Note(p.key, dict(p.params))
        for p in result.notes
        if p.key != "baskets.note.single_item_baskets"
    )
    rules = result.rules
    index = purchases.items
    antecedents = [index.get_indexer(list(items)) for items in rules["antecedent_items"]]
    consequent = np.array(
        [index.get_loc(items[0]) for items in rules["consequent_items"]], dtype=np.int64
    )
    lengths = np.array([len(a) for a in antecedents], dtype=np.int64)
    indptr = np.concatenate(([0], np.cumsum(lengths)))
    indices = np.concatenate(antecedents) if antecedents else np.zeros(0, dtype=np.int64)
    model.antecedents = sp.csr_matrix(
        (np.ones(indices.size), indices, indptr), shape=(len(rules), n_items)
    )
    model.rules = pd.DataFrame(
        {
            "antecedent": rules["antecedent"].astype("str").to_numpy(),
            "consequent": consequent,
            "length": lengths,
            "confidence": rules["confidence"].to_numpy(dtype=float),
            "lift": rules["lift"].to_numpy(dtype=float),
        }
    )
    if not len(rules):
        model.notes.append(Note("recommend.note.no_rules"))


# ============================================================================================
# Scoring
# ============================================================================================


@dataclass
class _Scored:
    scores: np.ndarray | None  # block x items, method evidence (0 = none) ...
    sparse: sp.csr_matrix | None = None  # ... or the same as a sparse matrix (itemknn, popular)
    reason_item: np.ndarray | None = None  # block x items: index into a name list (-1 none)
    reason_share: np.ndarray | None = None
    reason_lift: np.ndarray | None = None


def _score_block(model: Recommender, rows: np.ndarray, binary: sp.csr_matrix) -> _Scored:
    xb = binary[rows]
    n_items = binary.shape[1]
    if model.method == "popular":  # every slot comes from the popularity order
        return _Scored(None, sp.csr_matrix((len(rows), n_items)))
    if model.method == "itemknn":
        return _Scored(None, sp.csr_matrix(xb @ model.similarity))
    if model.method == "content":
        profile = (model.purchases.matrix[rows] @ model.profile_features).toarray()
        norms = np.linalg.norm(profile, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        features = model.profile_features
        return _Scored((features @ (profile / norms).T).T)
    return _rules_block(model, xb)


def _rules_block(model: Recommender, xb: sp.csr_matrix) -> _Scored:
    """Best rule per (customer, consequent): the highest confidence, then lift, then rule order."""
    rules = model.rules
    reason = np.full(xb.shape, -1, dtype=np.int64)
    if rules is None or not len(rules):
        return _Scored(None, sp.csr_matrix(xb.shape), reason_item=reason)
    owned = (xb @ model.antecedents.T).tocoo()
    lengths = rules["length"].to_numpy()
    hit = owned.data >= lengths[owned.col] - 0.5
    cust, rule = owned.row[hit], owned.col[hit]
    conf = rules["confidence"].to_numpy()[rule]
    lift = rules["lift"].to_numpy()[rule]
    item = rules["consequent"].to_numpy()[rule]
    order = np.lexsort((-rule, lift, conf, item, cust))  # last per (cust, item) is the best
    cust, item, rule, conf = cust[order], item[order], rule[order], conf[order]
    last = np.ones(cust.size, dtype=bool)
    if cust.size:
        last[:-1] = (cust[1:] != cust[:-1]) | (item[1:] != item[:-1])
    reason[cust[last], item[last]] = rule[last]
    best = sp.csr_matrix((conf[last], (cust[last], item[last])), shape=xb.shape)
    return _Scored(None, best, reason_item=reason)


def _tie_break(popularity: np.ndarray) -> np.ndarray:
    """A distinct tiny bonus per item by popularity (then name), so equal scores - and items with
    no evidence - are ordered by popularity the same way every run."""
    order = np.lexsort((np.arange(popularity.size), -popularity))
    bonus = np.empty(popularity.size)
    bonus[order] = (popularity.size - np.arange(popularity.size)) / max(popularity.size, 1)
    return bonus * _TIE


def _codes(model: Recommender, customer_ids: Iterable[Any] | None) -> np.ndarray:
    if customer_ids is None:
        return np.arange(len(model.customers))
    ids = [str(c).strip() for c in customer_ids]
    codes = model.customers.get_indexer(ids)
    if (codes < 0).any():
        unknown = [c for c, code in zip(ids, codes, strict=True) if code < 0]
        raise NotFoundError(
            "recommend.error.unknown_customer",
            hint="recommend.hint.unknown_customer",
            customer=unknown[0],
            count=len(unknown),
        )
    return codes


def _top_dense(
    scores: np.ndarray, bought: sp.csr_matrix | None, bonus: np.ndarray, n: int
) -> tuple[np.ndarray, ...]:
    """Top ``n`` per row of a dense block: score, then popularity (the bonus), then item."""
    n_rows, n_items = scores.shape
    key = scores + bonus
    if bought is not None:
        xb = bought.tocoo()
        key[xb.row, xb.col] = -np.inf
    take = min(n, n_items)
    if take < n_items:
        top = np.argpartition(-key, take - 1, axis=1)[:, :take]
    else:
        top = np.broadcast_to(np.arange(n_items), (n_rows, n_items)).copy()
    picked = np.take_along_axis(key, top, axis=1)
    order = np.lexsort((top, -picked), axis=1)
    top = np.take_along_axis(top, order, axis=1)
    picked = np.take_along_axis(picked, order, axis=1)
    valid = np.isfinite(picked.ravel())
    local = np.repeat(np.arange(n_rows), take)[valid]
    item = top.ravel()[valid]
    rank = np.tile(np.arange(1, take + 1), n_rows)[valid]
    return local, item, rank, scores[local, item]


def _top_sparse(
    scores: sp.csr_matrix,
    bought: sp.csr_matrix | None,
    bonus: np.ndarray,
    popular: np.ndarray,
    n: int,
) -> tuple[np.ndarray, ...]:
    """Top ``n`` per row when only a few items per row have evidence: those ranked as in
    :func:`_top_dense`, the remaining slots filled in popularity order (never a dense row)."""
    n_rows, n_items = scores.shape
    coo = scores.tocoo()
    rows, cols, values = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data
    keep = values > 0
    if bought is not None:
        owned = bought.tocoo()
        owned_keys = np.sort(owned.row.astype(np.int64) * n_items + owned.col)
        keep &= ~np.isin(rows * n_items + cols, owned_keys, assume_unique=False)
    rows, cols, values = rows[keep], cols[keep], values[keep]
    order = np.lexsort((cols, -(values + bonus[cols]), rows))
    rows, cols, values = rows[order], cols[order], values[order]
    starts = np.searchsorted(rows, np.arange(n_rows))
    rank = np.arange(rows.size) - starts[rows]
    first = rank < n
    rows, cols, values, rank = rows[first], cols[first], values[first], rank[first] + 1
    counts = np.bincount(rows, minlength=n_rows)
    extra_rows: list[int] = []
    extra_cols: list[int] = []
    extra_rank: list[int] = []
    short = np.flatnonzero(counts < min(n, n_items))
    if short.size:
        order_list = popular.tolist()
        chosen_at = np.searchsorted(rows, short)
        for local, at in zip(short.tolist(), chosen_at.tolist(), strict=True):
            taken = set(cols[at : at + counts[local]].tolist())
            if bought is not None:
                taken.update(
                    bought.indices[bought.indptr[local] : bought.indptr[local + 1]].tolist()
                )
            position = int(counts[local])
            for candidate in order_list:
                if position >= n:
                    break
                if candidate not in taken:
                    position += 1
                    extra_rows.append(local)
                    extra_cols.append(candidate)
                    extra_rank.append(position)
    all_rows = np.concatenate((rows, np.asarray(extra_rows, dtype=np.int64)))
    all_cols = np.concatenate((cols, np.asarray(extra_cols, dtype=np.int64)))
    all_rank = np.concatenate((rank, np.asarray(extra_rank, dtype=np.int64)))
    all_scores = np.concatenate((values, np.zeros(len(extra_rows))))
    order = np.lexsort((all_rank, all_rows))
    return all_rows[order], all_cols[order], all_rank[order], all_scores[order]


def recommend(
    model: Recommender,
    customer_ids: Iterable[Any] | None = None,
    n: int | None = None,
) -> pd.DataFrame:
    """Top-``n`` items per customer with a reason (all model customers when ids are None).

    Columns :data:`REC_COLUMNS`. ``score`` is the method's own evidence (0 when a slot was
    filled by popularity, whose reason then says so). Unknown ids raise NotFoundError.
    """
    n = model.params.n if n is None else n
    if not _whole(n, 1, MAX_N):
        raise _bad("n", n, f"1..{MAX_N}")
    codes = _codes(model, customer_ids)
    binary = model.purchases.binary
    n_items = binary.shape[1]
    bonus = _tie_break(model.popularity)
    share = model.popularity / max(len(model.customers), 1)
    popular = np.lexsort((np.arange(n_items), -model.popularity))
    block = max(1, BLOCK_CELLS // max(n_items, 1))
    parts: list[pd.DataFrame] = []
    for start in range(0, len(codes), block):
        rows = codes[start : start + block]
        scored = _score_block(model, rows, binary)
        bought = binary[rows] if model.params.exclude_purchased else None
        if scored.sparse is not None:
            local, item, rank, score = _top_sparse(scored.sparse, bought, bonus, popular, n)
            if model.method == "popular":
                score = share[item]
        else:
            local, item, rank, score = _top_dense(scored.scores, bought, bonus, n)
        parts.append(_with_reasons(model, rows, local, item, rank, score, scored, share, binary))
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in REC_COLUMNS})
    return pd.concat(parts, ignore_index=True)


def _with_reasons(
    model: Recommender,
    rows: np.ndarray,
    local: np.ndarray,
    item: np.ndarray,
    rank: np.ndarray,
    score: np.ndarray,
    scored: _Scored,
    share: np.ndarray,
    binary: sp.csr_matrix,
) -> pd.DataFrame:
    size = item.size
    key = np.full(size, "recommend.reason.popular", dtype=object)
    reason_item = np.full(size, "", dtype=object)
    reason_share = share[item].astype(float)
    reason_lift = np.full(size, np.nan)
    evidence = score > 0
    method = model.method
    if method == "itemknn" and evidence.any():
        best, shares = _knn_reasons(model, rows[local[evidence]], item[evidence], binary)
        key[evidence] = "recommend.reason.itemknn"
        reason_item[evidence] = np.asarray(model.items, dtype=object)[best]
        reason_share[evidence] = shares
    elif method == "rules" and evidence.any():
        rule = scored.reason_item[local[evidence], item[evidence]]
        rules = model.rules
        key[evidence] = "recommend.reason.rules"
        reason_item[evidence] = rules["antecedent"].to_numpy(dtype=object)[rule]
        reason_share[evidence] = rules["confidence"].to_numpy()[rule]
        reason_lift[evidence] = rules["lift"].to_numpy()[rule]
    elif method == "content" and evidence.any():
        categories = model.purchases.categories
        cat_codes, cat_names = pd.factorize(pd.Series(categories, dtype="str"), sort=True)
        counts = model.purchases.matrix[rows]
        per_cat = counts @ sp.csr_matrix(
            (np.ones(cat_codes.size), (np.arange(cat_codes.size), cat_codes)),
            shape=(cat_codes.size, len(cat_names)),
        )
        per_cat = per_cat.toarray()
        totals = per_cat.sum(axis=1)
        totals[totals == 0] = 1.0
        wanted = cat_codes[item[evidence]]
        key[evidence] = "recommend.reason.content"
        reason_item[evidence] = np.asarray(cat_names, dtype=object)[wanted]
        reason_share[evidence] = per_cat[local[evidence], wanted] / totals[local[evidence]]
    return pd.DataFrame(
        {
            "customer_id": pd.array(np.asarray(model.customers)[rows[local]], dtype="str"),
            "rank": rank.astype(np.int64),
            "item": pd.array(np.asarray(model.items)[item], dtype="str"),
            "score": score.astype(float),
            "method": method,
            "reason_key": pd.array(key, dtype="str"),
            "reason_item": pd.array(reason_item, dtype="str"),
            "reason_share": reason_share,
            "reason_lift": reason_lift,
        }
    )


def _knn_reasons(
    model: Recommender, customers: np.ndarray, items: np.ndarray, binary: sp.csr_matrix
) -> tuple[np.ndarray, np.ndarray]:
    """For each (customer, item): the bought item most similar to it, and the share of that
    item's buyers who bought the recommended one too."""
    sim = model.similarity
    n_items = sim.shape[1]
    keys = np.repeat(np.arange(sim.shape[0], dtype=np.int64), np.diff(sim.indptr)) * n_items
    keys += sim.indices
    indptr, indices = binary.indptr, binary.indices
    counts = indptr[customers + 1] - indptr[customers]
    pair = np.repeat(np.arange(customers.size), counts)
    starts = np.repeat(indptr[customers], counts)
    offsets = np.arange(pair.size) - np.repeat(np.cumsum(counts) - counts, counts)
    bought = indices[starts + offsets].astype(np.int64)
    lookup = bought * n_items + items[pair]
    values = np.full(pair.size, -1.0)
    where = np.zeros(pair.size, dtype=np.int64)
    if keys.size:
        where = np.minimum(np.searchsorted(keys, lookup), keys.size - 1)
        values = np.where(keys[where] == lookup, sim.data[where], -1.0)
    # best bought item per pair: highest similarity, then lowest item index
    order = np.lexsort((bought, -values, pair))
    first = np.ones(order.size, dtype=bool)
    first[1:] = pair[order][1:] != pair[order][:-1]
    chosen = order[first]
    best = bought[chosen]
    co = model.cocounts.data[where[chosen]]
    share = co / np.maximum(model.popularity[best], 1)
    return best, share


# ============================================================================================
# Reasons as text
# ============================================================================================


def _percent(share: float) -> str:
    if not np.isfinite(share):
        return "–"
    return f"{share:.0%}" if share >= 0.1 or share == 0 else f"{share:.1%}"


def reason_text(row: Any, lang: str = "en") -> str:
    """One recommendation's reason as a sentence in ``lang`` (row: a mapping or a namedtuple)."""
    get = row.get if hasattr(row, "get") else lambda name: getattr(row, name)
    lift = get("reason_lift")
    return t(
        str(get("reason_key")),
        lang,
        item=str(get("reason_item")),
        share=_percent(float(get("reason_share"))),
        lift=f"{float(lift):.1f}" if lift is not None and np.isfinite(float(lift)) else "–",
    )


def reason_texts(recommendations: pd.DataFrame, lang: str = "en") -> pd.Series:
    """Every row's reason in ``lang``."""
    return pd.Series(
        [reason_text(row, lang) for row in recommendations.to_dict("records")],
        index=recommendations.index,
        dtype="str",
    )


# ============================================================================================
# Evaluation
# ============================================================================================


def _holdout(purchases: Purchases, params: RecommendParams) -> tuple[np.ndarray, np.ndarray]:
    """Rows of each customer's last basket (latest date, then highest basket code) for the
    customers with at least two baskets, and those customers (a seeded sample above the cap)."""
    rows = purchases.rows
    if purchases.basket_unit == "none":
        raise DataRequirementError("recommend.error.no_baskets")
    date = rows["date"].to_numpy().astype("datetime64[ns]").astype(np.int64)
    per_basket = (
        pd.DataFrame({"customer": rows["customer"], "basket": rows["basket"], "date": date})
        .groupby(["customer", "basket"], sort=True)["date"]
        .max()
        .reset_index()
    )
    n_baskets = per_basket.groupby("customer")["basket"].size()
    eligible = n_baskets.index[n_baskets >= 2].to_numpy()
    if eligible.size > params.max_eval_customers:
        rng = np.random.default_rng(params.seed)
        eligible = np.sort(rng.choice(eligible, params.max_eval_customers, replace=False))
    last = per_basket.sort_values(["customer", "date", "basket"], kind="stable").drop_duplicates(
        "customer", keep="last"
    )
    last = last[last["customer"].isin(eligible)]
    key = rows["customer"].to_numpy() * (1 << 32) + rows["basket"].to_numpy()
    held = np.isin(key, last["customer"].to_numpy() * (1 << 32) + last["basket"].to_numpy())
    return held, eligible


def _subset(purchases: Purchases, keep: np.ndarray) -> Purchases:
    rows = purchases.rows.loc[keep].reset_index(drop=True)
    matrix = sp.csr_matrix(
        (np.ones(len(rows)), (rows["customer"].to_numpy(), rows["item"].to_numpy())),
        shape=purchases.matrix.shape,
    )
    matrix.sum_duplicates()
    return Purchases(
        purchases.customers,
        purchases.items,
        matrix,
        rows,
        purchases.categories,
        purchases.attributes,
        purchases.basket_unit,
    )


def evaluate_recommenders(
    transactions: pd.DataFrame | Purchases,
    methods: Sequence[str] = METHODS,
    k: int = 10,
    params: RecommendParams | None = None,
) -> pd.DataFrame:
    """Hold out each customer's last basket, train on the rest, score the top ``k``.

    Only customers with at least two baskets are evaluated; with ``exclude_purchased`` the
    targets are the held-out items the customer had not bought before (an excluded item can
    never be a hit), and customers whose last basket holds only repeats are not counted.
    One row per method: customers, hit_rate (share with at least one hit), precision (hits / k),
    recall (hits / targets), coverage (share of the catalogue recommended to anyone), and a
    ``note`` i18n key when the method cannot run on this data.
    """
    params = params or RecommendParams()
    if not _whole(k, 1, MAX_N):
        raise _bad("k", k, f"1..{MAX_N}")
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise _bad("methods", unknown, ", ".join(METHODS))
    purchases = (
        transactions
        if isinstance(transactions, Purchases)
        else build_purchases(transactions, basket=params.basket)
    )
    held, eligible = _holdout(purchases, params)
    train = _subset(purchases, ~held)
    test = _subset(purchases, held)
    targets = test.binary[eligible]
    if params.exclude_purchased:
        targets = targets - targets.multiply(train.binary[eligible])
        targets.eliminate_zeros()
    sizes = np.diff(targets.indptr)
    evaluated = eligible[sizes > 0]
    targets = targets[sizes > 0]
    n_catalogue = int((train.binary.sum(axis=0) > 0).sum())
    out = []
    for method in methods:
        row: dict[str, Any] = {"method": method, "customers": int(evaluated.size)}
        try:
            model = fit_recommender(train, _with(params, method=method, n=k))
        except DataRequirementError as error:
            out.append(
                {
                    **row,
                    "hit_rate": np.nan,
                    "precision": np.nan,
                    "recall": np.nan,
                    "coverage": np.nan,
                    "note": error.key,
                }
            )
            continue
        recs = recommend(model, np.asarray(train.customers)[evaluated], k)
        local = np.searchsorted(evaluated, train.customers.get_indexer(recs["customer_id"]))
        got = sp.csr_matrix(
            (np.ones(len(recs)), (local, train.items.get_indexer(recs["item"]))),
            shape=targets.shape,
        )
        hits = np.asarray(got.multiply(targets).sum(axis=1)).ravel()
        n_targets = np.diff(targets.indptr)
        row.update(
            hit_rate=float((hits > 0).mean()) if hits.size else np.nan,
            precision=float((hits / k).mean()) if hits.size else np.nan,
            recall=float((hits / np.maximum(n_targets, 1)).mean()) if hits.size else np.nan,
            coverage=float(recs["item"].nunique() / max(n_catalogue, 1)),
            note="",
        )
        out.append(row)
    table = pd.DataFrame(
        out, columns=["method", "customers", "hit_rate", "precision", "recall", "coverage", "note"]
    )
    table.attrs = {}
    return table


def _with(params: RecommendParams, **changes: Any) -> RecommendParams:
    from dataclasses import replace

    return replace(params, **changes)
