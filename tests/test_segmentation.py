"""RFM, clustering, diagnostics, profiles and segment charts, on real and hand-made data."""

from __future__ import annotations

import re
import subprocess
import sys
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest
from sklearn.datasets import make_blobs
from sklearn.exceptions import ConvergenceWarning

from crm_core import segmentation as seg
from crm_core.charts import safe_label
from crm_core.charts import segments as charts
from crm_core.errors import DataRequirementError, ParameterError
from crm_core.features import attribute_features, customer_features
from crm_core.i18n import has_key
from crm_core.segmentation import (
    SEGMENTS,
    ClusterParams,
    Note,
    RfmParams,
    compare_segmentations,
    k_distance,
    k_sweep,
    profile_segments,
    run_clustering,
    run_rfm,
    segment_name,
    silhouette_per_sample,
    stability,
    suggest_eps,
)

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
RETAIL = DATASETS / "online_retail" / "online_retail.csv.gz"
MALL = DATASETS / "mall_customers" / "Mall_Customers.csv.gz"
MALL_XY = ("Annual Income (k$)", "Spending Score (1-100)")
needs_mall = pytest.mark.skipif(not MALL.exists(), reason="shared datasets missing")
needs_retail = pytest.mark.skipif(not RETAIL.exists(), reason="shared datasets missing")


def blobs(n: int = 300, centers: int = 3, seed: int = 0, std: float = 0.6) -> pd.DataFrame:
    middles = 10.0 * np.eye(centers, 3)  # well separated: the right k is unambiguous
    x, _ = make_blobs(n_samples=n, centers=middles, cluster_std=std, random_state=seed)
    frame = pd.DataFrame(x, columns=["a", "b", "c"])
    frame.index = pd.Index([f"c{i:05d}" for i in range(n)], name="customer_id")
    return frame


ABC = ("a", "b", "c")


@pytest.fixture(scope="module")
def mall() -> pd.DataFrame:
    if not MALL.exists():
        pytest.skip("shared datasets missing")
    return attribute_features(pd.read_csv(MALL, dtype={"CustomerID": str}))


@pytest.fixture(scope="module")
def retail() -> pd.DataFrame:
    if not RETAIL.exists():
        pytest.skip("shared datasets missing")
    raw = pd.read_csv(
        RETAIL,
        dtype={"InvoiceNo": str, "StockCode": str, "CustomerID": "Int64"},
        parse_dates=["InvoiceDate"],
    )
    raw = raw[raw["CustomerID"].notna()]
    return pd.DataFrame(
        {
            "customer_id": raw["CustomerID"].astype("str"),
            "order_id": raw["InvoiceNo"],
            "date": raw["InvoiceDate"],
            "category": raw["Country"],
            "quantity": raw["Quantity"].astype(float),
            "unit_price": raw["UnitPrice"],
        }
    )


# ------------------------------------------------------------------------------------ real data


@needs_mall
def test_mall_kmeans_reproduces_reference(mall: pd.DataFrame) -> None:
    """README: KMeans(n_clusters=5, n_init=10, random_state=42) on the raw two columns."""
    result = run_clustering(mall, ClusterParams(k=5, features=MALL_XY, scaler="none"))
    found = {
        (round(row[MALL_XY[0]], 2), round(row[MALL_XY[1]], 2), int(result.sizes[label]))
        for label, row in result.centers.iterrows()
    }
    assert found == {
        (55.30, 49.52, 81),
        (86.54, 82.13, 39),
        (88.20, 17.11, 35),
        (26.30, 20.91, 23),
        (25.73, 79.36, 22),
    }
    assert result.metrics["silhouette"] == pytest.approx(0.5539, abs=5e-5)
    assert result.metrics["inertia"] == pytest.approx(44448.46, abs=0.01)
    assert result.labels.index[0] == "0001"


@needs_mall
def test_mall_sweep_picks_k5(mall: pd.DataFrame) -> None:
    seen: list[float] = []
    sweep = k_sweep(mall, ClusterParams(features=MALL_XY, scaler="none"), progress=seen.append)
    assert list(sweep["k"]) == list(range(2, 11))
    assert int(sweep.loc[sweep["silhouette"].idxmax(), "k"]) == 5
    by_k = sweep.set_index("k")
    for k, inertia, sil in [
        (3, 106348.37, 0.4676),
        (4, 73679.79, 0.4932),
        (5, 44448.46, 0.5539),
        (6, 37233.81, 0.5398),
    ]:
        assert by_k.loc[k, "inertia"] == pytest.approx(inertia, abs=0.01)
        assert by_k.loc[k, "silhouette"] == pytest.approx(sil, abs=5e-5)
    assert seen == sorted(seen) and seen[-1] == 1.0


@needs_mall
def test_mall_scaled_with_category_is_one_hot_in_pipeline(mall: pd.DataFrame) -> None:
    params = ClusterParams(k=5, features=(*MALL_XY, "Age", "Genre"), scaler="standard")
    result = run_clustering(mall, params)
    names = list(result.pipeline.named_steps["prep"].get_feature_names_out())
    assert names == [
        "Annual Income (k$)",
        "Spending Score (1-100)",
        "Age",
        "Genre_Female",
        "Genre_Male",
    ]
    assert result.features == (*MALL_XY, "Age", "Genre")
    # the fitted pipeline labels new customers the same way
    again = result.pipeline.predict(mall[list(result.features)].iloc[:20])
    assert list(again) == list(result.labels.iloc[:20])
    profiles = profile_segments(mall, result.labels, revenue_column="Annual Income (k$)")
    for lang in ("en", "zh"):
        names_ = profiles.names(lang)
        assert len(set(names_.values())) == len(names_)


@pytest.mark.slow
@needs_retail
def test_online_retail_rfm_matches_reference(retail: pd.DataFrame) -> None:
    clean = retail[
        (retail["quantity"] > 0)
        & ~retail["order_id"].str.startswith("C")
        & (retail["unit_price"] > 0)
    ]
    rfm = run_rfm(clean, RfmParams(as_of=pd.Timestamp("2011-12-10")))
    stats = rfm.stats.round(2)
    assert stats.loc["recency"].tolist() == [92.06, 50.0]
    assert stats.loc["frequency"].tolist() == [4.27, 2.0]
    assert stats.loc["monetary"].tolist() == [2054.27, 674.48]  # median 674.485
    table = rfm.customers
    assert len(table) == 4338
    assert table[["r", "f", "m"]].isin(range(1, 6)).all().all()
    assert table["cell"].str.fullmatch(r"[1-5]{3}").all()
    # equal-count bins thanks to rank(method="first")
    assert table["f"].value_counts().tolist() == [868, 868, 868, 867, 867]
    # R reversed: the most recent customers score 5
    assert table.loc[table["recency"] == 0, "r"].eq(5).all()
    assert set(table["segment"]) <= set(SEGMENTS)
    assert rfm.summary["share"].sum() == pytest.approx(1.0)
    assert rfm.summary["revenue_share"].sum() == pytest.approx(1.0)
    assert rfm.summary.loc["champions", "revenue_share"] > 0.5
    # the same data without cleaning gives the same buyers (returns are not purchases)
    assert len(run_rfm(retail, RfmParams(as_of=pd.Timestamp("2011-12-10"))).customers) == 4338
    profiles = profile_segments(customer_features(retail), table["segment"])
    assert len(set(profiles.names("zh").values())) == len(profiles.summary)
    for figure in (charts.rfm_treemap(rfm, "zh"), charts.rfm_grid_heatmap(rfm, "en")):
        assert isinstance(figure, go.Figure)


@pytest.mark.slow
@needs_retail
def test_online_retail_hdbscan_reports_noise(retail: pd.DataFrame) -> None:
    features = customer_features(retail)
    params = ClusterParams(
        algorithm="hdbscan",
        features=("recency_days", "frequency", "monetary", "avg_order_value", "return_rate"),
        scaler="log1p_standard",
        min_cluster_size=20,
        min_samples=5,
    )
    result = run_clustering(features, params)
    assert 0 < result.metrics["noise_share"] < 0.6
    assert result.metrics["n_clusters"] >= 2
    assert result.imputed["recency_days"] == 34  # customers with returns only
    assert any(note.key == "segments.warn.imputed" for note in result.notes)
    profiles = profile_segments(features, result.labels)
    assert profiles.name(-1, "en") == "Unassigned (noise)"
    assert "%" in profiles.description(-1, "zh")


# ------------------------------------------------------------------------------------------ RFM


def test_rfm_map_covers_every_cell_and_names_exist() -> None:
    cells = {name for row in seg.RFM_SEGMENT_GRID.values() for name in row}
    assert cells == set(SEGMENTS) and len(SEGMENTS) == 11
    zh = [segment_name(s, "zh") for s in SEGMENTS]
    assert zh == [
        "冠军客户",
        "忠诚客户",
        "潜力客户",
        "新客户",
        "有希望客户",
        "需要关注",
        "即将沉睡",
        "有流失风险",
        "不能失去",
        "休眠客户",
        "已流失",
    ]
    assert segment_name("cant_lose", "en") == "Can't Lose Them"


def small_rfm_transactions(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "customer_id": [f"u{i % n}" for i in range(4 * n)],
            "order_id": [f"o{i}" for i in range(4 * n)],
            "date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 300, 4 * n), "D"),
            "amount": rng.gamma(2.0, 50.0, 4 * n),
        }
    )


def test_rfm_ties_and_tiny_inputs() -> None:
    tied = pd.DataFrame(
        {
            "customer_id": [f"u{i}" for i in range(10)],
            "order_id": [f"o{i}" for i in range(10)],
            "date": [pd.Timestamp("2024-01-01")] * 10,
            "amount": [5.0] * 10,
        }
    )
    rfm = run_rfm(tied)
    assert rfm.customers["f"].value_counts().tolist() == [2, 2, 2, 2, 2]
    tiny = run_rfm(tied.iloc[:3])
    assert tiny.customers[["r", "f", "m"]].isin(range(1, 6)).all().all()
    three = run_rfm(small_rfm_transactions(40), RfmParams(bins=3))
    assert set(three.customers["r"]) == {1, 2, 3}
    assert three.customers["segment"].isin(SEGMENTS).all()
    # same input in another row order -> same scores
    shuffled = small_rfm_transactions(40).sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(
        run_rfm(shuffled).customers, run_rfm(small_rfm_transactions(40)).customers
    )


def test_rfm_bad_input() -> None:
    no_rows = small_rfm_transactions(5).iloc[:0]
    with pytest.raises(DataRequirementError):
        run_rfm(no_rows)
    only_returns = small_rfm_transactions(5).assign(amount=-1.0)
    with pytest.raises(DataRequirementError) as info:
        run_rfm(only_returns)
    assert info.value.key == "segments.error.no_transactions"
    with pytest.raises(ParameterError):
        run_rfm(small_rfm_transactions(5), RfmParams(bins=1))


# ----------------------------------------------------------------------------------- clustering


@pytest.mark.parametrize("algorithm", ["kmeans", "dbscan", "hdbscan", "gmm", "agglomerative"])
def test_every_algorithm_is_deterministic(algorithm: str) -> None:
    frame = blobs()
    params = ClusterParams(algorithm=algorithm, k=3, eps=0.8, features=ABC, min_cluster_size=10)
    first = run_clustering(frame, params)
    second = run_clustering(frame, params)
    pd.testing.assert_series_equal(first.labels, second.labels)
    assert first.metrics["n_clusters"] == 3
    assert first.embedding.shape == (len(frame), 2)
    assert list(first.embedding.index) == list(frame.index)
    assert first.metrics["silhouette"] > 0.6


@pytest.mark.parametrize("scaler", seg.SCALERS)
def test_scalers_and_pca(scaler: str) -> None:
    frame = blobs().abs()
    result = run_clustering(
        frame, ClusterParams(k=3, features=ABC, scaler=scaler, pca_components=2)
    )
    assert result.metrics["n_clusters"] == 3


def test_k_larger_than_customers_suggests_smaller_k() -> None:
    frame = blobs(n=6)
    with pytest.raises(ParameterError) as info:
        run_clustering(frame, ClusterParams(k=8, features=ABC))
    assert info.value.key == "segments.error.k_too_large"
    assert info.value.params["suggested"] == 5
    assert "5" in info.value.message("en") and "k" in info.value.message("zh")
    with pytest.raises(DataRequirementError):
        run_clustering(blobs(n=2), ClusterParams(k=2, features=ABC))


def test_fewer_distinct_points_than_k_reduces_k() -> None:
    frame = pd.DataFrame({"a": [1.0, 1.0, 2.0, 2.0, 3.0, 3.0] * 5, "b": 0.0})
    result = run_clustering(frame, ClusterParams(k=5, features=("a", "b")))
    assert result.k_used == 3
    assert result.labels.nunique() == 3
    keys = [note.key for note in result.notes]
    assert "segments.warn.k_reduced" in keys and "segments.warn.constant_columns" in keys
    reduced = next(n for n in result.notes if n.key == "segments.warn.k_reduced")
    assert "3" in reduced.text("en") and "3" in reduced.text("zh")


def test_constant_features_raise() -> None:
    frame = pd.DataFrame({"a": [1.0] * 20, "b": [2.0] * 20})
    with pytest.raises(ParameterError) as info:
        run_clustering(frame, ClusterParams(k=2, features=("a", "b")))
    assert info.value.key == "segments.error.constant_features"


def test_nan_and_inf_are_imputed_with_a_count() -> None:
    frame = blobs()
    frame.iloc[:7, 0] = np.nan
    frame.iloc[7:9, 1] = np.inf
    frame["empty"] = np.nan
    result = run_clustering(frame, ClusterParams(k=3, features=(*ABC, "empty")))
    assert result.imputed == {"a": 7, "b": 2}
    keys = [note.key for note in result.notes]
    assert "segments.warn.imputed" in keys and "segments.warn.empty_columns" in keys
    assert "empty" not in result.features
    assert result.labels.notna().all()


def test_all_noise_says_no_dense_segments() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.uniform(size=(60, 3)), columns=list(ABC))
    with pytest.raises(ParameterError) as info:
        run_clustering(frame, ClusterParams(algorithm="hdbscan", features=ABC, min_cluster_size=50))
    assert info.value.key == "segments.error.all_noise"
    assert info.value.hint == "segments.hint.smaller_min_cluster_size"
    assert "min_cluster_size" in info.value.message("en")
    with pytest.raises(ParameterError) as info:
        run_clustering(frame, ClusterParams(algorithm="dbscan", features=ABC, eps=0.01))
    assert info.value.hint == "segments.hint.larger_eps"


@pytest.mark.parametrize(
    ("change", "key"),
    [
        ({"features": ()}, "segments.error.no_features"),
        ({"features": ("nope",)}, "segments.error.unknown_features"),
        ({"algorithm": "magic"}, "segments.error.bad_param"),
        ({"scaler": "zscore"}, "segments.error.bad_param"),
        ({"k": 1}, "segments.error.bad_param"),
        ({"eps": 0.0, "algorithm": "dbscan"}, "segments.error.bad_param"),
        ({"pca_components": 9}, "segments.error.bad_param"),
        ({"features": ("text",)}, "segments.error.text_feature"),
        ({"algorithm": "hdbscan", "min_samples": 500}, "segments.error.fit_failed"),
    ],
)
def test_bad_parameters(change: dict, key: str) -> None:
    frame = blobs()
    frame["text"] = [f"free {i}" for i in range(len(frame))]
    params = replace(ClusterParams(k=3, features=ABC), **change)
    with pytest.raises(ParameterError) as info:
        run_clustering(frame, params)
    assert info.value.key == key
    assert has_key(info.value.key) and has_key(info.value.hint)


def test_convergence_warnings_become_notes_without_global_filters() -> None:
    before = list(warnings.filters)
    notes: list[Note] = []

    def noisy() -> int:
        warnings.warn("did not converge", ConvergenceWarning, stacklevel=1)
        return 1

    assert seg._call_quietly(noisy, notes) == 1
    assert [n.key for n in notes] == ["segments.warn.convergence"]
    assert warnings.filters == before
    run_clustering(blobs(), ClusterParams(k=3, features=ABC))
    assert warnings.filters == before


def test_large_kmeans_starts_from_a_sample_and_fits_every_row(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Above the threshold the centres start from a sample fit, then KMeans sees every row: the
    model is a plain KMeans, its inertia is no worse than a full n_init=10 fit on all rows and
    the note tells the user."""
    from sklearn.cluster import KMeans

    monkeypatch.setattr(seg, "KMEANS_SAMPLE_THRESHOLD", 500)
    monkeypatch.setattr(seg, "KMEANS_SAMPLE_SIZE", 200)
    frame = blobs(n=2_000, centers=3, std=2.5)
    params = ClusterParams(k=6, features=ABC, scaler="standard")
    result = run_clustering(frame, params)
    note = next(n for n in result.notes if n.key == "segments.warn.kmeans_sampled_start")
    assert note.params == {"rows": 200, "total": 2_000, "starts": 10}
    model = result.pipeline.named_steps["model"]
    assert type(model) is KMeans and result.fit_rows == 2_000
    x = result.pipeline.named_steps["prep"].transform(frame[list(ABC)])
    full = KMeans(n_clusters=6, n_init=10, random_state=42).fit(x)
    assert result.metrics["inertia"] <= full.inertia_ * 1.005
    assert (model.predict(x) == result.labels.to_numpy()).all()
    pd.testing.assert_series_equal(result.labels, run_clustering(frame, params).labels)


def test_median_imputer_fills_like_sklearn() -> None:
    """Missing values get the same medians as SimpleImputer(strategy="median"), also for new
    data through a fitted pipeline, and the feature names pass through."""
    from sklearn.impute import SimpleImputer

    rng = np.random.default_rng(4)
    frame = pd.DataFrame(rng.lognormal(size=(1_001, 3)), columns=["a", "b", "c"])
    frame[frame > 3.0] = np.nan
    ours, theirs = seg.MedianImputer().fit(frame), SimpleImputer(strategy="median").fit(frame)
    np.testing.assert_array_equal(ours.statistics_, theirs.statistics_)
    later = frame.iloc[::-1].reset_index(drop=True)
    np.testing.assert_array_equal(ours.transform(later), theirs.transform(later))
    assert list(ours.get_feature_names_out()) == ["a", "b", "c"]
    assert frame.isna().to_numpy().any()  # the input is left as it was


def test_quality_metrics_equal_sklearn() -> None:
    """The metric cards show sklearn's silhouette (sampled the way silhouette_score samples),
    Davies-Bouldin and Calinski-Harabasz, computed faster."""
    from sklearn.metrics import (
        calinski_harabasz_score,
        davies_bouldin_score,
        silhouette_samples,
        silhouette_score,
    )

    x, labels = make_blobs(n_samples=1_500, centers=4, cluster_std=3.0, random_state=1)
    labels[:3] = 7  # a cluster of three and a lone row score like sklearn's too
    labels[3] = 9
    ours = seg._silhouette_values(x, labels)
    np.testing.assert_allclose(ours, silhouette_samples(x, labels), rtol=0, atol=1e-12)
    metrics = seg._cluster_metrics(x, labels, seed=3)
    assert metrics["silhouette"] == pytest.approx(silhouette_score(x, labels), abs=1e-12)
    assert metrics["davies_bouldin"] == pytest.approx(davies_bouldin_score(x, labels), rel=1e-12)
    expected_ch = calinski_harabasz_score(x, labels)
    assert metrics["calinski_harabasz"] == pytest.approx(expected_ch, rel=1e-12)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(seg, "SILHOUETTE_SAMPLE", 500)
        sampled = seg._cluster_metrics(x, labels, seed=3)["silhouette"]
    expected = silhouette_score(x, labels, sample_size=500, random_state=3)
    assert sampled == pytest.approx(expected, abs=1e-12)


def test_hdbscan_sample_fit_and_approximate_predict(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seg, "HDBSCAN_SAMPLE_THRESHOLD", 400)
    monkeypatch.setattr(seg, "HDBSCAN_SAMPLE_SIZE", 300)
    monkeypatch.setattr(seg, "HDBSCAN_AGREEMENT_ROWS", 100)
    frame = blobs(n=900)
    params = ClusterParams(algorithm="hdbscan", features=ABC, min_cluster_size=30)
    result = run_clustering(frame, params)
    assert result.fit_rows == 300 and len(result.labels) == 900
    assert result.agreement is not None and result.agreement > 0.9
    assert result.metrics["agreement_ari"] == result.agreement
    assert result.metrics["n_clusters"] == 3
    note = next(n for n in result.notes if n.key == "segments.warn.hdbscan_sampled")
    assert note.params["min_cluster_size"] == 10  # 30 scaled by 300/900
    pd.testing.assert_series_equal(result.labels, run_clustering(frame, params).labels)


def test_agglomerative_sample_and_dbscan_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seg, "AGGLOMERATIVE_MAX_ROWS", 100)
    monkeypatch.setattr(seg, "DBSCAN_MAX_ROWS", 100)
    result = run_clustering(blobs(), ClusterParams(algorithm="agglomerative", k=3, features=ABC))
    assert result.fit_rows == 100 and result.labels.nunique() == 3
    with pytest.raises(ParameterError) as info:
        run_clustering(blobs(), ClusterParams(algorithm="dbscan", features=ABC))
    assert info.value.key == "segments.error.too_many_rows"


def test_silhouette_is_sampled_above_10000_rows() -> None:
    frame = blobs(n=12_000, centers=4)
    params = ClusterParams(k=4, features=ABC)
    first = run_clustering(frame, params).metrics["silhouette"]
    assert first == run_clustering(frame, params).metrics["silhouette"]
    assert 0.5 < first < 1


# ---------------------------------------------------------------------------------- diagnostics


def test_diagnostics() -> None:
    frame = blobs()
    params = ClusterParams(k=3, features=ABC, min_samples=5)
    result = run_clustering(frame, params)
    samples = silhouette_per_sample(frame, result)
    assert len(samples) == len(frame) and samples["silhouette"].between(-1, 1).all()
    distances = k_distance(frame, params)
    assert len(distances) == len(frame) and np.all(np.diff(distances) >= 0)
    eps = suggest_eps(distances)
    assert distances[0] <= eps <= distances[-1]
    assert stability(frame, params) == pytest.approx(1.0)
    sweep = k_sweep(frame, replace(params, algorithm="gmm"), ks=[2, 3, 4])
    assert int(sweep.loc[sweep["silhouette"].idxmax(), "k"]) == 3
    assert sweep["inertia"].is_monotonic_decreasing


def test_k_sweep_skips_impossible_k() -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0] * 3})
    sweep = k_sweep(frame, ClusterParams(features=("a",)), ks=range(2, 8))
    assert list(sweep["k"]) == [2, 3]
    with pytest.raises(ParameterError):
        k_sweep(frame, ClusterParams(features=("a",)), ks=[9])


# ------------------------------------------------------------------------------------- profiles


def behaviour_frame() -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(0)
    n = 300
    labels = np.repeat([0, 1, 2, -1], [120, 90, 60, 30])
    frame = pd.DataFrame(
        {
            "monetary": np.where(labels == 1, 3000, 300) * rng.uniform(0.8, 1.2, n),
            "frequency": np.where(labels == 1, 12, 2) + rng.integers(0, 2, n),
            "recency_days": np.where(labels == 2, 250, 20) + rng.integers(0, 10, n),
            "days_between_purchases": np.where(labels == 1, 12, 60) + rng.uniform(0, 1, n),
            "city": pd.Categorical(np.where(labels == 2, "Oslo", rng.choice(["Rome", "Lima"], n))),
        },
        index=pd.Index([f"c{i}" for i in range(n)], name="customer_id"),
    )
    return frame, pd.Series(labels, index=frame.index)


def test_profiles_names_and_descriptions() -> None:
    frame, labels = behaviour_frame()
    profiles = profile_segments(frame, labels)
    assert list(profiles.summary.index) == [-1, 0, 1, 2]
    assert profiles.summary["share"].sum() == pytest.approx(1.0)
    assert profiles.summary["revenue_share"].sum() == pytest.approx(1.0)
    assert profiles.zscores.loc[1, "monetary"] > 1 and profiles.zscores.loc[2, "recency_days"] > 1
    en, zh = profiles.names("en"), profiles.names("zh")
    assert "high-spending" in en[1].lower() and "frequent" in en[1].lower()
    assert "高消费" in zh[1]
    assert "lapsed" in en[2].lower() and "久未购买" in zh[2]
    assert "Oslo" in en[2]  # the over-represented category
    assert en[-1] == "Unassigned (noise)"
    description = profiles.description(1, "en")
    assert re.search(r"spend \d+(\.\d)?× the average", description)
    assert "order every 12 days" in description
    assert profiles.description(1, "zh").endswith("。")
    for names in (en, zh):
        assert len(set(names.values())) == len(names)
    assert any("Oslo" in tr.value for tr in profiles.traits[2] if tr.direction == "category")


def test_profiles_of_some_customers_equal_profiles_of_that_subset() -> None:
    """Labels for part of the customers (in any order) profile exactly those customers; the
    percentile ranks behind the names are pandas' ``rank(pct=True)`` with ties and gaps."""
    frame, labels = behaviour_frame()
    frame.loc[frame.index[::7], "monetary"] = np.nan
    some = labels.iloc[::-3]
    part = profile_segments(frame, some)
    subset = profile_segments(frame.loc[some.index[::-1]], some.iloc[::-1])
    for table in ("summary", "means", "medians", "zscores", "rank_zscores"):
        pd.testing.assert_frame_equal(getattr(part, table), getattr(subset, table))
    values = frame[["monetary", "frequency", "recency_days"]]
    pd.testing.assert_frame_equal(
        seg._percentile_ranks(values), values.rank(pct=True), check_exact=True
    )


def test_duplicate_names_get_a_number() -> None:
    rng = np.random.default_rng(0)
    labels = pd.Series(np.repeat([0, 1, 2], [50, 50, 100]))
    frame = pd.DataFrame(
        {
            "monetary": np.where(labels < 2, 1000.0, 10.0) * rng.uniform(0.9, 1.1, 200),
            "frequency": 3.0,
        }
    )
    profiles = profile_segments(frame, labels)
    for lang in ("en", "zh"):
        names = profiles.names(lang)
        assert len(set(names.values())) == 3
        assert names[1] == f"{names[0]} 2"


def test_compare_segmentations() -> None:
    _, labels = behaviour_frame()
    renamed = labels.map({0: "x", 1: "y", 2: "z", -1: "w"})
    comparison = compare_segmentations(labels, renamed.iloc[::-1])
    assert comparison.ari == pytest.approx(1.0)
    assert comparison.crosstab.shape == (4, 4) and comparison.n_common == len(labels)
    with pytest.raises(DataRequirementError):
        compare_segmentations(labels, pd.Series([1], index=["nobody"]))


# --------------------------------------------------------------------------------------- charts


def test_safe_label_neutralises_markup() -> None:
    assert safe_label("<script>alert(1)</script>") == "‹script›alert(1)‹/script›"
    assert safe_label('<a href="x">') == '‹a href="x"›'
    assert safe_label("$x^2$") == "＄x^2＄"
    assert safe_label("costs $5") == "costs $5"
    assert safe_label(None) == "" and safe_label(float("nan")) == ""


def test_segment_colours_are_stable() -> None:
    colors = charts.segment_colors([2, 0, -1, 1])
    assert colors[-1] == charts.NOISE_COLOR
    assert [colors[i] for i in (0, 1, 2)] == list(charts.PALETTE[:3])
    assert (
        charts.segment_colors(["lost", "champions"])["lost"]
        == charts.segment_colors(SEGMENTS)["lost"]
    )


def test_all_charts_build_and_escape_user_text() -> None:
    frame, labels = behaviour_frame()
    frame.index = pd.Index(["<b>evil</b>", *frame.index[1:]], name="customer_id")
    labels.index = frame.index
    features = ("monetary", "frequency", "recency_days")
    result = run_clustering(frame, ClusterParams(k=3, features=features))
    profiles = profile_segments(frame, result.labels)
    names = {label: f"<i>{name}</i>" for label, name in profiles.names("en").items()}
    sweep = k_sweep(frame, ClusterParams(features=features), ks=[2, 3, 4])
    figures = [
        charts.k_sweep_chart(sweep, "zh"),
        charts.silhouette_chart(silhouette_per_sample(frame, result), "en", names),
        charts.k_distance_chart(k_distance(frame, ClusterParams(features=features)), "en", 0.5),
        charts.zscore_heatmap(profiles, "zh"),
        charts.radar_chart(profiles, "en", names),
        charts.segment_map(result.embedding, result.labels, "en", names, max_points=100),
    ]
    for figure in figures:
        assert isinstance(figure, go.Figure) and figure.layout.title.text
        dumped = figure.to_json()
        assert "<b>evil" not in dumped and "<i>" not in dumped
    scatter = figures[-1]
    assert sum(len(trace.x) for trace in scatter.data) == 100
    ids = [i for trace in scatter.data for i in trace.customdata]
    full = charts.segment_map(result.embedding, result.labels, "en", names)
    assert "‹b›evil‹/b›" in [i for trace in full.data for i in trace.customdata]
    assert len(ids) == 100
    assert figures[0].layout.title.text != charts.k_sweep_chart(sweep, "en").layout.title.text


def test_core_never_imports_streamlit() -> None:
    code = (
        "import sys, crm_core.features, crm_core.segmentation, crm_core.charts.segments;"
        "sys.exit('streamlit' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
