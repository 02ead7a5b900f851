"""The typed-surface parser: values and gradients against torch, and hostile input (hypothesis)."""

import ast
import builtins
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bnviz.optimization import typed_surfaces

CASES = [
    ("x**2 + 3*sin(y)", lambda x, y: x ** 2 + 3 * torch.sin(y)),
    ("exp(-(x^2 + y^2)) * cos(x*y)", lambda x, y: torch.exp(-(x ** 2 + y ** 2)) * torch.cos(x * y)),
    ("sqrt(x*x + y*y + 1) - log(2 + tanh(x))",
     lambda x, y: torch.sqrt(x * x + y * y + 1) - torch.log(2 + torch.tanh(x))),
    ("abs(x) / (1 + y**2) + tan(0.1*y) - pi*e",
     lambda x, y: torch.abs(x) / (1 + y ** 2) + torch.tan(0.1 * y) - math.pi * math.e),
    ("-x ** -2 + +y", lambda x, y: -x ** -2 + y),
    ("7", lambda x, y: 7 + 0 * x),
    ("y", lambda x, y: y + 0 * x),
]


@pytest.mark.parametrize("text, ref", CASES)
def test_value_and_gradient_match_torch(text, ref):
    s = typed_surfaces.surface(text)
    rng = np.random.default_rng(1)
    xs, ys = rng.uniform(0.5, 2.5, 50), rng.uniform(-2, 2, 50)
    xt = torch.tensor(xs, requires_grad=True, dtype=torch.float64)
    yt = torch.tensor(ys, requires_grad=True, dtype=torch.float64)
    z = ref(xt, yt)
    gx, gy = torch.autograd.grad(z.sum(), (xt, yt), allow_unused=True)
    np.testing.assert_allclose(s.f(xs, ys), z.detach().numpy(), rtol=1e-12)
    ours = s.grad(xs, ys)
    np.testing.assert_allclose(ours[0], 0 if gx is None else gx.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ours[1], 0 if gy is None else gy.numpy(), rtol=1e-12, atol=1e-15)
    assert isinstance(s.f(1.0, 1.0), float) and isinstance(s.grad(1.0, 1.0)[0], float)


@pytest.mark.parametrize("text, key", [
    ("", "expr_empty"), ("x" * 201, "expr_too_long"), ("x +", "expr_syntax"), ("x y", "expr_syntax"),
    ("__import__('os').system('id')", "expr_node"), ("__import__('os')", "expr_call"), ("x.real", "expr_node"),
    ("x[0]", "expr_node"),
    ("foo(x)", "expr_call"), ("sin(x, y)", "expr_args"), ("sin(x=1)", "expr_args"), ("z + 1", "expr_name"),
    ("x ** y", "expr_power"), ("x ** 100", "expr_power"), ("1e400 * x", "expr_number"), ("1e7 * x", "expr_number"),
    ("lambda: 1", "expr_node"), ("x if y else 1", "expr_node"), ("[x, y]", "expr_node"), ("'a' + x", "expr_node"),
    ("x < y", "expr_node"), ("(x := 1)", "expr_node"), ("True + x", "expr_node"), ("1j * x", "expr_node"),
    ("-(" * 40 + "x" + ")" * 40, "expr_too_complex"), ("+".join(["x"] * 99), "expr_too_complex"),
    ("log(-1 - x**2)", "expr_nonfinite"), ("\x00", "expr_syntax"), ("sin.__class__", "expr_node"),
])
def test_rejected_with_a_reason(text, key):
    with pytest.raises(typed_surfaces.ExprError) as err:
        typed_surfaces.surface(text)
    assert err.value.key == key


@pytest.mark.parametrize("text, typed", [
    ("x % 2", "%"), ("x // 2", "//"), ("x @ y", "@"), ("x | y", "|"), ("not x", "not"), ("~x", "~"),
    ("x and y", "and"), ("x < y", "<"), ("x == y", "=="), ("x if y else 1", "if … else"), ("lambda: 1", "lambda"),
    ("x.real", "."), ("sin.__class__", "."), ("x.sin()", "."), ("x[0]", "[ ]"), ("[x, y]", "[ ]"), ("x, y", ","),
    ("{x}", "{ }"), ("(x := 1)", ":="), ("'a' + x", "'a'"), ("True + x", "True"), ("1j * x", "1j"),
    ("(v for v in x)", "for"),
])
def test_a_refused_part_is_named_as_it_was_typed(text, typed):
    """Never Python's own node names ("BinOp", "IfExp"): the operator, keyword or value typed."""
    with pytest.raises(typed_surfaces.ExprError) as err:
        typed_surfaces.surface(text)
    assert err.value.key == "expr_node" and err.value.params["what"] == typed


HOSTILE = st.one_of(
    st.text(max_size=250),
    st.text(alphabet="xy0123456789.+-*/()^ eE,sincotaxplgqrbh_[]'\"=:<>!", max_size=120),
    st.sampled_from(["__import__('os').system('touch /tmp/bnviz_pwned')", "open('/etc/passwd').read()",
                     "().__class__.__bases__[0].__subclasses__()", "exec('1')", "eval('x')",
                     "globals()", "x.__class__", "(lambda: 0)()", "sin(*[x])", "sin(**{})"]),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(HOSTILE)
def test_no_exception_escapes_and_nothing_runs(monkeypatch_text):
    # eval/exec/open are never reached, and compile only parses (ast.parse's PyCF_ONLY_AST):
    # if the parser did anything else, the replacements below would raise.
    guarded = {name: getattr(builtins, name) for name in ("eval", "exec", "compile", "open")}
    real_compile = guarded["compile"]

    def parse_only(source, filename, mode, flags=0, *a, **k):
        assert flags & ast.PyCF_ONLY_AST, "compile was asked for code, not a tree"
        return real_compile(source, filename, mode, flags, *a, **k)

    try:
        for name in ("eval", "exec", "open"):
            setattr(builtins, name, _forbidden(name))
        builtins.compile = parse_only
        try:
            s = typed_surfaces.surface(monkeypatch_text)
        except typed_surfaces.ExprError:
            return
        with np.errstate(all="ignore"):
            s.f(np.array([0.5, 1.5]), np.array([1.0, -1.0]))
            s.grad(0.5, 1.0)
    finally:
        for name, fn in guarded.items():
            setattr(builtins, name, fn)
    assert not Path("/tmp/bnviz_pwned").exists()


def _forbidden(name):
    def fn(*a, **k):
        raise AssertionError(f"{name} was called")
    return fn


def _expression(depth=0):
    leaf = st.sampled_from(["x", "y", "pi", "e", "2", "0.5", "3"])
    if depth > 3:
        return leaf
    sub = st.deferred(lambda: _expression(depth + 1))
    return st.one_of(
        leaf,
        st.builds(lambda a, op, b: f"({a}{op}{b})", sub, st.sampled_from(["+", "-", "*", "/"]), sub),
        st.builds(lambda f, a: f"{f}({a})", st.sampled_from(typed_surfaces.FUNCTIONS), sub),
        st.builds(lambda a, k: f"({a})**{k}", sub, st.integers(-3, 3)),
        st.builds(lambda a: f"-{a}", sub),
    )


@settings(max_examples=200, deadline=None)
@given(_expression())
def test_every_grammar_expression_is_accepted_or_cleanly_rejected(text):
    try:
        s = typed_surfaces.surface(text)
    except typed_surfaces.ExprError as err:
        assert err.key in ("expr_nonfinite", "expr_too_complex", "expr_too_long")
        return
    with np.errstate(all="ignore"):
        gx, gy = s.grad(np.array([0.3, -1.2]), np.array([0.7, 2.0]))
    assert gx.shape == (2,) and gy.shape == (2,)


@pytest.mark.parametrize("typed, meant", [
    # the typography of mathematics
    ("x² + 3y²", "x**2 + 3*y**2"), ("x⁻¹ + y", "x**-1 + y"), ("(x − 1)² + 10(y − x²)²", "(x-1)**2 + 10*(y-x**2)**2"),
    ("2x·y − x÷3", "2*x*y - x/3"), ("x × y", "x*y"), ("√(x² + y²) + π", "sqrt(x**2 + y**2) + pi"),
    ("√x·y", "sqrt(x)*y"), ("e^(−x² − y²)", "exp(-x**2 - y**2)"), ("e^x", "exp(x)"), ("ln(1 + x²)", "log(1 + x**2)"),
    # what other keyboards and programs write
    ("x^2/4 + y^2", "x**2/4 + y**2"), ("ｘ＾２＋ｙ＾２", "x**2 + y**2"), ("2 sin(x)cos(y)", "2*sin(x)*cos(y)"),
    ("0.5x² + 2e-3y", "0.5*x**2 + 0.002*y"), ("(x+1)(y−1)", "(x+1)*(y-1)"), ("x(y + 1)", "x*(y + 1)"),
])
def test_formulas_typed_as_on_paper_mean_what_they_say(typed, meant):
    """Each is the same surface as the plain Python it stands for, value for value."""
    x, y = np.meshgrid(np.linspace(0.3, 2.0, 7), np.linspace(-1.5, 1.5, 7))
    ours, ref = typed_surfaces.surface(typed), typed_surfaces.surface(meant)
    np.testing.assert_allclose(ours.f(x, y), ref.f(x, y), rtol=1e-12)


@pytest.mark.parametrize("typed, shown", [("x² + 3y²", "x^{2} + 3 \\cdot y^{2}"), ("π·x", "\\pi"),
                                          ("e^(−x²)", "exp(-x^{2})")])
def test_the_page_shows_the_formula_it_read(typed, shown):
    assert shown in typed_surfaces.latex(typed)
