"""Documentation that must not drift from the code."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from leadtrail.config import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented() -> None:
    doc = (ROOT / "docs" / "settings.md").read_text()
    missing = [name for name in Settings.model_fields if f"`LEADTRAIL_{name.upper()}`" not in doc]
    assert missing == []


def test_every_error_code_is_documented() -> None:
    doc = (ROOT / "docs" / "errors.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", doc, re.MULTILINE))
    used: set[str] = set()
    for path in (ROOT / "src" / "leadtrail").rglob("*.py"):
        text = path.read_text()
        used |= set(re.findall(r'\bcode="([a-z_]+)"', text))
        used |= set(re.findall(r'default_code = "([a-z_]+)"', text))
        used |= set(re.findall(r'\{"error": "([a-z_]+)"', text))
    assert sorted(used - documented) == []


def test_cli_reference_is_current() -> None:
    spec = importlib.util.spec_from_file_location("cli_docs", ROOT / "scripts" / "cli_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (ROOT / "docs" / "cli.md").read_text() == module.render(), (
        "docs/cli.md is stale: python scripts/cli_docs.py > docs/cli.md"
    )
