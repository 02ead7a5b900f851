"""Every string exists in both languages, with the same placeholders, and every key the code uses exists."""

import re
import string
from pathlib import Path

import pytest

from bnviz.ui.strings import STRINGS

ROOT = Path(__file__).resolve().parents[1]


def placeholders(text):
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_same_keys_in_every_language():
    en = set(STRINGS["en"])
    for lang, table in STRINGS.items():
        assert set(table) == en, f"{lang}: missing {en - set(table)}, extra {set(table) - en}"


@pytest.mark.parametrize("key", sorted(STRINGS["en"]))
def test_same_placeholders(key):
    assert placeholders(STRINGS["zh"][key]) == placeholders(STRINGS["en"][key])
    assert STRINGS["zh"][key].strip() and STRINGS["en"][key].strip()


def test_every_literal_key_used_in_code_exists():
    used = set()
    for path in list((ROOT / "pages").glob("*.py")) + list((ROOT / "bnviz").rglob("*.py")) + [ROOT / "app.py"]:
        used |= set(re.findall(r"\bt\(\s*\"([a-z0-9_]+)\"", path.read_text(encoding="utf-8")))
    assert used, "no keys found: the scan is broken"
    assert used <= set(STRINGS["en"]), used - set(STRINGS["en"])


def test_error_keys_cover_series_errors():
    src = (ROOT / "bnviz" / "data" / "series.py").read_text(encoding="utf-8")
    keys = set(re.findall(r"SeriesError\(\s*\"([a-z_]+)\"", src))
    assert keys and {f"err_{k}" for k in keys} <= set(STRINGS["en"])
