"""The Baskets page driven with Streamlit's AppTest.

Every run goes through ``app.py`` with its sidebar (see ``_apptest_runs_through_app_py`` in
conftest.py). Expected rules, counts and sentences come from ``crm_core.baskets`` run on the same
workspace data with the settings the page shows, never from a previous page run.

Downloads: AppTest exposes a download button's label, key and media URL, not its bytes. The bytes
live in the MediaFileManager of AppTest's mock runtime, so ``downloads`` records what the page
hands to ``MediaFileManager.add`` and looks the URL up there.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

from crm_core.baskets import (
    BasketParams,
    RuleParams,
    RulesResult,
    build_baskets,
    consequents_for,
    estimate_explosion,
    rule_sentence,
    rules_for_export,
    run_rules,
)
from crm_core.export import to_csv_bytes
from crm_core.i18n import t
from crm_core.importer import prepare_table, save_prepared
from crm_core.sample import load_truth
from crm_core.store import Workspace
from pages._ui import md_escape
from tests.apptest_helpers import run_page, untranslated

PAGE = "pages/baskets.py"
TIME_LIMIT_S = 60.0  # the page's time limit, part of its RuleParams
BOLD = "<b>x</b>"
FORMULA = "=cmd|' /C calc'!A0"


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _tab(at: AppTest, key: str, lang: str = "en") -> Block:
    label = t(key, lang)
    matches = [tab for tab in at.tabs if tab.label == label]
    assert len(matches) == 1, [tab.label for tab in at.tabs]
    return matches[0]


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _rules_metric(at: AppTest, lang: str = "en") -> str:
    return _metrics(at)[t("bask.m.rules", lang)]


def _submit(at: AppTest) -> AppTest:
    buttons = [b for b in at.button if b.form_id == "rules_form"]
    assert len(buttons) == 1, [b.label for b in at.button]
    buttons[0].click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _rules_table(at: AppTest) -> pd.DataFrame:
    tables = [d.value for d in _tab(at, "bask.tab.rules").dataframe]
    tables = [frame for frame in tables if "sentence" in frame.columns]
    assert len(tables) == 1
    return tables[0]


def _goes_with_lines(at: AppTest) -> list[str]:
    return [m.value for m in _tab(at, "bask.tab.rules").markdown if m.value.startswith("- ")]


def _core_rules(workspace: Path, dataset: str, at: AppTest, **changes: object) -> RulesResult:
    """``run_rules`` on the stored dataset with the page's default settings (plus ``changes``)."""
    transactions = Workspace(workspace).load_dataset(dataset).tables["transactions"]
    start, end = at.date_input(key="bask_period").value
    baskets = build_baskets(transactions, BasketParams(unit="order", start=start, end=end))
    params = {
        "min_support": 0.001,
        "min_confidence": 0.25,
        "min_lift": 1.0,
        "max_len": 4,
        "single_consequent": True,
        "rank_by": "lift",
        "correction": "fdr_bh",
        "time_limit": TIME_LIMIT_S,
        **changes,
    }
    return run_rules(baskets, rule_params=RuleParams(**params))


def _pairs(rules: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(rules["antecedent"], rules["consequent"], strict=True))


@pytest.fixture()
def downloads(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], bytes]:
    """The bytes behind a download button's media URL."""
    files: dict[str, bytes] = {}
    original = MediaFileManager.add

    def add(self: MediaFileManager, data: object, *args: object, **kwargs: object) -> str:
        url = original(self, data, *args, **kwargs)
        files[url] = data if isinstance(data, bytes) else str(data).encode()
        return url

    monkeypatch.setattr(MediaFileManager, "add", add)

    def fetch(url: str) -> bytes:
        assert url in files, (url, list(files))
        return files[url]

    return fetch


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_renders_in_both_languages(sample_workspace: Path, lang: str) -> None:
    at = run_page(PAGE, lang)
    _ok(at)
    assert [tab.label for tab in at.tabs][:4] == [
        t("bask.tab.rules", lang),
        t("bask.tab.charts", lang),
        t("bask.tab.itemsets", lang),
        t("bask.tab.segments", lang),
    ]
    assert set(_metrics(at)) >= {t(f"bask.m.{k}", lang) for k in ("baskets", "itemsets", "rules")}
    assert len(_tab(at, "bask.tab.charts", lang).get("plotly_chart")) == 4
    assert {d.key for d in at.download_button} == {"bask:csv", "bask:xlsx"}
    if lang == "zh":
        assert untranslated(at) == []
    texts = [str(m.value) for m in at.markdown] + list(_metrics(at))
    assert not [text for text in texts if "bask." in text or "baskets." in text]


def test_default_settings_show_the_core_rules_with_the_planted_one(sample_workspace: Path) -> None:
    at = run_page(PAGE, "en")
    _ok(at)
    # the suggested support: about 30 baskets, here clipped to its floor of 0.1 %
    assert at.number_input(key="bask_support").value == pytest.approx(0.001)
    assert at.slider(key="bask_confidence").value == pytest.approx(0.25)

    expected = _core_rules(sample_workspace, "sample", at)
    assert expected.n_baskets == 57_570
    metrics = _metrics(at)
    assert metrics[t("bask.m.baskets", "en")] == "57,570"
    assert metrics[t("bask.m.itemsets", "en")] == f"{len(expected.itemsets):,}"
    assert metrics[t("bask.m.rules", "en")] == f"{len(expected.rules):,}"
    assert metrics[t("bask.m.min_count", "en")] == f"{expected.min_count:,}"
    assert [i.value for i in at.info][: len(expected.notes)] == expected.messages("en")

    table = _rules_table(at)
    assert len(expected.rules) > 0
    assert _pairs(table) == _pairs(expected.rules)
    for column in ("support", "confidence", "lift", "count", "p_adjusted"):
        assert table[column].tolist() == pytest.approx(expected.rules[column].tolist())
    assert table["sentence"].tolist() == [
        rule_sentence(row, "en") for _, row in expected.rules.iterrows()
    ]

    # the planted rules that pass these settings in the core are on the page (at least one does)
    planted = {(", ".join(sorted(r["antecedent"])), r["consequent"]) for r in load_truth()["rules"]}
    shown_planted = planted & set(_pairs(table))
    assert shown_planted == planted & set(_pairs(expected.rules))
    assert ("Android Smartphone 128GB", "Tempered Glass Screen Protector") in shown_planted
    android = table[table["antecedent"] == "Android Smartphone 128GB"].iloc[0]
    assert android["lift"] == pytest.approx(6.0, rel=0.1)  # planted with lift 6


def test_lower_support_needs_the_form_button_and_finds_more_rules(sample_workspace: Path) -> None:
    at = run_page(PAGE, "en")
    _ok(at)
    before = int(_rules_metric(at).replace(",", ""))

    # inside the form: changing the support alone does not mine again
    at.number_input(key="bask_support").set_value(0.0005)
    at.run()
    _ok(at)
    assert int(_rules_metric(at).replace(",", "")) == before

    at.number_input(key="bask_support").set_value(0.0005)  # AppTest drops unsubmitted values
    _submit(at)
    _ok(at)
    after = int(_rules_metric(at).replace(",", ""))
    expected = _core_rules(sample_workspace, "sample", at, min_support=0.0005)
    assert after == len(expected.rules) > before
    assert _metrics(at)[t("bask.m.itemsets", "en")] == f"{len(expected.itemsets):,}"
    assert _pairs(_rules_table(at)) == _pairs(expected.rules)


def test_what_goes_with_shows_the_core_consequents(sample_workspace: Path) -> None:
    at = run_page(PAGE, "en")
    _ok(at)
    expected = _core_rules(sample_workspace, "sample", at)
    picker = at.selectbox(key="bask_goes_with")
    antecedents = sorted({i for items in expected.rules["antecedent_items"] for i in items})
    assert picker.options == antecedents

    for item in ("Grated Parmesan 200g", "Android Smartphone 128GB"):
        picker = at.selectbox(key="bask_goes_with")
        picker.set_value(item)
        at.run()
        _ok(at)
        best = consequents_for(expected, item)
        assert len(best) >= 1
        assert _goes_with_lines(at) == [
            "- " + rule_sentence(row, "en", escape=md_escape) for _, row in best.iterrows()
        ]
        for line in _goes_with_lines(at):
            assert item in line and "also buy" in line
    # the Parmesan rules end in pasta sauce or spaghetti, the planted triple read both ways
    at.selectbox(key="bask_goes_with").set_value("Grated Parmesan 200g")
    at.run()
    lines = _goes_with_lines(at)
    assert len(lines) == 2
    assert any("Spaghetti 500g" in line.split("also buy")[1] for line in lines)
    assert any("Tomato Basil Pasta Sauce" in line.split("also buy")[1] for line in lines)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_too_high_support_is_a_note_with_no_rules(sample_workspace: Path, lang: str) -> None:
    at = run_page(PAGE, lang)
    _ok(at)
    at.number_input(key="bask_support").set_value(0.5)
    _submit(at)
    _ok(at)
    expected = _core_rules(sample_workspace, "sample", at, min_support=0.5)
    assert expected.rules.empty and expected.itemsets.empty
    note = expected.messages(lang)[-1]
    assert note.startswith(t("baskets.note.no_itemsets", lang).split("{")[0])
    assert note in [i.value for i in at.info]
    assert _rules_metric(at, lang) == "0"
    assert _metrics(at)[t("bask.m.itemsets", lang)] == "0"
    assert "bask_goes_with" not in {s.key for s in at.selectbox}
    assert not at.download_button  # no rules, nothing to export
    if lang == "zh":
        assert untranslated(at) == []


def _markup_dataset(workspace: Path) -> None:
    """An uploaded CSV whose item names carry HTML and a spreadsheet formula."""
    lines = ["order_id,customer_id,date,item,quantity,amount"]
    baskets = [[BOLD, FORMULA, "Milk"]] * 8 + [["Bread", "Milk"]] * 6 + [["Bread"]] * 6
    for number, items in enumerate(baskets, start=1):
        for item in items:
            quoted = '"' + item.replace('"', '""') + '"'
            lines.append(f"O{number:03d},C{number % 7:02d},2024-01-{number:02d},{quoted},1,5.0")
    prepared = prepare_table(("\n".join(lines) + "\n").encode(), "markup.csv")
    assert set(prepared.cleaned["item"]) == {BOLD, FORMULA, "Milk", "Bread"}
    save_prepared(Workspace(workspace), "markup", [prepared], mode="new")


def test_item_names_with_markup_are_text_and_the_csv_is_formula_safe(
    sample_workspace: Path, downloads: Callable[[str], bytes]
) -> None:
    _markup_dataset(sample_workspace)
    at = run_page(PAGE, "en", dataset="markup")
    _ok(at)
    # 20 baskets: the suggested support is its ceiling, 1 %
    assert at.number_input(key="bask_support").value == pytest.approx(0.01)
    expected = _core_rules(sample_workspace, "markup", at, min_support=0.01)
    assert _rules_metric(at) == f"{len(expected.rules):,}"
    table = _rules_table(at)
    assert _pairs(table) == _pairs(expected.rules)
    assert BOLD in set(table["antecedent"]) and FORMULA in set(table["consequent"])

    # "What goes with": the raw name is the option; the sentences escape it for Markdown
    at.selectbox(key="bask_goes_with").set_value(BOLD)
    at.run()
    _ok(at)
    lines = [m for m in _tab(at, "bask.tab.rules").markdown if m.value.startswith("- ")]
    best = consequents_for(expected, BOLD)
    assert [m.value for m in lines] == [
        "- " + rule_sentence(row, "en", escape=md_escape) for _, row in best.iterrows()
    ]
    assert lines and all(not m.allow_html for m in lines)
    for m in lines:
        assert "<b>" not in m.value.replace("\\<", "")  # every < is escaped
        assert md_escape(BOLD) in m.value
    formula_lines = [m.value for m in lines if md_escape(FORMULA) in m.value]
    assert formula_lines  # <b>x</b> -> =cmd|... is a rule
    # no Markdown anywhere on the page carries the raw tag
    assert not [m.value for m in at.markdown if BOLD in m.value]

    # the CSV download is formula-safe and is exactly the core's export of these rules
    data = downloads(at.download_button(key="bask:csv").proto.url)
    assert data.startswith(b"\xef\xbb\xbfantecedent,consequent,")
    assert data == to_csv_bytes(rules_for_export(expected))
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str)
    cells = frame[["antecedent", "consequent"]].to_numpy().ravel().tolist()
    assert "'" + FORMULA in cells and FORMULA not in cells
    assert BOLD in cells  # not a formula: kept as written
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))]

    # the workbook keeps the names as plain strings
    workbook = downloads(at.download_button(key="bask:xlsx").proto.url)
    sheet = pd.read_excel(io.BytesIO(workbook), dtype=str)
    assert FORMULA in set(sheet["consequent"]) | set(sheet["antecedent"])


def test_explosion_guard_waits_for_confirmation(sample_workspace: Path) -> None:
    # 20 identical baskets of 40 items: every itemset is frequent (102,090 up to 4 items)
    items = [f"Item {i:02d}" for i in range(40)]
    rows = [
        {"order_id": f"O{o:02d}", "customer_id": f"C{o:02d}", "date": "2024-02-01", "item": item}
        for o in range(20)
        for item in items
    ]
    frame = pd.DataFrame(rows).assign(date=lambda f: pd.to_datetime(f["date"]))
    Workspace(sample_workspace).save_dataset("dense", {"transactions": frame})
    at = run_page(PAGE, "en", dataset="dense")
    _ok(at)
    transactions = Workspace(sample_workspace).load_dataset("dense").tables["transactions"]
    estimate = estimate_explosion(build_baskets(transactions), 0.01, 4)
    assert estimate.warn and estimate.estimated[2] == 780
    assert [w.value for w in at.warning] == [t("bask.explosion", "en", count=f"{estimate.total:,}")]
    assert at.checkbox(key="bask_explosion_ok").value is False
    assert t("bask.m.rules", "en") not in _metrics(at)  # nothing was mined

    at.checkbox(key="bask_explosion_ok").check()
    at.run()
    _ok(at)
    expected = _core_rules(sample_workspace, "dense", at, min_support=0.01)
    assert len(expected.itemsets) == 102_090 and expected.truncated  # 396,760 rules, capped
    assert _rules_metric(at) == f"{len(expected.rules):,}" == "10,000"
    assert _metrics(at)[t("bask.m.itemsets", "en")] == "102,090"
    assert expected.messages("en")[-1] in [i.value for i in at.info]  # the cap is explained

    # a shorter max length lowers the estimate below the warning: mining runs without asking
    at.slider(key="bask_max_len").set_value(3)
    _submit(at)
    _ok(at)
    assert not at.warning
    expected = _core_rules(sample_workspace, "dense", at, min_support=0.01, max_len=3)
    assert len(expected.itemsets) == 40 + 780 + 9880
    assert _rules_metric(at) == f"{len(expected.rules):,}"


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_transactions_without_items_show_what_is_needed(sample_workspace: Path, lang: str) -> None:
    orders = pd.DataFrame(
        {
            "customer_id": [f"T{i % 5}" for i in range(30)],
            "order_id": [f"O{i:02d}" for i in range(30)],
            "date": pd.date_range("2024-01-01", periods=30, freq="3D"),
            "amount": [10.0 + i for i in range(30)],
        }
    )
    Workspace(sample_workspace).save_dataset("no_items", {"transactions": orders})
    at = run_page(PAGE, lang, dataset="no_items")
    _ok(at)
    assert [i.value for i in at.info] == [t("bask.needs", lang)]
    assert not at.tabs and not at.metric
    if lang == "zh":
        assert untranslated(at) == []
