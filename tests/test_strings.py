"""Every string exists in both languages, with the same placeholders, and every key the code uses exists."""

import re
import string
from pathlib import Path

import pytest

from bnviz.ui.strings import STRINGS

ROOT = Path(__file__).resolve().parents[1]


def base_keys(table) -> set:
    """Every key but the singular forms (``<key>_singular``), which a language without plurals lacks."""
    return {k for k in table if not k.endswith("_singular")}


def placeholders(text):
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_same_keys_in_every_language():
    en = base_keys(STRINGS["en"])
    for lang, table in STRINGS.items():
        assert base_keys(table) == en, f"{lang}: missing {en - set(table)}, extra {base_keys(table) - en}"
        for key in set(table) - base_keys(table):  # a singular form has its sentence's placeholders
            assert key.removesuffix("_singular") in table, key
            assert placeholders(table[key]) <= placeholders(table[key.removesuffix("_singular")]), key


def test_a_count_of_one_takes_the_singular_where_the_language_has_one(monkeypatch):
    from bnviz.ui import i18n

    for lang, one, many in (("en", "1 value is not", "2 values are not"), ("zh", "有 1 个值", "有 2 个值")):
        monkeypatch.setattr(i18n, "current_language", lambda lang=lang: lang)
        assert i18n.t("note_non_finite", n=1).startswith(one)
        assert i18n.t("note_non_finite", n=2).startswith(many)
        assert "1 trainings" not in i18n.t("err_job_cap", active=1, cap=1)
        assert i18n.joined("A.", "B.") == ("A. B." if lang == "en" else "A.B.")


SEPARATORS = {"sentence_sep"}  # what goes between sentences: a space, or nothing in Chinese


@pytest.mark.parametrize("key", sorted(base_keys(STRINGS["en"])))
def test_same_placeholders(key):
    assert placeholders(STRINGS["zh"][key]) == placeholders(STRINGS["en"][key])
    assert key in SEPARATORS or (STRINGS["zh"][key].strip() and STRINGS["en"][key].strip())


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
