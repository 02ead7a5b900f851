"""Every user-visible string, one file per language (``en.py``, ``zh.py``) with the same keys.

Formulas are LaTeX and live in the core. Placeholders use ``str.format`` names; both languages
must use the same ones (tested in ``tests/test_strings.py``).
"""

from bnviz.ui.strings import en, zh

LANGUAGES = {"en": "English", "zh": "简体中文"}
STRINGS = {"en": en.STRINGS, "zh": zh.STRINGS}
