"""``crm text``: the same numbers as the core, predictions CSV, a file path, one-line mistakes."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from crm_core.store import Workspace
from crm_core.text import TextParams, run_text
from tests.cli_helpers import assert_user_error, crm, ok

SAMPLE = ("text", "sample", "--text-column", "text", "--label-column", "category")


def test_crm_text_equals_the_core_on_the_sample(sample_workspace: Path, tmp_path: Path) -> None:
    out = tmp_path / "metrics.json"
    ok(crm(sample_workspace, *SAMPLE, "--json", str(out)))
    payload = json.loads(out.read_text(encoding="utf-8"))
    dataset = Workspace(sample_workspace).load_dataset("sample")
    result = run_text(dataset, TextParams(text_column="text", label_column="category"))
    assert payload["table"] == "communications"
    assert payload["categories"] == result.classes
    assert payload["metrics"]["macro_f1"] == result.metrics["macro_f1"]
    assert payload["metrics"]["accuracy"] == result.metrics["accuracy"]
    assert payload["confusion"]["matrix"] == result.confusion.to_numpy().tolist()
    assert payload["confidence"] == "softmax_margins"
    assert set(payload["languages"]) == {"zh", "latin"}


def test_crm_text_reads_a_file_and_writes_predictions(tmp_path: Path) -> None:
    texts = ["refund please", "love this shop", "退货怎么办", "服务很好", "where is my order"] * 6
    labels = ["return", "praise", "return", "praise", "inquiry"] * 6
    frame = pd.DataFrame(
        {"message": [*texts, "I want a refund", "很好很满意"], "tag": [*labels, "", ""]}
    )
    source = tmp_path / "messages.csv"
    frame.to_csv(source, index=False)
    predictions = tmp_path / "predictions.csv"
    args = ["--text-column", "message", "--label-column", "tag", "--model", "logreg"]
    result = ok(crm(tmp_path / "ws", "text", str(source), *args, "--out", str(predictions)))
    payload = json.loads(result.stdout)
    assert payload["unlabeled"] == 2 and payload["confidence"] == "probability"
    table = pd.read_csv(predictions, encoding="utf-8-sig")
    assert dict(zip(table["message"], table["predicted"], strict=True)) == {
        "I want a refund": "return",
        "很好很满意": "praise",
    }
    assert ((table["confidence"] > 0) & (table["confidence"] <= 1)).all()


def test_crm_text_mistakes_are_one_line(sample_workspace: Path, tmp_path: Path) -> None:
    line = assert_user_error(crm(sample_workspace, "text", "sample", "--text-column", "body"))
    assert "body" in line and "communications" in line
    source = tmp_path / "one.csv"
    pd.DataFrame({"text": ["a b c", "d e f"] * 10, "label": ["x"] * 20}).to_csv(source, index=False)
    line = assert_user_error(
        crm(
            sample_workspace,
            "text",
            str(source),
            "--text-column",
            "text",
            "--label-column",
            "label",
        )
    )
    assert "x" in line
    line = assert_user_error(crm(sample_workspace, "--lang", "zh", *SAMPLE, "--test-size", "0.9"))
    assert "test_size" in line
