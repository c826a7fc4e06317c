"""SAFETY 44: the shipped Streamlit configuration is the production-safe one."""

from __future__ import annotations

import tomllib
from pathlib import Path

CONFIG = Path(__file__).resolve().parents[1] / ".streamlit" / "config.toml"


def test_streamlit_config_is_production_safe() -> None:
    config = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    assert config["server"]["enableXsrfProtection"] is True
    assert config["server"]["enableCORS"] is True
    assert 0 < config["server"]["maxUploadSize"] < 200
    assert config["client"]["showErrorDetails"] == "none"
    assert config["client"]["toolbarMode"] == "viewer"
    assert config["browser"]["gatherUsageStats"] is False


def test_no_page_or_core_module_renders_raw_html() -> None:
    root = CONFIG.parents[1]
    sources = [*root.glob("pages/*.py"), root / "app.py", *root.glob("crm_core/**/*.py")]
    offenders = [p.name for p in sources if "unsafe_allow_html=True" in p.read_text("utf-8")]
    assert offenders == []


def test_core_never_imports_streamlit() -> None:
    root = CONFIG.parents[1] / "crm_core"
    offenders = [
        p.name
        for p in root.glob("**/*.py")
        if any(
            line.strip().startswith(("import streamlit", "from streamlit"))
            for line in p.read_text("utf-8").splitlines()
        )
    ]
    assert offenders == []


def test_every_streamlit_cache_is_bounded() -> None:
    """SAFETY 37: caches cannot grow without limit (max_entries on every cache decorator)."""
    import re

    root = CONFIG.parents[1]
    sources = [*root.glob("pages/*.py"), root / "app.py"]
    decorators = [
        match.group(0)
        for path in sources
        for match in re.finditer(r"@st\.cache_(data|resource)\(([^)]*)\)", path.read_text("utf-8"))
    ]
    assert decorators
    assert [d for d in decorators if "max_entries" not in d] == []
