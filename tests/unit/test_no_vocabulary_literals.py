"""No state, event type or action is written as a bare string in app/: each is a member of its
enum (State, EventType in app/domain/visit.py; Action in app/domain/permissions.py), so a
typo is a NameError at import and a rename is one edit.

Allowed: enum definitions (a ConsentOutcome may be spelled like a State), dict keys and subscripts (JSON field names that happen to
be spelled like a state, e.g. a report's "checked_in" count), lists of column names (a list
holding other strings too), and docstrings. Migrations keep the strings they were written with.
"""
from __future__ import annotations

import ast
from pathlib import Path

from app.domain.permissions import Action
from app.domain.visit import EventType, State

ROOT = Path(__file__).resolve().parents[2]
VOCABULARY = {member.value for enum in (State, EventType, Action) for member in enum}


def _allowed_nodes(tree: ast.AST) -> set[int]:
    allowed: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            allowed.update(id(key) for key in node.keys if key is not None)
        elif isinstance(node, ast.Subscript):
            allowed.add(id(node.slice))
        elif isinstance(node, (ast.List, ast.Tuple)):
            texts = [item for item in node.elts if isinstance(item, ast.Constant) and isinstance(item.value, str)]
            if any(item.value not in VOCABULARY for item in texts):
                allowed.update(id(item) for item in texts)
        elif isinstance(node, ast.ClassDef) and any(getattr(base, "id", None) == "StrEnum" for base in node.bases):
            allowed.update(id(child) for child in ast.walk(node))
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                allowed.add(id(first.value))
    return allowed


def vocabulary_literals(source: str) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    allowed = _allowed_nodes(tree)
    return sorted(
        (node.lineno, node.value) for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in VOCABULARY
        and id(node) not in allowed
    )


def test_the_scan_finds_a_bare_state_and_action_and_allows_field_names():
    source = (
        'if visit.state == "waiting": authorize(principal, "visit.consent")\n'
        'row = {"checked_in": 1}\nrow["released"]\nheader = ["hour", "checked_in"]\n'
    )
    assert vocabulary_literals(source) == [(1, "visit.consent"), (1, "waiting")]


def test_no_state_event_type_or_action_is_a_bare_string_in_app():
    found = [
        f"{path.relative_to(ROOT)}:{line}: {value!r}"
        for path in sorted((ROOT / "app").rglob("*.py")) if "migrations" not in path.parts
        for line, value in vocabulary_literals(path.read_text(encoding="utf-8"))
    ]
    assert found == [], "use the enum member instead:\n" + "\n".join(found)
