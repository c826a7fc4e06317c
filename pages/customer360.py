"""Customer 360: find a customer, see every analysis about them, offer the next-best products."""

from __future__ import annotations

from typing import Any

import pandas as pd
import streamlit as st

from crm_core.charts.customer360 import category_chart, evaluation_chart, timeline_chart
from crm_core.customer360 import (
    CustomerContext,
    CustomerProfile,
    churn_of,
    churn_scores,
    customer_context,
    customer_profile,
    search_customers,
)
from crm_core.errors import CrmError
from crm_core.i18n import has_key, t
from crm_core.recommend import (
    METHODS,
    Recommender,
    RecommendParams,
    evaluate_recommenders,
    fit_recommender,
    reason_texts,
    recommend,
)
from crm_core.segment_labels import RFM_CHOICE, segment_choices, segment_labels
from crm_core.segmentation import Note
from crm_core.store import Workspace
from crm_core.tables import Dataset
from pages._ui import (
    export_buttons,
    get_workspace,
    labels,
    lang,
    md_escape,
    require_dataset,
    select_dataset,
    show_error,
    show_flashes,
    tr,
)

SEARCH_LIMIT = 50
ALL_CUSTOMERS = "__all__"
CUSTOMER_KEY = "c360_customer"


@st.cache_data(max_entries=4, ttl=3600, show_spinner=False)
def _context(fingerprint: str, _dataset: Dataset) -> CustomerContext:
    """RFM, CLV and category shares once per dataset version (churn is cached apart: it is the
    slow part and is drawn last)."""
    return customer_context(_dataset, churn=False)


@st.cache_data(max_entries=4, ttl=3600, show_spinner=False)
def _churn(fingerprint: str, _dataset: Dataset) -> tuple[pd.DataFrame | None, Note | None]:
    return churn_scores(_dataset)


@st.cache_resource(max_entries=8, ttl=3600, show_spinner=False)
def _model(fingerprint: str, params: RecommendParams, _dataset: Dataset) -> Recommender:
    """One fitted recommender per dataset version and settings (read-only once fitted)."""
    customers = _dataset.get("customers")
    ids = customers["customer_id"] if customers is not None and "customer_id" in customers else None
    return fit_recommender(_dataset.tables["transactions"], params, ids)


@st.cache_data(max_entries=4, ttl=3600, show_spinner=False)
def _evaluation(fingerprint: str, k: int, _dataset: Dataset) -> pd.DataFrame:
    return evaluate_recommenders(_dataset.tables["transactions"], METHODS, k)


def _number(value: Any, kind: str) -> str:
    if value is None:
        return "–"
    if kind == "percent":
        return f"{value:.0%}"
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "date":
        return pd.Timestamp(value).strftime("%Y-%m-%d")
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if value == value.normalize() else str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _field_label(field: str) -> str:
    """A customer column's name: the role's translated name for mapped roles, else the header."""
    key = f"schema.role.{field}"
    return tr(key) if has_key(key) else field


def _choose_customer(dataset: Dataset, context: CustomerContext) -> str | None:
    query = st.text_input(
        tr("c360page.search"),
        key="c360_query",
        type="search",
        live="300ms",
        placeholder=tr("c360page.search_placeholder"),
    )
    matches = search_customers(dataset, query, SEARCH_LIMIT, context)
    if matches.empty:
        st.info(tr("c360page.no_match", query=query))
        return None
    ids = matches["customer_id"].tolist()
    names = dict(zip(ids, matches["name"], strict=True))
    if st.session_state.get(CUSTOMER_KEY) not in ids:
        st.session_state[CUSTOMER_KEY] = ids[0]
    return st.selectbox(
        tr("c360page.customer", count=len(ids)),
        ids,
        key=CUSTOMER_KEY,
        format_func=labels(ids, lambda c: f"{c} · {names[c]}" if names[c] else c),
    )


def _notes(notes: list[Note]) -> None:
    for note in notes:
        st.info(note.text(lang()))


def _figures(profile: CustomerProfile) -> Any:
    """Key figures; returns the slot where the churn figure goes once it is computed."""
    f = profile.figures
    cols = st.columns(6)
    cell = f"R{f['r']} F{f['f']} M{f['m']}" if f["r"] is not None else None
    cols[0].metric(
        tr("c360page.metric.segment"),
        f["segment_name"] or "–",
        cell,
        delta_color="off",
        delta_arrow="off",
    )
    cols[1].metric(tr("c360page.metric.orders"), _number(f["orders"], "count"))
    cols[2].metric(tr("c360page.metric.revenue"), _number(f["revenue"], "money"))
    cols[3].metric(tr("c360page.metric.clv"), _number(f["clv"], "money"))
    cols[4].metric(tr("c360page.metric.p_alive"), _number(f["p_alive"], "percent"))
    satisfaction = f["satisfaction"]
    cols[5].metric(
        tr("c360page.metric.satisfaction"),
        _number(satisfaction, "number"),
        _number(f["satisfaction_date"], "date") if f["satisfaction_date"] else None,
        delta_color="off",
        delta_arrow="off",  # the delta is the response's date, not a change
    )
    return st.container()


def _churn_slot(slot: Any, dataset: Dataset, customer: str) -> None:
    with slot, st.spinner(tr("c360page.churn_running")):
        scores, note = _churn(dataset.fingerprint, dataset)
    probability, factors, why = churn_of(scores, note, customer, lang())
    if probability is None:
        slot.caption(why.text(lang()) if why else "")
        return
    left, right = slot.columns([1, 5])
    left.metric(tr("c360page.metric.churn"), _number(probability, "percent"))
    right.caption(tr("c360page.churn_model"))
    # st.text shows plain text: the factors (which quote user categories) need no escaping
    right.text(t("c360page.churn_factors", lang(), factors=factors) if factors else "")


def _timeline(profile: CustomerProfile) -> None:
    st.plotly_chart(timeline_chart(profile.timeline, lang()), width="stretch")
    table = profile.timeline.copy()
    if table.empty:
        return
    table["date"] = table["date"].dt.strftime("%Y-%m-%d")
    table["kind"] = table["kind"].map(lambda k: tr(f"recommend.profile.kind.{k}"))
    table.columns = [tr(f"c360page.timeline.{c}") for c in table.columns]
    st.dataframe(table, hide_index=True, width="stretch", height=240)


def _edit_form(dataset: Dataset, profile: CustomerProfile) -> None:
    """Edit the customer's record through the workspace; invalid values name the column."""
    customers = dataset.get("customers")
    fields = [c for c in customers.columns if c != "customer_id"] if customers is not None else []
    if not fields:
        st.caption(tr("c360page.no_attributes"))
        return
    with st.form("customer360_edit"):
        st.markdown(f"**{tr('c360page.edit')}**")
        cols = st.columns(3)
        typed = {}
        for index, field in enumerate(fields):
            current = _as_text(profile.attributes.get(field))
            typed[field] = (
                current,
                cols[index % 3].text_input(
                    _field_label(field),
                    value=current,
                    key=f"edit360:{profile.customer_id}:{field}",
                ),
            )
        if st.form_submit_button(tr("c360page.save")):
            changes = {f: new for f, (old, new) in typed.items() if new.strip() != old.strip()}
            if not changes:
                st.info(tr("c360page.unchanged"))
                return
            try:
                get_workspace().upsert_customer(dataset.name, profile.customer_id, changes)
            except CrmError as error:
                show_error(error)
                return
            select_dataset(
                dataset.name,
                tr("c360page.saved", customer=profile.customer_id, fields=", ".join(changes)),
            )


def _profile_tab(dataset: Dataset, context: CustomerContext, customer: str) -> None:
    try:
        profile = customer_profile(dataset, customer, lang=lang(), context=context)
    except CrmError as error:
        show_error(error)
        return
    st.subheader(md_escape(f"{profile.name} ({profile.customer_id})" if profile.name else customer))
    _notes(profile.notes)
    churn_slot = _figures(profile)
    left, right = st.columns([3, 2])
    with left:
        _timeline(profile)
    with right:
        st.plotly_chart(category_chart(profile.categories, lang()), width="stretch")
    attributes = pd.DataFrame(
        {
            tr("c360page.attribute"): [_field_label(f) for f in profile.attributes],
            tr("c360page.value"): [_as_text(v) for v in profile.attributes.values()],
        }
    )
    left, right = st.columns([1, 2])
    left.dataframe(attributes, hide_index=True, width="stretch")
    with right:
        _edit_form(dataset, profile)
    _churn_slot(churn_slot, dataset, customer)


def _shown_recommendations(recs: pd.DataFrame, with_customer: bool) -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "customer_id": recs["customer_id"],
            "rank": recs["rank"],
            "item": recs["item"],
            "reason": reason_texts(recs, lang()),
            "score": recs["score"].round(4),
        }
    )
    if not with_customer:
        table = table.drop(columns=["customer_id"])
    table.columns = [tr(f"recommend.column.{c}") for c in table.columns]
    return table


def _method_choice(key: str) -> str:
    return st.radio(
        tr("c360page.method"),
        METHODS,
        index=METHODS.index("itemknn"),
        key=key,
        horizontal=True,
        format_func=labels(METHODS, lambda m: tr(f"recommend.method.{m}")),
        help=tr("c360page.method_help"),
    )


def _fitted(dataset: Dataset, method: str, n: int) -> Recommender | None:
    if not dataset.has("transactions", "customer_id", "item"):
        st.info(tr("c360page.needs_items"))
        return None
    try:
        with st.spinner(tr("c360page.fitting")):
            model = _model(dataset.fingerprint, RecommendParams(method=method, n=n), dataset)
    except CrmError as error:
        show_error(error)
        return None
    _notes(model.notes)
    return model


def _recommend_tab(dataset: Dataset, customer: str) -> None:
    cols = st.columns([3, 1])
    with cols[0]:
        method = _method_choice("c360_method")
    n = cols[1].slider(tr("c360page.n"), 3, 30, 10, key="c360_n")
    model = _fitted(dataset, method, n)
    if model is None:
        return
    try:
        recs = recommend(model, [customer], n)
    except CrmError as error:
        show_error(error)
        return
    st.caption(tr(f"c360page.method_caption.{method}"))
    st.dataframe(_shown_recommendations(recs, False), hide_index=True, width="stretch")


def _batch_customers(dataset: Dataset, workspace: Workspace) -> tuple[list[str] | None, str]:
    choices = [ALL_CUSTOMERS, *segment_choices(workspace, dataset)]
    cols = st.columns(2)
    scope = cols[0].selectbox(
        tr("c360page.scope"),
        choices,
        key="c360_scope",
        format_func=labels(
            choices,
            lambda c: (
                tr("c360page.scope_all")
                if c == ALL_CUSTOMERS
                else tr("seglabels.rfm")
                if c == RFM_CHOICE
                else c
            ),
        ),
    )
    if scope == ALL_CUSTOMERS:
        return None, "all"
    names = segment_labels(dataset, scope, workspace, lang())
    segments = sorted(names.unique())
    segment = cols[1].selectbox(tr("c360page.segment"), segments, key="c360_segment")
    return names.index[names == segment].tolist(), str(segment)


def _recommenders_tab(dataset: Dataset) -> None:
    if not dataset.has("transactions", "customer_id", "item"):
        st.info(tr("c360page.needs_items"))
        return
    st.markdown(f"**{tr('c360page.evaluation')}**")
    k = 10
    try:
        with st.spinner(tr("c360page.evaluating")):
            table = _evaluation(dataset.fingerprint, k, dataset)
    except CrmError as error:
        show_error(error)
        table = None
    if table is not None:
        count = int(table["customers"].max()) if len(table) else 0
        st.caption(tr("c360page.evaluation_caption", k=k, customers=count))
        shown = table.copy()
        shown["method"] = shown["method"].map(lambda m: tr(f"recommend.method.{m}"))
        shown["note"] = shown["note"].map(lambda key: tr(key) if key else "")
        for column in ("hit_rate", "precision", "recall", "coverage"):
            shown[column] = shown[column].map(lambda v: "–" if pd.isna(v) else f"{v:.1%}")
        shown.columns = [tr(f"recommend.column.{c}") for c in shown.columns]
        left, right = st.columns([3, 2])
        left.dataframe(shown, hide_index=True, width="stretch")
        right.plotly_chart(evaluation_chart(table, lang()), width="stretch")
    st.markdown(f"**{tr('c360page.batch')}**")
    workspace = get_workspace()
    try:
        ids, scope = _batch_customers(dataset, workspace)
    except CrmError as error:
        show_error(error)
        return
    cols = st.columns([3, 1])
    with cols[0]:
        method = _method_choice("c360_batch_method")
    n = cols[1].slider(tr("c360page.n"), 3, 30, 10, key="c360_batch_n")
    model = _fitted(dataset, method, n)
    if model is None:
        return
    if ids is not None:
        ids = [c for c in ids if c in set(model.customers)]
    recs = recommend(model, ids, n)
    table = _shown_recommendations(recs, True)
    st.caption(
        tr("c360page.batch_caption", customers=recs["customer_id"].nunique(), rows=len(recs))
    )
    st.dataframe(table.head(500), hide_index=True, width="stretch", height=300)
    export_buttons(table, f"recommendations_{method}_{scope}", "recs_export")


st.title(tr("c360page.title"))
st.caption(tr("c360page.intro"))
show_flashes()
dataset = require_dataset()
with st.spinner(tr("c360page.preparing")):
    context = _context(dataset.fingerprint, dataset)
customer = _choose_customer(dataset, context)
if customer is not None:
    # Only the open tab runs: the evaluation and a batch cost seconds, a profile milliseconds.
    profile_tab, recommend_tab, recommenders_tab = st.tabs(
        [tr("c360page.tab.profile"), tr("c360page.tab.recommend"), tr("c360page.tab.recommenders")],
        key="c360_tab",
        on_change="rerun",
    )
    with profile_tab:
        if profile_tab.open:
            _profile_tab(dataset, context, customer)
    with recommend_tab:
        if recommend_tab.open:
            _recommend_tab(dataset, customer)
    with recommenders_tab:
        if recommenders_tab.open:
            _recommenders_tab(dataset)
