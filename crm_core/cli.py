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
from crm_core.i18n import LANGUAGES, t
from crm_core.tables import TABLES

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


def _read_json_arg(path: str | None) -> str | None:
    """The text of a ``--mapping``/``--recipe`` JSON file, or None."""
    if not path:
        return None
    return Path(path).read_text(encoding="utf-8")


def cmd_import(args: argparse.Namespace) -> int:
    """Import one or more files into a workspace dataset and print a JSON summary."""
    from crm_core.cleaning import Recipe
    from crm_core.importer import prepare_table, save_prepared
    from crm_core.io import ReadOptions, read_path
    from crm_core.schema import Mapping

    workspace = _workspace(args)
    mapping_text = _read_json_arg(args.mapping)
    recipe_text = _read_json_arg(args.recipe)
    options = ReadOptions(
        delimiter=args.delimiter,
        encoding=args.encoding,
        sheet=args.sheet,
        header_row=args.header_row,
        kind=args.kind,
    )
    prepared = []
    for file in args.files:
        load = read_path(file, options)
        prepared.append(
            prepare_table(
                b"",
                Path(file).name,
                load=load,
                table=args.table,
                mapping=Mapping.from_json(mapping_text) if mapping_text else None,
                recipe=Recipe.from_json(recipe_text) if recipe_text else None,
                workspace=workspace,
            )
        )
    mode = "replace" if args.replace else "merge" if args.add else "new"
    info = save_prepared(workspace, args.name, prepared, mode=mode)
    _print_json(
        {
            "dataset": info.name,
            "version": info.version,
            "rows": info.rows,
            "files": [item.summary() for item in prepared],
        },
        args.json,
    )
    return 0


def cmd_quality(args: argparse.Namespace) -> int:
    """Print the quality report of a dataset (or of a file, mapped automatically)."""
    from crm_core.quality import quality_report

    dataset = load_dataset_arg(args, args.dataset)
    _print_json({"dataset": dataset.name, **quality_report(dataset).to_dict()}, args.json)
    return 0


def load_dataset_arg(args: argparse.Namespace, value: str, mapping: str | None = None) -> Any:
    """A workspace dataset by name, or a file path read and mapped automatically."""
    from crm_core.importer import combine, prepare_table
    from crm_core.io import read_path
    from crm_core.schema import Mapping
    from crm_core.tables import Dataset

    workspace = _workspace(args)
    if workspace.exists(value) or not Path(value).exists():
        return workspace.load_dataset(value)
    text = _read_json_arg(mapping)
    prepared = prepare_table(
        b"",
        Path(value).name,
        load=read_path(value),
        mapping=Mapping.from_json(text) if text else None,
    )
    return Dataset(name=Path(value).name, tables=combine([prepared]))


def _parse_range(text: str) -> range:
    """``2..10`` -> range(2, 11)."""
    from crm_core.errors import ParameterError

    try:
        low, high = (int(part) for part in text.split(".."))
    except ValueError:
        raise ParameterError("cli.bad_range", value=text) from None
    if not 2 <= low <= high <= 50:
        raise ParameterError("cli.bad_range", value=text)
    return range(low, high + 1)


def cmd_segment(args: argparse.Namespace) -> int:
    """RFM or clustering labels to CSV, metrics and profiles to JSON (same code as the page)."""

    from crm_core.export import to_csv_bytes
    from crm_core.features import dataset_features
    from crm_core.segmentation import (
        ClusterParams,
        RfmParams,
        default_features,
        k_sweep,
        labels_frame,
        profile_segments,
        run_clustering,
        run_rfm,
        segment_name,
    )

    dataset = load_dataset_arg(args, args.dataset, args.mapping)
    as_of = _date_arg(args.as_of, "as-of") if args.as_of else None
    if args.algorithm == "rfm":
        if dataset.get("transactions") is None:
            from crm_core.errors import DataRequirementError

            raise DataRequirementError("segments.error.no_transactions")
        rfm = run_rfm(dataset.tables["transactions"], RfmParams(as_of=as_of))
        names = {s: segment_name(s, args.lang) for s in rfm.summary.index}
        frame = labels_frame(rfm.customers["segment"], names).join(
            rfm.customers[["recency", "frequency", "monetary", "r", "f", "m", "cell"]],
            on="customer_id",
        )
        payload = {
            "algorithm": "rfm",
            "as_of": rfm.as_of.date().isoformat(),
            "customers": len(frame),
            "stats": rfm.stats.round(4).to_dict(),
            "segments": {
                names[s]: {k: _plain(v) for k, v in row.items()}
                for s, row in rfm.summary.to_dict("index").items()
            },
        }
    else:
        features = dataset_features(dataset, as_of)
        chosen = tuple(args.features.split(",")) if args.features else default_features(features)
        params = ClusterParams(
            algorithm=args.algorithm,
            k=args.k,
            eps=args.eps,
            min_samples=args.min_samples,
            min_cluster_size=args.min_cluster_size,
            features=chosen,
            scaler=args.scaler,
            pca_components=args.pca,
            seed=args.seed,
            covariance_type=args.covariance,
            linkage=args.linkage,
        )
        if args.sweep:
            sweep = k_sweep(features, params, ks=_parse_range(args.sweep))
            _print_json({"features": list(chosen), "sweep": sweep.to_dict("records")}, args.json)
            return 0
        result = run_clustering(features, params)
        profiles = profile_segments(features, result.labels, columns=list(result.features))
        names = profiles.names(args.lang)
        frame = labels_frame(result.labels, names)
        payload = {
            "algorithm": args.algorithm,
            "features": list(result.features),
            "customers": len(frame),
            "metrics": {k: _plain(v) for k, v in result.metrics.items()},
            "notes": [note.text(args.lang) for note in result.notes],
            "segments": {
                str(label): {
                    "name": names[label],
                    "description": profiles.description(label, args.lang),
                    **{k: _plain(v) for k, v in row.items()},
                }
                for label, row in profiles.summary.to_dict("index").items()
            },
        }
    if args.out:
        Path(args.out).write_bytes(to_csv_bytes(frame))
        payload["out"] = args.out
    _print_json(payload, args.json)
    return 0


def _transactions_of(args: argparse.Namespace) -> Any:
    """The transactions table of DATASET (a workspace name or a file), or a typed error."""
    from crm_core.errors import DataRequirementError

    dataset = load_dataset_arg(args, args.dataset, getattr(args, "mapping", None))
    transactions = dataset.get("transactions")
    if transactions is None or transactions.empty:
        raise DataRequirementError("cli.no_transactions", name=dataset.name)
    return transactions


def cmd_rules(args: argparse.Namespace) -> int:
    """Association rules to CSV (formula-safe), counts and notes to JSON."""
    from crm_core.baskets import BasketParams, RuleParams, rules_for_export, run_rules
    from crm_core.export import to_csv_bytes

    transactions = _transactions_of(args)
    basket_params = BasketParams(
        unit=args.basket.replace("-", "_"),
        level="category" if args.level == "category" else "item",
        attribute=args.filter_column,
        values=tuple(args.filter_values.split(",")) if args.filter_values else (),
    )
    rule_params = RuleParams(
        min_support=args.min_support,
        min_confidence=args.min_confidence,
        min_lift=args.min_lift,
        max_len=args.max_len,
        algorithm=args.algorithm,
        single_consequent=args.single_consequent,
        exclude_items=tuple(args.exclude.split(",")) if args.exclude else (),
        prune_redundant=args.prune_redundant,
        max_p=args.max_p,
    )
    result = run_rules(transactions, basket_params, rule_params)
    rules = rules_for_export(result)
    if args.out:
        Path(args.out).write_bytes(to_csv_bytes(rules))
    payload = {
        "baskets": _plain_dict(result.baskets),
        "itemsets": len(result.itemsets),
        "rules": len(rules),
        "rules_by_length": {
            str(k): int(v) for k, v in rules["length"].value_counts().sort_index().items()
        }
        if len(rules)
        else {},
        "truncated": bool(result.truncated),
        "engine": result.engine,
        "notes": result.messages(args.lang),
        "top_rules": [
            {k: _plain(v) for k, v in row.items()}
            for row in rules.head(args.top).to_dict("records")
        ],
        "out": args.out,
    }
    _print_json(payload, args.json)
    return 0


def cmd_clv(args: argparse.Namespace) -> int:
    """Predictive lifetime value: parameters (named as in the papers) to JSON, customers to CSV."""
    import pandas as pd

    from crm_core.export import to_csv_bytes
    from crm_core.value import CLVParams, run_clv

    transactions = _transactions_of(args)
    calibration_end = None
    if args.calibration_end:
        try:
            calibration_end = pd.Timestamp(args.calibration_end)
        except (TypeError, ValueError):
            from crm_core.errors import ParameterError

            raise ParameterError(
                "value.error.bad_date", name="calibration_end", value=args.calibration_end
            ) from None
    params = CLVParams(
        calibration_end=calibration_end,
        time_unit=args.time_unit,
        horizon_days=args.horizon_days,
        discount_rate=args.discount,
        rate_period=args.rate_period,
        model=args.model,
    )
    result = run_clv(transactions, params)
    fits = {"purchases": result.purchase_fit, "spend": result.spend_fit}
    if result.calibration_fit is not None:
        fits["calibration"] = result.calibration_fit
    payload = {
        "model": args.model,
        "time_unit": args.time_unit,
        "observation_end": result.observation_end.date().isoformat(),
        "calibration_end": None
        if result.calibration_end is None
        else result.calibration_end.date().isoformat(),
        "parameters": {
            stage: {
                "model": fit.model,
                **{name: _plain(value) for name, value in fit.params.items()},
                "std_errors": {name: _plain(v) for name, v in fit.std_errors.items()},
                "log_likelihood": _plain(fit.log_likelihood),
            }
            for stage, fit in fits.items()
        },
        "metrics": {k: _plain(v) for k, v in result.metrics.items()},
        "notes": [t(note, args.lang) for note in result.notes],
    }
    if args.out:
        Path(args.out).write_bytes(to_csv_bytes(result.customers.reset_index()))
        payload["out"] = args.out
    _print_json(payload, args.json)
    return 0


def cmd_churn(args: argparse.Namespace) -> int:
    """Train and evaluate a churn model: metrics JSON, risk list CSV (same code as the page)."""
    from crm_core.churn import ChurnLabelParams, ChurnModelParams, risk_list, run_churn
    from crm_core.export import to_csv_bytes

    dataset = load_dataset_arg(args, args.dataset, args.mapping)
    as_of = _date_arg(args.as_of, "as-of") if args.as_of else None
    if args.label_column:
        # with a label column, --as-of limits the features to data before it (never ignored)
        label = ChurnLabelParams(label_column=args.label_column, as_of=as_of)
    else:
        label = ChurnLabelParams(
            inactive_days=args.inactive_days, as_of=as_of, active_days=args.active_days
        )
    params = ChurnModelParams(
        model=args.model,
        cv_folds=args.cv,
        validation=args.validation,
        class_weight="balanced" if args.balanced else None,
        seed=args.seed,
    )
    result = run_churn(dataset, label, params)
    risk = risk_list(result)
    payload = {
        "model": args.model,
        "definition": result.definition.get(args.lang, result.definition.get("en")),
        "churn_rate": _plain(result.churn_rate),
        "customers": result.n_customers,
        "validation": result.validation,
        "metrics": {k: _plain(v) for k, v in result.metrics.items()},
        "baselines": [
            {k: _plain(v) for k, v in row.items()} for row in result.baselines.to_dict("records")
        ],
        "top_features": [
            {k: _plain(v) for k, v in row.items()}
            for row in result.importance.head(10).to_dict("records")
        ],
        "notes": [note.text(args.lang) for note in result.notes],
    }
    if args.out:
        keep = [
            c for c in risk.columns if not c.startswith("factors_") or c == f"factors_{args.lang}"
        ]
        Path(args.out).write_bytes(to_csv_bytes(risk[keep]))
        payload["out"] = args.out
    _print_json(payload, args.json)
    return 0


def cmd_forecast(args: argparse.Namespace) -> int:
    """Satisfaction, NPS or demand per period: backtest, forecast, early warnings (as the page)."""
    import pandas as pd

    from crm_core.export import to_csv_bytes
    from crm_core.forecast import ForecastParams, forecast_payload, run_forecast

    dataset = load_dataset_arg(args, args.dataset, args.mapping)
    params = ForecastParams(
        target=args.target,
        freq=args.freq,
        horizon=args.horizon,
        by=args.by,
        segmentation=args.segmentation,
        model=args.model,
        interval=args.interval,
        n_origins=args.origins,
        ma_window=args.ma_window,
        min_responses=args.min_responses,
        scale=args.scale,
        threshold=args.threshold,
        drop=args.drop,
    )
    workspace = _workspace(args)
    result = run_forecast(dataset, params, workspace, args.lang)
    payload = forecast_payload(result, args.lang)
    if args.out:
        frames = [g.forecast.assign(group=g.group) for g in result.groups]
        table = pd.concat(frames, ignore_index=True)
        table["chosen"] = [
            model == result.group(group).chosen
            for model, group in zip(table["model"], table["group"], strict=True)
        ]
        table["group"] = table["group"].replace({"__all__": "All"})
        Path(args.out).write_bytes(to_csv_bytes(table))
        payload["out"] = args.out
    _print_json(payload, args.json)
    return 0


def cmd_drivers(args: argparse.Namespace) -> int:
    """What drives satisfaction: cross-validated model, importance, partial dependence (JSON)."""
    from crm_core.drivers import DriverParams, drivers_payload, importance_table, run_drivers
    from crm_core.export import to_csv_bytes

    dataset = load_dataset_arg(args, args.dataset, args.mapping)
    params = DriverParams(
        target=args.target,
        scale=args.scale,
        satisfied_threshold=args.threshold,
        model=args.model,
        cv_folds=args.cv,
        seed=args.seed,
        segmentation=args.segmentation,
    )
    result = run_drivers(dataset, params, _workspace(args), args.lang)
    payload = drivers_payload(result, args.lang)
    if args.out:
        Path(args.out).write_bytes(to_csv_bytes(importance_table(result, args.lang)))
        payload["out"] = args.out
    _print_json(payload, args.json)
    return 0


def cmd_campaigns(args: argparse.Namespace) -> int:
    """Campaign strategies: rates with intervals per dimension, best channel per segment and an
    optional A/B comparison, as JSON (same core as the Communications page)."""
    from crm_core.campaigns import (
        CampaignParams,
        ab_payload,
        campaigns_payload,
        compare_strategies,
        parse_compare,
        run_campaigns,
    )

    dataset = load_dataset_arg(args, args.dataset, args.mapping)
    by = tuple(part.strip() for part in (args.by or "").split(",") if part.strip())
    params = CampaignParams(
        source=args.source,
        by=by,
        retention_days=args.retention_days,
        satisfaction_days=args.satisfaction_days,
        min_contacts=args.min_contacts,
        min_responses=args.min_responses,
        alpha=args.alpha,
        segmentation=args.segmentation,
    )
    arms = parse_compare(args.compare) if args.compare else None
    workspace = _workspace(args)
    payload = campaigns_payload(run_campaigns(dataset, params, workspace, args.lang), args.lang)
    if arms is not None:
        ab = compare_strategies(
            dataset,
            *arms,
            params,
            workspace,
            args.lang,
            metric=args.metric,
            effect=args.effect,
            power=args.power,
        )
        payload["comparison"] = ab_payload(ab, args.lang)
    _print_json(payload, args.json)
    return 0


def cmd_recommend(args: argparse.Namespace) -> int:
    """Next-best products per customer (CSV with reasons) or the recommenders' evaluation
    (JSON), with the same core as the Customer 360 page."""
    from crm_core.export import to_csv_bytes
    from crm_core.recommend import (
        METHODS,
        RecommendParams,
        evaluate_recommenders,
        fit_recommender,
        reason_texts,
        recommend,
    )

    dataset = load_dataset_arg(args, args.dataset, args.mapping)
    transactions = dataset.get("transactions")
    if transactions is None or transactions.empty:
        from crm_core.errors import DataRequirementError

        raise DataRequirementError("cli.no_transactions", name=dataset.name)
    params = RecommendParams(
        method=args.method,
        n=args.n,
        exclude_purchased=not args.include_purchased,
        neighbours=args.neighbours,
        min_support=args.min_support,
        min_confidence=args.min_confidence,
    )
    if args.evaluate:
        table = evaluate_recommenders(transactions, METHODS, args.n, params)
        rows = [{k: _plain(v) for k, v in row.items()} for row in table.to_dict("records")]
        _print_json({"dataset": dataset.name, "k": args.n, "evaluation": rows}, args.json)
        return 0
    customers = dataset.get("customers")
    ids = customers["customer_id"] if customers is not None and "customer_id" in customers else None
    model = fit_recommender(transactions, params, ids)
    recs = recommend(model, [args.customer] if args.customer else None, args.n)
    recs.insert(recs.columns.get_loc("score") + 1, "reason", reason_texts(recs, args.lang))
    if args.out:
        Path(args.out).write_bytes(to_csv_bytes(recs))
    payload: dict[str, Any] = {
        "dataset": dataset.name,
        "method": args.method,
        "customers": int(recs["customer_id"].nunique()),
        "rows": len(recs),
        "notes": [note.text(args.lang) for note in model.notes],
        "out": args.out,
    }
    if args.customer:
        payload["recommendations"] = [
            {k: _plain(v) for k, v in row.items()} for row in recs.to_dict("records")
        ]
    _print_json(payload, args.json)
    return 0


def cmd_text(args: argparse.Namespace) -> int:
    """Text classification metrics JSON and predicted categories CSV (same core as the Texts tab).

    A file path is read as it is (its own headers name the columns); a workspace dataset uses its
    communications or feedback table.
    """
    from crm_core.export import to_csv_bytes
    from crm_core.io import read_path
    from crm_core.text import TextParams, run_text, text_payload

    workspace = _workspace(args)
    if workspace.exists(args.dataset) or not Path(args.dataset).exists():
        data: Any = workspace.load_dataset(args.dataset)
    else:
        data = read_path(args.dataset).frame
    params = TextParams(
        text_column=args.text_column,
        label_column=args.label_column,
        table=args.table,
        model=args.model,
        language=args.language,
        test_size=args.test_size,
        seed=args.seed,
    )
    result = run_text(data, params)
    payload = text_payload(result, args.lang)
    if args.out:
        Path(args.out).write_bytes(to_csv_bytes(result.predictions))
        payload["out"] = args.out
    _print_json(payload, args.json)
    return 0


def _date_arg(value: str, name: str) -> Any:
    """A date option as a Timestamp, or a typed error naming the option."""
    import pandas as pd

    from crm_core.errors import ParameterError

    try:
        return pd.Timestamp(value)
    except (TypeError, ValueError):
        raise ParameterError("cli.bad_date", name=name, value=value) from None


def _plain_dict(values: dict) -> dict:
    return {str(k): _plain(v) for k, v in values.items()}


def _plain(value: Any) -> Any:
    """numpy scalars and NaN to JSON-friendly values."""
    import math

    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 6)
    return value


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

    imp = sub.add_parser("import", help="import files into a workspace dataset")
    imp.add_argument("files", nargs="+", metavar="FILE")
    imp.add_argument("--name", required=True, help="dataset name")
    imp.add_argument("--table", choices=TABLES, default=None, help="canonical table (guessed)")
    imp.add_argument("--mapping", help="mapping JSON (as saved by the Data page)")
    imp.add_argument("--recipe", help="cleaning recipe JSON")
    imp.add_argument("--delimiter", help="override the sniffed delimiter")
    imp.add_argument("--encoding", help="override the detected encoding")
    imp.add_argument("--sheet", help="Excel sheet name")
    imp.add_argument("--header-row", type=int, help="1-based header row")
    imp.add_argument("--kind", choices=("csv", "excel", "parquet", "basket", "whitespace"))
    group = imp.add_mutually_exclusive_group()
    group.add_argument("--replace", action="store_true", help="replace an existing dataset")
    group.add_argument("--add", action="store_true", help="add these tables to an existing dataset")
    imp.add_argument("--json", help="write the summary here instead of stdout")
    imp.set_defaults(handler=cmd_import)

    quality = sub.add_parser("quality", help="quality report of a dataset as JSON")
    quality.add_argument("dataset", help="workspace dataset name or a file path")
    quality.add_argument("--json", nargs="?", const="-", default="-", help="output file")
    quality.set_defaults(handler=cmd_quality)

    seg = sub.add_parser("segment", help="RFM segments or clusters: labels CSV and metrics JSON")
    seg.add_argument("dataset", help="workspace dataset name or a file path")
    seg.add_argument(
        "--algorithm",
        choices=("rfm", "kmeans", "dbscan", "hdbscan", "gmm", "agglomerative"),
        default="kmeans",
    )
    seg.add_argument("--k", type=int, default=5)
    seg.add_argument("--eps", type=float, default=0.5)
    seg.add_argument("--min-samples", type=int, default=5)
    seg.add_argument("--min-cluster-size", type=int, default=15)
    seg.add_argument("--covariance", default="full", help="GMM covariance type")
    seg.add_argument("--linkage", default="ward", help="agglomerative linkage")
    seg.add_argument("--features", help="comma-separated feature names (default: RFM-style set)")
    seg.add_argument(
        "--scaler",
        default="log1p_standard",
        help="standard, robust, minmax, log1p_standard or none",
    )
    seg.add_argument("--pca", type=int, default=0, help="PCA components (0 = off)")
    seg.add_argument("--seed", type=int, default=42)
    seg.add_argument("--as-of", help="features use transactions before this date (YYYY-MM-DD)")
    seg.add_argument("--sweep", help="k range like 2..10: print the k sweep instead")
    seg.add_argument("--mapping", help="mapping JSON when DATASET is a file")
    seg.add_argument("--out", help="write labels CSV here")
    seg.add_argument("--json", help="write metrics JSON here instead of stdout")
    seg.set_defaults(handler=cmd_segment)

    rules = sub.add_parser(
        "rules", help="association rules from baskets: CSV of rules, JSON summary"
    )
    rules.add_argument("dataset", help="workspace dataset name or a file path (basket files too)")
    rules.add_argument("--min-support", type=float, default=0.01)
    rules.add_argument("--min-confidence", type=float, default=0.25)
    rules.add_argument(
        "--min-lift", type=float, default=0.0, help="no lift filter by default (as arules)"
    )
    rules.add_argument("--algorithm", choices=("fpgrowth", "apriori"), default="fpgrowth")
    rules.add_argument("--basket", choices=("order", "customer-day", "customer"), default="order")
    rules.add_argument("--level", choices=("item", "category"), default="item")
    rules.add_argument("--max-len", type=int, default=4)
    rules.add_argument(
        "--single-consequent",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="only one item on the right-hand side (arules' default)",
    )
    rules.add_argument("--exclude", help="comma-separated items to leave out")
    rules.add_argument("--filter-column", help="keep rows whose attribute column (e.g. country) …")
    rules.add_argument("--filter-values", help="… holds one of these comma-separated values")
    rules.add_argument("--prune-redundant", action="store_true")
    rules.add_argument("--max-p", type=float, default=1.0, help="adjusted p-value filter")
    rules.add_argument("--top", type=int, default=10, help="rules shown in the JSON")
    rules.add_argument("--mapping", help="mapping JSON when DATASET is a file")
    rules.add_argument("--out", help="write the rules CSV here")
    rules.add_argument("--json", help="write the summary JSON here instead of stdout")
    rules.set_defaults(handler=cmd_rules)

    clv = sub.add_parser("clv", help="BG/NBD + Gamma-Gamma lifetime value: parameters and CLV")
    clv.add_argument("dataset", help="workspace dataset name or a file path")
    clv.add_argument("--calibration-end", help="holdout check: calibration ends on this date")
    clv.add_argument("--time-unit", choices=("days", "weeks"), default="weeks")
    clv.add_argument("--horizon-days", type=int, default=365)
    clv.add_argument("--discount", type=float, default=0.1, help="discount rate per --rate-period")
    clv.add_argument("--rate-period", choices=("year", "month"), default="year")
    clv.add_argument("--model", choices=("bgnbd", "paretonbd"), default="bgnbd")
    clv.add_argument("--mapping", help="mapping JSON when DATASET is a file")
    clv.add_argument("--out", help="write per-customer CLV CSV here")
    clv.add_argument("--json", help="write the parameters JSON here instead of stdout")
    clv.set_defaults(handler=cmd_clv)

    churn = sub.add_parser("churn", help="churn model: metrics JSON and a ranked risk list CSV")
    churn.add_argument("dataset", help="workspace dataset name or a file path")
    label = churn.add_mutually_exclusive_group()
    label.add_argument("--label-column", help="customers column holding churned yes/no")
    label.add_argument(
        "--inactive-days",
        type=int,
        default=90,
        help="derive the label: no purchase in N days after --as-of",
    )
    churn.add_argument("--as-of", help="date the derived label is measured from")
    churn.add_argument("--active-days", type=int, help="only customers who bought in N days before")
    churn.add_argument("--model", choices=("logreg", "rf", "hgb", "svm"), default="logreg")
    churn.add_argument("--cv", type=int, default=5, help="cross-validation folds")
    churn.add_argument("--validation", choices=("auto", "cv", "time"), default="auto")
    churn.add_argument("--balanced", action="store_true", help="class weighting for imbalance")
    churn.add_argument("--seed", type=int, default=42)
    churn.add_argument("--mapping", help="mapping JSON when DATASET is a file")
    churn.add_argument("--out", help="write the risk list CSV here")
    churn.add_argument("--json", help="write metrics JSON here instead of stdout")
    churn.set_defaults(handler=cmd_churn)

    fc = sub.add_parser(
        "forecast", help="satisfaction, NPS or demand forecasts with a backtest, as JSON"
    )
    fc.add_argument("dataset", help="workspace dataset name or a file path")
    fc.add_argument(
        "--target",
        choices=("satisfaction", "nps", "responses", "revenue", "orders", "units"),
        default="revenue",
    )
    fc.add_argument("--freq", choices=("W", "M"), default="M", help="weekly or monthly periods")
    fc.add_argument("--horizon", type=int, default=6, help="periods ahead")
    fc.add_argument("--by", help="split by 'segment' or a column (channel, category, country, …)")
    fc.add_argument(
        "--segmentation", help="saved segmentation for --by segment (default: newest, else RFM)"
    )
    fc.add_argument("--model", choices=("auto", "ets", "trend", "ma", "snaive"), default="auto")
    fc.add_argument("--interval", type=float, default=0.95, help="prediction interval level")
    fc.add_argument("--origins", type=int, default=3, help="rolling backtest origins")
    fc.add_argument("--ma-window", type=int, default=3)
    fc.add_argument("--min-responses", type=int, default=5, help="thinner score periods are gaps")
    fc.add_argument("--scale", choices=("auto", "1-5", "0-10", "binary"), default="auto")
    fc.add_argument("--threshold", type=float, help="scores: warn when a forecast falls below")
    fc.add_argument("--drop", type=float, help="demand: warn at this relative drop, e.g. -0.1")
    fc.add_argument("--mapping", help="mapping JSON when DATASET is a file")
    fc.add_argument("--out", help="write every model's forecast per group as CSV here")
    fc.add_argument("--json", help="write the JSON here instead of stdout")
    fc.set_defaults(handler=cmd_forecast)

    drv = sub.add_parser(
        "drivers", help="what drives satisfaction: model metrics and driver importance, as JSON"
    )
    drv.add_argument("dataset", help="workspace dataset name or a file path")
    drv.add_argument("--target", choices=("score", "satisfied", "nps"), default="score")
    drv.add_argument("--scale", choices=("auto", "1-5", "0-10", "binary"), default="auto")
    drv.add_argument("--threshold", type=float, help="satisfied from this score up")
    drv.add_argument("--model", choices=("linear", "rf", "hgb"), default="hgb")
    drv.add_argument("--cv", type=int, default=5, help="cross-validation folds")
    drv.add_argument("--seed", type=int, default=42)
    drv.add_argument("--segmentation", help="saved segmentation to use as a driver")
    drv.add_argument("--mapping", help="mapping JSON when DATASET is a file")
    drv.add_argument("--out", help="write the driver importance CSV here")
    drv.add_argument("--json", help="write the JSON here instead of stdout")
    drv.set_defaults(handler=cmd_drivers)

    txt = sub.add_parser(
        "text", help="text classification: metrics JSON and predicted categories of unlabeled rows"
    )
    txt.add_argument("dataset", help="workspace dataset name or a file path")
    txt.add_argument("--text-column", required=True, help="column holding the texts")
    txt.add_argument("--label-column", help="column holding the categories (omit: no classifier)")
    txt.add_argument("--table", choices=("communications", "feedback"), help="workspace table")
    txt.add_argument("--model", choices=("logreg", "svm"), default="svm")
    txt.add_argument("--language", choices=("auto", "zh", "en", "chars"), default="auto")
    txt.add_argument("--test-size", type=float, default=0.2, help="stratified holdout share")
    txt.add_argument("--seed", type=int, default=42)
    txt.add_argument("--out", help="write the predictions of records without a category as CSV")
    txt.add_argument("--json", help="write the metrics JSON here instead of stdout")
    txt.set_defaults(handler=cmd_text)

    camp = sub.add_parser(
        "campaigns",
        help="campaign strategies: rates with intervals, best channel per segment, A/B test (JSON)",
    )
    camp.add_argument("dataset", help="workspace dataset name or a file path")
    camp.add_argument("--by", help="dimensions, comma-separated (default: every standard one)")
    camp.add_argument("--compare", help="A/B test, DIMENSION:A,B (e.g. channel:WeChat,email)")
    camp.add_argument(
        "--metric", choices=("response", "retention", "satisfaction"), default="response"
    )
    camp.add_argument("--effect", type=float, help="difference to plan the sample size for")
    camp.add_argument("--power", type=float, default=0.8)
    camp.add_argument("--min-contacts", type=int, default=100, help="per arm before a winner")
    camp.add_argument("--min-responses", type=int, default=10, help="per arm before a winner")
    camp.add_argument("--alpha", type=float, default=0.05)
    camp.add_argument("--retention-days", type=int, default=30)
    camp.add_argument("--satisfaction-days", type=int, default=30)
    camp.add_argument("--source", choices=("auto", "campaigns", "communications"), default="auto")
    camp.add_argument("--segmentation", help="saved segmentation (default: newest, else RFM)")
    camp.add_argument("--mapping", help="mapping JSON when DATASET is a file")
    camp.add_argument("--json", help="write the JSON here instead of stdout")
    camp.set_defaults(handler=cmd_campaigns)

    rec = sub.add_parser(
        "recommend", help="next-best products per customer with reasons (CSV), or --evaluate"
    )
    rec.add_argument("dataset", help="workspace dataset name or a file path")
    rec.add_argument("--customer", help="only this customer id")
    rec.add_argument(
        "--method", choices=("rules", "itemknn", "content", "popular"), default="itemknn"
    )
    rec.add_argument("--n", type=int, default=10, help="products per customer (k when evaluating)")
    rec.add_argument("--neighbours", type=int, default=20, help="similar items kept per item")
    rec.add_argument("--min-support", type=float, default=0.001, help="rules: share of baskets")
    rec.add_argument("--min-confidence", type=float, default=0.05, help="rules: confidence")
    rec.add_argument(
        "--include-purchased", action="store_true", help="may recommend what was bought before"
    )
    rec.add_argument(
        "--evaluate",
        action="store_true",
        help="hold out each customer's last basket; hit rate, precision, recall, coverage as JSON",
    )
    rec.add_argument("--mapping", help="mapping JSON when DATASET is a file")
    rec.add_argument("--out", help="write the recommendations CSV here")
    rec.add_argument("--json", help="write the JSON here instead of stdout")
    rec.set_defaults(handler=cmd_recommend)

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
