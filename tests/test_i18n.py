"""Catalogs: every key in both languages, with the same placeholders."""

from __future__ import annotations

import string

from crm_core.i18n import LANGUAGES, catalog, t


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_key_exists_in_every_language() -> None:
    keys = {lang: set(catalog(lang)) for lang in LANGUAGES}
    assert keys["en"] - keys["zh"] == set(), "keys missing in zh"
    assert keys["zh"] - keys["en"] == set(), "keys missing in en"


def test_placeholders_match_between_languages() -> None:
    en, zh = catalog("en"), catalog("zh")
    mismatched = [k for k in en if _placeholders(en[k]) != _placeholders(zh.get(k, ""))]
    assert mismatched == []


def test_chinese_texts_are_actually_chinese() -> None:
    zh = catalog("zh")
    english_only = [
        k for k, v in zh.items() if v and v == catalog("en")[k] and any(c.isalpha() for c in v)
    ]
    assert english_only == []


def test_translation_falls_back_and_formats() -> None:
    assert t("store.dataset_not_found", "zh", name="x") == "工作区中没有名为“x”的数据集。"
    assert t("no.such.key", "zh") == "no.such.key"
    assert t("store.dataset_not_found", "fr", name="x").startswith("There is no dataset")
