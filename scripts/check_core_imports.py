"""Check that the pure core imports nothing but itself and pure parts of the standard library.

Run as a script: exits non-zero naming each offending line. Mirrors the rule in
docs/architecture.md: `sync.core` never reaches adapters or I/O. Refused are
imports from outside the core and the standard library, relative imports
(they could climb out of the core unseen), the standard library's I/O, clock,
randomness and process modules, and calls of the built-ins that read or write.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

CORE = Path(__file__).resolve().parents[1] / "sync" / "core"
ALLOWED_THIRD_PARTY = {"rapidfuzz"}
STDLIB = set(sys.stdlib_module_names) | {"__future__"}
# Standard-library modules that reach files, the network, other processes, the
# clock, randomness or logging: none of them belongs in a pure function.
IMPURE_STDLIB = {
    "asyncio",
    "concurrent",
    "fcntl",
    "glob",
    "http",
    "io",
    "logging",
    "multiprocessing",
    "os",
    "pathlib",
    "pickle",
    "random",
    "secrets",
    "select",
    "selectors",
    "shelve",
    "shutil",
    "signal",
    "socket",
    "sqlite3",
    "ssl",
    "subprocess",
    "sys",
    "tempfile",
    "threading",
    "time",
    "urllib",
}
IMPURE_BUILTINS = {"open", "print", "input", "breakpoint", "exec", "eval"}


def offending_lines(source: str, where: str) -> list[str]:
    """What one core module (its source, shown as `where`) does that a pure core must not."""
    return [
        f"{where}:{getattr(node, 'lineno', 0)}: {problem}"
        for node in ast.walk(ast.parse(source))
        for problem in _problems(node)
    ]


def _problems(node: ast.AST) -> list[str]:
    """The rule breaks in one syntax node."""
    if isinstance(node, ast.ImportFrom) and node.level > 0:
        return [f"relative import from {'.' * node.level}{node.module or ''}"]
    if isinstance(node, ast.Import):
        return [f"imports {name}" for name in (a.name for a in node.names) if not _allowed(name)]
    if isinstance(node, ast.ImportFrom) and node.module and not _allowed(node.module):
        return [f"imports {node.module}"]
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in IMPURE_BUILTINS
    ):
        return [f"calls {node.func.id}()"]
    return []


def _allowed(module: str) -> bool:
    """Whether the core may import `module`."""
    top = module.split(".", maxsplit=1)[0]
    if module == "sync.core" or module.startswith("sync.core."):
        return True
    return top in ALLOWED_THIRD_PARTY or (top in STDLIB and top not in IMPURE_STDLIB)


def main() -> int:
    """Print each offending line; exit 1 when there is any."""
    problems = [
        line
        for path in sorted(CORE.rglob("*.py"))
        for line in offending_lines(
            path.read_text(encoding="utf-8"), str(path.relative_to(CORE.parent.parent))
        )
    ]
    for line in problems:
        print(line)  # noqa: T201 - this is a command-line check
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
