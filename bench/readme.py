"""Write the latest ``bench/results/*.json`` figures into README.md between the BENCH markers."""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE.parent / "README.md"
START, END = "<!-- BENCH:START -->", "<!-- BENCH:END -->"
SKIP = {"bench", "cpu_count", "python"}


def _rows(prefix: str, value: object) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        rows: list[tuple[str, str]] = []
        for key, item in value.items():
            rows.extend(_rows(f"{prefix}.{key}" if prefix else str(key), item))
        return rows
    if isinstance(value, list):
        text = (
            ", ".join(str(v) for v in value[:8])
            if all(not isinstance(v, dict | list) for v in value)
            else f"{len(value)} entries"
        )
        return [(prefix, text)]
    if value is None:
        return []
    return [(prefix, f"{value:,}" if isinstance(value, int) else str(value))]


def render() -> str:
    """One table per bench: case.figure | value."""
    parts = []
    for path in sorted(HERE.glob("results/*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        parts.append(f"**{path.stem}** (`bench/{'bench_' + path.stem}.py`)\n")
        parts.append("| figure | value |\n|---|---|")
        for key, value in data.items():
            if key in SKIP:
                continue
            for name, text in _rows(key, value):
                parts.append(f"| {name} | {text.replace('|', '/')} |")
        parts.append("")
    return "\n".join(parts)


def main() -> None:
    """Replace the text between the markers."""
    text = README.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(f"{head}{START}\n{render()}\n{END}{tail}", encoding="utf-8")


if __name__ == "__main__":
    main()
