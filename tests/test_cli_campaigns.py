"""``crm campaigns`` as a user runs it: a real process on the sample workspace and a real file.

The JSON must equal what the page's core calls give for the same settings; user mistakes end
with exit code 2 and one line on stderr.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pandas as pd
import pytest
from scipy.stats import chi2_contingency

from crm_core.campaigns import (
    CampaignParams,
    ab_payload,
    campaigns_payload,
    compare_strategies,
    run_campaigns,
)
from crm_core.store import Workspace
from tests.cli_helpers import assert_user_error, crm, ok


def test_campaigns_json_equals_the_core(sample_workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "campaigns.json"
    ok(
        crm(
            sample_workspace,
            "campaigns",
            "sample",
            "--by",
            "channel,contacts",
            "--compare",
            "channel:WeChat,email",
            "--effect",
            "0.02",
            "--json",
            str(out),
        )
    )
    payload = json.loads(out.read_text(encoding="utf-8"))
    workspace = Workspace(sample_workspace)
    dataset = workspace.load_dataset("sample")
    params = CampaignParams(by=("channel", "contacts"))
    expected = campaigns_payload(run_campaigns(dataset, params, workspace))
    comparison = payload.pop("comparison")
    assert payload == json.loads(json.dumps(expected))
    ab = compare_strategies(
        dataset, ("channel", "WeChat"), ("channel", "email"), params, workspace, effect=0.02
    )
    assert comparison == json.loads(json.dumps(ab_payload(ab)))
    assert comparison["verdict"] == "a_better"
    assert payload["best_channel"][0]["best"] == "WeChat"
    assert payload["best_channel"][0]["status"] == "significant"


def test_campaigns_on_the_bank_file_matches_scipy(
    datasets_dir: Path, sample_workspace: Path
) -> None:
    path = datasets_dir / "bank_marketing" / "bank-full.csv.gz"
    if not path.is_file():
        pytest.skip("bank-full.csv.gz is missing")
    result = ok(
        crm(
            sample_workspace,
            "campaigns",
            str(path),
            "--by",
            "channel",
            "--compare",
            "channel:cellular,telephone",
        )
    )
    payload = json.loads(result.stdout)
    with gzip.open(path, "rt") as handle:
        raw = pd.read_csv(handle, sep=";")
    table = pd.crosstab(raw["contact"], raw["y"]).loc[["cellular", "telephone"], ["yes", "no"]]
    _, p, _, _ = chi2_contingency(table.to_numpy(), correction=False)
    assert payload["contacts"] == 45_211
    assert payload["comparison"]["p_value"] == pytest.approx(p, rel=1e-5)
    rates = {row["value"]: row["rate"] for row in payload["breakdowns"]["channel"]}
    assert rates["cellular"] == pytest.approx(
        table.loc["cellular", "yes"] / table.loc["cellular"].sum(), abs=1e-6
    )


@pytest.mark.parametrize(
    "args",
    [
        ("--compare", "channel"),
        ("--compare", "channel:WeChat,WeChat"),
        ("--compare", "channel:WeChat,pigeon"),
        ("--by", "shoe_size"),
        ("--min-contacts", "0"),
    ],
)
def test_campaigns_mistakes_are_one_line(sample_workspace: Path, args: tuple[str, ...]) -> None:
    assert_user_error(crm(sample_workspace, "campaigns", "sample", *args))
