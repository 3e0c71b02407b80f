"""The package's shape: every module imports alone, no import cycle, no lower layer importing a higher one.

The import graph is read from the source with :mod:`ast` (every ``import`` of
an ``xray_utils`` module, at module level or inside a function), so a cycle is
caught even where a late import would hide it at run time.
"""

from __future__ import annotations

import ast
import importlib
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import xray_utils

PACKAGE = Path(xray_utils.__file__).parent

# Layers, lowest first: a module may import only from its own layer or below.
LAYERS = [
    {"errors", "paths", "files", "config", "stats", "backend", "accel", "weights", "published", "project"},
    {"data", "pipeline", "models"},
    {"params", "run_folders", "recipe", "explain", "page", "basics"},
    {"training", "evaluation", "plots"},
    {"plan", "evidence"},
    {"full_study", "runner", "bench", "spread", "narrative", "phases"},
]


def _modules() -> list[str]:
    names = ["xray_utils"]
    for info in pkgutil.walk_packages([str(PACKAGE)], prefix="xray_utils."):
        names.append(info.name)
    return sorted(names)


def _path(module: str) -> Path:
    parts = module.split(".")[1:]
    folder = PACKAGE.joinpath(*parts)
    return folder / "__init__.py" if folder.is_dir() else folder.with_suffix(".py")


def _imports(module: str) -> set[str]:
    """The ``xray_utils`` modules ``module`` imports anywhere in its source (submodules resolved)."""
    path = _path(module)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("xray_utils")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if not target.startswith("xray_utils"):
                continue
            for alias in node.names:  # `from . import runs` names a module, `from .x import f` a name in x
                candidate = f"{target}.{alias.name}"
                found.add(candidate if _is_module(candidate) else target)
    return {name for name in found if _is_module(name)} - {module}


def _is_module(name: str) -> bool:
    parts = name.split(".")[1:]
    folder = PACKAGE.joinpath(*parts)
    return name == "xray_utils" or (folder / "__init__.py").is_file() or folder.with_suffix(".py").is_file()


def _graph() -> dict[str, set[str]]:
    graph = {module: _imports(module) for module in _modules()}
    # a package's __init__ re-exports its submodules: importing xray_utils.data imports them, not a cycle
    return {m: {t for t in targets if not t.startswith(m + ".")} for m, targets in graph.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return stack[stack.index(target) :] + [target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def _layer(module: str) -> int:
    top = module.split(".")[1] if "." in module else ""
    return next(i for i, names in enumerate(LAYERS) if top in names)


def test_the_cycle_finder_finds_a_cycle():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_the_import_graph_has_no_cycle():
    assert _cycle(_graph()) is None, f"import cycle: {' -> '.join(_cycle(_graph()))}"


def test_every_module_has_a_layer_and_imports_only_downwards():
    upward = []
    for module, targets in _graph().items():
        if module == "xray_utils":
            continue
        for target in targets:
            if target != "xray_utils" and _layer(target) > _layer(module):
                upward.append(f"{module} imports {target}")
    assert not upward, upward


def test_config_draws_no_data_and_storage_never_resolves_weights():
    graph = _graph()
    assert graph["xray_utils.config"] <= {"xray_utils.errors"}
    assert "xray_utils.weights" not in graph["xray_utils.run_folders"]
    assert not {t for t in graph["xray_utils.plan"] if t.startswith(("xray_utils.page", "xray_utils.runner"))}


# Third-party packages the modules import, loaded once before the children fork (seconds each: TensorFlow
# alone takes about 4 s here). What is checked is the order of this package's own imports.
PRELOAD = "tensorflow,keras,numpy,pandas,scipy,sklearn,matplotlib"
PROBE = Path(__file__).with_name("import_probe.py")


def _probe(modules: list[str], preload: str = PRELOAD, **kwargs) -> dict:
    done = subprocess.run(
        [sys.executable, PROBE, preload, *modules], capture_output=True, text=True, timeout=300, **kwargs
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_module_imports_in_isolation():
    """Each module imported in a fresh child with no other module of this package loaded (about 10 s;
    one fresh interpreter per module took about 110 s)."""
    report = _probe([m for m in _modules() if not m.endswith("__main__")])
    assert not report["failures"], "\n\n".join(f"{m}:\n{error}" for m, error in report["failures"].items())


def test_the_isolation_probe_reports_a_module_that_fails_alone(tmp_path):
    """The probe can fail: ``late`` imports only after ``early`` ran, so alone it breaks; ``early`` does not."""
    package = tmp_path / "probed"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "early.py").write_text("import sys\nsys.modules[__name__].VALUE = 1\n")
    (package / "late.py").write_text("import sys\nVALUE = sys.modules['probed.early'].VALUE\n")
    report = _probe(["probed.early", "probed.late"], preload="json", cwd=tmp_path, env={"PYTHONPATH": str(tmp_path)})
    assert list(report["failures"]) == ["probed.late"]
    assert "KeyError: 'probed.early'" in report["failures"]["probed.late"]


def test_the_module_list_is_the_package():
    assert "xray_utils.plan" in _modules() and "xray_utils.runner.cli" in _modules()
    for module in _modules():
        importlib.util.find_spec(module)  # every listed name is importable by name
