"""Canonical tables and roles: the one vocabulary every module and page shares.

A workspace dataset is a bundle of up to five tables. Columns a user maps onto a role get the
role's name; unmapped columns are kept as extra attributes under a cleaned version of their header.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

TABLES: tuple[str, ...] = ("customers", "transactions", "communications", "feedback", "campaigns")

# role -> kind; kinds drive parsing: id/text are str, date is datetime64, number/money float.
ROLES: dict[str, dict[str, str]] = {
    "customers": {
        "customer_id": "id",
        "name": "text",
        "gender": "category",
        "age": "number",
        "city": "category",
        "signup_date": "date",
        "churn": "label",
    },
    "transactions": {
        "customer_id": "id",
        "order_id": "id",
        "date": "date",
        "item": "text",
        "category": "category",
        "quantity": "number",
        "unit_price": "money",
        "amount": "money",
        "cost": "money",
    },
    "communications": {
        "customer_id": "id",
        "date": "date",
        "channel": "category",
        "direction": "category",
        "text": "text",
        "category": "category",
        "outcome": "category",
    },
    "feedback": {
        "customer_id": "id",
        "order_id": "id",
        "date": "date",
        "score": "number",
        "nps": "number",
        "text": "text",
        "channel": "category",
    },
    "campaigns": {
        "customer_id": "id",
        "campaign": "category",
        "date": "date",
        "channel": "category",
        "contacts": "number",
        "responded": "label",
        "revenue": "money",
    },
}


@dataclass
class Dataset:
    """A named bundle of canonical tables, as stored in the workspace or read from files."""

    name: str
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    fingerprint: str = ""

    def has(self, table: str, *roles: str) -> bool:
        """Whether ``table`` exists, has rows and holds every given role."""
        frame = self.tables.get(table)
        return frame is not None and len(frame) > 0 and all(r in frame.columns for r in roles)

    def get(self, table: str) -> pd.DataFrame | None:
        """The table, or None when the dataset has none."""
        return self.tables.get(table)
