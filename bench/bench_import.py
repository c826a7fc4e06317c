"""Import end to end (read, detect, map, validate, store) against a bare pandas read of the file.

Cases: UCI Online Retail as shipped (gzip CSV, 541,909 rows) and a generated 5,000,000-row
transaction CSV. Also times the candidate readers (pandas C engine, pyarrow, DuckDB read_csv) on the
uncompressed Online Retail bytes, so the choice of reader is backed by a number from this machine.
"""

from __future__ import annotations

import gzip
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from harness import DATASETS, measure, ratio, report

from crm_core.importer import prepare_table, save_prepared
from crm_core.store import Workspace

ONLINE_RETAIL = DATASETS / "online_retail" / "online_retail.csv.gz"


def import_end_to_end(data: bytes, filename: str) -> dict:
    """What ``crm import`` does: read + sniff, auto-map, type, validate, store in DuckDB.

    Also reports the CPU seconds of the process (all threads): on a shared machine the wall
    time includes waiting for a core, the CPU time does not."""
    started = time.process_time()
    with tempfile.TemporaryDirectory() as directory:
        prepared = prepare_table(data, filename)
        info = save_prepared(Workspace(directory), "bench", [prepared])
        return {"rows": info.total_rows, "cpu_s": round(time.process_time() - started, 3)}


def bare_read(data: bytes, **options: object) -> dict:
    """pandas' default read of the same bytes, with its CPU seconds (see above)."""
    started = time.process_time()
    rows = len(pd.read_csv(io.BytesIO(data), **options))
    return {"rows": rows, "cpu_s": round(time.process_time() - started, 3)}


def generated_transactions(rows: int, seed: int = 7) -> bytes:
    """A plain transactions CSV: ids with leading zeros, ISO timestamps, prices, quantities."""
    rng = np.random.default_rng(seed)
    customers = rng.integers(1, 200_000, rows)
    frame = pd.DataFrame(
        {
            "customer_id": pd.Series(customers).map("{:07d}".format),
            "order_id": pd.Series(rng.integers(1, rows // 3, rows)).map("O{:08d}".format),
            "date": (
                pd.Timestamp("2022-01-01")
                + pd.to_timedelta(rng.integers(0, 730 * 86400, rows), "s")
            ).strftime("%Y-%m-%d %H:%M:%S"),
            "product": pd.Series(rng.integers(1, 10_000, rows)).map("P{:05d}".format),
            "quantity": rng.integers(1, 10, rows),
            "unit_price": rng.gamma(2.0, 10.0, rows).round(2),
        }
    )
    buffer = io.BytesIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue()


def main() -> None:
    """Measure each case and its bare-read baseline in the same run."""
    results: dict = {}
    if ONLINE_RETAIL.exists():
        packed = ONLINE_RETAIL.read_bytes()
        raw = gzip.decompress(packed)
        bare = measure(lambda: bare_read(raw), repeat=3)
        bare_dates = measure(lambda: bare_read(raw, parse_dates=["InvoiceDate"]), repeat=3)
        ours = measure(lambda: import_end_to_end(raw, "online_retail.csv"), repeat=3)
        ours_gz = measure(lambda: import_end_to_end(packed, "online_retail.csv.gz"), repeat=1)
        readers = {
            "pandas_c": measure(lambda: len(pd.read_csv(io.BytesIO(raw), dtype=str)), repeat=3),
            "pyarrow": measure(
                lambda: len(pd.read_csv(io.BytesIO(raw), dtype=str, engine="pyarrow")), repeat=3
            ),
        }
        try:
            import duckdb

            def duck() -> int:
                with tempfile.NamedTemporaryFile(suffix=".csv") as handle:
                    handle.write(raw)
                    handle.flush()
                    return len(duckdb.read_csv(handle.name, all_varchar=True).df())

            readers["duckdb"] = measure(duck, repeat=3)
        except ImportError:
            pass
        results["online_retail"] = {
            "rows": ours["extra"]["rows"],
            "end_to_end_s": ours["seconds"],
            "end_to_end_gzip_s": ours_gz["seconds"],
            "peak_mb": ours["peak_mb"],
            "bare_read_s": bare["seconds"],
            "bare_read_with_dates_s": bare_dates["seconds"],
            "ratio_vs_bare_read": ratio(ours["seconds"], bare["seconds"]),
            "ratio_vs_bare_read_with_dates": ratio(ours["seconds"], bare_dates["seconds"]),
            "cpu_s": {"end_to_end": ours["extra"]["cpu_s"], "bare_read": bare["extra"]["cpu_s"]},
            "readers_text_only_s": {name: r["seconds"] for name, r in readers.items()},
            "target": "<= 1.5 s end to end, <= 4x the bare read",
        }
    big = generated_transactions(5_000_000)
    bare_big = measure(lambda: bare_read(big))
    ours_big = measure(lambda: import_end_to_end(big, "transactions_5m.csv"))
    results["generated_5m"] = {
        "rows": (ours_big["extra"] or {}).get("rows"),
        "error": ours_big["error"],
        "size_mb": round(len(big) / 2**20, 1),
        "end_to_end_s": ours_big["seconds"],
        "peak_mb": ours_big["peak_mb"],
        "bare_read_s": bare_big["seconds"],
        "ratio_vs_bare_read": ratio(ours_big["seconds"], bare_big["seconds"]),
        "cpu_s": {
            "end_to_end": (ours_big["extra"] or {}).get("cpu_s"),
            "bare_read": bare_big["extra"]["cpu_s"],
        },
        "target": "<= 15 s and < 3 GB peak",
    }
    report("import", results)


if __name__ == "__main__":
    main()
