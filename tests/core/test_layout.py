"""The house rules of the layout, read from the source with `ast` (nothing is imported):

- no import cycle among the modules of `core` (imports inside functions count: a late import
  hides a cycle, it does not remove it; imports for type hints only, under `if TYPE_CHECKING:`,
  never run and do not count);
- no module imports another module's private (`_name`) names;
- no module of `core` imports Textual, even inside a function that no test happens to call
  (test_core_boundary.py checks the same at run time, by importing every module).
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("core", "tui")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    """Every module of core/ and tui/, by dotted name."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[_module_name(path)] = path
    return found


def _absolute(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute name `from ... import` refers to (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _runtime_nodes(tree: ast.AST) -> list[ast.AST]:
    """Every node, functions' bodies included, except under `if TYPE_CHECKING:` (never run)."""
    nodes, todo = [], [tree]
    while todo:
        node = todo.pop()
        nodes.append(node)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            todo.extend(node.orelse)
            continue
        todo.extend(ast.iter_child_nodes(node))
    return nodes


def imports(module: str, path: Path, known: dict[str, Path]) -> list[tuple[str, list[str], int]]:
    """(imported module, names taken from it, line) for every import anywhere in the file that runs
    (inside functions too; type-only imports under `if TYPE_CHECKING:` left out)."""
    found = []
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.extend((alias.name, [], node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(module, path, node)
            names = []
            for alias in node.names:
                if f"{source}.{alias.name}" in known:  # `from core.data import corpus`: a module
                    found.append((f"{source}.{alias.name}", [], node.lineno))
                else:
                    names.append(alias.name)
            if names:
                found.append((source, names, node.lineno))
    return found


def graph(prefix: str = "core") -> dict[str, set[str]]:
    """Which module of `prefix` imports which other module of `prefix` (packages' __init__ left out:
    importing `core.data.corpus` runs `core/data/__init__.py`, which imports nothing)."""
    known = modules()
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        if name != prefix and not name.startswith(prefix + "."):
            continue
        edges.setdefault(name, set())
        for target, _names, _line in imports(name, path, known):
            if target in known and target != name and known[target].name != "__init__.py":
                edges[name].add(target)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(edges.get(node, ())):
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

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def private_imports() -> list[str]:
    """`from X import _name` where X is another module of core/ or tui/."""
    known = modules()
    found = []
    for name, path in known.items():
        for target, names, line in imports(name, path, known):
            if target in known and target != name:
                for imported in names:
                    if imported.startswith("_") and not imported.startswith("__"):
                        found.append(f"{path.relative_to(ROOT)}:{line} imports {imported} from {target}")
    return found


def test_no_import_cycle_in_core() -> None:
    assert cycles(graph("core")) == []


def test_no_module_imports_another_modules_private_names() -> None:
    assert private_imports() == []


def test_core_never_imports_textual_even_inside_a_function() -> None:
    known = modules()
    offenders = [
        f"{path.relative_to(ROOT)}:{line}"
        for name, path in known.items()
        if name.split(".")[0] == "core"
        for target, _names, line in imports(name, path, known)
        if target == "textual" or target.startswith("textual.")
    ]
    assert offenders == []


def test_the_checks_see_what_they_check() -> None:
    """The parser finds the imports it is meant to judge (a parser that finds nothing passes everything)."""
    edges = graph("core")
    assert "core.data.corpus" in edges and "core.train.trainer" in edges
    assert "core.data.vocab" in edges["core.train.trainer"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    tui_edges = graph("tui")
    assert any(target.startswith("textual") for path in [modules()["tui.app"]]
               for target, _n, _l in imports("tui.app", path, modules()))
    assert tui_edges


def test_every_package_is_in_the_wheel() -> None:
    """pyproject lists the packages by hand: a subpackage left out installs without it (the wheel's
    `tweetgen neurons` would fail on import), while the editable install used by the tests hides that."""
    import tomllib

    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("core", "tui") for p in (ROOT / top).rglob("__init__.py")}
    assert found - listed == set(), f"packages missing from pyproject.toml: {sorted(found - listed)}"
