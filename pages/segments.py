"""Segments: RFM and clustering that managers can read, with diagnostics analysts can defend."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from crm_core.charts.segments import (
    MAP_MAX_POINTS,
    k_distance_chart,
    k_sweep_chart,
    radar_chart,
    rfm_grid_heatmap,
    rfm_treemap,
    segment_map,
    silhouette_chart,
    zscore_heatmap,
)
from crm_core.errors import CrmError
from crm_core.features import dataset_features, feature_label
from crm_core.i18n import t
from crm_core.segmentation import (
    COVARIANCE_TYPES,
    K_ALGORITHMS,
    LINKAGES,
    SCALERS,
    ClusterParams,
    ClusterResult,
    RfmParams,
    RfmResult,
    SegmentProfiles,
    available_algorithms,
    compare_segmentations,
    default_features,
    k_distance,
    k_sweep,
    labels_frame,
    profile_segments,
    run_clustering,
    run_rfm,
    segment_name,
    silhouette_per_sample,
    stability,
    suggest_eps,
)
from crm_core.tables import Dataset
from pages._ui import export_buttons, get_workspace, labels, lang, require_dataset, show_error, tr

SAVED_KIND = "segments"


@st.cache_data(max_entries=8, ttl=3600, show_spinner=False)
def _features(fingerprint: str, as_of: pd.Timestamp | None, _dataset: Dataset) -> pd.DataFrame:
    return dataset_features(_dataset, as_of)


@st.cache_data(max_entries=8, ttl=3600, show_spinner=False)
def _rfm(fingerprint: str, as_of: pd.Timestamp | None, _dataset: Dataset) -> RfmResult:
    return run_rfm(_dataset.tables["transactions"], RfmParams(as_of=as_of))


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def _clusters(
    fingerprint: str,
    as_of: pd.Timestamp | None,
    key: str,
    _features: pd.DataFrame,
    _params: ClusterParams,
) -> ClusterResult:
    return run_clustering(_features, _params)


@st.cache_data(max_entries=16, ttl=3600, show_spinner=False)
def _profiles(
    fingerprint: str,
    as_of: pd.Timestamp | None,
    key: str,
    _features: pd.DataFrame,
    _labels: pd.Series,
    _columns: tuple[str, ...],
) -> SegmentProfiles:
    # Names and profiles come from the features the segments were built on.
    return profile_segments(_features, _labels, columns=list(_columns))


def _as_of_widget(dataset: Dataset) -> pd.Timestamp | None:
    tx = dataset.get("transactions")
    if tx is None or "date" not in tx.columns or tx["date"].isna().all():
        return None
    first, last = tx["date"].min().date(), tx["date"].max().date()
    chosen = st.date_input(
        tr("seg.as_of"),
        value=last + dt.timedelta(days=1),
        min_value=first + dt.timedelta(days=1),
        max_value=last + dt.timedelta(days=1),
        help=tr("seg.as_of_help"),
        key="seg_as_of",
    )
    return pd.Timestamp(chosen)


def _names_editor(profiles: SegmentProfiles, state_key: str) -> dict:
    """Automatic names, editable; renames are kept for this session."""
    names = profiles.names(lang())
    renamed: dict = st.session_state.setdefault(state_key, {})
    summary = profiles.summary
    table = pd.DataFrame(
        {
            "label": [str(label) for label in summary.index],
            "name": [renamed.get(str(label), names[label]) for label in summary.index],
            "customers": summary["size"].to_numpy(),
            "share": summary["share"].to_numpy(),
            "revenue_share": summary["revenue_share"].to_numpy()
            if "revenue_share" in summary
            else [None] * len(summary),
            "description": [profiles.description(label, lang()) for label in summary.index],
        }
    )
    edited = st.data_editor(
        table,
        hide_index=True,
        width="stretch",
        disabled=["label", "customers", "share", "revenue_share", "description"],
        key=f"editor:{state_key}",
        column_config={
            "label": st.column_config.TextColumn(tr("seg.col.label"), width="small"),
            "name": st.column_config.TextColumn(tr("seg.col.name"), help=tr("seg.rename_help")),
            "customers": st.column_config.NumberColumn(tr("seg.col.customers"), format="%d"),
            "share": st.column_config.ProgressColumn(
                tr("seg.col.share"), min_value=0.0, max_value=1.0, format="percent"
            ),
            "revenue_share": st.column_config.ProgressColumn(
                tr("seg.col.revenue_share"), min_value=0.0, max_value=1.0, format="percent"
            ),
            "description": st.column_config.TextColumn(tr("seg.col.description"), width="large"),
        },
    )
    result = {}
    for label, row in zip(summary.index, edited.itertuples(), strict=True):
        name = str(row.name).strip() or names[label]
        if name != names[label]:
            renamed[str(label)] = name
        result[label] = name
    return result


def _exports(dataset: Dataset, frame: pd.DataFrame, name: str, meta: dict, key: str) -> None:
    """Save to the workspace for other pages, or download formula-safe CSV / Excel."""
    cols = st.columns([2, 1, 1, 1])
    save_name = cols[0].text_input(tr("seg.save_name"), value=name, key=f"{key}:save_name")
    if cols[1].button(tr("seg.save"), key=f"{key}:save", icon=":material/save:"):
        try:
            get_workspace().save_analysis(dataset.name, SAVED_KIND, save_name, frame, meta)
            st.success(tr("seg.saved", name=save_name))
        except CrmError as error:
            show_error(error)
    export_buttons(frame, key, key, slots=(cols[2], cols[3]))


def _rfm_tab(dataset: Dataset, as_of: pd.Timestamp | None) -> None:
    if not dataset.has("transactions", "customer_id", "date"):
        st.info(tr("seg.rfm_needs"))
        return
    try:
        rfm = _rfm(dataset.fingerprint, as_of, dataset)
    except CrmError as error:
        show_error(error)
        return
    stats = rfm.stats
    cols = st.columns(3)
    for col, measure in zip(cols, ("recency", "frequency", "monetary"), strict=True):
        col.metric(
            tr(f"seg.rfm.{measure}"),
            f"{stats.loc[measure, 'mean']:,.2f}",
            help=tr("seg.rfm.median", value=f"{stats.loc[measure, 'median']:,.2f}"),
            border=True,
        )
    left, right = st.columns(2)
    left.plotly_chart(rfm_treemap(rfm, lang()), width="stretch")
    right.plotly_chart(rfm_grid_heatmap(rfm, lang()), width="stretch")
    summary = rfm.summary.copy()
    summary.columns = [tr(f"seg.col.{c}") for c in summary.columns]
    summary.insert(0, tr("seg.col.name"), [segment_name(s, lang()) for s in summary.index])
    st.dataframe(summary.round(3), hide_index=True, width="stretch")
    frame = labels_frame(
        rfm.customers["segment"], {s: segment_name(s, lang()) for s in summary.index}
    )
    frame = frame.join(
        rfm.customers[["recency", "frequency", "monetary", "r", "f", "m", "cell"]], on="customer_id"
    )
    _exports(dataset, frame, "RFM", {"algorithm": "rfm", "as_of": str(rfm.as_of.date())}, "rfm")


def _cluster_controls(features: pd.DataFrame) -> ClusterParams | None:
    algorithms = available_algorithms()
    top = st.columns(3)
    algorithm = top[0].selectbox(
        tr("seg.algorithm"),
        algorithms,
        key="seg_algorithm",
        format_func=labels(algorithms, lambda a: tr(f"seg.algo.{a}")),
    )
    if "hdbscan" not in algorithms:
        top[0].caption(tr("seg.hdbscan_missing"))
    candidates = [c for c in features.columns if c != "customer_id"]
    with st.form("cluster_form", border=True):
        chosen = st.multiselect(
            tr("seg.features"),
            candidates,
            default=[c for c in default_features(features) if c in candidates],
            format_func=labels(candidates, lambda c: feature_label(c, lang())),
            key="seg_features",
        )
        row = st.columns(4)
        scaler = row[0].selectbox(
            tr("seg.scaler"),
            SCALERS,
            index=SCALERS.index("log1p_standard"),
            format_func=labels(SCALERS, lambda s: tr(f"seg.scaler.{s}")),
            key="seg_scaler",
        )
        pca = row[1].number_input(tr("seg.pca"), 0, 10, 0, help=tr("seg.pca_help"), key="seg_pca")
        seed = row[2].number_input(tr("seg.seed"), 0, 10_000, 42, key="seg_seed")
        params = {
            "algorithm": algorithm,
            "scaler": scaler,
            "pca_components": int(pca),
            "seed": int(seed),
            "features": tuple(chosen),
        }
        if algorithm in K_ALGORITHMS:
            params["k"] = row[3].slider(tr("seg.k"), 2, 15, 5, key="seg_k")
        if algorithm == "dbscan":
            params["eps"] = row[3].number_input(
                tr("seg.eps"), 0.01, 50.0, 0.5, 0.05, key="seg_eps", help=tr("seg.eps_help")
            )
            params["min_samples"] = st.slider(
                tr("seg.min_samples"), 2, 100, 5, key="seg_min_samples"
            )
        if algorithm == "hdbscan":
            params["min_cluster_size"] = row[3].slider(
                tr("seg.min_cluster_size"), 5, 500, 15, key="seg_mcs"
            )
            params["min_samples"] = st.slider(
                tr("seg.min_samples"), 1, 100, 5, key="seg_min_samples_h"
            )
        if algorithm == "gmm":
            params["covariance_type"] = st.selectbox(
                tr("seg.covariance"),
                COVARIANCE_TYPES,
                key="seg_cov",
                format_func=labels(COVARIANCE_TYPES, lambda c: tr(f"seg.cov.{c}")),
            )
        if algorithm == "agglomerative":
            params["linkage"] = st.selectbox(
                tr("seg.linkage"),
                LINKAGES,
                key="seg_linkage",
                format_func=labels(LINKAGES, lambda c: tr(f"seg.link.{c}")),
            )
        st.form_submit_button(tr("seg.run"), type="primary", icon=":material/play_arrow:")
    try:
        return ClusterParams(**params)
    except CrmError as error:
        show_error(error)
        return None


def _clusters_tab(dataset: Dataset, features: pd.DataFrame, as_of: pd.Timestamp | None) -> None:
    params = _cluster_controls(features)
    if params is None:
        return
    key = repr(params)
    try:
        with st.spinner(tr("seg.fitting")):
            result = _clusters(dataset.fingerprint, as_of, key, features, params)
            profiles = _profiles(
                dataset.fingerprint, as_of, key, features, result.labels, result.features
            )
    except CrmError as error:
        show_error(error)
        return
    for note in result.notes:
        st.warning(note.text(lang()))
    metrics = result.metrics
    cols = st.columns(5)
    cols[0].metric(tr("seg.m.segments"), f"{int(metrics.get('n_clusters', 0))}", border=True)
    cols[1].metric(
        tr("seg.m.silhouette"),
        _fmt(metrics.get("silhouette")),
        border=True,
        help=tr("seg.m.silhouette_help"),
    )
    cols[2].metric(
        tr("seg.m.davies_bouldin"),
        _fmt(metrics.get("davies_bouldin")),
        border=True,
        help=tr("seg.m.davies_bouldin_help"),
    )
    cols[3].metric(
        tr("seg.m.calinski"),
        _fmt(metrics.get("calinski_harabasz"), 0),
        border=True,
        help=tr("seg.m.calinski_help"),
    )
    cols[4].metric(tr("seg.m.noise"), f"{metrics.get('noise_share', 0.0):.1%}", border=True)

    st.subheader(tr("seg.profiles"))
    names = _names_editor(profiles, f"seg_names:{dataset.fingerprint}:{key}")
    left, right = st.columns(2)
    figure = segment_map(result.embedding, result.labels, lang(), names, MAP_MAX_POINTS)
    left.plotly_chart(figure, width="stretch")
    if len(result.embedding) > MAP_MAX_POINTS:
        left.caption(
            tr("seg.map_sampled", shown=f"{MAP_MAX_POINTS:,}", total=f"{len(result.embedding):,}")
        )
    right.plotly_chart(zscore_heatmap(profiles, lang(), names), width="stretch")
    left.plotly_chart(radar_chart(profiles, lang(), names), width="stretch")
    with right.expander(tr("seg.means_medians")):
        st.dataframe(profiles.means.rename(index=names), width="stretch")
        st.dataframe(profiles.medians.rename(index=names), width="stretch")
    _diagnostics(dataset, features, result, params, names)
    frame = labels_frame(result.labels, names)
    meta = {
        "algorithm": params.algorithm,
        "params": repr(params),
        "as_of": None if as_of is None else str(as_of.date()),
    }
    _exports(dataset, frame, tr(f"seg.algo.{params.algorithm}"), meta, "clusters")
    st.session_state["seg_current_clusters"] = frame


def _diagnostics(
    dataset: Dataset,
    features: pd.DataFrame,
    result: ClusterResult,
    params: ClusterParams,
    names: dict,
) -> None:
    # Diagnostics cost as much as the fit itself: they run only while the expander (and the tab)
    # is open, so moving a slider stays fast.
    panel = st.expander(tr("seg.diagnostics"), key="diag_panel", on_change="rerun")
    if not panel.open:
        return
    with panel:
        tabs = st.tabs(
            [
                tr("seg.diag.sweep"),
                tr("seg.diag.silhouette"),
                tr("seg.diag.kdist"),
                tr("seg.diag.stability"),
            ],
            key="diag_tab",
            on_change="rerun",
        )
        with tabs[0]:
            st.caption(tr("seg.diag.sweep_help"))
            if st.button(tr("seg.diag.run_sweep"), key="btn_sweep"):
                bar = st.progress(0.0, text=tr("seg.diag.sweeping"))
                try:
                    sweep = k_sweep(features, params, progress=lambda f: bar.progress(min(f, 1.0)))
                    st.session_state["seg_sweep_result"] = (
                        dataset.fingerprint,
                        repr(params),
                        sweep,
                    )
                except CrmError as error:
                    show_error(error)
                bar.empty()
            stored = st.session_state.get("seg_sweep_result")
            if stored and stored[0] == dataset.fingerprint:
                st.plotly_chart(k_sweep_chart(stored[2], lang()), width="stretch")
                st.dataframe(stored[2], hide_index=True, width="stretch")
        with tabs[1]:
            if tabs[1].open:
                _silhouette_tab(features, result, names)
        with tabs[2]:
            if tabs[2].open:
                _k_distance_tab(features, params)
        with tabs[3]:
            _stability_tab(features, params)


def _silhouette_tab(features: pd.DataFrame, result: ClusterResult, names: dict) -> None:
    try:
        samples = silhouette_per_sample(features, result)
        st.plotly_chart(silhouette_chart(samples, lang(), names), width="stretch")
    except CrmError as error:
        show_error(error)


def _k_distance_tab(features: pd.DataFrame, params: ClusterParams) -> None:
    try:
        distances = k_distance(features, params)
        eps = params.eps if params.algorithm == "dbscan" else None
        st.plotly_chart(k_distance_chart(distances, lang(), eps), width="stretch")
        st.caption(tr("seg.diag.suggested_eps", eps=f"{suggest_eps(distances):.3f}"))
    except CrmError as error:
        show_error(error)


def _stability_tab(features: pd.DataFrame, params: ClusterParams) -> None:
    st.caption(tr("seg.diag.stability_help"))
    if st.button(tr("seg.diag.run_stability"), key="btn_stability"):
        try:
            score = stability(features, params)
            st.metric(tr("seg.diag.ari"), f"{score:.3f}")
        except CrmError as error:
            show_error(error)


def _compare_tab(dataset: Dataset, as_of: pd.Timestamp | None) -> None:
    options: dict[str, pd.Series] = {}
    if dataset.has("transactions", "customer_id", "date"):
        try:
            rfm = _rfm(dataset.fingerprint, as_of, dataset)
            names = {s: segment_name(s, lang()) for s in rfm.summary.index}
            options[tr("seg.compare.rfm")] = rfm.customers["segment"].map(names)
        except CrmError:
            pass
    current = st.session_state.get("seg_current_clusters")
    if current is not None:
        options[tr("seg.compare.current")] = current.set_index("customer_id")["segment_name"]
    for saved in get_workspace().list_analyses(dataset.name, SAVED_KIND):
        frame = get_workspace().load_analysis(dataset.name, SAVED_KIND, saved.name)
        # Option text is shown as plain text, so the name is not Markdown-escaped here.
        options[t("seg.compare.saved", lang(), name=saved.name)] = frame.set_index("customer_id")[
            "segment_name"
        ]
    if len(options) < 2:
        st.info(tr("seg.compare.need_two"))
        return
    names = list(options)
    cols = st.columns(2)
    first = cols[0].selectbox(tr("seg.compare.a"), names, index=0, key="seg_cmp_a")
    second = cols[1].selectbox(tr("seg.compare.b"), names, index=1, key="seg_cmp_b")
    try:
        comparison = compare_segmentations(options[first], options[second])
    except CrmError as error:
        show_error(error)
        return
    st.metric(tr("seg.compare.ari"), f"{comparison.ari:.3f}", help=tr("seg.compare.ari_help"))
    st.dataframe(comparison.crosstab, width="stretch")


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or pd.isna(value):
        return "—"
    return f"{value:,.{digits}f}"


st.title(tr("seg.title"))
st.caption(tr("seg.intro"))
dataset = require_dataset()
as_of = _as_of_widget(dataset)
try:
    features = _features(dataset.fingerprint, as_of, dataset)
except CrmError as error:
    show_error(error)
    st.stop()
# RFM and Compare run only while open: on the sample the RFM tab's Excel export and the Compare
# tab's saved segmentations cost more than the k change itself (AppTest timing in
# bench/bench_segments.py). Clusters always runs: Compare offers its current result.
rfm_tab, cluster_tab, compare_tab = st.tabs(
    [tr("seg.tab.rfm"), tr("seg.tab.clusters"), tr("seg.tab.compare")],
    key="seg_tab",
    on_change="rerun",
)
if rfm_tab.open:
    with rfm_tab:
        _rfm_tab(dataset, as_of)
with cluster_tab:
    _clusters_tab(dataset, features, as_of)
if compare_tab.open:
    with compare_tab:
        _compare_tab(dataset, as_of)
