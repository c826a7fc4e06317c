"""Home: what the studio does, the active dataset's key figures, and where to start."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from crm_core.overview import key_figures
from pages._nav import PAGES
from pages._ui import active_dataset, lang, tr

st.title(tr("home.title"))
st.write(tr("home.tagline"))

dataset = active_dataset()
if dataset is None:
    st.info(tr("app.no_dataset"))
else:
    st.subheader(tr("home.figures", name=dataset.name))
    figures = key_figures(dataset)
    customers, orders, revenue, period = st.columns(4)
    customers.metric(tr("home.customers"), f"{figures.customers:,}", border=True)
    orders.metric(
        tr("home.orders"), "—" if figures.orders is None else f"{figures.orders:,}", border=True
    )
    revenue.metric(
        tr("home.revenue"),
        "—" if figures.revenue is None else f"{figures.revenue:,.0f}",
        chart_data=figures.monthly_revenue.round(2).tolist() or None,
        chart_type="area",
        help=tr("home.revenue_help"),
        border=True,
    )
    months = None
    if figures.first_date is not None:
        months = (
            (figures.last_date.year - figures.first_date.year) * 12
            + (figures.last_date.month - figures.first_date.month)
            + 1
        )
    period.metric(
        tr("home.period"),
        "—" if months is None else tr("home.months", n=months),
        help=None
        if months is None
        else tr(
            "home.period_help",
            first=f"{figures.first_date:%Y-%m-%d}",
            last=f"{figures.last_date:%Y-%m-%d}",
        ),
        border=True,
    )
    st.caption(
        tr(
            "home.rows",
            details=", ".join(f"{tr('table.' + k)} {v:,}" for k, v in figures.rows.items()),
        )
        + (
            ""
            if figures.first_date is None
            else " · "
            + tr(
                "home.period_help",
                first=f"{figures.first_date:%Y-%m-%d}",
                last=f"{figures.last_date:%Y-%m-%d}",
            )
        )
    )

st.subheader(tr("home.start"))
for entry in PAGES[1:]:
    st.page_link(entry.file, label=tr(f"home.start.{Path(entry.file).stem}"), icon=entry.icon)
st.caption(tr("home.language_hint", language="English" if lang() == "zh" else "简体中文"))
