"""The house rules, checked: ruff's lint (pyproject.toml), the core's subjects in their order and
free of Streamlit, functions that read in one sitting, pages that are layout only."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# bnviz's packages in the order of bnviz/__init__.py: each may import those before it only.
ORDER = ("errors", "server", "data", "smoothing", "optimization", "tuning", "batchnorm", "training", "cluster")
MAX_FUNCTION_LINES = 60
MAX_PAGE_LINES = 70


def python_files(*roots: str) -> list[Path]:
    return sorted(p for root in roots for p in (ROOT / root).rglob("*.py"))


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at its top or inside a function (absolute names)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def subject(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "bnviz" and len(parts) > 1 else None


def test_ruff_finds_nothing():
    found = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format=concise", "."],
                           cwd=ROOT, capture_output=True, text=True)
    assert found.returncode == 0, found.stdout + found.stderr


def test_the_core_never_imports_streamlit_and_each_subject_only_those_before_it():
    for path in python_files("bnviz"):
        if "ui" in path.relative_to(ROOT / "bnviz").parts:
            continue
        own = path.relative_to(ROOT / "bnviz").parts[0].removesuffix(".py")
        for module in imported(path):
            assert not module.startswith(("streamlit", "altair", "bnviz.ui")), (path, module)
            other = subject(module)
            if other in ORDER and own in ORDER:
                assert ORDER.index(other) <= ORDER.index(own), f"{path.relative_to(ROOT)} imports {module}"


def long_functions(paths) -> list[str]:
    found = []
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_function_outside_the_tests_is_longer_than_a_screen():
    assert long_functions(python_files("bnviz", "bench", "harness", "scripts", "pages") + [ROOT / "app.py"]) == []


def test_the_length_check_sees_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    (tmp_path / "long.py").write_text(f"def long():\n{body}\n", encoding="utf-8")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys.modules[__name__], "ROOT", tmp_path)
        assert long_functions([tmp_path / "long.py"]) == [f"long.py:1 long ({MAX_FUNCTION_LINES + 1} lines)"]


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "pages").glob("*.py")))
def test_a_page_is_a_plain_script_of_layout(page):
    """Like Streamlit's hello demo: short, no function of its own, widgets and sections only."""
    text = (ROOT / "pages" / page).read_text(encoding="utf-8")
    assert len(text.splitlines()) <= MAX_PAGE_LINES
    tree = ast.parse(text)
    assert not [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]


def test_the_benchmarks_use_the_shared_harness_not_the_tests():
    for path in python_files("bench", "harness"):
        assert not [m for m in imported(path) if m.split(".")[0] == "tests"], path
