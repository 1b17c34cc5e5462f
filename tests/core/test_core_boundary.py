"""`core` is a library: it must import (and train) without Textual anywhere in sys.modules."""

import subprocess
import sys

CODE = """
import sys
import importlib, pkgutil
import core
names = [m.name for m in pkgutil.walk_packages(core.__path__, 'core.')]
assert {'core.data.corpus', 'core.train.trainer', 'core.cli.main', 'core.store.registry'} <= set(names), names
for name in names:
    importlib.import_module(name)  # every module of core, new ones included
leaked = sorted(m for m, mod in sys.modules.items() if mod is not None and (m == 'textual' or m.startswith('textual.')))
assert not leaked, leaked
print('ok')
"""


def test_core_imports_without_textual() -> None:
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


def test_core_works_when_textual_is_unimportable(tmp_path) -> None:
    """Block textual outright: the check above cannot pass by accident of import order."""
    blocker = "import sys; sys.modules['textual'] = None\n"
    out = subprocess.run([sys.executable, "-c", blocker + CODE], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
