"""The ``crm`` command line: every analysis headless, printing JSON or writing CSV.

Errors a user can fix are printed as one line on stderr with exit code 2; the same core functions
as the app run underneath, so the numbers match.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from crm_core import __version__
from crm_core.errors import CrmError
from crm_core.i18n import LANGUAGES

Handler = Callable[[argparse.Namespace], int]
SAMPLE_DATASET = "sample"


def _print_json(payload: Any, path: str | None = None) -> None:
    """JSON to stdout, or to a file when ``--json PATH`` was given."""
    text = json.dumps(payload, ensure_ascii=False, indent=2, default=str)
    if path and path != "-":
        Path(path).write_text(text + "\n", encoding="utf-8")
    else:
        sys.stdout.write(text + "\n")


def _workspace(args: argparse.Namespace) -> Any:
    from crm_core.store import Workspace

    return Workspace(args.workspace)


def cmd_sample(args: argparse.Namespace) -> int:
    """Regenerate the bundled sample files byte-identically."""
    from crm_core.sample import write_sample

    written = write_sample(Path(args.dir), seed=args.seed)
    _print_json({"directory": str(args.dir), "files": [p.name for p in written]})
    return 0


def ensure_sample(workspace: Any) -> bool:
    """Put the bundled sample into the workspace when it is not there; True when added."""
    from crm_core.sample import load_sample

    if workspace.exists(SAMPLE_DATASET):
        return False
    sample = load_sample()
    workspace.save_dataset(SAMPLE_DATASET, sample.tables)
    return True


def cmd_init(args: argparse.Namespace) -> int:
    """Make sure the workspace exists and holds the sample dataset."""
    workspace = _workspace(args)
    added = ensure_sample(workspace)
    _print_json({"workspace": str(workspace.path), "sample_added": added})
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    """List the workspace's datasets with row counts."""
    workspace = _workspace(args)
    payload = [
        {
            "name": info.name,
            "rows": info.rows,
            "version": info.version,
            "updated_at": info.updated_at.isoformat(timespec="seconds"),
            "fingerprint": info.fingerprint,
        }
        for info in workspace.list_datasets()
    ]
    _print_json(payload)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """All subcommands in one place, so ``crm --help`` lists every one."""
    parser = argparse.ArgumentParser(
        prog="crm",
        description="CRM Insight Studio on the command line: commands print JSON or write CSV.",
    )
    parser.add_argument("--version", action="version", version=f"crm {__version__}")
    parser.add_argument(
        "--workspace",
        default=None,
        help="workspace folder (default: $CRM_WORKSPACE or ./workspace)",
    )
    parser.add_argument(
        "--lang", choices=list(LANGUAGES), default="en", help="language of messages (en, zh)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    sample = sub.add_parser("sample", help="regenerate the bundled sample data files")
    sample.add_argument(
        "--dir", default=str(Path(__file__).resolve().parent.parent / "sample_data")
    )
    sample.add_argument("--seed", type=int, default=42)
    sample.set_defaults(handler=cmd_sample)

    init = sub.add_parser("init", help="create the workspace and load the sample dataset into it")
    init.set_defaults(handler=cmd_init)

    datasets = sub.add_parser("datasets", help="list the workspace's datasets as JSON")
    datasets.set_defaults(handler=cmd_datasets)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``crm`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return handler(args)
    except CrmError as error:
        sys.stderr.write(f"crm: {error.message(args.lang)}\n")
        return 2
    except OSError as error:
        sys.stderr.write(f"crm: {error.strerror or error}: {error.filename or ''}\n")
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
