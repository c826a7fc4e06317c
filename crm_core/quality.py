"""Quality report of a stored dataset: missing values, match rates, activity over time.

Validation of an incoming file lives in ``crm_core.schema``; this module describes what a dataset
holds once it is in the workspace, for the Data page's charts and ``crm quality``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from crm_core.schema import duplicated_rows
from crm_core.tables import TABLES, Dataset


@dataclass(frozen=True)
class MatchRate:
    """How many customer ids of one table have a profile in the customers table."""

    table: str
    customers: int
    matched: int
    unmatched_rows: int

    @property
    def unmatched_share(self) -> float:
        """Share of this table's customers with no profile."""
        return 0.0 if not self.customers else 1 - self.matched / self.customers


@dataclass
class QualityReport:
    """Everything the Data page's quality tab shows."""

    rows: dict[str, int]
    missing: pd.DataFrame  # table, column, missing, share
    match_rates: list[MatchRate] = field(default_factory=list)
    monthly_activity: pd.DataFrame = field(default_factory=pd.DataFrame)  # month, table, rows
    duplicate_rows: dict[str, int] = field(default_factory=dict)
    numeric_summary: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_dict(self) -> dict:
        """JSON-ready form for ``crm quality``."""
        return {
            "rows": self.rows,
            "duplicate_rows": self.duplicate_rows,
            "missing": [
                {**r, "share": round(float(r["share"]), 4)}
                for r in self.missing.to_dict("records")
                if r["missing"]
            ],
            "match_rates": [
                {
                    "table": m.table,
                    "customers": m.customers,
                    "matched": m.matched,
                    "unmatched_share": round(m.unmatched_share, 4),
                    "unmatched_rows": m.unmatched_rows,
                }
                for m in self.match_rates
            ],
            "monthly_activity": [
                {"month": r["month"].strftime("%Y-%m"), "table": r["table"], "rows": int(r["rows"])}
                for r in self.monthly_activity.to_dict("records")
            ],
        }


def quality_report(dataset: Dataset) -> QualityReport:
    """Describe a dataset: missing values, duplicates, match rates and monthly activity."""
    rows = {name: len(frame) for name, frame in dataset.tables.items()}
    missing_rows = []
    duplicates: dict[str, int] = {}
    numeric = []
    activity = []
    for name in TABLES:
        frame = dataset.get(name)
        if frame is None:
            continue
        counts = frame.isna().sum()
        for column, count in counts.items():
            missing_rows.append(
                {
                    "table": name,
                    "column": str(column),
                    "missing": int(count),
                    "share": float(count) / len(frame) if len(frame) else 0.0,
                }
            )
        duplicates[name] = int(duplicated_rows(frame).sum()) if len(frame) else 0
        for column in frame.select_dtypes("number").columns:
            values = frame[column].dropna()
            if len(values):
                numeric.append(
                    {
                        "table": name,
                        "column": str(column),
                        "min": float(values.min()),
                        "median": float(values.median()),
                        "mean": float(values.mean()),
                        "max": float(values.max()),
                    }
                )
        if "date" in frame.columns and frame["date"].notna().any():
            per_month = frame["date"].dt.to_period("M").value_counts().sort_index()
            activity.extend(
                {"month": period.to_timestamp(), "table": name, "rows": int(count)}
                for period, count in per_month.items()
            )
    return QualityReport(
        rows=rows,
        missing=pd.DataFrame(missing_rows, columns=["table", "column", "missing", "share"]),
        match_rates=match_rates(dataset),
        monthly_activity=pd.DataFrame(activity, columns=["month", "table", "rows"]),
        duplicate_rows=duplicates,
        numeric_summary=pd.DataFrame(numeric),
    )


def match_rates(dataset: Dataset) -> list[MatchRate]:
    """For each table with customer ids, how many have a profile in ``customers``."""
    customers = dataset.get("customers")
    if customers is None or "customer_id" not in customers.columns:
        return []
    known = set(customers["customer_id"].dropna().astype(str))
    rates = []
    for name in TABLES[1:]:
        frame = dataset.get(name)
        if frame is None or "customer_id" not in frame.columns:
            continue
        ids = frame["customer_id"].dropna().astype(str)
        distinct = ids.unique()
        matched = sum(1 for value in distinct if value in known)
        unmatched_rows = int((~ids.isin(known)).sum())
        rates.append(MatchRate(name, len(distinct), matched, unmatched_rows))
    return rates


def unmatched_rows(dataset: Dataset, table: str) -> pd.DataFrame:
    """Rows of ``table`` whose customer has no profile, kept visible rather than dropped."""
    frame = dataset.get(table)
    customers = dataset.get("customers")
    if frame is None or customers is None or "customer_id" not in frame.columns:
        return pd.DataFrame()
    known = customers["customer_id"].dropna().astype(str)
    return frame[~frame["customer_id"].astype(str).isin(known)]
