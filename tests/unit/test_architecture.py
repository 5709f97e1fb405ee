"""The package's layers, checked on its import graph (every ``import`` and ``from … import`` in every module, read
from the syntax tree, including imports inside functions): imports flow one way — faces → pipelines (training,
analysis) → laws → theory → _io — and no module imports itself back through others."""

from __future__ import annotations

import ast
from pathlib import Path

import biper_analysis

ROOT = Path(biper_analysis.__file__).resolve().parent
#: layer of each top-level part of the package (higher may import lower or equal, never higher)
LAYERS = {
    "_version": 0,
    "paper": 0,
    "_io": 0,
    "theory": 1,
    "laws": 2,
    "analysis": 3,
    "training": 4,
    "plotting": 5,
    "paper_checks": 5,
    "commands": 5,
    "cli": 5,
    "__main__": 5,
    "__init__": 5,
}
#: modules that are faces though they sit inside a lower part (entry points)
FACES = {"biper_analysis.training.__main__"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_pkg = path.name == "__init__.py"
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("biper_analysis")}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = name.split(".") if is_pkg else name.split(".")[:-1]
                    base = ".".join(pkg[: len(pkg) - node.level + 1] + ([node.module] if node.module else []))
                if base.startswith("biper_analysis"):
                    for a in node.names:
                        full = f"{base}.{a.name}"
                        deps.add(full if full in modules else base)
        graph[name] = {d for d in deps if d in modules and d != name}
    return graph


def _layer(module: str) -> int:
    if module in FACES:
        return 5
    parts = module.split(".")
    return LAYERS["__init__" if len(parts) == 1 else parts[1]]


def test_imports_never_go_up_a_layer():
    upward = sorted(
        f"{m} -> {d}" for m, deps in _graph().items() for d in deps if d != "biper_analysis" and _layer(d) > _layer(m)
    )
    assert not upward, "imports against the layering:\n" + "\n".join(upward)


def test_the_import_graph_has_no_cycle():
    graph = _graph()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph[node]):
            if dep == "biper_analysis" or dep.endswith("__main__"):
                continue
            if state.get(dep) == 1:
                return stack[stack.index(dep) :] + [dep]
            if dep not in state:
                cycle = visit(dep)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            assert cycle is None, " -> ".join(cycle)


def test_the_layer_check_can_fail(tmp_path):
    """The same analysis on a constructed upward import finds it (the check is not vacuous)."""
    assert _layer("biper_analysis.theory.analytic") < _layer("biper_analysis.laws.base")
    tree = ast.parse("from biper_analysis.laws import fit_law\n")
    imported = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert imported == ["biper_analysis.laws"] and _layer("biper_analysis.laws") > _layer("biper_analysis.theory.x")
