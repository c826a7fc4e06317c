"""Key figures of a dataset for the home page and ``crm datasets``: one place, same numbers."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from crm_core.tables import Dataset


@dataclass(frozen=True)
class KeyFigures:
    """Headline numbers; None where the dataset cannot tell (no transactions, no amounts)."""

    customers: int
    orders: int | None
    revenue: float | None
    first_date: pd.Timestamp | None
    last_date: pd.Timestamp | None
    monthly_revenue: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    rows: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """JSON-ready form for the CLI."""
        return {
            "customers": self.customers,
            "orders": self.orders,
            "revenue": None if self.revenue is None else round(self.revenue, 2),
            "first_date": None if self.first_date is None else self.first_date.date().isoformat(),
            "last_date": None if self.last_date is None else self.last_date.date().isoformat(),
            "rows": self.rows,
        }


def line_amounts(transactions: pd.DataFrame) -> pd.Series | None:
    """Money per transaction row: ``amount`` or ``quantity × unit_price``; None when neither."""
    if "amount" in transactions.columns:
        return pd.to_numeric(transactions["amount"], errors="coerce")
    if {"quantity", "unit_price"} <= set(transactions.columns):
        quantity = pd.to_numeric(transactions["quantity"], errors="coerce")
        return quantity * pd.to_numeric(transactions["unit_price"], errors="coerce")
    return None


def key_figures(dataset: Dataset) -> KeyFigures:
    """Customers, orders, revenue, date range and monthly revenue of a dataset."""
    rows = {name: len(frame) for name, frame in dataset.tables.items()}
    ids: set[str] = set()
    for frame in dataset.tables.values():
        if "customer_id" in frame.columns:
            ids.update(frame["customer_id"].dropna().astype(str).unique())
    tx = dataset.get("transactions")
    if tx is None or tx.empty:
        return KeyFigures(len(ids), None, None, None, None, rows=rows)
    orders = None
    if "order_id" in tx.columns:
        orders = int(tx["order_id"].nunique())
    elif {"customer_id", "date"} <= set(tx.columns):
        orders = int(tx[["customer_id", "date"]].drop_duplicates().shape[0])
    amounts = line_amounts(tx)
    revenue = None if amounts is None else float(amounts.sum())
    first = last = None
    monthly = pd.Series(dtype=float)
    if "date" in tx.columns and tx["date"].notna().any():
        first, last = tx["date"].min(), tx["date"].max()
        if amounts is not None:
            monthly = (
                amounts.groupby(tx["date"].dt.to_period("M")).sum().sort_index().rename("revenue")
            )
            monthly.index = monthly.index.to_timestamp()
    return KeyFigures(len(ids), orders, revenue, first, last, monthly, rows)
