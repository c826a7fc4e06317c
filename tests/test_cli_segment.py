"""``crm segment`` as a user runs it: a real process on the sample workspace or a file path.

The labels must be those of the core called directly with the same parameters (same input + same
params -> same output), the Mall Customers file must reproduce its README figures, and user
mistakes must end with exit code 2 and one line on stderr.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from crm_core.features import dataset_features
from crm_core.segmentation import (
    ClusterParams,
    default_features,
    profile_segments,
    run_clustering,
    run_rfm,
)
from crm_core.store import Workspace
from tests.cli_helpers import assert_user_error, crm, ok

MALL_README_SIZES = [81, 39, 35, 23, 22]
MALL_README_SILHOUETTE = 0.5539


def read_labels(path: Path) -> pd.DataFrame:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM, so Excel reads Chinese names right
    return pd.read_csv(
        io.BytesIO(data),
        encoding="utf-8-sig",
        dtype={"customer_id": str, "segment": str, "segment_name": str},
    )


@pytest.fixture(scope="module")
def sample_features() -> pd.DataFrame:
    from crm_core.sample import load_sample

    return dataset_features(load_sample())


def test_kmeans_labels_match_the_core(
    sample_workspace: Path, sample_features: pd.DataFrame
) -> None:
    out, metrics = sample_workspace.parent / "labels.csv", sample_workspace.parent / "m.json"
    result = ok(
        crm(sample_workspace, "segment", "sample", "--out", str(out), "--json", str(metrics))
    )
    assert result.stdout == ""  # --json PATH writes the file instead
    payload: dict[str, Any] = json.loads(metrics.read_text(encoding="utf-8"))
    labels = read_labels(out)

    # the workspace copy is the sample itself
    dataset = Workspace(sample_workspace).load_dataset("sample")
    features = dataset_features(dataset)
    pd.testing.assert_frame_equal(features, sample_features)
    params = ClusterParams(
        algorithm="kmeans", k=5, features=default_features(features), scaler="log1p_standard"
    )
    direct = run_clustering(features, params)

    assert list(labels.columns) == ["customer_id", "segment", "segment_name"]
    assert len(labels) == 5000 and labels["customer_id"].is_unique
    assert labels["customer_id"].tolist() == direct.labels.index.tolist()
    assert labels["segment"].tolist() == direct.labels.astype(str).tolist()
    names = profile_segments(features, direct.labels, columns=list(direct.features)).names("en")
    assert labels["segment_name"].tolist() == [names[x] for x in direct.labels]

    assert payload["algorithm"] == "kmeans" and payload["customers"] == 5000
    assert payload["features"] == list(default_features(features))
    assert payload["out"] == str(out)
    assert payload["metrics"]["n_clusters"] == 5
    for key in ("silhouette", "davies_bouldin", "calinski_harabasz", "inertia"):
        assert payload["metrics"][key] == pytest.approx(direct.metrics[key], abs=1e-6)
    sizes = {label: seg["size"] for label, seg in payload["segments"].items()}
    assert sizes == {str(k): int(v) for k, v in direct.sizes.items()}
    assert {seg["name"] for seg in payload["segments"].values()} == set(names.values())

    # same input + same params -> same output, byte for byte
    again = sample_workspace.parent / "again.csv"
    ok(crm(sample_workspace, "segment", "sample", "--out", str(again)))
    assert again.read_bytes() == out.read_bytes()


def test_explicit_parameters_reach_the_core(
    sample_workspace: Path, sample_features: pd.DataFrame
) -> None:
    chosen = ("recency_days", "frequency", "monetary", "share_Groceries")
    out = sample_workspace.parent / "gmm.csv"
    result = ok(
        crm(
            sample_workspace,
            "segment",
            "sample",
            "--algorithm",
            "gmm",
            "--k",
            "4",
            "--covariance",
            "diag",
            "--features",
            ",".join(chosen),
            "--scaler",
            "robust",
            "--seed",
            "7",
            "--out",
            str(out),
        )
    )
    payload = json.loads(result.stdout)
    direct = run_clustering(
        sample_features,
        ClusterParams(
            algorithm="gmm",
            k=4,
            covariance_type="diag",
            features=chosen,
            scaler="robust",
            seed=7,
        ),
    )
    assert payload["features"] == list(chosen)
    assert read_labels(out)["segment"].tolist() == direct.labels.astype(str).tolist()


def test_rfm(sample_workspace: Path) -> None:
    out = sample_workspace.parent / "rfm.csv"
    result = ok(crm(sample_workspace, "segment", "sample", "--algorithm", "rfm", "--out", str(out)))
    payload = json.loads(result.stdout)
    rfm = run_rfm(Workspace(sample_workspace).load_dataset("sample").tables["transactions"])
    labels = read_labels(out)
    assert payload["algorithm"] == "rfm" and payload["customers"] == len(labels) == 5000
    assert payload["as_of"] == "2025-01-01"
    assert list(labels.columns[:3]) == ["customer_id", "segment", "segment_name"]
    assert {"recency", "frequency", "monetary", "r", "f", "m", "cell"} <= set(labels.columns)
    assert labels["segment"].tolist() == rfm.customers["segment"].tolist()
    assert labels["segment_name"].notna().all()
    assert sum(seg["count"] for seg in payload["segments"].values()) == 5000


def test_rfm_in_chinese_names_segments_in_chinese(sample_workspace: Path) -> None:
    out = sample_workspace.parent / "rfm_zh.csv"
    ok(
        crm(
            sample_workspace,
            "--lang",
            "zh",
            "segment",
            "sample",
            "--algorithm",
            "rfm",
            "--out",
            str(out),
        )
    )
    names = read_labels(out)["segment_name"]
    assert names.str.contains(r"[\u3400-\u9fff]").all()


def test_sweep(sample_workspace: Path, sample_features: pd.DataFrame) -> None:
    result = ok(crm(sample_workspace, "segment", "sample", "--sweep", "2..6"))
    payload = json.loads(result.stdout)
    rows = payload["sweep"]
    assert [row["k"] for row in rows] == [2, 3, 4, 5, 6]
    assert payload["features"] == list(default_features(sample_features))
    for row in rows:
        assert set(row) == {"k", "inertia", "silhouette", "davies_bouldin", "calinski_harabasz"}
        assert -1 <= row["silhouette"] <= 1
    inertia = [row["inertia"] for row in rows]
    assert inertia == sorted(inertia, reverse=True)


def test_mall_customers_file_reproduces_the_readme(
    sample_workspace: Path, datasets_dir: Path
) -> None:
    mall = datasets_dir / "mall_customers" / "Mall_Customers.csv.gz"
    if not mall.exists():
        pytest.skip("Mall Customers file missing")
    out = sample_workspace.parent / "mall.csv"
    args = ["--features", "annual_income_k,spending_score_1_100", "--scaler", "none", "--k", "5"]
    result = ok(crm(sample_workspace, "segment", str(mall), *args, "--out", str(out)))
    payload = json.loads(result.stdout)
    assert payload["customers"] == 200
    assert payload["features"] == ["annual_income_k", "spending_score_1_100"]
    sizes = sorted((seg["size"] for seg in payload["segments"].values()), reverse=True)
    assert sizes == MALL_README_SIZES
    assert payload["metrics"]["silhouette"] == pytest.approx(MALL_README_SILHOUETTE, abs=5e-5)
    assert payload["metrics"]["inertia"] == pytest.approx(44448.46, abs=0.01)
    labels = read_labels(out)
    assert len(labels) == 200
    assert labels["customer_id"].iloc[0] == "0001"  # zero-padded ids survive
    assert sorted(labels["segment"].value_counts().tolist(), reverse=True) == MALL_README_SIZES
    # a file path does not create a dataset in the workspace
    assert [d.name for d in Workspace(sample_workspace).list_datasets()] == ["sample"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--k", "10000"], "10000"),
        (["--features", "recency_days,no_such_feature"], "no_such_feature"),
        (["--sweep", "2..1"], "2..1"),
        (["--sweep", "1..5"], "1..5"),
        (["--sweep", "two..ten"], "two..ten"),
        (["--scaler", "zscore"], "zscore"),
        (["--algorithm", "dbscan", "--eps", "0"], "eps"),
    ],
)
def test_bad_input_is_one_line_exit_2(sample_workspace: Path, args: list[str], needle: str) -> None:
    out = sample_workspace.parent / "never.csv"
    line = assert_user_error(crm(sample_workspace, "segment", "sample", *args, "--out", str(out)))
    assert needle in line
    assert not out.exists()


def test_missing_dataset_and_rfm_without_transactions(
    sample_workspace: Path, tmp_path: Path
) -> None:
    assert_user_error(crm(sample_workspace, "segment", "no_such_dataset"))
    people = tmp_path / "people.csv"
    people.write_text(
        "customer_id,age,city\n" + "".join(f"P{i},{20 + i},Leeds\n" for i in range(30)),
        encoding="utf-8",
    )
    line = assert_user_error(crm(sample_workspace, "segment", str(people), "--algorithm", "rfm"))
    assert "transactions" in line
