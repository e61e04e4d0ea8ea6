"""The package's layering, checked on its source: what each folder of py/digitlab may import.

    web  -> viz, nn, data, backend, keras  nn  -> backend
    keras (the Keras-style front) -> nn   codelab (the code cells) -> keras, nn, data, viz, backend
    data, backend, viz -> nothing of ours outside themselves
    the CLI (__main__) -> what runs under CPython: nn, data, backend, viz
    anyone -> the top-level shared leaves (modules directly in digitlab/, such as encoding.py,
              and the i18n/ tables), which import nothing of ours but each other
    no import circles among digitlab's modules

Only web/ may import the browser (`js`, `pyodide`): everything else also runs under CPython, for
the unit tests, the CLI and the benchmark. Imports are read from the syntax tree at every depth
(module level, inside functions, under `if`), so an import moved into a function to dodge a
circle or a browser-only module still counts.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "py" / "digitlab"
BROWSER = {"js", "pyodide", "pyodide_js"}  # Pyodide's modules; they exist only in the page
LEAF = "leaf"  # digitlab/__init__.py and the modules directly in digitlab/
SHARED_FOLDERS = {"i18n"}  # folders of leaves: every UI string, for the page and the CLI alike
ALLOWED = {  # layer -> the layers of ours it may import, besides the leaves
    LEAF: set(),
    "data": {"data"},
    "backend": {"backend"},
    "viz": {"viz"},
    "nn": {"nn", "backend"},
    "web": {"web", "viz", "nn", "data", "backend", "keras", "codelab"},
    "keras": {"keras", "nn"},  # a front over the engine: builds and trains only through nn
    "codelab": {"codelab", "keras", "nn", "data", "viz", "backend"},
    "cli": {"nn", "data", "backend", "viz"},  # not web: it imports the browser
}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str) -> bool:
    return name in MODULES and MODULES[name].name == "__init__.py"


def layer(name: str) -> str:
    """digitlab.nn.plan -> "nn"; digitlab.encoding and digitlab itself -> LEAF."""
    if name == "digitlab.__main__":
        return "cli"
    parts = name.split(".")
    top = ".".join(parts[:2])
    if len(parts) > 1 and is_package(top) and parts[1] not in SHARED_FOLDERS:
        return parts[1]
    return LEAF


@dataclass(frozen=True)
class Import:
    source: str  # the importing module, e.g. "digitlab.nn.plan"
    target: str  # the module imported, e.g. "digitlab.web.strings"
    path: Path
    line: int
    statement: str

    def where(self) -> str:
        """py/digitlab/nn/plan.py:19: from digitlab.web.strings import text"""
        return f"{self.path.relative_to(PACKAGE.parents[1])}:{self.line}: {self.statement}"

    @property
    def ours(self) -> bool:
        return self.target == "digitlab" or self.target.startswith("digitlab.")


def literal_import(node: ast.Call) -> str | None:
    """The module named by `importlib.import_module("x")` or `__import__("x")`, if literal."""
    func = node.func
    named = (isinstance(func, ast.Name) and func.id in ("__import__", "import_module")) or (
        isinstance(func, ast.Attribute) and func.attr == "import_module")
    if named and node.args and isinstance(node.args[0], ast.Constant) \
            and isinstance(node.args[0].value, str):
        return node.args[0].value
    return None


def imports_of(name: str, source: str, path: Path) -> list[Import]:
    """Every import in `source` (module `name`), at any depth. `from a.b import c` is module
    a.b.c when that is a module of ours, else a.b (c is a name defined there)."""
    package = name if is_package(name) or path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(source, filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base
                       for alias in node.names]
        elif isinstance(node, ast.Call) and literal_import(node):
            targets = [literal_import(node)]
        else:
            continue
        statement = " ".join(ast.unparse(node).split())
        found += [Import(name, target, path, node.lineno, statement)
                  for target in dict.fromkeys(targets)]
    return found


IMPORTS: list[Import] = [
    found for name, path in MODULES.items()
    for found in imports_of(name, path.read_text(encoding="utf-8"), path)
]


def test_the_scanner_resolves_modules_and_sees_imports_inside_functions():
    source = (
        "from digitlab.backend import numpy_ops, gemm\n"
        "def later():\n"
        "    from . import layers\n"
        "    import js\n"
        "    if True:\n"
        "        importlib.import_module('pyodide.ffi')\n"
    )
    found = imports_of("digitlab.nn.fake", source, PACKAGE / "nn" / "fake.py")
    assert [(i.target, i.line) for i in found] == [
        ("digitlab.backend.numpy_ops", 1), ("digitlab.backend", 1),  # gemm: a name, not a module
        ("digitlab.nn.layers", 3), ("js", 4), ("pyodide.ffi", 6)]
    assert found[3].where() == "py/digitlab/nn/fake.py:4: import js"
    # And on the real package: web's browser imports are seen, so the check below can fail.
    assert any(i.target.split(".")[0] in BROWSER for i in IMPORTS if layer(i.source) == "web")


def test_only_web_imports_the_browser():
    offending = [i.where() for i in IMPORTS
                 if i.target.split(".")[0] in BROWSER and layer(i.source) != "web"]
    assert not offending, (
        "only py/digitlab/web may import js or pyodide (the rest also runs under CPython):\n  "
        + "\n  ".join(offending))


def test_every_module_is_in_a_known_layer_and_every_import_of_ours_exists():
    unknown = sorted(name for name in MODULES if layer(name) not in ALLOWED)
    assert not unknown, f"modules in a folder with no import rule (add it to ALLOWED): {unknown}"
    missing = [i.where() for i in IMPORTS if i.ours and i.target not in MODULES]
    assert not missing, "imports of modules that do not exist:\n  " + "\n  ".join(missing)


def test_each_folder_imports_only_along_the_allowed_arrows():
    offending = [
        f"{i.where()}   ({layer(i.source)} -> {layer(i.target)})" for i in IMPORTS
        if i.ours and layer(i.target) != LEAF
        and layer(i.target) not in ALLOWED.get(layer(i.source), set())
    ]
    assert not offending, "imports against the arrows (see this file's docstring):\n  " + \
        "\n  ".join(offending)


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm: the groups of modules that reach each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for succ in sorted(graph[node]):
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def shortest_cycle(start: str, graph: dict[str, set[str]], members: set[str]) -> list[str]:
    """start -> ... -> start through `members` only (breadth first)."""
    paths = {succ: [start, succ] for succ in sorted(graph[start]) if succ in members}
    frontier = list(paths)
    while start not in paths:
        step = []
        for node in frontier:
            for succ in sorted(graph[node]):
                if succ in members and succ not in paths:
                    paths[succ] = [*paths[node], succ]
                    step.append(succ)
        frontier = step
    return paths[start]


def test_no_import_circles():
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    edges: dict[tuple[str, str], Import] = {}
    for i in IMPORTS:
        if i.ours and i.target in MODULES:
            graph[i.source].add(i.target)
            edges.setdefault((i.source, i.target), i)
    circles = []
    for group in strongly_connected(graph):
        if len(group) > 1 or group[0] in graph[group[0]]:
            cycle = shortest_cycle(group[0], graph, set(group))
            lines = [edges[a, b].where() for a, b in zip(cycle, cycle[1:], strict=False)]
            circles.append(" -> ".join(cycle) + "\n    " + "\n    ".join(lines))
    assert not circles, "import circles:\n  " + "\n  ".join(circles)
