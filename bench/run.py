"""Run every ``bench/bench_*.py`` script and print one combined JSON document (``make bench``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    """Run the scripts one after another (they measure time, so never in parallel)."""
    selected = sys.argv[1:]
    combined = {}
    for script in sorted(HERE.glob("bench_*.py")):
        if selected and script.stem not in selected and script.stem[6:] not in selected:
            continue
        done = subprocess.run(
            [sys.executable, str(script)], capture_output=True, text=True, cwd=HERE.parent
        )
        try:
            combined[script.stem] = json.loads(done.stdout)
        except json.JSONDecodeError:
            combined[script.stem] = {
                "error": done.stderr.strip().splitlines()[-1:] or ["no output"]
            }
    sys.stdout.write(json.dumps(combined, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
