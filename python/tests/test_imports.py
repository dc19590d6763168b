"""The runtime's module structure: every module of tern_runtime imports on its own in a fresh
interpreter, and the imports between its modules form no cycle.

The import graph is read from the source with ``ast`` and counts every import statement of a
module: at module level, inside functions (lazy imports), under ``if TYPE_CHECKING`` and in
``try`` blocks alike. So the assertion is the strict one: there is no cycle at all, not even
one that lazy imports would hide at start-up.

An edge ``M -> T`` means that importing M may run T:
- ``import tern_runtime.a.b`` and ``from .a import b`` (``b`` a module) give
  ``M -> tern_runtime.a.b``;
- ``from .a import name`` (``name`` not a module) gives ``M -> tern_runtime.a`` (it needs the
  package's namespace), also when ``a`` is M's own package;
- Python runs a package's ``__init__`` before any of its modules, so every edge into
  ``tern_runtime.a.b`` also gives ``M -> tern_runtime.a``, except for the packages that hold M
  itself (they are already being imported when M runs; counting them would make every
  ``__init__`` that re-exports its modules a cycle).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import unittest

PYTHON_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGE = "tern_runtime"


def package_modules(root: str = PYTHON_DIR, package: str = PACKAGE) -> dict[str, str]:
    """Module name → file of every module of ``package`` under ``root``, subpackages included
    (a package is named by its ``__init__.py``)."""
    modules = {}
    top = os.path.join(root, package)
    for folder, subfolders, files in os.walk(top):
        subfolders[:] = sorted(d for d in subfolders if d != "__pycache__"
                               and os.path.isfile(os.path.join(folder, d, "__init__.py")))
        parts = [package] + os.path.relpath(folder, top).split(os.sep)
        parts = [p for p in parts if p != "."]
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            stem = name[:-3]
            module = ".".join(parts if stem == "__init__" else parts + [stem])
            modules[module] = os.path.join(folder, name)
    return modules


def _package_of(module: str, file: str) -> str:
    """The package that relative imports in ``module`` start from."""
    return module if os.path.basename(file) == "__init__.py" else module.rpartition(".")[0]


def _with_packages(importer: str, target: str) -> set[str]:
    """``target`` and the packages Python runs before it, less those holding ``importer``."""
    edges = {target}
    parts = target.split(".")
    for i in range(1, len(parts)):
        ancestor = ".".join(parts[:i])
        if ancestor != importer and not importer.startswith(ancestor + "."):
            edges.add(ancestor)
    return edges


def import_targets(module: str, file: str, source: str, modules: set[str]) -> set[str]:
    """The modules of ``modules`` that ``module`` (whose text is ``source``) imports, at any
    depth of its code, as edges of the import graph (see the module documentation)."""
    targets: set[str] = set()
    package = _package_of(module, file)
    for node in ast.walk(ast.parse(source, file)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    targets |= _with_packages(module, alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                base_parts = parts[:len(parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base not in modules:
                continue  # outside the package (os, numpy, __future__)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                targets |= _with_packages(module, submodule if submodule in modules else base)
    targets.discard(module)
    return targets


def import_graph(root: str = PYTHON_DIR, package: str = PACKAGE) -> dict[str, set[str]]:
    """Module → the package modules it imports (every import statement counted)."""
    modules = package_modules(root, package)
    graph = {}
    for module, file in modules.items():
        with open(file, encoding="utf-8") as f:
            graph[module] = import_targets(module, file, f.read(), set(modules))
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as ``[a, b, …, a]``, or None when it has none."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


class ImportTests(unittest.TestCase):
    def test_every_module_imports_alone_in_a_fresh_interpreter(self):
        modules = package_modules()
        self.assertIn(f"{PACKAGE}.v2.tensors", modules)  # the walk reaches subpackages
        environment = dict(os.environ, PYTHONPATH=PYTHON_DIR)
        for module in modules:
            with self.subTest(module=module):
                result = subprocess.run([sys.executable, "-c", f"import {module}"], cwd=PYTHON_DIR,
                                        env=environment, capture_output=True, text=True, timeout=60)
                self.assertEqual(result.returncode, 0, f"import {module} failed:\n{result.stderr}")

    def test_the_package_import_graph_has_no_cycle(self):
        graph = import_graph()
        self.assertIn(f"{PACKAGE}.errors", graph[f"{PACKAGE}.server"])
        cycle = find_cycle(graph)
        self.assertIsNone(cycle, "import cycle: " + " -> ".join(cycle or []))


class GraphReadingTests(unittest.TestCase):
    """The reader and the cycle finder themselves, on made-up modules."""

    MODULES = {"p", "p.a", "p.b", "p.sub", "p.sub.x", "p.sub.y"}

    def targets(self, module, source, init=False):
        file = f"/{module.replace('.', '/')}" + ("/__init__.py" if init else ".py")
        return import_targets(module, file, source, self.MODULES)

    def test_relative_imports_resolve_to_modules_and_packages(self):
        self.assertEqual(self.targets("p.a", "from . import b\nfrom .sub import x\n"),
                         {"p.b", "p.sub", "p.sub.x"})
        self.assertEqual(self.targets("p.a", "from . import VERSION\n"), {"p"})
        self.assertEqual(self.targets("p.sub.x", "from ..b import f\nfrom .y import g\n"),
                         {"p.b", "p.sub.y"})
        self.assertEqual(self.targets("p.sub", "from .x import f\n", init=True), {"p.sub.x"})
        self.assertEqual(
            self.targets("p.a", "import os\nimport p.sub.y\nfrom numpy import array\n"),
            {"p.sub", "p.sub.y"})

    def test_imports_inside_functions_count(self):
        self.assertEqual(self.targets("p.a", "def f():\n    from . import b\n"), {"p.b"})

    def test_cycle_finder(self):
        self.assertIsNone(find_cycle({"p.a": {"p.b"}, "p.b": set()}))
        self.assertEqual(find_cycle({"p.a": {"p.b"}, "p.b": {"p.sub"}, "p.sub": {"p.a"}}),
                         ["p.a", "p.b", "p.sub", "p.a"])


if __name__ == "__main__":
    unittest.main()
