"""The README's "Where things are" table names real files and real names in them.

A newcomer finds the training loop, the sampler and the keys through that table; after a move
(issue 18) a stale row sends them to a file that is gone, so every path it names is checked, and
every name in parentheses beside a Python file must be defined in it.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from corehelpers import REPO

README = REPO / "README.md"


def _table_rows() -> list[str]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## Where things are", 1)[1].split("\n## ", 1)[0]
    return [line for line in section.splitlines() if line.startswith("|") and not line.startswith("| ---")][1:]


def _defined_names(path: Path) -> set[str]:
    """Module-level functions, classes and constants, and the methods of its classes (as Class.method too)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    names |= {item.name, f"{node.name}.{item.name}"}
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def test_the_table_has_the_rows_a_newcomer_looks_for_first() -> None:
    rows = " ".join(_table_rows())
    for what in ("training loop", "sampler", "key bindings", "checkpoint file format"):
        assert what in rows, f"README's 'Where things are' has no row for the {what}"


def test_every_path_in_the_table_exists() -> None:
    missing = []
    for row in _table_rows():
        where = row.split("|")[2]
        for ref in re.findall(r"`([^`]+)`", where):
            if "/" in ref and not ref.startswith(("python ", "make ")) and " " not in ref:
                if not (REPO / ref.rstrip("/")).exists():
                    missing.append(ref)
    assert not missing, f"README's 'Where things are' names paths that do not exist: {missing}"


def test_names_beside_a_python_file_are_defined_in_it() -> None:
    """`core/model/sampler.py` (`stream`, `sample_batch`): both must be defined in that file."""
    wrong = []
    for row in _table_rows():
        where = row.split("|")[2]
        for path, names in re.findall(r"`([\w/]+\.py)` \(([^)]*)\)", where):
            defined = _defined_names(REPO / path)
            for name in re.findall(r"`([\w.]+)`", names):
                if name not in defined:
                    wrong.append(f"{path}: {name}")
    assert not wrong, f"README's 'Where things are' names what these files do not define: {wrong}"
