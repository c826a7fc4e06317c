"""Churn: train and cross-validate all four models on 100,000 customers, score 1,000,000.

Two timings of the comparison on 100,000 customers: training and 5-fold cross-validation of the
four models as the page's comparison runs it (the issue's 60 s figure: features, CV, final fit,
out-of-fold risk scores), and the all-inclusive run that also explains every model (permutation
importance, partial dependence, factors for every customer), split by stage.

The customers are generated with a known logistic signal (tenure, charges, complaints, a monthly
contract and a region), so the bench also reports each model's ROC-AUC against the signal's own
(the best any model can do). Baseline, measured in the same run: a bare scikit-learn
``LogisticRegression`` fit (and ``predict_proba``) on the same preprocessed matrix, so the ratios
travel between machines.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import measure, ratio, report

from crm_core import churn as C
from crm_core.tables import Dataset

TRAIN_CUSTOMERS = 100_000
SCORE_CUSTOMERS = 1_000_000
LABEL = C.ChurnLabelParams(label_column="churn")


def generated_customers(n: int, seed: int = 11) -> tuple[pd.DataFrame, np.ndarray]:
    """A customers table with a churn label drawn from a known logistic model, and its logit."""
    rng = np.random.default_rng(seed)
    tenure = rng.integers(1, 73, n).astype(float)
    charges = np.round(rng.normal(65, 25, n).clip(15, 150), 2)
    complaints = rng.poisson(0.6, n).astype(float)
    satisfaction = np.round(rng.normal(3.6, 0.8, n).clip(1, 5), 1)
    age = rng.integers(18, 80, n).astype(float)
    contract = rng.choice(["Month-to-month", "One year", "Two year"], n, p=[0.55, 0.25, 0.2])
    region = rng.choice([f"R{i}" for i in range(8)], n)
    noise = rng.normal(size=(n, 4))
    logit = (
        -1.2
        - 0.045 * (tenure - 36)
        + 0.012 * (charges - 65)
        + 0.55 * complaints
        - 0.6 * (satisfaction - 3.6)
        + 1.3 * (contract == "Month-to-month")
        - 0.4 * (contract == "Two year")
        + 0.25 * (region == "R3")
    )
    churn = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame = pd.DataFrame(
        {
            "customer_id": pd.Series(np.arange(n)).map("C{:07d}".format),
            "tenure": tenure,
            "monthly_charges": charges,
            "complaints": complaints,
            "satisfaction": satisfaction,
            "age": age,
            "contract": contract,
            "region": region,
            **{f"noise_{i}": noise[:, i] for i in range(4)},
            "churn": churn.astype(np.int64),
        }
    )
    frame["customer_id"] = frame["customer_id"].astype("str")
    for column in ("contract", "region"):
        frame[column] = frame[column].astype("str")
    return frame, logit


def main() -> None:
    """Compare the four models (5-fold CV, explanations, risk list) and score a million rows."""
    load_before = os.getloadavg()[0]  # other jobs on the machine slow every figure down
    customers, logit = generated_customers(TRAIN_CUSTOMERS)
    train = Dataset("bench_train", {"customers": customers}, fingerprint="bench")

    def compare(explain: bool) -> dict:
        ticks: list[float] = []
        stamps: list[float] = []
        started = time.perf_counter()
        cpu = time.process_time()

        def progress(fraction: float) -> None:
            ticks.append(fraction)
            stamps.append(time.perf_counter())

        run = [C.ChurnModelParams(model=m, explain=explain) for m in C.MODELS]
        comparison = C.compare_models(train, LABEL, run, progress=progress)
        inner = time.perf_counter() - started
        gaps = np.diff([started, *stamps])
        table = comparison.table.set_index("model")
        results = comparison.results.values()
        stages = {
            stage: round(sum(r.timings[stage] for r in results), 3)
            for stage in ("evaluation", "final_fit", "explanation", "scores")
        }
        explaining = stages["explanation"] + (stages["scores"] if explain else 0.0)
        return {
            "seconds_per_model": {k: r.seconds for k, r in comparison.results.items()},
            "seconds_by_stage": {"features_and_label": round(inner - sum(stages.values()), 3)}
            | stages,
            "training_cv_s": round(inner - explaining, 3),
            "explanations_s": round(explaining, 3),
            "roc_auc": {k: round(float(v), 4) for k, v in table["roc_auc"].items()},
            "progress_updates": len(ticks),
            "progress_last": round(ticks[-1], 3) if ticks else None,
            "progress_max_gap_s": round(float(gaps.max()), 2) if len(gaps) else None,
            "inner_s": round(inner, 3),
            # CPU seconds of this process: what the run costs when it has a core to itself
            "cpu_s": round(time.process_time() - cpu, 3),
        }

    frame = C.build_churn_frame(train, LABEL)
    prep = C.build_pipeline(C.ChurnModelParams(), frame.numeric, frame.categorical)[0]
    matrix = np.asarray(prep.fit_transform(frame.X), dtype=float)
    y = frame.y.to_numpy()

    bare_fit = measure(lambda: LogisticRegression(max_iter=2000).fit(matrix, y).n_iter_[0], 3)
    trained = measure(lambda: compare(explain=False))
    ours = measure(lambda: compare(explain=True))
    extra = ours["extra"] or {}

    # one fitted comparison, kept for scoring (the timed one ran in a forked child)
    fitted = C.compare_models(
        train, LABEL, [C.ChurnModelParams(model=m, explain=m != "rf") for m in C.MODELS]
    )
    big, _ = generated_customers(SCORE_CUSTOMERS, seed=12)
    big_ds = Dataset("bench_score", {"customers": big.drop(columns="churn")}, fingerprint="big")
    big_frame = C.build_churn_frame(
        Dataset("bench_score_labelled", {"customers": big}, fingerprint="bigl"), LABEL
    )
    big_matrix = np.asarray(prep.transform(big_frame.X), dtype=float)
    bare_model = LogisticRegression(max_iter=2000).fit(matrix, y)
    bare_score = measure(lambda: float(bare_model.predict_proba(big_matrix)[:, 1].mean()), 3)

    def score(model: C.TrainedModel, explain: bool) -> dict:
        cpu = time.process_time()
        rows = len(C.score_dataset(model, big_ds, explain=explain))
        return {"rows": rows, "cpu_s": round(time.process_time() - cpu, 3)}

    scoring: dict[str, dict] = {}
    for key, result in fitted.results.items():
        # best of 3, as the bare baseline: the machine may be shared (see "cpu_count")
        run = measure(lambda model=result.model: score(model, explain=False), 3)
        scoring[key] = {
            "seconds": run["seconds"],
            "cpu_s": (run["extra"] or {}).get("cpu_s"),
            "peak_mb": run["peak_mb"],
            "ratio_vs_bare_predict": ratio(run["seconds"], bare_score["seconds"]),
            "error": run["error"],
        }
    for key in ("logreg", "hgb"):
        model = fitted.results[key].model
        run = measure(lambda model=model: score(model, explain=True))
        scoring[f"{key}_with_factors"] = {
            "seconds": run["seconds"],
            "cpu_s": (run["extra"] or {}).get("cpu_s"),
            "peak_mb": run["peak_mb"],
            "ratio_vs_bare_predict": ratio(run["seconds"], bare_score["seconds"]),
            "error": run["error"],
        }

    signal_auc = round(float(roc_auc_score(y, logit)), 4)
    report(
        "churn",
        {
            "load_average_1m": {
                "start": round(load_before, 2),
                "end": round(os.getloadavg()[0], 2),
            },
            "train_cv_100k_all_models_cv5": {
                "customers": TRAIN_CUSTOMERS,
                "seconds": trained["seconds"],
                "peak_mb": trained["peak_mb"],
                "error": trained["error"],
                **(trained["extra"] or {}),
                "ratio_vs_bare_logreg_fit": ratio(trained["seconds"], bare_fit["seconds"]),
                "includes": "features and label, 5-fold CV, final fit and out-of-fold risk "
                "scores for every customer, four models (the page's model comparison)",
                "target": "<= 60 s",
            },
            "train_100k_all_models_cv5": {
                "customers": TRAIN_CUSTOMERS,
                "features": len(frame.features),
                "seconds": ours["seconds"],
                "peak_mb": ours["peak_mb"],
                "error": ours["error"],
                **extra,
                "roc_auc_of_true_signal": signal_auc,
                "bare_logreg_fit_s": bare_fit["seconds"],
                "ratio_vs_bare_logreg_fit": ratio(ours["seconds"], bare_fit["seconds"]),
                "ratio_per_model_vs_bare_logreg_fit": {
                    k: ratio(v, bare_fit["seconds"])
                    for k, v in extra.get("seconds_per_model", {}).items()
                },
                "includes": "5-fold CV, final fit, permutation importance, partial dependence, "
                "factors and risk scores for every customer, four models",
                "target": "<= 60 s (the issue's 60 s is training and CV; this also explains)",
            },
            "score_1m": {
                "customers": SCORE_CUSTOMERS,
                "by_model": scoring,
                "bare_logreg_predict_proba_s": bare_score["seconds"],
                "includes": "feature table from the customers table, preprocessing, prediction "
                "(best of 3; the with_factors figures are one run)",
                "target": "<= 10 s",
            },
        },
    )


if __name__ == "__main__":
    main()
