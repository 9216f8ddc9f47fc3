"""The engine never imports a concrete connector: it sees only the protocols in `base`,
`source` (how a source's records become canonical objects) and `records` (a system that
keeps records, the `to:` of a record flow)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import pkgutil, importlib, sys
import billbridge.engine as engine
for info in pkgutil.walk_packages(engine.__path__, "billbridge.engine."):
    importlib.import_module(info.name)
print(" ".join(sorted(m for m in sys.modules if m.startswith("billbridge.connectors"))))
"""


def test_engine_imports_only_the_connector_protocol() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = set(done.stdout.split())
    assert "billbridge.connectors.base" in loaded  # the walk did import the engine
    allowed = {
        "billbridge.connectors",
        "billbridge.connectors.base",
        "billbridge.connectors.records",
        "billbridge.connectors.source",
    }
    assert loaded <= allowed, loaded


# --- no Stripe field name in engine/ (issue 15) -------------------------------------------
# Fields only Stripe's shapes have: none may appear in engine code at all, as a name or as
# a string that is the field's name (prose in a message may mention a charge). A canonical
# object's own fields, like `Invoice.amount_paid`, are attributes and are read as such:
# `value.amount_paid` is allowed, `data["amount_paid"]` is not.
STRIPE_ONLY = (
    "balance_transaction",
    "payment_intent",
    "invoice_payment",
    "livemode",
    "amount_due",
    "amount_paid",
    "amount_remaining",
    "status_transitions",
    "tax_amounts",
    "total_taxes",
    "charge",
)
# Field names a source's raw record has and the engine's own dicts may also use: the engine
# may not READ them from a mapping (`x.get("number")`, `x["number"]`, `"number" in x`).
# (`id` and `type` are left out: every system has them, and so do the engine's own rows.)
RAW_READS = ("paid", "number", "created", "object", "status", "currency", "amount", "net")

ENGINE = Path(__file__).parents[2] / "src" / "billbridge" / "engine"


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the string nodes that are docstrings (prose, not code)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                found.add(id(value))
    return found


def _key(node: ast.AST) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def stripe_fields_in(source: str) -> list[tuple[int, str]]:
    """(line, what) of every Stripe-only name or raw field read in one module's code."""
    tree = ast.parse(source)
    prose = _docstrings(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in prose:
            words = re.findall(r"[a-z_]+", node.value)
            if words == [node.value] and node.value in STRIPE_ONLY:
                found.append((node.lineno, f"string {node.value!r}"))
        elif isinstance(node, ast.Name | ast.Attribute | ast.arg | ast.keyword):
            name = (
                getattr(node, "id", None)
                or getattr(node, "attr", None)
                or getattr(node, "arg", None)
            )
            if name in STRIPE_ONLY and not isinstance(node, ast.Attribute):
                found.append((getattr(node, "lineno", 0), f"name {name!r}"))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr == "get" and node.args and _key(node.args[0]) in RAW_READS:
                found.append((node.lineno, f".get({_key(node.args[0])!r})"))
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.ctx, ast.Load)
            and _key(node.slice) in RAW_READS
        ):
            found.append((node.lineno, f"[{_key(node.slice)!r}]"))
        elif (
            isinstance(node, ast.Compare)
            and _key(node.left) in RAW_READS
            and any(isinstance(op, ast.In | ast.NotIn) for op in node.ops)
        ):
            found.append((node.lineno, f"{_key(node.left)!r} in …"))
    return sorted(found)


def test_the_engine_reads_no_stripe_field() -> None:
    found = [
        f"{path.relative_to(ENGINE)}:{line}: {what}"
        for path in sorted(ENGINE.rglob("*.py"))
        for line, what in stripe_fields_in(path.read_text())
    ]
    assert found == [], "\n".join(found)


def test_the_field_check_finds_what_it_looks_for() -> None:
    code = '''
def f(data, value):
    """Reads amount_paid in prose: fine."""
    a = data.get("number")
    b = data["created"]
    c = "paid" in data
    d = {"x": "balance_transaction", "y": "a charge in prose"}
    d["status"] = "written, not read"
    e = value.amount_paid  # a canonical attribute
    payment_intent = 1
    return a, b, c, d, e, payment_intent
'''
    assert stripe_fields_in(code) == [
        (4, ".get('number')"), (5, "['created']"), (6, "'paid' in …"),
        (7, "string 'balance_transaction'"), (10, "name 'payment_intent'"),
        (11, "name 'payment_intent'"),
    ]  # fmt: skip
