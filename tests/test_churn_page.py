"""The Churn page driven with Streamlit's AppTest on the sample workspace.

Every run goes through ``app.py`` with its sidebar (see ``_apptest_runs_through_app_py`` in
conftest.py). Expected figures come from the core run on the same workspace data with the same
parameters (training is seeded, so equal inputs give equal numbers), never from a page run.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import Block

import crm_core.churn as churn_core
from crm_core.churn import (
    ChurnLabelParams,
    ChurnModelParams,
    ChurnResult,
    build_churn_frame,
    compare_models,
    comparison_table,
    load_model,
    metrics_at_threshold,
    model_name,
    risk_list,
    run_churn,
    score_dataset,
)
from crm_core.errors import CrmError
from crm_core.i18n import t
from crm_core.store import Workspace
from crm_core.tables import Dataset
from tests.apptest_helpers import run_page, untranslated

PAGE = "pages/churn.py"
TABS = ("evaluation", "why", "risk", "compare", "models")
HEADLINE = {  # metric key -> how the page formats it
    "roc_auc": "{:.3f}",
    "pr_auc": "{:.3f}",
    "f1": "{:.3f}",
    "brier": "{:.3f}",
    "top_decile_lift": "{:.2f}×",
}
PLANTED_AS_OF = dt.date(2024, 10, 3)  # sample: churned = no purchase in the final 90 days
# the churn column with the page's default as-of date (features before the planted date)
COLUMN = ChurnLabelParams(label_column="churn", as_of=pd.Timestamp(PLANTED_AS_OF))

_RESULTS: dict[tuple[str, str], ChurnResult] = {}


def _core(dataset: Dataset, label: ChurnLabelParams, params: ChurnModelParams) -> ChurnResult:
    """run_churn, once per dataset content and parameters in this module."""
    key = (dataset.fingerprint, repr((label, params)))
    if key not in _RESULTS:
        _RESULTS[key] = run_churn(dataset, label, params)
    return _RESULTS[key]


def _sample(workspace: Path) -> Dataset:
    return Workspace(workspace).load_dataset("sample")


def _derived(as_of: dt.date = PLANTED_AS_OF, days: int = 90) -> ChurnLabelParams:
    return ChurnLabelParams(inactive_days=days, as_of=pd.Timestamp(as_of))


def _form_params(at: AppTest) -> ChurnModelParams:
    """The model parameters the form's widgets show, mapped as the page documents."""
    c = float(at.select_slider(key="churn_C").value)
    return ChurnModelParams(
        model=at.selectbox(key="churn_model").value,
        validation=at.selectbox(key="churn_validation").value,
        cv_folds=int(at.slider(key="churn_folds").value),
        class_weight="balanced" if at.toggle(key="churn_balanced").value else None,
        C=c,
        svm_C=c / 10,
        n_estimators=int(at.slider(key="churn_trees").value),
        max_depth=at.select_slider(key="churn_depth").value,
        learning_rate=float(at.select_slider(key="churn_lr").value),
        max_iter=int(at.slider(key="churn_rounds").value),
    )


def _ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def _tab(at: AppTest, name: str, lang: str = "en") -> Block:
    label = t(f"churn.page.tab.{name}", lang)
    matches = [tab for tab in at.tabs if tab.label == label]
    assert len(matches) == 1, [tab.label for tab in at.tabs]
    return matches[0]


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _headline(at: AppTest, lang: str = "en") -> dict[str, str]:
    shown = _metrics(at)
    return {key: shown[t(f"churn.page.metric.{key}", lang)] for key in HEADLINE}


def _expected_headline(result: ChurnResult) -> dict[str, str]:
    return {key: fmt.format(result.metrics[key]) for key, fmt in HEADLINE.items()}


def _at_threshold(at: AppTest) -> dict[str, str]:
    shown = _metrics(at)
    return {
        key: shown[t(f"churn.page.{key}", "en")]
        for key in ("precision", "recall", "flagged", "f1_at")
    }


def _expected_at_threshold(result: ChurnResult, threshold: float) -> dict[str, str]:
    at = metrics_at_threshold(result, threshold)
    return {
        "precision": f"{at['precision']:.1%}",
        "recall": f"{at['recall']:.1%}",
        "flagged": f"{int(at['flagged']):,}",
        "f1_at": f"{at['f1']:.3f}",
    }


def _rate_caption(result: ChurnResult, lang: str = "en") -> str:
    return t(
        "churn.page.rate",
        lang,
        rate=f"{result.churn_rate:.1%}",
        customers=f"{result.n_customers:,}",
        validation=t(f"churn.page.validation.{result.validation}", lang),
    )


def _submit(at: AppTest) -> None:
    buttons = [b for b in at.button if b.form_id == "churn_form"]
    assert len(buttons) == 1, [b.label for b in at.button]
    buttons[0].click()
    at.run()
    _ok(at)


def _to_column(at: AppTest) -> None:
    at.radio(key="churn_source").set_value("column")
    at.run()
    _ok(at)


def _to_derived(at: AppTest, as_of: dt.date = PLANTED_AS_OF) -> None:
    at.radio(key="churn_source").set_value("derived")
    at.run()
    _ok(at)
    at.date_input(key="churn_as_of").set_value(as_of)
    at.run()
    _ok(at)


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_page_renders_in_both_languages(sample_workspace: Path, lang: str) -> None:
    at = run_page(PAGE, lang)
    _ok(at)
    assert at.title[0].value == t("churn.page.title", lang)
    assert [tab.label for tab in at.tabs] == [t(f"churn.page.tab.{n}", lang) for n in TABS]
    # the sample has transactions, so the derived label comes first; its churn column second
    assert at.radio(key="churn_source").options == [
        t("churn.page.source.derived", lang),
        t("churn.page.source.column", lang),
    ]
    assert at.radio(key="churn_source").value == "derived"
    frame = build_churn_frame(_sample(sample_workspace), _derived())
    assert [i.value for i in at.info] == [frame.definition[lang]]
    assert len(_tab(at, "evaluation", lang).get("plotly_chart")) == 6
    assert len(_tab(at, "why", lang).get("plotly_chart")) == 2
    if lang == "zh":
        assert untranslated(at) == []
    texts = [str(m.value) for m in at.markdown] + [m.label for m in at.metric]
    assert not [text for text in texts if "churn." in text]


def test_headline_metrics_equal_the_core(sample_workspace: Path) -> None:
    at = run_page(PAGE, "en")
    _ok(at)
    params = _form_params(at)
    assert params.model == "logreg" and params.validation == "auto" and params.cv_folds == 5
    assert params == ChurnModelParams(C=1.0, svm_C=0.1)  # the form starts at the core defaults
    expected = _core(_sample(sample_workspace), _derived(), params)
    assert expected.validation == "time"
    assert _headline(at) == _expected_headline(expected)
    assert _rate_caption(expected) in [c.value for c in at.caption]
    assert at.slider(key="churn_threshold").value == pytest.approx(expected.threshold)
    assert _at_threshold(at) == _expected_at_threshold(expected, expected.threshold)
    # baselines on the same evaluation, with translated names
    baselines = [d.value for d in _tab(at, "evaluation").dataframe if "roc_auc" in d.value]
    assert len(baselines) == 1
    assert baselines[0]["model"].tolist() == [
        model_name(m, "en") for m in expected.baselines["model"]
    ]
    assert baselines[0]["roc_auc"].tolist() == pytest.approx(expected.baselines["roc_auc"].tolist())


def test_threshold_slider_recounts_without_refitting(
    sample_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fits: list[tuple[object, ...]] = []
    original = churn_core.run_churn

    def counting(*args: object, **kwargs: object) -> ChurnResult:
        fits.append(args)
        return original(*args, **kwargs)

    monkeypatch.setattr(churn_core, "run_churn", counting)
    at = run_page(PAGE, "en")
    _to_derived(at)
    expected = _core(_sample(sample_workspace), _derived(), _form_params(at))
    assert expected.validation == "time"
    assert _headline(at) == _expected_headline(expected)
    before = _at_threshold(at)
    assert before == _expected_at_threshold(expected, 0.5)
    trained = len(fits)

    for threshold in (0.3, 0.8):
        at.slider(key="churn_threshold").set_value(threshold)
        at.run()
        _ok(at)
        shown = at.slider(key="churn_threshold").value
        assert shown == pytest.approx(threshold)
        assert _at_threshold(at) == _expected_at_threshold(expected, shown)
        assert _headline(at) == _expected_headline(expected)  # threshold-free, unchanged
    assert len(fits) == trained  # the slider reuses the fitted model
    low = _expected_at_threshold(expected, 0.3)
    high = _expected_at_threshold(expected, 0.8)
    assert int(low["flagged"].replace(",", "")) > int(high["flagged"].replace(",", ""))
    assert low["precision"] != high["precision"] and low["recall"] != high["recall"]
    assert _at_threshold(at) == high != before


@pytest.mark.parametrize("model", ["svm", "hgb"])
def test_changing_the_model_needs_submit_and_changes_the_metrics(
    sample_workspace: Path, model: str
) -> None:
    at = run_page(PAGE, "en")
    _to_derived(at)
    dataset = _sample(sample_workspace)
    logreg = _core(dataset, _derived(), _form_params(at))
    assert _headline(at) == _expected_headline(logreg)

    # inside the form: choosing a model alone does not retrain
    at.selectbox(key="churn_model").set_value(model)
    at.run()
    _ok(at)
    assert _headline(at) == _expected_headline(logreg)

    at.selectbox(key="churn_model").set_value(model)
    if model == "hgb":
        at.select_slider(key="churn_lr").set_value(0.2)  # fewer effective rounds: quicker
    _submit(at)
    params = _form_params(at)
    assert params.model == model
    expected = _core(dataset, _derived(), params)
    assert _headline(at) == _expected_headline(expected)
    assert _headline(at) != _expected_headline(logreg)
    assert _at_threshold(at) == _expected_at_threshold(expected, 0.5)
    # the offered model name follows the model (a keyed text input would keep the first one)
    assert at.text_input(key="churn_model_name").value == f"sample · {model_name(model, 'en')}"


def test_default_on_the_sample_is_the_derived_label_with_a_believable_score(
    sample_workspace: Path,
) -> None:
    """The sample's churn column was decided in its last 90 days; the page's default label is
    derived from purchases (features strictly before the as-of date), so no leak, no warning."""
    at = run_page(PAGE, "en")
    _ok(at)
    assert at.radio(key="churn_source").value == "derived"
    assert at.date_input(key="churn_as_of").value == PLANTED_AS_OF
    expected = _core(_sample(sample_workspace), _derived(), _form_params(at))
    roc_auc = float(_headline(at)["roc_auc"])
    assert roc_auc == pytest.approx(expected.metrics["roc_auc"], abs=5e-4)
    assert 0.7 < roc_auc < 0.99
    assert not [w for w in at.warning if "leaks into the features" in w.value]


def test_churn_column_with_features_after_its_date_warns_of_a_leak(sample_workspace: Path) -> None:
    """Picking the churn column offers its as-of date (the planted one by default); moving it
    past the data lets the features see the churn and the page says the score is too good."""
    at = run_page(PAGE, "en")
    _to_column(at)
    honest = _core(_sample(sample_workspace), COLUMN, _form_params(at))
    assert _headline(at) == _expected_headline(honest) and honest.metrics["roc_auc"] < 0.99
    assert not [w for w in at.warning if "leaks into the features" in w.value]

    everything = dt.date(2025, 1, 1)  # the day after the last purchase: all data are features
    at.date_input(key="churn_label_as_of").set_value(everything)
    at.run()
    _ok(at)
    leaky = _core(
        _sample(sample_workspace),
        ChurnLabelParams(label_column="churn", as_of=pd.Timestamp(everything)),
        _form_params(at),
    )
    assert _headline(at) == _expected_headline(leaky)
    assert leaky.metrics["roc_auc"] > 0.99
    warnings = [w.value for w in at.warning if "leaks into the features" in w.value]
    assert warnings == [leaky.notes[0].text("en")]
    assert "suspiciously perfect" in warnings[0] and "2025-01-01" in warnings[0]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_derived_label_shows_its_definition_and_churn_rate(
    sample_workspace: Path, lang: str
) -> None:
    as_of = dt.date(2024, 9, 1)
    at = run_page(PAGE, lang)
    _to_derived(at, as_of)
    assert at.slider(key="churn_days").value == 90
    frame = build_churn_frame(_sample(sample_workspace), _derived(as_of))
    assert [i.value for i in at.info] == [frame.definition[lang]]
    if lang == "en":
        assert "2024-09-01" in at.info[0].value and "2024-11-29" in at.info[0].value
    expected = _core(_sample(sample_workspace), _derived(as_of), _form_params(at))
    assert expected.churn_rate == frame.churn_rate
    assert expected.n_customers == len(frame.y)
    assert _rate_caption(expected, lang) in [c.value for c in at.caption]
    assert f"{frame.churn_rate:.1%}" != "33.5%"  # not the planted date's rate: as-of was used
    assert _headline(at, lang) == _expected_headline(expected)
    if lang == "zh":
        assert untranslated(at) == []


def test_risk_list_ranks_customers_by_probability(sample_workspace: Path) -> None:
    at = run_page(PAGE, "en")
    _to_column(at)  # a label column: every labelled customer with an out-of-fold probability
    assert at.date_input(key="churn_label_as_of").value == PLANTED_AS_OF
    expected = risk_list(_core(_sample(sample_workspace), COLUMN, _form_params(at)))
    tab = _tab(at, "risk")
    tables = [d.value for d in tab.dataframe if "rank" in d.value.columns]
    assert len(tables) == 2  # the risk list and the target list
    shown = tables[0]
    assert len(shown) == 500 and len(expected) == 5000
    assert shown["rank"].tolist() == list(range(1, 501))
    assert shown["probability"].is_monotonic_decreasing
    assert shown["customer_id"].tolist() == expected["customer_id"].head(500).tolist()
    assert shown["probability"].tolist() == pytest.approx(expected["probability"].head(500))
    assert "factors_en" in shown.columns and "factors_zh" not in shown.columns
    assert shown["factors_en"].str.len().gt(0).all()
    assert shown["actual"].mean() > 0.9  # the riskiest sample customers did churn
    targets = tables[1]
    assert len(targets) == 100 and (targets["net_value"] > 0).all()
    assert targets["expected_saved_value"].is_monotonic_decreasing
    assert {d.key for d in tab.get("download_button")} == {"churn:csv", "churn:xlsx"}


def test_risk_list_shows_a_saved_segmentation(sample_workspace: Path) -> None:
    workspace = Workspace(sample_workspace)
    customers = workspace.load_dataset("sample").tables["customers"]["customer_id"]
    groups = pd.DataFrame(
        {
            "customer_id": customers,
            "segment": [str(i % 3) for i in range(len(customers))],
            "segment_name": [("Alpha", "Beta", "Gamma")[i % 3] for i in range(len(customers))],
        }
    )
    workspace.save_analysis("sample", "segments", "Three groups", groups)
    at = run_page(PAGE, "en")
    _ok(at)
    assert at.selectbox(key="churn_segments").options == ["—", "Three groups"]
    at.selectbox(key="churn_segments").set_value("Three groups")
    at.run()
    _ok(at)
    shown = next(d.value for d in _tab(at, "risk").dataframe if "rank" in d.value.columns)
    names = groups.set_index("customer_id")["segment_name"]
    assert shown["segment"].tolist() == names.reindex(shown["customer_id"]).tolist()


def test_comparing_models_lists_each_beside_the_baselines(
    sample_workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The All models tab on two quick models (a random forest is too slow for AppTest here)."""
    quick = ("logreg", "svm")
    monkeypatch.setattr(churn_core, "MODELS", quick)  # the page imports MODELS on every run
    at = run_page(PAGE, "en")
    _ok(at)
    assert at.selectbox(key="churn_model").options == [model_name(m, "en") for m in quick]
    at.button(key="btn_churn_compare").click()
    at.run()
    _ok(at)
    params = _form_params(at)
    comparison = compare_models(
        _sample(sample_workspace),
        _derived(),
        [
            ChurnModelParams(
                model=m,
                validation=params.validation,
                cv_folds=params.cv_folds,
                class_weight=params.class_weight,
                explain=False,
            )
            for m in quick
        ],
    )
    expected = comparison_table(comparison, "en")
    tab = _tab(at, "compare")
    tables = [d.value for d in tab.dataframe]
    assert len(tables) == 1
    shown = tables[0]
    assert shown["name"].tolist() == expected["name"].tolist()
    assert shown["model"].tolist() == ["logreg", "svm", "baseline_majority", "baseline_single"]
    for column in ("roc_auc", "pr_auc", "brier", "top_decile_lift"):
        assert shown[column].tolist() == pytest.approx(expected[column].tolist(), nan_ok=True)
    assert len(tab.get("plotly_chart")) == 1


def test_dataset_without_label_or_transactions_says_what_is_needed(
    sample_workspace: Path,
) -> None:
    people = pd.DataFrame({"customer_id": ["A1", "A2", "A3"], "city": ["Leeds", "York", "Bath"]})
    Workspace(sample_workspace).save_dataset("people", {"customers": people})
    at = run_page(PAGE, "en", dataset="people")
    assert not at.exception, [e.value for e in at.exception]
    assert [i.value for i in at.info] == [t("churn.page.needs", "en")]
    assert "churn_source" not in {r.key for r in at.radio}
    assert not at.metric and not at.tabs and not at.error


def test_saving_a_model_and_scoring_with_it(sample_workspace: Path) -> None:
    workspace = Workspace(sample_workspace)
    assert workspace.list_models("churn") == []
    at = run_page(PAGE, "en")
    _ok(at)
    assert at.text_input(key="churn_model_name").value == "sample · Logistic regression"
    assert not [b for b in at.button if b.key == "btn_churn_score"]  # nothing saved yet

    at.text_input(key="churn_model_name").set_value("Sample churn model")
    at.button(key="btn_churn_save").click()
    at.run()
    _ok(at)
    assert [s.value for s in at.success] == [
        t("churn.page.model_saved", "en", name="Sample churn model")
    ]
    saved = workspace.list_models("churn")
    assert [m["name"] for m in saved] == ["Sample churn model"]
    meta = saved[0]["meta"]
    expected = _core(_sample(sample_workspace), _derived(), _form_params(at))
    assert meta["dataset"] == "sample" and meta["model"] == "logreg"
    assert meta["metrics"]["roc_auc"] == pytest.approx(expected.metrics["roc_auc"])

    at.run()
    _ok(at)
    assert at.selectbox(key="churn_score_model").value == "Sample churn model"
    at.button(key="btn_churn_score").click()
    at.run()
    _ok(at)
    model = load_model(workspace.load_model_bytes("Sample churn model"), key=workspace.model_key)
    scores = score_dataset(model, _sample(sample_workspace))
    tables = [d.value for d in _tab(at, "models").dataframe]
    assert len(tables) == 1
    shown = tables[0]
    assert len(shown) == 500
    assert shown.index.tolist() == scores.index[:500].tolist()
    assert shown["probability"].tolist() == pytest.approx(scores["probability"].head(500))
    assert {d.key for d in _tab(at, "models").get("download_button")} == {"churn:scores"}


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_one_class_dataset_is_an_error_message(sample_workspace: Path, lang: str) -> None:
    customers = pd.DataFrame(
        {
            "customer_id": [f"S{i:02d}" for i in range(30)],
            "age": [25 + i % 7 for i in range(30)],
            "plan": ["basic", "plus", "pro"] * 10,
            "churn": ["No"] * 30,
        }
    )
    workspace = Workspace(sample_workspace)
    workspace.save_dataset("all_stay", {"customers": customers})
    at = run_page(PAGE, lang, dataset="all_stay")
    assert not at.exception, [e.value for e in at.exception]
    with pytest.raises(CrmError) as raised:
        run_churn(workspace.load_dataset("all_stay"), COLUMN, ChurnModelParams())
    assert [e.value for e in at.error] == [raised.value.message(lang)]
    if lang == "en":
        assert "needs both churned and retained" in at.error[0].value
        assert "0 churned and 30 retained" in at.error[0].value
    else:
        assert untranslated(at) == []
    assert not at.metric and not at.tabs  # nothing else is drawn
