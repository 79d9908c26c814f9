"""Code size and spread of the cell rule: lines, cell-kind literals, per-cell tables, function lengths.

Run from the repository root: `python bench/code_stats.py` (reads rnnviz/, pages/ and app.py; no imports of them).
"""

from __future__ import annotations

import ast
import statistics
import sys
import tokenize
from pathlib import Path

ROOTS = ("rnnviz", "pages", "app.py")
KINDS = {"rnn_tanh", "rnn_relu", "lstm", "gru"}
GATES = {"input", "forget", "output", "reset", "update", "new"}  # gate names no other concept uses


def sources(root: Path) -> list[Path]:
    return sorted(p for r in ROOTS for p in ([root / r] if r.endswith(".py") else (root / r).rglob("*.py")))


def code_lines(path: Path) -> int:
    """Lines holding code: not blank, not only a comment."""
    return sum(1 for line in path.read_text().splitlines() if line.strip() and not line.strip().startswith("#"))


def kind_literals(path: Path) -> int:
    """String literals that are exactly a cell kind, e.g. "lstm"."""
    with path.open("rb") as f:
        tokens = tokenize.tokenize(f.readline)
        return sum(1 for t in tokens if t.type == tokenize.STRING and _literal(t.string) in KINDS)


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return None


def tables(tree: ast.AST, names: set[str]) -> int:
    """Dicts, tuples, lists and sets holding two or more of `names` as keys or items: a per-cell table."""
    count = 0
    for node in ast.walk(tree):
        items = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", None)
        if isinstance(node, (ast.Dict, ast.Tuple, ast.List, ast.Set)) and items:
            kinds = [k.value for k in items if isinstance(k, ast.Constant) and k.value in names]
            count += len(kinds) >= 2
    return count


def functions(tree: ast.AST, path: Path) -> list[tuple[int, str]]:
    return [(node.end_lineno - node.lineno + 1, f"{path}:{node.lineno} {node.name}")
            for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]


def main(root: Path) -> None:
    paths = sources(root)
    trees = {p: ast.parse(p.read_text()) for p in paths}
    per_root = {r: sum(code_lines(p) for p in paths if p.relative_to(root).parts[0] == r) for r in ROOTS}
    total = sum(len(p.read_text().splitlines()) for p in paths)
    fns = sorted(f for p in paths for f in functions(trees[p], p.relative_to(root)))
    literals = {p.relative_to(root): kind_literals(p) for p in paths}
    print(f"lines (all) in {', '.join(ROOTS)}: {total}")
    print("code lines (no blanks, no comment-only): " + ", ".join(f"{r} {n}" for r, n in per_root.items()))
    print(f"cell-kind string literals: {sum(literals.values())} in {sum(1 for n in literals.values() if n)} files")
    for p, n in sorted(literals.items(), key=lambda kv: -kv[1]):
        if n:
            print(f"    {n:3d}  {p}")
    print(f"per-cell tables (>= 2 cell kinds as keys/items): {sum(tables(t, KINDS) for t in trees.values())}")
    print(f"gate-name tables (>= 2 gate names as keys/items): {sum(tables(t, GATES) for t in trees.values())}")
    print(f"functions: {len(fns)}, median {statistics.median(n for n, _ in fns)} lines, "
          f"longest {fns[-1][0]} lines ({fns[-1][1]})")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
