"""The folders are the layers: a module imports only from its own layer or the layers below it, and no cycles."""

import ast
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
# lowest first: server settings, datasets, the engine, what the pages show, where runs live, the Streamlit helpers
LAYERS = ("server", "datasets", "engine", "views", "runs", "ui")


def layer(module: str) -> int | None:
    parts = module.split(".")
    if parts[0] != "rnnviz" or len(parts) < 2:
        return None  # the package's top level re-exports the public API; anything may sit below it
    return LAYERS.index(parts[1]) if parts[1] in LAYERS else None


def imports(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [node.module] + [f"{node.module}.{a.name}" for a in node.names if node.module == "rnnviz"]
        elif isinstance(node, ast.Import):
            out += [a.name for a in node.names]
    return [m for m in out if m.startswith("rnnviz")]


def test_every_module_of_rnnviz_imports_only_down():
    upward = []
    for path in sorted((ROOT / "rnnviz").rglob("*.py")):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        own = layer(module)
        if own is None:
            continue
        upward += [f"{module} imports {m}" for m in imports(path) if (layer(m) or 0) > own]
    assert not upward


def test_rnnviz_has_no_import_cycle():
    tool = ROOT.parent / "shared" / "tools" / "import_cycles.py"
    done = subprocess.run([sys.executable, str(tool)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert "import cycles among rnnviz modules: 0" in done.stdout, done.stdout


def test_only_the_ui_layer_imports_streamlit():
    found = [str(p.relative_to(ROOT)) for p in (ROOT / "rnnviz").rglob("*.py")
             if "ui" not in p.relative_to(ROOT).parts and any(m.split(".")[0] == "streamlit" for m in _all(p))]
    assert not found


def _all(path: pathlib.Path) -> list[str]:
    tree = ast.parse(path.read_text())
    return [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names] + \
        [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
