"""Text analysis of communication records: categories, keywords, similar records, topics.

Languages. Each record's language is detected from its script (counting characters by Unicode
block; no statistical language model): ``zh`` (Han characters, no kana), ``latin`` (mostly Latin
letters), ``other`` (another script written with spaces between words: Cyrillic, Greek, Arabic,
Hangul, ...), ``unsegmented`` (Thai, Lao, Khmer, Myanmar, Tibetan or Japanese kana: written
without spaces and with no tokenizer here) and ``empty``. Chinese records are segmented into words
with jieba (precise mode, each distinct text once); other spaced scripts are split on word
characters (two or more, as scikit-learn's default pattern); unsegmented records get no word
tokens at all and are represented by character n-grams only, with a note that says so.

Features. Two TF-IDF blocks, concatenated with equal weight and L2-normalised per record: word
n-grams (default 1–2) and character n-grams (default 1–4) over the normalised text (NFKC,
lower-cased, whitespace collapsed). Both are counted with numpy over integer-coded symbols (each
n-gram is an exact base-``A`` number over the corpus alphabet, never a hash), so the n-grams of
every record are computed once; fitting on a set of rows only chooses columns (``min_df`` and
``max_features`` measured on those rows) and their IDF (``ln((1 + n) / (1 + df)) + 1``, with
sublinear term frequency, as scikit-learn's ``TfidfVectorizer(sublinear_tf=True)``). A row outside
the fitted rows therefore sees exactly what a vectorizer fitted on those rows would give it.

Models. Logistic regression (one-vs-rest liblinear per category; confidence = its probability,
normalised over the categories) or a linear SVM (``LinearSVC``; confidence = softmax of the
decision margins divided by a temperature fitted on the holdout, i.e. temperature scaling, not a
cross-validated calibration). Evaluation is a stratified holdout (``test_size``, seeded): macro-F1,
accuracy, a per-category report and the confusion matrix. The model used for predictions and
keywords is then refitted on every labelled record. Keywords are the terms with the largest
coefficients per category (word n-grams; character n-grams when a category has no word terms).

Similar records: cosine similarity between a query's vector and every record's, one sparse
matrix-vector product. The search vectors keep every n-gram (``min_df`` 1) of all records with a
text: a word seen once is exactly what makes two records alike. Topics: NMF on word TF-IDF (a
short stop list of function words removed). The character 1-gram " " is never a feature.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import unicodedata
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.decomposition import NMF
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    precision_recall_fscore_support,
)
from sklearn.model_selection import train_test_split
from sklearn.svm import LinearSVC

from crm_core.errors import DataRequirementError, ParameterError
from crm_core.segmentation import Note
from crm_core.tables import Dataset

MODELS: tuple[str, ...] = ("logreg", "svm")
LANGUAGE_MODES: tuple[str, ...] = ("auto", "zh", "en", "chars")
SCRIPTS: tuple[str, ...] = ("zh", "latin", "other", "unsegmented", "empty")
TEXT_TABLES: tuple[str, ...] = ("communications", "feedback")
MIN_PER_CLASS = 2  # labelled records per category a stratified holdout needs
MAX_NGRAM = 6
MAX_RECORDS = 1_000_000
SVM_MAX_ITER = 5_000
SVM_TOL = 1e-3  # 62k reviews: 13% faster than 1e-4, the same macro-F1
LOGREG_MAX_ITER = 1_000
LOGREG_C_FACTOR = 3.0  # dual logistic loss: a weaker penalty than the SVM (banking77: 0.903)
LOGREG_TOL = 1e-3  # liblinear dual stops earlier; tighter tolerances doubled the time
TOP_KEYWORDS = 15
TOPIC_WORDS = 10
MAX_TOPICS = 30
_INT_LIMIT = 2**62  # n-gram codes stay below this (int64 with room)

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff]")
_KANA_ETC = re.compile(r"[\u3040-\u30ff\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_LETTER = re.compile(r"[^\W\d_]")
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"\w\w+")
_HAS_WORD = re.compile(r"\w")

_STOP_TEXT = """
的 了 是 我 也 都 就 在 和 有 这 个 一 不 很 还 又 吧 啊 呢 吗 着 过 被 把 给 让 与 及 或 但 而
就是 一个 没有 我们 你们 他们 自己 这个 那个
什么 还是 因为 所以 如果 可以 感觉 非常 比较 已经 真的 东西
a an the and or but if of to in on at for with by from as is are was were be been it its this
that these those i you he she we they me my your our their do does did have has had not no so
very just can will would could should am
"""
STOP_WORDS: frozenset[str] = frozenset(_STOP_TEXT.split())  # left out of topics only

_JIEBA_LOCK = threading.Lock()


# ---------------------------------------------------------------------------------------------
# Parameters and results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextParams:
    """Which column to read and learn, which model, how to vectorise; ``seed`` fixes the split."""

    text_column: str = "text"
    label_column: str | None = "category"  # None: no classifier (similar records, topics)
    table: str | None = None  # None: the first of communications, feedback holding text_column
    model: str = "svm"  # "logreg" | "svm"
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (1, 4)
    min_df: int = 2
    max_features: int | None = 400_000  # per block (words, characters); None: all
    C: float = 1.0
    test_size: float = 0.2
    seed: int = 42
    language: str = "auto"  # "auto" per record, or "zh" / "en" for every record, or "chars"


@dataclass
class TextVectorizer:
    """The fitted word and character TF-IDF blocks; transforms any new text the same way."""

    language: str
    word_ngrams: tuple[int, int]
    char_ngrams: tuple[int, int]
    word_alphabet: pd.Index  # sorted distinct tokens
    char_alphabet: np.ndarray  # sorted distinct code points (uint32)
    word_keys: np.ndarray  # kept n-gram codes (sorted int64)
    word_idf: np.ndarray
    char_keys: np.ndarray
    char_idf: np.ndarray

    @property
    def n_word(self) -> int:
        """Word columns (they come first)."""
        return len(self.word_keys)

    @property
    def n_features(self) -> int:
        """All columns."""
        return len(self.word_keys) + len(self.char_keys)

    def transform(self, texts: Sequence[str]) -> sparse.csr_matrix:
        """TF-IDF rows (unit length, or zero for a text with no known n-gram)."""
        normal = [normalize_text(x) for x in texts]
        tokens = tokenize_many(normal, self.language)
        n, words_in, chars_in = len(normal), len(self.word_alphabet), len(self.char_alphabet)
        wsym, wdoc = _word_symbols(tokens, self.word_alphabet)
        words = _ngram_counts(wsym, wdoc, n, words_in, self.word_ngrams, self.word_keys)[0]
        csym, cdoc = _char_symbols(normal, self.char_alphabet)
        chars = _ngram_counts(csym, cdoc, n, chars_in, self.char_ngrams, self.char_keys)[0]
        return _combine(_tfidf(words, self.word_idf), _tfidf(chars, self.char_idf))

    def feature_names(self, columns: Iterable[int]) -> list[str]:
        """Readable n-grams of the given columns (words joined by spaces)."""
        names = []
        for col in columns:
            if col < self.n_word:
                digits = _digits(int(self.word_keys[col]), len(self.word_alphabet) + 1)
                names.append(" ".join(str(self.word_alphabet[d - 1]) for d in digits))
            else:
                key = int(self.char_keys[col - self.n_word])
                digits = _digits(key, len(self.char_alphabet) + 1)
                names.append("".join(chr(int(self.char_alphabet[d - 1])) for d in digits))
        return names


@dataclass
class TextIndex:
    """Vectors of past records for similarity search, with the records they stand for."""

    vectorizer: TextVectorizer
    # one unit-length row per record in ``records``, stored by column (CSC): a query's product
    # then reads only the records holding one of its n-grams, not every stored value
    matrix: sparse.csc_matrix
    records: pd.DataFrame  # row (position in the table), text, and label/customer/date if any


@dataclass
class TextResult:
    """Holdout evaluation, predictions for unlabeled records, keywords, index and notes."""

    params: TextParams
    table: str
    column: str
    label_column: str | None
    n_records: int
    n_empty: int
    n_labelled: int
    classes: list[str]
    metrics: dict[str, float]
    report: pd.DataFrame  # category, precision, recall, f1, support
    confusion: pd.DataFrame  # rows: actual, columns: predicted (same category order)
    predictions: pd.DataFrame  # unlabeled records: row, text, predicted, confidence, language
    keywords: pd.DataFrame  # category, rank, term, weight
    languages: pd.DataFrame  # language, records
    record_languages: pd.Series  # per row of the table
    confidence_method: str  # "probability" | "softmax_margins"
    temperature: float | None
    vectorizer: TextVectorizer
    model: Any  # the classifier refitted on every labelled record (None without labels)
    index: TextIndex
    notes: list[Note] = field(default_factory=list)

    @property
    def n_unlabeled(self) -> int:
        """Records with a text but no category."""
        return len(self.predictions)

    def predict(self, texts: Sequence[str]) -> pd.DataFrame:
        """Predicted category and confidence for new texts (the refitted model)."""
        if self.model is None:
            raise DataRequirementError("text.error.no_labels", column=str(self.label_column))
        labels, confidence = _predict(
            self.model, self.vectorizer.transform(texts), self.classes, self.temperature
        )
        return pd.DataFrame({"text": list(texts), "predicted": labels, "confidence": confidence})


@dataclass
class TopicResult:
    """NMF topics: top words and size per topic, and each text's topic (-1: no known word)."""

    topics: pd.DataFrame  # topic, words, weight, records
    assignment: np.ndarray


# ---------------------------------------------------------------------------------------------
# Languages and tokens
# ---------------------------------------------------------------------------------------------


def normalize_text(text: Any) -> str:
    """NFKC (full-width letters and digits become ASCII), lower case, single spaces."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    value = unicodedata.normalize("NFKC", str(text)).lower()
    return _SPACES.sub(" ", value).strip()


def detect_script(text: str) -> str:
    """One of :data:`SCRIPTS` from the characters of ``text`` (fast, no language model)."""
    if not text or not _HAS_WORD.search(text):
        return "empty"
    letters = len(_LETTER.findall(text))
    han = len(_HAN.findall(text))
    unsegmented = len(_KANA_ETC.findall(text))
    if unsegmented and unsegmented * 3 >= letters:
        return "unsegmented"
    if han and han >= letters - han - unsegmented:
        return "zh"
    if han:  # a Latin sentence with a few Han characters: jieba handles both
        return "zh"
    latin = len(_LATIN.findall(text))
    return "latin" if latin * 2 >= letters else "other"


def detect_languages(texts: Sequence[Any]) -> pd.Series:
    """Script-based language per text (each distinct text is examined once)."""
    codes, uniques = pd.factorize(pd.Series(list(texts), dtype="object").map(normalize_text))
    detected = np.array([detect_script(x) for x in uniques], dtype=object)
    return pd.Series(detected[codes] if len(codes) else [], dtype="str")


def _jieba() -> Any:
    import jieba

    with _JIEBA_LOCK:
        jieba.setLogLevel(logging.WARNING)
        jieba.initialize()
    return jieba


def tokenize_many(texts: Sequence[str], language: str = "auto") -> list[list[str]]:
    """Word tokens of normalised texts: jieba for Chinese, word characters for spaced scripts,
    none for unsegmented scripts. Each distinct text is segmented once."""
    codes, uniques = pd.factorize(pd.Series(list(texts), dtype="object"))
    tokens: list[list[str]] = []
    cut = None
    for text in uniques:
        script = detect_script(text) if language == "auto" else language
        if script == "chars" or script in ("unsegmented", "empty"):
            tokens.append([])
        elif script == "zh":
            if cut is None:
                cut = _jieba().lcut
            tokens.append([w for w in cut(text) if _HAS_WORD.search(w) and w.strip()])
        else:
            tokens.append(_WORD.findall(text))
    return [tokens[c] for c in codes]


# ---------------------------------------------------------------------------------------------
# N-gram counting over integer symbols
# ---------------------------------------------------------------------------------------------


def _digits(key: int, base: int) -> list[int]:
    out = []
    while key:
        key, d = divmod(key, base)
        out.append(d)
    return out[::-1]


def _max_n(alphabet: int) -> int:
    """Longest n-gram whose code fits: (alphabet + 1) ** n below 2**62."""
    return max(1, int(math.log(_INT_LIMIT) / math.log(alphabet + 1))) if alphabet else MAX_NGRAM


def _gram_keys(
    symbols: np.ndarray, docs: np.ndarray, ngrams: tuple[int, int], base: int
) -> tuple[np.ndarray, np.ndarray]:
    """Codes and documents of every n-gram within a document (symbol 0 = unknown: skipped)."""
    keys, where = [], []
    known = symbols > 0
    for n in range(ngrams[0], ngrams[1] + 1):
        m = len(symbols) - n + 1
        if m <= 0:
            continue
        key = symbols[:m].astype(np.int64)
        ok = known[:m] & (docs[:m] == docs[n - 1 : n - 1 + m])
        for k in range(1, n):
            key = key * base + symbols[k : k + m]
            ok &= known[k : k + m]
        keys.append(key[ok])
        where.append(docs[:m][ok])
    if not keys:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(keys), np.concatenate(where)


def _count(
    keys: np.ndarray, docs: np.ndarray, n_docs: int, vocabulary: np.ndarray | None
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Document x n-gram counts; columns are ``vocabulary`` or every distinct code."""
    if vocabulary is None:
        vocabulary, columns = np.unique(keys, return_inverse=True)
    else:
        columns = np.searchsorted(vocabulary, keys)
        found = columns < len(vocabulary)
        found[found] = vocabulary[columns[found]] == keys[found]
        columns, docs = columns[found], docs[found]
    matrix = sparse.csr_matrix(
        (np.ones(len(columns), np.float32), (docs, columns)), shape=(n_docs, len(vocabulary))
    )
    matrix.sum_duplicates()
    return matrix, vocabulary


def _char_symbols(texts: Sequence[str], alphabet: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter((len(x) for x in texts), np.int64, len(texts))
    joined = "".join(texts)
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    position = np.searchsorted(alphabet, codes)
    found = position < len(alphabet)
    found[found] = alphabet[position[found]] == codes[found]
    symbols = np.where(found, position + 1, 0).astype(np.int64)
    return symbols, np.repeat(np.arange(len(texts), dtype=np.int64), lengths)


def _word_symbols(tokens: Sequence[list[str]], alphabet: pd.Index) -> tuple[np.ndarray, np.ndarray]:
    lengths = np.fromiter((len(x) for x in tokens), np.int64, len(tokens))
    flat = [w for doc in tokens for w in doc]
    symbols = alphabet.get_indexer(flat).astype(np.int64) + 1 if flat else np.zeros(0, np.int64)
    return symbols, np.repeat(np.arange(len(tokens), dtype=np.int64), lengths)


def _ngram_counts(
    symbols: np.ndarray,
    docs: np.ndarray,
    n_docs: int,
    alphabet: int,
    ngrams: tuple[int, int],
    vocabulary: np.ndarray | None = None,
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Counts of the n-grams of integer-coded documents (columns: ``vocabulary`` or all)."""
    keys, where = _gram_keys(symbols, docs, ngrams, alphabet + 1)
    return _count(keys, where, n_docs, vocabulary)


def _tfidf(counts: sparse.csr_matrix, idf: np.ndarray) -> sparse.csr_matrix:
    """Sublinear TF x IDF, rows scaled to unit length (empty rows stay zero)."""
    out = counts.astype(np.float64, copy=True)
    out.data = (1.0 + np.log(out.data)) * idf[out.indices]
    return _unit_rows(out)


def _unit_rows(matrix: sparse.csr_matrix) -> sparse.csr_matrix:
    norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.csr_matrix(sparse.diags(1.0 / norms) @ matrix)


def _combine(words: sparse.csr_matrix, chars: sparse.csr_matrix) -> sparse.csr_matrix:
    """Both blocks side by side with equal weight, each row of unit length."""
    return _unit_rows(sparse.hstack([words, chars], format="csr"))


@dataclass
class _Corpus:
    """Counts of every record's word and character n-grams over the whole corpus, once."""

    language: str
    word_ngrams: tuple[int, int]
    char_ngrams: tuple[int, int]
    word_alphabet: pd.Index
    char_alphabet: np.ndarray
    words: sparse.csr_matrix
    word_vocab: np.ndarray
    chars: sparse.csr_matrix
    char_vocab: np.ndarray
    codes: np.ndarray  # distinct-text number per record
    notes: list[Note]

    def fit(self, rows: np.ndarray, min_df: int, max_features: int | None) -> TextVectorizer:
        """Columns and IDF from ``rows`` only (as a vectorizer fitted on those records)."""
        word_cols, word_idf = _select(self.words[rows], min_df, max_features)
        char_cols, char_idf = _select(self.chars[rows], min_df, max_features)
        space = np.searchsorted(self.char_alphabet, ord(" ")) + 1  # the code of the 1-gram " "
        if space <= len(self.char_alphabet) and self.char_alphabet[space - 1] == ord(" "):
            kept = self.char_vocab[char_cols] != space  # a lone space says nothing about a text
            char_cols, char_idf = char_cols[kept], char_idf[kept]
        vectorizer = TextVectorizer(
            language=self.language,
            word_ngrams=self.word_ngrams,
            char_ngrams=self.char_ngrams,
            word_alphabet=self.word_alphabet,
            char_alphabet=self.char_alphabet,
            word_keys=self.word_vocab[word_cols],
            word_idf=word_idf,
            char_keys=self.char_vocab[char_cols],
            char_idf=char_idf,
        )
        vectorizer._columns = (word_cols, char_cols)  # type: ignore[attr-defined]
        return vectorizer

    def matrix(self, vectorizer: TextVectorizer, rows: np.ndarray) -> sparse.csr_matrix:
        """The fitted vectorizer's rows for corpus records (no re-tokenising)."""
        word_cols, char_cols = vectorizer._columns  # type: ignore[attr-defined]
        words = _tfidf(self.words[rows][:, word_cols], vectorizer.word_idf)
        chars = _tfidf(self.chars[rows][:, char_cols], vectorizer.char_idf)
        return _combine(words, chars)


def _select(
    counts: sparse.csr_matrix, min_df: int, max_features: int | None
) -> tuple[np.ndarray, np.ndarray]:
    """Columns present in at least ``min_df`` rows (the ``max_features`` most frequent) + IDF."""
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    keep = np.flatnonzero(df >= max(min_df, 1))
    if max_features is not None and len(keep) > max_features:
        totals = np.asarray(counts.sum(axis=0)).ravel()[keep]
        order = np.lexsort((keep, -totals))[:max_features]  # ties: the earlier code first
        keep = np.sort(keep[order])
    idf = np.log((1.0 + n) / (1.0 + df[keep])) + 1.0
    return keep, idf


def _build_corpus(normal: Sequence[str], params: TextParams) -> _Corpus:
    """Tokens and n-gram counts of every distinct normalised text, expanded to records."""
    notes: list[Note] = []
    codes, uniques = pd.factorize(pd.Series(list(normal), dtype="object"))
    uniques = [str(x) for x in uniques]
    language = params.language
    tokens = tokenize_many(uniques, language) if language != "chars" else [[] for _ in uniques]
    flat = [w for doc in tokens for w in doc]
    word_alphabet = pd.Index(sorted(set(flat)), dtype="object")
    joined = "".join(uniques)
    char_alphabet = np.unique(np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32))
    word_ngrams = _capped(params.word_ngrams, len(word_alphabet), "words", notes)
    char_ngrams = _capped(params.char_ngrams, len(char_alphabet), "chars", notes)
    wsym, wdoc = _word_symbols(tokens, word_alphabet)
    words, word_vocab = _ngram_counts(wsym, wdoc, len(uniques), len(word_alphabet), word_ngrams)
    csym, cdoc = _char_symbols(uniques, char_alphabet)
    chars, char_vocab = _ngram_counts(csym, cdoc, len(uniques), len(char_alphabet), char_ngrams)
    return _Corpus(
        language=language,
        word_ngrams=word_ngrams,
        char_ngrams=char_ngrams,
        word_alphabet=word_alphabet,
        char_alphabet=char_alphabet,
        words=words[codes],
        word_vocab=word_vocab,
        chars=chars[codes],
        char_vocab=char_vocab,
        codes=codes,
        notes=notes,
    )


def _capped(
    ngrams: tuple[int, int], alphabet: int, kind: str, notes: list[Note]
) -> tuple[int, int]:
    """N-gram range whose longest codes fit 64 bits; a note when it had to be shortened."""
    longest = _max_n(alphabet)
    if ngrams[1] <= longest:
        return ngrams
    notes.append(Note(f"text.note.ngram_cap_{kind}", {"n": longest, "alphabet": alphabet}))
    return (min(ngrams[0], longest), longest)


# ---------------------------------------------------------------------------------------------
# Input
# ---------------------------------------------------------------------------------------------


def _bad(name: str, value: Any, allowed: str) -> ParameterError:
    return ParameterError("text.error.bad_param", name=name, value=str(value), allowed=allowed)


def _check_params(params: TextParams) -> None:
    if params.model not in MODELS:
        raise _bad("model", params.model, ", ".join(MODELS))
    if params.language not in LANGUAGE_MODES:
        raise _bad("language", params.language, ", ".join(LANGUAGE_MODES))
    for name, (low, high) in (
        ("word_ngrams", params.word_ngrams),
        ("char_ngrams", params.char_ngrams),
    ):
        if not 1 <= low <= high <= MAX_NGRAM:
            raise _bad(name, f"{low}-{high}", f"1 <= low <= high <= {MAX_NGRAM}")
    if params.min_df < 1:
        raise _bad("min_df", params.min_df, ">= 1")
    if params.max_features is not None and params.max_features < 1:
        raise _bad("max_features", params.max_features, ">= 1")
    if not 0.05 <= params.test_size <= 0.5:
        raise _bad("test_size", params.test_size, "0.05-0.5")
    if not params.C > 0:
        raise _bad("C", params.C, "> 0")
    if params.table is not None and params.table not in TEXT_TABLES:
        raise _bad("table", params.table, ", ".join(TEXT_TABLES))


def text_columns(frame: pd.DataFrame) -> list[str]:
    """Columns that hold free text: strings, many distinct values or long ones (``text`` first)."""
    out = []
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
            continue
        sample = values.dropna().astype("str").head(2_000)
        if not len(sample):
            continue
        if (
            column == "text"
            or sample.str.len().mean() >= 12
            or sample.str.contains(" ").mean() > 0.5
        ):
            out.append(str(column))
    return sorted(out, key=lambda c: c != "text")


def label_columns(frame: pd.DataFrame, text_column: str | None = None) -> list[str]:
    """Columns that can be categories: few distinct values (``category`` first)."""
    out = []
    for column in frame.columns:
        if column in (text_column, "customer_id", "date", "order_id"):
            continue
        values = frame[column].dropna()
        if pd.api.types.is_datetime64_any_dtype(values) or not len(values):
            continue
        distinct = values.astype("str").nunique()
        if 2 <= distinct <= max(50, min(200, len(values) // 20)):
            out.append(str(column))
    return sorted(out, key=lambda c: c != "category")


def _resolve(data: Dataset | pd.DataFrame, params: TextParams) -> tuple[str, pd.DataFrame]:
    """The table holding the text column (and its name), or a typed error naming what exists."""
    if isinstance(data, pd.DataFrame):
        frame, name = data, "table"
    else:
        names = [params.table] if params.table else list(TEXT_TABLES)
        found = [n for n in names if data.has(n) and params.text_column in data.tables[n].columns]
        if not found:
            present = [n for n in names if data.has(n)]
            if not present:
                raise DataRequirementError("text.error.no_table", hint="text.hint.map_text")
            columns = ", ".join(str(c) for c in data.tables[present[0]].columns)
            raise DataRequirementError(
                "text.error.no_text_column",
                hint="text.hint.pick_column",
                column=params.text_column,
                table=present[0],
                columns=columns,
            )
        name = found[0]
        frame = data.tables[name]
    if params.text_column not in frame.columns:
        raise DataRequirementError(
            "text.error.no_text_column",
            hint="text.hint.pick_column",
            column=params.text_column,
            table=name,
            columns=", ".join(str(c) for c in frame.columns),
        )
    if params.label_column is not None and params.label_column not in frame.columns:
        raise DataRequirementError(
            "text.error.no_label_column",
            hint="text.hint.pick_column",
            column=params.label_column,
            table=name,
            columns=", ".join(str(c) for c in frame.columns),
        )
    if len(frame) > MAX_RECORDS:
        raise ParameterError("text.error.too_many", rows=len(frame), limit=MAX_RECORDS)
    return name, frame


def _labels(values: pd.Series) -> np.ndarray:
    """Categories as stripped strings; missing and blank become ""."""
    text = values.astype("object").where(values.notna(), "")
    out = np.array([str(x).strip() for x in text], dtype=object)
    # 1.0 and 1 are one category when a label column was read as numbers
    numeric = pd.to_numeric(pd.Series(out), errors="coerce")
    whole = numeric.notna() & (numeric == numeric.round())
    if len(out) and bool(whole[pd.Series(out) != ""].all()):
        out = np.where(out == "", "", numeric.fillna(0).astype("int64").astype("str").to_numpy())
    return out


def _check_labels(y: np.ndarray, test_size: float, column: str) -> None:
    counts = pd.Series(y).value_counts()
    if len(counts) == 0:
        raise DataRequirementError(
            "text.error.no_labels", hint="text.hint.more_labels", column=column
        )
    if len(counts) == 1:
        raise DataRequirementError(
            "text.error.one_category",
            hint="text.hint.more_categories",
            category=str(counts.index[0]),
            count=int(counts.iloc[0]),
        )
    rare = counts[counts < MIN_PER_CLASS]
    if len(rare):
        raise DataRequirementError(
            "text.error.too_few_per_class",
            hint="text.hint.merge_rare",
            category=str(rare.index[-1]),
            count=int(rare.iloc[-1]),
            needed=MIN_PER_CLASS,
            others=len(rare) - 1,
        )
    n_test = math.ceil(test_size * len(y))
    if n_test < len(counts) or len(y) - n_test < len(counts):
        raise DataRequirementError(
            "text.error.holdout_too_small",
            hint="text.hint.holdout",
            records=len(y),
            categories=len(counts),
            share=f"{test_size:.0%}",
        )


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------


class _OneVsRest:
    """Binary logistic regressions per category (liblinear fits two classes only), with
    sample weights, which scikit-learn's wrapper does not pass through."""

    def __init__(self, make: Any) -> None:
        self.make = make

    def fit(self, X: sparse.csr_matrix, y: np.ndarray, sample_weight: np.ndarray) -> _OneVsRest:
        self.classes_ = np.unique(y)
        self.estimators_ = [
            self.make().fit(X, (y == c).astype(int), sample_weight=sample_weight)
            for c in self.classes_
        ]
        return self

    def decision_function(self, X: sparse.csr_matrix) -> np.ndarray:
        return np.column_stack([e.decision_function(X) for e in self.estimators_])

    def predict_proba(self, X: sparse.csr_matrix) -> np.ndarray:
        proba = np.column_stack([e.predict_proba(X)[:, 1] for e in self.estimators_])
        total = proba.sum(axis=1, keepdims=True)
        total[total == 0] = 1.0
        return proba / total

    def predict(self, X: sparse.csr_matrix) -> np.ndarray:
        return self.classes_[self.decision_function(X).argmax(axis=1)]


def _estimator(params: TextParams, n_classes: int) -> Any:
    if params.model == "svm":
        return LinearSVC(C=params.C, tol=SVM_TOL, max_iter=SVM_MAX_ITER, random_state=params.seed)

    def make() -> LogisticRegression:
        return LogisticRegression(
            C=params.C * LOGREG_C_FACTOR,
            solver="liblinear",
            dual=True,
            tol=LOGREG_TOL,
            max_iter=LOGREG_MAX_ITER,
            random_state=params.seed,
        )

    return _OneVsRest(make) if n_classes > 2 else make()


def _fit(
    params: TextParams,
    X: sparse.csr_matrix,
    y: np.ndarray,
    texts: np.ndarray,
    notes: list[Note],
) -> Any:
    """Fit on distinct (text, category) pairs weighted by their count: the same objective as
    one row per record, much faster on template-like messages. Warnings become a note."""
    pairs = pd.DataFrame({"t": texts, "y": y})
    grouped = pairs.groupby(["t", "y"], sort=False).indices
    first = np.fromiter((v[0] for v in grouped.values()), np.int64, len(grouped))
    weight = np.fromiter((len(v) for v in grouped.values()), np.float64, len(grouped))
    order = np.argsort(first)
    first, weight = first[order], weight[order]
    model = _estimator(params, len(np.unique(y)))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        model.fit(X[first], y[first], sample_weight=weight)
    if any(issubclass(w.category, ConvergenceWarning) for w in caught):
        note = Note("text.note.convergence", {})
        if note not in notes:
            notes.append(note)
    return model


def _margins(model: Any, X: sparse.csr_matrix) -> np.ndarray:
    scores = model.decision_function(X)
    if scores.ndim == 1:  # two classes: the second class's margin against 0
        scores = np.column_stack([np.zeros_like(scores), scores])
    return scores


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _probabilities(model: Any, X: sparse.csr_matrix, temperature: float | None) -> np.ndarray:
    if temperature is None:
        proba = model.predict_proba(X)
        return proba / proba.sum(axis=1, keepdims=True)
    return _softmax(_margins(model, X) / temperature)


def _predict(
    model: Any, X: sparse.csr_matrix, classes: list[str], temperature: float | None
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted category (the model's own decision) and its confidence."""
    predicted = np.asarray(model.predict(X), dtype=object) if X.shape[0] else np.zeros(0, object)
    if not X.shape[0]:
        return predicted, np.zeros(0)
    proba = _probabilities(model, X, temperature)
    order = {c: i for i, c in enumerate(model.classes_)}
    confidence = proba[np.arange(len(predicted)), [order[p] for p in predicted]]
    return predicted, confidence


def _temperature(margins: np.ndarray, y_index: np.ndarray) -> float:
    """The temperature that minimises the log-loss of softmax(margins / T) on held-out rows."""
    from scipy.optimize import minimize_scalar

    def loss(log_t: float) -> float:
        p = _softmax(margins / math.exp(log_t))
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y_index)), y_index], 1e-12, 1))))

    best = minimize_scalar(loss, bounds=(math.log(0.01), math.log(100.0)), method="bounded")
    return float(math.exp(best.x))


def _keywords(model: Any, vectorizer: TextVectorizer, classes: list[str]) -> pd.DataFrame:
    """Top positive coefficients per category, word n-grams first (they read best)."""
    estimators = getattr(model, "estimators_", None)
    if estimators is not None:
        coef = np.vstack([np.ravel(e.coef_) for e in estimators])
    else:
        coef = np.atleast_2d(model.coef_)
    if coef.shape[0] == 1 and len(classes) == 2:
        coef = np.vstack([-coef[0], coef[0]])
    rows = []
    for i, category in enumerate(model.classes_):
        weights = coef[i]
        for block in (np.arange(vectorizer.n_word), np.arange(vectorizer.n_word, len(weights))):
            if not len(block):
                continue
            positive = block[weights[block] > 0]
            if len(positive):
                top = positive[np.lexsort((positive, -weights[positive]))][:TOP_KEYWORDS]
                names = vectorizer.feature_names(top)
                for rank, (col, name) in enumerate(zip(top, names, strict=True), start=1):
                    rows.append((str(category), rank, name, float(weights[col])))
                break
    return pd.DataFrame(rows, columns=["category", "rank", "term", "weight"])


def _report(y_true: np.ndarray, y_pred: np.ndarray, classes: list[str]) -> pd.DataFrame:
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0
    )
    return pd.DataFrame(
        {
            "category": classes,
            "precision": precision,
            "recall": recall,
            "f1": f1,
            "support": support.astype("int64"),
        }
    )


# ---------------------------------------------------------------------------------------------
# Run
# ---------------------------------------------------------------------------------------------


def _records(frame: pd.DataFrame, params: TextParams, rows: np.ndarray) -> pd.DataFrame:
    """Display columns of the given rows: position, text, and label/customer/date/channel."""
    out = pd.DataFrame({"row": rows.astype("int64")})
    for column in (params.text_column, params.label_column, "customer_id", "date", "channel"):
        if column is not None and column in frame.columns and column not in out.columns:
            out[column] = frame[column].iloc[rows].to_numpy()
    return out


def run_text(data: Dataset | pd.DataFrame, params: TextParams) -> TextResult:
    """Classify (when a label column is given), predict unlabeled records, index for search."""
    _check_params(params)
    name, frame = _resolve(data, params)
    raw = frame[params.text_column]
    normal = [normalize_text(x) for x in raw.astype("object").where(raw.notna(), "")]
    has_text = np.array([bool(_HAS_WORD.search(x)) for x in normal])
    if not has_text.any():
        raise DataRequirementError(
            "text.error.all_empty", hint="text.hint.fill_texts", column=params.text_column
        )
    languages = detect_languages(normal) if params.language == "auto" else None
    if languages is None:
        fixed = {"zh": "zh", "en": "latin", "chars": "unsegmented"}[params.language]
        languages = pd.Series(np.where(has_text, fixed, "empty"), dtype="str")
    notes: list[Note] = []
    corpus = _build_corpus(normal, params)
    notes.extend(corpus.notes)
    n_empty = int((~has_text).sum())
    if n_empty:
        notes.append(Note("text.note.empty", {"count": n_empty, "column": params.text_column}))
    unsegmented = int((languages == "unsegmented").sum())
    if unsegmented:
        notes.append(Note("text.note.no_tokenizer", {"count": unsegmented}))
    lang_table = languages.value_counts().rename_axis("language").reset_index(name="records")
    lang_table = lang_table.sort_values(["records", "language"], ascending=[False, True])

    labels = _labels(frame[params.label_column]) if params.label_column else None
    usable = np.flatnonzero(has_text)
    classes: list[str] = []
    metrics: dict[str, float] = {}
    report = pd.DataFrame(columns=["category", "precision", "recall", "f1", "support"])
    confusion = pd.DataFrame()
    keywords = pd.DataFrame(columns=["category", "rank", "term", "weight"])
    model: Any = None
    temperature: float | None = None
    unlabeled = usable
    if labels is not None:
        labelled = usable[labels[usable] != ""]
        unlabeled = usable[labels[usable] == ""]
        y = labels[labelled].astype(str)
        _check_labels(y, params.test_size, params.label_column or "")
        classes = sorted(set(y))
        train, test = train_test_split(
            np.arange(len(labelled)),
            test_size=params.test_size,
            stratify=y,
            random_state=params.seed,
        )
        train_rows, test_rows = labelled[np.sort(train)], labelled[np.sort(test)]
        holdout_vec = corpus.fit(train_rows, params.min_df, params.max_features)
        holdout = _fit(
            params,
            corpus.matrix(holdout_vec, train_rows),
            labels[train_rows],
            corpus.codes[train_rows],
            notes,
        )
        X_test = corpus.matrix(holdout_vec, test_rows)
        y_test = labels[test_rows].astype(str)
        y_pred = np.asarray(holdout.predict(X_test)).astype(str)
        if params.model == "svm":
            index = {c: i for i, c in enumerate(holdout.classes_)}
            temperature = _temperature(
                _margins(holdout, X_test), np.array([index[c] for c in y_test])
            )
        metrics = {
            "macro_f1": float(f1_score(y_test, y_pred, labels=classes, average="macro")),
            "weighted_f1": float(f1_score(y_test, y_pred, labels=classes, average="weighted")),
            "accuracy": float(accuracy_score(y_test, y_pred)),
            "train_records": float(len(train_rows)),
            "test_records": float(len(test_rows)),
        }
        report = _report(y_test, y_pred, classes)
        confusion = pd.DataFrame(
            confusion_matrix(y_test, y_pred, labels=classes), index=classes, columns=classes
        )
        confusion.index.name = "actual"
        confusion.columns.name = "predicted"
        vectorizer = corpus.fit(labelled, params.min_df, params.max_features)
        model = _fit(
            params,
            corpus.matrix(vectorizer, labelled),
            labels[labelled],
            corpus.codes[labelled],
            notes,
        )
        keywords = _keywords(model, vectorizer, classes)
        method = "softmax_margins" if params.model == "svm" else "probability"
        notes.append(Note(f"text.note.confidence_{params.model}", {}))
        if len(unlabeled):
            notes.append(
                Note(
                    "text.note.unlabeled", {"count": len(unlabeled), "column": params.label_column}
                )
            )
    else:
        vectorizer = corpus.fit(usable, params.min_df, params.max_features)
        method = "probability"
    # the search index keeps every n-gram (min_df 1): a rare word is what makes two records alike
    search = corpus.fit(usable, 1, params.max_features)
    predictions = _records(frame, params, unlabeled).drop(
        columns=[params.label_column] if params.label_column else [], errors="ignore"
    )
    predictions["language"] = languages.to_numpy()[unlabeled]
    if model is not None:
        X_new = corpus.matrix(vectorizer, unlabeled)
        predicted, confidence = _predict(model, X_new, classes, temperature)
        predictions["predicted"] = predicted.astype(str) if len(predicted) else []
        predictions["confidence"] = confidence
        predictions = predictions.sort_values(
            ["confidence", "row"], ascending=[False, True], kind="stable"
        ).reset_index(drop=True)
    return TextResult(
        params=params,
        table=name,
        column=params.text_column,
        label_column=params.label_column,
        n_records=len(frame),
        n_empty=n_empty,
        n_labelled=int(len(usable) - len(unlabeled)) if labels is not None else 0,
        classes=classes,
        metrics=metrics,
        report=report,
        confusion=confusion,
        predictions=predictions,
        keywords=keywords,
        languages=lang_table.reset_index(drop=True),
        record_languages=languages,
        confidence_method=method,
        temperature=temperature,
        vectorizer=vectorizer,
        model=model,
        index=TextIndex(
            search, corpus.matrix(search, usable).tocsc(), _records(frame, params, usable)
        ),
        notes=notes,
    )


def build_index(texts: Sequence[Any], params: TextParams | None = None) -> TextIndex:
    """A similarity index over ``texts`` alone (no labels), vectorised as :func:`run_text` does."""
    params = params or TextParams(text_column="text", label_column=None)
    frame = pd.DataFrame({params.text_column: list(texts)})
    return run_text(frame, params).index


def similar(source: TextResult | TextIndex, query: str, k: int = 10) -> pd.DataFrame:
    """The ``k`` records closest to ``query`` by cosine similarity (ties: earlier row first).

    Only records sharing at least one n-gram with the query (similarity above zero) are listed.
    """
    index = source.index if isinstance(source, TextResult) else source
    columns = ["similarity", *index.records.columns]
    if not normalize_text(query) or k < 1:
        return pd.DataFrame(columns=columns)
    vector = index.vectorizer.transform([query])
    scores = (vector @ index.matrix.T).toarray().ravel()  # CSR (1 x F) @ CSR (F x N)
    candidates = np.flatnonzero(scores > 1e-12)
    if len(candidates) > k:
        cut = np.partition(scores[candidates], len(candidates) - k)[len(candidates) - k]
        candidates = candidates[scores[candidates] >= cut]
    order = candidates[np.lexsort((candidates, -scores[candidates]))][:k]
    out = index.records.iloc[order].reset_index(drop=True)
    out.insert(0, "similarity", scores[order])
    return out


# ---------------------------------------------------------------------------------------------
# Topics
# ---------------------------------------------------------------------------------------------


def topics(
    texts: Sequence[Any], n_topics: int = 8, seed: int = 42, language: str = "auto"
) -> TopicResult:
    """NMF topics of ``texts`` on word TF-IDF: top words per topic and each text's topic."""
    if not 2 <= n_topics <= MAX_TOPICS:
        raise _bad("n_topics", n_topics, f"2-{MAX_TOPICS}")
    normal = [normalize_text(x) for x in texts]
    tokens = tokenize_many(normal, language if language != "chars" else "auto")
    tokens = [[w for w in doc if w not in STOP_WORDS and not w.isdigit()] for doc in tokens]
    if not any(tokens):  # no word tokens anywhere: character bigrams stand in for words
        tokens = [
            [x[i : i + 2] for i in range(len(x) - 1) if " " not in x[i : i + 2]] for x in normal
        ]
    if not any(tokens):
        raise DataRequirementError(
            "text.error.all_empty", hint="text.hint.fill_texts", column="text"
        )
    alphabet = pd.Index(sorted({w for doc in tokens for w in doc}), dtype="object")
    symbols, docs = _word_symbols(tokens, alphabet)
    counts = _ngram_counts(symbols, docs, len(tokens), len(alphabet), (1, 1))[0]
    min_df = 2 if len(texts) >= 50 else 1
    cols, idf = _select(counts, min_df, 20_000)
    df_share = np.bincount(counts.indices, minlength=counts.shape[1])[cols] / max(len(texts), 1)
    cols, idf = cols[df_share <= 0.5], idf[df_share <= 0.5]
    if len(cols) < n_topics:
        raise DataRequirementError(
            "text.error.too_few_words",
            hint="text.hint.more_texts",
            words=len(cols),
            topics=n_topics,
        )
    X = _tfidf(counts[:, cols], idf)
    nmf = NMF(n_components=n_topics, init="nndsvda", random_state=seed, max_iter=400)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        W = nmf.fit_transform(X)
    H = nmf.components_
    has = np.asarray(X.sum(axis=1)).ravel() > 0
    assignment = np.where(has, W.argmax(axis=1), -1)
    words = alphabet[cols]
    rows = []
    for topic in range(n_topics):
        top = np.lexsort((np.arange(H.shape[1]), -H[topic]))[:TOPIC_WORDS]
        top = top[H[topic, top] > 0]
        rows.append(
            {
                "topic": topic + 1,
                "words": ", ".join(str(words[i]) for i in top),
                "weight": float(W[:, topic].sum()),
                "records": int((assignment == topic).sum()),
            }
        )
    table = pd.DataFrame(rows)
    return TopicResult(topics=table, assignment=np.where(assignment >= 0, assignment + 1, -1))


# ---------------------------------------------------------------------------------------------
# Per-customer features
# ---------------------------------------------------------------------------------------------

_SENTIMENT_WORDS = {
    "positive": 1.0,
    "pos": 1.0,
    "正面": 1.0,
    "积极": 1.0,
    "好评": 1.0,
    "neutral": 0.0,
    "中性": 0.0,
    "中评": 0.0,
    "negative": -1.0,
    "neg": -1.0,
    "负面": -1.0,
    "消极": -1.0,
    "差评": -1.0,
}


def _slug(text: str) -> str:
    slug = re.sub(r"[^\w]+", "_", str(text).strip().lower()).strip("_")
    return slug or "blank"


def _sentiment_values(values: pd.Series) -> pd.Series:
    """Numbers as they are; positive/neutral/negative words (en, zh) as +1 / 0 / −1."""
    numbers = pd.to_numeric(values, errors="coerce")
    words = values.astype("object").map(lambda v: _SENTIMENT_WORDS.get(str(v).strip().lower()))
    return numbers.fillna(pd.to_numeric(words, errors="coerce"))


def _latest(frame: pd.DataFrame, values: pd.Series) -> pd.Series:
    """Per customer, the value of the latest dated row (the last row when there is no date)."""
    keep = values.notna() & frame["customer_id"].notna()
    part = pd.DataFrame(
        {
            "customer_id": frame["customer_id"].astype("str"),
            "value": values,
            "n": np.arange(len(frame)),
        }
    )[keep.to_numpy()]
    if "date" in frame.columns:
        part["date"] = pd.to_datetime(frame["date"], errors="coerce")[keep.to_numpy()]
        part = part.sort_values(["date", "n"], na_position="first", kind="stable")
    return part.groupby("customer_id")["value"].last()


def customer_text_features(
    dataset: Dataset, result: TextResult | None = None, table: str = "communications"
) -> pd.DataFrame:
    """Per customer: records per category and the latest sentiment, for churn and satisfaction.

    ``text_<category>`` counts records of ``table`` per category (the ``category`` column; rows
    without one take ``result``'s prediction when ``result`` was run on that table), and
    ``text_total`` all records. ``latest_sentiment`` is the value of the customer's latest record
    with a sentiment: a ``sentiment`` column of communications, else of feedback (numbers, or
    positive / neutral / negative as +1 / 0 / −1), else the latest feedback ``score``; its source
    is in ``attrs["sentiment_source"]``. Customers without any record are absent.
    """
    frame = dataset.get(table)
    parts: list[pd.Series | pd.DataFrame] = []
    if frame is not None and len(frame) and "customer_id" in frame.columns:
        ids = frame["customer_id"]
        category = (
            frame["category"].astype("object").where(frame["category"].notna(), "")
            if "category" in frame.columns
            else pd.Series("", index=frame.index, dtype="object")
        )
        category = category.map(lambda v: str(v).strip()).to_numpy(dtype=object)
        predicted = result is not None and result.table == table and result.model is not None
        if predicted and len(result.predictions):
            rows = result.predictions["row"].to_numpy()
            fill = category[rows] == ""
            category[rows[fill]] = result.predictions["predicted"].to_numpy()[fill]
        keep = ids.notna().to_numpy()
        names = np.array([f"text_{_slug(c)}" if c else "text_uncategorised" for c in category])
        counts = pd.crosstab(ids.astype("str").to_numpy()[keep], names[keep]).astype("int64")
        counts = counts.T.groupby(level=0).sum().T
        counts = counts[sorted(counts.columns)]
        counts["text_total"] = counts.sum(axis=1)
        parts.append(counts)
    source = None
    for name, column in (
        ("communications", "sentiment"),
        ("feedback", "sentiment"),
        ("feedback", "score"),
    ):
        other = dataset.get(name)
        if other is None or column not in other.columns or "customer_id" not in other.columns:
            continue
        values = (
            _sentiment_values(other[column])
            if column == "sentiment"
            else pd.to_numeric(other[column], errors="coerce")
        )
        if values.notna().any():
            parts.append(_latest(other, values).rename("latest_sentiment"))
            source = f"{name}.{column}"
            break
    if not parts:
        out = pd.DataFrame(index=pd.Index([], dtype="str", name="customer_id"))
    else:
        out = pd.concat(parts, axis=1)
        out.index = pd.Index(out.index.astype("str"), name="customer_id")
        count_columns = [c for c in out.columns if c != "latest_sentiment"]
        out[count_columns] = out[count_columns].fillna(0).astype("int64")
        out = out.sort_index()
    out.attrs["sentiment_source"] = source
    return out


def text_payload(result: TextResult, lang: str = "en") -> dict[str, Any]:
    """A JSON-friendly summary for the CLI: metrics, per-category report, keywords, notes."""

    def number(value: Any) -> Any:
        value = value.item() if hasattr(value, "item") else value
        return None if isinstance(value, float) and math.isnan(value) else value

    keywords = {
        str(c): group["term"].tolist()
        for c, group in result.keywords.groupby("category", sort=True)
    }
    return {
        "table": result.table,
        "text_column": result.column,
        "label_column": result.label_column,
        "model": result.params.model,
        "params": {
            "word_ngrams": list(result.params.word_ngrams),
            "char_ngrams": list(result.params.char_ngrams),
            "min_df": result.params.min_df,
            "max_features": result.params.max_features,
            "C": result.params.C,
            "test_size": result.params.test_size,
            "seed": result.params.seed,
            "language": result.params.language,
        },
        "records": result.n_records,
        "empty_texts": result.n_empty,
        "labelled": result.n_labelled,
        "unlabeled": result.n_unlabeled,
        "categories": result.classes,
        "metrics": {k: number(v) for k, v in result.metrics.items()},
        "report": [
            {k: number(v) for k, v in row.items()} for row in result.report.to_dict("records")
        ],
        "confusion": {
            "labels": result.classes,
            "matrix": result.confusion.to_numpy().tolist() if len(result.confusion) else [],
        },
        "confidence": result.confidence_method,
        "temperature": result.temperature,
        "languages": {
            str(r["language"]): int(r["records"]) for r in result.languages.to_dict("records")
        },
        "features": result.vectorizer.n_features,
        "keywords": keywords,
        "notes": [note.text(lang) for note in result.notes],
    }
