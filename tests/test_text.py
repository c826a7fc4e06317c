"""Text analysis core (crm_core.text): languages, vectors, classifiers, search, topics, features.

Real-data checks use ../shared/datasets with the issue's thresholds: online_shopping_10_cats
(10 categories, macro-F1 >= 0.85 on a stratified holdout), ChnSentiCorp hotel reviews (sentiment
accuracy >= 0.88) and BANKING77 (test accuracy >= 0.88). Each is trained once per module.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from crm_core.errors import DataRequirementError, ParameterError
from crm_core.sample import load_sample
from crm_core.tables import Dataset
from crm_core.text import (
    TextParams,
    TextResult,
    _build_corpus,
    build_index,
    customer_text_features,
    detect_languages,
    normalize_text,
    run_text,
    similar,
    topics,
)

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
THAI = ["สินค้าเสียหายมาก", "ส่งของช้ามาก", "ขอบคุณมากครับ", "บริการดีมาก", "ขอคืนสินค้า"]


@pytest.fixture(scope="module")
def sample() -> Dataset:
    return load_sample()


@pytest.fixture(scope="module")
def sample_result(sample: Dataset) -> TextResult:
    return run_text(sample, TextParams())


def _frame(texts: list[str], labels: list[str | None]) -> pd.DataFrame:
    return pd.DataFrame({"text": texts, "category": labels})


# ---------------------------------------------------------------------------------------------
# Languages and vectors
# ---------------------------------------------------------------------------------------------


def test_language_is_detected_per_record_from_the_script() -> None:
    texts = [
        "物流太慢了",
        "The parcel arrived damaged",
        "Посылка пришла повреждённой",
        THAI[0],
        "荷物が届きません",
        "   ",
        None,
        "iPhone 屏幕碎了",
    ]
    assert list(detect_languages(texts)) == [
        "zh",
        "latin",
        "other",
        "unsegmented",
        "unsegmented",
        "empty",
        "empty",
        "zh",
    ]


def test_normalisation_folds_width_case_and_spaces() -> None:
    assert normalize_text("  ＡＢＣ\t退货\n\n１２３ ") == "abc 退货 123"


def test_character_block_equals_scikit_learn_tfidf() -> None:
    """Counting n-grams with numpy gives scikit-learn's sublinear TF-IDF, column for column."""
    texts = ["the parcel arrived damaged", "parcel late again", "great service, thanks!"] * 3
    texts += ["where is my parcel?", "damaged box"]
    params = TextParams(label_column=None, language="chars", char_ngrams=(1, 3), min_df=1)
    normal = [normalize_text(x) for x in texts]
    corpus = _build_corpus(normal, params)
    vectorizer = corpus.fit(np.arange(len(texts)), min_df=1, max_features=None)
    ours = corpus.matrix(vectorizer, np.arange(len(texts))).toarray()
    reference = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    expected = reference.fit_transform(normal)
    names = vectorizer.feature_names(range(vectorizer.n_features))
    columns = [reference.vocabulary_[name] for name in names]
    assert set(reference.vocabulary_) - set(names) == {" "}  # a lone space is left out
    reference.vocabulary_.pop(" ")
    expected = expected[:, columns].toarray()
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(ours, expected, atol=1e-12)


def test_rows_outside_the_fit_see_what_the_fitted_vectorizer_gives_them() -> None:
    texts = [
        "物流很快，包装很好",
        "质量太差了要退货",
        "please refund my order",
        "退货流程是什么",
    ] * 4
    texts += ["完全没有用过的新词汇", "brand new words here"]
    normal = [normalize_text(x) for x in texts]
    corpus = _build_corpus(normal, TextParams(label_column=None))
    fitted = np.arange(16)
    vectorizer = corpus.fit(fitted, min_df=1, max_features=None)
    held_out = np.arange(16, len(texts))
    from_corpus = corpus.matrix(vectorizer, held_out).toarray()
    from_text = vectorizer.transform([texts[i] for i in held_out]).toarray()
    np.testing.assert_allclose(from_corpus, from_text, atol=1e-12)
    # n-grams seen only outside the fitted rows are no columns: nothing leaks into the vocabulary
    assert "词汇" not in vectorizer.feature_names(range(vectorizer.n_features))


# ---------------------------------------------------------------------------------------------
# Classification on the sample
# ---------------------------------------------------------------------------------------------


def test_sample_categories_are_learned_in_both_languages(sample_result: TextResult) -> None:
    result = sample_result
    assert result.classes == ["complaint", "inquiry", "praise", "return"]
    assert result.metrics["macro_f1"] >= 0.9
    assert set(result.languages["language"]) == {"zh", "latin"}
    assert list(result.report["support"]) == list(result.confusion.sum(axis=1))
    assert int(np.trace(result.confusion.to_numpy())) == round(
        result.metrics["accuracy"] * result.metrics["test_records"]
    )
    returns = set(result.keywords.loc[result.keywords["category"] == "return", "term"])
    assert returns & {"退货", "return", "refund", "退款", "exchange"}


def test_unlabeled_records_get_a_predicted_category_with_confidence(sample: Dataset) -> None:
    comms = sample.tables["communications"].copy()
    hidden = np.arange(0, len(comms), 10)
    truth = comms["category"].iloc[hidden].to_numpy()
    comms.loc[comms.index[hidden], "category"] = None
    for model in ("svm", "logreg"):
        result = run_text(comms, TextParams(model=model))
        predictions = result.predictions.set_index("row").loc[hidden]
        assert result.n_unlabeled == len(hidden)
        assert (predictions["predicted"].to_numpy() == truth).mean() >= 0.9
        confidence = predictions["confidence"].to_numpy()
        assert ((confidence >= 1 / len(result.classes)) & (confidence <= 1)).all()
        expected = "softmax_margins" if model == "svm" else "probability"
        assert result.confidence_method == expected
        assert f"text.note.confidence_{model}" in {n.key for n in result.notes}
        assert result.predictions["confidence"].is_monotonic_decreasing


def test_same_input_and_parameters_give_the_same_output(sample: Dataset) -> None:
    first = run_text(sample, TextParams(model="logreg", seed=7))
    second = run_text(sample, TextParams(model="logreg", seed=7))
    assert first.metrics == second.metrics
    pd.testing.assert_frame_equal(first.keywords, second.keywords)
    pd.testing.assert_frame_equal(first.confusion, second.confusion)


def test_a_script_without_tokenizer_falls_back_to_characters_and_says_so() -> None:
    texts = [THAI[i % 5] + " " + str(i % 3) for i in range(60)]
    labels = [["damage", "late", "thanks", "thanks", "return"][i % 5] for i in range(60)]
    result = run_text(_frame(texts, labels), TextParams())
    keys = {note.key for note in result.notes}
    assert "text.note.no_tokenizer" in keys
    assert set(result.record_languages) == {"unsegmented"}
    assert result.vectorizer.n_word == 0 < result.vectorizer.n_features
    assert result.metrics["accuracy"] == 1.0  # each category is one distinct Thai phrase


# ---------------------------------------------------------------------------------------------
# Bad input
# ---------------------------------------------------------------------------------------------


def _error_key(call) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises((DataRequirementError, ParameterError)) as caught:
        call()
    return caught.value.key


def test_bad_input_is_one_typed_error_each(sample: Dataset) -> None:
    ok = ["good", "bad", "good", "bad"] * 10
    texts = [f"text number {i} is {label}" for i, label in enumerate(ok)]
    assert _error_key(lambda: run_text(sample, TextParams(text_column="body"))) == (
        "text.error.no_text_column"
    )
    assert _error_key(lambda: run_text(_frame(["", " ", None], ["a", "b", "a"]), TextParams())) == (
        "text.error.all_empty"
    )
    assert _error_key(lambda: run_text(_frame(texts, ["a"] * 40), TextParams())) == (
        "text.error.one_category"
    )
    rare = [*ok[:-1], "rare"]
    with pytest.raises(DataRequirementError) as error:
        run_text(_frame(texts, rare), TextParams())
    assert error.value.key == "text.error.too_few_per_class"
    assert error.value.params["category"] == "rare"
    many = [f"c{i % 8}" for i in range(16)]
    assert _error_key(lambda: run_text(_frame(texts[:16], many), TextParams(test_size=0.1))) == (
        "text.error.holdout_too_small"
    )
    assert _error_key(lambda: run_text(_frame(texts, ok), TextParams(model="bert"))) == (
        "text.error.bad_param"
    )
    assert _error_key(lambda: run_text(_frame(texts, [None] * 40), TextParams())) == (
        "text.error.no_labels"
    )
    assert _error_key(lambda: run_text(sample, TextParams(label_column="mood"))) == (
        "text.error.no_label_column"
    )


def test_empty_texts_are_left_out_with_a_note() -> None:
    texts = ["refund please", "love it", "", None, "   "] * 8
    labels = ["return", "praise", "return", "praise", "praise"] * 8
    result = run_text(_frame(texts, labels), TextParams())
    assert result.n_empty == 24
    assert result.n_labelled == 16
    assert any(n.key == "text.note.empty" and n.params["count"] == 24 for n in result.notes)


# ---------------------------------------------------------------------------------------------
# Similar records and topics
# ---------------------------------------------------------------------------------------------


def test_similar_records_are_the_highest_cosine_similarities() -> None:
    texts = [
        "the parcel arrived damaged",
        "my parcel is late",
        "thank you for the fast delivery",
        "包裹破损了",
        "包裹还没到",
        "",
        "great service",
    ]
    index = build_index(texts)
    query = "damaged parcel"
    found = similar(index, query, k=3)
    vectors = index.matrix.toarray()
    scores = vectors @ index.vectorizer.transform([query]).toarray().ravel()
    expected = np.argsort(-scores, kind="stable")[:3]
    assert list(found["row"]) == [int(index.records["row"][i]) for i in expected]
    np.testing.assert_allclose(found["similarity"], scores[expected])
    assert found["text"].iloc[0] == "the parcel arrived damaged"
    top = similar(index, "包裹破损了", k=1)
    assert top["text"].iloc[0] == "包裹破损了" and top["similarity"].iloc[0] == pytest.approx(1)
    assert similar(index, "   ").empty
    assert similar(index, "zzzz qqqq").empty  # nothing in common: no row is "similar"


def test_topics_are_seeded_and_cover_the_texts(sample: Dataset) -> None:
    texts = sample.tables["communications"]["text"].tolist()
    first = topics(texts, n_topics=4, seed=3)
    second = topics(texts, n_topics=4, seed=3)
    pd.testing.assert_frame_equal(first.topics, second.topics)
    assert list(first.topics["topic"]) == [1, 2, 3, 4]
    assert all(first.topics["words"].str.len() > 0)
    assert int(first.topics["records"].sum()) == int((first.assignment > 0).sum())
    assert not any(w in {"的", "the", "了"} for w in ", ".join(first.topics["words"]).split(", "))
    with pytest.raises(ParameterError):
        topics(texts, n_topics=1)


# ---------------------------------------------------------------------------------------------
# Per-customer features
# ---------------------------------------------------------------------------------------------


def test_customer_features_count_categories_and_take_the_latest_score(sample: Dataset) -> None:
    features = customer_text_features(sample)
    comms = sample.tables["communications"]
    expected = pd.crosstab(comms["customer_id"], comms["category"])
    for category in expected.columns:
        got = features[f"text_{category}"].reindex(expected.index)
        assert (got.to_numpy() == expected[category].to_numpy()).all()
    assert (
        features["text_total"]
        == features.filter(like="text_").drop(columns="text_total").sum(axis=1)
    ).all()
    feedback = sample.tables["feedback"].sort_values("date", kind="stable")
    latest = feedback.groupby("customer_id")["score"].last()
    pd.testing.assert_series_equal(
        features["latest_sentiment"].dropna(), latest.astype(float), check_names=False
    )
    assert features.attrs["sentiment_source"] == "feedback.score"


def test_customer_features_use_a_sentiment_column_and_predicted_categories() -> None:
    comms = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "b", "c"] * 8,
            "date": pd.date_range("2024-01-01", periods=40, freq="D"),
            "text": ["refund please", "love it", "broken item", "thanks a lot", "where is it"] * 8,
            "category": ["return", "praise", "complaint", "praise", "inquiry"] * 8,
            "sentiment": ["negative", "positive", "negative", "positive", "neutral"] * 8,
        }
    )
    comms.loc[39, "category"] = None  # c's last message: predicted as inquiry
    dataset = Dataset("d", {"communications": comms})
    result = run_text(dataset, TextParams())
    features = customer_text_features(dataset, result)
    assert features.loc["c", "text_inquiry"] == 8
    assert features.loc["a", "latest_sentiment"] == 1.0  # a's last message is "love it"
    assert features.loc["b", "latest_sentiment"] == 1.0
    assert features.loc["c", "latest_sentiment"] == 0.0
    assert features.attrs["sentiment_source"] == "communications.sentiment"


# ---------------------------------------------------------------------------------------------
# Real data (the thresholds)
# ---------------------------------------------------------------------------------------------


def _read(path: Path) -> pd.DataFrame:
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return pd.read_csv(path, dtype="str", keep_default_na=False)


@pytest.fixture(scope="module")
def shopping() -> TextResult:
    frame = _read(DATASETS / "chinese_reviews" / "online_shopping_10_cats.csv.gz")
    return run_text(frame, TextParams(text_column="review", label_column="cat"))


@pytest.mark.slow
def test_online_shopping_ten_categories_macro_f1(shopping: TextResult) -> None:
    assert len(shopping.classes) == 10
    assert shopping.metrics["macro_f1"] >= 0.85
    assert shopping.n_empty >= 1  # the empty review of the file (and any without a letter)
    assert set(shopping.languages["language"]) >= {"zh"}
    for _, terms in shopping.keywords.groupby("category"):  # every category, strongest first
        assert len(terms) == 15 and terms["weight"].is_monotonic_decreasing
    assert set(shopping.keywords["category"]) == set(shopping.classes)


@pytest.mark.slow
def test_hotel_review_sentiment_accuracy() -> None:
    frame = _read(DATASETS / "chinese_reviews" / "ChnSentiCorp_htl_all.csv.gz")
    result = run_text(frame, TextParams(text_column="review", label_column="label"))
    assert result.classes == ["0", "1"]
    assert result.metrics["accuracy"] >= 0.88


@pytest.mark.slow
def test_banking77_test_accuracy() -> None:
    train = _read(DATASETS / "banking77" / "train.csv.gz")
    test = _read(DATASETS / "banking77" / "test.csv.gz")
    result = run_text(train, TextParams(text_column="text", label_column="category"))
    assert len(result.classes) == 77
    predicted = result.predict(test["text"].tolist())
    assert (predicted["predicted"].to_numpy() == test["category"].to_numpy()).mean() >= 0.88
