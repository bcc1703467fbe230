"""The layers import in one direction only, with no cycle, at module top (checked on the source with `ast`).

ladagan, baselines -> bench.core -> bench.data -> bench.models -> bench.train -> bench.metrics ->
bench.report -> bench.grid -> bench.commands, bench.cli. A module imports only from its own layer or earlier ones.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("ladagan", "baselines", "bench")
LAYERS = [  # (module prefix, layer); the longest matching prefix wins
    ("ladagan", 0),
    ("baselines", 0),
    ("bench", 1),
    ("bench.core", 1),
    ("bench.data", 2),
    ("bench.registry", 3),
    ("bench.zoo", 3),
    ("bench.models", 3),
    ("bench.train", 4),
    ("bench.metrics", 5),
    ("bench.report", 6),
    ("bench.grid", 7),
    ("bench.commands", 8),
    ("bench.cli", 8),
]
START_UP = "start-up"  # the word a comment must carry to justify an import inside a function


def _modules() -> dict[str, Path]:
    """Every module of the three packages: dotted name -> file."""
    found = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")):
            parts = path.relative_to(REPO).with_suffix("").parts
            found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


MODULES = _modules()


def _layer(module: str) -> int | None:
    """The layer of an internal module (None for the standard library and third parties)."""
    matches = [(len(prefix), layer) for prefix, layer in LAYERS if module == prefix or module.startswith(prefix + ".")]
    return max(matches)[1] if matches else None


def _imports(path: Path) -> list[tuple[str, ast.stmt, int | None]]:
    """(imported internal module, statement, first line of the enclosing function or None at module top)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    enclosing: dict[int, int] = {}
    type_only = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for n in ast.walk(node)
    }  # annotations only: never imported at run time
    for func in ast.walk(tree):
        if isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(func):
                enclosing.setdefault(id(node), func.lineno) if node is not func else None
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from bench.data import fashion` imports the submodule when there is one
            names = [
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module for a in node.names
            ]
        for name in names:
            if _layer(name) is not None and id(node) not in type_only:
                found.append((name, node, enclosing.get(id(node))))
    return found


def test_no_module_imports_a_later_layer():
    upward = []
    for module, path in MODULES.items():
        for name, node, _ in _imports(path):
            if _layer(name) > _layer(module):
                upward.append(f"{path.relative_to(REPO)}:{node.lineno} ({module}) imports {name}")
    assert upward == []


def test_imports_sit_at_module_top_unless_a_comment_gives_the_start_up_reason():
    inside = []
    for path in MODULES.values():
        lines = path.read_text(encoding="utf-8").splitlines()
        for name, node, function_line in _imports(path):
            # the reason may be given once, anywhere from the function's first line down to the import
            if function_line is not None and START_UP not in " ".join(lines[function_line - 1 : node.end_lineno]):
                inside.append(f"{path.relative_to(REPO)}:{node.lineno} imports {name} inside a function")
    assert inside == []


def test_no_cycle_between_modules():
    graph = {
        m: {n for n, _, func in _imports(p) if func is None and n in MODULES and n != m} for m, p in MODULES.items()
    }
    state: dict[str, int] = {}
    cycles = []

    def visit(module: str, trail: list[str]) -> None:
        """Depth-first search; a module met again on the current trail closes a cycle."""
        state[module] = 1
        for nxt in sorted(graph[module]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*trail[trail.index(nxt) :], nxt]) if nxt in trail else f"{module} -> {nxt}")
            elif nxt not in state:
                visit(nxt, [*trail, nxt])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_model_packages_know_nothing_of_the_suite():
    for module, path in MODULES.items():
        if _layer(module) == 0:
            assert all(not name.startswith("bench") for name, _, _ in _imports(path)), module
