"""Typed loss surfaces: a whitelisted subset of Python expressions in x and y, built from torch ops.

The text is parsed with :mod:`ast` (never ``eval``); only these nodes are accepted:
numbers, the names ``x y pi e``, ``+ - * / **`` with a numeric exponent, unary ``-``/``+``, and
calls of ``sin cos tan exp log sqrt abs tanh`` with one argument. The tree is compiled into
nested Python closures over torch functions, so gradients are exact (autograd), not finite
differences. Problems raise :class:`ExprError` with a message key for the UI.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import unicodedata

import numpy as np

from bnviz.errors import KeyedError
from bnviz.optimization.surfaces import Surface
from bnviz.server import pysource

MAX_LENGTH = 200
MAX_NODES = 120
MAX_DEPTH = 24
MAX_NUMBER = 1e6
MAX_EXPONENT = 10
FUNCTIONS = ("sin", "cos", "tan", "exp", "log", "sqrt", "abs", "tanh")
CONSTANTS = {"pi": math.pi, "e": math.e}
VARIABLES = ("x", "y")
_BINOPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
# What a refused part of a formula looks like as the person typed it (never Python's node names).
_TYPED_OPS = {ast.Mod: "%", ast.FloorDiv: "//", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
              ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&", ast.Not: "not", ast.Invert: "~",
              ast.And: "and", ast.Or: "or", ast.Lt: "<", ast.Gt: ">", ast.LtE: "<=", ast.GtE: ">=",
              ast.Eq: "==", ast.NotEq: "!=", ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
_TYPED_NODES = {ast.IfExp: "if … else", ast.Lambda: "lambda", ast.Attribute: ".", ast.Subscript: "[ ]",
                ast.List: "[ ]", ast.Tuple: ",", ast.Dict: "{ }", ast.Set: "{ }", ast.NamedExpr: ":=",
                ast.Starred: "*", ast.JoinedStr: "f\"…\"", ast.ListComp: "for", ast.SetComp: "for",
                ast.DictComp: "for", ast.GeneratorExp: "for", ast.Await: "await", ast.Yield: "yield",
                ast.YieldFrom: "yield"}


class ExprError(KeyedError, ValueError):
    """A user-facing problem with a typed expression: ``key`` names the message, ``params`` fill it."""


def _number(node) -> float | None:
    """The value of a (possibly signed) numeric constant node, else None."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _number(node.operand)
        if inner is not None:
            return -inner if isinstance(node.op, ast.USub) else inner
    return None


def _typed(node) -> str:
    """The refused part of a formula in the words it was typed in: its operator (``%``, ``<``,
    ``and``), its keyword (``lambda``, ``if … else``), its bracket or dot, or the value itself."""
    op = getattr(node, "op", None) or (node.ops[0] if isinstance(node, ast.Compare) else None)
    if type(op) in _TYPED_OPS:
        return _TYPED_OPS[type(op)]
    if type(node) in _TYPED_NODES:
        return _TYPED_NODES[type(node)]
    if isinstance(node, ast.Constant):
        return repr(node.value)[:20]  # 'text', True, None, 1j
    return "…"


def _compile(node, depth: int, count: list):
    """Check one node against the whitelist and return a function env -> tensor."""
    count[0] += 1
    if count[0] > MAX_NODES or depth > MAX_DEPTH:
        raise ExprError("expr_too_complex", nodes=MAX_NODES, depth=MAX_DEPTH)
    import torch

    if isinstance(node, ast.Constant):
        if type(node.value) not in (int, float):
            raise ExprError("expr_node", what=_typed(node))
        value = float(node.value)
        if not math.isfinite(value) or abs(value) > MAX_NUMBER:
            raise ExprError("expr_number", max=MAX_NUMBER)
        tensor = torch.tensor(value, dtype=torch.float64)  # so 1/0 is inf, as for x/0
        return lambda env: tensor
    if isinstance(node, ast.Name):
        if node.id in VARIABLES:
            name = node.id
            return lambda env: env[name]
        if node.id in CONSTANTS:
            tensor = torch.tensor(CONSTANTS[node.id], dtype=torch.float64)
            return lambda env: tensor
        raise ExprError("expr_name", name=node.id[:20])
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _compile(node.operand, depth + 1, count)
        return (lambda env: -inner(env)) if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        op = _BINOPS[type(node.op)]
        left, right = _compile(node.left, depth + 1, count), _compile(node.right, depth + 1, count)
        return lambda env: op(left(env), right(env))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        exponent = _number(node.right)
        if exponent is None or abs(exponent) > MAX_EXPONENT:
            raise ExprError("expr_power", max=MAX_EXPONENT)
        base = _compile(node.left, depth + 1, count)
        if exponent == int(exponent):  # integer powers are defined for negative bases
            k = int(exponent)
            return lambda env: torch.as_tensor(base(env), dtype=torch.float64) ** k
        return lambda env: torch.as_tensor(base(env), dtype=torch.float64) ** exponent
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            if not isinstance(node.func, ast.Name):  # x.sin(), (lambda: 0)(): the part before the call
                raise ExprError("expr_node", what=_typed(node.func))
            raise ExprError("expr_call", name=node.func.id[:20], functions=", ".join(FUNCTIONS))
        if len(node.args) != 1 or node.keywords:
            raise ExprError("expr_args", name=node.func.id)
        fn = getattr(torch, node.func.id)
        arg = _compile(node.args[0], depth + 1, count)
        return lambda env: fn(torch.as_tensor(arg(env), dtype=torch.float64))
    raise ExprError("expr_node", what=_typed(node))


# The typography of mathematics and of other keyboards, as Python writes it.
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺·", "0123456789-+.")
_SUPERSCRIPT_RUN = re.compile(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+(?:·[⁰¹²³⁴⁵⁶⁷⁸⁹]+)?")
_SIGNS = str.maketrans({"×": "*", "·": "*", "⋅": "*", "∙": "*", "✕": "*", "÷": "/", "∕": "/", "−": "-", "–": "-",
                        "—": "-", "‐": "-", "‑": "-", "π": "pi", "Π": "pi", "ℯ": "e"})
_ROOT = re.compile(r"√\s*(\(|[A-Za-z_]\w*|\d+(?:\.\d+)?)")
# Multiplication people leave out: 2x, 3(x + 1), (x + 1)(y − 1), 2 sin(x), x(y + 1) — never 1e3.
_NUMBER_THEN = re.compile(r"(?<![\w.])(\d+(?:\.\d*)?|\.\d+)\s*(?=[A-Za-z(])(?![eE][+-]?\d)(?![jJ]\b)")
_CLOSE_THEN = re.compile(r"\)\s*(?=[\w(])")
_NAME_THEN = re.compile(r"\b(x|y|pi|e)\s*(?=\()")
_E_POWER = re.compile(r"\be\s*\*\*\s*")  # eˣ, e^(−x²): the exponential


def normalise(text: str) -> str:
    """``text`` as Python writes it: full-width characters as ASCII, superscript powers (x²) and
    ``^`` as ``**``, × · ÷ − as * / -, π as pi, √ as sqrt, ln as log, and the multiplications a
    formula on paper leaves out (``2x``, ``3(x + 1)``, ``(x + 1)(y − 1)``)."""
    text = _SUPERSCRIPT_RUN.sub(lambda m: "**(" + m.group(0).translate(_SUPERSCRIPTS) + ")", text)
    text = unicodedata.normalize("NFKC", text).translate(_SIGNS).replace("^", "**")
    text = _ROOT.sub(lambda m: "sqrt(" if m.group(1) == "(" else f"sqrt({m.group(1)})", text)
    text = re.sub(r"\bln\b", "log", text)
    text = _NUMBER_THEN.sub(r"\1*", text)
    text = _CLOSE_THEN.sub(")*", text)
    return _exp_powers(_NAME_THEN.sub(r"\1*", text))


def _exp_powers(text: str) -> str:
    """``e**(…)`` and ``e**x`` as ``exp(…)``, ``exp(x)`` (a power of e is written with ^ on paper)."""
    found = _E_POWER.search(text)
    if found is None:
        return text
    rest = text[found.end():]
    if rest.startswith("("):
        depth = 0
        for i, ch in enumerate(rest):
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth == 0:
                return text[:found.start()] + "exp" + rest[:i + 1] + _exp_powers(rest[i + 1:])
        return text  # unbalanced: the parser says so
    token = re.match(r"-?[\w.]+", rest)
    if token is None:
        return text
    return text[:found.start()] + f"exp({token.group(0)})" + _exp_powers(rest[token.end():])


def latex(text: str) -> str:
    """The typed formula as LaTeX, for the page to show what it read: ``x**(2)`` as x², ``*`` as ·."""
    shown = re.sub(r"\*\*\((-?[\d.]+)\)", r"^{\1}", normalise(text or ""))
    shown = re.sub(r"\*\*(-?[\d.]+)", r"^{\1}", shown).replace("**", "^").replace("*", r" \cdot ")
    return "f(x,y) = " + re.sub(r"\bpi\b", r"\\pi ", shown)


def parse(text: str):
    """Parse and check ``text`` (after :func:`normalise`); returns a function of an env
    {'x': tensor, 'y': tensor}."""
    text = (text or "").strip()
    if not text:
        raise ExprError("expr_empty")
    if len(text) > MAX_LENGTH:
        raise ExprError("expr_too_long", max=MAX_LENGTH)
    text = normalise(text)
    try:
        tree = pysource.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        raise ExprError("expr_syntax") from None
    return _compile(tree.body, 0, [0])


def surface(text: str, *, half_width: float = 3.0, start=None) -> Surface:
    """A :class:`Surface` from ``text`` over [-half_width, half_width]^2; f and grad take arrays or floats."""
    import torch

    fn = parse(text)

    def evaluate(x, y, need_grad: bool):
        xt = torch.as_tensor(np.asarray(x, dtype=np.float64)).clone().requires_grad_(need_grad)
        yt = torch.as_tensor(np.asarray(y, dtype=np.float64)).clone().requires_grad_(need_grad)
        z = torch.as_tensor(fn({"x": xt, "y": yt}), dtype=torch.float64)
        z = z * torch.ones_like(xt)  # constants and 1-variable expressions broadcast to the input
        return xt, yt, z

    def f(x, y):
        with torch.no_grad():
            _, _, z = evaluate(x, y, False)
        out = z.numpy()
        return out if out.ndim else float(out)

    def grad(x, y):
        xt, yt, z = evaluate(x, y, True)
        gx = gy = None
        if z.requires_grad:
            gx, gy = torch.autograd.grad(z.sum(), (xt, yt), allow_unused=True)
        gx = (torch.zeros_like(xt) if gx is None else gx).detach().numpy()
        gy = (torch.zeros_like(yt) if gy is None else gy).detach().numpy()
        return (gx, gy) if gx.ndim else (float(gx), float(gy))

    h = square(half_width).domain[0][1]
    try:
        with np.errstate(all="ignore"):
            probe = np.linspace(-h, h, 21)
            values = f(*np.meshgrid(probe, probe))
    except (RuntimeError, ValueError, OverflowError, ZeroDivisionError, TypeError):
        raise ExprError("expr_eval") from None
    if not np.isfinite(values).any():
        raise ExprError("expr_nonfinite")
    st = tuple(start) if start is not None else square(h).start
    return Surface("custom", text, f, grad, ((-h, h), (-h, h)), [], st)


def square(half_width: float) -> Surface:
    """The plotted square [−w, w]² of a typed surface and its default start, before any formula
    (the page keeps its start boxes while a formula is being corrected). f is 0 there."""
    h = float(half_width)
    if not (0 < h <= 1e3):
        raise ExprError("expr_domain")
    def zero(x, y):
        return 0.0 * np.asarray(x)

    return Surface("custom", "", zero, lambda x, y: (zero(x, y), zero(x, y)), ((-h, h), (-h, h)), [],
                   (-0.8 * h, 0.7 * h))
