"""The structure the layers contract (pyproject.toml, `lint-imports`) cannot see: cli.py
is the top of everything, and modules stay small enough to read in one sitting."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HARNESS = ROOT / "harness"
MAX_LINES = 450


def imported_modules(path: Path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module)
    return out


def test_nothing_imports_the_cli():
    offenders = [str(p.relative_to(ROOT)) for p in HARNESS.rglob("*.py")
                 if any(m == "cli" or m.startswith("cli.") for m in imported_modules(p))]
    assert offenders == []


def test_modules_stay_small():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines())
             for p in [ROOT / "cli.py", *HARNESS.rglob("*.py")]}
    assert {p: n for p, n in sizes.items() if n > MAX_LINES} == {}
