"""Bench helpers: time and peak memory of one call, measured in a forked child process.

Each measurement runs in a fresh fork so peak memory is that call's own (the child resets its
high-water mark through /proc/self/clear_refs where Linux allows it). Benchmarks compare against a
baseline run in the same process and the same run, so the ratios travel between machines.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing as mp
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"
DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _child(fn: Callable[[], Any], queue: mp.Queue) -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    start_rss = _status_kib("VmRSS")
    started = time.perf_counter()
    try:
        extra = fn()
        error = None
    except Exception as exc:  # reported in the JSON, not raised: one failing bench keeps the rest
        extra, error = None, f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - started
    peak = max(_status_kib("VmHWM") - start_rss, 0)
    queue.put(
        {
            "seconds": round(seconds, 4),
            "peak_mb": round(peak / 1024, 1),
            "extra": extra,
            "error": error,
        }
    )


def measure(fn: Callable[[], Any], repeat: int = 1) -> dict[str, Any]:
    """Best-of-``repeat`` seconds and the peak memory of ``fn`` in a forked child."""
    context = mp.get_context("fork")
    runs = []
    for _ in range(repeat):
        queue: mp.Queue = context.Queue()
        process = context.Process(target=_child, args=(fn, queue))
        process.start()
        result = queue.get()
        process.join()
        runs.append(result)
    best = min(runs, key=lambda r: r["seconds"])
    return best


def ratio(value: float, baseline: float) -> float | None:
    """value / baseline, rounded; None when the baseline is zero."""
    return round(value / baseline, 2) if baseline else None


def report(name: str, payload: dict[str, Any]) -> None:
    """Print the bench's JSON and keep it under bench/results/ for the README."""
    payload = {
        "bench": name,
        "cpu_count": os.cpu_count(),
        "python": sys.version.split()[0],
        **payload,
    }
    text = json.dumps(payload, indent=2, ensure_ascii=False, default=str)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(text + "\n", encoding="utf-8")
    sys.stdout.write(text + "\n")
