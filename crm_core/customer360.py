"""One customer, every analysis: profile, key figures, timeline and category mix vs the segment.

Why this shape: the per-dataset work (RFM, the CLV fit, the churn model, category shares and
row positions per customer) is done once in :func:`customer_context`, which a page caches per
dataset version; :func:`customer_profile` then only slices, so one customer's page costs
milliseconds even on large data. The numbers are the core modules' own (``run_rfm``,
``run_clv``, ``run_churn``), never recomputed differently here.

Churn: a probability needs a fitted model. The context fits the Churn page's default model
(logistic regression, churn = no purchase in the 90 days after the as-of date, with
per-customer factors) when the dataset has at most :data:`CHURN_INLINE_MAX` customers (about
4 s on the 5,000-customer sample, once per dataset version); above that the profile says to
open the Churn page instead of making every visit wait.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crm_core.errors import CrmError, NotFoundError
from crm_core.segmentation import Note, segment_name

if TYPE_CHECKING:
    from crm_core.store import Workspace
    from crm_core.tables import Dataset

__all__ = [
    "CHURN_INLINE_MAX",
    "TIMELINE_KINDS",
    "CustomerContext",
    "CustomerProfile",
    "churn_of",
    "churn_scores",
    "customer_context",
    "customer_ids",
    "customer_profile",
    "search_customers",
]

CHURN_INLINE_MAX = 20_000
TIMELINE_KINDS: tuple[str, ...] = ("order", "communication", "feedback")
ORDER_ITEMS_SHOWN = 5
SEARCH_LIMIT = 50


@dataclass(eq=False)
class _Rows:
    """Positions of each customer's rows in one table (sorted once, sliced per customer)."""

    ids: np.ndarray  # distinct customer ids, sorted
    starts: np.ndarray
    positions: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Rows:
        ids = frame["customer_id"].astype("str").to_numpy(dtype=object)
        order = np.argsort(ids, kind="stable")
        ordered = ids[order]
        distinct, starts = np.unique(ordered, return_index=True)
        return cls(distinct, np.append(starts, ordered.size), order)

    def get(self, customer_id: str) -> np.ndarray:
        at = np.searchsorted(self.ids, customer_id)
        if at >= self.ids.size or self.ids[at] != customer_id:
            return np.zeros(0, dtype=np.int64)
        return np.sort(self.positions[self.starts[at] : self.starts[at + 1]])


@dataclass(eq=False)
class CustomerContext:
    """What every profile of one dataset shares (build once per dataset version)."""

    dataset: Dataset
    lang: str
    rfm: Any = None  # RfmResult
    clv: pd.DataFrame | None = None  # CLVResult.customers
    churn: pd.DataFrame | None = None  # ChurnResult.scores
    churn_note: Note | None = None
    shares: pd.DataFrame | None = None  # customers x categories (share of spend)
    segment_mix: pd.DataFrame | None = None  # segment x categories (mean share)
    rows: dict[str, _Rows] = field(default_factory=dict)
    directory: pd.DataFrame | None = None  # customer_id, name: everyone searchable
    notes: list[Note] = field(default_factory=list)


def customer_ids(dataset: Dataset) -> pd.Series:
    """Every customer id of the dataset (profiles and purchasers), sorted, as text."""
    parts = []
    for table in ("customers", "transactions"):
        frame = dataset.get(table)
        if frame is not None and "customer_id" in frame.columns and len(frame):
            parts.append(frame["customer_id"].dropna().astype("str").str.strip())
    if not parts:
        return pd.Series(dtype="str", name="customer_id")
    ids = pd.concat(parts).drop_duplicates()
    ids = ids[ids != ""]
    return pd.Series(np.sort(ids.to_numpy(dtype=object)).astype(str), name="customer_id")


def _directory(dataset: Dataset) -> pd.DataFrame:
    ids = customer_ids(dataset)
    frame = pd.DataFrame({"customer_id": ids.to_numpy()})
    customers = dataset.get("customers")
    if customers is not None and "name" in customers.columns:
        names = customers.assign(customer_id=customers["customer_id"].astype("str").str.strip())
        names = names.drop_duplicates("customer_id").set_index("customer_id")["name"]
        frame["name"] = names.reindex(frame["customer_id"]).fillna("").astype("str").to_numpy()
    else:
        frame["name"] = ""
    return frame


def customer_context(
    dataset: Dataset,
    workspace: Workspace | None = None,
    lang: str = "en",
    churn: bool = True,
) -> CustomerContext:
    """RFM, CLV, churn scores and category shares for the whole dataset, each optional: an
    analysis the data cannot support leaves a note instead of failing the profile."""
    context = CustomerContext(dataset=dataset, lang=lang)
    context.directory = _directory(dataset)
    for table in ("customers", "transactions", "communications", "feedback"):
        frame = dataset.get(table)
        if frame is not None and "customer_id" in frame.columns and len(frame):
            context.rows[table] = _Rows.of(frame)
    transactions = dataset.get("transactions")
    if transactions is not None and len(transactions) and "date" in transactions.columns:
        from crm_core.segmentation import run_rfm
        from crm_core.value import run_clv

        try:
            context.rfm = run_rfm(transactions)
        except CrmError as error:
            context.notes.append(Note("recommend.profile.note.no_rfm", {"reason": error.key}))
        try:
            context.clv = run_clv(transactions).customers
        except CrmError as error:
            context.notes.append(Note("recommend.profile.note.no_clv", {"reason": error.key}))
    _category_mix(context)
    if churn:
        context.churn, context.churn_note = churn_scores(dataset)
    return context


def churn_scores(dataset: Dataset) -> tuple[pd.DataFrame | None, Note | None]:
    """Every customer's churn probability and factors from the Churn page's default model, or
    a note saying why not (too many customers to fit inline, or the data cannot support it)."""
    n_customers = len(customer_ids(dataset))
    if n_customers > CHURN_INLINE_MAX:
        return None, Note(
            "recommend.profile.note.churn_large", {"count": n_customers, "cap": CHURN_INLINE_MAX}
        )
    from crm_core.churn import ChurnLabelParams, ChurnModelParams, run_churn

    try:
        result = run_churn(dataset, ChurnLabelParams(), ChurnModelParams(model="logreg"))
    except CrmError as error:
        return None, Note("recommend.profile.note.no_churn", {"reason": error.key})
    scores = result.scores.copy()
    scores.index = scores.index.astype("str")
    return scores, None


def churn_of(
    scores: pd.DataFrame | None, note: Note | None, customer_id: str, lang: str = "en"
) -> tuple[float | None, str, Note | None]:
    """One customer's churn probability, factors in ``lang``, and a note when there is none."""
    if scores is None:
        return None, "", note
    if customer_id not in scores.index:
        return None, "", Note("recommend.profile.note.not_scored")
    row = scores.loc[customer_id]
    column = f"factors_{lang}" if f"factors_{lang}" in row.index else "factors_en"
    return _value(row["probability"]), str(row.get(column, "") or ""), None


def _category_mix(context: CustomerContext) -> None:
    transactions = context.dataset.get("transactions")
    if transactions is None or "category" not in transactions.columns:
        context.notes.append(Note("recommend.profile.note.no_categories"))
        return
    from crm_core.schema import cancellation_mask

    rows = transactions.loc[
        ~cancellation_mask(transactions).to_numpy(dtype=bool) & transactions["category"].notna()
    ]
    if rows.empty:
        context.notes.append(Note("recommend.profile.note.no_categories"))
        return
    weight = (
        pd.to_numeric(rows["amount"], errors="coerce").fillna(0.0).clip(lower=0)
        if "amount" in rows.columns
        else pd.Series(1.0, index=rows.index)
    )
    spend = (
        pd.DataFrame(
            {
                "customer_id": rows["customer_id"].astype("str").str.strip(),
                "category": rows["category"].astype("str"),
                "w": weight.to_numpy(),
            }
        )
        .groupby(["customer_id", "category"], sort=True)["w"]
        .sum()
        .unstack(fill_value=0.0)
    )
    totals = spend.sum(axis=1).replace(0.0, np.nan)
    context.shares = spend.div(totals, axis=0).fillna(0.0)
    if context.rfm is not None:
        segments = context.rfm.customers["segment"].copy()
        segments.index = segments.index.astype("str")
        joined = context.shares.join(segments.rename("__segment__"), how="inner")
        context.segment_mix = joined.groupby("__segment__").mean()


@dataclass
class CustomerProfile:
    """Everything one customer's page shows; ``figures`` values are None where unknown."""

    customer_id: str
    name: str
    attributes: dict[str, Any]
    figures: dict[str, Any]
    churn_factors: str
    timeline: pd.DataFrame  # date, kind, channel, detail, value
    categories: pd.DataFrame  # category, customer, segment (shares of spend)
    n_baskets: int
    notes: list[Note] = field(default_factory=list)


def _check_known(context: CustomerContext, customer_id: str) -> None:
    ids = context.directory["customer_id"].to_numpy(dtype=object)
    at = np.searchsorted(ids, customer_id)
    if at >= ids.size or ids[at] != customer_id:
        raise NotFoundError(
            "recommend.error.unknown_customer",
            hint="recommend.hint.unknown_customer",
            customer=customer_id,
            count=1,
        )


def _value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    if value is pd.NaT or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value


def _slice(context: CustomerContext, table: str, customer_id: str) -> pd.DataFrame | None:
    frame = context.dataset.get(table)
    if frame is None or table not in context.rows:
        return None
    return frame.iloc[context.rows[table].get(customer_id)]


def customer_profile(
    dataset: Dataset,
    customer_id: Any,
    workspace: Workspace | None = None,
    lang: str = "en",
    context: CustomerContext | None = None,
) -> CustomerProfile:
    """The profile of one customer; an id the dataset does not know raises NotFoundError.

    ``context`` (from :func:`customer_context` on the same dataset) makes this a lookup; without
    it the dataset-wide analyses are computed first.
    """
    customer_id = str(customer_id).strip()
    context = context or customer_context(dataset, workspace, lang)
    _check_known(context, customer_id)
    notes: list[Note] = []
    customer = _slice(context, "customers", customer_id)
    attributes: dict[str, Any] = {}
    if customer is not None and len(customer):
        record = customer.iloc[-1]
        attributes = {str(c): _value(record[c]) for c in customer.columns if c != "customer_id"}
    name = str(attributes.get("name") or "")
    figures: dict[str, Any] = dict.fromkeys(
        (
            "orders",
            "revenue",
            "first_purchase",
            "last_purchase",
            "recency",
            "frequency",
            "monetary",
            "r",
            "f",
            "m",
            "segment",
            "segment_name",
            "clv",
            "p_alive",
            "expected_purchases",
            "churn_probability",
            "satisfaction",
            "nps",
            "satisfaction_date",
        )
    )
    purchases = _slice(context, "transactions", customer_id)
    n_baskets = 0
    if purchases is not None and len(purchases):
        baskets = _baskets(purchases)
        n_baskets = int(baskets.nunique())
        figures["orders"] = n_baskets
        if "amount" in purchases.columns:
            figures["revenue"] = _value(float(pd.to_numeric(purchases["amount"]).sum()))
        if "date" in purchases.columns:
            figures["first_purchase"] = _value(purchases["date"].min())
            figures["last_purchase"] = _value(purchases["date"].max())
    if n_baskets == 0:
        notes.append(Note("recommend.profile.note.no_purchases"))
    elif n_baskets == 1:
        notes.append(Note("recommend.profile.note.one_purchase"))
    if context.rfm is not None and customer_id in context.rfm.customers.index:
        row = context.rfm.customers.loc[customer_id]
        for key in ("recency", "frequency", "monetary", "r", "f", "m", "segment"):
            figures[key] = _value(row[key])
        figures["segment_name"] = segment_name(str(row["segment"]), lang)
    if context.clv is not None and customer_id in context.clv.index:
        row = context.clv.loc[customer_id]
        for key in ("clv", "p_alive", "expected_purchases"):
            figures[key] = _value(row[key])
    probability, churn_factors, churn_note = churn_of(
        context.churn, context.churn_note, customer_id, lang
    )
    figures["churn_probability"] = probability
    if churn_note is not None and (context.churn is not None or context.churn_note is not None):
        notes.append(churn_note)
    feedback = _slice(context, "feedback", customer_id)
    if feedback is not None and len(feedback) and "date" in feedback.columns:
        latest = feedback.sort_values("date", kind="stable").iloc[-1]
        figures["satisfaction_date"] = _value(latest["date"])
        for key, column in (("satisfaction", "score"), ("nps", "nps")):
            if column in latest.index:
                figures[key] = _value(latest[column])
    return CustomerProfile(
        customer_id=customer_id,
        name=name,
        attributes=attributes,
        figures=figures,
        churn_factors=churn_factors,
        timeline=_timeline(context, customer_id),
        categories=_categories(context, customer_id, figures.get("segment")),
        n_baskets=n_baskets,
        notes=notes,
    )


def _baskets(purchases: pd.DataFrame) -> pd.Series:
    if "order_id" in purchases.columns and purchases["order_id"].notna().any():
        return purchases["order_id"].astype("str")
    if "date" in purchases.columns:
        return purchases["date"].dt.normalize().astype("str")
    return pd.Series("all", index=purchases.index)


def _timeline(context: CustomerContext, customer_id: str) -> pd.DataFrame:
    """Orders, contacts and feedback in date order (newest first)."""
    parts: list[pd.DataFrame] = []
    purchases = _slice(context, "transactions", customer_id)
    if purchases is not None and len(purchases) and "date" in purchases.columns:
        frame = purchases.assign(
            __basket__=_baskets(purchases).to_numpy(),
            __amount__=pd.to_numeric(purchases["amount"], errors="coerce")
            if "amount" in purchases.columns
            else np.nan,
            __item__=purchases["item"].astype("str") if "item" in purchases.columns else "",
        )
        grouped = frame.groupby("__basket__", sort=False)
        orders = pd.DataFrame(
            {
                "date": grouped["date"].min(),
                "kind": "order",
                "channel": "",
                "detail": grouped["__item__"].agg(_items_text),
                "value": grouped["__amount__"].sum(min_count=1),
            }
        )
        parts.append(orders.reset_index(drop=True))
    comms = _slice(context, "communications", customer_id)
    if comms is not None and len(comms) and "date" in comms.columns:
        parts.append(
            pd.DataFrame(
                {
                    "date": comms["date"].to_numpy(),
                    "kind": "communication",
                    "channel": _joined(comms, ("channel", "direction")),
                    "detail": _joined(comms, ("category", "text"), ": "),
                    "value": np.nan,
                }
            )
        )
    feedback = _slice(context, "feedback", customer_id)
    if feedback is not None and len(feedback) and "date" in feedback.columns:
        parts.append(
            pd.DataFrame(
                {
                    "date": feedback["date"].to_numpy(),
                    "kind": "feedback",
                    "channel": _joined(feedback, ("channel",)),
                    "detail": _joined(feedback, ("text",)),
                    "value": pd.to_numeric(feedback["score"], errors="coerce").to_numpy()
                    if "score" in feedback.columns
                    else np.nan,
                }
            )
        )
    columns = ["date", "kind", "channel", "detail", "value"]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})
    timeline = pd.concat(parts, ignore_index=True)[columns]
    timeline["date"] = pd.to_datetime(timeline["date"])
    timeline["kind"] = pd.Categorical(timeline["kind"], TIMELINE_KINDS)
    timeline = timeline.sort_values(["date", "kind"], ascending=[False, True], kind="stable")
    timeline["kind"] = timeline["kind"].astype("str")
    for column in ("channel", "detail"):
        timeline[column] = timeline[column].astype("str")
    return timeline.reset_index(drop=True)


def _items_text(items: pd.Series) -> str:
    distinct = list(dict.fromkeys(items))
    text = ", ".join(distinct[:ORDER_ITEMS_SHOWN])
    if len(distinct) > ORDER_ITEMS_SHOWN:
        text += f", … (+{len(distinct) - ORDER_ITEMS_SHOWN})"
    return text


def _joined(frame: pd.DataFrame, columns: tuple[str, ...], sep: str = " · ") -> np.ndarray:
    present = [frame[c].astype("str").where(frame[c].notna(), "") for c in columns if c in frame]
    if not present:
        return np.full(len(frame), "", dtype=object)
    text = present[0]
    for other in present[1:]:
        text = text.str.cat(other, sep=sep).str.strip(sep.strip() + " ")
    return text.to_numpy(dtype=object)


def _categories(context: CustomerContext, customer_id: str, segment: Any) -> pd.DataFrame:
    columns = {"category": pd.Series(dtype="str"), "customer": pd.Series(dtype="float64")}
    columns["segment"] = pd.Series(dtype="float64")
    if context.shares is None or customer_id not in context.shares.index:
        return pd.DataFrame(columns)
    own = context.shares.loc[customer_id]
    frame = pd.DataFrame({"category": own.index.astype("str"), "customer": own.to_numpy()})
    if context.segment_mix is not None and segment in context.segment_mix.index:
        frame["segment"] = context.segment_mix.loc[segment].reindex(own.index).to_numpy()
    else:
        frame["segment"] = np.nan
    frame = frame[(frame["customer"] > 0) | (frame["segment"].fillna(0) > 0)]
    order = np.lexsort(
        (
            frame["category"].to_numpy(),
            -frame["segment"].fillna(0).to_numpy(),
            -frame["customer"].to_numpy(),
        )
    )
    return frame.iloc[order].reset_index(drop=True)


def search_customers(
    dataset: Dataset,
    query: str,
    limit: int = SEARCH_LIMIT,
    context: CustomerContext | None = None,
) -> pd.DataFrame:
    """Customers whose id starts with ``query`` or whose name contains it (case-insensitive,
    any script): exact id first, then id prefixes, then name matches, each by id. An empty
    query lists the first ``limit`` customers."""
    directory = context.directory if context is not None else _directory(dataset)
    text = str(query or "").strip().casefold()
    if not text:
        return directory.head(limit).reset_index(drop=True)
    ids = directory["customer_id"].str.casefold()
    names = directory["name"].str.casefold()
    exact = (ids == text).to_numpy(dtype=bool)
    prefix = ids.str.startswith(text).fillna(False).to_numpy(dtype=bool) & ~exact
    named = names.str.contains(text, regex=False).fillna(False).to_numpy(dtype=bool)
    named = named & ~exact & ~prefix
    rank = np.select([exact, prefix, named], [0, 1, 2], default=3)
    hits = np.flatnonzero(rank < 3)
    hits = hits[np.lexsort((hits, rank[hits]))][:limit]
    return directory.iloc[hits].reset_index(drop=True)
