"""Recommendations: every customer of a 100,000 x 10,000 shop in batch, and one customer's page.

Targets (issue "Customer 360 and recommendations"): recommendations for 100,000 customers x
10,000 items in batch within 30 s; one customer's page within 1 s.

Data (seeded): 100,000 customers, 10,000 items in 200 groups of 50 (a group is a category);
each customer prefers one to three groups and places 1-8 orders of 1-6 items, 80 % from their
groups and 20 % from a popularity-skewed whole catalogue. Batch = fit + top 10 with reasons for
every customer, from the transactions frame, per method. Page = what the Customer 360 page
computes per customer once the dataset-wide parts are cached: the profile (from a prepared
context) and the top 10 of all four fitted recommenders.

Baseline in the same run: scikit-learn ``NearestNeighbors(metric="cosine", algorithm="brute")``
over the sparse item x customer matrix, finding the same 20 neighbours per item — the part of
item-item CF that a library would do for us (scoring the customers is left out, so the ratio
flatters the baseline). A dense numpy cosine is not run: the dense customer x item matrix alone
would take 8 GB.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import measure, ratio, report

from crm_core.recommend import METHODS, RecommendParams, build_purchases, fit_recommender, recommend

N_CUSTOMERS = 100_000
N_ITEMS = 10_000
GROUP = 50
NEIGHBOURS = 20


def shop(seed: int = 11) -> pd.DataFrame:
    """Seeded transactions with group (category) structure and a popularity skew."""
    rng = np.random.default_rng(seed)
    n_groups = N_ITEMS // GROUP
    orders = rng.integers(1, 9, N_CUSTOMERS)
    customer_of_order = np.repeat(np.arange(N_CUSTOMERS), orders)
    lines = rng.integers(1, 7, customer_of_order.size)
    order_of_line = np.repeat(np.arange(customer_of_order.size), lines)
    customer = customer_of_order[order_of_line]
    favourite = rng.integers(0, n_groups, (N_CUSTOMERS, 3))
    n_favourite = rng.integers(1, 4, N_CUSTOMERS)
    pick = (rng.random(customer.size) * n_favourite[customer]).astype(np.int64)
    group = favourite[customer, pick]
    in_group = group * GROUP + (rng.zipf(1.6, customer.size) - 1) % GROUP
    weights = 1.0 / np.arange(1, N_ITEMS + 1) ** 0.8
    anywhere = rng.choice(N_ITEMS, customer.size, p=weights / weights.sum())
    item = np.where(rng.random(customer.size) < 0.8, in_group, anywhere)
    day = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, customer.size), "D")
    return pd.DataFrame(
        {
            "customer_id": pd.array([f"C{c:06d}" for c in customer], dtype="str"),
            "order_id": pd.array([f"O{o:07d}" for o in order_of_line], dtype="str"),
            "date": day,
            "item": pd.array([f"item {i:05d}" for i in item], dtype="str"),
            "category": pd.array([f"group {i // GROUP:03d}" for i in item], dtype="str"),
            "quantity": 1.0,
            "unit_price": (1 + item % 97).astype(float),
            "amount": (1 + item % 97).astype(float),
        }
    )


def batch(transactions: pd.DataFrame, method: str) -> dict:
    model = fit_recommender(transactions, RecommendParams(method=method, neighbours=NEIGHBOURS))
    recs = recommend(model)
    return {"rows": len(recs), "customers": int(recs["customer_id"].nunique())}


def sklearn_neighbours(transactions: pd.DataFrame) -> dict:
    from sklearn.neighbors import NearestNeighbors

    purchases = build_purchases(transactions)
    items = purchases.binary.T.tocsr()
    model = NearestNeighbors(n_neighbors=NEIGHBOURS + 1, metric="cosine", algorithm="brute")
    model.fit(items)
    _, found = model.kneighbors(items)
    return {"items": int(found.shape[0])}


def our_neighbours(transactions: pd.DataFrame) -> dict:
    purchases = build_purchases(transactions)
    model = fit_recommender(purchases, RecommendParams(method="itemknn", neighbours=NEIGHBOURS))
    return {"similarities": int(model.similarity.nnz)}


def page(transactions: pd.DataFrame) -> dict:
    """The per-customer part of the page, after the dataset-wide parts (cached on the page)."""
    from crm_core.customer360 import customer_context, customer_profile, search_customers
    from crm_core.tables import Dataset

    dataset = Dataset("bench", {"transactions": transactions})
    started = time.perf_counter()
    context = customer_context(dataset, churn=False)
    models = {m: fit_recommender(transactions, RecommendParams(method=m)) for m in METHODS}
    prepared = time.perf_counter() - started
    times = []
    for customer in ("C000042", "C031337", "C099999"):
        started = time.perf_counter()
        search_customers(dataset, customer[:5], 50, context)
        customer_profile(dataset, customer, context=context)
        for model in models.values():
            recommend(model, [customer], 10)
        times.append(time.perf_counter() - started)
    return {
        "per_customer_s": round(max(times), 4),
        "dataset_parts_once_s": round(prepared, 2),
    }


def main() -> None:
    transactions = shop()
    payload: dict = {
        "customers": N_CUSTOMERS,
        "items": N_ITEMS,
        "rows": len(transactions),
        "target": "< 30 s batch for 100,000 customers x 10,000 items; < 1 s per customer page",
    }
    for method in METHODS:
        result = measure(lambda m=method: batch(transactions, m))
        payload[f"batch_{method}_s"] = result["seconds"]
        payload[f"batch_{method}_peak_mb"] = result["peak_mb"]
        payload[f"batch_{method}"] = result["extra"] or result["error"]
    ours = measure(lambda: our_neighbours(transactions))
    baseline = measure(lambda: sklearn_neighbours(transactions))
    payload["item_neighbours_ours_s"] = ours["seconds"]
    payload["item_neighbours_sklearn_brute_cosine_s"] = baseline["seconds"]
    payload["item_neighbours_sklearn_peak_mb"] = baseline["peak_mb"]
    payload["ratio_item_neighbours_vs_sklearn"] = ratio(ours["seconds"], baseline["seconds"])
    payload["ratio_batch_itemknn_vs_sklearn_neighbours_only"] = ratio(
        payload["batch_itemknn_s"], baseline["seconds"]
    )
    one = measure(lambda: page(transactions))
    payload["page"] = one["extra"] or one["error"]
    payload["page_peak_mb"] = one["peak_mb"]
    report("recommend", payload)


if __name__ == "__main__":
    main()
