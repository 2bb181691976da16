"""Print the size limits of docs/architecture.md and fail when the package breaks one.

Limits: module lines, function lines, function parameters, import cycles
between the package's modules, and imports against the layering (imports inside
functions count: a cycle is a cycle even when it is deferred).
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
MAX_PARAMETERS = 8
PACKAGE = "napari_leap"
#: a module may import its own layer and the layers below it; the front door
#: (``napari_leap/__init__.py``, layer None) re-exports lazily from every layer and
#: sits with the CLI
LAYERS: dict[str | None, int] = {
    "errors": 0,
    "progress": 0,
    "model": 1,
    "io": 2,
    "align": 3,
    "pose": 4,
    "napari": 5,
    "commands": 6,
    "cli": 7,
    None: 7,
}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def parameters(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    a = node.args
    names = [*a.posonlyargs, *a.args, *a.kwonlyargs]
    count = len([n for n in names if n.arg not in ("self", "cls")])
    return count + (a.vararg is not None) + (a.kwarg is not None)


def imported_modules(tree: ast.Module, name: str, is_package: bool, known: set[str]) -> set[str]:
    """The package modules a module imports, resolved to modules that exist."""
    out: set[str] = set()
    here = name.split(".") if is_package else name.split(".")[:-1]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            targets = [f"{mod}.{alias.name}" for alias in node.names] + [mod]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                out.add(target)
    return out


def layer_of(module: str) -> str | None:
    """The layer a module belongs to (its first folder below the package), None for the front door."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def against_layering(graph: dict[str, set[str]]) -> list[str]:
    """``a -> b`` imports where ``b`` sits in a higher layer than ``a``."""
    out = []
    for a, targets in sorted(graph.items()):
        la = layer_of(a)
        if la is None:
            continue
        for b in sorted(targets):
            lb = layer_of(b)
            if LAYERS[lb] > LAYERS[la]:
                out.append(f"layering: {a} ({la}) imports {b} ({lb or 'the front door'})")
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=Path(__file__).resolve().parents[1] / "src")
    args = parser.parse_args(argv)
    root = args.src
    files = sorted((root / PACKAGE).rglob("*.py"))
    trees = {p: ast.parse(p.read_text(), str(p)) for p in files}
    names = {p: module_name(p, root) for p in files}
    known = set(names.values())
    problems: list[str] = []
    sizes = []
    for path, tree in trees.items():
        rel = path.relative_to(root)
        lines = len(path.read_text().splitlines())
        sizes.append((lines, str(rel)))
        if lines > MAX_MODULE_LINES:
            problems.append(f"{rel}: {lines} lines (limit {MAX_MODULE_LINES})")
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    problems.append(
                        f"{rel}:{node.lineno} {node.name}: {length} lines (limit {MAX_FUNCTION_LINES})"
                    )
                n = parameters(node)
                if n > MAX_PARAMETERS:
                    problems.append(
                        f"{rel}:{node.lineno} {node.name}: {n} parameters (limit {MAX_PARAMETERS})"
                    )
    graph = {
        names[p]: imported_modules(t, names[p], p.name == "__init__.py", known)
        for p, t in trees.items()
    }
    problems += against_layering(graph)
    for component in cycles(graph):
        problems.append("import cycle: " + " <-> ".join(component))
    sizes.sort(reverse=True)
    print(
        f"{len(files)} modules, {sum(s for s, _ in sizes)} lines; largest: "
        + ", ".join(f"{r} {s}" for s, r in sizes[:3])
    )
    for problem in problems:
        print(problem)
    print(f"{len(problems)} over the limits" if problems else "all limits hold")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
