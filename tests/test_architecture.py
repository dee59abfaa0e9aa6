"""The shape of the code (docs/architecture.md), checked by walking the source with ``ast``.

* Imports run one way: ``ticketing`` base packages <- ``events`` <- ``checkout`` <- ``waitlist``
  <- ``ticketing.config`` and ``ticketing.management`` (the wiring on top).
* No module imports another module's ``_private`` name.
* No import cycle between modules (lazy imports inside functions count too).
* The free-seat rule is spelled only in ``checkout/selectors/availability.py``; the inventory
  version is read only there.

Each check also runs on a small planted example, so a check that can never fail fails.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("ticketing", "events", "checkout", "waitlist")
TOP = ("ticketing.config", "ticketing.management")
LAYER = {"ticketing": 0, "events": 1, "checkout": 2, "waitlist": 3}
AVAILABILITY = "checkout/selectors/availability.py"


def layer(module: str) -> int | None:
    if module.startswith(TOP):
        return 4
    return LAYER.get(module.split(".", 1)[0])


def source_files() -> dict[str, Path]:
    files = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            rel = path.relative_to(ROOT).with_suffix("")
            parts = list(rel.parts)
            if parts[-1] == "__init__":
                parts.pop()
            files[".".join(parts)] = path
    return files


def imports(module: str, tree: ast.AST) -> list[tuple[str, str | None, int]]:
    """``(imported module, imported name or None, line)`` for every import, lazy ones included."""
    found = []
    package = module if module.count(".") == 0 else module.rsplit(".", 1)[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found += [(base, alias.name, node.lineno) for alias in node.names]
    return found


def project_edges(files: dict[str, Path]) -> dict[str, list[tuple[str, str | None, int]]]:
    edges = {}
    for module, path in files.items():
        own = []
        for target, name, line in imports(module, ast.parse(path.read_text(), str(path))):
            if target.split(".", 1)[0] not in APPS:
                continue
            # ``from pkg import module`` names a module, not an attribute.
            if name and f"{target}.{name}" in files:
                target, name = f"{target}.{name}", None
            own.append((target, name, line))
        edges[module] = own
    return edges


def direction_violations(edges) -> list[str]:
    bad = []
    for module, targets in edges.items():
        for target, _name, line in targets:
            mine, theirs = layer(module), layer(target)
            if mine is None or theirs is None:
                continue
            if theirs > mine:
                bad.append(f"{module}:{line} imports {target} (a higher layer)")
    return bad


def private_imports(edges) -> list[str]:
    return [
        f"{module}:{line} imports {target}.{name}"
        for module, targets in edges.items()
        for target, name, line in targets
        if name and name.startswith("_") and target != module
    ]


def cycles(edges, files) -> list[list[str]]:
    graph = {m: sorted({t for t, _, _ in targets if t in files and t != m}) for m, targets in edges.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


@pytest.fixture(scope="module")
def graph():
    files = source_files()
    return files, project_edges(files)


def test_imports_run_one_way(graph):
    _files, edges = graph
    assert direction_violations(edges) == []


def test_no_module_imports_another_modules_private_names(graph):
    _files, edges = graph
    assert private_imports(edges) == []


def test_no_import_cycles(graph):
    files, edges = graph
    assert cycles(edges, files) == []


def test_the_checks_catch_planted_violations():
    files = {"events.a": Path("a"), "checkout.b": Path("b"), "checkout.c": Path("c")}
    edges = {
        "events.a": [("checkout.b", "thing", 1)],
        "checkout.b": [("checkout.c", "_private", 2)],
        "checkout.c": [("checkout.b", None, 3)],
    }
    assert direction_violations(edges) == ["events.a:1 imports checkout.b (a higher layer)"]
    assert private_imports(edges) == ["checkout.b:2 imports checkout.c._private"]
    assert cycles(edges, files) == [["checkout.b", "checkout.c"]]


# --- the free-seat rule and the version read have one home -------------------------------

# The pieces the rule is written with: a comparison of a hold's expiry copied onto the
# inventory row (ORM lookup or SQL), and a Python test of a row's status against the statuses.
RULE_PIECES = [
    re.compile(r"hold_expires_at__(lt|lte|gt|gte)\b"),
    re.compile(r"hold_expires_at\s*(<=|>=|<|>)"),
    re.compile(r"status\s*==\s*SeatStatus\.(AVAILABLE|HELD)"),
]
VERSION_PIECES = [re.compile(r"FROM\s+checkout_inventoryversion", re.I)]


def rule_hits(text: str, pieces: list[re.Pattern]) -> list[int]:
    return [n for n, line in enumerate(text.splitlines(), 1) for p in pieces if p.search(line)]


def test_the_free_seat_rule_exists_once():
    hits = []
    for path in source_files().values():
        rel = path.relative_to(ROOT).as_posix()
        if rel == AVAILABILITY:
            continue
        hits += [f"{rel}:{n}" for n in rule_hits(path.read_text(), RULE_PIECES)]
    assert hits == [], "spell 'free'/'taken' through checkout.selectors.availability"
    assert rule_hits((ROOT / AVAILABILITY).read_text(), RULE_PIECES)  # the owner does have it


def test_the_inventory_version_is_read_in_one_place():
    hits = [
        path.relative_to(ROOT).as_posix()
        for path in source_files().values()
        if rule_hits(path.read_text(), VERSION_PIECES)
    ]
    assert hits == [AVAILABILITY]


def test_the_rule_grep_catches_a_planted_copy():
    planted = "qs.filter(status=SeatStatus.HELD, hold_expires_at__lte=now)\nrow.status == SeatStatus.HELD"
    assert rule_hits(planted, RULE_PIECES) == [1, 2]


def test_one_section_availability():
    definitions = [
        path.relative_to(ROOT).as_posix()
        for path in source_files().values()
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.FunctionDef) and node.name == "section_availability"
    ]
    assert definitions == [AVAILABILITY]


def test_every_audit_row_goes_through_the_audit_helper():
    writers = [
        path.relative_to(ROOT).as_posix()
        for path in source_files().values()
        if "AuditLog.objects.create" in path.read_text()
        or "INSERT INTO checkout_auditlog" in path.read_text()
    ]
    assert writers == ["checkout/services/common.py"]
