"""Translations: ``t(key, lang, **params)`` over merged JSON catalogs.

Each feature owns one JSON file per language under ``locales/<lang>/``; files are merged at first
use so parallel work never edits the same catalog file. A key defined twice is a bug and raises.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

LANGUAGES: dict[str, str] = {"en": "English", "zh": "简体中文"}
DEFAULT_LANG = "en"
_LOCALES = Path(__file__).parent / "locales"


@cache
def catalog(lang: str) -> dict[str, str]:
    """All keys of one language, merged from its JSON files."""
    merged: dict[str, str] = {}
    for path in sorted((_LOCALES / lang).glob("*.json")):
        entries = json.loads(path.read_text(encoding="utf-8"))
        clash = merged.keys() & entries.keys()
        if clash:
            raise ValueError(f"duplicate i18n keys in {path.name}: {sorted(clash)[:5]}")
        merged.update(entries)
    return merged


def t(key: str, lang: str = DEFAULT_LANG, **params: Any) -> str:
    """Translate ``key``; missing keys fall back to English, then to the key itself."""
    text = catalog(lang if lang in LANGUAGES else DEFAULT_LANG).get(key)
    if text is None:
        text = catalog(DEFAULT_LANG).get(key, key)
    if params:
        try:
            return text.format(**params)
        except (KeyError, IndexError, ValueError):
            return text
    return text


def has_key(key: str) -> bool:
    """Whether ``key`` exists in every language."""
    return all(key in catalog(lang) for lang in LANGUAGES)
