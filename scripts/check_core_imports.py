"""Check that the pure core imports nothing but itself and the standard library.

Run as a script: exits non-zero naming each offending import. Mirrors the
rule in docs/architecture.md: `sync.core` never reaches adapters or I/O libraries.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "sync" / "core"
ALLOWED_THIRD_PARTY = {"rapidfuzz"}
STDLIB = set(sys.stdlib_module_names) | {"__future__"}


def offending_imports(path: Path) -> list[str]:
    """Imports in one core module that reach outside the core and the standard library."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        for name in names:
            top = name.split(".")[0]
            if name.startswith("sync.core") or top in STDLIB or top in ALLOWED_THIRD_PARTY:
                continue
            bad.append(f"{path.relative_to(CORE.parent.parent)}: imports {name}")
    return bad


def main() -> int:
    """Print each offending import; exit 1 when there is any."""
    problems = [line for path in sorted(CORE.rglob("*.py")) for line in offending_imports(path)]
    for line in problems:
        print(line)  # noqa: T201 - this is a command-line check
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
