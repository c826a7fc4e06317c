"""Customer features: canonical transactions -> one row per customer, as of a date.

Every analysis that looks at customers (segments, churn, value) starts from this table, so the
definitions live in one place. All work is done with factorized integer codes and ``bincount`` /
one grouped reduction, which keeps 1,000,000 customers within a few seconds.

Rules (documented so the pages can show them):

* Only transactions dated strictly before ``as_of`` count. The default ``as_of`` is the day after
  the last transaction (midnight), the usual RFM snapshot.
* A row is a *return* when its quantity or amount is negative, or its order id looks like a
  cancellation (``C`` followed by a digit, as in the UCI Online Retail data). The ``C`` rule is
  ignored when most order ids start that way (then it is just the id format).
* Revenue, orders and dates are counted on purchases only (rows that are not returns and whose
  amount is not negative or zero); rows without an amount still count as orders.
* Without an order id an order is a customer-day.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from crm_core.errors import DataRequirementError
from crm_core.i18n import t
from crm_core.schema import cancellation_ids
from crm_core.tables import ROLES, Dataset

MAX_CATEGORY_SHARES = 12  # share_<category> columns for the top categories by revenue
MAX_ATTRIBUTE_CATEGORIES = 50  # text columns with more distinct values are free text, not features
TREND_WINDOW_DAYS = 90
_DAY = pd.Timedelta(days=1)
_NO_DATE_MAX = np.iinfo(np.int64).max  # "no purchase" fillers for first/last purchase times
_NO_DATE_MIN = np.iinfo(np.int64).min

BEHAVIOUR_FEATURES: tuple[str, ...] = (
    "recency_days",
    "frequency",
    "monetary",
    "avg_order_value",
    "tenure_days",
    "items_per_order",
    "days_between_purchases",
    "trend_90d",
    "return_rate",
)

# feature column -> i18n key of its label; share_<category> and attributes are labelled on the fly.
FEATURE_LABELS: dict[str, str] = {name: f"features.{name}" for name in BEHAVIOUR_FEATURES}


def feature_label(name: str, lang: str = "en") -> str:
    """Human label of a feature column in ``lang`` (attribute columns keep their own header)."""
    if name in FEATURE_LABELS:
        return t(FEATURE_LABELS[name], lang)
    if name == "share_other":
        return t("features.share_other", lang)
    if name.startswith("share_"):
        return t("features.share", lang, category=name[len("share_") :])
    return name.replace("_", " ")


def default_as_of(dates: pd.Series) -> pd.Timestamp:
    """The day after the last transaction, at midnight: the conventional RFM snapshot."""
    last = pd.to_datetime(dates, errors="coerce").max()
    if pd.isna(last):
        raise DataRequirementError("segments.error.no_transactions")
    return pd.Timestamp(last).normalize() + _DAY


def _cancellation_mask(order_codes: np.ndarray, order_ids: pd.Index) -> np.ndarray:
    """Order ids like ``C536379`` mark cancellations (the shared rule in ``crm_core.schema``).

    Matched on the distinct ids (far fewer than rows), then mapped back through the codes.
    """
    if len(order_ids) == 0 or not (
        pd.api.types.is_string_dtype(order_ids) or pd.api.types.is_object_dtype(order_ids)
    ):
        return np.zeros(len(order_codes), dtype=bool)
    per_id = cancellation_ids(pd.Series(order_ids.astype("str"))).to_numpy(bool)
    return np.where(order_codes >= 0, per_id[np.maximum(order_codes, 0)], False)


def _prepare(transactions: pd.DataFrame, as_of: pd.Timestamp | None) -> tuple[dict, pd.Timestamp]:
    """Validate roles and reduce transactions to numpy arrays keyed by customer code."""
    if transactions is None or "customer_id" not in transactions or "date" not in transactions:
        raise DataRequirementError(
            "segments.error.missing_roles", roles="customer_id, date, amount"
        )
    has_amount = "amount" in transactions
    has_qp = "quantity" in transactions and "unit_price" in transactions
    if not has_amount and not has_qp:
        raise DataRequirementError(
            "segments.error.missing_roles", roles="amount (or quantity × unit_price)"
        )
    dates = transactions["date"]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        dates = pd.to_datetime(dates, errors="coerce")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    keep = dates.notna().to_numpy() & transactions["customer_id"].notna().to_numpy()
    if as_of is None:
        as_of = default_as_of(dates[keep]) if keep.any() else None
    if as_of is None:
        raise DataRequirementError("segments.error.no_transactions")
    as_of = pd.Timestamp(as_of)
    keep &= (dates < as_of).to_numpy()
    if not keep.all():  # at the default as-of nothing is dropped: no copy of every column
        transactions, dates = transactions.loc[keep], dates[keep]
    tx = transactions

    quantity = (
        pd.to_numeric(tx["quantity"], errors="coerce").to_numpy(dtype=float)
        if "quantity" in tx
        else None
    )
    amount = (
        pd.to_numeric(tx["amount"], errors="coerce").to_numpy(dtype=float)
        if has_amount
        else np.full(len(tx), np.nan)
    )
    if has_qp:
        price = pd.to_numeric(tx["unit_price"], errors="coerce").to_numpy(dtype=float)
        amount = np.where(np.isnan(amount), quantity * price, amount)
    amount = np.where(np.isfinite(amount), amount, np.nan)

    returned = amount < 0
    if quantity is not None:
        returned |= quantity < 0
    date_ns = dates.to_numpy(dtype="datetime64[ns]").astype(np.int64)
    day = date_ns // (86_400 * 10**9)
    no_order = -(day - day.min()) - 1 if len(day) else day  # negative keys: customer-days
    order_id = tx.get("order_id")
    if order_id is not None:
        order_codes, order_ids = pd.factorize(order_id)
        order_codes = order_codes.astype(np.int64)
        returned |= _cancellation_mask(order_codes, order_ids)
        order_key = np.where(order_codes >= 0, order_codes, no_order)
    else:
        order_key = no_order
    purchase = ~returned & ~(amount <= 0)

    # customer codes follow the sorted ids, so every per-customer array is already in id order
    cust_codes, customers = pd.factorize(tx["customer_id"].astype("str"), sort=True)
    arrays = {
        "cust": cust_codes.astype(np.int64),
        "customers": pd.Index(customers, dtype="str"),
        "date": date_ns,
        "amount": amount,
        "quantity": quantity,
        "returned": returned,
        "purchase": purchase,
        "order_key": order_key,
        "category": tx.get("category"),
    }
    return arrays, as_of


def _orders(a: dict) -> tuple[np.ndarray, np.ndarray]:
    """One entry per purchase order: its customer code and its first timestamp.

    An order is a (customer, order key) pair. Usually every order id belongs to one customer,
    so the order codes already number the orders and one ``np.minimum.at`` gives their dates
    (about 20x faster than a groupby on 1,000,000 customers); otherwise the pairs are numbered
    first. The entries come in no particular order: callers only count and reduce them.
    """
    p = a["purchase"]
    cust, key, date = a["cust"][p], a["order_key"][p], a["date"][p]
    if len(cust) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if key.min() >= 0:  # every row has an order id: try the one-customer-per-order case
        owner = np.full(int(key.max()) + 1, -1, dtype=np.int64)
        owner[key] = cust
        if np.array_equal(owner[key], cust):
            return _first_per_code(key, date, owner)
    span = int(key.max() - key.min()) + 1
    codes, _ = pd.factorize(cust * span + (key - key.min()))
    order_cust = np.empty(int(codes.max()) + 1, np.int64)
    order_cust[codes] = cust
    return _first_per_code(codes, date, order_cust)


def _first_per_code(
    codes: np.ndarray, date: np.ndarray, owner: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Earliest date per code and the code's owner, for the codes that occur."""
    first = np.full(len(owner), _NO_DATE_MAX, dtype=np.int64)
    np.minimum.at(first, codes, date)
    seen = np.bincount(codes, minlength=len(owner)) > 0
    return owner[seen], first[seen]


def _rfm_arrays(a: dict, as_of: pd.Timestamp) -> dict[str, np.ndarray]:
    """Recency, frequency, monetary, first and last purchase per customer code."""
    n = len(a["customers"])
    p = a["purchase"]
    order_cust, order_date = _orders(a)
    frequency = np.bincount(order_cust, minlength=n).astype(float)
    monetary = np.bincount(a["cust"][p], weights=np.nan_to_num(a["amount"][p]), minlength=n)
    first = np.full(n, _NO_DATE_MAX, dtype=np.int64)
    last = np.full(n, _NO_DATE_MIN, dtype=np.int64)
    np.minimum.at(first, order_cust, order_date)
    np.maximum.at(last, order_cust, order_date)
    has = frequency > 0
    as_of_ns = as_of.to_datetime64().astype("datetime64[ns]").astype(np.int64)
    day_ns = 86_400 * 10**9
    recency = np.where(has, (as_of_ns - last) // day_ns, np.nan).astype(float)
    tenure = np.where(has, (as_of_ns - first) // day_ns, np.nan).astype(float)
    return {
        "frequency": frequency,
        "monetary": monetary,
        "recency": recency,
        "tenure": tenure,
        "first": first,
        "last": last,
        "has": has,
    }


def rfm_table(transactions: pd.DataFrame, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """Recency (whole days since last purchase), frequency (orders), monetary (revenue).

    Only customers with at least one purchase are returned, sorted by id, so RFM ranks do not
    depend on the row order of the file.
    """
    a, as_of = _prepare(transactions, as_of)
    r = _rfm_arrays(a, as_of)
    frame = pd.DataFrame(
        {"recency": r["recency"], "frequency": r["frequency"], "monetary": r["monetary"]},
        index=pd.Index(a["customers"], name="customer_id"),
    )
    frame = frame[r["has"]]
    frame.attrs["as_of"] = as_of
    return frame


def customer_features(
    transactions: pd.DataFrame,
    customers: pd.DataFrame | None = None,
    as_of: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """One row per customer (index ``customer_id``) of behaviour features, plus attributes.

    Rows are every customer seen in the transactions before ``as_of`` and, when ``customers`` is
    given, every customer of that table too (customers without purchases get frequency and
    monetary 0 and NaN for the rest, which the clustering pipeline imputes). Attributes come from
    :func:`attribute_features`; a clash with a behaviour name is prefixed ``attr_``.
    """
    a, as_of = _prepare(transactions, as_of)
    n = len(a["customers"])
    r = _rfm_arrays(a, as_of)
    frequency, monetary, has = r["frequency"], r["monetary"], r["has"]
    cust, p = a["cust"], a["purchase"]
    day_ns = 86_400 * 10**9

    with np.errstate(divide="ignore", invalid="ignore"):
        avg_order_value = np.where(has, monetary / frequency, np.nan)
        if a["quantity"] is not None:
            units = np.bincount(cust[p], weights=np.nan_to_num(a["quantity"][p]), minlength=n)
        else:  # no quantity: order lines per order
            units = np.bincount(cust[p], minlength=n).astype(float)
        items_per_order = np.where(has, units / frequency, np.nan)
        span_days = (r["last"] - r["first"]) / day_ns
        days_between = np.where(frequency > 1, span_days / (frequency - 1), np.nan)

        # trend: spend in the last 90 days vs the customer's average spend per 90 days before,
        # as (recent - baseline) / (recent + baseline): 0 steady, +1 all new, -1 stopped. Bounded
        # and currency-free, so it clusters well. NaN without history before the window (no
        # baseline for a new customer).
        as_of_ns = as_of.to_datetime64().astype("datetime64[ns]").astype(np.int64)
        window_start = as_of_ns - TREND_WINDOW_DAYS * day_ns
        recent_mask = p & (a["date"] >= window_start)
        recent = np.bincount(
            cust[recent_mask], weights=np.nan_to_num(a["amount"][recent_mask]), minlength=n
        )
        recent = np.maximum(recent, 0.0)
        prior_days = (window_start - r["first"]) / day_ns
        baseline = np.maximum(monetary - recent, 0.0) / np.maximum(
            prior_days / TREND_WINDOW_DAYS, 1.0
        )
        total = recent + baseline
        trend = np.where(total > 0, (recent - baseline) / total, 0.0)
        trend = np.where(has & (prior_days > 0), trend, np.nan)
        rows = np.bincount(cust, minlength=n).astype(float)
        returns = np.bincount(cust[a["returned"]], minlength=n).astype(float)
        return_rate = np.where(rows > 0, returns / rows, np.nan)

    data: dict[str, np.ndarray] = {
        "recency_days": r["recency"],
        "frequency": frequency,
        "monetary": monetary,
        "avg_order_value": avg_order_value,
        "tenure_days": r["tenure"],
        "items_per_order": items_per_order,
        "days_between_purchases": days_between,
        "trend_90d": trend,
        "return_rate": return_rate,
    }
    data.update(_category_shares(a, monetary))
    frame = pd.DataFrame(data, index=pd.Index(a["customers"], name="customer_id"))

    if customers is not None and len(customers):
        attributes = attribute_features(customers)
        clash = {c: f"attr_{c}" for c in attributes.columns if c in frame.columns}
        attributes = attributes.rename(columns=clash)
        missing = attributes.index.difference(frame.index)
        if len(missing):
            filler = pd.DataFrame(
                index=pd.Index(missing, name="customer_id"), columns=frame.columns
            )
            filler = filler.astype(float)
            zero_cols = ["frequency", "monetary"] + [c for c in frame if c.startswith("share_")]
            filler[zero_cols] = 0.0
            frame = pd.concat([frame, filler]).sort_index()
        frame = frame.join(attributes, how="left")
        frame.attrs["duplicate_customer_rows"] = attributes.attrs.get("duplicate_rows", 0)
    frame.index.name = "customer_id"
    frame.attrs["as_of"] = as_of
    return frame


def _category_shares(a: dict, monetary: np.ndarray) -> dict[str, np.ndarray]:
    """share_<category>: each customer's revenue share in the top categories (by revenue)."""
    if a["category"] is None:
        return {}
    p = a["purchase"]
    n = len(a["customers"])
    cat_codes, cats = pd.factorize(a["category"].astype("str").where(a["category"].notna()))
    cat_codes = cat_codes[p]
    amount = np.nan_to_num(a["amount"][p])
    valid = cat_codes >= 0
    if not valid.any():
        return {}
    revenue = np.bincount(cat_codes[valid], weights=amount[valid], minlength=len(cats))
    order = np.argsort(-revenue, kind="stable")[:MAX_CATEGORY_SHARES]
    slot = np.full(len(cats), -1)
    slot[order] = np.arange(len(order))
    slots = slot[np.where(valid, cat_codes, 0)]
    take = valid & (slots >= 0)
    cust = a["cust"][p]
    spend = np.bincount(
        cust[take] * len(order) + slots[take], weights=amount[take], minlength=n * len(order)
    ).reshape(n, len(order))
    out: dict[str, np.ndarray] = {}
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = np.where(monetary[:, None] > 0, spend / monetary[:, None], 0.0)
    for j, code in enumerate(order):
        out[f"share_{cats[code]}"] = shares[:, j]
    if len(cats) > len(order):
        out["share_other"] = np.clip(1.0 - shares.sum(axis=1), 0.0, 1.0) * (monetary > 0)
    return out


_ID_NAME = re.compile(
    r"(^|_)id$|^id(_|$)|(customer|client|user|member|account)_?(id|no|number|key)$"
)
_ID_MARKS = ("编号", "编码", "账号", "客户号")
_ID_SUFFIX = re.compile(r"(?<=[a-z_ \-])ID$|(?<=[a-z])Id$")  # CustomerID, userId; not PAID


def _is_id_name(name: object) -> bool:
    """Header that names an identifier: ``id``, ``customer_id``, ``CustomerID``, ``客户编号``."""
    text = str(name).strip()
    if _ID_SUFFIX.search(text):
        return True
    lower = re.sub(r"[\s\-]+", "_", text.lower())
    return bool(_ID_NAME.search(lower)) or any(
        m in text for m in ("编号", "编码", "账号", "客户号")
    )


def attribute_features(customers: pd.DataFrame) -> pd.DataFrame:
    """Customer attributes as model-ready columns, one row per customer.

    Numeric columns (and text columns that are really numbers, e.g. Telco ``TotalCharges`` with
    blanks) become float; booleans become 0/1; low-cardinality text becomes a ``category`` column
    for one-hot encoding inside the clustering pipeline; dates become days before the column's
    latest date. Identifier columns and free text never become features, and the whole table is
    never one-hot encoded.
    """
    frame = customers.copy()
    if "customer_id" in frame.columns:
        ids = frame.pop("customer_id")
    else:
        id_cols = [c for c in frame.columns if _is_id_name(c)]
        ids = frame.pop(id_cols[0]) if id_cols else pd.Series(frame.index, index=frame.index)
    index = pd.Index(ids.astype("str"), name="customer_id")
    out: dict[str, pd.Series] = {}
    for name in frame.columns:
        col = frame[name]
        if _is_id_name(name) or col.isna().all():
            continue
        if pd.api.types.is_bool_dtype(col):
            out[name] = col.astype(float)
        elif pd.api.types.is_numeric_dtype(col):
            if not _is_integer_key(col):
                out[name] = col.astype(float)
        elif pd.api.types.is_datetime64_any_dtype(col):
            out[f"{name}_days"] = (col.max() - col).dt.days.astype(float)
        else:
            text = col.astype("str").where(col.notna()).str.strip()
            text = text.where(text != "")
            numbers = pd.to_numeric(text, errors="coerce")
            present = text.notna().sum()
            if present and numbers.notna().sum() >= 0.95 * present:
                out[name] = numbers.astype(float)
            elif text.nunique() <= MAX_ATTRIBUTE_CATEGORIES and text.nunique() < max(len(text), 2):
                out[name] = text.astype("category")
            # else: free text or a disguised key -> not a feature
    result = pd.DataFrame({k: v.reset_index(drop=True) for k, v in out.items()})
    result.index = index
    duplicated = result.index.duplicated(keep="first")
    result = result[~duplicated]
    result.attrs["duplicate_rows"] = int(duplicated.sum())
    return result


def _is_integer_key(col: pd.Series) -> bool:
    """Distinct consecutive integers (1..n, row numbers, serial ids) are a key, not a measure."""
    values = col.dropna()
    if len(values) < 20 or not pd.api.types.is_integer_dtype(values) or not values.is_unique:
        return False
    return int(values.max()) - int(values.min()) + 1 == len(values)


def numeric_features(frame: pd.DataFrame) -> list[str]:
    """Columns usable as numeric clustering features (float/int/bool)."""
    return [
        c
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
    ]


def categorical_features(frame: pd.DataFrame) -> list[str]:
    """Columns one-hot encoded inside the clustering pipeline."""
    return [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]


def dataset_features(dataset: Dataset, as_of: pd.Timestamp | None = None) -> pd.DataFrame:
    """The customer feature table of a dataset: behaviour from transactions when it has them,
    otherwise the customer attributes alone (Mall Customers, Telco)."""
    transactions = dataset.get("transactions")
    customers = dataset.get("customers")
    if customers is not None:
        # Outcome labels (churned yes/no) describe what happened, not how customers behave.
        labels = [role for role, kind in ROLES["customers"].items() if kind == "label"]
        customers = customers.drop(columns=[c for c in labels if c in customers.columns])
    if transactions is not None and len(transactions) and "customer_id" in transactions.columns:
        return customer_features(transactions, customers, as_of)
    if customers is not None and len(customers) and "customer_id" in customers.columns:
        return attribute_features(customers)
    raise DataRequirementError("segments.error.no_customers")
