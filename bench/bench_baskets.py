"""Market-basket analysis end to end against mlxtend on a dense one-hot table and against pyfim.

Cases: Groceries (9,835 baskets / 169 items, arules settings), Online Retail invoice baskets
(about 20,000 x 4,000 at support 0.01) and a generated 1,000,000 baskets over 10,000 items at
support 0.001. The baseline is the common recipe (a dense bool one-hot DataFrame, mlxtend
``apriori`` then ``association_rules``), skipped where the dense table would exceed 4 GB; mlxtend
FP-Growth on a sparse DataFrame and pyfim (C, Borgelt; only when installed) are measured too, so
the choice of miner is backed by numbers from this machine. Baselines run in a child process
with a time limit and a memory cap, and a run that hits either is recorded as such.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import resource
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import DATASETS, _child, measure, ratio, report

from crm_core.baskets import BasketParams, Baskets, RuleParams, build_baskets, run_rules
from crm_core.importer import prepare_table

GROCERIES = DATASETS / "groceries" / "groceries.csv.gz"
ONLINE_RETAIL = DATASETS / "online_retail" / "online_retail.csv.gz"
DENSE_LIMIT_BYTES = 4 * 2**30
BASELINE_SECONDS = 180
BASELINE_MEMORY = 8 * 2**30


def _limited_child(fn: Callable[[], Any], queue: mp.Queue, memory: int) -> None:
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    _child(fn, queue)


def measure_limited(
    fn: Callable[[], Any], seconds: int = BASELINE_SECONDS, memory: int = BASELINE_MEMORY
) -> dict[str, Any]:
    """Like ``harness.measure`` (one run), but killed after ``seconds`` or at ``memory`` bytes."""
    context = mp.get_context("fork")
    queue: mp.Queue = context.Queue()
    process = context.Process(target=_limited_child, args=(fn, queue, memory))
    process.start()
    process.join(seconds)
    if process.is_alive():
        process.kill()
        process.join()
        return {"seconds": None, "peak_mb": None, "extra": None, "error": f"over {seconds} s"}
    if queue.empty():
        return {"seconds": None, "peak_mb": None, "extra": None, "error": "killed (memory)"}
    return queue.get()


def mlxtend_dense_recipe(
    baskets: Baskets, min_support: float, max_len: int | None, low_memory: bool = False
) -> dict:
    """The tutorial recipe: dense bool one-hot, ``apriori``, ``association_rules`` (confidence)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mlxtend.frequent_patterns import apriori, association_rules

        onehot = pd.DataFrame(baskets.matrix.toarray(), columns=list(baskets.items))
        itemsets = apriori(
            onehot,
            min_support=min_support,
            use_colnames=True,
            max_len=max_len,
            low_memory=low_memory,
        )
        if len(itemsets) == 0 or itemsets["itemsets"].map(len).max() < 2:
            return {"itemsets": len(itemsets), "rules": 0}
        rules = association_rules(
            itemsets, num_itemsets=len(onehot), metric="confidence", min_threshold=0.25
        )
    return {"itemsets": len(itemsets), "rules": len(rules)}


def mlxtend_sparse_fpgrowth(baskets: Baskets, min_support: float, max_len: int | None) -> dict:
    """mlxtend FP-Growth on a sparse DataFrame (it still densifies the frame to count items)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mlxtend.frequent_patterns import fpgrowth

        frame = pd.DataFrame.sparse.from_spmatrix(
            baskets.matrix.tocsc(), columns=[str(i) for i in range(baskets.n_items)]
        )
        itemsets = fpgrowth(frame, min_support=min_support, max_len=max_len)
    return {"itemsets": len(itemsets)}


def mlxtend_sparse_apriori(baskets: Baskets, min_support: float, max_len: int | None) -> dict:
    """mlxtend Apriori on a sparse DataFrame (no dense table; the only mlxtend option at 1M)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from mlxtend.frequent_patterns import apriori

        frame = pd.DataFrame.sparse.from_spmatrix(
            baskets.matrix.tocsc(), columns=[str(i) for i in range(baskets.n_items)]
        )
        itemsets = apriori(frame, min_support=min_support, max_len=max_len, low_memory=True)
    return {"itemsets": len(itemsets)}


def pyfim_fpgrowth(baskets: Baskets, min_count: int, max_len: int) -> dict:
    """pyfim (Borgelt's C FP-Growth), from the CSR rows turned into Python lists."""
    import fim

    matrix = baskets.matrix
    rows = [r.tolist() for r in np.split(matrix.indices, matrix.indptr[1:-1])]
    found = fim.fpgrowth(rows, supp=-min_count, zmax=max_len, report="a")
    return {"itemsets": len(found)}


def pyfim_version() -> str | None:
    try:
        from importlib.metadata import version

        import fim  # noqa: F401
    except ImportError:
        return None
    return version("pyfim")


def ours(baskets: Baskets, params: RuleParams) -> dict:
    result = run_rules(baskets, rule_params=params)
    return {"itemsets": len(result.itemsets), "rules": len(result.rules), "engine": result.engine}


def compare(
    name: str,
    baskets: Baskets,
    params: RuleParams,
    end_to_end: Callable[[], Any] | None = None,
    target: str = "",
) -> dict[str, Any]:
    """Our run (mining + rules) against the dense mlxtend recipe, mlxtend sparse FP-Growth and
    pyfim, all on the same baskets."""
    min_count = run_rules(baskets, rule_params=params).min_count
    mine = measure(lambda: ours(baskets, params), repeat=3 if baskets.n_baskets < 100_000 else 1)
    out: dict[str, Any] = {
        "baskets": baskets.n_baskets,
        "items": baskets.n_items,
        "min_support": params.min_support,
        "min_count": min_count,
        "max_len": params.max_len,
        "ours_rules_s": mine["seconds"],
        "ours_peak_mb": mine["peak_mb"],
        "ours": mine["extra"],
        "target": target,
    }
    if end_to_end is not None:
        e2e = measure(end_to_end, repeat=3 if baskets.n_baskets < 100_000 else 1)
        out["ours_end_to_end_s"] = e2e["seconds"]
        out["ours_end_to_end_peak_mb"] = e2e["peak_mb"]
        out["ours_end_to_end"] = e2e["extra"] or e2e["error"]
    dense_bytes = baskets.n_baskets * baskets.n_items
    if dense_bytes > DENSE_LIMIT_BYTES:
        out["mlxtend_dense_apriori"] = (
            f"skipped: dense one-hot would be {dense_bytes / 2**30:.1f} GB"
        )
        out["mlxtend_sparse_fpgrowth"] = (
            "skipped: mlxtend's fpgrowth sums df.values, which densifies the same "
            f"{dense_bytes / 2**30:.1f} GB"
        )
        sparse_apriori = measure_limited(
            lambda: mlxtend_sparse_apriori(baskets, params.min_support, params.max_len)
        )
        out["mlxtend_sparse_apriori_s"] = sparse_apriori["seconds"]
        out["mlxtend_sparse_apriori_peak_mb"] = sparse_apriori["peak_mb"]
        out["mlxtend_sparse_apriori"] = sparse_apriori["extra"] or sparse_apriori["error"]
        out["ratio_vs_mlxtend_sparse_apriori"] = (
            ratio(mine["seconds"], sparse_apriori["seconds"]) if sparse_apriori["seconds"] else None
        )
    else:
        dense = measure_limited(
            lambda: mlxtend_dense_recipe(baskets, params.min_support, params.max_len)
        )
        if dense["error"]:
            out["mlxtend_dense_apriori"] = (
                f"{dense['error'][:120]} (cap {BASELINE_MEMORY >> 30} GB)"
            )
            dense = measure_limited(
                lambda: mlxtend_dense_recipe(baskets, params.min_support, params.max_len, True)
            )
            out["mlxtend_dense_apriori_low_memory_s"] = dense["seconds"]
            out["mlxtend_dense_apriori_low_memory"] = dense["extra"] or dense["error"]
        else:
            out["mlxtend_dense_apriori_s"] = dense["seconds"]
            out["mlxtend_dense_apriori"] = dense["extra"]
        out["mlxtend_dense_apriori_peak_mb"] = dense["peak_mb"]
        out["ratio_vs_mlxtend_dense_apriori"] = (
            ratio(mine["seconds"], dense["seconds"])
            if dense["seconds"] and not dense["error"]
            else None
        )
        fp = measure_limited(
            lambda: mlxtend_sparse_fpgrowth(baskets, params.min_support, params.max_len)
        )
        out["mlxtend_sparse_fpgrowth_s"] = fp["seconds"]
        out["mlxtend_sparse_fpgrowth_peak_mb"] = fp["peak_mb"]
        out["mlxtend_sparse_fpgrowth"] = fp["extra"] or fp["error"]
    if pyfim_version():
        fast = measure(lambda: pyfim_fpgrowth(baskets, min_count, params.max_len), repeat=1)
        out["pyfim_fpgrowth_s"] = fast["seconds"]
        out["pyfim_peak_mb"] = fast["peak_mb"]
        out["pyfim"] = fast["extra"] or fast["error"]
        out["ratio_vs_pyfim"] = ratio(mine["seconds"], fast["seconds"])
    else:
        out["pyfim"] = "not installed"
    sys.stderr.write(f"{name}: done\n")
    return out


def generated(n_baskets: int = 1_000_000, n_items: int = 10_000, seed: int = 7) -> pd.DataFrame:
    """Long transactions: Zipf-like item popularity plus 300 planted bundles of 2-4 items."""
    rng = np.random.default_rng(seed)
    sizes = 1 + rng.poisson(2.5, n_baskets)
    weights = 1.0 / (np.arange(n_items) + 20.0)
    cumulative = np.cumsum(weights / weights.sum())
    perm = rng.permutation(n_items)
    draws = np.searchsorted(cumulative, rng.random(int(sizes.sum())), side="right")
    items = perm[np.minimum(draws, n_items - 1)]
    rows = np.repeat(np.arange(n_baskets), sizes)
    lengths = rng.integers(2, 5, 300)
    bundles = [rng.choice(n_items, size=k, replace=False) for k in lengths]
    holders = np.flatnonzero(rng.random(n_baskets) < 0.08)
    bundle_weights = 1.0 / (np.arange(300) + 5.0)
    picks = np.searchsorted(
        np.cumsum(bundle_weights / bundle_weights.sum()), rng.random(holders.size), side="right"
    )
    picks = np.minimum(picks, 299)
    rows = np.concatenate([rows, np.repeat(holders, lengths[picks])])
    items = np.concatenate([items, *[bundles[b] for b in picks]])
    names = np.array([f"P{i:05d}" for i in range(n_items)], dtype=object)
    orders = np.array([f"B{i:07d}" for i in range(n_baskets)], dtype=object)
    return pd.DataFrame(
        {
            "order_id": pd.Series(orders[rows], dtype="str"),
            "item": pd.Series(names[items], dtype="str"),
        }
    )


def main() -> None:
    """Each case: ours end to end and mining-only, then the baselines on the same baskets."""
    results: dict[str, Any] = {"pyfim_version": pyfim_version()}
    if GROCERIES.exists():
        raw = GROCERIES.read_bytes()
        params = RuleParams(min_support=0.006, min_confidence=0.25, min_lift=0.0)

        def groceries_end_to_end() -> dict:
            prepared = prepare_table(raw, GROCERIES.name)
            result = run_rules(prepared.cleaned, BasketParams(), params)
            return {"rules": len(result.rules), "engine": result.engine}

        baskets = build_baskets(prepare_table(raw, GROCERIES.name).cleaned)
        results["groceries"] = compare(
            "groceries",
            baskets,
            params,
            end_to_end=groceries_end_to_end,
            target="< 0.5 s end to end (file bytes to rules)",
        )
        native = RuleParams(min_support=0.006, min_confidence=0.25, min_lift=0.0, engine="native")
        results["groceries"]["ours_native_rules_s"] = measure(
            lambda: ours(baskets, native), repeat=3
        )["seconds"]
    if ONLINE_RETAIL.exists():
        retail = prepare_table(ONLINE_RETAIL.read_bytes(), ONLINE_RETAIL.name).cleaned
        params = RuleParams(min_support=0.01)
        baskets = build_baskets(retail)

        def retail_end_to_end() -> dict:
            result = run_rules(retail, BasketParams(unit="order"), params)
            return {"rules": len(result.rules), "engine": result.engine}

        results["online_retail_invoices"] = compare(
            "online_retail",
            baskets,
            params,
            end_to_end=retail_end_to_end,
            target="< 2 s from canonical transactions to rules",
        )
        dense_low = RuleParams(min_support=0.005)
        results["online_retail_invoices_support_0.005"] = {
            "ours": measure(lambda: ours(baskets, dense_low))["extra"],
            "ours_rules_s": measure(lambda: ours(baskets, dense_low))["seconds"],
            "pyfim_fpgrowth_s": (
                measure(lambda: pyfim_fpgrowth(baskets, 101, 4))["seconds"]
                if pyfim_version()
                else "not installed"
            ),
            "note": "an explosion-side setting: 16,596 itemsets, 27,591 rules before the cap",
        }
    lines = generated()
    params = RuleParams(min_support=0.001)
    baskets = build_baskets(lines)
    build = measure(lambda: build_baskets(lines).n_baskets)

    def generated_end_to_end() -> dict:
        result = run_rules(lines, BasketParams(), params)
        return {"rules": len(result.rules), "engine": result.engine}

    results["generated_1m"] = compare(
        "generated_1m",
        baskets,
        params,
        end_to_end=generated_end_to_end,
        target="< 10 s and < 1 GB (transactions frame to rules)",
    )
    results["generated_1m"]["rows"] = len(lines)
    results["generated_1m"]["build_baskets_s"] = build["seconds"]
    results["generated_1m"]["build_baskets_peak_mb"] = build["peak_mb"]
    results["generated_1m"]["dense_one_hot_gb"] = round(
        baskets.n_baskets * baskets.n_items / 2**30, 1
    )
    results["generated_1m"]["csr_mb"] = round(
        (baskets.matrix.data.nbytes + baskets.matrix.indices.nbytes + baskets.matrix.indptr.nbytes)
        / 2**20,
        1,
    )
    report("baskets", results)


if __name__ == "__main__":
    main()
